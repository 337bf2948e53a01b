"""The real pykka TelegramActor: lifecycle, polling, alerts, and a Telegram that is slow or gone."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from telegram.error import NetworkError

from actors.alerts import Alert
from actors.commands import Pause
from actors.telegram import GetTelegramStats, TelegramActor, should_start
from actors.telegram_outbox import TelegramLimits
from core.config import Settings
from tests.telegram.fakes import (
    ALLOWED,
    ALLOWED_GROUP,
    TOKEN,
    FakeTelegram,
    RecordingHandler,
    command_update,
    settings,
    snapshot,
)
from tests.telegram.harness import FAST


def wait_until(pred: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout}s")


class Running:
    def __init__(self, s: Settings | None = None, limits: TelegramLimits = FAST) -> None:
        self.fake = FakeTelegram()
        self.handler = RecordingHandler()
        self.settings = s or settings()
        self.limits = limits
        self.ref: pykka.ActorRef[Any] | None = None

    def start(self, wait_ready: bool = True) -> Running:
        self.ref = TelegramActor.start(self.settings, self.handler, request=self.fake, limits=self.limits)
        if wait_ready:
            wait_until(lambda: self.stats()["ready"])
        return self

    def stats(self) -> dict[str, Any]:
        assert self.ref is not None
        return self.ref.ask(GetTelegramStats(), timeout=2)

    def tell(self, msg: object) -> None:
        assert self.ref is not None
        self.ref.tell(msg)

    def poll(self, text: str, update_id: int) -> None:
        """Queue an update on the fake server; the actor's long poll picks it up."""
        with self.fake._lock:
            self.fake.pending_updates.append(command_update(text, update_id=update_id))

    def stop(self) -> None:
        if self.ref is not None and self.ref.is_alive():
            self.ref.stop(timeout=30)


@pytest.fixture
def running() -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def make(s: Settings | None = None, limits: TelegramLimits = FAST, wait_ready: bool = True) -> Running:
        r = Running(s, limits)
        made.append(r)
        return r.start(wait_ready)

    yield make
    for r in made:
        r.stop()


def halt(msg: str = "slot 3: S2 needs one exit per side") -> Alert:
    return Alert(kind="halt", message=msg, ts=1.0, severity="critical")


def test_should_start_only_with_a_token() -> None:
    assert should_start(settings())
    assert not should_start(settings(TELEGRAM_BOT_TOKEN=""))
    assert not should_start(Settings(telegram_bot_token="   "))


def test_clean_start_and_stop_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    r = Running().start()
    r.poll("/pause thread check", 1)
    wait_until(lambda: r.handler.commands)  # the command worker thread has run too
    names = {t.name for t in threading.enumerate()}
    assert "telegram-loop" in names and "telegram-cmd_0" in names
    r.stop()
    wait_until(lambda: set(threading.enumerate()) <= before, timeout=5)
    assert set(threading.enumerate()) <= before
    # The whole PTB lifecycle ran against "Telegram": getMe, webhook removal, polling, and the
    # final getUpdates that confirms what was fetched.
    assert r.fake.endpoints()[:2] == ["getMe", "deleteWebhook"]
    assert r.fake.urls[-1].endswith("/getUpdates")


def test_commands_arrive_by_polling_and_status_comes_from_the_cache(running: Callable[..., Running]) -> None:
    r = running()
    r.tell(snapshot(mode="PAUSED", pause_reason="stale price"))
    r.poll("/status", 1)
    r.poll("/pause from the phone", 2)
    texts = wait_until(lambda: len(r.fake.texts()) >= 2 and r.fake.texts())
    assert texts[0].startswith("🟡 PAUSED: stale price")
    assert texts[1] == "✅ pause done"
    assert r.handler.commands == [Pause(reason="from the phone")]


def test_alerts_reach_every_allowed_chat(running: Callable[..., Running]) -> None:
    r = running()
    r.tell(halt())
    sent = wait_until(lambda: len(r.fake.sent()) >= 2 and r.fake.sent())
    assert sorted(p["chat_id"] for p in sent) == sorted([ALLOWED, ALLOWED_GROUP])
    assert {p["text"] for p in sent} == {"🛑 HALT: slot 3: S2 needs one exit per side"}


def test_flapping_alert_is_rate_limited_and_summarised(running: Callable[..., Running]) -> None:
    r = running(settings(TELEGRAM_ALERT_MIN_INTERVAL_SEC="0.5", TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED)))
    t0 = time.monotonic()
    for i in range(5):
        r.tell(Alert(kind="paused", message=f"stale price #{i}", ts=float(i)))
    wait_until(lambda: r.fake.texts())
    time.sleep(0.2)
    assert r.fake.texts() == ["⚠️ PAUSED: stale price #0"]
    wait_until(lambda: len(r.fake.texts()) == 2, timeout=3)
    assert time.monotonic() - t0 >= 0.5
    assert r.fake.texts()[1] == "⚠️ PAUSED: stale price #4 (+3 similar suppressed)"
    assert r.stats()["alerts_suppressed"] == 4


def test_every_operator_alert_kind_is_pushed_readably(running: Callable[..., Running]) -> None:
    r = running(settings(TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED)))
    # What the runtime raises (the disconnect only once it has lasted GATEWAY_DISCONNECT_ALERT_SEC).
    alerts = [
        Alert(kind="halt", message="slot 3: S2 needs one exit per side", ts=1.0, severity="critical"),
        Alert(kind="paused", message="stale price: last price 130s old", ts=2.0),
        Alert(kind="loss_lock_on", message="daily loss $3.10 >= $3.00", ts=3.0, severity="critical"),
        Alert(kind="loss_lock_off", message="new UTC day", ts=4.0, severity="info"),
        Alert(kind="drift_on", message="kraken 40 vs internal 30 for 10 min", ts=5.0),
        Alert(kind="drift_off", message="drift resolved", ts=6.0, severity="info"),
        Alert(kind="cannot_bootstrap", message="needs 60 DOGE or $7.50", ts=7.0, slot_id=4),
        Alert(kind="gateway_disconnected", message="exchange connection down for 61s", ts=8.0),
        Alert(kind="gateway_reconnected", message="exchange connection restored", ts=9.0, severity="info"),
    ]
    for a in alerts:
        r.tell(a)
    texts = wait_until(lambda: len(r.fake.texts()) == len(alerts) and r.fake.texts())
    assert texts == [
        "🛑 HALT: slot 3: S2 needs one exit per side",
        "⚠️ PAUSED: stale price: last price 130s old",
        "🛑 DAILY LOSS LOCK ON: daily loss $3.10 >= $3.00",
        "\u2139\ufe0f DAILY LOSS LOCK OFF: new UTC day",
        "⚠️ OPEN-ORDER DRIFT: kraken 40 vs internal 30 for 10 min",
        "\u2139\ufe0f OPEN-ORDER DRIFT CLEARED: drift resolved",
        "⚠️ CANNOT BOOTSTRAP (slot #4): needs 60 DOGE or $7.50",
        "⚠️ EXCHANGE DISCONNECTED: exchange connection down for 61s",
        "\u2139\ufe0f EXCHANGE RECONNECTED: exchange connection restored",
    ]


@pytest.mark.parametrize("failure", ["hanging", "unreachable"])
def test_slow_or_unreachable_telegram_never_blocks_the_actor(running: Callable[..., Running],
                                                             failure: str) -> None:
    limits = TelegramLimits(max_queue=10, max_attempts=3, base_delay=0.05, max_delay=0.2,
                            stop_flush_sec=0.3, close_timeout_sec=1.0)
    r = running(settings(TELEGRAM_ALERT_MIN_INTERVAL_SEC="0"), limits)
    if failure == "hanging":
        r.fake.delays["sendMessage"] = 60.0  # a send that never comes back in time
    else:
        r.fake.fail("sendMessage", *[NetworkError("Connection refused")] * 10_000)
    t0 = time.monotonic()
    for i in range(2000):
        r.tell(halt(f"alert {i}"))
    told = time.monotonic() - t0
    stats = r.stats()  # the inbox is not stuck behind Telegram
    answered = time.monotonic() - t0
    assert told < 1.0 and answered < 2.0
    assert stats["alerts_received"] == 2000
    wait_until(lambda: r.stats()["dropped_queue_full"] > 0)
    assert r.stats()["queued"] <= limits.max_queue
    if failure == "unreachable":
        wait_until(lambda: r.stats()["dropped_failed"] >= 1)
    t1 = time.monotonic()
    r.stop()
    assert time.monotonic() - t1 < 10


def test_start_while_telegram_is_unreachable_then_catch_up(running: Callable[..., Running]) -> None:
    r = Running(settings(TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED)))
    r.fake.fail("getMe", NetworkError("Network is unreachable"), NetworkError("Network is unreachable"))
    r.fake.delays["getMe"] = 0.05
    r.start(wait_ready=False)
    try:
        r.tell(halt("while offline"))  # queued until the bot is online
        assert r.stats()["ready"] is False
        wait_until(lambda: r.fake.texts(), timeout=5)
        assert r.fake.texts() == ["🛑 HALT: while offline"]
        assert r.fake.attempts("getMe") == 3
    finally:
        r.stop()


def test_rejected_token_disables_telegram_but_not_the_actor(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    r = Running()
    r.fake.fail("getMe", (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))
    r.start(wait_ready=False)
    try:
        wait_until(lambda: r.stats()["disabled_reason"])
        r.tell(halt())
        assert r.stats()["ready"] is False and r.fake.sent() == []
    finally:
        r.stop()
    assert "telegram disabled: the bot token was rejected by Telegram" in caplog.text
    assert TOKEN not in caplog.text


def test_stop_flushes_a_last_alert() -> None:
    r = Running(settings(TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED))).start()
    r.tell(halt("final words"))
    r.stop()
    assert r.fake.texts() == ["🛑 HALT: final words"]


def test_empty_allow_list_is_logged_clearly_at_start(running: Callable[..., Running],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="actors.telegram")
    r = running(settings(TELEGRAM_ALLOWED_CHAT_IDS=""))
    assert "TELEGRAM_ALLOWED_CHAT_IDS is empty: the Telegram bot will answer nobody" in caplog.text
    r.tell(halt())
    r.poll("/pause", 1)
    time.sleep(0.3)
    assert r.fake.sent() == [] and r.handler.commands == []


def test_unexpected_messages_are_ignored(running: Callable[..., Running]) -> None:
    r = running()
    r.tell("not a message the actor knows")
    assert r.stats()["alerts_received"] == 0
    assert r.ref is not None and r.ref.is_alive()

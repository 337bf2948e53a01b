"""Send queue (retries, backoff, RetryAfter, drops) against FakeTelegram, and the alert policy."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import NetworkError, RetryAfter, TimedOut

from actors.alerts import Alert
from actors.telegram_outbox import AlertPolicy, Outbox, OutMessage, TelegramLimits
from tests.telegram.fakes import ALLOWED, ALLOWED_GROUP
from tests.telegram.harness import FAST, Harness, run

# PTB warns about its own deprecated attribute whenever it builds a RetryAfter; the production
# filter installed by actors.telegram_outbox is reset by pytest's per-test warning capture.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:telegram.warnings.PTBDeprecationWarning")

FLOOD_429 = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                   "parameters": {"retry_after": 7}})
FORBIDDEN_403 = (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})


class Sleeps:
    """Records the delays the outbox asks for, without waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def _drive(limits: TelegramLimits, script: dict[str, list[Any]], texts: list[str],
           ready_first: bool = True) -> tuple[Harness, Outbox, Sleeps]:
    sleeps = Sleeps()

    async def go() -> tuple[Harness, Outbox, Sleeps]:
        async with Harness(limits=limits) as h:
            for endpoint, outcomes in script.items():
                h.fake.fail(endpoint, *outcomes)
            box = Outbox(h.bot._send, limits, sleep=sleeps)  # the real sender, over FakeTelegram
            if ready_first:
                box.set_ready()
            worker = asyncio.create_task(box.run())
            for t in texts:
                box.put(OutMessage(ALLOWED, t))
            box.set_ready()
            assert await box.wait_idle(5)
            worker.cancel()
            return h, box, sleeps

    return run(go)


def test_network_errors_are_retried_with_exponential_backoff() -> None:
    limits = TelegramLimits(max_attempts=5, base_delay=0.5, max_delay=1.5)
    h, box, sleeps = _drive(limits, {"sendMessage": [NetworkError("down"), TimedOut(), NetworkError("x"),
                                                      NetworkError("y")]}, ["halt!"])
    assert sleeps.delays == [0.5, 1.0, 1.5, 1.5]
    assert h.fake.texts() == ["halt!"]
    assert (box.stats.sent, box.stats.retries, box.stats.dropped_failed) == (1, 4, 0)
    assert h.fake.attempts("sendMessage") == 5


def test_retry_after_from_the_server_is_respected() -> None:
    limits = TelegramLimits(max_attempts=3, base_delay=0.5, max_retry_after=300)
    h, _, sleeps = _drive(limits, {"sendMessage": [FLOOD_429, RetryAfter(2)]}, ["a"])
    assert sleeps.delays == [7.0, 2.0]
    assert h.fake.texts() == ["a"]


def test_absurd_retry_after_is_capped() -> None:
    limits = TelegramLimits(max_attempts=2, max_retry_after=30)
    _, _, sleeps = _drive(limits, {"sendMessage": [RetryAfter(86400)]}, ["a"])
    assert sleeps.delays == [30.0]


def test_message_is_dropped_after_max_attempts_and_the_loss_is_reported() -> None:
    limits = TelegramLimits(max_attempts=3, base_delay=0.1)
    h, box, sleeps = _drive(limits, {"sendMessage": [NetworkError("down")] * 3}, ["lost", "next"])
    assert sleeps.delays == [0.1, 0.2]
    assert h.fake.texts() == ["next\n(1 earlier message to this chat could not be delivered)"]
    assert (box.stats.sent, box.stats.dropped_failed) == (1, 1)


def test_non_retriable_errors_drop_at_once() -> None:
    h, box, sleeps = _drive(TelegramLimits(max_attempts=5), {"sendMessage": [FORBIDDEN_403]}, ["a", "b"])
    assert sleeps.delays == []
    assert box.stats.dropped_failed == 1
    assert h.fake.texts() == ["b\n(1 earlier message to this chat could not be delivered)"]


def test_queue_is_bounded_and_keeps_the_newest() -> None:
    limits = TelegramLimits(max_queue=3)
    h, box, _ = _drive(limits, {}, [f"m{i}" for i in range(7)], ready_first=False)
    assert box.stats.dropped_queue_full == 4
    assert h.fake.texts() == ["m4\n(4 earlier messages to this chat could not be delivered)", "m5", "m6"]


def test_loss_note_goes_to_the_chat_that_lost_messages() -> None:
    async def go() -> list[tuple[int, str]]:
        async with Harness() as h:
            h.fake.fail("sendMessage", *[NetworkError("down")] * FAST.max_attempts)
            h.bot.post(ALLOWED, "lost")
            h.bot.post(ALLOWED_GROUP, "group ok")
            h.bot.post(ALLOWED, "private ok")
            assert await h.bot.outbox.wait_idle(5)
            return [(p["chat_id"], p["text"]) for p in h.fake.sent()]

    assert run(go) == [(ALLOWED_GROUP, "group ok"),
                       (ALLOWED, "private ok\n(1 earlier message to this chat could not be delivered)")]


# --- alert policy (pure) -----------------------------------------------------------------------


def _alert(kind: str, msg: str = "m", ts: float = 0.0) -> Alert:
    return Alert(kind=kind, message=msg, ts=ts)  # type: ignore[arg-type]


def test_rate_limit_per_kind_with_trailing_summary() -> None:
    p = AlertPolicy(min_interval=60)
    assert p.offer(_alert("drift_on", "1"), 0) == [(_alert("drift_on", "1"), 0)]
    for i, t in enumerate((1, 2, 3), start=2):
        assert p.offer(_alert("drift_on", str(i)), t) == []
    assert p.offer(_alert("halt", "h"), 3) == [(_alert("halt", "h"), 0)]  # other kinds are independent
    assert p.next_deadline() == 60
    assert p.due(59.9) == []
    # The latest state goes out when the window ends, summarising the two it replaces.
    assert p.due(60) == [(_alert("drift_on", "4"), 2)]
    assert p.next_deadline() is None and p.suppressed_total == 3
    assert p.offer(_alert("drift_on", "5"), 100) == []  # inside the new window that started at 60
    assert p.offer(_alert("drift_on", "6"), 125) == [(_alert("drift_on", "6"), 1)]


def test_flapping_pair_ends_on_the_current_state() -> None:
    p = AlertPolicy(min_interval=60)
    sent = p.offer(_alert("drift_on"), 0) + p.offer(_alert("drift_off"), 1)
    for t in range(2, 12, 2):
        sent += p.offer(_alert("drift_on"), t) + p.offer(_alert("drift_off"), t + 1)
    assert [a.kind for a, _ in sent] == ["drift_on", "drift_off"]
    flushed = p.due(61)
    assert [(a.kind, n) for a, n in flushed] == [("drift_on", 4), ("drift_off", 4)]


def test_zero_interval_sends_everything() -> None:
    p = AlertPolicy(min_interval=0)
    assert len([x for i in range(5) for x in p.offer(_alert("paused"), 0)]) == 5


KINDS = ["halt", "paused", "drift_on", "drift_off", "loss_lock_on", "gateway_disconnected"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.floats(min_value=0, max_value=40)), max_size=60),
       st.floats(min_value=0, max_value=100))
def test_no_flood_and_every_alert_accounted_for(events: list[tuple[str, float]], interval: float) -> None:
    p = AlertPolicy(min_interval=interval)
    now = 0.0
    sends: list[tuple[float, Alert, int]] = []
    for kind, gap in events:
        now += gap
        sends += [(now, a, n) for a, n in p.due(now)]
        sends += [(now, a, n) for a, n in p.offer(_alert(kind), now)]
    final = now + interval + 1
    sends += [(final, a, n) for a, n in p.due(final)]
    assert p.next_deadline() is None
    for kind in KINDS:
        times = [t for t, a, _ in sends if a.kind == kind]
        assert all(b - a >= interval for a, b in itertools.pairwise(times))  # never a flood
        # Each send stands for itself plus the ones it summarises: nothing vanishes silently.
        assert sum(1 + n for _, a, n in sends if a.kind == kind) == sum(1 for k, _ in events if k == kind)

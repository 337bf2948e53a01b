"""Test doubles for the Telegram edge.

`FakeTelegram` stands in for Telegram's Bot API servers at PTB's own request interface
(`telegram.request.BaseRequest`): everything above it (Bot, Application, handlers, our actor)
is the real code. It records every call with the JSON body PTB would have put on the wire, and
can be scripted to fail (NetworkError, RetryAfter, HTTP error bodies) or to be slow.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from telegram.request import BaseRequest, RequestData

from actors.commands import Command, CommandReply
from actors.status import (
    Balances,
    ConnectionStatus,
    Counters,
    EntrySchedulerStatus,
    OpenOrderDriftHint,
    OrderInfo,
    RecoveryInfo,
    RecoverySummary,
    SlotStatus,
    StatusSnapshot,
)
from core import capacity
from core.config import Settings, load_settings

TOKEN = "123456789:AAHfakeSecretPartForTests_0123456789xyz"
ALLOWED = 42
ALLOWED_GROUP = -100777
FOREIGN = 666
BOT_ID = 123456789
BOT_USERNAME = "doge_slots_bot"


def settings(**env: str) -> Settings:
    base = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_ALLOWED_CHAT_IDS": f"{ALLOWED},{ALLOWED_GROUP}",
        "TELEGRAM_ALERT_MIN_INTERVAL_SEC": "60",
    }
    base.update(env)
    s, _ = load_settings(env=base)
    return s


Scripted = BaseException | tuple[int, dict[str, Any]]


class FakeTelegram(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], bool]] = []  # endpoint, parameters, answered ok
        self.urls: list[str] = []
        self.script: dict[str, list[Scripted]] = defaultdict(list)
        self.delays: dict[str, float] = {}
        self.pending_updates: list[dict[str, Any]] = []
        self._next_message_id = 500
        self._lock = threading.Lock()

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def fail(self, endpoint: str, *outcomes: Scripted) -> None:
        """The next calls to `endpoint` raise / answer these, in order; later calls succeed."""
        self.script[endpoint].extend(outcomes)

    def sent(self, endpoint: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of the calls to `endpoint` that Telegram answered successfully."""
        with self._lock:
            return [p for e, p, ok in self.calls if e == endpoint and ok]

    def attempts(self, endpoint: str = "sendMessage") -> int:
        with self._lock:
            return sum(1 for e, _, _ in self.calls if e == endpoint)

    def endpoints(self) -> list[str]:
        with self._lock:
            return [e for e, _, _ in self.calls]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent() if chat_id is None or p["chat_id"] == chat_id]

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        # `parameters` are the JSON-ready values PTB serialises into the request body.
        params = dict(request_data.parameters) if request_data is not None else {}
        with self._lock:
            self.urls.append(url)
            outcome = self.script[endpoint].pop(0) if self.script.get(endpoint) else None
            if endpoint != "getUpdates":  # polling noise would drown the interesting calls
                self.calls.append((endpoint, params, outcome is None))
        delay = self.delays.get(endpoint, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, tuple):
            status, body = outcome
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": await self._result(endpoint, params)}).encode()

    async def _result(self, endpoint: str, params: dict[str, Any]) -> Any:
        if endpoint == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Doge Slots", "username": BOT_USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if endpoint in ("sendMessage", "editMessageText"):
            with self._lock:
                self._next_message_id += 1
                mid = params.get("message_id", self._next_message_id)
            msg: dict[str, Any] = {"message_id": mid, "date": 1767225600,
                                   "chat": {"id": params["chat_id"], "type": "private"},
                                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Doge Slots"},
                                   "text": params["text"]}
            if "reply_markup" in params:
                msg["reply_markup"] = params["reply_markup"]
            return msg
        if endpoint == "getUpdates":
            with self._lock:
                batch, self.pending_updates = self.pending_updates, []
            if not batch:
                # A long poll that returns nothing; short so stopping never waits on it.
                await asyncio.sleep(min(float(params.get("timeout", 0)), 0.05))
            return batch
        return True  # deleteWebhook, answerCallbackQuery, ...


def command_update(text: str, chat_id: int = ALLOWED, update_id: int = 1000, message_id: int = 10,
                   chat_type: str = "private") -> dict[str, Any]:
    """A message update as Telegram sends it, with the bot_command entity clients add."""
    word = text.split()[0]
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "Operator"
    else:
        chat["title"] = "Doge desk"
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1767225600,
            "chat": chat,
            "from": {"id": abs(chat_id), "is_bot": False, "first_name": "Operator", "language_code": "en"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(word)}],
        },
    }


def callback_update(data: str, chat_id: int = ALLOWED, update_id: int = 2000,
                    message_id: int = 77) -> dict[str, Any]:
    """A button press on one of the bot's messages."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": {"id": abs(chat_id), "is_bot": False, "first_name": "Operator"},
            "chat_instance": "-4242424242",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1767225600,
                "chat": {"id": chat_id, "type": "private", "first_name": "Operator"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Doge Slots", "username": BOT_USERNAME},
                "text": "Pick a recovery to soft-close:",
            },
        },
    }


class RecordingHandler:
    """The runtime as the actor sees it: a blocking callable that records what reached it."""

    def __init__(self, reply: Callable[[Command], CommandReply] | None = None) -> None:
        self.commands: list[Command] = []
        self.threads: list[str] = []
        self._reply = reply
        self._lock = threading.Lock()

    def __call__(self, command: Command) -> CommandReply:
        with self._lock:
            self.commands.append(command)
            self.threads.append(threading.current_thread().name)
        if self._reply is not None:
            return self._reply(command)
        action = type(command).__struct_config__.tag  # type: ignore[attr-defined]
        return CommandReply(ok=True, action=action, message=f"{action} done")


def _order(local_id: int, side: str, role: str, price: float) -> OrderInfo:
    return OrderInfo(local_id=local_id, side=side, role=role, trade_id="A" if side == "sell" else "B", cycle=1,
                     price=price, volume=60.0, txid=f"O{local_id}", cl_ord_id=f"s1-A{local_id}", placed_at=0.0,
                     age_sec=30.0, distance_pct=0.4)


def _recovery(rid: int, age_sec: float, distance: float) -> RecoveryInfo:
    return RecoveryInfo(recovery_id=rid, side="sell", trade_id="B", cycle=2, price=0.13, volume=60.0,
                        entry_price=0.125, txid=f"R{rid}", orphaned_at=0.0, age_sec=age_sec,
                        distance_pct=distance, reason="s2_timeout")


def slot(slot_id: int, alias: str, phase: str = "S0", profit: float = 0.0, recoveries: int = 0,
         halted: bool = False) -> SlotStatus:
    return SlotStatus(
        slot_id=slot_id, alias=alias, phase=phase, long_only=False, short_only=False, mode_source="none",
        cycle_a=1, cycle_b=1, total_profit=profit, total_fees=0.01, round_trips=3, today_realized_loss=0.0,
        order_size_usd=10.0,
        orders=[_order(1, "sell", "entry", 0.1234), _order(2, "buy", "entry", 0.1226)],
        recoveries=[_recovery(slot_id * 10 + i, 3600.0 * (i + 1), 4.0 + i) for i in range(recoveries)],
        halted=halted, halt_reason="S2 needs one exit per side" if halted else "",
    )


def snapshot(*, mode: str = "RUNNING", slots: list[SlotStatus] | None = None, lock: bool = False,
             pause_reason: str = "", halt_reason: str = "", sticky: bool = False) -> StatusSnapshot:
    slots = slots if slots is not None else [slot(1, "doge", "S0", 1.25), slot(2, "shiba", "S1a", -0.5, 2)]
    cap = capacity.build_capacity_fill_health(internal_open_orders=4, kraken_open_orders=4, slot_count=len(slots),
                                              windows=capacity.FillHealthWindows(), now=1000.0)
    return StatusSnapshot(
        ts=1000.0, venue="sim", mode=mode, pause_reason=pause_reason, halt_reason=halt_reason,  # type: ignore[arg-type]
        price=0.12301, price_ts=996.0, price_age_sec=4.0, entry_pct=0.35, profit_pct=1.0,
        total_profit=sum(s.total_profit for s in slots), total_fees=0.02, today_realized_pnl=0.42,
        total_round_trips=6, daily_loss_limit=3.0, daily_realized_loss_utc=3.2 if lock else 0.5,
        daily_loss_lock_active=lock, daily_loss_lock_utc_day="2026-01-01" if lock else "",
        balances=Balances(usd=500.0, doge=4000.0, source="kraken", ts=999.0),
        connection=ConnectionStatus(public=True, private=True, exchange_system="online",
                                    last_frame_age_sec=0.5, reconnects=0),
        slots=slots, capacity_fill_health=cap,
        entry_scheduler=EntrySchedulerStatus(loop_cap=2, configured_cap=2, pending=0, deferred_total=0,
                                             drained_total=0, bypassed_total=0),
        open_order_drift_hint=OpenOrderDriftHint(active=False, drift=None, drift_pct=None, since=None,
                                                 alerted=False),
        recoveries=RecoverySummary(total=2, cap_per_slot=4, orphan_pressure_level=0, auto_soft_close_total=0),
        counters=Counters(fills_booked=12, duplicate_fills_ignored=0, cycles_booked=6, orders_placed=20,
                          orders_rejected=0, orders_canceled=2, invariant_halts=0, malformed_frames=0),
        sticky_mode_enabled=sticky,
    )

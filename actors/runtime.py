"""RuntimeActor: the coordinator. Mode (RUNNING / PAUSED / HALTED), the per-tick loop of §4,
slot lifecycle, guardrails, the daily loss lock, capacity telemetry and operator commands.

It owns no slot state: slots report (`SlotReport`) after every change and the coordinator decides
from the latest reports (bootstrap, repair, governor, loss lock) and tells slots what to do. The
loop itself is `actors/runtime_loop.py`, commands `actors/runtime_commands.py`, the persisted
snapshot and status blocks `actors/runtime_state.py`; this file holds the actor's state and its
message handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
import pykka

from actors import runtime_commands, runtime_loop
from actors.alerts import Alert
from actors.base import BaseActor, CountingSink, InFlight, handles
from actors.clock import Clock
from actors.commands import OperatorCommand
from actors.internal import (
    BudgetMode,
    Inspect,
    LoopTick,
    MarketPrice,
    OpenOrderCensus,
    Reconfigure,
    RegimeUpdate,
    SetRoute,
    SetRules,
    SlotGone,
    SlotReport,
    SlotSpawned,
)
from actors.messages import (
    BalanceUpdate,
    Candle,
    ExchangeError,
    ExchangeStatus,
    ExecutionsSnapshotDone,
    GatewayConnected,
    GatewayDisconnected,
    InstrumentRules,
    PriceTick,
)
from actors.runtime_state import (
    RUNTIME_KEY,
    Connection,
    RuntimeSnapshot,
    Telemetry,
    build_report,
)
from actors.status import CapacityFillHealth, StartupTimings
from actors.store_messages import InsertPrices, SaveState, StoreAlert, StoreWriteResult, UpsertCandles
from core import aliases, capacity, guardrails, loss_lock
from core import state_machine as sm
from core.config import Settings
from store.rows import CandleRow

log = logging.getLogger("runtime")

# Relay the price to the slots between loops once it moved this much (fraction).
RELAY_MOVE = 0.0005
# Price and fills reach the dashboard between loops, but at most this often (event time), so a
# busy market costs the status board one report a second, not one per ticker frame.
LIVE_REPORT_MIN_SEC = 1.0

Spawner = Callable[[Any, sm.EngineConfig, int], pykka.ActorRef[Any]]


class StartupDone(msgspec.Struct, frozen=True, kw_only=True):
    """Start-up sequence -> runtime: reconciliation is done, the loop may run."""

    timings: StartupTimings
    now: float


class RuntimeActor(BaseActor):
    def __init__(
        self,
        inflight: InFlight,
        clock: Clock,
        *,
        settings: Settings,
        cfg: sm.EngineConfig,
        snapshot: RuntimeSnapshot,
        venue: str,
        refs: dict[str, Any],
        slots: dict[int, pykka.ActorRef[Any]],
        spawn: Spawner | None = None,
    ) -> None:
        super().__init__(inflight)
        self.clock = clock
        self.settings = settings
        self.cfg = cfg
        self.venue = venue
        self.store = refs.get("store")
        self.status = refs.get("status")
        self.rate_budget = refs.get("rate_budget")
        self.router = refs.get("router")
        self.supervisor = refs.get("supervisor")
        self.spawn = spawn
        self.slots = slots
        self.reports: dict[int, SlotReport] = {}
        self.aliases = snapshot.aliases or aliases.new_state(",".join(settings.slot_alias_pool))
        self.next_slot_id = snapshot.next_slot_id
        self.mode = snapshot.mode if snapshot.mode in ("RUNNING", "PAUSED", "HALTED") else "RUNNING"
        self.pause_reason = snapshot.pause_reason
        self.pause_kind = snapshot.pause_kind
        self.halt_reason = snapshot.halt_reason
        self.loss = snapshot.loss_lock
        self.removed_loss = (snapshot.removed_loss_day, snapshot.removed_loss)
        # set_loss_limit's value (persisted; None = the DAILY_LOSS_LIMIT knob as configured).
        self.loss_limit_override: float | None = snapshot.daily_loss_limit
        self.target_layers = snapshot.target_layers
        self.effective_layers = snapshot.effective_layers
        self.auto_soft_close_total = snapshot.auto_soft_close_total
        self.price = 0.0
        self.price_ts = 0.0
        self.balances: dict[str, float] = {}
        self.balances_ts = 0.0
        self.connection = Connection()
        self.telemetry = Telemetry()
        self.regime = RegimeUpdate()
        self.retired_counters: dict[str, int] = {}
        self.halted_slots: set[int] = set()
        self.cannot_bootstrap: set[int] = set()
        # Empty slots whose bootstrap waits (regime suppression of the only fundable side) -> why.
        self.bootstrap_waiting: dict[int, str] = {}
        self.started = False
        self.startup: StartupTimings | None = None
        self.loops = 0
        self.relayed = 0.0
        self.live_reported_at = float("-inf")
        self.price_rows: list[Any] = []
        self.capacity_cache: tuple[float, CapacityFillHealth] | None = None
        self.pnl_day = ""
        self.pnl_today = 0.0
        self._reply = CountingSink(self.actor_ref, inflight)
        self._saves = 0
        self._last_saved: bytes = b""

    # ------------------------------------------------------------------ helpers used by the modules

    def alert(self, kind: str, message: str, now: float, severity: str = "warning", slot_id: int | None = None) -> None:
        log.warning("ALERT %s: %s", kind, message) if severity != "info" else log.info("ALERT %s: %s", kind, message)
        self.send(self.status, Alert(kind=kind, message=message, ts=now, severity=severity, slot_id=slot_id))  # type: ignore[arg-type]

    def pause(self, kind: str, reason: str, now: float) -> bool:
        """Pause for `kind`; while already paused, a higher-ranked kind takes the pause over (kind
        and reason replaced, logged, alerted), a lower or equal one is a no-op
        (`guardrails.pause_takes_over`: operator = api_errors > loss_lock > stale_price >
        cannot_bootstrap > startup; the operator-resume latches are never replaced, the loss lock
        is re-checked by every resume). HALTED stays HALTED. Returns whether anything changed."""
        if self.mode == "RUNNING":
            self.mode = "PAUSED"
            self.pause_kind = kind
            self.pause_reason = reason
            self.send(self.rate_budget, BudgetMode(paused=True))
            log.warning("PAUSED: %s", reason)
            self.alert("paused", f"paused: {reason}", now)
            self.report(now)
            return True
        if self.mode == "PAUSED" and guardrails.pause_takes_over(self.pause_kind, kind):
            replaced = self.pause_kind or "unknown"
            log.warning("PAUSED: %s (takes over the %s pause: %s)", reason, replaced, self.pause_reason)
            self.pause_kind = kind
            self.pause_reason = reason
            self.alert("paused", f"paused: {reason} (takes over the {replaced} pause)", now)
            self.report(now)
            return True
        return False

    def resume(self, now: float, why: str = "operator") -> None:
        """Lift the current pause (or halt): the caller decides which may be lifted (an automatic
        resume only its own kind, `runtime_loop.lift`; the operator any but the loss lock).

        It never sets RUNNING while an automatic condition still holds (`runtime_loop.holding_pauses`:
        loss lock active, stale price, an empty slot that could not be funded, start-up not done):
        the bot stays paused for the strongest of them (`guardrails.pause_after_resume`), so the
        daily loss lock outranks every other way out (D8) and, say, funds arriving during a feed
        outage leave a stale_price pause, not RUNNING at a stale price.
        """
        if self.mode == "RUNNING":
            return
        held = guardrails.pause_after_resume(runtime_loop.holding_pauses(self, now))
        if held is not None:
            if self.mode != "PAUSED" or self.pause_kind != held.kind:
                lifted = self.pause_kind if self.mode == "PAUSED" else "halt"
                self.mode = "PAUSED"
                self.pause_kind = held.kind
                self.pause_reason = held.reason
                self.halt_reason = ""
                self.send(self.rate_budget, BudgetMode(paused=True))
                log.warning("still PAUSED (%s lifted the %s pause): %s", why, lifted, held.reason)
                self.report(now)
            return
        self.mode = "RUNNING"
        self.pause_kind = ""
        self.pause_reason = ""
        self.halt_reason = ""
        self.send(self.rate_budget, BudgetMode(paused=False))
        log.warning("RESUMED (%s)", why)
        self.alert("resumed", f"resumed ({why})", now, severity="info")
        self.report(now)

    def halt(self, reason: str, now: float, slot_id: int | None = None) -> None:
        if self.mode != "HALTED":
            self.mode = "HALTED"
            self.halt_reason = reason
            self.send(self.rate_budget, BudgetMode(paused=True))
        self.alert("halt", f"HALTED: {reason}", now, severity="critical", slot_id=slot_id)
        self.report(now)

    def capacity(self, now: float) -> CapacityFillHealth:
        if self.capacity_cache is not None and self.capacity_cache[0] == now:
            return self.capacity_cache[1]
        internal = sum(r.open_orders for r in self.reports.values())
        return capacity.build_capacity_fill_health(
            internal_open_orders=internal, kraken_open_orders=self.telemetry.kraken_open,
            slot_count=len(self.slots), windows=self.telemetry.windows, now=now,
            limit=self.settings.kraken_open_orders_per_pair_limit, safety_ratio=self.settings.open_order_safety_ratio,
        )

    def today_pnl(self, now: float) -> float:
        return self.pnl_today if self.pnl_day == loss_lock.utc_day(now) else 0.0

    def reconfigure_slots(self) -> None:
        for ref in self.slots.values():
            self.send(ref, Reconfigure(cfg=self.cfg, layers=self.effective_layers))

    def report(self, now: float) -> None:
        self.live_reported_at = now
        self.send(self.status, build_report(self, now))

    def report_live(self, now: float) -> None:
        """Report a price move or a fill without waiting for the next loop, throttled."""
        if self.started and now - self.live_reported_at >= LIVE_REPORT_MIN_SEC:
            self.report(now)

    def snapshot(self, now: float) -> RuntimeSnapshot:
        return RuntimeSnapshot(
            mode=self.mode, pause_reason=self.pause_reason, pause_kind=self.pause_kind, halt_reason=self.halt_reason,
            entry_pct=self.cfg.entry_pct, profit_pct=self.cfg.profit_pct, rules=self.cfg.rules,
            daily_loss_limit=self.loss_limit_override,
            next_slot_id=self.next_slot_id, slot_ids=sorted(self.slots), aliases=self.aliases, loss_lock=self.loss,
            target_layers=self.target_layers, effective_layers=self.effective_layers,
            auto_soft_close_total=self.auto_soft_close_total, removed_loss_day=self.removed_loss[0],
            removed_loss=self.removed_loss[1], saved_at=now,
        )

    def save(self, now: float, force: bool = False) -> None:
        """Persist `__v1__` when it changed (the store is a plain actor: its work is counted by hand)."""
        payload = msgspec.json.encode(msgspec.structs.replace(self.snapshot(now), saved_at=0.0))
        if payload == self._last_saved and not force:
            return
        self._last_saved = payload
        self.inflight.inc()
        self._saves += 1
        try:
            self.store.tell(SaveState(key=RUNTIME_KEY, payload=msgspec.json.encode(self.snapshot(now)), ts=now,
                                      request_id=self._saves, reply_to=self._reply))
        except pykka.ActorDeadError:
            self.inflight.dec()

    def add_slot_ref(self, slot_id: int, ref: pykka.ActorRef[Any]) -> None:
        self.slots[slot_id] = ref

    def drop_slot(self, slot_id: int, now: float) -> None:
        ref = self.slots.pop(slot_id, None)
        report = self.reports.pop(slot_id, None)
        if report is not None:
            for k, v in report.counters.items():
                self.retired_counters[k] = self.retired_counters.get(k, 0) + v
            day, lost = report.today_loss
            # The slot's day follows exchange time, which may run a moment ahead of ours at midnight.
            if lost > 0 and day >= loss_lock.day_number(now) and day >= self.removed_loss[0]:
                kept = self.removed_loss[1] if self.removed_loss[0] == day else 0.0
                self.removed_loss = (day, kept + lost)
        self.aliases = aliases.release(self.aliases, slot_id)
        self.send(self.router, SetRoute(kind="s", slot_id=slot_id, ref=None))
        self.send(self.status, SlotGone(slot_id=slot_id))
        if ref is not None:
            ref.stop(block=False)
        log.info("slot %d removed", slot_id)
        self.save(now)

    def on_stop(self) -> None:
        # Last words: the batched prices and the snapshot (the store stops after the runtime).
        now = self.clock.now()
        if self.price_rows and self.store is not None:
            self.store.tell(InsertPrices(prices=self.price_rows, ts=now))
            self.price_rows = []
        if self.started:
            self.save(now)

    # ------------------------------------------------------------------ loop and start-up

    @handles(StartupDone)
    def _started(self, msg: StartupDone) -> None:
        self.startup = msg.timings
        if self.started:  # the second notice only completes the timings (bootstrap measured)
            self.report(msg.now)
            return
        self.started = True
        # The lock first: a restored lock that a UTC rollover or a raised limit clears must let
        # the bot resume, and one still active must keep it paused.
        runtime_loop.evaluate_loss_lock(self, msg.now)
        runtime_loop.lift(self, "startup", msg.now, "start-up complete")
        self.send(self.rate_budget, BudgetMode(paused=self.mode != "RUNNING"))
        runtime_loop.run(self, msg.now)

    @handles(LoopTick)
    def _loop(self, msg: LoopTick) -> None:
        if self.started:
            runtime_loop.run(self, msg.now)

    # ------------------------------------------------------------------ market and connection

    @handles(PriceTick)
    def _price(self, ev: PriceTick) -> None:
        price = ev.mid
        if price > 0:
            self.price = price
            self.price_ts = max(self.price_ts, ev.ts)
            if self.relayed <= 0 or abs(price / self.relayed - 1.0) >= RELAY_MOVE:
                self.relayed = price
                for ref in self.slots.values():
                    self.send(ref, MarketPrice(price=price, ts=ev.ts))
            self.report_live(ev.ts)
        self.connection.last_frame = ev.ts

    @handles(Candle)
    def _candle(self, ev: Candle) -> None:
        if ev.closed and self.store is not None:
            self.store.tell(UpsertCandles(candles=[CandleRow.from_candle(ev)], ts=ev.begin_ts))

    @handles(BalanceUpdate)
    def _balance(self, ev: BalanceUpdate) -> None:
        if ev.snapshot:
            self.balances = dict(ev.balances)
        else:
            self.balances.update(ev.balances)
        self.balances_ts = ev.ts

    @handles(ExchangeStatus)
    def _exchange_status(self, ev: ExchangeStatus) -> None:
        self.connection.system = ev.system

    @handles(InstrumentRules)
    def _rules(self, ev: InstrumentRules) -> None:
        rules = msgspec.structs.replace(
            self.cfg.rules, min_volume=ev.min_volume, min_cost_usd=ev.min_cost_usd,
            price_decimals=ev.price_decimals, volume_decimals=ev.volume_decimals,
        )
        if rules != self.cfg.rules:
            self.cfg = msgspec.structs.replace(self.cfg, rules=rules)
            self.reconfigure_slots()

    @handles(GatewayConnected)
    def _connected(self, ev: GatewayConnected) -> None:
        setattr(self.connection, ev.channel, True)
        if (self.connection.public and self.connection.private) or self.venue == "paper":
            if self.connection.alerted:
                self.alert("gateway_reconnected", "exchange connection restored", ev.ts, severity="info")
            self.connection.down_since = None
            self.connection.alerted = False
        self.report(ev.ts)

    @handles(GatewayDisconnected)
    def _disconnected(self, ev: GatewayDisconnected) -> None:
        setattr(self.connection, ev.channel, False)
        self.connection.reconnects += 1
        if self.connection.down_since is None:
            self.connection.down_since = ev.ts
        log.warning("gateway %s disconnected: %s", ev.channel, ev.reason)
        self.report(ev.ts)

    @handles(ExchangeError)
    def _exchange_error(self, ev: ExchangeError) -> None:
        log.warning("exchange error (%s): %s", ev.context, ev.error)
        runtime_loop.api_result(self, ok=False, detail=f"{ev.context}: {ev.error}", now=ev.ts)

    @handles(ExecutionsSnapshotDone)
    def _snapshot_done(self, ev: ExecutionsSnapshotDone) -> None:
        self.telemetry.kraken_open = len(ev.open_order_ids)

    # ------------------------------------------------------------------ reports

    @handles(SlotReport)
    def _slot_report(self, r: SlotReport) -> None:
        runtime_loop.absorb(self, r)
        if r.fills or r.booked:
            self.report_live(self.clock.now())

    @handles(OpenOrderCensus)
    def _census(self, msg: OpenOrderCensus) -> None:
        self.telemetry.kraken_open = msg.kraken_open
        self.telemetry.exchange_orders = msg.orders
        self.telemetry.unrouted = msg.unrouted_total

    @handles(StoreAlert)
    def _store_alert(self, msg: StoreAlert) -> None:
        severity = "info" if msg.kind.endswith("recovered") else "critical" if msg.kind == "writes_lost" else "warning"
        self.alert("store_unavailable", f"store: {msg.message} {msg.error}".strip(), msg.ts or self.clock.now(), severity=severity)

    @handles(StoreWriteResult)
    def _store_result(self, msg: StoreWriteResult) -> None:
        if msg.ok or not msg.retrying:
            self.inflight.dec()
            if not msg.ok:
                log.error("runtime snapshot write rejected: %s", msg.error)

    @handles(SlotSpawned)
    def _spawned(self, msg: SlotSpawned) -> None:
        self.slots[msg.slot_id] = msg.ref

    @handles(SetRules)
    def _set_rules(self, msg: SetRules) -> None:
        if msg.rules != self.cfg.rules:
            self.cfg = msgspec.structs.replace(self.cfg, rules=msg.rules)
            self.reconfigure_slots()

    @handles(RegimeUpdate)
    def _regime(self, msg: RegimeUpdate) -> None:
        self.regime = msg

    # ------------------------------------------------------------------ commands and views

    @handles(*OperatorCommand.__args__)  # type: ignore[attr-defined]
    def _command(self, cmd: Any) -> Any:
        return runtime_commands.handle(self, cmd, self.clock.now())

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, Any]:
        return {
            "mode": self.mode, "pause_reason": self.pause_reason, "pause_kind": self.pause_kind,
            "halt_reason": self.halt_reason, "price": self.price, "price_ts": self.price_ts,
            "balances": dict(self.balances), "slots": sorted(self.slots), "started": self.started,
            "reports": {k: v for k, v in self.reports.items()}, "loops": self.loops,
            "loss_lock": msgspec.to_builtins(self.loss), "kraken_open": self.telemetry.kraken_open,
            "aliases": dict(self.aliases.assigned), "effective_layers": self.effective_layers,
            "target_layers": self.target_layers, "api_errors": self.telemetry.api.consecutive,
            "cfg": self.cfg, "halted_slots": sorted(self.halted_slots), "slot_refs": dict(self.slots),
            "cannot_bootstrap": sorted(self.cannot_bootstrap), "bootstrap_waiting": dict(self.bootstrap_waiting),
        }


__all__ = ["RUNTIME_KEY", "RuntimeActor", "StartupDone", "guardrails"]

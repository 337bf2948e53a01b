"""Builds, starts, supervises and stops the actor graph.

Start order: store, status board, rate budget, router, runtime (passive until start-up is done),
slots, venue (gateway), start-up sequence, clock. The runtime starts before the slots (a
deviation from the design card's list) so that each slot's first report has somewhere to go;
it does nothing until `StartupDone`. Stop order is the reverse: clock first (no new loops), then
the venue (the gateway disarms the dead man's switch so resting orders survive a clean stop),
then the runtime (its last snapshot), the slots, router, rate budget, status, store (which
flushes held writes).

`System.command()` is the one door for operator commands from outside (web, Telegram, CLI,
tests): it asks the runtime, which answers every command with a CommandReply.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pykka

from actors import startup
from actors.base import CountingSink, InFlight, send
from actors.clock import ClockActor, VirtualClock, WallClock
from actors.commands import CommandReply, OperatorCommand
from actors.internal import GetStatus, Inspect, RegimeUpdate, SetRoute, SlotSpawned, Subscribe, Wire
from actors.rate_budget import RateBudgetActor
from actors.router import RouterActor
from actors.runtime import RuntimeActor
from actors.runtime_state import RUNTIME_KEY, RuntimeSnapshot, decode_runtime
from actors.slot import SlotActor
from actors.slot_io import SlotSnapshot, decode_snapshot, state_key
from actors.status import StatusSnapshot
from actors.status_board import StatusBoardActor
from actors.store import StoreActor
from actors.supervisor import Supervisor
from actors.venues import VenueFactory, VenueHandle
from core import aliases, loss_lock
from core import state_machine as sm
from core.config import Settings
from core.market import PairRules

log = logging.getLogger("system")

SEEN_WINDOW_SEC = 14 * 86400.0  # missed-fill replay reaches back 7 days; keep twice that


class LateSink:
    """A `.tell` target whose destination is known only later (store alerts -> runtime)."""

    def __init__(self) -> None:
        self.target: Any = None

    def tell(self, message: Any) -> None:
        if self.target is not None:
            self.target.tell(message)


@dataclass
class SystemConfig:
    settings: Settings
    venue_name: str  # sim | paper | live | backtest
    venue: VenueFactory
    db_path: str
    virtual: bool = False  # virtual clock + intents held for deterministic flushes (backtest)
    start_ts: float = 0.0  # virtual clock start
    store_options: dict[str, Any] = field(default_factory=dict)
    store_tick_s: float | None = 0.5
    startup_timeout: float = 20.0
    start_clock: bool = True
    subscribers: list[Any] = field(default_factory=list)  # status/alert sinks (web, telegram)
    regime: RegimeUpdate | None = None


class System:
    def __init__(self, config: SystemConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.inflight = InFlight()
        self.clock: WallClock | VirtualClock = VirtualClock(config.start_ts) if config.virtual else WallClock()
        self.refs: dict[str, Any] = {}
        self.venue: VenueHandle | None = None
        self.supervisor: Supervisor | None = None
        self.seen: frozenset[str] = frozenset()
        self.startup_timings: Any = None
        self._started = False

    # ------------------------------------------------------------------ construction

    def _load(self, store: pykka.ActorRef[Any]) -> tuple[RuntimeSnapshot, list[SlotSnapshot]]:
        proxy = store.proxy()
        snap = decode_runtime(proxy.load_state(RUNTIME_KEY).get(timeout=10))
        self.seen = frozenset(proxy.seen_exec_ids(self.clock.now() - SEEN_WINDOW_SEC).get(timeout=30))
        if snap is None:
            return self._fresh(), []
        slots = []
        for sid in snap.slot_ids:
            raw = proxy.load_state(state_key(sid)).get(timeout=10)
            if raw:
                slots.append(decode_snapshot(raw))
            else:
                log.warning("slot %d listed in the snapshot has no state; starting it empty", sid)
                slots.append(SlotSnapshot(slot_id=sid, state=sm.PairState(slot_id=sid)))
        snap.aliases = aliases.restore(snap.aliases or aliases.new_state(",".join(self.settings.slot_alias_pool)),
                                       [s.slot_id for s in slots])
        for s in slots:
            s.alias = aliases.alias_of(snap.aliases, s.slot_id) or s.alias
        snap.loss_lock = self._loss_tally(snap.loss_lock, slots, (snap.removed_loss_day, snap.removed_loss))
        return snap, slots

    def _loss_tally(self, restored: loss_lock.LossLockState, slots: list[SlotSnapshot],
                    removed: tuple[int, float]) -> loss_lock.LossLockState:
        """The daily loss tally to start with (`loss_lock.restored_tally`): `__v1__` is saved once
        per loop, a slot's `today_realized_loss` with each fill, so a crash in between must not
        forget a loss. The runtime evaluates the lock on it when start-up is done (`_started`)."""
        books = [(s.state.loss_day, s.state.today_realized_loss) for s in slots]
        books.append(removed)  # slots removed today: their books are gone, their loss is not
        tally = loss_lock.restored_tally(restored, books, self.clock.now())
        if tally != restored:
            log.warning("daily loss tally %.2f USD from the slots' books (the saved tally said %.2f for %s)",
                        tally.daily_realized_loss_utc, restored.daily_realized_loss_utc, restored.utc_day or "no day")
        return tally

    def _fresh(self) -> RuntimeSnapshot:
        alias_state = aliases.new_state(",".join(self.settings.slot_alias_pool))
        return RuntimeSnapshot(mode="PAUSED", pause_kind="startup", pause_reason="starting",
                               next_slot_id=0, aliases=alias_state)

    def _cfg(self, snap: RuntimeSnapshot) -> sm.EngineConfig:
        s = self.settings
        # Values the operator set at runtime (set_entry_pct / set_profit_pct / set_loss_limit)
        # outlive a restart; say so when they differ from the configured knob.
        saved = {"entry_pct": snap.entry_pct, "profit_pct": snap.profit_pct, "daily_loss_limit": snap.daily_loss_limit}
        for name, value in saved.items():
            if value is None:
                continue
            if value != getattr(s, name):
                log.warning("%s %g from the saved state (set by command) overrides the configured %g",
                            name, value, getattr(s, name))
            s = msgspec.structs.replace(s, **{name: value})
        self.settings = s
        rules = snap.rules or PairRules(maker_fee_pct=s.maker_fee_pct, taker_fee_pct=s.taker_fee_pct)
        return sm.engine_config_from(s, rules)

    def spawn(self, snapshot: SlotSnapshot, cfg: sm.EngineConfig, layers: int = 0,
              seen: frozenset[str] | set[str] | None = None) -> pykka.ActorRef[Any]:
        """Start a slot actor and register its route before anything can be routed to it."""
        refs = {k: self.refs.get(k) for k in ("store", "rate_budget", "runtime", "status")}
        refs["supervisor"] = self.supervisor
        ref = SlotActor.start(self.inflight, self.clock, snapshot=snapshot, cfg=cfg, refs=refs,
                              seen=set(self.seen if seen is None else seen), layers=layers,
                              quiet_ticks=self.config.virtual)
        # A counted tell, not an ask: the runtime spawns from its own thread (add_slot). The route
        # is queued before anything the new slot does can cause an exchange event.
        send(self.refs["router"], SetRoute(kind="s", slot_id=snapshot.slot_id, ref=ref), self.inflight)
        return ref

    def start(self) -> None:
        cfg_ = self.config
        s = self.settings
        alerts = LateSink()
        store = StoreActor.start(cfg_.db_path, alerts=alerts, tick_s=cfg_.store_tick_s, clock=self.clock.now,
                                 store_options=cfg_.store_options)
        self.refs["store"] = store
        status = StatusBoardActor.start(self.inflight, self.clock, cfg_.venue_name)
        self.refs["status"] = status
        rate_budget = RateBudgetActor.start(
            self.inflight, self.clock, None, status, max_entry_adds_per_loop=s.max_entry_adds_per_loop,
            rate_tier=s.kraken_rate_tier, open_order_limit=s.kraken_open_orders_per_pair_limit,
            hold_until_flush=cfg_.virtual,
        )
        self.refs["rate_budget"] = rate_budget
        router = RouterActor.start(self.inflight)
        self.refs["router"] = router
        snap, slot_snaps = self._load(store)
        if not slot_snaps and snap.next_slot_id == 0:
            slot_snaps = self._initial_slots(snap)
        cfg = self._cfg(snap)
        self.supervisor = Supervisor(self)
        runtime = RuntimeActor.start(
            self.inflight, self.clock, settings=self.settings, cfg=cfg, snapshot=snap, venue=cfg_.venue_name,
            refs={"store": store, "status": status, "rate_budget": rate_budget, "router": router,
                  "supervisor": self.supervisor},
            slots={}, spawn=self.spawn,
        )
        self.refs["runtime"] = runtime
        alerts.target = CountingSink(runtime, self.inflight)
        router.ask(Wire(refs={"runtime": runtime, "rate_budget": rate_budget}), timeout=10)
        for slot_snap in slot_snaps:
            ref = self.spawn(slot_snap, cfg, snap.effective_layers)
            runtime.ask(SlotSpawned(slot_id=slot_snap.slot_id, ref=ref), timeout=10)
        if cfg_.regime is not None:
            runtime.tell(cfg_.regime)
        for sink in cfg_.subscribers:
            status.tell(Subscribe(sink=sink))
        self.venue = cfg_.venue(self.inflight, router, CountingSink(router, self.inflight))
        rate_budget.ask(Wire(refs={"gateway": self.venue.intents}), timeout=10)
        self.startup_timings = startup.run(self, cfg_.startup_timeout)
        router.ask(Wire(refs={"auto_reconcile": True, "supervisor": self.supervisor}), timeout=10)
        if cfg_.start_clock:
            self.refs["clock"] = ClockActor.start(
                self.inflight, self.clock, runtime, None if cfg_.virtual else status,
                poll_interval=s.poll_interval_seconds, pulse=[rate_budget], wall=not cfg_.virtual,
            )
        self._started = True
        log.info("actor system started: %d slot(s), venue %s", len(slot_snaps), cfg_.venue_name)

    def _initial_slots(self, snap: RuntimeSnapshot) -> list[SlotSnapshot]:
        out = []
        alias_state = snap.aliases or aliases.new_state(",".join(self.settings.slot_alias_pool))
        for sid in range(self.settings.initial_slots):
            alias_state, alias = aliases.allocate(alias_state, sid)
            out.append(SlotSnapshot(slot_id=sid, alias=alias, state=sm.PairState(slot_id=sid)))
        snap.aliases = alias_state
        snap.next_slot_id = self.settings.initial_slots
        return out

    # ------------------------------------------------------------------ outside door

    def command(self, cmd: OperatorCommand, timeout: float = 10.0) -> CommandReply:
        try:
            return self.refs["runtime"].ask(cmd, timeout=timeout)
        except pykka.ActorDeadError:
            return CommandReply(ok=False, action=str(type(cmd).__struct_config__.tag), message="runtime is not running")

    def status(self, timeout: float = 10.0) -> StatusSnapshot:
        return self.refs["status"].ask(GetStatus(), timeout=timeout)

    def metrics(self, timeout: float = 1.0) -> dict[str, Any]:
        """Gauges for `/metrics`: every actor's inbox depth and the rate budget's counters.

        Inbox depths are read without a message (`qsize`), so a stuck actor still shows its
        backlog; the rate budget answers an ask, bounded by `timeout`.
        """
        depths: dict[str, int] = {}
        for name, ref in self.refs.items():
            inbox = getattr(ref, "actor_inbox", None)
            if inbox is not None:
                depths[name] = inbox.qsize()
        for slot_id, ref in self.slot_refs(timeout=timeout).items():
            depths[f"slot_{slot_id}"] = ref.actor_inbox.qsize()
        out: dict[str, Any] = {"actor_queue_depth": depths}
        budget = self.refs["rate_budget"].ask(Inspect(), timeout=timeout)
        for key in ("trading_counter", "trading_threshold", "throttled", "held", "open_orders",
                    "forwarded", "throttled_total"):
            out[f"rate_budget_{key}"] = budget[key]
        return out

    def inspect(self, name: str, timeout: float = 10.0) -> Any:
        return self.refs[name].ask(Inspect(), timeout=timeout)

    def slot_refs(self, timeout: float = 10.0) -> dict[int, pykka.ActorRef[Any]]:
        return dict(self.refs["runtime"].ask(Inspect(), timeout=timeout)["slot_refs"])

    def tell(self, name: str, message: Any) -> None:
        """Counted tell into the graph from outside (drivers, tests, fault injection)."""
        send(self.refs[name], message, self.inflight)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.inflight.wait_idle(timeout)

    # ------------------------------------------------------------------ shutdown

    def stop(self, timeout: float = 15.0) -> None:
        """Reverse start order; each actor gets its own bounded stop."""
        t0 = time.monotonic()
        order: list[Any] = []
        if "clock" in self.refs:
            order.append(self.refs["clock"])
        if self.venue is not None:
            order.extend(self.venue.refs)
        if self.supervisor is not None:
            self.supervisor.stop()
        for name in ("runtime",):
            if name in self.refs:
                order.append(self.refs[name])
        if "runtime" in self.refs:
            try:
                order.extend(self.slot_refs(timeout=5).values())
            except (pykka.ActorDeadError, pykka.Timeout):
                log.warning("could not list slots at shutdown")
        order.extend(self.refs[n] for n in ("router", "rate_budget", "status", "store") if n in self.refs)
        for ref in order:
            try:
                ref.stop(block=True, timeout=max(1.0, timeout - (time.monotonic() - t0)))
            except pykka.Timeout:
                log.error("%s did not stop in time", ref)
            except pykka.ActorDeadError:
                pass
        self._started = False
        log.info("actor system stopped")


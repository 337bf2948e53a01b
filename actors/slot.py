"""SlotActor: one per slot, the only owner of that slot's PairState.

Every input becomes a core event: `transition()` computes the next state and the actions, the
invariants are checked (with the §10 bypasses), and the actions become exchange intents.

Write-ahead: intents leave the slot only after the state that names them is committed. Each
change is sent to the store as one `BookFills` (fills of completed orders + the slot snapshot +
transition events, one transaction); the intents produced by that change wait for its
`BookFillsResult(ok)`. So every order on the exchange is in the persisted state, and a restart
(crash, SIGKILL, supervisor) can always bind, replay or re-place it: nothing is left unmanaged.
A fill counts as booked only when its write committed; while the store fails, it retries the held
writes in order and the slot keeps its intents.

Executions are aggregated per order (`FillBook`): duplicates (by exec_id, including the persisted
set) are dropped, a completed order becomes one FillEvent (VWAP, summed fee), a cancel after a
partial fill hands the executed volume to the reducer's partial-cancel path.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pykka

from actors.base import BaseActor, CountingSink, InFlight, handles
from actors.clock import Clock
from actors.internal import (
    BootstrapSlot,
    InjectCrash,
    Inspect,
    MarketPrice,
    Reconfigure,
    ReleaseExit,
    RepairSlot,
    RetireSlot,
    SlotFailed,
    SlotTick,
    SoftCloseRecovery,
    Submit,
)
from actors.messages import (
    AmendOrder,
)
from actors.slot_fills import FillBook, Placements
from actors.slot_io import (
    SlotSnapshot,
    cancel_intent,
    encode_snapshot,
    place_intent,
    state_key,
    target_cl_ord_id,
    targets,
)
from actors.slot_reconcile import SlotReconciliation
from actors.slot_reports import SlotReporter
from actors.store_messages import BookFills, BookFillsResult
from core import layer_propagation, pnl_audit, sizing
from core import state_machine as sm
from core.slot_ops import cancel_entry
from store.rows import EventRow, FillRow

log = logging.getLogger("slot")

_NOT_OWED = "is not in fallback mode and is not owed an entry"


class SlotActor(SlotReconciliation, BaseActor):
    def __init__(
        self,
        inflight: InFlight,
        clock: Clock,
        *,
        snapshot: SlotSnapshot,
        cfg: sm.EngineConfig,
        refs: dict[str, Any],
        seen: set[str] | frozenset[str] = frozenset(),
        layers: int = 0,
        quiet_ticks: bool = False,
    ) -> None:
        super().__init__(inflight)
        self.clock = clock
        self.quiet_ticks = quiet_ticks
        self._ticks = 0
        self.slot_id = snapshot.slot_id
        self.alias = snapshot.alias
        self.state = snapshot.state
        self.halted = snapshot.halted
        self.halt_reason = snapshot.halt_reason
        self.retiring = snapshot.retiring
        self.archived = (snapshot.archived_profit, snapshot.archived_fees, snapshot.archived_count)
        self._ledger_dirty = True
        self.cfg = cfg
        self.layers = layers
        # Layer count each active order was sized with (core/layer_propagation); None below means
        # "the current layers"; a fixed volume (repair, single-side or reseed bootstrap) sets what
        # `_fixed_layers` decides: the current layers at the slot's layered size or more, else 0.
        self.layer_tags: dict[int, int] = dict(snapshot.layer_tags)
        self._placing_layers: int | None = None
        self.store = refs.get("store")
        self.rate_budget = refs.get("rate_budget")
        self.runtime = refs.get("runtime")
        self.status = refs.get("status")
        self.supervisor = refs.get("supervisor")
        self.fills = FillBook(seen)
        # Unbound orders restored from the snapshot: the only ones a start-up reconcile may place
        # again (an order placed in this life and not yet acknowledged is in flight, not lost).
        self.placing = Placements(restored_unbound={t.local_id for t in targets(snapshot.state)
                                                    if not t.txid and t.kind != "pending"})
        self.cl_of: dict[int, str] = {}
        self.reporter = SlotReporter(self.slot_id)
        self._source = "normal"
        self._intents: list[Submit] = []
        self._rows: list[FillRow] = []
        self._events: list[EventRow] = []
        self._dirty = False
        self._request = 0
        self._unsent: dict[int, list[Submit]] = {}
        self._amend_prev: dict[int, float] = {}
        self._recancelled: set[int] = set()
        self.market: MarketPrice | None = None
        self._reply = CountingSink(self.actor_ref, inflight)

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        self._report(self.clock.now())

    def on_stop(self) -> None:
        # A clean stop flushes what is only in memory (txids bound since the last write); the store
        # stops after the slots, so this write still lands.
        if self._rows or self._events or self._dirty:
            self._intents = []  # nothing new goes out during shutdown; re-placed at the next start
            self._persist(self.clock.now())
        # A stopped actor never sees the results of its last writes: release the barrier counts
        # held for them (the writes themselves still land), or removing a slot would hold a
        # backtest's barrier closed forever.
        if self._unsent:
            self.inflight.dec(len(self._unsent))
            self._unsent.clear()

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Release the barrier for store writes whose result this actor will never see.
        if self._unsent:
            self.inflight.dec(len(self._unsent))
            self._unsent.clear()
        if self.supervisor is not None:
            self.supervisor.tell(SlotFailed(slot_id=self.slot_id, error=f"{exc_type.__name__}: {exc}"))

    def _after(self, now: float) -> None:
        """After every handled message: persist what changed, then report."""
        if self._intents or self._rows or self._events or self._dirty:
            self._persist(now)
        self._report(now)

    def _sizes(self) -> sizing.TradeSizes:
        return sizing.slot_trade_sizes(
            self.cfg, slot_total_profit=self.state.total_profit, price=self.state.market_price,
            effective_layers=self.layers,
        )

    # ------------------------------------------------------------------ the reducer

    def _apply(self, event: Any) -> None:
        if self.halted:
            return
        new, actions = sm.transition(self.state, event, self.cfg, self._sizes())
        if new.rejected_events > self.state.rejected_events:
            # The reducer refused a malformed event (NaN/inf/negative): the runtime built it, so
            # this is a bug upstream and the books may miss an execution. Halt loudly (the runtime
            # alerts `slot_halt` with this reason); nothing of the event is applied or booked, so
            # a restart replays it.
            self.reporter.counters["events_rejected"] += 1
            self._halt(f"the reducer refused a malformed {type(event).__name__} "
                       f"(rejected_events {new.rejected_events}): {str(event)[:200]}", event.timestamp)
            return
        self._adopt(new, actions, type(event).__name__, event.timestamp)

    def _adopt(self, new: sm.PairState, actions: list[Any], what: str, now: float) -> None:
        if not actions and not self._material(self.state, new):
            # Only the clock and the market moved (most ticks): nothing the invariants look at
            # changed, so the checks (the bulk of a tick's cost) are skipped.
            self.state = new
            return
        if self.retiring:
            new, actions = self._strip_entries(new, actions)
        new = sm.normalize_slot_mode(new)
        problems = self._violations(new)
        if problems:
            self._halt("; ".join(problems), now)
            return
        before = sm.derive_phase(self.state)
        after = sm.derive_phase(new)
        changed = self._material(self.state, new)
        self._archive(self.state, new, sum(isinstance(a, sm.BookCycleAction) for a in actions))
        placing = self.layers if self._placing_layers is None else self._placing_layers
        self.layer_tags = layer_propagation.carry(self.state, new, self.layer_tags, placing)
        self.state = new
        if actions or before != after:
            self._event(what, before, after, now, {"actions": [type(a).__name__ for a in actions]})
        elif changed:
            self._dirty = True
        self._carry_out(actions)
        self._settle_unsent()

    def _archive(self, old: sm.PairState, new: sm.PairState, added: int) -> None:
        """Cycles the reducer trimmed from its window move into the archived sums (audit_pnl)."""
        if not added:
            return
        self._ledger_dirty = True
        trimmed = len(old.completed_cycles) + added - len(new.completed_cycles)
        if trimmed > 0:
            gone = old.completed_cycles[:trimmed]
            profit, fees, count = self.archived
            self.archived = (profit + sum(c.net_profit for c in gone), fees + sum(c.fees for c in gone),
                             count + len(gone))

    def _ledger(self) -> pnl_audit.SlotLedger | None:
        if not self._ledger_dirty:
            return None
        self._ledger_dirty = False
        base = pnl_audit.ledger_from_state(self.state)
        return msgspec.structs.replace(base, archived_profit=self.archived[0], archived_fees=self.archived[1],
                                       archived_count=self.archived[2])

    def _violations(self, st: sm.PairState) -> list[str]:
        problems = sm.check_invariants(st, self.cfg)
        if self.retiring:
            problems = [p for p in problems if _NOT_OWED not in p]
        if not problems or sm.derive_phase(st) != "S0":
            return problems
        # §10 bypasses: a slot waiting for the minimum size or still being bootstrapped.
        if sm.is_bootstrap_pending_state(st) or sm.is_min_size_wait_state(
            st, self.cfg, self._sizes(), st.market_price
        ):
            return []
        return problems

    @staticmethod
    def _material(old: sm.PairState, new: sm.PairState) -> bool:
        volatile = {"now": old.now, "market_price": old.market_price,
                    "last_price_update_at": old.last_price_update_at}
        return msgspec.structs.replace(new, **volatile) != old

    def _strip_entries(self, st: sm.PairState, actions: list[Any]) -> tuple[sm.PairState, list[Any]]:
        """A retiring slot places no new entry: drop the reducer's entry placements."""
        kept = []
        for a in actions:
            if isinstance(a, sm.PlaceOrderAction) and a.role == "entry" and a.recovery_id is None:
                st = msgspec.structs.replace(st, orders=tuple(o for o in st.orders if o.local_id != a.local_id))
            else:
                kept.append(a)
        return msgspec.structs.replace(st, entry_pending_a=False, entry_pending_b=False), kept

    def _carry_out(self, actions: list[Any]) -> None:
        rules = self.cfg.rules
        for a in actions:
            if isinstance(a, sm.PlaceOrderAction):
                intent = place_intent(self.slot_id, a, rules)
                self.cl_of[a.local_id] = intent.cl_ord_id
                entry = a.role == "entry" and a.recovery_id is None
                self._intents.append(Submit(slot_id=self.slot_id, intent=intent, is_entry=entry,
                                            source=self._source if entry else "exit", reply_to=self.actor_ref))
            elif isinstance(a, sm.CancelOrderAction):
                if self._cancel_unsent(a.local_id):
                    continue
                t = next((t for t in targets(self.state) if t.local_id == a.local_id), None)
                cl = self.cl_of.get(a.local_id) or (target_cl_ord_id(self.slot_id, t) if t else "")
                self._intents.append(Submit(slot_id=self.slot_id, intent=cancel_intent(cl, a.txid),
                                            placed_at=t.placed_at if t else 0.0, reply_to=self.actor_ref))
                self.placing.cancel_sent[a.local_id] = self.state.now
            elif isinstance(a, sm.OrphanOrderAction):
                log.info("slot %s: exit %s orphaned into recovery %s (%s)", self.alias, a.local_id,
                         a.recovery_id, a.reason)
            elif isinstance(a, sm.BookCycleAction):
                r = a.record
                self.reporter.cycle(r)
                log.info("slot %s: cycle %s%d booked %s net %+.4f USD (fees %.4f)", self.alias, r.trade_id,
                         r.cycle, r.close_reason, r.net_profit, r.fees)

    def _halt(self, reason: str, now: float) -> None:
        self.halted = True
        self.halt_reason = reason
        self.reporter.counters["invariant_halts"] += 1
        log.error("HALT slot %s (%d): %s", self.alias, self.slot_id, reason)
        # The last good state stays the persisted one; the violating transition is discarded.
        self._dirty = True

    def _event(self, what: str, before: str, after: str, now: float, details: dict[str, Any]) -> None:
        row = EventRow(ts=now, slot_id=self.slot_id, from_state=before, to_state=after, event_type=what,
                       details=details)
        self._events.append(row)
        self.reporter.event(row)

    # ------------------------------------------------------------------ persistence (write-ahead)

    def _persist(self, now: float) -> None:
        self._request += 1
        snap = SlotSnapshot(slot_id=self.slot_id, alias=self.alias, state=self.state, halted=self.halted,
                            halt_reason=self.halt_reason, retiring=self.retiring,
                            archived_profit=self.archived[0], archived_fees=self.archived[1],
                            archived_count=self.archived[2], layer_tags=self.layer_tags)
        msg = BookFills(slot_id=self.slot_id, fills=self._rows, state_key=state_key(self.slot_id),
                        state_payload=encode_snapshot(snap), events=self._events, request_id=self._request,
                        ts=now, reply_to=self._reply)
        self._unsent[self._request] = self._intents
        self._intents, self._rows, self._events, self._dirty = [], [], [], False
        # The store is a plain actor: count its work by hand, released by the final result.
        self.inflight.inc()
        try:
            self.store.tell(msg)
        except pykka.ActorDeadError:
            self.inflight.dec()
            self._unsent.pop(self._request)
            self._halt("store actor is gone", now)

    @handles(BookFillsResult)
    def _booked(self, res: BookFillsResult) -> None:
        if not res.ok and res.retrying:
            self.reporter.store_failing = True
            self._report(self.clock.now())
            return
        if not res.ok:
            self._halt(f"store rejected the slot's write: {res.error}", self.clock.now())
        self.reporter.store_failing = False
        self.reporter.counters["fills_booked"] += len(res.booked_exec_ids)
        self.reporter.counters["duplicate_fills_ignored"] += len(res.already_booked_exec_ids)
        # Results arrive in request order; release every request up to this one.
        for rid in sorted(r for r in self._unsent if r <= res.request_id):
            for sub in self._unsent.pop(rid):
                if res.ok:
                    self.send(self.rate_budget, sub)
            self.inflight.dec()
        self._report(self.clock.now())

    # ------------------------------------------------------------------ loop and runtime instructions

    @handles(SlotTick)
    def _tick(self, msg: SlotTick) -> None:
        before = self.state
        self.layers = msg.layers
        if msg.price > 0 and msg.price_ts > (self.state.last_price_update_at or 0.0):
            self._apply(sm.PriceTick(price=msg.price, timestamp=msg.now))
        self._apply(sm.TimerTick(timestamp=msg.now))
        self._housekeeping(msg.now)
        self._ticks += 1
        quiet = not (self._intents or self._rows or self._events or self._dirty) and not self._material(before, self.state)
        if quiet and self.quiet_ticks and self._ticks % 60:
            return  # nothing happened: skip the report (backtests); refreshed every 60 ticks anyway
        self._after(msg.now)

    @handles(MarketPrice)
    def _market(self, msg: MarketPrice) -> None:
        self.market = msg

    @handles(BootstrapSlot)
    def _bootstrap(self, msg: BootstrapSlot) -> None:
        if self.halted or self.retiring or self.state.orders:
            self._after(msg.now)
            return
        sizes: sizing.OrderSize = self._sizes()
        if msg.doge_volume is not None:
            sizes = sizing.TradeSizes(a=msg.doge_volume, b=msg.doge_volume, unit="DOGE")
            self._placing_layers = self._fixed_layers(msg.doge_volume, ("A", "B") if msg.which == "both" else (msg.which,))
        st = self.state if self.state.now >= msg.now else msgspec.structs.replace(self.state, now=msg.now)
        new, actions = sm.bootstrap_orders(st, self.cfg, sizes, msg.which, mode_source=msg.mode_source)  # type: ignore[arg-type]
        self._source = msg.source
        self._adopt(new, actions, "bootstrap", msg.now)
        self._source = "normal"
        self._placing_layers = None
        self._after(msg.now)

    @handles(RepairSlot)
    def _repair(self, msg: RepairSlot) -> None:
        if not self.halted and not self.retiring:
            sizes = sizing.TradeSizes(a=msg.doge_volume, b=msg.doge_volume, unit="DOGE")
            new, actions = sm.bootstrap_orders(self.state, self.cfg, sizes, msg.trade_id, mode_source="none")
            self._source, self._placing_layers = "auto_repair", self._fixed_layers(msg.doge_volume, (msg.trade_id,))
            self._adopt(new, actions, "auto_repair", msg.now)
            self._source, self._placing_layers = "normal", None
        self._after(msg.now)

    def _fixed_layers(self, volume: float, trades: tuple[str, ...]) -> int:
        """The layer tag of a fixed-volume entry (core/layer_propagation.fixed_volume_layers)."""
        return layer_propagation.fixed_volume_layers(volume, self._sizes(), trades, self.state.market_price,
                                                     self.cfg, self.layers)

    @handles(Reconfigure)
    def _reconfigure(self, msg: Reconfigure) -> None:
        self.cfg = msg.cfg
        self.layers = msg.layers
        self._report(self.clock.now())

    @handles(SoftCloseRecovery)
    def _soft_close(self, msg: SoftCloseRecovery) -> None:
        rec = next((r for r in self.state.recovery_orders if r.recovery_id == msg.recovery_id), None)
        if rec is not None and not self.halted:
            new = sm.reprice_recovery(self.state, msg.recovery_id, msg.price, self.cfg)
            fresh = next(r for r in new.recovery_orders if r.recovery_id == msg.recovery_id)
            if fresh.price != rec.price:
                self._amend_prev[rec.local_id] = rec.price
                self.state = new
                cl = self.cl_of.get(rec.local_id) or target_cl_ord_id(
                    self.slot_id, next(t for t in targets(new) if t.local_id == rec.local_id))
                amend = AmendOrder(cl_ord_id=None if rec.txid else cl, order_id=rec.txid or None,
                                   price=fresh.price, volume=rec.volume, post_only=True)
                self._intents.append(Submit(slot_id=self.slot_id, intent=amend, placed_at=rec.orphaned_at,
                                            reply_to=self.actor_ref))
                self._event(msg.reason, sm.derive_phase(new), sm.derive_phase(new), msg.now,
                            {"recovery_id": rec.recovery_id, "from": rec.price, "to": fresh.price})
                log.info("slot %s: %s recovery %d %.7f -> %.7f", self.alias, msg.reason, rec.recovery_id,
                         rec.price, fresh.price)
        self._after(msg.now)

    @handles(ReleaseExit)
    def _release(self, msg: ReleaseExit) -> None:
        if not self.halted:
            new, actions = sm.release_exit(self.state, msg.local_id, msg.price, msg.now, self.cfg, self._sizes())
            if actions:
                self._adopt(new, actions, "release", msg.now)
        self._after(msg.now)

    @handles(RetireSlot)
    def _retire(self, msg: RetireSlot) -> None:
        self.retiring = True
        st = self.state
        actions: list[Any] = []
        for order in [o for o in st.orders if o.role == "entry"]:
            st, cancel = sm_cancel_entry(st, order)
            actions.extend(cancel)
        log.info("slot %s: retiring (%d entries cancelled, %d exits kept)", self.alias, len(actions),
                 sum(1 for o in st.orders if o.role == "exit"))
        self._adopt(st, actions, "retire", msg.now)
        self._after(msg.now)

    @handles(InjectCrash)
    def _crash(self, msg: InjectCrash) -> None:
        raise RuntimeError(f"injected crash in slot {self.slot_id}: {msg.reason}")

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, Any]:
        return {"state": self.state, "halted": self.halted, "halt_reason": self.halt_reason,
                "retiring": self.retiring, "unsent": sum(len(v) for v in self._unsent.values()),
                "counters": dict(self.reporter.counters), "open_aggregates": len(self.fills.open),
                "unconfirmed": sorted(self.placing.unconfirmed), "parked": sorted(self.placing.parked),
                "waiting_fills": [a.order_id for a in self.fills.waiting()],
                "layers": self.layers, "layer_tags": dict(self.layer_tags)}

    # ------------------------------------------------------------------ reporting

    def _report(self, now: float) -> None:
        status, report = self.reporter.build(
            state=self.state, alias=self.alias, now=now, cfg=self.cfg, sizes=self._sizes(), cl_of=self.cl_of,
            halted=self.halted, halt_reason=self.halt_reason, retiring=self.retiring, ledger=self._ledger(),
            layer_tags=self.layer_tags,
        )
        self.send(self.status, status)
        self.send(self.runtime, report)


def sm_cancel_entry(st: sm.PairState, order: sm.OrderState) -> tuple[sm.PairState, list[Any]]:
    return cancel_entry(st, order, reason="remove_slot")

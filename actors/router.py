"""RouterActor: the gateway's sink. Every decoded exchange event enters the system here.

Execution reports go to the actor that owns the order, named by the client order id
(`core/order_ids.py`): `s3-AE1c-2f` belongs to slot 3. Kraken's sparse events (`canceled`,
`filled`, some `new`) may omit `cl_ord_id`, so the router learns `order_id -> cl_ord_id` from
`OrderAccepted`, `OrderOpen`, `Fill` and from the snapshot restore (`LearnOrder`). An event whose
owner cannot be named yet is parked by order id until the mapping arrives (an execution can
overtake the add_order response); parked events are bounded.

Everything else (prices, candles, balances, connection state, exchange status, rules, errors)
goes to the runtime coordinator. The router also keeps the exchange-side open-order census
(Kraken-first capacity telemetry, drift alerts, `reconcile_drift`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import msgspec
import pykka

from actors.base import BaseActor, InFlight, handles
from actors.internal import (
    STALE,
    BroadcastReconcile,
    CensusRequest,
    Inspect,
    LearnOrder,
    OpenOrderCensus,
    OrderDone,
    ReconcileAll,
    ReconcileDriftNow,
    ReconcileOpen,
    SetRoute,
    Submit,
)
from actors.messages import (
    AmendAcked,
    BalanceUpdate,
    CancelAcked,
    CancelOrder,
    Candle,
    ExchangeError,
    ExchangeStatus,
    ExecutionsSnapshotDone,
    Fill,
    GatewayConnected,
    GatewayDisconnected,
    InstrumentRules,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PriceTick,
)
from core import order_ids, recovery_ops

log = logging.getLogger("router")

_PARK_LIMIT = 10_000
_CLOSED_MEMORY = 20_000


class RouterActor(BaseActor):
    def __init__(self, inflight: InFlight, runtime: pykka.ActorRef[Any] | None = None,
                 rate_budget: pykka.ActorRef[Any] | None = None) -> None:
        super().__init__(inflight)
        self.runtime = runtime
        self.rate_budget = rate_budget
        self.routes: dict[tuple[str, int], pykka.ActorRef[Any]] = {}
        self.cl_by_order: dict[str, str] = {}
        # Ids of closed orders are remembered a while: a straggling duplicate report after the
        # close must still reach its owner (which then ignores it) rather than count as foreign.
        self.closed: OrderedDict[str, str] = OrderedDict()
        self.parked: dict[str, list[object]] = {}
        self.parked_count = 0
        self.open_ids: dict[str, str | None] = {}
        self.partial: set[str] = set()  # open orders known to have executed something
        self.snapshot_seen = False
        self.unrouted_total = 0
        # After start-up every executions snapshot (reconnect) reconciles the slots at once, in
        # stream order: everything before the snapshot's end has been delivered, nothing after.
        self.auto_reconcile = False
        self.census_epoch = 0  # +1 per executions snapshot (each replaces the census)
        self.supervisor: Any = None  # actors/supervisor.Supervisor (a thread with a queue), via Wire

    # ------------------------------------------------------------------ wiring

    @handles(SetRoute)
    def _set_route(self, msg: SetRoute) -> None:
        key = (msg.kind, msg.slot_id)
        if msg.ref is None:
            self.routes.pop(key, None)
        else:
            self.routes[key] = msg.ref

    @handles(LearnOrder)
    def _learn_msg(self, msg: LearnOrder) -> None:
        self._learn(msg.order_id, msg.cl_ord_id)

    # ------------------------------------------------------------------ execution reports

    def _learn(self, order_id: str | None, cl_ord_id: str | None) -> None:
        if not order_id or not cl_ord_id or self.cl_by_order.get(order_id) == cl_ord_id:
            return
        self.cl_by_order[order_id] = cl_ord_id
        waiting = self.parked.pop(order_id, None)
        if waiting:
            self.parked_count -= len(waiting)
            for event in waiting:
                # They go out ahead of the report that taught the mapping, so they must name their
                # order themselves: the owner has not bound the exchange id yet and could not tell
                # whose execution a bare order id is.
                if getattr(event, "cl_ord_id", "") is None:
                    event = msgspec.structs.replace(event, cl_ord_id=cl_ord_id)  # type: ignore[type-var]
                self._deliver(cl_ord_id, event)

    def _owner_ref(self, cl_ord_id: str) -> pykka.ActorRef[Any] | None:
        owner = order_ids.decode(cl_ord_id)
        if owner is None:
            return None
        return self.routes.get((owner.kind, owner.slot_id))

    def _deliver(self, cl_ord_id: str, event: object) -> None:
        ref = self._owner_ref(cl_ord_id)
        if ref is None or not self.send(ref, event):
            self.unrouted_total += 1
            log.info("unrouted %s for %s (no owner)", type(event).__name__, cl_ord_id)

    def _route(self, order_id: str | None, cl_ord_id: str | None, event: object) -> None:
        if cl_ord_id is None and order_id:
            cl_ord_id = self.cl_by_order.get(order_id) or self.closed.get(order_id)
        if cl_ord_id is not None:
            self._deliver(cl_ord_id, event)
            return
        if order_id and self.parked_count < _PARK_LIMIT:
            self.parked.setdefault(order_id, []).append(event)
            self.parked_count += 1
            return
        self.unrouted_total += 1
        log.warning("dropped %s for unknown order %s", type(event).__name__, order_id)

    def _close(self, order_id: str, cl_ord_id: str | None) -> None:
        self.open_ids.pop(order_id, None)
        self.partial.discard(order_id)
        cl = self.cl_by_order.pop(order_id, None) or cl_ord_id
        if cl is not None:
            self.closed[order_id] = cl
            if len(self.closed) > _CLOSED_MEMORY:
                self.closed.popitem(last=False)
        self.send(self.rate_budget, OrderDone(cl_ord_id=cl, order_id=order_id))

    @handles(OrderAccepted)
    def _accepted(self, ev: OrderAccepted) -> None:
        if ev.order_id in self.closed:
            # The add_order answer came after the order's end on the executions stream (filled on
            # arrival, or cancelled): it must not come back into the open census.
            self._deliver(ev.cl_ord_id, ev)
            return
        self._learn(ev.order_id, ev.cl_ord_id)
        self.open_ids.setdefault(ev.order_id, ev.cl_ord_id)
        self._deliver(ev.cl_ord_id, ev)

    @handles(OrderOpen)
    def _open(self, ev: OrderOpen) -> None:
        self._learn(ev.order_id, ev.cl_ord_id)
        self.open_ids[ev.order_id] = ev.cl_ord_id or self.cl_by_order.get(ev.order_id)
        if ev.cum_qty > 0:
            self.partial.add(ev.order_id)
        self._route(ev.order_id, ev.cl_ord_id, ev)

    @handles(Fill)
    def _fill(self, ev: Fill) -> None:
        self._learn(ev.order_id, ev.cl_ord_id)
        if ev.order_id in self.open_ids:
            self.partial.add(ev.order_id)
        self._route(ev.order_id, ev.cl_ord_id, ev)

    @handles(OrderFilled, OrderCanceled)
    def _terminal(self, ev: OrderFilled | OrderCanceled) -> None:
        cl = ev.cl_ord_id or self.cl_by_order.get(ev.order_id) or self.closed.get(ev.order_id)
        self._route(ev.order_id, cl, ev)
        if cl is not None:
            self._close(ev.order_id, cl)
        else:
            self.open_ids.pop(ev.order_id, None)

    @handles(OrderAmended)
    def _amended(self, ev: OrderAmended) -> None:
        self._route(ev.order_id, ev.cl_ord_id, ev)

    @handles(OrderRejected)
    def _rejected(self, ev: OrderRejected) -> None:
        self._route(ev.order_id, ev.cl_ord_id, ev)
        # A timeout is "outcome unknown": the order may be live, so it stays counted against the
        # open-order limit until its end is reported (or its slot finds it never existed).
        if ev.request == "add_order" and ev.error != "timeout":
            self.send(self.rate_budget, OrderDone(cl_ord_id=ev.cl_ord_id, order_id=None))

    @handles(CancelAcked, AmendAcked)
    def _ack(self, ev: CancelAcked | AmendAcked) -> None:
        # The order's fate arrives as OrderCanceled / OrderAmended; the ack itself changes nothing.
        return None

    @handles(ExecutionsSnapshotDone)
    def _snapshot_done(self, ev: ExecutionsSnapshotDone) -> None:
        # The snapshot is the exchange's truth about what is open: replace the census with it.
        self.open_ids = {oid: self.cl_by_order.get(oid) for oid in ev.open_order_ids}
        self.snapshot_seen = True
        self.census_epoch += 1
        if self.auto_reconcile:
            if ev.fills_complete or self.supervisor is None:
                self._broadcast(ReconcileOpen(open_orders=dict(self.open_ids), startup=False, now=ev.ts,
                                              snapshot=True), None)
            else:
                # Executions made while away may be missing: absence from the snapshot does not say
                # filled or cancelled. The supervisor asks the exchange (TradesHistory, QueryOrders)
                # before the slots reconcile; until then they keep every order tracked.
                log.warning("executions snapshot without complete fills: reconcile deferred to a replay")
                self.supervisor.tell(ReconcileAll(startup=False, why="reconnect snapshot without complete fills"))
        self.send(self.runtime, ev)

    @handles(BroadcastReconcile)
    def _broadcast_msg(self, msg: BroadcastReconcile) -> int:
        if msg.epoch is not None and msg.epoch != self.census_epoch:
            return STALE  # computed against a census a newer snapshot replaced: the caller redoes it
        open_orders = self._open_view(msg.base_open)
        return self._broadcast(ReconcileOpen(open_orders=open_orders, startup=msg.startup, now=msg.now,
                                             complete=msg.complete, unresolved=msg.unresolved), msg.slot_id)

    def _open_view(self, base: dict[str, str | None] | None) -> dict[str, str | None]:
        """The open orders a reconcile handled now must see, in stream order.

        Always the live census; a `base` read earlier (REST OpenOrders at start-up without a
        snapshot) only adds the orders the stream has not reported on: those it has seen close are
        dropped (their owners got the close before this reconcile), those it knows open are added
        (acknowledged since the base was read; their owners got the ack before this reconcile).
        Replacing the census with the base instead made a slot take an exit acknowledged during the
        start-up replay for closed and place it again, the first copy left live and unmanaged.
        After a snapshot the census is the exchange's own later list: the base is ignored."""
        if base is None or self.snapshot_seen:
            return dict(self.open_ids)
        for oid, cl in base.items():
            # Without a snapshot nothing else teaches the router who owns the orders placed before
            # the restart; reports naming only their order id would wait parked for ever. Learning
            # delivers what is parked for them ahead of the reconcile.
            if cl and oid not in self.closed:
                self._learn(oid, cl)
        view = {oid: cl for oid, cl in base.items() if oid not in self.closed}
        for oid, cl in self.open_ids.items():
            view[oid] = cl or view.get(oid)
        return view

    def _broadcast(self, msg: ReconcileOpen, slot_id: int | None) -> int:
        sent = 0
        for (kind, sid), ref in sorted(self.routes.items(), key=lambda kv: kv[0]):
            if kind == "s" and (slot_id is None or sid == slot_id):
                sent += int(self.send(ref, msg))
        return sent

    # ------------------------------------------------------------------ everything else

    @handles(PriceTick, Candle, BalanceUpdate, ExchangeStatus, InstrumentRules, GatewayConnected,
             GatewayDisconnected, ExchangeError)
    def _to_runtime(self, ev: object) -> None:
        self.send(self.runtime, ev)

    @handles(CensusRequest)
    def _census(self, msg: CensusRequest) -> None:
        foreign = sum(1 for cl in self.open_ids.values() if cl is None or self._owner_ref(cl) is None)
        self.send(self.runtime, OpenOrderCensus(
            kraken_open=len(self.open_ids) if self.snapshot_seen else None,
            orders=list(self.open_ids.items()),
            foreign=foreign,
            unrouted_total=self.unrouted_total,
        ))

    @handles(ReconcileDriftNow)
    def _reconcile_drift(self, msg: ReconcileDriftNow) -> None:
        plan = recovery_ops.plan_drift_reconciliation(
            [recovery_ops.ExchangeOrder(txid=oid, cl_ord_id=cl or "") for oid, cl in self.open_ids.items()],
            msg.tracked_txids, msg.tracked_cl_ord_ids,
        )
        for order in plan.cancel:
            log.warning("reconcile_drift: cancelling untracked order %s (%s)", order.txid, order.cl_ord_id)
            self.send(self.rate_budget, Submit(slot_id=-1, intent=CancelOrder(order_id=order.txid,
                                                                              cl_ord_id=order.cl_ord_id or None)))

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, object]:
        """For asks from outside (start-up, tests): the open orders as the exchange reported them."""
        return {
            "snapshot_seen": self.snapshot_seen,
            "epoch": self.census_epoch,
            "open": dict(self.open_ids),
            "partial": set(self.partial),
            "routes": sorted(self.routes),
            "unrouted_total": self.unrouted_total,
            "parked": self.parked_count,
        }

"""Reconciling the slots with the exchange after nobody listened (start-up, a reconnect whose
executions may be incomplete, a slot restart).

One rule: **an order's absence from the open list is evidence of its end only when its final
state is known.** So before the slots reconcile:

1. the executions of the tracked orders that may have executed while away are replayed
   (TradesHistory; duplicates die on exec_id downstream);
2. the final state of every tracked order gone from the book is asked for (QueryOrders) and
   routed as the execution event the stream would have carried (`OrderFilled` / `OrderCanceled`);
3. the slots get `ReconcileOpen` with what could not be settled: `unresolved` (exchange ids whose
   state QueryOrders could not give, or still reports open) stay tracked; `complete` False (no
   executions snapshot and no REST OpenOrders) means bind only: nothing is closed, re-placed or
   cancelled on a list that may be missing orders.

An incomplete reconcile is retried by the supervisor with backoff (`ReconcileAll`) and alerts
once. Before this, a failed REST call made the slots take filled orders for cancelled (the fill
lost, the position without an exit) or place every resting order a second time.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec
import pykka

from actors.alerts import Alert
from actors.internal import STALE, BroadcastReconcile, Inspect, ReconcileAll
from actors.messages import OrderCanceled, OrderFilled
from actors.slot_io import targets

if TYPE_CHECKING:
    from actors.system import System

log = logging.getLogger("reconcile")

RETRY_BASE_S = 5.0  # first retry of an incomplete reconcile; doubling up to RETRY_MAX_S
RETRY_MAX_S = 120.0
CRITICAL_AFTER = 5  # attempts before the alert turns critical

# Exchange and bot clocks may disagree; the replay window reaches this far before the oldest order.
CLOCK_SKEW_MARGIN_S = 600.0


class ReplayResult(msgspec.Struct, frozen=True, kw_only=True):
    replayed: int  # executions routed from TradesHistory
    unresolved: frozenset[str]  # gone orders whose final state is not known


class ReconcileResult(msgspec.Struct, frozen=True, kw_only=True):
    tracked: int
    replayed: int
    complete: bool  # the open-order list was known (snapshot or REST)
    unresolved: frozenset[str]
    replay_ms: float = 0.0
    stale: bool = False  # every pass met a newer snapshot (a reconnect storm): nothing was broadcast

    @property
    def settled(self) -> bool:
        return self.complete and not self.unresolved


def replay(system: System, port: Any, tracked: list[Any], open_orders: dict[str, str | None],
           partial: set[str] | None = None, estimates_ok: bool = True) -> ReplayResult:
    """Deliver what happened to tracked orders while nobody listened, in stream order via the router:
    their executions (TradesHistory), then the final state of each tracked order that is no longer
    open (QueryOrders), so an order whose executions are not in the history window still completes
    (at its limit price) or closes, instead of looking cancelled."""
    # Only orders that may have executed while nobody listened need the history: gone from the book,
    # never acknowledged, or open with executions. A clean restart replays nothing.
    touched = partial or set()
    need = [t for t in tracked if not t.txid or t.txid not in open_orders or t.txid in touched]
    if not need:
        return ReplayResult(replayed=0, unresolved=frozenset())
    # From the oldest placement among them; an order of unknown age (a pending cancel saved before
    # PendingCancel.placed_at existed) widens the window to the 7 days TradesHistory replays serve.
    week_ago = system.clock.now() - 7 * 86400.0
    start = min(t.placed_at if t.placed_at > 0 else week_ago for t in need) - CLOCK_SKEW_MARGIN_S
    replayed = 0
    history = True
    try:
        for fill in port.call("missed_fills", start):
            system.tell("router", fill)
            replayed += 1
    except Exception as exc:
        # QueryOrders below still gives each gone order's final state. An order that executed
        # would then be booked as an estimate (its limit price, the maker fee) without its
        # execution rows, for good: while `estimates_ok` is False it stays unresolved instead and
        # the retry asks TradesHistory again.
        history = False
        log.error("missed-fill replay failed (%s); final states come from QueryOrders", exc)
    gone = sorted({t.txid for t in tracked if t.txid and t.txid not in open_orders})
    unresolved: set[str] = set()
    for order_id, order in final_states(port, gone).items():
        if order is INVALID:
            continue  # the exchange has no such order: its absence is the exchange's word
        outcome = closed_outcome(order, system.clock.now()) if order is not None else None
        if outcome is not None and not history and not estimates_ok and outcome.cum_qty > 0:
            unresolved.add(order_id)  # executed, but its executions are not known yet
        elif outcome is not None:
            system.tell("router", outcome)
        else:
            # No answer (REST failed or the id was left out), or the exchange still calls it open
            # although no open list had it: not known to have ended. Stays tracked; retried.
            unresolved.add(order_id)
    return ReplayResult(replayed=replayed, unresolved=frozenset(unresolved))


INVALID: Any = object()  # QueryOrders: "EOrder:Invalid order", the exchange has no such order


QUERY_CHUNK = 50  # Kraken's QueryOrders takes at most 50 ids per request
SMALL_BATCH = 4  # a failing batch this small is asked id by id


class _Unavailable(Exception):
    """QueryOrders failed for a reason other than an unknown id: stop asking for now."""


def final_states(port: Any, ids: list[str]) -> dict[str, Any]:
    """order id -> its REST order, `INVALID` (the exchange does not know it) or None (unknown).

    Asked in chunks of 50, one request each. Kraken fails a whole request when one id is unknown
    ("EOrder:Invalid order"): that chunk is split in halves until the unknown ids stand alone, so
    one bad id costs about 2 x log2(50) extra requests, not one per id. Any other failure (rate
    limit, timeout) stops the asking: what is not answered yet stays unknown, and a retry asks
    again. An id left out of an answer is unknown, not ended.
    """
    out: dict[str, Any] = dict.fromkeys(ids)

    def ask(batch: list[str]) -> None:
        try:
            orders = port.call("query_orders", batch)
        except Exception as exc:
            if not _invalid_order(exc):
                raise _Unavailable(str(exc)) from exc
            if len(batch) == 1:
                out[batch[0]] = INVALID
                return
            if len(batch) <= SMALL_BATCH:
                for one in batch:  # halving further would cost more than asking each
                    ask([one])
                return
            half = len(batch) // 2
            ask(batch[:half])
            ask(batch[half:])
            return
        for order in orders:
            if order.order_id in out:
                out[order.order_id] = order

    try:
        for i in range(0, len(ids), QUERY_CHUNK):
            ask(ids[i : i + QUERY_CHUNK])
    except _Unavailable as exc:
        unknown = sum(1 for v in out.values() if v is None)
        log.error("QueryOrders failed (%s); %d order(s) gone from the book stay tracked until a retry "
                  "learns how they ended", exc, unknown)
    return out


def _invalid_order(exc: BaseException) -> bool:
    return "EOrder:Invalid order" in str(exc)


def closed_outcome(order: Any, now: float) -> OrderFilled | OrderCanceled | None:
    """A closed REST order as the execution event the stream would have carried."""
    ts = order.close_ts or now
    if order.status == "closed" or (order.order_qty > 0 and order.cum_qty >= order.order_qty - 1e-9):
        return OrderFilled(order_id=order.order_id, cl_ord_id=order.cl_ord_id, cum_qty=order.cum_qty,
                           avg_price=order.avg_price, ts=ts)
    if order.status in ("canceled", "expired"):
        return OrderCanceled(order_id=order.order_id, cl_ord_id=order.cl_ord_id, cum_qty=order.cum_qty,
                             reason=order.reason or order.status, ts=ts, expired=order.status == "expired")
    return None


def rest_open_orders(port: Any) -> dict[str, str | None] | None:
    """OpenOrders over REST; None when unavailable (not "nothing open")."""
    try:
        return {o.order_id: o.cl_ord_id for o in port.call("open_orders")}
    except Exception as exc:
        log.error("OpenOrders unavailable (%s)", exc)
        return None


STALE_PASSES = 3  # passes redone when a newer executions snapshot replaced the census meanwhile
ESTIMATE_AFTER = 3  # attempts without TradesHistory before an executed order is booked as an estimate


def reconcile_all(system: System, port: Any, *, startup: bool, slot_id: int | None = None,
                  tracked: list[Any] | None = None, attempt: int = 1) -> ReconcileResult:
    """Replay, settle what can be settled, then reconcile the slots (or one) in stream order.

    The open list is the router's census when an executions snapshot has been seen; otherwise a
    REST OpenOrders read now, handed to the router as a base it merges into its live census
    (`RouterActor._open_view`); otherwise unknown (`complete` False).

    What is settled (`unresolved`) was computed against the census of one snapshot; if a newer
    snapshot replaced it while the REST calls ran (a second reconnect), the router refuses the
    broadcast (`census_epoch`) and the pass is redone against the new census. Broadcasting it would
    present orders that ended during the second outage as gone-and-settled: taken for cancelled.
    """
    router = system.refs["router"]
    # A slot actor that died and is not restarted yet cannot take part (its restart reconciles it).
    slots = {sid: ref for sid, ref in system.slot_refs().items() if ref.is_alive()}
    if slot_id is not None:
        slots = {slot_id: slots[slot_id]} if slot_id in slots else {}
    given = tracked
    replayed, replay_ms = 0, 0.0
    for _pass in range(STALE_PASSES):
        tracked = given if given is not None and _pass == 0 else \
            [t for ref in slots.values() if (info := _inspect(ref)) is not None for t in targets(info["state"])]
        census = router.ask(Inspect(), timeout=10)
        base: dict[str, str | None] | None = None
        complete = True
        if census["snapshot_seen"]:
            open_orders = census["open"]
        else:
            base = rest_open_orders(port)
            if base is None:
                complete = False
                log.error("no executions snapshot and no OpenOrders: the slots bind what is known open and "
                          "close nothing until a retry gets the exchange's list")
            open_orders = base if base is not None else census["open"]
        t0 = time.perf_counter()
        result = replay(system, port, tracked, open_orders, census.get("partial", set()),
                        estimates_ok=attempt >= ESTIMATE_AFTER) if tracked else \
            ReplayResult(replayed=0, unresolved=frozenset())
        replay_ms += round((time.perf_counter() - t0) * 1000.0, 1)
        replayed += result.replayed
        unresolved = result.unresolved
        if not complete:
            # Unknown list: every bound order not confirmed closed by QueryOrders stays tracked.
            unresolved = unresolved | {t.txid for t in tracked if t.txid}
        sent = router.ask(BroadcastReconcile(startup=startup, now=system.clock.now(), base_open=base,
                                             slot_id=slot_id, complete=complete, unresolved=unresolved,
                                             epoch=census["epoch"]), timeout=10)
        if sent != STALE:
            for ref in slots.values():  # each slot has handled its ReconcileOpen once this returns (FIFO)
                _inspect(ref)
            return ReconcileResult(tracked=len(tracked), replayed=replayed, complete=complete,
                                   unresolved=frozenset(unresolved), replay_ms=replay_ms)
        log.warning("a newer executions snapshot replaced the census during the reconcile; redoing it")
    return ReconcileResult(tracked=len(tracked or []), replayed=replayed, complete=False,
                           unresolved=frozenset(), replay_ms=replay_ms, stale=True)


def _inspect(ref: Any) -> dict[str, Any] | None:
    """A slot's Inspect answer; None for one that died meanwhile (the supervisor restarts it)."""
    try:
        return ref.ask(Inspect(), timeout=10)
    except pykka.ActorDeadError:
        return None
    except pykka.Timeout:
        if not ref.is_alive():
            return None  # it died with our question in its inbox
        raise


def retry_delay(attempt: int) -> float:
    """Wait before retry number `attempt` (2 = the first retry)."""
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempt - 2))


def report_unsettled(system: System, result: ReconcileResult, *, startup: bool, attempt: int = 1) -> None:
    """Say what is unknown, alert (once, then every tenth attempt; critical from the fifth) and
    schedule the retry. A start-up reconcile without an open list still owes its start-up work
    (re-placing never-acknowledged orders, cancelling strays): the retry carries `startup`."""
    what = []
    if result.stale:
        what.append("new executions snapshots kept replacing the open-order list (reconnects)")
    elif not result.complete:
        what.append("the exchange's open orders are unknown (no executions snapshot, OpenOrders failed)")
    if result.unresolved:
        what.append(f"{len(result.unresolved)} order(s) gone from the book with no known final state")
    nxt = attempt + 1
    delay = retry_delay(nxt)
    message = (f"reconcile incomplete: {'; '.join(what)}; those orders stay tracked and nothing is closed, "
               f"re-placed or cancelled on a guess; retry {nxt - 1} in {delay:.0f}s")
    log.error(message)
    alert_incomplete(system, message, attempt)
    supervisor = getattr(system, "supervisor", None)
    if supervisor is not None:
        supervisor.retry_later(ReconcileAll(startup=startup and not result.complete, why="retry", attempt=nxt),
                               delay)


def alert_incomplete(system: System, message: str, attempt: int) -> None:
    """`reconcile_incomplete`: on the first attempt, then the fifth (critical from there), then every
    tenth, so a long outage is not an alert storm."""
    if attempt == 1 or attempt == CRITICAL_AFTER or attempt % 10 == 0:
        system.tell("status", Alert(kind="reconcile_incomplete", message=message, ts=system.clock.now(),
                                    severity="critical" if attempt >= CRITICAL_AFTER else "warning"))


def report_settled(system: System, result: ReconcileResult, attempt: int) -> None:
    message = (f"reconcile complete after {attempt} attempt(s): {result.tracked} tracked order(s), "
               f"{result.replayed} execution(s) replayed")
    log.warning(message)
    system.tell("status", Alert(kind="reconcile_settled", message=message, ts=system.clock.now(), severity="info"))

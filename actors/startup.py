"""The start-up sequence (STATE_MACHINE.md §3), run once by `System.start()` outside the graph.

 1. constraints and fees (AssetPairs, TradeVolume) -> the runtime reconfigures every slot;
 2. balances (Balance) -> the runtime, Kraken being the authority for bootstrap;
 3. the executions snapshot: wait for the gateway's first `ExecutionsSnapshotDone` (open orders and
    recent fills have then been routed to the slots);
 4. reconcile + replay: the executions of tracked orders since the oldest of them are replayed from
    the exchange (missed_fills: TradesHistory + QueryOrders; duplicates die on exec_id), then every
    slot is reconciled against the open orders (bind, close what is gone, re-place what never
    reached the exchange, cancel strays);
 5. the initial price (strict: the ticker, else the last OHLC close);
 6. `StartupDone` -> the runtime runs its first loop, which bootstraps the slots.

Timings (ms) and the private REST calls used are reported in the status `startup` block.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from actors.internal import BroadcastReconcile, Inspect, SetRules
from actors.messages import BalanceUpdate, OrderCanceled, OrderFilled, PriceTick
from actors.runtime import StartupDone
from actors.slot_io import targets
from actors.status import StartupTimings
from core.market import WS_SYMBOL

if TYPE_CHECKING:
    from actors.system import System

log = logging.getLogger("startup")

_POLL_S = 0.02


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(_POLL_S)
    return bool(predicate())


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 1)


def run(system: System, timeout: float) -> StartupTimings:
    t_total = time.perf_counter()
    refs = system.refs
    venue = system.venue
    assert venue is not None
    port = venue.port
    runtime = refs["runtime"]
    router = refs["router"]
    now = system.clock.now

    # 1. constraints and fees
    info = runtime.ask(Inspect(), timeout=10)
    rules = info["cfg"].rules
    try:
        ir = port.call("asset_pairs")
        rules = msgspec.structs.replace(rules, min_volume=ir.min_volume, min_cost_usd=ir.min_cost_usd,
                                        price_decimals=ir.price_decimals, volume_decimals=ir.volume_decimals)
    except Exception as exc:
        log.warning("AssetPairs unavailable (%s); using the last known constraints", exc)
    try:
        fees = port.call("trade_volume")
        rules = msgspec.structs.replace(rules, maker_fee_pct=fees.maker_pct, taker_fee_pct=fees.taker_pct)
    except Exception as exc:
        log.warning("TradeVolume unavailable (%s); using the configured fee rates", exc)
    runtime.ask(SetRules(rules=rules), timeout=10)

    # 2. balances
    try:
        balances = port.call("balance")
        system.tell("runtime", BalanceUpdate(balances=balances, ts=now(), snapshot=True))
    except Exception as exc:
        log.warning("Balance unavailable (%s); waiting for the balances channel", exc)

    # 3. the executions snapshot (private stream up): open orders and recent fills are routed
    if venue.private and not _wait(lambda: router.ask(Inspect(), timeout=10)["snapshot_seen"], timeout):
        log.warning("no executions snapshot after %.0fs; reconciling against REST open orders merged with "
                    "the stream's census", timeout)

    # 4. replay missed fills of tracked orders, then reconcile every slot
    t_reconcile = time.perf_counter()
    slots = system.slot_refs()
    tracked = [t for ref in slots.values() for t in targets(ref.ask(Inspect(), timeout=10)["state"])]
    t_replay = time.perf_counter()
    replayed = 0
    census = router.ask(Inspect(), timeout=10)
    open_orders = census["open"] if census["snapshot_seen"] else _rest_open_orders(port)
    if tracked:
        replayed = replay(system, port, tracked, open_orders, census.get("partial", set()))
    replay_ms = _ms(t_replay)
    # Reconcile against the router's census as it stands when it handles the broadcast, not the copy
    # taken before the replay: replayed fills make slots place new orders (exits) at once, and an
    # acknowledgement routed ahead of the broadcast is open on the exchange although missing from
    # that copy; the slot would take it for closed and place it again, leaving the first one unmanaged.
    # Stream order keeps it consistent: acks routed later reach the slot after its ReconcileOpen.
    # Without a snapshot the REST list (read before the replay) is only a base the router merges
    # into that live census (minus what it has seen close since, plus what it knows open): the same
    # race exists on this path, and the REST list is all we know of orders the stream never named.
    base = None if census["snapshot_seen"] else open_orders
    router.ask(BroadcastReconcile(startup=True, now=now(), base_open=base), timeout=10)
    for ref in slots.values():  # each slot has handled its ReconcileOpen once this returns (FIFO)
        ref.ask(Inspect(), timeout=10)
    reconcile_ms = _ms(t_reconcile)

    # 5. initial price
    # Under a virtual clock nothing moves during start-up: take the venue's last price at once.
    price_wait = 0.0 if system.config.virtual else min(timeout, 10.0)
    if not _wait(lambda: runtime.ask(Inspect(), timeout=10)["price"] > 0, price_wait):
        price = _fallback_price(port)
        if price > 0:
            system.tell("runtime", PriceTick(symbol=WS_SYMBOL, bid=price, ask=price, last=price, ts=now()))
        else:
            log.error("no initial price; the runtime stays paused on a stale price until one arrives")

    # 6. go: the first loop bootstraps
    t_boot = time.perf_counter()
    timings = StartupTimings(startup_reconcile_ms=reconcile_ms, startup_replay_ms=replay_ms,
                             startup_bootstrap_ms=0.0, startup_total_ms=_ms(t_total), rest_calls=port.rest_calls)
    system.tell("runtime", StartupDone(timings=timings, now=now()))
    if not system.config.virtual:
        _wait(lambda: _bootstrapped(runtime), min(timeout, 10.0))
    timings = msgspec.structs.replace(timings, startup_bootstrap_ms=_ms(t_boot), startup_total_ms=_ms(t_total),
                                      rest_calls=port.rest_calls)
    system.tell("runtime", StartupDone(timings=timings, now=now()))
    log.info("start-up: %d tracked order(s), %d execution(s) replayed, reconcile %.0f ms, total %.0f ms, "
             "%d private REST call(s)", len(tracked), replayed, reconcile_ms, timings.startup_total_ms,
             timings.rest_calls)
    return timings


# Exchange and bot clocks may disagree; the replay window reaches this far before the oldest order.
CLOCK_SKEW_MARGIN_S = 600.0


def replay(system: System, port: Any, tracked: list[Any], open_orders: dict[str, str | None],
           partial: set[str] | None = None) -> int:
    """Deliver what happened to tracked orders while nobody listened, in stream order via the router:
    their executions (TradesHistory, deduplicated by exec_id downstream), then the final state of
    each tracked order that is no longer open (QueryOrders), so an order whose executions are not in
    the history window still completes (at its limit price) or closes, instead of looking cancelled."""
    # Only orders that may have executed while nobody listened need the history: gone from the book,
    # never acknowledged, or open with executions. A clean restart replays nothing.
    touched = partial or set()
    need = [t for t in tracked if not t.txid or t.txid not in open_orders or t.txid in touched]
    if not need:
        return 0
    starts = [t.placed_at for t in need if t.placed_at > 0]
    start = (min(starts) if starts else system.clock.now() - 7 * 86400.0) - CLOCK_SKEW_MARGIN_S
    replayed = 0
    try:
        for fill in port.call("missed_fills", start):
            system.tell("router", fill)
            replayed += 1
    except Exception as exc:
        log.error("missed-fill replay failed (%s); relying on the executions snapshot", exc)
    gone = sorted({t.txid for t in tracked if t.txid and t.txid not in open_orders})
    if gone:
        try:
            for order in port.call("query_orders", gone):
                outcome = closed_outcome(order, system.clock.now())
                if outcome is not None:
                    system.tell("router", outcome)
        except Exception as exc:
            log.error("QueryOrders failed (%s); orders gone from the book count as cancelled", exc)
    return replayed


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


def _bootstrapped(runtime: Any) -> bool:
    info = runtime.ask(Inspect(), timeout=10)
    if info["mode"] != "RUNNING":
        return True  # paused (e.g. cannot bootstrap): nothing more will be placed now
    reports = info["reports"].values()
    return all(r.halted or r.retiring or (not r.empty and len(r.tracked_txids) >= r.open_orders)
               for r in reports) or bool(info["loops"] > 1)


def _rest_open_orders(port: Any) -> dict[str, str | None]:
    try:
        return {o.order_id: o.cl_ord_id for o in port.call("open_orders")}
    except Exception as exc:
        log.error("OpenOrders unavailable (%s); reconciling against nothing known open", exc)
        return {}


def _fallback_price(port: Any) -> float:
    try:
        candles, _ = port.call("ohlc", "XDGUSD", 1)
        return candles[-1].close if candles else 0.0
    except Exception as exc:
        log.error("OHLC unavailable (%s)", exc)
        return 0.0

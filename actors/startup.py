"""The start-up sequence (STATE_MACHINE.md §3), run once by `System.start()` outside the graph.

 1. constraints and fees (AssetPairs, TradeVolume) -> the runtime reconfigures every slot;
 2. balances (Balance) -> the runtime, Kraken being the authority for bootstrap;
 3. the executions snapshot: wait for the gateway's first `ExecutionsSnapshotDone` (open orders and
    recent fills have then been routed to the slots);
 4. reconcile + replay (actors/reconcile.py): the executions of tracked orders since the oldest of
    them are replayed from the exchange (TradesHistory; duplicates die on exec_id), the final state
    of every tracked order gone from the book is fetched (QueryOrders), then every slot is
    reconciled against the open orders (bind, close what is gone, re-place what never reached the
    exchange, cancel strays); whatever stays unknown is kept tracked and retried by the supervisor;
 5. the initial price (strict: the ticker, else the last OHLC close);
 6. `StartupDone` -> the runtime runs its first loop, which bootstraps the slots.

Timings (ms) and the private REST calls used are reported in the status `startup` block.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from actors import reconcile
from actors.internal import Inspect, SetRules
from actors.messages import BalanceUpdate, PriceTick
from actors.runtime import StartupDone
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

    # 4. replay missed fills of tracked orders, settle the gone ones, then reconcile every slot
    # (actors/reconcile.py: against the router's live census, never inferring an end from absence
    # alone). Anything left unsettled is retried by the supervisor and keeps its orders tracked.
    t_reconcile = time.perf_counter()
    result = reconcile.reconcile_all(system, port, startup=True)
    replay_ms, replayed, tracked_count = result.replay_ms, result.replayed, result.tracked
    if not result.settled:
        reconcile.report_unsettled(system, result, startup=True)
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
             "%d private REST call(s)", tracked_count, replayed, reconcile_ms, timings.startup_total_ms,
             timings.rest_calls)
    return timings


def _bootstrapped(runtime: Any) -> bool:
    info = runtime.ask(Inspect(), timeout=10)
    if info["mode"] != "RUNNING":
        return True  # paused (e.g. cannot bootstrap): nothing more will be placed now
    reports = info["reports"].values()
    return all(r.halted or r.retiring or (not r.empty and len(r.tracked_txids) >= r.open_orders)
               for r in reports) or bool(info["loops"] > 1)


def _fallback_price(port: Any) -> float:
    try:
        candles, _ = port.call("ohlc", "XDGUSD", 1)
        return candles[-1].close if candles else 0.0
    except Exception as exc:
        log.error("OHLC unavailable (%s)", exc)
        return 0.0

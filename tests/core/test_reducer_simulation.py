"""Market-driven simulation: the slot trades a seeded random walk the way the exchange would.

Unlike the property tests (which pick any possible event), here an order fills only when the
market reaches its price, so whole round trips, S2 timeouts, orphans, evictions, refreshes and
late reports all happen in realistic order. After every step the books must be exact:

* `check_invariants` is empty;
* `total_profit` is the sum of every booked record; `total_fees` is the fees in booked records
  plus the entry fees open positions carry (core.pnl_audit agrees);
* every booked round trip's net is what its prices and fees say;
* nothing is stuck: after a timer tick an owed entry only waits for a cooldown, a fallback flag
  or a size the exchange accepts.

Each run must book a good number of real round trips, so the checks are not vacuous.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import pytest
from msgspec.structs import replace

from core import pnl_audit
from core import state_machine as sm
from core.sizing import OrderSize, TradeSizes
from tests.core.test_state_machine_builders import SIZE, make_cfg

LEGACY = make_cfg(s1_orphan_after_sec=3 * 3600.0, s2_orphan_after_sec=6 * 3600.0, max_recovery_slots=2)
STICKY = replace(LEGACY, sticky_mode_enabled=True)
FEE = LEGACY.maker_fee


@dataclass
class Books:
    records: list[sm.CycleRecord] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


def _fee(price: float, volume: float) -> float:
    return price * volume * FEE


def _crossed(side: str, price: float, market: float) -> bool:
    return price >= market if side == "buy" else price <= market


def _exchange_reports(s: sm.PairState, rng: random.Random) -> list[sm.Event]:
    """What the exchange says at the current market: fills of crossed orders, cancel outcomes."""
    m, t = s.market_price, s.now
    out: list[sm.Event] = []
    for o in s.orders:
        if not _crossed(o.side, o.price, m):
            continue
        if rng.random() < 0.1:  # an outside cancel after a partial execution
            part = round(o.volume * rng.choice([0.2, 0.5, 0.9]), 8)
            out.append(
                sm.OrderCanceledEvent(
                    order_local_id=o.local_id, txid=o.txid, timestamp=t, executed_volume=part,
                    avg_price=o.price, fee=_fee(o.price, part),
                )
            )
        else:
            out.append(
                sm.FillEvent(
                    order_local_id=o.local_id, txid=o.txid, side=o.side, price=o.price,
                    volume=o.volume, fee=_fee(o.price, o.volume), timestamp=t,
                )
            )
    for r in s.recovery_orders:
        if _crossed(r.side, r.price, m):
            out.append(
                sm.RecoveryFillEvent(
                    recovery_id=r.recovery_id, txid=r.txid, side=r.side, price=r.price,
                    volume=r.volume, fee=_fee(r.price, r.volume), timestamp=t,
                )
            )
        elif rng.random() < 0.01:  # the operator cancels a recovery by hand
            out.append(sm.RecoveryCancelEvent(recovery_id=r.recovery_id, txid=r.txid, timestamp=t))
    for p in s.pending_cancels:
        if rng.random() < 0.7:
            continue  # the cancel is still on its way: the market may reach the order first
        executed = p.volume if _crossed(p.side, p.price, m) else 0.0  # it filled before the cancel
        out.append(
            sm.OrderCanceledEvent(
                order_local_id=p.local_id, txid=p.txid, timestamp=t, executed_volume=executed,
                avg_price=p.price, fee=_fee(p.price, executed),
            )
        )
    return out


def _check(s: sm.PairState, actions: list[sm.Action], books: Books, cfg: sm.EngineConfig) -> None:
    assert sm.check_invariants(s, cfg) == []
    for a in actions:
        if isinstance(a, sm.PlaceOrderAction):
            assert cfg.rules.meets_minimums(a.volume, a.price)
            assert a.price < s.market_price if a.side == "buy" else a.price > s.market_price
        if isinstance(a, sm.OrphanOrderAction):
            assert not cfg.sticky_mode_enabled, "sticky mode never orphans"
            books.reasons[f"orphan:{a.reason}"] += 1
        if isinstance(a, sm.BookCycleAction):
            r = a.record
            books.records.append(r)
            books.reasons[r.close_reason] += 1
            assert r.net_profit == pytest.approx(r.gross_profit - r.fees, abs=1e-12)
            assert r.fees == pytest.approx(r.entry_fee + r.exit_fee, abs=1e-12)
            if r.close_reason == "filled":
                # A plain round trip at the reducer's own exit price nets at least profit_pct.
                assert r.net_profit >= r.entry_price * r.volume * cfg.profit_pct / 100 - 1e-9
    assert s.total_profit == pytest.approx(sum(r.net_profit for r in books.records), abs=1e-9)
    open_fees = sum(o.entry_fee for o in s.orders if o.role == "exit")
    open_fees += sum(r.entry_fee for r in s.recovery_orders)
    assert s.total_fees == pytest.approx(sum(r.fees for r in books.records) + open_fees, abs=1e-9)
    audit = pnl_audit.audit_slot(pnl_audit.ledger_from_state(s, books.records), tolerance=1e-9)
    assert audit.ok, audit.problems


def _not_stuck(s: sm.PairState, cfg: sm.EngineConfig, size: OrderSize) -> None:
    for trade in ("A", "B"):
        owed = s.entry_pending_a if trade == "A" else s.entry_pending_b
        until = s.cooldown_until_a if trade == "A" else s.cooldown_until_b
        disabled = s.long_only if trade == "A" else s.short_only
        waiting = disabled or s.now < until or sm.is_min_size_wait_state(s, cfg, size, s.market_price)
        assert not owed or waiting, f"trade {trade} is owed an entry nobody will place"


def _run(seed: int, cfg: sm.EngineConfig, size: OrderSize, steps: int = 700) -> tuple[sm.PairState, Books]:
    rng = random.Random(seed)
    s, _ = sm.bootstrap_orders(sm.PairState(market_price=0.1, now=1_000_000.0), cfg, size)
    books = Books()
    for _ in range(steps):
        t = s.now + rng.choice([5.0, 60.0, 600.0, 3600.0])
        price = min(0.14, max(0.07, s.market_price * (1 + rng.gauss(0.0, 0.006))))
        s, actions = sm.transition(s, sm.PriceTick(price=round(price, 7), timestamp=t), cfg, size)
        _check(s, actions, books, cfg)
        for event in _exchange_reports(s, rng):
            s, actions = sm.transition(s, event, cfg, size)
            _check(s, actions, books, cfg)
            if rng.random() < 0.05:  # a duplicate delivery changes nothing
                again, more = sm.transition(s, event, cfg, size)
                assert not any(isinstance(a, sm.BookCycleAction) for a in more)
                assert (again.total_profit, again.total_fees) == (s.total_profit, s.total_fees)
        exits = [o for o in s.orders if o.role == "exit"]
        if cfg.sticky_mode_enabled and exits and rng.random() < 0.02:
            s, actions = sm.release_exit(s, exits[0].local_id, s.market_price, s.now, cfg, size)
            _check(s, actions, books, cfg)
        s, actions = sm.transition(s, sm.TimerTick(timestamp=s.now + 1.0), cfg, size)
        _check(s, actions, books, cfg)
        _not_stuck(s, cfg, size)
        for a in actions:
            if isinstance(a, sm.PlaceOrderAction):
                s = sm.bind_txid(s, a.local_id, f"TX{a.local_id}")
    return s, books


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("cfg", "size"),
    [(LEGACY, SIZE), (STICKY, SIZE), (LEGACY, TradeSizes(a=60.0, b=90.0, unit="DOGE"))],
    ids=["legacy-usd", "sticky-usd", "legacy-doge"],
)
def test_simulated_market_keeps_the_books_exact(seed: int, cfg: sm.EngineConfig, size: OrderSize) -> None:
    s, books = _run(seed, cfg, size)
    assert books.reasons["filled"] >= 10, books.reasons  # real round trips happened
    # Liveness: long after every cooldown, a trade that is not switched off works an order. (A
    # legacy tick may orphan a stale exit first, which starts that trade's re-entry cooldown.)
    for _ in range(3):
        s, _ = sm.transition(s, sm.TimerTick(timestamp=s.now + 10 * 86400.0), cfg, size)
    for trade in ("A", "B"):
        disabled = s.long_only if trade == "A" else s.short_only
        assert disabled or any(o.trade_id == trade for o in s.orders), (trade, s)


def test_simulation_reaches_the_legacy_timeout_paths() -> None:
    reasons: Counter[str] = Counter()
    for seed in range(4):
        reasons += _run(seed, LEGACY, SIZE)[1].reasons
    # Orphans show up as recovery fills and evictions; late reports as recovery exits/adjustments.
    for reason in ("filled", "recovery_fill", "evicted", "partial_cancel", "adjustment", "orphan:s2_timeout"):
        assert reasons[reason] > 0, reasons

"""Realistic StatusSnapshot fixtures for the web tests, the browser test and the benchmark.

`make_status(n_slots)` builds a deterministic snapshot: slots cycling through the four phases with
the orders each phase implies (A = sell entry / buy exit, B = buy entry / sell exit), a few
recoveries, completed cycles, slot events, recent fills and capacity figures computed the way
CAPACITY_TELEMETRY_SPEC says (safe cap, headroom, band).
"""

from __future__ import annotations

import math
import random

import msgspec

from actors.status import (
    Balances,
    CapacityFillHealth,
    CapitalLayers,
    ConnectionStatus,
    Counters,
    CycleInfo,
    EntrySchedulerStatus,
    FillMarker,
    OpenOrderDriftHint,
    OrderInfo,
    RebalancerStatus,
    RecoveryInfo,
    RecoverySummary,
    SlotEvent,
    SlotStatus,
    StatusSnapshot,
    TrendStatus,
)

BASE_TS = 1_760_000_000.0
ALIASES = ("doge", "shiba", "floki", "cheems", "kabosu")
PHASES = ("S0", "S1a", "S1b", "S2")


def alias_for(slot_id: int) -> str:
    return ALIASES[slot_id] if slot_id < len(ALIASES) else f"doge-{slot_id + 1:02d}"


def _order(
    slot_id: int, local_id: int, side: str, role: str, trade: str, cycle: int, price: float, market: float,
    now: float, age: float, volume: float, entry_price: float | None = None,
) -> OrderInfo:
    return OrderInfo(
        local_id=local_id,
        side=side,
        role=role,
        trade_id=trade,
        cycle=cycle,
        price=round(price, 6),
        volume=volume,
        txid=f"O{slot_id:03d}{local_id:02d}-ABCDE-FGHIJK",
        cl_ord_id=f"s{slot_id}-{trade}-c{cycle}-{role}",
        placed_at=now - age,
        age_sec=age,
        distance_pct=round((price - market) / market * 100.0, 4),
        entry_price=entry_price,
    )


def make_slot(slot_id: int, price: float, now: float, rng: random.Random, entry_pct: float, profit_pct: float) -> SlotStatus:
    phase = PHASES[slot_id % len(PHASES)]
    cycle_a = 1 + rng.randint(0, 40)
    cycle_b = 1 + rng.randint(0, 40)
    size_usd = round(2.0 + slot_id * 0.05 + rng.random(), 2)
    volume = round(size_usd / price, 2)
    up, down = price * (1 + entry_pct / 100), price * (1 - entry_pct / 100)
    orders: list[OrderInfo] = []
    lid = 1
    if phase in ("S0", "S1b"):  # A entry: sell above market
        orders.append(_order(slot_id, lid, "sell", "entry", "A", cycle_a, up, price, now, rng.uniform(30, 900), volume))
        lid += 1
    if phase in ("S0", "S1a"):  # B entry: buy below market
        orders.append(_order(slot_id, lid, "buy", "entry", "B", cycle_b, down, price, now, rng.uniform(30, 900), volume))
        lid += 1
    if phase in ("S1a", "S2"):  # A exit: buy back below the sell entry
        entry = price * (1 + rng.uniform(0.1, 1.2) / 100)
        exit_price = entry * (1 - profit_pct / 100)
        orders.append(
            _order(slot_id, lid, "buy", "exit", "A", cycle_a, exit_price, price, now, rng.uniform(600, 20000), volume, entry)
        )
        lid += 1
    if phase in ("S1b", "S2"):  # B exit: sell above the buy entry
        entry = price * (1 - rng.uniform(0.1, 1.2) / 100)
        exit_price = entry * (1 + profit_pct / 100)
        orders.append(
            _order(slot_id, lid, "sell", "exit", "B", cycle_b, exit_price, price, now, rng.uniform(600, 20000), volume, entry)
        )
        lid += 1
    recoveries: list[RecoveryInfo] = []
    if slot_id % 3 == 1:
        rec_price = price * (1 + rng.choice((-1, 1)) * rng.uniform(2.0, 6.0) / 100)
        recoveries.append(
            RecoveryInfo(
                recovery_id=slot_id * 10 + 1,
                side="sell" if rec_price > price else "buy",
                trade_id="B" if rec_price > price else "A",
                cycle=max(1, cycle_b - 3),
                price=round(rec_price, 6),
                volume=volume,
                entry_price=round(price * (1 + rng.uniform(-3, 3) / 100), 6),
                txid=f"R{slot_id:03d}01-KLMNO-PQRSTU",
                orphaned_at=now - 3600 * (1 + slot_id % 5),
                age_sec=3600.0 * (1 + slot_id % 5),
                distance_pct=round((rec_price - price) / price * 100, 4),
                reason="s1_timeout",
            )
        )
    cycles = [
        CycleInfo(
            trade_id=rng.choice("AB"),
            cycle=max(1, cycle_a - k),
            entry_price=round(price * (1 - 0.004), 6),
            exit_price=round(price * (1 + 0.006), 6),
            volume=volume,
            net_profit=round(rng.uniform(-0.01, 0.03), 5),
            fees=round(size_usd * 0.0032, 5),
            entry_time=now - 7200 - 900 * k,
            exit_time=now - 3600 - 900 * k,
        )
        for k in range(3)
    ]
    events = [
        SlotEvent(ts=now - 60 * (k + 1), event_type=etype, from_state=f, to_state=t, details=d)
        for k, (etype, f, t, d) in enumerate(
            [
                ("fill", "S0", phase, "B entry filled"),
                ("price_refresh", "S0", "S0", "A entry repriced"),
                ("bootstrap", "S0", "S0", "placed A and B entries"),
            ]
        )
    ]
    total_profit = round(sum(c.net_profit for c in cycles) + slot_id * 0.011, 5)
    return SlotStatus(
        slot_id=slot_id,
        alias=alias_for(slot_id),
        phase=phase,
        long_only=False,
        short_only=False,
        mode_source="none",
        cycle_a=cycle_a,
        cycle_b=cycle_b,
        total_profit=total_profit,
        total_fees=round(size_usd * 0.0032 * (cycle_a + cycle_b), 5),
        round_trips=cycle_a + cycle_b - 2,
        today_realized_loss=0.0,
        order_size_usd=size_usd,
        orders=orders,
        recoveries=recoveries,
        recent_cycles=cycles,
        recent_events=events,
        waiting_reason="",
    )


def capacity_for(slots: list[SlotStatus], limit: int = 225, ratio: float = 0.75, partial_cancels: int = 0) -> CapacityFillHealth:
    internal = sum(len(s.orders) + len(s.recoveries) for s in slots)
    safe_cap = math.floor(limit * ratio)
    headroom = safe_cap - internal
    per_slot = internal / len(slots) if slots else None
    remaining = math.floor(headroom / max(per_slot or 1.0, 1.0)) if headroom > 0 else 0
    hints: list[str] = []
    if headroom < 10 or partial_cancels > 0:
        band = "stop"
        if headroom < 10:
            hints.append(f"open-order headroom {headroom} < 10: do not add slots")
        if partial_cancels > 0:
            hints.append(f"{partial_cancels} partial-fill cancel(s) in 24h: freeze scaling")
    elif headroom < 20:
        band = "caution"
        hints.append(f"open-order headroom {headroom} < 20: add at most 1 slot/day")
    else:
        band = "normal"
    return CapacityFillHealth(
        open_orders_current=internal,
        open_orders_source="kraken",
        open_orders_internal=internal,
        open_orders_kraken=internal,
        open_orders_drift=0,
        open_order_limit_configured=limit,
        open_orders_safe_cap=safe_cap,
        open_order_headroom=headroom,
        open_order_utilization_pct=round(internal / safe_cap * 100, 2),
        orders_per_slot_estimate=None if per_slot is None else round(per_slot, 3),
        estimated_slots_remaining=remaining,
        partial_fill_open_events_1d=2,
        partial_fill_cancel_events_1d=partial_cancels,
        median_fill_seconds_1d=412.0,
        p95_fill_seconds_1d=5230.0,
        status_band=band,  # type: ignore[arg-type]
        blocked_risk_hint=hints,
    )


def make_fills(slots: list[SlotStatus], price: float, now: float, count: int, rng: random.Random) -> list[FillMarker]:
    fills: list[FillMarker] = []
    for k in range(count):
        if not slots:
            break
        slot = slots[k % len(slots)]
        side = rng.choice(("buy", "sell"))
        fills.append(
            FillMarker(
                ts=now - (count - k) * 45.0,
                slot_id=slot.slot_id,
                side=side,
                role=rng.choice(("entry", "exit")),
                price=round(price * (1 + rng.uniform(-0.6, 0.6) / 100), 6),
                volume=round(slot.order_size_usd / price, 2),
            )
        )
    return fills


def make_status(
    n_slots: int = 6,
    *,
    price: float = 0.12345,
    ts: float = BASE_TS,
    mode: str = "RUNNING",
    pause_reason: str = "",
    seed: int = 7,
    fills: int = 8,
    trend: bool = True,
    partial_cancels: int = 0,
) -> StatusSnapshot:
    rng = random.Random(seed)
    entry_pct, profit_pct = 0.35, 1.0
    slots = [make_slot(i, price, ts, rng, entry_pct, profit_pct) for i in range(n_slots)]
    total_profit = round(sum(s.total_profit for s in slots), 5)
    recoveries_total = sum(len(s.recoveries) for s in slots)
    return StatusSnapshot(
        ts=ts,
        venue="sim",
        mode=mode,  # type: ignore[arg-type]
        pause_reason=pause_reason,
        halt_reason="",
        price=price,
        price_ts=ts - 1.5,
        price_age_sec=1.5,
        entry_pct=entry_pct,
        profit_pct=profit_pct,
        total_profit=total_profit,
        total_fees=round(sum(s.total_fees for s in slots), 5),
        today_realized_pnl=round(total_profit / 5, 5),
        total_round_trips=sum(s.round_trips for s in slots),
        daily_loss_limit=3.0,
        daily_realized_loss_utc=0.12,
        daily_loss_lock_active=False,
        daily_loss_lock_utc_day="2025-10-09",
        balances=Balances(usd=512.34, doge=4021.5, source="kraken", ts=ts - 3),
        connection=ConnectionStatus(public=True, private=True, exchange_system="online", last_frame_age_sec=0.4, reconnects=1),
        slots=slots,
        capacity_fill_health=capacity_for(slots, partial_cancels=partial_cancels),
        entry_scheduler=EntrySchedulerStatus(
            loop_cap=2, configured_cap=2, pending=1, deferred_total=14, drained_total=13, bypassed_total=0
        ),
        open_order_drift_hint=OpenOrderDriftHint(active=False, drift=0, drift_pct=0.0, since=None, alerted=False),
        recoveries=RecoverySummary(total=recoveries_total, cap_per_slot=2, orphan_pressure_level=0, auto_soft_close_total=3),
        counters=Counters(
            fills_booked=214, duplicate_fills_ignored=2, cycles_booked=97, orders_placed=431, orders_rejected=3,
            orders_canceled=120, invariant_halts=0, malformed_frames=0,
        ),
        recent_fills=make_fills(slots, price, ts, fills, rng),
        capital_layers=CapitalLayers(
            target_layers=2, effective_layers=2, funding_gap_layers=0, doge_per_order_per_layer=10.0, funding_status="funded",
            orders_total=40, orders_at_effective_layers=30, orders_unknown_layers=2, propagation_pct=75.0,
        ),
        rebalancer=RebalancerStatus(enabled=True, target=0.42, base_target=0.4, skew=0.06, idle_ratio=0.47, basis="usd"),
        trend=(
            TrendStatus(
                score=0.0031, score_display="+0.31%", fast_ema=price * 1.001, slow_ema=price * 0.998,
                dynamic_idle_target=0.42, hysteresis_active=False, hysteresis_expires_in_sec=0.0,
            )
            if trend
            else None
        ),
    )


def with_changes(snapshot: StatusSnapshot, **changes: object) -> StatusSnapshot:
    return msgspec.structs.replace(snapshot, **changes)


def add_fill(snapshot: StatusSnapshot, fill: FillMarker) -> StatusSnapshot:
    return with_changes(snapshot, recent_fills=[*snapshot.recent_fills, fill])

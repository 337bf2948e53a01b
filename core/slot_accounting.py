"""Realized P&L bookkeeping of a slot: the one place a cycle's profit is computed.

Fee convention: an entry's fee goes into `total_fees` when the entry fills; `book_cycle` adds
only the exit leg's fee to `total_fees`, while the record's `fees`/`net_profit` include both
legs. Hence `total_profit` is exactly the sum of every booked record's `net_profit`.
"""

from __future__ import annotations

from msgspec.structs import replace

from core.engine_config import EngineConfig
from core.slot_types import BookCycleAction, CycleRecord, PairState, TradeId

DAY_SEC = 86400.0


def utc_day(ts: float) -> int:
    return int(ts // DAY_SEC)


def advance_clock(state: PairState, ts: float) -> PairState:
    """Move `now` forward (never back: late reports must not reopen lapsed cooldowns).

    Rolls the daily realized-loss counter over at UTC midnight.
    """
    now = max(state.now, ts)
    day = utc_day(now)
    if now == state.now and day == state.loss_day:
        return state
    if day != state.loss_day:
        return replace(state, now=now, loss_day=day, today_realized_loss=0.0)
    return replace(state, now=now)


def book_cycle(
    state: PairState,
    cfg: EngineConfig,
    *,
    trade_id: TradeId,
    cycle: int,
    entry_price: float,
    exit_price: float,
    volume: float,
    entry_fee: float,
    exit_fee: float,
    entry_time: float,
    from_recovery: bool,
    close_reason: str,
    recovery_id: int = 0,
    round_trip: bool = True,
) -> tuple[PairState, BookCycleAction]:
    """Book one (possibly partial) round trip. THE place realized P&L is computed.

    Trade A sold first, so it gains when it buys back lower; trade B bought first and gains when
    it sells higher. An adjustment passes the price it was booked at as `entry_price`, so the
    same formula books the difference between the booked and the actual execution.
    """
    if trade_id == "A":
        gross = (entry_price - exit_price) * volume
    else:
        gross = (exit_price - entry_price) * volume
    fees = entry_fee + exit_fee
    net = gross - fees
    record = CycleRecord(
        trade_id=trade_id,
        cycle=cycle,
        entry_price=entry_price,
        exit_price=exit_price,
        volume=volume,
        gross_profit=gross,
        fees=fees,
        net_profit=net,
        entry_fee=entry_fee,
        exit_fee=exit_fee,
        entry_time=entry_time,
        exit_time=state.now,
        from_recovery=from_recovery,
        close_reason=close_reason,
        recovery_id=recovery_id,
    )
    keep = max(1, cfg.completed_cycles_keep)
    cycles = (*state.completed_cycles, record)[-keep:]
    state = replace(
        state,
        total_profit=state.total_profit + net,
        total_fees=state.total_fees + exit_fee,
        total_round_trips=state.total_round_trips + (1 if round_trip else 0),
        today_realized_loss=state.today_realized_loss + (-net if net < 0 else 0.0),
        completed_cycles=cycles,
    )
    return state, BookCycleAction(record=record)


def book_entry_fee(state: PairState, fee: float) -> PairState:
    return replace(state, total_fees=state.total_fees + fee)


def update_loss_counters(
    state: PairState, trade_id: TradeId, net_profit: float, cfg: EngineConfig
) -> PairState:
    """A loss extends the trade's losing streak, a win (or flat) resets it; a long streak cools down."""
    if trade_id == "A":
        streak = state.consecutive_losses_a + 1 if net_profit < 0 else 0
        until = state.cooldown_until_a
        if streak >= cfg.max_consecutive_losses:
            until = max(until, state.now + cfg.loss_cooldown_sec)
        return replace(state, consecutive_losses_a=streak, cooldown_until_a=until)
    streak = state.consecutive_losses_b + 1 if net_profit < 0 else 0
    until = state.cooldown_until_b
    if streak >= cfg.max_consecutive_losses:
        until = max(until, state.now + cfg.loss_cooldown_sec)
    return replace(state, consecutive_losses_b=streak, cooldown_until_b=until)


def apply_base_cooldown(state: PairState, trade_id: TradeId, cfg: EngineConfig) -> PairState:
    """Every cycle close or orphan delays the trade's next entry, whatever the P&L (§7.2)."""
    until = state.now + cfg.reentry_base_cooldown_sec
    if trade_id == "A":
        return replace(state, cooldown_until_a=max(state.cooldown_until_a, until))
    return replace(state, cooldown_until_b=max(state.cooldown_until_b, until))


def advance_cycle(state: PairState, trade_id: TradeId, closed_cycle: int) -> PairState:
    if trade_id == "A":
        return replace(state, cycle_a=max(state.cycle_a, closed_cycle + 1))
    return replace(state, cycle_b=max(state.cycle_b, closed_cycle + 1))

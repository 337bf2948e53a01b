"""Daily loss lock: a UTC-day realized-loss circuit breaker (STATE_MACHINE.md §13).

The daily realized loss is the sum of |net_profit| over the completed cycles whose `exit_time`
falls in the current UTC day and whose `net_profit` is negative. Recovery-eviction losses are
booked as cycles too (from_recovery), so they count. Profits do not offset losses: the breaker
bounds how much the bot may lose in a day, not its net.

The tally is kept by `record_cycle(state, exit_time, net_profit)` once per booked cycle (the
runtime's hot path); `rescan_daily_loss(cycles, now)` is its definition over every cycle, and
tests prove the two equal. The state is saved in `__v1__` once per runtime loop, while each slot
commits its own `today_realized_loss` with every fill: at start-up `restored_tally` takes the
larger of the two, so a crash between a losing fill and the next save cannot lose that loss.

`evaluate(state, limit, now)` then applies rollover and the lock rules and returns events the
runtime turns into pause / alert / notification. `now` is always passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal, Protocol

import msgspec

DEFAULT_DAILY_LOSS_LIMIT = 3.0

LossLockKind = Literal["locked", "cleared_rollover", "cleared_limit"]


class CycleLike(Protocol):
    """Anything with the two fields the tally needs (core.state_machine.CycleRecord has them)."""

    @property
    def exit_time(self) -> float: ...

    @property
    def net_profit(self) -> float: ...


class LossLockState(msgspec.Struct, frozen=True, kw_only=True):
    """Snapshot-persisted (§21: _daily_loss_lock_active / _utc_day / _daily_realized_loss_utc)."""

    active: bool = False
    utc_day: str = ""  # 'YYYY-MM-DD': the day the tally belongs to; "" before the first evaluate
    daily_realized_loss_utc: float = 0.0  # a positive number: the size of the loss
    locked_utc_day: str = ""  # the day the lock engaged; "" when not active


class LossLockEvent(msgspec.Struct, frozen=True, kw_only=True):
    kind: LossLockKind
    message: str
    utc_day: str
    loss: float
    limit: float


def utc_day(ts: float) -> str:
    """The UTC calendar day of a unix timestamp, as 'YYYY-MM-DD' (pure: no clock read)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d")


def cycle_loss(net_profit: float) -> float:
    """The part of a cycle's result that counts as loss: -net_profit when negative, else 0."""
    return -net_profit if net_profit < 0 else 0.0


def rescan_daily_loss(cycles: Iterable[CycleLike], now: float) -> float:
    """Realized loss of the UTC day containing `now`, from all cycles (of all slots)."""
    today = utc_day(now)
    return sum(cycle_loss(c.net_profit) for c in cycles if utc_day(c.exit_time) == today)


def day_number(ts: float) -> int:
    """The UTC day of `ts` as the slots count it (`PairState.loss_day`: days since the epoch)."""
    return int(ts // 86400.0)


def restored_tally(state: LossLockState, slot_losses: Iterable[tuple[int, float]], now: float) -> LossLockState:
    """The tally to start with: max(the restored tally if it is `now`'s day, the sum of the slots'
    `today_realized_loss` whose `loss_day` is `now`'s day).

    slot_losses: (loss_day, today_realized_loss) of every restored slot, plus one entry for the
    slots removed today (the runtime keeps their loss in `__v1__`). The slots commit theirs with
    each fill; `__v1__` (where `state` comes from) is saved once per loop, so after a crash it can
    miss the last losing exits, which are booked and will not be replayed. With the removed slots'
    share the books' sum is the whole day; max with the restored tally never under-counts, the
    safe side for a breaker.
    Only the tally moves (to `now`'s day when the slots' sum wins); whether it locks is for
    `evaluate`. An active lock keeps the day it engaged, so a past day's lock still clears.
    """
    today, today_no = utc_day(now), day_number(now)
    books = sum(loss for day, loss in slot_losses if day == today_no and loss > 0)
    kept = state.daily_realized_loss_utc if state.utc_day == today else 0.0
    if books <= kept:
        return state
    locked_day = state.locked_utc_day or (state.utc_day if state.active else "")
    return msgspec.structs.replace(state, utc_day=today, daily_realized_loss_utc=books, locked_utc_day=locked_day)


def record_cycle(state: LossLockState, exit_time: float, net_profit: float) -> LossLockState:
    """Add one booked cycle to the tally (no lock decision here; call `evaluate` after).

    A cycle of the tally's day adds its loss; a cycle of a later day (booked just after midnight,
    before the next evaluate) starts that day's tally; a cycle of an earlier day is ignored, as a
    rescan of today would ignore it.
    """
    day = utc_day(exit_time)
    loss = cycle_loss(net_profit)
    if day == state.utc_day:
        if loss == 0.0:
            return state
        return msgspec.structs.replace(state, daily_realized_loss_utc=state.daily_realized_loss_utc + loss)
    if day > state.utc_day:  # ISO dates order as strings
        return msgspec.structs.replace(state, utc_day=day, daily_realized_loss_utc=loss)
    return state


def evaluate(
    state: LossLockState, limit: float, now: float
) -> tuple[LossLockState, list[LossLockEvent]]:
    """Apply UTC rollover and the lock rules for `now`.

    Order: (1) a new UTC day resets the tally and clears an active lock ("cleared_rollover");
    (2) an active lock clears when the limit is disabled (<= 0) or raised above today's loss
    ("cleared_limit"); (3) an inactive lock engages when limit > 0 and loss >= limit ("locked").
    A rollover can clear and re-lock in one call if the new day already lost the limit.
    """
    today = utc_day(now)
    events: list[LossLockEvent] = []
    # A snapshot written before `locked_utc_day` existed: the lock belongs to the tally's day.
    lock_day = state.locked_utc_day or state.utc_day
    if state.utc_day < today:
        state = msgspec.structs.replace(state, utc_day=today, daily_realized_loss_utc=0.0)
    loss = state.daily_realized_loss_utc if state.utc_day == today else 0.0

    if state.active and lock_day != today:
        state = msgspec.structs.replace(state, active=False, locked_utc_day="")
        events.append(
            LossLockEvent(
                kind="cleared_rollover",
                message=f"daily loss lock cleared: new UTC day {today}",
                utc_day=today,
                loss=loss,
                limit=limit,
            )
        )
    if state.active and (limit <= 0 or loss < limit):
        why = "limit disabled" if limit <= 0 else f"limit ${limit:.2f} now above today's loss ${loss:.2f}"
        state = msgspec.structs.replace(state, active=False, locked_utc_day="")
        events.append(
            LossLockEvent(
                kind="cleared_limit",
                message=f"daily loss lock cleared: {why}",
                utc_day=today,
                loss=loss,
                limit=limit,
            )
        )
    if not state.active and limit > 0 and loss >= limit:
        state = msgspec.structs.replace(state, active=True, locked_utc_day=today)
        events.append(
            LossLockEvent(
                kind="locked",
                message=(
                    f"daily loss lock: realized loss ${loss:.2f} on {today} UTC reached "
                    f"DAILY_LOSS_LIMIT ${limit:.2f}; paused until the next UTC day"
                ),
                utc_day=today,
                loss=loss,
                limit=limit,
            )
        )
    return state, events


def step(
    state: LossLockState,
    limit: float,
    now: float,
    booked: Iterable[tuple[float, float]] = (),
) -> tuple[LossLockState, list[LossLockEvent]]:
    """Record newly booked cycles given as (exit_time, net_profit), then `evaluate`."""
    for exit_time, net_profit in booked:
        state = record_cycle(state, exit_time, net_profit)
    return evaluate(state, limit, now)


def resume_allowed(state: LossLockState) -> bool:
    """§13: resume is blocked while the lock is active."""
    return not state.active


def resume_block_reason(state: LossLockState, limit: float) -> str:
    """The operator-facing reason a resume was refused ("" when resume is allowed)."""
    if not state.active:
        return ""
    return (
        f"daily loss lock active: ${state.daily_realized_loss_utc:.2f} lost on {state.utc_day} UTC "
        f"(limit ${limit:.2f}); clears at the next UTC day or when the limit is raised"
    )

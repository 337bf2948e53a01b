"""Operational guardrails (STATE_MACHINE.md §24, §4 steps 3/12/14; STICKY_SLOTS_CHECKLIST §3.6).

Each check is a pure function of its (small, immutable) state, the facts and `now`; it returns the
new state and a list of `GuardEvent`s. The runtime acts on the events: `pause` kinds pause the bot
(a pause of a kind that does not outrank the current one is a no-op there, see "pause precedence"
below), `alert`/`notice` kinds go to the operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from actors.status import OpenOrderDriftHint

DEFAULT_STALE_PRICE_MAX_AGE_SEC = 120.0
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
DEFAULT_DRIFT_ALERT_PCT = 5.0
DEFAULT_DRIFT_PERSIST_SEC = 600.0
DEFAULT_DRIFT_MIN_ORDERS = 1
DEFAULT_ORPHAN_PRESSURE_WARN_AT = 100
SLOT_ADD_WARN_HEADROOM = 20  # the caution band's edge (CAPACITY_TELEMETRY_SPEC band rules)
ORDERS_PER_S0_SLOT = 2

GuardKind = Literal[
    "pause_stale_price",
    "pause_api_errors",
    "drift_alert",
    "drift_cleared",
    "orphan_pressure",
]


class GuardEvent(msgspec.Struct, frozen=True, kw_only=True):
    """kind: machine-readable; action: what the runtime does; message: for a person."""

    kind: GuardKind
    action: Literal["pause", "alert", "notice"]
    message: str


# ------------------------------------------------------------------------------ pause precedence
#
# A paused bot records one pause kind (`pause_kind`, persisted in `__v1__`): the one that says what
# must happen before it trades again. Two kinds are latches that only an operator `resume` lifts
# (`operator`, `api_errors`); the others are conditions that lift by themselves and that the
# runtime can re-check at any moment: the daily loss lock (its own state, persisted apart and shown
# in the status whatever the pause kind), a stale price, an empty slot that cannot be funded,
# start-up. The record prefers a latch, because nothing else remembers it; the loss lock keeps its
# precedence over everything where it matters (D8): every resume, the operator's included,
# re-checks it and never sets RUNNING while it is active, and it takes over every automatic pause.

PauseKind = Literal["operator", "api_errors", "loss_lock", "stale_price", "cannot_bootstrap", "startup"]

PAUSE_PRECEDENCE: dict[str, int] = {
    "operator": 4,
    "api_errors": 4,
    "loss_lock": 3,
    "stale_price": 2,
    "cannot_bootstrap": 1,
    "startup": 0,
}
# Pauses only an operator `resume` lifts (nothing re-checks them: they must never be overwritten).
LATCHED_PAUSE_KINDS: frozenset[str] = frozenset({"operator", "api_errors"})
# Pauses that lift by themselves when their condition ends; the runtime re-checks each on resume.
AUTOMATIC_PAUSE_KINDS: frozenset[str] = frozenset({"loss_lock", "stale_price", "cannot_bootstrap", "startup"})


class PauseCondition(msgspec.Struct, frozen=True):
    """An automatic pause condition that holds now: its kind and the reason to show."""

    kind: str
    reason: str


def pause_rank(kind: str) -> int:
    """A kind's precedence. An unknown or empty kind (a paused snapshot from before pause kinds
    were saved, or one a newer version wrote) ranks as the operator's pause: only an operator
    `resume` lifts it. Never guess it away."""
    return PAUSE_PRECEDENCE.get(kind, PAUSE_PRECEDENCE["operator"])


def pause_takes_over(current: str, new: str) -> bool:
    """Whether a pause of kind `new`, asked for while paused for `current`, replaces it (kind and
    reason). Only a strictly higher rank does: the same kind again (a guard that fires every loop)
    or an equal one (operator vs api_errors: both wait for an operator resume) keeps the pause as
    it is, so repeated requests are idempotent and do not alert again. A latch is never replaced."""
    return pause_rank(new) > pause_rank(current)


def operator_may_pause(current: str) -> bool:
    """The operator's `pause` on a bot already paused for `current`: it takes over any automatic
    pause (the loss lock's included: the lock still refuses resume until it clears, and after that
    the bot stays paused until the operator resumes); refused when the bot already waits for an
    operator (operator, api_errors)."""
    return pause_takes_over(current, "operator")


def pause_after_resume(holding: Iterable[PauseCondition]) -> PauseCondition | None:
    """What a resume leads to: the highest-ranked automatic condition that still holds, or None
    (RUNNING).

    Rule: a resume lifts one pause (an automatic resume only its own kind, the operator's any; the
    operator's is refused while the loss lock is active) and never sets RUNNING while an automatic
    condition holds; the bot stays paused for the strongest of them instead (loss_lock >
    stale_price > cannot_bootstrap > startup), which then lifts by itself like any pause of its
    kind. A pause records one kind, the strongest when it was taken; the weaker conditions are not
    remembered in a stack but re-checked when it lifts, because each is a fact the runtime can
    evaluate at any moment, while a remembered reason could outlive its condition unseen (or be
    lost on a restart). Latched pauses (operator, api_errors) are not conditions: no automatic
    resume lifts them and a resume never re-enters them; they come back only when asked for again.
    """
    best: PauseCondition | None = None
    for c in holding:
        if c.kind in AUTOMATIC_PAUSE_KINDS and (best is None or pause_rank(c.kind) > pause_rank(best.kind)):
            best = c
    return best


# ---------------------------------------------------------------------------------- stale price


def price_age(price_ts: float, now: float) -> float | None:
    """Seconds since the last price; None when no price was ever received (price_ts <= 0)."""
    return None if price_ts <= 0 else max(0.0, now - price_ts)


def check_stale_price(
    price_ts: float, now: float, max_age_sec: float = DEFAULT_STALE_PRICE_MAX_AGE_SEC, label: str | None = None
) -> GuardEvent | None:
    """Pause when the price is older than `max_age_sec` (strictly), or was never seen.

    `max_age_sec` is the effective threshold (`StalePriceGuard.max_age_sec`); `label` names it in
    the message (default: the knob, `STALE_PRICE_MAX_AGE_SEC=<n>s`).
    """
    age = price_age(price_ts, now)
    if age is None:
        return GuardEvent(kind="pause_stale_price", action="pause", message="stale price: no price received yet")
    if age > max_age_sec:
        return GuardEvent(
            kind="pause_stale_price",
            action="pause",
            message=f"stale price: last update {age:.0f}s ago > {label or f'STALE_PRICE_MAX_AGE_SEC={max_age_sec:.0f}s'}",
        )
    return None


# Wall seconds a sped-up clock must run without a price before the stale-price guard trips.
STALE_PRICE_WALL_FLOOR_SEC = 10.0


def effective_stale_price_max_age(
    max_age_sec: float, speed: float = 1.0, wall_floor_sec: float = STALE_PRICE_WALL_FLOOR_SEC
) -> float:
    """The stale-price threshold in clock seconds, for a clock running `speed` clock seconds per
    wall second.

    Price ages are measured on the bot's clock. In a real-time-scaled simulation (sim mode,
    `SIM_SPEED` > 1) that clock is virtual: a wall-clock stall of the process (GC, a loaded box)
    of `max_age_sec / speed` wall seconds already makes the price look stale (2 s at 60x for
    120 s), although the feed is fine. The guard is for a dead feed, so there the threshold is at
    least `wall_floor_sec` of wall time: max(max_age_sec, speed x wall_floor_sec).

    At real time (live, paper: speed 1) the knob applies as set. A clock not tied to wall time
    (backtests' virtual clock, which moves with the data; sim with SIM_SPEED=0, whose exchange
    waits for its clients) reports speed 1 and keeps the knob too.
    """
    return scaled_for_clock(max_age_sec, speed, wall_floor_sec)


def scaled_for_clock(seconds: float, speed: float, wall_floor_sec: float = STALE_PRICE_WALL_FLOOR_SEC) -> float:
    """A time-based guard's threshold on a clock running `speed` clock seconds per wall second:
    as set at real time or slower, else at least `wall_floor_sec` of wall time."""
    if speed <= 1.0:
        return seconds
    return max(seconds, speed * wall_floor_sec)


class StalePriceGuard(msgspec.Struct, frozen=True, kw_only=True):
    """The stale-price threshold a runtime uses, and how it came about (for logs and messages)."""

    knob_sec: float  # STALE_PRICE_MAX_AGE_SEC
    speed: float  # clock seconds per wall second
    max_age_sec: float  # effective threshold, clock seconds

    @property
    def scaled(self) -> bool:
        """The threshold is the knob scaled for a sped-up clock (the wall-seconds floor won)."""
        return self.max_age_sec > self.knob_sec

    @property
    def label(self) -> str:
        """How the pause message names the threshold."""
        if not self.scaled:
            return f"STALE_PRICE_MAX_AGE_SEC={self.knob_sec:.0f}s"
        return (f"{self.max_age_sec:.0f}s (= {_num(self.max_age_sec / self.speed)}s wall at {_num(self.speed)}x; "
                f"STALE_PRICE_MAX_AGE_SEC={self.knob_sec:.0f}s)")

    def describe(self) -> str:
        """One line for the start-up log."""
        if self.speed <= 1.0:
            return f"stale-price guard: {self.max_age_sec:.0f} s (STALE_PRICE_MAX_AGE_SEC)"
        why = (f"raised from STALE_PRICE_MAX_AGE_SEC={self.knob_sec:.0f} s" if self.scaled
               else "STALE_PRICE_MAX_AGE_SEC")
        return (f"stale-price guard: {self.max_age_sec:.0f} s virtual (= {_num(self.max_age_sec / self.speed)} s "
                f"wall at {_num(self.speed)}x; {why})")


def stale_price_guard(
    max_age_sec: float, speed: float = 1.0, wall_floor_sec: float = STALE_PRICE_WALL_FLOOR_SEC
) -> StalePriceGuard:
    """`effective_stale_price_max_age` with what it was computed from."""
    return StalePriceGuard(knob_sec=max_age_sec, speed=speed,
                           max_age_sec=effective_stale_price_max_age(max_age_sec, speed, wall_floor_sec))


def _num(x: float) -> str:
    return f"{round(x, 1):.10g}"


# ------------------------------------------------------------------------- consecutive API errors


class ApiErrorState(msgspec.Struct, frozen=True, kw_only=True):
    consecutive: int = 0
    last_error: str = ""


def record_api_result(
    state: ApiErrorState,
    ok: bool,
    max_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    detail: str = "",
) -> tuple[ApiErrorState, list[GuardEvent]]:
    """One exchange call's outcome. A success resets the streak; every failure at or beyond
    MAX_CONSECUTIVE_ERRORS asks for a pause (repeated on purpose: if the operator resumes during
    the outage the next failure pauses again; the runtime's pause is idempotent)."""
    if ok:
        return (ApiErrorState() if state.consecutive else state), []
    state = ApiErrorState(consecutive=state.consecutive + 1, last_error=detail)
    if state.consecutive >= max_errors:
        why = f": {detail}" if detail else ""
        return state, [
            GuardEvent(
                kind="pause_api_errors",
                action="pause",
                message=f"{state.consecutive} consecutive API errors >= MAX_CONSECUTIVE_ERRORS={max_errors}{why}",
            )
        ]
    return state, []


# ------------------------------------------------------------------------- open-order drift alert


class DriftAlertState(msgspec.Struct, frozen=True, kw_only=True):
    exceeding: bool = False  # the latest comparison was over the threshold
    since: float | None = None  # when the current over-threshold run began
    alerted: bool = False  # the alert for this run was sent
    drift: int | None = None  # kraken - internal at the latest comparison
    drift_pct: float | None = None


def drift_threshold_orders(
    internal: int, pct: float = DEFAULT_DRIFT_ALERT_PCT, min_orders: int = DEFAULT_DRIFT_MIN_ORDERS
) -> float:
    """Drift (in orders) that counts as exceeding: pct % of the internal count, at least min_orders.

    Percent of the *internal* count because that is what the bot believes it has; the floor keeps
    a tiny book (say 8 orders, 5 % = 0.4) from needing a fractional order to register.
    """
    return max(float(min_orders), internal * pct / 100.0)


def update_drift(
    state: DriftAlertState,
    kraken: int | None,
    internal: int,
    now: float,
    *,
    pct: float = DEFAULT_DRIFT_ALERT_PCT,
    persist_sec: float = DEFAULT_DRIFT_PERSIST_SEC,
    min_orders: int = DEFAULT_DRIFT_MIN_ORDERS,
) -> tuple[DriftAlertState, list[GuardEvent]]:
    """Persistent drift: |kraken - internal| >= threshold for >= persist_sec sends one alert; when
    it falls back under the threshold the run ends, and an alerted run sends a recovery notice.

    With Kraken's count unavailable nothing can be judged: the run is neither advanced to an alert
    nor cleared (a blind spot must not send "resolved"), only the displayed drift becomes None.
    """
    if kraken is None:
        return msgspec.structs.replace(state, drift=None, drift_pct=None), []
    drift = kraken - internal
    drift_pct = drift / max(internal, 1) * 100.0
    exceeding = abs(drift) >= drift_threshold_orders(internal, pct, min_orders)
    events: list[GuardEvent] = []
    if not exceeding:
        if state.alerted:
            events.append(
                GuardEvent(
                    kind="drift_cleared",
                    action="notice",
                    message=f"open-order drift resolved: kraken={kraken} internal={internal}",
                )
            )
        return DriftAlertState(drift=drift, drift_pct=drift_pct), events
    since = state.since if state.since is not None else now
    alerted = state.alerted
    if not alerted and now - since >= persist_sec:
        alerted = True
        events.append(
            GuardEvent(
                kind="drift_alert",
                action="alert",
                message=(
                    f"open-order drift {drift:+d} ({drift_pct:+.1f}%): kraken={kraken} internal={internal} "
                    f"for {now - since:.0f}s; consider reconcile_drift"
                ),
            )
        )
    return DriftAlertState(exceeding=True, since=since, alerted=alerted, drift=drift, drift_pct=drift_pct), events


def drift_hint(state: DriftAlertState) -> OpenOrderDriftHint:
    """The `open_order_drift_hint` status block."""
    return OpenOrderDriftHint(
        active=state.exceeding,
        drift=state.drift,
        drift_pct=state.drift_pct,
        since=state.since,
        alerted=state.alerted,
    )


# ------------------------------------------------------------------------------- orphan pressure


class OrphanPressureState(msgspec.Struct, frozen=True, kw_only=True):
    notified_level: int = 0  # highest multiple already announced in the current rise


def orphan_pressure_level(total_recoveries: int, warn_at: int = DEFAULT_ORPHAN_PRESSURE_WARN_AT) -> int:
    return total_recoveries // warn_at if warn_at > 0 and total_recoveries > 0 else 0


def update_orphan_pressure(
    state: OrphanPressureState, total_recoveries: int, warn_at: int = DEFAULT_ORPHAN_PRESSURE_WARN_AT
) -> tuple[OrphanPressureState, list[GuardEvent]]:
    """Notify once each time the total recovery count reaches a new multiple of ORPHAN_PRESSURE_WARN_AT.

    A jump over several multiples sends one notice (for the highest). When the count falls below an
    announced multiple the mark comes down with it, so reaching that multiple again notifies again.
    """
    level = orphan_pressure_level(total_recoveries, warn_at)
    if level > state.notified_level:
        return OrphanPressureState(notified_level=level), [
            GuardEvent(
                kind="orphan_pressure",
                action="alert",
                message=f"orphan pressure: {total_recoveries} recovery orders (>= {level * warn_at})",
            )
        ]
    if level < state.notified_level:
        return OrphanPressureState(notified_level=level), []
    return state, []


# ----------------------------------------------------------------------- capacity-safe slot adds


class SlotAddAdvice(msgspec.Struct, frozen=True, kw_only=True):
    decision: Literal["allow", "warn", "block"]
    reason: str
    projected_orders: int
    safe_cap: int
    projected_headroom: int
    max_addable: int  # slots that fit under the safe cap in the all-S0 projection


def slot_add_advice(
    *,
    slot_count: int,
    adding: int,
    recovery_orders: int,
    safe_cap: int,
    untracked_orders: int = 0,
    other_orders: int = 0,
    partial_cancel_events_1d: int = 0,
) -> SlotAddAdvice:
    """Advice on adding `adding` slots, from the worst steady case: every slot in S0 with two entries.

    projected = 2 x (slot_count + adding) + recovery_orders + other_orders + max(untracked, 0)
    * a slot never holds more than two active orders (S0: 2 entries, S1: exit + entry, S2: 2 exits),
      so its exits are already inside the 2 per slot; recoveries live outside that and stay put;
    * other_orders: churner orders and anything else the bot keeps open;
    * untracked_orders: Kraken's count above ours (positive drift) also takes capacity.
    block: projection above the safe cap, or any partial-cancel event in the last 24 h (operator
    playbook: freeze scaling). warn: fewer than 20 orders of projected headroom (caution band).
    """
    fixed = recovery_orders + other_orders + max(untracked_orders, 0)
    projected = ORDERS_PER_S0_SLOT * (slot_count + adding) + fixed
    room = safe_cap - projected
    max_addable = max(0, (safe_cap - ORDERS_PER_S0_SLOT * slot_count - fixed) // ORDERS_PER_S0_SLOT)
    if partial_cancel_events_1d > 0:
        decision, reason = "block", (
            f"{partial_cancel_events_1d} partial-fill cancel event(s) in 24 h: scaling frozen"
        )
    elif room < 0:
        decision, reason = "block", (
            f"projected all-S0 open orders {projected} exceed the safe cap {safe_cap} "
            f"(at most {max_addable} more slot(s) fit)"
        )
    elif room < SLOT_ADD_WARN_HEADROOM:
        decision, reason = "warn", (
            f"projected headroom {room} < {SLOT_ADD_WARN_HEADROOM} orders: caution band, add at most 1 slot per day"
        )
    else:
        decision, reason = "allow", f"projected all-S0 open orders {projected} of safe cap {safe_cap}"
    return SlotAddAdvice(
        decision=decision,
        reason=reason,
        projected_orders=projected,
        safe_cap=safe_cap,
        projected_headroom=room,
        max_addable=max_addable,
    )


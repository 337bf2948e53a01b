"""Capacity and fill-health telemetry (CAPACITY_TELEMETRY_SPEC v0.1.1, STATE_MACHINE.md §22.1-§22.2).

Read-path only: nothing here changes trading behaviour. The runtime feeds execution facts into a
`FillHealthWindows` it owns and, when it builds a status snapshot, calls
`build_capacity_fill_health(...)` to get the `capacity_fill_health` block.

Time is always passed in (`now`, unix seconds); nothing here reads a clock or logs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Literal

import msgspec

from actors.status import CapacityFillHealth

WINDOW_SEC = 86_400.0
DEFAULT_OPEN_ORDER_LIMIT = 225
DEFAULT_SAFETY_RATIO = 0.75
STOP_HEADROOM = 10
CAUTION_HEADROOM = 20

Band = Literal["normal", "caution", "stop"]
Source = Literal["kraken", "internal_fallback"]


class FillHealthWindows:
    """Rolling 24 h event windows, owned by exactly one actor (the runtime coordinator).

    Mutable on purpose: fills arrive one by one for days and an immutable copy per event would
    cost O(window) each time. It is never shared across actors and holds no I/O; every method
    takes `now` explicitly, so it stays deterministic under a virtual clock. By design (spec
    "Persistence: None") it is not saved: a restart starts empty windows.

    Events must be recorded with non-decreasing `now` for `trim` to drop them in order; an
    out-of-order timestamp is clamped up to the newest one seen so the deque stays sorted.
    """

    def __init__(self, window_sec: float = WINDOW_SEC) -> None:
        if window_sec <= 0:
            raise ValueError(f"window_sec must be positive, got {window_sec}")
        self.window_sec = window_sec
        self._partial_open: deque[float] = deque()
        self._partial_cancel: deque[float] = deque()
        self._fill_durations: deque[tuple[float, float]] = deque()
        # txid -> time first seen partially filled. Kept until the order closes (`forget_txid`)
        # so an order that stays partially filled for more than 24 h is still counted once.
        self._partial_open_seen: dict[str, float] = {}
        self._last_ts = -math.inf

    def _stamp(self, now: float) -> float:
        self._last_ts = max(self._last_ts, now)
        return self._last_ts

    def record_partial_open(self, txid: str, now: float) -> bool:
        """An open order reported 0 < vol_exec < vol. Counted once per txid; True when counted."""
        if txid in self._partial_open_seen:
            return False
        ts = self._stamp(now)
        self._partial_open_seen[txid] = ts
        self._partial_open.append(ts)
        return True

    def record_partial_cancel(self, now: float) -> None:
        """A canceled/expired order had vol_exec > 0 (the phantom-position canary)."""
        self._partial_cancel.append(self._stamp(now))

    def record_fill_duration(self, now: float, duration_sec: float) -> None:
        """A tracked order closed filled `duration_sec` after placement (placed_at > 0 only)."""
        if duration_sec < 0 or math.isnan(duration_sec):
            return
        self._fill_durations.append((self._stamp(now), float(duration_sec)))

    def forget_txid(self, txid: str) -> None:
        """The order closed: drop it from the partial-open dedup set."""
        self._partial_open_seen.pop(txid, None)

    def trim(self, now: float) -> None:
        """Drop events older than the window: an event at `ts` is kept while now - ts <= window."""
        cutoff = now - self.window_sec
        for dq in (self._partial_open, self._partial_cancel):
            while dq and dq[0] < cutoff:
                dq.popleft()
        while self._fill_durations and self._fill_durations[0][0] < cutoff:
            self._fill_durations.popleft()
        # Safety net against a leak when an order's close is never reported: a dedup entry older
        # than 7 windows is dropped (such an order would be counted again at worst once a week).
        stale = now - 7 * self.window_sec
        if self._partial_open_seen:
            for txid in [t for t, ts in self._partial_open_seen.items() if ts < stale]:
                del self._partial_open_seen[txid]

    def partial_open_count(self, now: float) -> int:
        self.trim(now)
        return len(self._partial_open)

    def partial_cancel_count(self, now: float) -> int:
        self.trim(now)
        return len(self._partial_cancel)

    def fill_durations(self, now: float) -> list[float]:
        self.trim(now)
        return [d for _, d in self._fill_durations]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks.

    This is the "linear" method (Hyndman-Fan type 7, numpy's default): sort the n values,
    rank r = p/100 * (n - 1), result = v[floor(r)] + (r - floor(r)) * (v[ceil(r)] - v[floor(r)]).
    So the median of an even count is the mean of the two middle values, p0 is the minimum and
    p100 the maximum. None for no values (the spec's null).
    """
    if not values:
        return None
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = p / 100.0 * (len(ordered) - 1)
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (rank - lo) * (ordered[hi] - ordered[lo])


class OpenOrderCount(msgspec.Struct, frozen=True, kw_only=True):
    """Kraken-first open-order count (spec §2)."""

    current: int
    source: Source
    internal: int
    kraken: int | None
    drift: int | None  # kraken - internal; None when Kraken's count is unavailable


def open_order_count(internal: int, kraken: int | None) -> OpenOrderCount:
    """Kraken's pair-filtered count when available, else the bot's own (active + recovery)."""
    if kraken is None:
        return OpenOrderCount(
            current=internal, source="internal_fallback", internal=internal, kraken=None, drift=None
        )
    return OpenOrderCount(current=kraken, source="kraken", internal=internal, kraken=kraken, drift=kraken - internal)


def safe_cap(limit: int, ratio: float) -> int:
    """floor(limit * ratio), never negative. The tiny epsilon stops 0.75*100 = 74.99999 flooring to 74."""
    return max(0, math.floor(limit * ratio + 1e-9))


def headroom(cap: int, current: int) -> int:
    """safe_cap - current; negative when over the safe cap (kept signed so the overrun is visible)."""
    return cap - current


def utilization_pct(current: int, cap: int) -> float:
    """current / safe_cap * 100. With no safe cap at all: 0 when nothing is open, else 100 (full)."""
    if cap <= 0:
        return 0.0 if current <= 0 else 100.0
    return current / cap * 100.0


def orders_per_slot(current: int, slot_count: int) -> float | None:
    return current / slot_count if slot_count > 0 else None


def estimated_slots_remaining(room: int, per_slot: float | None) -> int:
    """floor(headroom / max(orders_per_slot, 1)) when headroom > 0, else 0 (advisory only).

    With no slots yet (orders_per_slot null) the divisor is 1, per the spec's max(., 1).
    """
    if room <= 0:
        return 0
    divisor = max(per_slot if per_slot is not None else 1.0, 1.0)
    return math.floor(room / divisor + 1e-9)


def status_band(room: int, partial_cancel_events_1d: int) -> Band:
    """§22.2: stop when headroom < 10 or any partial-cancel event; caution when < 20; else normal."""
    if room < STOP_HEADROOM or partial_cancel_events_1d > 0:
        return "stop"
    if room < CAUTION_HEADROOM:
        return "caution"
    return "normal"


def blocked_risk_hints(
    *,
    room: int,
    partial_open_events_1d: int,
    partial_cancel_events_1d: int,
    source: Source,
    drift: int | None,
) -> list[str]:
    """Human-readable reasons behind the band, most severe first (operator playbook wording)."""
    hints: list[str] = []
    if partial_cancel_events_1d > 0:
        hints.append(
            f"partial_fill_cancel_events_1d={partial_cancel_events_1d}: freeze scaling, "
            "a canceled order left a phantom position"
        )
    if room < STOP_HEADROOM:
        hints.append(f"open_order_headroom={room} < {STOP_HEADROOM}: do not add slots")
    elif room < CAUTION_HEADROOM:
        hints.append(f"open_order_headroom={room} < {CAUTION_HEADROOM}: add at most 1 slot per day")
    if partial_open_events_1d > 0:
        hints.append(f"partial_fill_open_events_1d={partial_open_events_1d}: partial fills observed")
    if source == "internal_fallback":
        hints.append("open_orders_source=internal_fallback: Kraken open-order count unavailable")
    if drift:
        hints.append(f"open_orders_drift={drift:+d}: Kraken and internal open-order counts disagree")
    return hints


def build_capacity_fill_health(
    *,
    internal_open_orders: int,
    kraken_open_orders: int | None,
    slot_count: int,
    windows: FillHealthWindows,
    now: float,
    limit: int = DEFAULT_OPEN_ORDER_LIMIT,
    safety_ratio: float = DEFAULT_SAFETY_RATIO,
) -> CapacityFillHealth:
    """The whole `capacity_fill_health` status block. Trims `windows` to `now` as a side effect."""
    count = open_order_count(internal_open_orders, kraken_open_orders)
    cap = safe_cap(limit, safety_ratio)
    room = headroom(cap, count.current)
    per_slot = orders_per_slot(count.current, slot_count)
    partial_open = windows.partial_open_count(now)
    partial_cancel = windows.partial_cancel_count(now)
    durations = windows.fill_durations(now)
    return CapacityFillHealth(
        open_orders_current=count.current,
        open_orders_source=count.source,
        open_orders_internal=count.internal,
        open_orders_kraken=count.kraken,
        open_orders_drift=count.drift,
        open_order_limit_configured=limit,
        open_orders_safe_cap=cap,
        open_order_headroom=room,
        open_order_utilization_pct=utilization_pct(count.current, cap),
        orders_per_slot_estimate=per_slot,
        estimated_slots_remaining=estimated_slots_remaining(room, per_slot),
        partial_fill_open_events_1d=partial_open,
        partial_fill_cancel_events_1d=partial_cancel,
        median_fill_seconds_1d=percentile(durations, 50.0),
        p95_fill_seconds_1d=percentile(durations, 95.0),
        status_band=status_band(room, partial_cancel),
        blocked_risk_hint=blocked_risk_hints(
            room=room,
            partial_open_events_1d=partial_open,
            partial_cancel_events_1d=partial_cancel,
            source=count.source,
            drift=count.drift,
        ),
    )


def phantom_position_canary(txid: str, vol_exec: float, vol: float) -> str:
    """The warning line the runtime logs when a canceled/expired order had executed volume.

    The marker `PHANTOM_POSITION_CANARY` is first so log searches and alerts can key on it.
    """
    return f"PHANTOM_POSITION_CANARY txid={txid} vol_exec={vol_exec:.8f} vol={vol:.8f}"

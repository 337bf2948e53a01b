"""The runtime coordinator's persisted snapshot (`__v1__`) and its status report assembly.

`RuntimeSnapshot` holds every field of STATE_MACHINE.md §21 that this runtime has: mode and pause
reason, the tunables, constraints and fees, slot ids and the next id, aliases, the daily loss lock,
capital layers and the soft-close counter. Seen execution ids are not duplicated here: the `fills`
table (keyed by exec_id) is the exactly-once record and is read at start-up. Every field has a
default, so older snapshots load (missing fields take safe defaults) and unknown fields from newer
ones are ignored.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from actors.internal import RuntimeReport, SlotReport
from actors.status import (
    Balances,
    CapitalLayers,
    ConnectionStatus,
    Counters,
    FillMarker,
    RecoverySummary,
    StartupTimings,
)
from core import capacity, guardrails, layer_propagation, loss_lock
from core.aliases import AliasState
from core.market import PairRules

RUNTIME_KEY = "__v1__"


class RuntimeSnapshot(msgspec.Struct, kw_only=True):
    version: int = 1
    mode: str = "RUNNING"
    pause_reason: str = ""
    pause_kind: str = ""
    halt_reason: str = ""
    entry_pct: float | None = None
    profit_pct: float | None = None
    daily_loss_limit: float | None = None  # set by set_loss_limit; None = the configured knob
    rules: PairRules | None = None
    next_slot_id: int = 0
    next_event_id: int = 0
    slot_ids: list[int] = []
    aliases: AliasState | None = None
    loss_lock: loss_lock.LossLockState = msgspec.field(default_factory=loss_lock.LossLockState)
    target_layers: int = 0
    effective_layers: int = 0
    auto_soft_close_total: int = 0
    # Today's realized loss of slots removed today (their books are gone): the start-up tally
    # adds it to the remaining slots' own losses (core/loss_lock.restored_tally).
    removed_loss_day: int = 0
    removed_loss: float = 0.0
    saved_at: float = 0.0


_decoder = msgspec.json.Decoder(RuntimeSnapshot)


def decode_runtime(raw: bytes | None) -> RuntimeSnapshot | None:
    if not raw:
        return None
    return _decoder.decode(raw)


class Telemetry:
    """Rolling health facts the coordinator aggregates from slot reports."""

    def __init__(self) -> None:
        self.windows = capacity.FillHealthWindows()
        self.drift = guardrails.DriftAlertState()
        self.orphans = guardrails.OrphanPressureState()
        self.api = guardrails.ApiErrorState()
        self.recent_fills: deque[FillMarker] = deque(maxlen=50)
        self.kraken_open: int | None = None
        self.exchange_orders: list[tuple[str, str | None]] = []
        self.unrouted = 0

    def absorb(self, report: SlotReport) -> None:
        for txid, ts in report.partial_open:
            self.windows.record_partial_open(txid, ts)
        for ts in report.partial_cancel:
            self.windows.record_partial_cancel(ts)
        for ts, seconds in report.fill_durations:
            self.windows.record_fill_duration(ts, seconds)
        self.recent_fills.extend(report.fills)


class Connection(msgspec.Struct, kw_only=True):
    public: bool = False
    private: bool = False
    system: str = "unknown"
    last_frame: float | None = None
    reconnects: int = 0
    down_since: float | None = None
    alerted: bool = False


def counters(reports: dict[int, SlotReport], retired: dict[str, int]) -> Counters:
    total: dict[str, int] = dict(retired)
    for r in reports.values():
        for k, v in r.counters.items():
            total[k] = total.get(k, 0) + v
    return Counters(
        fills_booked=total.get("fills_booked", 0),
        duplicate_fills_ignored=total.get("duplicate_fills_ignored", 0),
        cycles_booked=total.get("cycles_booked", 0),
        orders_placed=total.get("orders_placed", 0),
        orders_rejected=total.get("orders_rejected", 0),
        orders_canceled=total.get("orders_canceled", 0),
        invariant_halts=total.get("invariant_halts", 0),
        malformed_frames=total.get("malformed_frames", 0),
    )


def _layers(rt: Any, reports: dict[int, SlotReport]) -> CapitalLayers:
    spread = layer_propagation.summarize((r.layer_counts for r in reports.values()), rt.effective_layers)
    return CapitalLayers(
        target_layers=rt.target_layers, effective_layers=rt.effective_layers,
        funding_gap_layers=max(0, rt.target_layers - rt.effective_layers),
        doge_per_order_per_layer=rt.cfg.capital_layer_doge_per_order,
        funding_status="funded" if rt.effective_layers >= rt.target_layers else "underfunded",
        orders_total=spread.orders_total, orders_at_effective_layers=spread.orders_at_effective,
        orders_unknown_layers=spread.orders_unknown, propagation_pct=spread.progress_pct,
    )


def build_report(rt: Any, now: float) -> RuntimeReport:
    """The coordinator's blocks of the status snapshot (the board adds slots and the scheduler)."""
    reports: dict[int, SlotReport] = rt.reports
    lock = rt.loss
    recoveries = sum(len(r.recoveries) for r in reports.values())
    conn: Connection = rt.connection
    return RuntimeReport(
        ts=now,
        venue=rt.venue,
        mode=rt.mode,
        pause_reason=rt.pause_reason,
        halt_reason=rt.halt_reason,
        price=rt.price,
        price_ts=rt.price_ts,
        entry_pct=rt.cfg.entry_pct,
        profit_pct=rt.cfg.profit_pct,
        today_realized_pnl=rt.today_pnl(now),
        daily_loss_limit=rt.settings.daily_loss_limit,
        daily_realized_loss_utc=lock.daily_realized_loss_utc,
        daily_loss_lock_active=lock.active,
        daily_loss_lock_utc_day=lock.utc_day,
        balances=Balances(usd=rt.balances.get("USD", 0.0), doge=rt.balances.get("DOGE", 0.0),
                          source="kraken" if rt.balances_ts > 0 else "unknown", ts=rt.balances_ts),
        connection=ConnectionStatus(
            public=conn.public, private=conn.private, exchange_system=conn.system,
            last_frame_age_sec=None if conn.last_frame is None else max(0.0, now - conn.last_frame),
            reconnects=conn.reconnects,
        ),
        capacity_fill_health=rt.capacity(now),
        open_order_drift_hint=guardrails.drift_hint(rt.telemetry.drift),
        recoveries=RecoverySummary(
            total=recoveries, cap_per_slot=rt.cfg.max_recovery_slots,
            orphan_pressure_level=guardrails.orphan_pressure_level(recoveries, rt.settings.orphan_pressure_warn_at),
            auto_soft_close_total=rt.auto_soft_close_total,
        ),
        counters=counters(reports, rt.retired_counters),
        recent_fills=list(rt.telemetry.recent_fills),
        capital_layers=_layers(rt, reports),
        startup=rt.startup if isinstance(rt.startup, StartupTimings) else None,
        sticky_mode_enabled=rt.cfg.sticky_mode_enabled,
    )

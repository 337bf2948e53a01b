"""The status payload: what `/api/status`, the dashboard WebSocket and Telegram `/status` show.

One typed tree of msgspec Structs. The runtime's status actor assembles a `StatusSnapshot`
from the slots' `SlotStatus` reports and the services' blocks; the web actor serialises it;
Telegram summarises it. Blocks of STATE_MACHINE.md §22.1 whose feature has not landed are
`None`, so a consumer renders "not available" rather than a made-up number.
No secret ever enters this tree.
"""

from __future__ import annotations

from typing import Literal

import msgspec

RuntimeMode = Literal["RUNNING", "PAUSED", "HALTED"]


class Block(msgspec.Struct, kw_only=True, frozen=True):
    """Base of status blocks."""


class OrderInfo(Block):
    local_id: int
    side: str
    role: str  # entry | exit
    trade_id: str
    cycle: int
    price: float
    volume: float
    txid: str
    cl_ord_id: str
    placed_at: float
    age_sec: float
    distance_pct: float  # signed: (price - market) / market * 100
    filled_volume: float = 0.0
    entry_price: float | None = None


class RecoveryInfo(Block):
    recovery_id: int
    side: str
    trade_id: str
    cycle: int
    price: float
    volume: float
    entry_price: float
    txid: str
    orphaned_at: float
    age_sec: float
    distance_pct: float
    reason: str


class CycleInfo(Block):
    trade_id: str
    cycle: int
    entry_price: float
    exit_price: float
    volume: float
    net_profit: float
    fees: float
    entry_time: float
    exit_time: float
    from_recovery: bool = False


class SlotEvent(Block):
    ts: float
    event_type: str
    from_state: str
    to_state: str
    details: str


class SlotStatus(Block):
    slot_id: int
    alias: str
    phase: str  # S0 | S1a | S1b | S2
    long_only: bool
    short_only: bool
    mode_source: str
    cycle_a: int
    cycle_b: int
    total_profit: float
    total_fees: float
    round_trips: int
    today_realized_loss: float
    order_size_usd: float
    orders: list[OrderInfo]
    recoveries: list[RecoveryInfo]
    recent_cycles: list[CycleInfo] = []
    recent_events: list[SlotEvent] = []
    halted: bool = False
    halt_reason: str = ""
    waiting_reason: str = ""  # e.g. below Kraken minimum, cooldown until ...
    cooldown_until_a: float = 0.0
    cooldown_until_b: float = 0.0


class CapacityFillHealth(Block):
    """CAPACITY_TELEMETRY_SPEC: field names are the spec's, exactly."""

    open_orders_current: int
    open_orders_source: Literal["kraken", "internal_fallback"]
    open_orders_internal: int
    open_orders_kraken: int | None
    open_orders_drift: int | None
    open_order_limit_configured: int
    open_orders_safe_cap: int
    open_order_headroom: int
    open_order_utilization_pct: float
    orders_per_slot_estimate: float | None
    estimated_slots_remaining: int
    partial_fill_open_events_1d: int
    partial_fill_cancel_events_1d: int
    median_fill_seconds_1d: float | None
    p95_fill_seconds_1d: float | None
    status_band: Literal["normal", "caution", "stop"]
    blocked_risk_hint: list[str]


class EntrySchedulerStatus(Block):
    loop_cap: int
    configured_cap: int
    pending: int
    deferred_total: int
    drained_total: int
    bypassed_total: int


class OpenOrderDriftHint(Block):
    active: bool
    drift: int | None
    drift_pct: float | None
    since: float | None
    alerted: bool


class CapitalLayers(Block):
    target_layers: int
    effective_layers: int
    funding_gap_layers: int
    doge_per_order_per_layer: float
    funding_status: str
    # Propagation (§18): active entries/exits sized with the current effective layers. Resting
    # orders keep their size; the new layer spreads as slots place new entries.
    orders_total: int = 0
    orders_at_effective_layers: int = 0
    orders_unknown_layers: int = 0
    propagation_pct: float | None = None


class RebalancerStatus(Block):
    enabled: bool
    target: float
    base_target: float
    skew: float
    idle_ratio: float | None
    basis: str


class TrendStatus(Block):
    score: float
    score_display: str
    fast_ema: float
    slow_ema: float
    dynamic_idle_target: float
    hysteresis_active: bool
    hysteresis_expires_in_sec: float


class RecoverySummary(Block):
    total: int
    cap_per_slot: int
    orphan_pressure_level: int
    auto_soft_close_total: int


class ConnectionStatus(Block):
    public: bool
    private: bool
    exchange_system: str
    last_frame_age_sec: float | None
    reconnects: int


class Balances(Block):
    usd: float
    doge: float
    source: str  # kraken | unknown
    ts: float


class FillMarker(Block):
    ts: float
    slot_id: int
    side: str
    role: str
    price: float
    volume: float


class StartupTimings(Block):
    startup_reconcile_ms: float
    startup_replay_ms: float
    startup_bootstrap_ms: float
    startup_total_ms: float
    rest_calls: int


class Counters(Block):
    fills_booked: int
    duplicate_fills_ignored: int
    cycles_booked: int
    orders_placed: int
    orders_rejected: int
    orders_canceled: int
    invariant_halts: int
    malformed_frames: int


class StatusSnapshot(Block):
    ts: float
    venue: str  # sim | paper | live | backtest
    mode: RuntimeMode
    pause_reason: str
    halt_reason: str
    price: float
    price_ts: float
    price_age_sec: float | None
    entry_pct: float
    profit_pct: float
    total_profit: float
    total_fees: float
    today_realized_pnl: float
    total_round_trips: int
    daily_loss_limit: float
    daily_realized_loss_utc: float
    daily_loss_lock_active: bool
    daily_loss_lock_utc_day: str
    balances: Balances
    connection: ConnectionStatus
    slots: list[SlotStatus]
    capacity_fill_health: CapacityFillHealth
    entry_scheduler: EntrySchedulerStatus
    open_order_drift_hint: OpenOrderDriftHint
    recoveries: RecoverySummary
    counters: Counters
    recent_fills: list[FillMarker] = []
    capital_layers: CapitalLayers | None = None
    rebalancer: RebalancerStatus | None = None
    trend: TrendStatus | None = None
    hmm_data_pipeline: dict[str, object] | None = None
    hmm_regime: dict[str, object] | None = None
    slot_vintage: dict[str, object] | None = None
    startup: StartupTimings | None = None
    sticky_mode_enabled: bool = False

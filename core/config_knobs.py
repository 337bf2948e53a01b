"""The knob table: every setting of the bot, declared once.

Each field of `Settings` is one knob. Its annotation carries everything the rest of the system
derives from it: the Python type, the default (the field default), the allowed range (`ge`/`le`)
or choices (a `Literal`), the group, the one-line meaning and whether it is a secret. The loader
(`core.config`) validates against exactly this metadata and `docs/configuration.md` is generated
from it, so a knob cannot exist in one place and be missing from another.

Names: the field is the lower-case environment variable (`ENTRY_PCT` -> `entry_pct`).
Units: `*_pct` are percent (0.35 means 0.35 %) unless the meaning says "fraction"; `*_sec` are
seconds as floats (time is a float everywhere in the core).

Constructing `Settings(...)` directly does not validate (handy in tests); external input goes
through `core.config.load_settings` or `core.config.apply_overrides`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# (id, title, blurb) in documentation order.
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("core", "Core trading", "Entry/exit geometry, refresh anti-chase, cooldowns and the legacy orphan path (STATE_MACHINE.md §7, §11)."),
    ("sticky", "Sticky slots and release", "Sticky exits and the gated manual/automatic release tiers (STICKY_SLOTS_CHECKLIST.md §1.1, §1.2, §1.6)."),
    ("momentum", "Momentum and ADX regime", "Entry deferral by momentum, ADX regime bands and the tier-2 re-entry cooldown (checklist §1.3, SLOT_BOOTSTRAP_FIX_PLAN.md)."),
    ("sizing", "Sizing and compounding", "Order size and how slot profit compounds into it (STATE_MACHINE.md §9, checklist §1.5)."),
    ("layers", "Capital layers", "Manual vertical scaling of every slot's order size (STATE_MACHINE.md §18)."),
    ("rebalancer", "Inventory rebalancer", "PD controller that skews entry sizes toward a target idle-USD ratio (STATE_MACHINE.md §14)."),
    ("trend", "Trend and dynamic idle target", "Dual-EMA trend score that moves the rebalancer's idle target (STATE_MACHINE.md §15)."),
    ("hmm", "HMM regime and OHLCV pipeline", "Advisory HMM regime detector and the candle collection feeding it (STATE_MACHINE.md §16, §17)."),
    ("healing", "Self-healing: ledger, age bands, subsidy, churners", "Position ledger, distance-weighted age bands, subsidised repricing and churners (SELF_HEALING_SLOTS_PLAN.md)."),
    ("capacity", "Capacity telemetry", "Open-order capacity, drift alerts and the auto soft-close governor (CAPACITY_TELEMETRY_SPEC.md, STATE_MACHINE.md §11, §24)."),
    ("guardrails", "Guardrails", "Automatic pauses, the daily loss lock and the entry scheduler (STATE_MACHINE.md §4, §12, §13, §24)."),
    ("runtime", "Runtime infrastructure", "Run mode, start-up slots, data directory, logging and the dashboard."),
    ("venue", "Kraken venue", "Credentials, endpoints, rate tier, dead man's switch and reconnect policy for Kraken."),
    ("sim", "Simulated exchange", "The built-in Kraken-compatible exchange used by `sim` and `backtest` modes (and `paper` for fills)."),
    ("integrations", "Integrations", "Telegram control/alerts and the optional Supabase replica."),
)

DAY = 86400.0
_ALIAS_RE = r"^[a-z0-9][a-z0-9_-]{0,23}$"
_HOST_RE = r"^[A-Za-z0-9.:_\-\[\]]{1,253}$"
_WS_URL_RE = r"^wss?://[^\s/]+\S*$"
_HTTP_URL_RE = r"^https?://[^\s/]+\S*$"
# Human wording of the string patterns, for warnings and the generated docs.
PATTERN_LABELS: dict[str, str] = {
    _ALIAS_RE: "name: lower-case letters, digits, '-' or '_', at most 24 characters",
    _HOST_RE: "host name or IP address",
    _WS_URL_RE: "ws:// or wss:// URL",
    _HTTP_URL_RE: "http:// or https:// URL",
}


def _k(
    group: str,
    doc: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    secret: bool = False,
    pattern: str | None = None,
    item_pattern: str | None = None,
) -> msgspec.Meta:
    """Metadata of one knob; `pattern` applies to non-empty string values, `item_pattern` to list items."""
    extra: dict[str, object] = {"group": group, "secret": secret}
    if item_pattern is not None:
        extra["item_pattern"] = item_pattern
    return msgspec.Meta(ge=ge, le=le, pattern=pattern, description=doc, extra=extra)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every configuration knob of the bot, with the seeds' defaults."""

    # --- core trading -------------------------------------------------------------------------
    entry_pct: Annotated[float, _k("core", "Distance of each entry order from the market price, percent.", ge=0.05, le=10.0)] = 0.35
    profit_pct: Annotated[float, _k("core", "Target net profit per round trip after both fees, percent; exit prices are derived from it.", ge=0.05, le=20.0)] = 1.0
    refresh_pct: Annotated[float, _k("core", "An entry is re-placed when the market drifts this many percent away from it (at most one refresh per tick).", ge=0.05, le=20.0)] = 1.0
    max_consecutive_refreshes: Annotated[int, _k("core", "Anti-chase: after this many same-direction refreshes of one trade, refreshing pauses for REFRESH_COOLDOWN_SEC.", ge=1, le=100)] = 3
    refresh_cooldown_sec: Annotated[float, _k("core", "Anti-chase pause after MAX_CONSECUTIVE_REFRESHES refreshes, seconds.", ge=0, le=DAY)] = 300.0
    s1_orphan_after_sec: Annotated[float, _k("core", "Non-sticky mode: an S1 exit this old, with the market moved away from it, is orphaned into a recovery order (checklist phase-1 default, 24 h).", ge=60, le=30 * DAY)] = 86400.0
    s2_orphan_after_sec: Annotated[float, _k("core", "Non-sticky mode: after this long in S2 the exit farther from the market is orphaned (checklist phase-1 default, 48 h).", ge=60, le=30 * DAY)] = 172800.0
    reentry_base_cooldown_sec: Annotated[float, _k("core", "Cooldown of a trade's next entry after every cycle close or orphan, regardless of P&L, seconds.", ge=0, le=DAY)] = 60.0
    max_consecutive_losses: Annotated[int, _k("core", "After this many losing cycles in a row, a trade waits LOSS_COOLDOWN_SEC before its next entry.", ge=1, le=100)] = 3
    loss_cooldown_sec: Annotated[float, _k("core", "Entry cooldown after MAX_CONSECUTIVE_LOSSES losses, seconds.", ge=0, le=7 * DAY)] = 900.0
    max_recovery_slots: Annotated[int, _k("core", "Non-sticky mode: recovery orders kept per slot; at the cap the oldest is evicted and its loss booked.", ge=1, le=50)] = 4
    completed_cycles_keep: Annotated[int, _k("core", "Completed cycles kept in each slot's in-memory history (the store keeps them all).", ge=10, le=100_000)] = 200
    maker_fee_pct: Annotated[float, _k("core", "Fallback maker fee, percent, used while Kraken's TradeVolume rate is unavailable.", ge=0, le=5.0)] = 0.25
    taker_fee_pct: Annotated[float, _k("core", "Fallback taker fee, percent, used while Kraken's TradeVolume rate is unavailable.", ge=0, le=5.0)] = 0.40
    slot_alias_pool: Annotated[tuple[str, ...], _k("core", "Comma-separated slot nicknames; a removed slot's alias is recycled, and `doge-NN` is used when the pool runs out.", item_pattern=_ALIAS_RE)] = ("doge", "shiba", "floki", "cheems", "kabosu")

    # --- sticky slots and release ------------------------------------------------------------
    sticky_mode_enabled: Annotated[bool, _k("sticky", "Sticky exits: exits wait for their fill (no timer orphaning); stuck capital leaves only through release.")] = False
    sticky_target_slots: Annotated[int, _k("sticky", "Slot count the sticky rollout aims for.", ge=1, le=1000)] = 80
    sticky_max_target_slots: Annotated[int, _k("sticky", "Upper bound on sticky slots (the 100-slot path needs a capacity-policy override).", ge=1, le=1000)] = 100
    release_min_age_sec: Annotated[float, _k("sticky", "Tier-1 (conservative) release gate: minimum age of the waiting exit, seconds (7 days).", ge=0, le=365 * DAY)] = 604800.0
    release_min_distance_pct: Annotated[float, _k("sticky", "Tier-1 release gate: minimum distance of the exit from the market, percent.", ge=0, le=100.0)] = 10.0
    release_adx_threshold: Annotated[float, _k("sticky", "Tier-1 release gate: ADX at or above this counts as trending.", ge=0, le=100.0)] = 30.0
    release_max_stuck_pct: Annotated[float, _k("sticky", "Tier-1 automatic release starts when stuck capital exceeds this percent of capital.", ge=0, le=99.0)] = 50.0
    release_panic_stuck_pct: Annotated[float, _k("sticky", "Tier-2 (panic) release starts above this stuck-capital percent; must exceed RELEASE_MAX_STUCK_PCT.", ge=1.0, le=100.0)] = 80.0
    release_panic_min_age_sec: Annotated[float, _k("sticky", "Tier-2 age floor (age is its only gate), seconds; must not exceed RELEASE_MIN_AGE_SEC.", ge=0, le=365 * DAY)] = 86400.0
    release_recovery_target_pct: Annotated[float, _k("sticky", "Tier-2 drains, oldest first, until stuck capital is at or below this percent; must be below the panic threshold.", ge=0, le=99.0)] = 60.0
    release_auto_enabled: Annotated[bool, _k("sticky", "Run the automatic release tiers (manual release is always available).")] = False
    release_recon_hard_gate_enabled: Annotated[bool, _k("sticky", "Block further releases while balance drift exceeds BALANCE_RECON_DRIFT_PCT after a release.")] = True
    balance_recon_drift_pct: Annotated[float, _k("sticky", "Release hard-gate: maximum drift between account growth and bot P&L, percent (rollout target 1.5).", ge=0.1, le=50.0)] = 1.5

    # --- momentum and ADX regime -------------------------------------------------------------
    momentum_enabled: Annotated[bool, _k("momentum", "Defer the against-momentum entry side in sticky mode (run shadow first).")] = False
    momentum_max_defer_sec: Annotated[float, _k("momentum", "A slot never sits in empty S0 longer than this; then both sides are placed regardless, seconds.", ge=0, le=DAY)] = 3600.0
    momentum_ema_fast_bars: Annotated[int, _k("momentum", "Fast momentum EMA length in OHLCV bars; must be below the slow one.", ge=2, le=500)] = 5
    momentum_ema_slow_bars: Annotated[int, _k("momentum", "Slow momentum EMA length in OHLCV bars.", ge=2, le=1000)] = 20
    regime_adx_enabled: Annotated[bool, _k("momentum", "Compute the ADX regime band (choppy / normal / trending) that gates tier-1 release.")] = False
    regime_adx_period: Annotated[int, _k("momentum", "ADX period in OHLCV bars.", ge=2, le=500)] = 14
    regime_adx_choppy_max: Annotated[float, _k("momentum", "ADX at or below this is `choppy`; must be below REGIME_ADX_TRENDING_MIN.", ge=0, le=100.0)] = 20.0
    regime_adx_trending_min: Annotated[float, _k("momentum", "ADX at or above this is `trending`.", ge=0, le=100.0)] = 30.0
    regime_tier2_reentry_cooldown_sec: Annotated[float, _k("momentum", "After tier-2 directional suppression ends, degraded regime slots wait this long before auto-repair, seconds.", ge=0, le=DAY)] = 600.0

    # --- sizing and compounding --------------------------------------------------------------
    order_size_usd: Annotated[float, _k("sizing", "Base order notional in USD (USD sizing mode); slot profit compounds on top in `legacy_profit` mode.", ge=0.5, le=1_000_000.0)] = 10.0
    order_size_mode: Annotated[Literal["USD", "DOGE"], _k("sizing", "`USD`: volume = notional / price. `DOGE`: fixed ORDER_SIZE_DOGE volume (sticky rollout).")] = "USD"
    order_size_doge: Annotated[float, _k("sizing", "Order volume in DOGE when ORDER_SIZE_MODE=DOGE (Kraken's ordermin is 50 DOGE).", ge=1.0, le=100_000_000.0)] = 60.0
    sticky_compounding_mode: Annotated[Literal["legacy_profit", "fixed"], _k("sizing", "`legacy_profit`: ORDER_SIZE_USD + slot profit (production). `fixed`: ignore slot profit (emergency/debug).")] = "legacy_profit"

    # --- capital layers ----------------------------------------------------------------------
    capital_layer_doge_per_order: Annotated[float, _k("layers", "DOGE added to every slot's order per capital layer.", ge=0.1, le=1_000_000.0)] = 1.0
    capital_layer_order_budget: Annotated[int, _k("layers", "Orders one layer step is funded for (matches the open-order limit).", ge=1, le=10_000)] = 225
    capital_layer_balance_buffer: Annotated[float, _k("layers", "Safety multiplier on the balance needed to fund a layer.", ge=1.0, le=10.0)] = 1.5
    capital_layer_default_source: Annotated[Literal["auto", "doge", "usd"], _k("layers", "Default funding source of `add_layer`.")] = "auto"

    # --- inventory rebalancer ----------------------------------------------------------------
    rebalance_enabled: Annotated[bool, _k("rebalancer", "Master switch of the size-skew rebalancer.")] = True
    rebalance_on_s1: Annotated[bool, _k("rebalancer", "Apply the skew to entries placed while the slot is in S1.")] = True
    rebalance_target_idle_pct: Annotated[float, _k("rebalancer", "Static base idle-USD target as a fraction of portfolio value (0.40 = 40 %).", ge=0, le=1.0)] = 0.40
    rebalance_kp: Annotated[float, _k("rebalancer", "Proportional gain.", ge=0, le=100.0)] = 0.6
    rebalance_kd: Annotated[float, _k("rebalancer", "Derivative gain.", ge=0, le=100.0)] = 0.2
    rebalance_max_skew: Annotated[float, _k("rebalancer", "Skew output clamp (+/-).", ge=0, le=1.0)] = 0.30
    rebalance_size_sensitivity: Annotated[float, _k("rebalancer", "Size multiplier of the favoured side = 1 + |skew| x sensitivity.", ge=0, le=10.0)] = 1.0
    rebalance_max_size_mult: Annotated[float, _k("rebalancer", "Maximum order-size multiplier of the favoured side.", ge=1.0, le=5.0)] = 1.5
    rebalance_neutral_band: Annotated[float, _k("rebalancer", "Dead zone: |idle ratio - target| below this gives zero skew (fraction).", ge=0, le=0.5)] = 0.05
    rebalance_interval_sec: Annotated[float, _k("rebalancer", "Controller update period, seconds.", ge=10, le=DAY)] = 300.0
    rebalance_max_slew_rate: Annotated[float, _k("rebalancer", "Maximum skew change per update.", ge=0.001, le=1.0)] = 0.05
    rebalance_ema_halflife: Annotated[float, _k("rebalancer", "Half-life of the EMA smoothing error and velocity, seconds.", ge=60, le=7 * DAY)] = 1800.0
    rebalance_max_flips_per_hour: Annotated[int, _k("rebalancer", "Sign-flip damping: more skew sign flips than this within an hour zero the output.", ge=1, le=100)] = 3
    rebalance_idle_basis: Annotated[Literal["mark_to_market", "usd_only"], _k("rebalancer", "Idle-ratio basis: DOGE+USD marked to market (preferred with DOGE sizing) or the legacy USD-only basis.")] = "mark_to_market"

    # --- trend and dynamic idle target -------------------------------------------------------
    trend_fast_halflife: Annotated[float, _k("trend", "Fast price EMA half-life, seconds (30 min); must be below the slow one.", ge=60, le=7 * DAY)] = 1800.0
    trend_slow_halflife: Annotated[float, _k("trend", "Slow price EMA half-life, seconds (4 h).", ge=60, le=30 * DAY)] = 14400.0
    trend_idle_sensitivity: Annotated[float, _k("trend", "Idle-target shift per unit of trend score.", ge=0, le=100.0)] = 5.0
    trend_idle_floor: Annotated[float, _k("trend", "Lowest dynamic idle target (strong uptrend), fraction.", ge=0, le=1.0)] = 0.15
    trend_idle_ceiling: Annotated[float, _k("trend", "Highest dynamic idle target (strong downtrend), fraction.", ge=0, le=1.0)] = 0.60
    trend_min_samples: Annotated[int, _k("trend", "Price samples needed before the trend score leaves cold start.", ge=1, le=10_000)] = 24
    trend_dead_zone: Annotated[float, _k("trend", "|trend score| below this returns the base target.", ge=0, le=1.0)] = 0.001
    trend_hysteresis_sec: Annotated[float, _k("trend", "Hold duration after a large target jump, seconds.", ge=0, le=DAY)] = 600.0
    trend_hysteresis_smooth_halflife: Annotated[float, _k("trend", "Half-life of the target smoothing EMA, seconds.", ge=1, le=7 * DAY)] = 900.0

    # --- HMM regime and OHLCV pipeline -------------------------------------------------------
    hmm_enabled: Annotated[bool, _k("hmm", "Run the advisory HMM regime detector (needs numpy + hmmlearn; falls back to trend-only).")] = False
    hmm_n_states: Annotated[int, _k("hmm", "Hidden states; labelled bearish / ranging / bullish by EMA-spread means, so at least 3.", ge=3, le=10)] = 3
    hmm_n_iter: Annotated[int, _k("hmm", "Baum-Welch iterations per training.", ge=1, le=10_000)] = 100
    hmm_covariance_type: Annotated[Literal["diag", "full", "spherical", "tied"], _k("hmm", "Gaussian covariance structure.")] = "diag"
    hmm_inference_window: Annotated[int, _k("hmm", "Observations per inference; at most HMM_RECENT_CANDLES.", ge=5, le=10_000)] = 50
    hmm_confidence_threshold: Annotated[float, _k("hmm", "Minimum confidence for a non-zero bias signal.", ge=0, le=1.0)] = 0.15
    hmm_retrain_interval_sec: Annotated[float, _k("hmm", "Retrain period, seconds (1 day).", ge=300, le=30 * DAY)] = 86400.0
    hmm_bias_gain: Annotated[float, _k("hmm", "Scales the bias magnitude.", ge=0, le=10.0)] = 1.0
    hmm_blend_with_trend: Annotated[float, _k("hmm", "Blend weight of the trend score vs the HMM bias (1 = shadow mode, 0 = HMM only).", ge=0, le=1.0)] = 0.5
    hmm_ohlcv_enabled: Annotated[bool, _k("hmm", "Collect and store OHLCV candles.")] = True
    hmm_ohlcv_interval_min: Annotated[Literal[1, 5, 15, 30, 60, 240, 1440], _k("hmm", "Candle interval, minutes (one of Kraken's OHLC intervals).")] = 5
    hmm_ohlcv_sync_interval_sec: Annotated[float, _k("hmm", "How often closed candles are pulled and stored, seconds.", ge=10, le=DAY)] = 300.0
    hmm_ohlcv_retention_days: Annotated[int, _k("hmm", "Candle retention in the store, days.", ge=1, le=3650)] = 14
    hmm_training_candles: Annotated[int, _k("hmm", "Target training window, candles.", ge=50, le=100_000)] = 2000
    hmm_recent_candles: Annotated[int, _k("hmm", "Inference window loaded from the store, candles.", ge=10, le=10_000)] = 100
    hmm_min_train_samples: Annotated[int, _k("hmm", "Minimum candles before training; at most HMM_TRAINING_CANDLES.", ge=50, le=100_000)] = 500
    hmm_readiness_cache_sec: Annotated[float, _k("hmm", "Cache TTL of the data-readiness diagnostic, seconds.", ge=0, le=DAY)] = 300.0

    # --- self-healing: ledger, age bands, subsidy, churners ----------------------------------
    position_ledger_enabled: Annotated[bool, _k("healing", "Keep the position ledger and append-only journal (bookkeeping only; required by subsidy and churners).")] = True
    position_journal_local_limit: Annotated[int, _k("healing", "Journal rows kept locally before trimming into watermarks.", ge=50, le=1_000_000)] = 500
    age_band_fresh_sec: Annotated[float, _k("healing", "Effective age where `fresh` ends and `aging` begins, seconds (6 h).", ge=60, le=3650 * DAY)] = 21600.0
    age_band_aging_sec: Annotated[float, _k("healing", "Effective age where `aging` ends and `stale` begins, seconds (24 h).", ge=60, le=3650 * DAY)] = 86400.0
    age_band_stale_sec: Annotated[float, _k("healing", "Effective age where `stale` ends and `stuck` begins, seconds (72 h).", ge=60, le=3650 * DAY)] = 259200.0
    age_band_stuck_sec: Annotated[float, _k("healing", "Effective age where `stuck` ends and `write_off` begins, seconds (168 h).", ge=60, le=3650 * DAY)] = 604800.0
    age_distance_weight: Annotated[float, _k("healing", "effective_age = age x (1 + distance_pct / AGE_DISTANCE_WEIGHT).", ge=0.1, le=1000.0)] = 5.0
    subsidy_enabled: Annotated[bool, _k("healing", "Subsidy repricing master toggle (tighten and subsidised reprices); needs the ledger.")] = False
    subsidy_reprice_interval_sec: Annotated[float, _k("healing", "Minimum interval between subsidised reprices of one position, seconds.", ge=60, le=30 * DAY)] = 3600.0
    subsidy_auto_reprice_band: Annotated[Literal["off", "stale", "stuck", "write_off"], _k("healing", "Lowest age band repriced automatically (`off`: manual cleanup only).")] = "stuck"
    subsidy_write_off_auto: Annotated[bool, _k("healing", "Allow automatic write-offs of `write_off` positions without operator approval.")] = False
    churner_enabled: Annotated[bool, _k("healing", "Run churners (tight helper cycles that earn subsidy) in ranging regimes; needs the ledger.")] = False
    churner_entry_pct: Annotated[float, _k("healing", "Churner entry distance from the market, percent.", ge=0.01, le=10.0)] = 0.15
    churner_profit_pct: Annotated[float, _k("healing", "Churner target net profit per round trip after fees, percent (same convention as PROFIT_PCT).", ge=0.01, le=20.0)] = 0.10
    churner_order_size_usd: Annotated[float, _k("healing", "Churner order notional in USD; 0 means ORDER_SIZE_USD.", ge=0, le=1_000_000.0)] = 0.0
    churner_timeout_sec: Annotated[float, _k("healing", "Unfilled churner entry is cancelled and re-placed after this, seconds.", ge=60, le=DAY)] = 300.0
    churner_exit_timeout_sec: Annotated[float, _k("healing", "Unfilled churner exit is cancelled after this, seconds; at least CHURNER_TIMEOUT_SEC.", ge=60, le=DAY)] = 600.0
    churner_min_headroom: Annotated[int, _k("healing", "Open-order headroom a churner needs to activate and to stay active.", ge=0, le=10_000)] = 10
    churner_reserve_usd: Annotated[float, _k("healing", "Shared reserve that funds churners of fully locked slots (at most one order each), USD.", ge=0, le=1_000_000.0)] = 5.0
    churner_max_active: Annotated[int, _k("healing", "Maximum simultaneously active churners.", ge=1, le=1000)] = 5
    churner_profit_routing: Annotated[Literal["subsidy", "slot"], _k("healing", "Where churner profit goes while the parent position still needs subsidy.")] = "subsidy"

    # --- capacity telemetry ------------------------------------------------------------------
    kraken_open_orders_per_pair_limit: Annotated[int, _k("capacity", "Kraken's open-order limit per pair for this account (Pro 225, Intermediate 80, Starter 60).", ge=1, le=10_000)] = 225
    open_order_safety_ratio: Annotated[float, _k("capacity", "Safe cap = floor(limit x ratio); 0.90 only for the 100-slot pilot.", ge=0.1, le=1.0)] = 0.75
    auto_soft_close_capacity_pct: Annotated[float, _k("capacity", "Non-sticky mode: above this utilisation of the safe cap, the farthest recoveries are repriced to near market, percent.", ge=1.0, le=100.0)] = 95.0
    auto_soft_close_batch: Annotated[int, _k("capacity", "Recoveries soft-closed per tick under capacity pressure (0 disables).", ge=0, le=50)] = 2
    orphan_pressure_warn_at: Annotated[int, _k("capacity", "Notify each time total recovery orders reach a multiple of this.", ge=1, le=100_000)] = 100
    open_order_drift_alert_pct: Annotated[float, _k("capacity", "Kraken-vs-internal open-order count drift that starts the drift alarm, percent.", ge=0, le=100.0)] = 5.0
    open_order_drift_persist_sec: Annotated[float, _k("capacity", "Drift must persist this long before the alert is sent, seconds.", ge=0, le=DAY)] = 600.0

    # --- guardrails --------------------------------------------------------------------------
    poll_interval_seconds: Annotated[float, _k("guardrails", "Period of the runtime TimerTick (timers, scheduler drain, rebalancer cadence), seconds.", ge=1, le=3600)] = 30.0
    stale_price_max_age_sec: Annotated[float, _k("guardrails", "Pause when the last price is older than this, seconds.", ge=5, le=3600)] = 120.0
    max_consecutive_errors: Annotated[int, _k("guardrails", "Pause after this many consecutive exchange errors.", ge=1, le=1000)] = 5
    daily_loss_limit: Annotated[float, _k("guardrails", "Pause for the rest of the UTC day once realised loss reaches this, USD (0 disables).", ge=0, le=1_000_000.0)] = 3.0
    max_entry_adds_per_loop: Annotated[int, _k("guardrails", "Entry placements per tick; excess entries are deferred (tightens near the open-order cap).", ge=1, le=100)] = 2

    # --- runtime infrastructure --------------------------------------------------------------
    mode: Annotated[Literal["sim", "paper", "live", "backtest"], _k("runtime", "`sim`: built-in exchange; `paper`: Kraken prices, simulated fills; `live`: real orders; `backtest`: CSV at full speed.")] = "sim"
    initial_slots: Annotated[int, _k("runtime", "Slots created on a fresh start (a restored snapshot keeps its own).", ge=0, le=1000)] = 3
    data_dir: Annotated[str, _k("runtime", "Directory of the SQLite store and other local data.")] = "./data"
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], _k("runtime", "Python log level.")] = "INFO"
    dashboard_host: Annotated[str, _k("runtime", "Dashboard/API bind address; anything beyond loopback requires DASHBOARD_TOKEN.", pattern=_HOST_RE)] = "127.0.0.1"
    dashboard_port: Annotated[int, _k("runtime", "Dashboard/API port (0 lets the OS choose).", ge=0, le=65535)] = 8080
    dashboard_token: Annotated[str, _k("runtime", "Operator token for mutating API calls and the WebSocket.", secret=True)] = ""

    # --- Kraken venue ------------------------------------------------------------------------
    kraken_api_key: Annotated[str, _k("venue", "Kraken API key (live mode).", secret=True)] = ""
    kraken_api_secret: Annotated[str, _k("venue", "Kraken API private key, base64 (live mode).", secret=True)] = ""
    kraken_ws_public_url: Annotated[str, _k("venue", "Kraken WebSocket v2 public endpoint.", pattern=_WS_URL_RE)] = "wss://ws.kraken.com/v2"
    kraken_ws_private_url: Annotated[str, _k("venue", "Kraken WebSocket v2 private (authenticated) endpoint.", pattern=_WS_URL_RE)] = "wss://ws-auth.kraken.com/v2"
    kraken_rest_url: Annotated[str, _k("venue", "Kraken REST base URL.", pattern=_HTTP_URL_RE)] = "https://api.kraken.com"
    kraken_rate_tier: Annotated[Literal["starter", "intermediate", "pro"], _k("venue", "Verification tier for the REST and trading rate counters (the subscribe ack's maxratecount wins when known).")] = "intermediate"
    kraken_rest_history_call_cost: Annotated[int, _k("venue", "REST counter cost of TradesHistory/Ledgers calls (documented as 2, one copy says 4).", ge=1, le=10)] = 2
    kraken_rest_timeout_sec: Annotated[float, _k("venue", "Timeout of one REST request, seconds.", ge=1, le=120)] = 15.0
    dead_man_switch_enabled: Annotated[bool, _k("venue", "Arm Kraken's cancel_all_orders_after so a silent bot's orders get cancelled (live mode).")] = True
    dead_man_switch_timeout_sec: Annotated[float, _k("venue", "Dead man's switch timeout, seconds (Kraken recommends 60).", ge=10, le=86399)] = 60.0
    dead_man_switch_refresh_sec: Annotated[float, _k("venue", "Dead man's switch refresh period, seconds; below the timeout.", ge=1, le=3600)] = 20.0
    ws_ping_interval_sec: Annotated[float, _k("venue", "Application ping period per socket (Kraken drops connections idle for about a minute), seconds.", ge=1, le=50)] = 10.0
    ws_heartbeat_timeout_sec: Annotated[float, _k("venue", "A subscribed socket silent for this long is considered dead and reconnected, seconds.", ge=2, le=300)] = 15.0
    reconnect_backoff_initial_sec: Annotated[float, _k("venue", "First reconnect delay, seconds.", ge=0.1, le=60)] = 1.0
    reconnect_backoff_max_sec: Annotated[float, _k("venue", "Largest reconnect delay, seconds.", ge=1, le=3600)] = 60.0
    reconnect_backoff_multiplier: Annotated[float, _k("venue", "Reconnect delay growth factor per failed attempt.", ge=1.0, le=10.0)] = 2.0
    ws_reconnect_max_per_10min: Annotated[int, _k("venue", "Reconnects allowed per socket per rolling 10 minutes (Kraken bans an IP above ~150 for both).", ge=1, le=150)] = 60

    # --- simulated exchange ------------------------------------------------------------------
    sim_usd_balance: Annotated[float, _k("sim", "Starting USD balance of the simulated account.", ge=0, le=1e9)] = 1000.0
    sim_doge_balance: Annotated[float, _k("sim", "Starting DOGE balance of the simulated account.", ge=0, le=1e12)] = 10000.0
    sim_seed: Annotated[int, _k("sim", "Random seed of the synthetic feed and fill model (runs are reproducible).", ge=0, le=2**32 - 1)] = 7
    sim_speed: Annotated[float, _k("sim", "Virtual seconds per wall second in `sim` mode (0 = as fast as possible).", ge=0, le=1_000_000.0)] = 60.0
    sim_feed: Annotated[Literal["replay", "synthetic"], _k("sim", "Price feed: replay candles (SIM_DATA_FILE or the bundled set) or a seeded synthetic walk.")] = "replay"
    sim_data_file: Annotated[str, _k("sim", "CSV of candles (`time,open,high,low,close,volume`) to replay or backtest; empty = bundled data.")] = ""
    sim_synthetic_start_price: Annotated[float, _k("sim", "Start price of the synthetic feed, USD.", ge=0.00001, le=1000.0)] = 0.12
    sim_min_volume: Annotated[float, _k("sim", "Simulated ordermin, DOGE.", ge=0, le=1_000_000.0)] = 50.0
    sim_min_cost: Annotated[float, _k("sim", "Simulated costmin, USD.", ge=0, le=1_000_000.0)] = 0.5
    sim_maker_fee_pct: Annotated[float, _k("sim", "Simulated maker fee, percent.", ge=0, le=5.0)] = 0.25
    sim_taker_fee_pct: Annotated[float, _k("sim", "Simulated taker fee, percent.", ge=0, le=5.0)] = 0.40
    sim_open_orders_limit: Annotated[int, _k("sim", "Simulated open-order limit per pair.", ge=1, le=10_000)] = 225
    sim_rate_tier: Annotated[Literal["starter", "intermediate", "pro"], _k("sim", "Rate-limit tier the simulated exchange enforces.")] = "intermediate"

    # --- integrations ------------------------------------------------------------------------
    telegram_bot_token: Annotated[str, _k("integrations", "Telegram bot token from @BotFather; empty disables Telegram.", secret=True)] = ""
    telegram_allowed_chat_ids: Annotated[tuple[int, ...], _k("integrations", "Comma-separated chat ids allowed to command the bot and receiving alerts.")] = ()
    telegram_alert_min_interval_sec: Annotated[float, _k("integrations", "Minimum interval between two alerts of the same kind, seconds.", ge=0, le=DAY)] = 60.0
    gateway_disconnect_alert_sec: Annotated[float, _k("integrations", "Alert when the exchange connection has been down this long, seconds.", ge=1, le=DAY)] = 60.0
    supabase_url: Annotated[str, _k("integrations", "Supabase project URL; empty disables the replica.", pattern=_HTTP_URL_RE)] = ""
    supabase_key: Annotated[str, _k("integrations", "Supabase service key.", secret=True)] = ""

    # --- derived views (not knobs) -----------------------------------------------------------
    @property
    def open_orders_safe_cap(self) -> int:
        """floor(limit x safety ratio): the open-order count the bot plans against."""
        return int(self.kraken_open_orders_per_pair_limit * self.open_order_safety_ratio + 1e-9)

    @property
    def dashboard_exposed(self) -> bool:
        """True when the dashboard binds beyond loopback (the web layer then demands a token)."""
        return not is_loopback_host(self.dashboard_host)

    @property
    def has_kraken_credentials(self) -> bool:
        return bool(self.kraken_api_key and self.kraken_api_secret)

    @property
    def churner_order_usd(self) -> float:
        """Churner notional with the `0 = ORDER_SIZE_USD` convention resolved."""
        return self.churner_order_size_usd if self.churner_order_size_usd > 0 else self.order_size_usd

    @property
    def subsidy_auto_reprice_active(self) -> bool:
        """Automatic subsidy repricing needs the ledger, the subsidy toggle and a band."""
        return self.position_ledger_enabled and self.subsidy_enabled and self.subsidy_auto_reprice_band != "off"

    @property
    def round_trip_fee_pct(self) -> float:
        return 2.0 * self.maker_fee_pct


def is_loopback_host(host: str) -> bool:
    h = host.strip().lower().strip("[]")
    return h in ("localhost", "::1") or h.startswith("127.")

"""Settings: loading, validation, cross-field rules, start-up summary and redaction.

Precedence: field defaults <- optional TOML file <- environment variables (the environment wins).
Invalid input never stops the bot: every bad value is clamped into range or reset to its default
and reported once in the returned warnings; cross-field conflicts are resolved toward the safer
setting, also with a warning. The knob table lives in `core.config_knobs`, its parsed schema in `core.config_schema`, the
cross-field rules in `core.config_rules` and the generated docs in `core.config_docs`.

    python -m core.config                  summary + warnings for the current environment
    python -m core.config --docs           regenerate docs/configuration.md
    python -m core.config --check-docs     exit 1 when docs/configuration.md is stale
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

import msgspec

from core.config_knobs import GROUPS, Settings
from core.config_rules import ADVISORIES, RULES, advise, apply_rules
from core.config_schema import KNOB_BY_ENV, KNOB_BY_NAME, KNOBS, REDACTED, Knob, coerce, show_value

__all__ = [
    "ADVISORIES",
    "CONFIG_PATH_ENV",
    "KNOBS",
    "KNOB_BY_ENV",
    "KNOB_BY_NAME",
    "REDACTED",
    "RULES",
    "Knob",
    "Settings",
    "apply_overrides",
    "coerce",
    "load_settings",
    "redacted",
    "startup_summary",
]

CONFIG_PATH_ENV = "DOGEBOT_CONFIG"
ENV_SOURCE = "the environment"


# --- loading ----------------------------------------------------------------------------------


def _read_toml(path: str, warnings: list[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        warnings.append(f"config file {path} not found; ignoring it")
    except (OSError, ValueError) as exc:
        # TOMLDecodeError names line and column only, never the offending text (it may be a secret).
        detail = str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else type(exc).__name__
        warnings.append(f"config file {path} could not be read ({detail}); ignoring it")
    return {}


def _collect_toml(
    data: Mapping[str, Any], source: str, raw: dict[str, tuple[Any, str]], warnings: list[str]
) -> None:
    groups = {g[0] for g in GROUPS}

    def put(key: str, value: Any, where: str) -> None:
        knob = KNOB_BY_NAME.get(key.lower())
        if knob is None:
            warnings.append(f"{source}: unknown key {where}{key!r} ignored")
            return
        if knob.name in raw:
            warnings.append(f"{source}: {knob.env} is set more than once; the last one is used")
        raw[knob.name] = (value, source)

    for key, value in data.items():
        if isinstance(value, dict) and key.lower() in groups and key.lower() not in KNOB_BY_NAME:
            for sub_key, sub_value in value.items():
                put(str(sub_key), sub_value, f"[{key}] ")
        else:
            put(str(key), value, "")


def load_settings(
    env: Mapping[str, str] | None = None,
    toml_path: str | None = None,
    *,
    toml_data: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[str]]:
    """Build the Settings from defaults, an optional TOML file and the environment.

    `env` defaults to `os.environ`; the TOML path is `toml_path`, else `$DOGEBOT_CONFIG`.
    `toml_data` (already parsed tables) replaces reading a file. Never raises on bad input.
    """
    env = os.environ if env is None else env
    warnings: list[str] = []
    raw: dict[str, tuple[Any, str]] = {}
    path = toml_path or str(env.get(CONFIG_PATH_ENV, "") or "").strip() or None
    if toml_data is None and path:
        toml_data = _read_toml(path, warnings)
    if toml_data:
        _collect_toml(toml_data, f"config file {path}" if path else "config data", raw, warnings)
    for knob in KNOBS:
        value = env.get(knob.env)
        # An empty variable counts as unset: `FOO=` in an env file must not wipe a default.
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        raw[knob.name] = (value, ENV_SOURCE)
    values = {k.name: k.default for k in KNOBS}
    for name, (value, source) in raw.items():
        _set(values, KNOB_BY_NAME[name], value, source, warnings)
    apply_rules(values, warnings)
    advise(values, set(raw), warnings)
    return Settings(**values), warnings


def apply_overrides(
    settings: Settings, overrides: Mapping[str, Any], source: str = "override"
) -> tuple[Settings, list[str]]:
    """Validate runtime changes (dashboard/Telegram `set_*`) exactly like start-up input.

    Keys are field names or env names. Unknown keys are reported and ignored.
    """
    values = msgspec.structs.asdict(settings)
    warnings: list[str] = []
    for key, value in overrides.items():
        knob = KNOB_BY_NAME.get(str(key).lower())
        if knob is None:
            warnings.append(f"{source}: unknown setting {str(key)[:40]!r} ignored")
            continue
        _set(values, knob, value, source, warnings)
    apply_rules(values, warnings)
    return Settings(**values), warnings


def _set(values: dict[str, Any], knob: Knob, raw: Any, source: str, warnings: list[str]) -> None:
    value, problem = coerce(knob, raw)
    if problem is not None:
        shown = REDACTED if knob.secret else show_value(knob, raw)
        warnings.append(f"{knob.env}: {shown} from {source} is {problem}; using {show_value(knob, value)}")
    values[knob.name] = value



# --- summaries --------------------------------------------------------------------------------


def redacted(settings: Settings) -> dict[str, Any]:
    """All settings as plain data for status/log payloads, secrets replaced (empty stays empty)."""
    out: dict[str, Any] = {}
    for knob in KNOBS:
        value = getattr(settings, knob.name)
        if knob.secret:
            value = REDACTED if value else ""
        elif isinstance(value, tuple):
            value = list(value)
        out[knob.name] = value
    return out


def _dur(seconds: float) -> str:
    s = int(seconds)
    if s != seconds or s == 0:
        return f"{seconds:g}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _set_or_unset(value: str) -> str:
    return "set" if value else "unset"


def startup_summary(settings: Settings) -> str:
    """A one-screen, secret-free summary of the active profile for the start-up log."""
    s = settings
    venue = {
        "sim": "built-in simulated Kraken (loopback, paper money)",
        "paper": "Kraken public prices, simulated fills",
        "live": "Kraken LIVE - real orders",
        "backtest": "candle CSV on the simulated engine, virtual clock",
    }[s.mode]
    size = (f"{s.order_size_doge:g} DOGE/order" if s.order_size_mode == "DOGE" else f"${s.order_size_usd:g}/order")
    legacy = "" if s.sticky_mode_enabled else (
        f" | legacy orphaning S1 {_dur(s.s1_orphan_after_sec)} / S2 {_dur(s.s2_orphan_after_sec)}, "
        f"max {s.max_recovery_slots} recoveries/slot")
    host = f"[{s.dashboard_host}]" if ":" in s.dashboard_host and not s.dashboard_host.startswith("[") else s.dashboard_host
    lines = [
        "dogebot configuration",
        f"  mode        {s.mode}: {venue}",
        f"  slots       {s.initial_slots} initial | aliases {','.join(s.slot_alias_pool)} | data {s.data_dir} | log {s.log_level}",
        f"  trading     entry {s.entry_pct:g}% | profit {s.profit_pct:g}% net | refresh {s.refresh_pct:g}% "
        f"(max {s.max_consecutive_refreshes}, cooldown {_dur(s.refresh_cooldown_sec)}) | "
        f"fees {s.maker_fee_pct:g}/{s.taker_fee_pct:g}% fallback",
        f"  cooldowns   re-entry {_dur(s.reentry_base_cooldown_sec)} | {s.max_consecutive_losses} losses -> "
        f"{_dur(s.loss_cooldown_sec)}",
        f"  sizing      {s.order_size_mode} mode, {size} | compounding {s.sticky_compounding_mode} | layers "
        f"+{s.capital_layer_doge_per_order:g} DOGE/layer (source {s.capital_layer_default_source})",
        f"  sticky      {_on(s.sticky_mode_enabled)} (target {s.sticky_target_slots}, max "
        f"{s.sticky_max_target_slots} slots){legacy}",
        f"  release     auto {_on(s.release_auto_enabled)} | tier-1 age>={_dur(s.release_min_age_sec)} "
        f"dist>={s.release_min_distance_pct:g}% ADX>={s.release_adx_threshold:g} stuck>{s.release_max_stuck_pct:g}% | "
        f"tier-2 stuck>{s.release_panic_stuck_pct:g}% age>={_dur(s.release_panic_min_age_sec)} "
        f"drain to {s.release_recovery_target_pct:g}%",
        f"  recon gate  {_on(s.release_recon_hard_gate_enabled)} (drift <= {s.balance_recon_drift_pct:g}%)",
        f"  momentum    {_on(s.momentum_enabled)} (EMA {s.momentum_ema_fast_bars}/{s.momentum_ema_slow_bars} bars, "
        f"max defer {_dur(s.momentum_max_defer_sec)})",
        f"  regime      ADX {_on(s.regime_adx_enabled)} (period {s.regime_adx_period}, choppy<={s.regime_adx_choppy_max:g}, "
        f"trending>={s.regime_adx_trending_min:g}) | HMM {_on(s.hmm_enabled)} (blend {s.hmm_blend_with_trend:g}) | "
        f"tier-2 re-entry {_dur(s.regime_tier2_reentry_cooldown_sec)}",
        f"  rebalancer  {_on(s.rebalance_enabled)} (idle target {s.rebalance_target_idle_pct:g} in "
        f"{s.trend_idle_floor:g}..{s.trend_idle_ceiling:g}, kp {s.rebalance_kp:g} kd {s.rebalance_kd:g}, skew "
        f"<={s.rebalance_max_skew:g}, size x<={s.rebalance_max_size_mult:g}, every {_dur(s.rebalance_interval_sec)})",
        f"  healing     ledger {_on(s.position_ledger_enabled)} | subsidy {_on(s.subsidy_enabled)} (auto-reprice "
        f"{s.subsidy_auto_reprice_band if s.subsidy_auto_reprice_active else 'inactive'}) | churners "
        f"{_on(s.churner_enabled)} (max {s.churner_max_active}, reserve ${s.churner_reserve_usd:g})",
        f"  age bands   {_dur(s.age_band_fresh_sec)}/{_dur(s.age_band_aging_sec)}/{_dur(s.age_band_stale_sec)}/"
        f"{_dur(s.age_band_stuck_sec)}, distance weight {s.age_distance_weight:g}",
        f"  guardrails  daily loss ${s.daily_loss_limit:g}{' (off)' if s.daily_loss_limit <= 0 else ''} | stale price "
        f"{_dur(s.stale_price_max_age_sec)} | {s.max_consecutive_errors} errors | {s.max_entry_adds_per_loop} "
        f"entries/tick | tick {_dur(s.poll_interval_seconds)}",
        f"  capacity    {s.kraken_open_orders_per_pair_limit} orders x {s.open_order_safety_ratio:g} = safe cap "
        f"{s.open_orders_safe_cap} | drift alert {s.open_order_drift_alert_pct:g}% for "
        f"{_dur(s.open_order_drift_persist_sec)}",
        f"  venue       {s.kraken_ws_public_url} | {s.kraken_rest_url} | tier {s.kraken_rate_tier} | dead-man "
        f"{_on(s.dead_man_switch_enabled)} {_dur(s.dead_man_switch_timeout_sec)}/{_dur(s.dead_man_switch_refresh_sec)}",
        f"  secrets     kraken key {_set_or_unset(s.kraken_api_key)}, secret {_set_or_unset(s.kraken_api_secret)} | "
        f"dashboard token {_set_or_unset(s.dashboard_token)} | telegram {_set_or_unset(s.telegram_bot_token)} | "
        f"supabase key {_set_or_unset(s.supabase_key)}",
        f"  dashboard   http://{host}:{s.dashboard_port}{' (EXPOSED beyond loopback)' if s.dashboard_exposed else ''}"
        f" | telegram chats {len(s.telegram_allowed_chat_ids)} | supabase {'on' if s.supabase_url and s.supabase_key else 'off'}",
    ]
    if s.mode in ("sim", "backtest", "paper"):
        lines.append(
            f"  simulator   ${s.sim_usd_balance:g} + {s.sim_doge_balance:g} DOGE | feed {s.sim_feed}"
            f"{' ' + s.sim_data_file if s.sim_data_file else ''} | seed {s.sim_seed} | speed x{s.sim_speed:g} | "
            f"fees {s.sim_maker_fee_pct:g}/{s.sim_taker_fee_pct:g}% | tier {s.sim_rate_tier}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from core.config_docs import main

    raise SystemExit(main())

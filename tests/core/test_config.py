"""Settings: seed defaults, layering, clamping, cross-field rules, redaction and generated docs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from core.config import (
    CONFIG_PATH_ENV,
    KNOB_BY_ENV,
    KNOB_BY_NAME,
    KNOBS,
    REDACTED,
    Settings,
    apply_overrides,
    load_settings,
    redacted,
    startup_summary,
)
from core.config_docs import DOC_PATH, main, render_docs
from core.config_knobs import GROUPS

SECRETS = {
    "KRAKEN_API_KEY": "kKEY-0123456789abcdef",
    "KRAKEN_API_SECRET": "kSECRET+abc/def==",
    "DASHBOARD_TOKEN": "dashTOKEN-42-xyz",
    "TELEGRAM_BOT_TOKEN": "123456:tgTOKEN-zz",
    "SUPABASE_KEY": "sbKEY.eyJhbGciOi",
}


def load(**env: str) -> tuple[Settings, list[str]]:
    return load_settings(env)


def check_valid(s: Settings) -> None:
    """Every value has its knob's type and lies in its range/choices; cross-field rules hold."""
    for knob in KNOBS:
        value = getattr(s, knob.name)
        if knob.kind == "bool":
            assert isinstance(value, bool), knob.name
        elif knob.kind == "int":
            assert type(value) is int and knob.ge <= value <= knob.le, (knob.name, value)
        elif knob.kind == "float":
            assert type(value) is float and math.isfinite(value), (knob.name, value)
            assert knob.ge <= value <= knob.le, (knob.name, value)
        elif knob.kind == "enum":
            assert value in knob.choices, (knob.name, value)
        elif knob.kind == "str":
            assert isinstance(value, str) and value == value.strip(), knob.name
        else:
            assert isinstance(value, tuple), knob.name
    assert s.release_panic_stuck_pct > s.release_max_stuck_pct
    assert s.release_recovery_target_pct < s.release_panic_stuck_pct
    assert s.release_panic_min_age_sec <= s.release_min_age_sec
    assert s.sticky_target_slots <= s.sticky_max_target_slots
    assert s.momentum_ema_fast_bars < s.momentum_ema_slow_bars
    assert s.regime_adx_choppy_max < s.regime_adx_trending_min
    assert s.trend_fast_halflife < s.trend_slow_halflife
    assert s.trend_idle_floor <= s.rebalance_target_idle_pct <= s.trend_idle_ceiling
    assert s.hmm_min_train_samples <= s.hmm_training_candles
    assert s.hmm_inference_window <= s.hmm_recent_candles
    assert s.age_band_fresh_sec < s.age_band_aging_sec < s.age_band_stale_sec < s.age_band_stuck_sec
    assert s.churner_exit_timeout_sec >= s.churner_timeout_sec
    assert s.position_ledger_enabled or not (s.churner_enabled or s.subsidy_enabled)
    assert s.dead_man_switch_refresh_sec < s.dead_man_switch_timeout_sec
    assert s.reconnect_backoff_initial_sec <= s.reconnect_backoff_max_sec
    assert s.slot_alias_pool


# --- defaults ---------------------------------------------------------------------------------


def test_no_configuration_gives_defaults_and_no_warnings() -> None:
    s, warnings = load_settings({})
    assert s == Settings()
    assert warnings == []
    check_valid(s)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # STATE_MACHINE.md §14.4 rebalancer
        ("rebalance_enabled", True), ("rebalance_on_s1", True), ("rebalance_target_idle_pct", 0.40),
        ("rebalance_kp", 0.6), ("rebalance_kd", 0.2), ("rebalance_max_skew", 0.30),
        ("rebalance_size_sensitivity", 1.0), ("rebalance_max_size_mult", 1.5),
        ("rebalance_neutral_band", 0.05), ("rebalance_interval_sec", 300.0),
        # §15.5 trend
        ("trend_fast_halflife", 1800.0), ("trend_slow_halflife", 14400.0), ("trend_idle_sensitivity", 5.0),
        ("trend_idle_floor", 0.15), ("trend_idle_ceiling", 0.60), ("trend_min_samples", 24),
        ("trend_dead_zone", 0.001), ("trend_hysteresis_sec", 600.0), ("trend_hysteresis_smooth_halflife", 900.0),
        # §16.5 OHLCV
        ("hmm_ohlcv_enabled", True), ("hmm_ohlcv_interval_min", 5), ("hmm_ohlcv_sync_interval_sec", 300.0),
        ("hmm_ohlcv_retention_days", 14), ("hmm_training_candles", 2000), ("hmm_recent_candles", 100),
        ("hmm_min_train_samples", 500), ("hmm_readiness_cache_sec", 300.0),
        # §17.5 HMM
        ("hmm_enabled", False), ("hmm_n_states", 3), ("hmm_n_iter", 100), ("hmm_covariance_type", "diag"),
        ("hmm_inference_window", 50), ("hmm_confidence_threshold", 0.15), ("hmm_retrain_interval_sec", 86400.0),
        ("hmm_bias_gain", 1.0), ("hmm_blend_with_trend", 0.5),
        # §18 capital layers
        ("capital_layer_doge_per_order", 1.0), ("capital_layer_order_budget", 225),
        ("capital_layer_balance_buffer", 1.5), ("capital_layer_default_source", "auto"),
        # §11-§13, §19, §24
        ("auto_soft_close_capacity_pct", 95.0), ("auto_soft_close_batch", 2), ("max_entry_adds_per_loop", 2),
        ("daily_loss_limit", 3.0), ("kraken_open_orders_per_pair_limit", 225), ("open_order_safety_ratio", 0.75),
        ("open_order_drift_alert_pct", 5.0), ("open_order_drift_persist_sec", 600.0),
        ("slot_alias_pool", ("doge", "shiba", "floki", "cheems", "kabosu")),
        # STICKY_SLOTS_CHECKLIST.md §1
        ("sticky_mode_enabled", False), ("sticky_target_slots", 80), ("sticky_max_target_slots", 100),
        ("release_min_age_sec", 604800), ("release_min_distance_pct", 10.0), ("release_adx_threshold", 30.0),
        ("release_max_stuck_pct", 50.0), ("release_panic_stuck_pct", 80.0), ("release_panic_min_age_sec", 86400),
        ("release_recovery_target_pct", 60.0), ("release_auto_enabled", False),
        ("release_recon_hard_gate_enabled", True),
        ("momentum_enabled", False), ("momentum_max_defer_sec", 3600), ("momentum_ema_fast_bars", 5),
        ("momentum_ema_slow_bars", 20), ("regime_adx_enabled", False), ("regime_adx_period", 14),
        ("regime_adx_choppy_max", 20.0), ("regime_adx_trending_min", 30.0),
        ("s1_orphan_after_sec", 86400), ("s2_orphan_after_sec", 172800), ("max_recovery_slots", 4),
        ("order_size_mode", "USD"), ("sticky_compounding_mode", "legacy_profit"),
        # self-healing plan families
        ("position_ledger_enabled", True), ("churner_enabled", False), ("subsidy_enabled", False),
        ("subsidy_auto_reprice_band", "stuck"), ("subsidy_write_off_auto", False), ("churner_min_headroom", 10),
        ("churner_reserve_usd", 5.0), ("subsidy_reprice_interval_sec", 3600), ("age_distance_weight", 5.0),
        ("age_band_fresh_sec", 21600), ("age_band_aging_sec", 86400), ("age_band_stale_sec", 259200),
        ("age_band_stuck_sec", 604800), ("position_journal_local_limit", 500),
        # values fixed by the brief
        ("entry_pct", 0.35), ("profit_pct", 1.0), ("refresh_pct", 1.0), ("max_consecutive_refreshes", 3),
        ("refresh_cooldown_sec", 300), ("reentry_base_cooldown_sec", 60), ("max_consecutive_losses", 3),
        ("loss_cooldown_sec", 900), ("order_size_usd", 10.0), ("order_size_doge", 60.0),
        ("completed_cycles_keep", 200), ("maker_fee_pct", 0.25), ("taker_fee_pct", 0.40),
        ("mode", "sim"), ("initial_slots", 3), ("data_dir", "./data"), ("dashboard_host", "127.0.0.1"),
        ("dashboard_port", 8080), ("dashboard_token", ""), ("dead_man_switch_timeout_sec", 60),
        ("dead_man_switch_refresh_sec", 20), ("kraken_ws_public_url", "wss://ws.kraken.com/v2"),
        ("kraken_ws_private_url", "wss://ws-auth.kraken.com/v2"), ("kraken_rest_url", "https://api.kraken.com"),
        ("sim_usd_balance", 1000.0), ("sim_doge_balance", 10000.0), ("sim_seed", 7),
        ("sim_synthetic_start_price", 0.12), ("sim_min_volume", 50.0), ("sim_min_cost", 0.5),
        ("sim_maker_fee_pct", 0.25), ("sim_taker_fee_pct", 0.40), ("sim_open_orders_limit", 225),
        ("sim_rate_tier", "intermediate"), ("telegram_allowed_chat_ids", ()),
    ],
)
def test_seed_defaults(name: str, expected: Any) -> None:
    assert getattr(Settings(), name) == expected


def test_knob_table_shape() -> None:
    fields = [f.name for f in msgspec.structs.fields(Settings)]
    assert [k.name for k in KNOBS] == fields
    assert len(fields) == len(set(fields)) >= 150
    group_ids = [g[0] for g in GROUPS]
    for knob in KNOBS:
        assert knob.env == knob.name.upper()
        assert knob.name == knob.name.lower()
        assert knob.group in group_ids
        assert knob.description
    # Every group has knobs, and every secret is a string knob whose default is empty.
    assert {k.group for k in KNOBS} == set(group_ids)
    secrets = {k.env for k in KNOBS if k.secret}
    assert secrets == set(SECRETS)
    assert all(KNOB_BY_ENV[e].kind == "str" and KNOB_BY_ENV[e].default == "" for e in secrets)


def test_settings_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().entry_pct = 1.0  # type: ignore[misc]


def test_derived_properties() -> None:
    s = Settings()
    assert s.open_orders_safe_cap == 168
    assert s.dashboard_exposed is False
    assert s.has_kraken_credentials is False
    assert s.churner_order_usd == s.order_size_usd
    assert s.subsidy_auto_reprice_active is False
    assert s.round_trip_fee_pct == pytest.approx(0.5)
    s2, _ = load(SUBSIDY_ENABLED="1", CHURNER_ORDER_SIZE_USD="3")
    assert s2.subsidy_auto_reprice_active is True
    assert s2.churner_order_usd == 3.0


# --- layering ---------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "dogebot.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_env_beats_toml_beats_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
entry_pct = 0.5
PROFIT_PCT = 1.5

[sticky]
sticky_mode_enabled = true
RELEASE_MIN_DISTANCE_PCT = 12

[integrations]
telegram_allowed_chat_ids = [11, -22]
""")
    s, warnings = load_settings({"ENTRY_PCT": "0.7"}, path)
    assert warnings == []
    assert s.entry_pct == 0.7  # env wins
    assert s.profit_pct == 1.5  # TOML (upper-case key) beats the default
    assert s.sticky_mode_enabled is True
    assert s.release_min_distance_pct == 12.0 and type(s.release_min_distance_pct) is float
    assert s.telegram_allowed_chat_ids == (11, -22)
    assert s.refresh_pct == 1.0  # default


def test_toml_path_from_env_and_argument_precedence(tmp_path: Path) -> None:
    env_file = write(tmp_path, "entry_pct = 0.6\n")
    other = tmp_path / "other.toml"
    other.write_text("entry_pct = 0.9\n", encoding="utf-8")
    s, _ = load_settings({CONFIG_PATH_ENV: env_file})
    assert s.entry_pct == 0.6
    s, _ = load_settings({CONFIG_PATH_ENV: env_file}, str(other))
    assert s.entry_pct == 0.9


def test_empty_env_value_counts_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir = '/srv/doge'\n")
    s, warnings = load_settings({"DATA_DIR": "  ", "ENTRY_PCT": ""}, path)
    assert s.data_dir == "/srv/doge" and s.entry_pct == 0.35 and warnings == []


def test_unknown_env_ignored_unknown_toml_keys_warn(tmp_path: Path) -> None:
    path = write(tmp_path, "entry_pctt = 1\n[nonsense]\nx = 1\n[core]\nbogus = 2\nentry_pct = 0.4\n")
    s, warnings = load_settings({"SOME_OTHER_VAR": "x", "ENTRYPCT": "9"}, path)
    assert s.entry_pct == 0.4
    assert len(warnings) == 3
    assert "unknown key 'entry_pctt'" in warnings[0]
    assert "unknown key 'nonsense'" in warnings[1]
    assert "unknown key [core] 'bogus'" in warnings[2]


def test_toml_duplicate_key_warns(tmp_path: Path) -> None:
    path = write(tmp_path, "entry_pct = 0.4\n[core]\nENTRY_PCT = 0.45\n")
    s, warnings = load_settings({}, path)
    assert s.entry_pct == 0.45
    assert warnings == [f"config file {path}: ENTRY_PCT is set more than once; the last one is used"]


def test_missing_or_broken_toml_never_crashes(tmp_path: Path) -> None:
    s, warnings = load_settings({}, str(tmp_path / "absent.toml"))
    assert s == Settings() and warnings == [f"config file {tmp_path / 'absent.toml'} not found; ignoring it"]
    path = write(tmp_path, "kraken_api_key = 'kKEY-0123456789abcdef\nentry_pct = = 3\n")
    s, warnings = load_settings({}, path)
    assert s == Settings() and len(warnings) == 1 and "could not be read" in warnings[0]
    assert "kKEY" not in warnings[0]
    (tmp_path / "dir.toml").mkdir()
    s, warnings = load_settings({}, str(tmp_path / "dir.toml"))
    assert s == Settings() and "could not be read" in warnings[0]


# --- parsing and clamping ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "yes", "On", " y ", "t"])
def test_bool_true_spellings(text: str) -> None:
    s, warnings = load(STICKY_MODE_ENABLED=text)
    assert s.sticky_mode_enabled is True and warnings == []


@pytest.mark.parametrize("text", ["0", "false", "No", "OFF", "n", "f"])
def test_bool_false_spellings(text: str) -> None:
    s, warnings = load(REBALANCE_ENABLED=text)
    assert s.rebalance_enabled is False and warnings == []


def test_bad_bool_resets_with_one_warning() -> None:
    s, warnings = load(REBALANCE_ENABLED="maybe")
    assert s.rebalance_enabled is True
    assert warnings == ["REBALANCE_ENABLED: 'maybe' from the environment is not a boolean "
                        "(use true/false, 1/0, yes/no, on/off); using True"]


def test_number_parsing() -> None:
    s, warnings = load(MAX_CONSECUTIVE_ERRORS="1e1", MAX_ENTRY_ADDS_PER_LOOP=" 4.0 ", ENTRY_PCT="0.5",
                       DASHBOARD_PORT="+9000", HMM_TRAINING_CANDLES="3_000")
    assert warnings == []
    assert (s.max_consecutive_errors, s.max_entry_adds_per_loop, s.entry_pct) == (10, 4, 0.5)
    assert s.dashboard_port == 9000 and s.hmm_training_candles == 3000
    assert type(s.max_consecutive_errors) is int


@pytest.mark.parametrize(
    ("env", "value", "expected_field", "warning"),
    [
        ("ENTRY_PCT", "50", 10.0, "ENTRY_PCT: '50' from the environment is above the maximum 10.0; using 10.0"),
        ("ENTRY_PCT", "0", 0.05, "ENTRY_PCT: '0' from the environment is below the minimum 0.05; using 0.05"),
        ("ENTRY_PCT", "abc", 0.35, "ENTRY_PCT: 'abc' from the environment is not a number; using 0.35"),
        ("ENTRY_PCT", "nan", 0.35, "ENTRY_PCT: 'nan' from the environment is not a number; using 0.35"),
        ("ENTRY_PCT", "inf", 10.0, "ENTRY_PCT: 'inf' from the environment is above the maximum 10.0; using 10.0"),
        ("ENTRY_PCT", "-inf", 0.05, "ENTRY_PCT: '-inf' from the environment is below the minimum 0.05; using 0.05"),
        ("MAX_RECOVERY_SLOTS", "2.5", 4,
         "MAX_RECOVERY_SLOTS: '2.5' from the environment is not a whole number; using 4"),
        ("MAX_RECOVERY_SLOTS", "0", 1, "MAX_RECOVERY_SLOTS: '0' from the environment is below the minimum 1; using 1"),
        ("REGIME_ADX_PERIOD", "1", 2, "REGIME_ADX_PERIOD: '1' from the environment is below the minimum 2; using 2"),
        ("MOMENTUM_EMA_FAST_BARS", "1", 2,
         "MOMENTUM_EMA_FAST_BARS: '1' from the environment is below the minimum 2; using 2"),
        ("RELEASE_PANIC_MIN_AGE_SEC", "-5", 0.0,
         "RELEASE_PANIC_MIN_AGE_SEC: '-5' from the environment is below the minimum 0.0; using 0.0"),
        ("DASHBOARD_PORT", "99999", 65535,
         "DASHBOARD_PORT: '99999' from the environment is above the maximum 65535; using 65535"),
        ("SIM_SEED", "9" * 5000, 2**32 - 1, None),
        ("ORDER_SIZE_MODE", "EUR", "USD",
         "ORDER_SIZE_MODE: 'EUR' from the environment is not one of USD | DOGE; using 'USD'"),
        ("STICKY_COMPOUNDING_MODE", "compound", "legacy_profit",
         "STICKY_COMPOUNDING_MODE: 'compound' from the environment is not one of legacy_profit | fixed; "
         "using 'legacy_profit'"),
        ("MODE", "yolo", "sim", "MODE: 'yolo' from the environment is not one of sim | paper | live | backtest; "
         "using 'sim'"),
        ("HMM_OHLCV_INTERVAL_MIN", "7", 5,
         "HMM_OHLCV_INTERVAL_MIN: '7' from the environment is not one of 1 | 5 | 15 | 30 | 60 | 240 | 1440; using 5"),
        ("KRAKEN_WS_PUBLIC_URL", "http://example", "wss://ws.kraken.com/v2",
         "KRAKEN_WS_PUBLIC_URL: 'http://example' from the environment is not a valid ws:// or wss:// URL; "
         "using 'wss://ws.kraken.com/v2'"),
        ("DASHBOARD_HOST", "evil host", "127.0.0.1",
         "DASHBOARD_HOST: 'evil host' from the environment is not a valid host name or IP address; "
         "using '127.0.0.1'"),
        ("TELEGRAM_ALLOWED_CHAT_IDS", "12, x ,-34,12", (12, -34),
         "TELEGRAM_ALLOWED_CHAT_IDS: '12, x ,-34,12' from the environment is a list with invalid item(s) 'x'; "
         "using '12,-34'"),
        ("SLOT_ALIAS_POOL", "<b>,,", ("doge", "shiba", "floki", "cheems", "kabosu"),
         "SLOT_ALIAS_POOL: '<b>,,' from the environment is an empty or invalid list; "
         "using 'doge,shiba,floki,cheems,kabosu'"),
    ],
)
def test_bad_value_is_fixed_with_exactly_one_warning(env: str, value: str, expected_field: Any,
                                                     warning: str | None) -> None:
    s, warnings = load_settings({env: value})
    assert getattr(s, env.lower()) == expected_field
    assert len(warnings) == 1
    assert warnings[0].startswith(env + ":")
    if warning is not None:
        assert warnings[0] == warning
    check_valid(s)


def test_enums_are_case_insensitive_and_canonical() -> None:
    s, warnings = load(ORDER_SIZE_MODE="doge", MODE="PAPER", LOG_LEVEL="debug", CAPITAL_LAYER_DEFAULT_SOURCE="USD",
                       ORDER_SIZE_DOGE="80")
    assert warnings == []
    assert (s.order_size_mode, s.mode, s.log_level, s.capital_layer_default_source) == ("DOGE", "paper", "DEBUG",
                                                                                         "usd")


def test_lists_parse() -> None:
    s, warnings = load(SLOT_ALIAS_POOL=" Wow, such ,MUCH,wow ", TELEGRAM_ALLOWED_CHAT_IDS="1,2")
    assert warnings == []
    assert s.slot_alias_pool == ("wow", "such", "much")
    assert s.telegram_allowed_chat_ids == (1, 2)


def test_bad_toml_value_reports_file_source(tmp_path: Path) -> None:
    path = write(tmp_path, "max_recovery_slots = 'lots'\nrebalance_enabled = 'nope'\nentry_pct = true\n")
    s, warnings = load_settings({}, path)
    assert s.max_recovery_slots == 4 and s.rebalance_enabled is True and s.entry_pct == 0.35
    assert warnings == [
        f"MAX_RECOVERY_SLOTS: 'lots' from config file {path} is not a whole number; using 4",
        f"REBALANCE_ENABLED: 'nope' from config file {path} is not a boolean (use true/false, 1/0, yes/no, on/off); "
        "using True",
        f"ENTRY_PCT: True from config file {path} is not a number; using 0.35",
    ]


def test_env_shadows_bad_toml_value_without_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "entry_pct = 'junk'\n")
    s, warnings = load_settings({"ENTRY_PCT": "0.4"}, path)
    assert s.entry_pct == 0.4 and warnings == []


# --- cross-field rules ------------------------------------------------------------------------


def test_release_panic_must_exceed_conservative() -> None:
    s, warnings = load(RELEASE_MAX_STUCK_PCT="85", RELEASE_PANIC_STUCK_PCT="70")
    assert s.release_panic_stuck_pct == 95.0
    assert warnings[0] == ("RELEASE_PANIC_STUCK_PCT=70.0 must be greater than RELEASE_MAX_STUCK_PCT=85.0; "
                           "using RELEASE_PANIC_STUCK_PCT=95.0")
    # The recovery target (60) is still below panic: no second adjustment.
    assert len(warnings) == 1
    check_valid(s)


def test_release_panic_capped_at_100() -> None:
    s, _ = load(RELEASE_MAX_STUCK_PCT="99", RELEASE_PANIC_STUCK_PCT="99")
    assert s.release_panic_stuck_pct == 100.0
    check_valid(s)


def test_release_recovery_target_below_panic() -> None:
    s, warnings = load(RELEASE_RECOVERY_TARGET_PCT="90")
    assert s.release_recovery_target_pct == 50.0
    assert warnings == ["RELEASE_RECOVERY_TARGET_PCT=90.0 must be below RELEASE_PANIC_STUCK_PCT=80.0; "
                        "using RELEASE_RECOVERY_TARGET_PCT=50.0"]


def test_release_panic_age_not_above_conservative_age() -> None:
    s, warnings = load(RELEASE_PANIC_MIN_AGE_SEC="1000000", RELEASE_MIN_AGE_SEC="500000")
    assert s.release_min_age_sec == 1000000.0 and s.release_panic_min_age_sec == 1000000.0
    assert warnings == ["RELEASE_PANIC_MIN_AGE_SEC=1000000.0 must not exceed RELEASE_MIN_AGE_SEC=500000.0; "
                        "using RELEASE_MIN_AGE_SEC=1000000.0"]


def test_sticky_target_not_above_max() -> None:
    s, warnings = load(STICKY_TARGET_SLOTS="150", STICKY_MAX_TARGET_SLOTS="120")
    assert s.sticky_target_slots == 120
    assert warnings == ["STICKY_TARGET_SLOTS=150 exceeds STICKY_MAX_TARGET_SLOTS=120; using STICKY_TARGET_SLOTS=120"]


def test_momentum_fast_must_be_below_slow() -> None:
    s, warnings = load(MOMENTUM_EMA_FAST_BARS="30", MOMENTUM_EMA_SLOW_BARS="10")
    assert (s.momentum_ema_fast_bars, s.momentum_ema_slow_bars) == (5, 20)
    assert warnings == ["MOMENTUM_EMA_FAST_BARS=30 must be below MOMENTUM_EMA_SLOW_BARS=10; "
                        "using MOMENTUM_EMA_FAST_BARS=5, MOMENTUM_EMA_SLOW_BARS=20"]


def test_adx_bands_ordered() -> None:
    s, warnings = load(REGIME_ADX_CHOPPY_MAX="40")
    assert (s.regime_adx_choppy_max, s.regime_adx_trending_min) == (20.0, 30.0)
    assert warnings == ["REGIME_ADX_CHOPPY_MAX=40.0 must be below REGIME_ADX_TRENDING_MIN=30.0; "
                        "using REGIME_ADX_CHOPPY_MAX=20.0, REGIME_ADX_TRENDING_MIN=30.0"]


def test_trend_halflives_ordered() -> None:
    s, warnings = load(TREND_FAST_HALFLIFE="20000")
    assert (s.trend_fast_halflife, s.trend_slow_halflife) == (1800.0, 14400.0)
    assert warnings[0].startswith("TREND_FAST_HALFLIFE=20000.0 must be below TREND_SLOW_HALFLIFE=14400.0")


def test_idle_band_and_base_target() -> None:
    s, warnings = load(TREND_IDLE_FLOOR="0.7", TREND_IDLE_CEILING="0.5")
    assert (s.trend_idle_floor, s.trend_idle_ceiling) == (0.15, 0.60)
    assert len(warnings) == 1 and warnings[0].startswith("TREND_IDLE_FLOOR=0.7 exceeds TREND_IDLE_CEILING=0.5")
    s, warnings = load(REBALANCE_TARGET_IDLE_PCT="0.9")
    assert s.rebalance_target_idle_pct == 0.60
    assert warnings == ["REBALANCE_TARGET_IDLE_PCT=0.9 lies outside TREND_IDLE_FLOOR..TREND_IDLE_CEILING "
                        "(0.15..0.6); using REBALANCE_TARGET_IDLE_PCT=0.6"]


def test_hmm_windows() -> None:
    s, warnings = load(HMM_MIN_TRAIN_SAMPLES="5000", HMM_INFERENCE_WINDOW="500")
    assert s.hmm_min_train_samples == 2000 and s.hmm_inference_window == 100
    assert len(warnings) == 2


def test_age_bands_must_increase() -> None:
    s, warnings = load(AGE_BAND_AGING_SEC="3600")
    assert (s.age_band_fresh_sec, s.age_band_aging_sec) == (21600.0, 86400.0)
    assert len(warnings) == 1 and warnings[0].startswith("age band thresholds must increase")
    assert "AGE_BAND_AGING_SEC=3600.0" in warnings[0]


def test_churner_timeouts() -> None:
    s, warnings = load(CHURNER_TIMEOUT_SEC="900", CHURNER_EXIT_TIMEOUT_SEC="120")
    assert s.churner_exit_timeout_sec == 900.0
    assert warnings == ["CHURNER_EXIT_TIMEOUT_SEC=120.0 is below CHURNER_TIMEOUT_SEC=900.0; "
                        "using CHURNER_EXIT_TIMEOUT_SEC=900.0"]


def test_churner_implies_ledger_fails_closed() -> None:
    s, warnings = load(CHURNER_ENABLED="true", POSITION_LEDGER_ENABLED="false")
    assert s.churner_enabled is False and s.position_ledger_enabled is False
    assert warnings == ["CHURNER_ENABLED=true requires POSITION_LEDGER_ENABLED=true; using CHURNER_ENABLED=False"]
    s, warnings = load(CHURNER_ENABLED="true")
    assert s.churner_enabled is True and s.position_ledger_enabled is True and warnings == []


def test_subsidy_auto_reprice_requires_ledger_and_toggle() -> None:
    s, warnings = load(SUBSIDY_ENABLED="1", POSITION_LEDGER_ENABLED="0")
    assert s.subsidy_enabled is False and s.subsidy_auto_reprice_active is False
    assert warnings == ["SUBSIDY_ENABLED=true (subsidy repricing) requires POSITION_LEDGER_ENABLED=true; "
                        "using SUBSIDY_ENABLED=False"]
    s, _ = load(SUBSIDY_ENABLED="1", SUBSIDY_AUTO_REPRICE_BAND="off")
    assert s.subsidy_auto_reprice_active is False
    s, _ = load(SUBSIDY_AUTO_REPRICE_BAND="stale")
    assert s.subsidy_auto_reprice_active is False


def test_dead_man_switch_refresh_below_timeout() -> None:
    s, warnings = load(DEAD_MAN_SWITCH_TIMEOUT_SEC="30", DEAD_MAN_SWITCH_REFRESH_SEC="45")
    assert s.dead_man_switch_refresh_sec == 10.0
    assert warnings == ["DEAD_MAN_SWITCH_REFRESH_SEC=45.0 must be below DEAD_MAN_SWITCH_TIMEOUT_SEC=30.0; "
                        "using DEAD_MAN_SWITCH_REFRESH_SEC=10.0"]


def test_reconnect_backoff_ordered() -> None:
    s, warnings = load(RECONNECT_BACKOFF_INITIAL_SEC="30", RECONNECT_BACKOFF_MAX_SEC="5")
    assert s.reconnect_backoff_max_sec == 30.0 and len(warnings) == 1


def test_recon_hard_gate_defaults_true_under_sticky() -> None:
    s, warnings = load(STICKY_MODE_ENABLED="true")
    assert s.release_recon_hard_gate_enabled is True and warnings == []
    s, warnings = load(STICKY_MODE_ENABLED="true", RELEASE_RECON_HARD_GATE_ENABLED="false")
    assert s.release_recon_hard_gate_enabled is False
    assert any("RELEASE_RECON_HARD_GATE_ENABLED=false with sticky mode" in w for w in warnings)


# --- advisories -------------------------------------------------------------------------------


def test_dashboard_beyond_loopback_needs_token() -> None:
    s, warnings = load(DASHBOARD_HOST="0.0.0.0")
    assert s.dashboard_exposed is True and s.dashboard_host == "0.0.0.0"
    assert len(warnings) == 1 and "DASHBOARD_TOKEN is unset" in warnings[0]
    s, warnings = load(DASHBOARD_HOST="0.0.0.0", DASHBOARD_TOKEN=SECRETS["DASHBOARD_TOKEN"])
    assert warnings == []
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert load(DASHBOARD_HOST=host)[0].dashboard_exposed is False


def test_live_without_credentials_flagged() -> None:
    s, warnings = load(MODE="live")
    assert s.mode == "live" and not s.has_kraken_credentials
    assert warnings == ["MODE='live' but KRAKEN_API_KEY/KRAKEN_API_SECRET are not both set: live trading cannot start"]
    s, warnings = load(MODE="live", KRAKEN_API_KEY="k", KRAKEN_API_SECRET="s")
    assert s.has_kraken_credentials and warnings == []


def test_other_advisories() -> None:
    _, warnings = load(ORDER_SIZE_MODE="DOGE", ORDER_SIZE_DOGE="18")
    assert warnings == ["ORDER_SIZE_DOGE=18.0 is below Kraken's DOGE/USD ordermin (50 DOGE at last check): "
                        "DOGE-sized orders will wait"]
    _, warnings = load(STICKY_MODE_ENABLED="1", STICKY_COMPOUNDING_MODE="fixed", STICKY_TARGET_SLOTS="100")
    assert len(warnings) == 2
    _, warnings = load(TELEGRAM_BOT_TOKEN=SECRETS["TELEGRAM_BOT_TOKEN"])
    assert warnings == ["TELEGRAM_BOT_TOKEN is set but TELEGRAM_ALLOWED_CHAT_IDS is empty: the bot answers nobody"]
    _, warnings = load(SUPABASE_URL="https://x.supabase.co")
    assert len(warnings) == 1 and "SUPABASE" in warnings[0]
    _, warnings = load(MODE="live", KRAKEN_API_KEY="k", KRAKEN_API_SECRET="s", DEAD_MAN_SWITCH_ENABLED="no")
    assert len(warnings) == 1 and "DEAD_MAN_SWITCH_ENABLED=false" in warnings[0]


# --- secrets ----------------------------------------------------------------------------------


def test_secrets_never_leak(tmp_path: Path) -> None:
    env = dict(SECRETS, MODE="live", DASHBOARD_HOST="0.0.0.0", SUPABASE_URL="https://x.supabase.co")
    s, warnings = load_settings(env)
    for env_name, secret in SECRETS.items():
        assert getattr(s, env_name.lower()) == secret
    summary = startup_summary(s)
    red = redacted(s)
    text = "\n".join(warnings) + summary + json.dumps(red)
    for secret in SECRETS.values():
        assert secret not in text
    for env_name in SECRETS:
        assert red[env_name.lower()] == REDACTED
    assert "kraken key set, secret set" in summary and "dashboard token set" in summary
    # A secret given with the wrong TOML type is reported without its value.
    path = write(tmp_path, "kraken_api_key = 123456789\n")
    _, warnings = load_settings({}, path)
    assert warnings == [f"KRAKEN_API_KEY: {REDACTED} from config file {path} is not text; using {REDACTED}"]
    assert "123456789" not in warnings[0]


def test_redacted_payload() -> None:
    s, _ = load(TELEGRAM_ALLOWED_CHAT_IDS="5,6")
    red = redacted(s)
    assert set(red) == {k.name for k in KNOBS}
    assert red["kraken_api_key"] == "" and red["entry_pct"] == 0.35
    assert red["telegram_allowed_chat_ids"] == [5, 6]
    assert red["slot_alias_pool"] == ["doge", "shiba", "floki", "cheems", "kabosu"]
    json.dumps(red)


def test_startup_summary_fits_one_screen() -> None:
    for env in ({}, {"MODE": "live", "STICKY_MODE_ENABLED": "1", "ORDER_SIZE_MODE": "DOGE"}):
        summary = startup_summary(load_settings(env)[0])
        lines = summary.splitlines()
        assert len(lines) <= 25
        for word in ("sticky", "release", "momentum", "regime", "sizing", "compounding", "healing",
                     "rebalancer", "guardrails", "mode", "venue"):
            assert word in summary
    assert "unset" in startup_summary(Settings())


# --- runtime overrides ------------------------------------------------------------------------


def test_apply_overrides_validates_like_startup() -> None:
    base = Settings()
    s, warnings = apply_overrides(base, {"entry_pct": "0.5", "PROFIT_PCT": 99, "nonsense": 1})
    assert s.entry_pct == 0.5 and s.profit_pct == 20.0
    assert warnings == ["PROFIT_PCT: 99 from override is above the maximum 20.0; using 20.0",
                        "override: unknown setting 'nonsense' ignored"]
    s, warnings = apply_overrides(base, {"release_panic_stuck_pct": 40})
    assert s.release_panic_stuck_pct == 80.0 and len(warnings) == 1
    assert base.entry_pct == 0.35


# --- generated docs ---------------------------------------------------------------------------


def test_committed_doc_matches_generated() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_docs(), "run: python -m core.config --docs"


def test_doc_lists_every_knob() -> None:
    doc = render_docs()
    for knob in KNOBS:
        assert f"| `{knob.env}` | `{knob.name}` |" in doc
    for _gid, title, _blurb in GROUPS:
        assert f"## {title}" in doc
    assert "MAX_RECOVERY_SLOTS" in doc and "ordermin" in doc


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "configuration.md"
    assert main(["--docs", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_docs()
    assert main(["--check-docs"]) == 0
    for env_name in [k.env for k in KNOBS] + [CONFIG_PATH_ENV]:
        monkeypatch.delenv(env_name, raising=False)
    monkeypatch.setenv("ENTRY_PCT", "77")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRETS["KRAKEN_API_SECRET"])
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert "dogebot configuration" in printed and "warning: ENTRY_PCT" in printed
    assert SECRETS["KRAKEN_API_SECRET"] not in printed


# --- properties -------------------------------------------------------------------------------

_knob_envs = st.sampled_from([k.env for k in KNOBS])
_interesting = st.sampled_from(
    ["", " ", "0", "1", "-1", "true", "off", "nan", "inf", "-inf", "1e308", "-1e308", "9" * 400, "1e-320",
     "0x10", "1_0", "3.5", "USD", "doge", "fixed", "live", "a,b", "1,2,x", "wss://a", "https://b", "::1",
     "0.0.0.0", "\x00", "\u0661\u0662", "  42  ", ",,,", "[1]"]
)
_raw_text = st.one_of(_interesting, st.text(max_size=40), st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True))


@hyp_settings(max_examples=400, deadline=None)
@given(st.dictionaries(_knob_envs, _raw_text, max_size=12))
def test_arbitrary_env_strings_never_raise_and_stay_valid(env: dict[str, str]) -> None:
    s, warnings = load_settings(env)
    check_valid(s)
    assert all(isinstance(w, str) for w in warnings)


@hyp_settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(SECRETS)), st.text(min_size=1, max_size=30), min_size=1),
       st.dictionaries(_knob_envs, _raw_text, max_size=6))
def test_arbitrary_secrets_never_appear_in_output(secrets: dict[str, str], others: dict[str, str]) -> None:
    marked = {k: "SEKRET" + v for k, v in secrets.items()}
    s, warnings = load_settings({**others, **marked})
    text = "\n".join(warnings) + startup_summary(s) + json.dumps(redacted(s))
    assert "SEKRET" not in text


_toml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([k.name for k in KNOBS] + [g[0] for g in GROUPS] + ["junk"]),
                       _toml_values, max_size=10),
       st.dictionaries(_knob_envs, _raw_text, max_size=4))
def test_arbitrary_toml_values_never_raise(data: dict[str, Any], env: dict[str, str]) -> None:
    s, _warnings = load_settings(env, toml_data=data)
    check_valid(s)
    s2, _ = apply_overrides(s, {k: v for k, v in data.items() if k in KNOB_BY_NAME})
    check_valid(s2)

"""Settings: seed defaults, the knob table, and layering (env over TOML over defaults).

Also home of the helpers the other config test modules share (SECRETS, load, check_valid,
write). The rest of the settings tests, one concern per module:
  - tests/core/test_config_rules.py       parsing and clamping, cross-field rules, advisories, overrides
  - tests/core/test_config_secrets.py     secrets and redaction, startup summary, generated docs, CLI
  - tests/core/test_config_properties.py  property tests: arbitrary env/TOML input never raises
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.config import CONFIG_PATH_ENV, KNOB_BY_ENV, KNOBS, Settings, load_settings
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

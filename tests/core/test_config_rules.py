"""Settings: value parsing and clamping, cross-field rules, advisories, and runtime overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import Settings, apply_overrides, load_settings
from tests.core.test_config import SECRETS, check_valid, load, write

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

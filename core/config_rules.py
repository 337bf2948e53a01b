"""Cross-field rules and advisories applied after every knob has been parsed.

Rules change values (toward the setting that trades or releases less) and report it; advisories
only report. Both work on the plain `{field: value}` dict before the frozen Settings is built.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from core.config_knobs import is_loopback_host
from core.config_schema import KNOB_BY_NAME, show_value
from core.market import PairRules

Warn = Callable[[str], None]
Rule = Callable[[dict[str, Any], Warn], None]


def _conflict(v: dict[str, Any], warn: Warn, why: str, **new: Any) -> None:
    used = ", ".join(f"{KNOB_BY_NAME[n].env}={show_value(KNOB_BY_NAME[n], x)}" for n, x in new.items())
    warn(f"{why}; using {used}")
    v.update(new)


def _reset(v: dict[str, Any], warn: Warn, why: str, *names: str) -> None:
    _conflict(v, warn, why, **{n: KNOB_BY_NAME[n].default for n in names})


def _rule_sticky_slots(v: dict[str, Any], warn: Warn) -> None:
    if v["sticky_target_slots"] > v["sticky_max_target_slots"]:
        _conflict(v, warn, f"STICKY_TARGET_SLOTS={v['sticky_target_slots']} exceeds STICKY_MAX_TARGET_SLOTS="
                  f"{v['sticky_max_target_slots']}", sticky_target_slots=v["sticky_max_target_slots"])


def _rule_release(v: dict[str, Any], warn: Warn) -> None:
    conservative, panic = v["release_max_stuck_pct"], v["release_panic_stuck_pct"]
    if panic <= conservative:
        # Raising the panic trigger is the safe direction: tier 2 bypasses the distance/regime gates.
        new = min(100.0, max(KNOB_BY_NAME["release_panic_stuck_pct"].default, conservative + 10.0))
        _conflict(v, warn, f"RELEASE_PANIC_STUCK_PCT={panic!r} must be greater than RELEASE_MAX_STUCK_PCT="
                  f"{conservative!r}", release_panic_stuck_pct=new)
    if v["release_recovery_target_pct"] >= v["release_panic_stuck_pct"]:
        _conflict(v, warn, f"RELEASE_RECOVERY_TARGET_PCT={v['release_recovery_target_pct']!r} must be below "
                  f"RELEASE_PANIC_STUCK_PCT={v['release_panic_stuck_pct']!r}",
                  release_recovery_target_pct=v["release_max_stuck_pct"])
    if v["release_panic_min_age_sec"] > v["release_min_age_sec"]:
        # Raise the conservative age rather than lower the panic floor: fewer releases, never more.
        _conflict(v, warn, f"RELEASE_PANIC_MIN_AGE_SEC={v['release_panic_min_age_sec']!r} must not exceed "
                  f"RELEASE_MIN_AGE_SEC={v['release_min_age_sec']!r}",
                  release_min_age_sec=v["release_panic_min_age_sec"])


def _rule_ordered_pairs(v: dict[str, Any], warn: Warn) -> None:
    for low, high in (
        ("momentum_ema_fast_bars", "momentum_ema_slow_bars"),
        ("regime_adx_choppy_max", "regime_adx_trending_min"),
        ("trend_fast_halflife", "trend_slow_halflife"),
    ):
        if v[low] >= v[high]:
            _reset(v, warn, f"{low.upper()}={v[low]!r} must be below {high.upper()}={v[high]!r}", low, high)


def _rule_idle_band(v: dict[str, Any], warn: Warn) -> None:
    if v["trend_idle_floor"] > v["trend_idle_ceiling"]:
        _reset(v, warn, f"TREND_IDLE_FLOOR={v['trend_idle_floor']!r} exceeds TREND_IDLE_CEILING="
               f"{v['trend_idle_ceiling']!r}", "trend_idle_floor", "trend_idle_ceiling")
    base, lo, hi = v["rebalance_target_idle_pct"], v["trend_idle_floor"], v["trend_idle_ceiling"]
    if not lo <= base <= hi:
        _conflict(v, warn, f"REBALANCE_TARGET_IDLE_PCT={base!r} lies outside TREND_IDLE_FLOOR..TREND_IDLE_CEILING "
                  f"({lo!r}..{hi!r})", rebalance_target_idle_pct=min(hi, max(lo, base)))


def _rule_hmm_windows(v: dict[str, Any], warn: Warn) -> None:
    if v["hmm_min_train_samples"] > v["hmm_training_candles"]:
        _conflict(v, warn, f"HMM_MIN_TRAIN_SAMPLES={v['hmm_min_train_samples']} exceeds HMM_TRAINING_CANDLES="
                  f"{v['hmm_training_candles']}", hmm_min_train_samples=v["hmm_training_candles"])
    if v["hmm_inference_window"] > v["hmm_recent_candles"]:
        _conflict(v, warn, f"HMM_INFERENCE_WINDOW={v['hmm_inference_window']} exceeds HMM_RECENT_CANDLES="
                  f"{v['hmm_recent_candles']}", hmm_inference_window=v["hmm_recent_candles"])


_AGE_BANDS = ("age_band_fresh_sec", "age_band_aging_sec", "age_band_stale_sec", "age_band_stuck_sec")


def _rule_age_bands(v: dict[str, Any], warn: Warn) -> None:
    ages = [v[n] for n in _AGE_BANDS]
    if any(a >= b for a, b in itertools.pairwise(ages)):
        shown = ", ".join(f"{n.upper()}={v[n]!r}" for n in _AGE_BANDS)
        _reset(v, warn, f"age band thresholds must increase ({shown})", *_AGE_BANDS)


def _rule_self_healing(v: dict[str, Any], warn: Warn) -> None:
    if v["churner_exit_timeout_sec"] < v["churner_timeout_sec"]:
        _conflict(v, warn, f"CHURNER_EXIT_TIMEOUT_SEC={v['churner_exit_timeout_sec']!r} is below CHURNER_TIMEOUT_SEC="
                  f"{v['churner_timeout_sec']!r}", churner_exit_timeout_sec=v["churner_timeout_sec"])
    # Fail closed: never switch on the bookkeeping implicitly; turn off the order-placing feature.
    if not v["position_ledger_enabled"]:
        if v["churner_enabled"]:
            _conflict(v, warn, "CHURNER_ENABLED=true requires POSITION_LEDGER_ENABLED=true", churner_enabled=False)
        if v["subsidy_enabled"]:
            _conflict(v, warn, "SUBSIDY_ENABLED=true (subsidy repricing) requires POSITION_LEDGER_ENABLED=true",
                      subsidy_enabled=False)


def _rule_connection(v: dict[str, Any], warn: Warn) -> None:
    if v["dead_man_switch_refresh_sec"] >= v["dead_man_switch_timeout_sec"]:
        _conflict(v, warn, f"DEAD_MAN_SWITCH_REFRESH_SEC={v['dead_man_switch_refresh_sec']!r} must be below "
                  f"DEAD_MAN_SWITCH_TIMEOUT_SEC={v['dead_man_switch_timeout_sec']!r}",
                  dead_man_switch_refresh_sec=v["dead_man_switch_timeout_sec"] / 3.0)
    if v["reconnect_backoff_initial_sec"] > v["reconnect_backoff_max_sec"]:
        _conflict(v, warn, f"RECONNECT_BACKOFF_INITIAL_SEC={v['reconnect_backoff_initial_sec']!r} exceeds "
                  f"RECONNECT_BACKOFF_MAX_SEC={v['reconnect_backoff_max_sec']!r}",
                  reconnect_backoff_max_sec=v["reconnect_backoff_initial_sec"])


RULES: tuple[tuple[str, Rule], ...] = (
    ("STICKY_TARGET_SLOTS <= STICKY_MAX_TARGET_SLOTS; otherwise the target is lowered to the maximum.", _rule_sticky_slots),
    ("RELEASE_PANIC_STUCK_PCT > RELEASE_MAX_STUCK_PCT; otherwise the panic threshold is raised to max(80, conservative + 10), at most 100. "
     "RELEASE_RECOVERY_TARGET_PCT < RELEASE_PANIC_STUCK_PCT; otherwise the target becomes RELEASE_MAX_STUCK_PCT. "
     "RELEASE_PANIC_MIN_AGE_SEC <= RELEASE_MIN_AGE_SEC; otherwise the conservative age is raised to the panic age.", _rule_release),
    ("MOMENTUM_EMA_FAST_BARS < MOMENTUM_EMA_SLOW_BARS, REGIME_ADX_CHOPPY_MAX < REGIME_ADX_TRENDING_MIN and "
     "TREND_FAST_HALFLIFE < TREND_SLOW_HALFLIFE; a violated pair is reset to both defaults.", _rule_ordered_pairs),
    ("TREND_IDLE_FLOOR <= TREND_IDLE_CEILING (else both reset), then REBALANCE_TARGET_IDLE_PCT is clamped into the band.", _rule_idle_band),
    ("HMM_MIN_TRAIN_SAMPLES <= HMM_TRAINING_CANDLES and HMM_INFERENCE_WINDOW <= HMM_RECENT_CANDLES; the smaller one is lowered.", _rule_hmm_windows),
    ("AGE_BAND_FRESH_SEC < AGING < STALE < STUCK; otherwise all four are reset to their defaults.", _rule_age_bands),
    ("CHURNER_EXIT_TIMEOUT_SEC >= CHURNER_TIMEOUT_SEC (exit timeout raised). CHURNER_ENABLED and SUBSIDY_ENABLED require "
     "POSITION_LEDGER_ENABLED: without the ledger they are switched off (fail closed), so subsidy auto-repricing runs only "
     "with ledger + SUBSIDY_ENABLED + a band other than `off`.", _rule_self_healing),
    ("DEAD_MAN_SWITCH_REFRESH_SEC < DEAD_MAN_SWITCH_TIMEOUT_SEC (else refresh = timeout / 3); "
     "RECONNECT_BACKOFF_INITIAL_SEC <= RECONNECT_BACKOFF_MAX_SEC (else the maximum is raised).", _rule_connection),
)


def apply_rules(values: dict[str, Any], warnings: list[str]) -> None:
    for _text, rule in RULES:
        rule(values, warnings.append)


# --- advisories: reported, values unchanged ---------------------------------------------------

ADVISORIES: tuple[str, ...] = (
    "DASHBOARD_HOST beyond loopback without DASHBOARD_TOKEN (the web layer refuses to serve mutating calls).",
    "MODE=live without KRAKEN_API_KEY and KRAKEN_API_SECRET (live trading cannot start).",
    "MODE=live with DEAD_MAN_SWITCH_ENABLED=false.",
    "STICKY_MODE_ENABLED=true with STICKY_COMPOUNDING_MODE=fixed (production sticky profile is legacy_profit).",
    "STICKY_MODE_ENABLED=true with RELEASE_RECON_HARD_GATE_ENABLED explicitly false.",
    "STICKY_MODE_ENABLED=true and 2 x STICKY_TARGET_SLOTS exceeds the open-order safe cap.",
    "ORDER_SIZE_MODE=DOGE with ORDER_SIZE_DOGE below Kraken's DOGE/USD ordermin (orders would wait forever).",
    "TELEGRAM_BOT_TOKEN set without TELEGRAM_ALLOWED_CHAT_IDS (the bot answers nobody).",
    "Only one of SUPABASE_URL / SUPABASE_KEY set (the replica stays off).",
)


def advise(v: dict[str, Any], explicit: set[str], warnings: list[str]) -> None:
    if not is_loopback_host(v["dashboard_host"]) and not v["dashboard_token"]:
        warnings.append(f"DASHBOARD_HOST={v['dashboard_host']!r} is beyond loopback and DASHBOARD_TOKEN is unset: "
                        "the web layer will refuse mutating calls until a token is configured")
    if v["mode"] == "live" and not (v["kraken_api_key"] and v["kraken_api_secret"]):
        warnings.append("MODE='live' but KRAKEN_API_KEY/KRAKEN_API_SECRET are not both set: live trading cannot start")
    if v["mode"] == "live" and not v["dead_man_switch_enabled"]:
        warnings.append("MODE='live' with DEAD_MAN_SWITCH_ENABLED=false: orders stay on the book if the bot dies")
    if v["sticky_mode_enabled"]:
        if v["sticky_compounding_mode"] == "fixed":
            warnings.append("STICKY_COMPOUNDING_MODE='fixed' with sticky mode: the production sticky profile is "
                            "'legacy_profit'; 'fixed' is an emergency/debug mode")
        if "release_recon_hard_gate_enabled" in explicit and not v["release_recon_hard_gate_enabled"]:
            warnings.append("RELEASE_RECON_HARD_GATE_ENABLED=false with sticky mode: releases are not blocked by "
                            "balance drift")
        safe_cap = int(v["kraken_open_orders_per_pair_limit"] * v["open_order_safety_ratio"] + 1e-9)
        if 2 * v["sticky_target_slots"] > safe_cap:
            warnings.append(f"STICKY_TARGET_SLOTS={v['sticky_target_slots']} needs up to "
                            f"{2 * v['sticky_target_slots']} open orders, above the safe cap {safe_cap}: "
                            "slot adds will be blocked before the target")
    ordermin = PairRules().min_volume
    if v["order_size_mode"] == "DOGE" and v["order_size_doge"] < ordermin:
        warnings.append(f"ORDER_SIZE_DOGE={v['order_size_doge']!r} is below Kraken's DOGE/USD ordermin "
                        f"({ordermin:g} DOGE at last check): DOGE-sized orders will wait")
    if v["telegram_bot_token"] and not v["telegram_allowed_chat_ids"]:
        warnings.append("TELEGRAM_BOT_TOKEN is set but TELEGRAM_ALLOWED_CHAT_IDS is empty: the bot answers nobody")
    if bool(v["supabase_url"]) != bool(v["supabase_key"]):
        warnings.append("only one of SUPABASE_URL / SUPABASE_KEY is set: the Supabase replica stays off")


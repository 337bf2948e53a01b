"""Data model, snapshots, tagged unions and EngineConfig plumbing of the slot engine."""

from __future__ import annotations

import types

import msgspec
import pytest

from core import state_machine as sm
from core.engine_config import EngineConfig, engine_config_from
from core.market import PairRules
from tests.core.test_state_machine_builders import CFG, fill_of, order_of, s2_state, step


def _busy_state() -> sm.PairState:
    st = s2_state()
    rec = sm.RecoveryOrder(
        recovery_id=7,
        local_id=40,
        side="buy",
        price=0.095,
        volume=80.0,
        trade_id="A",
        cycle=1,
        entry_price=0.1,
        entry_fee=0.02,
        orphaned_at=900.0,
        txid="TXR",
        reason="s1_timeout",
    )
    pend = sm.PendingCancel(
        local_id=41, kind="entry", side="sell", trade_id="A", cycle=1, price=0.101, volume=99.0, txid="TXP"
    )
    return msgspec.structs.replace(
        st,
        recovery_orders=(rec,),
        pending_cancels=(pend,),
        next_order_id=50,
        next_recovery_id=8,
        long_only=True,
        mode_source="regime",
        slot_id=3,
    )


def test_pair_state_json_round_trip_is_lossless() -> None:
    st = _busy_state()
    raw = msgspec.json.encode(st)
    back = msgspec.json.decode(raw, type=sm.PairState)
    assert back == st
    assert msgspec.json.encode(back) == raw


def test_old_snapshot_without_new_fields_loads_with_defaults() -> None:
    old = (
        b'{"market_price":0.1,"now":5.0,"orders":[{"local_id":1,"side":"buy","role":"entry",'
        b'"price":0.0995,"volume":100.0,"trade_id":"B","cycle":2}],"cycle_b":2,"next_order_id":2}'
    )
    st = msgspec.json.decode(old, type=sm.PairState)
    assert st.cycle_a == 1 and st.cycle_b == 2
    assert st.orders[0].txid == "" and st.orders[0].entry_price == 0.0
    assert st.recovery_orders == () and st.pending_cancels == ()
    assert st.mode_source == "none" and st.entry_pending_a is False and st.s2_entered_at is None


def test_snapshot_with_unknown_future_fields_still_loads() -> None:
    raw = b'{"market_price":0.1,"some_future_field":{"x":1},"cycle_a":4}'
    assert msgspec.json.decode(raw, type=sm.PairState).cycle_a == 4


def test_snapshot_with_invalid_literal_is_rejected() -> None:
    raw = b'{"orders":[{"local_id":1,"side":"hold","role":"entry","price":1,"volume":1,"trade_id":"B","cycle":1}]}'
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(raw, type=sm.PairState)


def test_events_decode_as_a_tagged_union() -> None:
    events = [
        sm.PriceTick(price=0.1, timestamp=1.0),
        sm.TimerTick(timestamp=2.0),
        sm.FillEvent(order_local_id=1, txid="T", side="buy", price=0.1, volume=50.0, fee=0.01, timestamp=3.0),
        sm.RecoveryFillEvent(
            recovery_id=1, txid="T", side="sell", price=0.1, volume=5.0, fee=0.0, timestamp=4.0
        ),
        sm.RecoveryCancelEvent(
            recovery_id=1, txid="T", timestamp=5.0, executed_volume=1.0, executed_price=0.1
        ),
        sm.OrderCanceledEvent(order_local_id=2, txid="T", timestamp=6.0, executed_volume=3.0, avg_price=0.1),
    ]
    raw = msgspec.json.encode(events)
    assert msgspec.json.decode(raw, type=list[sm.Event]) == events
    assert b'"type":"price_tick"' in raw


def test_actions_decode_as_a_tagged_union() -> None:
    _, actions = step(s2_state(), fill_of(order_of(s2_state(), "B", "exit"), 2000.0))
    assert actions, "an exit fill must produce at least the booking"
    raw = msgspec.json.encode(actions)
    assert msgspec.json.decode(raw, type=list[sm.Action]) == actions


def test_structs_are_frozen() -> None:
    st = sm.PairState()
    with pytest.raises(AttributeError):
        st.cycle_a = 5  # type: ignore[misc]


def test_derive_phase_names_each_phase() -> None:
    def o(local_id: int, trade: str, role: str) -> sm.OrderState:
        side = {("A", "entry"): "sell", ("A", "exit"): "buy", ("B", "entry"): "buy", ("B", "exit"): "sell"}
        return sm.OrderState(
            local_id=local_id,
            side=side[(trade, role)],
            role=role,
            price=0.1,
            volume=60.0,
            trade_id=trade,  # type: ignore[arg-type]
            cycle=1,
            entry_price=0.1 if role == "exit" else 0.0,
        )

    assert sm.derive_phase(sm.PairState(orders=(o(1, "A", "entry"), o(2, "B", "entry")))) == "S0"
    assert sm.derive_phase(sm.PairState(orders=(o(1, "A", "exit"), o(2, "B", "entry")))) == "S1a"
    assert sm.derive_phase(sm.PairState(orders=(o(1, "A", "entry"), o(2, "B", "exit")))) == "S1b"
    assert sm.derive_phase(sm.PairState(orders=(o(1, "A", "exit"), o(2, "B", "exit")))) == "S2"
    assert sm.derive_phase(sm.PairState()) == "S0"


def test_engine_config_from_reads_settings_by_lowercase_name() -> None:
    settings = types.SimpleNamespace(
        entry_pct=0.5,
        profit_pct=0.8,
        refresh_pct=2.0,
        max_consecutive_refreshes=5,
        refresh_cooldown_sec=10.0,
        s1_orphan_after_sec=1350.0,
        s2_orphan_after_sec=1800.0,
        reentry_base_cooldown_sec=150.0,
        max_consecutive_losses=4,
        loss_cooldown_sec=60.0,
        max_recovery_slots=2,
        sticky_mode_enabled=True,
        order_size_usd=20.0,
        order_size_mode="DOGE",
        order_size_doge=18.0,
        sticky_compounding_mode="fixed",
        capital_layer_doge_per_order=2.0,
        capital_layer_balance_buffer=2.0,
        rebalance_size_sensitivity=0.5,
        rebalance_max_size_mult=2.0,
        completed_cycles_keep=50,
    )
    rules = PairRules(min_volume=13.0, maker_fee_pct=0.16)
    cfg = engine_config_from(settings, rules)
    assert cfg == EngineConfig(**vars(settings), rules=rules)
    assert cfg.maker_fee == pytest.approx(0.0016)


def test_engine_config_from_falls_back_to_defaults_for_missing_attributes() -> None:
    cfg = engine_config_from(object(), PairRules())
    assert cfg == EngineConfig(rules=PairRules())
    assert (cfg.entry_pct, cfg.profit_pct, cfg.max_recovery_slots, cfg.order_size_doge) == (
        0.35,
        1.0,
        4,
        60.0,
    )
    assert (cfg.s1_orphan_after_sec, cfg.s2_orphan_after_sec, cfg.completed_cycles_keep) == (
        86400.0,
        172800.0,
        200,
    )


def test_engine_config_from_clamps_invalid_values_to_safe_defaults() -> None:
    settings = types.SimpleNamespace(
        order_size_mode="doge",
        sticky_compounding_mode="bogus",
        max_recovery_slots=0,
        profit_pct=500.0,
        entry_pct="nan",
        completed_cycles_keep=-3,
    )
    cfg = engine_config_from(settings, PairRules())
    assert cfg.order_size_mode == "DOGE"  # case-insensitive
    assert cfg.sticky_compounding_mode == "legacy_profit"
    assert cfg.max_recovery_slots == 1
    assert cfg.profit_pct == 50.0
    assert cfg.entry_pct == 0.35
    assert cfg.completed_cycles_keep == 1


def test_engine_config_takes_fees_and_minimums_from_pair_rules() -> None:
    assert CFG.rules == PairRules()
    assert (CFG.rules.min_volume, CFG.rules.min_cost_usd, CFG.rules.price_decimals) == (50.0, 0.5, 7)
    assert CFG.maker_fee == pytest.approx(0.0025)

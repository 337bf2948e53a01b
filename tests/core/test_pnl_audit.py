"""P&L audit (`audit_pnl`)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import pnl_audit as pa
from core import state_machine as sm
from core.pnl_audit import SlotLedger
from core.slot_types import CycleRecord

FEE = 0.0025  # maker 0.25 %


def cycle(trade: str, n: int, entry: float, exit_: float, volume: float = 100.0, **kw: object) -> CycleRecord:
    gross = pa.expected_gross(trade, entry, exit_, volume)
    entry_fee = entry * volume * FEE
    exit_fee = exit_ * volume * FEE
    fields: dict[str, object] = {
        "trade_id": trade,
        "cycle": n,
        "entry_price": entry,
        "exit_price": exit_,
        "volume": volume,
        "gross_profit": gross,
        "fees": entry_fee + exit_fee,
        "net_profit": gross - entry_fee - exit_fee,
        "entry_fee": entry_fee,
        "exit_fee": exit_fee,
    }
    fields.update(kw)
    return CycleRecord(**fields)  # type: ignore[arg-type]


CYCLES = [cycle("A", 1, 0.1010, 0.1000), cycle("B", 1, 0.1000, 0.1012), cycle("B", 2, 0.1000, 0.0950)]


def ledger(cycles: list[CycleRecord] = CYCLES, **kw: object) -> SlotLedger:
    fields: dict[str, object] = {
        "slot_id": 1,
        "total_profit": sum(c.net_profit for c in cycles),
        "total_fees": sum(c.fees for c in cycles),
        "cycles": cycles,
    }
    fields.update(kw)
    return SlotLedger(**fields)  # type: ignore[arg-type]


def test_expected_gross_by_trade_direction() -> None:
    assert pa.expected_gross("A", 0.11, 0.10, 100) == pytest.approx(1.0)  # short gains when price falls
    assert pa.expected_gross("B", 0.10, 0.11, 100) == pytest.approx(1.0)  # long gains when price rises
    assert pa.expected_gross("B", 0.11, 0.10, 100) == pytest.approx(-1.0)


def test_audit_consistent_slot_is_ok() -> None:
    report = pa.audit_pnl([ledger()])
    assert report.ok
    assert report.slots[0].cycles == 3
    assert report.slots[0].profit_diff == pytest.approx(0.0, abs=1e-12)
    assert report.summary.startswith("P&L audit ok")


def test_audit_reports_running_total_discrepancy_per_slot() -> None:
    good = ledger()
    bad = ledger(slot_id=2, total_profit=good.total_profit + 0.01)
    report = pa.audit_pnl([bad, good])
    assert not report.ok
    assert [s.slot_id for s in report.slots] == [1, 2]
    assert report.slots[0].ok
    assert not report.slots[1].ok
    assert report.slots[1].profit_diff == pytest.approx(0.01)
    assert "slot 2: total_profit" in report.summary


def test_audit_tolerance() -> None:
    slightly = ledger(total_profit=ledger().total_profit + 5e-7)
    assert pa.audit_pnl([slightly]).ok
    assert not pa.audit_pnl([slightly], tolerance=1e-8).ok


def test_audit_fees_include_entry_fees_of_open_positions() -> None:
    open_fee = 0.025
    with_open = ledger(total_fees=ledger().total_fees + open_fee)
    assert not pa.audit_pnl([with_open]).ok
    assert pa.audit_pnl([ledger(total_fees=ledger().total_fees + open_fee, open_entry_fees=open_fee)]).ok


def test_audit_flags_cycle_whose_net_is_not_gross_minus_fees() -> None:
    broken = cycle("A", 7, 0.1010, 0.1000, net_profit=0.5)
    report = pa.audit_slot(ledger([*CYCLES, broken]))
    assert not report.ok
    assert [(m.trade_id, m.cycle, m.field) for m in report.cycle_mismatches] == [("A", 7, "net_profit")]


def test_audit_flags_cycle_whose_gross_does_not_match_prices() -> None:
    broken = cycle("B", 8, 0.1000, 0.1012, gross_profit=0.5, net_profit=0.5 - cycle("B", 8, 0.1, 0.1012).fees)
    report = pa.audit_slot(ledger([broken]))
    assert [m.field for m in report.cycle_mismatches] == ["gross_profit"]


def test_audit_adjustment_cycles_skip_the_gross_check() -> None:
    adj = CycleRecord(
        trade_id="B", cycle=3, entry_price=0.0, exit_price=0.0, volume=0.0,
        gross_profit=0.02, fees=0.0, net_profit=0.02, close_reason="adjustment",
    )
    assert pa.audit_slot(ledger([adj])).ok


def test_audit_archived_totals_cover_trimmed_history() -> None:
    recent = CYCLES[1:]
    full = ledger()
    trimmed = SlotLedger(
        slot_id=1,
        total_profit=full.total_profit,
        total_fees=full.total_fees,
        cycles=recent,
        archived_profit=CYCLES[0].net_profit,
        archived_fees=CYCLES[0].fees,
        archived_count=1,
    )
    report = pa.audit_slot(trimmed)
    assert report.ok and report.cycles == 3


def test_audit_empty_slot_and_no_slots() -> None:
    assert pa.audit_pnl([ledger([])]).ok
    empty = pa.audit_pnl([])
    assert empty.ok and empty.slots == []


def test_report_serialises_to_json() -> None:
    report = pa.audit_pnl([ledger(total_profit=1.0)])
    data = msgspec.json.decode(msgspec.json.encode(report))
    assert data["ok"] is False
    assert data["slots"][0]["problems"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B"]),
            st.floats(min_value=0.01, max_value=1.0),
            st.floats(min_value=0.01, max_value=1.0),
            st.floats(min_value=13.0, max_value=10_000.0),
        ),
        max_size=30,
    )
)
def test_property_totals_booked_from_cycles_always_audit_ok(trades: list[tuple[str, float, float, float]]) -> None:
    cycles = [cycle(t, i + 1, e, x, v) for i, (t, e, x, v) in enumerate(trades)]
    total_profit = 0.0
    total_fees = 0.0
    for c in cycles:  # book one at a time, like the reducer does
        total_profit += c.net_profit
        total_fees += c.fees
    report = pa.audit_pnl([SlotLedger(slot_id=1, total_profit=total_profit, total_fees=total_fees, cycles=cycles)])
    assert report.ok, report.summary


# ------------------------------------------------------------- against the real slot reducer


def _fill(st: sm.PairState, trade: str, role: str, ts: float) -> sm.PairState:
    order = next(o for o in st.orders if o.trade_id == trade and o.role == role)
    event = sm.FillEvent(
        order_local_id=order.local_id,
        txid=order.txid or f"TX{order.local_id}",
        side=order.side,
        price=order.price,
        volume=order.volume,
        fee=round(order.price * order.volume * 0.0025, 8),
        timestamp=ts,
    )
    st2, _ = sm.transition(st, event, sm.EngineConfig(), 10.0)
    return st2


def test_ledger_from_reducer_state_audits_ok_with_positions_open_and_closed() -> None:
    st, _ = sm.bootstrap_orders(sm.PairState(slot_id=4, market_price=0.1, now=1000.0), sm.EngineConfig(), 10.0)
    for o in st.orders:
        st = sm.bind_txid(st, o.local_id, f"TX{o.local_id}")
    st = _fill(st, "B", "entry", 1010.0)
    st = _fill(st, "A", "entry", 1020.0)
    open_report = pa.audit_slot(pa.ledger_from_state(st))
    assert open_report.ok, open_report.problems  # entry fees of open exits are accounted for
    assert open_report.recomputed_fees > 0
    st = _fill(st, "B", "exit", 1030.0)
    st = _fill(st, "A", "exit", 1040.0)
    report = pa.audit_pnl([pa.ledger_from_state(st)])
    assert report.ok, report.summary
    assert report.slots[0].cycles == 2
    tampered = pa.ledger_from_state(msgspec.structs.replace(st, total_profit=st.total_profit + 0.01))
    assert not pa.audit_slot(tampered).ok

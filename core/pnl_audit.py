"""P&L audit (`audit_pnl`, STATE_MACHINE.md §22): recompute each slot's P&L from its completed
cycles and compare it with the running totals the reducer keeps.

Checks, each within `tolerance` USD:
* profit: total_profit == sum(cycle.net_profit);
* fees:   total_fees == sum(cycle.fees) + open_entry_fees. Entry fees are booked into total_fees
  when the entry fills (§7.3), before the cycle closes, so the fees of positions still open
  (exits, recoveries, pending cancels carrying an entry_fee) must be added back;
* per cycle: net_profit == gross_profit - fees, and gross_profit == the price move times volume
  (A, the short: (entry - exit) x volume; B, the long: (exit - entry) x volume). Pseudo-cycles
  whose prices are not a real round trip ('adjustment', 'dust_writeoff') skip the gross check.

The cycles must be the slot's full history (the store keeps them all; a slot's in-memory window
is only the recent part), or pass what was trimmed as `archived_*` sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from core.slot_types import PairState

DEFAULT_TOLERANCE_USD = 1e-6
# Close reasons whose prices are not entry/exit of a full round trip: only net = gross - fees holds.
NO_GROSS_CHECK = frozenset({"adjustment", "dust_writeoff"})


class CycleLike(Protocol):
    """The CycleRecord fields the audit reads (core.slot_types.CycleRecord has them all)."""

    @property
    def trade_id(self) -> str: ...
    @property
    def cycle(self) -> int: ...
    @property
    def entry_price(self) -> float: ...
    @property
    def exit_price(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def gross_profit(self) -> float: ...
    @property
    def fees(self) -> float: ...
    @property
    def net_profit(self) -> float: ...
    @property
    def close_reason(self) -> str: ...


class SlotLedger(msgspec.Struct, frozen=True, kw_only=True):
    """One slot's running totals and its cycle history, as the audit's input."""

    slot_id: int
    total_profit: float
    total_fees: float
    cycles: Sequence[CycleLike]
    open_entry_fees: float = 0.0
    archived_profit: float = 0.0  # net profit of cycles not included in `cycles`
    archived_fees: float = 0.0
    archived_count: int = 0


class CycleMismatch(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: str
    cycle: int
    field: str  # 'net_profit' | 'gross_profit'
    recorded: float
    expected: float


class SlotAudit(msgspec.Struct, frozen=True, kw_only=True):
    slot_id: int
    ok: bool
    cycles: int
    recorded_profit: float
    recomputed_profit: float
    profit_diff: float  # recorded - recomputed
    recorded_fees: float
    recomputed_fees: float
    fees_diff: float
    cycle_mismatches: list[CycleMismatch]
    problems: list[str]


class PnlAuditReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    tolerance: float
    slots: list[SlotAudit]
    total_recorded_profit: float
    total_recomputed_profit: float
    total_recorded_fees: float
    total_recomputed_fees: float
    summary: str


def expected_gross(trade_id: str, entry_price: float, exit_price: float, volume: float) -> float:
    """A (short: sell entry, buy exit) earns entry - exit; B (long) earns exit - entry."""
    move = entry_price - exit_price if trade_id == "A" else exit_price - entry_price
    return move * volume


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def ledger_from_state(state: PairState, cycles: Sequence[CycleLike] | None = None) -> SlotLedger:
    """A SlotLedger from a slot's state. `cycles`: the slot's full history from the store; without
    it the in-memory window is used, which is complete only while no cycle has been trimmed.
    Open entry fees are those still carried by working exits and recovery orders."""
    open_fees = sum(o.entry_fee for o in state.orders if o.role == "exit")
    open_fees += sum(r.entry_fee for r in state.recovery_orders)
    return SlotLedger(
        slot_id=state.slot_id,
        total_profit=state.total_profit,
        total_fees=state.total_fees,
        cycles=list(state.completed_cycles) if cycles is None else cycles,
        open_entry_fees=open_fees,
    )


def audit_slot(ledger: SlotLedger, tolerance: float = DEFAULT_TOLERANCE_USD) -> SlotAudit:
    mismatches: list[CycleMismatch] = []
    profit = ledger.archived_profit
    fees = ledger.archived_fees
    for c in ledger.cycles:
        profit += c.net_profit
        fees += c.fees
        if not _close(c.net_profit, c.gross_profit - c.fees, tolerance):
            mismatches.append(
                CycleMismatch(
                    trade_id=c.trade_id,
                    cycle=c.cycle,
                    field="net_profit",
                    recorded=c.net_profit,
                    expected=c.gross_profit - c.fees,
                )
            )
        if c.close_reason not in NO_GROSS_CHECK:
            gross = expected_gross(c.trade_id, c.entry_price, c.exit_price, c.volume)
            # Price x volume rounding grows with the notional: allow the tolerance per unit of it.
            tol = max(tolerance, tolerance * abs(c.volume * c.exit_price))
            if not _close(c.gross_profit, gross, tol):
                mismatches.append(
                    CycleMismatch(
                        trade_id=c.trade_id, cycle=c.cycle, field="gross_profit", recorded=c.gross_profit, expected=gross
                    )
                )
    fees += ledger.open_entry_fees
    problems: list[str] = []
    if not _close(ledger.total_profit, profit, tolerance):
        problems.append(
            f"slot {ledger.slot_id}: total_profit {ledger.total_profit:.8f} != sum of cycles {profit:.8f} "
            f"(diff {ledger.total_profit - profit:+.8f})"
        )
    if not _close(ledger.total_fees, fees, tolerance):
        problems.append(
            f"slot {ledger.slot_id}: total_fees {ledger.total_fees:.8f} != cycle fees + open entry fees {fees:.8f} "
            f"(diff {ledger.total_fees - fees:+.8f})"
        )
    for m in mismatches:
        problems.append(
            f"slot {ledger.slot_id} {m.trade_id}{m.cycle}: {m.field} {m.recorded:.8f} != {m.expected:.8f}"
        )
    return SlotAudit(
        slot_id=ledger.slot_id,
        ok=not problems,
        cycles=len(ledger.cycles) + ledger.archived_count,
        recorded_profit=ledger.total_profit,
        recomputed_profit=profit,
        profit_diff=ledger.total_profit - profit,
        recorded_fees=ledger.total_fees,
        recomputed_fees=fees,
        fees_diff=ledger.total_fees - fees,
        cycle_mismatches=mismatches,
        problems=problems,
    )


def audit_pnl(ledgers: Iterable[SlotLedger], tolerance: float = DEFAULT_TOLERANCE_USD) -> PnlAuditReport:
    """Audit every slot; the report is ok only when every slot is."""
    slots = [audit_slot(ledger, tolerance) for ledger in sorted(ledgers, key=lambda s: s.slot_id)]
    bad = [s for s in slots if not s.ok]
    rec_profit = sum(s.recorded_profit for s in slots)
    calc_profit = sum(s.recomputed_profit for s in slots)
    if bad:
        summary = f"P&L audit: {len(bad)} of {len(slots)} slot(s) disagree: " + "; ".join(
            p for s in bad for p in s.problems[:3]
        )
    else:
        summary = f"P&L audit ok: {len(slots)} slot(s), total profit ${rec_profit:.6f}"
    return PnlAuditReport(
        ok=not bad,
        tolerance=tolerance,
        slots=slots,
        total_recorded_profit=rec_profit,
        total_recomputed_profit=calc_profit,
        total_recorded_fees=sum(s.recorded_fees for s in slots),
        total_recomputed_fees=sum(s.recomputed_fees for s in slots),
        summary=summary,
    )

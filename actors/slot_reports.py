"""What a slot tells the rest of the system after each change: SlotStatus and SlotReport.

`SlotReporter` collects the slot's counters and the telemetry facts that happened since the last
report (booked cycles, partial fills, fill durations, rejects) and builds both messages.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from actors.internal import SlotReport
from actors.messages import Fill
from actors.slot_io import Target, reserved, slot_status, targets
from actors.status import FillMarker, SlotEvent, SlotStatus
from core import bootstrap, layer_propagation, sizing
from core import state_machine as sm
from core.recovery_ops import RecoveryView
from store.rows import EventRow

COUNTERS = ("fills_booked", "duplicate_fills_ignored", "cycles_booked", "orders_placed", "orders_rejected",
            "orders_canceled", "invariant_halts", "unknown_reports",
            # uncertain reports (actors/slot_exec.py): add_order timeouts, executions booked at the
            # limit price after giving up on their reports, held-back exit re-issues, refused events,
            # cancels answered "unknown order" (a benign race: neither a reject nor an API error)
            "orders_unconfirmed", "fill_gaps", "exit_retries_held", "events_rejected", "cancel_unknown")


class SlotReporter:
    def __init__(self, slot_id: int) -> None:
        self.slot_id = slot_id
        self.counters: Counter[str] = Counter({k: 0 for k in COUNTERS})
        self.events: deque[SlotEvent] = deque(maxlen=10)
        self.store_failing = False
        self._booked: list[tuple[float, float]] = []
        self._partial_open: list[tuple[str, float]] = []
        self._partial_cancel: list[float] = []
        self._durations: list[tuple[float, float]] = []
        self._fills: list[FillMarker] = []
        self._rejects: list[str] = []
        self._accepts = 0

    # ------------------------------------------------------------------ facts

    def cycle(self, record: sm.CycleRecord) -> None:
        self.counters["cycles_booked"] += 1
        self._booked.append((record.exit_time, record.net_profit))

    def event(self, row: EventRow) -> None:
        detail = ",".join(row.details.get("actions", [])) if isinstance(row.details, dict) else ""
        self.events.append(SlotEvent(ts=row.ts, event_type=row.event_type, from_state=row.from_state or "",
                                     to_state=row.to_state or "", details=detail))

    def accepted(self) -> None:
        self.counters["orders_placed"] += 1
        self._accepts += 1

    def reject(self, error: str) -> None:
        self.counters["orders_rejected"] += 1
        self._rejects.append(error)

    def partial_open(self, txid: str, ts: float) -> None:
        self._partial_open.append((txid, ts))

    def partial_cancel(self, ts: float) -> None:
        self._partial_cancel.append(ts)

    def duration(self, ts: float, seconds: float) -> None:
        self._durations.append((ts, seconds))

    def fill(self, slot_id: int, t: Target, ev: Fill) -> None:
        self._fills.append(FillMarker(ts=ev.ts, slot_id=slot_id, side=t.side, role=t.role, price=ev.last_price,
                                      volume=ev.last_qty))

    # ------------------------------------------------------------------ messages

    def build(
        self,
        *,
        state: sm.PairState,
        alias: str,
        now: float,
        cfg: sm.EngineConfig,
        sizes: sizing.TradeSizes,
        cl_of: dict[int, str],
        halted: bool,
        halt_reason: str,
        retiring: bool,
        ledger: Any = None,
        layer_tags: dict[int, int] | None = None,
    ) -> tuple[SlotStatus, SlotReport]:
        market = state.market_price
        volume = sizing.entry_volume(sizes, "B", market, cfg).volume if market > 0 else None
        min_wait = market > 0 and volume is None
        waiting = ""
        if halted:
            waiting = "halted"
        elif retiring:
            waiting = "retiring: exits stay until they close"
        elif min_wait:
            waiting = "order size below Kraken minimum; waiting"
        elif state.now < max(state.cooldown_until_a, state.cooldown_until_b):
            waiting = "re-entry cooldown"
        status = slot_status(
            state=state, alias=alias, now=now, order_size_usd=sizes.b if sizes.unit == "USD" else sizes.b * market,
            cl_of=cl_of, recent_events=list(self.events), halted=halted, halt_reason=halt_reason,
            waiting_reason=waiting, slot_id=self.slot_id,
        )
        all_targets = targets(state)
        usd_res, doge_res = reserved(state, cfg.rules.maker_fee_pct)
        orders = state.orders
        facts = bootstrap.SlotFacts(
            slot_id=self.slot_id, long_only=state.long_only, short_only=state.short_only,
            mode_source=state.mode_source,
            has_entry_a=any(o.trade_id == "A" and o.role == "entry" for o in orders),
            has_entry_b=any(o.trade_id == "B" and o.role == "entry" for o in orders),
            has_exit_a=any(o.trade_id == "A" and o.role == "exit" for o in orders),
            has_exit_b=any(o.trade_id == "B" and o.role == "exit" for o in orders),
            cooldown_until_a=state.cooldown_until_a, cooldown_until_b=state.cooldown_until_b,
        )
        recoveries = [
            RecoveryView(slot_id=self.slot_id, recovery_id=r.recovery_id, side=r.side, price=r.price,
                         volume=r.volume, entry_price=r.entry_price, orphaned_at=r.orphaned_at, txid=r.txid)
            for r in state.recovery_orders
        ]
        report = SlotReport(
            slot_id=self.slot_id,
            alias=alias,
            phase=status.phase,
            halted=halted,
            halt_reason=halt_reason,
            retiring=retiring,
            retired=retiring and not all_targets,
            empty=not orders and not state.pending_cancels,
            facts=facts,
            open_orders=sum(1 for t in all_targets if t.kind != "pending"),
            recoveries=recoveries,
            tracked_txids=[t.txid for t in all_targets if t.txid],
            tracked_cl_ord_ids=[cl_of[t.local_id] for t in all_targets if t.local_id in cl_of],
            exits=[(o.local_id, o.price, o.volume, o.entry_filled_at) for o in orders if o.role == "exit"],
            usd_reserved=usd_res,
            doge_reserved=doge_res,
            order_volume=volume,
            min_size_wait=min_wait,
            total_profit=state.total_profit,
            counters=dict(self.counters),
            booked=self._booked,
            partial_open=self._partial_open,
            partial_cancel=self._partial_cancel,
            fill_durations=self._durations,
            fills=self._fills,
            rejects=self._rejects,
            accepts=self._accepts,
            store_failing=self.store_failing,
            ledger=ledger,
            layer_counts=layer_propagation.counts(state, layer_tags or {}),
            today_loss=(state.loss_day, state.today_realized_loss),
        )
        self._booked, self._partial_open, self._partial_cancel = [], [], []
        self._durations, self._fills, self._rejects, self._accepts = [], [], [], 0
        return status, report


def report_summary(report: SlotReport) -> dict[str, Any]:
    """A compact dict of a report (logs, tests)."""
    return {"slot": report.slot_id, "phase": report.phase, "open": report.open_orders,
            "halted": report.halted, "profit": round(report.total_profit, 6)}

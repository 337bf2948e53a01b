"""Messages that only travel between the runtime's own actors.

The exchange protocol lives in `actors/messages.py`, operator commands in `actors/commands.py`,
status in `actors/status.py`. These are the internal signals: loop ticks, routing tables,
order submissions with their scheduling class, slot instructions and reports, supervision.
Fields typed `Any` carry actor references or core objects (never serialised).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from actors.messages import AmendOrder, CancelOrder, PlaceOrder
from actors.status import (
    Balances,
    CapacityFillHealth,
    CapitalLayers,
    ConnectionStatus,
    Counters,
    EntrySchedulerStatus,
    FillMarker,
    OpenOrderDriftHint,
    RecoverySummary,
    StartupTimings,
)


class Internal(msgspec.Struct, frozen=True, kw_only=True):
    """Base of internal messages."""


# --------------------------------------------------------------------------- clock


class LoopTick(Internal):
    """One iteration of the runtime loop (§4) at `now`."""

    now: float
    seq: int


class StatusFlush(Internal):
    """Wall-clock pulse: the status board may push a coalesced snapshot."""

    now: float


class AdvanceTo(Internal):
    """Backtest driver -> clock: move virtual time to `ts` and run one loop."""

    ts: float


# --------------------------------------------------------------------------- wiring and inspection


class Wire(Internal):
    """Set actor references after start (the graph has cycles: router <-> runtime)."""

    refs: dict[str, Any]


class Inspect(Internal):
    """An `ask` from outside (start-up, tests, CLI): return a plain view of `what`."""

    what: str = "state"


# --------------------------------------------------------------------------- routing


class SetRoute(Internal):
    """Register (ref) or drop (ref None) the actor owning orders of `kind`/`slot_id`."""

    kind: str
    slot_id: int
    ref: Any = None


class LearnOrder(Internal):
    """Tell the router an order id's client id (orders restored from a snapshot)."""

    order_id: str
    cl_ord_id: str


class CensusRequest(Internal):
    """Runtime -> router: report the exchange-side open-order census."""

    now: float


class OpenOrderCensus(Internal):
    """Router -> runtime: open orders on the exchange (None until the first snapshot)."""

    kraken_open: int | None
    orders: list[tuple[str, str | None]]  # (order_id, cl_ord_id) of every open order
    foreign: int  # how many of them no registered actor owns
    unrouted_total: int


class ReconcileDriftNow(Internal):
    """Runtime -> router: cancel open orders of ours that no slot tracks, judged on the router's
    live open-order view (the runtime's census may be a loop old)."""

    tracked_txids: list[str]
    tracked_cl_ord_ids: list[str]


class OrderDone(Internal):
    """Router -> rate budget: an order left the book (filled, canceled) or never entered it."""

    cl_ord_id: str | None
    order_id: str | None


# --------------------------------------------------------------------------- rate budget

EntrySource = Literal["normal", "bootstrap", "bootstrap_regime", "auto_repair", "refresh", "follow_up"]


class Submit(Internal):
    """Slot -> rate budget: an order intent and its scheduling class."""

    slot_id: int
    intent: PlaceOrder | CancelOrder | AmendOrder
    is_entry: bool = False
    source: str = "normal"
    placed_at: float = 0.0  # for cancels/amends: when the order was placed (rate-counter penalty)
    reply_to: Any = None  # the slot, told `Withdrawn` when a queued placement is cancelled here


class Withdrawn(Internal):
    """Rate budget -> slot: a placement still queued was cancelled before it reached the exchange."""

    cl_ord_id: str


class SchedulerReport(Internal):
    """Rate budget -> status board, once per loop."""

    scheduler: EntrySchedulerStatus
    throttled: int
    trading_counter: float


class LoopBegin(Internal):
    """Runtime -> rate budget: a new loop; open-order headroom sets this loop's entry cap."""

    now: float
    headroom: int
    paused: bool = False


class LoopEnd(Internal):
    """Runtime -> rate budget: end of loop work (post-tick drain)."""

    now: float


class FlushIntents(Internal):
    """Backtest driver -> rate budget: forward the held intents in deterministic order."""

    now: float


class DropPending(Internal):
    """Runtime -> rate budget: forget deferred entries of a slot (removed or halted)."""

    slot_id: int


# --------------------------------------------------------------------------- slots


class SlotTick(Internal):
    """Runtime -> slot, once per loop: apply PriceTick (when a price is known) then TimerTick."""

    now: float
    price: float
    price_ts: float
    layers: int = 0


class MarketPrice(Internal):
    """Runtime -> slots when the price moved noticeably between loops: remembered, not applied.

    A slot applies it as a PriceTick only before it must re-place an entry right away (a post-only
    entry crossed a moved market), so the new entry is priced from the market, not from the last loop.
    """

    price: float
    ts: float


class BootstrapSlot(Internal):
    """Runtime -> slot: place fresh entries per the §8 plan (core/bootstrap.py)."""

    now: float
    which: Literal["both", "A", "B"]
    mode_source: str = "balance"
    source: str = "bootstrap"
    doge_volume: float | None = None  # reseed/degraded volume (DOGE); None = the slot's own size


class RepairSlot(Internal):
    """Runtime -> slot: restore a degraded slot's missing entry (auto-repair)."""

    now: float
    trade_id: Literal["A", "B"]
    doge_volume: float


class Reconfigure(Internal):
    """Runtime -> slot: new engine knobs (set_entry_pct / set_profit_pct / rules) or layers."""

    cfg: Any
    layers: int = 0


class SoftCloseRecovery(Internal):
    """Runtime -> slot: reprice a recovery towards the market (amend in place)."""

    recovery_id: int
    price: float
    now: float
    reason: str = "soft_close"


class ReleaseExit(Internal):
    """Runtime -> slot: sticky release of a waiting exit at `price`."""

    local_id: int
    price: float
    now: float


class RetireSlot(Internal):
    """Runtime -> slot: remove_slot. Entries are cancelled, exits stay tracked until they close."""

    now: float


class ReconcileOpen(Internal):
    """Router -> slots: the exchange's open orders (after an executions snapshot / at start-up).

    Tracked orders not open are gone (their fills were delivered before this message); unbound
    orders found open are bound; at start-up unbound orders not found are placed again.

    Absence alone is evidence of an end only when the list is complete and the order's fate is
    known: `complete` False (no snapshot and no REST list) means only bind, never close, re-place
    or cancel; `unresolved` names exchange ids whose final state could not be fetched: they stay
    tracked until a later reconcile resolves them (actors/reconcile.py).
    """

    open_orders: dict[str, str | None]  # order_id -> cl_ord_id
    startup: bool
    now: float
    complete: bool = True
    unresolved: frozenset[str] = frozenset()
    # Sent at the end of an executions snapshot (in stream order): only then is "not listed"
    # evidence that an add_order which timed out before it never reached the exchange.
    snapshot: bool = False


class BroadcastReconcile(Internal):
    """Start-up / supervisor -> router: send ReconcileOpen to every slot (or one) in stream order.

    The slots are told the router's own census (the executions stream's view) as it stands when the
    router handles this message. `base_open` (start-up without an executions snapshot: REST
    OpenOrders read before the missed-fill replay) is merged into it, never used alone: minus the
    orders the router has since seen close, plus every order it knows open. A list read earlier can
    only be staler than the stream for orders the stream reported; used verbatim it would call an
    order acknowledged since open-and-closed, its slot would place it again and the first copy would
    stay live and unmanaged. Once an executions snapshot has been seen, the base is ignored: the
    snapshot is the exchange's later truth and replaced the census.
    Always merged, no "verbatim" mode: a list a caller read earlier can never be truer than what
    the stream has delivered since, so no caller could rightly want it to override the census.
    Renamed from `open_orders` so a caller written for the old verbatim meaning fails loudly
    (unexpected keyword) instead of silently changing meaning.
    """

    startup: bool
    now: float
    base_open: dict[str, str | None] | None = None
    slot_id: int | None = None
    complete: bool = True  # passed on to ReconcileOpen
    unresolved: frozenset[str] = frozenset()  # passed on to ReconcileOpen
    # The router's census_epoch the caller computed `unresolved` against; a newer executions
    # snapshot since makes the router refuse the broadcast (answer STALE): redo the pass.
    epoch: int | None = None


STALE = -1  # RouterActor's answer to a BroadcastReconcile computed against a replaced census


class ReconcileAll(Internal):
    """-> supervisor: replay what the slots may have missed and reconcile them all (a reconnect
    snapshot whose fills are incomplete, or a retry of a reconcile that left orders unresolved)."""

    startup: bool
    why: str
    attempt: int = 1


class SlotSpawned(Internal):
    """System / supervisor -> runtime: a slot actor (re)started; route its reports and ticks."""

    slot_id: int
    ref: Any


class SetRules(Internal):
    """Start-up -> runtime: exchange constraints and fee rates read at start-up (REST)."""

    rules: Any  # core.market.PairRules


class SlotReport(Internal):
    """Slot -> runtime after every change: what the coordinator needs to decide and to report."""

    slot_id: int
    alias: str
    phase: str
    halted: bool
    halt_reason: str
    retiring: bool
    retired: bool
    empty: bool  # no active order: a bootstrap candidate
    facts: Any  # core.bootstrap.SlotFacts
    open_orders: int
    recoveries: list[Any]  # core.recovery_ops.RecoveryView
    tracked_txids: list[str]
    tracked_cl_ord_ids: list[str]
    exits: list[tuple[int, float, float, float]]  # (local_id, price, volume, entry_filled_at), sticky release
    usd_reserved: float
    doge_reserved: float
    order_volume: float | None
    min_size_wait: bool
    total_profit: float
    counters: dict[str, int]
    booked: list[tuple[float, float]] = []  # (exit_time, net_profit) booked since the last report
    partial_open: list[tuple[str, float]] = []
    partial_cancel: list[float] = []
    fill_durations: list[tuple[float, float]] = []
    fills: list[FillMarker] = []
    rejects: list[str] = []
    accepts: int = 0
    store_failing: bool = False
    ledger: Any = None  # core.pnl_audit.SlotLedger, sent when the cycle history changed
    layer_counts: dict[int, int] = {}  # active orders by the capital layers they carry (-1 = unknown)
    today_loss: tuple[int, float] = (0, 0.0)  # (loss_day, today_realized_loss) of the slot's books


class RegimeUpdate(Internal):
    """Regime tier and directional suppression (a regime actor, config or tests send it)."""

    tier: int = 0
    suppressed_side: Literal["A", "B"] | None = None
    tier2_cooldown_until: float = 0.0


class BudgetMode(Internal):
    """Runtime -> rate budget: paused (entries wait in the deferred queue) or running."""

    paused: bool


# --------------------------------------------------------------------------- status


class Subscribe(Internal):
    """Register a sink (anything with a thread-safe `.tell`) for status snapshots and/or alerts.

    Snapshots are pushed on change, at most `max_per_sec` per second per subscriber.
    """

    sink: Any
    status: bool = True
    alerts: bool = True
    max_per_sec: float = 4.0


class Unsubscribe(Internal):
    sink: Any


class GetStatus(Internal):
    """Ask the status board for the current StatusSnapshot (from outside the system)."""


class RuntimeReport(Internal):
    """Runtime -> status board: every block of the snapshot the coordinator owns."""

    ts: float
    venue: str
    mode: str
    pause_reason: str
    halt_reason: str
    price: float
    price_ts: float
    entry_pct: float
    profit_pct: float
    today_realized_pnl: float
    daily_loss_limit: float
    daily_realized_loss_utc: float
    daily_loss_lock_active: bool
    daily_loss_lock_utc_day: str
    balances: Balances
    connection: ConnectionStatus
    capacity_fill_health: CapacityFillHealth
    open_order_drift_hint: OpenOrderDriftHint
    recoveries: RecoverySummary
    counters: Counters
    recent_fills: list[FillMarker] = []
    capital_layers: CapitalLayers | None = None
    startup: StartupTimings | None = None
    sticky_mode_enabled: bool = False


class SlotGone(Internal):
    """Runtime -> status board: a slot was removed; drop its last report."""

    slot_id: int


# --------------------------------------------------------------------------- supervision and faults


class InjectCrash(Internal):
    """Fault injection: the receiving slot actor raises while handling this message."""

    reason: str = "injected"


class SlotFailed(Internal):
    """Slot actor's on_failure -> supervisor."""

    slot_id: int
    error: str


class RestartSlot(Internal):
    """Runtime -> supervisor: restart a (halted) slot from its last persisted state."""

    slot_id: int
    clear_halt: bool = False


class StoreFault(Internal):
    """Fault injection: the store fails the next `count` writes."""

    count: int = 1

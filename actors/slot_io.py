"""The slot actor's translations: core actions <-> exchange intents, state <-> snapshot, status.

Pure functions over core data (no actor state), so the slot actor stays a thin shell.
"""

from __future__ import annotations

import math

import msgspec

from actors.messages import CancelOrder, PlaceOrder
from actors.status import CycleInfo, OrderInfo, RecoveryInfo, SlotEvent, SlotStatus
from core import order_ids
from core import state_machine as sm
from core.market import PairRules

SNAPSHOT_VERSION = 1


def state_key(slot_id: int) -> str:
    return f"slot:{slot_id}"


class SlotSnapshot(msgspec.Struct, kw_only=True):
    """What the store keeps per slot. Fields added later must have defaults (old snapshots load)."""

    version: int = SNAPSHOT_VERSION
    slot_id: int
    alias: str = ""
    state: sm.PairState
    halted: bool = False
    halt_reason: str = ""
    retiring: bool = False
    # Cycles trimmed out of the state's in-memory window, so audit_pnl still sees the whole history.
    archived_profit: float = 0.0
    archived_fees: float = 0.0
    archived_count: int = 0
    # Local order id -> capital layers the order was sized with (core/layer_propagation).
    layer_tags: dict[int, int] = {}


_snapshot_decoder = msgspec.json.Decoder(SlotSnapshot)


def encode_snapshot(snap: SlotSnapshot) -> bytes:
    return msgspec.json.encode(snap)


def decode_snapshot(raw: bytes) -> SlotSnapshot:
    return _snapshot_decoder.decode(raw)


# --------------------------------------------------------------------------- order identity


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A tracked exchange order of the slot: an active order, a recovery or a pending cancel."""

    kind: str  # order | recovery | pending
    local_id: int
    txid: str
    side: str
    price: float
    volume: float
    trade_id: str
    cycle: int
    role: str  # entry | exit | recovery
    placed_at: float = 0.0
    recovery_id: int = 0


def targets(state: sm.PairState) -> list[Target]:
    out = [
        Target(kind="order", local_id=o.local_id, txid=o.txid, side=o.side, price=o.price, volume=o.volume,
               trade_id=o.trade_id, cycle=o.cycle, role=o.role, placed_at=o.placed_at)
        for o in state.orders
    ]
    out += [
        Target(kind="recovery", local_id=r.local_id, txid=r.txid, side=r.side, price=r.price, volume=r.volume,
               trade_id=r.trade_id, cycle=r.cycle, role="recovery", placed_at=r.orphaned_at,
               recovery_id=r.recovery_id)
        for r in state.recovery_orders
        if r.local_id > 0
    ]
    out += [
        Target(kind="pending", local_id=p.local_id, txid=p.txid, side=p.side, price=p.price, volume=p.volume,
               trade_id=p.trade_id, cycle=p.cycle, role="recovery" if p.kind == "recovery" else p.kind,
               placed_at=p.placed_at, recovery_id=p.recovery_id)
        for p in state.pending_cancels
    ]
    return out


def find_target(state: sm.PairState, order_id: str | None, cl_ord_id: str | None, slot_id: int) -> Target | None:
    """The tracked order an execution report is about: by exchange id, else by our client id."""
    all_targets = targets(state)
    if order_id:
        for t in all_targets:
            if t.txid == order_id:
                return t
    if cl_ord_id:
        owner = order_ids.decode(cl_ord_id)
        if owner is not None and owner.slot_id == slot_id:
            for t in all_targets:
                # An order already bound to another exchange id is not this report's order.
                if t.local_id == owner.local_id and (not t.txid or not order_id or t.txid == order_id):
                    return t
    return None


def cl_ord_id(slot_id: int, trade_id: str, role: str, cycle: int, local_id: int) -> str:
    return order_ids.encode(
        order_ids.OrderOwner(kind="s", slot_id=slot_id, trade_id=trade_id, role=role,
                             cycle=min(cycle, 36**3 - 1), local_id=local_id)
    )


def place_intent(slot_id: int, action: sm.PlaceOrderAction, rules: PairRules) -> PlaceOrder:
    role = "recovery" if action.recovery_id is not None else action.role
    return PlaceOrder(
        cl_ord_id=cl_ord_id(slot_id, action.trade_id, role, action.cycle, action.local_id),
        side=action.side,
        price=rules.round_price(action.price),
        volume=rules.floor_volume(action.volume),
        post_only=action.post_only,
    )


def target_cl_ord_id(slot_id: int, t: Target) -> str:
    return cl_ord_id(slot_id, t.trade_id, t.role, t.cycle, t.local_id)


def cancel_intent(cl: str, txid: str) -> CancelOrder:
    # Both ids: the gateway cancels by order id when it has one, the rate budget can withdraw an
    # order still queued by its client id.
    return CancelOrder(cl_ord_id=cl, order_id=txid or None)


# --------------------------------------------------------------------------- money held by open orders


def reserved(state: sm.PairState, maker_fee_pct: float) -> tuple[float, float]:
    """(USD held by open buys incl. fee, DOGE held by open sells): what the balance already funds."""
    usd = 0.0
    doge = 0.0
    for t in targets(state):
        if t.kind == "pending":
            continue
        if t.side == "buy":
            usd += t.volume * t.price * (1.0 + maker_fee_pct / 100.0)
        else:
            doge += t.volume
    return usd, doge


# --------------------------------------------------------------------------- status


def _distance(price: float, market: float) -> float:
    return (price - market) / market * 100.0 if market > 0 else 0.0


def slot_status(
    *,
    state: sm.PairState,
    alias: str,
    now: float,
    order_size_usd: float,
    cl_of: dict[int, str],
    recent_events: list[SlotEvent],
    halted: bool,
    halt_reason: str,
    waiting_reason: str,
    slot_id: int,
) -> SlotStatus:
    market = state.market_price
    orders = [
        OrderInfo(
            local_id=o.local_id, side=o.side, role=o.role, trade_id=o.trade_id, cycle=o.cycle,
            price=o.price, volume=o.volume, txid=o.txid,
            cl_ord_id=cl_of.get(o.local_id) or cl_ord_id(slot_id, o.trade_id, o.role, o.cycle, o.local_id),
            placed_at=o.placed_at, age_sec=max(0.0, now - o.placed_at) if o.placed_at > 0 else 0.0,
            distance_pct=_distance(o.price, market),
            entry_price=o.entry_price if o.role == "exit" else None,
        )
        for o in sorted(state.orders, key=lambda o: o.local_id)
    ]
    recoveries = [
        RecoveryInfo(
            recovery_id=r.recovery_id, side=r.side, trade_id=r.trade_id, cycle=r.cycle, price=r.price,
            volume=r.volume, entry_price=r.entry_price, txid=r.txid, orphaned_at=r.orphaned_at,
            age_sec=max(0.0, now - r.orphaned_at) if r.orphaned_at > 0 else 0.0,
            distance_pct=_distance(r.price, market), reason=r.reason,
        )
        for r in state.recovery_orders
    ]
    cycles = [
        CycleInfo(
            trade_id=c.trade_id, cycle=c.cycle, entry_price=c.entry_price, exit_price=c.exit_price,
            volume=c.volume, net_profit=c.net_profit, fees=c.fees, entry_time=c.entry_time,
            exit_time=c.exit_time, from_recovery=c.from_recovery,
        )
        for c in state.completed_cycles[-10:]
    ]
    return SlotStatus(
        slot_id=slot_id,
        alias=alias,
        phase=sm.derive_phase(state),
        long_only=state.long_only,
        short_only=state.short_only,
        mode_source=state.mode_source,
        cycle_a=state.cycle_a,
        cycle_b=state.cycle_b,
        total_profit=_finite(state.total_profit),
        total_fees=_finite(state.total_fees),
        round_trips=state.total_round_trips,
        today_realized_loss=state.today_realized_loss,
        order_size_usd=order_size_usd,
        orders=orders,
        recoveries=recoveries,
        recent_cycles=cycles,
        recent_events=recent_events[-10:],
        halted=halted,
        halt_reason=halt_reason,
        waiting_reason=waiting_reason,
        cooldown_until_a=state.cooldown_until_a,
        cooldown_until_b=state.cooldown_until_b,
    )


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0

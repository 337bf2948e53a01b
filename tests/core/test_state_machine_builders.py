"""Shared builders for the slot-engine tests (this module holds no tests itself)."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from core import state_machine as sm
from core.engine_config import EngineConfig
from core.sizing import OrderSize

CFG = EngineConfig()
SIZE = 10.0  # USD; at ~0.1 USD/DOGE that is ~100 DOGE, above Kraken's 50 DOGE minimum


def make_cfg(**changes: Any) -> EngineConfig:
    return replace(CFG, **changes)


def s0_state(
    market: float = 0.1, now: float = 1000.0, cfg: EngineConfig = CFG, size: OrderSize = SIZE
) -> sm.PairState:
    """A freshly bootstrapped two-sided slot with both entries acknowledged."""
    st, _ = sm.bootstrap_orders(sm.PairState(market_price=market, now=now), cfg, size)
    for o in st.orders:
        st = sm.bind_txid(st, o.local_id, f"TX{o.local_id}")
    return st


def order_of(st: sm.PairState, trade: str, role: str) -> sm.OrderState:
    return next(o for o in st.orders if o.trade_id == trade and o.role == role)


def fill_of(
    order: sm.OrderState,
    ts: float,
    *,
    price: float | None = None,
    volume: float | None = None,
    fee: float | None = None,
) -> sm.FillEvent:
    p = order.price if price is None else price
    v = order.volume if volume is None else volume
    return sm.FillEvent(
        order_local_id=order.local_id,
        txid=order.txid or f"TX{order.local_id}",
        side=order.side,
        price=p,
        volume=v,
        fee=round(p * v * CFG.maker_fee, 8) if fee is None else fee,
        timestamp=ts,
    )


def step(
    st: sm.PairState, event: sm.Event, cfg: EngineConfig = CFG, size: OrderSize = SIZE
) -> tuple[sm.PairState, list[sm.Action]]:
    return sm.transition(st, event, cfg, size)


def of_type(actions: list[sm.Action], cls: type) -> list[Any]:
    return [a for a in actions if isinstance(a, cls)]


def fill_entry(st: sm.PairState, trade: str, ts: float, cfg: EngineConfig = CFG, **kw: Any) -> sm.PairState:
    st, _ = step(st, fill_of(order_of(st, trade, "entry"), ts, **kw), cfg)
    return st


def s1_state(trade: str = "B", cfg: EngineConfig = CFG, **kw: Any) -> sm.PairState:
    """S1b (trade B in position) or S1a (trade A in position), filled at t=1010."""
    return fill_entry(s0_state(cfg=cfg), trade, 1010.0, cfg, **kw)


def s2_state(cfg: EngineConfig = CFG) -> sm.PairState:
    st = fill_entry(s0_state(cfg=cfg), "B", 1010.0, cfg)
    return fill_entry(st, "A", 1020.0, cfg)

"""OrderRegistry, CandleCloser and RecentIds: the gateway's small routing state."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Candle, Fill, OrderCanceled, OrderOpen, PlaceOrder
from gateway.kraken.routing import CandleCloser, OrderRegistry, RecentIds


def bar(begin: float, close: float = 1.0) -> Candle:
    return Candle(symbol="DOGE/USD", interval_min=5, begin_ts=begin, open=1.0, high=1.0, low=1.0, close=close, volume=1.0)


def fill(order_id: str, exec_id: str, cum: float, **kw: object) -> Fill:
    return Fill(exec_id=exec_id, order_id=order_id, cl_ord_id=None, side=None, last_qty=1.0, last_price=0.1,
                cum_qty=cum, order_qty=None, fee=0.0, **kw)  # type: ignore[arg-type]


def test_candles_forming_then_closed_once() -> None:
    closer = CandleCloser()
    assert [(c.begin_ts, c.closed) for c in closer.feed([bar(0)])] == [(0, False)]
    assert [(c.begin_ts, c.close, c.closed) for c in closer.feed([bar(0, 2.0)])] == [(0, 2.0, False)]
    out = closer.feed([bar(300)])
    assert [(c.begin_ts, c.close, c.closed) for c in out] == [(0, 2.0, True), (300, 1.0, False)]


def test_reconnect_snapshot_skips_old_bars_and_closes_missed_ones() -> None:
    closer = CandleCloser()
    closer.feed([bar(300)])
    # After a reconnect: an old bar, the current one (now final), two missed, the forming one.
    out = closer.feed([bar(0), bar(300, 3.0), bar(600), bar(900), bar(1200)])
    assert [(c.begin_ts, c.closed) for c in out] == [(300, True), (600, True), (900, True), (1200, False)]
    assert out[0].close == 3.0


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=40))
def test_each_bar_closes_at_most_once_and_in_order(begins: list[int]) -> None:
    closer = CandleCloser()
    closed: list[float] = []
    for b in begins:
        closed += [c.begin_ts for c in closer.feed([bar(b * 300.0)]) if c.closed]
    assert closed == sorted(set(closed))


def test_registry_fills_sparse_events_and_remembers_closed_orders() -> None:
    reg = OrderRegistry(closed_capacity=2)
    reg.expect(PlaceOrder(cl_ord_id="s1-AE1-1", side="sell", price=0.2, volume=10.0))
    reg.learn("O1", "s1-AE1-1")
    assert reg.known_qty("O1", None) == 10.0
    live = reg.enrich(OrderOpen(order_id="O1", cl_ord_id=None, side=None, order_qty=0.0, limit_price=0.0))
    assert (live.cl_ord_id, live.side, live.order_qty, live.limit_price) == ("s1-AE1-1", "sell", 10.0, 0.2)
    assert reg.enrich(fill("O1", "E1", 10.0)).final  # cum reaches order_qty
    late = reg.enrich(OrderCanceled(order_id="O1", cl_ord_id=None, cum_qty=10.0, reason="x", ts=0.0))
    assert late.cl_ord_id == "s1-AE1-1" and len(reg) == 0
    for i in range(3):  # the closed window is bounded
        reg.learn(f"X{i}", f"c{i}")
        reg.close(f"X{i}")
    assert reg.get("O1") is None and reg.get("X2") is not None


def test_fills_of_unknown_orders_do_not_grow_the_open_set() -> None:
    reg = OrderRegistry()
    out = reg.enrich(fill("OLD", "E9", 0.0, snapshot=True))
    assert out.cl_ord_id is None and len(reg) == 0 and reg.get("OLD") is not None


def test_recent_ids_window() -> None:
    ids = RecentIds(2)
    assert [ids.seen(x) for x in ("a", "b", "a", "c", "b", "a")] == [False, False, True, False, False, False]
    assert len(ids) == 2


def test_snapshot_settles_orders_that_ended_while_away() -> None:
    reg = OrderRegistry()
    reg.expect(PlaceOrder(cl_ord_id="s1-AE1-2", side="buy", price=0.1, volume=50.0))
    assert reg.placements_unresolved()  # sent, order id not known yet
    reg.learn("O1", "s1-AE1-1")
    reg.learn("O2", "s1-AE1-2")
    assert not reg.placements_unresolved() and len(reg) == 2
    reg.settle(["O2"])  # the snapshot lists O2 only: O1 ended while we were away
    assert len(reg) == 1 and reg.known_qty(None, "s1-AE1-2") == 50.0
    # O1 still routes: a late report of it finds its owner.
    late = reg.enrich(OrderCanceled(order_id="O1", cl_ord_id=None, cum_qty=0.0, reason="x", ts=0.0))
    assert late.cl_ord_id == "s1-AE1-1"

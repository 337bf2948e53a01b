"""WS trading methods in process (`Venue.request`): same params as the socket, never an exception."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sim.config import SimConfig
from gateway.sim.trading import TRADING_METHODS
from gateway.sim.venue import Venue
from tests.sim.helpers import RANGING_CSV, assert_shape, fixture

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.decimals(allow_nan=False, allow_infinity=False,
                                                                          places=9) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["order_type", "side", "order_qty", "symbol", "limit_price", "cl_ord_id", "order_userref",
                        "post_only", "order_id", "timeout", "orders", "validate", "time_in_force"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TRADING_METHODS)), st.dictionaries(keys, json_values, max_size=6))
def test_arbitrary_params_get_a_reply_not_an_exception(method: str, params: dict[str, Any]) -> None:
    venue = Venue(SimConfig(data_file=str(RANGING_CSV)))
    replies = venue.request(method, params)
    assert replies
    for reply in replies:
        assert (reply.error is None) == reply.success
        assert reply.error is None or isinstance(reply.error, str)


def test_in_process_round_trip_matches_the_socket_shapes() -> None:
    venue = Venue(SimConfig(data_file=str(RANGING_CSV)))
    price = venue.engine.price
    assert price is not None
    params = fixture("ws_add_order_request_userref.json")["params"] | {"side": "buy",
                                                                        "limit_price": price - D("0.0001")}
    (reply,) = venue.request("add_order", params)
    assert reply.success and reply.result["order_userref"] == 3
    pending = Venue.frame(reply.events[0], venue.now, sequence=8)
    assert_shape(pending, fixture("ws_executions_pending_new.json"))
    _, events = venue.advance(60)
    channels = {channel for channel, _ in events}
    assert {"ticker", "ohlc", "trade"} <= channels
    ohlc = next(Venue.frame(e, venue.now) for e in events if e[0] == "ohlc")
    assert_shape(ohlc, fixture("ws_ohlc_update.json"))


prices = st.decimals(min_value=D("0.04"), max_value=D("0.09"), places=7)
qtys = st.decimals(min_value=D("40"), max_value=D("3000"), places=2)
add_ops = st.tuples(st.just("add"), st.sampled_from(["buy", "sell"]), qtys, prices, st.booleans())
operations = st.lists(st.one_of(
    add_ops,
    add_ops,
    st.tuples(st.just("amend"), st.integers(0, 20), qtys, prices),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("price"), prices, st.sampled_from([None, D("500"), D("5000")])),
    st.tuples(st.just("advance"), st.integers(1, 3)),
), min_size=10, max_size=40)


def _check_invariants(venue: Venue) -> None:
    engine = venue.engine
    account = engine.account
    for asset in ("USD", "DOGE"):
        held = sum((o.hold for o in engine.open.values() if (o.side == "buy") == (asset == "USD")), D(0))
        assert abs(account.held[asset] - held) <= D("0.0001"), asset
        assert account.total[asset] >= -D("0.0001")
    assert len(engine._bids) + len(engine._asks) == len(engine.open)
    for order in engine.open.values():
        assert D(0) <= order.cum_qty < order.qty
    for order in engine.closed.values():
        assert order.hold == 0


@settings(max_examples=150, deadline=None)
@given(operations)
def test_random_trading_keeps_the_books_consistent(ops: list[tuple]) -> None:
    venue = Venue(SimConfig(data_file=str(RANGING_CSV), usd=D("500"), doge=D("8000")))
    start_doge = venue.engine.account.total["DOGE"]
    ids: list[str] = []
    for op in ops:
        if op[0] == "add":
            _, side, qty, price, post_only = op
            (reply,) = venue.request("add_order", {"order_type": "limit", "side": side, "order_qty": qty,
                                                   "limit_price": price, "symbol": "DOGE/USD", "post_only": post_only})
            if reply.success:
                ids.append(reply.result["order_id"])
        elif op[0] == "amend" and ids:
            venue.request("amend_order", {"order_id": ids[op[1] % len(ids)], "order_qty": op[2], "limit_price": op[3]})
        elif op[0] == "cancel" and ids:
            venue.request("cancel_order", {"order_id": [ids[op[1] % len(ids)]]})
        elif op[0] == "price":
            venue.set_price(op[1], op[2])
        elif op[0] == "advance":
            venue.advance(op[1])
        _check_invariants(venue)
    fills = list(venue.engine.fills)
    bought = sum((f.qty for f in fills if f.side == "buy"), D(0))
    sold = sum((f.qty for f in fills if f.side == "sell"), D(0))
    assert venue.engine.account.total["DOGE"] == start_doge + bought - sold

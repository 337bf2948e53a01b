"""The matching engine in process (no sockets): fills, fees, holds, rules, limits, amends, cancels."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from core.rate_limits import Tier
from gateway.sim.config import SimConfig
from gateway.sim.engine import MatchingEngine, OrderSpec
from gateway.sim.feeds import Candle, ListFeed
from gateway.sim.venue import Venue
from tests.sim.helpers import assert_shape, fixture

T0 = 1_700_000_000.0
ID_RE = re.compile(r"^[A-Z0-9]{6}-[A-Z0-9]{5}-[A-Z0-9]{6}$")


def engine(**overrides: object) -> MatchingEngine:
    cfg = SimConfig(**{"usd": D("1000"), "doge": D("5000"), **overrides})  # type: ignore[arg-type]
    eng = MatchingEngine(cfg)
    eng.trade_to(D("0.1500000"), T0)
    return eng


def execs(events: list, kind: str | None = None) -> list[dict]:
    return [e for ch, e in events if ch == "executions" and (kind is None or e["exec_type"] == kind)]


def buy(qty: str, price: str, **kw: object) -> OrderSpec:
    return OrderSpec(side="buy", qty=D(qty), price=D(price), **kw)  # type: ignore[arg-type]


def sell(qty: str, price: str, **kw: object) -> OrderSpec:
    return OrderSpec(side="sell", qty=D(qty), price=D(price), **kw)  # type: ignore[arg-type]


def test_resting_buy_fills_at_its_limit_as_maker_with_fee_and_balances() -> None:
    eng = engine()
    placed = eng.add_order(buy("1000", "0.1490000", cl_ord_id="s1-AE1-1"), T0)
    assert placed.ok and ID_RE.match(placed.result["order_id"])
    assert [e["exec_type"] for e in execs(placed.events)] == ["pending_new", "new"]
    hold = D("149") * D("1.004")
    assert eng.account.held["USD"] == hold.quantize(D("0.0001"))
    assert eng.trade_to(D("0.1495"), T0 + 15) == []  # not reached yet
    events = eng.trade_to(D("0.1480"), T0 + 30)
    trade, filled = execs(events)
    assert trade["exec_type"] == "trade" and trade["liquidity_ind"] == "m"
    assert trade["last_price"] == D("0.1490000") and trade["last_qty"] == D("1000")
    assert trade["cost"] == D("149") and trade["fees"] == [{"asset": "USD", "qty": D("0.3725")}]
    assert re.match(r"^T[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$", trade["exec_id"])
    assert filled["exec_type"] == "filled" and filled["cum_qty"] == D("1000") and filled["fee_usd_equiv"] == D("0.3725")
    balances = [e for ch, e in events if ch == "balances"]
    assert [(b["asset"], b["amount"], b["fee"], b["balance"]) for b in balances] == [
        ("DOGE", D("1000"), 0, D("6000")), ("USD", D("-149"), D("0.3725"), D("850.6275"))]
    assert eng.account.held["USD"] == 0
    assert_shape(trade, fixture("ws_executions_trade_final.json")["data"][0])
    assert_shape(filled, fixture("ws_executions_filled.json")["data"][0])
    assert_shape(balances[1], fixture("ws_balances_update_trade_usd.json")["data"][0])


def test_crossing_order_fills_as_taker_at_the_touch() -> None:
    eng = engine()
    placed = eng.add_order(sell("200", "0.1400000"), T0)
    kinds = [e["exec_type"] for e in execs(placed.events)]
    assert kinds == ["pending_new", "trade", "filled"]  # no `new` for an immediate fill (configurable)
    trade = execs(placed.events, "trade")[0]
    assert trade["liquidity_ind"] == "t" and trade["last_price"] == eng.bid == D("0.1499999")
    assert trade["fees"][0]["qty"] == (D("200") * D("0.1499999") * D("0.004")).quantize(D("0.0001"))
    eng2 = engine(emit_new_on_immediate_fill=True)
    kinds2 = [e["exec_type"] for e in execs(eng2.add_order(sell("200", "0.1400000"), T0).events)]
    assert kinds2 == ["pending_new", "new", "trade", "filled"]


def test_post_only_cross_is_cancelled_with_configurable_reason() -> None:
    eng = engine()
    out = eng.add_order(buy("100", "0.1600000", post_only=True), T0)
    assert out.ok
    kinds = [(e["exec_type"], e.get("reason")) for e in execs(out.events)]
    assert kinds == [("pending_new", None), ("canceled", "Post only order")]
    assert not eng.open and eng.account.held["USD"] == 0
    eng2 = engine(post_only_cancel_reason="Post only")
    assert execs(eng2.add_order(buy("100", "0.1600000", post_only=True), T0).events)[-1]["reason"] == "Post only"


def test_partial_fills_follow_the_volume_share() -> None:
    eng = engine(fill_volume_share=D("0.5"))
    order_id = eng.add_order(sell("1000", "0.1510000"), T0).result["order_id"]
    first = execs(eng.trade_to(D("0.1520"), T0 + 15, volume=D("800")), "trade")
    assert [t["last_qty"] for t in first] == [D("400")]
    assert first[0]["order_status"] == "partially_filled" and first[0]["cum_qty"] == D("400")
    assert eng.open[order_id].status == "partially_filled"
    assert eng.account.held["DOGE"] == D("600")
    second = eng.trade_to(D("0.1515"), T0 + 30, volume=D("2000"))
    trade = execs(second, "trade")[0]
    assert trade["last_qty"] == D("600") and trade["cum_qty"] == D("1000") and trade["order_status"] == "filled"
    assert trade["avg_price"] == D("0.1510000")
    assert execs(second, "filled")
    assert eng.account.total["DOGE"] == D("4000") and eng.account.held["DOGE"] == 0


def test_candle_replay_fills_in_path_order() -> None:
    eng = engine()
    eng.add_order(buy("100", "0.1450000"), T0)
    eng.add_order(sell("100", "0.1550000"), T0)
    candle = Candle(int(T0) + 60, D("0.15"), D("0.156"), D("0.144"), D("0.149"), D("1e7"))
    events = eng.apply_candle(candle)  # falling candle: open -> high -> low -> close
    sides = [e["side"] for e in execs(events, "trade")]
    assert sides == ["sell", "buy"]
    assert eng.price == D("0.149")


@pytest.mark.parametrize(("spec", "error"), [
    (buy("49.99999999", "0.15"), "EOrder:Order minimum not met"),
    (buy("50", "0.0099999"), "EOrder:Cost minimum not met"),
    (buy("100", "0.14999995"), "EOrder:Tick size check failed"),
    (buy("100.123456789", "0.14"), "EGeneral:Invalid arguments:volume"),
    (buy("100000", "0.14"), "EOrder:Insufficient funds"),
    (sell("5000.00000001", "0.16"), "EOrder:Insufficient funds"),
    (buy("100", "0.14", cl_ord_id="this-is-19-chars-xx"), "EGeneral:Invalid arguments:cl_ord_id"),
])
def test_validation_errors(spec: OrderSpec, error: str) -> None:
    eng = engine()
    out = eng.add_order(spec, T0)
    assert not out.ok and out.error == error and out.events == []
    assert eng.rate_counter.value_at(T0) == 1  # a failed transaction still counts


def test_cl_ord_id_forms_and_uniqueness_among_open_orders() -> None:
    eng = engine()
    for cl in ("6d1b345e-2821-40e2-ad83-4ecb18a06876", "6d1b345e282140e2ad834ecb18a06876", "arb-20240509-00010"):
        assert eng.add_order(buy("100", "0.14", cl_ord_id=cl), T0).ok
    dup = eng.add_order(buy("100", "0.14", cl_ord_id="arb-20240509-00010"), T0)
    assert dup.error == "EOrder:Duplicate order"
    assert eng.cancel_order(T0 + 400, cl_ord_id="arb-20240509-00010").ok
    assert eng.add_order(buy("100", "0.14", cl_ord_id="arb-20240509-00010"), T0 + 400).ok  # reusable once closed


def test_orders_limit() -> None:
    eng = engine(open_order_limit=3)
    for _ in range(3):
        assert eng.add_order(buy("100", "0.14"), T0).ok
    assert eng.add_order(buy("100", "0.14"), T0).error == "EOrder:Orders limit exceeded"


def test_trading_rate_counter_with_cancel_penalties() -> None:
    eng = engine(rate_tier=Tier.STARTER)
    ids = [eng.add_order(buy("100", "0.14"), T0).result["order_id"] for _ in range(6)]
    for order_id in ids:  # cancelling within 5 s costs 8 each
        assert eng.cancel_order(T0 + 1, order_id=order_id).ok
    assert eng.rate_counter.value_at(T0 + 1) == pytest.approx(6 + 48 - 1)
    for _ in range(7):  # 53 -> 60: the threshold itself is still allowed
        assert eng.add_order(buy("100", "0.14"), T0 + 1).ok
    refused = eng.add_order(buy("100", "0.14"), T0 + 1)
    assert refused.error == "EOrder:Rate limit exceeded"
    assert eng.add_order(buy("100", "0.14"), T0 + 2).ok  # decayed by 1 per second (starter)


def test_amend_in_place_keeps_ids_and_moves_the_hold() -> None:
    eng = engine()
    order_id = eng.add_order(buy("100", "0.1400000", cl_ord_id="s1-AE1-2"), T0).result["order_id"]
    out = eng.amend_order(T0 + 20, cl_ord_id="s1-AE1-2", qty=D("200"), price=D("0.1450000"))
    assert out.ok and set(out.result) == {"amend_id", "cl_ord_id"}
    (amended,) = execs(out.events)
    assert_shape(amended, fixture("ws_executions_amended.json")["data"][0])
    assert amended["order_id"] == order_id and amended["order_qty"] == D("200")
    assert eng.account.held["USD"] == (D("200") * D("0.145") * D("1.004")).quantize(D("0.0001"))
    assert eng.rate_counter.value_at(T0 + 20) == pytest.approx(1)  # add decayed away; amend at 20 s costs 1
    assert eng.open[order_id].qty == D("200")


def test_amend_errors_and_post_only_amend() -> None:
    eng = engine()
    order_id = eng.add_order(buy("100", "0.1400000"), T0).result["order_id"]
    assert eng.amend_order(T0, order_id="OXXXXX-XXXXX-XXXXXX", price=D("0.14")).error == "EOrder:Unknown order"
    assert eng.amend_order(T0, order_id=order_id, price=D("0.16"), post_only=True).error == "EOrder:Post only order"
    crossing = eng.amend_order(T0, order_id=order_id, price=D("0.16"))
    assert [e["exec_type"] for e in execs(crossing.events)] == ["amended", "trade", "filled"]


def test_cancel_after_partial_releases_the_rest() -> None:
    eng = engine(fill_volume_share=D("0.1"))
    order_id = eng.add_order(buy("1000", "0.1490000"), T0).result["order_id"]
    eng.trade_to(D("0.1480"), T0 + 15, volume=D("3000"))
    out = eng.cancel_order(T0 + 100, order_id=order_id)
    (canceled,) = execs(out.events)
    assert canceled["cum_qty"] == D("300") and canceled["reason"] == "User requested"
    assert_shape(canceled, fixture("ws_executions_canceled.json")["data"][0])
    assert eng.account.held["USD"] == 0
    assert eng.account.total["DOGE"] == D("5300")
    assert eng.cancel_order(T0 + 100, order_id=order_id).error == "EOrder:Unknown order"


def test_dead_mans_switch_cancels_everything_once() -> None:
    eng = engine()
    eng.add_order(buy("100", "0.14"), T0)
    eng.add_order(sell("100", "0.16"), T0)
    res = eng.cancel_all_orders_after(60, T0)
    assert res.result == {"currentTime": "2023-11-14T22:13:20Z", "triggerTime": "2023-11-14T22:14:20Z"}
    assert eng.check_timers(T0 + 59) == []
    fired = eng.check_timers(T0 + 60)
    assert len(execs(fired, "canceled")) == 2 and not eng.open
    assert eng.dms_trigger is None and eng.check_timers(T0 + 120) == []


def test_market_orders_fill_completely_as_taker() -> None:
    eng = engine()
    out = eng.add_order(OrderSpec(side="buy", qty=D("100"), order_type="market"), T0)
    trade = execs(out.events, "trade")[0]
    assert trade["last_price"] == eng.ask and trade["order_type"] == "market"


def test_batch_add_is_all_or_nothing_and_costs_half_per_order() -> None:
    eng = engine()
    bad = eng.batch_add([buy("100", "0.14"), buy("10", "0.14")], T0)
    assert bad.error == "EOrder:Order minimum not met" and not eng.open
    good = eng.batch_add([buy("100", "0.14", userref=1), sell("100", "0.16", userref=2)], T0)
    assert [r["order_userref"] for r in good.result] == [1, 2]
    assert eng.rate_counter.value_at(T0) == pytest.approx(1 + 1)
    keys = [r["order_id"] for r in good.result]
    cancelled = eng.batch_cancel(keys, [], T0 + 400)
    assert cancelled.result == {"count": 2} and not eng.open


def test_ids_and_trade_ids_are_deterministic_and_increasing() -> None:
    def run() -> list:
        eng = engine(seed=42)
        eng.add_order(buy("100", "0.1490000"), T0)
        eng.add_order(buy("100", "0.1480000"), T0)
        return execs(eng.trade_to(D("0.147"), T0 + 15), "trade")

    first, second = run(), run()
    assert [t["exec_id"] for t in first] == [t["exec_id"] for t in second]
    assert first[0]["trade_id"] < first[1]["trade_id"]


def test_snapshots_have_the_fixture_shapes() -> None:
    eng = engine(fill_volume_share=D("0"))
    eng.add_order(buy("250", "0.1400000", userref=7), T0)
    eng.add_order(sell("500", "0.1400000"), T0)
    snap = fixture("ws_executions_snapshot.json")["data"]
    assert_shape(eng.snapshot_orders()[0], snap[0])
    assert_shape(eng.snapshot_trades()[0], snap[1])


def test_edit_order_replaces_the_order() -> None:
    eng = engine()
    old = eng.add_order(buy("100", "0.1400000", userref=5), T0).result["order_id"]
    out = eng.edit_order(T0 + 20, old, qty=D("150"), price=D("0.1410000"))
    assert out.ok and out.result["original_order_id"] == old and out.result["order_id"] != old
    kinds = [(e["exec_type"], e.get("reason")) for e in execs(out.events)]
    assert kinds == [("canceled", "Order replaced"), ("pending_new", None), ("new", None)]
    assert eng.open[out.result["order_id"]].userref == 5 and old not in eng.open
    assert eng.account.held["USD"] == (D("150") * D("0.141") * D("1.004")).quantize(D("0.0001"))


def test_taker_remainder_rests_and_fills_later_as_maker() -> None:
    eng = engine(fill_volume_share=D("0.1"))
    eng.trade_to(D("0.1500000"), T0 + 15, volume=D("2000"))
    out = eng.add_order(buy("1000", "0.1510000"), T0 + 20)
    kinds = [(e["exec_type"], e.get("order_status")) for e in execs(out.events)]
    # The `new` event reports the state after it: live, with the fill already made.
    assert kinds == [("pending_new", "pending_new"), ("trade", "partially_filled"), ("new", "partially_filled")]
    assert execs(out.events, "trade")[0]["last_qty"] == D("200")
    rest = execs(eng.trade_to(D("0.1500000"), T0 + 30), "trade")
    assert [(t["last_qty"], t["last_price"], t["liquidity_ind"]) for t in rest] == [(D("800"), D("0.151"), "m")]


def test_amend_keeps_priority_only_for_same_price_smaller_qty() -> None:
    eng = engine(fill_volume_share=D("0.5"))
    first = eng.add_order(buy("100", "0.1490000"), T0).result["order_id"]
    second = eng.add_order(buy("100", "0.1490000"), T0).result["order_id"]
    eng.amend_order(T0 + 60, order_id=first, qty=D("90"))  # keeps its place
    assert [e["order_id"] for e in execs(eng.trade_to(D("0.149"), T0 + 61, volume=D("100")), "trade")] == [
        first, second]
    eng.amend_order(T0 + 120, order_id=first, qty=D("200"))  # larger: back of the queue
    trades = execs(eng.trade_to(D("0.149"), T0 + 121, volume=D("10")), "trade")
    assert [t["order_id"] for t in trades] == [second, first]


def _falling_candle(time: int, volume: str) -> Candle:
    # open 0.15 -> high 0.1505 -> low 0.1485 -> close 0.1495: two legs reach a buy at 0.149.
    return Candle(time, D("0.15"), D("0.1505"), D("0.1485"), D("0.1495"), D(volume))


def test_partial_fills_are_capped_per_candle_not_per_path_point() -> None:
    eng = engine(fill_volume_share=D("0.1"))  # cap: 10 % of the candle's 4000 = 400 per order
    small = eng.add_order(buy("300", "0.1490000"), T0).result["order_id"]
    big = eng.add_order(buy("1000", "0.1490000"), T0).result["order_id"]
    trades = execs(eng.apply_candle(_falling_candle(int(T0) + 60, "4000")), "trade")
    filled = {oid: sum(t["last_qty"] for t in trades if t["order_id"] == oid) for oid in (small, big)}
    assert filled == {small: D("300"), big: D("400")}  # not 2 legs x 10 % of a quarter candle = 200
    assert small not in eng.open and eng.open[big].cum_qty == D("400")
    eng.apply_candle(_falling_candle(int(T0) + 120, "4000"))
    assert eng.open[big].cum_qty == D("800")  # a new candle, a new budget
    eng.trade_to(D("0.1489"), T0 + 181, volume=D("1000"))  # a trade outside a candle: 10 % of its volume
    assert eng.open[big].cum_qty == D("900")


def test_venue_replay_caps_fills_per_candle() -> None:
    start = Candle(int(T0), D("0.15"), D("0.15"), D("0.15"), D("0.15"), D("4000"))
    feed = ListFeed([start, _falling_candle(int(T0) + 60, "4000"), _falling_candle(int(T0) + 120, "4000")])
    venue = Venue(SimConfig(usd=D("1000"), fill_volume_share=D("0.1")), feed=feed)
    (placed,) = venue.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": D("1000"),
                                            "limit_price": D("0.149"), "symbol": "DOGE/USD"})
    order_id = placed.result["order_id"]
    _, events = venue.advance(1)
    assert sum(e["last_qty"] for e in execs(events, "trade")) == D("400")
    venue.advance(1)
    assert venue.engine.open[order_id].cum_qty == D("800")


def test_a_move_away_from_the_limit_does_not_fill_it() -> None:
    # The market is at 0.15 (bid 0.1499999, ask 0.1500001): orders at 0.15 rest inside the spread.
    eng = engine()
    eng.add_order(buy("100", "0.1500000"), T0)
    assert execs(eng.trade_to(D("0.1500001"), T0 + 15, volume=D("1e6"))) == []  # up from 0.15: no trade <= 0.15
    (trade,) = execs(eng.trade_to(D("0.1500000"), T0 + 30, volume=D("1e6")), "trade")  # back down to 0.15
    assert trade["last_price"] == D("0.15")
    eng = engine()
    eng.add_order(sell("100", "0.1500000"), T0)
    assert execs(eng.trade_to(D("0.1499999"), T0 + 15, volume=D("1e6"))) == []  # down from 0.15: no trade >= 0.15
    assert execs(eng.trade_to(D("0.1499999"), T0 + 30, volume=D("1e6"))) == []  # flat below the limit
    assert len(execs(eng.trade_to(D("0.1500000"), T0 + 45, volume=D("1e6")), "trade")) == 1


def test_a_candle_that_never_reaches_the_limit_does_not_fill_it() -> None:
    eng = engine()
    eng.add_order(buy("100", "0.1500000"), T0)  # at the last price, below the ask
    above = Candle(int(T0) + 60, D("0.1500100"), D("0.1502"), D("0.1500100"), D("0.1501"), D("1e6"))
    assert execs(eng.apply_candle(above), "trade") == []  # low 0.15001 never trades at or below 0.15
    touch = Candle(int(T0) + 120, D("0.1501"), D("0.1501"), D("0.1500000"), D("0.1500500"), D("1e6"))
    (trade,) = execs(eng.apply_candle(touch), "trade")  # low exactly at the limit: fills at the limit
    assert trade["last_price"] == D("0.15") and trade["liquidity_ind"] == "m"

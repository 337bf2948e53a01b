"""GatewayActor against the project's simulated exchange, over real loopback sockets.

The simulator runs its manual clock: prices move only when a test says so (`set_price`), so
every fill here is caused by the test. Waits are bounded; nothing asserts on durations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from actors.gateway import GatewayActor
from actors.messages import (
    AmendAcked,
    AmendOrder,
    BalanceUpdate,
    CancelAcked,
    CancelOrder,
    Candle,
    ExchangeError,
    ExecutionsSnapshotDone,
    Fill,
    GatewayConnected,
    GatewayDisconnected,
    InstrumentRules,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PlaceOrder,
    PriceTick,
)
from gateway.kraken.codec_rest import KrakenApiError
from gateway.kraken.ws import WsConfig
from gateway.sim import rest_views
from gateway.sim.server import SimConfig, SimExchange
from tests.gateway.helpers import CollectingSink, poll

CONFIG = WsConfig(ohlc_interval_min=1, heartbeat_timeout_s=5.0, ping_interval_s=2.0, request_timeout_s=3.0,
                  dms_refresh_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.5)
START = Decimal("0.12")


class Live:
    def __init__(self, sim: SimExchange, gateway: Any, sink: CollectingSink) -> None:
        self.sim, self.gateway, self.sink = sim, gateway, sink

    def place(self, cl: str, side: str = "buy", price: float = 0.119, volume: float = 100.0) -> OrderAccepted:
        self.gateway.tell(PlaceOrder(cl_ord_id=cl, side=side, price=price, volume=volume))  # type: ignore[arg-type]
        (acc,) = self.sink.wait_kind(OrderAccepted, where=lambda m: m.cl_ord_id == cl)
        self.sink.wait_kind(OrderOpen, where=lambda m: m.order_id == acc.order_id and not m.snapshot)
        return acc

    def fills(self, order_id: str) -> list[Fill]:
        return [f for f in self.sink.of(Fill) if f.order_id == order_id]

    def rest(self, call: str, *args: Any) -> Any:
        return self.gateway.proxy().rest(call, *args).get(timeout=5).result(timeout=15)

    def stats(self) -> dict[str, Any]:
        return self.gateway.proxy().stats().get(timeout=5)


@pytest.fixture
def live(sink: CollectingSink) -> Iterator[Live]:
    sim = SimExchange(SimConfig(start_price=START))
    sim.start()
    gateway = None
    try:
        gateway = GatewayActor.start(
            sink, public_ws_url=sim.public_ws_url, private_ws_url=sim.private_ws_url, rest_url=sim.rest_url,
            api_key=sim.api_key, api_secret=sim.api_secret, ws_config=CONFIG,
        )
        sink.wait_kind(GatewayConnected, 2)
        sink.wait_kind(ExecutionsSnapshotDone)
        yield Live(sim, gateway, sink)
    finally:
        if gateway is not None:
            gateway.stop(timeout=20)
        sim.stop()


def test_subscribe_delivers_market_data_rules_and_balances(live: Live) -> None:
    sink = live.sink
    (tick,) = sink.wait_kind(PriceTick)[:1]
    assert tick.symbol == "DOGE/USD" and tick.bid < tick.ask
    sink.wait_kind(Candle)
    (rules,) = sink.wait_kind(InstrumentRules)
    assert (rules.min_volume, rules.price_decimals, rules.volume_decimals) == (50.0, 7, 8)
    (balances,) = sink.wait_kind(BalanceUpdate, where=lambda m: m.snapshot)
    assert balances.balances == {"USD": 1000.0, "DOGE": 5000.0}
    assert live.rest("asset_pairs") == rules
    assert live.rest("balance") == {"USD": 1000.0, "DOGE": 5000.0}


def test_place_partial_fill_then_fill(live: Live) -> None:
    acc = live.place("s1-BE1-1")
    live.sim.set_price("0.1185", "300")  # the sim fills a share of the traded volume: a partial
    (partial,) = live.sink.wait_kind(Fill, where=lambda f: f.order_id == acc.order_id)
    assert (partial.cl_ord_id, partial.side, partial.order_qty, partial.final) == ("s1-BE1-1", "buy", 100.0, False)
    assert 0 < partial.last_qty < 100 and partial.last_price == 0.119 and partial.liquidity == "m"
    live.sim.set_price("0.1185")  # fills the rest
    (filled,) = live.sink.wait_kind(OrderFilled, where=lambda m: m.order_id == acc.order_id)
    fills = live.fills(acc.order_id)
    assert fills[-1].final and fills[-1].cum_qty == 100.0
    assert sum(f.last_qty for f in fills) == pytest.approx(100.0)
    assert (filled.cl_ord_id, filled.cum_qty, filled.avg_price) == ("s1-BE1-1", 100.0, 0.119)
    live.sink.wait_kind(BalanceUpdate, where=lambda m: not m.snapshot and "DOGE" in m.balances and m.balances["DOGE"] == 5100.0)


def test_cancel_after_partial_fill(live: Live) -> None:
    acc = live.place("s1-BE1-2")
    live.sim.set_price("0.1185", "300")
    (partial,) = live.sink.wait_kind(Fill, where=lambda f: f.order_id == acc.order_id)
    live.gateway.tell(CancelOrder(order_id=acc.order_id, cl_ord_id="s1-BE1-2"))
    live.sink.wait_kind(CancelAcked, where=lambda m: m.order_id == acc.order_id)
    (canceled,) = live.sink.wait_kind(OrderCanceled, where=lambda m: m.order_id == acc.order_id)
    assert canceled.cl_ord_id == "s1-BE1-2" and canceled.cum_qty == partial.cum_qty > 0
    assert canceled.reason == "User requested" and not canceled.expired


def test_amend_then_fill_at_the_new_price(live: Live) -> None:
    acc = live.place("s1-BE1-3", price=0.118)
    live.gateway.tell(AmendOrder(order_id=acc.order_id, price=0.1191))
    live.sink.wait_kind(AmendAcked)
    (amended,) = live.sink.wait_kind(OrderAmended, where=lambda m: m.order_id == acc.order_id)
    assert (amended.cl_ord_id, amended.limit_price, amended.order_qty) == ("s1-BE1-3", 0.1191, 100.0)
    live.sim.set_price("0.1189")
    live.sink.wait_kind(OrderFilled, where=lambda m: m.order_id == acc.order_id)
    assert {f.last_price for f in live.fills(acc.order_id)} == {0.1191}


def test_rejections_carry_kraken_text(live: Live) -> None:
    live.sim.reject_next_orders(1, "EOrder:Insufficient funds")
    live.gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-4", side="buy", price=0.119, volume=100.0))
    (rej,) = live.sink.wait_kind(OrderRejected, where=lambda m: m.cl_ord_id == "s1-BE1-4")
    assert (rej.error, rej.request) == ("EOrder:Insufficient funds", "add_order")
    live.gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-5", side="buy", price=0.119, volume=10.0))
    (small,) = live.sink.wait_kind(OrderRejected, where=lambda m: m.cl_ord_id == "s1-BE1-5")
    assert small.error == "EOrder:Order minimum not met"
    live.gateway.tell(CancelOrder(order_id="ONOPE-NOPE-NOPE"))
    (unknown,) = live.sink.wait_kind(OrderRejected, where=lambda m: m.request == "cancel_order")
    assert unknown.error.startswith("EOrder:Unknown order")


def test_disconnect_mid_fill_misses_nothing(live: Live) -> None:
    acc = live.place("s1-BE1-6")
    live.sim.set_price("0.1185", "300")
    live.sink.wait_kind(Fill, where=lambda f: f.order_id == acc.order_id)
    # Cut every connection and keep the door shut while the order keeps filling.
    live.sim.refuse_connections(1.5)
    live.sim.drop_connections()
    live.sink.wait_kind(GatewayDisconnected, where=lambda m: m.channel == "private")
    live.sim.set_price("0.1185", "300")
    live.sim.set_price("0.1185")
    live.sink.wait_kind(ExecutionsSnapshotDone, 2)
    truth = {t.exec_id for t in live.rest("trades_history") if t.order_id == acc.order_id}
    delivered = live.fills(acc.order_id)
    assert len(truth) >= 3 and truth <= {f.exec_id for f in delivered}  # every exec id at least once
    live_ids = {f.exec_id for f in delivered if not f.snapshot}
    missed = truth - live_ids
    assert missed and all(f.snapshot for f in delivered if f.exec_id in missed)
    snap = [f for f in delivered if f.snapshot]
    assert all(f.cl_ord_id == "s1-BE1-6" for f in snap)  # routed although the snapshot omits it
    assert snap[-1].final  # execution order: the completing fill comes last
    stats = live.stats()
    assert stats["reconnects"] >= 2 and stats["duplicate_fills"] >= 1 and stats["private_connected"]


def test_duplicates_and_malformed_frames_are_counted_not_fatal(live: Live) -> None:
    acc = live.place("s1-BE1-7")
    live.sim.duplicate_next_reports(1)
    live.sim.set_price("0.1185")
    live.sink.wait_kind(OrderFilled, where=lambda m: m.order_id == acc.order_id)
    live.sim.send_malformed_frame()
    live.gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-8", side="buy", price=0.1, volume=100.0))
    live.sink.wait_kind(OrderAccepted, where=lambda m: m.cl_ord_id == "s1-BE1-8")
    stats = live.stats()
    assert stats["duplicate_frames"] == 1 and stats["malformed"] >= 1
    assert not live.sink.of(GatewayDisconnected)
    assert not [e for e in live.sink.of(ExchangeError) if "sequence" in e.error]


def test_clean_stop_disarms_the_dead_mans_switch(sink: CollectingSink) -> None:
    with SimExchange(SimConfig(start_price=START)) as sim:
        gateway = GatewayActor.start(
            sink, public_ws_url=sim.public_ws_url, private_ws_url=sim.private_ws_url, rest_url=sim.rest_url,
            api_key=sim.api_key, api_secret=sim.api_secret, ws_config=CONFIG,
        )
        try:
            sink.wait_kind(GatewayConnected, 2)
            gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-9", side="buy", price=0.11, volume=100.0))
            sink.wait_kind(OrderOpen, where=lambda m: m.cl_ord_id == "s1-BE1-9")
            poll(lambda: gateway.proxy().stats().get(timeout=5)["dms_refreshes"] >= 1)
            assert sim.call(lambda venue: venue.engine.dms_trigger) is not None  # armed while running
        finally:
            gateway.stop(timeout=20)
        assert sim.call(lambda venue: venue.engine.dms_trigger) is None


def test_stop_while_the_private_socket_is_down_disarms_the_switch_over_rest(sink: CollectingSink) -> None:
    slow = WsConfig(**{**CONFIG.__dict__, "backoff_initial_s": 10.0, "backoff_max_s": 10.0, "backoff_jitter": 0.0})
    with SimExchange(SimConfig(start_price=START)) as sim:
        gateway = GatewayActor.start(
            sink, public_ws_url=sim.public_ws_url, private_ws_url=sim.private_ws_url, rest_url=sim.rest_url,
            api_key=sim.api_key, api_secret=sim.api_secret, ws_config=slow,
        )
        try:
            sink.wait_kind(GatewayConnected, 2)
            poll(lambda: sim.call(lambda venue: venue.engine.dms_trigger) is not None)
            sim.drop_connections()  # the gateway now waits 10 s before reconnecting
            sink.wait_kind(GatewayDisconnected, where=lambda m: m.channel == "private")
        finally:
            gateway.stop(timeout=20)
        assert sim.call(lambda venue: venue.engine.dms_trigger) is None  # no cancel-everything later


def test_rest_backfill_and_fill_replay_against_the_sim(live: Live) -> None:
    live.sim.advance(30)
    rows, last_committed = live.sim.call(lambda venue: rest_views.ohlc_rows(venue.market, 5, None))
    candles, last = live.rest("ohlc", "XDGUSD", 5)
    assert [c.begin_ts for c in candles] == [float(r[0]) for r in rows[:-1]]  # the forming bar is dropped
    assert all(c.closed for c in candles) and last == last_committed == candles[-1].begin_ts
    assert live.rest("ohlc", "XDGUSD", 5, last) == ([], last)  # nothing new after the cursor
    live.sim.advance(10)
    newer, cursor = live.rest("ohlc", "XDGUSD", 5, last)
    assert newer and all(c.begin_ts > last for c in newer) and cursor == newer[-1].begin_ts
    # More than one page of TradesHistory (50 per page): 60 fills of one order.
    acc = live.place("s1-BE1-10", price=0.119, volume=600.0)
    for _ in range(60):
        live.sim.set_price("0.1185", "100")  # 10 DOGE each (the sim fills 10 % of the volume)
        live.sim.set_price("0.1195", "100")
    live.sink.wait_kind(OrderFilled, where=lambda m: m.order_id == acc.order_id)
    trades = [t for t in live.rest("trades_history") if t.order_id == acc.order_id]
    delivered = {f.exec_id for f in live.fills(acc.order_id)}
    assert len(trades) == 60 and {t.exec_id for t in trades} == delivered
    replay = [f for f in live.rest("missed_fills", None) if f.order_id == acc.order_id]
    assert [f.exec_id for f in replay] == [f.exec_id for f in live.fills(acc.order_id)]  # same ids, same order
    assert all(f.cl_ord_id == "s1-BE1-10" for f in replay) and replay[-1].final and replay[-1].cum_qty == 600.0
    with pytest.raises(KrakenApiError) as info:
        live.rest("query_orders", ["ONOPE-NOPE-NOPE"])
    assert info.value.errors == ["EOrder:Invalid order"]


def test_full_session_logs_no_secret_and_leaves_no_thread(sink: CollectingSink, caplog: pytest.LogCaptureFixture) -> None:
    def host(url: str) -> str:
        return url.replace("127.0.0.1", "localhost")  # resolved in executor threads, like api.kraken.com

    with SimExchange(SimConfig(start_price=START)) as sim, caplog.at_level(logging.DEBUG):
        before = set(threading.enumerate())
        gateway = GatewayActor.start(
            sink, public_ws_url=host(sim.public_ws_url), private_ws_url=host(sim.private_ws_url),
            rest_url=host(sim.rest_url), api_key=sim.api_key, api_secret=sim.api_secret, ws_config=CONFIG,
        )
        try:
            live = Live(sim, gateway, sink)
            sink.wait_kind(ExecutionsSnapshotDone)
            acc = live.place("s1-BE1-11")
            sim.set_price("0.1185", "300")
            sink.wait_kind(Fill, where=lambda f: f.order_id == acc.order_id)
            sim.reject_next_orders(1, "EOrder:Insufficient funds")
            gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-12", side="buy", price=0.119, volume=100.0))
            sink.wait_kind(OrderRejected)
            gateway.tell(AmendOrder(order_id=acc.order_id, price=0.1188))
            gateway.tell(CancelOrder(order_id=acc.order_id))
            sink.wait_kind(OrderCanceled)
            sim.send_malformed_frame()
            sim.drop_connections()
            sink.wait_kind(ExecutionsSnapshotDone, 2)
            with pytest.raises(KrakenApiError):
                live.rest("query_orders", ["ONOPE-NOPE-NOPE"])
        finally:
            gateway.stop(timeout=20)
        left = {t.name for t in set(threading.enumerate()) - before}  # right after stop, not eventually
        tokens = sim.call(lambda venue: list(sim.tokens._issued))
    assert left == set()
    assert len(tokens) == 2  # one per private connection
    # The simulator's own loggers see the requests it receives; the bot's logs must not.
    ours = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if not r.name.startswith(("websockets.server", "gateway.sim")))
    assert "malformed frame skipped" in ours and len(caplog.records) > 100
    for secret in [sim.api_secret, sim.api_secret[:16], *tokens, *(t[-8:] for t in tokens)]:
        assert secret not in ours

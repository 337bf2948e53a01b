"""REST over real HTTP (httpx): public shapes, authentication, the call counter, trading and history."""

from __future__ import annotations

from decimal import Decimal as D

import httpx

from gateway.sim.auth import TokenStore, sign
from gateway.sim.server import SimExchange
from tests.sim.conftest import reset_account
from tests.sim.helpers import RestClient, WsClient, assert_shape, fixture

TICK = D("0.0000001")


def test_sign_reproduces_krakens_test_vector() -> None:
    vector = fixture("rest_sign_test_vector.json")
    signature = sign(vector["uri_path"], vector["post_data"].encode(), vector["nonce"], vector["private_key_base64"])
    assert signature == vector["api_sign"]


def test_public_endpoints(sim: SimExchange, rest: RestClient) -> None:
    assert_shape(rest.public("Time"), fixture("rest_time.json"))
    assert_shape(rest.public("SystemStatus"), fixture("rest_system_status.json"))
    assert rest.public("Assets", raw=True, asset="XDG,USD") == fixture("rest_assets_xxdg_zusd.json")
    assert rest.public("AssetPairs", raw=True, pair="XDGUSD") == fixture("rest_assetpairs_xdgusd.json")
    ticker = rest.public("Ticker", pair="XDGUSD")
    assert_shape(ticker, fixture("rest_ticker.json"))
    last = D(ticker["result"]["XDGUSD"]["c"][0])
    assert last == sim.call(lambda v: v.engine.price)
    assert "DOGE/USD" in rest.public("Ticker", pair="DOGE/USD")["result"]
    assert rest.public("Ticker", raw=True, pair="XBTUSD") == fixture("rest_error.json")


def test_ohlc_rows_and_last(sim: SimExchange, rest: RestClient) -> None:
    sim.advance(3)
    ohlc = rest.public("OHLC", pair="XDGUSD", interval=1)
    assert_shape(ohlc, fixture("rest_ohlc.json"))
    rows, last = ohlc["result"]["XDGUSD"], ohlc["result"]["last"]
    assert last == rows[-2][0] and rows[-1][0] - rows[-2][0] == 60
    newer = rest.public("OHLC", pair="XDGUSD", interval=1, since=last)["result"]["XDGUSD"]
    assert [r[0] for r in newer] == [rows[-1][0]]  # since is exclusive; the forming bar always comes
    five = rest.public("OHLC", pair="XDGUSD", interval=5)["result"]["XDGUSD"]
    assert all(r[0] % 300 == 0 for r in five)


def test_private_auth(sim: SimExchange, rest: RestClient) -> None:
    balance = rest.private("Balance")
    assert_shape(balance, fixture("rest_balance.json"))
    assert rest.private("Balance", as_json=True)["error"] == []
    assert rest.private("Balance", key="nobody") == fixture("rest_error_invalid_key.json")
    assert rest.private("Balance", secret="AAAAAAAA")["error"] == ["EAPI:Invalid signature"]
    stale = rest.nonce() - 1000
    assert rest.private("Balance", nonce=stale)["error"] == ["EAPI:Invalid nonce"]
    unsigned = httpx.post(f"{sim.rest_url}/0/private/Balance", data={"nonce": "1"})
    assert unsigned.status_code == 200 and unsigned.json()["error"] == ["EAPI:Invalid key"]


def test_rest_call_counter(sim: SimExchange, rest: RestClient) -> None:
    reset_account(sim)
    errors = []
    for _ in range(40):  # pro: max 20, decaying 1/s; TradesHistory costs 2
        reply = rest.private("TradesHistory")
        if reply["error"]:
            errors.append(reply)
            break
    assert errors and errors[0] == fixture("rest_error_rate_limit.json")
    assert rest.public("Time")["error"] == []  # public calls are not counted
    reset_account(sim)


def test_websocket_token_from_rest_works_on_the_private_socket(sim: SimExchange, rest: RestClient) -> None:
    reply = rest.private("GetWebSocketsToken")
    assert_shape(reply, fixture("rest_get_websockets_token.json"))
    client = WsClient(sim.private_ws_url)
    ack = client.request("subscribe", {"channel": "balances", "token": reply["result"]["token"]})
    assert ack["success"] is True
    client.close()


def test_trading_and_history(sim: SimExchange, rest: RestClient) -> None:
    reset_account(sim)
    px = sim.call(lambda v: v.engine.price)
    buy_px = (px - 30 * TICK).quantize(TICK)
    added = rest.private("AddOrder", ordertype="limit", type="buy", volume="100", pair="XDGUSD", price=str(buy_px),
                         oflags="post", cl_ord_id="rest-1")
    assert_shape(added, fixture("rest_add_order_response.json"))
    order_id = added["result"]["txid"][0]
    assert added["result"]["descr"]["order"] == f"buy 100.00000000 XDGUSD @ limit {buy_px:.7f}"
    sell = rest.private("AddOrder", ordertype="limit", type="sell", volume="250", pair="XDGUSD",
                        price=f"{px + 30 * TICK:.7f}", userref="7")
    sell_id = sell["result"]["txid"][0]
    sim.set_price(px + 31 * TICK, volume=400)  # 40 of 250 fill (share 0.1)
    open_orders = rest.private("OpenOrders")
    assert_shape(open_orders, fixture("rest_open_orders.json"))
    assert set(open_orders["result"]["open"]) == {order_id, sell_id}
    partial = open_orders["result"]["open"][sell_id]
    assert partial["misc"] == "partial" and partial["vol_exec"] == "40.00000000" and partial["userref"] == 7
    assert open_orders["result"]["open"][order_id]["oflags"] == "fciq,post"
    cancelled = rest.private("CancelOrder", txid=sell_id)
    assert cancelled == fixture("rest_cancel_order_response.json")
    sim.set_price(buy_px - TICK)
    query = rest.private("QueryOrders", txid=f"{order_id},{sell_id}", trades="true")
    assert_shape(query["result"][order_id], fixture("rest_query_orders.json")["result"]["OK4GJX-KSTLS-7DZZO5"],
                 extra={"cl_ord_id", "trades"})
    assert query["result"][order_id]["status"] == "closed" and query["result"][sell_id]["status"] == "canceled"
    assert query["result"][sell_id]["reason"] == "User requested"
    history = rest.private("TradesHistory")
    assert_shape(history, fixture("rest_trades_history.json"))
    trades = [t for t in history["result"]["trades"].values() if t["ordertxid"] in (order_id, sell_id)]
    assert {(t["type"], t["vol"], t["maker"]) for t in trades} == {("buy", "100.00000000", True),
                                                                      ("sell", "40.00000000", True)}
    times = [t["time"] for t in history["result"]["trades"].values()]
    assert times == sorted(times, reverse=True)
    volume = rest.private("TradeVolume", pair="XDGUSD")
    assert_shape(volume, fixture("rest_trade_volume.json"))
    assert volume["result"]["fees"]["XDGUSD"]["fee"] == "0.4000"
    assert volume["result"]["fees_maker"]["XDGUSD"]["fee"] == "0.2500"
    assert rest.private("TradeVolume")["result"]["fees"] is None


def test_rest_order_errors(sim: SimExchange, rest: RestClient) -> None:
    reset_account(sim)
    small = rest.private("AddOrder", ordertype="limit", type="buy", volume="10", pair="XDGUSD", price="0.01")
    assert small == {"error": ["EOrder:Order minimum not met"]}
    pair = rest.private("AddOrder", ordertype="limit", type="buy", volume="100", pair="XBTUSD", price="0.01")
    assert pair == {"error": ["EQuery:Unknown asset pair"]}
    unknown = rest.private("CancelOrder", txid="OAAAAA-BBBBB-CCCCCC")
    assert unknown == {"error": ["EOrder:Unknown order"]}
    assert rest.private("NoSuchMethod")["error"] == ["EGeneral:Unknown method"]
    assert httpx.get(f"{sim.rest_url}/nowhere").status_code == 404


def test_ws_tokens_must_be_used_within_their_lifetime() -> None:
    now = [0.0]
    store = TokenStore(ttl_s=900, clock=lambda: now[0])
    early, late = store.issue(), store.issue()
    assert len(early) == 43
    first_connection: set[str] = set()
    now[0] = 899.0
    assert store.check(early, first_connection)  # first use within 15 minutes
    now[0] = 5000.0
    assert store.check(early, first_connection)  # then valid for as long as that connection lives
    assert not store.check(early, set())  # a new connection needs a fresh token
    assert not store.check(late)  # never used in time
    assert not store.check("unknown") and not store.check(None)
    fresh = store.issue()  # also forgets the expired tokens
    assert store.check(fresh, set()) and not store.check(early)


def test_public_calls_accept_post_bodies(sim: SimExchange) -> None:
    # krakenex and other clients POST public calls with a form body instead of a query string.
    ohlc = httpx.post(f"{sim.rest_url}/0/public/OHLC", data={"pair": "XDGUSD", "interval": "5"}).json()
    assert ohlc["error"] == [] and all(row[0] % 300 == 0 for row in ohlc["result"]["XDGUSD"])
    ticker = httpx.post(f"{sim.rest_url}/0/public/Ticker", json={"pair": "DOGE/USD"}).json()
    assert list(ticker["result"]) == ["DOGE/USD"]
    refused = httpx.post(f"{sim.rest_url}/0/public/Ticker", data={"pair": "XBTUSD"}).json()
    assert refused == fixture("rest_error.json")

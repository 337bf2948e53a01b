"""Every WebSocket fixture decodes to the expected message (or encodes to the fixture shape).

`test_every_fixture_is_checked` fails when a fixture file is named by no check here or in
test_codec_rest.py, so a new fixture cannot slip in untested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.messages import (
    AmendAcked,
    AmendOrder,
    BalanceUpdate,
    CancelAcked,
    CancelOrder,
    ExchangeStatus,
    Fill,
    InstrumentRules,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PlaceOrder,
    PriceTick,
    exchange_event_decoder,
)
from gateway.kraken import codec
from gateway.kraken.codec import ChannelFrame, CodecError, OrderPending, Response
from gateway.kraken.routing import CandleCloser, OrderRegistry
from tests.gateway.helpers import FIXTURES, fixture, fixture_text

NOW = 1_700_000_000.0
UUID = "6d1b345e-2821-40e2-ad83-4ecb18a06876"
TOKEN = "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"


def decode(name: str) -> ChannelFrame | Response:
    return codec.decode_frame(fixture_text(name), NOW)


def events(name: str) -> list[Any]:
    frame = decode(name)
    assert isinstance(frame, ChannelFrame)
    return frame.events


def response(name: str) -> Response:
    frame = decode(name)
    assert isinstance(frame, Response)
    return frame


def ts(text: str) -> float:
    return codec.parse_ts(text, 0.0)


# --------------------------------------------------------------------------- connection level


def test_status_keeps_connection_id_above_int64_as_text() -> None:
    (status,) = events("ws_status.json")
    assert status == ExchangeStatus(
        system="online", api_version="v2", connection_id="13834774380200032777", version="2.0.0", ts=NOW
    )
    (observed,) = events("ws_status_observed_2026.json")
    assert observed.connection_id == "18125794168470749634"
    assert observed.version == "2.0.10"  # unknown keys (upcoming_maintenance, emergency) ignored


def test_heartbeat_and_pong() -> None:
    frame = decode("ws_heartbeat.json")
    assert isinstance(frame, ChannelFrame) and frame.channel == "heartbeat" and frame.events == []
    pong = response("ws_pong.json")
    assert pong.method == "pong" and pong.req_id == 101 and pong.success


def test_ping_request_matches_fixture() -> None:
    assert codec.ping_request(101) == fixture("ws_ping_request.json")


@pytest.mark.parametrize(
    ("name", "error", "req_id"),
    [
        ("ws_error_invalid_session.json", "ESession:Invalid session", 42),
        (
            "ws_error_private_on_public_host.json",
            "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com",
            None,
        ),
        (
            "ws_error_public_on_private_host.json",
            "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com",
            None,
        ),
        ("ws_subscribe_error_pair_not_supported.json", "Currency pair not supported XDG/USD", None),
    ],
)
def test_subscribe_errors_keep_kraken_text(name: str, error: str, req_id: int | None) -> None:
    resp = response(name)
    assert resp.method == "subscribe" and not resp.success
    assert resp.error == error and resp.req_id == req_id


def test_pair_not_supported_names_the_symbol() -> None:
    assert response("ws_subscribe_error_pair_not_supported.json").symbol == "XDG/USD"


# --------------------------------------------------------------------------- public channels


def _subset(ours: dict[str, Any], theirs: dict[str, Any], extra_params: set[str]) -> None:
    """Our request carries every key of the fixture with the same value, plus `extra_params`."""
    assert ours["method"] == theirs["method"]
    for key, value in theirs["params"].items():
        assert ours["params"][key] == value, key
    assert set(ours["params"]) - set(theirs["params"]) == extra_params
    assert isinstance(ours["req_id"], int)


def test_subscribe_requests_match_fixtures() -> None:
    _subset(codec.ticker_subscribe("DOGE/USD", "bbo", 1), fixture("ws_ticker_subscribe_request.json"), {"event_trigger", "snapshot"})
    _subset(codec.ohlc_subscribe("DOGE/USD", 5, 2), fixture("ws_ohlc_subscribe_request.json"), {"snapshot"})
    _subset(codec.executions_subscribe(TOKEN, 3), fixture("ws_executions_subscribe_request.json"), {"order_status"})
    _subset(codec.balances_subscribe(TOKEN, 4), fixture("ws_balances_subscribe_request.json"), {"snapshot"})


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("ws_ticker_subscribe_ack.json", "ticker"),
        ("ws_ohlc_subscribe_ack.json", "ohlc"),
        ("ws_executions_subscribe_ack.json", "executions"),
        ("ws_balances_subscribe_ack.json", "balances"),
    ],
)
def test_subscribe_acks(name: str, channel: str) -> None:
    resp = response(name)
    assert resp.method == "subscribe" and resp.success and resp.result["channel"] == channel


def test_ticker_snapshot_and_update() -> None:
    (snap,) = events("ws_ticker_snapshot.json")
    assert snap == PriceTick(symbol="DOGE/USD", bid=0.15231, ask=0.15236, last=0.15234, ts=ts("2023-09-25T09:04:31.742648Z"))
    (upd,) = events("ws_ticker_update.json")
    assert (upd.bid, upd.ask, upd.last) == (0.15232, 0.15236, 0.15236)
    assert upd.mid == pytest.approx(0.15234)


def test_ohlc_snapshot_closes_all_but_the_last_bar() -> None:
    candles = CandleCloser().feed(events("ws_ohlc_snapshot.json"))
    assert [(c.begin_ts, c.closed) for c in candles] == [
        (ts("2023-10-04T15:25:00Z"), True),
        (ts("2023-10-04T15:30:00Z"), False),
    ]
    first = candles[0]
    assert (first.open, first.high, first.low, first.close) == (0.15201, 0.15219, 0.15198, 0.15214)
    assert (first.volume, first.vwap, first.trades, first.interval_min) == (251234.5678, 0.15207, 41, 5)


def test_ohlc_update_is_the_forming_bar_and_closes_the_previous() -> None:
    closer = CandleCloser()
    closer.feed(events("ws_ohlc_snapshot.json"))
    (update,) = events("ws_ohlc_update.json")
    out = closer.feed([update])
    assert [(c.begin_ts, c.closed) for c in out] == [
        (ts("2023-10-04T15:30:00Z"), True),  # the previous bar, now final
        (ts("2023-10-04T16:25:00Z"), False),
    ]
    assert out[1].close == 0.15236 and out[1].begin_ts == 1696436700.0  # interval_begin, not timestamp


def test_unsubscribed_public_channels_decode_to_nothing() -> None:
    for name in ("ws_trade_snapshot.json", "ws_trade_update.json", "ws_book_snapshot.json", "ws_book_update.json"):
        assert events(name) == []


def test_instrument_pairs_become_rules() -> None:
    (doge,) = events("ws_instrument_snapshot_doge.json")
    assert doge == InstrumentRules(
        symbol="DOGE/USD", min_volume=50.0, min_cost_usd=0.5, price_decimals=7, volume_decimals=8, cost_decimals=9
    )
    btc, matic = events("ws_instrument_snapshot_docs.json")
    assert (btc.symbol, btc.min_volume, btc.price_decimals, btc.cost_decimals) == ("BTC/USD", 0.0001, 1, 5)
    assert (matic.symbol, matic.min_cost_usd, matic.price_decimals) == ("MATIC/GBP", 0.43, 4)


# --------------------------------------------------------------------------- executions


def test_executions_snapshot_open_order_and_trade() -> None:
    order, trade = events("ws_executions_snapshot.json")
    assert order == OrderOpen(
        order_id="OXDG7Q-4ZK2M-PL3VQA", cl_ord_id=None, side="buy", order_qty=250.0, limit_price=0.1501,
        cum_qty=0.0, ts=ts("2023-09-22T09:58:12.100200Z"), snapshot=True,
    )
    assert isinstance(trade, Fill) and trade.snapshot
    assert (trade.exec_id, trade.order_id, trade.side) == ("TJE7HC-DKBTI-5BFVKE", "OGTT3Y-C6I3P-XRI6HX", "buy")
    assert (trade.last_qty, trade.last_price, trade.fee, trade.liquidity) == (500.0, 0.1498, 0.1198, "m")
    assert trade.final  # order_status "filled"


def test_observed_trade_snapshot_uses_fee_list_not_usd_equivalent() -> None:
    a, b = events("ws_executions_trade_snapshot_observed.json")
    assert (a.exec_id, a.fee, a.last_qty, a.last_price) == ("B1Y0D9-6JIJG-W1IB7L", 0.04051, 0.00016, 63377.2)
    assert (b.exec_id, b.fee, b.side) == ("QEP2P0-DVAJN-VF1UTF", 0.09337, "sell")
    assert a.snapshot and b.snapshot


def test_pending_new_carries_the_description() -> None:
    (pending,) = events("ws_executions_pending_new.json")
    assert pending == OrderPending(
        order_id="OK4GJX-KSTLS-7DZZO5", cl_ord_id=None, side="sell", order_qty=100.0, limit_price=0.1523,
        ts=ts("2023-09-22T10:33:05.709950Z"),
    )
    (docs,) = events("ws_executions_docs_pending_new_btcusd.json")
    assert (docs.order_qty, docs.limit_price) == (0.005, 26500.0)


def test_sparse_lifecycle_is_enriched_by_the_registry() -> None:
    registry = OrderRegistry()
    registry.expect(PlaceOrder(cl_ord_id="s3-AE1c-2f", side="sell", price=0.1523, volume=100.0))
    # The add_order ack is what ties order_id to our cl_ord_id for a userref-less order.
    registry.enrich(OrderAccepted(cl_ord_id="s3-AE1c-2f", order_id="OK4GJX-KSTLS-7DZZO5", ts=NOW))
    out = [
        registry.enrich(e)
        for name in (
            "ws_executions_pending_new.json", "ws_executions_new.json", "ws_executions_trade_partial.json",
            "ws_executions_trade_final.json", "ws_executions_filled.json",
        )
        for e in events(name)
    ]
    assert out[0] is None  # pending_new is learned, not forwarded
    new, partial, final, filled = out[1:]
    assert new == OrderOpen(
        order_id="OK4GJX-KSTLS-7DZZO5", cl_ord_id="s3-AE1c-2f", side="sell", order_qty=100.0, limit_price=0.1523,
        ts=ts("2023-09-22T10:33:05.709982Z"),
    )
    assert (partial.exec_id, partial.cl_ord_id, partial.last_qty, partial.cum_qty) == ("TGBB7L-HT5LX-J3BZ4A", "s3-AE1c-2f", 40.0, 40.0)
    assert (partial.order_qty, partial.fee, partial.liquidity, partial.final) == (100.0, 0.0158, "t", False)
    assert (final.exec_id, final.cum_qty, final.fee, final.final) == ("T2XQPL-7MNV4-KDA8RW", 100.0, 0.0238, True)
    assert filled == OrderFilled(
        order_id="OK4GJX-KSTLS-7DZZO5", cl_ord_id="s3-AE1c-2f", cum_qty=100.0, avg_price=0.1524,
        ts=ts("2023-09-22T10:33:07.112301Z"),
    )


def test_completing_trade_marked_partially_filled_is_final_by_quantity() -> None:
    # The docs example reports partially_filled on the fill that completes the order.
    registry = OrderRegistry()
    for e in events("ws_executions_docs_pending_new_btcusd.json"):
        registry.enrich(e)
    (raw,) = events("ws_executions_docs_trade_btcusd.json")
    assert not raw.final
    fill = registry.enrich(raw)
    assert fill.final and fill.order_qty == 0.005 and fill.fee == 0.3458 and fill.last_price == 26599.9


def test_canceled_and_amended() -> None:
    (canceled,) = events("ws_executions_canceled.json")
    assert canceled == OrderCanceled(
        order_id="KIUEL4-G3PWU-HOJTYU", cl_ord_id=None, cum_qty=0.0, reason="User requested",
        ts=ts("2024-05-18T12:58:40.165132Z"),
    )
    (amended,) = events("ws_executions_amended.json")
    assert amended == OrderAmended(
        order_id="6LYQGW-FH922-U6JTUM", cl_ord_id=None, order_qty=100.0, limit_price=0.1522,
        ts=ts("2024-10-13T13:38:39.273886Z"),
    )


# --------------------------------------------------------------------------- balances


def test_balances_snapshot_and_updates() -> None:
    (snap,) = events("ws_balances_snapshot.json")
    assert snap == BalanceUpdate(balances={"DOGE": 5000.0, "USD": 1000.0}, ts=NOW, snapshot=True)
    (doge,) = events("ws_balances_update_trade_doge.json")
    assert doge.balances == {"DOGE": 4900.0} and not doge.snapshot
    (usd,) = events("ws_balances_update_trade_usd.json")
    assert usd.balances == {"USD": 1015.2004}  # the new balance, net of the fee
    assert usd.ts == ts("2023-09-22T10:33:05.710082Z")


# --------------------------------------------------------------------------- trading methods


def test_add_order_request_equals_fixture() -> None:
    intent = PlaceOrder(cl_ord_id=UUID, side="buy", price=0.1523, volume=100.0, post_only=True)
    assert codec.add_order_request(intent, TOKEN, 123456789) == fixture("ws_add_order_request.json")


def test_add_order_request_rounds_float_noise() -> None:
    intent = PlaceOrder(cl_ord_id="x", side="sell", price=0.1 + 0.0523, volume=100.000000001)
    params = codec.add_order_request(intent, TOKEN, 1)["params"]
    assert (params["limit_price"], params["order_qty"]) == (0.1523, 100.0)
    assert '"limit_price":0.1523' in codec.dumps(codec.add_order_request(intent, TOKEN, 1))


@pytest.mark.parametrize(
    ("name", "their_only", "ours_only"),
    [
        # We route by cl_ord_id, never by order_userref, and never send validate-only orders.
        ("ws_add_order_request_userref.json", {"order_userref"}, {"cl_ord_id", "time_in_force", "post_only"}),
        ("ws_add_order_request_validate.json", {"validate"}, {"cl_ord_id", "time_in_force", "post_only"}),
    ],
)
def test_add_order_request_variants_share_the_shape(name: str, their_only: set[str], ours_only: set[str]) -> None:
    theirs = fixture(name)
    p = theirs["params"]
    ours = codec.add_order_request(
        PlaceOrder(cl_ord_id="c", side=p["side"], price=p["limit_price"], volume=p["order_qty"]), p["token"], theirs["req_id"]
    )
    assert set(theirs["params"]) - set(ours["params"]) == their_only
    assert set(ours["params"]) - set(theirs["params"]) == ours_only
    shared = set(theirs["params"]) & set(ours["params"])
    assert {k: ours["params"][k] for k in shared} == {k: p[k] for k in shared}
    assert ours["req_id"] == theirs["req_id"]


def test_add_order_responses() -> None:
    ok = codec.add_order_outcome(response("ws_add_order_response_ok.json"), UUID)
    assert ok == OrderAccepted(cl_ord_id=UUID, order_id="OPS23M-VS41G-DDE5Z2", ts=ts("2024-05-18T12:05:50.300542Z"), req_id=123456789)
    ok2 = codec.add_order_outcome(response("ws_add_order_response_ok_userref.json"), "s1-AE1-1")
    assert (ok2.cl_ord_id, ok2.order_id) == ("s1-AE1-1", "AA5JGQ-SBMRC-SCJ7J7")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ws_add_order_response_error.json", "EOrder:Insufficient funds"),
        (
            "ws_add_order_response_error_invalid_arguments.json",
            "EGeneral:Invalid arguments:no_mpp order option is only available when ordertype = market",
        ),
        ("ws_add_order_response_error_permission_denied.json", "EGeneral:Permission denied"),
        ("ws_add_order_response_error_rate_limit.json", "EOrder:Rate limit exceeded"),
        ("ws_add_order_response_error_orders_limit.json", "EOrder:Orders limit exceeded"),
    ],
)
def test_add_order_rejections_keep_kraken_text(name: str, error: str) -> None:
    resp = response(name)
    out = codec.add_order_outcome(resp, "s1-BE2-3")
    assert out == OrderRejected(cl_ord_id="s1-BE2-3", error=error, ts=resp.ts, req_id=resp.req_id)


def test_amend_order_request_equals_fixture() -> None:
    theirs = fixture("ws_amend_order_request.json")
    intent = AmendOrder(cl_ord_id=UUID, price=0.1522, volume=100.0, post_only=True)
    assert codec.amend_order_request(intent, theirs["params"]["token"], 123456800) == theirs


def test_amend_order_request_by_order_id_resends_known_qty() -> None:
    theirs = fixture("ws_amend_order_request_docs_order_id.json")
    p = theirs["params"]
    ours = codec.amend_order_request(AmendOrder(order_id=p["order_id"], price=p["limit_price"]), p["token"], 7)
    assert set(p) - set(ours["params"]) == {"deadline"}  # we do not use deadlines
    assert {k: ours["params"][k] for k in ("order_id", "limit_price", "post_only", "token")} == {
        k: p[k] for k in ("order_id", "limit_price", "post_only", "token")
    }
    with_qty = codec.amend_order_request(AmendOrder(order_id="O1", price=0.15), "t", 8, known_qty=250.0)
    assert with_qty["params"]["order_qty"] == 250.0  # documented as required: resend the known qty


def test_amend_responses() -> None:
    resp = response("ws_amend_order_response_ok.json")
    assert codec.amend_order_outcome(resp, None, None) == AmendAcked(
        amend_id="TTW6PD-RC36L-ZZSWNU", order_id=None, cl_ord_id="2c6be801-1f53-4f79-a0bb-4ea1c95dfae9", ts=resp.ts
    )
    ok2 = codec.amend_order_outcome(response("ws_amend_order_response_ok_order_id.json"), None, None)
    assert (ok2.amend_id, ok2.order_id, ok2.req_id) == ("1M2JV8-OEJZD-G5GSBF", "BQS60L-EGW18-UPAK9U", 0)
    bad = codec.amend_order_outcome(response("ws_amend_order_response_error.json"), "s1-AX1-1", "O1")
    assert isinstance(bad, OrderRejected) and bad.request == "amend_order"
    assert (bad.error, bad.cl_ord_id, bad.order_id) == ("Limit_price field must be a number_float", "s1-AX1-1", "O1")


def test_cancel_order_requests() -> None:
    theirs = fixture("ws_cancel_order_request.json")
    assert codec.cancel_order_request(CancelOrder(cl_ord_id=UUID), theirs["params"]["token"], 123456789) == theirs
    by_id = fixture("ws_cancel_order_request_order_id.json")
    ours = codec.cancel_order_request(CancelOrder(order_id="OM5CRX-N2HAL-GFGWE9", cl_ord_id=UUID), "tok", 1)
    assert set(ours["params"]) == set(by_id["params"])  # order id wins over cl_ord_id when known
    assert ours["params"]["order_id"] == ["OM5CRX-N2HAL-GFGWE9"]
    userref = fixture("ws_cancel_order_request_userref.json")
    assert set(userref["params"]) - {"order_userref"} == set(ours["params"]) - {"order_id"}
    with pytest.raises(ValueError):
        codec.cancel_order_request(CancelOrder(), "tok", 1)


def test_cancel_order_responses() -> None:
    ok = codec.cancel_order_outcome(response("ws_cancel_order_response_ok.json"), None, None)
    assert isinstance(ok, CancelAcked) and ok.order_id == "OLUMT4-UTEGU-ZYM7E9" and ok.req_id == 123456789
    ok2 = codec.cancel_order_outcome(response("ws_cancel_order_response_ok_cl_ord_id.json"), None, None)
    assert ok2.cl_ord_id == "a-uuid"
    bad = codec.cancel_order_outcome(response("ws_cancel_order_response_error.json"), "s2-BX3-4", None)
    assert isinstance(bad, OrderRejected)
    assert (bad.request, bad.error, bad.cl_ord_id) == ("cancel_order", "EOrder:Unknown order", "s2-BX3-4")


def test_dead_mans_switch_request_and_response() -> None:
    theirs = fixture("ws_cancel_all_orders_after_request.json")
    assert codec.cancel_all_orders_after_request(100, theirs["params"]["token"], 1234567890) == theirs
    resp = response("ws_cancel_all_orders_after_response.json")
    assert resp.success and resp.result["triggerTime"] == "2023-09-21T15:51:09Z"


def test_methods_we_do_not_use_still_decode() -> None:
    assert response("ws_cancel_all_response.json").result == {"count": 1}
    assert response("ws_edit_order_response_ok.json").result["original_order_id"] == "ORDERX-IDXXX-XXXXX1"
    assert len(response("ws_batch_add_response.json").result) == 2
    assert response("ws_batch_cancel_response_docs.json").result == {"count": 3}
    # The observed shape puts the count at top level; both read the same.
    assert response("ws_batch_cancel_response_observed.json").result == {"count": 2}


@pytest.mark.parametrize(
    "name",
    [
        "ws_book_subscribe_request.json", "ws_cancel_all_request.json", "ws_edit_order_request.json",
        "ws_batch_add_request.json", "ws_batch_cancel_request.json",
    ],
)
def test_client_requests_are_not_server_messages(name: str) -> None:
    # Requests we never send; arriving from a server they would be malformed, not actionable.
    with pytest.raises(CodecError):
        decode(name)


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "raw",
    [
        "not json", "[1,2]", '{"foo": 1}', '{"channel":"executions","type":"update","data":[{"exec_type":"trade"}]}',
        '{"channel":"executions","type":"update","data":[{"exec_type":"trade","order_id":"O","last_qty":1}]}',
        '{"channel":"ticker","type":"update","data":{"symbol":"DOGE/USD"}}',
        '{"channel":"ohlc","type":"update","data":[{"symbol":"DOGE/USD","open":1}]}',
        '{"method":"add_order","success":true,"req_id":"x"}',
        '{"channel":"ticker","type":"update","data":[{"symbol":"DOGE/USD","bid":1,"timestamp":"yesterday"}]}',
        # Numbers no float can carry must not reach a message as nan/inf.
        '{"channel":"ticker","type":"update","data":[{"symbol":"DOGE/USD","bid":"NaN","ask":1,"last":1}]}',
        '{"channel":"ticker","type":"update","data":[{"symbol":"DOGE/USD","bid":1e400,"ask":1,"last":1}]}',
        '{"channel":"executions","type":"update","data":[{"exec_type":"trade","order_id":"O","exec_id":"E","last_qty":"Infinity","last_price":1}]}',
        '{"channel":"balances","type":"update","data":[{"asset":"USD","balance":"-NaN"}]}',
        '{"channel":"ohlc","type":"update","data":[{"symbol":"DOGE/USD","interval":"x","interval_begin":"2024-01-01T00:00:00Z","open":1,"high":1,"low":1,"close":1}]}',
        '{"channel":"instrument","type":"snapshot","data":{"pairs":[{"symbol":"DOGE/USD","qty_min":50,"price_precision":"x","qty_precision":8}]}}',
        "[" * 100_000 + "]" * 100_000,  # nesting deeper than the decoder recurses
    ],
)
def test_malformed_frames_raise_codec_error(raw: str) -> None:
    with pytest.raises(CodecError):
        codec.decode_frame(raw, NOW)


def test_bare_error_frames_become_error_responses() -> None:
    resp = codec.decode_frame('{"Error": "Exceeded msg rate"}', NOW)
    assert isinstance(resp, Response) and resp.method == "error" and resp.error == "Exceeded msg rate"


def test_timestamps() -> None:
    assert ts("2023-10-04T15:25:00.000000000Z") == 1696433100.0
    assert ts("2023-09-21T15:51:09Z") == 1695311469.0
    assert ts("2022-06-13T08:09:10.7890123") == pytest.approx(1655107750.7890123)
    assert codec.parse_ts(None, 5.0) == 5.0


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("ws_*.json")), ids=lambda p: p.name)
def test_every_decoded_fixture_message_round_trips_through_the_protocol(path: Path) -> None:
    # What the codec builds must be valid protocol messages: msgspec-encoded and decoded with
    # the project's ExchangeEvent decoder, each comes back equal (types and values intact).
    try:
        frame = codec.decode_frame(path.read_text(), NOW)
    except CodecError:
        return  # client requests: covered by test_client_requests_are_not_server_messages
    if isinstance(frame, ChannelFrame):
        messages = [m for m in frame.events if not isinstance(m, OrderPending)]
    elif frame.method == "add_order":
        messages = [codec.add_order_outcome(frame, "s1-BE1-1")]
    elif frame.method in ("cancel_order", "amend_order"):
        outcome = codec.cancel_order_outcome if frame.method == "cancel_order" else codec.amend_order_outcome
        messages = [outcome(frame, "s1-BE1-1", "O1")]
    else:
        messages = []  # subscribe acks, pong, batch methods: no protocol message
    for message in messages:
        assert exchange_event_decoder.decode(msgspec.json.encode(message)) == message


def test_every_fixture_is_checked() -> None:
    # Every fixture file must be named by a check here, in test_codec_rest.py or test_signing_rest.py.
    here = Path(__file__).parent
    sources = "".join((here / f).read_text() for f in ("test_codec_ws.py", "test_codec_rest.py", "test_signing_rest.py"))
    missing = sorted(p.name for p in FIXTURES.glob("*.json") if f'"{p.name}"' not in sources)
    assert not missing, f"fixtures without a codec test: {missing}"

"""Every REST fixture decodes to the expected record (see test_codec_ws for the coverage check)."""

from __future__ import annotations

import pytest

from actors.messages import Candle, InstrumentRules, PriceTick
from gateway.kraken import codec_rest
from gateway.kraken.codec import parse
from gateway.kraken.codec_rest import KrakenApiError
from tests.gateway.helpers import fixture_text


def result(name: str, method: str = "M") -> object:
    return codec_rest.result_of(method, parse(fixture_text(name)))


def test_asset_pairs_to_rules() -> None:
    rules = codec_rest.asset_pair_rules(result("rest_assetpairs_xdgusd.json"), "DOGE/USD", "XDGUSD")
    assert rules == InstrumentRules(
        symbol="DOGE/USD", min_volume=50.0, min_cost_usd=0.5, price_decimals=7, volume_decimals=8, cost_decimals=9
    )
    # The pair key is whatever Kraken resolved; with one pair it is found without asking.
    assert codec_rest.asset_pair_rules(result("rest_assetpairs_xdgusd.json"), "DOGE/USD") == rules


def test_assets_use_legacy_names_we_translate() -> None:
    assets = result("rest_assets_xxdg_zusd.json")
    assert {codec_rest.REST_TO_WS_ASSET[k] for k in assets} == {"DOGE", "USD"}
    assert assets["XXDG"]["altname"] == "XDG"


def test_balance_uses_ws_asset_names() -> None:
    assert codec_rest.balances(result("rest_balance.json")) == {"USD": 1000.0, "DOGE": 5000.0}


def test_trade_volume_fee_percentages() -> None:
    fees = codec_rest.fee_rates(result("rest_trade_volume.json"), "XDGUSD")
    assert (fees.maker_pct, fees.taker_pct, fees.volume_30d_usd) == (0.16, 0.26, 294.0219)


def test_ohlc_drops_the_forming_row_and_returns_the_cursor() -> None:
    candles, last = codec_rest.ohlc(result("rest_ohlc.json"), "DOGE/USD", 1)
    assert last == 1762777140
    assert [c.begin_ts for c in candles] == [1762777020.0, 1762777080.0, 1762777140.0]
    assert all(c.closed for c in candles)
    assert candles[0] == Candle(
        symbol="DOGE/USD", interval_min=1, begin_ts=1762777020.0, open=0.15214, high=0.15229, low=0.15213,
        close=0.15226, volume=39876.54321, vwap=0.15221, trades=23, closed=True,
    )
    assert (candles[1].vwap, candles[1].volume, candles[1].trades) == (0.0, 0.0, 0)  # a no-trade bar


def test_ticker() -> None:
    tick = codec_rest.ticker(result("rest_ticker.json"), "DOGE/USD", 5.0)
    assert tick == PriceTick(symbol="DOGE/USD", bid=0.15231, ask=0.15236, last=0.15234, ts=5.0)


def test_time_status_and_token() -> None:
    assert codec_rest.server_time(result("rest_time.json")) == 1762820224.0
    status = codec_rest.system_status(result("rest_system_status.json"), 0.0)
    assert status.system == "online" and status.ts == 1762820230.0
    assert codec_rest.ws_token(result("rest_get_websockets_token.json")) == "nmc39wCfFqn0mirRrpHMFOu0xfq4VVghFy+UPzpVcJo"


def test_open_orders() -> None:
    first, second = codec_rest.open_orders(result("rest_open_orders.json"))
    assert (first.order_id, first.cl_ord_id, first.side, first.order_qty, first.limit_price) == (
        "OPS23M-VS41G-DDE5Z2", "6d1b345e-2821-40e2-ad83-4ecb18a06876", "buy", 100.0, 0.1523,
    )
    assert first.post_only and first.cum_qty == 0.0
    assert (second.cl_ord_id, second.userref, second.cum_qty, second.post_only) == (None, 7, 40.0, False)
    as_open = codec_rest.order_open(second)
    assert as_open.snapshot and as_open.cum_qty == 40.0 and as_open.side == "sell"


def test_query_orders() -> None:
    filled, canceled = codec_rest.orders(result("rest_query_orders.json"))
    assert (filled.status, filled.cum_qty, filled.avg_price, filled.fee, filled.reason) == ("closed", 100.0, 0.1524, 0.0396, None)
    assert filled.close_ts == 1695378787.1122
    assert (canceled.status, canceled.reason, canceled.cl_ord_id) == (
        "canceled", "User requested", "2c6be801-1f53-4f79-a0bb-4ea1c95dfae9",
    )


def test_trades_history_replay_rebuilds_cum_qty_and_final() -> None:
    trades, count = codec_rest.trades(result("rest_trades_history.json"))
    assert count == 2 and {t.exec_id for t in trades} == {"TGBB7L-HT5LX-J3BZ4A", "T2XQPL-7MNV4-KDA8RW"}
    known = {o.order_id: o for o in codec_rest.orders(result("rest_query_orders.json"))}
    first, second = codec_rest.replay_fills(trades, known)
    assert (first.exec_id, first.last_qty, first.cum_qty, first.final) == ("TGBB7L-HT5LX-J3BZ4A", 40.0, 40.0, False)
    assert (second.exec_id, second.last_qty, second.cum_qty, second.final) == ("T2XQPL-7MNV4-KDA8RW", 60.0, 100.0, True)
    assert (second.fee, second.liquidity, second.order_qty, second.snapshot) == (0.0238, "t", 100.0, True)
    # Without the order's info cum_qty is the running sum in the window and nothing is final.
    a, b = codec_rest.replay_fills(trades, {})
    assert (a.cum_qty, b.cum_qty, b.final, b.cl_ord_id) == (40.0, 100.0, False, None)


def test_order_endpoints_we_do_not_call_still_decode() -> None:
    assert result("rest_add_order_response.json")["txid"] == ["OUF4EM-FRGI2-MQMWZD"]
    assert "close" in result("rest_add_order_response_docs.json")["descr"]
    assert result("rest_cancel_order_response.json") == {"count": 1}


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("rest_error.json", ["EQuery:Unknown asset pair"]),
        ("rest_error_invalid_key.json", ["EAPI:Invalid key"]),
        ("rest_error_rate_limit.json", ["EAPI:Rate limit exceeded"]),
    ],
)
def test_errors_raise_with_kraken_strings(name: str, errors: list[str]) -> None:
    with pytest.raises(KrakenApiError) as info:
        result(name, "Balance")
    assert info.value.errors == errors and info.value.method == "Balance"
    assert errors[0] in str(info.value)

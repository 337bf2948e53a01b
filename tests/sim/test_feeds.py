"""Feeds (CSV replay, synthetic), candle paths, derived market data and the book checksum."""

from __future__ import annotations

import gzip
import itertools
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from gateway.sim import book
from gateway.sim.config import BUNDLED_DATA_FILE, SimConfig
from gateway.sim.feeds import Candle, CsvFeed, ListFeed, SyntheticFeed, candle_path, load_candles
from gateway.sim.rest_views import ohlc_rows
from gateway.sim.venue import Venue
from tests.sim.helpers import FIXTURES, RANGING_CSV

ROWS = "time,open,high,low,close,volume\n60,0.1,0.12,0.09,0.11,1000\n120,0.11,0.11,0.1,0.1,500\n"


def test_csv_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "c.csv"
    plain.write_text(ROWS)
    zipped = tmp_path / "c.csv.gz"
    zipped.write_bytes(gzip.compress(ROWS.encode()))
    assert load_candles(plain) == load_candles(zipped)
    assert load_candles(plain)[0] == Candle(60, D("0.1"), D("0.12"), D("0.09"), D("0.11"), D("1000"))


def test_csv_errors_and_out_of_order_rows(tmp_path: Path) -> None:
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("t,o,h,l,c,v\n")
    with pytest.raises(ValueError, match="header"):
        CsvFeed(bad_header).next_candle()
    bad_row = tmp_path / "r.csv"
    bad_row.write_text("time,open,high,low,close,volume\n60,x,1,1,1,1\n")
    with pytest.raises(ValueError, match=":2"):
        load_candles(bad_row)
    backwards = tmp_path / "b.csv"
    backwards.write_text(ROWS + "90,0.1,0.1,0.1,0.1,1\n180,0.1,0.1,0.1,0.1,1\n")
    feed = CsvFeed(backwards)
    assert [c.time for c in iter(feed.next_candle, None)] == [60, 120, 180]
    assert feed.skipped_rows == 1


def test_bundled_data_has_its_two_gaps() -> None:
    candles = load_candles(BUNDLED_DATA_FILE)
    assert len(candles) == 68_686 and candles[0].time == 1617321600
    gaps = [(a.time, b.time - a.time) for a, b in itertools.pairwise(candles) if b.time - a.time != 60]
    assert gaps == [(1618884000 - 60, 151 * 60), (1619323200, 285 * 60)]  # 04-20 01:59 -> 04:30, 04-25 04:00 -> 08:45


def test_replay_across_a_gap(tmp_path: Path) -> None:
    rows = ["time,open,high,low,close,volume"]
    times = [0, 60, 120, 120 + 151 * 60, 180 + 151 * 60]
    rows += [f"{1617321600 + t},0.1,0.11,0.09,0.1,1000" for t in times]
    path = tmp_path / "gap.csv"
    path.write_text("\n".join(rows) + "\n")
    venue = Venue(SimConfig(data_file=str(path)), prime_candles=1)
    assert venue.advance(10)[0] == 4 and venue.exhausted
    steps = [b.begin - a.begin for a, b in zip(venue.market.ohlc_bars(1), venue.market.ohlc_bars(1)[1:],
                                               strict=False)]
    assert steps == [60, 60, 151 * 60, 60]  # WS bars simply skip the missing minutes
    rows_out, last = ohlc_rows(venue.market, 1, since=None)
    assert [b[0] - a[0] for a, b in itertools.pairwise(rows_out)] == [60] * (len(rows_out) - 1)
    gap_rows = rows_out[3:-2]
    assert len(gap_rows) == 150 and all(r[5] == "0.0" and r[7] == 0 and r[1] == r[4] for r in gap_rows)
    assert last == rows_out[-2][0]


def test_candle_path_order_and_volume() -> None:
    up = Candle(0, D("1"), D("3"), D("0.5"), D("2"), D("8"))
    assert [p.price for p in candle_path(up)] == [D("1"), D("0.5"), D("3"), D("2")]
    down = up._replace(close=D("0.9"))
    assert [p.price for p in candle_path(down)] == [D("1"), D("3"), D("0.5"), D("0.9")]
    assert [p.ts for p in candle_path(up)] == [0, 15, 30, 45]
    assert sum(p.volume for p in candle_path(up)) == D("8")


def test_synthetic_feed_is_deterministic_and_switches_regimes() -> None:
    a = SyntheticFeed(seed=3, start_price=D("0.12"), start_time=1_700_000_000, mean_regime_candles=30)
    b = SyntheticFeed(seed=3, start_price=D("0.12"), start_time=1_700_000_000, mean_regime_candles=30)
    candles_a = [a.next_candle() for _ in range(2000)]
    assert candles_a == [b.next_candle() for _ in range(2000)]
    assert {r for _, r in a.regime_history} == {"ranging", "up", "down"}
    for c in candles_a:
        assert c is not None and c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) and c.low > 0
        assert c.time % 60 == 0
    other = SyntheticFeed(seed=4, start_price=D("0.12"), start_time=1_700_000_000)
    assert other.next_candle() != candles_a[0]
    assert candles_a[0] is not None and abs(candles_a[0].open - D("0.12")) < D("0.001")
    bounded = SyntheticFeed(seed=1, start_price=D("0.12"), start_time=0, max_candles=2)
    assert [bounded.next_candle() is None for _ in range(3)] == [False, False, True]


def test_ohlc_aggregation_marks_the_forming_bar() -> None:
    candles = load_candles(RANGING_CSV)[:12]
    venue = Venue(SimConfig(), feed=ListFeed(candles), prime_candles=1)
    updates = [e for _, events in [venue.advance(1) for _ in range(6)] for ch, e in events
               if ch == "ohlc" and e["interval"] == 5]
    begins = [u["interval_begin"] for u in updates]
    assert begins[0] == "2021-04-02T00:00:00.000000000Z" and begins[-1] == "2021-04-02T00:05:00.000000000Z"
    final_first = [u for u in updates if u["interval_begin"] == begins[0]][-1]
    five = candles[:5]
    assert final_first["open"] == five[0].open and final_first["close"] == five[-1].close
    assert final_first["high"] == max(c.high for c in five) and final_first["low"] == min(c.low for c in five)
    assert final_first["volume"] == sum(c.volume for c in five)
    assert final_first["timestamp"] == "2021-04-02T00:05:00.000000Z"
    ticker = venue.market.ticker_element()
    assert ticker["last"] == candles[6].close and ticker["bid"] < ticker["last"] < ticker["ask"]


def test_venue_replay_is_reproducible() -> None:
    def run() -> list:
        venue = Venue(SimConfig(data_file=str(RANGING_CSV)))
        return venue.advance(50)[1]

    assert run() == run()


@pytest.mark.parametrize("name", ["ws_book_snapshot.json"])
def test_book_checksum_matches_the_fixture(name: str) -> None:
    data = json.loads((FIXTURES / name).read_text(), parse_float=D)["data"][0]
    bids = [(lv["price"], lv["qty"]) for lv in data["bids"]]
    asks = [(lv["price"], lv["qty"]) for lv in data["asks"]]
    assert book.checksum(bids, asks) == data["checksum"]
    update = json.loads((FIXTURES / "ws_book_update.json").read_text(), parse_float=D)["data"][0]
    new_bids = sorted(bids + [(lv["price"], lv["qty"]) for lv in update["bids"]], reverse=True)[:10]
    assert book.checksum(new_bids, asks) == update["checksum"]


def test_book_diff_reports_removed_levels_with_zero() -> None:
    bids, asks = book.build_levels(D("0.15"), D("0.1500002"), D("0.0000001"), 10)
    moved_bids, moved_asks = book.build_levels(D("0.1500001"), D("0.1500003"), D("0.0000001"), 10)
    changes = book.diff_side(bids, moved_bids, descending=True)
    assert (D("0.1499991"), 0) in [(p, v) for p, v in changes]
    assert changes[0][0] == D("0.1500001")
    assert len(book.diff_side(asks, moved_asks, descending=False)) == 2

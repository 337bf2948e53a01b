"""Store benchmarks: prints figures, asserts nothing. Run: python tests/benchmarks/bench_store.py

Everything runs in a temporary directory on this machine's disk (loopback only for the replica).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actors.store import StoreActor  # noqa: E402
from actors.store_messages import BookFills, BookFillsResult  # noqa: E402
from store.outbox import MIRRORED  # noqa: E402
from store.rows import EventRow, FillRow, PriceRow  # noqa: E402
from store.sqlite import SqliteStore  # noqa: E402
from store.supabase import SupabaseReplica  # noqa: E402
from tests.store.postgrest_standin import PostgrestStandIn  # noqa: E402

STATE = msgspec.json.encode({"slot": {"orders": [{"price": 0.1 + i / 1e4, "volume": 100.0} for i in range(20)]},
                             "pad": "x" * 1500})


def fill(n: int) -> FillRow:
    return FillRow(exec_id=f"X{n}", order_id=f"O{n}", cl_ord_id="s1-AE1-1", slot_id=1, side="buy", qty=50.0,
                   price=0.1, fee=0.001, liquidity="m", ts=float(n))


def rate(label: str, n: int, fn: Callable[[int], object]) -> float:
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    lat.sort()
    print(f"{label:<58} {n / total:>9.0f}/s  p50 {statistics.median(lat) * 1e3:6.2f} ms"
          f"  p99 {lat[int(len(lat) * 0.99) - 1] * 1e3:6.2f} ms")
    return n / total


def bench_book(tmp: Path, n: int) -> None:
    event = EventRow(ts=1.0, slot_id=1, from_state="S0", to_state="S1a", event_type="fill", details={"a": 1})
    for sync, mirror in (("FULL", False), ("FULL", True), ("NORMAL", False)):
        s = SqliteStore(tmp / f"book-{sync}-{mirror}.sqlite3", money_sync=sync, mirror=mirror)
        rate(f"book_fills_with_state 1 fill+state {len(STATE)}B+event, {sync}{' +outbox' if mirror else ''}",
             n, lambda i, s=s: s.book_fills_with_state([fill(i)], "slot:1", STATE, [event]))
        s.close()
    s = SqliteStore(tmp / "book10.sqlite3")
    rate("book_fills_with_state 10 fills+state+event, FULL", n // 2,
         lambda i: s.book_fills_with_state([fill(i * 10 + j) for j in range(10)], "slot:1", STATE, [event]))
    rate("save_state (FULL)", n, lambda i: s.save_state(f"slot:{i % 50}", STATE))
    rate("insert_prices 100 rows (NORMAL)", n // 2,
         lambda i: s.insert_prices([PriceRow(ts=i * 100.0 + j, price=0.1) for j in range(100)]))
    s.close()


def bench_reads(tmp: Path, fills: int) -> None:
    path = tmp / "big.sqlite3"
    s = SqliteStore(path)
    t = time.perf_counter()
    for b in range(fills // 1000):
        s.book_fills_with_state([fill(b * 1000 + j) for j in range(1000)], "slot:1", STATE)
    build = time.perf_counter() - t
    t = time.perf_counter()
    seen = s.seen_exec_ids()
    load = time.perf_counter() - t
    s.close()
    size = path.stat().st_size / 1e6
    t = time.perf_counter()
    SqliteStore(path).close()
    reopen = time.perf_counter() - t
    t = time.perf_counter()
    SqliteStore(path, integrity_check=False).close()
    reopen_nocheck = time.perf_counter() - t
    print(f"{fills} fills in batches of 1000: {fills / build:,.0f} fills/s; file {size:.1f} MB")
    print(f"seen_exec_ids() over {len(seen)} fills: {load * 1e3:.1f} ms")
    print(f"open with quick_check: {reopen * 1e3:.1f} ms; without: {reopen_nocheck * 1e3:.1f} ms")


class Waiter:
    """A reply sink that signals once `expect` results arrived."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.got: list[BookFillsResult] = []
        self.expect = 0

    def reset(self, expect: int) -> None:
        self.got, self.expect = [], expect
        self.done.clear()

    def tell(self, msg: BookFillsResult) -> None:
        self.got.append(msg)
        if len(self.got) >= self.expect:
            self.done.set()


def bench_actor(tmp: Path, n: int) -> None:
    sink = Waiter()
    ref = StoreActor.start(tmp / "actor.sqlite3", tick_s=None)
    sink.reset(n)
    t = time.perf_counter()
    for i in range(n):
        ref.tell(BookFills(slot_id=1, fills=[fill(i)], state_key="slot:1", state_payload=STATE,
                           request_id=i, reply_to=sink))
    sink.done.wait(120)
    total = time.perf_counter() - t
    status = ref.proxy().status().get(timeout=10)
    ok = sum(r.ok for r in sink.got)
    print(f"StoreActor burst of {n} BookFills tell -> BookFillsResult (FULL): {n / total:,.0f}/s "
          f"({ok}/{n} ok, {status.commits} group commits)")
    lat = []
    for i in range(n, n + 200):  # one at a time: what a slot waits for its write-ahead result
        sink.reset(1)
        t = time.perf_counter()
        ref.tell(BookFills(slot_id=1, fills=[fill(i)], state_key="slot:1", state_payload=STATE,
                           request_id=i, reply_to=sink))
        sink.done.wait(10)
        lat.append(time.perf_counter() - t)
    ref.stop()
    lat.sort()
    print(f"StoreActor single BookFills round trip (FULL): p50 {statistics.median(lat) * 1e3:.2f} ms, "
          f"p99 {lat[int(len(lat) * 0.99) - 1] * 1e3:.2f} ms")


def bench_replica(tmp: Path, n: int) -> None:
    srv = PostgrestStandIn({t: m.conflict_key for t, m in MIRRORED.items()}).start()
    s = SqliteStore(tmp / "replica.sqlite3", mirror=True, money_sync="NORMAL")
    for i in range(n):
        s.book_fills_with_state([fill(i)], f"slot:{i % 20}", STATE)
    replica = SupabaseReplica(srv.url, srv.key, timeout=5.0)
    t = time.perf_counter()
    sent = 0
    while rows := s.take_outbox(500):
        report = replica.send(rows)
        s.ack_outbox(report.acked)
        sent += len(report.acked)
    total = time.perf_counter() - t
    print(f"replica drain to loopback PostgREST stand-in, batches of 500: {sent / total:,.0f} rows/s "
          f"({sent} rows, {len(srv.requests)} requests)")
    replica.close()
    s.close()
    srv.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as d:
        tmp = Path(d)
        print(f"SQLite {__import__('sqlite3').sqlite_version}, Python {sys.version.split()[0]}, dir {tmp}")
        bench_book(tmp, 1000)
        bench_reads(tmp, 100_000)
        bench_actor(tmp, 2000)
        bench_replica(tmp, 2000)


if __name__ == "__main__":
    main()

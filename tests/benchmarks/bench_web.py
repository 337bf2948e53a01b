"""Web actor figures: status payload size, push latency to WebSocket clients, /api/status rate.

Run: python tests/benchmarks/bench_web.py [--quick]

* payload: encoded StatusSnapshot size (and gzip size, for a sense of what a proxy could save)
  and msgspec encode time, for 1 / 10 / 100 / 300 slots (tests/web/status_factory.py).
* push latency: `ref.tell(snapshot)` in this process -> the frame received by websockets clients
  running in a *child process* (so client work does not compete with the server for our GIL;
  perf_counter is CLOCK_MONOTONIC on Linux, comparable across processes). 20-slot status,
  with 1 and 50 clients; once with coalescing off (pipeline cost) and once with the product
  default of 0.25 s (changes spaced wider than the window, so each goes out at once).
* GET /api/status requests/s with a 100-slot status: a child process runs 8 keep-alive raw
  HTTP/1.1 connections against the real uvicorn server for a few seconds.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import re
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.commands import CommandReply, OperatorCommand
from tests.web.status_factory import make_status, with_changes
from web.actor import WebActor
from web.app import WebOptions

TS_RE = re.compile(rb'"data":\{"ts":([0-9.]+)')


def _reply(command: OperatorCommand) -> CommandReply:
    return CommandReply(ok=True, action=command.__struct_config__.tag, message="ok")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- payload


def bench_payload() -> None:
    encoder = msgspec.json.Encoder()
    print("status payload (msgspec JSON)")
    print(f"  {'slots':>5} {'bytes':>9} {'gzip':>8} {'encode':>10}")
    for n in (1, 10, 100, 300):
        snapshot = make_status(n)
        body = encoder.encode(snapshot)
        loops = 2000 if n <= 10 else 200
        t0 = time.perf_counter()
        for _ in range(loops):
            encoder.encode(snapshot)
        encode_us = (time.perf_counter() - t0) / loops * 1e6
        print(f"  {n:>5} {len(body):>9,} {len(gzip.compress(body)):>8,} {encode_us:>8.1f}µs")


# --------------------------------------------------------------------------- push latency


def _clients_main(url: str, clients: int, expected: int, deflate: bool, conn: Connection) -> None:
    import websockets

    async def one(arrivals: dict[float, float], ready: asyncio.Event, counter: list[int]) -> None:
        async with websockets.connect(url, max_size=None, compression="deflate" if deflate else None) as ws:
            counter[0] += 1
            if counter[0] == clients:
                ready.set()
            while True:
                frame = await ws.recv()
                now = time.perf_counter()
                data = frame.encode() if isinstance(frame, str) else frame
                m = TS_RE.search(data[:200])
                if m:
                    arrivals[float(m.group(1))] = now
                    if len(arrivals) >= expected:
                        return

    async def main() -> list[dict[float, float]]:
        ready = asyncio.Event()
        counter = [0]
        maps: list[dict[float, float]] = [{} for _ in range(clients)]
        tasks = [asyncio.create_task(one(m, ready, counter)) for m in maps]
        await asyncio.wait_for(ready.wait(), 30)
        conn.send("ready")
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        return maps

    conn.send(asyncio.run(main()))


def bench_push(
    clients: int, push_interval: float, pushes: int, spacing: float, slots: int = 20, deflate: bool = False
) -> tuple[float, float, float, float]:
    ref = WebActor.start(_reply, port=0, options=WebOptions(push_interval=push_interval, client_queue=8))
    try:
        port = ref.proxy().bound_port().get(timeout=5)
        base = make_status(slots)
        ref.tell(base)  # the catch-up frame every client gets first (not measured)
        time.sleep(0.3)
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(
            target=_clients_main, args=(f"ws://127.0.0.1:{port}/ws", clients, pushes + 1, deflate, child), daemon=True
        )
        proc.start()
        assert parent.poll(60) and parent.recv() == "ready"
        time.sleep(0.2)
        told: dict[float, float] = {}
        cpu0 = time.process_time()
        for i in range(1, pushes + 1):
            snapshot = with_changes(base, ts=base.ts + i)
            told[snapshot.ts] = time.perf_counter()
            ref.tell(snapshot)
            time.sleep(spacing)
        assert parent.poll(120), "clients did not report"
        maps: list[dict[float, float]] = parent.recv()
        # CPU of this process (server, actor, the tells) per push: the work that shares the GIL
        # with the bot's actors. The clients run in the child process.
        cpu_ms = (time.process_time() - cpu0) / pushes * 1000
        proc.join(10)
        latencies = [(arrived - told[ts]) * 1000 for m in maps for ts, arrived in m.items() if ts in told]
        missing = clients * pushes - len(latencies)
        assert missing == 0, f"{missing} frames missing"
        return statistics.median(latencies), pct(latencies, 0.99), max(latencies), cpu_ms
    finally:
        ref.stop(timeout=10)


# --------------------------------------------------------------------------- /api/status rate


def _http_main(port: int, connections: int, seconds: float, conn: Connection) -> None:
    request = f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def worker(stop_at: float, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counts[0] += 1
            counts[1] += length
        writer.close()

    async def main() -> tuple[int, int, float]:
        counts = [0, 0]
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(t0 + seconds, counts) for _ in range(connections)))
        return counts[0], counts[1], time.perf_counter() - t0

    conn.send(asyncio.run(main()))


def bench_status_rps(slots: int, seconds: float, connections: int = 8) -> tuple[float, int]:
    ref = WebActor.start(_reply, port=0)
    try:
        port = ref.proxy().bound_port().get(timeout=5)
        ref.tell(make_status(slots))
        time.sleep(0.3)
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=_http_main, args=(port, connections, seconds, child), daemon=True)
        proc.start()
        assert parent.poll(seconds + 60)
        requests, total_bytes, elapsed = parent.recv()
        proc.join(10)
        return requests / elapsed, total_bytes // max(1, requests)
    finally:
        ref.stop(timeout=10)


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"python {sys.version.split()[0]}, {multiprocessing.cpu_count()} CPU(s)\n")
    bench_payload()
    print("\npush latency, tell -> frame received (ms)")
    print(f"  {'slots':>5} {'clients':>7} {'coalescing':>10} {'deflate':>7} {'pushes':>6} {'p50':>7} {'p99':>7} {'max':>7}"
          f" {'cpu/push':>9}")
    runs = [
        (20, 0.0, 60 if quick else 300, 0.02, False),
        (100, 0.0, 30 if quick else 150, 0.05, False),
        (100, 0.0, 30 if quick else 150, 0.05, True),  # what a browser negotiates
        (20, 0.25, 10 if quick else 40, 0.3, False),
    ]
    for slots, push_interval, pushes, spacing, deflate in runs:
        for clients in ((1, 10) if deflate else (1, 50)):
            p50, p99, worst, cpu = bench_push(clients, push_interval, pushes, spacing, slots, deflate)
            label = "off" if push_interval == 0 else f"{push_interval:.2f}s"
            print(f"  {slots:>5} {clients:>7} {label:>10} {'on' if deflate else 'off':>7} {pushes:>6} {p50:>7.2f}"
                  f" {p99:>7.2f} {worst:>7.2f} {cpu:>7.2f}ms")
    print("\nGET /api/status over loopback, 8 keep-alive connections")
    for slots in (10, 100):
        rps, size = bench_status_rps(slots, 2.0 if quick else 5.0)
        print(f"  {slots:>4} slots: {rps:>8,.0f} req/s  ({size:,} bytes each, {rps * size / 1e6:,.1f} MB/s)")


if __name__ == "__main__":
    main()

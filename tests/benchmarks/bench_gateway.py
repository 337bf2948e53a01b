"""Gateway latency: a WS execution frame arriving -> the decoded Fill handed to its owner.

Run: python tests/benchmarks/bench_gateway.py [frames]

Everything is real except the exchange: a scripted Kraken WS v2 server (own process) on loopback pushes
`executions` trade frames (one fill each, paced so we measure latency, not queueing) to a
running GatewayActor whose sink forwards to an owner actor. Three spans, p50/p99:

  in-gateway   frame handed to the gateway by websockets -> sink.tell returns (decode, route, emit)
  wire->sink   server send -> sink.tell (adds loopback TCP, websockets framing, loop wake-up)
  wire->owner  server send -> the owner actor's on_receive (adds the pykka hop)

Also the codec alone (decode + enrich of one trade frame) in a tight loop.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pykka

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.gateway import GatewayActor
from actors.messages import Fill, GatewayConnected, OrderAccepted, PlaceOrder
from gateway.kraken import codec
from gateway.kraken.routing import OrderRegistry
from gateway.kraken.ws import KrakenWs, WsConfig
from tests.gateway.helpers import CollectingSink
from tests.gateway.scripted import SECRET, FakeRestServer, ScriptedKraken, trade

_arrival = threading.local()


class Owner(pykka.ThreadingActor):
    """Stands in for a slot actor: stamps every Fill as it is handled."""

    def __init__(self, stamps: dict[str, int], done: threading.Event, expected: int) -> None:
        super().__init__()
        self.stamps, self.done, self.expected = stamps, done, expected

    def on_receive(self, message: Any) -> None:
        if isinstance(message, Fill):
            self.stamps[message.exec_id] = time.perf_counter_ns()
            if len(self.stamps) >= self.expected:
                self.done.set()


class TimingSink:
    def __init__(self, owner: pykka.ActorRef[Any], collect: CollectingSink) -> None:
        self.owner, self.collect = owner, collect
        self.in_gateway: dict[str, int] = {}
        self.at_tell: dict[str, int] = {}

    def tell(self, message: Any) -> None:
        if isinstance(message, Fill):
            now = time.perf_counter_ns()
            self.at_tell[message.exec_id] = now
            self.in_gateway[message.exec_id] = now - _arrival.t
            self.owner.tell(message)
        else:
            self.collect.tell(message)


def _patch_arrival_stamp() -> None:
    original = KrakenWs._on_frame

    def stamped(self: KrakenWs, conn: Any, raw: str | bytes) -> None:
        _arrival.t = time.perf_counter_ns()
        original(self, conn, raw)

    KrakenWs._on_frame = stamped  # type: ignore[method-assign]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, ns: list[int]) -> str:
    us = [v / 1000 for v in ns]
    return f"{name:<12} p50 {statistics.median(us):8.1f} µs   p99 {pct(us, 0.99):8.1f} µs   max {max(us):8.1f} µs   (n={len(us)})"


def codec_only(n: int) -> list[int]:
    registry = OrderRegistry()
    registry.expect(PlaceOrder(cl_ord_id="s1-BE1-1", side="buy", price=0.15, volume=1e9))
    registry.learn("OBENCH", "s1-BE1-1")
    out = []
    for i in range(n):
        raw = json.dumps({"channel": "executions", "type": "update", "sequence": i,
                          "data": [trade("OBENCH", f"C{i}", 1.0, float(i + 1))]})
        t0 = time.perf_counter_ns()
        frame = codec.decode_frame(raw, 0.0)
        registry.enrich(frame.events[0])
        out.append(time.perf_counter_ns() - t0)
    return out


def serve(pipe: Connection) -> None:
    """The exchange, in its own process so its work does not share our GIL (as with Kraken)."""

    async def run() -> None:
        kraken = ScriptedKraken()
        await kraken.start()
        pipe.send(kraken.port)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command[0] != "pump":
                break
            _, order_id, frames = command
            conn = kraken.conns["private"]
            sent: dict[str, int] = {}
            for i in range(frames):
                text = json.dumps({"channel": "executions", "type": "update", "sequence": kraken._next_seq("executions"),
                                   "data": [trade(order_id, f"B{i:06d}", 1.0, float(i + 1))]})
                sent[f"B{i:06d}"] = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes
                await conn.send(text)
                await asyncio.sleep(0.0005)  # paced: latency, not backlog
            pipe.send(sent)
        await kraken.stop()

    asyncio.run(run())


def main(frames: int = 2000) -> None:
    _patch_arrival_stamp()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    if not ours.poll(30):
        raise SystemExit("scripted exchange did not start")
    port = ours.recv()
    collect = CollectingSink()
    stamps: dict[str, int] = {}
    done = threading.Event()
    owner = Owner.start(stamps, done, frames)
    sink = TimingSink(owner, collect)
    config = WsConfig(heartbeat_timeout_s=30.0, ping_interval_s=15.0, dms_refresh_s=20.0)
    with FakeRestServer(secret=SECRET) as rest:
        gateway = GatewayActor.start(sink, public_ws_url=f"ws://127.0.0.1:{port}/public",
                                     private_ws_url=f"ws://127.0.0.1:{port}/private",
                                     rest_url=rest.url, api_key="test-key", api_secret=SECRET, ws_config=config)
        try:
            collect.wait_kind(GatewayConnected, 2)
            gateway.tell(PlaceOrder(cl_ord_id="s1-BE1-1", side="buy", price=0.15, volume=1e9))
            (acc,) = collect.wait_kind(OrderAccepted)
            ours.send(("pump", acc.order_id, frames))
            if not ours.poll(120):
                raise SystemExit("scripted exchange did not finish sending")
            sent: dict[str, int] = ours.recv()
            if not done.wait(60):
                raise SystemExit(f"only {len(stamps)} of {frames} fills reached the owner")
            ids = list(sent)
            print(f"gateway benchmark: {frames} execution frames over loopback, one fill each, {os.cpu_count()} CPUs")
            print(summary("in-gateway", [sink.in_gateway[i] for i in ids]))
            print(summary("wire->sink", [sink.at_tell[i] - sent[i] for i in ids]))
            print(summary("wire->owner", [stamps[i] - sent[i] for i in ids]))
            print(summary("codec only", codec_only(frames)))
            print("stats:", {k: v for k, v in gateway.proxy().stats().get(timeout=5).items() if v})
        finally:
            gateway.stop(timeout=20)
            owner.stop(timeout=5)
            ours.send(("stop",))
            server.join(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

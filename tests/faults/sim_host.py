"""A simulated Kraken exchange in its own process, stepped over stdin (fault tests).

Prints one JSON line with its URLs and credentials, then answers commands, one per line:
`advance N` (replay N candles), `state` (open orders, executions, balances as JSON), `quit`.
A bot process killed with SIGKILL leaves this exchange (and its orders) running, as Kraken would.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from core import order_ids
from gateway.sim.config import SimConfig
from gateway.sim.server import SimExchange


class LatencyHook:
    """Times, at this exchange's socket edge, a slot's completing entry `trade` frame leaving and
    that slot's exit `add_order` arriving back (the bot's whole fill-to-order path, both hops)."""

    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim
        self.fill_at: dict[int, float] = {}
        self.samples: list[float] = []
        hub = sim.hub
        self.publish, self.trade = hub._publish_report, hub._trade
        hub._publish_report, hub._trade = self.on_report, self.on_trade

    def on_report(self, channel: str, element: dict) -> None:
        if channel == "executions" and element.get("exec_type") == "trade":
            order = self.sim.engine.order(element["order_id"])
            owner = order_ids.decode(order.cl_ord_id) if order is not None and order.cl_ord_id else None
            if owner is not None and owner.role == "entry" and not order.is_open:
                self.fill_at[owner.slot_id] = time.perf_counter()
        self.publish(channel, element)

    def on_trade(self, conn: object, method: str, params: dict, respond: object) -> None:
        if method == "add_order":
            owner = order_ids.decode(params.get("cl_ord_id") or "")
            if owner is not None and owner.role == "exit" and owner.slot_id in self.fill_at:
                self.samples.append(time.perf_counter() - self.fill_at.pop(owner.slot_id))
        self.trade(conn, method, params, respond)


class SimHostProcess:
    """Client side: starts `python -m tests.faults.sim_host` and talks to it over its stdin/stdout."""

    def __init__(self, **options: str) -> None:
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.sim_host",
                                      *[f"{k}={v}" for k, v in options.items()]],
                                     cwd=root, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.lock = threading.Lock()
        self.info = self._read()

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def call(self, command: str) -> Any:
        assert self.proc.stdin is not None
        with self.lock:  # one request/answer at a time, whichever thread asks
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            return self._read()

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            self.call("quit")
        self.proc.wait(timeout=15)


def main() -> int:
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    sim = SimExchange(SimConfig(clock="manual", seed=11, usd=Decimal(args.get("usd", "2000")),
                                doge=Decimal(args.get("doge", "20000")), idle_timeout_s=0,
                                start_price=Decimal("0.1"), start_time=int(time.time()),
                                fill_volume_share=Decimal(args.get("share", "0.05")),
                                open_order_limit=int(args.get("limit", "225")), rate_tier=args.get("tier", "pro")))
    hook: LatencyHook | None = None
    private = sim.rest.private
    counts = {"private": 0}

    def counting(*a: object, **kw: object) -> object:
        counts["private"] += 1
        return private(*a, **kw)

    sim.rest.private = counting  # type: ignore[method-assign]
    sim.start()
    print(json.dumps({"public": sim.public_ws_url, "private": sim.private_ws_url, "rest": sim.rest_url,
                      "key": sim.api_key, "secret": sim.api_secret}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "advance":
            sim.advance(int(cmd[1]))
            print(json.dumps({"ok": True}), flush=True)
        elif cmd[0] == "state":
            def read(venue):
                e = venue.engine
                return {"open": {oid: o.cl_ord_id for oid, o in e.open.items()},
                        "fills": [[f.exec_id, f.order_id, f.cl_ord_id] for f in e.fills],
                        "closed": sorted(e.closed), "usd": float(e.account.total["USD"]),
                        "doge": float(e.account.total["DOGE"])}
            print(json.dumps(sim.call(read)), flush=True)
        elif cmd[0] == "move":  # trade the market to price x (1 + pct / 100)
            price = sim.call(lambda venue: venue.engine.price)
            sim.set_price(Decimal(repr(round(float(price) * (1 + float(cmd[1]) / 100), 7))))
            print(json.dumps({"ok": True}), flush=True)
        elif cmd[0] == "wait":  # let N seconds of exchange time pass without trading (rate counters decay)
            sim.call(lambda venue, dt=float(cmd[1]): venue.clock.set(venue.now + dt))
            print(json.dumps({"ok": True}), flush=True)
        elif cmd[0] == "hook":
            hook = LatencyHook(sim)
            print(json.dumps({"ok": True}), flush=True)
        elif cmd[0] == "samples":
            print(json.dumps(hook.samples if hook else []), flush=True)
        elif cmd[0] == "requests":
            print(json.dumps(counts["private"]), flush=True)
        elif cmd[0] == "quit":
            break
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The faults the soak injects (tests/benchmarks/soak_faults.py), one method per kind.

A mixin of `Soak`: each `f_<kind>` injects one fault into the running rig and returns a one-line
description for the report. `Stream` controls the private executions stream (lost frames, trimmed
or lost snapshots).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

import gateway.kraken.inbound as inbound
from actors.internal import InjectCrash
from actors.messages import Fill
from actors.store_messages import InjectStoreFailures
from tests.faults.conftest import SocketRig, wait_for

KINDS = ("reconnect", "outage_dropped", "outage_refused", "rest_fail", "slot_crash", "restart",
         "restart_nosnap", "store_fail", "duplicates", "rejects", "delay")
REST = ("TradesHistory", "QueryOrders", "OpenOrders")
REJECTS = ("EOrder:Insufficient funds", "EOrder:Rate limit exceeded", "EOrder:Orders limit exceeded")


class Stream:
    """Control of the private executions stream (patched once, switched per fault).

    `drop`: live execution frames are lost (as if the private socket were down); `trim`: every
    snapshot carries only its newest fill and the gateway's cap is 1, so a snapshot with a fill is
    "full" and the gateway replays over REST (Kraken's 50 for a busy account); `skip_snapshots`:
    the next N snapshots are lost (start-up waits for one in vain). `snapshots` counts the
    snapshots handled, incremented after the gateway processed them."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.drop = False
        self.trim = False
        self.skip_snapshots = 0
        self.snapshots = 0
        real = inbound.Inbound._executions
        stream = self

        def executions(self_: Any, frame: Any, now: float) -> Any:
            if frame.kind != "snapshot":
                return None if stream.drop else real(self_, frame, now)
            if stream.skip_snapshots > 0:
                stream.skip_snapshots -= 1
                return None
            if stream.trim:
                fills = [e for e in frame.events if isinstance(e, Fill)]
                others = [e for e in frame.events if not isinstance(e, Fill)]
                frame = msgspec.structs.replace(frame, events=others + fills[:1])
                cap = inbound.SNAPSHOT_TRADES_CAP
                inbound.SNAPSHOT_TRADES_CAP = 1
                try:
                    out = real(self_, frame, now)
                finally:
                    inbound.SNAPSHOT_TRADES_CAP = cap
            else:
                out = real(self_, frame, now)
            stream.snapshots += 1
            return out

        mp.setattr(inbound.Inbound, "_executions", executions)
        mp.setattr(inbound, "SNAPSHOT_TRADES_CAP", inbound.SNAPSHOT_TRADES_CAP)  # restored at the end


class FaultInjectors:
    """Requires the Soak attributes: rig, rng, stream, failures, args; and advance(), settle(), log()."""

    rig: Any
    rng: Any
    stream: Stream
    failures: Any
    args: Any

    def _reconnect_after(self, trim: bool) -> bool:
        seen = self.stream.snapshots
        self.stream.trim = trim
        try:
            self.rig.sim.drop_connections()
            return wait_for(lambda: self.stream.snapshots > seen, 20)
        finally:
            self.stream.trim = False

    def f_reconnect(self) -> str:
        n = self.rng.randint(1, 4)
        for _ in range(n):
            self.advance(self.rng.randint(0, 3), settle_each=False)
            self.rig.sim.drop_connections()
        return f"reconnect x{n}"

    def f_outage_dropped(self, trim: bool | None = None) -> str:
        trim = self.rng.random() < 0.7 if trim is None else trim
        candles = self.rng.randint(5, 80)
        extra = []
        if trim and self.rng.random() < 0.4:
            k = self.rng.randint(1, 2)
            self.failures.fail("TradesHistory", self.failures.left.get("TradesHistory", 0) + k)
            extra.append(f"TradesHistory fails {k}")
            if self.rng.random() < 0.5:
                q = self.rng.randint(1, 3)
                self.failures.fail("QueryOrders", self.failures.left.get("QueryOrders", 0) + q)
                extra.append(f"QueryOrders fails {q}")
        before = len(self.rig.exchange()["fills"])
        self.stream.drop = True
        try:
            self.advance(candles, settle_each=False)
        finally:
            self.stream.drop = False
        away = len(self.rig.exchange()["fills"]) - before
        ok = self._reconnect_after(trim)
        return (f"outage_dropped {candles} candles ({away} executions lost live), "
                f"{'trimmed' if trim else 'full'} snapshot{'' if ok else ' NOT SEEN'}"
                + (f", {', '.join(extra)}" if extra else ""))

    def f_outage_refused(self) -> str:
        secs = self.rng.uniform(1.0, 3.0)
        trim = self.rng.random() < 0.5
        candles = self.rng.randint(3, 40)
        seen = self.stream.snapshots
        self.rig.sim.refuse_connections(secs)
        t0 = time.monotonic()
        self.rig.sim.drop_connections()
        self.advance(candles, settle_each=False)
        time.sleep(max(0.0, secs - (time.monotonic() - t0)))
        self.stream.trim = trim
        try:
            ok = wait_for(lambda: self.stream.snapshots > seen, 20)
        finally:
            self.stream.trim = False
        return (f"outage_refused {secs:.1f}s, {candles} candles, {'trimmed' if trim else 'full'} snapshot"
                f"{'' if ok else ' NOT SEEN'}")

    def f_rest_fail(self) -> str:
        armed = []
        for method in REST:
            if self.rng.random() < 0.5:
                n = self.rng.randint(1, 4)
                self.failures.fail(method, self.failures.left.get(method, 0) + n)
                armed.append(f"{method} x{n}")
        if not armed:
            self.failures.fail("TradesHistory", self.failures.left.get("TradesHistory", 0) + 1)
            armed.append("TradesHistory x1")
        trigger = self.rng.choice(("outage", "restart", "crash"))
        if trigger == "outage":
            what = self.f_outage_dropped(trim=True)
        elif trigger == "restart":
            what = self.f_restart()
        else:
            what = self.f_slot_crash()
        return f"rest_fail [{', '.join(armed)}] then {what}"

    def f_slot_crash(self) -> str:
        if self.rng.random() < 0.5:
            self.advance(self.rng.randint(1, 3), settle_each=False)
        refs = self.rig.system.slot_refs()
        victims = self.rng.sample(sorted(refs), k=min(len(refs), self.rng.choice((1, 1, 2))))
        for v in victims:
            refs[v].tell(InjectCrash(reason="soak"))
        wait_for(lambda: all(self.rig.system.slot_refs()[v] is not refs[v]
                             and self.rig.system.slot_refs()[v].is_alive() for v in victims), 20)
        return f"slot_crash {victims}"

    def f_restart(self) -> str:
        down = self.rng.random() < 0.5
        if down:
            n = self.rng.randint(1, 40)
            self.rig.system.stop()
            self.rig.sim.advance(n)
            self.rig.restart_bot()
            return f"restart (exchange traded {n} candles while down)"
        self.rig.restart_bot()
        return "restart"

    def f_restart_nosnap(self) -> str:
        fail_open = self.rng.random() < 0.5
        if fail_open:
            self.failures.fail("OpenOrders", self.failures.left.get("OpenOrders", 0) + 1)
        rig = self.rig
        make = SocketRig._system

        def system(self_: SocketRig) -> Any:
            s = make(self_)
            s.config.startup_timeout = 1.0
            return s

        down = self.rng.randint(0, 20)
        rig.system.stop()
        rig.sim.advance(down)
        self.stream.skip_snapshots = 1
        rig._system = lambda: system(rig)
        try:
            rig.restart_bot()
        finally:
            del rig._system
            self.stream.skip_snapshots = 0
        return f"restart_nosnap ({down} candles down{', OpenOrders fails 1' if fail_open else ''})"

    def f_store_fail(self) -> str:
        n = self.rng.randint(1, 10)
        self.rig.system.refs["store"].tell(InjectStoreFailures(n=n))
        c = self.rng.randint(2, 10)
        self.advance(c, settle_each=False)
        return f"store_fail {n} writes, {c} candles"

    def f_duplicates(self) -> str:
        n = self.rng.randint(10, 200)
        self.rig.sim.duplicate_next_reports(n)
        c = self.rng.randint(3, 20)
        self.advance(c)
        return f"duplicates {n}, {c} candles"

    def f_rejects(self) -> str:
        n = self.rng.randint(1, 5)
        err = self.rng.choice(REJECTS)
        self.rig.sim.reject_next_orders(n, err)
        c = self.rng.randint(3, 15)
        self.advance(c)
        return f"rejects {n} '{err}', {c} candles"

    def f_delay(self) -> str:
        secs = self.rng.uniform(0.3, 1.5)
        c = self.rng.randint(3, 20)
        self.rig.sim.delay_reports(secs)
        try:
            self.advance(c, settle_each=False)
            reconnect = self.rng.random() < 0.3
            if reconnect:
                self.rig.sim.drop_connections()
            time.sleep(secs)
        finally:
            self.rig.sim.delay_reports(0.0)
        return f"delay {secs:.1f}s, {c} candles{', reconnect' if reconnect else ''}"

    # ------------------------------------------------------------------ the loop

"""A real actor system talking to a real SimExchange over loopback sockets, stepped by hand."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.clock import FollowClock
from actors.internal import Inspect
from actors.system import System, SystemConfig
from actors.venues import kraken_venue, ws_config
from core.config import load_settings
from gateway.sim.config import SimConfig
from gateway.sim.server import SimExchange
from store.rows import StoreUnavailable


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class SocketRig:
    def __init__(self, tmp: Path, *, slots: int = 2, env: dict[str, str] | None = None, **sim: Any) -> None:
        config = dict(clock="manual", seed=5, usd=Decimal("2000"), doge=Decimal("20000"), idle_timeout_s=0,
                      start_price=Decimal("0.1"), start_time=1_700_000_000, fill_volume_share=Decimal("0.05"))
        config.update(sim)
        self.sim = SimExchange(SimConfig(**config))
        self.sim.start()
        base = {"INITIAL_SLOTS": str(slots), "ORDER_SIZE_USD": "10", "LOG_LEVEL": "WARNING",
                "STALE_PRICE_MAX_AGE_SEC": "3600", "DAILY_LOSS_LIMIT": "0", "POLL_INTERVAL_SECONDS": "30"}
        base.update(env or {})
        self.settings, _ = load_settings(env=base)
        self.db = str(tmp / "bot.sqlite")
        self.system = self._system()

    def _system(self) -> System:
        clock = FollowClock(self.sim.venue.clock.now, 1.0)
        ws = dataclasses.replace(ws_config(self.settings), dms_timeout_s=0, backoff_initial_s=0.05,
                                 backoff_max_s=0.5, heartbeat_timeout_s=5.0)
        venue = kraken_venue(self.settings, public_ws_url=self.sim.public_ws_url,
                             private_ws_url=self.sim.private_ws_url, rest_url=self.sim.rest_url,
                             api_key=self.sim.api_key, api_secret=self.sim.api_secret, clock=clock.now, ws=ws)
        system = System(SystemConfig(settings=self.settings, venue_name="sim", venue=venue, db_path=self.db,
                                     startup_timeout=15.0))
        system.clock = clock
        return system

    def start(self) -> None:
        self.system.start()

    def restart_bot(self) -> None:
        """A new process, as far as the bot is concerned: same store file, same exchange."""
        self.system.stop()
        pykka.ActorRegistry.stop_all()
        self.system = self._system()
        self.system.start()

    def advance(self, candles: int, settle: bool = True) -> None:
        for _ in range(candles):
            self.sim.advance(1)
            if settle:
                assert self.settle(), self.why()

    # ------------------------------------------------------------------ the books, both sides

    def exchange(self) -> dict[str, Any]:
        def read(venue: Any) -> dict[str, Any]:
            e = venue.engine
            return {
                "open": {oid: o.cl_ord_id for oid, o in e.open.items()},
                "fills": [(f.exec_id, f.order_id, f.cl_ord_id) for f in e.fills],
                "closed": {oid for oid, o in e.closed.items()},
                "usd": float(e.account.total["USD"]),
                "doge": float(e.account.total["DOGE"]),
            }

        return self.sim.call(read)

    def booked(self) -> list[str]:
        return [f.exec_id for f in self.system.refs["store"].proxy().recent_fills(limit=1_000_000).get(timeout=30)]

    def problems(self) -> list[str]:
        ex = self.exchange()
        out = []
        try:
            booked = self.booked()
        except StoreUnavailable as exc:
            return [f"store unavailable: {exc}"]
        if len(booked) != len(set(booked)):
            out.append("an execution was booked twice")
        closed_fills = {e for e, oid, _ in ex["fills"] if oid in ex["closed"]}
        missing = closed_fills - set(booked)
        if missing:
            out.append(f"{len(missing)} execution(s) of closed orders not booked")
        status = self.system.status()
        tracked = {o.txid for s in status.slots for o in s.orders} | {r.txid for s in status.slots
                                                                       for r in s.recoveries}
        unmanaged = set(ex["open"]) - tracked
        if unmanaged:
            out.append(f"unmanaged exchange orders {sorted(unmanaged)}")
        if abs(status.balances.usd - ex["usd"]) > 1e-6 or abs(status.balances.doge - ex["doge"]) > 1e-6:
            out.append(f"balances differ: bot {status.balances.usd}/{status.balances.doge} vs {ex['usd']}/{ex['doge']}")
        unsent = sum(ref.ask(Inspect(), timeout=10)["unsent"] for ref in self.system.slot_refs().values())
        if unsent:
            out.append(f"{unsent} intents not yet sent")
        return out

    def settle(self, timeout: float = 20.0) -> bool:
        return wait_for(lambda: not self.problems(), timeout)

    def why(self) -> str:
        return "; ".join(self.problems())

    def close(self) -> None:
        try:
            self.system.stop()
        finally:
            self.sim.stop()
            pykka.ActorRegistry.stop_all()


@pytest.fixture
def socket_rig():
    made: list[SocketRig] = []
    tmp = tempfile.TemporaryDirectory(prefix="dogebot-faults-")

    def make(**kw: Any) -> SocketRig:
        rig = SocketRig(Path(tmp.name), **kw)
        made.append(rig)
        rig.start()
        return rig

    yield make
    for rig in made:
        rig.close()
    tmp.cleanup()

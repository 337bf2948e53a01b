from __future__ import annotations

from pathlib import Path

import pykka
import pytest

from actors.backtest import Backtest
from core.config import load_settings

DATA = Path(__file__).resolve().parents[1] / "data"
RANGING = str(DATA / "doge_1m_ranging_2021-04-02_3d.csv")
UPTREND = str(DATA / "doge_1m_uptrend_2021-04-12_2d.csv")
DOWNTREND = str(DATA / "doge_1m_downtrend_2021-05-10_2d.csv")


def settings(**env: str):
    base = {"INITIAL_SLOTS": "3", "ORDER_SIZE_USD": "8", "LOG_LEVEL": "WARNING"}
    base.update(env)
    s, _ = load_settings(env=base)
    return s


def consistency(bt: Backtest) -> dict:
    """The bot's books against the exchange's: every execution of a closed order booked exactly once,
    every open exchange order tracked by a slot, balances seen by the bot equal the exchange's."""
    sys = bt.system
    engine = bt.venue.engine
    store = sys.refs["store"].proxy()
    booked = [f.exec_id for f in store.recent_fills(limit=1_000_000).get(timeout=30)]
    assert len(booked) == len(set(booked)), "an execution was booked twice"
    closed_execs = {f.exec_id for f in engine.fills if (o := engine.order(f.order_id)) is not None and not o.is_open}
    assert closed_execs <= set(booked), f"{len(closed_execs - set(booked))} execution(s) of closed orders not booked"
    assert set(booked) <= {f.exec_id for f in engine.fills}
    status = sys.status()
    tracked = {o.txid for s in status.slots for o in s.orders} | {r.txid for s in status.slots for r in s.recoveries}
    open_ids = set(engine.open)
    assert open_ids <= tracked, f"unmanaged exchange orders: {sorted(open_ids - tracked)}"
    assert abs(status.balances.usd - float(engine.account.total["USD"])) < 1e-6
    assert abs(status.balances.doge - float(engine.account.total["DOGE"])) < 1e-6
    return {"booked": len(booked), "open": len(open_ids)}


@pytest.fixture(autouse=True)
def _no_leftover_actors():
    yield
    pykka.ActorRegistry.stop_all()


class Driven:
    """A backtest system started and stepped by hand (commands between candles)."""

    def __init__(self, env: dict[str, str] | None = None, data: str = RANGING, db_path: str | None = None) -> None:
        self.bt = Backtest(settings(**(env or {})), data, db_path=db_path)
        self.system = self.bt.system
        self.system.start()
        self.bt.settle()

    def step(self, n: int = 1) -> None:
        from actors.internal import AdvanceTo
        from actors.sim_venue import StepCandle

        for _ in range(n):
            ts = self.system.venue.actor.ask(StepCandle(), timeout=30)
            assert ts is not None, "data exhausted"
            self.bt.settle()
            self.system.tell("clock", AdvanceTo(ts=ts))
            self.bt.settle()

    def command(self, cmd):
        reply = self.system.command(cmd)
        self.bt.settle()
        return reply

    def close(self) -> None:
        self.system.stop()
        if self.bt._tmp is not None:
            self.bt._tmp.cleanup()


@pytest.fixture
def driven():
    made: list[Driven] = []

    def make(env: dict[str, str] | None = None, data: str = RANGING) -> Driven:
        d = Driven(env, data)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()

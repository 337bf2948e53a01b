"""A hard kill (SIGKILL) of the whole bot process, then a restart, against an exchange that kept
trading meanwhile: no execution lost or booked twice, no exchange order unmanaged, balances agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from actors.slot_io import decode_snapshot
from store.sqlite import SqliteStore
from tests.faults.conftest import wait_for
from tests.faults.sim_host import SimHostProcess

ROOT = Path(__file__).resolve().parents[2]


class Bot:
    def __init__(self, sim: SimHostProcess, data_dir: Path) -> None:
        env = dict(os.environ, KRAKEN_API_KEY=sim.info["key"], KRAKEN_API_SECRET=sim.info["secret"],
                   KRAKEN_WS_PUBLIC_URL=sim.info["public"], KRAKEN_WS_PRIVATE_URL=sim.info["private"],
                   KRAKEN_REST_URL=sim.info["rest"], DATA_DIR=str(data_dir), INITIAL_SLOTS="2",
                   ORDER_SIZE_USD="10", DEAD_MAN_SWITCH_ENABLED="false", POLL_INTERVAL_SECONDS="1",
                   STALE_PRICE_MAX_AGE_SEC="3600", DAILY_LOSS_LIMIT="0", DASHBOARD_PORT="0", LOG_LEVEL="INFO",
                   RECONNECT_BACKOFF_INITIAL_SEC="0.1", RECONNECT_BACKOFF_MAX_SEC="1")
        self.log = open(data_dir / f"bot-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "run.py", "--mode", "live"], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.url = ""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.url:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("dashboard: "):
                self.url = line.split()[1].rstrip("/")
        assert self.url, "the bot did not come up"

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/api/status", timeout=10) as resp:
            return json.loads(resp.read())


def books(store_path: Path) -> tuple[list[str], set[str]]:
    store = SqliteStore(store_path, integrity_check=False)
    try:
        booked = [f.exec_id for f in store.recent_fills(limit=1_000_000)]
        tracked: set[str] = set()
        for key in store.state_keys("slot:"):
            snap = decode_snapshot(store.load_state(key) or b"")
            state = snap.state
            tracked |= {o.txid for o in state.orders} | {r.txid for r in state.recovery_orders}
            tracked |= {p.txid for p in state.pending_cancels}
        return booked, tracked - {""}
    finally:
        store.close()


def agree(sim: SimHostProcess, bot: Bot | None, store_path: Path) -> list[str]:
    ex = sim.call("state")
    booked, tracked = books(store_path)
    out = []
    if len(booked) != len(set(booked)):
        out.append("an execution booked twice")
    closed = set(ex["closed"])
    missing = {e for e, oid, _ in ex["fills"] if oid in closed} - set(booked)
    if missing:
        out.append(f"{len(missing)} execution(s) of closed orders not booked")
    if set(booked) - {e for e, _, _ in ex["fills"]}:
        out.append("booked executions the exchange never made")
    unmanaged = set(ex["open"]) - tracked
    if unmanaged:
        out.append(f"unmanaged orders {sorted(unmanaged)}")
    if bot is not None:
        balances = bot.status()["balances"]
        if abs(balances["usd"] - ex["usd"]) > 1e-6 or abs(balances["doge"] - ex["doge"]) > 1e-6:
            out.append(f"balances differ {balances} vs {ex['usd']}/{ex['doge']}")
    return out


@pytest.mark.slow
def test_sigkill_then_restart_loses_nothing(tmp_path):
    sim = SimHostProcess()
    store_path = tmp_path / "dogebot.sqlite"
    bot: Bot | None = None
    try:
        bot = Bot(sim, tmp_path)
        for _ in range(40):
            sim.call("advance 1")
            time.sleep(0.05)
        assert wait_for(lambda: bool(books(store_path)[0]), 30), "no fill booked before the kill"
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(timeout=10)
        booked_at_kill = len(books(store_path)[0])
        for _ in range(30):  # the market keeps moving and filling while the bot is dead
            sim.call("advance 1")
        assert wait_for(lambda: len(sim.call("state")["fills"]) > booked_at_kill, 5) or \
            any(e for e in sim.call("state")["open"]), "the exchange moved on while the bot was dead"
        bot = Bot(sim, tmp_path)
        for _ in range(15):
            sim.call("advance 1")
            time.sleep(0.05)
        assert wait_for(lambda: not agree(sim, bot, store_path), 60), agree(sim, bot, store_path)
        bot.proc.send_signal(signal.SIGTERM)
        assert bot.proc.wait(timeout=30) == 0, "clean shutdown exits 0"
        bot = None
        assert not agree(sim, None, store_path)
    finally:
        if bot is not None and bot.proc.poll() is None:
            bot.proc.kill()
        sim.close()


def test_live_mode_refuses_to_start_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKEN_")}
    env["DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "run.py", "--mode", "live"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "KRAKEN_API_KEY" in done.stderr


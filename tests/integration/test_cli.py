"""`python run.py` as a person runs it: backtest JSON, the default sim mode, paper without network."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.conftest import RANGING

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRAKEN_", "SIM_", "TELEGRAM_"))}
    env.update(DATA_DIR=str(tmp), DASHBOARD_PORT="0", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def test_backtest_json_is_one_object_on_stdout(tmp_path):
    done = subprocess.run([sys.executable, "run.py", "backtest", "--data", RANGING, "--slots", "2", "--json",
                           "--max-candles", "300"], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["candles"] == 300 and summary["slots"] == 2
    for key in ("cycles", "realized_pnl_usd", "fees_usd", "fills", "open_exits", "open_exit_capital_usd", "halts",
                "invariant_violations", "events_per_s"):
        assert key in summary
    assert "backtest" not in done.stdout.replace('"data"', "")  # no log line leaked into stdout


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_until(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    return seen


def test_default_sim_mode_runs_and_stops_cleanly_on_ctrl_c(tmp_path):
    proc = _start([], _env(tmp_path, SIM_SPEED="600", INITIAL_SLOTS="2"))
    try:
        out = _read_until(proc, "dashboard:", 60)
        assert "dashboard: http://127.0.0.1:" in out
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "bootstrap: slot 0" in err and "placed entry" in err
    assert "stopped cleanly" in err


def test_paper_mode_without_network_starts_and_stops_cleanly(tmp_path):
    # Kraken unreachable (nothing listens on this port): no price ever arrives, the bot stays paused.
    env = _env(tmp_path, KRAKEN_WS_PUBLIC_URL="ws://127.0.0.1:9/v2", KRAKEN_REST_URL="http://127.0.0.1:9")
    proc = _start(["--mode", "paper", "--no-web"], env)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = ""
        while time.monotonic() < deadline and "running (paper)" not in seen:
            seen += proc.stderr.readline()
        assert "running (paper)" in seen
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (seen + err)[-2000:]
    assert "no initial price" in seen + err


def test_busy_dashboard_port_leaves_the_bot_trading_and_says_why(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _start([], _env(tmp_path, SIM_SPEED="600", INITIAL_SLOTS="1", DASHBOARD_PORT=str(port)))
        try:
            out = _read_until(proc, "dashboard:", 60)
            assert "dashboard: not started" in out
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "placed entry" in err and "stopped cleanly" in err

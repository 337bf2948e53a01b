"""`python -m gateway.sim` end to end, and the realtime / speed / fast clock modes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from gateway.sim.config import SimConfig
from gateway.sim.server import SimExchange
from tests.sim.conftest import make_sim
from tests.sim.helpers import RANGING_CSV, RestClient, WsClient, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _read_banner(proc: subprocess.Popen[str]) -> dict[str, str]:
    info: dict[str, str] = {}
    assert proc.stdout is not None
    for _ in range(20):  # bounded: the banner is 7 lines
        line = proc.stdout.readline()
        if not line or line.startswith("Press Ctrl-C"):
            break
        parts = line.split()
        if len(parts) >= 2 and parts[-1].startswith(("ws://", "http://")):
            info[parts[0] + (" " + parts[1] if parts[1] in ("WS",) else "")] = parts[-1]
        elif line.strip().startswith("API"):
            info[" ".join(parts[:2])] = parts[-1]
    return info


def test_cli_prints_urls_serves_and_exits_cleanly_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.sim", "--port", "0", "--seed", "3", "--speed", "60",
                             "--usd", "250", "--data", str(RANGING_CSV)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = _read_banner(proc)
        rest_url, key, secret = info["REST"], info["API key"], info["API secret"]
        assert httpx.get(f"{rest_url}/0/public/Time", timeout=5).json()["error"] == []
        client = RestClient(rest_url, key, secret)
        assert client.private("Balance")["result"]["ZUSD"] == "250.0000"
        client.close()
        ws = WsClient(info["public WS"])
        assert ws.channel("status")["data"][0]["system"] == "online"
        ws.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_cli_rejects_bad_arguments() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway.sim", "--speed", "-1"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "--speed" in result.stderr


def test_speed_mode_replays_without_being_driven() -> None:
    sim = make_sim(clock="speed", speed=1200.0)  # 20 candles per second
    with sim:
        client = WsClient(sim.public_ws_url)
        client.request("subscribe", {"channel": "ohlc", "symbol": ["DOGE/USD"], "interval": 1, "snapshot": False})
        begins = set()
        for _ in range(400):  # bounded; about 2 s of replay at most
            msg = client.channel("ohlc", "update", timeout=5)
            begins.add(msg["data"][0]["interval_begin"])
            if len(begins) >= 3:
                break
        assert len(begins) >= 3
        client.close()
        processed = sim.call(lambda v: v.candles_processed)
        assert processed >= 3


def test_fast_mode_follows_the_slowest_client() -> None:
    sim = make_sim(clock="fast")
    with sim:
        client = WsClient(sim.public_ws_url)
        client.request("subscribe", {"channel": "ticker", "symbol": ["DOGE/USD"], "snapshot": False})
        seen = [client.channel("ticker", "update") for _ in range(50)]
        stamps = [m["data"][0]["timestamp"] for m in seen]
        assert stamps == sorted(stamps)
        client.close()


def test_synthetic_feed_by_default_and_realtime_clock_follows_the_wall() -> None:
    start = time.time()
    sim = SimExchange(SimConfig(clock="realtime"))
    with sim:
        now = sim.call(lambda v: v.now)
        assert abs(now - start) < 120  # synthetic feed starts at the current minute
        price = sim.call(lambda v: v.engine.price)
        assert abs(float(price) - 0.12) < 0.01


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.1"])
def test_only_loopback_binds(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimConfig(host=host)


def test_silent_clients_are_dropped_after_the_idle_timeout() -> None:
    sim = make_sim(idle_timeout_s=0.5)
    with sim:
        client = WsClient(sim.public_ws_url)
        client.channel("status")
        with pytest.raises(ConnectionClosed):
            client.wait_for(lambda m: False, timeout=5)
        wait_until(lambda: sim.connection_count() == 0)


def test_restart_keeps_urls_and_state() -> None:
    sim = make_sim()
    sim.start()
    try:
        urls = sim.describe()
        token = sim.issue_ws_token()
        client = WsClient(sim.private_ws_url)
        placed = client.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": 100.0,
                                              "symbol": "DOGE/USD", "limit_price": 0.05, "token": token})
        sim.stop()  # an exchange outage: clients are disconnected
        with pytest.raises(ConnectionClosed):
            client.wait_for(lambda m: False)
        sim.start()
        assert sim.describe() == urls
        again = WsClient(sim.private_ws_url)
        again.request("subscribe", {"channel": "executions", "token": token})
        snapshot = again.channel("executions", "snapshot")
        assert [e["order_id"] for e in snapshot["data"]] == [placed["result"]["order_id"]]
        again.close()
    finally:
        sim.stop()


def test_config_accepts_the_bots_float_settings() -> None:
    from decimal import Decimal

    from core.rate_limits import Tier

    cfg = SimConfig(usd=1000.5, doge=10000.0, fill_volume_share=0.2, rate_tier="intermediate", start_price=0.12)
    assert (cfg.usd, cfg.doge, cfg.fill_volume_share) == (Decimal("1000.5"), Decimal("10000.0"), Decimal("0.2"))
    assert cfg.rate_tier is Tier.INTERMEDIATE
    with pytest.raises(ValueError):
        SimConfig(usd=-1)


def test_fast_mode_waits_for_a_subscribed_client() -> None:
    sim = make_sim(clock="fast")
    with sim:
        idle = WsClient(sim.public_ws_url)  # connected but not subscribed: not a consumer yet
        idle.channel("status")
        time.sleep(0.3)
        assert sim.call(lambda v: v.candles_processed) == 1  # only the priming candle
        client = WsClient(sim.public_ws_url)
        client.request("subscribe", {"channel": "ticker", "symbol": ["DOGE/USD"], "snapshot": False})
        first = client.channel("ticker", "update")
        assert first["data"][0]["timestamp"] == "2021-04-02T00:01:00.000000Z"  # the data's second candle
        wait_until(lambda: sim.call(lambda v: v.candles_processed) > 3)
        client.close()
        idle.close()

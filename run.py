"""Entry point.

    python run.py                              simulated Kraken on loopback, 3 slots, dashboard
    python run.py --mode paper                 Kraken's public prices, simulated fills (internet)
    python run.py --mode live                  real orders (needs KRAKEN_API_KEY / KRAKEN_API_SECRET)
    python run.py backtest --data FILE.csv [--slots N] [--json]

Configuration comes from the environment / DOGEBOT_CONFIG (docs/configuration.md); flags
override the few things a newcomer wants to change. Ctrl-C (SIGINT) or SIGTERM stops cleanly:
exit code 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from core.config import Settings, apply_overrides, load_settings, startup_summary

log = logging.getLogger("run")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python run.py", description="Kraken DOGE/USD slot bot")
    parser.add_argument("--mode", choices=("sim", "paper", "live"), default=None,
                        help="venue (default: MODE from the environment, else sim)")
    parser.add_argument("--slots", type=int, default=None, help="slots on a fresh start (INITIAL_SLOTS)")
    parser.add_argument("--data", default=None, help="sim: candles CSV to replay (default: the bundled 2021 data)")
    parser.add_argument("--speed", type=float, default=None, help="sim: virtual seconds per wall second")
    parser.add_argument("--data-dir", default=None, help="directory of the SQLite store (DATA_DIR)")
    parser.add_argument("--port", type=int, default=None, help="dashboard port (DASHBOARD_PORT)")
    parser.add_argument("--no-web", action="store_true", help="do not start the dashboard")
    sub = parser.add_subparsers(dest="command")
    bt = sub.add_parser("backtest", help="replay a candles CSV at full speed under a virtual clock")
    bt.add_argument("--data", required=True, help="candles CSV (time,open,high,low,close,volume; .gz ok)")
    bt.add_argument("--slots", type=int, default=None)
    bt.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    bt.add_argument("--order-size-usd", type=float, default=None)
    bt.add_argument("--usd", type=float, default=None, help="starting USD (SIM_USD_BALANCE)")
    bt.add_argument("--doge", type=float, default=None, help="starting DOGE (SIM_DOGE_BALANCE)")
    bt.add_argument("--max-candles", type=int, default=None)
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level, logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)-10s %(message)s", datefmt="%H:%M:%S")
    # One readable line per meaningful event: the libraries' chatter stays below that.
    for noisy in ("websockets", "httpx", "httpcore", "uvicorn", "uvicorn.access", "pykka", "telegram", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> tuple[Settings, list[str]]:
    settings, warnings = load_settings()
    overrides: dict[str, Any] = {}
    for flag, knob in (("slots", "initial_slots"), ("data_dir", "data_dir"), ("port", "dashboard_port"),
                       ("speed", "sim_speed"), ("data", "sim_data_file"), ("mode", "mode"),
                       ("order_size_usd", "order_size_usd"), ("usd", "sim_usd_balance"), ("doge", "sim_doge_balance")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[knob] = value
    if args.command == "backtest":
        overrides["mode"] = "backtest"
    if overrides:
        settings, more = apply_overrides(settings, overrides, source="command line")
        warnings += more
    return settings, warnings


# --------------------------------------------------------------------------- backtest


def run_backtest(settings: Settings, args: argparse.Namespace) -> int:
    from actors.backtest import Backtest, format_summary

    if not Path(args.data).is_file():
        print(f"backtest: no such file: {args.data}", file=sys.stderr)
        return 2
    summary = Backtest(settings, args.data, max_candles=args.max_candles).run()
    if args.json:
        sys.stdout.write(json.dumps(msgspec.to_builtins(summary)) + "\n")
    else:
        print(format_summary(summary))
    return 0


# --------------------------------------------------------------------------- live systems


def _sim_exchange(settings: Settings) -> Any:
    from core.market import PairRules
    from gateway.sim.config import BUNDLED_DATA_FILE, SimConfig
    from gateway.sim.server import SimExchange

    data = settings.sim_data_file or BUNDLED_DATA_FILE
    speed = settings.sim_speed
    clock = "fast" if speed == 0 else ("realtime" if speed == 1 else "speed")
    rules = PairRules(min_volume=settings.sim_min_volume, min_cost_usd=settings.sim_min_cost,
                      maker_fee_pct=settings.sim_maker_fee_pct, taker_fee_pct=settings.sim_taker_fee_pct)
    config = SimConfig(data_file=data if settings.sim_feed == "replay" else None, clock=clock, speed=speed or 1.0,
                       usd=Decimal(repr(settings.sim_usd_balance)), doge=Decimal(repr(settings.sim_doge_balance)),
                       rules=rules, seed=settings.sim_seed, rate_tier=settings.sim_rate_tier,  # type: ignore[arg-type]
                       open_order_limit=settings.sim_open_orders_limit,
                       start_price=Decimal(repr(settings.sim_synthetic_start_price)))
    sim = SimExchange(config)
    sim.start()
    return sim


def build_system(settings: Settings, mode: str) -> tuple[Any, list[Any]]:
    """The System for a mode, and what else must be stopped after it (the in-process exchange)."""
    from actors.clock import FollowClock
    from actors.system import System, SystemConfig
    from actors.venues import kraken_venue, paper_venue, ws_config

    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    extras: list[Any] = []
    if mode == "sim":
        sim = _sim_exchange(settings)
        extras.append(sim)
        # The simulated exchange lives in this process: its account starts fresh every run, so the
        # store does too (a store that remembered orders of a vanished exchange would only confuse).
        db = data_dir / "sim.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        clock = FollowClock(sim.venue.clock.now, settings.sim_speed or 1.0)
        # No dead man's switch against the in-process exchange: it dies with this process anyway,
        # and its timer runs on the sped-up clock (60 s of sim time can be one wall second).
        ws = dataclasses.replace(ws_config(settings), dms_timeout_s=0)
        venue = kraken_venue(settings, public_ws_url=sim.public_ws_url, private_ws_url=sim.private_ws_url,
                             rest_url=sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret, clock=clock.now,
                             ws=ws)
        system = System(SystemConfig(settings=settings, venue_name="sim", venue=venue, db_path=str(db)))
        system.clock = clock
        return system, extras
    if mode == "paper":
        from actors.backtest import sim_config
        from gateway.sim.feeds import ListFeed
        from gateway.sim.venue import Venue

        venue_obj = Venue(sim_config(settings, settings.sim_usd_balance, settings.sim_doge_balance),
                          feed=ListFeed([]), prime_candles=0)
        db = data_dir / "paper.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        return System(SystemConfig(settings=settings, venue_name="paper", venue=paper_venue(settings, venue_obj),
                                   db_path=str(db))), extras
    venue = kraken_venue(settings, public_ws_url=settings.kraken_ws_public_url,
                         private_ws_url=settings.kraken_ws_private_url, rest_url=settings.kraken_rest_url,
                         api_key=settings.kraken_api_key, api_secret=settings.kraken_api_secret)
    return System(SystemConfig(settings=settings, venue_name="live", venue=venue,
                               db_path=str(data_dir / "dogebot.sqlite"))), extras


def start_web(settings: Settings, system: Any) -> Any:
    try:
        from web.actor import WebActor
    except ImportError:
        print(f"dashboard: http://{settings.dashboard_host}:{settings.dashboard_port}/ (web actor not installed)")
        return None
    from actors.internal import Subscribe

    try:
        web = WebActor.start(system.command, host=settings.dashboard_host, port=settings.dashboard_port,
                             token=settings.dashboard_token, metrics_source=system.metrics)
    except (OSError, ValueError) as exc:
        # A busy port or a non-loopback bind without DASHBOARD_TOKEN: the bot trades on without
        # a dashboard rather than dying, and says why once.
        log.error("dashboard not started: %s", exc)
        print(f"dashboard: not started ({exc})", flush=True)
        return None
    port = web.proxy().bound_port().get(timeout=10)
    system.refs["status"].tell(Subscribe(sink=web))
    print(f"dashboard: http://{settings.dashboard_host}:{port}/", flush=True)
    return web


def start_telegram(settings: Settings, system: Any) -> Any:
    from actors.telegram import TelegramActor, should_start

    if not should_start(settings):
        return None
    from actors.internal import Subscribe

    bot = TelegramActor.start(settings, system.command)
    system.refs["status"].tell(Subscribe(sink=bot))
    return bot


def run_live(settings: Settings, mode: str, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.warning("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    system, extras = build_system(settings, mode)
    side: list[Any] = []
    try:
        system.start()
        if not args.no_web:
            side.append(start_web(settings, system))
        side.append(start_telegram(settings, system))
        log.info("running (%s); Ctrl-C stops", mode)
        while not stop.wait(0.5):
            pass
    finally:
        for ref in side:
            if ref is not None:
                ref.stop(block=True, timeout=10)
        system.stop()
        for extra in extras:
            extra.stop()
    log.info("stopped cleanly")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings, warnings = _settings(args)
    configure_logging(settings.log_level)
    for w in warnings:
        log.warning("config: %s", w)
    if args.command == "backtest":
        return run_backtest(settings, args)
    mode = settings.mode if settings.mode != "backtest" else "sim"
    if mode == "live" and not settings.has_kraken_credentials:
        print("live mode needs KRAKEN_API_KEY and KRAKEN_API_SECRET in the environment (or the config "
              "file named by DOGEBOT_CONFIG); refusing to start.", file=sys.stderr)
        return 2
    print(startup_summary(settings), file=sys.stderr)
    return run_live(settings, mode, args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""`python -m gateway.sim`: run the simulated Kraken exchange on loopback until Ctrl-C.

Prints the WS and REST URLs and an API key/secret for paper trading, then serves. Exit code 0
on SIGINT/SIGTERM after a clean shutdown.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation

from gateway.sim.config import BUNDLED_DATA_FILE, SimConfig
from gateway.sim.server import SimExchange


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0,
                        help="base port: public WS = port, private WS = port+1, REST = port+2 (0 = free ports)")
    parser.add_argument("--data", default=None,
                        help="candles CSV (time,open,high,low,close,volume; .gz ok), or 'bundled' for the "
                             "shipped 2021 DOGE minutes; default: a synthetic market")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (x real time; 1 = real time; 0 = as fast as clients keep up)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic market and ids")
    parser.add_argument("--usd", type=_decimal, default=Decimal("1000"), help="starting USD balance")
    parser.add_argument("--doge", type=_decimal, default=Decimal("5000"), help="starting DOGE balance")
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error("--speed must not be negative")
    if not 0 <= args.port <= 65533:
        parser.error("--port must be in 0..65533")
    return args


def build_config(args: argparse.Namespace) -> SimConfig:
    base = args.port
    data = BUNDLED_DATA_FILE if args.data == "bundled" else args.data
    return SimConfig(
        public_port=base, private_port=base + 1 if base else 0, rest_port=base + 2 if base else 0,
        data_file=data, seed=args.seed, usd=args.usd, doge=args.doge,
        clock="fast" if args.speed == 0 else ("realtime" if args.speed == 1.0 else "speed"),
        speed=args.speed or 1.0,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sim = SimExchange(build_config(args))
        sim.start()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"gateway.sim: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print("Simulated Kraken exchange (paper money, loopback only)")
    print(f"  public WS   {sim.public_ws_url}")
    print(f"  private WS  {sim.private_ws_url}")
    print(f"  REST        {sim.rest_url}")
    print(f"  API key     {sim.api_key}")
    print(f"  API secret  {sim.api_secret}")
    print("Press Ctrl-C to stop.", flush=True)
    while not done.wait(0.5):
        if not sim.running:
            print("gateway.sim: the exchange stopped unexpectedly", file=sys.stderr)
            return 1
    sim.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

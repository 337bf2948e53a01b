"""Wire-level helpers shared by the simulator: decimals, timestamps, Kraken-style ids, JSON.

Prices and quantities are `Decimal` end to end so the simulator's tick/lot checks and balance
arithmetic are exact. WS frames encode Decimals as JSON *numbers* carrying the engine's
precision (as Kraken does); REST renders them as fixed-decimal strings.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

import msgspec

ZERO = Decimal("0.0")
_EXPONENTS: dict[int, Decimal] = {n: Decimal(1).scaleb(-n) for n in range(0, 19)}

_encoder = msgspec.json.Encoder(decimal_format="number")


def q(value: Decimal, decimals: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Quantize to `decimals` places. Zero becomes `0.0` so JSON never shows `0E-8`."""
    out = value.quantize(_EXPONENTS[decimals], rounding=rounding)
    return ZERO if out == 0 else out


def q_down(value: Decimal, decimals: int) -> Decimal:
    return q(value, decimals, ROUND_DOWN)


def q_up(value: Decimal, decimals: int) -> Decimal:
    return q(value, decimals, ROUND_CEILING)


def fmt(value: Decimal | int | float, decimals: int) -> str:
    """REST number string with exactly `decimals` places (Kraken prints e.g. `0.1523000`)."""
    return f"{Decimal(value).quantize(_EXPONENTS[decimals], rounding=ROUND_HALF_UP):f}"


def decimals_of(value: Decimal) -> int:
    """Number of decimal places actually used by `value` (trailing zeros ignored)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def to_decimal(value: Any) -> Decimal | None:
    """A request number (JSON number, numeric string) as Decimal, or None when not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except InvalidOperation:
            return None
        return out if out.is_finite() else None
    return None


# --------------------------------------------------------------------------- time


@lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


@lru_cache(maxsize=16384)
def rfc3339(ts: float) -> str:
    """RFC3339 with microseconds, e.g. `2023-09-22T10:33:05.709950Z` (cached: replays repeat stamps)."""
    micros = round(ts * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second_text(seconds)}.{fraction:06d}Z"


def rfc3339_ns(ts: float) -> str:
    """RFC3339 with nanosecond digits as OHLC `interval_begin` uses (`...00.000000000Z`)."""
    return rfc3339(ts)[:-1] + "000Z"


def rfc3339_s(ts: float) -> str:
    """Second precision (`cancel_all_orders_after` uses `2023-09-21T15:49:29Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc1123_short(ts: float) -> str:
    """Kraken's Time endpoint format: `Tue, 11 Nov 25 00:17:04 +0000` (two-digit year)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%a, %d %b %y %H:%M:%S +0000")


def http_date(ts: float | None = None) -> str:
    return format_datetime(datetime.fromtimestamp(time.time() if ts is None else ts, UTC), usegmt=True)


# --------------------------------------------------------------------------- ids

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_PAIRS = [a + b for a in _ID_ALPHABET for b in _ID_ALPHABET]


class IdFactory:
    """Kraken-style ids (`OUF4EM-FRGI2-MQMWZD`: 6-5-6 characters) from a seeded RNG.

    Seeded so a backtest run is reproducible down to its order ids. The first letter is the
    kind (`O` order, `T` trade/exec, `L` ledger), the rest random; uniqueness is enforced.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._issued: set[str] = set()

    def new(self, prefix: str) -> str:
        for _ in range(1000):
            # One 80-bit draw gives the 16 base-32 characters (two per 10 bits).
            bits = self._rng.getrandbits(80)
            chars = "".join([_ID_PAIRS[(bits >> s) & 1023] for s in range(0, 80, 10)])
            text = f"{prefix}{chars[:5]}-{chars[5:10]}-{chars[10:16]}"
            if text not in self._issued:
                self._issued.add(text)
                return text
        raise RuntimeError("id space exhausted")  # 32^16 ids: unreachable in practice

    def order_id(self) -> str:
        return self.new("O")

    def exec_id(self) -> str:
        return self.new("T")

    def ledger_id(self) -> str:
        return self.new("L")


# --------------------------------------------------------------------------- JSON


def channel_message(channel: str, element: dict[str, Any], now: float, sequence: int | None = None) -> dict[str, Any]:
    """The WS v2 update message carrying one data element, exactly as the simulator sends it."""
    message: dict[str, Any] = {"channel": channel, "type": "update"}
    if channel == "ohlc":
        message["timestamp"] = rfc3339_ns(now)
    message["data"] = [element]
    if sequence is not None:
        message["sequence"] = sequence
    return message



def encode(message: Any) -> bytes:
    """JSON bytes with Decimals as numbers (Kraken WS v2 style)."""
    return _encoder.encode(message)


def encode_text(message: Any) -> str:
    return _encoder.encode(message).decode()


def decode_request(text: str | bytes) -> Any:
    """Parse a client frame/body keeping numbers exact (floats become Decimal)."""
    return json.loads(text, parse_float=Decimal)

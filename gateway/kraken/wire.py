"""JSON and number/time primitives shared by the WebSocket and REST codecs.

Numbers are parsed as exact `Decimal` (msgspec with `float_hook=Decimal`, big integers stay
ints); timestamps are RFC3339 UTC with any number of fraction digits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec


class CodecError(ValueError):
    """A frame that does not match the Kraken shapes we understand."""


_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder()
_minute_cache: dict[str, float] = {}
_FLOAT_MAX = Decimal("1e300")  # far beyond any price or quantity, well inside float range


def parse(raw: str | bytes) -> dict[str, Any]:
    """JSON text -> dict, with every non-integer number as an exact `Decimal`."""
    try:
        obj = _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting: RecursionError
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CodecError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def dumps(obj: dict[str, Any]) -> str:
    """Request dict -> JSON text (a str, so websockets sends a text frame)."""
    return _encoder.encode(obj).decode()


def parse_ts(text: Any, default: float) -> float:
    """RFC3339 UTC (`2023-10-04T15:25:00.000000000Z`, any number of fraction digits) -> unix s.

    Hand-rolled because fromisoformat treats a missing `Z` as local time (the docs' batch
    example has one) and because the minute prefix repeats, so it is cached.
    """
    if not text:
        return default
    if not isinstance(text, str) or len(text) < 19 or text[10] != "T":
        raise CodecError(f"bad timestamp {text!r}")
    prefix = text[:16]
    base = _minute_cache.get(prefix)
    try:
        if base is None:
            base = datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                tzinfo=UTC,
            ).timestamp()
            if len(_minute_cache) > 4096:
                _minute_cache.clear()
            _minute_cache[prefix] = base
        value = base + int(text[17:19])
        rest = text[19:]
        if rest.startswith("."):
            end = 1
            while end < len(rest) and rest[end].isdigit():
                end += 1
            digits = rest[1:end]
            if digits:
                value += int(digits) / 10 ** len(digits)
            rest = rest[end:]
    except ValueError:
        raise CodecError(f"bad timestamp {text!r}") from None
    if rest not in ("", "Z", "+00:00"):
        raise CodecError(f"unsupported timezone in {text!r}")
    return value


def dec(value: Any, field: str) -> Decimal:
    """A required number as Decimal (ints, Decimals and numeric strings accepted).

    NaN, infinities and magnitudes no float can hold are refused: they would reach the
    messages as nan/inf and poison every sum a consumer makes with them.
    """
    if isinstance(value, bool) or value is None:
        raise CodecError(f"missing or non-numeric {field}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value if isinstance(value, (int, str)) else str(value))
    except ArithmeticError:
        raise CodecError(f"bad number in {field}: {value!r}") from None
    if not number.is_finite() or abs(number) > _FLOAT_MAX:
        raise CodecError(f"non-finite number in {field}: {str(value)[:40]}")
    return number


def num(obj: dict[str, Any], field: str, default: float | None = None) -> float:
    """obj[field] as float; `default` when absent (CodecError if absent and no default)."""
    value = obj.get(field)
    if value is None:
        if default is None:
            raise CodecError(f"missing {field}")
        return default
    return float(dec(value, field))

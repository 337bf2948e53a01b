"""The knob schema derived from `core.config_knobs.Settings`, and value parsing.

`KNOBS` is the machine-readable table (name, env name, kind, default, range, choices, group,
meaning, secret flag) read from the field annotations; `coerce` turns one raw environment/TOML
value into a valid value or a safe substitute plus the reason.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, get_args, get_origin, get_type_hints

import msgspec

from core.config_knobs import GROUPS, PATTERN_LABELS, Settings

REDACTED = "<redacted>"
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})
_MAX_SHOWN = 60

KnobKind = Literal["bool", "int", "float", "str", "enum", "int_list", "str_list"]


class Knob(msgspec.Struct, frozen=True, kw_only=True):
    """One knob as derived from the `Settings` annotations."""

    name: str
    env: str
    kind: KnobKind
    default: Any
    group: str
    description: str
    ge: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] = ()
    secret: bool = False
    pattern: str | None = None
    item_pattern: str | None = None


def _build_knobs() -> tuple[Knob, ...]:
    hints = get_type_hints(Settings, include_extras=True)
    group_ids = {g[0] for g in GROUPS}
    knobs: list[Knob] = []
    for field in msgspec.structs.fields(Settings):
        base, meta = get_args(hints[field.name])[:2]
        extra = dict(meta.extra or {})
        choices: tuple[Any, ...] = ()
        kind: KnobKind
        if get_origin(base) is Literal:
            kind, choices = "enum", get_args(base)
        elif base is bool:
            kind = "bool"
        elif base is int:
            kind = "int"
        elif base is float:
            kind = "float"
        elif base is str:
            kind = "str"
        elif get_origin(base) is tuple and get_args(base)[0] is int:
            kind = "int_list"
        elif get_origin(base) is tuple and get_args(base)[0] is str:
            kind = "str_list"
        else:
            raise TypeError(f"knob {field.name}: unsupported type {base!r}")
        if kind in ("int", "float") and (meta.ge is None or meta.le is None):
            # Clamping needs both bounds; a knob without them is a table error, caught at import.
            raise TypeError(f"knob {field.name}: numeric knobs need ge and le")
        if extra.get("group") not in group_ids:
            raise TypeError(f"knob {field.name}: unknown group {extra.get('group')!r}")
        knobs.append(
            Knob(
                name=field.name,
                env=field.name.upper(),
                kind=kind,
                default=field.default,
                group=str(extra["group"]),
                description=meta.description or "",
                ge=meta.ge,
                le=meta.le,
                choices=choices,
                secret=bool(extra.get("secret", False)),
                pattern=meta.pattern,
                item_pattern=str(extra["item_pattern"]) if "item_pattern" in extra else None,
            )
        )
    return tuple(knobs)


KNOBS: tuple[Knob, ...] = _build_knobs()
KNOB_BY_NAME: dict[str, Knob] = {k.name: k for k in KNOBS}
KNOB_BY_ENV: dict[str, Knob] = {k.env: k for k in KNOBS}


# --- value parsing ----------------------------------------------------------------------------


class _Bad(Exception):
    """A raw value that cannot be used; the message says why."""


def show_value(knob: Knob, value: Any) -> str:
    if knob.secret:
        return REDACTED
    if isinstance(value, tuple):
        value = ",".join(str(v) for v in value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _number(raw: Any, integral: bool) -> float:
    """Parse a number from TOML or env text; may return +/-inf (the caller clamps it)."""
    if isinstance(raw, bool):
        raise _Bad("not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        x = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if integral:
            try:
                return int(text)
            except ValueError:
                pass  # "1e3", "2.0" and digit strings beyond int()'s length limit go through float()
        try:
            x = float(text)
        except ValueError:
            raise _Bad("not a whole number" if integral else "not a number") from None
    else:
        raise _Bad("not a number")
    if math.isnan(x):
        raise _Bad("not a number")
    if integral and math.isfinite(x) and not x.is_integer():
        raise _Bad("not a whole number")
    return x


def _numeric(knob: Knob, raw: Any) -> tuple[Any, str | None]:
    integral = knob.kind == "int"
    try:
        x = _number(raw, integral)
    except _Bad as bad:
        return knob.default, str(bad)
    assert knob.ge is not None and knob.le is not None
    lo, hi = (int(knob.ge), int(knob.le)) if integral else (float(knob.ge), float(knob.le))
    if x < lo:
        return lo, f"below the minimum {lo}"
    if x > hi:
        return hi, f"above the maximum {hi}"
    return (int(x) if integral else float(x)), None


def _items(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(raw, list | tuple):
        return list(raw)
    raise _Bad("not a list")


def _list(knob: Knob, raw: Any) -> tuple[Any, str | None]:
    try:
        items = _items(raw)
    except _Bad as bad:
        return knob.default, str(bad)
    good: list[Any] = []
    bad_items: list[str] = []
    for item in items:
        try:
            if knob.kind == "int_list":
                value: Any = int(_number(item, integral=True))
                if abs(value) >= 2**63:
                    raise _Bad("too large")
            else:
                if not isinstance(item, str):
                    raise _Bad("not text")
                value = item.strip().lower()
                if knob.item_pattern and not re.fullmatch(knob.item_pattern, value):
                    raise _Bad("bad name")
        except (_Bad, OverflowError):
            bad_items.append(str(item)[:20])
            continue
        if value not in good:
            good.append(value)
    if knob.kind == "str_list" and not good:
        return knob.default, "an empty or invalid list"
    if bad_items:
        return tuple(good), "a list with invalid item(s) " + ", ".join(repr(b) for b in bad_items[:5])
    return tuple(good), None


def coerce(knob: Knob, raw: Any) -> tuple[Any, str | None]:
    """Turn a raw env/TOML value into a valid value: (value, None) or (safe value, reason)."""
    if knob.kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw), None
        text = raw.strip().lower() if isinstance(raw, str) else None
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return knob.default, "not a boolean (use true/false, 1/0, yes/no, on/off)"
    if knob.kind in ("int", "float"):
        return _numeric(knob, raw)
    if knob.kind == "enum":
        options = " | ".join(str(c) for c in knob.choices)
        if isinstance(knob.choices[0], int):
            try:
                x = _number(raw, integral=True)
            except _Bad:
                return knob.default, f"not one of {options}"
            return (int(x), None) if x in knob.choices else (knob.default, f"not one of {options}")
        if isinstance(raw, str):
            for choice in knob.choices:
                if raw.strip().casefold() == choice.casefold():
                    return choice, None
        return knob.default, f"not one of {options}"
    if knob.kind == "str":
        if not isinstance(raw, str):
            return knob.default, "not text"
        text = raw.strip()
        if not text:
            return (text, None) if knob.default == "" else (knob.default, "empty")
        if knob.pattern and not re.fullmatch(knob.pattern, text):
            return knob.default, "not a valid " + PATTERN_LABELS.get(knob.pattern, "value")
        return text, None
    return _list(knob, raw)


"""The Telegram command language: text in, operator command (or reply text) out. Pure.

Every state-changing command maps to exactly one `actors.commands` Struct, the same bodies
`POST /api/action` decodes, and is checked with `validate_command` so a value the API would
refuse with a 400 is refused here too, before anything reaches the runtime. Range hints in the
usage lines are read from those Structs' constraints, so help text and enforcement cannot drift.

Sticky mode (STICKY_SLOTS_CHECKLIST §3.11) takes the orphan commands out of the parser: `/soft_close`
and its picker callbacks are answered as unknown, and `/release` is offered instead.

Nothing here does I/O; the actor (`actors.telegram`) feeds text and the cached `StatusSnapshot`
in and sends what comes out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import msgspec

from actors.alerts import Alert
from actors.commands import (
    AddSlot,
    Command,
    CommandReply,
    Pause,
    ReleaseSlot,
    RemoveSlot,
    Resume,
    SetEntryPct,
    SetLossLimit,
    SetProfitPct,
    SoftClose,
    validate_command,
)
from actors.status import StatusSnapshot

# Telegram refuses messages above 4096 characters; stay below with room for a drop note.
MESSAGE_LIMIT = 3900
PICKER_LIMIT = 20  # inline keyboards get unwieldy (and slow to render on phones) beyond this
SOFT_CLOSE_PREFIX = "sc"


def _bounds(cls: type[Command], field: str) -> str:
    """"> 0 and <= 50" from the Struct's own constraints (so help and checks stay identical)."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    ftype = next(f.type for f in info.fields if f.name == field)
    if isinstance(ftype, msgspec.inspect.UnionType):
        ftype = next(t for t in ftype.types if not isinstance(t, msgspec.inspect.NoneType))
    parts = []
    for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        value = getattr(ftype, attr, None)
        if value is not None:
            parts.append(f"{sym} {int(value) if float(value).is_integer() else value}")
    return " and ".join(parts)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    mode: Literal["any", "legacy", "sticky"] = "any"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("status", "/status", "mode, price, P&L, slots by phase, headroom, loss lock"),
    CommandSpec("slots", "/slots", "one line per slot: alias, phase, orders, P&L"),
    CommandSpec("pause", "/pause [reason]", "pause trading (open orders stay)"),
    CommandSpec("resume", "/resume", "resume trading (refused while the daily loss lock is on)"),
    CommandSpec("add_slot", "/add_slot [alias]", "add a slot, optionally with an alias"),
    CommandSpec("remove_slot", "/remove_slot <slot_id>", "remove a slot"),
    CommandSpec("set_entry_pct", "/set_entry_pct <value>",
                f"entry distance in percent ({_bounds(SetEntryPct, 'value')})"),
    CommandSpec("set_profit_pct", "/set_profit_pct <value>",
                f"profit target in percent ({_bounds(SetProfitPct, 'value')})"),
    CommandSpec("set_loss_limit", "/set_loss_limit <usd>",
                f"daily loss limit in USD, 0 disables ({_bounds(SetLossLimit, 'value')})"),
    CommandSpec("soft_close", "/soft_close [slot_id recovery_id]",
                "reprice a recovery toward market; without arguments pick one", "legacy"),
    CommandSpec("release", "/release <slot_id> [local_id]", "release a waiting exit (gated)", "sticky"),
    CommandSpec("help", "/help", "this list"),
)


def available(sticky: bool) -> tuple[CommandSpec, ...]:
    """The commands the parser accepts in this mode, in help order."""
    keep = ("any", "sticky") if sticky else ("any", "legacy")
    return tuple(c for c in COMMANDS if c.mode in keep)


def help_text(sticky: bool) -> str:
    lines = ["Commands (sticky mode):" if sticky else "Commands:"]
    lines += [f"{c.usage} - {c.summary}" for c in available(sticky)]
    return "\n".join(lines)


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execute:
    """A validated command for the runtime."""

    command: Command


@dataclass(frozen=True)
class Reply:
    """Answer with this text; nothing changes (usage errors, unknown commands)."""

    text: str


@dataclass(frozen=True)
class Query:
    """Answered locally from the cached status: status | slots | help."""

    name: Literal["status", "slots", "help"]


@dataclass(frozen=True)
class Picker:
    """`/soft_close` without arguments: offer the recoveries as buttons."""


Parsed = Execute | Reply | Query | Picker | None


class _Usage(Exception):
    pass


_INT = re.compile(r"#?([0-9]{1,12})")


def _int(arg: str) -> int:
    m = _INT.fullmatch(arg)
    if m is None:
        raise _Usage
    return int(m.group(1))


def _float(arg: str) -> float:
    try:
        value = float(arg.removesuffix("%"))
    except ValueError:
        raise _Usage from None
    if not math.isfinite(value):
        raise _Usage
    return value


def _build(name: str, args: list[str], rest: str) -> Command | Picker:
    n = len(args)
    if name == "pause":
        return Pause(reason=rest) if rest else Pause()
    if name == "resume" and n == 0:
        return Resume()
    if name == "add_slot" and n <= 1:
        return AddSlot(alias=args[0] if args else None)
    if name == "remove_slot" and n == 1:
        return RemoveSlot(slot_id=_int(args[0]))
    if name == "set_entry_pct" and n == 1:
        return SetEntryPct(value=_float(args[0]))
    if name == "set_profit_pct" and n == 1:
        return SetProfitPct(value=_float(args[0]))
    if name == "set_loss_limit" and n == 1:
        return SetLossLimit(value=_float(args[0].removeprefix("$")))
    if name == "soft_close" and n == 0:
        return Picker()
    if name == "soft_close" and n == 2:
        return SoftClose(slot_id=_int(args[0]), recovery_id=_int(args[1]))
    if name == "release" and n in (1, 2):
        return ReleaseSlot(slot_id=_int(args[0]), local_id=_int(args[1]) if n == 2 else None)
    raise _Usage


_USAGE_HINTS = {
    "pause": "reason at most 200 characters",
    "add_slot": "alias: letters, digits, - and _, at most 32",
    "remove_slot": f"slot_id {_bounds(RemoveSlot, 'slot_id')}",
    "set_entry_pct": f"value {_bounds(SetEntryPct, 'value')}",
    "set_profit_pct": f"value {_bounds(SetProfitPct, 'value')}",
    "set_loss_limit": f"value in USD {_bounds(SetLossLimit, 'value')}",
    "soft_close": "two whole numbers, or none for the picker",
    "release": f"slot_id {_bounds(ReleaseSlot, 'slot_id')}, local_id a whole number",
}


def usage_line(name: str) -> str:
    spec = next(c for c in COMMANDS if c.name == name)
    hint = _USAGE_HINTS.get(name)
    return f"Usage: {spec.usage}" + (f" ({hint})" if hint else " (no arguments)")


def parse_command(text: str, *, bot_username: str | None, sticky: bool) -> Parsed:
    """Turn a message into what to do. None: not a command for this bot (ignore silently)."""
    if not text.startswith("/"):
        return None
    head, _, rest = text.strip().partition(" ")
    name, at, target = head[1:].partition("@")
    # In a group every bot sees `/status@otherbot`; only our own name (or none) is ours.
    if at and (bot_username is None or target.lower() != bot_username.lower()):
        return None
    name = name.lower()
    if name == "start":  # what Telegram clients send when a chat with the bot is opened
        return Query("help")
    if name not in {c.name for c in available(sticky)}:
        return Reply(f"Unknown command /{name[:32]}. Send /help for the list.")
    if name in ("status", "slots", "help"):
        return Query(name)  # type: ignore[arg-type]
    rest = rest.strip()
    try:
        built = _build(name, rest.split(), rest)
        if isinstance(built, Picker):
            return built
        return Execute(validate_command(built))
    except (_Usage, msgspec.ValidationError):
        return Reply(usage_line(name))


_CALLBACK = re.compile(rf"{SOFT_CLOSE_PREFIX}:([0-9]{{1,12}}):([0-9]{{1,12}})")


def parse_callback(data: str | None, *, sticky: bool) -> SoftClose | None:
    """`sc:<slot_id>:<recovery_id>` from the picker; None for anything else (or in sticky mode)."""
    if sticky or not data:
        return None
    m = _CALLBACK.fullmatch(data)
    if m is None:
        return None
    try:
        cmd = validate_command(SoftClose(slot_id=int(m.group(1)), recovery_id=int(m.group(2))))
    except msgspec.ValidationError:
        return None
    assert isinstance(cmd, SoftClose)
    return cmd


# --- formatting -------------------------------------------------------------------------------


def usd(value: float) -> str:
    sign = "-" if value < 0 else "+"
    return f"{sign}${abs(value):.2f}"


def age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


_MODE_ICON = {"RUNNING": "🟢", "PAUSED": "🟡", "HALTED": "🔴"}


def format_status(snap: StatusSnapshot | None) -> str:
    if snap is None:
        return "No status from the runtime yet (it is starting); try again in a moment."
    head = f"{_MODE_ICON.get(snap.mode, '')} {snap.mode}"
    why = snap.halt_reason if snap.mode == "HALTED" else snap.pause_reason if snap.mode == "PAUSED" else ""
    if why:
        head += f": {why}"
    head += f" · {snap.venue}" + (" · sticky" if snap.sticky_mode_enabled else "")
    if snap.price > 0:
        price = f"Price {snap.price:.5f}"
        if snap.price_age_sec is not None:
            price += f" ({age(snap.price_age_sec)} old)"
    else:
        price = "Price: none yet"
    pnl = (f"P&L today {usd(snap.today_realized_pnl)} · total {usd(snap.total_profit)} · "
           f"fees ${snap.total_fees:.2f} · {snap.total_round_trips} round trips")
    phases = Counter(s.phase for s in snap.slots)
    halted = sum(1 for s in snap.slots if s.halted)
    slots = f"Slots {len(snap.slots)}" + (": " + " · ".join(f"{p} {phases[p]}" for p in sorted(phases))
                                          if phases else "")
    if halted:
        slots += f" · {halted} halted"
    cap = snap.capacity_fill_health
    capacity = (f"Orders {cap.open_orders_current}/{cap.open_orders_safe_cap} · headroom "
                f"{cap.open_order_headroom} · band {cap.status_band}")
    if snap.daily_loss_limit <= 0:
        lock = "Loss lock disabled"
    elif snap.daily_loss_lock_active:
        lock = (f"Loss lock ON ({snap.daily_loss_lock_utc_day}): loss ${snap.daily_realized_loss_utc:.2f} "
                f">= ${snap.daily_loss_limit:.2f}, resume blocked")
    else:
        lock = f"Loss lock off (today's loss ${snap.daily_realized_loss_utc:.2f} of ${snap.daily_loss_limit:.2f})"
    lines = [head, price, pnl, slots, capacity, lock]
    drift = snap.open_order_drift_hint
    if drift.active:
        pct = f" ({drift.drift_pct:.1f}%)" if drift.drift_pct is not None else ""
        lines.append(f"Open-order drift: {drift.drift if drift.drift is not None else '?'}{pct}")
    conn = snap.connection
    if not (conn.public and conn.private):
        lines.append(f"Exchange link: public {'up' if conn.public else 'DOWN'}, "
                     f"private {'up' if conn.private else 'DOWN'}")
    return "\n".join(lines)


def format_slots(snap: StatusSnapshot | None) -> list[str]:
    """One line per slot, split into messages Telegram accepts."""
    if snap is None:
        return [format_status(None)]
    if not snap.slots:
        return ["No slots."]
    lines = [f"Slots ({len(snap.slots)}):"]
    for s in snap.slots:
        line = f"#{s.slot_id} {s.alias} {s.phase} · {len(s.orders)} orders"
        if s.recoveries:
            line += f" · {len(s.recoveries)} rec"
        line += f" · P&L {usd(s.total_profit)}"
        if s.halted:
            line += f" · HALTED: {s.halt_reason}"
        elif s.waiting_reason:
            line += f" · {s.waiting_reason}"
        lines.append(line)
    return chunk(lines)


def chunk(lines: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into as few messages as fit, never splitting a line (over-long lines are cut)."""
    out: list[str] = []
    cur: list[str] = []
    size = 0
    for raw in lines:
        line = raw if len(raw) <= limit else raw[: limit - 1] + "…"
        if cur and size + 1 + len(line) > limit:
            out.append("\n".join(cur))
            cur, size = [], 0
        size += len(line) + (1 if cur else 0)
        cur.append(line)
    if cur:
        out.append("\n".join(cur))
    return out


def soft_close_picker(snap: StatusSnapshot | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Text and (label, callback data) buttons for the recoveries in the cached status, oldest first."""
    if snap is None:
        return ("No status yet, so no recoveries to list. Use /soft_close <slot_id> <recovery_id>.", ())
    recs = [(s, r) for s in snap.slots for r in s.recoveries]
    if not recs:
        return ("No recoveries to soft-close.", ())
    recs.sort(key=lambda sr: -sr[1].age_sec)
    shown = recs[:PICKER_LIMIT]
    buttons = tuple(
        (f"#{s.slot_id} {s.alias} r{r.recovery_id} {r.side} @{r.price:.5f} ({r.distance_pct:+.1f}%, {age(r.age_sec)})",
         f"{SOFT_CLOSE_PREFIX}:{s.slot_id}:{r.recovery_id}")
        for s, r in shown
    )
    more = f" (oldest {len(shown)} of {len(recs)})" if len(recs) > len(shown) else ""
    return (f"Pick a recovery to soft-close{more}:", buttons)


def format_reply(reply: CommandReply) -> str:
    return f"{'✅' if reply.ok else '❌'} {reply.message or reply.action}"


# "\u2139" is the information-source emoji (written escaped: it looks like a Latin "i").
_ALERT_ICON = {"critical": "🛑", "warning": "⚠️", "info": "\u2139\ufe0f"}
_ALERT_LABEL = {
    "halt": "HALT",
    "slot_halt": "SLOT HALT",
    "paused": "PAUSED",
    "resumed": "RESUMED",
    "loss_lock_on": "DAILY LOSS LOCK ON",
    "loss_lock_off": "DAILY LOSS LOCK OFF",
    "drift_on": "OPEN-ORDER DRIFT",
    "drift_off": "OPEN-ORDER DRIFT CLEARED",
    "cannot_bootstrap": "CANNOT BOOTSTRAP",
    "gateway_disconnected": "EXCHANGE DISCONNECTED",
    "gateway_reconnected": "EXCHANGE RECONNECTED",
}


def format_alert(alert: Alert, suppressed: int = 0) -> str:
    label = _ALERT_LABEL.get(alert.kind, alert.kind.replace("_", " ").upper())
    slot = f" (slot #{alert.slot_id})" if alert.slot_id is not None else ""
    text = f"{_ALERT_ICON.get(alert.severity, '')} {label}{slot}: {alert.message}".strip()
    if suppressed:
        text += f" (+{suppressed} similar suppressed)"
    return chunk([text])[0]

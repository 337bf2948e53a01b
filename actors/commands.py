"""Operator commands: the one protocol shared by the HTTP API, the dashboard, Telegram and tests.

Each command is a tagged msgspec Struct whose tag is the action name of STATE_MACHINE.md §22
(`{"action": "pause"}`), so `POST /api/action` bodies decode straight into these classes and
invalid bodies are rejected with the offending field named. Range constraints are enforced on
decode (`msgspec.convert` / `json.decode`), not in the constructor: callers that build commands
in code use `validate_command` to get the same checks.

The runtime answers every command with a `CommandReply`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

SlotId = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Percent = Annotated[float, msgspec.Meta(gt=0.0, le=50.0)]


class Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="action", forbid_unknown_fields=True):
    """Base of every operator command."""


class Pause(Command, tag="pause"):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = "operator"


class Resume(Command, tag="resume"):
    pass


class AddSlot(Command, tag="add_slot"):
    alias: Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] | None = None


class RemoveSlot(Command, tag="remove_slot"):
    slot_id: SlotId


class RemoveSlots(Command, tag="remove_slots"):
    count: Annotated[int, msgspec.Meta(ge=1, le=1000)]


class AddLayer(Command, tag="add_layer"):
    """Raise the target layers by one if one layer step is affordable from `source`.

    None means CAPITAL_LAYER_DEFAULT_SOURCE.
    """

    source: Literal["auto", "doge", "usd"] | None = None


class RemoveLayer(Command, tag="remove_layer"):
    pass


class SetEntryPct(Command, tag="set_entry_pct"):
    value: Percent


class SetProfitPct(Command, tag="set_profit_pct"):
    value: Percent


class SetLossLimit(Command, tag="set_loss_limit"):
    """DAILY_LOSS_LIMIT in USD for the running bot (0 disables the lock); persisted across restarts.

    Raising it above today's realized loss clears an active lock (and resumes); lowering it to or
    below today's loss engages the lock at once.
    """

    value: Annotated[float, msgspec.Meta(ge=0.0, le=1_000_000.0)]


class SoftClose(Command, tag="soft_close"):
    slot_id: SlotId
    recovery_id: Annotated[int, msgspec.Meta(ge=0)]


class SoftCloseNext(Command, tag="soft_close_next"):
    pass


class CancelStaleRecoveries(Command, tag="cancel_stale_recoveries"):
    min_distance_pct: Annotated[float, msgspec.Meta(ge=0.0, le=100.0)] = 3.0


class ReconcileDrift(Command, tag="reconcile_drift"):
    pass


class AuditPnl(Command, tag="audit_pnl"):
    pass


class ReleaseSlot(Command, tag="release_slot"):
    """Sticky-mode release of a waiting exit (STICKY_SLOTS_CHECKLIST §3.2)."""

    slot_id: SlotId
    local_id: Annotated[int, msgspec.Meta(ge=0)] | None = None
    force_tier: Literal["conservative", "panic"] = "conservative"


OperatorCommand = (
    Pause
    | Resume
    | AddSlot
    | RemoveSlot
    | RemoveSlots
    | AddLayer
    | RemoveLayer
    | SetEntryPct
    | SetProfitPct
    | SetLossLimit
    | SoftClose
    | SoftCloseNext
    | CancelStaleRecoveries
    | ReconcileDrift
    | AuditPnl
    | ReleaseSlot
)

ACTION_NAMES: tuple[str, ...] = tuple(
    cls.__struct_config__.tag  # type: ignore[attr-defined]
    for cls in OperatorCommand.__args__  # type: ignore[attr-defined]
)

command_decoder = msgspec.json.Decoder(OperatorCommand)


class CommandReply(msgspec.Struct, frozen=True, kw_only=True):
    """What happened. `ok` False means nothing changed; `message` says why, for a person."""

    ok: bool
    action: str
    message: str
    data: dict[str, object] = {}


def validate_command(command: Command) -> Command:
    """Apply the decode-time constraints to a command built in code; raises msgspec.ValidationError."""
    return msgspec.convert(msgspec.to_builtins(command), OperatorCommand)

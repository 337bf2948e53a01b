"""Entry velocity scheduler (STATE_MACHINE.md §12, SLOT_BOOTSTRAP_FIX_PLAN §2).

Only *entry* placements go through here; exits and recovery reprices are never delayed (they
close risk, and an exit held back is a position left open). Each main loop the runtime:

    state = begin_loop(state, headroom)            # reset the per-loop counter, fix the loop cap
    state, drained = drain(state, headroom)        # pre-tick: oldest deferred entries first
    ... slots produce entries ...
    state, admitted, deferred = admit(state, entries, source, headroom)
    state, drained = drain(state, headroom)        # post-tick: whatever budget is left

`headroom` is the open-order safe cap minus the open orders (capacity.open_order_headroom).
The scheduler also subtracts what it admitted itself since `begin_loop`, because the runtime's
count only catches up when acknowledgements arrive; taking the smaller of the two views can only
make it more careful, never admit past the safe cap.

State is an immutable Struct; payloads are opaque to the scheduler (the runtime's order intents).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from actors.status import EntrySchedulerStatus

DEFAULT_MAX_ENTRY_ADDS_PER_LOOP = 2
# The only sources allowed past the per-loop cap: a new slot must come up two-sided atomically and a
# degraded slot must be repaired in one go, or the fleet converges to one-sided slots under load.
BYPASS_SOURCES: frozenset[str] = frozenset({"bootstrap", "bootstrap_regime", "auto_repair"})


class PendingEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry placement waiting for budget.

    key: identity for de-duplication, e.g. "slot:3:A" — a newer entry with the same key replaces
    the queued one (a slot re-priced its entry while it waited). payload: opaque to the scheduler.
    source: who asked ("bootstrap", "auto_repair", "reducer", ...).
    """

    key: str
    payload: object = None
    source: str = ""


class SchedulerState(msgspec.Struct, frozen=True, kw_only=True):
    configured_cap: int = DEFAULT_MAX_ENTRY_ADDS_PER_LOOP
    loop_cap: int = DEFAULT_MAX_ENTRY_ADDS_PER_LOOP  # the cap in force this loop (after tightening)
    added_this_loop: int = 0  # every entry released this loop, bypass or not
    capped_this_loop: int = 0  # only the non-bypass ones: what the loop cap limits
    loop_headroom: int | None = None  # headroom given to begin_loop; None before the first loop
    pending: tuple[PendingEntry, ...] = ()
    deferred_total: int = 0
    drained_total: int = 0
    bypassed_total: int = 0


def tightened_cap(configured_cap: int, headroom: int) -> int:
    """§12: headroom < 5 -> 1, < 10 -> 2, < 20 -> 3, else the configured cap; never above it."""
    configured = max(0, configured_cap)
    if headroom < 5:
        tier = 1
    elif headroom < 10:
        tier = 2
    elif headroom < 20:
        tier = 3
    else:
        return configured
    return min(configured, tier)


def is_bypass(source: str) -> bool:
    return source in BYPASS_SOURCES


def new_state(configured_cap: int = DEFAULT_MAX_ENTRY_ADDS_PER_LOOP) -> SchedulerState:
    """A fresh scheduler for MAX_ENTRY_ADDS_PER_LOOP = configured_cap (negative counts as 0)."""
    cap = max(0, configured_cap)
    return SchedulerState(configured_cap=cap, loop_cap=cap)


def with_configured_cap(state: SchedulerState, configured_cap: int) -> SchedulerState:
    """Operator/config change of MAX_ENTRY_ADDS_PER_LOOP: a lower cap binds at once, a higher one
    from the next begin_loop (this loop's budget was already handed out against the old one)."""
    cap = max(0, configured_cap)
    return msgspec.structs.replace(state, configured_cap=cap, loop_cap=min(state.loop_cap, cap))


def begin_loop(state: SchedulerState, headroom: int | None = None) -> SchedulerState:
    """Start of a main loop: reset the per-loop counters and fix this loop's cap from headroom."""
    loop_cap = state.configured_cap if headroom is None else tightened_cap(state.configured_cap, headroom)
    return msgspec.structs.replace(
        state, loop_cap=loop_cap, added_this_loop=0, capped_this_loop=0, loop_headroom=headroom
    )


def _room(state: SchedulerState, headroom: int, used_in_call: int) -> int:
    """Open-order slots entries may still use now: the stricter of the caller's view (less what this
    call already released) and our own count since begin_loop."""
    room = headroom - used_in_call
    if state.loop_headroom is not None:
        room = min(room, state.loop_headroom - state.added_this_loop)
    return max(0, room)


def _cap_left(state: SchedulerState, headroom: int) -> int:
    cap = min(state.loop_cap, tightened_cap(state.configured_cap, headroom))
    return max(0, cap - state.capped_this_loop)


def _dedupe(entries: Iterable[PendingEntry]) -> list[PendingEntry]:
    """Last payload wins for a repeated key, at the position the key first appeared."""
    order: dict[str, PendingEntry] = {}
    for entry in entries:
        order[entry.key] = entry
    return list(order.values())


def admit(
    state: SchedulerState, entries: Iterable[PendingEntry], source: str, headroom: int
) -> tuple[SchedulerState, list[PendingEntry], list[PendingEntry]]:
    """Decide which new entries may be placed now; the rest are queued (FIFO, de-duplicated by key).

    Bypass sources (`BYPASS_SOURCES`) ignore the per-loop cap but still count towards this loop's
    additions, so ordinary entries yield to them. Nothing is admitted past the safe-cap headroom,
    whatever the source: those entries are queued too and drained when room appears.

    Ordinary entries are admitted only while the queue is empty: older deferred entries keep their
    turn (strict FIFO), and `drain` releases them. An admitted key supersedes a queued entry with
    the same key (the queued one is dropped, never placed twice).
    Returns (state, admitted, deferred); every entry given (after key de-duplication) is in exactly
    one of the two lists, each stamped with `source`.
    """
    bypass = is_bypass(source)
    batch = [msgspec.structs.replace(e, source=source) for e in _dedupe(entries)]
    pending = list(state.pending)
    admitted: list[PendingEntry] = []
    deferred: list[PendingEntry] = []
    added = state.added_this_loop
    capped = state.capped_this_loop
    deferred_total = state.deferred_total
    bypassed_total = state.bypassed_total

    for entry in batch:
        probe = msgspec.structs.replace(state, added_this_loop=added, capped_this_loop=capped)
        queued_same_key = next((i for i, p in enumerate(pending) if p.key == entry.key), None)
        others_waiting = any(p.key != entry.key for p in pending)
        room = _room(probe, headroom, len(admitted))
        if bypass:
            can_place = room > 0
        else:
            can_place = room > 0 and _cap_left(probe, headroom) > 0 and not others_waiting
        if can_place:
            if queued_same_key is not None:
                del pending[queued_same_key]
            admitted.append(entry)
            added += 1
            if bypass:
                bypassed_total += 1
            else:
                capped += 1
        else:
            deferred.append(entry)
            if queued_same_key is not None:
                # Replace in place: the slot's newer intent keeps the older one's turn.
                pending[queued_same_key] = entry
            else:
                pending.append(entry)
                deferred_total += 1

    new_state = msgspec.structs.replace(
        state,
        pending=tuple(pending),
        added_this_loop=added,
        capped_this_loop=capped,
        deferred_total=deferred_total,
        bypassed_total=bypassed_total,
    )
    return new_state, admitted, deferred


def drain(state: SchedulerState, headroom: int) -> tuple[SchedulerState, list[PendingEntry]]:
    """Release queued entries, oldest first, within the remaining loop budget and headroom.

    Queued bypass-source entries (deferred only by the headroom guard) need headroom, not cap, so
    they may pass an ordinary entry that is waiting for cap; everything else keeps FIFO order.
    """
    drained: list[PendingEntry] = []
    kept: list[PendingEntry] = []
    added = state.added_this_loop
    capped = state.capped_this_loop
    for entry in state.pending:
        probe = msgspec.structs.replace(state, added_this_loop=added, capped_this_loop=capped)
        room = _room(probe, headroom, len(drained))
        bypass = is_bypass(entry.source)
        fifo_blocked = not bypass and any(not is_bypass(k.source) for k in kept)
        if room > 0 and (bypass or (_cap_left(probe, headroom) > 0 and not fifo_blocked)):
            drained.append(entry)
            added += 1
            if not bypass:
                capped += 1
        else:
            kept.append(entry)
    new_state = msgspec.structs.replace(
        state,
        pending=tuple(kept),
        added_this_loop=added,
        capped_this_loop=capped,
        drained_total=state.drained_total + len(drained),
    )
    return new_state, drained


def drop(state: SchedulerState, keys: Iterable[str]) -> tuple[SchedulerState, list[PendingEntry]]:
    """Remove queued entries by key (a slot was removed, paused or its entry is no longer wanted)."""
    doomed = set(keys)
    return drop_where(state, lambda e: e.key in doomed)


def drop_where(
    state: SchedulerState, predicate: Callable[[PendingEntry], bool]
) -> tuple[SchedulerState, list[PendingEntry]]:
    """Remove every queued entry matching `predicate`; returns the removed ones."""
    removed = [e for e in state.pending if predicate(e)]
    if not removed:
        return state, []
    kept = tuple(e for e in state.pending if not predicate(e))
    return msgspec.structs.replace(state, pending=kept), removed


def status(state: SchedulerState) -> EntrySchedulerStatus:
    """The `entry_scheduler` status block."""
    return EntrySchedulerStatus(
        loop_cap=state.loop_cap,
        configured_cap=state.configured_cap,
        pending=len(state.pending),
        deferred_total=state.deferred_total,
        drained_total=state.drained_total,
        bypassed_total=state.bypassed_total,
    )

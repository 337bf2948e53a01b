"""Slot aliases: human-friendly slot names (STATE_MACHINE.md §19).

A new slot takes the first pool name (in pool order) that no live slot uses; a removed slot's
name goes back to the pool. When every pool name is taken the fallback is `doge-NN` from a
counter that only ever grows, so a fallback name is never handed out twice in the bot's life
(a person reading an old alert never confuses two slots). No two live slots ever share a name;
names compare case-insensitively so "Doge" and "doge" cannot coexist.

`AliasState` is an immutable msgspec Struct, persisted as part of the snapshot.
"""

from __future__ import annotations

import msgspec

DEFAULT_POOL: tuple[str, ...] = ("doge", "shiba", "floki", "cheems", "kabosu")
FALLBACK_PREFIX = "doge"


class AliasInUse(ValueError):
    """An operator asked for a name another live slot already has."""


class AliasState(msgspec.Struct, frozen=True, kw_only=True):
    pool: tuple[str, ...] = DEFAULT_POOL
    assigned: dict[int, str] = {}  # slot_id -> alias (never mutated in place: copied on change)
    fallback_counter: int = 0  # the last NN used for doge-NN


def parse_pool(text: str | None) -> tuple[str, ...]:
    """SLOT_ALIAS_POOL: comma-separated names; blanks and repeats dropped; empty means the default."""
    if not text:
        return DEFAULT_POOL
    names: list[str] = []
    seen: set[str] = set()
    for raw in text.split(","):
        name = raw.strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return tuple(names) or DEFAULT_POOL


def new_state(pool_text: str | None = None) -> AliasState:
    return AliasState(pool=parse_pool(pool_text))


def _taken(state: AliasState) -> set[str]:
    return {a.casefold() for a in state.assigned.values()}


def alias_of(state: AliasState, slot_id: int) -> str | None:
    return state.assigned.get(slot_id)


def allocate(state: AliasState, slot_id: int, requested: str | None = None) -> tuple[AliasState, str]:
    """Name a new slot. Idempotent for a slot that already has a name (returns it unchanged).

    `requested` (AddSlot.alias) is honoured when free, else AliasInUse is raised so the operator
    gets a clear refusal rather than a silently different name.
    """
    current = state.assigned.get(slot_id)
    if current is not None:
        if requested is not None and requested.casefold() != current.casefold():
            raise AliasInUse(f"slot {slot_id} is already named {current!r}")
        return state, current
    taken = _taken(state)
    counter = state.fallback_counter
    if requested is not None:
        name = requested.strip()
        if not name:
            raise ValueError("alias must not be blank")
        if name.casefold() in taken:
            raise AliasInUse(f"alias {name!r} is already used by another slot")
    else:
        name = next((p for p in state.pool if p.casefold() not in taken), "")
        while not name:
            counter += 1
            candidate = f"{FALLBACK_PREFIX}-{counter:02d}"
            # An operator may have taken a doge-NN name by hand: skip it, never duplicate.
            if candidate.casefold() not in taken:
                name = candidate
    assigned = dict(state.assigned)
    assigned[slot_id] = name
    return msgspec.structs.replace(state, assigned=assigned, fallback_counter=counter), name


def release(state: AliasState, slot_id: int) -> AliasState:
    """A slot was removed: its name is free again (pool names are reused lowest-first)."""
    if slot_id not in state.assigned:
        return state
    assigned = dict(state.assigned)
    del assigned[slot_id]
    return msgspec.structs.replace(state, assigned=assigned)


def with_pool(state: AliasState, pool_text: str | None) -> AliasState:
    """A new SLOT_ALIAS_POOL; live slots keep their names, only future allocations change."""
    return msgspec.structs.replace(state, pool=parse_pool(pool_text))


def restore(state: AliasState, slot_ids: list[int]) -> AliasState:
    """After loading a snapshot: forget names of slots that no longer exist and name those that
    have none (e.g. a snapshot from before aliases), in slot-id order."""
    keep = set(slot_ids)
    assigned: dict[int, str] = {}
    seen: set[str] = set()
    for sid in sorted(state.assigned):
        alias = state.assigned[sid]
        # A damaged snapshot naming two slots alike: the lower slot id keeps the name.
        if sid in keep and alias.casefold() not in seen:
            seen.add(alias.casefold())
            assigned[sid] = alias
    state = msgspec.structs.replace(state, assigned=assigned)
    for sid in sorted(keep):
        state, _ = allocate(state, sid)
    return state

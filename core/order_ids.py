"""Client order ids (Kraken `cl_ord_id`) that name the owner of every order.

Kraken accepts free ASCII text of at most 18 characters, unique among open orders. Ours are
`<kind><slot>-<trade><role><cycle>-<local>` with base-36 numbers, for example `s3-AE1c-2f`:
slot 3, trade A, entry, cycle 48, local order id 87. The gateway routes every execution
report to its owner from this id alone, without looking into anybody's state.

kind: `s` slot order, `c` churner order. role: `E` entry, `X` exit, `R` recovery exit.
"""

from __future__ import annotations

import msgspec

MAX_LEN = 18
KINDS = ("s", "c")
ROLES = {"entry": "E", "exit": "X", "recovery": "R"}
ROLE_NAMES = {v: k for k, v in ROLES.items()}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class OrderOwner(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # "s" slot, "c" churner
    slot_id: int
    trade_id: str  # "A" or "B"
    role: str  # "entry" | "exit" | "recovery"
    cycle: int
    local_id: int


def _b36(n: int) -> str:
    if n < 0:
        raise ValueError(f"negative number in order id: {n}")
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


def encode(owner: OrderOwner) -> str:
    if owner.kind not in KINDS:
        raise ValueError(f"unknown order kind {owner.kind!r}")
    if owner.trade_id not in ("A", "B"):
        raise ValueError(f"unknown trade {owner.trade_id!r}")
    text = (
        f"{owner.kind}{_b36(owner.slot_id)}-{owner.trade_id}{ROLES[owner.role]}"
        f"{_b36(owner.cycle)}-{_b36(owner.local_id)}"
    )
    if len(text) > MAX_LEN:
        raise ValueError(f"client order id {text!r} longer than {MAX_LEN} characters")
    return text


def decode(cl_ord_id: str) -> OrderOwner | None:
    """The owner named by a client order id, or None when the id is not one of ours."""
    try:
        head, middle, local = cl_ord_id.split("-")
        kind, slot = head[0], head[1:]
        trade, role, cycle = middle[0], middle[1], middle[2:]
        if kind not in KINDS or trade not in ("A", "B") or role not in ROLE_NAMES:
            return None
        return OrderOwner(
            kind=kind,
            slot_id=int(slot, 36),
            trade_id=trade,
            role=ROLE_NAMES[role],
            cycle=int(cycle, 36),
            local_id=int(local, 36),
        )
    except (ValueError, IndexError, AttributeError):
        return None

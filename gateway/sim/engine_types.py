"""Types and error strings shared by the matching engine and the request layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Event = tuple[str, dict[str, Any]]
HUNDRED = Decimal(100)
MAX_CLOSED_ORDERS = 100_000
MAX_FILLS = 100_000

E_UNKNOWN_ORDER = "EOrder:Unknown order"
E_RATE = "EOrder:Rate limit exceeded"
E_FUNDS = "EOrder:Insufficient funds"
E_MIN_QTY = "EOrder:Order minimum not met"
E_MIN_COST = "EOrder:Cost minimum not met"
E_ORDERS_LIMIT = "EOrder:Orders limit exceeded"
E_INVALID_PRICE = "EOrder:Invalid price"
E_QTY_PRECISION = "EGeneral:Invalid arguments:volume"
E_CL_ORD_ID = "EGeneral:Invalid arguments:cl_ord_id"
E_CL_ORD_ID_DUP = "EOrder:Duplicate order"
E_POST_ONLY_AMEND = "EOrder:Post only order"
E_UNAVAILABLE = "EService:Unavailable"
E_NO_MARKET = E_UNAVAILABLE


@dataclass(slots=True)
class Outcome:
    ok: bool
    result: Any = None
    error: str | None = None
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order request, already parsed from the wire."""

    side: str
    qty: Decimal
    price: Decimal | None = None
    order_type: str = "limit"
    post_only: bool = False
    cl_ord_id: str | None = None
    userref: int = 0

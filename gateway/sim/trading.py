"""WS v2 trading methods (kraken-api.md §3) parsed from request params and run on the engine.

Transport-free: `TradingApi.handle(method, params, now)` returns one `Reply` per response
message Kraken would send (several for a multi-order `cancel_order`). The WS server wraps each in
the response envelope; an in-process backtest can call it directly with the same request dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.market import WS_SYMBOL
from gateway.sim.engine import Event, MatchingEngine, OrderSpec, Outcome

TRADING_METHODS = frozenset({"add_order", "amend_order", "edit_order", "cancel_order", "cancel_all",
                             "cancel_all_orders_after", "batch_add", "batch_cancel"})
E_ARGS = "EGeneral:Invalid arguments"
E_PAIR = "EQuery:Unknown asset pair"
BATCH_ADD_RANGE = (2, 15)
BATCH_CANCEL_RANGE = (2, 50)


@dataclass(slots=True)
class Reply:
    result: Any = None
    error: str | None = None
    events: list[Event] = field(default_factory=list)
    top_level: dict[str, Any] | None = None  # fields outside `result` (observed batch_cancel shape)

    @property
    def success(self) -> bool:
        return self.error is None


class ParamError(Exception):
    """A request parameter Kraken would refuse before the order reaches the engine."""


def _from_outcome(outcome: Outcome) -> Reply:
    if not outcome.ok:
        return Reply(error=outcome.error, events=outcome.events)
    return Reply(result=outcome.result, events=outcome.events)


def _number(params: dict[str, Any], key: str, required: bool) -> Decimal | None:
    if key not in params or params[key] is None:
        if required:
            raise ParamError(f"{E_ARGS}:{key}")
        return None
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        # Kraken's observed wording, e.g. "Limit_price field must be a number_float".
        raise ParamError(f"{key.capitalize()} field must be a number_float")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _bool(params: dict[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ParamError(f"{key.capitalize()} field must be a boolean")
    return value


def _str_list(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ParamError(f"{E_ARGS}:{key}")
    return [str(v) for v in value]


def parse_order(params: dict[str, Any]) -> OrderSpec:
    order_type = params.get("order_type")
    if order_type not in ("limit", "market"):
        raise ParamError(f"{E_ARGS}:order_type" if order_type is None else f"{E_ARGS}:unsupported order_type {order_type}")
    side = params.get("side")
    if side not in ("buy", "sell"):
        raise ParamError(f"{E_ARGS}:side")
    qty = _number(params, "order_qty", required=True)
    price = _number(params, "limit_price", required=order_type == "limit")
    tif = str(params.get("time_in_force", "gtc")).lower()
    if tif != "gtc":
        raise ParamError(f"{E_ARGS}:time_in_force {tif} is not supported by the simulator")
    cl_ord_id = params.get("cl_ord_id")
    userref = params.get("order_userref", 0)
    if cl_ord_id is not None and "order_userref" in params:
        raise ParamError(f"{E_ARGS}:cl_ord_id and order_userref are mutually exclusive")
    if cl_ord_id is not None and not isinstance(cl_ord_id, str):
        raise ParamError(f"{E_ARGS}:cl_ord_id")
    if isinstance(userref, bool) or not isinstance(userref, int):
        raise ParamError(f"{E_ARGS}:order_userref")
    post_only = _bool(params, "post_only")
    if post_only and order_type != "limit":
        raise ParamError(f"{E_ARGS}:post_only is only available for limit orders")
    assert qty is not None
    return OrderSpec(side=side, qty=qty, price=price if order_type == "limit" else None,
                     order_type=order_type, post_only=post_only, cl_ord_id=cl_ord_id, userref=userref)


class TradingApi:
    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.batch_cancel_style = engine.config.batch_cancel_response

    def handle(self, method: str, params: dict[str, Any], now: float) -> list[Reply]:
        try:
            return getattr(self, f"_{method}")(params, now)
        except ParamError as exc:
            return [Reply(error=str(exc))]

    @staticmethod
    def _check_symbol(params: dict[str, Any]) -> None:
        if params.get("symbol", WS_SYMBOL) != WS_SYMBOL:
            raise ParamError(E_PAIR)

    def _add_order(self, params: dict[str, Any], now: float) -> list[Reply]:
        self._check_symbol(params)
        if "symbol" not in params:
            raise ParamError(f"{E_ARGS}:symbol")
        spec = parse_order(params)
        outcome = self.engine.add_order(spec, now, validate=_bool(params, "validate"))
        if outcome.ok and _bool(params, "validate"):
            echo = {"cl_ord_id": spec.cl_ord_id} if spec.cl_ord_id else (
                {"order_userref": spec.userref} if spec.userref else {})
            return [Reply(result=echo)]
        return [_from_outcome(outcome)]

    def _batch_add(self, params: dict[str, Any], now: float) -> list[Reply]:
        self._check_symbol(params)
        orders = params.get("orders")
        low, high = BATCH_ADD_RANGE
        if not isinstance(orders, list) or not low <= len(orders) <= high:
            raise ParamError(f"{E_ARGS}:orders must hold {low} to {high} orders")
        specs = [parse_order(o) if isinstance(o, dict) else parse_order({}) for o in orders]
        return [_from_outcome(self.engine.batch_add(specs, now, validate=_bool(params, "validate")))]

    def _amend_order(self, params: dict[str, Any], now: float) -> list[Reply]:
        order_id, cl_ord_id = params.get("order_id"), params.get("cl_ord_id")
        if (order_id is None) == (cl_ord_id is None):
            raise ParamError(f"{E_ARGS}:exactly one of order_id or cl_ord_id is required")
        if not isinstance(order_id or cl_ord_id, str):
            raise ParamError(f"{E_ARGS}:{'order_id' if order_id is not None else 'cl_ord_id'}")
        qty = _number(params, "order_qty", required=False)
        price = _number(params, "limit_price", required=False)
        return [_from_outcome(self.engine.amend_order(now, order_id=order_id, cl_ord_id=cl_ord_id, qty=qty,
                                                      price=price, post_only=_bool(params, "post_only")))]

    def _edit_order(self, params: dict[str, Any], now: float) -> list[Reply]:
        self._check_symbol(params)
        order_id = params.get("order_id")
        if not isinstance(order_id, str):
            raise ParamError(f"{E_ARGS}:order_id")
        if "cl_ord_id" in params:
            raise ParamError(f"{E_ARGS}:cl_ord_id is not supported by edit_order")
        userref = params.get("order_userref")
        post_only = params.get("post_only")
        outcome = self.engine.edit_order(
            now, order_id, qty=_number(params, "order_qty", False), price=_number(params, "limit_price", False),
            post_only=post_only if isinstance(post_only, bool) else None,
            userref=userref if isinstance(userref, int) and not isinstance(userref, bool) else None)
        return [_from_outcome(outcome)]

    def _cancel_order(self, params: dict[str, Any], now: float) -> list[Reply]:
        order_ids = _str_list(params, "order_id")
        cl_ord_ids = _str_list(params, "cl_ord_id")
        userrefs = params.get("order_userref") or []
        if not isinstance(userrefs, list) or not all(isinstance(u, int) for u in userrefs):
            raise ParamError(f"{E_ARGS}:order_userref")
        if not (order_ids or cl_ord_ids or userrefs):
            raise ParamError(f"{E_ARGS}:order_id, cl_ord_id or order_userref is required")
        replies = [_from_outcome(self.engine.cancel_order(now, order_id=o)) for o in order_ids]
        replies += [_from_outcome(self.engine.cancel_order(now, cl_ord_id=c)) for c in cl_ord_ids]
        for ref in userrefs:
            replies += [_from_outcome(o) for o in self.engine.cancel_by_userref(ref, now)]
        return replies

    def _cancel_all(self, params: dict[str, Any], now: float) -> list[Reply]:
        return [_from_outcome(self.engine.cancel_all(now))]

    def _cancel_all_orders_after(self, params: dict[str, Any], now: float) -> list[Reply]:
        timeout = params.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout < 86400:
            raise ParamError(f"{E_ARGS}:timeout")
        return [_from_outcome(self.engine.cancel_all_orders_after(timeout, now))]

    def _batch_cancel(self, params: dict[str, Any], now: float) -> list[Reply]:
        keys = _str_list(params, "orders")
        cl_ord_ids = _str_list(params, "cl_ord_id")
        low, high = BATCH_CANCEL_RANGE
        if not low <= len(keys) + len(cl_ord_ids) <= high:
            raise ParamError(f"{E_ARGS}:orders must hold {low} to {high} identifiers")
        reply = _from_outcome(self.engine.batch_cancel(keys, cl_ord_ids, now))
        if reply.success and self.batch_cancel_style == "observed":
            reply.top_level = {"orders_cancelled": reply.result["count"]}
            reply.result = None
        return [reply]

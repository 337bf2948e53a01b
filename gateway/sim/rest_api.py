"""Kraken REST endpoints over the simulated venue (kraken-api.md §4), transport-free.

`public(method, query)` and `private(method, path, headers, body)` return the full JSON envelope
`{"error": [...], "result": ...}` (HTTP status is always 200, as on Kraken) plus, for private
trading calls, the execution events to broadcast on the private WebSocket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from gateway.sim import refdata, rest_views
from gateway.sim.auth import RestAuth, TokenStore
from gateway.sim.engine import Event, OrderSpec, Outcome
from gateway.sim.marketdata import OHLC_INTERVALS
from gateway.sim.venue import Venue
from gateway.sim.wire import fmt, rfc1123_short, rfc3339_s, to_decimal

Envelope = dict[str, Any]
E_ARGS = "EGeneral:Invalid arguments"
E_UNKNOWN_METHOD = "EGeneral:Unknown method"
E_UNKNOWN_PAIR = "EQuery:Unknown asset pair"
E_UNKNOWN_ASSET = "EQuery:Unknown asset"
E_INVALID_ORDER = "EOrder:Invalid order"
PAGE = 50


class RestError(Exception):
    pass


def ok(result: Any) -> Envelope:
    return {"error": [], "result": result}


def fail(error: str) -> Envelope:
    return {"error": [error]}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def _int(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise RestError(f"{E_ARGS}:{key}") from exc


def _pair_key(params: dict[str, Any], required: bool = False) -> str:
    pair = params.get("pair")
    if pair is None:
        if required:
            raise RestError(f"{E_ARGS}:pair")
        return "XDGUSD"
    names = [p.strip() for p in str(pair).split(",") if p.strip()]
    if not names or any(n.upper() not in refdata.PAIR_ALIASES for n in names):
        raise RestError(E_UNKNOWN_PAIR)
    return refdata.PAIR_ALIASES[names[0].upper()]


def parse_body(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    if "json" in headers.get("content-type", "") or body.lstrip().startswith(b"{"):
        try:
            data = json.loads(body or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise RestError(f"{E_ARGS}:body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise RestError(f"{E_ARGS}:body must be an object")
        return data
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


class RestApi:
    def __init__(self, venue: Venue, auth: RestAuth, tokens: TokenStore,
                 order_gate: Callable[[], str | None] = lambda: None) -> None:
        self.venue = venue
        self.engine = venue.engine
        self.auth = auth
        self.tokens = tokens
        self.order_gate = order_gate  # fault injection: an error to force on the next order

    # ------------------------------------------------------------------ dispatch

    def public(self, method: str, query: dict[str, str], headers: dict[str, str] | None = None,
               body: bytes = b"") -> Envelope:
        """A public call; parameters come from the query string and, for POST, the body too.

        Some clients (krakenex, for one) POST public calls with a form body instead of a query.
        """
        handler = getattr(self, f"_pub_{method}", None)
        if handler is None:
            return fail(E_UNKNOWN_METHOD)
        try:
            params = dict(query)
            if body.strip():
                params.update((k, str(v)) for k, v in parse_body(headers or {}, body).items())
            return ok(handler(params))
        except RestError as exc:
            return fail(str(exc))

    def private(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[Envelope, list[Event]]:
        handler = getattr(self, f"_priv_{method}", None)
        try:
            params = parse_body(headers, body)
        except RestError as exc:
            return fail(str(exc)), []
        nonce = params.get("nonce")
        if error := self.auth.verify(path, headers, body, None if nonce is None else str(nonce)):
            return fail(error), []
        if handler is None:
            return fail(E_UNKNOWN_METHOD), []
        if error := self.auth.charge(method):
            return fail(error), []
        try:
            result, events = handler(params)
        except RestError as exc:
            return fail(str(exc)), []
        return ok(result), events

    # ------------------------------------------------------------------ public

    def _pub_Time(self, query: dict[str, str]) -> Any:
        now = self.venue.now
        return {"unixtime": int(now), "rfc1123": rfc1123_short(now)}

    def _pub_SystemStatus(self, query: dict[str, str]) -> Any:
        return {"status": self.engine.system_status, "timestamp": rfc3339_s(self.venue.now)}

    def _pub_Assets(self, query: dict[str, str]) -> Any:
        wanted = query.get("asset")
        if not wanted:
            return dict(refdata.ASSETS)
        out = {}
        for name in (a.strip().upper() for a in wanted.split(",")):
            if name not in refdata.ASSET_ALIASES:
                raise RestError(E_UNKNOWN_ASSET)
            key = refdata.ASSET_ALIASES[name]
            out[key] = refdata.ASSETS[key]
        return out

    def _pub_AssetPairs(self, query: dict[str, str]) -> Any:
        _pair_key(query)
        return {"XDGUSD": refdata.asset_pair(self.venue.config)}

    def _pub_Ticker(self, query: dict[str, str]) -> Any:
        return {_pair_key(query): rest_views.ticker_info(self.venue.market)}

    def _pub_OHLC(self, query: dict[str, str]) -> Any:
        key = _pair_key(query, required=True)
        interval = _int(query, "interval", 1)
        if interval not in OHLC_INTERVALS:
            raise RestError(f"{E_ARGS}:interval")
        rows, last = rest_views.ohlc_rows(self.venue.market, interval, _int(query, "since"))
        return {key: rows, "last": last}

    # ------------------------------------------------------------------ private: account

    def _priv_Balance(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        return self.engine.account.rest_balance(), []

    def _priv_BalanceEx(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        return self.engine.account.rest_balance_ex(), []

    def _priv_GetWebSocketsToken(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        return {"token": self.tokens.issue(), "expires": int(self.venue.config.ws_token_ttl_s)}, []

    def _priv_TradeVolume(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        rules = self.venue.config.rules
        result: dict[str, Any] = {"currency": "ZUSD", "volume": fmt(self.engine.volume_usd, 4)}
        if params.get("pair"):
            key = _pair_key(params)

            def tier(pct: float) -> dict[str, str]:
                fee = fmt(Decimal(repr(pct)), 4)
                return {"fee": fee, "minfee": fee, "maxfee": fee, "nextfee": fee,
                        "tiervolume": fmt(0, 4), "nextvolume": fmt(0, 4)}

            result["fees"] = {key: tier(rules.taker_fee_pct)}
            result["fees_maker"] = {key: tier(rules.maker_fee_pct)}
        else:
            result["fees"] = None
            result["fees_maker"] = None
        return result, []

    def _priv_OpenOrders(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        trades = _truthy(params.get("trades"))
        userref = _int(params, "userref")
        cl_ord_id = params.get("cl_ord_id")
        open_orders = {
            o.order_id: rest_views.order_info(o, closed_view=False, with_trades=trades)
            for o in self.engine.open.values()
            if (userref is None or o.userref == userref) and (cl_ord_id is None or o.cl_ord_id == cl_ord_id)
        }
        return {"open": open_orders}, []

    def _priv_QueryOrders(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        txids = [t.strip() for t in str(params.get("txid", "")).split(",") if t.strip()]
        if not txids or len(txids) > PAGE:
            raise RestError(f"{E_ARGS}:txid")
        trades = _truthy(params.get("trades"))
        out = {}
        for txid in txids:
            order = self.engine.order(txid)
            if order is None:
                raise RestError(E_INVALID_ORDER)
            out[txid] = rest_views.order_info(order, closed_view=True, with_trades=trades)
        return out, []

    def _priv_ClosedOrders(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        ofs = _int(params, "ofs", 0) or 0
        closed = list(reversed(self.engine.closed.values()))
        page = closed[ofs:ofs + PAGE]
        return {"closed": {o.order_id: rest_views.order_info(o, closed_view=True) for o in page},
                "count": len(closed)}, []

    def _priv_TradesHistory(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        ofs = _int(params, "ofs", 0) or 0
        fills = list(reversed(self.engine.fills))
        start, end = self._bound(params.get("start")), self._bound(params.get("end"))
        if start is not None:
            fills = [f for f in fills if f.ts > start]
        if end is not None:
            fills = [f for f in fills if f.ts <= end]
        page = fills[ofs:ofs + PAGE]
        result: dict[str, Any] = {"count": len(fills)}
        if _truthy(params.get("without_count")):
            result = {}
        result["trades"] = {f.exec_id: rest_views.trade_info(f) for f in page}
        return result, []

    def _bound(self, value: Any) -> float | None:
        """`start`/`end` as a unix time, or as a trade id (its time)."""
        if value is None or value == "":
            return None
        number = to_decimal(value)
        if number is not None:
            return float(number)
        for fill in self.engine.fills:
            if fill.exec_id == value:
                return fill.ts
        raise RestError(f"{E_ARGS}:start/end")

    # ------------------------------------------------------------------ private: trading

    def _order_spec(self, params: dict[str, Any]) -> OrderSpec:
        order_type = params.get("ordertype")
        side = params.get("type")
        if order_type not in ("limit", "market"):
            raise RestError(f"{E_ARGS}:ordertype")
        if side not in ("buy", "sell"):
            raise RestError(f"{E_ARGS}:type")
        _pair_key(params, required=True)
        qty = to_decimal(params.get("volume"))
        if qty is None:
            raise RestError(f"{E_ARGS}:volume")
        price = to_decimal(params.get("price")) if order_type == "limit" else None
        if order_type == "limit" and price is None:
            raise RestError(f"{E_ARGS}:price")
        if str(params.get("timeinforce", "GTC")).upper() != "GTC":
            raise RestError(f"{E_ARGS}:timeinforce is not supported by the simulator")
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is not None and params.get("userref") not in (None, ""):
            raise RestError(f"{E_ARGS}:userref and cl_ord_id are mutually exclusive")
        flags = {f.strip() for f in str(params.get("oflags", "")).split(",") if f.strip()}
        return OrderSpec(side=side, qty=qty, price=price, order_type=order_type, post_only="post" in flags,
                         cl_ord_id=None if cl_ord_id is None else str(cl_ord_id),
                         userref=_int(params, "userref", 0) or 0)

    def _priv_AddOrder(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        spec = self._order_spec(params)
        descr = {"order": rest_views.describe(spec.side, spec.order_type, spec.qty, spec.price)}
        validate = _truthy(params.get("validate"))
        if not validate and (forced := self.order_gate()):
            raise RestError(forced)
        outcome: Outcome = self.engine.add_order(spec, self.venue.now, validate=validate)
        if not outcome.ok:
            raise RestError(outcome.error or E_INVALID_ORDER)
        if validate:
            return {"descr": descr}, []
        return {"descr": descr, "txid": [outcome.result["order_id"]]}, outcome.events

    def _priv_CancelOrder(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        now = self.venue.now
        txid, cl_ord_id = params.get("txid"), params.get("cl_ord_id")
        if cl_ord_id is not None:
            outcomes = [self.engine.cancel_order(now, cl_ord_id=str(cl_ord_id))]
        elif txid is not None and str(txid).lstrip("-").isdigit():
            outcomes = self.engine.cancel_by_userref(int(str(txid)), now)
        elif txid is not None:
            outcomes = [self.engine.cancel_order(now, order_id=str(txid))]
        else:
            raise RestError(f"{E_ARGS}:txid")
        done = [o for o in outcomes if o.ok]
        if not done:
            raise RestError(outcomes[0].error or E_INVALID_ORDER)
        return {"count": len(done)}, [e for o in done for e in o.events]

    def _priv_CancelAll(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        outcome = self.engine.cancel_all(self.venue.now)
        return outcome.result, outcome.events

    def _priv_CancelAllOrdersAfter(self, params: dict[str, Any]) -> tuple[Any, list[Event]]:
        timeout = _int(params, "timeout")
        if timeout is None or not 0 <= timeout < 86400:
            raise RestError(f"{E_ARGS}:timeout")
        return self.engine.cancel_all_orders_after(timeout, self.venue.now).result, []

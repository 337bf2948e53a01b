"""Request correlation for the Kraken WebSocket client (gateway/kraken/ws.py), and its dead man's switch.

`WsRequests` is the order-side half of `KrakenWs`, kept apart from the connection loop: it turns
intents into requests, sends them with a fresh req_id, and correlates each response (or its
timeout) back to the intent it answers, emitting the outcome (ack, reject, timeout; a late ack
is still processed). It also keeps `cancel_all_orders_after` armed while the private socket is
healthy and disarms it over the socket on a clean stop.

It holds no state of its own: the attributes it uses are `KrakenWs`'s, listed below.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from actors.messages import (
    AmendOrder,
    CancelOrder,
    ExchangeError,
    OrderAccepted,
    OrderRejected,
    PlaceOrder,
)
from gateway.kraken import codec
from gateway.kraken.codec import Response
from gateway.kraken.ws_config import WsConfig

if TYPE_CHECKING:
    from gateway.kraken.routing import OrderRegistry
    from gateway.kraken.ws import _Conn

_REQ_ID_MAX = 2**31 - 1  # Kraken wants req_id within int32 (ccxt note)


class _Pending:
    __slots__ = ("future", "handle", "intent", "kind")

    def __init__(self, kind: str, intent: Any, handle: asyncio.TimerHandle | None, future: asyncio.Future | None):
        self.kind = kind
        self.intent = intent
        self.handle = handle
        self.future = future


class WsRequests:
    """Mixin of `KrakenWs`: requests out, correlated responses in, the dead man's switch."""

    # Owned and initialised by KrakenWs.
    cfg: WsConfig
    counters: dict[str, int]
    _pending: dict[int, _Pending]
    _expired: OrderedDict[int, _Pending]
    _conns: dict[str, _Conn]
    _token: str | None
    _req_id: int
    _stop: asyncio.Event
    _dms_armed: bool
    _orders: OrderRegistry
    _clock: Callable[[], float]
    _emit: Callable[[Any], None]
    _on_subscribed: Callable[[_Conn, Response], None]

    # ------------------------------------------------------------------ orders

    async def submit(self, intent: PlaceOrder | CancelOrder | AmendOrder) -> None:
        """Send an order intent. Outcomes arrive through `emit` (ack, reject, or timeout)."""
        conn = self._conns.get("private")
        kind = {PlaceOrder: "add_order", CancelOrder: "cancel_order", AmendOrder: "amend_order"}[type(intent)]
        if conn is None or not conn.ready or not self._token:
            self.counters["rejected_offline"] += 1
            self._emit(self._rejection(intent, kind, "EGateway:not connected", None))
            return
        token = self._token
        req_id = self._next_req_id()
        decimals = {"price_decimals": self.cfg.price_decimals, "volume_decimals": self.cfg.volume_decimals}
        try:
            if isinstance(intent, PlaceOrder):
                request = codec.add_order_request(intent, token, req_id, **decimals)
                self._orders.expect(intent)
            elif isinstance(intent, CancelOrder):
                request = codec.cancel_order_request(intent, token, req_id)
            else:
                known = self._orders.known_qty(intent.order_id, intent.cl_ord_id)
                request = codec.amend_order_request(intent, token, req_id, known_qty=known, **decimals)
        except ValueError as exc:
            self._emit(self._rejection(intent, kind, f"EGateway:invalid intent: {exc}", None))
            return
        try:
            await self._request(conn, kind, intent, req_id, request)
        except (ConnectionClosed, OSError):
            if isinstance(intent, PlaceOrder):
                self._orders.forget_intent(intent.cl_ord_id)
            self.counters["rejected_offline"] += 1
            self._emit(self._rejection(intent, kind, "EGateway:not connected", None))

    async def _request(self, conn: _Conn, kind: str, intent: Any, req_id: int, request: dict[str, Any]) -> asyncio.Future:
        """Send a correlated request; its response (or timeout) is handled in `_on_response`.

        Returns a future resolved with the Response (or failed with TimeoutError)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        handle = loop.call_later(self.cfg.request_timeout_s, self._on_timeout, req_id)
        self._pending[req_id] = _Pending(kind, intent, handle, future)
        try:
            await self._send(conn, request)
        except BaseException:
            self._pending.pop(req_id, None)
            handle.cancel()
            raise
        return future

    def _next_req_id(self) -> int:
        self._req_id = self._req_id % _REQ_ID_MAX + 1
        return self._req_id

    async def _send(self, conn: _Conn, request: dict[str, Any]) -> None:
        await conn.ws.send(codec.dumps(request))
        self.counters["frames_out"] += 1

    def _on_timeout(self, req_id: int) -> None:
        pending = self._pending.pop(req_id, None)
        if pending is None:
            return
        self.counters["requests_timed_out"] += 1
        # Kept so that a late ack is still processed (the order may well exist).
        self._expired[req_id] = pending
        if len(self._expired) > 1000:
            self._expired.popitem(last=False)
        if pending.future is not None and not pending.future.done():
            pending.future.set_exception(TimeoutError(pending.kind))
            pending.future.exception()  # mark retrieved: nobody may be waiting
        if pending.kind == "dms":
            self._emit(ExchangeError(error="timeout", context="cancel_all_orders_after", ts=self._clock()))
        else:
            self._emit(self._rejection(pending.intent, pending.kind, "timeout", req_id))

    def _owner_of(self, intent: Any) -> str | None:
        """cl_ord_id of an intent's order: its own, else the registry's (cancel/amend by order_id),
        so that rejections and acks of such intents still reach the owner."""
        cl_ord_id = getattr(intent, "cl_ord_id", None)
        order_id = getattr(intent, "order_id", None)
        if not cl_ord_id and order_id:
            info = self._orders.get(order_id)
            cl_ord_id = info.cl_ord_id if info is not None else None
        return cl_ord_id or None

    def _rejection(self, intent: Any, kind: str, error: str, req_id: int | None) -> OrderRejected:
        return OrderRejected(
            cl_ord_id=self._owner_of(intent) or "",
            error=error,
            ts=self._clock(),
            request=kind,  # type: ignore[arg-type]
            order_id=getattr(intent, "order_id", None),
            req_id=req_id,
        )

    # ------------------------------------------------------------------ responses

    def _on_response(self, conn: _Conn, resp: Response) -> None:
        method = resp.method
        if method == "pong":
            return
        if method == "subscribe":
            self._on_subscribed(conn, resp)
            return
        pending = self._pending.pop(resp.req_id, None) if resp.req_id is not None else None
        if pending is None and resp.req_id is not None:
            pending = self._expired.pop(resp.req_id, None)
            if pending is not None:
                self.counters["late_acks"] += 1
        if pending is not None:
            if pending.handle is not None:
                pending.handle.cancel()
            if pending.future is not None and not pending.future.done():
                pending.future.set_result(resp)
        intent = pending.intent if pending is not None else None
        if method == "add_order":
            cl_ord_id = intent.cl_ord_id if intent is not None else ""
            out = codec.add_order_outcome(resp, cl_ord_id)
            if isinstance(out, OrderAccepted):
                self._orders.enrich(out)
            elif intent is not None:
                self._orders.forget_intent(cl_ord_id)
            self._emit(out)
        elif method == "cancel_order":
            self._emit(codec.cancel_order_outcome(resp, self._owner_of(intent), getattr(intent, "order_id", None)))
        elif method == "amend_order":
            self._emit(codec.amend_order_outcome(resp, self._owner_of(intent), getattr(intent, "order_id", None)))
        elif method == "cancel_all_orders_after" and resp.success:
            self.counters["dms_refreshes"] += 1
        elif not resp.success:
            self._emit(ExchangeError(error=resp.error or "", context=method, ts=resp.ts))

    # ------------------------------------------------------------------ dead man's switch

    async def _disarm_over_ws(self) -> bool:
        """timeout 0 disarms the switch: a clean stop must not cancel the book later."""
        conn, token = self._conns.get("private"), self._token
        if conn is None or not conn.ready or not token:
            return False
        try:
            rid = self._next_req_id()
            answer = await self._request(conn, "dms", None, rid, codec.cancel_all_orders_after_request(0, token, rid))
            resp = await asyncio.wait_for(answer, self.cfg.request_timeout_s)
        except (TimeoutError, ConnectionClosed, OSError):
            return False
        self._dms_armed = not resp.success
        return resp.success

    async def _dms_loop(self, conn: _Conn) -> None:
        """Re-arm cancel_all_orders_after while the private socket is healthy."""
        if self.cfg.dms_timeout_s <= 0:
            return
        # Checked right before each send: once stop() has disarmed the switch, no refresh may
        # re-arm it (it would cancel every order on the account after we are gone).
        while not self._stop.is_set():
            if conn.ready and self._token:
                rid = self._next_req_id()
                request = codec.cancel_all_orders_after_request(self.cfg.dms_timeout_s, self._token, rid)
                self._dms_armed = True  # before the send: a stop racing with it must disarm
                await self._request(conn, "dms", None, rid, request)
                await asyncio.sleep(self.cfg.dms_refresh_s)
            else:
                await asyncio.sleep(0.05)

"""The WS v2 endpoints: a public and a private server, like ws.kraken.com and ws-auth.kraken.com.

Each endpoint refuses the other's channels with Kraken's recorded texts. Requests are answered
with the §1.3 envelope (keys in alphabetical order, as Kraken sends them); channel data goes out
as `{"channel", "type", "data"[, "sequence"]}` messages. Everything runs on the simulator's event
loop; `publish` fans engine events out to subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gateway.sim import subscriptions
from gateway.sim.auth import E_INVALID_SESSION, TokenStore
from gateway.sim.connection import Connection
from gateway.sim.engine import Event
from gateway.sim.faults import Faults
from gateway.sim.trading import TRADING_METHODS, TradingApi
from gateway.sim.venue import Venue
from gateway.sim.wire import channel_message, decode_request, encode_text, rfc3339

log = logging.getLogger(__name__)

E_PRIVATE_ON_PUBLIC = "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com"
E_PUBLIC_ON_PRIVATE = "Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"
E_TOKEN_MISSING = "Token(s) not found"
E_UNKNOWN_METHOD = "EGeneral:Unknown method"
E_MALFORMED = "EGeneral:Invalid arguments:malformed request"
E_PING_PARAMS = "Unsupported field: 'params' for the given msg type: ping"
E_INTERNAL = "EGeneral:Internal error"
MALFORMED_FRAME = '{"channel":"executions","type":"update","data":[{"order_id":'


def envelope(method: str, req_id: Any, time_in: str, time_out: str, result: Any = None,
             error: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "success": error is None, "time_in": time_in, "time_out": time_out}
    if req_id is not None:
        out["req_id"] = req_id
    if error is not None:
        out["error"] = error
    elif result is not None:
        out["result"] = result
    if extra:
        out.update(extra)
    return dict(sorted(out.items()))


class WsHub:
    def __init__(self, venue: Venue, tokens: TokenStore, faults: Faults) -> None:
        self.venue = venue
        self.config = venue.config
        self.trading = TradingApi(venue.engine)
        self.tokens = tokens
        self.faults = faults
        self.connections: set[Connection] = set()
        self._servers: list[Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rng = random.Random(self.config.seed)
        self.ports: tuple[int, int] = (0, 0)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str, public_port: int, private_port: int) -> tuple[int, int]:
        public = await serve(lambda ws: self._serve(ws, "public"), host, public_port,
                             process_request=self._gate, compression=None, max_size=2**20)
        private = await serve(lambda ws: self._serve(ws, "private"), host, private_port,
                              process_request=self._gate, compression=None, max_size=2**20)
        self._servers = [public, private]
        self.ports = (public.sockets[0].getsockname()[1], private.sockets[0].getsockname()[1])
        return self.ports

    async def close(self) -> None:
        for server in self._servers:
            server.close(close_connections=False)
        await asyncio.gather(*(c.close() for c in list(self.connections)), return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _gate(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.faults.refusing():
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refusing connections (fault injection)\n")
        return None

    def broadcast_status(self) -> None:
        """Push a `status` update to every connection (sent whenever the engine status changes)."""
        for conn in list(self.connections):
            message = subscriptions.status_message(self.venue.engine.system_status, conn.connection_id)
            conn.send(encode_text(message))

    def has_subscribers(self) -> bool:
        """Whether any client has a subscription (the consumer `fast` mode waits for)."""
        return any(c.subs and not c.closed for c in self.connections)

    def backlog(self) -> int:
        """Frames queued but not yet written, over all connections."""
        return sum(c.backlog for c in self.connections)

    def drop_all(self) -> None:
        for conn in list(self.connections):
            conn.abort()

    def send_malformed(self) -> None:
        for conn in list(self.connections):
            conn.send(MALFORMED_FRAME)

    # ------------------------------------------------------------------ connections

    async def _serve(self, ws: ServerConnection, kind: str) -> None:
        conn = Connection(ws, kind, self._rng.getrandbits(64) | (1 << 63), self.config.heartbeat_interval_s)
        self.connections.add(conn)
        sender = asyncio.create_task(conn.run_sender())
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        status = subscriptions.status_message(self.venue.engine.system_status, conn.connection_id)
        conn.send(encode_text(status))
        idle = self.config.idle_timeout_s or None
        try:
            while not conn.closed:
                try:
                    frame = await asyncio.wait_for(ws.recv(), idle)
                except TimeoutError:
                    break  # Kraken drops connections silent for about a minute
                self._on_frame(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(conn)
            conn.closed = True
            sender.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

    def _on_frame(self, conn: Connection, frame: str | bytes) -> None:
        now = self.venue.now
        time_in = rfc3339(now)
        try:
            msg = decode_request(frame)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("method"), str):
            self._reply(conn, envelope("unknown", None, time_in, time_in, error=E_MALFORMED))
            return
        method, req_id = msg["method"], msg.get("req_id")
        params = msg.get("params", {})
        if not isinstance(params, dict):
            self._reply(conn, envelope(method, req_id, time_in, time_in, error=E_MALFORMED))
            return
        respond = functools.partial(self._respond, conn, method, req_id, time_in)
        try:
            self._dispatch(conn, msg, method, req_id, params, time_in, respond)
        except Exception:  # a bug must not kill the connection: answer like Kraken's internal error
            log.exception("simulator failed on %s", method)
            respond(error=E_INTERNAL)

    def _respond(self, conn: Connection, method: str, req_id: Any, time_in: str, **fields: Any) -> None:
        conn.send(encode_text(envelope(method, req_id, time_in, rfc3339(self.venue.now), **fields)))

    def _dispatch(self, conn: Connection, msg: dict[str, Any], method: str, req_id: Any, params: dict[str, Any],
                  time_in: str, respond: Callable[..., None]) -> None:
        if method == "ping":
            if "params" in msg:
                respond(error=E_PING_PARAMS)
            else:
                pong = {"method": "pong", **({"req_id": req_id} if req_id is not None else {}),
                        "time_in": time_in, "time_out": rfc3339(self.venue.now)}
                self._reply(conn, pong)
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(conn, method, params, respond)
        elif method in TRADING_METHODS:
            self._trade(conn, method, params, respond)
        else:
            respond(error=E_UNKNOWN_METHOD)

    @staticmethod
    def _reply(conn: Connection, message: dict[str, Any]) -> None:
        conn.send(encode_text(message))

    # ------------------------------------------------------------------ subscriptions

    def _subscription(self, conn: Connection, method: str, params: dict[str, Any],
                      respond: Callable[..., None]) -> None:
        channel = params.get("channel")
        if channel in subscriptions.PRIVATE_CHANNELS and conn.kind == "public":
            respond(error=E_PRIVATE_ON_PUBLIC)
            return
        if channel in subscriptions.PUBLIC_CHANNELS and conn.kind == "private":
            respond(error=E_PUBLIC_ON_PRIVATE)
            return
        if channel in subscriptions.PRIVATE_CHANNELS and not self.tokens.check(params.get("token"), conn.tokens):
            respond(error=E_INVALID_SESSION, extra={"status": "error"})
            return
        handler = subscriptions.ChannelHandler(self.venue, conn)
        for reply in handler.handle(method, params):
            respond(**reply)
        for message in handler.messages:
            conn.send(encode_text(message))

    # ------------------------------------------------------------------ trading

    def _trade(self, conn: Connection, method: str, params: dict[str, Any], respond: Callable[..., None]) -> None:
        if conn.kind == "public":
            respond(error=E_PRIVATE_ON_PUBLIC)
            return
        if "token" not in params:
            respond(error=E_TOKEN_MISSING)
            return
        if not self.tokens.check(params.get("token"), conn.tokens):
            respond(error=E_INVALID_SESSION)
            return
        if method in ("add_order", "batch_add") and not params.get("validate") and (
                forced := self.faults.take_order_rejection()):
            respond(error=forced)
            return
        for reply in self.trading.handle(method, params, self.venue.now):
            respond(result=reply.result, error=reply.error, extra=reply.top_level)
            self.publish(reply.events)

    # ------------------------------------------------------------------ fan-out

    def publish(self, events: list[Event]) -> None:
        """Send engine/market events to every subscribed connection."""
        if not events or not self.connections:
            return
        price_moved = False
        for channel, element in events:
            if channel in ("executions", "balances"):
                self._publish_report(channel, element)
            else:
                price_moved |= channel == "ticker"
                self._publish_public(channel, element)
        if price_moved:
            for conn in list(self.connections):
                for sub in conn.subscribed("book"):
                    if (update := subscriptions.book_update(self.venue, sub)) is not None:
                        conn.send(encode_text(update))

    def _publish_public(self, channel: str, element: dict[str, Any]) -> None:
        text: str | None = None
        for conn in list(self.connections):
            if conn.kind != "public":
                continue
            for sub in conn.subscribed(channel):
                if channel == "ohlc" and sub.params.get("interval") != element["interval"]:
                    continue
                if text is None:
                    text = encode_text(channel_message(channel, element, self.venue.now))
                conn.send(text)

    def _publish_report(self, channel: str, element: dict[str, Any]) -> None:
        delay = self.faults.report_delay()
        twice = channel == "executions" and self.faults.take_duplicate()
        for conn in list(self.connections):
            if conn.kind != "private":
                continue
            for sub in conn.subscribed(channel):
                if (channel == "executions" and sub.params.get("order_status") is False
                        and element.get("exec_type") == "pending_new"):
                    continue
                text = encode_text(channel_message(channel, element, self.venue.now, sub.next_sequence()))
                conn.send(text, delay=delay, report=True)
                if twice:
                    conn.send(text, delay=delay, report=True)


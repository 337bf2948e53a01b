"""A tiny scripted Kraken WS v2 server (loopback) and REST stand-in for gateway unit tests.

It speaks just enough of the protocol for the client's paths: status on connect, subscribe
acks and snapshots, heartbeats, pong, add/cancel/amend acks with the matching executions
events, and cancel_all_orders_after. Tests steer it through attributes and `push`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gateway.kraken.signing import make_signer

TS = "2024-01-01T00:00:00.000000Z"
SECRET = base64.b64encode(b"scripted-kraken-secret-0123456789").decode()


class ScriptedKraken:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.conns: dict[str, ServerConnection] = {}
        self.connections = {"public": 0, "private": 0}
        self.executions_snapshot: list[dict[str, Any]] = []
        self.hold_acks = False  # swallow add_order requests (for timeout tests)
        self.hold: set[str] = set()  # swallow requests of these methods (for timeout tests)
        self.heartbeats = True
        self.heartbeat_interval = 0.2
        self.refuse = 0  # close this many new connections right after the handshake
        self.subscribe_error: dict[str, str] = {}  # channel -> error text
        self._order_ids = itertools.count(1)
        self._seq: dict[str, int] = {}
        self._server: Server | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def public_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/public"

    @property
    def private_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/private"

    def sent(self, method: str, name: str = "private") -> list[dict[str, Any]]:
        return [r for n, r in self.requests if n == name and r.get("method") == method]

    # ------------------------------------------------------------------ pushing

    async def push(self, name: str, message: dict[str, Any] | str) -> None:
        conn = self.conns[name]
        if isinstance(message, dict) and message.get("channel") in ("executions", "balances") and "sequence" not in message:
            message = {**message, "sequence": self._next_seq(message["channel"])}
        await conn.send(message if isinstance(message, str) else json.dumps(message))

    async def execution(self, *elements: dict[str, Any]) -> None:
        await self.push("private", {"channel": "executions", "type": "update", "data": list(elements)})

    async def drop(self, name: str) -> None:
        conn = self.conns.get(name)
        if conn is not None:
            await conn.close()

    def _next_seq(self, channel: str) -> int:
        self._seq[channel] = self._seq.get(channel, 0) + 1
        return self._seq[channel]

    # ------------------------------------------------------------------ serving

    async def _handler(self, ws: ServerConnection) -> None:
        name = "private" if ws.request is not None and ws.request.path.endswith("private") else "public"
        self.connections[name] += 1
        if self.refuse > 0:
            self.refuse -= 1
            await ws.close(1013, "try again later")
            return
        self.conns[name] = ws
        if name == "private":
            self._seq = {}  # sequences count per subscription, so they restart
        beat = asyncio.create_task(self._heartbeat(ws))
        try:
            await ws.send(json.dumps({"channel": "status", "type": "update", "data": [
                {"api_version": "v2", "connection_id": 18125794168470749634, "system": "online", "version": "2.0.10"}]}))
            async for raw in ws:
                msg = json.loads(raw)
                self.requests.append((name, msg))
                await self._handle(name, ws, msg)
        except ConnectionClosed:
            pass
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if self.heartbeats:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send('{"channel":"heartbeat"}')

    async def _reply(self, ws: ServerConnection, method: str, req_id: Any, result: Any = None, error: str | None = None) -> None:
        msg: dict[str, Any] = {"method": method, "req_id": req_id, "success": error is None, "time_in": TS, "time_out": TS}
        if error is None:
            msg["result"] = result
        else:
            msg["error"] = error
        await ws.send(json.dumps(msg))

    async def _handle(self, name: str, ws: ServerConnection, msg: dict[str, Any]) -> None:
        method, req_id, params = msg.get("method"), msg.get("req_id"), msg.get("params", {})
        if method in self.hold:
            return
        if method == "ping":
            await ws.send(json.dumps({"method": "pong", "req_id": req_id, "time_in": TS, "time_out": TS}))
        elif method == "subscribe":
            await self._subscribe(name, ws, req_id, params)
        elif method == "add_order":
            if self.hold_acks:
                return
            order_id = f"O{next(self._order_ids):05d}"
            await self._reply(ws, method, req_id, {"order_id": order_id, "cl_ord_id": params["cl_ord_id"]})
            await self.execution({
                "order_id": order_id, "cl_ord_id": params["cl_ord_id"], "symbol": params["symbol"], "side": params["side"],
                "order_qty": params["order_qty"], "limit_price": params["limit_price"], "exec_type": "pending_new",
                "order_status": "pending_new", "order_type": "limit", "timestamp": TS,
            })
            await self.execution({"order_id": order_id, "exec_type": "new", "order_status": "new", "timestamp": TS})
        elif method == "cancel_order":
            order_id = (params.get("order_id") or [None])[0]
            await self._reply(ws, method, req_id, {"order_id": order_id} if order_id else {"cl_ord_id": params["cl_ord_id"][0]})
            if order_id:
                await self.execution({"order_id": order_id, "exec_type": "canceled", "order_status": "canceled",
                                      "cum_qty": 0, "reason": "User requested", "timestamp": TS})
        elif method == "amend_order":
            await self._reply(ws, method, req_id, {"amend_id": "A1", "order_id": params.get("order_id")})
            await self.execution({"order_id": params.get("order_id"), "exec_type": "amended", "order_status": "new",
                                  "order_qty": params.get("order_qty"), "limit_price": params.get("limit_price"),
                                  "amended": True, "reason": "User requested", "timestamp": TS})
        elif method == "cancel_all_orders_after":
            await self._reply(ws, method, req_id, {"currentTime": "2024-01-01T00:00:00Z", "triggerTime": "2024-01-01T00:01:00Z"})

    async def _subscribe(self, name: str, ws: ServerConnection, req_id: Any, params: dict[str, Any]) -> None:
        channel = params["channel"]
        if channel in self.subscribe_error:
            await self._reply(ws, "subscribe", req_id, error=self.subscribe_error[channel])
            return
        await self._reply(ws, "subscribe", req_id, {"channel": channel, "snapshot": True})
        if channel == "executions":
            await self.push(name, {"channel": "executions", "type": "snapshot", "data": list(self.executions_snapshot)})
        elif channel == "balances":
            await self.push(name, {"channel": "balances", "type": "snapshot", "data": [
                {"asset": "USD", "asset_class": "currency", "balance": 1000.0, "wallets": []},
                {"asset": "DOGE", "asset_class": "currency", "balance": 5000.0, "wallets": []}]})
        elif channel == "ticker":
            await self.push(name, {"channel": "ticker", "type": "snapshot", "data": [
                {"symbol": "DOGE/USD", "bid": 0.15, "ask": 0.1501, "last": 0.15005, "timestamp": TS}]})
        elif channel == "ohlc":
            await self.push(name, {"channel": "ohlc", "type": "snapshot", "data": [
                {"symbol": "DOGE/USD", "open": 0.15, "high": 0.151, "low": 0.149, "close": 0.1505, "vwap": 0.15,
                 "trades": 3, "volume": 1000, "interval_begin": "2024-01-01T00:00:00.000000000Z", "interval": 5}]})
        elif channel == "instrument":
            await self.push(name, {"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [
                {"symbol": "BTC/USD", "qty_min": 0.0001, "cost_min": 0.5, "price_precision": 1, "qty_precision": 8},
                {"symbol": "DOGE/USD", "qty_min": 50, "cost_min": 0.5, "price_precision": 7, "qty_precision": 8,
                 "cost_precision": 9, "status": "online"}]}})


def trade(order_id: str, exec_id: str, qty: float, cum: float, price: float = 0.15, **extra: Any) -> dict[str, Any]:
    """A sparse trade event (no cl_ord_id, no order_qty), as Kraken may send it."""
    return {
        "order_id": order_id, "exec_id": exec_id, "exec_type": "trade", "trade_id": 1, "symbol": "DOGE/USD",
        "side": extra.pop("side", "buy"), "last_qty": qty, "last_price": price, "liquidity_ind": "m",
        "cost": qty * price, "order_status": "partially_filled", "cum_qty": cum, "timestamp": TS,
        "fees": [{"asset": "USD", "qty": 0.001}], **extra,
    }


class FreezingProxy:
    """Loopback TCP proxy in front of a server. `frozen` stops forwarding in both directions
    while every socket stays open: a peer that is hung, not gone. `frozen_down` stops only
    server -> client (requests arrive, answers do not). `cut` aborts every pair."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self.frozen_down = False
        self.port = 0
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path}"

    def cut(self) -> None:
        for client, upstream in self._pairs:
            client.transport.abort()
            upstream.transport.abort()
        self._pairs.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pairs.append((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer, False), self._pipe(up_reader, writer, True))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, down: bool) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                while (self.frozen or (down and self.frozen_down)) and not writer.is_closing():
                    await asyncio.sleep(0.02)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


class ServerThread:
    """Runs a ScriptedKraken on its own loop in a thread (for tests of the threaded actor)."""

    def __init__(self) -> None:
        self.kraken = ScriptedKraken()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.call(self.kraken.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.kraken.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def call(self, coro: Any, timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class FakeRestServer:
    """Loopback HTTP server for the REST calls the gateway makes (signature checked)."""

    def __init__(self, api_key: str = "test-key", secret: str = SECRET) -> None:
        sign = make_signer(secret)
        self.calls: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = dict(urllib.parse.parse_qsl(body))
                outer.calls.append(self.path)
                ok = self.headers.get("API-Key") == api_key and self.headers.get("API-Sign") == sign(self.path, form["nonce"], body)
                if not ok:
                    self._json({"error": ["EAPI:Invalid signature"]})
                elif self.path.endswith("GetWebSocketsToken"):
                    self._json({"error": [], "result": {"token": f"tok-{len(outer.calls)}", "expires": 900}})
                elif self.path.endswith("Balance"):
                    self._json({"error": [], "result": {"ZUSD": "1000.0000", "XXDG": "5000.00000000"}})
                else:
                    self._json({"error": ["EGeneral:Unknown method"]})

            def _json(self, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

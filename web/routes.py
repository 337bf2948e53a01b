"""HTTP and WebSocket route handlers (see docs/dashboard.md for the contract).

`/api/action` bodies are decoded by `actors.commands.command_decoder` in a before-request hook,
so every invalid body gets the same 400 shape (a CommandReply naming the field) whatever went
wrong: malformed JSON, unknown action, missing, unknown or wrongly typed field, out-of-range
value. The handler's `data: OperatorCommand` parameter is there for the OpenAPI schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody

from actors.alerts import Alert
from actors.commands import ACTION_NAMES, CommandReply, OperatorCommand, command_decoder
from actors.status import StatusSnapshot
from web.app import STATIC_DIR, WebState
from web.auth import origin_guard, token_guard
from web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from web.metrics import render_metrics

log = logging.getLogger(__name__)

API_GUARDS = [token_guard, origin_guard]
MAX_ACTION_BODY = 16 * 1024

INDEX_HEADERS = {
    # Everything the page needs is served from here; nothing inline, nothing third-party.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_reply_encoder = msgspec.json.Encoder(enc_hook=str)


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


def _web(state: State) -> WebState:
    return state["web"]


# --------------------------------------------------------------------------- pages


@get("/", include_in_schema=False, media_type=MediaType.HTML)
async def index() -> Response[bytes]:
    return Response((STATIC_DIR / "index.html").read_bytes(), media_type=MediaType.HTML, headers=INDEX_HEADERS)


# --------------------------------------------------------------------------- status


_STATUS_RESPONSES = {
    503: ResponseSpec(data_container=ErrorBody, description="No status snapshot received yet"),
    401: ResponseSpec(data_container=ErrorBody, description="Operator token missing or wrong"),
}


def _status_response(web: WebState) -> Response[Any]:
    body = web.hub.latest_body()
    if body is None:
        return Response(
            ErrorBody(503, "no status received from the runtime yet"),
            status_code=503,
            headers={"Retry-After": "1", "Cache-Control": "no-store"},
        )
    return Response(body, media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})


@get("/api/status", guards=API_GUARDS, responses=_STATUS_RESPONSES, summary="Latest status snapshot")
async def api_status(state: State) -> Response[StatusSnapshot]:
    return _status_response(_web(state))


@get(
    "/api/swarm/status",
    guards=API_GUARDS,
    responses=_STATUS_RESPONSES,
    summary="Legacy alias of /api/status",
    deprecated=True,
)
async def api_swarm_status(state: State) -> Response[StatusSnapshot]:
    return _status_response(_web(state))


class PriceHistory(msgspec.Struct):
    points: list[tuple[float, float]]  # [unix seconds, price], oldest first, >= 5 s apart


@get("/api/price_history", guards=API_GUARDS, responses={401: _STATUS_RESPONSES[401]}, summary="Recent price line")
async def api_price_history(state: State, since: FromQuery[float | None] = None) -> PriceHistory:
    """The down-sampled price line behind the chart (last 24 h), `since` a unix time."""
    return PriceHistory(points=_web(state).hub.price_points(since))


class AlertList(msgspec.Struct):
    alerts: list[Alert]  # oldest first, the last 50


@get("/api/alerts", guards=API_GUARDS, responses={401: _STATUS_RESPONSES[401]}, summary="Recent operator alerts")
async def api_alerts(state: State) -> Response[AlertList]:
    body = _web(state).hub.alerts_body()
    return Response(body, media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- actions

_PATH_RE = re.compile(r"at `\$\.?([^`]*)`")
_FIELD_RE = re.compile(r"field `([^`]+)`")


def describe_decode_error(exc: msgspec.DecodeError) -> tuple[str, str | None]:
    """(message, field) for a msgspec decode/validation error of a command body."""
    message = str(exc)
    field: str | None = None
    path = _PATH_RE.search(message)  # "... - at `$.value`"
    named = _FIELD_RE.search(message)  # "Object missing required field `value`"
    if path and path.group(1) and not path.group(1).startswith("["):
        field = path.group(1)
    elif named:
        field = named.group(1)
    if "Invalid value" in message and field == "action":
        message += f" (known actions: {', '.join(ACTION_NAMES)})"
    elif not isinstance(exc, msgspec.ValidationError):
        message = f"malformed JSON: {message}"
    return message, field


def _reply(reply: CommandReply, status: int, web: WebState) -> Response[bytes]:
    label = reply.action if reply.action in ACTION_NAMES else "invalid"  # bounded label set
    web.action_counts[(label, str(status))] += 1
    return Response(_reply_encoder.encode(reply), status_code=status, media_type=MediaType.JSON)


def _invalid(action: str, message: str, field: str | None, web: WebState) -> Response[bytes]:
    data: dict[str, object] = {"error_kind": "invalid_input"}
    if field is not None:
        data["field"] = field
    return _reply(CommandReply(ok=False, action=action, message=message, data=data), 400, web)


async def _decode_command(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    web: WebState = request.app.state["web"]
    body = await request.body()
    if not body.strip():
        return _invalid("", "empty body: send a JSON object such as {\"action\": \"pause\"}", None, web)
    try:
        command = command_decoder.decode(body)
    except msgspec.DecodeError as exc:
        message, field = describe_decode_error(exc)
        action = ""
        try:  # name the action in the reply when the body at least says which one
            raw = msgspec.json.decode(body)
            if isinstance(raw, dict) and isinstance(raw.get("action"), str) and raw["action"] in ACTION_NAMES:
                action = raw["action"]
        except msgspec.DecodeError:
            pass
        return _invalid(action, message, field, web)
    request.state.command = command
    return None


_ACTION_RESPONSES = {
    400: ResponseSpec(data_container=CommandReply, description="Invalid command (data.field names it)"),
    401: ResponseSpec(data_container=ErrorBody, description="Operator token missing or wrong"),
    409: ResponseSpec(data_container=CommandReply, description="The runtime refused the command"),
    500: ResponseSpec(data_container=CommandReply, description="The command handler failed"),
    504: ResponseSpec(data_container=CommandReply, description="The runtime did not answer in time"),
}


@post(
    "/api/action",
    guards=API_GUARDS,
    before_request=_decode_command,
    status_code=200,
    request_max_body_size=MAX_ACTION_BODY,
    responses=_ACTION_RESPONSES,
    summary="Send an operator command",
)
async def api_action(
    request: Request[Any, Any, Any], state: State, data: JSONBody[OperatorCommand]
) -> Response[CommandReply]:
    web = _web(state)
    command: OperatorCommand = request.state.command
    action: str = command.__struct_config__.tag  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    try:
        reply = await asyncio.wait_for(
            loop.run_in_executor(web.executor, web.command_handler, command), web.options.command_timeout
        )
    except TimeoutError:
        log.warning("command %s: no reply from the runtime within %.1f s", action, web.options.command_timeout)
        message = "the runtime did not answer in time; the command may still be applied"
        return _reply(CommandReply(ok=False, action=action, message=message, data={"error_kind": "timeout"}), 504, web)
    except Exception:
        log.exception("command handler raised on %s", action)
        message = "internal error while handling the command (see the bot log)"
        return _reply(CommandReply(ok=False, action=action, message=message, data={"error_kind": "internal"}), 500, web)
    if not isinstance(reply, CommandReply):
        log.error("command handler returned %s for %s, not a CommandReply", type(reply).__name__, action)
        message = "internal error: the runtime gave no valid reply"
        return _reply(CommandReply(ok=False, action=action, message=message, data={"error_kind": "internal"}), 500, web)
    if reply.ok:
        status = 200
    elif reply.data.get("error_kind") == "invalid_input":
        status = 400
    else:
        status = 409
    try:
        return _reply(reply, status, web)
    except (TypeError, ValueError, msgspec.EncodeError):
        log.exception("could not encode the reply to %s", action)
        message = "internal error: the runtime's reply could not be encoded"
        return _reply(CommandReply(ok=reply.ok, action=action, message=message, data={"error_kind": "internal"}), 500, web)


# --------------------------------------------------------------------------- metrics


@get("/metrics", guards=API_GUARDS, summary="Prometheus metrics", media_type=METRICS_CONTENT_TYPE)
async def metrics(state: State) -> Response[str]:
    web = _web(state)
    extra: Any = None
    if web.metrics_source is not None:
        loop = asyncio.get_running_loop()
        try:
            extra = await asyncio.wait_for(
                loop.run_in_executor(web.executor, web.metrics_source), web.options.metrics_timeout
            )
            if not isinstance(extra, dict):
                raise TypeError(f"metrics_source returned {type(extra).__name__}, not a dict")
        except Exception:
            web.metrics_source_errors += 1
            log.warning("metrics source failed", exc_info=True)
            extra = None
    stats = {**web.hub.stats(), "ignored_messages_total": web.ignored_messages}
    text = render_metrics(web.hub.latest, stats, web.action_counts, extra, web.metrics_source_errors)
    return Response(text, media_type=METRICS_CONTENT_TYPE, headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- WebSocket


async def _read_until_closed(socket: WebSocket[Any, Any, Any], on_close: Any) -> None:
    """Consume (and ignore) client frames so a disconnect is noticed even between pushes."""
    try:
        while True:
            event = await socket.receive()
            if event["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        on_close()


@websocket("/ws", guards=API_GUARDS)
async def ws_status(socket: WebSocket[Any, Any, Any], state: State) -> None:
    web = _web(state)
    await socket.accept()
    channel = web.hub.register()
    reader = asyncio.create_task(_read_until_closed(socket, channel.close))
    try:
        while not channel.closed:
            if not channel.queue:
                channel.wakeup.clear()
                await channel.wakeup.wait()
                continue
            frame = channel.queue.popleft()
            await asyncio.wait_for(socket.send_data(frame.text), web.options.send_timeout)
            channel.sent += 1
            web.hub.record_sent(frame)
    except TimeoutError:
        log.info("closing a dashboard client that accepted nothing for %.0f s", web.options.send_timeout)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away mid-send
    finally:
        web.hub.unregister(channel)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        if socket.connection_state != "disconnect":
            with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
                await socket.close(code=1001)


ROUTE_HANDLERS = [
    index, api_status, api_swarm_status, api_price_history, api_alerts, api_action, metrics, ws_status
]

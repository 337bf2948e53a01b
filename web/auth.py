"""Who may talk to the web server: bind policy, operator token, Host and Origin checks.

The dashboard can pause the bot and remove slots that hold real money, so the checks here are
deliberately strict:

* Binding beyond loopback without a token is refused outright (`check_bind_allowed`).
* With a token configured, every API route, `/metrics` and the WebSocket need it: in the
  `Authorization: Bearer <token>` header, or (WebSocket only, because browsers cannot set headers
  on a WebSocket) in the `?token=` query parameter. Comparison is constant time.
* Without a token the server is reachable from loopback only, but a web page the operator visits
  can still reach loopback through the browser. Two guards close that door: the Host header must
  name a loopback host (defeats DNS rebinding), and a request carrying an `Origin` header must come
  from the dashboard's own origin (defeats cross-site POSTs and cross-site WebSocket hijacking).
* The token never appears in a payload or a log line: `RedactTokenFilter` scrubs `token=...` from
  uvicorn's log records, which include the WebSocket path with its query string.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, WebSocketException
from litestar.handlers.base import BaseRouteHandler

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class InsecureBindError(ValueError):
    """Raised when asked to listen beyond loopback without an operator token."""


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names for them."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind_allowed(host: str, token: str) -> None:
    """Refuse a non-loopback bind address unless a token is configured."""
    if not is_loopback_host(host) and not token:
        raise InsecureBindError(
            f"refusing to serve the dashboard on {host!r} without an operator token: "
            "set a token (e.g. DOGEBOT_WEB_TOKEN) or bind to 127.0.0.1"
        )


def token_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; an empty expected token never matches anything."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def bearer_token(headers: Any) -> str | None:
    """The token of an `Authorization: Bearer <t>` header, or None."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def _host_of(host_header: str) -> str:
    """Hostname part of a Host header value (`[::1]:8080` -> `::1`)."""
    return urlsplit(f"//{host_header}").hostname or ""


def _deny(connection: ASGIConnection[Any, Any, Any, Any], status: int, detail: str) -> None:
    """401/403 for HTTP; for a WebSocket the handshake is refused with close code 4401/4403
    (uvicorn turns a close before accept into an HTTP 403 for the client)."""
    if connection.scope["type"] == "websocket":
        raise WebSocketException(detail=detail, code=4000 + status)
    if status == 401:
        raise NotAuthorizedException(detail)
    raise PermissionDeniedException(detail)


def _web_settings(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    return connection.app.state["web"]


def host_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Tokenless servers answer only requests addressed to a loopback host name."""
    web = _web_settings(connection)
    if web.token:
        return
    if not is_loopback_host(_host_of(connection.headers.get("host", ""))):
        _deny(connection, 403, "Host header must name a loopback address when no token is set")


def origin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A browser request from another origin may not act on the bot nor read its stream."""
    origin = connection.headers.get("origin")
    if origin is None:
        return  # not a browser (curl, Prometheus, scripts): the token is their gate
    parts = urlsplit(origin)
    host = connection.headers.get("host", "")
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
        _deny(connection, 403, "cross-origin request refused")


def token_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """When a token is configured, require it (header; also `?token=` on the WebSocket)."""
    web = _web_settings(connection)
    if not web.token:
        return
    presented = bearer_token(connection.headers)
    if presented is None and connection.scope["type"] == "websocket":
        presented = connection.query_params.get("token")
    if not token_matches(web.token, presented):
        _deny(connection, 401, "missing or wrong operator token")


# `token=<t>` in a query string, and `Bearer <t>` (uvicorn's WebSocket layer logs request headers
# at DEBUG level).
_TOKEN_RE = re.compile(r"(token=)[^&\s\"']*|(bearer\s+)[^\s\"',]+", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN_RE.sub(lambda m: (m.group(1) or m.group(2)) + "<redacted>", text)


class RedactTokenFilter(logging.Filter):
    """Scrubs `token=...` from a record's message and arguments before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


# uvicorn logs the WebSocket path with its query string at INFO on "uvicorn.error".
REDACTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar", "web")


def install_redaction() -> None:
    """Attach the filter once per logger (idempotent: several web actors may start in tests)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokenFilter) for f in logger.filters):
            logger.addFilter(RedactTokenFilter())

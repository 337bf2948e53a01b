"""Litestar application factory for the dashboard, the HTTP API and the status WebSocket.

`create_app(web_state)` builds the app around a `WebState`: the hub holding the latest status,
the operator command handler and the optional metrics source. The web actor (`web/actor.py`)
serves the app with uvicorn in its own thread; tests use it directly with Litestar's TestClient.
Route handlers live in `web/routes.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from actors.alerts import Alert
from actors.commands import CommandReply, OperatorCommand
from actors.status import StatusSnapshot
from web.auth import host_guard
from web.hub import StatusHub

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

CommandHandler = Callable[[OperatorCommand], CommandReply]
MetricsSource = Callable[[], Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class WebOptions:
    """Tuning knobs; the defaults are the product's. Tests and benchmarks shorten them."""

    push_interval: float = 0.25  # coalescing window: at most 1 / push_interval frames per second
    client_queue: int = 4  # frames a client may lag behind before the oldest are dropped
    command_timeout: float = 10.0  # seconds to wait for the runtime's CommandReply -> 504
    metrics_timeout: float = 2.0  # seconds to wait for metrics_source()
    send_timeout: float = 30.0  # a client whose socket accepts nothing for this long is closed
    command_workers: int = 4  # threads that may block in command_handler at once
    # permessage-deflate for the WebSocket (browsers always offer it): ~10x fewer bytes for a
    # remote dashboard, at ~1-2 ms of server CPU per 100-slot frame per client.
    ws_deflate: bool = True


class WebState:
    """What the routes share. Lives on the server's event loop except `publish_threadsafe`."""

    def __init__(
        self,
        command_handler: CommandHandler,
        token: str = "",
        metrics_source: MetricsSource | None = None,
        options: WebOptions | None = None,
    ) -> None:
        self.options = options or WebOptions()
        self.command_handler = command_handler
        self.metrics_source = metrics_source
        self._token = token
        self.hub = StatusHub(self.options.push_interval, self.options.client_queue)
        # Own pool: a runtime that is slow to answer can only tie up these threads, never the
        # thread pool Litestar/anyio use for other work.
        self.executor = ThreadPoolExecutor(
            max_workers=self.options.command_workers, thread_name_prefix="web-command"
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.action_counts: Counter[tuple[str, str]] = Counter()
        self.metrics_source_errors = 0
        self.ignored_messages = 0  # told to the actor but neither a status nor an alert
        self.started_at = time.time()

    @property
    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:  # never show the token
        return f"WebState(token={'set' if self._token else 'unset'}, clients={len(self.hub.clients)})"

    def publish_threadsafe(self, snapshot: StatusSnapshot) -> bool:
        """Hand a snapshot to the hub from any thread. False when the loop is not running."""
        return self._call_on_loop(self.hub.offer, snapshot, time.perf_counter())

    def publish_alert_threadsafe(self, alert: Alert) -> bool:
        return self._call_on_loop(self.hub.offer_alert, alert)

    def _call_on_loop(self, fn: Callable[..., None], *args: object) -> bool:
        loop = self.loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed between the check and the call (shutdown race)
            return False
        return True

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    # Log the failure with its traceback for the operator; answer without internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        {"status_code": 500, "detail": "Internal Server Error"}, status_code=500, media_type=MediaType.JSON
    )


def create_app(web_state: WebState) -> Litestar:
    # Imported here: routes.py needs WebState/WebOptions from this module for type hints.
    from web.routes import ROUTE_HANDLERS

    async def on_startup(app: Litestar) -> None:
        web_state.loop = asyncio.get_running_loop()

    async def on_shutdown(app: Litestar) -> None:
        web_state.hub.close_all()

    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        # Revalidate on every load so an upgraded dashboard is picked up by a plain reload.
        cache_control=None,
        include_in_schema=False,
        name="static",
    )
    return Litestar(
        route_handlers=[*ROUTE_HANDLERS, static],
        state=State({"web": web_state}),
        guards=[host_guard],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        exception_handlers={500: _internal_error},
        openapi_config=OpenAPIConfig(
            title="dogebot API",
            version="1.0.0",
            description=(
                "Status and control of the DOGE/USD slot bot. When an operator token is configured "
                "every /api route, /metrics and /ws need `Authorization: Bearer <token>` "
                "(the WebSocket also accepts `?token=`)."
            ),
            path="/schema",
        ),
        # Litestar's LoggingConfig runs logging.config.dictConfig, which closes every handler the
        # process already has; the bot owns logging, so Litestar gets none and errors are logged
        # by `_internal_error` above.
        logging_config=None,
        debug=False,
    )

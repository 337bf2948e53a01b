"""WebActor: owns the dashboard/API server (Litestar under uvicorn, in its own thread).

    ref = WebActor.start(command_handler, host="127.0.0.1", port=8080, token="", metrics_source=None)
    ref.tell(status_snapshot)                  # from the status board, whenever status changes
    ref.tell(alert)                            # operator alerts, from the status board
    port = ref.proxy().bound_port().get(timeout=5)
    ref.stop()

* `command_handler(OperatorCommand) -> CommandReply` is thread-safe and may block; it is called
  from a small worker pool, never on the server's event loop nor on this actor's thread.
* Operator alerts arrive as `tell(Alert)` (actors/alerts.py): kept for /api/alerts and pushed
  to the dashboards at once. Anything else told to the actor is ignored (and counted).
* Status arrives as `tell(StatusSnapshot)`. The actor keeps the latest and hands it to the
  server's loop with `call_soon_threadsafe`; the hub there coalesces and fans it out. The
  actor's own thread never waits on the network.
* The listening socket is bound when the actor is constructed (inside `WebActor.start`, in the
  caller's thread), so "address in use" or a bad host raises OSError from `start()` itself
  instead of dying later inside uvicorn.
* Refuses (InsecureBindError, at construction) to listen beyond loopback without a token.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import pykka
import uvicorn

from actors.alerts import Alert
from actors.status import StatusSnapshot
from web.app import CommandHandler, MetricsSource, WebOptions, WebState, create_app
from web.auth import check_bind_allowed, install_redaction

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


class WebActor(pykka.ThreadingActor):
    def __init__(
        self,
        command_handler: CommandHandler,
        host: str = "127.0.0.1",
        port: int = 8080,
        token: str = "",
        metrics_source: MetricsSource | None = None,
        *,
        options: WebOptions | None = None,
    ) -> None:
        super().__init__()
        check_bind_allowed(host, token)
        if not callable(command_handler):
            raise TypeError("command_handler must be callable: (OperatorCommand) -> CommandReply")
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        self._host = host
        self._web = WebState(command_handler, token=token, metrics_source=metrics_source, options=options)
        self._latest: StatusSnapshot | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        # Bound here, in the caller's thread (pykka constructs the actor inside `start()`), so
        # "address already in use" raises straight out of `WebActor.start(...)`.
        self._socket: socket.socket | None = _bind(host, port)
        self._bound_port: int = self._socket.getsockname()[1]

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        install_redaction()
        if self._socket is None:
            raise RuntimeError("the web actor cannot be restarted; start a new one")
        config = uvicorn.Config(
            create_app(self._web),
            log_config=None,  # the bot owns logging configuration
            access_log=False,  # request lines are noise (and carry query strings); errors still log
            lifespan="on",
            ws="websockets-sansio",  # applies write back-pressure: a stalled client blocks only itself
            ws_max_size=64 * 1024,  # clients send nothing we need; cap what they can make us buffer
            ws_per_message_deflate=self._web.options.ws_deflate,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            timeout_graceful_shutdown=2,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        sockets = [self._socket]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, name=f"web-uvicorn-{self._bound_port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self._server.started and self._web.loop is not None):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._shutdown_server()
                raise RuntimeError(f"web server failed to start on {self._host}:{self._bound_port}")
            time.sleep(0.005)
        log.info(
            "dashboard on http://%s:%d/ (token %s)",
            self._host if ":" not in self._host else f"[{self._host}]",
            self._bound_port,
            "required" if self._web.token else "not set, loopback only",
        )

    def on_stop(self) -> None:
        self._shutdown_server()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._shutdown_server()

    def _shutdown_server(self) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("web server did not stop in %.0f s; forcing", STOP_TIMEOUT_S)
                server.force_exit = True
                thread.join(STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._web.loop = None
        self._web.shutdown()
        self._server = self._thread = self._socket = None

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        # A tell that raised would stop this actor (pykka): never let one escape.
        try:
            if isinstance(message, StatusSnapshot):
                self._latest = message
                self._web.publish_threadsafe(message)
            elif isinstance(message, Alert):
                self._web.publish_alert_threadsafe(message)
            else:
                self._web.ignored_messages += 1
                log.debug("web actor ignored a %s message", type(message).__name__)
        except Exception:
            log.exception("web actor failed to publish a status snapshot")
        return None

    # ------------------------------------------------------------------ ask API

    def bound_port(self) -> int:
        """The TCP port actually listened on (useful with port=0)."""
        return self._bound_port

    def latest_status(self) -> StatusSnapshot | None:
        """The last StatusSnapshot told to this actor (None before the first)."""
        return self._latest

"""GatewayActor: the Kraken edge as a pykka actor.

The actor owns one asyncio loop running in a private thread (created in `on_start`, shut down
in `on_stop`). The WebSocket client lives on that loop and pushes every decoded event straight
to `sink.tell` from the loop thread, in arrival order, without a hop through this actor's
inbox. Intents told to the actor are scheduled onto the loop and the inbox moves on at once:
nothing here waits for the network.

    gateway = GatewayActor.start(sink=router_ref, public_ws_url=..., private_ws_url=...,
                                 rest_url=..., api_key=..., api_secret=...)
    gateway.tell(PlaceOrder(...))            # outcome arrives at the sink
    gateway.proxy().stats().get(timeout=2)   # counters
    gateway.proxy().rest("balance").get(timeout=2).result(timeout=10)   # start-up REST
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka

from actors.messages import AmendOrder, CancelOrder, PlaceOrder
from gateway.kraken.rest import DEFAULT_BASE_URL, KrakenRest
from gateway.kraken.signing import mask_key
from gateway.kraken.ws import KrakenWs, WsConfig

log = logging.getLogger(__name__)

# REST calls the rest of the system may make through the gateway (start-up and recovery only).
REST_CALLS = frozenset(
    {
        "asset_pairs", "trade_volume", "balance", "ohlc", "trades_history", "missed_fills",
        "open_orders", "query_orders", "server_time", "system_status", "ticker",
    }
)


class Sink(Protocol):
    def tell(self, message: Any) -> None: ...


class GatewayActor(pykka.ThreadingActor):
    def __init__(
        self,
        sink: Sink | Callable[[Any], None],
        *,
        public_ws_url: str | None,
        private_ws_url: str | None = None,
        rest_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        api_secret: str | None = None,
        ws_config: WsConfig | None = None,
        rest_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        start_timeout_s: float = 10.0,
    ) -> None:
        super().__init__()
        # A `.tell`-able (actor ref, CountingSink) or a plain thread-safe callable.
        self._emit: Callable[[Any], None] = sink.tell if hasattr(sink, "tell") else sink  # type: ignore[assignment,union-attr]
        self._config = dataclasses.replace(
            ws_config or WsConfig(), public_url=public_ws_url, private_url=private_ws_url
        )
        self._rest_url = rest_url
        self._api_key = api_key
        # The secret goes straight into the REST client's signing closure and is not kept here;
        # a malformed secret fails start() in the caller. (httpx binds to a loop on first use.)
        self._rest = KrakenRest(rest_url, api_key, api_secret, timeout_s=rest_timeout_s)
        self._clock = clock
        self._start_timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws: KrakenWs | None = None

    def __repr__(self) -> str:
        return f"GatewayActor(rest_url={self._rest_url!r}, api_key={mask_key(self._api_key)!r})"

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        loop = asyncio.new_event_loop()
        running = threading.Event()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(running.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="gateway-loop", daemon=True)
        self._thread.start()
        if not running.wait(self._start_timeout_s):
            raise RuntimeError("gateway event loop did not start")
        try:
            asyncio.run_coroutine_threadsafe(self._setup(), loop).result(self._start_timeout_s)
        except BaseException:
            # pykka skips on_stop/on_failure when on_start raises: release the loop here.
            self._shutdown_loop()
            raise

    async def _setup(self) -> None:
        rest = self._rest
        private = rest.has_credentials and self._config.private_url is not None
        self._ws = KrakenWs(
            self._config,
            self._emit,
            rest.websockets_token if private else None,
            replay=rest.missed_fills if private else None,
            owners=rest.order_owners if private else None,
            dms_disarm=(lambda: rest.cancel_all_orders_after(0)) if private else None,
            clock=self._clock,
        )
        await self._ws.start()

    def on_stop(self) -> None:
        self._shutdown_loop()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        # Shutdown coroutine first (sockets, tasks, async generators), then stop the loop.
        try:
            # Disarming the dead man's switch may take a WS answer and then a REST call.
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(
                self._config.request_timeout_s * 2 + self._config.close_timeout_s * 2 + 5.0
            )
        except Exception:
            log.exception("gateway shutdown did not complete cleanly")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5.0)
        if not thread.is_alive():
            loop.close()

    async def _shutdown(self) -> None:
        if self._ws is not None:
            await self._ws.stop()
        await self._rest.aclose()
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.shutdown_asyncgens()
        # Host names are resolved in the default executor's threads: end them, or one outlives us.
        await loop.shutdown_default_executor()

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, (PlaceOrder, CancelOrder, AmendOrder)):
            self._schedule(message)
            return None
        log.warning("gateway ignored unexpected message %r", type(message).__name__)
        return None

    def _schedule(self, intent: PlaceOrder | CancelOrder | AmendOrder) -> None:
        loop, ws = self._loop, self._ws
        if loop is None or ws is None:
            return
        future = asyncio.run_coroutine_threadsafe(ws.submit(intent), loop)
        future.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ asks (start-up, tests, CLI)

    def stats(self) -> dict[str, Any]:
        """Counters: frames in/out, malformed, duplicates, reconnects, last frame age, ..."""
        return self._ws.stats() if self._ws is not None else {}

    def rest(self, call: str, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Run a REST call on the gateway loop. Returns a future at once (the inbox never waits
        for the network); the caller waits on `.result(timeout)`."""
        if call not in REST_CALLS:
            raise ValueError(f"unknown REST call {call!r}")
        if self._loop is None:
            raise RuntimeError("gateway is not running")
        return asyncio.run_coroutine_threadsafe(getattr(self._rest, call)(*args, **kwargs), self._loop)


def _log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("gateway intent failed", exc_info=future.exception())

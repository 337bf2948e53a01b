"""`SimExchange`: the simulated Kraken on loopback, running its own event loop in a daemon thread.

    sim = SimExchange(SimConfig(clock="manual"))
    sim.start()                      # returns once every socket listens
    ... connect to sim.public_ws_url / sim.private_ws_url / sim.rest_url ...
    sim.advance(5)                   # manual clock: replay 5 candles, push the resulting frames
    sim.stop()

All state lives on the simulator's loop thread; the public methods here are thread-safe (they
hop onto the loop and wait for the result), so tests and the CLI can call them from anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from gateway.sim.auth import RestAuth, TokenStore, generate_credentials
from gateway.sim.config import SimConfig
from gateway.sim.engine import MatchingEngine
from gateway.sim.faults import Faults
from gateway.sim.http import HttpServer, Request, Response
from gateway.sim.rest_api import RestApi, fail
from gateway.sim.venue import CandleFeed, Venue
from gateway.sim.wire import encode
from gateway.sim.ws_server import WsHub

T = TypeVar("T")
log = logging.getLogger(__name__)
START_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 60.0
DRIVER_TICK_S = 0.25  # longest sleep of the clock driver: bounds stop latency and timer checks
FAST_POLL_S = 0.002
FAST_IDLE_S = 0.05  # fast mode without any subscribed client: how often to look for one
SYSTEM_STATUSES = ("online", "maintenance", "cancel_only", "post_only")


class SimExchange:
    def __init__(self, config: SimConfig | None = None, feed: CandleFeed | None = None) -> None:
        self.config = config or SimConfig()
        generated_key, generated_secret = generate_credentials()
        self.api_key = self.config.api_key or generated_key
        self.api_secret = self.config.api_secret or generated_secret
        self.venue = Venue(self.config, feed)
        self.faults = Faults()
        self.tokens = TokenStore(self.config.ws_token_ttl_s)
        self.auth = RestAuth(self.api_key, self.api_secret, self.config.rate_tier, self.config.rest_heavy_cost)
        self.rest = RestApi(self.venue, self.auth, self.tokens, order_gate=self.faults.take_order_rejection)
        self.hub = WsHub(self.venue, self.tokens, self.faults)
        self._http = HttpServer(self._handle_http, self.config.host, self.config.rest_port, self.faults.refusing)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None
        self._ports = (0, 0, 0)

    # ------------------------------------------------------------------ properties

    @property
    def engine(self) -> MatchingEngine:
        return self.venue.engine

    @property
    def feed(self) -> CandleFeed:
        return self.venue.feed

    @property
    def public_ws_url(self) -> str:
        return f"ws://{self.config.host}:{self._ports[0]}/v2"

    @property
    def private_ws_url(self) -> str:
        return f"ws://{self.config.host}:{self._ports[1]}/v2"

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self._ports[2]}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("SimExchange already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="sim-exchange", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulated exchange did not start in time")
        if failure:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"simulated exchange failed to start: {failure[0]}") from failure[0]

    async def _startup(self) -> None:
        self._stopping = asyncio.Event()
        # A restart (start after stop) rebinds the same ports, so clients can reconnect to the same URLs.
        wanted = [mine or configured for mine, configured in zip(
            self._ports, (self.config.public_port, self.config.private_port, self.config.rest_port), strict=True)]
        public, private = await self.hub.start(self.config.host, wanted[0], wanted[1])
        self._http = HttpServer(self._handle_http, self.config.host, wanted[2], self.faults.refusing)
        rest = await self._http.start()
        self._ports = (public, private, rest)
        self._driver = asyncio.create_task(self._drive(), name="sim-clock")

    def stop(self) -> None:
        """Close sockets, cancel tasks, shut down async generators, then stop the loop and join."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(CALL_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CALL_TIMEOUT_S)
        self._thread = None

    async def _shutdown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
        await self.hub.close()
        await self._http.close()
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def __enter__(self) -> SimExchange:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread-safe calls

    def call(self, fn: Callable[[Venue], T]) -> T:
        """Run `fn(venue)` on the simulator's loop (consistent view of its state) and return the result."""
        if self._loop is None or not self.running:
            return fn(self.venue)

        async def run() -> T:
            return fn(self.venue)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(CALL_TIMEOUT_S)

    def advance(self, n_candles: int = 1) -> int:
        """Replay `n_candles` candles now and push the resulting market data and executions."""
        def step(venue: Venue) -> int:
            done, events = venue.advance(n_candles)
            self.hub.publish(events)
            return done

        return self.call(step)

    def step_point(self) -> bool:
        """Replay a quarter candle (one price-path point); False when the data is exhausted."""
        def step(venue: Venue) -> bool:
            events = venue.step_point()
            if events is not None:
                self.hub.publish(events)
            return events is not None

        return self.call(step)

    def set_price(self, price: Decimal | float | str, volume: Decimal | float | str | None = None) -> None:
        """Move the market to `price` now; resting orders in the crossed range fill (volume None = fully)."""
        p = Decimal(str(price))
        v = None if volume is None else Decimal(str(volume))
        self.call(lambda venue: self.hub.publish(venue.set_price(p, v)))

    def issue_ws_token(self) -> str:
        """A WS token, as GetWebSocketsToken would return (for tests that skip REST)."""
        return self.call(lambda venue: self.tokens.issue())

    def connection_count(self) -> int:
        return self.call(lambda venue: len(self.hub.connections))

    # ------------------------------------------------------------------ faults

    def drop_connections(self) -> None:
        """Abort every WebSocket and HTTP connection now (no close handshake)."""
        def drop(venue: Venue) -> None:
            self.hub.drop_all()
            self._http.drop_connections()

        self.call(drop)

    def refuse_connections(self, seconds: float) -> None:
        self.faults.refuse_connections(seconds)

    def reject_next_orders(self, n: int, error: str = "EOrder:Insufficient funds") -> None:
        self.faults.reject_next_orders(n, error)

    def delay_reports(self, seconds: float) -> None:
        self.faults.delay_reports(seconds)

    def duplicate_next_reports(self, n: int) -> None:
        self.faults.duplicate_next_reports(n)

    def set_system_status(self, status: str) -> None:
        """Switch the engine status (online / maintenance / cancel_only / post_only) and push `status`."""
        if status not in SYSTEM_STATUSES:
            raise ValueError(f"unknown system status {status!r}")

        def switch(venue: Venue) -> None:
            venue.engine.system_status = status
            self.hub.broadcast_status()

        self.call(switch)

    def send_malformed_frame(self) -> None:
        self.call(lambda venue: self.hub.send_malformed())

    # ------------------------------------------------------------------ REST and clock

    async def _handle_http(self, request: Request) -> Response:
        try:
            return self._route_http(request)
        except Exception:  # a bug must not drop the connection without an answer
            log.exception("simulator failed on %s %s", request.method, request.path)
            return Response(500, encode(fail("EGeneral:Internal error")))

    def _route_http(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "0" or parts[1] not in ("public", "private"):
            return Response(404, encode(fail("EGeneral:Unknown method")))
        if parts[1] == "public":
            if request.method not in ("GET", "POST"):
                return Response(405, encode(fail("EGeneral:Invalid arguments:method")))
            return Response(200, encode(self.rest.public(parts[2], request.query, request.headers, request.body)))
        if request.method != "POST":
            return Response(405, encode(fail("EGeneral:Invalid arguments:method")))
        envelope, events = self.rest.private(parts[2], request.path, request.headers, request.body)
        self.hub.publish(events)
        return Response(200, encode(envelope))

    async def _drive(self) -> None:
        """Pace the feed on the virtual clock (realtime / speed modes) and fire timers."""
        assert self._stopping is not None
        venue, clock = self.venue, self.venue.clock
        while not self._stopping.is_set():
            self.hub.publish(venue.check_timers())
            if clock.mode == "manual":
                await self._pause(DRIVER_TICK_S)
                continue
            if clock.mode == "fast":
                if not self.hub.has_subscribers():
                    await self._pause(FAST_IDLE_S)  # no consumer yet: replaying now would waste the data
                elif self.hub.backlog() > 0:
                    await self._pause(FAST_POLL_S)  # back-pressure: the slowest client sets the pace
                elif (events := venue.step_point()) is None:
                    await self._pause(DRIVER_TICK_S)
                else:
                    self.hub.publish(events)
                    await asyncio.sleep(0)
                continue
            nxt = venue.next_point_ts()
            if nxt is None:
                await self._pause(DRIVER_TICK_S)
                continue
            if venue.gap_before_next():
                # Data gap: jump the clock instead of waiting out the missing minutes.
                clock.advance_to(nxt - 15)
            wait = clock.wall_seconds_until(nxt)
            if wait > 0:
                await self._pause(min(wait, DRIVER_TICK_S))
                continue
            self.hub.publish(venue.step_point() or [])
            await asyncio.sleep(0)  # let sockets run even when the replay is behind schedule

    async def _pause(self, seconds: float) -> None:
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def describe(self) -> dict[str, Any]:
        return {"public_ws_url": self.public_ws_url, "private_ws_url": self.private_ws_url,
                "rest_url": self.rest_url, "api_key": self.api_key, "api_secret": self.api_secret}

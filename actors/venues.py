"""Venue adapters: how the actor system reaches an exchange in each mode.

A `VenueHandle` gives the system three things: the actor to stop, the sink the rate budget sends
order intents to, and a `VenuePort` for the few REST-like queries of start-up and supervision
(constraints, fees, balances, open orders, missed-fill replay). The rest of the system cannot
tell a real Kraken gateway from the in-process simulator.

* `kraken_venue`: the real GatewayActor (WS v2 + REST) against Kraken or the loopback SimExchange;
* `inprocess_venue`: SimVenueActor around a `gateway.sim.venue.Venue` (backtests);
* `paper_venue`: Kraken's public feed through a public-only GatewayActor, fills by SimVenueActor.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka

from actors.base import CountingSink, InFlight
from actors.gateway import GatewayActor
from actors.messages import PriceTick
from actors.sim_venue import ExternalPrice, SimVenueActor, VenueCall
from core import rate_limits
from core.config import Settings
from gateway.kraken.ws import WsConfig
from gateway.sim.venue import Venue


class VenuePort(Protocol):
    rest_calls: int

    def call(self, name: str, *args: Any, timeout: float = 15.0) -> Any: ...


# Private REST requests one port call costs (missed_fills = TradesHistory + QueryOrders).
_CALL_REQUESTS = {"trade_volume": 1, "balance": 1, "open_orders": 1, "missed_fills": 2, "query_orders": 1,
                  "trades_history": 1}


# The Kraken REST methods behind each port call, for the REST call-counter mirror (§5.1).
_CALL_METHODS = {"trade_volume": ("TradeVolume",), "balance": ("Balance",), "open_orders": ("OpenOrders",),
                 "missed_fills": ("TradesHistory", "QueryOrders"), "query_orders": ("QueryOrders",),
                 "trades_history": ("TradesHistory",)}


class GatewayPort:
    """REST through the gateway actor's own loop (never on an actor's thread: callers are the
    start-up sequence and the supervisor, both outside the actor graph, so they may wait).

    Mirrors Kraken's per-key REST call counter (kraken-api.md §5.1): a call that would exceed it
    waits until the counter has decayed, instead of earning `EAPI:Rate limit exceeded`.
    """

    def __init__(self, gateway: pykka.ActorRef[Any], tier: str = "intermediate", heavy_cost: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway = gateway
        self.rest_calls = 0
        self.counter = rate_limits.rest_counter(tier)
        self.heavy_cost = heavy_cost
        self.clock = clock

    def call(self, name: str, *args: Any, timeout: float = 15.0) -> Any:
        methods = _CALL_METHODS.get(name, ())
        # QueryOrders sends one request per 50 ids (gateway/kraken/rest.py): charge each.
        requests = -(-len(args[0]) // 50) if name == "query_orders" and args and args[0] else 1
        cost = requests * sum(rate_limits.rest_call_cost(m, heavy_cost=self.heavy_cost) for m in methods)
        self._charge(cost, timeout)
        self.rest_calls += _CALL_REQUESTS.get(name, 0) * requests
        future = self.gateway.proxy().rest(name, *args).get(timeout=timeout)
        result = future.result(timeout=timeout)
        if name == "missed_fills" and isinstance(result, list) and len(result) > 50:
            # TradesHistory pages (50 trades each) and their QueryOrders beyond the first of each,
            # known only now: charged after the fact so the next call waits for them.
            extra = -(-len(result) // 50) - 1
            self.counter.add(extra * cost, self.clock())
            self.rest_calls += extra * _CALL_REQUESTS["missed_fills"]
        return result

    def _charge(self, cost: float, timeout: float) -> None:
        if cost:
            wait = self.counter.seconds_until_fits(cost, self.clock())
            if wait > 0:
                time.sleep(min(wait, timeout))
            self.counter.add(cost, self.clock())


class ActorPort:
    """REST-like queries answered by the in-process venue actor."""

    def __init__(self, venue: pykka.ActorRef[Any]) -> None:
        self.venue = venue
        self.rest_calls = 0

    def call(self, name: str, *args: Any, timeout: float = 15.0) -> Any:
        self.rest_calls += _CALL_REQUESTS.get(name, 0)
        return self.venue.ask(VenueCall(name=name, args=args), timeout=timeout)


@dataclasses.dataclass
class VenueHandle:
    refs: list[pykka.ActorRef[Any]]  # to stop, in this order
    intents: Any  # .tell(PlaceOrder | CancelOrder | AmendOrder)
    port: VenuePort
    private: bool = True  # an executions stream exists (start-up waits for its snapshot)
    venue: Venue | None = None  # in-process venues: the engine, for tests and summaries
    actor: pykka.ActorRef[Any] | None = None


VenueFactory = Callable[[InFlight, pykka.ActorRef[Any], Any], VenueHandle]


def ws_config(settings: Settings, *, public_only: bool = False) -> WsConfig:
    return WsConfig(
        public_url=settings.kraken_ws_public_url,
        private_url=None if public_only else settings.kraken_ws_private_url,
        heartbeat_timeout_s=settings.ws_heartbeat_timeout_sec,
        ping_interval_s=settings.ws_ping_interval_sec,
        dms_timeout_s=int(settings.dead_man_switch_timeout_sec) if settings.dead_man_switch_enabled else 0,
        dms_refresh_s=settings.dead_man_switch_refresh_sec,
        backoff_initial_s=settings.reconnect_backoff_initial_sec,
        backoff_max_s=settings.reconnect_backoff_max_sec,
    )


def kraken_venue(
    settings: Settings,
    *,
    public_ws_url: str,
    private_ws_url: str,
    rest_url: str,
    api_key: str,
    api_secret: str,
    clock: Callable[[], float] = time.time,
    ws: WsConfig | None = None,
) -> VenueFactory:
    def build(inflight: InFlight, router: pykka.ActorRef[Any], sink: Any) -> VenueHandle:
        config = dataclasses.replace(ws or ws_config(settings), public_url=public_ws_url,
                                     private_url=private_ws_url)
        ref = GatewayActor.start(sink=sink, public_ws_url=public_ws_url, private_ws_url=private_ws_url,
                                 rest_url=rest_url, api_key=api_key, api_secret=api_secret, ws_config=config,
                                 rest_timeout_s=settings.kraken_rest_timeout_sec, clock=clock)
        port = GatewayPort(ref, settings.kraken_rate_tier, float(settings.kraken_rest_history_call_cost))
        return VenueHandle(refs=[ref], intents=ref, port=port, actor=ref)

    return build


def inprocess_venue(venue: Venue) -> VenueFactory:
    def build(inflight: InFlight, router: pykka.ActorRef[Any], sink: Any) -> VenueHandle:
        ref = SimVenueActor.start(inflight, venue, router)
        return VenueHandle(refs=[ref], intents=CountingSink(ref, inflight), port=ActorPort(ref), venue=venue,
                           actor=ref)

    return build


class _PaperBridge:
    """Public-feed events from Kraken: prices move the simulated market, the rest goes on as is."""

    def __init__(self, venue: pykka.ActorRef[Any], router_sink: Any, inflight: InFlight) -> None:
        self.venue = CountingSink(venue, inflight)
        self.router = router_sink

    def tell(self, message: Any) -> None:
        if isinstance(message, PriceTick):
            self.venue.tell(ExternalPrice(price=message.mid, ts=message.ts))
        else:
            self.router.tell(message)


def paper_venue(settings: Settings, venue: Venue, clock: Callable[[], float] = time.time) -> VenueFactory:
    def build(inflight: InFlight, router: pykka.ActorRef[Any], sink: Any) -> VenueHandle:
        # Kraken's public feed announces (and loses) the public connection itself; the in-process
        # engine is the private side.
        sim = SimVenueActor.start(inflight, venue, router, announce=("private",))
        feed = GatewayActor.start(sink=_PaperBridge(sim, sink, inflight),
                                  public_ws_url=settings.kraken_ws_public_url, private_ws_url=None,
                                  rest_url=settings.kraken_rest_url, ws_config=ws_config(settings, public_only=True),
                                  rest_timeout_s=settings.kraken_rest_timeout_sec, clock=clock)
        return VenueHandle(refs=[feed, sim], intents=CountingSink(sim, inflight), port=ActorPort(sim),
                           private=False, venue=venue, actor=sim)

    return build

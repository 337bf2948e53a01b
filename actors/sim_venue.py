"""SimVenueActor: the simulated exchange in process (backtest and paper modes), no sockets.

It plays the gateway's role for the rest of the system: order intents in (`PlaceOrder`,
`CancelOrder`, `AmendOrder`), decoded exchange events out to the router, in the same message
types the real gateway produces (the Kraken codec decodes the engine's own `executions` /
`balances` elements, so the same code paths run). Start-up and supervisor REST needs are
answered by `VenueCall` asks from the engine's state, shaped through the same REST codec.

Time: the venue never reads a clock. Backtests step it with `StepCandle` (the data's time); in
paper mode `ExternalPrice` ticks from Kraken's public feed move the market.

Connections: there are no sockets, but the venue's market data and executions are available from
its first message on, so at start it announces `GatewayConnected` for the sides it plays (both in
backtests; only `private` in paper mode, whose public side is Kraken's real feed), as the socket
gateway does once each connection's subscription is acknowledged: the runtime's connection state
and the status snapshot then show the venue up.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Literal

import msgspec

from actors.base import BaseActor, InFlight, handles
from actors.internal import Inspect
from actors.messages import (
    AmendOrder,
    CancelOrder,
    Candle,
    ExecutionsSnapshotDone,
    GatewayConnected,
    InstrumentRules,
    PlaceOrder,
    PriceTick,
)
from core.market import WS_SYMBOL
from gateway.kraken import codec, codec_rest
from gateway.kraken.codec import CodecError, OrderPending, Response
from gateway.kraken.routing import OrderRegistry
from gateway.sim import rest_views
from gateway.sim.rest_api import E_INVALID_ORDER
from gateway.sim.trading import TradingApi
from gateway.sim.venue import Venue

log = logging.getLogger("sim_venue")

_TOKEN = "in-process"


class StepCandle(msgspec.Struct, frozen=True, kw_only=True):
    """Driver -> venue (ask): replay the next candle; the reply is its close time or None at the end."""


class ExternalPrice(msgspec.Struct, frozen=True, kw_only=True):
    """Paper mode: a public-feed price the simulated market trades to."""

    price: float
    ts: float


class VenueCall(msgspec.Struct, frozen=True, kw_only=True):
    """A REST-like query (start-up, supervisor): asset_pairs, trade_volume, balance, open_orders,
    missed_fills(start)."""

    name: str
    args: tuple[Any, ...] = ()


Channel = Literal["public", "private"]


class SimVenueActor(BaseActor):
    def __init__(self, inflight: InFlight, venue: Venue, router: Any = None,
                 announce: tuple[Channel, ...] = ("public", "private")) -> None:
        super().__init__(inflight)
        self.venue = venue
        self.announce = announce
        self.trading = TradingApi(venue.engine)
        self.registry = OrderRegistry()
        self.router = router
        self.req_id = 0
        self.rest_calls = 0
        self.events_out = 0

    def on_start(self) -> None:
        # What a gateway's (re)connect delivers: the connections (acknowledged subscriptions), the
        # executions snapshot, balances and a ticker. Stamped with the venue's (data) time and sent
        # through the barrier like every other event, so backtests stay deterministic.
        now = self._now()
        engine = self.venue.engine
        for channel in self.announce:
            self._emit(GatewayConnected(channel=channel, ts=now))
        open_ids = []
        for element in engine.snapshot_orders():
            for msg in codec.decode_execution(element, True, now):
                out = self.registry.enrich(msg)
                if out is not None:
                    open_ids.append(out.order_id)
                    self._emit(out)
        self._emit(ExecutionsSnapshotDone(open_order_ids=open_ids, ts=now))
        self._emit(codec.decode_balances(engine.account.snapshot(), True, now))
        if engine.price is not None:
            self._ticker(now)

    # ------------------------------------------------------------------ output

    def _now(self) -> float:
        return self.venue.now

    def _emit(self, msg: object) -> None:
        self.events_out += 1
        self.send(self.router, msg)

    def _publish(self, events: list[tuple[str, dict[str, Any]]], now: float) -> None:
        for channel, element in events:
            try:
                if channel == "executions":
                    for msg in codec.decode_execution(element, False, now):
                        out = self.registry.enrich(msg)
                        if out is not None and not isinstance(out, OrderPending):
                            self._emit(out)
                elif channel == "balances":
                    self._emit(codec.decode_balances([element], False, now))
                elif channel == "ticker":
                    self._emit(codec.decode_ticker(element, now))
            except (CodecError, KeyError, TypeError, ValueError) as exc:
                log.error("venue element on %s not decodable: %s", channel, exc)

    # ------------------------------------------------------------------ market

    @handles(StepCandle)
    def _step(self, msg: StepCandle) -> float | None:
        events = self.venue.step_candle()
        if events is None:
            return None
        now = self._now()
        self._publish(events, now)
        if not self.venue.market.emit_public:
            self._ticker(now)  # one price per candle (its close) when public elements are off
        return now

    def _ticker(self, now: float) -> None:
        engine = self.venue.engine
        if engine.price is not None:
            self._emit(PriceTick(symbol=WS_SYMBOL, bid=float(engine.bid), ask=float(engine.ask),  # type: ignore[arg-type]
                                 last=float(engine.price), ts=now))

    @handles(ExternalPrice)
    def _external(self, msg: ExternalPrice) -> None:
        if msg.price <= 0:
            return
        self.venue.clock.advance_to(msg.ts)
        events = self.venue.set_price(Decimal(repr(msg.price)))
        self._publish(events, self._now())
        self._emit(PriceTick(symbol=WS_SYMBOL, bid=msg.price, ask=msg.price, last=msg.price, ts=msg.ts))

    # ------------------------------------------------------------------ orders

    def _respond(self, method: str, request: dict[str, Any]) -> list[tuple[Response, list[Any]]]:
        now = self._now()
        out = []
        for reply in self.trading.handle(method, request["params"], now):
            resp = Response(method=method, req_id=request["req_id"], success=reply.success, result=reply.result,
                            error=reply.error, ts=now)
            out.append((resp, reply.events))
        return out

    @handles(PlaceOrder)
    def _place(self, intent: PlaceOrder) -> None:
        self.req_id += 1
        self.registry.expect(intent)
        request = codec.add_order_request(intent, _TOKEN, self.req_id)
        for resp, events in self._respond("add_order", request):
            # The response first: it teaches the router order_id -> cl_ord_id for sparse events.
            self._emit(codec.add_order_outcome(resp, intent.cl_ord_id))
            self._publish(events, resp.ts)

    @handles(CancelOrder)
    def _cancel(self, intent: CancelOrder) -> None:
        self.req_id += 1
        request = codec.cancel_order_request(intent, _TOKEN, self.req_id)
        for resp, events in self._respond("cancel_order", request):
            outcome = codec.cancel_order_outcome(resp, intent.cl_ord_id, intent.order_id)
            if not resp.success:
                self._emit(outcome)
            self._publish(events, resp.ts)

    @handles(AmendOrder)
    def _amend(self, intent: AmendOrder) -> None:
        self.req_id += 1
        request = codec.amend_order_request(intent, _TOKEN, self.req_id)
        for resp, events in self._respond("amend_order", request):
            outcome = codec.amend_order_outcome(resp, intent.cl_ord_id, intent.order_id)
            if not resp.success:
                self._emit(outcome)
            self._publish(events, resp.ts)

    # ------------------------------------------------------------------ REST-like queries

    @handles(VenueCall)
    def _call(self, msg: VenueCall) -> Any:
        self.rest_calls += 1
        engine = self.venue.engine
        rules = self.venue.config.rules
        if msg.name == "asset_pairs":
            return InstrumentRules(symbol=WS_SYMBOL, min_volume=rules.min_volume, min_cost_usd=rules.min_cost_usd,
                                   price_decimals=rules.price_decimals, volume_decimals=rules.volume_decimals)
        if msg.name == "trade_volume":
            return codec_rest.FeeRates(maker_pct=rules.maker_fee_pct, taker_pct=rules.taker_fee_pct)
        if msg.name == "balance":
            return codec_rest.balances(engine.account.rest_balance())
        if msg.name == "open_orders":
            return codec_rest.orders({o.order_id: rest_views.order_info(o, False) for o in engine.open.values()})
        if msg.name == "query_orders":
            # As Kraken (and the socket simulator): one unknown id fails the whole call.
            wanted = [engine.order(oid) for oid in msg.args[0]]
            if any(o is None for o in wanted):
                raise codec_rest.KrakenApiError("QueryOrders", [E_INVALID_ORDER])
            return codec_rest.orders({o.order_id: rest_views.order_info(o, not o.is_open) for o in wanted if o})
        if msg.name == "missed_fills":
            start = float(msg.args[0]) if msg.args and msg.args[0] is not None else float("-inf")
            listed = {f.exec_id: rest_views.trade_info(f) for f in engine.fills if f.ts > start}
            trades, _ = codec_rest.trades({"trades": listed, "count": len(listed)})
            known = {t.order_id: o for t in trades if (o := engine.order(t.order_id)) is not None}
            infos = codec_rest.orders({oid: rest_views.order_info(o, not o.is_open) for oid, o in known.items()})
            return codec_rest.replay_fills(trades, {o.order_id: o for o in infos})
        if msg.name == "ohlc":
            if engine.price is None:
                return [], 0
            price = float(engine.price)
            now = self._now()
            bar = Candle(symbol=WS_SYMBOL, interval_min=1, begin_ts=now - 60.0, open=price, high=price, low=price,
                         close=price, volume=0.0, closed=True)
            return [bar], int(now)
        raise ValueError(f"unknown venue call {msg.name!r}")

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, Any]:
        engine = self.venue.engine
        return {
            "usd": float(engine.account.total["USD"]),
            "doge": float(engine.account.total["DOGE"]),
            "open_orders": len(engine.open),
            "fills": len(engine.fills),
            "price": float(engine.price) if engine.price is not None else 0.0,
            "now": self._now(),
            "candles": self.venue.candles_processed,
            "events_out": self.events_out,
        }

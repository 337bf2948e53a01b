"""The message protocol of the actor system, as msgspec tagged unions.

Every message is a frozen Struct tagged by its `type` field, so the same classes are the wire
format of the HTTP API, the WebSocket status frames, Telegram command targets and the fault
messages tests inject. Times are unix seconds (float) in the `ts` field; quantities are DOGE,
prices and money are USD.

This module holds the exchange-facing part (market data, execution reports, order intents,
gateway faults). Operator commands and status live in `actors/commands.py` and
`actors/status.py`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["buy", "sell"]


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    """Base of every protocol message."""


# --------------------------------------------------------------------------- market data


class PriceTick(Message, tag="price_tick"):
    """Top of book / last trade for DOGE/USD (from the `ticker` channel)."""

    symbol: str
    bid: float
    ask: float
    last: float
    ts: float

    @property
    def mid(self) -> float:
        if self.bid > 0 and self.ask > 0:
            return (self.bid + self.ask) / 2.0
        return self.last


class Candle(Message, tag="candle"):
    """One OHLC bar. `closed` is False for the still-forming bar."""

    symbol: str
    interval_min: int
    begin_ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float = 0.0
    trades: int = 0
    closed: bool = False


class ExchangeStatus(Message, tag="exchange_status"):
    """The `status` channel: engine state (`online`, `maintenance`, `cancel_only`, `post_only`)."""

    system: str
    api_version: str = "v2"
    connection_id: str = ""
    version: str = ""
    ts: float = 0.0


class InstrumentRules(Message, tag="instrument_rules"):
    """Pair constraints from the `instrument` channel or REST AssetPairs."""

    symbol: str
    min_volume: float
    min_cost_usd: float
    price_decimals: int
    volume_decimals: int
    cost_decimals: int = 9
    status: str = "online"


# --------------------------------------------------------------------------- execution reports


class OrderAccepted(Message, tag="order_accepted"):
    """add_order succeeded: the exchange assigned `order_id` to our `cl_ord_id`."""

    cl_ord_id: str
    order_id: str
    ts: float
    req_id: int | None = None


class OrderRejected(Message, tag="order_rejected"):
    """add_order (or amend/cancel) failed; `error` is Kraken's error string verbatim."""

    cl_ord_id: str
    error: str
    ts: float
    request: Literal["add_order", "amend_order", "cancel_order"] = "add_order"
    order_id: str | None = None
    req_id: int | None = None


class OrderOpen(Message, tag="order_open"):
    """An order known to be resting (exec_type `new`, or an open order in the snapshot)."""

    order_id: str
    cl_ord_id: str | None
    side: Side | None
    order_qty: float
    limit_price: float
    cum_qty: float = 0.0
    ts: float = 0.0
    snapshot: bool = False


class Fill(Message, tag="fill"):
    """One execution (exec_type `trade`). Dedup by `exec_id` belongs to the consumer."""

    exec_id: str
    order_id: str
    cl_ord_id: str | None
    side: Side | None
    last_qty: float
    last_price: float
    cum_qty: float
    order_qty: float | None
    fee: float
    fee_asset: str = "USD"
    liquidity: Literal["m", "t"] = "m"
    final: bool = False
    ts: float = 0.0
    snapshot: bool = False


class OrderFilled(Message, tag="order_filled"):
    """The order is completely filled (exec_type `filled`)."""

    order_id: str
    cl_ord_id: str | None
    cum_qty: float
    avg_price: float
    ts: float


class OrderCanceled(Message, tag="order_canceled"):
    """The order was cancelled or expired; `cum_qty` > 0 means it was partially filled first."""

    order_id: str
    cl_ord_id: str | None
    cum_qty: float
    reason: str
    ts: float
    expired: bool = False


class OrderAmended(Message, tag="order_amended"):
    """An amend changed price and/or quantity in place."""

    order_id: str
    cl_ord_id: str | None
    order_qty: float | None
    limit_price: float | None
    ts: float


class CancelAcked(Message, tag="cancel_acked"):
    """cancel_order accepted by the exchange. The order's end still arrives as OrderCanceled."""

    order_id: str | None
    cl_ord_id: str | None
    ts: float
    req_id: int | None = None


class AmendAcked(Message, tag="amend_acked"):
    """amend_order accepted by the exchange. The new terms still arrive as OrderAmended."""

    amend_id: str
    order_id: str | None
    cl_ord_id: str | None
    ts: float
    req_id: int | None = None


class BalanceUpdate(Message, tag="balance_update"):
    """Balances by WS v2 asset name (`USD`, `DOGE`): the full snapshot, or changed assets."""

    balances: dict[str, float]
    ts: float
    snapshot: bool = False


class ExecutionsSnapshotDone(Message, tag="executions_snapshot_done"):
    """Every item of the executions snapshot has been delivered (after each (re)subscribe)."""

    open_order_ids: list[str]
    ts: float
    # False when executions made while away may be missing (the REST replay behind a full
    # snapshot failed): absence from the open list then does not tell filled from cancelled.
    fills_complete: bool = True


# --------------------------------------------------------------------------- order intents


class PlaceOrder(Message, tag="place_order"):
    """A limit order to place. `cl_ord_id` names the owner (see core/order_ids.py)."""

    cl_ord_id: str
    side: Side
    price: float
    volume: float
    post_only: bool = True
    symbol: str = "DOGE/USD"


class CancelOrder(Message, tag="cancel_order"):
    """Cancel by exchange order id when known, else by client order id."""

    cl_ord_id: str | None = None
    order_id: str | None = None


class AmendOrder(Message, tag="amend_order"):
    """Change price and/or quantity of a resting order in place (keeps its ids)."""

    cl_ord_id: str | None = None
    order_id: str | None = None
    price: float | None = None
    volume: float | None = None
    post_only: bool = True


# --------------------------------------------------------------------------- gateway state and faults


class GatewayConnected(Message, tag="gateway_connected"):
    channel: Literal["public", "private"]
    ts: float


class GatewayDisconnected(Message, tag="gateway_disconnected"):
    channel: Literal["public", "private"]
    reason: str
    ts: float


class ExchangeError(Message, tag="exchange_error"):
    """A failed exchange call that is not tied to one order (REST error, subscribe error...)."""

    error: str
    context: str
    ts: float


ExchangeEvent = (
    PriceTick
    | Candle
    | ExchangeStatus
    | InstrumentRules
    | OrderAccepted
    | OrderRejected
    | OrderOpen
    | Fill
    | OrderFilled
    | OrderCanceled
    | OrderAmended
    | CancelAcked
    | AmendAcked
    | BalanceUpdate
    | ExecutionsSnapshotDone
    | GatewayConnected
    | GatewayDisconnected
    | ExchangeError
)

OrderIntent = PlaceOrder | CancelOrder | AmendOrder

exchange_event_decoder = msgspec.json.Decoder(ExchangeEvent)
order_intent_decoder = msgspec.json.Decoder(OrderIntent)

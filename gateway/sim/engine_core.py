"""Core of the matching engine: the resting book, fills, holds, and single-order requests.

See `engine.py` for the matching model; `MatchingEngine` there adds the account-wide requests
(batches, edit, cancel-all, dead man's switch) and snapshots.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from decimal import Decimal
from typing import Any

from core import rate_limits
from gateway.sim.accounts import Account
from gateway.sim.config import SimConfig
from gateway.sim.engine_types import (
    E_CL_ORD_ID,
    E_CL_ORD_ID_DUP,
    E_FUNDS,
    E_INVALID_PRICE,
    E_MIN_COST,
    E_MIN_QTY,
    E_NO_MARKET,
    E_ORDERS_LIMIT,
    E_POST_ONLY_AMEND,
    E_QTY_PRECISION,
    E_RATE,
    E_UNAVAILABLE,
    E_UNKNOWN_ORDER,
    HUNDRED,
    MAX_CLOSED_ORDERS,
    MAX_FILLS,
    Event,
    OrderSpec,
    Outcome,
)
from gateway.sim.feeds import Candle, candle_path
from gateway.sim.orders import ExecutionElements, Fill, Order, valid_cl_ord_id
from gateway.sim.wire import ZERO, IdFactory, decimals_of, q, q_down, q_up


class EngineCore:
    """Order book, fills, balances and the single-order requests (add, amend, cancel)."""

    def __init__(self, config: SimConfig, ids: IdFactory | None = None) -> None:
        self.config = config
        rules = config.rules
        self.ids = ids or IdFactory(config.seed)
        self.account = Account(config.usd, config.doge, self.ids)
        self.elements = ExecutionElements(config)
        self.rate_counter = rate_limits.trading_counter(config.rate_tier)
        self.price_decimals = rules.price_decimals
        self.qty_decimals = rules.volume_decimals
        self.cost_decimals = rules.cost_decimals
        self.tick = Decimal(1).scaleb(-rules.price_decimals)
        self.min_qty = Decimal(repr(rules.min_volume))
        self.min_cost = Decimal(repr(rules.min_cost_usd))
        self.maker_pct = Decimal(repr(rules.maker_fee_pct))
        self.taker_pct = Decimal(repr(rules.taker_fee_pct))
        self.price: Decimal | None = None
        self.last_volume: Decimal | None = None
        # Volume window of the partial-fill rule: one candle (all its path points) or one
        # `trade_to` call without a window. Each order takes at most `fill_volume_share` of it.
        self._window_key: int | None = None
        self._window_volume: Decimal | None = None
        self._window_taken: dict[str, Decimal] = {}
        self.open: dict[str, Order] = {}
        self.closed: OrderedDict[str, Order] = OrderedDict()
        self.fills: deque[Fill] = deque(maxlen=MAX_FILLS)
        self.volume_usd = ZERO  # traded quote volume (TradeVolume)
        self.dms_trigger: float | None = None
        # online | maintenance | cancel_only | post_only (kraken-api.md §1.6); only `online` matches.
        self.system_status = config.system_status
        self._by_cl: dict[str, str] = {}
        self._bids: list[tuple[Decimal, int, str]] = []  # (-price, seq, id): best first
        self._asks: list[tuple[Decimal, int, str]] = []  # (price, seq, id): best first
        self._seq = 0
        self._trade_id = 0

    # ------------------------------------------------------------------ market state

    @property
    def bid(self) -> Decimal | None:
        return None if self.price is None else self.price - self.tick * self.config.spread_ticks

    @property
    def ask(self) -> Decimal | None:
        return None if self.price is None else self.price + self.tick * self.config.spread_ticks

    def next_trade_id(self) -> int:
        """Trade ids are one increasing sequence shared with the public `trade` channel."""
        self._trade_id += 1
        return self._trade_id

    def order(self, order_id: str) -> Order | None:
        return self.open.get(order_id) or self.closed.get(order_id)

    def find_open(self, order_id: str | None = None, cl_ord_id: str | None = None) -> Order | None:
        if order_id is not None:
            return self.open.get(order_id)
        if cl_ord_id is not None:
            found = self._by_cl.get(cl_ord_id)
            return self.open.get(found) if found else None
        return None

    # ------------------------------------------------------------------ validation

    def _check_price(self, price: Decimal) -> str | None:
        if price <= 0:
            return E_INVALID_PRICE
        if decimals_of(price) > self.price_decimals or price % self.tick != 0:
            return self.config.price_precision_error
        return None

    def _check_qty(self, qty: Decimal) -> str | None:
        if qty <= 0:
            return E_QTY_PRECISION
        if decimals_of(qty) > self.qty_decimals:
            return E_QTY_PRECISION
        if qty < self.min_qty:
            return E_MIN_QTY
        return None

    def _hold_for(self, side: str, qty: Decimal, price: Decimal) -> Decimal:
        if side == "sell":
            return qty
        # Reserve at the taker rate so any fill (maker or taker) is covered.
        return q_up(qty * price * (1 + self.taker_pct / HUNDRED), 4)

    def _market_closed(self, post_only: bool = False) -> str | None:
        """The error for a new order (or amend) the market status forbids, if any."""
        status = self.system_status
        if status == "maintenance":
            return E_UNAVAILABLE
        if status == "cancel_only" or (status == "post_only" and not post_only):
            return f"EService:Market in {status} mode"
        return None

    def _validate(self, spec: OrderSpec, extra_open: int = 0, extra_hold: Decimal = ZERO) -> str | None:
        if error := self._market_closed(spec.post_only):
            return error
        if spec.cl_ord_id is not None:
            if not valid_cl_ord_id(spec.cl_ord_id):
                return E_CL_ORD_ID
            if spec.cl_ord_id in self._by_cl:
                return E_CL_ORD_ID_DUP
        if spec.order_type == "limit":
            if spec.price is None:
                return E_INVALID_PRICE
            if error := self._check_price(spec.price):
                return error
        elif self.price is None:
            return E_NO_MARKET
        if error := self._check_qty(spec.qty):
            return error
        ref_price = spec.price if spec.price is not None else (self.ask if spec.side == "buy" else self.bid)
        assert ref_price is not None
        if spec.qty * ref_price < self.min_cost:
            return E_MIN_COST
        if len(self.open) + extra_open >= self.config.open_order_limit:
            return E_ORDERS_LIMIT
        asset = "USD" if spec.side == "buy" else "DOGE"
        if self._hold_for(spec.side, spec.qty, ref_price) + extra_hold > self.account.available(asset):
            return E_FUNDS
        return None

    # ------------------------------------------------------------------ book keeping

    def _rest(self, order: Order, keep_priority: bool = False) -> None:
        assert order.price is not None
        if not keep_priority:
            self._seq += 1
            order.seq = self._seq
        if order.side == "buy":
            bisect.insort(self._bids, (-order.price, order.seq, order.order_id))
        else:
            bisect.insort(self._asks, (order.price, order.seq, order.order_id))

    def _unrest(self, order: Order) -> None:
        if order.price is None:
            return
        book, key = (
            (self._bids, (-order.price, order.seq, order.order_id)) if order.side == "buy"
            else (self._asks, (order.price, order.seq, order.order_id))
        )
        i = bisect.bisect_left(book, key)
        if i < len(book) and book[i] == key:
            del book[i]

    def _close(self, order: Order, status: str, now: float, reason: str | None = None) -> None:
        self._unrest(order)
        order.status = status
        order.closed_at = now
        order.reason = reason
        self.open.pop(order.order_id, None)
        if order.cl_ord_id is not None:
            self._by_cl.pop(order.cl_ord_id, None)
        asset = "USD" if order.side == "buy" else "DOGE"
        self.account.release(asset, order.hold)
        order.hold = ZERO
        self.closed[order.order_id] = order
        if len(self.closed) > MAX_CLOSED_ORDERS:
            self.closed.popitem(last=False)

    def _crosses(self, side: str, price: Decimal) -> bool:
        if self.price is None:
            return False
        return price >= self.ask if side == "buy" else price <= self.bid  # type: ignore[operator]

    # ------------------------------------------------------------------ fills

    def _fill(self, order: Order, qty: Decimal, price: Decimal, liquidity: str, now: float) -> list[Event]:
        cost = q(qty * price, self.cost_decimals)
        rate = self.maker_pct if liquidity == "m" else self.taker_pct
        fee = q(cost * rate / HUNDRED, 4)
        before = order.remaining
        order.cum_qty += qty
        order.cum_cost += cost
        order.fee += fee
        complete = order.remaining <= 0
        release = order.hold if complete else (order.hold * qty / before)
        order.hold -= release
        self.account.release("USD" if order.side == "buy" else "DOGE", release)
        order.status = "filled" if complete else "partially_filled"
        exec_id = self.ids.exec_id()
        fill = Fill(exec_id=exec_id, trade_id=self.next_trade_id(), order_id=order.order_id,
                    postxid=self.ids.exec_id(), side=order.side, order_type=order.order_type, qty=qty,
                    price=price, cost=cost, fee=fee, liquidity=liquidity, ts=now,
                    order_status=self.config.completing_trade_status if complete else "partially_filled",
                    userref=order.userref, cl_ord_id=order.cl_ord_id)
        self.fills.append(fill)
        self._window_taken[order.order_id] = self._window_taken.get(order.order_id, ZERO) + qty
        order.trade_ids.append(exec_id)
        self.volume_usd += cost
        events: list[Event] = [("executions", self.elements.trade(order, fill))]
        if complete:
            self._close(order, "filled", now)
            events.append(("executions", self.elements.filled(order, now)))
        events.extend(("balances", e) for e in self.account.settle_fill(order.side, qty, cost, fee, exec_id, now))
        return events

    def _open_window(self, key: int | None, volume: Decimal | None) -> None:
        """Start a new volume window unless `key` names the current one (None: always new)."""
        if key is None or key != self._window_key:
            self._window_key = key
            self._window_volume = volume
            self._window_taken = {}

    def _budget(self, order: Order) -> Decimal | None:
        """What `order` may still fill in the current volume window (None = unlimited)."""
        share = self.config.fill_volume_share
        if share <= 0 or self._window_volume is None:
            return None
        cap = q_down(self._window_volume * share, self.qty_decimals)
        return max(ZERO, cap - self._window_taken.get(order.order_id, ZERO))

    def _take_on_arrival(self, order: Order, now: float) -> list[Event]:
        """Fill a crossing order as taker at the touch; limit orders may be volume-capped."""
        price = self.ask if order.side == "buy" else self.bid
        assert price is not None
        budget = None if order.order_type == "market" else self._budget(order)
        qty = order.remaining if budget is None else min(order.remaining, budget)
        if qty <= 0:
            return []
        return self._fill(order, qty, price, "t", now)

    def trade_to(self, price: Decimal, now: float, volume: Decimal | None = None,
                 window: tuple[int, Decimal] | None = None) -> list[Event]:
        """The market trades from the current price to `price` (with `volume`, None = unlimited).

        Every resting order inside the traded range fills at its own limit as maker, each at most
        `fill_volume_share` of the volume window: `window` = (candle time, candle volume) when this
        move is one point of a candle's path (the candle's points share it), else this move's `volume`.
        """
        events = self.check_timers(now)
        previous = self.price if self.price is not None else price
        # Prices traded by this move: from `previous` (exclusive: that trade happened before, when
        # an order resting now may not have existed) to `price`; a flat move trades at `price`.
        # A buy fills when a traded price is at or below its limit, a sell at or above.
        if price <= previous:
            bids_from, bids_strict = price, False
        else:
            bids_from, bids_strict = previous, True
        if price >= previous:
            asks_to, asks_strict = price, False
        else:
            asks_to, asks_strict = previous, True
        self.price = price
        self.last_volume = volume
        if window is None:
            self._open_window(None, volume)
        else:
            self._open_window(*window)
        if self.system_status != "online":
            return events  # no matching outside `online`
        hit: list[str] = []
        for neg_price, _, order_id in self._bids:  # best (highest) first
            if -neg_price < bids_from or (bids_strict and -neg_price == bids_from):
                break
            hit.append(order_id)
        for ask_price, _, order_id in self._asks:  # best (lowest) first
            if ask_price > asks_to or (asks_strict and ask_price == asks_to):
                break
            hit.append(order_id)
        for order_id in hit:
            order = self.open[order_id]
            assert order.price is not None
            budget = self._budget(order)
            qty = order.remaining if budget is None else min(order.remaining, budget)
            if qty > 0:
                events.extend(self._fill(order, qty, order.price, "m", now))
        return events

    def apply_candle(self, candle: Candle) -> list[Event]:
        events: list[Event] = []
        for point in candle_path(candle):
            events.extend(self.trade_to(point.price, point.ts, point.volume, (candle.time, candle.volume)))
        return events

    # ------------------------------------------------------------------ requests

    def _charge(self, cost: float, now: float) -> bool:
        return self.rate_counter.try_add(cost, now)

    def add_order(self, spec: OrderSpec, now: float, validate: bool = False,
                  rate_cost: float | None = None) -> Outcome:
        if validate:
            error = self._validate(spec)
            return Outcome(False, error=error) if error else Outcome(True, result={})
        cost = rate_limits.add_order_cost() if rate_cost is None else rate_cost
        if cost and not self._charge(cost, now):
            return Outcome(False, error=E_RATE)
        if error := self._validate(spec):
            return Outcome(False, error=error)
        return self._place(spec, now)

    def _place(self, spec: OrderSpec, now: float) -> Outcome:
        order = Order(order_id=self.ids.order_id(), side=spec.side, order_type=spec.order_type,
                      qty=q(spec.qty, self.qty_decimals), price=spec.price, post_only=spec.post_only, cl_ord_id=spec.cl_ord_id,
                      userref=spec.userref, created=now, seq=0, last_change=now)
        ref_price = spec.price if spec.price is not None else (self.ask if spec.side == "buy" else self.bid)
        assert ref_price is not None
        order.hold = self._hold_for(spec.side, spec.qty, ref_price)
        self.account.hold("USD" if spec.side == "buy" else "DOGE", order.hold)
        self.open[order.order_id] = order
        if order.cl_ord_id is not None:
            self._by_cl[order.cl_ord_id] = order.order_id
        events: list[Event] = [("executions", self.elements.pending_new(order, now))]
        result: dict[str, Any] = {"order_id": order.order_id}
        if spec.cl_ord_id is not None:
            result["cl_ord_id"] = spec.cl_ord_id
        elif spec.userref:
            result["order_userref"] = spec.userref
        crossing = spec.order_type == "market" or self._crosses(spec.side, order.price)  # type: ignore[arg-type]
        if crossing and spec.post_only:
            reason = self.config.post_only_cancel_reason
            self._close(order, "canceled", now, reason)
            events.append(("executions", self.elements.canceled(order, now, reason)))
            return Outcome(True, result=result, events=events)
        order.status = "new"
        if not crossing or self.config.emit_new_on_immediate_fill:
            events.append(("executions", self.elements.new(order, now)))
        if crossing:
            events.extend(self._take_on_arrival(order, now))
        if order.is_open:
            if order.order_type == "market":
                # Market orders never rest: an unfilled remainder is cancelled.
                self._close(order, "canceled", now, "Insufficient liquidity")
                events.append(("executions", self.elements.canceled(order, now, "Insufficient liquidity")))
            else:
                if crossing and not self.config.emit_new_on_immediate_fill:
                    events.append(("executions", self.elements.new(order, now)))
                self._rest(order)
        return Outcome(True, result=result, events=events)

    def amend_order(self, now: float, order_id: str | None = None, cl_ord_id: str | None = None,
                    qty: Decimal | None = None, price: Decimal | None = None,
                    post_only: bool = False) -> Outcome:
        order = self.find_open(order_id, cl_ord_id)
        if order is None or order.order_type != "limit" or order.price is None:
            return Outcome(False, error=E_UNKNOWN_ORDER)
        if error := self._market_closed(post_only):
            return Outcome(False, error=error)
        if not self._charge(rate_limits.amend_cost(now - order.last_change), now):
            return Outcome(False, error=E_RATE)
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if error := self._check_price(new_price):
            return Outcome(False, error=error)
        if error := self._check_qty(new_qty):
            return Outcome(False, error=error)
        if new_qty * new_price < self.min_cost:
            return Outcome(False, error=E_MIN_COST)
        crossing = self._crosses(order.side, new_price)
        if crossing and post_only:
            return Outcome(False, error=E_POST_ONLY_AMEND)
        remaining = max(ZERO, new_qty - order.cum_qty)
        new_hold = self._hold_for(order.side, remaining, new_price)
        asset = "USD" if order.side == "buy" else "DOGE"
        if new_hold - order.hold > self.account.available(asset):
            return Outcome(False, error=E_FUNDS)
        result = {"amend_id": self.ids.exec_id()}
        result.update({"order_id": order.order_id} if order_id is not None else {"cl_ord_id": order.cl_ord_id})
        # Kraken keeps queue priority where it can: same price and no larger quantity.
        keep_priority = new_price == order.price and new_qty <= order.qty
        self._unrest(order)
        self.account.release(asset, order.hold)
        self.account.hold(asset, new_hold)
        order.hold, order.qty, order.price = new_hold, q(new_qty, self.qty_decimals), new_price
        order.last_change = now
        order.amended = True
        events: list[Event] = [("executions", self.elements.amended(order, now))]
        if remaining <= 0:
            # Kraken: a quantity below the filled amount cancels the remainder.
            self._close(order, "canceled", now, "User requested")
            events.append(("executions", self.elements.canceled(order, now, "User requested")))
            return Outcome(True, result=result, events=events)
        if crossing:
            events.extend(self._take_on_arrival(order, now))
        if order.is_open:
            self._rest(order, keep_priority)
        return Outcome(True, result=result, events=events)

    def _cancel(self, order: Order, now: float, reason: str) -> list[Event]:
        self._close(order, "canceled", now, reason)
        return [("executions", self.elements.canceled(order, now, reason))]

    def cancel_order(self, now: float, order_id: str | None = None, cl_ord_id: str | None = None) -> Outcome:
        order = self.find_open(order_id, cl_ord_id)
        if order is None:
            return Outcome(False, error=E_UNKNOWN_ORDER)
        if self.system_status == "maintenance":
            return Outcome(False, error=E_UNAVAILABLE)
        if not self._charge(rate_limits.cancel_cost(now - order.last_change), now):
            return Outcome(False, error=E_RATE)
        result = {"order_id": order.order_id} if order_id is not None else {"cl_ord_id": cl_ord_id}
        return Outcome(True, result=result, events=self._cancel(order, now, "User requested"))

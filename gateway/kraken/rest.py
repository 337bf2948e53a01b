"""Signed Kraken REST client (httpx, async). Start-up and reconnect use only.

Fills are pushed over the WebSocket; this client is for what the socket cannot give: pair
rules, fee tier, balances, candle backfill, missed-fill replay, open/closed order lookups,
the WebSocket token, server time and system status. Every failure raises `KrakenApiError`
with Kraken's error strings (`KrakenTransportError` for network failures).
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import httpx

from actors.messages import Candle, ExchangeStatus, Fill, InstrumentRules, PriceTick
from gateway.kraken import codec_rest
from gateway.kraken.codec_rest import FeeRates, KrakenApiError, RestOrder, RestTrade
from gateway.kraken.signing import NONCES, NonceGenerator, Signer, make_signer, mask_key
from gateway.kraken.wire import CodecError, parse

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.kraken.com"
# Answers that mean "too fast, try again later" (REST call counter, concurrent-request throttle).
_RETRY_LATER = ("EAPI:Rate limit exceeded", "EService: Throttled", "EService:Throttled")


class KrakenTransportError(KrakenApiError):
    """The request never got a Kraken answer (connect/read timeout, HTTP error, bad JSON)."""


class KrakenRest:
    """Async REST client. The API secret is turned into a signing closure and not kept."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        timeout_s: float = 5.0,
        nonces: NonceGenerator = NONCES,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit_retries: int = 4,
        rate_limit_wait_s: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # A refused call still counts on Kraken's counter: wait 2, 4, 8, 16 s before retrying.
        self._retries = rate_limit_retries
        self._retry_wait_s = rate_limit_wait_s
        self._api_key = api_key
        self._sign: Signer | None = make_signer(api_secret) if api_secret else None
        self._nonces = nonces
        # Short timeouts: these calls run at start-up / reconnect and must not hang them.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            transport=transport,
            headers={"User-Agent": "dogebot-gateway/0.1"},
        )

    def __repr__(self) -> str:
        return f"KrakenRest(base_url={self.base_url!r}, api_key={mask_key(self._api_key)!r})"

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        return bool(self._api_key and self._sign)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def public(self, method: str, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = await self._http.get(f"/0/public/{method}", params=params or {})
        except httpx.HTTPError as exc:
            raise KrakenTransportError(method, [f"EGateway:{type(exc).__name__}"]) from None
        return self._result(method, resp)

    async def private(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A signed call; retried (bounded, growing waits) while Kraken says it is rate limited,
        so a multi-page replay after a long outage is slowed down rather than lost."""
        attempt = 0
        while True:
            try:
                return await self._private_once(method, params)
            except KrakenTransportError:
                raise
            except KrakenApiError as exc:
                if attempt >= self._retries or not any(e.startswith(_RETRY_LATER) for e in exc.errors):
                    raise
                wait = min(30.0, self._retry_wait_s * 2**attempt)
                log.warning("kraken REST %s: %s; retrying in %.1fs", method, exc.errors[0], wait)
            attempt += 1
            await asyncio.sleep(wait)

    async def _private_once(self, method: str, params: dict[str, Any] | None) -> Any:
        if not self.has_credentials:
            raise KrakenApiError(method, ["EGateway:no API credentials configured"])
        path = f"/0/private/{method}"
        nonce = str(self._nonces.next())
        # The signature covers the exact body bytes sent, nonce included, so build it once.
        body = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
        assert self._sign is not None and self._api_key is not None
        headers = {
            "API-Key": self._api_key,
            "API-Sign": self._sign(path, nonce, body),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        }
        try:
            resp = await self._http.post(path, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise KrakenTransportError(method, [f"EGateway:{type(exc).__name__}"]) from None
        return self._result(method, resp)

    @staticmethod
    def _result(method: str, resp: httpx.Response) -> Any:
        try:
            body = parse(resp.content)
        except CodecError:
            raise KrakenTransportError(method, [f"EGateway:HTTP {resp.status_code} without JSON body"]) from None
        # Kraken answers most errors with HTTP 200 and a non-empty `error` array.
        return codec_rest.result_of(method, body)

    # ------------------------------------------------------------------ public endpoints

    async def asset_pairs(self, pair: str = "XDGUSD", symbol: str = "DOGE/USD") -> InstrumentRules:
        return codec_rest.asset_pair_rules(await self.public("AssetPairs", {"pair": pair}), symbol, pair)

    async def ohlc(
        self, pair: str = "XDGUSD", interval_min: int = 5, since: int | None = None, symbol: str = "DOGE/USD"
    ) -> tuple[list[Candle], int]:
        """Closed candles (the forming last row is dropped) and the `last` cursor for `since`."""
        params: dict[str, Any] = {"pair": pair, "interval": interval_min}
        if since is not None:
            params["since"] = since
        result = await self.public("OHLC", params)
        candles, last = codec_rest.ohlc(result, symbol, interval_min, pair)
        if since is not None:
            # Whether `since` is inclusive is unconfirmed: drop anything not after the cursor.
            candles = [c for c in candles if c.begin_ts > since]
        return candles, last

    async def ticker(self, pair: str = "XDGUSD", symbol: str = "DOGE/USD") -> PriceTick:
        return codec_rest.ticker(await self.public("Ticker", {"pair": pair}), symbol, time.time(), pair)

    async def server_time(self) -> float:
        return codec_rest.server_time(await self.public("Time"))

    async def system_status(self) -> ExchangeStatus:
        return codec_rest.system_status(await self.public("SystemStatus"), time.time())

    # ------------------------------------------------------------------ private endpoints

    async def websockets_token(self) -> str:
        return codec_rest.ws_token(await self.private("GetWebSocketsToken"))

    async def balance(self) -> dict[str, float]:
        return codec_rest.balances(await self.private("Balance"))

    async def trade_volume(self, pair: str = "XDGUSD") -> FeeRates:
        return codec_rest.fee_rates(await self.private("TradeVolume", {"pair": pair}), pair)

    async def open_orders(self) -> list[RestOrder]:
        return codec_rest.open_orders(await self.private("OpenOrders"))

    async def query_orders(self, txids: Sequence[str]) -> list[RestOrder]:
        out: list[RestOrder] = []
        ids = list(dict.fromkeys(txids))
        for i in range(0, len(ids), 50):  # Kraken takes at most 50 ids per call
            result = await self.private("QueryOrders", {"txid": ",".join(ids[i : i + 50]), "trades": "false"})
            out.extend(codec_rest.orders(result))
        return out

    async def trades_history(self, start: float | None = None, max_pages: int = 20) -> list[RestTrade]:
        """Every trade after `start` (unix s, exclusive), paging with `ofs` (50 per page).

        Pages are newest first, so a trade made while paging shifts older ones to the next
        page: repeats are dropped by trade id."""
        trades: dict[str, RestTrade] = {}
        ofs = 0
        for _page in range(max_pages):
            params: dict[str, Any] = {"ofs": ofs}
            if start is not None:
                params["start"] = f"{start:.4f}"
            page, count = codec_rest.trades(await self.private("TradesHistory", params))
            ofs += len(page)
            trades.update((t.exec_id, t) for t in page if t.exec_id not in trades)
            if not page or ofs >= count:
                return list(trades.values())
        log.warning("TradesHistory: stopped after %d pages (%d trades); older trades not replayed", max_pages, len(trades))
        return list(trades.values())

    async def order_owners(self, txids: Sequence[str]) -> dict[str, str | None]:
        """order id -> cl_ord_id (QueryOrders), for fills whose owner the socket did not name."""
        return {o.order_id: o.cl_ord_id for o in await self.query_orders(txids)}

    async def cancel_all_orders_after(self, timeout_s: int) -> None:
        """The dead man's switch over REST; the gateway uses it to disarm (0) when offline."""
        await self.private("CancelAllOrdersAfter", {"timeout": int(timeout_s)})

    async def missed_fills(self, start: float | None = None, max_pages: int = 20) -> list[Fill]:
        """Replay: fills after `start` as Fill(snapshot=True), oldest first, with owners.

        QueryOrders supplies cl_ord_id, order_qty and vol_exec so cum_qty/final are exact.
        """
        trades = await self.trades_history(start, max_pages)
        if not trades:
            return []
        known = {o.order_id: o for o in await self.query_orders([t.order_id for t in trades])}
        return codec_rest.replay_fills(trades, known)

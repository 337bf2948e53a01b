"""Trading rules of the one market this bot trades (Kraken spot DOGE/USD).

The defaults match Kraken's AssetPairs recording for XDGUSD (see docs/decisions.md):
ordermin 50 DOGE, costmin 0.5 USD, 7 price decimals, 8 volume decimals. Fees are percent,
as Kraken reports them (0.25 means 0.25 %). The live values are read at start-up from
AssetPairs / TradeVolume and replace these.
"""

from __future__ import annotations

import math

import msgspec

REST_PAIR = "XDGUSD"
WS_SYMBOL = "DOGE/USD"
REST_BASE_ASSET = "XXDG"
REST_QUOTE_ASSET = "ZUSD"
WS_BASE_ASSET = "DOGE"
WS_QUOTE_ASSET = "USD"


class PairRules(msgspec.Struct, frozen=True, kw_only=True):
    """Exchange constraints and fee rates for DOGE/USD."""

    min_volume: float = 50.0
    min_cost_usd: float = 0.5
    price_decimals: int = 7
    volume_decimals: int = 8
    cost_decimals: int = 9
    maker_fee_pct: float = 0.25
    taker_fee_pct: float = 0.40

    @property
    def price_tick(self) -> float:
        return 10.0 ** -self.price_decimals

    @property
    def volume_step(self) -> float:
        return 10.0 ** -self.volume_decimals

    def round_price(self, price: float) -> float:
        return round(price, self.price_decimals)

    def floor_volume(self, volume: float) -> float:
        """Round a volume down to the exchange step (never upsizes an order)."""
        step = 10 ** self.volume_decimals
        # The small epsilon absorbs float noise such as 49.99999999999 for 50.
        return math.floor(volume * step + 1e-6) / step

    def round_volume(self, volume: float) -> float:
        return round(volume, self.volume_decimals)

    def meets_minimums(self, volume: float, price: float) -> bool:
        return volume + 1e-12 >= self.min_volume and volume * price + 1e-12 >= self.min_cost_usd

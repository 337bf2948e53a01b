"""The simulated account: balances, funds held by open orders, and ledger entries per fill.

Balances are kept in the assets' own precision (USD 4 decimals, DOGE 8, as Kraken's Assets
endpoint lists them), so a fill's quote leg is rounded to 4 decimals exactly as Kraken's ledger
shows it (`-15.2400`). Holds never appear on the `balances` channel (Kraken reports totals only);
they are visible through REST `BalanceEx` as `hold_trade`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.sim.wire import ZERO, IdFactory, fmt, q, rfc3339

ASSET_DECIMALS = {"USD": 4, "DOGE": 8}
REST_ASSET = {"USD": "ZUSD", "DOGE": "XXDG"}
# Kraken's balances snapshot lists assets alphabetically (fixture: DOGE then USD).
ASSETS = ("DOGE", "USD")


class Account:
    def __init__(self, usd: Decimal, doge: Decimal, ids: IdFactory) -> None:
        self.total: dict[str, Decimal] = {"USD": q(usd, 4), "DOGE": q(doge, 8)}
        self.held: dict[str, Decimal] = {"USD": ZERO, "DOGE": ZERO}
        self._ids = ids

    def available(self, asset: str) -> Decimal:
        return self.total[asset] - self.held[asset]

    def hold(self, asset: str, amount: Decimal) -> None:
        self.held[asset] += amount

    def release(self, asset: str, amount: Decimal) -> None:
        # Clamp: proportional releases can leave a rounding crumb; never go negative.
        self.held[asset] = max(ZERO, self.held[asset] - amount)

    def _entry(self, ref_id: str, ts: float, asset: str, amount: Decimal, fee: Decimal) -> dict[str, Any]:
        return {
            "ledger_id": self._ids.ledger_id(),
            "ref_id": ref_id,
            "timestamp": rfc3339(ts),
            "type": "trade",
            "asset": asset,
            "asset_class": "currency",
            "category": "trade",
            "wallet_type": "spot",
            "wallet_id": "main",
            "amount": amount,
            "fee": fee,
            "balance": self.total[asset],
        }

    def settle_fill(self, side: str, qty: Decimal, cost: Decimal, fee: Decimal, ref_id: str,
                    ts: float) -> list[dict[str, Any]]:
        """Move the assets of one fill and return its two ledger entries (base leg, quote leg).

        `fee` is already rounded to USD precision and is charged in USD (Kraken's default
        `fciq` preference on USD pairs). New balance = old + amount - fee, as on Kraken.
        """
        usd_amount = q(cost, 4)
        sign = Decimal(1) if side == "buy" else Decimal(-1)
        self.total["DOGE"] = q(self.total["DOGE"] + sign * qty, 8)
        doge_entry = self._entry(ref_id, ts, "DOGE", q(sign * qty, 8), ZERO)
        self.total["USD"] = q(self.total["USD"] - sign * usd_amount - fee, 4)
        usd_entry = self._entry(ref_id, ts, "USD", q(-sign * usd_amount, 4), fee)
        return [doge_entry, usd_entry]

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {"asset": asset, "asset_class": "currency", "balance": self.total[asset],
             "wallets": [{"type": "spot", "id": "main", "balance": self.total[asset]}]}
            for asset in ASSETS
        ]

    def rest_balance(self) -> dict[str, str]:
        return {REST_ASSET[a]: fmt(self.total[a], ASSET_DECIMALS[a]) for a in ("USD", "DOGE")}

    def rest_balance_ex(self) -> dict[str, dict[str, str]]:
        return {
            REST_ASSET[a]: {"balance": fmt(self.total[a], ASSET_DECIMALS[a]),
                            "hold_trade": fmt(self.held[a], ASSET_DECIMALS[a])}
            for a in ("USD", "DOGE")
        }

"""Reference data of the one simulated market: REST Assets / AssetPairs and the WS instrument channel.

Values follow the recordings in the fixtures (`rest_assetpairs_xdgusd.json`,
`rest_assets_xxdg_zusd.json`, `ws_instrument_snapshot_doge.json`), with the pair rules taken from
the simulator's configuration so a test can run the sim with other minimums.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.market import REST_PAIR, WS_SYMBOL
from gateway.sim.config import SimConfig

# Every name a client might use for the pair, mapped to how Kraken would echo it back.
PAIR_ALIASES = {"XDGUSD": "XDGUSD", "XXDGZUSD": "XDGUSD", "DOGEUSD": "XDGUSD", "XDG/USD": "XDGUSD",
                "DOGE/USD": "DOGE/USD"}
ASSET_ALIASES = {"XDG": "XXDG", "XXDG": "XXDG", "DOGE": "XXDG", "USD": "ZUSD", "ZUSD": "ZUSD"}


def _num(value: float) -> str:
    text = f"{Decimal(repr(value)).normalize():f}"
    return text


def asset_pair(config: SimConfig) -> dict[str, Any]:
    rules = config.rules
    return {
        "altname": REST_PAIR, "wsname": "XDG/USD", "aclass_base": "currency", "base": "XXDG",
        "aclass_quote": "currency", "quote": "ZUSD", "lot": "unit", "cost_decimals": rules.cost_decimals,
        "pair_decimals": rules.price_decimals, "lot_decimals": rules.volume_decimals, "lot_multiplier": 1,
        "leverage_buy": [2, 3, 4, 5, 6, 7, 8, 9, 10], "leverage_sell": [2, 3, 4, 5, 6, 7, 8, 9, 10],
        "fees": [], "fees_maker": [], "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
        "ordermin": _num(rules.min_volume), "costmin": _num(rules.min_cost_usd),
        "tick_size": f"{Decimal(1).scaleb(-rules.price_decimals):f}", "status": "online",
        "execution_venue": "international", "long_position_limit": 30000000, "short_position_limit": 30000000,
    }


ASSETS: dict[str, dict[str, Any]] = {
    "XXDG": {"aclass": "currency", "altname": "XDG", "decimals": 8, "display_decimals": 2,
             "collateral_value": 0.925, "status": "enabled", "margin_rate": "0.02"},
    "ZUSD": {"aclass": "currency", "altname": "USD", "decimals": 4, "display_decimals": 2,
             "collateral_value": 1.0, "status": "enabled", "margin_rate": "0.036"},
}


def instrument_data(config: SimConfig) -> dict[str, Any]:
    rules = config.rules
    tick = Decimal(1).scaleb(-rules.price_decimals)
    step = Decimal(1).scaleb(-rules.volume_decimals)
    return {
        "assets": [
            {"id": "USD", "status": "enabled", "precision": 4, "precision_display": 2, "borrowable": True,
             "collateral_value": Decimal("1.0"), "margin_rate": Decimal("0.015")},
            {"id": "DOGE", "status": "enabled", "precision": 8, "precision_display": 2, "borrowable": True,
             "collateral_value": Decimal("0.925"), "margin_rate": Decimal("0.02")},
        ],
        "pairs": [
            {"symbol": WS_SYMBOL, "base": "DOGE", "quote": "USD", "status": "online",
             "qty_precision": rules.volume_decimals, "qty_increment": step,
             "price_precision": rules.price_decimals, "cost_precision": rules.cost_decimals,
             "marginable": True, "has_index": True, "cost_min": Decimal(repr(rules.min_cost_usd)),
             "margin_initial": Decimal("0.2"), "position_limit_long": 30000000,
             "position_limit_short": 30000000, "tick_size": tick, "price_increment": tick,
             "qty_min": Decimal(repr(rules.min_volume))},
        ],
    }


def status_data(system: str, connection_id: int) -> dict[str, Any]:
    return {"api_version": "v2", "connection_id": connection_id, "system": system, "version": "2.0.0"}

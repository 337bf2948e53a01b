"""Configuration of the simulated exchange.

Every Kraken behaviour that kraken-api.md marks *unconfirmed* is a field here, so the simulator
can be switched to the other plausible behaviour without code changes (docs/simulator.md lists
them with the chosen defaults).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from core.market import PairRules
from core.rate_limits import Tier

ClockMode = Literal["realtime", "speed", "fast", "manual"]

# The 48 days of real DOGE 1-minute candles shipped with the package (see docs/simulator.md).
BUNDLED_DATA_FILE = str(Path(__file__).resolve().parent / "data" / "dogeusd_1m_2021-04-02_2021-05-19.csv.gz")


@dataclass(frozen=True, slots=True)
class SimConfig:
    # ------------------------------------------------------------------ network
    host: str = "127.0.0.1"
    public_port: int = 0  # 0 = pick a free port
    private_port: int = 0
    rest_port: int = 0
    # ------------------------------------------------------------------ account
    api_key: str | None = None  # generated when None
    api_secret: str | None = None  # base64; generated when None
    usd: Decimal = Decimal("1000")
    doge: Decimal = Decimal("5000")
    rules: PairRules = field(default_factory=PairRules)
    open_order_limit: int = 225
    rate_tier: Tier = Tier.PRO
    # ------------------------------------------------------------------ market data
    data_file: str | None = None  # candles CSV (plain or .gz); None = synthetic feed
    seed: int = 1  # synthetic feed and id generation
    start_price: Decimal = Decimal("0.12")  # synthetic feed
    start_time: float | None = None  # synthetic feed's first candle; None = wall clock minute
    # realtime: 1 candle per minute; speed: `speed` x real time; fast: as fast as every connected
    # client drains its frames; manual: only when the caller advances (tests, backtests).
    clock: ClockMode = "manual"
    speed: float = 1.0  # virtual seconds per wall second in "speed" mode
    spread_ticks: int = 1  # bid = price - n ticks, ask = price + n ticks
    # ------------------------------------------------------------------ matching
    # An order fills at most this share of the traded volume of each price segment (a candle is
    # replayed as 4 segments); the remainder rests and fills later. 0 disables the limit.
    fill_volume_share: Decimal = Decimal("0.1")
    # ------------------------------------------------------------------ unconfirmed behaviours
    post_only_cancel_reason: str = "Post only order"
    # Too many price decimals: the reference names "EOrder:Tick size check failed"; clients have
    # also observed "EOrder:Invalid price:<pair> price can only be specified up to 7 decimals."
    price_precision_error: str = "EOrder:Tick size check failed"
    dms_cancel_reason: str = "User requested"  # reason on orders cancelled by the dead man's switch
    snapshot_open_order_exec_type: str = "new"
    emit_new_on_immediate_fill: bool = False  # taker order filled on arrival: send `new` first?
    cl_ord_id_on_all_events: bool = False  # else only on pending_new and snapshots
    completing_trade_status: str = "filled"  # order_status on the trade that completes an order
    batch_cancel_response: Literal["docs", "observed"] = "docs"
    rest_heavy_cost: float = 2.0  # REST counter cost of TradesHistory / Ledgers
    # ------------------------------------------------------------------ connections
    ws_token_ttl_s: float = 900.0
    idle_timeout_s: float = 60.0  # 0 disables dropping silent clients
    heartbeat_interval_s: float = 1.0
    system_status: str = "online"

    def __post_init__(self) -> None:
        # Accept floats, ints and strings for the money fields (the bot's settings are floats):
        # the engine does exact Decimal arithmetic, so normalise through str().
        for name in ("usd", "doge", "start_price", "fill_volume_share"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                object.__setattr__(self, name, Decimal(str(value)))
        object.__setattr__(self, "rate_tier", Tier(self.rate_tier))
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"the simulator binds loopback addresses only, not {self.host}")
        if self.clock not in ("realtime", "speed", "fast", "manual"):
            raise ValueError(f"unknown clock mode {self.clock!r}")
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.system_status not in ("online", "maintenance", "cancel_only", "post_only"):
            raise ValueError(f"unknown system status {self.system_status!r}")
        if self.start_price <= 0:
            raise ValueError("start_price must be positive")
        if self.usd < 0 or self.doge < 0 or self.fill_volume_share < 0:
            raise ValueError("balances and fill_volume_share must not be negative")

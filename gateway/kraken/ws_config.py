"""Configuration of the Kraken WebSocket client and its reconnect backoff (see docs/gateway.md)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

# 2**60 times any sane initial delay is beyond any cap; a larger exponent would overflow a float
# after about a thousand failed attempts (hours of outage) and kill the reconnect loop.
_MAX_BACKOFF_EXPONENT = 60


@dataclass(frozen=True)
class WsConfig:
    public_url: str | None = "wss://ws.kraken.com/v2"
    private_url: str | None = "wss://ws-auth.kraken.com/v2"
    symbol: str = "DOGE/USD"
    ohlc_interval_min: int = 5
    ticker_event_trigger: str = "bbo"  # or "trades"
    subscribe_instrument: bool = True
    heartbeat_timeout_s: float = 10.0  # no frame at all for this long -> the socket is dead
    ping_interval_s: float = 15.0
    request_timeout_s: float = 5.0  # add/cancel/amend ack and subscribe ack deadline
    open_timeout_s: float = 5.0
    close_timeout_s: float = 1.0
    dms_timeout_s: int = 60  # cancel_all_orders_after timeout; 0 disables the switch
    dms_refresh_s: float = 20.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5  # each delay is scaled by uniform(1 - jitter, 1)
    max_reconnects: int | None = None  # per socket; None = keep trying (bounded delay)
    stable_after_s: float = 30.0  # a session shorter than this still counts as a failure for backoff
    # Kraken bans an IP for 10 min above ~150 (re)connections per 10 min (both sockets counted).
    max_connects_per_10min: int = 100
    # A gap in the executions sequence (documented as per subscription) means reports were lost:
    # reconnect to get a fresh snapshot, at most once per `gap_resync_min_interval_s`.
    resync_on_sequence_gap: bool = True
    gap_resync_min_interval_s: float = 60.0
    price_decimals: int = 7
    volume_decimals: int = 8
    exec_id_window: int = 20_000


def backoff_delay(failures: int, cfg: WsConfig, rng: random.Random) -> float:
    """Jittered exponential backoff: a first retry right after a healthy session ended is
    quick (Kraken suggests reconnecting at once after a random drop), repeated failures wait
    up to `backoff_max_s`, however many there were."""
    exponent = min(max(0, failures - 1), _MAX_BACKOFF_EXPONENT)
    delay = min(cfg.backoff_max_s, cfg.backoff_initial_s * 2.0**exponent)
    return delay * rng.uniform(1.0 - cfg.backoff_jitter, 1.0)


class QuietFrameLog(logging.LoggerAdapter[logging.Logger]):
    """The logger handed to websockets: never enabled for DEBUG.

    At DEBUG websockets logs every frame it sends, and our requests carry the WS token inside
    `params` (only the middle of long frames is elided, so the token's tail would show).
    Connection-level messages at INFO and above still go to `gateway.kraken.websockets`.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs  # keep websockets' own `extra` (the base class would replace it)


FRAME_LOG = QuietFrameLog(logging.getLogger("gateway.kraken.websockets"), {})

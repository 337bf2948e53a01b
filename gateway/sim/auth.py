"""Private-API authentication: API-Sign verification, nonces, the REST call counter, WS tokens.

The signature is Kraken's (kraken-api.md §4.2): HMAC-SHA512 keyed with the base64-decoded secret
over `uri_path + SHA256(nonce + postdata)`, base64-encoded. It is checked over the raw body bytes
exactly as received, so form-encoded and JSON bodies both work.

Connection-level limits (REST counter, token lifetime) follow the wall clock (`time.monotonic`)
even when trading runs on a virtual clock: a paused backtest must not lock a client out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from core import rate_limits
from core.rate_limits import DecayingCounter, Tier

E_INVALID_KEY = "EAPI:Invalid key"
E_INVALID_SIGNATURE = "EAPI:Invalid signature"
E_INVALID_NONCE = "EAPI:Invalid nonce"
E_REST_RATE = "EAPI:Rate limit exceeded"
E_INVALID_SESSION = "ESession:Invalid session"


def sign(path: str, body: bytes, nonce: str, secret_b64: str) -> str:
    """Kraken's API-Sign for `body` posted to `path` (used by tests and the paper CLI)."""
    digest = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(secret_b64), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def generate_credentials() -> tuple[str, str]:
    """A Kraken-looking API key (56 chars) and a base64 secret of 64 random bytes."""
    key = base64.b64encode(secrets.token_bytes(42)).decode()
    secret = base64.b64encode(secrets.token_bytes(64)).decode()
    return key, secret


class RestAuth:
    """Checks one configured key; tracks its nonce and REST call counter."""

    def __init__(self, api_key: str, api_secret: str, tier: Tier, heavy_cost: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self._secret = base64.b64decode(api_secret, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("api_secret must be base64") from exc
        self.api_key = api_key
        self.api_secret = api_secret
        self.last_nonce = 0
        self.counter: DecayingCounter = rate_limits.rest_counter(tier)
        self._heavy_cost = heavy_cost
        self._clock = clock

    def verify(self, path: str, headers: dict[str, str], body: bytes, nonce: str | None) -> str | None:
        """None when the request is authentic and fresh, else Kraken's error string."""
        key = headers.get("api-key")
        if key is None or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return E_INVALID_KEY
        signature = headers.get("api-sign", "")
        if nonce is None or not nonce.isdigit():
            return E_INVALID_NONCE
        digest = hashlib.sha256(nonce.encode() + body).digest()
        expected = base64.b64encode(hmac.new(self._secret, path.encode() + digest, hashlib.sha512).digest())
        if not hmac.compare_digest(expected, signature.encode()):
            return E_INVALID_SIGNATURE
        value = int(nonce)
        if value <= self.last_nonce:
            return E_INVALID_NONCE
        self.last_nonce = value
        return None

    def charge(self, method: str) -> str | None:
        """Apply the REST call counter; a refused call still counts (Kraken keeps you blocked longer)."""
        cost = rate_limits.rest_call_cost(method, heavy_cost=self._heavy_cost)
        if cost == 0:
            return None
        now = self._clock()
        refused = self.counter.would_exceed(cost, now)
        self.counter.add(cost, now)
        # Bound the lockout: hammering can add at most one extra threshold's worth of penalty.
        self.counter.value = min(self.counter.value, 2 * self.counter.limits.threshold)
        return E_REST_RATE if refused else None


class TokenStore:
    """WS tokens from GetWebSocketsToken (kraken-api.md §1.2).

    A token must be used within the TTL of its creation. A connection that used it in time may go
    on using it for as long as it lives (`bound`: the tokens that connection already used); a new
    connection needs a token that is still within its TTL, as on Kraken, where a client must fetch
    a fresh token for each new connection.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._issued: dict[str, float] = {}  # insertion order = issue order (monotonic clock)

    def issue(self) -> str:
        now = self._clock()
        # Forget tokens past their TTL (bounded: stops at the first fresh one). Connections that
        # bound them keep their own copy.
        for token, issued_at in list(self._issued.items()):
            if now - issued_at <= self._ttl:
                break
            del self._issued[token]
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self._issued[token] = now
        return token

    def check(self, token: object, bound: set[str] | None = None) -> bool:
        """Whether `token` is valid; with `bound` (one connection's tokens), binds it there on success."""
        if not isinstance(token, str):
            return False
        if bound is not None and token in bound:
            return True
        issued_at = self._issued.get(token)
        if issued_at is None or self._clock() - issued_at > self._ttl:
            return False
        if bound is not None:
            bound.add(token)
        return True

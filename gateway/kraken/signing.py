"""Kraken REST request signing (API-Key / API-Sign) and the shared nonce generator.

The secret is decoded once into a closure inside `make_signer`; nothing else in the process
holds it, so no repr, log line or exception can show it. The signature is
`base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + body)))` over the exact
body bytes that are sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

Signer = Callable[[str, str, str], str]
"""signer(uri_path, nonce, body) -> API-Sign header value."""


class SigningError(ValueError):
    """The API secret is unusable. Never carries the secret itself."""


def make_signer(api_secret: str) -> Signer:
    """Return a function that signs requests with `api_secret`.

    The decoded key lives only in this closure. A malformed secret raises `SigningError`
    without echoing the value (binascii's message would include part of it).
    """
    try:
        key = base64.b64decode(api_secret.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise SigningError("API secret is not valid base64") from None
    if not key:
        raise SigningError("API secret is empty")

    def sign(uri_path: str, nonce: str, body: str) -> str:
        inner = hashlib.sha256((nonce + body).encode()).digest()
        mac = hmac.new(key, uri_path.encode() + inner, hashlib.sha512)
        return base64.b64encode(mac.digest()).decode()

    sign.__qualname__ = sign.__name__ = "kraken_signer"
    return sign


class NonceGenerator:
    """Strictly increasing nonces (nanoseconds since the epoch), safe across threads.

    Kraken rejects a nonce that is not larger than the last one seen for the key, so every
    REST client in the process must draw from the same generator (`NONCES`). A wall clock that
    steps backwards still yields increasing values because we never go below last + 1.
    """

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            value = max(self._clock_ns(), self._last + 1)
            self._last = value
            return value


NONCES = NonceGenerator()
"""The process-wide nonce source shared by every REST client."""


def mask_key(api_key: str | None) -> str:
    """A loggable stand-in for an API key: its first four characters only."""
    if not api_key:
        return "<none>"
    return f"{api_key[:4]}…"

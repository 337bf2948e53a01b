"""Test helpers for the simulated exchange: a blocking WS client, a signed REST client, shape checks."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from gateway.sim.auth import sign
from gateway.sim.wire import encode_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kraken"
DATA = Path(__file__).resolve().parents[1] / "data"
RANGING_CSV = DATA / "doge_1m_ranging_2021-04-02_3d.csv"
WAIT_S = 5.0
KRAKEN_ID = re.compile(r"^[A-Z0-9]{6}-[A-Z0-9]{5}-[A-Z0-9]{6}$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


def assert_shape(actual: Any, expected: Any, extra: frozenset[str] | set[str] = frozenset(), path: str = "$") -> None:
    """`actual` has exactly `expected`'s keys (plus allowed `extra`) with the same JSON types, recursively."""
    kind_a, kind_e = _kind(actual), _kind(expected)
    # A JSON integer is a valid rendering of a number the fixture wrote with a decimal point.
    if not (kind_a == kind_e or (kind_e == "number" and kind_a == "int")):
        raise AssertionError(f"{path}: expected {kind_e}, got {kind_a} ({actual!r})")
    if kind_e == "dict" and expected and all(KRAKEN_ID.match(k) for k in expected):
        _assert_id_map(actual, expected, extra, path)
    elif kind_e == "dict":
        missing = set(expected) - set(actual)
        unexpected = set(actual) - set(expected) - set(extra)
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        assert not unexpected, f"{path}: unexpected keys {sorted(unexpected)}"
        for key in expected:
            assert_shape(actual[key], expected[key], extra, f"{path}.{key}")
    elif kind_e == "list" and expected and actual:
        for i, item in enumerate(actual):
            assert_shape(item, expected[min(i, len(expected) - 1)], extra, f"{path}[{i}]")


def _assert_id_map(actual: dict[str, Any], expected: dict[str, Any], extra: frozenset[str] | set[str],
                   path: str) -> None:
    """A map keyed by Kraken ids: every value must fit the fixture's values (keys present in all of them
    are required, keys present in some are allowed)."""
    samples = list(expected.values())
    required = set.intersection(*(set(v) for v in samples))
    allowed = set.union(*(set(v) for v in samples)) | set(extra)
    for key, value in actual.items():
        assert KRAKEN_ID.match(key), f"{path}: {key!r} is not a Kraken id"
        assert required <= set(value), f"{path}.{key}: missing keys {sorted(required - set(value))}"
        assert set(value) <= allowed, f"{path}.{key}: unexpected keys {sorted(set(value) - allowed)}"
        for field_name, field_value in value.items():
            model = next((v[field_name] for v in samples if field_name in v), None)
            if model is not None:
                assert_shape(field_value, model, extra, f"{path}.{key}.{field_name}")


class WsClient:
    """Blocking WebSocket client that keeps every frame it read, so tests can look back."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url, compression=None, open_timeout=WAIT_S, close_timeout=1)
        self.frames: list[Any] = []
        self.raw: list[str] = []
        self._req = 1000

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(encode_text(message))

    def recv(self, timeout: float = WAIT_S) -> Any:
        text = self.ws.recv(timeout=timeout)
        self.raw.append(text)
        try:
            msg = json.loads(text, parse_float=Decimal)
        except ValueError:
            msg = {"malformed": text}
        self.frames.append(msg)
        return msg

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
        """Read until a frame satisfies `predicate` (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching frame")
            msg = self.recv(remaining)
            if predicate(msg):
                return msg

    def collect(self, predicate: Callable[[Any], bool], count: int, timeout: float = WAIT_S) -> list[Any]:
        return [self.wait_for(predicate, timeout) for _ in range(count)]

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = WAIT_S) -> Any:
        self._req += 1
        req_id = self._req
        message: dict[str, Any] = {"method": method, "req_id": req_id}
        if params is not None:
            message["params"] = params
        self.send(message)
        reply_method = "pong" if method == "ping" else method
        return self.wait_for(lambda m: m.get("method") == reply_method and m.get("req_id") == req_id, timeout)

    def requests(self, method: str, params: dict[str, Any], count: int) -> list[Any]:
        """A request answered by `count` messages (e.g. one per symbol or per cancelled order)."""
        self._req += 1
        req_id = self._req
        self.send({"method": method, "params": params, "req_id": req_id})
        return self.collect(lambda m: m.get("method") == method and m.get("req_id") == req_id, count)

    def channel(self, name: str, kind: str | None = None, timeout: float = WAIT_S) -> Any:
        return self.wait_for(lambda m: m.get("channel") == name and (kind is None or m.get("type") == kind),
                             timeout)

    def close(self) -> None:
        self.ws.close()


def is_exec(exec_type: str, order_id: str | None = None) -> Callable[[Any], bool]:
    def check(msg: Any) -> bool:
        if msg.get("channel") != "executions" or msg.get("type") != "update":
            return False
        el = msg["data"][0]
        return el["exec_type"] == exec_type and (order_id is None or el["order_id"] == order_id)

    return check


class RestClient:
    """Signs private calls like a Kraken client (form bodies by default, JSON on request)."""

    def __init__(self, base_url: str, key: str, secret: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=WAIT_S)
        self.key = key
        self.secret = secret
        self._nonce = time.time_ns()

    def nonce(self) -> int:
        self._nonce += 1
        return self._nonce

    def public(self, method: str, raw: bool = False, **params: Any) -> Any:
        reply = self.http.get(f"/0/public/{method}", params=params)
        return reply.json() if raw else reply.json(parse_float=Decimal)

    def private(self, method: str, as_json: bool = False, nonce: int | None = None, secret: str | None = None,
                key: str | None = None, **params: Any) -> Any:
        path = f"/0/private/{method}"
        data = {"nonce": str(self.nonce() if nonce is None else nonce), **{k: str(v) for k, v in params.items()}}
        if as_json:
            body = json.dumps(data).encode()
            content_type = "application/json"
        else:
            body = urllib.parse.urlencode(data).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {"API-Key": key or self.key, "API-Sign": sign(path, body, data["nonce"], secret or self.secret),
                   "Content-Type": content_type}
        return self.http.post(path, content=body, headers=headers).json(parse_float=Decimal)

    def close(self) -> None:
        self.http.close()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(interval)

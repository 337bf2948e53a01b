"""GatewayPort charges Kraken's REST call counter for every request a port call really makes."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from actors.venues import GatewayPort


class FakeGateway:
    """Stands in for the gateway actor's `.proxy().rest(...)`: answers at once."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def proxy(self) -> FakeGateway:
        return self

    def rest(self, name: str, *args: Any) -> FakeGateway:
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._future.set_result(self.answer(name, *args))
        return self

    def get(self, timeout: float | None = None) -> concurrent.futures.Future[Any]:
        return self._future


def _port(answer: Any) -> GatewayPort:
    return GatewayPort(FakeGateway(answer), tier="pro", clock=lambda: 1000.0)  # type: ignore[arg-type]


def test_query_orders_is_charged_per_request_of_fifty_ids() -> None:
    port = _port(lambda name, *args: [])
    port.call("query_orders", [f"O{i}" for i in range(120)])
    assert port.rest_calls == 3
    assert port.counter.value_at(1000.0) == 3.0


def test_missed_fills_pages_are_charged_after_the_fact() -> None:
    port = _port(lambda name, *args: list(range(130)))  # 130 fills: three TradesHistory pages
    port.call("missed_fills", 0.0)
    one = 2 + 1  # TradesHistory (heavy, 2) + QueryOrders (1)
    assert port.counter.value_at(1000.0) == 3 * one
    assert port.rest_calls == 3 * 2

"""Fixtures: one SimExchange per test module (manual clock), fresh clients per test."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from gateway.sim.config import SimConfig
from gateway.sim.server import SimExchange
from gateway.sim.venue import Venue
from gateway.sim.wire import q
from tests.sim.helpers import RANGING_CSV, RestClient, WsClient

START_USD = Decimal("1000")
START_DOGE = Decimal("5000")


def make_sim(**overrides: object) -> SimExchange:
    settings: dict[str, object] = {"data_file": str(RANGING_CSV), "usd": START_USD, "doge": START_DOGE}
    settings.update(overrides)
    return SimExchange(SimConfig(**settings))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchange]:
    exchange = make_sim()
    exchange.start()
    yield exchange
    exchange.stop()


def reset_account(sim: SimExchange) -> None:
    """Give the next test a clean account: no open orders, start balances, idle counters, no faults."""

    def reset(venue: Venue) -> None:
        engine = venue.engine
        engine.cancel_all(venue.now)
        engine.dms_trigger = None
        engine.rate_counter.value = 0.0
        engine.account.total = {"USD": q(START_USD, 4), "DOGE": q(START_DOGE, 8)}
        engine.account.held = {"USD": Decimal(0), "DOGE": Decimal(0)}
        sim.auth.counter.value = 0.0

    sim.call(reset)
    sim.faults.clear()


@pytest.fixture
def fresh(sim: SimExchange) -> SimExchange:
    reset_account(sim)
    return sim


@pytest.fixture
def token(sim: SimExchange) -> str:
    return sim.issue_ws_token()


@pytest.fixture
def public_ws(sim: SimExchange) -> Iterator[WsClient]:
    client = WsClient(sim.public_ws_url)
    yield client
    client.close()


@pytest.fixture
def private_ws(fresh: SimExchange, token: str) -> Iterator[WsClient]:
    """A private connection already subscribed to executions and balances (snapshots consumed)."""
    client = WsClient(fresh.private_ws_url)
    client.request("subscribe", {"channel": "executions", "token": token, "snap_orders": True, "snap_trades": False})
    client.channel("executions", "snapshot")
    client.request("subscribe", {"channel": "balances", "token": token})
    client.channel("balances", "snapshot")
    yield client
    client.close()


@pytest.fixture
def rest(sim: SimExchange) -> Iterator[RestClient]:
    client = RestClient(sim.rest_url, sim.api_key, sim.api_secret)
    yield client
    client.close()

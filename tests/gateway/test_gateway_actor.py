"""GatewayActor: its own loop thread, intents in, events pushed to the sink, clean stop."""

from __future__ import annotations

import logging
import threading

import pytest

from actors.gateway import GatewayActor
from actors.messages import (
    ExecutionsSnapshotDone,
    Fill,
    GatewayConnected,
    GatewayDisconnected,
    OrderAccepted,
    OrderOpen,
    OrderRejected,
    PlaceOrder,
)
from gateway.kraken.signing import SigningError
from gateway.kraken.ws import WsConfig
from tests.gateway.helpers import CollectingSink
from tests.gateway.scripted import SECRET, FakeRestServer, ServerThread, trade

CONFIG = WsConfig(heartbeat_timeout_s=5.0, ping_interval_s=1.0, request_timeout_s=2.0, dms_refresh_s=0.5,
                  backoff_initial_s=0.05, backoff_max_s=0.5)


def gateway_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gateway-loop"]


def test_actor_pushes_events_in_arrival_order_and_stops_cleanly(sink: CollectingSink, caplog: pytest.LogCaptureFixture) -> None:
    before = len(gateway_threads())
    with ServerThread() as server, FakeRestServer(secret=SECRET) as rest:
        ref = GatewayActor.start(
            sink, public_ws_url=server.kraken.public_url, private_ws_url=server.kraken.private_url,
            rest_url=rest.url, api_key="test-key", api_secret=SECRET, ws_config=CONFIG,
        )
        try:
            sink.wait_kind(GatewayConnected, 2)
            sink.wait_kind(ExecutionsSnapshotDone)
            assert len(gateway_threads()) == before + 1
            ref.tell(PlaceOrder(cl_ord_id="s4-AE1-1", side="sell", price=0.16, volume=80.0))
            (acc,) = sink.wait_kind(OrderAccepted)
            sink.wait_kind(OrderOpen, where=lambda m: not m.snapshot)
            for i in range(20):
                server.call(server.kraken.execution(trade(acc.order_id, f"E{i:02d}", 4.0, 4.0 * (i + 1), side="sell")))
            fills = sink.wait_kind(Fill, 20)
            assert [f.exec_id for f in fills] == [f"E{i:02d}" for i in range(20)]  # arrival order
            assert fills[-1].final and all(f.cl_ord_id == "s4-AE1-1" for f in fills)
            stats = ref.proxy().stats().get(timeout=5)
            assert stats["private_connected"] and stats["frames_in"] > 20 and stats["malformed"] == 0
            balances = ref.proxy().rest("balance").get(timeout=5).result(timeout=10)
            assert balances == {"USD": 1000.0, "DOGE": 5000.0}
            with pytest.raises(ValueError):
                ref.proxy().rest("cancel_everything").get(timeout=5)
            assert "GetWebSocketsToken" in rest.calls[0]
        finally:
            with caplog.at_level(logging.WARNING):
                ref.stop(timeout=20)
        # Clean stop: the dead man's switch was disarmed, the loop thread is gone, nothing pending.
        assert server.kraken.sent("cancel_all_orders_after")[-1]["params"]["timeout"] == 0
        assert len(gateway_threads()) == before
        assert sink.of(GatewayDisconnected)
        assert "Task was destroyed" not in caplog.text


def test_actor_without_credentials_runs_public_only(sink: CollectingSink) -> None:
    with ServerThread() as server:
        # The sink may also be a plain callable.
        ref = GatewayActor.start(sink.tell, public_ws_url=server.kraken.public_url, private_ws_url=server.kraken.private_url,
                                 rest_url="http://127.0.0.1:9", ws_config=CONFIG)
        try:
            (connected,) = sink.wait_kind(GatewayConnected)
            assert connected.channel == "public"
            ref.tell(PlaceOrder(cl_ord_id="s4-AE1-2", side="sell", price=0.16, volume=80.0))
            (rej,) = sink.wait_kind(OrderRejected)
            assert rej.error == "EGateway:not connected"
        finally:
            ref.stop(timeout=20)
        assert server.kraken.connections["private"] == 0


def test_bad_secret_fails_start_without_leaking_a_thread(sink: CollectingSink) -> None:
    before = len(gateway_threads())
    with pytest.raises(SigningError) as info:
        GatewayActor.start(sink, public_ws_url=None, api_key="k", api_secret="***not-base64***", ws_config=CONFIG)
    assert "not-base64" not in str(info.value)
    assert len(gateway_threads()) == before


def test_actor_holds_no_secret(sink: CollectingSink) -> None:
    actor = GatewayActor(sink, public_ws_url=None, api_key="test-key", api_secret=SECRET)
    texts = [repr(actor), str(actor), repr(vars(actor)), repr(vars(actor._rest))]
    assert all(SECRET not in t and SECRET[:12] not in t for t in texts)

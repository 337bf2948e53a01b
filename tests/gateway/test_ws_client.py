"""KrakenWs over real loopback sockets against the scripted server. Waits are bounded; no
assertion depends on how long something took."""

from __future__ import annotations

import random

import pytest

from actors.messages import (
    AmendAcked,
    AmendOrder,
    BalanceUpdate,
    CancelAcked,
    CancelOrder,
    Candle,
    ExchangeError,
    ExchangeStatus,
    ExecutionsSnapshotDone,
    Fill,
    GatewayConnected,
    GatewayDisconnected,
    InstrumentRules,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PriceTick,
)
from gateway.kraken import codec
from gateway.kraken.ws import WsConfig, backoff_delay
from tests.gateway.scripted import TS, ScriptedKraken, trade
from tests.gateway.ws_harness import FAST, Harness, place, run_with, until


def test_connect_subscribe_and_market_data() -> None:
    def setup(server: ScriptedKraken) -> None:
        server.executions_snapshot = [
            {"order_id": "OREST1", "cl_ord_id": "s2-AE1-1", "exec_type": "new", "order_status": "new", "side": "sell",
             "order_qty": 200.0, "limit_price": 0.2, "timestamp": "2024-01-01T00:00:00Z"},
        ]

    async def body(h: Harness) -> None:
        await h.connected()
        done = (await h.wait(ExecutionsSnapshotDone))[0]
        assert done.open_order_ids == ["OREST1"]
        (rest,) = [m for m in h.of(OrderOpen) if m.snapshot]
        assert (rest.cl_ord_id, rest.side, rest.order_qty) == ("s2-AE1-1", "sell", 200.0)
        await h.wait(PriceTick)
        await h.wait(Candle)
        await h.wait(BalanceUpdate)
        (rules,) = await h.wait(InstrumentRules)
        assert rules.symbol == "DOGE/USD"  # other pairs of the instrument snapshot are dropped
        await h.wait(ExchangeStatus, 2)
        await until(lambda: h.server.sent("cancel_all_orders_after"))

    h = run_with(body, setup=setup)
    (sub,) = [r for r in h.server.sent("subscribe") if r["params"]["channel"] == "executions"]
    assert sub["params"] == {"channel": "executions", "token": "token-1", "snap_orders": True, "snap_trades": True, "order_status": True}
    channels = {r["params"]["channel"] for r in h.server.sent("subscribe", "public")}
    assert channels == {"ticker", "ohlc", "instrument"}
    dms = h.server.sent("cancel_all_orders_after")
    assert dms[0]["params"]["timeout"] == 60 and dms[-1]["params"]["timeout"] == 0  # disarmed on clean stop
    assert isinstance(h.ws.stats()["frames_in"], int) and h.ws.stats()["malformed"] == 0

def test_order_lifecycle_routes_sparse_events_by_order_id() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.ws.submit(place())
        (acc,) = await h.wait(OrderAccepted)
        assert acc.cl_ord_id == "s1-BE1-1"
        (live,) = await h.wait(OrderOpen, where=lambda m: not m.snapshot)
        assert (live.cl_ord_id, live.side, live.order_qty, live.limit_price) == ("s1-BE1-1", "buy", 100.0, 0.15)
        await h.server.execution(trade(acc.order_id, "E1", 40.0, 40.0))
        await h.server.execution(trade(acc.order_id, "E2", 60.0, 100.0))
        await h.server.execution({"order_id": acc.order_id, "exec_type": "filled", "order_status": "filled",
                                  "cum_qty": 100.0, "avg_price": 0.15, "timestamp": "2024-01-01T00:00:01Z"})
        f1, f2 = await h.wait(Fill, 2)
        assert (f1.cl_ord_id, f1.order_qty, f1.final, f2.final) == ("s1-BE1-1", 100.0, False, True)
        (filled,) = await h.wait(OrderFilled)
        assert filled.cl_ord_id == "s1-BE1-1"

    run_with(body)

def test_cancel_and_amend_over_ws() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.ws.submit(place("s1-BE1-2"))
        (acc,) = await h.wait(OrderAccepted)
        await h.ws.submit(AmendOrder(order_id=acc.order_id, price=0.149))
        await h.wait(AmendAcked)
        (amended,) = await h.wait(OrderAmended)
        assert (amended.cl_ord_id, amended.limit_price, amended.order_qty) == ("s1-BE1-2", 0.149, 100.0)
        await h.ws.submit(CancelOrder(order_id=acc.order_id, cl_ord_id="s1-BE1-2"))
        await h.wait(CancelAcked)
        (canceled,) = await h.wait(OrderCanceled)
        assert canceled.cl_ord_id == "s1-BE1-2" and canceled.reason == "User requested"

    h = run_with(body)
    (amend,) = h.server.sent("amend_order")
    assert amend["params"]["order_qty"] == 100.0  # documented as required: the known quantity is resent

def test_timed_out_add_order_is_rejected_and_the_late_ack_still_processed() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        h.server.hold_acks = True
        await h.ws.submit(place("s1-BE1-3"))
        (rej,) = await h.wait(OrderRejected)
        assert (rej.error, rej.cl_ord_id, rej.request) == ("timeout", "s1-BE1-3", "add_order")
        (req,) = h.server.sent("add_order")
        await h.server.push("private", {"method": "add_order", "req_id": req["req_id"], "success": True,
                                        "result": {"order_id": "OLATE1"}, "time_in": "2024-01-01T00:00:00Z",
                                        "time_out": "2024-01-01T00:00:00Z"})
        (acc,) = await h.wait(OrderAccepted)
        assert (acc.cl_ord_id, acc.order_id) == ("s1-BE1-3", "OLATE1")
        # The late ack taught the gateway the owner: a sparse fill now routes.
        await h.server.execution(trade("OLATE1", "E9", 100.0, 100.0))
        (fill,) = await h.wait(Fill)
        assert fill.cl_ord_id == "s1-BE1-3" and fill.final
        assert h.ws.stats()["late_acks"] == 1 and h.ws.stats()["requests_timed_out"] == 1

    run_with(body, config=WsConfig(**{**FAST.__dict__, "request_timeout_s": 0.3}))

def test_orders_while_disconnected_are_rejected_at_once() -> None:
    async def body(h: Harness) -> None:
        await h.ws.submit(place("s1-BE1-4"))
        (rej,) = await h.wait(OrderRejected)
        assert rej.error == "EGateway:not connected"
        await h.ws.submit(CancelOrder())
        await h.wait(OrderRejected, 2)

    def setup(server: ScriptedKraken) -> None:
        server.refuse = 1000

    run_with(body, setup=setup)

def test_malformed_frames_are_counted_and_skipped() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.server.push("private", "{not json")
        await h.server.push("private", '{"channel":"executions","type":"update","data":[{"exec_type":"trade","order_id":"O"}]}')
        await h.server.push("private", '{"channel":"executions","type":"update","data":[{"exec_type":"trade","order_id":"O","exec_id":"E","last_qty":"x","last_price":1}]}')
        await h.server.execution(trade("OX", "EGOOD", 1.0, 1.0))
        await h.wait(Fill)
        assert h.ws.stats()["malformed"] == 3
        assert not h.of(GatewayDisconnected)

    run_with(body)

def test_duplicates_and_sequence_gaps_are_counted_and_passed_on() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        frame = {"channel": "executions", "type": "update", "data": [trade("OD", "EDUP", 5.0, 5.0)], "sequence": 50}
        await h.server.push("private", frame)  # a gap after the snapshot's sequence 1
        await h.server.push("private", frame)  # the same report again
        fills = await h.wait(Fill, 2)
        assert [f.exec_id for f in fills] == ["EDUP", "EDUP"]
        stats = h.ws.stats()
        assert (stats["duplicate_fills"], stats["duplicate_frames"], stats["sequence_gaps"]) == (1, 1, 1)
        await h.wait(ExchangeError, where=lambda m: m.context == "executions")

    run_with(body, config=WsConfig(**{**FAST.__dict__, "resync_on_sequence_gap": False}))

def test_sequence_gap_resyncs_once_per_interval() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.server.push("private", {"channel": "executions", "type": "update", "sequence": 9, "data": []})
        await h.wait(GatewayDisconnected, where=lambda m: m.reason == "executions sequence gap")
        await h.wait(ExecutionsSnapshotDone, 2)  # the fresh snapshot covers what the gap lost
        await h.wait(GatewayConnected, 2, lambda m: m.channel == "private")
        await h.server.push("private", {"channel": "executions", "type": "update", "sequence": 9, "data": []})
        await h.server.execution(trade("OG", "EG", 1.0, 1.0))
        await h.wait(Fill)
        assert h.ws.stats()["sequence_gaps"] == 2
        assert len(h.of(GatewayDisconnected)) == 1  # the second gap, too soon, only counted

    run_with(body)

def test_full_snapshot_triggers_rest_replay_before_done() -> None:
    calls: list[float] = []

    async def replay(since: float) -> list[Fill]:
        calls.append(since)
        return [Fill(exec_id="EOLD", order_id="OR", cl_ord_id=None, side="buy", last_qty=1.0, last_price=0.15,
                     cum_qty=1.0, order_qty=None, fee=0.0, ts=since + 0.5, snapshot=True)]

    async def body(h: Harness) -> None:
        await h.connected()
        await h.server.execution(trade("OR", "E0", 1.0, 1.0))
        await h.wait(Fill)
        h.server.executions_snapshot = [trade("OR", f"S{i:02d}", 1.0, 0.0) for i in range(50)]
        await h.server.drop("private")
        done = (await h.wait(ExecutionsSnapshotDone, 2))[1]
        ids = [m.exec_id if isinstance(m, Fill) else "DONE" for m in h.sink.messages
               if isinstance(m, Fill | ExecutionsSnapshotDone)]
        assert ids.index("EOLD") < len(ids) - 1 and ids[-1] == "DONE"  # replayed fills, then done
        assert h.ws.stats()["replayed_fills"] == 1 and done.open_order_ids == []
        assert calls == [codec.parse_ts(TS, 0.0) - 1.0]

    run_with(body, replay=replay)

def test_connection_attempts_respect_the_ten_minute_budget() -> None:
    def setup(server: ScriptedKraken) -> None:
        server.refuse = 1000

    async def body(h: Harness) -> None:
        await until(lambda: h.ws.stats()["connect_budget_waits"] >= 2)
        assert h.server.connections["public"] + h.server.connections["private"] == 3

    # stop() must also end a loop that is waiting for budget.
    run_with(body, config=WsConfig(**{**FAST.__dict__, "max_connects_per_10min": 3}), setup=setup)

def test_silent_socket_is_declared_dead_and_reconnected() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        h.server.heartbeats = False
        for channel in ("public", "private"):
            await h.wait(GatewayDisconnected, where=lambda m, c=channel: m.channel == c and m.reason == "heartbeat timeout")
        h.server.heartbeats = True
        await h.connected(2)
        assert h.ws.stats()["stale_disconnects"] >= 1 and h.ws.stats()["reconnects"] >= 1

    # Pong and dead-man's-switch answers count as frames too: make both rarer than the timeout.
    cfg = {**FAST.__dict__, "heartbeat_timeout_s": 0.6, "ping_interval_s": 30.0, "dms_refresh_s": 30.0}
    run_with(body, config=WsConfig(**cfg))

def test_reconnect_takes_a_new_token_and_the_snapshot_replays_missed_fills() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.ws.submit(place("s1-BE1-5"))
        (acc,) = await h.wait(OrderAccepted)
        await h.server.execution(trade(acc.order_id, "E1", 40.0, 40.0))
        await h.wait(Fill)
        # While we are away the order fills: the next snapshot reports both fills, newest
        # first as Kraken lists them (and without cum_qty, as recorded).
        h.server.executions_snapshot = [
            {**trade(acc.order_id, "E2", 60.0, 0.0, order_status="filled"), "cum_qty": None},
            {**trade(acc.order_id, "E1", 40.0, 0.0, order_status="partially_filled"), "cum_qty": None},
        ]
        await h.server.drop("private")
        await h.wait(GatewayDisconnected, where=lambda m: m.channel == "private")
        await h.wait(ExecutionsSnapshotDone, 2)
        snap = [f for f in h.of(Fill) if f.snapshot]
        assert [f.exec_id for f in snap] == ["E1", "E2"]  # handed on in execution order
        assert all(f.cl_ord_id == "s1-BE1-5" for f in snap) and snap[-1].final
        assert h.ws.stats()["duplicate_fills"] == 1  # E1 again
        assert h.tokens == ["token-1", "token-2"]
        tokens = [r["params"]["token"] for r in h.server.sent("subscribe") if r["params"]["channel"] == "executions"]
        assert tokens == ["token-1", "token-2"]

    run_with(body)

def test_failed_executions_subscription_reconnects() -> None:
    def setup(server: ScriptedKraken) -> None:
        server.subscribe_error = {"executions": "ESession:Invalid session"}

    async def body(h: Harness) -> None:
        await h.wait(ExchangeError, 2, lambda m: m.error == "ESession:Invalid session")
        h.server.subscribe_error = {}
        await h.connected()
        assert len(h.tokens) >= 3

    run_with(body, setup=setup)

def test_reconnects_stop_after_the_configured_limit() -> None:
    def setup(server: ScriptedKraken) -> None:
        server.refuse = 1000

    async def body(h: Harness) -> None:
        await h.wait(ExchangeError, 2, lambda m: m.error == "giving up reconnecting")
        assert h.server.connections == {"public": 4, "private": 4}

    run_with(body, config=WsConfig(**{**FAST.__dict__, "max_reconnects": 3}), setup=setup)

def test_dead_mans_switch_is_refreshed_while_healthy() -> None:
    rest_disarms: list[int] = []

    async def disarm() -> None:
        rest_disarms.append(1)

    async def body(h: Harness) -> None:
        await h.connected()
        await until(lambda: len(h.server.sent("cancel_all_orders_after")) >= 3)
        assert h.ws.stats()["dms_refreshes"] >= 2

    h = run_with(body, dms_disarm=disarm)
    timeouts = [r["params"]["timeout"] for r in h.server.sent("cancel_all_orders_after")]
    assert set(timeouts[:-1]) == {60} and timeouts[-1] == 0
    assert rest_disarms == []  # the socket disarmed it: no REST call

@pytest.mark.parametrize("failures", [0, 1, 2, 5, 50, 1025, 10**6])
def test_backoff_is_jittered_exponential_and_bounded(failures: int) -> None:
    # 1025 consecutive failures (about 8.5 hours of outage at 30 s) used to overflow a float
    # and end the reconnect loop for good.
    cfg = WsConfig(backoff_initial_s=0.5, backoff_max_s=30.0, backoff_jitter=0.5)
    rng = random.Random(failures)
    ceiling = 30.0 if failures > 50 else min(30.0, 0.5 * 2 ** max(0, failures - 1))
    for _ in range(50):
        delay = backoff_delay(failures, cfg, rng)
        assert ceiling * 0.5 <= delay <= ceiling

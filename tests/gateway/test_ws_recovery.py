"""KrakenWs recovery paths over loopback sockets against the scripted server: frozen peers,
lost answers, orders that ended while away, owners of sparse outcomes, req_id wrap, and the dead
man's switch when the socket is down. Waits are bounded; nothing asserts on durations."""

from __future__ import annotations

from actors.messages import (
    AmendOrder,
    CancelAcked,
    CancelOrder,
    ExecutionsSnapshotDone,
    Fill,
    GatewayDisconnected,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
)
from gateway.kraken.ws import WsConfig
from tests.gateway.scripted import TS, trade
from tests.gateway.ws_harness import FAST, Harness, place, run_with, until


def test_req_ids_wrap_within_int32_and_still_correlate() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await until(lambda: h.ws.stats()["dms_refreshes"] >= 1)  # the next refresh is 30 s away
        h.ws._req_id = 2**31 - 3  # as if two billion requests had been sent
        for i in range(4):
            await h.ws.submit(place(f"s1-BE1-W{i}"))
        accepted = await h.wait(OrderAccepted, 4)
        assert [(a.cl_ord_id, a.req_id) for a in accepted] == [
            ("s1-BE1-W0", 2**31 - 2), ("s1-BE1-W1", 2**31 - 1), ("s1-BE1-W2", 1), ("s1-BE1-W3", 2)]

    h = run_with(body, config=WsConfig(**{**FAST.__dict__, "ping_interval_s": 30.0, "dms_refresh_s": 30.0}))
    assert all(0 < r["req_id"] < 2**31 for _, r in h.server.requests if "req_id" in r)


def test_orders_that_ended_while_away_leave_the_open_set() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.ws.submit(place("s1-BE1-7"))
        (acc,) = await h.wait(OrderAccepted)
        assert h.ws.stats()["open_orders_known"] == 1
        await h.server.drop("private")  # e.g. the dead man's switch cancels it meanwhile
        await h.wait(ExecutionsSnapshotDone, 2)
        assert h.ws.stats()["open_orders_known"] == 0
        # Still routable: a straggling report of it finds its owner.
        await h.server.execution({"order_id": acc.order_id, "exec_type": "canceled", "order_status": "canceled",
                                  "cum_qty": 0, "reason": "User requested", "timestamp": TS})
        (canceled,) = await h.wait(OrderCanceled)
        assert canceled.cl_ord_id == "s1-BE1-7"

    run_with(body)


def test_stop_while_the_private_socket_is_down_disarms_the_switch_over_rest() -> None:
    rest_disarms: list[int] = []

    async def disarm() -> None:
        rest_disarms.append(1)

    async def body(h: Harness) -> None:
        await h.connected()
        await until(lambda: h.ws.stats()["dms_refreshes"] >= 1)  # armed on the exchange
        h.server.refuse = 1000
        await h.server.drop("private")
        await h.wait(GatewayDisconnected, where=lambda m: m.channel == "private")

    run_with(body, dms_disarm=disarm)
    assert rest_disarms == [1]


def test_frozen_peer_is_declared_dead_and_reconnected() -> None:
    async def body(h: Harness) -> None:
        assert h.proxy is not None
        await h.connected()
        h.proxy.frozen = True  # every socket stays open, nothing moves either way
        for channel in ("public", "private"):
            await h.wait(GatewayDisconnected, where=lambda m, c=channel: m.channel == c and m.reason == "heartbeat timeout")
        h.proxy.frozen = False
        h.proxy.cut()
        await h.connected(2)
        assert h.ws.stats()["stale_disconnects"] >= 2

    run_with(body, config=WsConfig(**{**FAST.__dict__, "heartbeat_timeout_s": 0.6, "open_timeout_s": 0.5}), proxied=True)


def test_snapshot_fills_of_an_order_whose_answer_was_lost_name_their_owner() -> None:
    lookups: list[list[str]] = []

    async def owners(order_ids: list[str]) -> dict[str, str | None]:
        lookups.append(list(order_ids))
        return {"OLOST": "s1-BE1-9"}

    async def body(h: Harness) -> None:
        await h.connected()
        h.server.hold_acks = True  # the order is placed, but its answer never comes back
        await h.ws.submit(place("s1-BE1-9"))
        (rej,) = await h.wait(OrderRejected)
        assert rej.error == "timeout"
        # It filled while we were away: the snapshot lists the fills, newest first, without
        # cl_ord_id or cum_qty, and the order is not open any more.
        h.server.executions_snapshot = [
            {**trade("OLOST", "EL2", 60.0, 0.0, order_status="filled"), "cum_qty": None},
            {**trade("OLOST", "EL1", 40.0, 0.0), "cum_qty": None},
        ]
        await h.server.drop("private")
        await h.wait(ExecutionsSnapshotDone, 2)
        fills = h.of(Fill)
        assert [(f.exec_id, f.cl_ord_id) for f in fills] == [("EL1", "s1-BE1-9"), ("EL2", "s1-BE1-9")]
        assert fills[-1].final and fills[-1].order_qty == 100.0
        tail = [m for m in h.sink.messages if isinstance(m, Fill | ExecutionsSnapshotDone)]
        assert isinstance(tail[-1], ExecutionsSnapshotDone)  # the snapshot ends after its fills
        # The owner is known from now on: the next snapshot needs no lookup.
        await h.server.drop("private")
        await h.wait(ExecutionsSnapshotDone, 3)
        assert all(f.cl_ord_id == "s1-BE1-9" for f in h.of(Fill))
        assert lookups == [["OLOST"]] and h.ws.stats()["owner_lookups"] == 1

    run_with(body, config=WsConfig(**{**FAST.__dict__, "request_timeout_s": 0.3}), owners=owners)


def test_cancel_and_amend_by_order_id_name_the_owner() -> None:
    async def body(h: Harness) -> None:
        await h.connected()
        await h.ws.submit(place("s1-BE1-6"))
        (acc,) = await h.wait(OrderAccepted)
        h.server.hold = {"cancel_order", "amend_order"}
        await h.ws.submit(CancelOrder(order_id=acc.order_id))
        await h.ws.submit(AmendOrder(order_id=acc.order_id, price=0.149))
        timeouts = await h.wait(OrderRejected, 2)
        assert {(r.request, r.cl_ord_id, r.error) for r in timeouts} == {
            ("cancel_order", "s1-BE1-6", "timeout"), ("amend_order", "s1-BE1-6", "timeout")}
        (req,) = h.server.sent("cancel_order")
        await h.server.push("private", {"method": "cancel_order", "req_id": req["req_id"], "success": False,
                                        "error": "EOrder:Unknown order", "time_in": TS, "time_out": TS})
        late = (await h.wait(OrderRejected, 3))[-1]
        assert (late.cl_ord_id, late.order_id, late.error) == ("s1-BE1-6", acc.order_id, "EOrder:Unknown order")
        h.server.hold = set()
        await h.ws.submit(CancelOrder(order_id=acc.order_id))
        (ack,) = await h.wait(CancelAcked)
        assert ack.cl_ord_id == "s1-BE1-6"

    run_with(body, config=WsConfig(**{**FAST.__dict__, "request_timeout_s": 0.3}))

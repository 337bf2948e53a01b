"""StatusHub unit tests on a private event loop: coalescing, fan-out, drop-oldest, catch-up."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.web.status_factory import make_status, with_changes
from web.hub import ClientChannel, Frame, LatencyWindow, StatusHub


def run(coro_fn):  # type: ignore[no-untyped-def]
    return asyncio.run(coro_fn())


def frames(channel: ClientChannel) -> list[dict]:
    out = [json.loads(f.text) for f in channel.queue]
    channel.queue.clear()
    return out


def test_channel_drops_oldest_and_counts() -> None:
    channel = ClientChannel(maxlen=2)
    for seq in range(5):
        channel.put(Frame(text=str(seq), seq=seq, t0=None))
    assert [f.seq for f in channel.queue] == [3, 4]
    assert channel.dropped == 3
    assert channel.wakeup.is_set()


def test_first_change_goes_out_at_once_then_coalesces() -> None:
    async def scenario() -> None:
        hub = StatusHub(min_interval=0.2, client_queue=10)
        client = hub.register()
        base = make_status(2)
        hub.offer(base, time.perf_counter())
        assert [f["data"]["ts"] for f in frames(client)] == [base.ts]  # leading edge: immediate
        for i in range(1, 6):
            hub.offer(with_changes(base, ts=base.ts + i), time.perf_counter())
        assert frames(client) == []  # inside the window: held
        await asyncio.sleep(0.3)
        assert [f["data"]["ts"] for f in frames(client)] == [base.ts + 5]  # one trailing frame, newest
        assert hub.frames_coalesced == 4
        assert hub.seq == 2

    run(scenario)


def test_unchanged_status_is_not_republished() -> None:
    async def scenario() -> None:
        hub = StatusHub(min_interval=0.0)
        client = hub.register()
        snapshot = make_status(1)
        hub.offer(snapshot, time.perf_counter())
        hub.offer(with_changes(snapshot), time.perf_counter())
        assert len(frames(client)) == 1
        assert hub.frames_published == 1

    run(scenario)


def test_new_client_gets_the_current_status_first() -> None:
    async def scenario() -> None:
        hub = StatusHub(min_interval=0.0)
        assert not hub.register().queue  # nothing reported yet: nothing sent
        snapshot = make_status(3)
        hub.offer(snapshot, time.perf_counter())
        late = hub.register()
        (frame,) = list(late.queue)
        assert frame.t0 is None  # catch-up frames do not count as push latency
        assert json.loads(frame.text)["data"]["slots"][2]["alias"] == "floki"

    run(scenario)


def test_alerts_fan_out_and_are_kept() -> None:
    from actors.alerts import Alert

    async def scenario() -> None:
        hub = StatusHub()
        client = hub.register()
        hub.offer_alert(Alert(kind="loss_lock_on", message="daily loss lock", ts=1.0, severity="critical"))
        (frame,) = frames(client)
        assert frame["type"] == "alert" and frame["data"]["kind"] == "loss_lock_on"
        assert json.loads(hub.alerts_body())["alerts"][0]["message"] == "daily loss lock"

    run(scenario)


def test_latency_window_quantiles() -> None:
    window = LatencyWindow(size=100)
    assert window.quantile(0.5) is None
    for ms in range(1, 201):
        window.add(ms / 1000)
    assert window.count == 200 and len(window.samples) == 100
    assert window.quantile(0.5) == pytest.approx(0.150, abs=0.002)
    assert window.quantile(0.99) == pytest.approx(0.199, abs=0.002)


def test_price_history_skips_out_of_order_and_trims_a_day() -> None:
    async def scenario() -> None:
        hub = StatusHub(min_interval=0.0)
        base = make_status(1)
        for i in range(0, 2 * 86_400, 600):  # every 10 min for two days
            hub.offer(with_changes(base, ts=base.ts + i, price_ts=base.ts + i), 0.0)
        hub.offer(with_changes(base, ts=base.ts, price_ts=base.ts), 0.0)  # late, older: ignored
        points = hub.price_points()
        assert points[-1][0] == base.ts + 2 * 86_400 - 600
        assert points[-1][0] - points[0][0] <= 86_400
        assert len(points) == 145

    run(scenario)

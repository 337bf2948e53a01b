"""The WebActor serving on a real loopback socket: HTTP, the status WebSocket, back-pressure,
auth over the wire, lifecycle."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import httpx
import msgspec
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from actors.alerts import Alert
from actors.commands import CommandReply
from actors.status import StatusSnapshot
from tests.web import promtext
from tests.web.conftest import RecordingHandler, RunningWeb
from tests.web.status_factory import make_status, with_changes
from tests.web.test_api import BAD_BODIES, VALID_COMMANDS
from web.actor import WebActor
from web.app import WebOptions

TOKEN = "wire-token-0123456789"


class StatusFrame(msgspec.Struct):
    type: str
    seq: int
    data: StatusSnapshot


frame_decoder = msgspec.json.Decoder(StatusFrame)


def recv_frame(ws: ClientConnection, timeout: float = 5.0) -> StatusFrame:
    return frame_decoder.decode(ws.recv(timeout=timeout))


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_api_over_real_socket(start_web: Callable[..., RunningWeb], handler: RecordingHandler) -> None:
    web = start_web()
    with httpx.Client(base_url=web.http, timeout=5) as http:
        assert http.get("/api/status").status_code == 503
        snapshot = make_status(4)
        web.ref.tell(snapshot)
        wait_until(lambda: http.get("/api/status").status_code == 200)
        assert msgspec.json.decode(http.get("/api/status").content, type=StatusSnapshot) == snapshot
        for body, _ in VALID_COMMANDS:
            assert http.post("/api/action", json=body).status_code == 200
        assert handler.commands == [expected for _, expected in VALID_COMMANDS]
        for raw, field, _ in BAD_BODIES[:8]:
            response = http.post("/api/action", content=raw, headers={"content-type": "application/json"})
            assert response.status_code == 400
            assert response.json()["data"].get("field") == field
        assert len(handler.commands) == len(VALID_COMMANDS)
        assert http.get("/").status_code == 200
        promtext.parse(http.get("/metrics").text)


def test_ws_sends_full_status_first_then_pushes(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    first = make_status(3)
    web.ref.tell(first)
    wait_until(lambda: web.state.hub.latest is not None)
    with connect(web.ws, open_timeout=5) as ws:
        frame = recv_frame(ws)
        assert frame.type == "status" and frame.data == first
        second = with_changes(first, ts=first.ts + 1, mode="PAUSED", pause_reason="operator")
        web.ref.tell(second)
        frame2 = recv_frame(ws)
        assert frame2.data == second and frame2.seq == frame.seq + 1
        third = make_status(5, ts=first.ts + 2)
        web.ref.tell(third)
        assert recv_frame(ws).data == third


def test_alerts_are_pushed_at_once(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    web.ref.tell(make_status(2))
    with connect(web.ws, open_timeout=5) as ws:
        recv_frame(ws)
        alert = Alert(kind="halt", message="slot 3 halted: invariant", ts=1_760_000_100.0, severity="critical", slot_id=3)
        web.ref.tell(alert)
        frame = msgspec.json.decode(ws.recv(timeout=5))
        assert frame["type"] == "alert"
        assert msgspec.convert(frame["data"], Alert) == alert
    with httpx.Client(base_url=web.http) as http:
        assert http.get("/api/alerts").json()["alerts"][-1]["message"] == "slot 3 halted: invariant"


def test_ws_before_any_status_waits_for_the_first(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    with connect(web.ws, open_timeout=5) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        snapshot = make_status(2)
        web.ref.tell(snapshot)
        assert recv_frame(ws).data == snapshot


def test_pushes_are_coalesced_to_about_four_per_second(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    base = make_status(3)
    with connect(web.ws, open_timeout=5) as ws:
        frames: list[StatusFrame] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    frames.append(recv_frame(ws, timeout=0.2))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 1.5:  # 1.5 s of changes every 5 ms (~300 snapshots)
            count += 1
            web.ref.tell(with_changes(base, ts=base.ts + count))
            time.sleep(0.005)
        last_ts = base.ts + count
        wait_until(lambda: bool(frames) and frames[-1].data.ts == last_ts, timeout=3)
        stop.set()
        thread.join(2)
    assert count > 100
    assert 2 <= len(frames) <= 9, len(frames)  # 1.5 s at <= 4/s plus the leading and trailing edges
    assert web.state.hub.frames_coalesced > count - 10


def test_identical_status_is_not_resent(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    snapshot = make_status(2)
    with connect(web.ws, open_timeout=5) as ws:
        web.ref.tell(snapshot)
        recv_frame(ws)
        time.sleep(0.3)
        web.ref.tell(msgspec.json.decode(msgspec.json.encode(snapshot), type=StatusSnapshot))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)


def _stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads another byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        assert chunk, "handshake failed"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def test_slow_client_drops_oldest_and_never_slows_others(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web(options=WebOptions(push_interval=0.0, client_queue=2))
    base = make_status(100)
    stalled = _stalled_client(web.port)
    try:
        with connect(web.ws, open_timeout=5, max_size=None) as ws:
            wait_until(lambda: len(web.state.hub.clients) == 2)
            received: list[float] = []
            stop = threading.Event()

            def reader() -> None:
                while not stop.is_set():
                    try:
                        received.append(recv_frame(ws, timeout=0.2).data.ts)
                    except TimeoutError:
                        continue
                    except ConnectionClosed:
                        return

            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            pushes = 0
            # Keep changing status until the stalled client's queue overflows (bounded: 20 s).
            deadline = time.monotonic() + 20
            while max(c.dropped for c in list(web.state.hub.clients)) < 20 and time.monotonic() < deadline:
                pushes += 1
                web.ref.tell(with_changes(base, ts=base.ts + pushes))
                time.sleep(0.004)
            final_ts = base.ts + pushes + 1
            told = time.monotonic()
            web.ref.tell(with_changes(base, ts=final_ts))
            wait_until(lambda: bool(received) and received[-1] == final_ts, timeout=3)
            latency = time.monotonic() - told
            stop.set()
            thread.join(2)
            channels = list(web.state.hub.clients)
            with httpx.Client(base_url=web.http) as http:
                samples = promtext.parse(http.get("/metrics").text)
    finally:
        stalled.close()
    assert web.state.hub.dropped_total >= 20, f"pushed {pushes} without overflowing a stalled client"
    assert latency < 1.0, latency
    stalled_channel = max(channels, key=lambda c: c.dropped)
    assert stalled_channel.dropped >= 20 and len(stalled_channel.queue) <= 2  # bounded memory
    assert promtext.value(samples, "dogebot_web_ws_dropped_frames_total") >= 20
    assert web.ref.is_alive()


def test_disconnected_clients_are_forgotten(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    web.ref.tell(make_status(1))
    clients = [connect(web.ws, open_timeout=5) for _ in range(5)]
    for ws in clients:
        recv_frame(ws)
    wait_until(lambda: len(web.state.hub.clients) == 5)
    for ws in clients:
        ws.close()
    wait_until(lambda: len(web.state.hub.clients) == 0)
    raw = _stalled_client(web.port)
    wait_until(lambda: len(web.state.hub.clients) == 1)
    raw.close()  # abrupt: no close frame
    wait_until(lambda: len(web.state.hub.clients) == 0)


def test_many_clients_all_get_each_push(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    clients = [connect(web.ws, open_timeout=5) for _ in range(20)]
    try:
        wait_until(lambda: len(web.state.hub.clients) == 20)
        snapshot = make_status(10)
        web.ref.tell(snapshot)
        assert all(recv_frame(ws).data == snapshot for ws in clients)
    finally:
        for ws in clients:
            ws.close()


def test_token_over_the_wire(start_web: Callable[..., RunningWeb], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    web = start_web(token=TOKEN)
    web.ref.tell(make_status(2))
    with pytest.raises(InvalidStatus) as exc_info:
        connect(web.ws, open_timeout=5)
    assert exc_info.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(f"{web.ws}?token=wrong", open_timeout=5)
    with connect(f"{web.ws}?token={TOKEN}", open_timeout=5) as ws:
        assert recv_frame(ws).type == "status"
    with connect(web.ws, open_timeout=5, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert recv_frame(ws).type == "status"
    with httpx.Client(base_url=web.http) as http:
        assert http.get("/api/status").status_code == 401
        assert http.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    time.sleep(0.1)
    # Server-side loggers only: the websockets *client* in this test logs its own request line.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "web.", "litestar")))
    assert "/ws" in logged  # uvicorn did log the WebSocket requests ...
    assert TOKEN not in logged  # ... with the token scrubbed


def test_handler_failure_does_not_hurt_server_or_actor(
    start_web: Callable[..., RunningWeb], handler: RecordingHandler
) -> None:
    handler.behaviour["pause"] = RuntimeError("boom")
    web = start_web()
    with httpx.Client(base_url=web.http) as http:
        assert http.post("/api/action", json={"action": "pause"}).status_code == 500
        assert http.post("/api/action", json={"action": "resume"}).status_code == 200
    web.ref.tell("not a status")
    web.ref.tell(object())
    assert web.ref.proxy().bound_port().get(timeout=5) == web.port
    assert web.ref.is_alive()
    assert web.state.ignored_messages == 2


def test_stop_with_clients_connected_is_prompt(start_web: Callable[..., RunningWeb]) -> None:
    web = start_web()
    web.ref.tell(make_status(2))
    clients = [connect(web.ws, open_timeout=5) for _ in range(3)]
    for ws in clients:
        recv_frame(ws)
    raw = _stalled_client(web.port)
    started = time.monotonic()
    web.ref.stop(timeout=10)
    assert time.monotonic() - started < 5
    for ws in clients:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)
    raw.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{web.http}/api/status", timeout=1)


def test_port_in_use_fails_the_start(handler: RecordingHandler) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(OSError, match="in use"):
            WebActor.start(handler, port=port)
    finally:
        blocker.close()


def test_reply_mapping_over_socket(start_web: Callable[..., RunningWeb], handler: RecordingHandler) -> None:
    handler.behaviour["remove_slot"] = lambda cmd: CommandReply(
        ok=False, action="remove_slot", message=f"no slot {cmd.slot_id}", data={"error_kind": "refused"}
    )
    web = start_web()
    with httpx.Client(base_url=web.http) as http:
        response = http.post("/api/action", json={"action": "remove_slot", "slot_id": 42})
    assert response.status_code == 409
    assert response.json()["message"] == "no slot 42"

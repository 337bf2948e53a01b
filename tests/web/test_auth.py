"""Bind policy, operator token, Host and Origin guards, secret hygiene."""

from __future__ import annotations

import logging

import pytest
from litestar.exceptions import WebSocketDisconnect

import web.auth as auth
from tests.web.conftest import RecordingHandler, app_client, push
from tests.web.status_factory import make_status
from web.actor import WebActor
from web.app import WebState
from web.auth import InsecureBindError, RedactTokenFilter, check_bind_allowed, is_loopback_host, token_matches

TOKEN = "s3cret-operator-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)
    check_bind_allowed(host, "")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_non_loopback_bind_needs_token(host: str) -> None:
    assert not is_loopback_host(host)
    with pytest.raises(InsecureBindError, match="without an operator token"):
        check_bind_allowed(host, "")
    check_bind_allowed(host, TOKEN)


def test_actor_refuses_public_bind_without_token(handler: RecordingHandler) -> None:
    with pytest.raises(InsecureBindError):
        WebActor.start(handler, host="0.0.0.0", port=0)


def test_token_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN, TOKEN + "x")
    assert not token_matches(TOKEN, None)
    assert not token_matches("", "")
    assert len(calls) == 2


@pytest.mark.parametrize("path", ["/api/status", "/api/swarm/status", "/api/price_history", "/metrics"])
def test_token_required_on_reads(handler: RecordingHandler, path: str) -> None:
    with app_client(handler, token=TOKEN) as (http, _):
        assert http.get(path).status_code == 401
        assert http.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.get(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        assert http.get(path, params={"token": TOKEN}).status_code == 401  # query token: WebSocket only
        assert http.get(path, headers=BEARER).status_code in (200, 503)
        assert http.get(path, headers={"Authorization": f"bearer {TOKEN}"}).status_code in (200, 503)


def test_token_required_on_actions(handler: RecordingHandler) -> None:
    with app_client(handler, token=TOKEN) as (http, _):
        response = http.post("/api/action", json={"action": "pause"})
        assert response.status_code == 401
        assert TOKEN not in response.text
        assert http.post("/api/action", json={"action": "pause"}, headers={"Authorization": "Bearer x"}).status_code == 401
        # invalid bodies are not even looked at without the token
        assert http.post("/api/action", content=b"{bad").status_code == 401
        assert handler.commands == []
        assert http.post("/api/action", json={"action": "pause"}, headers=BEARER).status_code == 200
        assert len(handler.commands) == 1


def test_public_pages_need_no_token(handler: RecordingHandler) -> None:
    with app_client(handler, token=TOKEN) as (http, _):
        for path in ("/", "/static/app.js", "/static/style.css", "/schema/openapi.json"):
            assert http.get(path).status_code == 200, path


def test_no_token_configured_means_open_on_loopback(client) -> None:
    http, _ = client
    assert http.post("/api/action", json={"action": "resume"}).status_code == 200
    assert http.get("/metrics").status_code == 200


def test_websocket_refused_without_token(handler: RecordingHandler) -> None:
    with app_client(handler, token=TOKEN) as (http, _):
        for kwargs in ({}, {"params": {"token": "wrong"}}, {"headers": {"Authorization": "Bearer wrong"}}):
            with pytest.raises(WebSocketDisconnect) as exc_info, http.websocket_connect("/ws", **kwargs) as ws:
                ws.receive_text()
            assert exc_info.value.code == 4401


def test_host_guard_defeats_dns_rebinding(handler: RecordingHandler) -> None:
    with app_client(handler) as (http, _):
        for path in ("/", "/static/app.js", "/api/status", "/metrics", "/schema/openapi.json"):
            assert http.get(path, headers={"Host": "attacker.example"}).status_code == 403, path
        assert http.get("/", headers={"Host": "localhost:8080"}).status_code == 200
        assert http.get("/", headers={"Host": "[::1]:8080"}).status_code == 200
        response = http.post("/api/action", json={"action": "pause"}, headers={"Host": "attacker.example:8080"})
        assert response.status_code == 403
        assert handler.commands == []
    # with a token the server may sit behind any host name: the token is the gate
    with app_client(handler, token=TOKEN) as (http, _):
        assert http.get("/api/status", headers={"Host": "bot.lan", **BEARER}).status_code == 503


def test_origin_guard_blocks_cross_site_requests(client, handler: RecordingHandler) -> None:
    http, _ = client
    for origin in ("http://attacker.example", "null", "http://127.0.0.1:9999", "file://"):
        response = http.post("/api/action", json={"action": "pause"}, headers={"Origin": origin})
        assert response.status_code == 403, origin
    assert handler.commands == []
    ok = http.post("/api/action", json={"action": "pause"}, headers={"Origin": "http://127.0.0.1:8080"})
    assert ok.status_code == 200
    with pytest.raises(WebSocketDisconnect) as exc_info, http.websocket_connect(
        "/ws", headers={"Origin": "http://attacker.example"}
    ) as ws:
        ws.receive_text()
    assert exc_info.value.code == 4403


def test_token_never_in_payloads(handler: RecordingHandler) -> None:
    with app_client(handler, token=TOKEN) as (http, web):
        push(http, web, make_status(3))
        for path in ("/api/status", "/metrics", "/api/price_history"):
            assert TOKEN not in http.get(path, headers=BEARER).text
        assert TOKEN not in http.get("/schema/openapi.json").text
        assert TOKEN not in repr(web)
        assert TOKEN not in http.post("/api/action", json={"action": "x"}, headers=BEARER).text


def test_redaction_filter_scrubs_query_tokens() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/ws?token={TOKEN}&x=1"), None,
    )
    RedactTokenFilter().filter(record)
    message = record.getMessage()
    assert TOKEN not in message
    assert "token=<redacted>&x=1" in message


def test_redaction_filter_scrubs_bearer_headers() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, "< %s: %s", ("authorization", f"Bearer {TOKEN}"), None
    )
    RedactTokenFilter().filter(record)
    assert TOKEN not in record.getMessage()
    assert record.getMessage() == "< authorization: Bearer <redacted>"


def test_web_state_repr_hides_token() -> None:
    state = WebState(lambda cmd: None, token=TOKEN)
    try:
        assert TOKEN not in repr(state) and "token=set" in repr(state)
    finally:
        state.shutdown()

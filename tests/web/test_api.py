"""HTTP API through Litestar's TestClient: status, actions, replies, schema, pages, metrics."""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

import msgspec
import pytest

from actors.alerts import Alert
from actors.commands import (
    ACTION_NAMES,
    AddLayer,
    AddSlot,
    AuditPnl,
    CancelStaleRecoveries,
    CommandReply,
    Pause,
    ReconcileDrift,
    ReleaseSlot,
    RemoveLayer,
    RemoveSlot,
    RemoveSlots,
    Resume,
    SetEntryPct,
    SetLossLimit,
    SetProfitPct,
    SoftClose,
    SoftCloseNext,
)
from actors.status import StatusSnapshot
from tests.web import promtext
from tests.web.conftest import RecordingHandler, app_client, push
from tests.web.status_factory import make_status, with_changes
from web.app import STATIC_DIR, WebOptions

VALID_COMMANDS = [
    ({"action": "pause"}, Pause()),
    ({"action": "pause", "reason": "lunch"}, Pause(reason="lunch")),
    ({"action": "resume"}, Resume()),
    ({"action": "add_slot"}, AddSlot()),
    ({"action": "add_slot", "alias": "wow_1"}, AddSlot(alias="wow_1")),
    ({"action": "remove_slot", "slot_id": 3}, RemoveSlot(slot_id=3)),
    ({"action": "remove_slots", "count": 2}, RemoveSlots(count=2)),
    ({"action": "add_layer", "source": "doge"}, AddLayer(source="doge")),
    ({"action": "remove_layer"}, RemoveLayer()),
    ({"action": "set_entry_pct", "value": 0.35}, SetEntryPct(value=0.35)),
    ({"action": "set_profit_pct", "value": 1}, SetProfitPct(value=1.0)),
    ({"action": "set_loss_limit", "value": 12.5}, SetLossLimit(value=12.5)),
    ({"action": "set_loss_limit", "value": 0}, SetLossLimit(value=0.0)),
    ({"action": "soft_close", "slot_id": 1, "recovery_id": 11}, SoftClose(slot_id=1, recovery_id=11)),
    ({"action": "soft_close_next"}, SoftCloseNext()),
    ({"action": "cancel_stale_recoveries", "min_distance_pct": 5}, CancelStaleRecoveries(min_distance_pct=5.0)),
    ({"action": "reconcile_drift"}, ReconcileDrift()),
    ({"action": "audit_pnl"}, AuditPnl()),
    ({"action": "release_slot", "slot_id": 2, "local_id": 4}, ReleaseSlot(slot_id=2, local_id=4)),
    ({"action": "release_slot", "slot_id": 2, "force_tier": "panic"}, ReleaseSlot(slot_id=2, force_tier="panic")),
]

# (raw body, field the 400 must name or None, substring of the message)
BAD_BODIES: list[tuple[bytes, str | None, str]] = [
    (b"{bad", None, "malformed JSON"),
    (b"", None, "empty body"),
    (b"   ", None, "empty body"),
    (b"\xff\xfe\x00", None, "malformed JSON"),
    (b"[]", None, "Expected `object`"),
    (b'"pause"', None, "Expected `object`"),
    (b"{}", "action", "missing required field `action`"),
    (b'{"action": "nope"}', "action", "Invalid value 'nope'"),
    (b'{"action": 5}', "action", "Expected `str`"),
    (b'{"action": "set_entry_pct"}', "value", "missing required field `value`"),
    (b'{"action": "set_entry_pct", "value": "x"}', "value", "Expected `float`, got `str`"),
    (b'{"action": "set_entry_pct", "value": "0.5"}', "value", "Expected `float`, got `str`"),
    (b'{"action": "set_entry_pct", "value": 0}', "value", "> 0.0"),
    (b'{"action": "set_entry_pct", "value": 51}', "value", "<= 50.0"),
    (b'{"action": "set_profit_pct", "value": null}', "value", "got `null`"),
    (b'{"action": "set_loss_limit", "value": -1}', "value", ">= 0.0"),
    (b'{"action": "set_loss_limit", "value": 1e7}', "value", "<= 1000000.0"),
    (b'{"action": "set_loss_limit"}', "value", "missing required field `value`"),
    (b'{"action": "remove_slot", "slot_id": -1}', "slot_id", ">= 0"),
    (b'{"action": "remove_slot", "slot_id": 1.5}', "slot_id", "Expected `int`"),
    (b'{"action": "remove_slot", "slot_id": "3"}', "slot_id", "Expected `int`"),
    (b'{"action": "remove_slot", "slot_id": 2000000}', "slot_id", "<= 1000000"),
    (b'{"action": "remove_slots", "count": 0}', "count", ">= 1"),
    (b'{"action": "pause", "extra": 1}', "extra", "unknown field `extra`"),
    (b'{"action": "pause", "reason": "' + b"x" * 201 + b'"}', "reason", "length <= 200"),
    (b'{"action": "add_slot", "alias": "bad alias!"}', "alias", "matching regex"),
    (b'{"action": "add_layer", "source": "btc"}', "source", "Invalid enum value 'btc'"),
    (b'{"action": "soft_close", "slot_id": 1}', "recovery_id", "missing required field `recovery_id`"),
    (b'{"action": "release_slot", "slot_id": 1, "force_tier": "yolo"}', "force_tier", "'yolo'"),
]


def test_every_action_is_covered() -> None:
    assert {body["action"] for body, _ in VALID_COMMANDS} == set(ACTION_NAMES)


@pytest.mark.parametrize(("body", "expected"), VALID_COMMANDS, ids=[json.dumps(b) for b, _ in VALID_COMMANDS])
def test_action_reaches_handler_as_struct(client, handler: RecordingHandler, body, expected) -> None:
    http, _ = client
    response = http.post("/api/action", json=body)
    assert response.status_code == 200, response.text
    assert handler.commands == [expected]
    assert type(handler.commands[0]) is type(expected)
    reply = response.json()
    assert reply == {"ok": True, "action": body["action"], "message": f"{body['action']} done", "data": {}}


@pytest.mark.parametrize(("raw", "field", "needle"), BAD_BODIES, ids=[b[0][:40].decode("latin-1") for b in BAD_BODIES])
def test_bad_input_is_400_naming_the_field(client, handler: RecordingHandler, raw, field, needle) -> None:
    http, _ = client
    response = http.post("/api/action", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["data"]["error_kind"] == "invalid_input"
    assert body["data"].get("field") == field
    assert needle in body["message"]
    if field is not None:
        assert field in body["message"]
    assert handler.commands == []


def test_unknown_action_lists_known_ones(client) -> None:
    http, _ = client
    body = http.post("/api/action", json={"action": "explode"}).json()
    assert "known actions:" in body["message"] and "set_entry_pct" in body["message"]


def test_bad_field_of_known_action_names_the_action(client) -> None:
    http, _ = client
    body = http.post("/api/action", json={"action": "set_profit_pct", "value": -3}).json()
    assert body["action"] == "set_profit_pct"


def test_oversized_body_is_refused(client, handler: RecordingHandler) -> None:
    http, _ = client
    response = http.post("/api/action", content=b'{"action":"pause","reason":"' + b"x" * 20000 + b'"}')
    assert response.status_code == 413
    assert handler.commands == []


def test_refused_by_runtime_is_409(client, handler: RecordingHandler) -> None:
    handler.behaviour["remove_slot"] = CommandReply(
        ok=False, action="remove_slot", message="no slot 99", data={"error_kind": "refused"}
    )
    http, _ = client
    response = http.post("/api/action", json={"action": "remove_slot", "slot_id": 99})
    assert response.status_code == 409
    assert response.json() == {
        "ok": False, "action": "remove_slot", "message": "no slot 99", "data": {"error_kind": "refused"}
    }


def test_refused_without_kind_is_409(client, handler: RecordingHandler) -> None:
    handler.behaviour["resume"] = CommandReply(ok=False, action="resume", message="daily loss lock active")
    http, _ = client
    assert http.post("/api/action", json={"action": "resume"}).status_code == 409


def test_runtime_invalid_input_is_400(client, handler: RecordingHandler) -> None:
    handler.behaviour["soft_close"] = CommandReply(
        ok=False, action="soft_close", message="slot 1 has no recovery 7", data={"error_kind": "invalid_input", "field": "recovery_id"}
    )
    http, _ = client
    response = http.post("/api/action", json={"action": "soft_close", "slot_id": 1, "recovery_id": 7})
    assert response.status_code == 400
    assert response.json()["data"]["field"] == "recovery_id"


def test_handler_exception_is_500_without_internals(client, handler: RecordingHandler, caplog) -> None:
    handler.behaviour["pause"] = RuntimeError("db password is hunter2")
    http, _ = client
    with caplog.at_level(logging.ERROR, logger="web.routes"):
        response = http.post("/api/action", json={"action": "pause"})
    assert response.status_code == 500
    body = response.json()
    assert body["ok"] is False and body["data"]["error_kind"] == "internal"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert any("command handler raised on pause" in r.getMessage() for r in caplog.records)
    # the server is still fine
    assert http.post("/api/action", json={"action": "resume"}).status_code == 200


def test_handler_returning_garbage_is_500(client, handler: RecordingHandler) -> None:
    handler.behaviour["audit_pnl"] = lambda cmd: {"ok": True}
    http, _ = client
    assert http.post("/api/action", json={"action": "audit_pnl"}).status_code == 500


def test_reply_data_with_odd_objects_still_encodes(client, handler: RecordingHandler) -> None:
    handler.behaviour["audit_pnl"] = CommandReply(ok=True, action="audit_pnl", message="ok", data={"path": Path("/x")})
    http, _ = client
    response = http.post("/api/action", json={"action": "audit_pnl"})
    assert response.status_code == 200
    assert response.json()["data"] == {"path": "/x"}


def test_slow_runtime_is_504(handler: RecordingHandler) -> None:
    handler.behaviour["pause"] = lambda cmd: time.sleep(1.0) or CommandReply(ok=True, action="pause", message="late")
    with app_client(handler, options=WebOptions(command_timeout=0.2)) as (http, _):
        started = time.monotonic()
        response = http.post("/api/action", json={"action": "pause"})
        assert response.status_code == 504
        assert time.monotonic() - started < 0.9
        assert response.json()["data"]["error_kind"] == "timeout"


def test_actions_counted_with_bounded_labels(client) -> None:
    http, web = client
    http.post("/api/action", json={"action": "pause"})
    http.post("/api/action", json={"action": "totally-made-up-" + "x" * 50})
    assert web.action_counts[("pause", "200")] == 1
    assert web.action_counts[("invalid", "400")] == 1
    assert len(web.action_counts) == 2


# --------------------------------------------------------------------------- status


def test_status_before_and_after_push(client) -> None:
    http, web = client
    for path in ("/api/status", "/api/swarm/status"):
        response = http.get(path)
        assert response.status_code == 503
        assert response.json()["detail"].startswith("no status")
    snapshot = make_status(5)
    push(http, web, snapshot)
    for path in ("/api/status", "/api/swarm/status"):
        response = http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        assert msgspec.json.decode(response.content, type=StatusSnapshot) == snapshot
    newer = with_changes(snapshot, mode="PAUSED", pause_reason="operator", ts=snapshot.ts + 1)
    push(http, web, newer)
    assert http.get("/api/status").json()["mode"] == "PAUSED"


def test_price_history_is_downsampled(client) -> None:
    http, web = client
    base = make_status(2)
    for i in range(60):  # one snapshot per second for a minute
        push(http, web, with_changes(base, ts=base.ts + i, price_ts=base.ts + i, price=0.1 + i * 1e-5))
    points = http.get("/api/price_history").json()["points"]
    times = [p[0] for p in points]
    assert times == sorted(times)
    assert points[-1] == [base.ts + 59, pytest.approx(0.1 + 59e-5)]
    assert 10 <= len(points) <= 14  # one per 5 s plus the moving end
    assert all(b - a >= 5 for a, b in itertools.pairwise(times[:-1]))
    since = http.get("/api/price_history", params={"since": base.ts + 30}).json()["points"]
    assert since and all(p[0] >= base.ts + 30 for p in since)


def test_alerts_are_kept_for_the_dashboard(client) -> None:
    http, web = client
    assert http.get("/api/alerts").json() == {"alerts": []}
    for i in range(60):
        alert = Alert(kind="paused", message=f"paused #{i}", ts=1_760_000_000.0 + i, severity="warning")
        http.blocking_portal.call(web.hub.offer_alert, alert)
    alerts = http.get("/api/alerts").json()["alerts"]
    assert len(alerts) == 50
    assert alerts[-1] == {"type": "alert", "kind": "paused", "message": "paused #59", "ts": 1_760_000_059.0,
                          "severity": "warning", "slot_id": None}
    samples = promtext.parse(http.get("/metrics").text)
    assert promtext.value(samples, "dogebot_web_alerts_received_total") == 60


# --------------------------------------------------------------------------- pages and schema


def test_dashboard_page_and_assets(client) -> None:
    http, _ = client
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/app.js"' in page.text
    js = http.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = http.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_static_files_need_no_network() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert "https://" not in text and "http://" not in text, path
        assert "cdn" not in text.lower(), path


def test_openapi_schema(client) -> None:
    http, _ = client
    schema = http.get("/schema/openapi.json").json()
    action = schema["paths"]["/api/action"]["post"]
    variants = action["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert len(variants) == len(ACTION_NAMES)
    assert {"200", "400", "401", "409", "500", "504"} <= set(action["responses"])
    assert "/api/status" in schema["paths"] and "/api/swarm/status" in schema["paths"]
    assert "StatusSnapshot" in json.dumps(schema["paths"]["/api/status"])
    assert "/metrics" in schema["paths"]


# --------------------------------------------------------------------------- metrics


def test_metrics_without_status_parse(client) -> None:
    http, _ = client
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = promtext.parse(response.text)
    assert promtext.value(samples, "dogebot_status_available") == 0
    assert promtext.value(samples, "dogebot_web_ws_clients") == 0


def test_metrics_with_status_and_source(handler: RecordingHandler) -> None:
    source = {
        "actor_queue_depth": {"slot-0": 3, "ledger": 0, 'odd"name\n': 1},
        "rate_budget_calls_total": 42,
        "rate budget/headroom": 0.5,
        "slots": 999,  # collides with a built-in family: ignored, not duplicated
        "not_a_number": "x",
    }
    with app_client(handler, metrics_source=lambda: source) as (http, web):
        snapshot = make_status(6, partial_cancels=1)
        push(http, web, snapshot)
        http.post("/api/action", json={"action": "pause"})
        samples = promtext.parse(http.get("/metrics").text)
    v = promtext.value
    assert v(samples, "dogebot_status_available") == 1
    assert v(samples, "dogebot_mode", mode="RUNNING") == 1 and v(samples, "dogebot_mode", mode="PAUSED") == 0
    assert v(samples, "dogebot_price_usd") == pytest.approx(snapshot.price)
    assert v(samples, "dogebot_realized_pnl_usd") == pytest.approx(snapshot.total_profit)
    assert v(samples, "dogebot_today_realized_pnl_usd") == pytest.approx(snapshot.today_realized_pnl)
    assert v(samples, "dogebot_fills_booked_total") == snapshot.counters.fills_booked
    assert v(samples, "dogebot_cycles_booked_total") == snapshot.counters.cycles_booked
    cap = snapshot.capacity_fill_health
    assert v(samples, "dogebot_open_orders", source="current") == cap.open_orders_current
    assert v(samples, "dogebot_open_order_headroom") == cap.open_order_headroom
    assert v(samples, "dogebot_capacity_band", band="stop") == 1
    assert v(samples, "dogebot_slots") == 6
    assert v(samples, "dogebot_web_actions_total", action="pause", status="200") == 1
    assert ("dogebot_web_push_latency_seconds_count", ()) in samples
    assert v(samples, "dogebot_actor_queue_depth", name="slot-0") == 3
    assert v(samples, "dogebot_actor_queue_depth", name='odd\\"name\\n') == 1
    assert v(samples, "dogebot_rate_budget_calls_total") == 42
    assert v(samples, "dogebot_rate_budget_headroom") == 0.5
    assert v(samples, "dogebot_web_metrics_source_errors_total") == 0
    assert not any(name == "dogebot_not_a_number" for name, _ in samples)


@pytest.mark.parametrize("source", [lambda: 1 / 0, lambda: ["not", "a", "dict"]])
def test_metrics_source_failure_is_counted_not_fatal(handler: RecordingHandler, source) -> None:
    with app_client(handler, metrics_source=source) as (http, _):
        response = http.get("/metrics")
        assert response.status_code == 200
        samples = promtext.parse(response.text)
        assert promtext.value(samples, "dogebot_web_metrics_source_errors_total") == 1


def test_unknown_route_is_404_json(client) -> None:
    http, _ = client
    response = http.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["status_code"] == 404

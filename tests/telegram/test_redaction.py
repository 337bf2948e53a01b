"""The bot token never shows up in logs, in exception text shown to people, or in payloads."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actors.alerts import Alert
from actors.commands import CommandReply
from actors.telegram import GetTelegramStats, TelegramActor
from actors.telegram_outbox import SecretRedactor, redact
from core.config import REDACTED
from tests.telegram.fakes import ALLOWED, BOT_ID, BOT_USERNAME, TOKEN, RecordingHandler, settings
from tests.telegram.harness import FAST, Harness, run
from tests.telegram.test_actor import Running, wait_until

SECRET_HALF = TOKEN.split(":", 1)[1]


def _assert_clean(text: str) -> None:
    assert TOKEN not in text
    assert SECRET_HALF not in text


def test_redactor_scrubs_message_args_traceback_and_stack() -> None:
    f = SecretRedactor()
    f.add(TOKEN)
    try:
        raise ValueError(f"bad url https://api.telegram.org/bot{TOKEN}/getMe")
    except ValueError as exc:
        record = logging.LogRecord("telegram.Bot", logging.ERROR, __file__, 1, "calling %s with %r",
                                   (f"/bot{TOKEN}/sendMessage", {"t": SECRET_HALF}),
                                   (type(exc), exc, exc.__traceback__))
    record.stack_info = f"stack mentioning {TOKEN}"
    assert f.filter(record)
    out = logging.Formatter().format(record)
    _assert_clean(out)
    assert out.count(REDACTED) >= 4
    # URL-encoded ':' leaves the secret half exposed unless it is redacted on its own.
    assert f.redact(TOKEN.replace(":", "%3A")) == TOKEN.split(":")[0] + "%3A" + REDACTED


def test_full_session_logs_nothing_secret_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = Running().start()
    try:
        r.poll("/status", 1)
        r.poll("/pause", 2)
        r.tell(Alert(kind="halt", message="boom", ts=1.0, severity="critical"))
        wait_until(lambda: len(r.fake.sent()) >= 4)
    finally:
        r.stop()
    # python-telegram-bot logged its API URL (token inside) at DEBUG: the record is there, scrubbed.
    urls = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("Set Bot API URL")]
    assert urls and all(u.endswith(f"/bot{REDACTED}") for u in urls)
    _assert_clean(caplog.text)
    for rec in caplog.records:
        _assert_clean(rec.getMessage())


def test_exception_text_carrying_the_token_is_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def leaky(command: object) -> CommandReply:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")

    async def go() -> Harness:
        async with Harness(handler=RecordingHandler(leaky)) as h:
            # install_redaction is the actor's job at start; the harness drives the bot without one.
            from actors.telegram_outbox import install_redaction
            install_redaction(TOKEN)
            await h.command("/pause")
            return h

    h = run(go)
    (reply,) = h.fake.texts()
    assert reply == "❌ pause failed (RuntimeError); see the bot's log."
    failure = [rec for rec in caplog.records if "command pause failed" in rec.getMessage()]
    assert failure and failure[0].exc_info is not None
    assert REDACTED in caplog.text  # the traceback was logged, scrubbed
    _assert_clean(caplog.text)


def test_payloads_never_carry_the_token() -> None:
    r = Running(settings(TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED))).start()
    try:
        r.tell(Alert(kind="halt", message=f"config dump: token={TOKEN}", ts=1.0, severity="critical"))
        r.poll("/help", 1)
        wait_until(lambda: len(r.fake.sent()) >= 2)
        stats = r.stats()
    finally:
        r.stop()
    assert r.fake.texts()[0] == f"🛑 HALT: config dump: token={REDACTED}"
    for _, params, _ in r.fake.calls:
        _assert_clean(json.dumps(params, ensure_ascii=False))
    _assert_clean(json.dumps(stats))
    assert redact(f"x{TOKEN}y") == f"x{REDACTED}y"


# --- the real HTTP client against a loopback Bot API stand-in ----------------------------------


class _BotApi(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        _BotApi.paths.append(self.path)
        method = self.path.rsplit("/", 1)[-1]
        result: Any = True
        if method == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "Doge Slots", "username": BOT_USERNAME}
        elif method == "sendMessage":
            result = {"message_id": 1, "date": 1767225600, "chat": {"id": ALLOWED, "type": "private"},
                      "text": "ok"}
        elif method == "getUpdates":
            time.sleep(0.05)
            result = []
        body = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        return None


@pytest.fixture
def bot_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApi)
    thread = threading.Thread(target=server.serve_forever, name="botapi-standin", daemon=True)
    thread.start()
    _BotApi.paths = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bot"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_httpx_request_urls_are_redacted(bot_api: str, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    caplog.set_level(logging.DEBUG)
    before = set(threading.enumerate())
    ref = TelegramActor.start(settings(TELEGRAM_ALLOWED_CHAT_IDS=str(ALLOWED)), RecordingHandler(),
                              base_url=bot_api, limits=FAST)
    try:
        wait_until(lambda: ref.ask(GetTelegramStats(), timeout=2)["ready"])
        ref.tell(Alert(kind="halt", message="real client", ts=1.0, severity="critical"))
        wait_until(lambda: any(p.endswith("/sendMessage") for p in _BotApi.paths))
    finally:
        ref.stop(timeout=30)
    # The token really was in every URL on the wire (that is Telegram's protocol) ...
    assert _BotApi.paths and all(p.startswith(f"/bot{TOKEN}/") for p in _BotApi.paths)
    # ... and httpx logged those URLs at INFO, scrubbed.
    http_lines = [rec.getMessage() for rec in caplog.records if rec.name == "httpx"]
    assert any(f"/bot{REDACTED}/sendMessage" in line for line in http_lines)
    _assert_clean(caplog.text)
    # The real client resolved the host through the loop's executor; that thread is gone too.
    wait_until(lambda: not (set(threading.enumerate()) - before), timeout=5)

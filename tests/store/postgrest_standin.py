"""A small PostgREST stand-in on 127.0.0.1 speaking the wire shapes supabase-py uses for writes.

POST /rest/v1/<table>[?on_conflict=cols][&columns=...] with a JSON array body and a Prefer header:
* `return=minimal` (+ `resolution=merge-duplicates`): 201, empty body.
* unknown table: 404 {"code": "42P01", ...} as PostgREST reports a missing relation.
* plain insert of an existing key: 409 {"code": "23505", ...}; the whole batch is refused.
* a row the test marks as bad: 400 {"code": "22P02", ...}; the whole batch is refused.
* wrong apikey / Authorization: 401 {"code": "PGRST301", ...}.
Tests can queue forced statuses (e.g. 503) and delays, and read every request recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any
    status: int = 0


@dataclass
class Table:
    key: list[str]
    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


class PostgrestStandIn:
    def __init__(self, tables: dict[str, str], *, key: str = "test-key") -> None:
        self.tables = {name: Table(key=[c.strip() for c in cols.split(",")]) for name, cols in tables.items()}
        self.key = key
        self.requests: list[Recorded] = []
        self.forced: list[int] = []  # statuses answered (in order) before normal handling
        self.delays: list[float] = []  # seconds to stall before answering (in order)
        self.bad_row: Callable[[str, dict[str, Any]], bool] | None = None
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                standin._handle(self)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> PostgrestStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.tables[table].rows.values())

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        parts = urlsplit(h.path)
        rec = Recorded(
            method="POST",
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        with self.lock:
            self.requests.append(rec)
            delay = self.delays.pop(0) if self.delays else 0.0
            forced = self.forced.pop(0) if self.forced else 0
        if delay:
            time.sleep(delay)
        status, body = self._answer(rec, forced)
        rec.status = status
        data = json.dumps(body).encode() if body is not None else b""
        h.send_response(status)
        if data:
            h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _answer(self, rec: Recorded, forced: int) -> tuple[int, Any]:
        if rec.headers.get("apikey") != self.key or rec.headers.get("authorization") != f"Bearer {self.key}":
            return 401, {"code": "PGRST301", "message": "JWSError", "details": None, "hint": None}
        if forced:
            return forced, {"code": "PGRST000", "message": "upstream unavailable", "details": None, "hint": None}
        if not rec.path.startswith("/rest/v1/"):
            return 404, None
        name = rec.path.removeprefix("/rest/v1/")
        table = self.tables.get(name)
        if table is None:
            return 404, {"code": "42P01", "message": f'relation "public.{name}" does not exist',
                         "details": None, "hint": None}
        rows = rec.body if isinstance(rec.body, list) else [rec.body]
        prefer = [p.strip() for p in rec.headers.get("prefer", "").split(",") if p.strip()]
        with self.lock:
            if self.bad_row is not None and any(self.bad_row(name, r) for r in rows):
                return 400, {"code": "22P02", "message": "invalid input syntax", "details": None, "hint": None}
            if "resolution=merge-duplicates" in prefer:
                conflict = rec.query.get("on_conflict", [",".join(table.key)])[0].split(",")
                for r in rows:
                    k = tuple(r[c] for c in conflict)
                    table.rows[k] = {**table.rows.get(k, {}), **r}
                return 201, None
            keys = [tuple(r[c] for c in table.key) for r in rows]
            dup = next((k for i, k in enumerate(keys) if k in table.rows or k in keys[:i]), None)
            if dup is not None:
                return 409, {"code": "23505",
                             "message": f'duplicate key value violates unique constraint "{name}_pkey"',
                             "details": f"Key ({','.join(table.key)})=({','.join(map(str, dup))}) already exists.",
                             "hint": None}
            for k, r in zip(keys, rows, strict=True):
                table.rows[k] = r
            return 201, None

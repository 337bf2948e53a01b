"""The optional Supabase replica, fed from the outbox (store/outbox.py).

`SupabaseReplica.send(rows)` makes one delivery attempt for a batch of outbox rows through
supabase-py's PostgREST client (batched `insert`/`upsert`, `returning="minimal"`, short timeouts,
supabase-py's own retries off) and reports which rows were acknowledged. It never sleeps and
never deletes anything: the store actor acks the reported rows in SQLite and owns the backoff, so
a row leaves the outbox only once the replica has confirmed it.

Error handling, by what PostgREST answers:
* 2xx: delivered.
* 404 / 42P01 / PGRST205 (table missing) or 42703 / PGRST204 (column missing): the table is
  disabled with one warning; its rows stay queued and the table is probed again later.
* 409 / 23505 on an insert: some row is already there (a redelivery after a lost response). The
  batch is retried row by row; a row that is itself a duplicate counts as delivered.
* other 4xx: some row is unacceptable. The batch is retried row by row so the bad row is isolated
  and only it is marked failed (it backs off; the others go through).
* 5xx, 408, 429, 401/403, timeouts, network errors: the replica looks down; the attempt stops and
  the untouched rows stay queued for the next attempt.

`ReplicaPump` runs `send` on its own thread so the store actor never waits for the network.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from postgrest.exceptions import APIError
from supabase import create_client
from supabase.lib.client_options import SyncClientOptions

from store.rows import OutboxRow, StoreError

if TYPE_CHECKING:
    from store.sqlite import SqliteStore

log = logging.getLogger(__name__)

MISSING_CODES = frozenset({"42P01", "PGRST205", "42703", "PGRST204"})
DUPLICATE_CODES = frozenset({"23505"})
TRANSIENT_STATUSES = frozenset({401, 403, 408, 425, 429})


class SendReport(msgspec.Struct, kw_only=True):
    acked: list[int] = []
    failed: dict[str, list[int]] = {}  # error text -> row ids that were rejected
    transient_error: str | None = None  # the replica looked down; the rest of the batch is untouched
    disabled_tables: list[str] = []  # tables currently disabled: leave their rows out of the next take
    disabled_until: dict[str, float] = {}  # table -> monotonic time of its next probe
    newly_disabled: dict[str, str] = {}  # table -> error, disabled during this attempt


class _Outcome(msgspec.Struct, frozen=True):
    kind: str  # ok | missing | duplicate | rejected | transient
    error: str = ""


class SupabaseReplica:
    """Delivers outbox rows to Supabase (PostgREST). Used from one thread at a time."""

    def __init__(
        self,
        url: str,
        key: str,
        timeout: float = 5.0,
        *,
        max_request_bytes: int = 1_000_000,
        recheck_disabled_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._last_status: int | None = None
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            event_hooks={"response": [self._remember_status]},
        )
        # supabase-py's own retry only covers GET/HEAD and sleeps in place; the outbox retries instead.
        options = SyncClientOptions(
            httpx_client=self._http,
            postgrest_client_retry=False,
            auto_refresh_token=False,
            persist_session=False,
        )
        self._client = create_client(url, key, options=options)
        self._max_bytes = max_request_bytes
        self._recheck_s = recheck_disabled_s
        self._monotonic = monotonic
        self._disabled: dict[str, float] = {}  # table -> monotonic time of the next probe
        self._warned: set[str] = set()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SupabaseReplica | None:
        """A replica from SUPABASE_URL / SUPABASE_KEY (and SUPABASE_TIMEOUT_S), or None when unset."""
        env = os.environ if env is None else env
        url, key = env.get("SUPABASE_URL", "").strip(), env.get("SUPABASE_KEY", "").strip()
        if not url or not key:
            return None
        try:
            timeout = float(env.get("SUPABASE_TIMEOUT_S", "") or 5.0)
        except ValueError:
            log.warning("replica: SUPABASE_TIMEOUT_S=%r is not a number; using 5 s", env.get("SUPABASE_TIMEOUT_S"))
            timeout = 5.0
        return cls(url, key, timeout=min(max(timeout, 0.5), 60.0))

    def close(self) -> None:
        self._http.close()

    def _remember_status(self, response: httpx.Response) -> None:
        # APIError does not carry the HTTP status; the hook lets us tell 404/409/4xx/5xx apart.
        self._last_status = response.status_code

    def disabled_tables(self) -> list[str]:
        now = self._monotonic()
        return sorted(t for t, probe_at in self._disabled.items() if now < probe_at)

    # ------------------------------------------------------------------ delivery

    def send(self, rows: Sequence[OutboxRow]) -> SendReport:
        report = SendReport()
        groups: dict[tuple[str, str, str], list[OutboxRow]] = {}
        for r in rows:
            groups.setdefault((r.table_name, r.op, r.conflict_key), []).append(r)
        for (table, op, conflict_key), group in groups.items():
            if table in self.disabled_tables():
                continue
            for chunk in self._chunks(group):
                outcome = self._deliver(table, op, conflict_key, chunk, report)
                if outcome.kind == "transient":
                    report.transient_error = f"{table}: {outcome.error}"
                    return self._finish(report)
                if outcome.kind == "missing":
                    self._disable(table, outcome.error, report)
                    break
        return self._finish(report)

    def _finish(self, report: SendReport) -> SendReport:
        report.disabled_tables = self.disabled_tables()
        report.disabled_until = {t: self._disabled[t] for t in report.disabled_tables}
        return report

    def _chunks(self, group: list[OutboxRow]) -> list[list[OutboxRow]]:
        chunks: list[list[OutboxRow]] = [[]]
        size = 0
        for r in group:
            if chunks[-1] and size + len(r.row) > self._max_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append(r)
            size += len(r.row)
        return chunks

    def _deliver(self, table: str, op: str, conflict_key: str, chunk: list[OutboxRow],
                 report: SendReport) -> _Outcome:
        outcome = self._post(table, op, conflict_key, chunk)
        if outcome.kind == "ok":
            self._enabled(table)
            report.acked.extend(r.id for r in chunk)
            return outcome
        if outcome.kind not in ("duplicate", "rejected"):
            return outcome
        if len(chunk) == 1:
            if outcome.kind == "duplicate" and op == "insert":
                report.acked.append(chunk[0].id)  # already in the replica: delivered
            else:
                report.failed.setdefault(f"{table}: {outcome.error}", []).append(chunk[0].id)
            return _Outcome("ok")
        # Isolate the duplicate or bad rows: one request per row.
        for r in chunk:
            single = self._deliver(table, op, conflict_key, [r], report)
            if single.kind in ("transient", "missing"):
                return single
        return _Outcome("ok")

    def _post(self, table: str, op: str, conflict_key: str, chunk: list[OutboxRow]) -> _Outcome:
        body = self._bodies(op, chunk)
        self._last_status = None
        try:
            query = self._client.table(table)
            if op == "upsert":
                query.upsert(body, on_conflict=conflict_key, returning="minimal").execute()
            else:
                query.insert(body, returning="minimal").execute()
            return _Outcome("ok")
        except APIError as e:
            return self._classify(e.code, e.message or str(e))
        except httpx.HTTPError as e:  # timeouts, refused connections, protocol errors
            return _Outcome("transient", f"{type(e).__name__}: {e}")
        except Exception as e:  # an unexpected client failure must not lose rows: retry later
            log.exception("replica: unexpected error sending to %s", table)
            return _Outcome("transient", f"{type(e).__name__}: {e}")

    @staticmethod
    def _bodies(op: str, chunk: list[OutboxRow]) -> list[Any]:
        rows = [msgspec.json.decode(r.row) for r in chunk]
        if op != "upsert":
            return rows
        # Postgres refuses to upsert the same key twice in one statement; keep the newest version.
        newest: dict[str | int, Any] = {}
        for r, body in zip(chunk, rows, strict=True):
            newest[r.row_key if r.row_key is not None else r.id] = body
        return list(newest.values())

    def _classify(self, code: str | None, message: str) -> _Outcome:
        status = self._last_status
        text = f"HTTP {status} {code or ''} {message}".strip()
        if code in MISSING_CODES or status == 404:
            return _Outcome("missing", text)
        if code in DUPLICATE_CODES or status == 409:
            return _Outcome("duplicate", text)
        if status is None or status >= 500 or status in TRANSIENT_STATUSES:
            return _Outcome("transient", text)
        return _Outcome("rejected", text)

    def _disable(self, table: str, error: str, report: SendReport) -> None:
        self._disabled[table] = self._monotonic() + self._recheck_s
        report.newly_disabled[table] = error
        if table not in self._warned:
            self._warned.add(table)
            log.warning("replica: table %s disabled (%s); its rows stay queued, trading goes on", table, error)
        else:
            log.debug("replica: table %s still unavailable (%s)", table, error)

    def _enabled(self, table: str) -> None:
        if self._disabled.pop(table, None) is not None:
            log.warning("replica: table %s reachable again; sending its queued rows", table)


class ReplicaPump:
    """Runs SupabaseReplica.send on a private thread, one batch at a time.

    The owner keeps its own in-flight flag (set on submit, cleared when it handles the report), so
    it never takes rows that are still being sent. `on_report(report)` runs on the pump thread and
    should only hand the report over (e.g. `actor_ref.tell(...)`).
    """

    def __init__(self, replica: SupabaseReplica, on_report: Callable[[SendReport], None]) -> None:
        self.replica = replica
        self._on_report = on_report
        self._queue: queue.Queue[list[OutboxRow]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-replica", daemon=True)
        self._thread.start()

    def submit(self, rows: list[OutboxRow]) -> bool:
        if self._stop.is_set():
            return False
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                report = self.replica.send(rows)
            except Exception as e:  # send() classifies errors itself; this is a last resort
                log.exception("replica pump: send failed")
                report = SendReport(transient_error=f"{type(e).__name__}: {e}")
            try:
                self._on_report(report)
            except Exception:
                log.exception("replica pump: report handler failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in flight (bounded by the HTTP timeout); unsent rows stay queued."""
        self._stop.set()
        self._thread.join(timeout)
        self.replica.close()


class ReplicaFeeder:
    """The store side of replication, run on the thread that owns the SqliteStore.

    `feed` takes due outbox rows (one batch in flight at most) and hands them to a ReplicaPump;
    `record` writes a report back: acked rows leave the outbox, rejected rows back off per row, and
    after a transient failure the next batch waits (exponential backoff with jitter). `record`
    returns the alerts the owner should raise, as (kind, message, error).
    """

    def __init__(self, replica: SupabaseReplica, deliver: Callable[[SendReport], None], *, batch: int = 500,
                 backoff_s: tuple[float, float] = (1.0, 60.0),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pump = ReplicaPump(replica, deliver)
        self.batch = batch
        self.backoff_s = backoff_s
        self._monotonic = monotonic
        self.in_flight = False
        self.next_at = 0.0
        self.failures = 0
        self.acked = 0
        self.failed = 0
        self.last_error = ""
        self.disabled_until: dict[str, float] = {}
        self._alerted: set[str] = set()

    def feed(self, store: SqliteStore, *, force: bool = False) -> None:
        if self.in_flight or (not force and self._monotonic() < self.next_at):
            return
        try:
            rows = store.take_outbox(self.batch, exclude_tables=self.disabled_tables())
        except StoreError as e:
            log.warning("replica: cannot read the outbox: %s", e)
            return
        if rows and self.pump.submit(rows):
            self.in_flight = True

    def record(self, store: SqliteStore | None, report: SendReport) -> list[tuple[str, str, str]]:
        alerts: list[tuple[str, str, str]] = []
        self.in_flight = False
        self.disabled_until = dict(report.disabled_until)
        for table, error in report.newly_disabled.items():
            if table not in self._alerted:  # once per table: a re-probe that fails again is not news
                self._alerted.add(table)
                alerts.append(("replica_table_disabled", f"replica table {table} unavailable; rows kept", error))
        try:
            if store is not None:
                store.ack_outbox(report.acked)
                for error, ids in report.failed.items():
                    store.fail_outbox(ids, error)
        except StoreError as e:
            # Unacked rows are simply sent again later: the replica writes are idempotent.
            log.warning("replica: could not record delivery results: %s", e)
        self.acked += len(report.acked)
        self.failed += sum(len(ids) for ids in report.failed.values())
        if report.transient_error:
            self.failures += 1
            self.last_error = report.transient_error
            base, cap = self.backoff_s
            delay = min(cap, base * 2 ** (self.failures - 1)) * random.uniform(0.8, 1.2)
            self.next_at = self._monotonic() + delay
            if self.failures == 1:
                alerts.append(("replica_unavailable", "Supabase replica unreachable; rows stay queued",
                               report.transient_error))
            return alerts
        if self.failures:
            alerts.append(("replica_recovered", "Supabase replica reachable again", self.last_error))
        self.failures = 0
        return alerts

    def disabled_tables(self) -> list[str]:
        """Tables to leave out of the next take; once a table's probe time passes, it is tried again."""
        now = self._monotonic()
        return sorted(t for t, until in self.disabled_until.items() if now < until)

    def wait_s(self) -> float:
        return max(0.0, self.next_at - self._monotonic()) if self.failures else 0.0

    def stop(self) -> None:
        self.pump.stop()

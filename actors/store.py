"""StoreActor: the only owner of the SQLite connection, and the pump of the Supabase replica.

Writes arrive by `tell` (actors/store_messages.py) and run as small transactions on this actor's
thread. Writes that queue up together are group-committed: the first one schedules a StoreCommit
marker to itself, and everything in the inbox before the marker shares one transaction (one fsync
instead of one per write; order and each write's own atomicity are unchanged). A failing write never kills the actor: it is tried `write_attempts` times, then held in
memory, in order, and retried with backoff from the actor's timer; the store reports the outage
(status counters, one StoreAlert to the `alerts` sink) and, for BookFills, tells the slot at once
(BookFillsResult ok=False, retrying=True) and again when the batch commits. While writes are held,
new writes queue behind them (a newer slot state must never be overwritten by an older one) and
reads fail with StoreUnavailable rather than answer from a stale file.

That write path (group commit, retry, the hold queue and the replies) is `WriteQueue`
(actors/store_queue.py), mixed into the actor. This module is the actor itself: lifecycle and
timer, message dispatch, the replica pump, and the queries and status below.

Queries (load_state, seen_exec_ids, recent_*...) are plain methods for `proxy()` asks at start-up
and from outside the actor graph; inside the system, use tell.

Replica: every successful write kicks the feeder (store/supabase.py); the pump thread sends one
batch at a time and tells its SendReport back; this actor records it (ack/fail rows in SQLite).
The network never runs on this thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from actors.store_messages import (
    AppendEvents,
    BookFills,
    FlushOutbox,
    InjectStoreFailures,
    InsertPrices,
    ReplicaStatus,
    SaveState,
    StoreCommit,
    StoreStatus,
    StoreTick,
    StoreWrite,
    TrimStore,
    UpsertCandles,
    WriteLedger,
)
from actors.store_queue import WriteQueue
from store.migrate import SCHEMA_VERSION
from store.rows import CandleRow, EventRow, FillRow, JournalRow, PositionRow, PriceRow
from store.sqlite import SqliteStore, StoreError, StoreUnavailable
from store.supabase import ReplicaFeeder, SendReport, SupabaseReplica

log = logging.getLogger(__name__)

_WRITE_TYPES = (BookFills, SaveState, AppendEvents, InsertPrices, UpsertCandles, WriteLedger, TrimStore)


class _Ticker:
    """Tells the actor StoreTick every `interval` seconds from a daemon thread."""

    def __init__(self, interval: float, ref: pykka.ActorRef[Any]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval, ref), name="store-tick", daemon=True)
        self._thread.start()

    def _run(self, interval: float, ref: pykka.ActorRef[Any]) -> None:
        while not self._stop.wait(interval):
            try:
                ref.tell(StoreTick())
            except pykka.ActorDeadError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


class StoreActor(WriteQueue, pykka.ThreadingActor):
    def __init__(
        self,
        path: str | Path,
        *,
        alerts: Any = None,
        replica: SupabaseReplica | None = None,
        mirror: bool | None = None,
        tick_s: float | None = 0.5,
        write_attempts: int = 3,
        retry_backoff_s: tuple[float, float] = (0.2, 5.0),
        replica_backoff_s: tuple[float, float] = (1.0, 60.0),
        outbox_batch: int = 500,
        max_pending_market: int = 10_000,
        max_group: int = 256,
        store_options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """path: the SQLite file. alerts: anything with `tell` (gets StoreAlert). replica: the
        optional Supabase replica (mirroring is on when given, unless `mirror` says otherwise).
        tick_s: period of the retry/pump timer (None: no timer; retries then happen on the next
        message or `flush()`). max_pending_market: price/candle writes held during an outage
        beyond which the oldest of them are dropped (money writes are never dropped). max_group:
        most writes committed in one group transaction."""
        super().__init__()
        self._path = Path(path)
        self._alerts = alerts
        self._replica = replica
        self._mirror = (replica is not None) if mirror is None else mirror
        self._tick_s = tick_s
        self._attempts = max(1, write_attempts)
        self._retry_backoff = retry_backoff_s
        self._replica_backoff = replica_backoff_s
        self._outbox_batch = outbox_batch
        self._max_pending_market = max_pending_market
        self._max_group = max(1, max_group)
        self._store_options = store_options or {}
        self._clock = clock
        self._store: SqliteStore | None = None
        self._pending: deque[StoreWrite] = deque()  # held after failing: retried in order
        self._batch: list[StoreWrite] = []  # collected for the next group commit
        self._commit_scheduled = False
        self._retry_at = 0.0
        self._inject = 0
        self._stats = {"writes_ok": 0, "write_failures": 0, "consecutive": 0, "dropped_market": 0, "commits": 0}
        self._last_error = ""
        self._available = True
        self._ticker: _Ticker | None = None
        self._feeder: ReplicaFeeder | None = None

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        # An unusable file must not stop the actor: it reports StoreUnavailable and keeps trying,
        # so the runtime can see why (status / load_state raise) instead of a dead actor.
        self._open()
        if self._replica is not None:
            self._feeder = ReplicaFeeder(self._replica, self._report_from_pump, batch=self._outbox_batch,
                                         backoff_s=self._replica_backoff)
        if self._tick_s:
            self._ticker = _Ticker(self._tick_s, self.actor_ref)

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        try:
            self._commit_batch()
            for _ in range(3):  # the final flush: a few bounded attempts at the held writes
                if not self._pending:
                    break
                self._drain()
                if self._pending:
                    time.sleep(0.05)
            if self._pending:
                log.error("store: stopping with %d writes not persisted: %s", len(self._pending), self._last_error)
                self._alert("writes_lost", f"{len(self._pending)} writes not persisted at shutdown",
                            self._last_error)
        finally:
            if self._feeder is not None:
                self._feeder.stop()  # a batch in flight stays in the outbox and is resent next start
            if self._store is not None:
                self._store.close()
                self._store = None

    def _open(self) -> bool:
        if self._store is not None:
            return True
        try:
            self._store = SqliteStore(self._path, mirror=self._mirror, clock=self._clock, **self._store_options)
        except StoreError as e:
            self._failed(e, f"cannot open {self._path}")
            return False
        if self._inject:
            self._store.inject_failures(self._inject)
        return True

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> None:
        try:
            if isinstance(message, _WRITE_TYPES):
                self._submit(message)
            elif isinstance(message, StoreCommit):
                self._commit_batch()
            elif isinstance(message, StoreTick):
                self._tick()
            elif isinstance(message, SendReport):
                self._on_report(message)
            elif isinstance(message, FlushOutbox):
                self._tick()
                self._pump_outbox(force=True)
            elif isinstance(message, InjectStoreFailures):
                self.inject_failures(message.n)
            else:
                log.warning("store: unexpected message %r", type(message).__name__)
        except Exception:
            # A tell that raises would stop the actor (pykka); the store must outlive its bugs.
            log.exception("store: failed handling %s", type(message).__name__)

    def _tick(self) -> None:
        if self._pending and time.monotonic() >= self._retry_at:
            self._drain()
        self._pump_outbox()

    # ------------------------------------------------------------------ replica

    def _report_from_pump(self, report: SendReport) -> None:
        # Runs on the pump thread: hand over only (the report itself is the message).
        try:
            self.actor_ref.tell(report)
        except pykka.ActorDeadError:
            log.info("store: replica report after stop; its rows stay in the outbox")

    def _pump_outbox(self, force: bool = False) -> None:
        if self._feeder is not None and self._store is not None and not self._pending:
            self._feeder.feed(self._store, force=force)

    def _on_report(self, report: SendReport) -> None:
        assert self._feeder is not None
        for kind, message, error in self._feeder.record(self._store, report):
            self._alert(kind, message, error)  # type: ignore[arg-type]
        if report.acked and not report.transient_error:
            self._pump_outbox()  # keep draining while rows are flowing

    # ------------------------------------------------------------------ asks (start-up, outside)

    def _reader(self) -> SqliteStore:
        self._commit_batch()  # read your writes: a batch waiting for its marker commits first
        if self._pending:
            self._retry_at = 0.0
            self._drain()
        if self._pending:
            raise StoreUnavailable(f"{len(self._pending)} writes held; reads would be stale: {self._last_error}")
        if not self._open():
            raise StoreUnavailable(self._last_error)
        assert self._store is not None
        return self._store

    def load_state(self, key: str) -> bytes | None:
        return self._reader().load_state(key)

    def state_keys(self, prefix: str = "") -> list[str]:
        return self._reader().state_keys(prefix)

    def seen_exec_ids(self, since_ts: float | None = None) -> set[str]:
        return self._reader().seen_exec_ids(since_ts)

    def has_fill(self, exec_id: str) -> bool:
        return self._reader().has_fill(exec_id)

    def recent_fills(self, limit: int = 50, slot_id: int | None = None) -> list[FillRow]:
        return self._reader().recent_fills(limit, slot_id)

    def recent_events(self, slot_id: int | None = None, limit: int = 50) -> list[EventRow]:
        return self._reader().recent_events(slot_id, limit)

    def recent_prices(self, since_ts: float | None = None, limit: int = 10_000) -> list[PriceRow]:
        return self._reader().recent_prices(since_ts, limit)

    def recent_candles(self, n: int, pair: str = "DOGE/USD", interval_min: int = 5) -> list[CandleRow]:
        return self._reader().recent_candles(n, pair, interval_min)

    def candle_stats(self, pair: str = "DOGE/USD", interval_min: int = 5) -> tuple[int, float | None]:
        return self._reader().candle_stats(pair, interval_min)

    def open_positions(self, slot_id: int | None = None) -> list[PositionRow]:
        return self._reader().open_positions(slot_id)

    def journal(self, position_id: int | None = None, slot_id: int | None = None,
                limit: int = 1000) -> list[JournalRow]:
        return self._reader().journal(position_id=position_id, slot_id=slot_id, limit=limit)

    def max_ids(self) -> dict[str, int]:
        return self._reader().max_ids()

    def inject_failures(self, n: int) -> None:
        """Test fault hook: the next n write transactions fail (statements run, then roll back)."""
        self._inject = max(0, int(n))
        if self._store is not None:
            self._store.inject_failures(self._inject)
            self._inject = 0

    def flush(self) -> StoreStatus:
        """Retry held writes now and start an outbox batch; returns the status afterwards."""
        self._commit_batch()
        self._retry_at = 0.0
        self._tick()
        return self.status()

    def status(self) -> StoreStatus:
        self._commit_batch()
        depth = -1
        if self._store is not None:
            try:
                depth = self._store.outbox_stats().depth
            except StoreError:
                depth = -1
        f = self._feeder
        replica = ReplicaStatus() if f is None else ReplicaStatus(
            enabled=True, in_flight=f.in_flight, acked_rows=f.acked, failed_rows=f.failed,
            consecutive_failures=f.failures, last_error=f.last_error, disabled_tables=f.disabled_tables(),
            next_attempt_in_s=round(f.wait_s(), 3),
        )
        return StoreStatus(
            path=str(self._path), open=self._store is not None, available=self._available,
            writes_ok=self._stats["writes_ok"], commits=self._stats["commits"],
            write_failures=self._stats["write_failures"],
            consecutive_failures=self._stats["consecutive"], last_error=self._last_error,
            pending_writes=len(self._pending), dropped_market_writes=self._stats["dropped_market"],
            outbox_depth=depth, schema_version=SCHEMA_VERSION, replica=replica,
        )

"""The write path of the store actor (actors/store.py): group commit, retry, the hold queue, replies.

`WriteQueue` is mixed into `StoreActor` and runs on its thread. Writes that queue up together
are group-committed: the first one schedules a StoreCommit marker to the actor, and everything
in the inbox before the marker shares one transaction (one fsync instead of one per write;
order and each write's own atomicity are unchanged). A failing write is tried `write_attempts`
times, then held in memory, in order, and retried with jittered backoff (`_drain`, driven by the
actor's timer); market writes beyond `max_pending_market` are dropped oldest-first, money writes
never. While writes are held, new writes queue behind them. Every outcome is reported: the
write's `reply_to` gets its result, and the `alerts` sink gets StoreAlert on outage and recovery.

It holds no state of its own: the attributes it uses are `StoreActor`'s, listed below.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pykka

from actors.store_messages import (
    AlertKind,
    AppendEvents,
    BookFills,
    BookFillsResult,
    InsertPrices,
    SaveState,
    StoreAlert,
    StoreCommit,
    StoreWrite,
    StoreWriteResult,
    TrimStore,
    UpsertCandles,
    WriteLedger,
)
from store.rows import StoreIntegrityError
from store.sqlite import SqliteStore, StoreError, StoreUnavailable

log = logging.getLogger("actors.store")  # the actor's logger: one name for the whole store actor

_MARKET_WRITES = (InsertPrices, UpsertCandles)
_MONEY_WRITES = (BookFills, SaveState, WriteLedger)


def _op(msg: StoreWrite) -> str:
    return str(type(msg).__struct_config__.tag)


def _backoff(failures: int, base: float, cap: float) -> float:
    # Jitter keeps a fleet of restarted processes from retrying in lockstep.
    return min(cap, base * 2 ** max(0, failures - 1)) * random.uniform(0.8, 1.2)



class WriteQueue:
    """Mixin of `StoreActor`: how a write is committed, retried, held and answered."""

    # Owned and initialised by StoreActor (and pykka).
    actor_ref: pykka.ActorRef[Any]
    _alerts: Any
    _clock: Callable[[], float]
    _attempts: int
    _retry_backoff: tuple[float, float]
    _max_pending_market: int
    _max_group: int
    _store: SqliteStore | None
    _pending: deque[StoreWrite]
    _batch: list[StoreWrite]
    _commit_scheduled: bool
    _retry_at: float
    _stats: dict[str, int]
    _last_error: str
    _available: bool
    _open: Callable[[], bool]
    _pump_outbox: Callable[..., None]

    # ------------------------------------------------------------------ writes

    def _submit(self, msg: StoreWrite) -> None:
        if isinstance(msg, TrimStore):  # VACUUM cannot run inside a transaction: never grouped
            self._commit_batch()
            self._admit(msg)
            return
        # Group commit: collect writes until our own marker comes round; every write already in the
        # inbox by then shares one transaction (one fsync). Order is kept.
        self._batch.append(msg)
        if len(self._batch) >= self._max_group:  # bound a transaction, and the wait of its first write
            self._commit_batch()
            return
        if not self._commit_scheduled:
            self._commit_scheduled = True
            self.actor_ref.tell(StoreCommit())

    def _commit_batch(self) -> None:
        self._commit_scheduled = False
        batch, self._batch = self._batch, []
        if len(batch) == 1:
            self._admit(batch[0])
        elif batch:
            self._admit_group(batch)

    def _admit(self, msg: StoreWrite) -> None:
        if self._pending and time.monotonic() >= self._retry_at:
            self._drain()
        if self._pending:
            self._hold(msg, f"queued behind {len(self._pending)} held writes: {self._last_error}")
        elif self._run(msg, attempts=self._attempts):
            self._pump_outbox()

    def _admit_group(self, batch: list[StoreWrite]) -> None:
        if self._pending and time.monotonic() >= self._retry_at:
            self._drain()
        if self._pending:
            for msg in batch:
                self._hold(msg, f"queued behind {len(self._pending)} held writes: {self._last_error}")
            return
        error: StoreError | None = None
        for _ in range(self._attempts):
            try:
                with self._open_store().transaction(durable=any(isinstance(m, _MONEY_WRITES) for m in batch)):
                    results = [self._execute(m) for m in batch]
            except StoreIntegrityError:
                for msg in batch:  # one bad write spoils the group: isolate it, commit the rest
                    self._admit(msg)
                return
            except StoreError as e:
                error = e
                self._stats["write_failures"] += 1
                continue
            self._stats["commits"] += 1
            for msg, result in zip(batch, results, strict=True):
                self._succeeded()
                self._reply_success(msg, result)
            self._pump_outbox()
            return
        assert error is not None
        self._failed(error, f"{len(batch)} grouped writes failed")
        for msg in batch:
            self._hold(msg, str(error))

    def _hold(self, msg: StoreWrite, error: str) -> None:
        if isinstance(msg, _MARKET_WRITES):
            market = sum(isinstance(m, _MARKET_WRITES) for m in self._pending)
            if market >= self._max_pending_market:
                oldest = next(m for m in self._pending if isinstance(m, _MARKET_WRITES))
                self._pending.remove(oldest)
                self._stats["dropped_market"] += 1
        self._pending.append(msg)
        self._reply_failure(msg, error, True)

    def _run(self, msg: StoreWrite, *, attempts: int, held: bool = False) -> bool:
        """Try a write up to `attempts` times. True: committed (replied). False: held for later."""
        error: StoreError | None = None
        for _ in range(attempts):
            try:
                result = self._execute(msg)
            except StoreIntegrityError as e:
                self._stats["write_failures"] += 1
                log.error("store: %s rejected: %s", type(msg).__name__, e)
                self._alert("write_rejected", f"{type(msg).__name__} rejected", str(e))
                self._reply_failure(msg, str(e), False)
                return True  # consumed: retrying cannot help
            except StoreError as e:
                error = e
                self._stats["write_failures"] += 1
                continue
            self._stats["commits"] += 1
            self._succeeded()
            self._reply_success(msg, result)
            return True
        assert error is not None
        self._failed(error, f"{type(msg).__name__} failed")
        if not held:
            self._hold(msg, str(error))
        return False

    def _open_store(self) -> SqliteStore:
        if not self._open() or self._store is None:
            raise StoreUnavailable(self._last_error or "store is not open")
        return self._store

    def _execute(self, msg: StoreWrite) -> Any:
        store = self._open_store()
        if isinstance(msg, BookFills):
            return store.book_fills(msg.fills, msg.state_key, msg.state_payload, msg.events,
                                    positions=msg.positions, journal=msg.journal, now=msg.ts)
        if isinstance(msg, SaveState):
            return store.save_state(msg.key, msg.payload, now=msg.ts)
        if isinstance(msg, AppendEvents):
            return store.append_events(msg.events, now=msg.ts)
        if isinstance(msg, InsertPrices):
            return store.insert_prices(msg.prices, now=msg.ts)
        if isinstance(msg, UpsertCandles):
            return store.upsert_candles(msg.candles, now=msg.ts)
        if isinstance(msg, WriteLedger):
            return store.write_ledger(msg.positions, msg.journal, now=msg.ts)
        counts = store.trim(now=msg.ts, price_days=msg.price_days, event_days=msg.event_days,
                            candle_days=msg.candle_days)
        if msg.vacuum:
            store.vacuum()
        return counts

    def _drain(self) -> None:
        """Retry held writes in order; stop at the first that still fails."""
        while self._pending:
            if not self._run(self._pending[0], attempts=1, held=True):
                return
            self._pending.popleft()

    # ------------------------------------------------------------------ outcomes

    def _succeeded(self) -> None:
        self._stats["writes_ok"] += 1
        self._stats["consecutive"] = 0
        # Recovered once the last held write commits (while draining, it is still pending[0]).
        if not self._available and len(self._pending) <= 1:
            self._available = True
            log.warning("store: writes succeed again")
            self._alert("store_recovered", "store writes succeed again", self._last_error)

    def _failed(self, error: StoreError, what: str) -> None:
        self._stats["consecutive"] += 1
        self._last_error = f"{what}: {error}"
        self._retry_at = time.monotonic() + _backoff(self._stats["consecutive"], *self._retry_backoff)
        if self._available:
            self._available = False
            log.error("store unavailable: %s", self._last_error)
            self._alert("store_unavailable", "store writes are failing; holding them in memory", self._last_error)

    def _alert(self, kind: AlertKind, message: str, error: str = "") -> None:
        alert = StoreAlert(kind=kind, message=message, error=error, pending_writes=len(self._pending),
                           ts=self._clock())
        self._tell(self._alerts, alert)

    @staticmethod
    def _tell(target: Any, message: Any) -> None:
        if target is None:
            return
        try:
            target.tell(message)
        except Exception:  # a dead or broken recipient must not take the store down
            log.warning("store: could not deliver %s", type(message).__name__, exc_info=True)

    def _reply_success(self, msg: StoreWrite, result: Any) -> None:
        if isinstance(msg, BookFills):
            self._tell(msg.reply_to, BookFillsResult(
                slot_id=msg.slot_id, request_id=msg.request_id, ok=True,
                booked_exec_ids=result.booked, already_booked_exec_ids=result.duplicates))
        elif msg.reply_to is not None:
            ids = result if isinstance(result, list) else []
            self._tell(msg.reply_to, StoreWriteResult(request_id=msg.request_id, op=_op(msg), ok=True,
                                                      ids=ids))

    def _reply_failure(self, msg: StoreWrite, error: str, retrying: bool) -> None:
        if isinstance(msg, BookFills):
            self._tell(msg.reply_to, BookFillsResult(slot_id=msg.slot_id, request_id=msg.request_id, ok=False,
                                                     error=error, retrying=retrying))
        elif msg.reply_to is not None:
            self._tell(msg.reply_to, StoreWriteResult(request_id=msg.request_id, op=_op(msg), ok=False,
                                                      error=error, retrying=retrying))

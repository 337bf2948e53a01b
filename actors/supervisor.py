"""Supervision of slot actors (pykka has none built in).

A slot actor that dies (an exception while handling a tell) reports `SlotFailed` from its
`on_failure`; the runtime asks for `RestartSlot` when the operator resumes after an invariant
halt. Either way the supervisor, a plain thread outside the actor graph (so it may block on
asks and REST without stalling any inbox):

1. drops the slot's placements still queued in the rate budget (the new actor re-places them);
2. loads the slot's last persisted snapshot (the write-ahead guarantees every order it ever sent
   is in it) and the booked exec ids;
3. starts a fresh SlotActor and routes the slot to it;
4. replays the executions it missed from the exchange (missed_fills since its oldest tracked
   order) and reconciles it against the open orders, exactly as at start-up;
5. raises an alert. Other slots never notice: each slot is its own actor.

It also runs the reconciles that need REST outside start-up (`ReconcileAll`: a reconnect snapshot
whose fills are incomplete, and the retries of any reconcile that left orders of unknown state;
actors/reconcile.py), timed retries included.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec

from actors import reconcile
from actors.alerts import Alert
from actors.internal import DropPending, Inspect, ReconcileAll, RestartSlot, SlotFailed, SlotSpawned
from actors.slot_io import decode_snapshot, state_key, targets
from store.rows import StoreUnavailable

if TYPE_CHECKING:
    from actors.system import System

log = logging.getLogger("supervisor")

_STORE_WAIT_S = 30.0
_SETTLE_S = 0.3  # wall mode: let acks of orders already on the wire arrive before reconciling
_RESTART_RETRY_S = 10.0  # a failed slot restart (store unavailable) is tried again, doubling
_RESTART_RETRY_MAX_S = 300.0


class Supervisor:
    def __init__(self, system: System) -> None:
        self.system = system
        self.queue: queue.Queue[Any] = queue.Queue()
        self.restarts = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._lock = threading.Lock()
        self._pending: ReconcileAll | None = None  # the one reconcile retry waiting for its timer
        self._timer: threading.Timer | None = None
        self._restart_failures: dict[int, int] = {}  # slot id -> consecutive failed restarts
        self._restart_timers: dict[int, threading.Timer] = {}  # slot id -> its one pending restart retry
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def tell(self, message: Any) -> None:
        self.queue.put(message)

    def retry_later(self, message: ReconcileAll, delay: float) -> None:
        """Queue a reconcile retry after `delay` wall seconds; dropped at stop.

        At most one retry is ever pending: another one folds into it (its `startup` work is
        kept), so reconnects and restarts during an outage cannot stack REST-heavy retry chains
        against the very rate limit that made them fail."""
        with self._lock:
            if self._stop.is_set():
                return
            if self._pending is not None:
                self._pending = _merged(self._pending, message)
                return
            self._pending = message
            self._timer = threading.Timer(delay, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            message, self._pending, self._timer = self._pending, None, None
        if message is not None:
            self.tell(message)

    def _take_pending(self, message: ReconcileAll) -> ReconcileAll:
        """A reconcile about to run absorbs the pending retry and any queued duplicates."""
        with self._lock:
            if self._pending is not None:
                message = _merged(message, self._pending)
                self._pending = None
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
        with self.queue.mutex:
            queued = [m for m in self.queue.queue if isinstance(m, ReconcileAll)]
            for m in queued:
                self.queue.queue.remove(m)
                message = _merged(message, m)
        return message

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._pending = self._timer = None
            for timer in self._restart_timers.values():
                timer.cancel()
            self._restart_timers.clear()
        self.queue.put(None)
        self._thread.join(timeout=10)

    def idle(self) -> bool:
        return self.queue.empty() and not self._busy.is_set()

    def retry_pending(self) -> bool:
        return self._pending is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.queue.get()
            if msg is None or self._stop.is_set():
                return
            self._busy.set()
            try:
                if isinstance(msg, SlotFailed):
                    log.error("slot %d failed: %s; restarting it", msg.slot_id, msg.error)
                    self.failures.append(msg.error)
                    self.restart(msg.slot_id, clear_halt=False, why=f"crashed: {msg.error}")
                elif isinstance(msg, RestartSlot):
                    self.restart(msg.slot_id, clear_halt=msg.clear_halt, why="operator resume after halt")
                elif isinstance(msg, ReconcileAll):
                    msg = self._take_pending(msg)
                    self.reconcile(msg)
            except Exception as exc:
                log.exception("supervisor could not handle %s (slot %s)", type(msg).__name__,
                              getattr(msg, "slot_id", "-"))
                self._failed(msg, exc)
            finally:
                self._busy.clear()

    def _failed(self, msg: Any, exc: Exception) -> None:
        """What could not be done is retried, loudly: a slot left dead leaves its orders unmanaged."""
        sys = self.system
        if isinstance(msg, ReconcileAll):
            nxt = msg.attempt + 1
            text = f"reconcile failed ({type(exc).__name__}: {exc}); retry {nxt - 1} in {reconcile.retry_delay(nxt):.0f}s"
            self.retry_later(ReconcileAll(startup=msg.startup, why=msg.why, attempt=nxt), reconcile.retry_delay(nxt))
            reconcile.alert_incomplete(sys, text, msg.attempt)
        elif isinstance(msg, SlotFailed | RestartSlot):
            n = self._restart_failures.get(msg.slot_id, 0) + 1
            self._restart_failures[msg.slot_id] = n
            delay = min(_RESTART_RETRY_MAX_S, _RESTART_RETRY_S * 2 ** (n - 1))
            text = (f"slot {msg.slot_id} could not be restarted ({type(exc).__name__}: {exc}); its orders are "
                    f"not managed until it is; retry {n} in {delay:.0f}s")
            if n == 1 or n % 10 == 0:
                sys.tell("status", Alert(kind="slot_restart_failed", message=text, ts=sys.clock.now(),
                                         severity="critical", slot_id=msg.slot_id))
            with self._lock:
                old = self._restart_timers.pop(msg.slot_id, None)
                if old is not None:
                    old.cancel()  # one retry chain per slot: a later trigger replaces an earlier one
                if not self._stop.is_set():
                    timer = threading.Timer(delay, self.tell, (msg,))
                    timer.daemon = True
                    self._restart_timers[msg.slot_id] = timer
                    timer.start()

    def _restart_done(self, slot_id: int) -> None:
        self._restart_failures.pop(slot_id, None)
        with self._lock:
            timer = self._restart_timers.pop(slot_id, None)
        if timer is not None:
            timer.cancel()

    def _load(self, slot_id: int) -> bytes | None:
        store = self.system.refs["store"].proxy()
        deadline = time.monotonic() + _STORE_WAIT_S
        while True:
            try:
                return store.load_state(state_key(slot_id)).get(timeout=10)
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def restart(self, slot_id: int, *, clear_halt: bool, why: str) -> None:
        sys = self.system
        refs = sys.refs
        runtime = refs["runtime"]
        current = sys.slot_refs()
        if slot_id not in current:
            # Removed meanwhile (retired, or by the operator): nothing to bring back.
            log.info("slot %d is no longer in the runtime; not restarted", slot_id)
            self._restart_done(slot_id)
            return
        old = current.get(slot_id)
        if old is not None and old.is_alive():
            old.stop(block=True, timeout=10)
        refs["rate_budget"].ask(DropPending(slot_id=slot_id), timeout=10)
        info = runtime.ask(Inspect(), timeout=10)
        raw = self._load(slot_id)
        if raw is None:
            # Write-ahead: a slot that never persisted a state never sent an order either.
            log.error("slot %d has no persisted state; not restarted", slot_id)
            self._restart_done(slot_id)
            sys.tell("status", Alert(kind="slot_restart_failed", ts=sys.clock.now(), severity="critical",
                                     slot_id=slot_id, message=f"slot {slot_id} has no persisted state: not "
                                     "restarted (it never placed an order); remove it with remove_slot"))
            return
        snap = decode_snapshot(raw)
        if clear_halt:
            snap = msgspec.structs.replace(snap, halted=False, halt_reason="")
        store = refs["store"].proxy()
        seen = store.seen_exec_ids(sys.clock.now() - 14 * 86400.0).get(timeout=30)
        ref = sys.spawn(snap, info["cfg"], info["effective_layers"], seen)
        runtime.ask(SlotSpawned(slot_id=slot_id, ref=ref), timeout=10)
        if not sys.config.virtual:
            time.sleep(_SETTLE_S)
        # From here the slot runs: whatever fails now is the reconcile's, retried as one, never a
        # reason to restart a healthy slot again.
        self._restart_done(slot_id)
        try:
            replayed = self._reconcile_slot(slot_id, snap)
        except Exception as exc:
            log.exception("slot %d restarted, but its reconcile failed; retrying it", slot_id)
            self._failed(ReconcileAll(startup=True, why=f"slot {slot_id} restart"), exc)
            replayed = 0
        self.restarts += 1
        message = f"slot {slot_id} restarted from its last persisted state ({why}); {replayed} execution(s) replayed"
        log.warning(message)
        sys.tell("status", Alert(kind="slot_restarted", message=message, ts=sys.clock.now(), severity="warning",
                                 slot_id=slot_id))

    def _reconcile_slot(self, slot_id: int, snap: Any) -> int:
        """The slot's missed executions and the final state of its gone orders, then its reconcile,
        as at start-up (actors/reconcile.py); what stays unknown is retried."""
        if self.system.venue is None:
            return 0
        result = reconcile.reconcile_all(self.system, self.system.venue.port, startup=True, slot_id=slot_id,
                                         tracked=targets(snap.state))
        if not result.settled:
            reconcile.report_unsettled(self.system, result, startup=True)
        return result.replayed

    def reconcile(self, msg: ReconcileAll) -> None:
        """Reconcile every slot after asking the exchange (a reconnect snapshot without complete
        fills, or a retry of a reconcile that left orders unknown)."""
        sys = self.system
        if sys.venue is None:
            return
        if not sys.config.virtual:
            time.sleep(_SETTLE_S)  # acks of orders already on the wire arrive first
        result = reconcile.reconcile_all(sys, sys.venue.port, startup=msg.startup, attempt=msg.attempt)
        if result.settled:
            log.info("reconcile (%s, attempt %d): settled, %d execution(s) replayed", msg.why, msg.attempt,
                     result.replayed)
            if msg.attempt > 1:
                reconcile.report_settled(sys, result, msg.attempt)
        else:
            reconcile.report_unsettled(sys, result, startup=msg.startup, attempt=msg.attempt)


def _merged(a: ReconcileAll, b: ReconcileAll) -> ReconcileAll:
    """One reconcile doing the work of both: start-up work if either owes it, the later attempt."""
    return ReconcileAll(startup=a.startup or b.startup, why=a.why if a.why == b.why else f"{a.why}; {b.why}"[:200],
                        attempt=max(a.attempt, b.attempt))

"""What leaves for Telegram, and when: the send queue, the alert policy and token redaction.

* `Outbox` lives on the Telegram actor's asyncio loop. Producers only append to a bounded deque
  (drop-oldest: after an outage the operator wants the latest state, not the first 100 messages
  of it), so nothing upstream ever waits on Telegram. One worker sends in order, retrying network
  failures with exponential backoff and honouring the server's RetryAfter, and drops a message
  after `max_attempts`. Drops are counted and the next message that gets through to that chat says
  how many were lost.
* `AlertPolicy` is pure (time is passed in): it rate-limits each alert kind to one per
  `telegram_alert_min_interval_sec`. Suppressed alerts are counted; the latest one is sent when the
  interval ends with "(+N similar suppressed)", so the operator always ends up seeing the final
  state of a flapping condition. (Thresholds such as GATEWAY_DISCONNECT_ALERT_SEC belong to the
  runtime, which raises the alert only once the condition has lasted; applying them here again
  would double the delay.)
* `install_redaction` keeps the bot token out of every log record: python-telegram-bot logs the API
  URL (which embeds the token) at DEBUG and httpx logs every request URL at INFO.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from actors.alerts import Alert
from core.config import REDACTED

log = logging.getLogger(__name__)

# PTB 22 builds every RetryAfter by reading its own deprecated int attribute, which warns each
# time Telegram rate-limits us; the warning is about PTB's internals, not something we can act on.
warnings.filterwarnings("ignore", message=r".*attribute `retry_after`", category=PTBDeprecationWarning)


@dataclass(frozen=True)
class TelegramLimits:
    """Tunables of the Telegram edge (defaults suit production; tests shrink the delays)."""

    max_queue: int = 100  # messages waiting to be sent; the oldest is dropped beyond this
    max_attempts: int = 5  # sends of one message before it is dropped
    base_delay: float = 1.0  # first retry delay, doubled per attempt
    max_delay: float = 60.0  # backoff ceiling (also for reconnecting at start-up)
    max_retry_after: float = 300.0  # cap on a server RetryAfter so one message cannot wedge the queue
    stop_flush_sec: float = 2.0  # how long stopping waits for queued messages to go out
    command_timeout_sec: float = 15.0  # how long a command waits for the runtime's reply
    close_timeout_sec: float = 5.0  # per shutdown step of python-telegram-bot


@dataclass(frozen=True)
class OutMessage:
    chat_id: int
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # one (label, callback data) button per row
    edit_message_id: int | None = None  # edit this message instead of sending a new one


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 keeps the value as a timedelta; the public attribute is the deprecated int form and
    # warns on every read, so prefer the stored timedelta when it is there.
    stored = getattr(exc, "_retry_after", None)
    value = stored if isinstance(stored, timedelta) else exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass
class OutboxStats:
    sent: int = 0
    retries: int = 0
    dropped_queue_full: int = 0
    dropped_failed: int = 0
    dropped_closed: int = 0
    queued: int = 0
    delays: list[float] = field(default_factory=list)  # the last few backoff delays, for diagnosis


class Outbox:
    """Bounded, ordered, retrying sender. Use only on its event loop (not thread-safe by design)."""

    def __init__(
        self,
        send: Callable[[OutMessage], Awaitable[object]],
        limits: TelegramLimits,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._send = send
        self._limits = limits
        self._sleep = sleep
        self._queue: deque[OutMessage] = deque()
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._unreported: dict[int, int] = {}  # chat id -> messages lost since the last success
        self._quiet_drops = False  # one warning per outage, not one per dropped message
        self.stats = OutboxStats()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, msg: OutMessage) -> None:
        if self._closed:
            self._lost(msg, "the Telegram actor is stopping")
            self.stats.dropped_closed += 1
            return
        if len(self._queue) >= self._limits.max_queue:
            self._lost(self._queue.popleft(), f"queue full ({self._limits.max_queue})")
            self.stats.dropped_queue_full += 1
        self._queue.append(msg)
        self.stats.queued = len(self._queue)
        self._idle.clear()
        self._wakeup.set()

    def set_ready(self) -> None:
        """Telegram is reachable and the bot initialised: start sending."""
        self._ready.set()

    def close(self) -> None:
        self._closed = True

    async def wait_idle(self, timeout: float) -> bool:
        """True when everything queued has been sent or dropped within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """The worker: one message at a time, in order, forever (cancelled on close)."""
        await self._ready.wait()
        while True:
            while not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            msg = self._queue.popleft()
            self.stats.queued = len(self._queue)
            await self._deliver(msg)
            if not self._queue:
                self._idle.set()

    async def _deliver(self, msg: OutMessage) -> None:
        lim = self._limits
        for attempt in range(1, lim.max_attempts + 1):
            try:
                await self._send(self._with_note(msg))
            except RetryAfter as exc:
                delay = min(retry_after_seconds(exc), lim.max_retry_after)
                error = f"flood control, retry after {delay:g}s"
            except NetworkError as exc:  # includes TimedOut: the request may be retried
                delay = min(lim.base_delay * 2 ** (attempt - 1), lim.max_delay)
                error = redact(str(exc))
            except TelegramError as exc:
                # Forbidden (bot blocked/kicked), BadRequest, ChatMigrated...: retrying cannot help.
                self._lost(msg, f"{type(exc).__name__}: {redact(str(exc))}")
                self.stats.dropped_failed += 1
                return
            except Exception as exc:  # a bug must cost this message, never the worker
                log.error("telegram send to chat %s failed unexpectedly: %s", msg.chat_id, redact(repr(exc)))
                self._lost(msg, type(exc).__name__)
                self.stats.dropped_failed += 1
                return
            else:
                self.stats.sent += 1
                self._unreported.pop(msg.chat_id, None)
                self._quiet_drops = False
                return
            if attempt == lim.max_attempts:
                self._lost(msg, f"{attempt} attempts failed, last: {error}")
                self.stats.dropped_failed += 1
                return
            self.stats.retries += 1
            self.stats.delays = [*self.stats.delays[-9:], delay]
            log.debug("telegram send to chat %s failed (%s); retry %d in %.2fs",
                      msg.chat_id, error, attempt, delay)
            await self._sleep(delay)

    def _with_note(self, msg: OutMessage) -> OutMessage:
        lost = self._unreported.get(msg.chat_id, 0)
        if not lost or msg.edit_message_id is not None:
            return msg
        note = f"\n({lost} earlier message{'s' if lost != 1 else ''} to this chat could not be delivered)"
        return OutMessage(msg.chat_id, msg.text + note, msg.buttons, msg.edit_message_id)

    def _lost(self, msg: OutMessage, why: str) -> None:
        if msg.edit_message_id is None:
            self._unreported[msg.chat_id] = self._unreported.get(msg.chat_id, 0) + 1
        level = logging.DEBUG if self._quiet_drops else logging.WARNING
        self._quiet_drops = True
        log.log(level, "telegram message to chat %s dropped: %s (further drops logged at debug "
                "until a send succeeds)", msg.chat_id, why)


# --- the alert policy -------------------------------------------------------------------------


@dataclass
class _KindState:
    last_sent: float = float("-inf")
    suppressed: int = 0
    latest: Alert | None = None
    latest_at: float = 0.0


class AlertPolicy:
    """Per-kind rate limit with a trailing summary. Pure: `now` comes from the caller's clock."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._kinds: dict[str, _KindState] = {}
        self.suppressed_total = 0

    def offer(self, alert: Alert, now: float) -> list[tuple[Alert, int]]:
        """Alerts to send now, each with the number of similar ones it summarises."""
        return self._throttle(alert, now)

    def due(self, now: float) -> list[tuple[Alert, int]]:
        """Suppressed alerts whose window has ended (call when `next_deadline` passes)."""
        trailing = [(st.latest_at, kind, st) for kind, st in self._kinds.items()
                    # Same comparison as `_throttle` (not `last_sent + interval`): with float
                    # rounding the two forms can disagree and let two sends through too close.
                    if st.latest is not None and now - st.last_sent >= self.min_interval]
        out: list[tuple[Alert, int]] = []
        # Oldest first, so a flapping on/off pair ends with whichever state is the current one.
        for _, _, st in sorted(trailing, key=lambda t: t[0]):
            assert st.latest is not None
            out.append((st.latest, st.suppressed - 1))
            st.last_sent, st.suppressed, st.latest = now, 0, None
        return out

    def next_deadline(self) -> float | None:
        times = [st.last_sent + self.min_interval for st in self._kinds.values() if st.latest is not None]
        return min(times) if times else None

    def _throttle(self, alert: Alert, now: float) -> list[tuple[Alert, int]]:
        st = self._kinds.setdefault(alert.kind, _KindState())
        if now - st.last_sent >= self.min_interval:
            summarised = st.suppressed
            st.last_sent, st.suppressed, st.latest = now, 0, None
            return [(alert, summarised)]
        st.suppressed += 1
        st.latest, st.latest_at = alert, now
        self.suppressed_total += 1
        return []


# --- redaction --------------------------------------------------------------------------------


class SecretRedactor(logging.Filter):
    """Replaces registered secrets in a record's message, traceback and stack before output."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()

    def add(self, secret: str) -> None:
        parts = {secret}
        # The half after ':' is the actual secret; it also survives URL-encoding of the ':'.
        _, _, tail = secret.partition(":")
        if len(tail) >= 8:
            parts.add(tail)
        # Longest first, so the whole token is replaced before its tail is looked for.
        self._secrets = tuple(sorted(set(self._secrets) | {p for p in parts if p}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            clean = self.redact(text)
            if clean != text:
                record.exc_text = clean  # formatters reuse exc_text instead of re-rendering exc_info
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_REDACTOR = SecretRedactor()

# Loggers that can see the token: PTB (API URL at DEBUG, InvalidToken message), httpx (request
# URLs at INFO), httpcore, asyncio ("exception was never retrieved"), pykka (actor crash logs),
# and ours.
_LOGGER_PREFIXES = ("telegram", "httpx", "httpcore", "asyncio", "pykka")
_OWN_LOGGERS = ("actors.telegram", "actors.telegram_outbox", "actors.telegram_commands")


def redact(text: str) -> str:
    """`text` with every registered secret replaced; use on anything shown to people."""
    return _REDACTOR.redact(text)


def install_redaction(secret: str) -> None:
    """Register `secret` and attach the redacting filter (idempotent).

    Logger filters only see records logged on that very logger, not its children, so the filter
    goes on every existing logger under the prefixes above and on the root logger's handlers,
    which catches whatever propagates from loggers created later.
    """
    if secret:
        _REDACTOR.add(secret)
    for name in ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
        logging.getLogger(name)  # created lazily by httpcore; create them now to filter them
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in _LOGGER_PREFIXES]
    targets: list[logging.Filterer] = [logging.getLogger(n) for n in (*_LOGGER_PREFIXES, *_OWN_LOGGERS, *names)]
    targets += list(logging.getLogger().handlers)
    for target in targets:
        if _REDACTOR not in target.filters:
            target.addFilter(_REDACTOR)

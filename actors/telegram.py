"""TelegramActor: operator commands and alerts over a Telegram bot (python-telegram-bot 22).

The actor is a pykka thread that owns one asyncio loop in a private thread; the PTB `Application`
lives on that loop. `run_polling()` only works in the main thread, so the lifecycle is driven by
hand: `initialize()`, `updater.start_polling()`, `start()` on the way up and the reverse on the way
down (ARCHITECTURE §5, shared/reference/libraries.md).

Inputs (`tell`, never blocking): `StatusSnapshot` (cached for /status, /slots and the soft-close
picker) and `Alert` (pushed to every allowed chat through `AlertPolicy`). Commands go to the
`command_handler` callable the system wires to the runtime; it blocks, so it runs in a worker
thread, never on the loop. Everything sent goes through the bounded `Outbox`: an unreachable
Telegram costs dropped messages, never a stalled trading actor.

Only chats in TELEGRAM_ALLOWED_CHAT_IDS are answered; a guard in handler group -1 stops every
other update before any handler sees it, silently (a stranger learns nothing, not even that the
bot is alive). The bot is started by the system only when TELEGRAM_BOT_TOKEN is set
(`should_start`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pykka
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from actors.alerts import Alert
from actors.commands import Command, CommandReply, OperatorCommand
from actors.status import StatusSnapshot
from actors.telegram_commands import (
    Execute,
    Picker,
    Query,
    Reply,
    format_alert,
    format_reply,
    format_slots,
    format_status,
    help_text,
    parse_callback,
    parse_command,
    soft_close_picker,
)
from actors.telegram_outbox import AlertPolicy, Outbox, OutMessage, TelegramLimits, install_redaction, redact
from core.config import Settings

log = logging.getLogger(__name__)

CommandHandlerFn = Callable[[OperatorCommand], CommandReply]
MAX_FOREIGN_CHATS_LOGGED = 1000  # a flood from many chats must not grow memory without bound


def should_start(settings: Settings) -> bool:
    """The system starts the Telegram actor only with a token; the bot runs fully without it."""
    return bool(settings.telegram_bot_token.strip())


class GetTelegramStats(msgspec.Struct, frozen=True):
    """`ask` it for a dict of counters (health pages, tests)."""


class _Wake(msgspec.Struct, frozen=True):
    """From the loop's timer to the actor: an alert's rate-limit window may have ended."""


class TelegramBot:
    """The python-telegram-bot side. Every method runs on the one loop that owns it."""

    def __init__(
        self,
        settings: Settings,
        command_handler: CommandHandlerFn,
        *,
        status: Callable[[], StatusSnapshot | None],
        limits: TelegramLimits,
        request: BaseRequest | None = None,
        base_url: str | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.allowed = frozenset(settings.telegram_allowed_chat_ids)
        self.sticky = settings.sticky_mode_enabled
        self._handler = command_handler
        self._status = status
        self._limits = limits
        self._executor = executor
        self._foreign_logged: set[int | None] = set()
        self._polling_errors = 0
        self._connector: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.disabled_reason = ""
        builder = Application.builder().token(settings.telegram_bot_token).job_queue(None)
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        else:
            # Bounded timeouts: an unreachable Telegram must fail a send, not hang the outbox.
            builder = builder.connect_timeout(10).read_timeout(15).write_timeout(15).pool_timeout(5)
        if base_url is not None:
            builder = builder.base_url(base_url)
        self.app = builder.build()
        self.app.add_handler(TypeHandler(Update, self._guard), group=-1)
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_error_handler(self._on_error)
        self.outbox = Outbox(self._send, limits)

    # ------------------------------------------------------------------ lifecycle

    async def open(self, *, polling: bool = True) -> None:
        """Start the sender and connect in the background (returns at once, even offline)."""
        self._worker = asyncio.create_task(self.outbox.run(), name="telegram-outbox")
        self._connector = asyncio.create_task(self._connect(polling), name="telegram-connect")

    async def wait_ready(self, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.outbox.ready:
            if self._connector is not None and self._connector.done():
                return False
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _connect(self, polling: bool) -> None:
        delay = self._limits.base_delay
        while True:
            try:
                await self.app.initialize()
                if polling:
                    # Commands typed while the bot was offline are dropped: replaying a stale
                    # /resume or /remove_slot hours later is a real-money surprise.
                    await self.app.updater.start_polling(  # type: ignore[union-attr]
                        drop_pending_updates=True,
                        allowed_updates=["message", "callback_query"],
                        error_callback=self._polling_error,
                    )
                    await self.app.start()
                break
            except InvalidToken as exc:
                self.disabled_reason = "the bot token was rejected by Telegram"
                log.error("telegram disabled: %s (%s)", self.disabled_reason, redact(str(exc)))
                return
            except TelegramError as exc:
                log.warning("telegram unreachable at start-up (%s: %s); retrying in %gs",
                            type(exc).__name__, redact(str(exc)), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._limits.max_delay)
            except Exception as exc:  # not a network condition: retrying would only repeat it
                self.disabled_reason = f"start-up failed ({type(exc).__name__})"
                log.error("telegram disabled: %s: %s", self.disabled_reason, redact(repr(exc)), exc_info=exc)
                return
        log.info("telegram bot @%s online; answering %d chat(s)", self.app.bot.username, len(self.allowed))
        self.outbox.set_ready()

    async def close(self) -> None:
        """Stop polling, finish in-flight updates, flush the outbox briefly, release the client."""
        step = self._limits.close_timeout_sec
        await _cancel(self._connector)
        app = self.app
        if app.updater is not None and app.updater.running:
            await _bounded(app.updater.stop(), step, "stop the updater")
        if app.running:
            await _bounded(app.stop(), step, "stop the application")
        if self.outbox.ready:  # queued or in flight: a HALT sent just before stopping still goes out
            await self.outbox.wait_idle(self._limits.stop_flush_sec)
        self.outbox.close()
        await _cancel(self._worker)
        if not app.running:
            await _bounded(app.shutdown(), step, "shut the application down")
        # A failed initialize() leaves the HTTP client open while the app counts as shut down.
        await _bounded(app.bot.shutdown(), step, "close the HTTP client")

    # ------------------------------------------------------------------ sending

    def post(self, chat_id: int, text: str, buttons: tuple[tuple[str, str], ...] = (),
             edit_message_id: int | None = None) -> None:
        self.outbox.put(OutMessage(chat_id, redact(text), buttons, edit_message_id))

    def broadcast(self, text: str) -> None:
        for chat_id in sorted(self.allowed):
            self.post(chat_id, text)

    async def _send(self, msg: OutMessage) -> None:
        markup = (InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]
                                        for label, data in msg.buttons]) if msg.buttons else None)
        bot = self.app.bot
        if msg.edit_message_id is not None:
            await bot.edit_message_text(msg.text, chat_id=msg.chat_id, message_id=msg.edit_message_id,
                                        reply_markup=markup)
        else:
            await bot.send_message(msg.chat_id, msg.text, reply_markup=markup)

    # ------------------------------------------------------------------ handlers

    async def _guard(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None and chat.id in self.allowed:
            return
        key = chat.id if chat is not None else None
        if key not in self._foreign_logged and len(self._foreign_logged) < MAX_FOREIGN_CHATS_LOGGED:
            self._foreign_logged.add(key)
            log.warning("telegram: ignoring updates from chat %s (not in TELEGRAM_ALLOWED_CHAT_IDS); "
                        "logged once per chat", key)
        raise ApplicationHandlerStop

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.message
        if msg is None or msg.text is None:
            return
        chat_id = msg.chat_id
        parsed = parse_command(msg.text, bot_username=context.bot.username, sticky=self.sticky)
        if parsed is None:
            return
        if isinstance(parsed, Reply):
            self.post(chat_id, parsed.text)
        elif isinstance(parsed, Query):
            if parsed.name == "status":
                self.post(chat_id, format_status(self._status()))
            elif parsed.name == "slots":
                for part in format_slots(self._status()):
                    self.post(chat_id, part)
            else:
                self.post(chat_id, help_text(self.sticky))
        elif isinstance(parsed, Picker):
            text, buttons = soft_close_picker(self._status())
            self.post(chat_id, text, buttons)
        elif isinstance(parsed, Execute):
            self.post(chat_id, await self.execute(parsed.command))

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        command = parse_callback(query.data, sticky=self.sticky)
        if command is None:
            await self._answer(query, "Unknown or unavailable action.")
            return
        result = await self.execute(command)
        await self._answer(query, result)
        if query.message is not None:
            # Replace the picker with the outcome: its buttons are stale now, and a second tap
            # would only be refused by the runtime.
            self.post(query.message.chat.id, result, edit_message_id=query.message.message_id)

    async def _answer(self, query: CallbackQuery, text: str) -> None:
        # Answered directly, not queued: an answer is only useful within seconds, so a retry later
        # would be pointless; a failure just leaves the client's spinner to time out.
        try:
            await query.answer(redact(text)[:190])
        except TelegramError as exc:
            log.info("telegram: could not answer a callback query (%s)", redact(str(exc)))

    async def execute(self, command: Command) -> str:
        """Run one command through the runtime's handler, off the loop, and format the reply."""
        loop = asyncio.get_running_loop()
        timeout = self._limits.command_timeout_sec
        action = type(command).__struct_config__.tag  # type: ignore[attr-defined]
        try:
            reply = await asyncio.wait_for(loop.run_in_executor(self._executor, self._handler, command), timeout)
        except TimeoutError:
            log.warning("telegram: runtime gave no answer to %s within %gs", action, timeout)
            return f"⌛ No answer from the runtime within {timeout:g}s; it may still apply. Check /status."
        except Exception as exc:  # the handler's failure is reported, never re-raised into PTB
            log.error("telegram: command %s failed: %s", action, redact(repr(exc)), exc_info=exc)
            return f"❌ {action} failed ({type(exc).__name__}); see the bot's log."
        if not isinstance(reply, CommandReply):
            log.error("telegram: command handler returned %s, not a CommandReply", type(reply).__name__)
            return f"❌ {action}: the runtime's answer could not be read; see the bot's log."
        return format_reply(reply)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        err = context.error
        log.error("telegram handler error: %s", redact(repr(err)),
                  exc_info=err if isinstance(err, BaseException) else None)

    def _polling_error(self, exc: TelegramError) -> None:
        # PTB retries polling by itself (backoff up to 30 s); log the first failure and then
        # every 20th, instead of PTB's full traceback every time.
        self._polling_errors += 1
        if self._polling_errors == 1 or self._polling_errors % 20 == 0:
            log.warning("telegram polling failed %d time(s); last: %s: %s", self._polling_errors,
                        type(exc).__name__, redact(str(exc)))


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _bounded(coro: Any, timeout: float, what: str) -> None:
    try:
        await asyncio.wait_for(coro, timeout)
    except Exception as exc:  # shutdown carries on step by step whatever one step does
        log.warning("telegram: could not %s cleanly (%s)", what, redact(repr(exc)))


class TelegramActor(pykka.ThreadingActor):
    """Pykka shell: owns the loop thread, the cached status and the alert policy.

    `command_handler(cmd) -> CommandReply` must be thread-safe and bounded (e.g. `System.command`,
    an ask with a timeout); it runs on a worker thread. `request` replaces the HTTP client (tests:
    a `BaseRequest` standing in for Telegram), `base_url` points at another Bot API server (a local
    one, or a stand-in). `clock` must tick in real seconds: alert windows are timed on the loop.
    """

    def __init__(
        self,
        settings: Settings,
        command_handler: CommandHandlerFn,
        *,
        request: BaseRequest | None = None,
        base_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        limits: TelegramLimits | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self._command_handler = command_handler
        self._request = request
        self._base_url = base_url
        self._clock = clock
        self._limits = limits or TelegramLimits()
        self._policy = AlertPolicy(settings.telegram_alert_min_interval_sec)
        self._status: StatusSnapshot | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._bot: TelegramBot | None = None
        self._wake_at = float("inf")
        self.alerts_received = 0

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        install_redaction(self.settings.telegram_bot_token)
        if not self.settings.telegram_allowed_chat_ids:
            log.warning("TELEGRAM_ALLOWED_CHAT_IDS is empty: the Telegram bot will answer nobody and "
                        "send no alerts")
        try:
            self._start_loop()
        except BaseException:
            self._teardown()
            raise

    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        running = threading.Event()
        loop.call_soon(running.set)
        thread = threading.Thread(target=loop.run_forever, name="telegram-loop", daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        if not running.wait(5):
            raise RuntimeError("the Telegram event loop did not start")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-cmd")
        self._bot = self._run(self._make_bot(), 10)
        self._run(self._bot.open(), 5)

    async def _make_bot(self) -> TelegramBot:
        # Built on the loop so every asyncio object PTB creates belongs to it.
        return TelegramBot(self.settings, self._command_handler, status=lambda: self._status,
                           limits=self._limits, request=self._request, base_url=self._base_url,
                           executor=self._executor)

    def _run(self, coro: Any, timeout: float) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def on_stop(self) -> None:
        self._teardown()

    def on_failure(self, *exc_info: Any) -> None:
        self._teardown()

    def _teardown(self) -> None:
        loop, thread, bot, executor = self._loop, self._thread, self._bot, self._executor
        self._loop = self._thread = self._bot = self._executor = None
        if loop is not None and thread is not None and thread.is_alive():
            lim = self._limits
            budget = lim.close_timeout_sec * 4 + lim.stop_flush_sec + 1
            try:
                if bot is not None:
                    asyncio.run_coroutine_threadsafe(bot.close(), loop).result(budget)
                asyncio.run_coroutine_threadsafe(_drain(), loop).result(lim.close_timeout_sec)
            except Exception as exc:
                log.warning("telegram: unclean shutdown (%s)", redact(repr(exc)))
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
        if loop is not None and thread is not None and not thread.is_alive():
            loop.close()
        if executor is not None:
            # Only a command stuck in the runtime could keep this waiting, and the handler's own
            # ask timeout bounds that.
            executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, StatusSnapshot):
            self._status = message  # one reference swap; the loop reads whichever is current
        elif isinstance(message, Alert):
            self.alerts_received += 1
            self._emit(self._policy.offer(message, self._clock()))
        elif isinstance(message, _Wake):
            self._wake_at = float("inf")
            self._emit(self._policy.due(self._clock()))
        elif isinstance(message, GetTelegramStats):
            return self._stats()
        else:
            log.warning("telegram actor: ignoring %s", type(message).__name__)
        return None

    def _emit(self, alerts: list[tuple[Alert, int]]) -> None:
        loop, bot = self._loop, self._bot
        if loop is not None and bot is not None:
            for alert, suppressed in alerts:
                with contextlib.suppress(RuntimeError):  # loop closing during shutdown
                    loop.call_soon_threadsafe(bot.broadcast, format_alert(alert, suppressed))
        self._schedule_wake()

    def _schedule_wake(self) -> None:
        deadline = self._policy.next_deadline()
        loop = self._loop
        if deadline is None or loop is None or deadline >= self._wake_at:
            return
        self._wake_at = deadline
        delay = max(0.0, deadline - self._clock())
        ref = self.actor_ref

        def wake() -> None:
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(_Wake())

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_later, delay, wake)

    def _stats(self) -> dict[str, object]:
        bot = self._bot
        out: dict[str, object] = {
            "alerts_received": self.alerts_received,
            "alerts_suppressed": self._policy.suppressed_total,
            "has_status": self._status is not None,
        }
        if bot is not None:
            s = bot.outbox.stats
            out.update(ready=bot.outbox.ready, disabled_reason=bot.disabled_reason, sent=s.sent,
                       retries=s.retries, dropped_queue_full=s.dropped_queue_full,
                       dropped_failed=s.dropped_failed, queued=len(bot.outbox))
        return out


async def _drain() -> None:
    """Cancel whatever is left on the loop and close async generators before the loop stops."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    # httpx resolves host names through the loop's default executor; its thread must not outlive us.
    await loop.shutdown_default_executor()

"""Drives the real TelegramBot (PTB Application + our handlers) over FakeTelegram on a test loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from telegram import Update

from actors.status import StatusSnapshot
from actors.telegram import TelegramBot
from actors.telegram_outbox import TelegramLimits
from core.config import Settings
from tests.telegram.fakes import ALLOWED, FakeTelegram, RecordingHandler, command_update, settings, snapshot

FAST = TelegramLimits(max_queue=20, max_attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=0.05,
                      stop_flush_sec=0.5, command_timeout_sec=2.0, close_timeout_sec=2.0)

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(fn(), 30))  # type: ignore[arg-type]


class Harness:
    def __init__(self, s: Settings | None = None, *, handler: RecordingHandler | None = None,
                 status: StatusSnapshot | str | None = "default", limits: TelegramLimits = FAST) -> None:
        self.settings = s or settings()
        self.fake = FakeTelegram()
        self.handler = handler or RecordingHandler()
        self.status: StatusSnapshot | None = snapshot() if status == "default" else status  # type: ignore[assignment]
        self.limits = limits
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-cmd")
        self.tb: TelegramBot | None = None

    async def __aenter__(self) -> Harness:
        self.tb = TelegramBot(self.settings, self.handler, status=lambda: self.status, limits=self.limits,
                              request=self.fake, executor=self.executor)
        await self.tb.open(polling=False)
        assert await self.tb.wait_ready(5)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.tb is not None
        await self.tb.close()
        self.executor.shutdown(wait=True)

    @property
    def bot(self) -> TelegramBot:
        assert self.tb is not None
        return self.tb

    async def feed(self, data: dict[str, Any]) -> None:
        """Hand one update, as Telegram would deliver it, to the application; wait for the sends."""
        await self.bot.app.process_update(Update.de_json(data, self.bot.app.bot))
        assert await self.bot.outbox.wait_idle(5)

    async def command(self, text: str, chat_id: int = ALLOWED, **kw: Any) -> list[str]:
        """Send `text` from `chat_id`; the texts sent back (to any chat) in response."""
        before = len(self.fake.sent())
        await self.feed(command_update(text, chat_id, **kw))
        return [p["text"] for p in self.fake.sent()[before:]]

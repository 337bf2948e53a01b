"""Test doubles for actor tests: recorders and a fake store, all real pykka actors."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from actors.base import BaseActor, InFlight, handles
from actors.store_messages import BookFills, BookFillsResult, SaveState, StoreWriteResult


class Recorded:
    """Ask a Recorder for what it received (optionally of one type)."""

    def __init__(self, kind: type | tuple[type, ...] | None = None) -> None:
        self.kind = kind


class Recorder(BaseActor):
    """Records every counted message it receives; answers `Recorded` asks."""

    def __init__(self, inflight: InFlight) -> None:
        super().__init__(inflight)
        self.got: list[Any] = []

    def _dispatch_one(self, message: Any) -> Any:
        if isinstance(message, Recorded):
            return [m for m in self.got if message.kind is None or isinstance(m, message.kind)]
        self.got.append(message)
        return None


class FakeStore(pykka.ThreadingActor):
    """Answers BookFills / SaveState like the StoreActor; `fail_next` writes fail (retrying) first."""

    def __init__(self) -> None:
        super().__init__()
        self.book: list[BookFills] = []
        self.saves: list[SaveState] = []
        self.fail_next = 0
        self.held: list[Any] = []
        self.lock = threading.Lock()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Recorded):
            return list(self.book)
        if isinstance(message, str) and message == "recover":
            held, self.held = self.held, []
            for msg in held:
                self._ok(msg)
            return len(held)
        if isinstance(message, int):
            self.fail_next = message
            return None
        if isinstance(message, (BookFills, SaveState)):
            if self.fail_next > 0:
                self.fail_next -= 1
                self.held.append(message)
                self._reply(message, ok=False)
                return None
            if self.held:
                self.held.append(message)
                self._reply(message, ok=False)
                return None
            self._ok(message)
        return None

    def _ok(self, message: Any) -> None:
        if isinstance(message, BookFills):
            self.book.append(message)
        else:
            self.saves.append(message)
        self._reply(message, ok=True)

    @staticmethod
    def _reply(message: Any, ok: bool) -> None:
        if message.reply_to is None:
            return
        if isinstance(message, BookFills):
            message.reply_to.tell(BookFillsResult(
                slot_id=message.slot_id, request_id=message.request_id, ok=ok, retrying=not ok,
                booked_exec_ids=[f.exec_id for f in message.fills] if ok else []))
        else:
            message.reply_to.tell(StoreWriteResult(request_id=message.request_id, op="save_state", ok=ok,
                                                   retrying=not ok))


__all__ = ["FakeStore", "Recorded", "Recorder", "handles"]

"""Shared helpers for the gateway tests: fixture loading and a thread-safe collecting sink."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kraken"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture(name: str) -> Any:
    return json.loads(fixture_text(name))


class CollectingSink:
    """Stands in for the router: a thread-safe `tell` that records messages in order."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._cond = threading.Condition()

    def tell(self, message: Any) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [m for m in self.messages if isinstance(m, kind)]

    def wait_for(self, predicate: Callable[[list[Any]], Any], timeout: float = 10.0) -> Any:
        """Wait (bounded) until predicate(messages) is truthy; return its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(list(self.messages))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kinds = [type(m).__name__ for m in self.messages[-30:]]
                    raise AssertionError(f"timed out waiting; last messages: {kinds}")
                self._cond.wait(remaining)

    def wait_kind(self, kind: type, count: int = 1, where: Callable[[Any], bool] = lambda m: True, timeout: float = 10.0) -> list[Any]:
        return self.wait_for(
            lambda ms: (found := [m for m in ms if isinstance(m, kind) and where(m)]) and len(found) >= count and found,
            timeout,
        )


def poll(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Re-check predicate() until it is truthy; bounded by `timeout`."""
    for _ in range(max(1, int(timeout / interval))):
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store.outbox import MIRRORED
from store.rows import EventRow, FillRow
from store.sqlite import SqliteStore
from tests.store.postgrest_standin import PostgrestStandIn


def fill(exec_id: str, *, slot_id: int = 1, ts: float = 1000.0, qty: float = 50.0, price: float = 0.1,
         source: str = "ws") -> FillRow:
    return FillRow(exec_id=exec_id, order_id=f"O-{exec_id}", cl_ord_id="s1-AE1-1", slot_id=slot_id,
                   side="buy", qty=qty, price=price, fee=0.0013, liquidity="m", ts=ts, source=source)  # type: ignore[arg-type]


def event(slot_id: int = 1, ts: float = 1000.0, kind: str = "fill") -> EventRow:
    return EventRow(ts=ts, slot_id=slot_id, from_state="S0", to_state="S1a", event_type=kind,
                    details={"exec": "x", "n": 1})


def wait_for(pred: Callable[[], Any], timeout: float = 5.0, step: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError("condition not met in time")


class Sink:
    """Anything with tell(): records messages (thread-safe)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._lock = threading.Lock()

    def tell(self, message: Any) -> None:
        with self._lock:
            self.messages.append(message)

    def of(self, cls: type) -> list[Any]:
        with self._lock:
            return [m for m in self.messages if isinstance(m, cls)]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(db_path, clock=lambda: 5000.0)
    yield s
    s.close()


@pytest.fixture
def mirrored(db_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(db_path, mirror=True, clock=lambda: 5000.0)
    yield s
    s.close()


@pytest.fixture
def standin() -> Iterator[PostgrestStandIn]:
    srv = PostgrestStandIn({t: m.conflict_key for t, m in MIRRORED.items()}).start()
    yield srv
    srv.stop()

"""Fault controls the tests (and operators) use to make the simulated exchange misbehave.

Thread-safe: set from any thread, read by the server's event loop. Connection-level actions
(dropping sockets, sending a malformed frame) are carried out by the server; this object holds
the pending state they consume.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._rejections: deque[str] = deque()
        self._report_delay = 0.0
        self._duplicates = 0

    def clear(self) -> None:
        """Cancel every pending fault."""
        with self._lock:
            self._refuse_until = 0.0
            self._rejections.clear()
            self._report_delay = 0.0
            self._duplicates = 0

    def refuse_connections(self, seconds: float) -> None:
        with self._lock:
            self._refuse_until = time.monotonic() + max(0.0, seconds)

    def refusing(self) -> bool:
        with self._lock:
            return time.monotonic() < self._refuse_until

    def reject_next_orders(self, n: int, error: str) -> None:
        with self._lock:
            self._rejections.extend([error] * max(0, n))

    def take_order_rejection(self) -> str | None:
        """The error to force on the next order (WS add_order / batch_add, REST AddOrder)."""
        with self._lock:
            return self._rejections.popleft() if self._rejections else None

    def delay_reports(self, seconds: float) -> None:
        with self._lock:
            self._report_delay = max(0.0, seconds)

    def report_delay(self) -> float:
        with self._lock:
            return self._report_delay

    def duplicate_next_reports(self, n: int) -> None:
        with self._lock:
            self._duplicates += max(0, n)

    def take_duplicate(self) -> bool:
        with self._lock:
            if self._duplicates <= 0:
                return False
            self._duplicates -= 1
            return True

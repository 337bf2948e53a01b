"""The actor base class and the quiescence barrier.

Every actor of the runtime derives from `BaseActor`. Messages sent *inside* the system go through
`BaseActor.send` (or a `CountingSink` handed to code that only knows `.tell`), which wraps them in
a `_Counted` envelope and increments one shared `InFlight` counter; the receiving actor decrements
it after handling the message (whatever the outcome). The counter therefore is the number of
messages sent and not yet fully handled, and it reaches zero exactly when the system is quiescent:
every fill, follow-up order, journal write and status report caused by the last step is done.

A backtest advances virtual time only at zero (`InFlight.wait_idle`). Messages from outside (tests
asking for status, the CLI) are not enveloped and do not touch the counter, so an `ask` from a
web request can never unbalance it.

Dispatch: handlers are methods decorated with `@handles(MessageType, ...)`; a message of a type no
handler claims is logged and dropped, never raised (an unexpected message must not kill a slot).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pykka

from actors.internal import Wire

log = logging.getLogger(__name__)


class InFlight:
    """Messages sent inside the system and not yet handled; waitable at zero."""

    __slots__ = ("_cond", "_count", "_peak", "_total")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._count = 0
        self._total = 0
        self._peak = 0

    def inc(self, n: int = 1) -> None:
        with self._cond:
            self._count += n
            self._total += n
            if self._count > self._peak:
                self._peak = self._count

    def dec(self, n: int = 1) -> None:
        with self._cond:
            self._count -= n
            if self._count <= 0:
                # Never below zero: a negative count would make every later wait return early.
                self._count = 0
                self._cond.notify_all()

    @property
    def count(self) -> int:
        return self._count

    @property
    def total(self) -> int:
        """Messages counted since creation (the backtest's events-per-second figure)."""
        return self._total

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is in flight; False if `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


class _Counted:
    """Envelope of a counted message (a plain slotted class: it is created for every send)."""

    __slots__ = ("msg",)

    def __init__(self, msg: object) -> None:
        self.msg = msg


def handles(*types: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as the handler of the given message types."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._handles = types  # type: ignore[attr-defined]
        return fn

    return mark


class CountingSink:
    """A `.tell`-able wrapper that counts and envelopes, for code outside the actor classes.

    The gateway pushes decoded exchange events into a sink; handing it a CountingSink around the
    router makes those pushes part of the barrier (the in-process venue of backtests relies on it).
    """

    __slots__ = ("_inflight", "_ref")

    def __init__(self, ref: pykka.ActorRef[Any], inflight: InFlight) -> None:
        self._ref = ref
        self._inflight = inflight

    def tell(self, message: object) -> None:
        send(self._ref, message, self._inflight)


def send(ref: pykka.ActorRef[Any] | None, message: object, inflight: InFlight) -> bool:
    """Counted tell. False (and nothing counted) when the target is gone."""
    if ref is None:
        return False
    inflight.inc()
    try:
        ref.tell(_Counted(message))
    except pykka.ActorDeadError:
        inflight.dec()
        return False
    return True


class BaseActor(pykka.ThreadingActor):
    """Thread actor with typed dispatch and in-flight accounting."""

    _dispatch: ClassVar[dict[type, Callable[..., Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for t in getattr(attr, "_handles", ()):
                    table[t] = attr
        cls._dispatch = table

    def __init__(self, inflight: InFlight) -> None:
        super().__init__()
        self.inflight = inflight

    # ------------------------------------------------------------------ sending

    def send(self, ref: pykka.ActorRef[Any] | None, message: object) -> bool:
        return send(ref, message, self.inflight)

    def send_self(self, message: object) -> bool:
        return send(self.actor_ref, message, self.inflight)

    @handles(Wire)
    def _wire(self, msg: Wire) -> None:
        for name, ref in msg.refs.items():
            if not hasattr(self, name):
                raise AttributeError(f"{type(self).__name__} has no reference named {name!r}")
            setattr(self, name, ref)

    # ------------------------------------------------------------------ receiving

    def on_receive(self, message: Any) -> Any:
        if type(message) is _Counted:
            try:
                return self._dispatch_one(message.msg)
            finally:
                self.inflight.dec()
        return self._dispatch_one(message)

    def _dispatch_one(self, message: Any) -> Any:
        fn = self._dispatch.get(type(message))
        if fn is None:
            log.warning("%s: no handler for %s", type(self).__name__, type(message).__name__)
            return None
        return fn(self, message)

    def _actor_loop_teardown(self) -> None:
        # pykka drops queued tells when an actor dies; release their counts first, or one crashed
        # actor would hold a backtest's barrier closed forever.
        pending = 0
        queue = self.actor_inbox
        kept = []
        while not queue.empty():
            envelope = queue.get()
            if type(envelope.message) is _Counted:
                pending += 1
            kept.append(envelope)
        for envelope in kept:
            queue.put(envelope)
        if pending:
            self.inflight.dec(pending)
        super()._actor_loop_teardown()

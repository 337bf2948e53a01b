"""Fixtures for the web tests: a recording command handler, the app under Litestar's TestClient,
and a real WebActor serving on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pykka
import pytest
from litestar.testing import TestClient

from actors.commands import CommandReply, OperatorCommand
from actors.status import StatusSnapshot
from web.actor import WebActor
from web.app import WebOptions, WebState, create_app

Behaviour = CommandReply | BaseException | Callable[[OperatorCommand], Any]


class RecordingHandler:
    """Stands in for the runtime: records every command, answers per action (default: ok)."""

    def __init__(self) -> None:
        self.commands: list[OperatorCommand] = []
        self.behaviour: dict[str, Behaviour] = {}
        self._lock = threading.Lock()

    def __call__(self, command: OperatorCommand) -> Any:
        action = command.__struct_config__.tag
        with self._lock:
            self.commands.append(command)
            behaviour = self.behaviour.get(action)
        if behaviour is None:
            return CommandReply(ok=True, action=action, message=f"{action} done")
        if isinstance(behaviour, BaseException):
            raise behaviour
        if isinstance(behaviour, CommandReply):
            return behaviour
        return behaviour(command)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[OperatorCommand]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.commands) >= count:
                    return list(self.commands)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} commands, got {self.commands}")


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@contextmanager
def app_client(
    handler: Callable[[OperatorCommand], Any],
    token: str = "",
    metrics_source: Callable[[], Any] | None = None,
    options: WebOptions | None = None,
) -> Iterator[tuple[TestClient[Any], WebState]]:
    web = WebState(handler, token=token, metrics_source=metrics_source, options=options)
    with TestClient(create_app(web), base_url="http://127.0.0.1:8080") as client:
        yield client, web
    web.shutdown()


def push(client: TestClient[Any], web: WebState, snapshot: StatusSnapshot) -> None:
    """Offer a snapshot on the app's own loop, as the actor does with call_soon_threadsafe."""
    client.blocking_portal.call(web.hub.offer, snapshot, time.perf_counter())


@pytest.fixture
def client(handler: RecordingHandler) -> Iterator[tuple[TestClient[Any], WebState]]:
    with app_client(handler) as pair:
        yield pair


class RunningWeb:
    def __init__(self, ref: pykka.ActorRef[WebActor], handler: RecordingHandler) -> None:
        self.ref = ref
        self.handler = handler
        self.port: int = ref.proxy().bound_port().get(timeout=5)
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        # White-box access for assertions on counters; production code only talks messages.
        actor = ref._actor_weakref()  # type: ignore[attr-defined]
        assert actor is not None
        self.state: WebState = actor._web


@pytest.fixture
def start_web(handler: RecordingHandler) -> Iterator[Callable[..., RunningWeb]]:
    refs: list[pykka.ActorRef[WebActor]] = []

    def start(token: str = "", metrics_source: Any = None, options: WebOptions | None = None) -> RunningWeb:
        ref = WebActor.start(handler, host="127.0.0.1", port=0, token=token, metrics_source=metrics_source, options=options)
        refs.append(ref)
        return RunningWeb(ref, handler)

    yield start
    for ref in refs:
        if ref.is_alive():
            ref.stop(timeout=10)

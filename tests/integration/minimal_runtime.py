"""A minimal runtime coordinator for driving `actors/runtime_loop.py` without the actor graph.

The loop's functions and the real `RuntimeActor.pause` / `resume` / `capacity` run on this object;
sends, alerts, reports and saves are recorded instead of delivered. Used by the wiring tests
(test_guardrail_wiring, test_stale_guard_wiring, test_pause_precedence_wiring) so that deleting a
wiring from `runtime_loop.run` fails a test.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from actors.internal import RegimeUpdate
from actors.runtime import RuntimeActor
from actors.runtime_state import Connection, Telemetry
from core import loss_lock
from core.config import load_settings
from core.engine_config import engine_config_from
from core.market import PairRules

NOW = 1_700_000_000.0
PRICE = 0.1
BASE_ENV = {"INITIAL_SLOTS": "1", "ORDER_SIZE_USD": "8", "LOG_LEVEL": "WARNING"}


def settings(**env: str) -> Any:
    s, _ = load_settings(env={**BASE_ENV, **env})
    return s


def runtime(*, env: dict[str, str] | None = None, clock: Any = None, capacity: Any = None,
            **attrs: Any) -> SimpleNamespace:
    s = settings(**(env or {}))
    rt = SimpleNamespace(
        loops=0, mode="RUNNING", pause_kind="", pause_reason="", halt_reason="", started=True,
        price=PRICE, price_ts=NOW, settings=s, cfg=engine_config_from(s, PairRules()),
        connection=Connection(), loss=loss_lock.LossLockState(), rate_budget="budget", router="router",
        store=None, slots={}, reports={}, balances={"USD": 1000.0, "DOGE": 10_000.0}, telemetry=Telemetry(),
        regime=RegimeUpdate(), target_layers=0, effective_layers=0, cannot_bootstrap=set(),
        bootstrap_waiting={}, auto_soft_close_total=0, price_rows=[], capacity_cache=None, sent=[], alerts=[],
        halted_slots=set(), supervisor=None,
    )
    if clock is not None:
        rt.clock = clock
    for name, value in attrs.items():
        setattr(rt, name, value)
    rt.send = lambda ref, msg: rt.sent.append((ref, msg))
    rt.alert = lambda kind, message, now, severity="warning", slot_id=None: rt.alerts.append((kind, message))
    rt.report = lambda now: None
    rt.save = lambda now: None
    rt.reconfigure_slots = lambda: None
    rt.pause = lambda kind, reason, now: RuntimeActor.pause(rt, kind, reason, now)
    rt.resume = lambda now, why="operator": RuntimeActor.resume(rt, now, why)
    rt.capacity = (lambda now: capacity) if capacity is not None else (lambda now: RuntimeActor.capacity(rt, now))
    return rt


def kinds(rt: SimpleNamespace) -> list[str]:
    return [k for k, _ in rt.alerts]

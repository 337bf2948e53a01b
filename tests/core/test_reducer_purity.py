"""The slot engine is pure: inputs are never changed, equal inputs give equal outputs, and the
modules never reach for a clock, a logger, randomness or I/O."""

from __future__ import annotations

import ast
import pathlib
import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import state_machine as sm
from tests.core.test_state_machine_builders import CFG, SIZE, make_cfg, order_of, s0_state, s1_state, s2_state

ENGINE_MODULES = (
    "state_machine",
    "slot_types",
    "slot_ops",
    "slot_recovery",
    "slot_helpers",
    "slot_invariants",
    "slot_accounting",
    "slot_settle",
    "pricing",
    "sizing",
    "engine_config",
)
ALLOWED_IMPORTS = {"__future__", "math", "typing", "collections", "msgspec", "msgspec.structs", "core"}


def _events_for(s: sm.PairState) -> list[sm.Event]:
    out: list[sm.Event] = [
        sm.PriceTick(price=s.market_price * 1.02, timestamp=s.now + 1),
        sm.TimerTick(timestamp=s.now + 200_000),
    ]
    for o in s.orders:
        out.append(
            sm.FillEvent(
                order_local_id=o.local_id,
                txid=o.txid,
                side=o.side,
                price=o.price,
                volume=o.volume,
                fee=0.02,
                timestamp=s.now + 2,
            )
        )
        out.append(
            sm.OrderCanceledEvent(
                order_local_id=o.local_id,
                txid=o.txid,
                timestamp=s.now + 3,
                executed_volume=o.volume / 2,
                avg_price=o.price,
                fee=0.01,
            )
        )
    return out


STATES = [s0_state(), s1_state("A"), s1_state("B"), s2_state()]


@pytest.mark.parametrize("state", STATES, ids=["S0", "S1a", "S1b", "S2"])
def test_transition_never_mutates_its_input_and_is_deterministic(state: sm.PairState) -> None:
    for cfg in (CFG, make_cfg(sticky_mode_enabled=True)):
        for event in _events_for(state):
            before = msgspec.json.encode(state), msgspec.json.encode(event), msgspec.json.encode(cfg)
            first = sm.transition(state, event, cfg, SIZE)
            second = sm.transition(state, event, cfg, SIZE)
            assert (
                msgspec.json.encode(state),
                msgspec.json.encode(event),
                msgspec.json.encode(cfg),
            ) == before
            assert msgspec.json.encode(first) == msgspec.json.encode(second)


def test_helpers_never_mutate_their_input() -> None:
    state = s2_state()
    raw = msgspec.json.encode(state)
    ex = order_of(state, "B", "exit")
    sm.release_exit(state, ex.local_id, 0.1, 9999.0, CFG, SIZE)
    sm.remove_order(state, ex.local_id, CFG)
    sm.bind_txid(state, ex.local_id, "X")
    sm.bootstrap_orders(state, CFG, SIZE)
    sm.normalize_slot_mode(state)
    sm.check_invariants(state, CFG)
    assert msgspec.json.encode(state) == raw


@settings(max_examples=80, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(["price", "timer", "fill"]),
            st.floats(min_value=-0.03, max_value=0.03),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_same_event_sequence_gives_the_same_outcome(moves: list[tuple[str, float, int]]) -> None:
    def run() -> bytes:
        s, log = s0_state(), []
        for kind, move, pick in moves:
            if kind == "price":
                event: sm.Event = sm.PriceTick(
                    price=max(0.06, s.market_price * (1 + move)), timestamp=s.now + 1
                )
            elif kind == "timer" or not s.orders:
                event = sm.TimerTick(timestamp=s.now + 3600 * (pick + 1))
            else:
                o = s.orders[pick % len(s.orders)]
                event = sm.FillEvent(
                    order_local_id=o.local_id,
                    txid=o.txid,
                    side=o.side,
                    price=o.price,
                    volume=o.volume,
                    fee=0.02,
                    timestamp=s.now + 1,
                )
            prev, raw = s, msgspec.json.encode(s)
            s, actions = sm.transition(prev, event, CFG, SIZE)
            assert msgspec.json.encode(prev) == raw  # the input state is untouched
            log.append((s, actions))
        return msgspec.json.encode(log)

    assert run() == run()


def test_transition_reads_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> float:
        raise AssertionError("the reducer read the wall clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns"):
        monkeypatch.setattr(time, name, boom)
    state = s1_state("B")
    for event in _events_for(state):
        sm.transition(state, event, CFG, SIZE)


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_modules_import_nothing_impure(module: str) -> None:
    path = pathlib.Path(__file__).resolve().parents[2] / "core" / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    roots = {name if name in ALLOWED_IMPORTS else name.split(".")[0] for name in imported}
    assert roots <= ALLOWED_IMPORTS, f"core/{module}.py imports {sorted(roots - ALLOWED_IMPORTS)}"
    forbidden = {"core.config", "core.config_knobs"}
    assert not imported & forbidden, "the engine must not depend on the config loader"

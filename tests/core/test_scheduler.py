"""Entry velocity scheduler (§12) and the bootstrap-fix plan's scheduler-bypass regressions (§2)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.status import EntrySchedulerStatus
from core import scheduler as sch
from core.scheduler import PendingEntry

ROOMY = 100  # headroom far from every tightening threshold


def entries(*keys: str) -> list[PendingEntry]:
    return [PendingEntry(key=k, payload={"key": k}) for k in keys]


def keys(items: list[PendingEntry]) -> list[str]:
    return [e.key for e in items]


def fresh(cap: int = 2, headroom: int | None = ROOMY) -> sch.SchedulerState:
    return sch.begin_loop(sch.SchedulerState(configured_cap=cap, loop_cap=cap), headroom)


# --------------------------------------------------- SLOT_BOOTSTRAP_FIX_PLAN §2 named regressions


def test_execute_actions_bootstrap_bypasses_entry_scheduler_cap() -> None:
    state = fresh(cap=1)
    state, admitted, deferred = sch.admit(state, entries("s1:A", "s1:B"), "bootstrap", ROOMY)
    assert keys(admitted) == ["s1:A", "s1:B"]
    assert deferred == []
    assert state.deferred_total == 0
    assert state.pending == ()
    assert state.bypassed_total == 2


def test_execute_actions_auto_repair_bypasses_entry_scheduler_cap() -> None:
    state = fresh(cap=1)
    state, admitted, deferred = sch.admit(state, entries("s1:A", "s2:B"), "auto_repair", ROOMY)
    assert keys(admitted) == ["s1:A", "s2:B"]
    assert deferred == []
    assert state.deferred_total == 0
    assert state.pending == ()


def test_execute_actions_bootstrap_regime_bypasses_entry_scheduler_cap() -> None:
    state = fresh(cap=1)
    state, admitted, deferred = sch.admit(state, entries("s1:A", "s2:A"), "bootstrap_regime", ROOMY)
    assert len(admitted) == 2 and deferred == []


def test_execute_actions_non_bootstrap_respects_scheduler_cap() -> None:
    state = fresh(cap=1)
    state, admitted, deferred = sch.admit(state, entries("s1:A", "s1:B"), "unit_test", ROOMY)
    assert keys(admitted) == ["s1:A"]
    assert keys(deferred) == ["s1:B"]
    assert state.deferred_total == 1
    assert len(state.pending) == 1
    assert state.bypassed_total == 0


@pytest.mark.parametrize("source", ["reducer", "drain", "rebalancer", "", "BOOTSTRAP", "bootstrap "])
def test_only_the_three_named_sources_bypass(source: str) -> None:
    assert not sch.is_bypass(source)
    assert {"bootstrap", "bootstrap_regime", "auto_repair"} == sch.BYPASS_SOURCES


# ----------------------------------------------------------------------------- cap tightening


@pytest.mark.parametrize(
    ("headroom", "configured", "expected"),
    [
        (0, 5, 1),
        (4, 5, 1),
        (5, 5, 2),
        (9, 5, 2),
        (10, 5, 3),
        (19, 5, 3),
        (20, 5, 5),
        (1000, 5, 5),
        (15, 2, 2),  # never above the configured cap
        (3, 0, 0),
        (50, 0, 0),
    ],
)
def test_cap_tightening_thresholds(headroom: int, configured: int, expected: int) -> None:
    assert sch.tightened_cap(configured, headroom) == expected


def test_begin_loop_fixes_the_tightened_cap_and_resets_counter() -> None:
    state = fresh(cap=5, headroom=8)
    assert state.loop_cap == 2
    state, admitted, _ = sch.admit(state, entries("a", "b", "c"), "reducer", 8)
    assert len(admitted) == 2
    state = sch.begin_loop(state, 100)
    assert state.loop_cap == 5
    assert state.added_this_loop == 0
    state, drained = sch.drain(state, 100)
    assert keys(drained) == ["c"]


def test_cap_is_per_loop_across_several_admit_calls() -> None:
    state = fresh(cap=2)
    state, a1, _ = sch.admit(state, entries("a"), "reducer", ROOMY)
    state, a2, _ = sch.admit(state, entries("b"), "reducer", ROOMY)
    state, a3, d3 = sch.admit(state, entries("c"), "reducer", ROOMY)
    assert keys(a1 + a2) == ["a", "b"]
    assert a3 == [] and keys(d3) == ["c"]


def test_bypass_admissions_use_up_the_loop_for_ordinary_entries_but_not_vice_versa() -> None:
    state = fresh(cap=2)
    state, a, _ = sch.admit(state, entries("n1", "n2"), "reducer", ROOMY)
    assert len(a) == 2
    state, b, d = sch.admit(state, entries("boot1", "boot2"), "bootstrap", ROOMY)
    assert len(b) == 2 and d == []
    assert state.added_this_loop == 4


# ------------------------------------------------------------------------- headroom hard guard


def test_hard_guard_never_admits_beyond_headroom_even_for_bypass() -> None:
    state = fresh(cap=10, headroom=3)
    state, admitted, deferred = sch.admit(state, entries("a", "b", "c", "d", "e"), "bootstrap", 3)
    assert keys(admitted) == ["a", "b", "c"]
    assert keys(deferred) == ["d", "e"]
    assert state.deferred_total == 2


def test_hard_guard_counts_own_admissions_when_caller_headroom_lags() -> None:
    state = fresh(cap=10, headroom=2)
    state, a1, _ = sch.admit(state, entries("a"), "bootstrap", 2)
    # The caller has not seen the first placement acknowledged yet and still says 2.
    state, a2, d2 = sch.admit(state, entries("b", "c"), "bootstrap", 2)
    assert keys(a1 + a2) == ["a", "b"]
    assert keys(d2) == ["c"]


def test_zero_or_negative_headroom_admits_nothing() -> None:
    state = fresh(cap=3, headroom=0)
    state, admitted, deferred = sch.admit(state, entries("a"), "auto_repair", 0)
    assert admitted == [] and keys(deferred) == ["a"]
    state, admitted, _ = sch.admit(state, entries("b"), "reducer", -5)
    assert admitted == []


def test_without_begin_loop_the_callers_headroom_still_guards() -> None:
    state = sch.SchedulerState(configured_cap=5, loop_cap=5)
    state, admitted, deferred = sch.admit(state, entries("a", "b"), "bootstrap", 1)
    assert keys(admitted) == ["a"] and keys(deferred) == ["b"]


# ------------------------------------------------------------------------------ queue and drain


def test_drain_order_is_fifo_up_to_remaining_budget() -> None:
    state = fresh(cap=1)
    state, _, deferred = sch.admit(state, entries("a", "b", "c", "d"), "reducer", ROOMY)
    assert keys(deferred) == ["b", "c", "d"]
    state = sch.begin_loop(state, ROOMY)
    state, drained = sch.drain(state, ROOMY)
    assert keys(drained) == ["b"]
    state, drained = sch.drain(state, ROOMY)  # post-tick: budget used up
    assert drained == []
    state = sch.begin_loop(sch.with_configured_cap(state, 5), ROOMY)
    state, drained = sch.drain(state, ROOMY)
    assert keys(drained) == ["c", "d"]
    assert state.drained_total == 3
    assert state.pending == ()


def test_pre_tick_drain_then_post_tick_drain_share_one_budget() -> None:
    state = fresh(cap=3)
    state, _, _ = sch.admit(state, entries("x1", "x2", "x3", "x4", "x5"), "reducer", ROOMY)
    state = sch.begin_loop(state, ROOMY)
    state, pre = sch.drain(state, ROOMY)
    state, post = sch.drain(state, ROOMY)
    assert keys(pre) == ["x4", "x5"]
    assert post == []


def test_new_ordinary_entries_wait_behind_queued_ones() -> None:
    state = fresh(cap=1)
    state, _, _ = sch.admit(state, entries("old1", "old2"), "reducer", ROOMY)
    state = sch.begin_loop(state, ROOMY)
    # No pre-tick drain happened: the new entry must not jump the queue.
    state, admitted, deferred = sch.admit(state, entries("new"), "reducer", ROOMY)
    assert admitted == [] and keys(deferred) == ["new"]
    state, drained = sch.drain(state, ROOMY)
    assert keys(drained) == ["old2"]
    assert keys(list(state.pending)) == ["new"]


def test_queued_bypass_entries_drain_on_headroom_without_waiting_for_cap() -> None:
    state = fresh(cap=1, headroom=1)
    state, _, _ = sch.admit(state, entries("n1", "n2"), "reducer", 1)  # n1 placed, n2 queued
    state, _, d = sch.admit(state, entries("boot"), "bootstrap", 1)  # no room left this loop
    assert keys(d) == ["boot"]
    state = sch.begin_loop(state, 30)
    state, drained = sch.drain(state, 30)
    assert keys(drained) == ["n2", "boot"]
    assert state.bypassed_total == 0  # bypassed_total counts admissions through admit's bypass path


def test_dedup_replaces_a_stale_deferred_entry_in_place() -> None:
    state = fresh(cap=1)
    state, _, _ = sch.admit(state, entries("s1:A", "s2:A", "s3:A"), "reducer", ROOMY)
    newer = PendingEntry(key="s2:A", payload={"price": 0.2})
    state, admitted, deferred = sch.admit(state, [newer], "reducer", ROOMY)
    assert admitted == [] and keys(deferred) == ["s2:A"]
    assert keys(list(state.pending)) == ["s2:A", "s3:A"]
    assert state.pending[0].payload == {"price": 0.2}
    assert state.deferred_total == 2  # the replacement is not a new deferral


def test_dedup_within_one_batch_keeps_last_payload_at_first_position() -> None:
    state = fresh(cap=0)
    batch = [PendingEntry(key="k", payload=1), PendingEntry(key="j", payload=2), PendingEntry(key="k", payload=3)]
    state, admitted, deferred = sch.admit(state, batch, "reducer", ROOMY)
    assert admitted == []
    assert [(e.key, e.payload) for e in deferred] == [("k", 3), ("j", 2)]


def test_admitting_a_key_drops_its_queued_twin() -> None:
    state = fresh(cap=1)
    state, _, _ = sch.admit(state, entries("s1:A", "s1:B"), "reducer", ROOMY)
    assert keys(list(state.pending)) == ["s1:B"]
    state, admitted, _ = sch.admit(state, entries("s1:B"), "auto_repair", ROOMY)
    assert keys(admitted) == ["s1:B"]
    assert state.pending == ()


def test_drop_and_drop_where_remove_queued_entries() -> None:
    state = fresh(cap=0)
    state, _, _ = sch.admit(state, entries("s1:A", "s1:B", "s2:A"), "reducer", ROOMY)
    state, removed = sch.drop(state, ["s2:A", "nope"])
    assert keys(removed) == ["s2:A"]
    state, removed = sch.drop_where(state, lambda e: e.key.startswith("s1:"))
    assert keys(removed) == ["s1:A", "s1:B"]
    assert state.pending == ()
    same, none = sch.drop(state, ["x"])
    assert same is state and none == []


def test_status_block() -> None:
    state = fresh(cap=2, headroom=7)
    state, _, _ = sch.admit(state, entries("a", "b", "c"), "reducer", 7)
    block = sch.status(state)
    assert isinstance(block, EntrySchedulerStatus)
    assert block == EntrySchedulerStatus(
        loop_cap=2, configured_cap=2, pending=1, deferred_total=1, drained_total=0, bypassed_total=0
    )


def test_state_round_trips_through_json() -> None:
    state = fresh(cap=1)
    state, _, _ = sch.admit(state, entries("a", "b"), "reducer", ROOMY)
    again = msgspec.json.decode(msgspec.json.encode(state), type=sch.SchedulerState)
    assert again == state


# ---------------------------------------------------------------------------- properties

SOURCES = ["reducer", "rebalancer", "bootstrap", "bootstrap_regime", "auto_repair"]
op_strategy = st.one_of(
    st.tuples(st.just("begin"), st.integers(-5, 60)),
    st.tuples(st.just("drain"), st.integers(-5, 60)),
    st.tuples(
        st.just("admit"),
        st.integers(-5, 60),
        st.sampled_from(SOURCES),
        st.lists(st.integers(0, 12), max_size=6),
    ),
    st.tuples(st.just("drop"), st.integers(0, 12)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5), st.lists(op_strategy, max_size=40))
def test_property_cap_headroom_and_no_lost_or_duplicated_entries(configured: int, ops: list[tuple]) -> None:
    state = sch.SchedulerState(configured_cap=configured, loop_cap=configured)
    live: dict[str, PendingEntry] = {}  # the newest version of every key handed to admit, not yet out
    loop_capped = 0
    loop_added = 0
    loop_head: int | None = None
    serial = 0
    for op in ops:
        if op[0] == "begin":
            state = sch.begin_loop(state, op[1])
            loop_capped = loop_added = 0
            loop_head = op[1]
            continue
        if op[0] == "drop":
            state, removed = sch.drop(state, [f"k{op[1]}"])
            for e in removed:
                assert live.pop(e.key) == e
            continue
        headroom = op[1]
        if op[0] == "drain":
            state, out = sch.drain(state, headroom)
        else:
            batch = []
            for k in op[3]:
                serial += 1
                batch.append(PendingEntry(key=f"k{k}", payload=serial))
            before = {e.key for e in state.pending}
            state, out, deferred = sch.admit(state, batch, op[2], headroom)
            expected_keys = list(dict.fromkeys(e.key for e in batch))
            assert sorted(keys(out) + keys(deferred)) == sorted(expected_keys)
            for e in deferred:
                live[e.key] = e
            # a key admitted now supersedes its queued twin: it leaves the queue, placed once
            for e in out:
                if e.key in before:
                    live.pop(e.key)
        released_capped = [e for e in out if not sch.is_bypass(e.source)]
        loop_capped += len(released_capped)
        loop_added += len(out)
        # never more ordinary entries per loop than the configured cap (tightening only lowers it)
        assert loop_capped <= max(configured, 0)
        # never more than the headroom given, now or at begin_loop, minus what was already released
        assert len(out) <= max(0, headroom)
        if loop_head is not None:
            assert loop_added <= max(0, loop_head)
        for e in out:
            if e.key in live and live[e.key] == e:
                live.pop(e.key)
        # queue has no duplicate keys and is exactly the set of live deferred entries
        pending_keys = keys(list(state.pending))
        assert len(pending_keys) == len(set(pending_keys))
        assert {e.key: e for e in state.pending} == live


def test_new_state_and_configured_cap_changes() -> None:
    state = sch.new_state(4)
    assert (state.configured_cap, state.loop_cap) == (4, 4)
    assert sch.new_state(-1).configured_cap == 0
    lowered = sch.with_configured_cap(state, 1)
    assert (lowered.configured_cap, lowered.loop_cap) == (1, 1)  # binds at once
    raised = sch.with_configured_cap(lowered, 3)
    assert raised.loop_cap == 1  # until the next loop
    assert sch.begin_loop(raised, ROOMY).loop_cap == 3

"""Slot aliases (§19)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import aliases as al


def test_default_pool_order() -> None:
    assert al.parse_pool(None) == ("doge", "shiba", "floki", "cheems", "kabosu")
    assert al.parse_pool("") == al.DEFAULT_POOL
    assert al.parse_pool(" , ,") == al.DEFAULT_POOL


def test_pool_from_comma_string_strips_blanks_and_repeats() -> None:
    assert al.parse_pool(" rex, ,fido,REX ,spot") == ("rex", "fido", "spot")


def test_allocate_lowest_available_in_pool_order() -> None:
    s = al.new_state()
    names = []
    for sid in range(1, 4):
        s, name = al.allocate(s, sid)
        names.append(name)
    assert names == ["doge", "shiba", "floki"]


def test_removed_alias_is_recycled_lowest_first() -> None:
    s = al.new_state()
    for sid in range(1, 5):
        s, _ = al.allocate(s, sid)
    s = al.release(s, 2)  # shiba
    s = al.release(s, 1)  # doge
    s, name = al.allocate(s, 9)
    assert name == "doge"
    s, name = al.allocate(s, 10)
    assert name == "shiba"


def test_fallback_doge_nn_when_pool_exhausted_counter_only_grows() -> None:
    s = al.new_state("a,b")
    s, _ = al.allocate(s, 1)
    s, _ = al.allocate(s, 2)
    s, n3 = al.allocate(s, 3)
    s, n4 = al.allocate(s, 4)
    assert (n3, n4) == ("doge-01", "doge-02")
    s = al.release(s, 3)
    s, n5 = al.allocate(s, 5)
    assert n5 == "doge-03"  # fallback names are not reused
    s = al.release(s, 1)
    s, n6 = al.allocate(s, 6)
    assert n6 == "a"  # pool names are


def test_fallback_skips_names_taken_by_hand() -> None:
    s = al.new_state("a")
    s, _ = al.allocate(s, 1)
    s, _ = al.allocate(s, 2, requested="doge-01")
    s, name = al.allocate(s, 3)
    assert name == "doge-02"


def test_requested_alias_must_be_free_case_insensitively() -> None:
    s = al.new_state()
    s, _ = al.allocate(s, 1)
    with pytest.raises(al.AliasInUse):
        al.allocate(s, 2, requested="DOGE")
    s, name = al.allocate(s, 2, requested="rocket")
    assert name == "rocket"
    s, name = al.allocate(s, 3)
    assert name == "shiba"


def test_requested_pool_name_is_not_handed_out_twice() -> None:
    s = al.new_state()
    s, _ = al.allocate(s, 1, requested="doge")
    s, name = al.allocate(s, 2)
    assert name == "shiba"


def test_allocate_is_idempotent_per_slot() -> None:
    s = al.new_state()
    s, first = al.allocate(s, 7)
    again, second = al.allocate(s, 7)
    assert again == s and first == second
    with pytest.raises(al.AliasInUse):
        al.allocate(s, 7, requested="other")


def test_release_unknown_slot_is_a_no_op() -> None:
    s = al.new_state()
    assert al.release(s, 42) == s


def test_state_is_serialisable() -> None:
    s = al.new_state("x,y")
    s, _ = al.allocate(s, 3)
    s, _ = al.allocate(s, 11)
    s, _ = al.allocate(s, 12)
    again = msgspec.json.decode(msgspec.json.encode(s), type=al.AliasState)
    assert again == s
    assert al.alias_of(again, 12) == "doge-01"


def test_restore_drops_gone_slots_names_missing_ones_and_breaks_duplicates() -> None:
    damaged = al.AliasState(assigned={1: "doge", 2: "doge", 5: "floki"}, fallback_counter=0)
    s = al.restore(damaged, [1, 2, 3])
    assert s.assigned[1] == "doge"
    assert s.assigned[2] == "shiba"
    assert s.assigned[3] == "floki"  # 5 is gone, so floki is free
    assert 5 not in s.assigned


def test_with_pool_keeps_live_names() -> None:
    s = al.new_state()
    s, _ = al.allocate(s, 1)
    s = al.with_pool(s, "rex,fido")
    assert al.alias_of(s, 1) == "doge"
    s, name = al.allocate(s, 2)
    assert name == "rex"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(0, 30), st.sampled_from([None, "doge", "Rex", "doge-02", "kabosu"])),
            st.tuples(st.just("remove"), st.integers(0, 30), st.none()),
        ),
        max_size=80,
    ),
    st.sampled_from([None, "a,b", "doge,shiba", "solo"]),
)
def test_property_aliases_never_duplicate(ops: list[tuple[str, int, str | None]], pool: str | None) -> None:
    s = al.new_state(pool)
    fallbacks_seen: set[str] = set()
    for kind, sid, requested in ops:
        if kind == "remove":
            s = al.release(s, sid)
        else:
            had = al.alias_of(s, sid)
            try:
                s, name = al.allocate(s, sid, requested)
            except al.AliasInUse:
                continue
            if had is None and name.startswith("doge-") and requested is None:
                assert name not in fallbacks_seen
                fallbacks_seen.add(name)
        folded = [a.casefold() for a in s.assigned.values()]
        assert len(folded) == len(set(folded))

"""Property: whatever the batches, duplicates and reopenings, each exec_id is booked exactly once."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from store.sqlite import SqliteStore
from tests.store.conftest import fill

batches = st.lists(
    st.tuples(st.lists(st.integers(0, 15), max_size=6), st.booleans()),  # (exec ids, reopen after)
    min_size=1, max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(batches)
def test_each_exec_id_is_booked_exactly_once(plan: list[tuple[list[int], bool]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.sqlite3"
        store = SqliteStore(path, money_sync="NORMAL")
        booked_total: list[str] = []
        expected: set[str] = set()
        try:
            for n, (ids, reopen) in enumerate(plan):
                out = store.book_fills([fill(f"E{i}") for i in ids], "slot:1", f'{{"n":{n}}}'.encode())
                fresh = [f"E{i}" for i in dict.fromkeys(ids) if f"E{i}" not in expected]
                assert out.booked == fresh
                assert len(out.booked) + len(out.duplicates) == len(ids)
                booked_total += out.booked
                expected |= set(fresh)
                if reopen:
                    store.close()
                    store = SqliteStore(path, money_sync="NORMAL", integrity_check=False)
            assert len(booked_total) == len(set(booked_total))  # never booked twice
            assert store.seen_exec_ids() == expected
            assert store.load_state("slot:1") == f'{{"n":{len(plan) - 1}}}'.encode()
        finally:
            store.close()

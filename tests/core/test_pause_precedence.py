"""Pause precedence (core/guardrails.py): which pause kind a paused bot records, which request takes
a pause over, and what a resume leads to. The runtime wiring is pinned in
tests/integration/test_pause_precedence_wiring.py."""

from __future__ import annotations

import pytest

from core import guardrails as g

ORDER = ["startup", "cannot_bootstrap", "stale_price", "loss_lock", "operator"]


def test_the_precedence_order() -> None:
    ranks = [g.pause_rank(k) for k in ORDER]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert g.pause_rank("api_errors") == g.pause_rank("operator"), "both wait for an operator resume"
    assert set(g.PAUSE_PRECEDENCE) == g.LATCHED_PAUSE_KINDS | g.AUTOMATIC_PAUSE_KINDS
    assert not g.LATCHED_PAUSE_KINDS & g.AUTOMATIC_PAUSE_KINDS


@pytest.mark.parametrize("unknown", ["", "something_newer"])
def test_an_unknown_kind_waits_for_an_operator(unknown: str) -> None:
    # A paused snapshot from before pause kinds were saved: never guessed away.
    assert g.pause_rank(unknown) == g.pause_rank("operator")
    assert not g.pause_takes_over(unknown, "loss_lock")
    assert not g.operator_may_pause(unknown)


@pytest.mark.parametrize(("current", "new", "expected"), [
    ("cannot_bootstrap", "stale_price", True),  # funds arriving at a stale price must not resume
    ("stale_price", "api_errors", True),  # the feed recovering must not lift the API-error pause
    ("stale_price", "loss_lock", True),
    ("startup", "cannot_bootstrap", True),
    ("stale_price", "cannot_bootstrap", False),
    ("loss_lock", "stale_price", False),
    ("stale_price", "stale_price", False),  # a guard firing every loop: idempotent
    ("api_errors", "operator", False),  # equal: both latched
    ("operator", "api_errors", False),
    ("operator", "loss_lock", False),  # a latch is never replaced: the lock clearing must not lift it
    ("api_errors", "loss_lock", False),
    ("loss_lock", "api_errors", True),  # the API-error latch outlives the lock
])
def test_a_higher_kind_takes_the_pause_over(current: str, new: str, expected: bool) -> None:
    assert g.pause_takes_over(current, new) is expected


@pytest.mark.parametrize(("current", "allowed"), [
    ("startup", True), ("cannot_bootstrap", True), ("stale_price", True), ("loss_lock", True),
    ("operator", False), ("api_errors", False),
])
def test_the_operator_may_pause_over_any_automatic_pause(current: str, allowed: bool) -> None:
    assert g.operator_may_pause(current) is allowed


def test_a_resume_lands_on_the_strongest_condition_still_holding() -> None:
    cond = g.PauseCondition
    assert g.pause_after_resume([]) is None
    assert g.pause_after_resume([cond("cannot_bootstrap", "c"), cond("stale_price", "s")]) == cond("stale_price", "s")
    assert g.pause_after_resume([cond("startup", "x"), cond("loss_lock", "l"), cond("stale_price", "s")]).kind == "loss_lock"
    # Latches are not conditions: a resume never re-enters them.
    assert g.pause_after_resume([cond("operator", "o"), cond("api_errors", "a")]) is None

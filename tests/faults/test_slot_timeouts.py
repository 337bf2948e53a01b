"""add_order answers that arrive after the gateway gave up on them, over real loopback sockets.

The gateway's request deadline is set far below the simulator's answer time, so nearly every
placement is reported `OrderRejected(error="timeout")` first and `OrderAccepted` afterwards (a
late ack). A timeout means "outcome unknown": the bot must keep trading with those orders, book
every execution once and leave no exchange order unmanaged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.internal import Inspect
from tests.faults import conftest


@pytest.fixture
def late_acks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conftest.ws_config

    def fast_deadline(settings: Any, **kw: Any) -> Any:
        return dataclasses.replace(real(settings, **kw), request_timeout_s=1e-4)

    monkeypatch.setattr(conftest, "ws_config", fast_deadline)


def test_orders_whose_ack_comes_after_the_timeout_trade_normally(socket_rig, late_acks):
    rig = socket_rig(env={"MAX_CONSECUTIVE_ERRORS": "100000"})
    assert rig.settle(), rig.why()
    rig.advance(40)
    unconfirmed = sum(ref.ask(Inspect())["counters"].get("orders_unconfirmed", 0)
                      for ref in rig.system.slot_refs().values())
    assert unconfirmed > 0, "the deadline did not produce timeouts"
    assert len(rig.exchange()["fills"]) > 0, "the bot still trades"
    assert not rig.problems(), rig.why()
    status = rig.system.status()
    assert not any(s.halted for s in status.slots)
    assert all(s.orders for s in status.slots), "every slot still works its orders"

"""A cancel that never reached the exchange is sent again until the order's end is confirmed.

Over real sockets: the stale-entry refresh cancels entries while the exchange refuses connections
(a real outage, the exchange trading on). The cancels are refused (`EGateway:not connected`); the
orders stay open on the exchange. Before the fix nothing ever sent those cancels again: the old
entries stayed live next to their replacements and could fill too.
"""

from __future__ import annotations

import time
from pathlib import Path

from actors.internal import Inspect
from tests.faults.conftest import SocketRig


def _pending(rig: SocketRig) -> list[str]:
    return [p.txid for ref in rig.system.slot_refs().values()
            for p in ref.ask(Inspect(), timeout=10)["state"].pending_cancels]


def test_refused_cancels_are_sent_again_and_land(tmp_path: Path) -> None:
    rig = SocketRig(tmp_path, slots=3, seed=6619, env={"MAX_CONSECUTIVE_ERRORS": "1000"})
    rig.start()
    try:
        rig.advance(13)
        assert not rig.problems(), rig.why()
        rig.sim.refuse_connections(1.5)
        t0 = time.monotonic()
        rig.sim.drop_connections()
        rig.advance(8, settle=False)  # the refresh cancels its entries while nothing gets through
        time.sleep(max(0.0, 1.5 - (time.monotonic() - t0)))
        rig.settle(5)  # the orders being cancelled keep `problems()` from settling: a short wait
        stuck = set(_pending(rig)) & set(rig.exchange()["open"])
        assert stuck, "the scenario needs cancels that did not land during the outage"
        for _ in range(4):  # a few loops: the resend goes out and the exchange confirms
            rig.advance(1, settle=False)
            if rig.settle(10) and not set(_pending(rig)) & set(rig.exchange()["open"]):
                break
        assert not set(_pending(rig)) & set(rig.exchange()["open"]), "cancels never sent again"
        assert rig.settle(20), rig.why()
        kinds = [a["kind"] for a in rig.system.inspect("status")["alerts"]]
        assert "untracked_execution" not in kinds
    finally:
        rig.close()

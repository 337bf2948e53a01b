"""SlotActor: the capital-layer tag of fixed-volume entries (repairs, single-side and reseed bootstraps).

An entry carries the current effective layers exactly when its volume reaches what the slot's own
sizes give at those layers (core/layer_propagation.fixed_volume_layers); a reduced or 2 x minimum
reseed order carries none.
"""

from __future__ import annotations

import pykka
import pytest

from actors.base import send
from actors.internal import BootstrapSlot, Inspect, RepairSlot, SlotTick
from core import bootstrap, sizing
from core import state_machine as sm
from tests.actors.conftest import SlotRig

PRICE = 0.1
T0 = 1_000_000.0
LAYERS = 2


@pytest.fixture
def rig():
    # 10 USD + 2 layers x 30 DOGE at 0.1 USD/DOGE: 160 DOGE per entry.
    r = SlotRig(CAPITAL_LAYER_DOGE_PER_ORDER="30")
    yield r
    pykka.ActorRegistry.stop_all()


def deliver(rig: SlotRig, slot, *messages) -> None:
    for m in messages:
        send(slot, m, rig.inflight)
    assert rig.inflight.wait_idle(10)


def layered_volume(rig: SlotRig) -> float:
    """What the runtime sends in a RepairSlot (runtime_loop.order_volume) at LAYERS layers."""
    sizes = sizing.slot_trade_sizes(rig.cfg, slot_total_profit=0.0, price=PRICE, effective_layers=LAYERS)
    volume = sizing.entry_volume(sizes, "B", PRICE, rig.cfg).volume
    assert volume == 160.0
    return volume


def entries(slot) -> tuple[dict[str, sm.OrderState], dict[int, int]]:
    seen = slot.ask(Inspect())
    assert seen["layers"] == LAYERS
    return {o.trade_id: o for o in seen["state"].orders if o.role == "entry"}, seen["layer_tags"]


def test_a_single_side_bootstrap_at_the_layered_volume_carries_the_layers(rig):
    volume = layered_volume(rig)
    deliver(rig, rig.slot, SlotTick(now=T0, price=PRICE, price_ts=T0, layers=LAYERS),
            BootstrapSlot(now=T0, which="A", mode_source="balance", doge_volume=volume))
    orders, tags = entries(rig.slot)
    assert set(orders) == {"A"} and orders["A"].volume == volume
    assert tags[orders["A"].local_id] == LAYERS, "a degraded bootstrap at the slot size carries the layers"


def test_a_repair_at_the_layered_volume_carries_the_layers(rig):
    volume = layered_volume(rig)
    deliver(rig, rig.slot, SlotTick(now=T0, price=PRICE, price_ts=T0, layers=LAYERS),
            BootstrapSlot(now=T0, which="A", mode_source="balance", doge_volume=130.0))
    orders, tags = entries(rig.slot)
    assert tags[orders["A"].local_id] == 0, "a bootstrap reduced below the layered size carries no layer"

    deliver(rig, rig.slot, RepairSlot(now=T0 + 1, trade_id="B", doge_volume=volume))
    orders, tags = entries(rig.slot)
    assert set(orders) == {"A", "B"} and orders["B"].volume == volume
    assert tags[orders["B"].local_id] == LAYERS, "the repair was sized at the effective layers"


def test_a_reseed_bootstrap_and_a_reduced_repair_carry_no_layer(rig):
    reseed = rig.cfg.rules.floor_volume(2 * bootstrap.min_tradeable_volume(PRICE, rig.cfg.rules))
    assert reseed < layered_volume(rig)
    deliver(rig, rig.slot, SlotTick(now=T0, price=PRICE, price_ts=T0, layers=LAYERS),
            BootstrapSlot(now=T0, which="A", mode_source="balance", source="reseed", doge_volume=reseed))
    orders, tags = entries(rig.slot)
    assert orders["A"].volume == reseed
    assert tags[orders["A"].local_id] == 0

    deliver(rig, rig.slot, RepairSlot(now=T0 + 1, trade_id="B", doge_volume=130.0))
    orders, tags = entries(rig.slot)
    assert orders["B"].volume == 130.0
    assert tags[orders["B"].local_id] == 0, "a repair below the layered size does not carry the layer"


def test_a_full_bootstrap_with_the_slots_own_sizes_carries_the_layers(rig):
    deliver(rig, rig.slot, SlotTick(now=T0, price=PRICE, price_ts=T0, layers=LAYERS),
            BootstrapSlot(now=T0, which="both"))
    orders, tags = entries(rig.slot)
    assert set(orders) == {"A", "B"}
    assert {tags[o.local_id] for o in orders.values()} == {LAYERS}

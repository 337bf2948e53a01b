"""Kraken's rate counters as pure arithmetic (kraken-api.md §5.1, §5.2).

Two counters exist on Kraken:

* the per-pair *trading* (matching-engine) counter, shared by REST, WS and FIX: fixed costs per
  transaction plus age-dependent penalties for amends, edits and cancels, decaying by a
  tier-dependent rate every second;
* the per-key *REST call* counter for private non-trading calls.

Both the simulated exchange and the bot's own rate-budget mirror use this module, so the two can
never disagree about what a transaction costs. Nothing here reads a clock: every method takes the
current time (unix seconds, float) as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


@dataclass(frozen=True, slots=True)
class CounterLimits:
    """Ceiling of a counter and its decay per second."""

    threshold: float
    decay_per_s: float


TRADING_LIMITS: dict[Tier, CounterLimits] = {
    Tier.STARTER: CounterLimits(threshold=60.0, decay_per_s=1.0),
    Tier.INTERMEDIATE: CounterLimits(threshold=125.0, decay_per_s=2.34),
    Tier.PRO: CounterLimits(threshold=180.0, decay_per_s=3.75),
}

REST_LIMITS: dict[Tier, CounterLimits] = {
    Tier.STARTER: CounterLimits(threshold=15.0, decay_per_s=0.33),
    Tier.INTERMEDIATE: CounterLimits(threshold=20.0, decay_per_s=0.5),
    Tier.PRO: CounterLimits(threshold=20.0, decay_per_s=1.0),
}

# Maximum simultaneously open orders per pair (kraken-api.md §5.3).
OPEN_ORDER_LIMITS: dict[Tier, int] = {Tier.STARTER: 60, Tier.INTERMEDIATE: 80, Tier.PRO: 225}

# Age buckets (exclusive upper bounds, seconds) and the penalty in each; the last entry applies
# to every older order. From the table in kraken-api.md §5.2.
_AGE_BOUNDS = (5.0, 10.0, 15.0, 45.0, 90.0, 300.0)
_AMEND_PENALTY = (3.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0)
_EDIT_PENALTY = (6.0, 5.0, 4.0, 2.0, 1.0, 0.0, 0.0)
_CANCEL_PENALTY = (8.0, 6.0, 5.0, 4.0, 2.0, 1.0, 0.0)

ADD_ORDER_COST = 1.0
AMEND_FIXED_COST = 1.0
EDIT_FIXED_COST = 1.0

# REST call weights: most private calls cost 1; ledger/trade-history queries cost 2 (the docs
# copies disagree between 2 and 4, see kraken-api.md §5.1: callers may pass their own table).
REST_DEFAULT_COST = 1.0
REST_HEAVY_COST = 2.0
REST_HEAVY_METHODS = frozenset({"Ledgers", "TradesHistory"})
# Trading calls go to the trading counter instead of the REST counter.
REST_TRADING_METHODS = frozenset(
    {"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch",
     "CancelAll", "CancelAllOrdersAfter"}
)


def _bucket(age_s: float) -> int:
    for i, bound in enumerate(_AGE_BOUNDS):
        if age_s < bound:
            return i
    return len(_AGE_BOUNDS)


def add_order_cost() -> float:
    return ADD_ORDER_COST


def amend_cost(age_s: float) -> float:
    """Cost of amending an order that has rested `age_s` seconds since creation or last amend."""
    return AMEND_FIXED_COST + _AMEND_PENALTY[_bucket(age_s)]


def edit_cost(age_s: float) -> float:
    return EDIT_FIXED_COST + _EDIT_PENALTY[_bucket(age_s)]


def cancel_cost(age_s: float) -> float:
    """Cancels have no fixed cost, only the age penalty (0 once the order is 300 s old)."""
    return _CANCEL_PENALTY[_bucket(age_s)]


def batch_add_cost(n_orders: int) -> float:
    return n_orders / 2.0


def batch_cancel_cost(ages_s: list[float] | tuple[float, ...]) -> float:
    return sum(cancel_cost(age) for age in ages_s)


def rest_call_cost(method: str, heavy_methods: frozenset[str] = REST_HEAVY_METHODS,
                   heavy_cost: float = REST_HEAVY_COST) -> float:
    """REST counter weight of a private method; 0 for trading calls (they use the trading counter)."""
    if method in REST_TRADING_METHODS:
        return 0.0
    return heavy_cost if method in heavy_methods else REST_DEFAULT_COST


@dataclass(slots=True)
class DecayingCounter:
    """A counter that decays linearly towards 0 and rejects costs that would exceed its threshold.

    Mutable but clock-free: `now` is always passed in. Time going backwards is treated as no time
    passing, so a caller with a slightly non-monotonic clock cannot inflate the counter.
    """

    limits: CounterLimits
    value: float = 0.0
    updated_at: float | None = None

    def value_at(self, now: float) -> float:
        if self.updated_at is None or now <= self.updated_at:
            return self.value
        return max(0.0, self.value - (now - self.updated_at) * self.limits.decay_per_s)

    def _settle(self, now: float) -> None:
        self.value = self.value_at(now)
        if self.updated_at is None or now > self.updated_at:
            self.updated_at = now

    def would_exceed(self, cost: float, now: float) -> bool:
        return self.value_at(now) + cost > self.limits.threshold + 1e-9

    def add(self, cost: float, now: float) -> float:
        """Add `cost` unconditionally; returns the new value."""
        self._settle(now)
        self.value += cost
        return self.value

    def try_add(self, cost: float, now: float) -> bool:
        """Add `cost` if it fits under the threshold; returns whether it was accepted."""
        if self.would_exceed(cost, now):
            self._settle(now)
            return False
        self.add(cost, now)
        return True

    def seconds_until_fits(self, cost: float, now: float) -> float:
        """How long until a transaction of `cost` would be accepted (0 when it fits now)."""
        excess = self.value_at(now) + cost - self.limits.threshold
        if excess <= 1e-9:
            return 0.0
        return excess / self.limits.decay_per_s


def trading_counter(tier: Tier | str) -> DecayingCounter:
    return DecayingCounter(TRADING_LIMITS[Tier(tier)])


def rest_counter(tier: Tier | str) -> DecayingCounter:
    return DecayingCounter(REST_LIMITS[Tier(tier)])

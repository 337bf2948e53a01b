"""The coordinator's per-tick loop (STATE_MACHINE.md §4) and its report intake, as messages.

One `run(rt, now)` per LoopTick:

 1. guardrails: stale price pause (auto-resumes when prices flow again), gateway-down alert;
 2. daily loss lock (pause / auto-resume on clear);
 3. rate budget LoopBegin (per-loop entry cap from open-order headroom, pre-tick drain);
 4. capital layers from the balances;
 5. every slot: SlotTick (PriceTick + TimerTick in the reducer);
 6. bootstrap empty slots (§8, Kraken balances authoritative, core/bootstrap.py) and auto-repair
    degraded ones (conditional regime suppression rule);
 7. open-order census, auto soft-close governor (§11), persistent drift alert, orphan pressure;
 8. persist `__v1__`, LoopEnd (post-tick drain), status report.

Decisions are core functions; this module only gathers their inputs from the latest slot reports
and turns their outputs into messages.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from actors.internal import (
    BootstrapSlot,
    CensusRequest,
    LoopBegin,
    LoopEnd,
    RepairSlot,
    SlotReport,
    SlotTick,
    SoftCloseRecovery,
)
from actors.store_messages import InsertPrices
from core import bootstrap, guardrails, loss_lock, recovery_ops, sizing
from store.rows import PriceRow

log = logging.getLogger("runtime")

PRICE_BATCH = 10


def run(rt: Any, now: float) -> None:
    rt.loops += 1
    _guards(rt, now)
    _loss_lock(rt, now, [])
    cap = rt.capacity(now)
    rt.capacity_cache = (now, cap)
    rt.send(rt.rate_budget, LoopBegin(now=now, headroom=cap.open_order_headroom, paused=rt.mode != "RUNNING"))
    _layers(rt)
    for sid in sorted(rt.slots):
        rt.send(rt.slots[sid], SlotTick(now=now, price=rt.price, price_ts=rt.price_ts, layers=rt.effective_layers))
    if rt.price > 0 and (rt.mode == "RUNNING" or rt.pause_kind == "cannot_bootstrap"):
        funds = _funds(rt)
        funds = _bootstraps(rt, now, funds)
        if rt.mode == "RUNNING":
            _repairs(rt, now, funds)
    rt.send(rt.router, CensusRequest(now=now))
    _governor(rt, now, cap.open_order_utilization_pct)
    _drift_and_orphans(rt, now)
    if rt.price > 0 and rt.store is not None:
        # Batched: one small transaction per ten loops instead of one per loop.
        rt.price_rows.append(PriceRow(ts=now, price=rt.price))
        if len(rt.price_rows) >= PRICE_BATCH:
            rt.store.tell(InsertPrices(prices=rt.price_rows, ts=now))
            rt.price_rows = []
    rt.save(now)
    rt.send(rt.rate_budget, LoopEnd(now=now))
    rt.report(now)


# --------------------------------------------------------------------------- guardrails


def _guards(rt: Any, now: float) -> None:
    event = _stale_event(rt, now)
    if event is not None:
        rt.pause("stale_price", event.message, now)
    else:
        lift(rt, "stale_price", now, "prices are fresh again")
    s = rt.settings
    speed = _clock_speed(rt)
    conn = rt.connection
    # Same clock-speed floor as the stale-price guard: a sped-up sim's stall is not an outage.
    down_alert = guardrails.scaled_for_clock(s.gateway_disconnect_alert_sec, speed)
    if conn.down_since is not None and not conn.alerted and now - conn.down_since >= down_alert:
        conn.alerted = True
        rt.alert("gateway_disconnected", f"exchange connection down for {now - conn.down_since:.0f}s", now)


def _clock_speed(rt: Any) -> float:
    """Clock seconds per wall second (1 for minimal runtimes in tests, which carry no clock)."""
    clock = getattr(rt, "clock", None)
    return float(getattr(clock, "speed", 1.0))


def _stale_event(rt: Any, now: float) -> guardrails.GuardEvent | None:
    s = rt.settings
    # The threshold in clock seconds, scaled for a sped-up sim clock; computed and logged once.
    speed = _clock_speed(rt)
    stale = getattr(rt, "stale_guard", None)
    if stale is None or (stale.knob_sec, stale.speed) != (s.stale_price_max_age_sec, speed):
        stale = rt.stale_guard = guardrails.stale_price_guard(s.stale_price_max_age_sec, speed)
        log.info("%s", stale.describe())
    return guardrails.check_stale_price(rt.price_ts, now, stale.max_age_sec, stale.label)


# --------------------------------------------------------------------------- pause precedence


def lift(rt: Any, kind: str, now: float, why: str) -> None:
    """An automatic resume: lifts a pause of its own `kind` only (a higher-ranked pause that took
    it over stays), and `RuntimeActor.resume` keeps the bot paused if another automatic
    condition still holds."""
    if rt.mode == "PAUSED" and rt.pause_kind == kind:
        rt.resume(now, why)


def holding_pauses(rt: Any, now: float) -> list[guardrails.PauseCondition]:
    """The automatic pause conditions that hold now (what a resume must not run over)."""
    out: list[guardrails.PauseCondition] = []
    if rt.loss.active:
        out.append(guardrails.PauseCondition(
            "loss_lock", loss_lock.resume_block_reason(rt.loss, rt.settings.daily_loss_limit)))
    stale = _stale_event(rt, now)
    if stale is not None:
        out.append(guardrails.PauseCondition("stale_price", stale.message))
    unfundable = sorted(s for s in rt.cannot_bootstrap if s in rt.slots)
    if unfundable:
        # The last bootstrap pass found these slots (still here) unfundable; this pause re-plans
        # every loop, so a stale entry lasts one loop at most.
        ids = ", ".join(str(i) for i in unfundable)
        out.append(guardrails.PauseCondition(
            "cannot_bootstrap", f"slot(s) {ids} cannot bootstrap: insufficient USD and DOGE (re-checked every loop)"))
    if not rt.started:
        out.append(guardrails.PauseCondition("startup", "starting"))
    return out


def api_result(rt: Any, *, ok: bool, detail: str, now: float) -> None:
    rt.telemetry.api, events = guardrails.record_api_result(
        rt.telemetry.api, ok, rt.settings.max_consecutive_errors, detail
    )
    for e in events:
        rt.pause("api_errors", e.message, now)


def evaluate_loss_lock(rt: Any, now: float) -> None:
    """Re-check the daily loss lock with nothing newly booked (start-up, limit changes)."""
    _loss_lock(rt, now, [])


def _loss_lock(rt: Any, now: float, booked: list[tuple[float, float]]) -> None:
    was_active = rt.loss.active
    rt.loss, events = loss_lock.step(rt.loss, rt.settings.daily_loss_limit, now, booked)
    for e in events:
        if e.kind == "locked":
            rt.alert("loss_lock_on", e.message, now, severity="critical")
            # The lock takes over an automatic pause already in place (stale price, cannot
            # bootstrap, start-up), so that reason clearing cannot resume trading under it (D8). An
            # operator / api_errors pause stays the recorded one (only resume lifts it, and resume
            # is refused while the lock is active): the lock clearing must not lift it.
            rt.pause("loss_lock", e.message, now)
        else:
            rt.alert("loss_lock_off", e.message, now, severity="info")
    if was_active and not rt.loss.active:
        lift(rt, "loss_lock", now, "daily loss lock cleared")


# --------------------------------------------------------------------------- slots


def _layers(rt: Any) -> None:
    if rt.price <= 0:
        return
    funds = _funds(rt)
    facts = [r.facts for r in rt.reports.values()]
    sells = sum(int(f.has_entry_a) + int(f.has_exit_b) for f in facts)
    buys = sum(int(f.has_entry_b) + int(f.has_exit_a) for f in facts)
    layers = sizing.effective_layers(rt.target_layers, funds.doge_available + funds.doge_reserved,
                                     funds.usd_available + funds.usd_reserved, rt.price, rt.cfg,
                                     active_sell_orders=sells, active_buy_orders=buys)
    if layers != rt.effective_layers:
        rt.effective_layers = layers
        rt.reconfigure_slots()


def free_funds(rt: Any) -> bootstrap.Funds:
    """Balances and what the bot's open orders reserve, for commands that check affordability."""
    return _funds(rt)


def _funds(rt: Any) -> bootstrap.Funds:
    reports = rt.reports.values()
    return bootstrap.Funds(
        usd_balance=rt.balances.get("USD", 0.0),
        doge_balance=rt.balances.get("DOGE", 0.0),
        usd_reserved=sum(r.usd_reserved for r in reports),
        doge_reserved=sum(r.doge_reserved for r in reports),
    )


def _suppressed(rt: Any) -> str | None:
    regime = rt.regime
    return regime.suppressed_side if regime.tier >= bootstrap.REGIME_SUPPRESSION_TIER else None


def order_volume(rt: Any, r: SlotReport) -> float | None:
    """The slot's entry volume at the current price (its report may predate the price)."""
    sizes = sizing.slot_trade_sizes(rt.cfg, slot_total_profit=r.total_profit, price=rt.price,
                                    effective_layers=rt.effective_layers)
    return sizing.entry_volume(sizes, "B", rt.price, rt.cfg).volume


def _bootstraps(rt: Any, now: float, funds: bootstrap.Funds) -> bootstrap.Funds:
    """Plan every empty slot first, then act on the whole pass.

    A pass with any slot that cannot be funded pauses the bot (§24) and places nothing; only a
    pass where every empty slot can be funded resumes and bootstraps them. Deciding per slot
    instead made one unfundable and one fundable slot pause and resume the bot every loop.

    A `cannot` plan without a pause reason is a slot that waits, not one that cannot be funded:
    the only side its funds allow is the one the regime suppresses (core/bootstrap.py). It is
    skipped (no pause, no alert, one info log when it starts waiting or its reason changes),
    reserves nothing, and the other slots proceed; it bootstraps on the first pass after the
    suppression lapses.
    """
    rules = rt.cfg.rules
    waiting = rt.bootstrap_waiting
    planned: list[tuple[int, bootstrap.BootstrapPlan]] = []
    cannot: list[tuple[int, bootstrap.BootstrapPlan]] = []
    waits: dict[int, str] = {}
    for sid in sorted(rt.slots):
        r: SlotReport | None = rt.reports.get(sid)
        if r is None or not r.empty or r.halted or r.retiring:
            continue
        plan = bootstrap.plan_bootstrap(slot_id=sid, funds=funds, price=rt.price, order_volume=order_volume(rt, r),
                                        rules=rules, suppressed_trade=_suppressed(rt))  # type: ignore[arg-type]
        if plan.decision == "wait_min_size":
            continue
        if plan.decision == "cannot" and plan.pause_reason is None:
            waits[sid] = plan.reason
            continue
        if plan.decision == "cannot":
            cannot.append((sid, plan))
            continue
        planned.append((sid, plan))
        funds = _spend(funds, plan.a_volume, plan.b_volume, rt.price, rules)
    for sid, why in waits.items():
        if waiting.get(sid) != why:
            log.info("bootstrap waits: %s", why)
    for sid in [s for s in waiting if s not in waits]:
        log.info("slot %d: bootstrap no longer waiting on the regime", sid)
    waiting.clear()
    waiting.update(waits)
    for sid in [s for s in rt.cannot_bootstrap if s not in {c for c, _ in cannot}]:
        rt.cannot_bootstrap.discard(sid)
    if cannot:
        for sid, plan in cannot:
            if sid not in rt.cannot_bootstrap:
                rt.cannot_bootstrap.add(sid)
                rt.alert("cannot_bootstrap", plan.reason, now, slot_id=sid)
        first = cannot[0][1]
        reason = first.pause_reason or first.reason
        if len(cannot) > 1:
            reason += f" (and {len(cannot) - 1} more empty slot(s) that cannot bootstrap)"
        if rt.mode == "PAUSED" and rt.pause_kind == "cannot_bootstrap":
            if rt.pause_reason != reason:
                rt.pause_reason = reason
                rt.report(now)
        else:
            rt.pause("cannot_bootstrap", reason, now)
        return funds
    lift(rt, "cannot_bootstrap", now, "funds allow bootstrap again")
    if rt.mode != "RUNNING":
        return funds
    for sid, plan in planned:
        which = {"both": "both", "short_only": "A", "A": "A", "long_only": "B", "B": "B"}[plan.decision]
        volume = None if plan.decision == "both" else (plan.a_volume if which == "A" else plan.b_volume)
        rt.send(rt.slots[sid], BootstrapSlot(now=now, which=which, mode_source=plan.mode_source,
                                             source=plan.order_source, doge_volume=volume))
        log.info("bootstrap: %s", plan.reason)
    return funds


def _spend(funds: bootstrap.Funds, a: float | None, b: float | None, price: float, rules: Any) -> bootstrap.Funds:
    return bootstrap.Funds(
        usd_balance=funds.usd_balance, doge_balance=funds.doge_balance,
        usd_reserved=funds.usd_reserved + (bootstrap.buy_cost(b, price, rules) if b else 0.0),
        doge_reserved=funds.doge_reserved + (a or 0.0),
    )


def _repairs(rt: Any, now: float, funds: bootstrap.Funds) -> None:
    regime = rt.regime
    for sid in sorted(rt.slots):
        r: SlotReport | None = rt.reports.get(sid)
        if r is None or r.empty or r.halted or r.retiring or bootstrap.missing_trade(r.facts) is None:
            continue
        volume = order_volume(rt, r)
        if volume is None:
            continue
        d = bootstrap.repair_decision(
            r.facts, regime.tier, regime.suppressed_side, regime.tier2_cooldown_until, now,
            funds=funds, price=rt.price, order_volume=volume, rules=rt.cfg.rules,
        )
        if d.repair and d.trade_id is not None and d.volume is not None:
            rt.send(rt.slots[sid], RepairSlot(now=now, trade_id=d.trade_id, doge_volume=d.volume))
            log.info("auto-repair: %s", d.reason)
            funds = _spend(funds, d.volume if d.trade_id == "A" else None,
                           d.volume if d.trade_id == "B" else None, rt.price, rt.cfg.rules)


def _governor(rt: Any, now: float, utilization: float) -> None:
    """§11 capacity governor: above the threshold, reprice the farthest recoveries to near market."""
    if rt.cfg.sticky_mode_enabled or rt.price <= 0:
        return
    s = rt.settings
    views = [v for r in rt.reports.values() if not r.halted for v in r.recoveries]
    plans = recovery_ops.select_auto_soft_close(views, rt.price, utilization, rt.cfg.rules,
                                                capacity_pct=s.auto_soft_close_capacity_pct,
                                                batch=s.auto_soft_close_batch)
    for p in plans:
        ref = rt.slots.get(p.recovery.slot_id)
        price = recovery_ops.guarded_soft_close_price(p.recovery.side, rt.price, p.recovery.price, rt.cfg)
        if ref is not None and price is not None:
            rt.send(ref, SoftCloseRecovery(recovery_id=p.recovery.recovery_id, price=price, now=now,
                                           reason="auto_soft_close"))
            rt.auto_soft_close_total += 1


def _drift_and_orphans(rt: Any, now: float) -> None:
    s = rt.settings
    # Orders the exchange has acknowledged: placements still queued here (deferred entries, a
    # paused bot) are not drift, the exchange cannot know them yet.
    internal = sum(len(r.tracked_txids) for r in rt.reports.values())
    rt.telemetry.drift, events = guardrails.update_drift(
        rt.telemetry.drift, rt.telemetry.kraken_open, internal, now,
        pct=s.open_order_drift_alert_pct, persist_sec=s.open_order_drift_persist_sec,
    )
    for e in events:
        rt.alert("drift_on" if e.kind == "drift_alert" else "drift_off", e.message, now,
                 severity="warning" if e.kind == "drift_alert" else "info")
    total = sum(len(r.recoveries) for r in rt.reports.values())
    rt.telemetry.orphans, events = guardrails.update_orphan_pressure(rt.telemetry.orphans, total,
                                                                     s.orphan_pressure_warn_at)
    for e in events:
        rt.alert("orphan_pressure", e.message, now)


# --------------------------------------------------------------------------- report intake


def absorb(rt: Any, r: SlotReport) -> None:
    now = rt.clock.now()
    previous = rt.reports.get(r.slot_id)
    if r.ledger is None and previous is not None and previous.ledger is not None:
        r = _with_ledger(r, previous.ledger)
    rt.reports[r.slot_id] = r
    rt.telemetry.absorb(r)
    for exit_time, net in r.booked:
        day = loss_lock.utc_day(exit_time)
        if day != rt.pnl_day:
            rt.pnl_day, rt.pnl_today = day, 0.0
        rt.pnl_today += net
    if r.booked:
        _loss_lock(rt, now, r.booked)
    for error in r.rejects:
        api_result(rt, ok=False, detail=error, now=now)
    if r.accepts:
        api_result(rt, ok=True, detail="", now=now)
    if r.halted and r.slot_id not in rt.halted_slots:
        rt.halted_slots.add(r.slot_id)
        rt.alert("slot_halt", f"slot {r.alias} ({r.slot_id}) halted: {r.halt_reason}", now, severity="critical",
                 slot_id=r.slot_id)
        rt.halt(f"slot {r.slot_id}: {r.halt_reason}", now, slot_id=r.slot_id)
    elif not r.halted:
        rt.halted_slots.discard(r.slot_id)
    if r.retired:
        rt.drop_slot(r.slot_id, now)


def _with_ledger(r: SlotReport, ledger: Any) -> SlotReport:
    return msgspec.structs.replace(r, ledger=ledger)

"""Operator commands (actors/commands.py), answered by the coordinator with a CommandReply.

Every command of the protocol has a handler here; each validates its input (the same
constraints as the HTTP API's decode), changes what it must, persists `__v1__` and returns what
happened in words a person can read. Selections and gates are core functions (aliases,
guardrails.slot_add_advice, recovery_ops, pnl_audit, loss_lock).

A refusal says why in `data`, because the HTTP API maps it to a status (web/routes.py):
`{"error_kind": "invalid_input", "field": <name>}` (400) when the command names something that
does not exist or a value out of range (an unknown slot or recovery, a percentage outside the
knob's bounds); `{"error_kind": "refused"}` (409) when the input is fine but the bot's state
forbids it (loss lock, already paused, capacity, sticky mode off, gates).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from actors import commands as c
from actors import runtime_loop
from actors.internal import ReconcileDriftNow, ReleaseExit, RestartSlot, RetireSlot, SoftCloseRecovery
from actors.slot_io import SlotSnapshot
from core import aliases, guardrails, loss_lock, pnl_audit, recovery_ops
from core import state_machine as sm
from core.config import apply_overrides
from core.config_schema import KNOB_BY_NAME, coerce


def _reply(cmd: c.Command, ok: bool, message: str, **data: Any) -> c.CommandReply:
    return c.CommandReply(ok=ok, action=str(type(cmd).__struct_config__.tag), message=message, data=data)


def _invalid(cmd: c.Command, message: str, field: str | None, **data: Any) -> c.CommandReply:
    """Bad input (HTTP 400): `field` names the offending field of the command."""
    extra = {"field": field} if field else {}
    return _reply(cmd, False, message, error_kind="invalid_input", **extra, **data)


def _refused(cmd: c.Command, message: str, **data: Any) -> c.CommandReply:
    """Valid input the bot's current state refuses (HTTP 409)."""
    return _reply(cmd, False, message, error_kind="refused", **data)


_PATH = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")


def handle(rt: Any, cmd: c.Command, now: float) -> c.CommandReply:
    try:
        c.validate_command(cmd)
    except msgspec.ValidationError as e:
        path = _PATH.search(str(e))  # msgspec: "Expected `float` <= 50.0 - at `$.value`"
        return _invalid(cmd, f"invalid command: {e}", path.group(1) if path else None)
    handler = _HANDLERS.get(type(cmd))
    if handler is None:
        return _refused(cmd, f"unsupported command {type(cmd).__name__}")
    reply = handler(rt, cmd, now)
    rt.save(now)
    rt.report(now)
    return reply


# --------------------------------------------------------------------------- mode


def _pause(rt: Any, cmd: c.Pause, now: float) -> c.CommandReply:
    """Pause by the operator. Over an automatic pause (loss lock, stale price, cannot bootstrap,
    start-up) the operator's pause takes over, so that condition clearing no longer resumes: only
    `resume` does (and it stays refused while the loss lock is active). Refused when the bot
    already waits for an operator: paused by the operator or for API errors
    (guardrails.operator_may_pause)."""
    if rt.mode == "HALTED":
        return _refused(cmd, f"halted ({rt.halt_reason}); nothing to pause")
    if rt.mode == "PAUSED":
        current, before = rt.pause_kind, rt.pause_reason
        if not guardrails.operator_may_pause(current):
            return _refused(cmd, f"already paused ({current or 'operator'}): {before}", pause_kind=current)
        rt.pause("operator", cmd.reason, now)
        lock = ", and resume stays refused while the daily loss lock is active" if rt.loss.active else ""
        return _reply(cmd, True, f"paused: {cmd.reason} (replaces the automatic {current} pause: {before}; "
                                 f"only resume lifts it now{lock})", replaced=current, replaced_reason=before)
    rt.pause("operator", cmd.reason, now)
    return _reply(cmd, True, f"paused: {cmd.reason}")


def _resume(rt: Any, cmd: c.Resume, now: float) -> c.CommandReply:
    """Lift the pause or halt (refused while the daily loss lock is active, D8) and restart halted
    slots. The bot stays paused if an automatic condition still holds (RuntimeActor.resume): the
    reply then says which; refused when that leaves the pause exactly as it was."""
    if not loss_lock.resume_allowed(rt.loss):
        return _refused(cmd, loss_lock.resume_block_reason(rt.loss, rt.settings.daily_loss_limit))
    if rt.mode == "RUNNING":
        return _refused(cmd, "already running")
    was = (rt.mode, rt.pause_kind, rt.pause_reason)
    if rt.mode == "PAUSED":
        held = guardrails.pause_after_resume(runtime_loop.holding_pauses(rt, now))
        if held is not None and held.kind == rt.pause_kind:
            return _refused(cmd, f"still paused ({held.kind}): {held.reason}; it lifts by itself when that clears",
                            pause_kind=held.kind)
    restarted = sorted(rt.halted_slots)
    for sid in restarted:
        # A halted slot restarts from its last good persisted state and replays what it missed.
        rt.supervisor.tell(RestartSlot(slot_id=sid, clear_halt=True))
    rt.halted_slots.clear()
    rt.resume(now, "operator")
    extra = f"; restarting halted slot(s) {restarted} from their last persisted state" if restarted else ""
    lifted = "halt" if was[0] == "HALTED" else (was[1] or "operator")
    if rt.mode != "RUNNING":
        return _reply(cmd, True, f"resumed from the {lifted} pause, but still paused ({rt.pause_kind}): "
                                 f"{rt.pause_reason}; it lifts by itself when that clears{extra}",
                      restarted=restarted, lifted=lifted, pause_kind=rt.pause_kind)
    return _reply(cmd, True, f"resumed{extra}", restarted=restarted, lifted=lifted)


# --------------------------------------------------------------------------- slots


def _add_slot(rt: Any, cmd: c.AddSlot, now: float) -> c.CommandReply:
    cap = rt.capacity(now)
    advice = guardrails.slot_add_advice(
        slot_count=len(rt.slots), adding=1,
        recovery_orders=sum(len(r.recoveries) for r in rt.reports.values()),
        safe_cap=cap.open_orders_safe_cap, untracked_orders=max(cap.open_orders_drift or 0, 0),
        partial_cancel_events_1d=cap.partial_fill_cancel_events_1d,
    )
    if advice.decision == "block":
        return _refused(cmd, f"not adding a slot: {advice.reason}", advice=msgspec.to_builtins(advice))
    sid = rt.next_slot_id
    try:
        rt.aliases, alias = aliases.allocate(rt.aliases, sid, cmd.alias)
    except aliases.AliasInUse as e:
        return _refused(cmd, str(e))  # a valid name another slot holds: a conflict, not bad input
    except ValueError as e:
        return _invalid(cmd, str(e), "alias")
    if rt.spawn is None:
        return _refused(cmd, "slots cannot be added in this runtime")
    rt.next_slot_id = sid + 1
    ref = rt.spawn(SlotSnapshot(slot_id=sid, alias=alias, state=sm.PairState(slot_id=sid, now=now)), rt.cfg,
                   rt.effective_layers)
    rt.add_slot_ref(sid, ref)
    note = f" ({advice.reason})" if advice.decision == "warn" else ""
    return _reply(cmd, True, f"slot {sid} '{alias}' added{note}", slot_id=sid, alias=alias,
                  advice=advice.decision)


def _retire(rt: Any, sid: int, now: float) -> str:
    r = rt.reports.get(sid)
    rt.send(rt.slots[sid], RetireSlot(now=now))
    exits = len(r.exits) + len(r.recoveries) if r is not None else 0
    if exits:
        return f"slot {sid}: entries cancelled; {exits} exit(s) stay tracked until they fill, then it is removed"
    return f"slot {sid}: entries cancelled; removed when the exchange confirms"


def _remove_slot(rt: Any, cmd: c.RemoveSlot, now: float) -> c.CommandReply:
    if cmd.slot_id not in rt.slots:
        return _invalid(cmd, f"no slot {cmd.slot_id}", "slot_id")
    r = rt.reports.get(cmd.slot_id)
    if r is not None and r.retiring:
        return _refused(cmd, f"slot {cmd.slot_id} is already being removed")
    return _reply(cmd, True, _retire(rt, cmd.slot_id, now), slot_id=cmd.slot_id)


def _remove_slots(rt: Any, cmd: c.RemoveSlots, now: float) -> c.CommandReply:
    live = [sid for sid in sorted(rt.slots, reverse=True)
            if not (rt.reports.get(sid) is not None and rt.reports[sid].retiring)]
    chosen = live[: cmd.count]
    if not chosen:
        return _refused(cmd, "no slot to remove")
    notes = [_retire(rt, sid, now) for sid in chosen]
    return _reply(cmd, True, "; ".join(notes), slot_ids=chosen)


# --------------------------------------------------------------------------- sizing and tunables


def _add_layer(rt: Any, cmd: c.AddLayer, now: float) -> c.CommandReply:
    # One layer step is funded for CAPITAL_LAYER_ORDER_BUDGET orders (the open-order limit), not
    # for today's orders: adding slots later must not find the layer unfunded. `source` says
    # which free balance must cover it: DOGE, USD, or either (DOGE-equivalent) for auto.
    s = rt.settings
    source = cmd.source or s.capital_layer_default_source
    if rt.price <= 0:
        return _refused(cmd, "layer add refused: market price unavailable")
    step_doge = s.capital_layer_order_budget * s.capital_layer_doge_per_order
    need = step_doge * s.capital_layer_balance_buffer
    funds = runtime_loop.free_funds(rt)
    have = {"doge": funds.doge_available, "usd": funds.usd_available / rt.price,
            "auto": funds.doge_available + funds.usd_available / rt.price}[source]
    if have + 1e-9 < need:
        return _refused(cmd, f"layer add refused: one step needs {need:.2f} DOGE-equivalent free from {source}, "
                        f"{have:.2f} available", source=source, required_doge_eq=round(need, 8),
                        available_doge_eq=round(have, 8))
    rt.target_layers += 1
    return _reply(cmd, True, f"target layers {rt.target_layers} (funded from {source}); effective layers "
                  "follow the balances at the next tick", target_layers=rt.target_layers, source=source)


def _remove_layer(rt: Any, cmd: c.RemoveLayer, now: float) -> c.CommandReply:
    if rt.target_layers <= 0:
        return _refused(cmd, "no capital layer to remove")
    rt.target_layers -= 1
    return _reply(cmd, True, f"target layers {rt.target_layers}", target_layers=rt.target_layers)


def _set_pct(rt: Any, cmd: c.SetEntryPct | c.SetProfitPct, now: float) -> c.CommandReply:
    name = "entry_pct" if isinstance(cmd, c.SetEntryPct) else "profit_pct"
    # The command's own bound (0, 50] is wider than the knob's: refuse what start-up would clamp,
    # rather than silently apply a different value.
    _, problem = coerce(KNOB_BY_NAME[name], cmd.value)
    if problem is not None:
        return _invalid(cmd, f"{name} {cmd.value:g} is {problem}; nothing changed", "value")
    settings, warnings = apply_overrides(rt.settings, {name: cmd.value}, source=f"command {name}")
    rt.settings = settings
    rt.cfg = msgspec.structs.replace(rt.cfg, **{name: getattr(settings, name)})
    rt.reconfigure_slots()
    return _reply(cmd, True, f"{name} = {getattr(settings, name):g} for every slot" +
                  (f" ({'; '.join(warnings)})" if warnings else ""), value=getattr(settings, name))


def _set_loss_limit(rt: Any, cmd: c.SetLossLimit, now: float) -> c.CommandReply:
    """DAILY_LOSS_LIMIT at runtime; the lock is re-evaluated at once against today's loss.

    Raising the limit above today's loss clears an active lock and resumes a loss-lock pause
    (loss_lock.evaluate's 'cleared_limit'); lowering it to today's loss or below locks now.
    """
    _, problem = coerce(KNOB_BY_NAME["daily_loss_limit"], cmd.value)
    if problem is not None:
        return _invalid(cmd, f"daily_loss_limit {cmd.value:g} is {problem}; nothing changed", "value")
    old = rt.settings.daily_loss_limit
    settings, _ = apply_overrides(rt.settings, {"daily_loss_limit": cmd.value}, source="command set_loss_limit")
    rt.settings = settings
    rt.loss_limit_override = settings.daily_loss_limit
    was_active = rt.loss.active
    runtime_loop.evaluate_loss_lock(rt, now)
    limit = settings.daily_loss_limit
    loss = rt.loss.daily_realized_loss_utc if rt.loss.utc_day == loss_lock.utc_day(now) else 0.0
    shown = "disabled" if limit <= 0 else f"${limit:.2f}"
    if was_active and not rt.loss.active:
        effect = "; the daily loss lock is cleared" + ("" if rt.mode == "RUNNING" else f" (still {rt.mode})")
    elif rt.loss.active and not was_active:
        effect = "; today's loss already reaches it: the daily loss lock is on, paused until the next UTC day"
    elif rt.loss.active:
        effect = "; the daily loss lock stays on"
    else:
        effect = ""
    return _reply(cmd, True, f"daily loss limit {shown} (was ${old:.2f}; lost today ${loss:.2f}){effect}",
                  value=limit, previous=old, today_loss=round(loss, 8), lock_active=rt.loss.active)


# --------------------------------------------------------------------------- recoveries


def _views(rt: Any) -> list[recovery_ops.RecoveryView]:
    return [v for r in rt.reports.values() if not r.halted for v in r.recoveries]


def _soft_close_one(rt: Any, view: recovery_ops.RecoveryView, now: float, reason: str) -> str | None:
    price = recovery_ops.guarded_soft_close_price(view.side, rt.price, view.price, rt.cfg)
    if price is None or view.slot_id not in rt.slots:
        return None
    rt.send(rt.slots[view.slot_id], SoftCloseRecovery(recovery_id=view.recovery_id, price=price, now=now,
                                                      reason=reason))
    return f"slot {view.slot_id} recovery {view.recovery_id}: {view.price:.7f} -> {price:.7f}"


def _soft_close(rt: Any, cmd: c.SoftClose, now: float) -> c.CommandReply:
    if cmd.slot_id not in rt.slots:
        return _invalid(cmd, f"no slot {cmd.slot_id}", "slot_id")
    r = rt.reports.get(cmd.slot_id)
    if r is not None and r.halted:
        return _refused(cmd, f"slot {cmd.slot_id} is halted ({r.halt_reason})")
    view = next((v for v in _views(rt) if v.slot_id == cmd.slot_id and v.recovery_id == cmd.recovery_id), None)
    if view is None:
        return _invalid(cmd, f"no recovery {cmd.recovery_id} in slot {cmd.slot_id}", "recovery_id")
    done = _soft_close_one(rt, view, now, "soft_close")
    if done is None:
        return _refused(cmd, "that recovery is already at or inside the near-market price")
    return _reply(cmd, True, done)


def _soft_close_next(rt: Any, cmd: c.SoftCloseNext, now: float) -> c.CommandReply:
    view = recovery_ops.soft_close_next(_views(rt))
    if view is None:
        return _refused(cmd, "no recovery orders")
    done = _soft_close_one(rt, view, now, "soft_close")
    if done is None:
        return _refused(cmd, f"oldest recovery ({view.slot_id}/{view.recovery_id}) is already near market")
    return _reply(cmd, True, done)


def _cancel_stale(rt: Any, cmd: c.CancelStaleRecoveries, now: float) -> c.CommandReply:
    stale = recovery_ops.select_stale_recoveries(_views(rt), rt.price, cmd.min_distance_pct)
    done = [d for v in stale if (d := _soft_close_one(rt, v, now, "cancel_stale_recoveries")) is not None]
    return _reply(cmd, True, f"soft-closed {len(done)} recovery order(s) farther than {cmd.min_distance_pct}%",
                  repriced=done)


def _reconcile_drift(rt: Any, cmd: c.ReconcileDrift, now: float) -> c.CommandReply:
    if rt.telemetry.kraken_open is None:
        return _refused(cmd, "the exchange's open orders are not known yet")
    reports = rt.reports.values()
    txids = [t for r in reports for t in r.tracked_txids]
    cls = [cl for r in reports for cl in r.tracked_cl_ord_ids]
    plan = recovery_ops.plan_drift_reconciliation(
        [recovery_ops.ExchangeOrder(txid=oid, cl_ord_id=cl or "") for oid, cl in rt.telemetry.exchange_orders],
        txids, cls,
    )
    # The router re-plans on its live open-order view and sends the cancels: this census is a loop old.
    rt.send(rt.router, ReconcileDriftNow(tracked_txids=txids, tracked_cl_ord_ids=cls))
    return _reply(cmd, True, f"reconciling: {len(plan.cancel)} untracked order(s) of ours at the last census; "
                  f"{len(plan.foreign)} foreign order(s) are never touched; {plan.tracked} tracked",
                  untracked_at_last_census=len(plan.cancel), foreign=len(plan.foreign))


def _audit(rt: Any, cmd: c.AuditPnl, now: float) -> c.CommandReply:
    ledgers = [r.ledger for r in rt.reports.values() if r.ledger is not None]
    report = pnl_audit.audit_pnl(ledgers)
    return _reply(cmd, report.ok, report.summary, report=msgspec.to_builtins(report))


def _release(rt: Any, cmd: c.ReleaseSlot, now: float) -> c.CommandReply:
    s = rt.settings
    if not s.sticky_mode_enabled:
        return _refused(cmd, "release_slot is a sticky-mode action and STICKY_MODE_ENABLED is off")
    if cmd.slot_id not in rt.slots:
        return _invalid(cmd, f"no slot {cmd.slot_id}", "slot_id")
    r = rt.reports.get(cmd.slot_id)
    if r is None or not r.exits:
        return _refused(cmd, f"slot {cmd.slot_id} has no waiting exit")
    exits = [e for e in r.exits if cmd.local_id is None or e[0] == cmd.local_id]
    if not exits:
        return _invalid(cmd, f"slot {cmd.slot_id} has no exit {cmd.local_id}", "local_id")
    local_id, price, _volume, filled_at = min(exits, key=lambda e: e[3])
    age = now - filled_at if filled_at > 0 else 0.0
    distance = recovery_ops.distance_pct(price, rt.price)
    if cmd.force_tier == "panic":
        gates = {"age": age >= s.release_panic_min_age_sec}
    else:
        gates = {"age": age >= s.release_min_age_sec, "distance": distance >= s.release_min_distance_pct}
    if not all(gates.values()):
        failed = ", ".join(k for k, ok in gates.items() if not ok)
        return _refused(cmd, f"release gates failed: {failed} (age {age:.0f}s, distance {distance:.1f}%)",
                        gates=gates)
    rt.send(rt.slots[cmd.slot_id], ReleaseExit(local_id=local_id, price=rt.price, now=now))
    return _reply(cmd, True, f"releasing exit {local_id} of slot {cmd.slot_id} at {rt.price:.7f}", gates=gates)


_HANDLERS: dict[type, Callable[[Any, Any, float], c.CommandReply]] = {
    c.Pause: _pause,
    c.Resume: _resume,
    c.AddSlot: _add_slot,
    c.RemoveSlot: _remove_slot,
    c.RemoveSlots: _remove_slots,
    c.AddLayer: _add_layer,
    c.RemoveLayer: _remove_layer,
    c.SetEntryPct: _set_pct,
    c.SetProfitPct: _set_pct,
    c.SetLossLimit: _set_loss_limit,
    c.SoftClose: _soft_close,
    c.SoftCloseNext: _soft_close_next,
    c.CancelStaleRecoveries: _cancel_stale,
    c.ReconcileDrift: _reconcile_drift,
    c.AuditPnl: _audit,
    c.ReleaseSlot: _release,
}

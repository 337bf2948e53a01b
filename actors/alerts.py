"""Operator alerts: the runtime publishes them, Telegram and the web UI subscribe.

An alert is a one-line, human message about something the operator should know now (a halt, a
pause and its reason, the loss lock, open-order drift, a slot that cannot bootstrap, a gateway
that stayed disconnected). Subscribers register a sink with the status board
(`Subscribe(sink, alerts=True)`); the board forwards every `Alert` it receives.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Severity = Literal["info", "warning", "critical"]

AlertKind = Literal[
    "halt",
    "slot_halt",
    "paused",
    "resumed",
    "loss_lock_on",
    "loss_lock_off",
    "drift_on",
    "drift_off",
    "cannot_bootstrap",
    "gateway_disconnected",
    "gateway_reconnected",
    "slot_restarted",
    "slot_restart_failed",  # the supervisor retries; the slot's orders are unmanaged meanwhile
    "reconcile_incomplete",  # orders of unknown state kept tracked; the supervisor retries
    "reconcile_settled",  # a retried reconcile learned how every such order ended
    "orphan_pressure",
    "store_unavailable",
    "phantom_position",
    # raised by a slot (actors/slot_exec.py); docs/operations.md says what to do for each
    "untracked_execution",  # an execution of an order the slot does not track
    "fill_gap",  # an order ended with executions never reported: the gap booked at its limit price
    "exit_rejected",  # a position's exit refused RETRY_ALERT_AFTER times in a row
]


class Alert(msgspec.Struct, frozen=True, kw_only=True, tag="alert", tag_field="type"):
    kind: AlertKind
    message: str
    ts: float
    severity: Severity = "warning"
    slot_id: int | None = None

"""Prometheus text exposition (format 0.0.4) of the bot's status and the web server's own health.

Built by hand rather than with prometheus_client: every figure already lives in the latest
StatusSnapshot or the hub's counters, so /metrics is a pure rendering of data we hold, with no
global registry to keep in sync across actor restarts and test runs.

`metrics_source()` (wired by the system: actor queue depths, rate budget...) may return
`{name: number}` or `{name: {label_value: number}}`; the latter becomes `name{name="label"}`.
Names ending in `_total` are exposed as counters, everything else as gauges.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from actors.status import StatusSnapshot

PREFIX = "dogebot_"
# Litestar appends "; charset=utf-8" to text/* media types itself.
CONTENT_TYPE = "text/plain; version=0.0.4"

Labels = Mapping[str, str]
Sample = tuple[Labels, float | int | bool | None]

_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def metric_name(raw: str) -> str:
    name = _NAME_BAD.sub("_", raw.strip())
    if not name or name[0].isdigit():
        name = "_" + name
    return name if name.startswith(PREFIX) else PREFIX + name


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Collects metric families; refuses a second family of the same name."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self._names

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        if name in self._names:
            return
        rendered: list[str] = []
        for labels, value in samples:
            if value is None:
                continue
            if labels:
                inner = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items())
                rendered.append(f"{name}{{{inner}}} {_format_value(value)}")
            else:
                rendered.append(f"{name} {_format_value(value)}")
        self._names.add(name)
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        self._lines.extend(rendered)

    def gauge(self, short: str, help_text: str, value: float | int | bool | None) -> None:
        self.family(PREFIX + short, "gauge", help_text, [({}, value)])

    def counter(self, short: str, help_text: str, value: float | int | None) -> None:
        self.family(PREFIX + short, "counter", help_text, [({}, value)])

    def samples(self, name: str, samples: Iterable[tuple[str, float | int]]) -> None:
        """Extra sample lines of the family rendered last (a summary's `_sum` and `_count`)."""
        self._lines.extend(f"{suffixed} {_format_value(value)}" for suffixed, value in samples)

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


def _status_metrics(out: Exposition, s: StatusSnapshot) -> None:
    out.gauge("status_timestamp_seconds", "Time the latest status snapshot was assembled.", s.ts)
    out.family(
        PREFIX + "mode",
        "gauge",
        "Runtime mode (1 for the current one).",
        [({"mode": m}, s.mode == m) for m in ("RUNNING", "PAUSED", "HALTED")],
    )
    out.family(PREFIX + "venue_info", "gauge", "Venue the bot trades on.", [({"venue": s.venue}, 1)])
    out.gauge("price_usd", "Latest DOGE/USD price.", s.price)
    out.gauge("price_age_seconds", "Age of the latest price when the status was assembled.", s.price_age_sec)
    out.gauge("entry_pct", "Configured entry distance, percent.", s.entry_pct)
    out.gauge("profit_pct", "Configured profit target, percent.", s.profit_pct)
    out.gauge("realized_pnl_usd", "Total realized profit and loss, USD.", s.total_profit)
    out.gauge("today_realized_pnl_usd", "Realized P&L of the current UTC day, USD.", s.today_realized_pnl)
    out.gauge("fees_usd", "Total fees paid, USD.", s.total_fees)
    out.counter("round_trips_total", "Completed round trips over all slots.", s.total_round_trips)
    out.gauge("daily_loss_limit_usd", "Daily realized-loss limit, USD.", s.daily_loss_limit)
    out.gauge("daily_realized_loss_usd", "Realized loss of the current UTC day, USD.", s.daily_realized_loss_utc)
    out.gauge("daily_loss_lock_active", "1 while the daily loss lock holds the bot paused.", s.daily_loss_lock_active)
    out.gauge("balance_usd", "USD balance.", s.balances.usd)
    out.gauge("balance_doge", "DOGE balance.", s.balances.doge)

    c = s.connection
    out.family(
        PREFIX + "exchange_connected",
        "gauge",
        "Exchange connection state per channel.",
        [({"channel": "public"}, c.public), ({"channel": "private"}, c.private)],
    )
    out.counter("exchange_reconnects_total", "Exchange WebSocket reconnects.", c.reconnects)
    out.gauge("exchange_last_frame_age_seconds", "Age of the last exchange frame.", c.last_frame_age_sec)

    out.gauge("slots", "Number of slots.", len(s.slots))
    out.gauge("slots_halted", "Slots halted by an invariant breach.", sum(1 for x in s.slots if x.halted))
    phases: dict[str, int] = {p: 0 for p in ("S0", "S1a", "S1b", "S2")}
    for slot in s.slots:
        phases[slot.phase] = phases.get(slot.phase, 0) + 1
    out.family(PREFIX + "slots_by_phase", "gauge", "Slots per phase.", [({"phase": p}, n) for p, n in phases.items()])
    out.gauge("slot_orders", "Active orders held by slots.", sum(len(x.orders) for x in s.slots))
    out.gauge("slot_recoveries", "Recovery (orphaned exit) orders held by slots.", sum(len(x.recoveries) for x in s.slots))

    cap = s.capacity_fill_health
    out.family(
        PREFIX + "open_orders",
        "gauge",
        "Open orders on the pair by source (current is Kraken-first with internal fallback).",
        [
            ({"source": "current"}, cap.open_orders_current),
            ({"source": "internal"}, cap.open_orders_internal),
            ({"source": "kraken"}, cap.open_orders_kraken),
        ],
    )
    out.gauge("open_orders_drift", "Kraken minus internal open-order count.", cap.open_orders_drift)
    out.gauge("open_order_limit", "Configured per-pair open-order limit.", cap.open_order_limit_configured)
    out.gauge("open_orders_safe_cap", "Safe cap: floor(limit * safety ratio).", cap.open_orders_safe_cap)
    out.gauge("open_order_headroom", "Safe cap minus current open orders.", cap.open_order_headroom)
    out.gauge("open_order_utilization_percent", "Current / safe cap * 100.", cap.open_order_utilization_pct)
    out.gauge("estimated_slots_remaining", "Advisory runway in slots.", cap.estimated_slots_remaining)
    out.gauge("partial_fill_open_events_1d", "Partial fills seen open, rolling 24 h.", cap.partial_fill_open_events_1d)
    out.gauge(
        "partial_fill_cancel_events_1d", "Cancels after a partial fill, rolling 24 h.", cap.partial_fill_cancel_events_1d
    )
    out.gauge("fill_seconds_median_1d", "Median order fill time, rolling 24 h.", cap.median_fill_seconds_1d)
    out.gauge("fill_seconds_p95_1d", "95th percentile order fill time, rolling 24 h.", cap.p95_fill_seconds_1d)
    out.family(
        PREFIX + "capacity_band",
        "gauge",
        "Capacity status band (1 for the current one).",
        [({"band": b}, cap.status_band == b) for b in ("normal", "caution", "stop")],
    )

    k = s.counters
    for field in k.__struct_fields__:
        out.counter(f"{field}_total", f"Counter {field} from the runtime.", getattr(k, field))

    es = s.entry_scheduler
    out.gauge("entry_scheduler_pending", "Entries waiting in the scheduler.", es.pending)
    out.gauge("entry_scheduler_loop_cap", "Current entries-per-loop cap.", es.loop_cap)
    out.counter("entry_scheduler_deferred_total", "Entries deferred.", es.deferred_total)
    out.counter("entry_scheduler_drained_total", "Deferred entries placed.", es.drained_total)
    out.counter("entry_scheduler_bypassed_total", "Entries that bypassed the scheduler.", es.bypassed_total)

    r = s.recoveries
    out.gauge("recoveries", "Recovery orders over all slots.", r.total)
    out.counter("auto_soft_close_total", "Recoveries repriced by the capacity governor.", r.auto_soft_close_total)


def _web_metrics(out: Exposition, web: Mapping[str, float | int | None], actions: Mapping[tuple[str, str], int]) -> None:
    out.gauge("web_ws_clients", "Connected dashboard WebSocket clients.", web.get("ws_clients"))
    out.counter("web_ws_clients_total", "WebSocket clients accepted since start.", web.get("ws_clients_total"))
    out.counter(
        "web_ws_dropped_frames_total",
        "Frames dropped (oldest first) because a client's queue was full.",
        web.get("ws_dropped_frames_total"),
    )
    out.counter(
        "web_status_snapshots_received_total", "Status snapshots received.", web.get("status_snapshots_received_total")
    )
    out.counter(
        "web_status_frames_published_total", "Status frames fanned out.", web.get("status_frames_published_total")
    )
    out.counter(
        "web_status_frames_coalesced_total",
        "Snapshots merged into a later frame (push rate limit).",
        web.get("status_frames_coalesced_total"),
    )
    out.counter("web_alerts_received_total", "Operator alerts received by the web actor.", web.get("alerts_received_total"))
    out.counter(
        "web_ignored_messages_total", "Messages told to the web actor that it does not handle.", web.get("ignored_messages_total")
    )
    out.gauge("web_status_age_seconds", "Seconds since the web actor received a status.", web.get("status_age_seconds"))
    out.family(
        PREFIX + "web_push_latency_seconds",
        "summary",
        "Status received by the web actor -> frame written to a client (rolling window quantiles).",
        [
            ({"quantile": "0.5"}, web.get("push_latency_p50")),
            ({"quantile": "0.99"}, web.get("push_latency_p99")),
        ],
    )
    out.samples(
        PREFIX + "web_push_latency_seconds",
        [
            (PREFIX + "web_push_latency_seconds_sum", float(web.get("push_latency_sum") or 0.0)),
            (PREFIX + "web_push_latency_seconds_count", int(web.get("push_latency_count") or 0)),
        ],
    )
    out.family(
        PREFIX + "web_actions_total",
        "counter",
        "POST /api/action requests by action and HTTP status.",
        [({"action": a, "status": s}, n) for (a, s), n in sorted(actions.items())],
    )


def _extra_metrics(out: Exposition, extra: Mapping[str, object]) -> None:
    for raw_name, value in extra.items():
        name = metric_name(str(raw_name))
        if out.has(name):
            continue
        kind = "counter" if name.endswith("_total") else "gauge"
        if isinstance(value, Mapping):
            samples: list[Sample] = [
                ({"name": str(k)}, v) for k, v in value.items() if isinstance(v, int | float | bool)
            ]
            if samples:
                out.family(name, kind, f"{raw_name} (from the system's metrics source).", samples)
        elif isinstance(value, int | float | bool):
            out.family(name, kind, f"{raw_name} (from the system's metrics source).", [({}, value)])


def render_metrics(
    snapshot: StatusSnapshot | None,
    web: Mapping[str, float | int | None],
    actions: Mapping[tuple[str, str], int],
    extra: Mapping[str, object] | None,
    extra_errors: int,
) -> str:
    out = Exposition()
    out.gauge("status_available", "1 once the web actor has received a status snapshot.", snapshot is not None)
    if snapshot is not None:
        _status_metrics(out, snapshot)
    _web_metrics(out, web, actions)
    out.counter("web_metrics_source_errors_total", "Failures of the system's metrics source.", extra_errors)
    if extra:
        _extra_metrics(out, extra)
    return out.render()

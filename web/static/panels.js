/* dogebot dashboard: the panels built from a StatusSnapshot (slots table, slot detail,
 * Capacity & Fill Health, rebalancer/trend, entry scheduler, recoveries, balances).
 * Every string from the status goes through esc(); numbers through the formatters.
 */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const { esc, isNum, fmtPrice, fmtUsd, fmtPct, fmtNum, pnlClass, fmtAge, fmtDur, fmtTime, slotName } = window.Dogebot.fmt;
  // Ages in the status are as of its assembly; add the time since it arrived.
  const elapsed = (state) => (state.receivedAt ? (Date.now() - state.receivedAt) / 1000 : 0);

  // ------------------------------------------------------------------ slots table
  const SORT_KEYS = {
    id: (s) => s.slot_id,
    alias: (s) => s.alias.toLowerCase(),
    phase: (s) => s.phase,
    orders: (s) => s.orders.length,
    nearest: (s) => (s.orders.length ? Math.min(...s.orders.map((o) => Math.abs(o.distance_pct))) : Infinity),
    cycles: (s) => s.cycle_a + s.cycle_b,
    rt: (s) => s.round_trips,
    pnl: (s) => s.total_profit,
    size: (s) => s.order_size_usd,
    rec: (s) => s.recoveries.length,
    state: (s) => (s.halted ? 2 : s.waiting_reason ? 1 : 0),
  };

  function orderChip(o, extraAge) {
    return `<span class="ord ${o.role === 'exit' ? 'exit' : 'entry'}"><span class="side-${o.side === 'buy' ? 'buy' : 'sell'}">${esc(o.trade_id)} ${esc(o.side)}</span> <span class="role">${esc(o.role)}</span> ${fmtPrice(o.price)} ${fmtPct(o.distance_pct)} ${fmtAge(o.age_sec + extraAge)}</span>`;
  }

  function slotStateTags(slot) {
    const tags = [];
    if (slot.halted) tags.push(`<span class="tag bad" title="${esc(slot.halt_reason)}">halted</span>`);
    if (slot.waiting_reason) tags.push(`<span class="tag warn" title="${esc(slot.waiting_reason)}">waiting</span>`);
    if (slot.long_only) tags.push('<span class="tag">long only</span>');
    if (slot.short_only) tags.push('<span class="tag">short only</span>');
    return tags.join(' ') || '<span class="sub">ok</span>';
  }

  function renderSlots(s, state) {
    const key = SORT_KEYS[state.sort.key] || SORT_KEYS.id;
    const dir = state.sort.dir;
    const rows = [...s.slots].sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : a.slot_id - b.slot_id) * dir;
    });
    const extra = elapsed(state);
    const html = rows.map((slot) => {
      const near = SORT_KEYS.nearest(slot);
      const cls = [state.selected === slot.slot_id ? 'selected' : '', slot.halted ? 'halted' : ''].join(' ').trim();
      return `<tr data-slot="${slot.slot_id}" tabindex="0"${cls ? ` class="${cls}"` : ''}>`
        + `<td class="num">${slot.slot_id}</td><td>${esc(slot.alias)}</td>`
        + `<td><span class="phase phase-${esc(slot.phase)}">${esc(slot.phase)}</span></td>`
        + `<td class="orders-col">${slot.orders.map((o) => orderChip(o, extra)).join('') || '<span class="sub">no orders</span>'}</td>`
        + `<td class="num">${near === Infinity ? '—' : `${near.toFixed(2)}%`}</td>`
        + `<td class="num">${slot.cycle_a}/${slot.cycle_b}</td><td class="num">${slot.round_trips}</td>`
        + `<td class="num ${pnlClass(slot.total_profit)}">${fmtUsd(slot.total_profit)}</td>`
        + `<td class="num">${fmtNum(slot.order_size_usd, 2)}</td><td class="num">${slot.recoveries.length || ''}</td>`
        + `<td>${slotStateTags(slot)}</td></tr>`;
    }).join('');
    $('slots-table').tBodies[0].innerHTML = html || '<tr><td colspan="11" class="sub">no slots: add one with the Add slot button or :add</td></tr>';
    $('slot-count').textContent = `${s.slots.length} · ${s.total_round_trips} round trips`;
    for (const th of $('slots-table').tHead.rows[0].cells) {
      th.classList.toggle('sorted-asc', th.dataset.key === state.sort.key && dir === 1);
      th.classList.toggle('sorted-desc', th.dataset.key === state.sort.key && dir === -1);
    }
  }

  // ------------------------------------------------------------------ slot detail
  function table(headers, rows) {
    if (!rows.length) return '<p class="sub">none</p>';
    return `<div class="table-wrap"><table class="grid"><thead><tr>${headers.map((h) => `<th${h.startsWith('#') ? ' class="num"' : ''}>${esc(h.replace(/^#/, ''))}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  }

  function renderDetail(s, state) {
    const panel = $('slot-detail');
    const slot = s.slots.find((x) => x.slot_id === state.selected);
    if (!slot) { panel.hidden = true; return; }
    panel.hidden = false;
    $('detail-title').textContent = `Slot ${slotName(slot)} · ${slot.phase}`;
    const extra = elapsed(state);
    const now = s.ts;
    const summary = [
      ['P&L', `<span class="${pnlClass(slot.total_profit)}">${fmtUsd(slot.total_profit)}</span>`],
      ['fees', fmtUsd(slot.total_fees, false)], ['cycles A/B', `${slot.cycle_a}/${slot.cycle_b}`],
      ['round trips', slot.round_trips], ['order size', fmtUsd(slot.order_size_usd, false)],
      ['mode source', esc(slot.mode_source)], ['today loss', fmtUsd(slot.today_realized_loss, false)],
    ];
    if (slot.cooldown_until_a > now) summary.push(['A cooldown', fmtAge(slot.cooldown_until_a - now)]);
    if (slot.cooldown_until_b > now) summary.push(['B cooldown', fmtAge(slot.cooldown_until_b - now)]);
    if (slot.waiting_reason) summary.push(['waiting', esc(slot.waiting_reason)]);
    if (slot.halted) summary.push(['halted', `<span class="neg">${esc(slot.halt_reason)}</span>`]);
    const orders = slot.orders.map((o) => `<tr title="txid ${esc(o.txid)} · ${esc(o.cl_ord_id)}"><td>${esc(o.trade_id)}</td><td class="${o.side === 'buy' ? 'pos' : 'neg'}">${esc(o.side)}</td><td>${esc(o.role)}</td><td class="num">${o.cycle}</td><td class="num">${fmtPrice(o.price)}</td><td class="num">${fmtPct(o.distance_pct)}</td><td class="num">${fmtNum(o.volume, 2)}</td><td class="num">${fmtAge(o.age_sec + extra)}</td><td class="num">${o.entry_price ? fmtPrice(o.entry_price) : ''}</td><td>${o.role === 'exit' ? `<button class="mini danger" data-act="release" data-slot="${slot.slot_id}" data-local="${o.local_id}">Release</button>` : ''}</td></tr>`);
    const recs = slot.recoveries.map((r) => `<tr title="txid ${esc(r.txid)}"><td class="num">${r.recovery_id}</td><td class="${r.side === 'buy' ? 'pos' : 'neg'}">${esc(r.side)}</td><td class="num">${fmtPrice(r.price)}</td><td class="num">${fmtPct(r.distance_pct)}</td><td class="num">${fmtNum(r.volume, 2)}</td><td class="num">${fmtPrice(r.entry_price)}</td><td class="num">${fmtAge(r.age_sec + extra)}</td><td>${esc(r.reason)}</td><td><button class="mini danger" data-act="soft_close" data-slot="${slot.slot_id}" data-rec="${r.recovery_id}">Soft close</button></td></tr>`);
    const cycles = slot.recent_cycles.slice().reverse().map((c) => `<tr><td>${esc(c.trade_id)}</td><td class="num">${c.cycle}</td><td class="num">${fmtPrice(c.entry_price)}</td><td class="num">${fmtPrice(c.exit_price)}</td><td class="num">${fmtNum(c.volume, 2)}</td><td class="num ${pnlClass(c.net_profit)}">${fmtUsd(c.net_profit)}</td><td class="num">${fmtUsd(c.fees, false)}</td><td class="num">${fmtTime(c.exit_time)}</td></tr>`);
    const events = slot.recent_events.slice().reverse().map((e) => `<tr><td class="num">${fmtTime(e.ts)}</td><td>${esc(e.event_type)}</td><td>${esc(e.from_state)} → ${esc(e.to_state)}</td><td>${esc(e.details)}</td></tr>`);
    $('detail-body').innerHTML = `<div class="detail-summary">${summary.map(([k, v]) => `<span><span class="lbl">${k}</span> ${v}</span>`).join('')}</div>`
      + '<div class="detail-grid">'
      + `<div class="wide"><h3>Orders</h3>${table(['Trade', 'Side', 'Role', '#Cycle', '#Price', '#Dist', '#Volume', '#Age', '#Entry', ''], orders)}</div>`
      + `<div class="wide"><h3>Recoveries</h3>${table(['#Id', 'Side', '#Price', '#Dist', '#Volume', '#Entry', '#Age', 'Reason', ''], recs)}</div>`
      + `<div><h3>Recent cycles</h3>${table(['Trade', '#Cycle', '#Entry', '#Exit', '#Volume', '#Net', '#Fees', '#Closed'], cycles)}</div>`
      + `<div><h3>Recent events</h3>${table(['#Time', 'Event', 'Transition', 'Details'], events)}</div>`
      + '</div>';
  }

  // ------------------------------------------------------------------ side cards
  function kv(rows) {
    return rows.map(([k, v, cls]) => {
      const na = v === null || v === undefined;
      return `<dt>${esc(k)}</dt><dd class="${na ? 'na' : cls || ''}">${na ? 'not available' : v}</dd>`;
    }).join('');
  }

  const PLAYBOOK = {
    normal: 'Within safe limits: slots may be added.',
    caution: 'Caution: add at most 1 slot per day.',
    stop: 'Stop: do not add slots.',
  };

  function renderCapacity(c) {
    const band = $('cap-band');
    band.textContent = c.status_band.toUpperCase();
    band.className = `band band-${esc(c.status_band)}`;
    const hints = c.blocked_risk_hint || [];
    $('cap-reason').textContent = hints.length ? hints.join(' · ') : PLAYBOOK[c.status_band] || '';
    const fill = $('cap-meter-fill');
    fill.style.width = `${Math.max(0, Math.min(100, c.open_order_utilization_pct))}%`;
    fill.className = c.status_band === 'normal' ? '' : c.status_band;
    $('cap-kv').innerHTML = kv([
      ['Open orders', `${c.open_orders_current} / ${c.open_orders_safe_cap} safe cap (${fmtNum(c.open_order_utilization_pct, 1)}%)`],
      ['Source', `${esc(c.open_orders_source)} · internal ${c.open_orders_internal} · kraken ${c.open_orders_kraken ?? 'n/a'}`],
      ['Drift', c.open_orders_drift === null ? null : `${c.open_orders_drift > 0 ? '+' : ''}${c.open_orders_drift}`],
      ['Limit', `${c.open_order_limit_configured} configured`],
      ['Headroom', `${c.open_order_headroom} orders · ~${c.estimated_slots_remaining} slots`],
      ['Orders / slot', c.orders_per_slot_estimate === null ? null : fmtNum(c.orders_per_slot_estimate, 2)],
      ['Partial fills 1d', `${c.partial_fill_open_events_1d} open · ${c.partial_fill_cancel_events_1d} cancel`, c.partial_fill_cancel_events_1d > 0 ? 'neg' : ''],
      ['Fill time 1d', c.median_fill_seconds_1d === null ? null : `median ${fmtDur(c.median_fill_seconds_1d)} · p95 ${fmtDur(c.p95_fill_seconds_1d) ?? 'n/a'}`],
    ]);
  }

  // Capital layers (§18): effective/target, the funding gap, and how far the effective count has
  // spread through the active orders (resting orders keep the size they were placed with).
  function layersKv(cl) {
    if (!cl) return kv([['Capital layers', null]]);
    const gap = cl.funding_gap_layers > 0 ? ` · gap ${cl.funding_gap_layers}` : '';
    const rows = [['Capital layers', `${cl.effective_layers}/${cl.target_layers} · ${esc(cl.funding_status)}${gap}`,
      cl.funding_gap_layers > 0 ? 'neg' : '']];
    if (cl.orders_total > 0) {
      const unknown = cl.orders_unknown_layers > 0 ? ` · ${cl.orders_unknown_layers} unknown` : '';
      rows.push(['Layer propagation', `${cl.orders_at_effective_layers}/${cl.orders_total} orders (${fmtNum(cl.propagation_pct, 0)}%)${unknown}`,
        cl.orders_at_effective_layers < cl.orders_total ? 'warn' : '']);
    } else {
      rows.push(['Layer propagation', 'no active orders']);
    }
    return kv(rows);
  }

  function renderSideCards(s) {
    const r = s.rebalancer;
    $('rebalancer-kv').innerHTML = r ? kv([
      ['Rebalancer', r.enabled ? 'enabled' : 'disabled'],
      ['Idle target', `${fmtNum(r.target * 100, 1)}% (base ${fmtNum(r.base_target * 100, 1)}%)`],
      ['Idle ratio', r.idle_ratio === null ? null : `${fmtNum(r.idle_ratio * 100, 1)}%`],
      ['Size skew', fmtPct(r.skew * 100, 1)], ['Basis', esc(r.basis)],
    ]) : kv([['Rebalancer', null]]);
    const t = s.trend;
    const regime = s.hmm_regime;
    $('trend-kv').innerHTML = (t ? kv([
      ['Trend score', esc(t.score_display)],
      ['EMA fast / slow', `${fmtPrice(t.fast_ema)} / ${fmtPrice(t.slow_ema)}`],
      ['Dynamic idle target', `${fmtNum(t.dynamic_idle_target * 100, 1)}%`],
      ['Hysteresis', t.hysteresis_active ? `active, ${fmtAge(t.hysteresis_expires_in_sec)} left` : 'inactive'],
    ]) : kv([['Trend', null]]))
      + kv([['HMM regime', regime && regime.regime ? `${esc(regime.regime)}${isNum(regime.confidence) ? ` (${fmtNum(regime.confidence * 100, 0)}%)` : ''}` : null]])
      + layersKv(s.capital_layers);
    const e = s.entry_scheduler;
    $('scheduler-kv').innerHTML = kv([
      ['Loop cap', `${e.loop_cap} (configured ${e.configured_cap})`, e.loop_cap < e.configured_cap ? 'neg' : ''],
      ['Pending entries', e.pending], ['Deferred total', e.deferred_total],
      ['Drained total', e.drained_total], ['Bypassed total', e.bypassed_total],
    ]);
    const rc = s.recoveries;
    const d = s.open_order_drift_hint;
    $('recoveries-kv').innerHTML = kv([
      ['Recoveries', `${rc.total} (cap ${rc.cap_per_slot}/slot)`],
      ['Orphan pressure', rc.orphan_pressure_level, rc.orphan_pressure_level > 0 ? 'neg' : ''],
      ['Auto soft-closed', rc.auto_soft_close_total],
      ['Open-order drift', d.active ? `${d.drift ?? '?'} (${fmtPct(d.drift_pct ?? NaN, 1)})${d.alerted ? ' · alerted' : ''}` : 'none', d.active ? 'neg' : ''],
    ]);
    const recs = [];
    for (const slot of s.slots) for (const r2 of slot.recoveries) recs.push([slot, r2]);
    recs.sort((a, b) => Math.abs(b[1].distance_pct) - Math.abs(a[1].distance_pct));
    $('recoveries-list').innerHTML = recs.slice(0, 8).map(([slot, r2]) => `<div class="rec"><span>#${slot.slot_id} rec ${r2.recovery_id} ${esc(r2.side)} ${fmtPrice(r2.price)} ${fmtPct(r2.distance_pct)} · ${fmtAge(r2.age_sec)}</span><button class="mini danger" data-act="soft_close" data-slot="${slot.slot_id}" data-rec="${r2.recovery_id}">Close</button></div>`).join('');
    const k = s.counters;
    const b = s.balances;
    $('account-kv').innerHTML = kv([
      ['USD', fmtUsd(b.usd, false)], ['DOGE', fmtNum(b.doge, 2)], ['Balance source', esc(b.source)],
      ['Fees paid', fmtUsd(s.total_fees, false)],
      ['Fills booked', k.fills_booked], ['Cycles booked', k.cycles_booked],
      ['Orders placed / rejected / canceled', `${k.orders_placed} / ${k.orders_rejected} / ${k.orders_canceled}`],
      ['Duplicate fills ignored', k.duplicate_fills_ignored],
      ['Invariant halts', k.invariant_halts, k.invariant_halts ? 'neg' : ''],
      ['Exchange reconnects', s.connection.reconnects],
      ['Startup', s.startup ? `${fmtNum(s.startup.startup_total_ms, 0)} ms` : null],
    ]);
  }

  window.Dogebot.panels = { renderSlots, renderDetail, renderCapacity, renderSideCards, SORT_KEYS };
})();

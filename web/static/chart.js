/* dogebot dashboard: the price chart, drawn by hand as SVG (no library, no network).
 *
 * Price line from the client-side series, every slot's resting orders as horizontal levels
 * (entries dashed, exits solid, recoveries dotted; side shown by the tick at the right edge),
 * recent fills as triangles. The vertical scale follows the price and the active orders near
 * it; far-away levels are counted at the edges instead of squashing the working range.
 */
'use strict';
(() => {
  const { esc, fmtPrice, fmtPct, fmtNum, fmtTime, slotName } = window.Dogebot.fmt;

  function niceStep(range, ticks) {
    const raw = range / Math.max(1, ticks);
    const mag = 10 ** Math.floor(Math.log10(raw));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  // Draws the chart into `svg` (sized from `wrap`) from the dashboard state: status, series,
  // chartWindow (seconds), selected (slot id). Writes a one-line summary into `note`.
  function render(svg, wrap, note, state) {
    const W = Math.max(200, wrap.clientWidth);
    const H = Math.max(150, wrap.clientHeight);
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const s = state.status;
    if (!s) {
      svg.innerHTML = `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">waiting for the first status…</text>`;
      return;
    }
    const m = { l: 8, r: 84, t: 12, b: 22 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const lastT = state.series.length ? state.series[state.series.length - 1][0] : s.ts;
    const tEnd = Math.max(s.ts, lastT);
    const tStart = tEnd - state.chartWindow;
    const pts = state.series.filter((p) => p[0] >= tStart);
    const fills = (s.recent_fills || []).filter((f) => f.ts >= tStart && f.ts <= tEnd + 60);
    const levels = [];
    for (const slot of s.slots) {
      for (const o of slot.orders) levels.push({ slot, price: o.price, side: o.side, kind: o.role === 'exit' ? 'exit' : 'entry', label: `${o.trade_id} ${o.role}`, dist: o.distance_pct });
      for (const r of slot.recoveries) levels.push({ slot, price: r.price, side: r.side, kind: 'recovery', label: `rec ${r.recovery_id}`, dist: r.distance_pct });
    }
    // Scale to the price and the active orders near it; recoveries and far-away levels would
    // squash the working range into a line, so those are drawn only when they fall inside and
    // counted at the edge otherwise.
    const near = Math.max(4, 3 * (s.profit_pct || 1));
    let lo = s.price;
    let hi = s.price;
    for (const p of pts) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
    for (const f of fills) { lo = Math.min(lo, f.price); hi = Math.max(hi, f.price); }
    for (const l of levels) if (l.kind !== 'recovery' && Math.abs(l.dist) <= near) { lo = Math.min(lo, l.price); hi = Math.max(hi, l.price); }
    if (hi - lo < s.price * 0.002) { lo -= s.price * 0.001; hi += s.price * 0.001; }
    const pad = (hi - lo) * 0.06;
    lo -= pad; hi += pad;
    const x = (t) => m.l + ((t - tStart) / (tEnd - tStart)) * pw;
    const y = (p) => m.t + ((hi - p) / (hi - lo)) * ph;
    const out = [];
    const step = niceStep(hi - lo, 6);
    const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step))));
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      out.push(`<line class="gridline" x1="${m.l}" x2="${m.l + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`);
      out.push(`<text class="axis" x="${m.l + pw + 4}" y="${(y(v) + 4).toFixed(1)}">${v.toFixed(decimals)}</text>`);
    }
    const tStep = [60, 300, 600, 900, 1800, 3600, 7200, 14400, 21600].find((st) => state.chartWindow / st <= 6) || 21600;
    for (let t = Math.ceil(tStart / tStep) * tStep; t <= tEnd; t += tStep) {
      out.push(`<line class="gridline" x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}"/>`);
      out.push(`<text class="axis" x="${x(t).toFixed(1)}" y="${H - 6}" text-anchor="middle">${fmtTime(t).slice(0, 5)}</text>`);
    }
    let above = 0;
    let below = 0;
    const labels = [];
    for (const l of levels) {
      if (l.price > hi || l.price < lo) { if (l.price > hi) above++; else below++; continue; }
      const yy = y(l.price).toFixed(1);
      const sel = state.selected === l.slot.slot_id ? ' sel' : '';
      const title = `${esc(slotName(l.slot))} · ${esc(l.label)} · ${esc(l.side)} @ ${fmtPrice(l.price)} (${fmtPct(l.dist)})`;
      out.push(`<line class="level ${l.kind} ${esc(l.side)}${sel}" data-slot="${l.slot.slot_id}" x1="${m.l}" x2="${m.l + pw}" y1="${yy}" y2="${yy}"><title>${title}</title></line>`);
      out.push(`<path class="level-tick ${esc(l.side)}" d="M${m.l + pw} ${yy} l6 -4 v8 z"><title>${title}</title></path>`);
      labels.push({ y: +yy, sel, text: `#${l.slot.slot_id} ${esc(l.label)}` });
    }
    // Labels: the selected slot's always, the others only where they do not collide.
    labels.sort((a, b) => (b.sel ? 1 : 0) - (a.sel ? 1 : 0));
    const taken = [];
    for (const lb of labels) {
      if (!lb.sel && (labels.length > 40 || taken.some((ty) => Math.abs(ty - lb.y) < 11))) continue;
      taken.push(lb.y);
      out.push(`<text class="level-label${lb.sel}" x="${m.l + pw - 4}" y="${(lb.y - 3).toFixed(1)}" text-anchor="end">${lb.text}</text>`);
    }
    if (pts.length > 1) {
      const every = Math.max(1, Math.ceil(pts.length / (pw * 1.5))); // no more points than pixels
      const drawn = pts.filter((p, i) => i % every === 0 || i === pts.length - 1);
      out.push(`<polyline class="price-line" points="${drawn.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    } else if (pts.length === 1) {
      out.push(`<circle class="price-dot" cx="${x(pts[0][0]).toFixed(1)}" cy="${y(pts[0][1]).toFixed(1)}" r="3"/>`);
    }
    for (const f of fills) {
      const fx = x(Math.min(f.ts, tEnd)).toFixed(1);
      const fy = y(f.price);
      const d = f.side === 'buy' ? `M${fx} ${(fy - 1).toFixed(1)} l-5 9 h10 z` : `M${fx} ${(fy + 1).toFixed(1)} l-5 -9 h10 z`;
      out.push(`<path class="fill-marker ${f.side === 'buy' ? 'buy' : 'sell'}" d="${d}"><title>${esc(f.side)} ${esc(f.role)} fill · slot #${f.slot_id} · ${fmtPrice(f.price)} × ${fmtNum(f.volume, 2)} · ${fmtTime(f.ts)}</title></path>`);
    }
    const my = y(s.price).toFixed(1);
    out.push(`<line class="market-line" x1="${m.l}" x2="${m.l + pw}" y1="${my}" y2="${my}"/>`);
    out.push(`<g class="market-tag"><rect x="${m.l + pw + 1}" y="${(my - 9).toFixed(1)}" width="${m.r - 2}" height="18" rx="3"/><text x="${m.l + pw + 6}" y="${(+my + 4).toFixed(1)}">${fmtPrice(s.price)}</text></g>`);
    if (above) out.push(`<text class="offscale" x="${m.l + 4}" y="${m.t + 12}">▲ ${above} level${above > 1 ? 's' : ''} above</text>`);
    if (below) out.push(`<text class="offscale" x="${m.l + 4}" y="${m.t + ph - 4}">▼ ${below} level${below > 1 ? 's' : ''} below</text>`);
    svg.innerHTML = out.join('');
    note.textContent = `${levels.length} resting levels · ${fills.length} fills in view · ${pts.length} price points`;
  }

  window.Dogebot.chart = { render };
})();

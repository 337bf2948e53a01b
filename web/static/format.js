/* dogebot dashboard: formatting helpers shared by chart.js, commands.js and app.js. */
'use strict';
(() => {
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const fmtPrice = (p) => (isNum(p) ? (p < 10 ? p.toFixed(6) : p.toFixed(4)) : '—');
  const fmtUsd = (v, signed = true) => {
    if (!isNum(v)) return '—';
    const digits = Math.abs(v) < 1 ? 4 : 2;
    const s = `$${Math.abs(v).toFixed(digits)}`;
    return v < 0 ? `−${s}` : signed && v > 0 ? `+${s}` : s;
  };
  const fmtPct = (v, digits = 2) => (isNum(v) ? `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v).toFixed(digits)}%` : '—');
  const fmtNum = (v, digits = 0) => (isNum(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
  const pnlClass = (v) => (isNum(v) ? (v > 0 ? 'pos' : v < 0 ? 'neg' : '') : '');
  function fmtAge(sec) {
    if (!isNum(sec)) return '—';
    const s = Math.max(0, Math.round(sec));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }
  function fmtDur(sec) {
    if (!isNum(sec)) return null;
    const s = Math.round(sec);
    return s < 600 && s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : fmtAge(s);
  }
  const fmtTime = (ts) => (isNum(ts) ? new Date(ts * 1000).toLocaleTimeString('en-GB', { hour12: false }) : '—');
  const slotName = (slot) => `#${slot.slot_id} ${slot.alias}`;

  window.Dogebot = window.Dogebot || {};
  window.Dogebot.fmt = { esc, isNum, fmtPrice, fmtUsd, fmtPct, fmtNum, pnlClass, fmtAge, fmtDur, fmtTime, slotName };
})();

/* dogebot dashboard: vanilla JS, no build step, no network beyond this server.
 *
 * Data flow: GET /api/status once (also the auth probe), then the /ws stream pushes the full
 * StatusSnapshot on every change (at most ~4/s). Rendering is batched into one animation frame.
 * The price chart's history is a client-side rolling series built from the pushes, seeded from
 * /api/price_history and kept in sessionStorage so a reload does not blank it. Commands go to
 * POST /api/action. Modules (loaded before this file): format.js, chart.js, commands.js,
 * panels.js; this file holds the state, the API and stream plumbing, the header, alerts, the
 * command bar UI, dialogs and the event wiring.
 */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'dogebot.token';
  const SERIES_KEY = 'dogebot.series';
  const SERIES_MAX = 20000;
  const SERIES_SPAN_S = 86400;
  const SERIES_SPACING_S = 5; // same down-sampling as the server's /api/price_history

  const state = {
    status: null,          // latest StatusSnapshot (plain object)
    receivedAt: 0,         // Date.now() when it arrived: ages shown = snapshot age + elapsed
    lastFrameAt: 0,
    series: [],            // [[ts, price], ...] from pushes
    sort: { key: 'id', dir: 1 },
    selected: null,        // slot_id of the detail panel
    chartWindow: 3600,
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    ws: null, wsAttempt: 0, wsWasLive: false, reconnectAt: 0, reconnectTimer: 0,
    history: [], historyPos: -1,
    alerts: [],            // recent operator alerts, oldest first
    renderQueued: false,
  };

  const { esc, isNum, fmtPrice, fmtUsd, pnlClass, fmtAge, fmtTime } = window.Dogebot.fmt;
  const elapsed = () => (state.receivedAt ? (Date.now() - state.receivedAt) / 1000 : 0);

  // ------------------------------------------------------------------ API + auth
  function authHeaders(extra = {}) {
    return state.token ? { ...extra, Authorization: `Bearer ${state.token}` } : extra;
  }
  const apiFetch = (path, opts = {}) => fetch(path, { ...opts, headers: authHeaders(opts.headers || {}), cache: 'no-store' });

  let tokenPrompt = null;
  function promptToken(message) {
    if (!tokenPrompt) {
      tokenPrompt = modal({
        title: 'Operator token required',
        body: message || 'This dashboard needs the operator token. It is kept in this tab only (sessionStorage).',
        input: true, confirmLabel: 'Use token', danger: false,
      }).then((value) => {
        tokenPrompt = null;
        if (value) {
          state.token = value.trim();
          sessionStorage.setItem(TOKEN_KEY, state.token);
          hideBanner();
          return true;
        }
        showBanner('Operator token required: click here to enter it.', true, () => promptToken().then((ok) => ok && restart()));
        return false;
      });
    }
    return tokenPrompt;
  }

  async function fetchStatus() {
    for (let attempt = 0; attempt < 5; attempt++) {
      let resp;
      try { resp = await apiFetch('/api/status'); } catch (e) { return 0; }
      if (resp.status === 401) {
        if (!(await promptToken(attempt ? 'That token was refused. Try again.' : undefined))) return 401;
        continue;
      }
      if (resp.ok) applyStatus(await resp.json());
      return resp.status;
    }
    return 401;
  }

  async function sendAction(body) {
    let resp;
    try {
      resp = await apiFetch('/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    } catch (e) {
      return { kind: 'error', message: `network error: ${e.message}` };
    }
    let data = {};
    try { data = await resp.json(); } catch (e) { /* non-JSON error page */ }
    const message = data.message || data.detail || `HTTP ${resp.status}`;
    if (resp.status === 401) {
      promptToken('The server asked for the operator token. Enter it, then repeat the command.');
      return { kind: 'error', message: 'operator token required' };
    }
    if (resp.ok) return { kind: 'ok', message };
    if (resp.status === 400) {
      const field = data.data && data.data.field;
      return { kind: 'error', message: field && !message.includes(field) ? `${message} (field: ${field})` : message };
    }
    if (resp.status === 409) return { kind: 'refused', message };
    return { kind: 'error', message: `${message} (HTTP ${resp.status})` };
  }

  async function runAction(body, confirmSpec, resultEl) {
    if (confirmSpec && !(await modal({ ...confirmSpec, danger: true }))) {
      showResult(resultEl, { kind: 'refused', message: 'cancelled' });
      return null;
    }
    const result = await sendAction(body);
    showResult(resultEl, result);
    toast(`${body.action}: ${result.message}`, result.kind);
    return result;
  }

  function showResult(el, result) {
    if (!el) return;
    el.hidden = false;
    el.textContent = result.message;
    el.className = el.id === 'cmd-error' ? `cmd-error ${result.kind === 'ok' ? 'ok' : ''}` : `result ${result.kind}`;
  }

  // ------------------------------------------------------------------ live stream
  function connect() {
    clearTimeout(state.reconnectTimer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/ws${state.token ? `?token=${encodeURIComponent(state.token)}` : ''}`;
    const ws = new WebSocket(url);
    let opened = false;
    state.ws = ws;
    setWs('wait', state.wsAttempt ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      opened = true;
      state.wsAttempt = 0;
      setWs('on', 'live');
      hideBanner();
      fetchAlerts(); // alerts sent while we were away
      if (state.wsWasLive) toast('Live stream reconnected', 'ok');
      state.wsWasLive = true;
    };
    ws.onmessage = (ev) => {
      state.lastFrameAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && msg.type === 'status' && msg.data) applyStatus(msg.data);
      else if (msg && msg.type === 'alert' && msg.data) addAlerts([msg.data], true);
    };
    ws.onclose = async () => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (!opened) {
        // Browsers hide why a handshake failed: ask the HTTP API whether it is the token.
        let code = 0;
        try { code = (await apiFetch('/api/status')).status; } catch (e) { code = 0; }
        if (code === 401) {
          setWs('off', 'token needed');
          if (await promptToken()) connect();
          return;
        }
      }
      scheduleReconnect();
    };
  }

  function restart() {
    if (state.ws) { const ws = state.ws; state.ws = null; ws.close(); }
    fetchStatus().then(() => { fetchHistory(); connect(); });
  }

  function scheduleReconnect() {
    state.wsAttempt += 1;
    const base = Math.min(15000, 500 * 2 ** Math.min(state.wsAttempt - 1, 5));
    const delay = base * (0.8 + Math.random() * 0.4);
    state.reconnectAt = Date.now() + delay;
    setWs('off', 'reconnecting');
    updateBanner();
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function setWs(cls, text) {
    const el = $('conn-ws');
    el.className = `dot dot-${cls}`;
    el.textContent = text;
  }

  function updateBanner() {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) return;
    if (!state.reconnectAt) return;
    const secs = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    showBanner(`Live stream disconnected: reconnecting ${secs ? `in ${secs}s` : 'now'} (attempt ${state.wsAttempt}). Figures below may be stale.`, true);
  }

  let bannerAction = null;
  function showBanner(text, bad, onClick) {
    const el = $('banner');
    el.textContent = text;
    el.className = `banner${bad ? ' bad' : ''}`;
    el.hidden = false;
    bannerAction = onClick || null;
    el.style.cursor = onClick ? 'pointer' : '';
  }
  function hideBanner() { $('banner').hidden = true; state.reconnectAt = 0; bannerAction = null; }

  // ------------------------------------------------------------------ status intake
  function applyStatus(status) {
    state.status = status;
    state.receivedAt = Date.now();
    const t = isNum(status.price_ts) && status.price_ts > 0 ? status.price_ts : status.ts;
    if (isNum(status.price) && status.price > 0 && isNum(t)) addPoint(t, status.price);
    if (state.selected !== null && !status.slots.some((s) => s.slot_id === state.selected)) state.selected = null;
    scheduleRender();
  }

  // Points stay >= SERIES_SPACING_S apart except the last one, which follows the latest price.
  function addPoint(t, price) {
    const sr = state.series;
    const n = sr.length;
    if (n && t < sr[n - 1][0]) return;
    if (n > 1 && sr[n - 1][0] - sr[n - 2][0] < SERIES_SPACING_S) sr[n - 1] = [t, price];
    else if (n && t === sr[n - 1][0]) sr[n - 1] = [t, price];
    else sr.push([t, price]);
    const cutoff = t - SERIES_SPAN_S;
    let drop = 0;
    while (drop < sr.length && (sr.length - drop > SERIES_MAX || sr[drop][0] < cutoff)) drop++;
    if (drop) sr.splice(0, drop);
  }

  async function fetchHistory() {
    try {
      const resp = await apiFetch('/api/price_history');
      if (!resp.ok) return;
      const body = await resp.json();
      const merged = new Map(state.series.map((p) => [p[0], p[1]]));
      for (const p of body.points || []) if (Array.isArray(p) && isNum(p[0]) && isNum(p[1])) merged.set(p[0], p[1]);
      const pts = [...merged.entries()].sort((a, b) => a[0] - b[0]);
      state.series = [];
      for (const [t, price] of pts) addPoint(t, price);
      scheduleRender();
    } catch (e) { /* the chart fills from pushes anyway */ }
  }

  // ------------------------------------------------------------------ alerts
  const alertKey = (a) => `${a.ts}|${a.kind}|${a.message}`;

  function addAlerts(list, live) {
    const known = new Set(state.alerts.map(alertKey));
    for (const a of list) {
      if (!a || known.has(alertKey(a))) continue;
      known.add(alertKey(a));
      state.alerts.push(a);
      if (live) toast(`alert: ${a.message}`, a.severity === 'critical' ? 'error' : a.severity === 'warning' ? 'refused' : 'ok');
    }
    state.alerts.sort((x, y) => x.ts - y.ts);
    state.alerts.splice(0, Math.max(0, state.alerts.length - 50));
    renderAlerts();
  }

  async function fetchAlerts() {
    try {
      const resp = await apiFetch('/api/alerts');
      if (resp.ok) addAlerts((await resp.json()).alerts || [], false);
    } catch (e) { /* shown on the next push */ }
  }

  function renderAlerts() {
    const recent = state.alerts.slice(-12).reverse();
    $('alerts-count').textContent = state.alerts.length ? `${state.alerts.length} recent` : '';
    $('alerts-list').innerHTML = recent.length
      ? recent.map((a) => `<div class="alert sev-${esc(a.severity)}"><span class="t">${fmtTime(a.ts)}</span><span class="sev">${esc(a.severity)}</span><span class="msg">${esc(a.message)}</span></div>`).join('')
      : '<p class="sub">no alerts</p>';
  }

  function scheduleRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => {
      state.renderQueued = false;
      render();
    });
  }

  function render() {
    const s = state.status;
    if (!s) { renderChart(); return; }
    renderHeader(s);
    renderChart();
    renderSlots(s, state);
    renderDetail(s, state);
    renderCapacity(s.capacity_fill_health);
    renderSideCards(s);
    $('in-entry').placeholder = isNum(s.entry_pct) ? String(s.entry_pct) : '';
    $('in-profit').placeholder = isNum(s.profit_pct) ? String(s.profit_pct) : '';
  }

  // ------------------------------------------------------------------ header
  function renderHeader(s) {
    const venue = $('venue');
    venue.textContent = s.venue;
    venue.className = `badge${s.venue === 'live' ? ' live' : ''}`;
    const mode = $('mode');
    mode.textContent = s.mode;
    mode.className = `mode mode-${['RUNNING', 'PAUSED', 'HALTED'].includes(s.mode) ? s.mode : 'unknown'}`;
    let reason = s.mode === 'HALTED' ? s.halt_reason : s.mode === 'PAUSED' ? s.pause_reason : '';
    if (s.daily_loss_lock_active && !/loss/i.test(reason)) reason = reason ? `${reason} · daily loss lock` : 'daily loss lock';
    $('mode-reason').textContent = reason || '';
    $('mode-reason').title = reason || '';
    $('price').textContent = fmtPrice(s.price);
    const c = s.connection;
    $('conn-public').className = `dot ${c.public ? 'dot-on' : 'dot-off'}`;
    $('conn-private').className = `dot ${c.private ? 'dot-on' : 'dot-off'}`;
    $('conn-system').textContent = c.exchange_system && c.exchange_system !== 'online' ? c.exchange_system : '';
    const total = $('pnl-total');
    total.textContent = fmtUsd(s.total_profit);
    total.className = `big ${pnlClass(s.total_profit)}`;
    const today = $('pnl-today');
    today.textContent = fmtUsd(s.today_realized_pnl);
    today.className = `big ${pnlClass(s.today_realized_pnl)}`;
    const lock = $('loss-lock');
    if (s.daily_loss_lock_active) {
      lock.textContent = `LOCKED (${fmtUsd(s.daily_realized_loss_utc, false)} lost, ${s.daily_loss_lock_utc_day})`;
      lock.className = 'locked';
    } else if (!(s.daily_loss_limit > 0)) {
      lock.textContent = 'disabled';
      lock.className = 'sub';
    } else {
      lock.textContent = `ok · ${fmtUsd(s.daily_realized_loss_utc, false)} / ${fmtUsd(s.daily_loss_limit, false)}`;
      lock.className = '';
    }
    tickAges();
  }

  function tickAges() {
    const s = state.status;
    if (s) {
      const age = isNum(s.price_age_sec) ? s.price_age_sec + elapsed() : null;
      const el = $('price-age');
      el.textContent = age === null ? 'age unknown' : `age ${fmtAge(age)}`;
      el.className = `sub${age === null || age > 60 ? ' stale' : ''}`;
    }
    if (state.receivedAt) {
      const since = (Date.now() - state.receivedAt) / 1000;
      const el = $('updated');
      el.textContent = `${fmtAge(since)} ago`;
      el.className = since > 30 ? 'stale' : '';
    }
    updateBanner();
  }

  // ------------------------------------------------------------------ chart (web/static/chart.js)
  function renderChart() {
    window.Dogebot.chart.render($('chart'), $('chart-wrap'), $('chart-note'), state);
  }

  // ------------------------------------------------------------------ panels (web/static/panels.js)
  const { renderSlots, renderDetail, renderCapacity, renderSideCards } = window.Dogebot.panels;

  // ------------------------------------------------------------------ command bar (parsing: web/static/commands.js)
  const { COMMANDS } = window.Dogebot.commands;
  const currentSlots = () => (state.status ? state.status.slots : []);
  const parseCommand = (text) => window.Dogebot.commands.parse(text, currentSlots());
  const describeConfirm = (body) => window.Dogebot.commands.describeConfirm(body, currentSlots());

  function renderHints() {
    const input = $('cmd-input');
    const hints = $('cmd-hints');
    if (document.activeElement !== input) { hints.hidden = true; return; }
    const text = input.value.replace(/^:+/, '');
    const first = text.trim().split(/\s+/)[0] || '';
    const typingName = !/\s/.test(text.trimStart()) || !text.trim();
    let list = COMMANDS;
    if (first) list = typingName ? COMMANDS.filter((c) => c.name.startsWith(first.toLowerCase())) : COMMANDS.filter((c) => c.name === first.toLowerCase());
    hints.hidden = false;
    hints.innerHTML = list.length
      ? list.map((c, i) => `<span class="hint${i === 0 ? ' first' : ''}"><b>:${esc(c.name)}</b>${c.usage ? ` ${esc(c.usage)}` : ''} <span>${esc(c.help)}</span></span>`).join('')
      : `<span class="hint">no command starts with "${esc(first)}"</span>`;
  }

  async function executeCommandLine() {
    const input = $('cmd-input');
    const err = $('cmd-error');
    const text = input.value;
    if (!text.trim()) return;
    state.history.push(text);
    state.historyPos = -1;
    const parsed = parseCommand(text);
    if (parsed.error) {
      showResult(err, { kind: 'error', message: parsed.error });
      return;
    }
    if (parsed.cmd.name === 'help') {
      input.value = '';
      err.hidden = true;
      renderHints();
      return;
    }
    input.value = '';
    renderHints();
    const confirmSpec = parsed.cmd.confirm ? describeConfirm(parsed.body) : null;
    await runAction(parsed.body, confirmSpec, err);
  }

  function onCommandKey(ev) {
    const input = $('cmd-input');
    if (ev.key === 'Enter') { ev.preventDefault(); executeCommandLine(); return; }
    if (ev.key === 'Escape') { input.value = ''; $('cmd-error').hidden = true; input.blur(); renderHints(); return; }
    if (ev.key === 'Tab') {
      const first = $('cmd-hints').querySelector('.hint.first b');
      const text = input.value.replace(/^:+/, '');
      if (first && !/\s/.test(text.trim())) { ev.preventDefault(); input.value = `${first.textContent.slice(1)} `; renderHints(); }
      return;
    }
    if (ev.key === 'ArrowUp' || ev.key === 'ArrowDown') {
      if (!state.history.length) return;
      ev.preventDefault();
      const n = state.history.length;
      state.historyPos = ev.key === 'ArrowUp' ? (state.historyPos < 0 ? n - 1 : Math.max(0, state.historyPos - 1)) : state.historyPos < 0 ? -1 : state.historyPos + 1;
      if (state.historyPos >= n) state.historyPos = -1;
      input.value = state.historyPos < 0 ? '' : state.history[state.historyPos];
      renderHints();
    }
  }

  // ------------------------------------------------------------------ modal and toasts
  let modalResolve = null;
  function modal({ title, body, input = false, confirmLabel = 'Confirm', danger = true }) {
    if (modalResolve) modalResolve(null);
    $('modal-title').textContent = title;
    $('modal-body').textContent = body || '';
    const field = $('modal-input');
    field.hidden = !input;
    field.value = '';
    const ok = $('modal-confirm');
    ok.textContent = confirmLabel;
    ok.className = danger ? 'danger' : 'ok';
    $('modal').hidden = false;
    (input ? field : $('modal-cancel')).focus();
    return new Promise((resolve) => {
      modalResolve = (value) => {
        modalResolve = null;
        $('modal').hidden = true;
        resolve(input ? value || null : Boolean(value));
      };
    });
  }

  function toast(text, kind = 'ok') {
    const el = document.createElement('div');
    el.className = `toast ${kind}`;
    el.textContent = text;
    $('toasts').appendChild(el);
    while ($('toasts').children.length > 4) $('toasts').firstChild.remove();
    setTimeout(() => el.remove(), kind === 'ok' ? 4000 : 8000);
  }

  // ------------------------------------------------------------------ wiring
  function formValue(id) { return $(id).value.trim(); }

  function bindForm(formId, build, confirmFor) {
    $(formId).addEventListener('submit', (ev) => {
      ev.preventDefault();
      const result = build();
      if (result.error) { showResult($('ctl-result'), { kind: 'error', message: result.error }); return; }
      runAction(result.body, confirmFor ? describeConfirm(result.body) : null, $('ctl-result'));
    });
  }

  function viaParser(line) { return () => parseCommand(line()); }

  function bindUI() {
    $('btn-pause').addEventListener('click', () => runAction({ action: 'pause', reason: 'dashboard' }, null, $('ctl-result')));
    $('btn-resume').addEventListener('click', () => runAction({ action: 'resume' }, null, $('ctl-result')));
    $('btn-add').addEventListener('click', () => runAction({ action: 'add_slot' }, null, $('ctl-result')));
    $('btn-close-next').addEventListener('click', () => runAction({ action: 'soft_close_next' }, describeConfirm({ action: 'soft_close_next' }), $('ctl-result')));
    $('btn-audit').addEventListener('click', () => runAction({ action: 'audit_pnl' }, null, $('ctl-result')));
    $('btn-drift').addEventListener('click', () => runAction({ action: 'reconcile_drift' }, describeConfirm({ action: 'reconcile_drift' }), $('ctl-result')));
    bindForm('form-remove', viaParser(() => `remove ${formValue('in-remove')}`), true);
    bindForm('form-remove-n', viaParser(() => `remove_slots ${formValue('in-remove-n')}`), true);
    bindForm('form-entry', viaParser(() => `entry ${formValue('in-entry')}`), false);
    bindForm('form-profit', viaParser(() => `profit ${formValue('in-profit')}`), false);
    bindForm('form-close', viaParser(() => `close ${formValue('in-close-slot')} ${formValue('in-close-rec')}`), true);

    $('slots-table').tHead.addEventListener('click', (ev) => {
      const th = ev.target.closest('th');
      if (!th || !th.dataset.key) return;
      state.sort = { key: th.dataset.key, dir: state.sort.key === th.dataset.key ? -state.sort.dir : 1 };
      scheduleRender();
    });
    const pick = (ev) => {
      const tr = ev.target.closest('tr[data-slot]');
      if (!tr) return;
      const id = Number(tr.dataset.slot);
      state.selected = state.selected === id ? null : id;
      scheduleRender();
      if (state.selected !== null) requestAnimationFrame(() => $('slot-detail').scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
    };
    $('slots-table').tBodies[0].addEventListener('click', pick);
    $('slots-table').tBodies[0].addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(ev); } });
    $('detail-close').addEventListener('click', () => { state.selected = null; scheduleRender(); });
    $('detail-remove').addEventListener('click', () => {
      if (state.selected === null) return;
      const body = { action: 'remove_slot', slot_id: state.selected };
      runAction(body, describeConfirm(body), $('ctl-result'));
    });
    document.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-act]');
      if (!b) return;
      const slotId = Number(b.dataset.slot);
      const body = b.dataset.act === 'release'
        ? { action: 'release_slot', slot_id: slotId, local_id: Number(b.dataset.local) }
        : { action: 'soft_close', slot_id: slotId, recovery_id: Number(b.dataset.rec) };
      runAction(body, describeConfirm(body), $('ctl-result'));
    });
    for (const b of $('chart-window').querySelectorAll('button')) {
      b.addEventListener('click', () => {
        state.chartWindow = Number(b.dataset.win);
        for (const o of $('chart-window').querySelectorAll('button')) o.classList.toggle('on', o === b);
        scheduleRender();
      });
    }
    new ResizeObserver(() => scheduleRender()).observe($('chart-wrap'));

    const input = $('cmd-input');
    input.addEventListener('keydown', onCommandKey);
    input.addEventListener('input', () => { $('cmd-error').hidden = true; renderHints(); });
    input.addEventListener('focus', renderHints);
    input.addEventListener('blur', () => setTimeout(renderHints, 150));
    document.addEventListener('keydown', (ev) => {
      if (!$('modal').hidden) {
        if (ev.key === 'Escape') { ev.preventDefault(); modalResolve && modalResolve(null); }
        return;
      }
      const tag = (ev.target.tagName || '').toLowerCase();
      if (ev.key === ':' && tag !== 'input' && tag !== 'textarea') { ev.preventDefault(); input.focus(); return; }
      if (ev.key === 'Escape' && tag !== 'input' && state.selected !== null) { state.selected = null; scheduleRender(); }
    });
    $('modal-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (modalResolve) modalResolve($('modal-input').hidden ? true : $('modal-input').value);
    });
    $('modal-cancel').addEventListener('click', () => modalResolve && modalResolve(null));
    $('banner').addEventListener('click', () => bannerAction && bannerAction());
  }

  function loadSeries() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(SERIES_KEY) || '[]');
      if (Array.isArray(saved)) state.series = saved.filter((p) => Array.isArray(p) && isNum(p[0]) && isNum(p[1])).slice(-SERIES_MAX);
    } catch (e) { state.series = []; }
  }
  function saveSeries() {
    try { sessionStorage.setItem(SERIES_KEY, JSON.stringify(state.series.slice(-2000))); } catch (e) { /* quota: skip */ }
  }

  async function boot() {
    bindUI();
    loadSeries();
    renderChart();
    setInterval(tickAges, 1000);
    setInterval(saveSeries, 15000);
    window.addEventListener('pagehide', saveSeries);
    const code = await fetchStatus();
    if (code !== 401) {
      fetchHistory();
      connect();
    }
  }

  boot();
})();

/* dogebot dashboard: the `:` command bar's grammar.
 *
 * Each command maps to one POST /api/action body. Syntax and numbers are checked here (unknown
 * command, missing/extra argument, bad number, unknown slot alias); ranges are the server's job,
 * its 400 message is shown as is.
 */
'use strict';
(() => {
  const { slotName } = window.Dogebot.fmt;

  const intArg = (name) => ({ name, parse: (v) => (/^\d+$/.test(v) ? Number(v) : null), what: 'a whole number' });
  const numArg = (name) => ({ name, parse: (v) => (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v) ? Number(v) : null), what: 'a number' });
  const slotArg = { name: 'slot', slot: true };

  const COMMANDS = [
    { name: 'pause', usage: '[reason]', help: 'stop placing entries', rest: true, build: (a) => (a.length ? { action: 'pause', reason: a.join(' ') } : { action: 'pause' }) },
    { name: 'resume', help: 'resume trading', build: () => ({ action: 'resume' }) },
    { name: 'add', usage: '[alias]', help: 'add a slot', opt: 1, build: (a) => (a.length ? { action: 'add_slot', alias: a[0] } : { action: 'add_slot' }) },
    { name: 'remove', usage: '<slot>', help: 'remove a slot (id or alias)', args: [slotArg], confirm: true, build: (a) => ({ action: 'remove_slot', slot_id: a[0] }) },
    { name: 'remove_slots', usage: '<count>', help: 'remove the newest N slots', args: [intArg('count')], confirm: true, build: (a) => ({ action: 'remove_slots', count: a[0] }) },
    { name: 'entry', usage: '<pct>', help: 'set entry distance %', args: [numArg('pct')], build: (a) => ({ action: 'set_entry_pct', value: a[0] }) },
    { name: 'profit', usage: '<pct>', help: 'set profit target %', args: [numArg('pct')], build: (a) => ({ action: 'set_profit_pct', value: a[0] }) },
    { name: 'losslimit', usage: '<usd>', help: 'set the daily loss limit $ (0 = off)', args: [numArg('usd')], confirm: true, build: (a) => ({ action: 'set_loss_limit', value: a[0] }) },
    { name: 'close', usage: '<slot> <recovery>', help: 'soft-close a recovery', args: [slotArg, intArg('recovery')], confirm: true, build: (a) => ({ action: 'soft_close', slot_id: a[0], recovery_id: a[1] }) },
    { name: 'close_next', help: 'soft-close the oldest recovery', confirm: true, build: () => ({ action: 'soft_close_next' }) },
    { name: 'stale', usage: '[min_distance_pct]', help: 'soft-close distant recoveries', optArgs: [numArg('min_distance_pct')], confirm: true, build: (a) => (a.length ? { action: 'cancel_stale_recoveries', min_distance_pct: a[0] } : { action: 'cancel_stale_recoveries' }) },
    { name: 'release', usage: '<slot> [local_id]', help: 'release a waiting exit (sticky)', args: [slotArg], optArgs: [intArg('local_id')], confirm: true, build: (a) => (a.length > 1 ? { action: 'release_slot', slot_id: a[0], local_id: a[1] } : { action: 'release_slot', slot_id: a[0] }) },
    { name: 'audit', help: 'recompute P&L from cycles', build: () => ({ action: 'audit_pnl' }) },
    { name: 'drift', help: 'cancel exchange-only orders', confirm: true, build: () => ({ action: 'reconcile_drift' }) },
    { name: 'layer+', usage: '[auto|doge|usd]', help: 'add a capital layer', opt: 1, build: (a) => (a.length ? { action: 'add_layer', source: a[0] } : { action: 'add_layer' }) },
    { name: 'layer-', help: 'remove a capital layer', build: () => ({ action: 'remove_layer' }) },
    { name: 'help', help: 'list commands', build: () => null },
  ];

  function resolveSlot(v, slots) {
    if (/^\d+$/.test(v)) return { value: Number(v) };
    const hit = slots.find((s) => s.alias.toLowerCase() === v.toLowerCase());
    return hit ? { value: hit.slot_id } : { error: `no slot "${v}": give a slot id or alias` };
  }

  // The confirmation dialog for a destructive command body: {title, body, confirmLabel}.
  function describeConfirm(body, slots) {
    const slot = slots.find((s) => s.slot_id === body.slot_id);
    const who = slot ? slotName(slot) : `#${body.slot_id}`;
    switch (body.action) {
      case 'remove_slot': return { title: `Remove slot ${who}?`, body: 'Its open orders are cancelled and the slot is retired. This cannot be undone.', confirmLabel: 'Remove slot' };
      case 'remove_slots': return { title: `Remove ${body.count} slot(s)?`, body: 'The newest slots are retired and their orders cancelled.', confirmLabel: `Remove ${body.count}` };
      case 'soft_close': return { title: `Soft-close recovery ${body.recovery_id} of slot ${who}?`, body: 'The recovery order is repriced near the market, usually realising a loss.', confirmLabel: 'Soft close' };
      case 'soft_close_next': return { title: 'Soft-close the oldest recovery?', body: 'It is repriced near the market, usually realising a loss.', confirmLabel: 'Soft close' };
      case 'cancel_stale_recoveries': return { title: 'Soft-close distant recoveries?', body: `Every recovery farther than ${body.min_distance_pct ?? 3}% from the market is repriced near it.`, confirmLabel: 'Soft close all' };
      case 'release_slot': return { title: `Release the waiting exit of slot ${who}${body.local_id !== undefined ? ` (order ${body.local_id})` : ''}?`, body: 'The exit is cancelled and the position closed at market, subject to the release gates.', confirmLabel: 'Release' };
      case 'set_loss_limit': return { title: body.value > 0 ? `Set the daily loss limit to $${body.value}?` : 'Disable the daily loss lock?', body: 'Raising the limit above today\'s realized loss clears an active lock and resumes trading; a limit at or below it locks now. The value survives restarts.', confirmLabel: 'Set limit' };
      case 'reconcile_drift': return { title: 'Reconcile open-order drift?', body: 'Orders on the exchange that the bot does not track are cancelled.', confirmLabel: 'Reconcile' };
      default: return { title: `Run ${body.action}?`, body: '', confirmLabel: 'Confirm' };
    }
  }

  // `text` -> {cmd, body} (body is the /api/action JSON; null for :help) or {error}.
  function parse(text, slots) {
    const words = text.trim().replace(/^:+/, '').trim().split(/\s+/).filter(Boolean);
    if (!words.length) return { error: 'empty command: try :help' };
    const name = words[0].toLowerCase();
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) return { error: `unknown command "${words[0]}": try :help` };
    const rest = words.slice(1);
    const required = cmd.args || [];
    const optional = cmd.optArgs || [];
    const usage = `usage: :${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ''}`;
    if (cmd.rest) return { cmd, body: cmd.build(rest) };
    if (rest.length < required.length) return { error: `missing argument: ${usage}` };
    const maxArgs = required.length + optional.length + (cmd.opt || 0);
    if (rest.length > maxArgs) return { error: `too many arguments: ${usage}` };
    const specs = [...required, ...optional];
    const values = [];
    for (let i = 0; i < rest.length; i++) {
      const spec = specs[i];
      if (!spec) { values.push(rest[i]); continue; }
      if (spec.slot) {
        const r = resolveSlot(rest[i], slots);
        if (r.error) return { error: r.error };
        values.push(r.value);
      } else {
        const v = spec.parse(rest[i]);
        if (v === null) return { error: `bad number "${rest[i]}" for <${spec.name}>: expected ${spec.what}` };
        values.push(v);
      }
    }
    return { cmd, body: cmd.build(values) };
  }

  window.Dogebot.commands = { COMMANDS, parse, describeConfirm };
})();

"""The slot actor's reconciliation with the exchange's open orders (`ReconcileOpen`).

A mixin of `SlotActor` (actors/slot.py), like actors/slot_exec.py. What reaches it and with which
guarantees is actors/reconcile.py's business: an order's absence closes it only when the list is
complete and its fate is known (`unresolved`), "never placed" is concluded only from a snapshot,
and a start-up reconcile places again only orders restored unbound from the snapshot.
"""

from __future__ import annotations

import logging

from actors.base import handles
from actors.internal import ReconcileOpen, Submit
from actors.messages import PlaceOrder
from actors.slot_exec import SlotExecutions
from actors.slot_fills import EPS
from actors.slot_io import Target, target_cl_ord_id, targets
from core import order_ids

log = logging.getLogger("slot")


class SlotReconciliation(SlotExecutions):
    """Requires the SlotActor attributes and the SlotExecutions helpers."""

    @handles(ReconcileOpen)
    def _reconcile(self, msg: ReconcileOpen) -> None:
        by_local: dict[int, tuple[str, str]] = {}
        for oid, cl in msg.open_orders.items():
            owner = order_ids.decode(cl) if cl else None
            if owner is not None and owner.kind == "s" and owner.slot_id == self.slot_id:
                by_local[owner.local_id] = (oid, cl or "")
        tracked = {t.local_id for t in targets(self.state)}
        kept = 0
        for local_id in sorted(tracked):
            t = self._current(local_id)  # earlier settlements may have changed it
            if t is None or self.halted:
                continue
            if t.txid and t.txid in msg.open_orders:
                if t.kind == "pending":
                    # Still open although we are cancelling it (the cancel never landed): send it
                    # again at the next tick rather than after the retry interval.
                    self.placing.cancel_sent.pop(t.local_id, None)
                continue
            if not t.txid and t.local_id in by_local:
                oid, cl = by_local[t.local_id]
                self._bind(t, oid, cl)
                self.placing.restored_unbound.discard(t.local_id)
            elif not msg.complete or (t.txid and t.txid in msg.unresolved):
                # The exchange's word is missing (no open list, or QueryOrders could not say how
                # this order ended): absence proves nothing. Keep it; a retry settles it.
                kept += 1
            elif t.txid:
                self._closed_while_away(t, msg.now)
            elif t.local_id in self.placing.unconfirmed:
                # Only a snapshot that came after the timeout proves "never placed" (neither open
                # nor executed); a retry's live census may simply not have heard of it yet: keep
                # it (the cancel probe settles it).
                if msg.snapshot:
                    self._never_placed(t, msg.now, "not in the executions snapshot")
                else:
                    kept += 1
            elif msg.startup and t.kind != "pending" and t.local_id in self.placing.restored_unbound \
                    and t.local_id not in self.placing.parked:
                self.placing.restored_unbound.discard(t.local_id)
                self._replace(t)
        if kept:
            log.warning("slot %s: %d order(s) of unknown state kept tracked until the exchange says how they ended",
                        self.alias, kept)
        for local_id, (oid, cl) in by_local.items():
            if local_id not in tracked and msg.startup and msg.complete:
                self._stray(oid, cl, msg.now)
        self._after(msg.now)

    def _closed_while_away(self, t: Target, now: float) -> None:
        """A tracked order the exchange no longer lists; its executions (if any) came before this."""
        agg = self.fills.get(t.txid)
        if agg is not None and agg.missing > EPS:
            self._give_up(t, agg, now, "the executions snapshot did not bring them")
            return
        held = agg.qty if agg is not None else 0.0
        self._progress(t, self.fills.mark_terminal(t.txid, "canceled", held, "not open on the exchange", now), now)

    def _replace(self, t: Target) -> None:
        """An unbound order that never reached the exchange (crash after commit, before send)."""
        cl = target_cl_ord_id(self.slot_id, t)
        self.cl_of[t.local_id] = cl
        intent = PlaceOrder(cl_ord_id=cl, side=t.side, price=t.price, volume=t.volume)  # type: ignore[arg-type]
        self._intents.append(Submit(slot_id=self.slot_id, intent=intent, is_entry=t.role == "entry",
                                    source="normal" if t.role == "entry" else "exit", reply_to=self.actor_ref))
        log.info("slot %s: re-placing %s %s (never acknowledged before restart)", self.alias, t.role, cl)

"""Seeded fault soak: the whole bot against the simulated exchange over loopback sockets, with
faults injected at random, the books checked after every round (prints figures; not a pytest test).

Run: python -m tests.benchmarks.soak_faults [--rounds 30] [--seed 1] [--minutes 8] [--slots 4]
     [--stop-on-problem] [--only reconnect,outage_dropped,...] [--exclude delay,...] [--db-dir /tmp/soak]

Built on the fault-test rig (tests/faults/conftest.py `SocketRig`: a real System and a real
SimExchange over loopback, the exchange's clock stepped by hand). Each round advances a random
number of candles (settled candle by candle, or all at once so reports pile up), then injects one
fault picked at random:

* reconnect        the exchange drops every socket (1-4 times, with candles between);
* outage_dropped   live executions are lost for N candles (as if the private socket were down),
                   then a reconnect whose snapshot may carry only its newest fill (the gateway must
                   replay over TradesHistory), sometimes with TradesHistory / QueryOrders failing;
* outage_refused   a real outage: every socket dropped and new connections (WS and REST) refused
                   for 1-3 s while the exchange trades on;
* rest_fail        TradesHistory / QueryOrders / OpenOrders armed to fail N times, then a trigger
                   (a trimmed reconnect, a restart, a slot crash) that needs them;
* slot_crash       one or two slot actors raise (InjectCrash), sometimes with reports in flight;
* restart          the bot is stopped and started on the same store (sometimes while the exchange
                   trades on in between);
* restart_nosnap   a restart whose first executions snapshot never comes (start-up falls back to
                   OpenOrders over REST, which may fail too);
* store_fail       the next N store write transactions fail (InjectStoreFailures);
* duplicates       the exchange sends the next N execution reports twice;
* rejects          the exchange rejects the next N add_orders (funds / rate / orders limit);
* delay            execution reports are delayed 0.3-1.5 s (responses overtake them).

After each round the books are checked (`SocketRig.problems()`: no execution booked twice, every
execution of a closed order booked, no unmanaged exchange order, balances agree, no unsent intents;
plus: no booked execution the exchange never made, booked quantities equal the exchange's, no
client order id open twice, no halted slot, every slot actor alive; an exchange order the slot
tracks only as a PendingCancel is reported as such, not as unmanaged; the balances are compared
with the runtime's live ones, since the status board's lag a loop, i.e. a candle). A round that does not settle
within --settle seconds gets the supervisor's retries (up to --retry-wait s more), then a few
candles (timed waits inside the bot run on the exchange's clock); what is still wrong then is a
problem: it is printed with the fault history leading to it, and the soak goes on with a fresh
bot and exchange (or stops with --stop-on-problem). The wall time is capped by --minutes.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pykka
import pytest

from actors.internal import Inspect
from tests.benchmarks.soak_injectors import KINDS, FaultInjectors, Stream
from tests.faults.conftest import SocketRig, wait_for
from tests.faults.test_reconcile_unknown import Failures


class Soak(FaultInjectors):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.mp = pytest.MonkeyPatch()
        self.failures = Failures(self.mp)
        self.stream = Stream(self.mp)
        if args.db_dir:  # kept for a post-mortem
            Path(args.db_dir).mkdir(parents=True, exist_ok=True)
            self.tmp_path = Path(tempfile.mkdtemp(prefix=f"soak-s{args.seed}-", dir=args.db_dir))
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="soak-")
            self.tmp_path = Path(self._tmp.name)
        self.episode = 0
        self.rig: SocketRig | None = None
        self.history: list[str] = []
        self.kinds: Counter[str] = Counter()
        self.findings: list[dict[str, Any]] = []
        self.alerts: set[tuple[Any, ...]] = set()
        self.alert_kinds: Counter[str] = Counter()
        self.totals = Counter()  # cycles and executions of finished episodes
        self.rounds = 0
        self.late_clears = 0
        self.deadline = time.monotonic() + args.minutes * 60.0

    # ------------------------------------------------------------------ the rig

    def fresh(self) -> None:
        if self.rig is not None:
            self._bank()
            self._close()
        self.episode += 1
        self.history = []
        self.failures.left.clear()
        self.stream.drop = self.stream.trim = False
        self.stream.skip_snapshots = 0
        path = self.tmp_path / f"ep{self.episode}"
        path.mkdir()
        seed = self.rng.randrange(1, 10_000)
        self.rig = SocketRig(path, slots=self.args.slots, seed=seed,
                             env={"MAX_CONSECUTIVE_ERRORS": "1000"})
        self.rig.start()
        self.log(f"episode {self.episode}: exchange seed {seed}, db {path}")

    def _close(self) -> None:
        assert self.rig is not None
        try:
            self.rig.close()
        except Exception as exc:  # a broken bot must not stop the soak
            self.log(f"close failed: {type(exc).__name__}: {exc}")
            pykka.ActorRegistry.stop_all()
        self.rig = None

    def _bank(self) -> None:
        try:
            self.totals["cycles"] += self.cycles()
            self.totals["executions"] += len(self.rig.exchange()["fills"])
        except Exception:
            pass

    def log(self, text: str) -> None:
        if not self.args.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def cycles(self) -> int:
        return sum(s.round_trips for s in self.rig.system.status().slots)

    # ------------------------------------------------------------------ the books

    def extra_problems(self) -> list[str]:
        rig = self.rig
        out: list[str] = []
        ex_fills = rig.sim.call(lambda v: {f.exec_id: (f.order_id, float(f.qty), float(f.price))
                                           for f in v.engine.fills})
        rows = rig.system.refs["store"].proxy().recent_fills(limit=1_000_000).get(timeout=30)
        phantom = [r.exec_id for r in rows if r.exec_id not in ex_fills]
        if phantom:
            out.append(f"{len(phantom)} booked execution(s) the exchange never made: {phantom[:5]}")
        wrong = [r.exec_id for r in rows if r.exec_id in ex_fills
                 and (abs(r.qty - ex_fills[r.exec_id][1]) > 1e-9 or abs(r.price - ex_fills[r.exec_id][2]) > 1e-12)]
        if wrong:
            out.append(f"{len(wrong)} execution(s) booked with another qty/price: {wrong[:5]}")
        opened = list(rig.exchange()["open"].values())
        twice = sorted({c for c in opened if c is not None and opened.count(c) > 1})
        if twice:
            out.append(f"client order id(s) open twice on the exchange: {twice}")
        status = rig.system.status()
        halted = [(s.slot_id, s.halt_reason) for s in status.slots if s.halted]
        if halted:
            out.append(f"halted slot(s): {halted}")
        dead = [k for k, ref in rig.system.slot_refs().items() if not ref.is_alive()]
        if dead:
            out.append(f"dead slot actor(s): {dead}")
        return out

    def check(self) -> list[str]:
        try:
            probs = self.rig.problems()
            if any(p.startswith("balances differ") for p in probs) and self._live_balances_agree():
                # The status board's balances come with the runtime's loop report, which runs on the
                # exchange's clock: after a reconnect they lag until the next candle. The runtime's
                # own (live) balances are what the bot trades on.
                probs = [p for p in probs if not p.startswith("balances differ")]
            if any(p.startswith("unmanaged exchange orders") for p in probs):
                probs = [q for p in probs for q in (self._split_unmanaged() if p.startswith("unmanaged") else [p])]
            return probs + self.extra_problems()
        except Exception as exc:
            return [f"check raised {type(exc).__name__}: {exc}"]

    def _split_unmanaged(self) -> list[str]:
        """The rig counts orders and recoveries as managed; an order the slot is cancelling (a
        PendingCancel) is tracked too, but its cancel may never have gone out: say which is which."""
        pending = {p.txid: sid for sid, ref in self.rig.system.slot_refs().items()
                   for p in ref.ask(Inspect(), timeout=10)["state"].pending_cancels if p.txid}
        status = self.rig.system.status()
        tracked = {o.txid for s in status.slots for o in s.orders} | {r.txid for s in status.slots for r in s.recoveries}
        ex_open = self.rig.exchange()["open"]
        loose = sorted(set(ex_open) - tracked - set(pending))
        stuck = sorted((o, ex_open[o]) for o in set(ex_open) & set(pending))
        out = []
        if stuck:
            out.append(f"orders the bot is cancelling still open on the exchange (PendingCancel, cancel never "
                       f"landed): {stuck}")
        if loose:
            out.append(f"unmanaged exchange orders {loose}")
        return out

    def _live_balances_agree(self) -> bool:
        live = self.rig.system.inspect("runtime")["balances"]
        ex = self.rig.exchange()
        return abs(live.get("USD", 0.0) - ex["usd"]) <= 1e-6 and abs(live.get("DOGE", 0.0) - ex["doge"]) <= 1e-6

    def settle(self, timeout: float) -> bool:
        return wait_for(lambda: not self.check(), timeout, interval=0.2)

    def quiet(self) -> bool:
        """The supervisor has nothing running or waiting (restarts, reconcile retries)."""
        sup = self.rig.system.supervisor
        return sup is None or (sup.idle() and not sup.retry_pending())

    def settled(self, timeout: float) -> bool:
        return wait_for(lambda: self.quiet() and not self.check(), timeout, interval=0.2)

    def collect_alerts(self) -> None:
        try:
            for a in self.rig.system.inspect("status")["alerts"]:
                key = (self.episode, a.get("kind"), a.get("ts"), a.get("message"))
                if key not in self.alerts:
                    self.alerts.add(key)
                    self.alert_kinds[a.get("kind")] += 1
                    if a.get("kind") in ("fill_gap", "untracked_execution", "slot_halt", "exit_rejected",
                                         "slot_restart_failed", "reconcile_incomplete"):
                        self.log(f"    alert {a.get('kind')}: {str(a.get('message'))[:200]}")
        except Exception:
            pass

    # ------------------------------------------------------------------ faults

    def advance(self, n: int, settle_each: bool | None = None) -> None:
        if settle_each is None:
            settle_each = self.rng.random() < 0.5
        for _ in range(n):
            self.rig.sim.advance(1)
            if settle_each:
                self.settle(5.0)

    def round(self, number: int) -> None:
        candles = self.rng.randint(5, 60)
        self.advance(candles)
        kinds = [k for k in KINDS if (not self.args.only or k in self.args.only) and k not in self.args.exclude]
        kind = self.rng.choice(kinds)
        self.kinds[kind] += 1
        t0 = time.monotonic()
        try:
            what = getattr(self, f"f_{kind}")()
        except Exception as exc:
            what = f"{kind} RAISED {type(exc).__name__}: {exc}"
            self.log(traceback.format_exc())
        self.history.append(f"r{number}: +{candles} candles; {what}")
        self.fills_seen = len(self.rig.exchange()["fills"])
        self.log(f"round {number}: +{candles} candles; {what} ({time.monotonic() - t0:.1f}s, "
                 f"{self.fills_seen} executions so far)")
        ok = self.settle(self.args.settle)
        if ok and not self.quiet():
            # Books agree, but the supervisor still has work (a restart, a reconcile retry): give it
            # its retries before judging; a retry still pending afterwards is a problem of its own.
            ok = self.settled(self.args.retry_wait)
            if not ok:
                self.log("    the supervisor is still busy or has a retry pending")
        elif not ok:
            self.log(f"    not settled after {self.args.settle:.0f}s: {'; '.join(self.check())}; waiting for retries")
            ok = self.settled(self.args.retry_wait)
            if not ok:
                self.advance(5, settle_each=False)
                ok = self.settled(self.args.settle)
                if ok:
                    self.late_clears += 1
                    self.log("    cleared after 5 more candles")
            elif ok:
                self.late_clears += 1
                self.log("    cleared after the retry wait")
        self.collect_alerts()
        if ok:
            return
        probs = self.check() or ["the supervisor is still busy or has a reconcile retry pending"]
        finding = {"round": number, "episode": self.episode, "seed": self.args.seed, "problems": probs,
                   "history": list(self.history)}
        self.findings.append(finding)
        self.log(f"    PROBLEM: {'; '.join(probs)}")
        if not self.args.stop_on_problem:
            self.fresh()

    def run(self) -> None:
        t0 = time.monotonic()
        self.fresh()
        try:
            for number in range(1, self.args.rounds + 1):
                if time.monotonic() > self.deadline:
                    self.log(f"wall-time cap of {self.args.minutes} min reached before round {number}")
                    break
                self.rounds = number
                self.round(number)
                if self.findings and self.args.stop_on_problem:
                    break
            if self.rig is not None:
                self._bank()
                booked = len(self.rig.booked())
            else:
                booked = 0
        finally:
            if self.rig is not None:
                self._close()
            self.mp.undo()
        self.report(time.monotonic() - t0, booked)

    def report(self, wall: float, booked_last: int) -> None:
        print()
        print(f"soak seed {self.args.seed}, slots {self.args.slots}: {self.rounds} rounds in {wall:.0f} s wall "
              f"({self.episode} episode(s))")
        print("faults by kind:", ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())) or "none")
        print(f"cycles booked: {self.totals['cycles']}   executions on the exchange: {self.totals['executions']}"
              f"   (booked in the last episode: {booked_last})")
        print(f"rounds that settled only after the retry wait / more candles: {self.late_clears}")
        print("alerts by kind:", ", ".join(f"{k} {n}" for k, n in sorted(self.alert_kinds.items())) or "none")
        print(f"problems found: {len(self.findings)}")
        for f in self.findings:
            print(f"  episode {f['episode']} round {f['round']}: {'; '.join(f['problems'])}")
            for h in f["history"]:
                print(f"      {h}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--minutes", type=float, default=8.0, help="hard wall-time cap; the loop stops itself")
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--settle", type=float, default=20.0, help="seconds a round gets to settle")
    p.add_argument("--retry-wait", type=float, default=30.0, help="then seconds for the supervisor's retries")
    p.add_argument("--only", type=lambda s: tuple(x for x in s.split(",") if x), default=(),
                   help=f"comma-separated fault kinds ({', '.join(KINDS)})")
    p.add_argument("--exclude", type=lambda s: tuple(x for x in s.split(",") if x), default=(),
                   help="comma-separated fault kinds never to inject")
    p.add_argument("--stop-on-problem", action="store_true")
    p.add_argument("--db-dir", default=None, help="keep the stores under this directory (default: a temporary one)")
    p.add_argument("--quiet", action="store_true", help="only the final figures")
    args = p.parse_args()
    bad = (set(args.only) | set(args.exclude)) - set(KINDS)
    if bad:
        p.error(f"unknown fault kind(s): {sorted(bad)}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Soak(args).run()


if __name__ == "__main__":
    main()

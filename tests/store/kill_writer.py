"""Writer process for the hard-kill test: books fills + slot state in a loop until it is killed.

Usage: python -m tests.store.kill_writer <db path> <max transactions>
Each transaction books FILLS_PER_TXN fills, the state {"seq": n, "fills": total} and one event,
then prints n (the commit is acknowledged only after COMMIT returned).
"""

from __future__ import annotations

import sys

import msgspec

from store.rows import EventRow, FillRow
from store.sqlite import SqliteStore

FILLS_PER_TXN = 5


def main(path: str, limit: int) -> None:
    store = SqliteStore(path, mirror=True, integrity_check=False)
    raw = store.load_state("slot:1")
    seq = msgspec.json.decode(raw)["seq"] + 1 if raw else 0
    for n in range(seq, seq + limit):
        fills = [
            FillRow(exec_id=f"K{n}-{j}", order_id=f"O{n}", slot_id=1, side="buy", qty=1.0, price=0.1, ts=float(n))
            for j in range(FILLS_PER_TXN)
        ]
        state = msgspec.json.encode({"seq": n, "fills": (n + 1) * FILLS_PER_TXN, "pad": "x" * 2000})
        store.book_fills_with_state(fills, "slot:1", state, [EventRow(ts=float(n), slot_id=1, event_type="fill")])
        print(n, flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

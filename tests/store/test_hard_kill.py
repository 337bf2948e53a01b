"""SIGKILL a process that books fills + state in a loop; the reopened file must be consistent."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from store.sqlite import SqliteStore
from tests.store.kill_writer import FILLS_PER_TXN

ROOT = Path(__file__).resolve().parents[2]


def run_and_kill(db: Path, min_commits: int, rng: random.Random) -> int:
    """Start the writer, wait for min_commits acknowledged commits, SIGKILL it; return the last ack."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store.kill_writer", str(db), "100000"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    last = -1
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        seen = 0
        while seen < min_commits and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
            seen += 1
        time.sleep(rng.uniform(0, 0.01))  # land the kill at a random point of a transaction
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        for line in rest.split():
            last = int(line)  # acknowledged before the kill landed
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert seen >= min_commits, "writer did not make progress"
    return last


@pytest.mark.slow
def test_sigkill_mid_stream_leaves_a_consistent_file(tmp_path: Path) -> None:
    db = tmp_path / "killed.sqlite3"
    rng = random.Random(11)
    for _ in range(4):
        acked = run_and_kill(db, rng.randint(20, 60), rng)
        store = SqliteStore(db, mirror=True)  # WAL recovery + quick_check happen here
        try:
            state = msgspec.json.decode(store.load_state("slot:1") or b"null")
            seq = state["seq"]
            assert seq >= acked, "an acknowledged commit was lost"
            seen = store.seen_exec_ids()
            # Every booked fill's state is present, and no state without its fills.
            assert len(seen) == state["fills"] == (seq + 1) * FILLS_PER_TXN
            assert seen == {f"K{n}-{j}" for n in range(seq + 1) for j in range(FILLS_PER_TXN)}
            assert len(store.recent_events(limit=10_000)) == seq + 1
            # The replica queue was written in the same transactions.
            assert store.outbox_stats().by_table["fills"] == len(seen)
        finally:
            store.close()

"""Entry point: `python run.py` starts the bot (simulated exchange by default)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("dogebot: the actor runtime is not yet wired; nothing to run yet.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a command may plan to hold on this machine (torch-free): checked by arithmetic
before anything is allocated (``docs/reliability.md``)."""

from __future__ import annotations

import os


def memory_budget() -> int:
    """Bytes a command may plan to hold: half of the machine's memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30

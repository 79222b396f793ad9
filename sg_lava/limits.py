"""What a command may plan to hold on this machine (torch-free): memory and processes,
checked by arithmetic before anything is allocated or started (``docs/reliability.md``).

The memory budget is half of the machine's memory; ``SG_LAVA_MEMORY_BUDGET`` (bytes, or
with a K, M or G suffix) sets another, so that tests can try memory-bound cases fast.
"""

from __future__ import annotations

import os

from sg_lava.errors import UserError

BUDGET_ENV = "SG_LAVA_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _parse_bytes(text: str) -> int | None:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "")
    try:
        value = int(float(number) * _UNITS[unit])
    except (ValueError, OverflowError):
        return None
    return value if value > 0 else None


def memory_budget() -> int:
    """Bytes a command may plan to hold: ``SG_LAVA_MEMORY_BUDGET``, else half the memory."""
    given = os.environ.get(BUDGET_ENV)
    if given:
        value = _parse_bytes(given)
        if value is None:
            raise UserError(f"{BUDGET_ENV}={given[:40]!r} is not a size in bytes (e.g. 4G)")
        return value
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def gib(n: float) -> str:
    """A byte count for people."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_memory(need: float, what: str, error: type[UserError] = UserError) -> None:
    """Refuse a plan to hold ``need`` bytes beyond the budget; ``what`` names the request
    and the option that made it (``'--bins 10000000: batches of ...'``)."""
    budget = memory_budget()
    if need > budget:
        raise error(
            f"{what} need about {gib(need)}, more than the memory budget of {gib(budget)} "
            f"({BUDGET_ENV}; default half the memory)"
        )


def cores() -> int:
    """The cores this process may run on: the bound of every ``--workers``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1

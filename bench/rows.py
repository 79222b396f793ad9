"""What the benchmarks that keep rows share: rows kept as JSON lines (``--resume`` reads
them back), and a markdown table written between two markers of a document."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sg_lava.files import atomic_write, with_section


def read_rows(path: Path, resume: bool) -> list[dict]:
    """The rows of an earlier run (with ``resume``), else none."""
    if not (resume and path.is_file()):
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def add_row(path: Path, rows: list[dict], row: dict) -> None:
    """Print ``row``, append it to ``rows`` and rewrite ``path`` with all of them."""
    print(json.dumps(row), flush=True)
    rows.append(row)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(path, lambda f: f.write(text.encode()))


def write_table(path: Path, begin: str, end: str, text: str, command: str) -> None:
    """Put ``text`` between the markers ``begin`` and ``end`` of ``path``, stamped with the
    time and the ``command`` that made it."""
    old = path.read_text() if path.is_file() else ""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = f"Table written {stamp} by `{command}`.\n\n{text}"
    new = with_section(old, begin, end, body)
    atomic_write(path, lambda f: f.write(new.encode()))

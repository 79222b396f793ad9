"""Every shell and Python block of README.md and docs/*.md runs as written.

Each document's blocks run in order in a fresh temporary folder (one per document) that
holds nothing but a ``.venv`` link to this checkout's environment, as a fresh clone after
``make setup`` would: ``sh``/``bash`` blocks through ``bash -e``, ``python`` blocks through
the environment's interpreter. A comment on the line before a block (blank lines between
are allowed) says what else to do with it:

* ``<!-- no-run: why -->`` — not run (output listings, file trees, diagrams, synopses with
  placeholders, commands that need a dataset that cannot be here); the reason is reported;
* ``<!-- file: NAME -->`` — not run but written to ``NAME`` in the folder (a ``net.toml``
  that a later block trains);
* ``<!-- slow: why -->`` — run, but the document's test is marked ``slow`` (it trains).

Every other block must be ``sh``, ``bash`` or ``python``: a block in another language or
without one and without a comment fails the inventory test, so that no block escapes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"sh": "shell", "bash": "shell", "python": "python"}
MARKER = re.compile(r"<!--\s*(no-run|file|slow)\s*:\s*(.*?)\s*-->")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
BLOCK_TIMEOUT_S = 1800
REPORT: list[str] = []  # what the tests ran and skipped (printed at the end, conftest.py)


@dataclass
class Block:
    """One fenced block of a document and the markers before it."""

    document: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    markers: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"

    @property
    def action(self) -> str:
        """``skip``, ``file``, ``shell``, ``python``, or ``unmarked``."""
        if "no-run" in self.markers:
            return "skip"
        if "file" in self.markers:
            return "file"
        return RUNNABLE.get(self.language, "unmarked")


def blocks(document: Path) -> list[Block]:
    """The fenced blocks of ``document`` in order, with the markers just before each."""
    found, lines = [], document.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        markers, k = {}, i - 1
        while k >= 0 and (not lines[k].strip() or MARKER.fullmatch(lines[k].strip())):
            if lines[k].strip():
                kind, value = MARKER.fullmatch(lines[k].strip()).groups()
                markers[kind] = value
            k -= 1
        text = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Block(document, i + 1, m.group(1).lower(), text, markers))
        i = end + 1
    return found


def environment(work: Path) -> dict[str, str]:
    """The shell of a fresh clone after ``make setup``, in ``work``."""
    venv = Path(sys.executable).parent.parent
    (work / ".venv").symlink_to(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def run_block(block: Block, work: Path, env: dict[str, str]) -> None:
    """Run (or write) one block in ``work``; a failure names the block and shows its output."""
    if block.action == "file":
        (work / block.markers["file"]).write_text(block.text)
        return
    if block.action == "shell":
        cmd = ["bash", "-e", "-o", "pipefail", "-c", block.text]
    else:
        script = work / f".block_{block.line}.py"
        script.write_text(block.text)
        cmd = [str(work / ".venv" / "bin" / "python"), str(script)]
    res = subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S
    )
    output = (res.stdout + res.stderr)[-3000:]
    assert res.returncode == 0, f"{block.where} failed (exit {res.returncode}):\n{output}"


def document_params() -> list:
    params = []
    for doc in DOCUMENTS:
        slow = any("slow" in b.markers for b in blocks(doc))
        marks = [pytest.mark.slow] if slow else []
        params.append(pytest.param(doc, marks=marks, id=doc.name))
    return params


def test_every_block_is_run_written_or_marked_with_a_reason():
    """The inventory: no block of the documents is left out silently."""
    counts = {"shell": 0, "python": 0, "file": 0, "skip": 0}
    unmarked = []
    for doc in DOCUMENTS:
        for b in blocks(doc):
            if b.action == "unmarked":
                unmarked.append(f"{b.where} (```{b.language})")
                continue
            counts[b.action] += 1
            if b.action == "skip":
                assert b.markers["no-run"], f"{b.where}: <!-- no-run: --> needs a reason"
                REPORT.append(f"docs: skipped {b.where}: {b.markers['no-run']}")
    assert not unmarked, (
        "blocks that neither run nor say why not (give them sh or python, or mark them "
        f"<!-- no-run: reason -->): {unmarked}"
    )
    REPORT.insert(
        0,
        f"docs: {counts['shell']} shell and {counts['python']} Python blocks run, "
        f"{counts['file']} written as files, {counts['skip']} not run (below)",
    )
    assert counts["shell"] + counts["python"] >= 5  # the parser found the blocks


def test_the_block_parser_reads_markers_and_refuses_nothing_silently(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text(
        "text\n<!-- no-run: output -->\n```\n$ x\n```\n\n<!-- slow: trains -->\n\n"
        "```sh\necho hi\n```\n<!-- file: net.toml -->\n```toml\na = 1\n```\n```toml\nb\n```\n"
    )
    got = [(b.line, b.action, b.markers) for b in blocks(doc)]
    assert got == [
        (3, "skip", {"no-run": "output"}),
        (9, "shell", {"slow": "trains"}),
        (13, "file", {"file": "net.toml"}),
        (16, "unmarked", {}),
    ]


@pytest.mark.parametrize("document", document_params())
def test_the_blocks_of_each_document_run_as_written(document, tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    env = environment(work)
    ran = []
    for block in blocks(document):
        if block.action in ("shell", "python", "file"):
            run_block(block, work, env)
            ran.append(str(block.line))
    REPORT.append(f"docs: ran {document.name} lines {', '.join(ran) or 'none'}")

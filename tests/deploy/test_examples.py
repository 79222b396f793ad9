"""Every deploy example, end to end on small data (datasets in their real on-disk formats)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_dvs_gesture, write_hsd

ROOT = Path(__file__).resolve().parents[2]


def example(name, *args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy_examples" / f"{name}.py"), *args, "--quiet"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
    )


def assert_verified(res):
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("verify: ") and "(100.00%); first divergence: none" in last, last


@pytest.mark.slow
@pytest.mark.parametrize("task", ["delay_detection", "coincidence_detection", "echo_location"])
def test_synthetic_examples(tmp_path, task):
    res = example(
        task,
        "--out",
        "run",
        "--epochs",
        "1",
        "--n-train",
        "128",
        "--n-test",
        "32",
        "--lava-samples",
        "6",
        cwd=tmp_path,
    )
    assert_verified(res)
    for f in ("model.pt", "net.h5", "raster.png", "report.md"):
        assert (tmp_path / "run" / f).is_file()
    assert "Lava, Loihi2SimCfg fixed_pt (6 samples)" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.slow
def test_shd_example_on_files_in_the_real_layout(tmp_path):
    write_hsd(tmp_path / "data", split="train", n=24, seed=0)
    write_hsd(tmp_path / "data", split="test", n=12, seed=1)
    res = example(
        "shd",
        "--data",
        "data",
        "--out",
        "run",
        "--bins",
        "20",
        "--hidden",
        "16",
        "--K",
        "3",
        "--epochs",
        "1",
        "--verify-samples",
        "4",
        "--lava-workers",
        "2",
        cwd=tmp_path,
    )
    assert_verified(res)
    assert "SHD on Lava (20 time steps)" in res.stdout
    assert "Lava, Loihi2SimCfg fixed_pt (4 samples)" in res.stdout


@pytest.mark.slow
def test_dvs_gesture_example_on_files_in_the_real_layout(tmp_path):
    # 3000 events a sample: at 300 the first conv of this small network never fired, and
    # the verification compared silence
    write_dvs_gesture(tmp_path / "data", train=True, seed=0, events=3000)
    write_dvs_gesture(tmp_path / "data", train=False, seed=1, events=3000)
    res = example(
        "dvs_gesture",
        "--data",
        "data",
        "--out",
        "run",
        "--size",
        "16",
        "--bins",
        "6",
        "--channels",
        "2",
        "4",
        "--K",
        "2",
        "--epochs",
        "1",
        "--max-train",
        "22",
        "--max-test",
        "6",
        "--verify-samples",
        "3",
        "--lava-workers",
        "2",
        cwd=tmp_path,
    )
    assert_verified(res)
    report = (tmp_path / "run" / "report.md").read_text()
    table = report[report.index("events(ref)") :]  # the verification table
    rows = re.findall(r"^\s+0\s+conv\s+\d+\s+(\d+)\s+(\d+)", table, re.M)
    assert rows and int(rows[0][0]) > 0 and rows[0][0] == rows[0][1]  # the first conv fired


@pytest.mark.slow
def test_resolution_example_writes_the_table(tmp_path):
    res = example(
        "resolution",
        "--out", "run", "--tasks", "delay-precise", "--modes", "online",
        "--resolutions", "1", "2", "--n-train", "64", "--n-test", "32", "--epochs", "1",
        "--table", "table.md", "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    table = (tmp_path / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| delay-precise |")]
    assert [r.split("|")[2].strip() for r in rows] == ["1x", "2x"], table
    steps = [int(r.split("|")[3]) for r in rows]
    assert steps[1] == 2 * steps[0]  # the same task at twice the resolution
    assert "python deploy_examples/resolution.py" in table  # the command beside the table
    rows = [json.loads(line) for line in (tmp_path / "run" / "rows.jsonl").read_text().splitlines()]
    assert {"float", "fixed", "last_float", "last_fixed"} <= set(rows[0])
    for row in rows:  # the file names the best-validation model beside the row's model
        row["float"] = -1.0
    (tmp_path / "run" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = example("resolution", "--out", "run", "--rescore", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    again = [
        json.loads(line) for line in (tmp_path / "run" / "rows.jsonl").read_text().splitlines()
    ]
    assert all(0.0 <= r["float"] <= 1.0 for r in again) and len(again) == 2
    # --resume: a cell with a row is skipped; a cell with only a checkpoint continues from
    # it (here its one epoch is done already: measured again, not trained again)
    rows_file = tmp_path / "run" / "rows.jsonl"
    rows_file.write_text(rows_file.read_text().splitlines(keepends=True)[0])
    metrics = tmp_path / "run" / "model_delay-precise_online_x2.metrics.jsonl"
    before = metrics.read_text()
    res = example(
        "resolution",
        "--out", "run", "--tasks", "delay-precise", "--modes", "online", "--resume",
        "--resolutions", "1", "2", "--n-train", "64", "--n-test", "32", "--epochs", "1",
        "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "delay-precise online 1x: a row exists, skipped" in res.stdout
    assert "2x: a row exists" not in res.stdout and metrics.read_text() == before
    resumed = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [r["resolution"] for r in resumed] == [1, 2]
    assert resumed[1]["seconds"] == pytest.approx(rows[1]["seconds"], abs=0.2)  # not retrained


@pytest.mark.parametrize("name", ["shd", "dvs_gesture"])
def test_dataset_examples_say_how_to_get_missing_data(tmp_path, name):
    res = example(name, "--data", "empty", "--out", "run", cwd=tmp_path)
    assert res.returncode == 1
    msg = res.stderr.strip().splitlines()
    assert len(msg) == 1 and "not found: put" in msg[0] and "Traceback" not in res.stderr


def test_every_example_has_help():
    for script in sorted((ROOT / "deploy_examples").glob("*.py")):
        res = subprocess.run(
            [sys.executable, str(script), "--help"], capture_output=True, text=True
        )
        assert res.returncode == 0 and "usage:" in res.stdout, script.name


def test_tables_replace_only_the_marked_part_of_a_file():
    """What resolution.py and the benchmarks write into README.md and docs/."""
    from sg_lava.files import with_section

    begin, end = "<!-- t -->", "<!-- end t -->"
    old = f"# Title\nbefore\n{begin}\nold table\n{end}\nafter\n"
    assert (
        with_section(old, begin, end, "new\n") == f"# Title\nbefore\n{begin}\nnew\n{end}\nafter\n"
    )
    assert with_section("anything\n", begin, end, "new\n") == f"{begin}\nnew\n{end}\n"
    assert with_section(f"{end}\n{begin}\n", begin, end, "x\n") == f"{begin}\nx\n{end}\n"

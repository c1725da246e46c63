"""bench/'s shared timing rules (interleaved sides, best of at least three, the machine's load recorded) and the GPU
projection script's dry run on the CPU."""

from __future__ import annotations

import json

import pytest

from bench import record
from bench.timing import interleaved, load_note, machine


def test_sides_are_interleaved_and_a_ratio_needs_three_runs():
    order: list[str] = []
    times, results = interleaved({"a": lambda: order.append("a") or 1, "b": lambda: order.append("b") or 2}, 3)
    assert order == ["a", "b"] * 3 and results == {"a": 1, "b": 2}
    assert [len(v) for v in times.values()] == [3, 3] and all(t >= 0 for v in times.values() for t in v)
    with pytest.raises(ValueError, match="at least 3"):
        interleaved({"a": lambda: None}, 2)


def test_every_record_carries_the_load_and_says_when_the_machine_was_busy(tmp_path, monkeypatch):
    monkeypatch.setattr("os.getloadavg", lambda: (5.0, 4.0, 3.0))
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    state = machine()
    assert state["busy"] and state["load_average"] == [5.0, 4.0, 3.0] and "cpu" in state
    path = record(tmp_path / "x", {"rows": []}, ["# Title", "", "body"])
    text = path.read_text().splitlines()
    assert text[0] == "# Title" and "Busier than its cores" in text[2] and text[-1] == "body"
    assert json.loads((tmp_path / "x.json").read_text())["recorded_on"]["busy"] is True
    monkeypatch.setattr("os.getloadavg", lambda: (0.5, 0.4, 0.3))
    assert "Busier" not in load_note(machine())


@pytest.mark.slow  # two builds in fresh interpreters: about a minute on 2 cores
def test_the_gpu_script_runs_its_dry_run_on_the_cpu(tmp_path):
    from bench import gpu

    report = gpu.main(["--dry_run", "--out", str(tmp_path / "gpu")])
    assert report["dry_run"] and [row["codec"] for row in report["rows"]] == list(gpu.DRY_CODECS)
    assert all(row["rtf_fp32"] > 0 for row in report["rows"])
    e2e = report["end_to_end"]
    assert e2e["build_1proc_s"] > 0 and e2e["build_2proc_s"] > 0 and 0 < e2e["build_over_engine"]
    assert set(report["projection"]["per_config_gpu_hours"]) == set(gpu.DRY_CODECS)
    assert (tmp_path / "gpu.md").read_text().startswith("# GPU projection (CPU, DRY RUN")


def test_the_pipeline_bench_refuses_a_part_it_does_not_know(capsys):
    from bench import pipeline

    with pytest.raises(SystemExit) as exit_info:
        pipeline.main(["--parts", "pipelined,warp"])
    assert exit_info.value.code == 2 and "name some of pipelined, sequential, overhead, cli" in capsys.readouterr().err

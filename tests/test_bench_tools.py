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


def test_the_gpu_script_measures_every_registered_config_by_default():
    from bench import gpu
    from codecfake_hf import codecs

    assert gpu.configs(None) == codecs.names() and len(codecs.names()) > len(codecs.registry.RELEASE_NAMES)
    assert gpu.configs(None, dry_run=True) == list(gpu.DRY_CODECS)
    assert gpu.configs("encodec_24khz,snac_24khz") == ["encodec_24khz", "snac_24khz"]


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


def test_the_resynth_table_names_what_it_left_out_and_what_a_cut_short_run_did_not_reach(tmp_path):
    from bench import resynth
    from codecfake_hf import codecs

    assert set(resynth.cpu_table()) == set(codecs.names()) - set(resynth.CPU_SKIP) and set(resynth.CPU_SKIP)
    row = {"codec": "encodec_24khz", "utterances": 1, "audio_seconds": 5.82, "batch_exact": True, "loop_rtf": 0.1,
           "engine_rtf": 0.08, "loop_utt_per_s": 1.7, "engine_utt_per_s": 2.1, "speedup": 1.25}
    meta = {"date": "2026-12-06", "args": "--codecs cpu", "torch": "x", "threads": 2, "repeats": 3,
            "batch_seconds": 8.0, "device_name": "CPU", "cpu_skip": {"bigcodec": "RTF 21"},
            "unfinished": ["snac_24khz"]}
    text = resynth.write_results([row], meta, str(tmp_path / "r")).read_text()
    assert "Left out (`CPU_SKIP`" in text and "bigcodec: RTF 21." in text
    assert "**Unfinished**: not yet measured: snac_24khz." in text and "| encodec_24khz | 1 | 5.82 |" in text
    meta["unfinished"] = []
    assert "Unfinished" not in resynth.write_results([row], meta, str(tmp_path / "r")).read_text()


def test_a_config_past_its_timeout_is_stopped_and_its_row_says_so(tmp_path, monkeypatch):
    import time

    from bench import resynth

    def loaded_then_slow(*args):  # what it reached (the last argument) is kept in the stopped row
        args[-1].update(load_s=1.5, warmup_loop_rtf=20.9)
        time.sleep(30)

    monkeypatch.setattr(resynth, "bench_codec", loaded_then_slow)
    start = time.perf_counter()
    row = resynth.bench_codec_within("bigcodec", [None], None, None, 3, timeout_s=0.3)
    assert row == {"codec": "bigcodec", "utterances": 1, "timed_out_s": 0.3, "load_s": 1.5, "warmup_loop_rtf": 20.9}
    assert time.perf_counter() - start < 5
    meta = {"date": "d", "args": "a", "torch": "x", "threads": 2, "repeats": 3, "batch_seconds": 8.0,
            "device_name": "CPU"}
    text = resynth.write_results([row], meta, str(tmp_path / "r")).read_text()
    assert ("| bigcodec | 1 | over 0.3 s (load and warm-up included): stopped, not measured; loaded in 1.5 s, "
            "first (warm-up) loop pass RTF 20.9 |") in text
    row = {"codec": "bigcodec", "utterances": 1, "timed_out_s": 0.3}
    text = resynth.write_results([row], meta, str(tmp_path / "r")).read_text()
    assert "stopped, not measured; still loading |" in text


class _SleepyCodec:
    """Stands in for a codec: records the thread of each call, sleeps, optionally fails."""

    sample_rate = 16000

    def __init__(self, seconds=0.0, error=None):
        import torch

        self.device, self.seconds, self.error, self.threads = torch.device("cpu"), seconds, error, []
        self.finished = 0

    def resynthesize(self, waves, lengths):
        import threading
        import time

        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        self.finished += 1
        if self.error:
            raise self.error


def test_the_loop_runs_its_codec_from_a_worker_thread_as_the_engine_does_and_passes_its_errors_on():
    from bench import resynth

    utts = resynth.vctk_like_utterances(2)
    codec = _SleepyCodec()
    resynth.run_loop(codec, utts)
    assert codec.threads == ["bench-loop", "bench-loop"]
    with pytest.raises(ValueError, match="boom"):
        resynth.run_loop(_SleepyCodec(error=ValueError("boom")), utts)


def test_a_stopped_loop_starts_no_further_utterance_and_leaves_no_thread_running():
    import signal
    import threading

    from bench import resynth

    def stop(signum, frame):
        raise resynth.CodecTimeout

    codec, utts = _SleepyCodec(seconds=0.2), resynth.vctk_like_utterances(20)
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(resynth.CodecTimeout):
            resynth.run_loop(codec, utts)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # The call in flight had finished when run_loop raised: the loop's thread had really ended. A `join(timeout)`
    # that the signal interrupted marked the running thread stopped (CPython 3.11), so `is_alive()` alone said
    # False while a call was still sleeping; at exit such a thread aborted the interpreter after xcodec2's timeout.
    calls, finished = len(codec.threads), codec.finished
    assert calls < 20 and finished == calls  # stopped part-way (20 calls take 4 s), nothing in flight
    assert not any(thread.name == "bench-loop" and thread.is_alive() for thread in threading.enumerate())


def test_the_pipeline_bench_refuses_a_part_it_does_not_know(capsys):
    from bench import pipeline

    with pytest.raises(SystemExit) as exit_info:
        pipeline.main(["--parts", "pipelined,warp"])
    assert exit_info.value.code == 2 and "name some of pipelined, sequential, overhead, cli" in capsys.readouterr().err

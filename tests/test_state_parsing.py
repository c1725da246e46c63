"""State, configs, import rows and numeric flags parsed into typed, bounded values (issue 19, item 4).

The reproductions of the second red team (damaged `plan.json`, AASIST `model_config` values of the wrong
type or size, NaN weights, odd import rows, `--split_ratios nan,0,0`, a speaker pattern matching the empty
string, a non-Audio `--audio_column`, an unchecked `--license`) each end in one clear message here, and
property-based tests (Hypothesis) hold the parsers to "a result or a clear error, never a traceback" on any
JSON a user or a crash can leave.
"""

from __future__ import annotations

import copy
import io
import json
import math
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_builder import ENCODEC, TinyCodecs, config_for
from test_corpus import SPEAKERS, make_hub_dataset, make_vctk_tree
from test_release_import import clip, wav_bytes

from builder import build, import_release
from builder.__main__ import main as builder_main
from builder.plan import Plan, PlanMismatchError
from builder.release_layouts import scan_cors, scan_hf_parquet
from codecfake_hf.corpus import AudioFolder, CorpusError, HubDataset
from codecfake_hf.detectors import AasistConfig, AasistForAudioClassification, read_model_config
from codecfake_hf.errors import CheckpointError
from codecfake_hf.splits import SplitError, parse_ratios
from eval.__main__ import main as eval_main

TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}
# Deterministic and quick: the same examples on every run and machine, no example database on disk.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                    | st.text(max_size=12),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                        max_size=4),
                    max_leaves=12)


# --- plan.json ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_dict(tmp_path_factory, demo_dir, codec_fixture) -> dict:
    """A real build's plan.json, as the builder wrote it."""
    root = tmp_path_factory.mktemp("plan")
    source = make_vctk_tree(root / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)
    build(config_for(source, root / "out", ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    return json.loads(Plan.path(root / "out").read_text())


def damaged(plan: dict, case: str) -> dict:
    plan = copy.deepcopy(plan)
    records = plan["records"]["*"]
    if case == "null id":
        records["test"][0]["utterance_id"] = None
    elif case == "shard_size string":
        plan["shard_size"] = "2"
    elif case == "records a string":
        plan["records"] = "oops"
    elif case == "split with a newline":
        records["test\n"] = records.pop("test")
    elif case == "part named ..":
        plan["parts"][".."] = {"complete": True}
    elif case == "complete a string":
        plan["parts"]["genuine"]["complete"] = "yes"
    elif case == "shard_size zero":
        plan["shard_size"] = 0
    elif case == "split not a mapping":
        plan["identity"]["split"] = ["p225"]
    return plan


PLAN_CASES = {
    "null id": "records['*']['test'][0].utterance_id is None, not a non-empty string",
    "shard_size string": "shard_size is '2', not a whole number",
    "records a string": "records is 'oops', not a mapping",
    "split with a newline": "split name 'test\\n' is not a valid `datasets` split name",
    "part named ..": "'..' is not a usable part name",
    "complete a string": "parts['genuine'].complete is 'yes', not true or false",
    "shard_size zero": "shard_size is 0, not a whole number within 1..",
    "split not a mapping": "identity.split is ['p225'], not a mapping",
}


@pytest.mark.parametrize("case", PLAN_CASES)
def test_a_damaged_plan_is_one_message_naming_the_value(case, plan_dict, tmp_path, capsys, demo_dir):
    out = tmp_path / "out"
    (out / ".codecfake").mkdir(parents=True)
    Plan.path(out).write_text(json.dumps(damaged(plan_dict, case)))
    with pytest.raises(PlanMismatchError) as error:
        Plan.load(out)
    assert PLAN_CASES[case] in str(error.value) and "\n" not in str(error.value)
    # the command line: one line, exit status 2, the folder untouched
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)
    before = Plan.path(out).read_bytes()
    assert builder_main(["build", "--source", f"vctk:{source}", "--out", str(out), "--codecs", ENCODEC,
                         "--random_weights"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "is damaged" in err and "Traceback" not in err
    assert Plan.path(out).read_bytes() == before and not (out / "data").exists()


def _usable(plan: Plan, out: Path) -> None:
    """What the builder does with a plan it read: every method it calls, none may raise."""
    plan.speakers()
    for part in ["genuine", *plan.parts]:
        for split in plan.splits_of(part):
            for shard in range(plan.num_shards(part, split)):
                plan.shard_path(out, part, split, shard)
                [r.utterance_id for r in plan.shard_records(part, split, shard)]
    Plan.from_dict(plan.to_dict())


def _load(out: Path, value) -> None:
    Plan.path(out).write_text(json.dumps(value))
    try:
        plan = Plan.load(out)
    except PlanMismatchError as error:
        assert "\n" not in str(error)
        return
    _usable(plan, out)


@PROPERTY
@given(value=JSON)
def test_any_json_is_a_plan_or_one_clear_error(value, tmp_path_factory):
    out = tmp_path_factory.mktemp("any")
    (out / ".codecfake").mkdir()
    _load(out, value)


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    yield path


@PROPERTY
@given(data=st.data())
def test_a_real_plan_with_any_value_replaced_is_a_plan_or_one_clear_error(data, plan_dict, tmp_path_factory):
    plan = copy.deepcopy(plan_dict)
    path = data.draw(st.sampled_from(list(_leaves(plan))))
    replacement = data.draw(JSON)
    if not path:
        plan = replacement
    else:
        holder = plan
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = replacement
    out = tmp_path_factory.mktemp("mutated")
    (out / ".codecfake").mkdir()
    _load(out, plan)


# --- AASIST model_config and checkpoints ---------------------------------------------------------------------


AASIST_CASES = {
    "filts abc": ({"filts": "abc"}, "`filts` is 'abc', not a list of 5 values"),
    "two-entry filts": ({"filts": [70, [1, 32]]}, "`filts` is [70, [1, 32]], not a list of 5 values"),
    "negative filter": ({"filts": [70, [1, -32], [32, 32], [32, 64], [64, 64]]}, "`filts[1]` is -32, outside 1.."),
    "nb_samp lots": ({"nb_samp": "lots"}, "`nb_samp` is 'lots', not a whole number"),
    "huge gat_dims": ({"gat_dims": [100000000, 32]}, "`gat_dims` is 100000000, outside 1..4096"),
    "nan ratio": ({"pool_ratios": [0.5, float("nan"), 0.5, 0.5]}, "not four finite numbers"),
    "zero temperature": ({"temperatures": [2.0, 0, 100.0, 100.0]}, "each temperature must be above 0"),
}


@pytest.fixture(scope="module")
def aasist_pth(tmp_path_factory) -> Path:
    """A random-weight AASIST state dict in the official checkpoint's layout (the real one is in ../shared)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("aasist") / "AASIST.pth"
    torch.save(AasistForAudioClassification(AasistConfig()).state_dict(), path)
    return path


def convert(capsys, checkpoint, output, model_config=None) -> tuple[int, str]:
    argv = ["convert-aasist", "--checkpoint", str(checkpoint), "--output_dir", str(output)]
    code = eval_main(argv + (["--model_config", str(model_config)] if model_config else []))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", AASIST_CASES)
def test_a_bad_aasist_model_config_is_one_message_before_anything_is_built(case, aasist_pth, tmp_path, capsys):
    values, message = AASIST_CASES[case]
    config = tmp_path / "AASIST.conf"
    config.write_text(json.dumps({"model_config": {"architecture": "AASIST", "filts": [70, [1, 32], [32, 32],
                                                                                      [32, 64], [64, 64]], **values}}))
    code, err = convert(capsys, aasist_pth, tmp_path / "out", config)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["int values", "five bytes", "nan weights", "inf weights"])
def test_a_bad_aasist_checkpoint_is_one_message(case, aasist_pth, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    state = torch.load(aasist_pth, weights_only=True)
    if case == "int values":
        torch.save({key: 1 for key in state}, bad)
        message = "is not a state dict of tensors"
    elif case == "five bytes":
        bad.write_bytes(b"PK\x03\x04\x00")
        message = "cannot read the AASIST checkpoint"
    else:
        state["GAT_layer_S.att_proj.weight"][0, 0] = float("nan" if case == "nan weights" else "inf")
        torch.save(state, bad)
        message = "holds NaN or infinite weights in 1 tensors (GAT_layer_S.att_proj.weight)"
    code, err = convert(capsys, bad, tmp_path / "out")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_good_checkpoint_still_converts(aasist_pth, tmp_path, capsys):
    code, _ = convert(capsys, aasist_pth, tmp_path / "out")
    assert code == 0 and (tmp_path / "out" / "model.safetensors").is_file()


@PROPERTY
@given(values=st.dictionaries(st.sampled_from(["nb_samp", "first_conv", "filts", "gat_dims", "pool_ratios",
                                               "temperatures"]), JSON, min_size=1))
def test_any_model_config_values_are_checked_or_one_clear_error(values):
    values = {"filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]], **values}
    try:
        checked = read_model_config(values)
    except CheckpointError as error:
        assert "\n" not in str(error)
        return
    config = AasistConfig(**{k: v for k, v in checked.items() if k != "architecture"})
    with torch.device("meta"):  # the model it sizes builds (on the meta device: no memory)
        AasistForAudioClassification(config)


# --- import rows ----------------------------------------------------------------------------------------------


def hf_shard(root: Path, demo_dir: Path, table: pa.Table | None = None, raw: bytes | None = None) -> Path:
    (root / "data").mkdir(parents=True)
    path = root / "data" / "train-00000-of-00001.parquet"
    if raw is not None:
        path.write_bytes(raw)
    else:
        pq.write_table(table, path)
    return root


def rows(demo_dir, labels: list[int]) -> dict:
    audio = [wav_bytes(clip(demo_dir, k, 16_000), 16_000) for k in range(len(labels))]
    return {"label": labels, "speaker_id": ["p225", "p227", "p225"][:len(labels)],
            "codec_name": ["", "encodec_24khz", "encodec_24khz"][:len(labels)], "audio_bytes": audio}


def test_an_int_label_column_without_class_names_reads_in_the_cards_order_and_refuses_others(tmp_path, demo_dir):
    values = rows(demo_dir, [0, 1])
    audio = pa.array([{"bytes": b, "path": f"{s}_00{k}.wav"} for k, (b, s) in
                      enumerate(zip(values["audio_bytes"], values["speaker_id"], strict=True))])
    table = pa.table({"audio": audio, "label": values["label"], "speaker_id": values["speaker_id"],
                      "codec_name": values["codec_name"]})
    parts, skipped = scan_hf_parquet(hf_shard(tmp_path / "ok", demo_dir, table))
    assert sorted(parts) == ["encodec_24khz", "genuine"] and skipped == []
    table = table.set_column(1, "label", pa.array([0, 2]))
    with pytest.raises(CorpusError, match=r"row 1: label 2 is outside the label names \['bonafide', 'spoofing'\]"):
        scan_hf_parquet(hf_shard(tmp_path / "bad", demo_dir, table))


def test_a_plain_binary_audio_column_imports_the_audio_it_holds(tmp_path, demo_dir):
    values = rows(demo_dir, [0, 1])
    table = pa.table({"audio": pa.array(values["audio_bytes"], pa.binary()), "label": values["label"],
                      "speaker_id": values["speaker_id"], "codec_name": values["codec_name"]})
    report = import_release(hf_shard(tmp_path / "release", demo_dir, table), tmp_path / "out", progress=False)
    assert report.complete == ["genuine", "encodec_24khz"]
    shard = next((tmp_path / "out" / "data" / "genuine").glob("*.parquet"))
    stored = pq.read_table(shard).column("audio").to_pylist()[0]["bytes"]
    wave, _ = sf.read(io.BytesIO(stored), dtype="float32")
    np.testing.assert_array_equal(wave, sf.read(io.BytesIO(values["audio_bytes"][0]), dtype="float32")[0])


@pytest.mark.parametrize("case", ["five bytes", "truncated"])
def test_an_unreadable_parquet_shard_is_one_message_naming_it(case, tmp_path, demo_dir):
    good = tmp_path / "good.parquet"
    datasets.Dataset.from_dict({"audio": [{"bytes": b"x", "path": "a.wav"}], "label": [0], "speaker_id": ["p225"],
                                "codec_name": [""]}).to_parquet(str(good))
    raw = b"PAR1\x00" if case == "five bytes" else good.read_bytes()[:-30]
    with pytest.raises(CorpusError, match=r"train-00000-of-00001.parquet is not a readable Parquet file"):
        scan_hf_parquet(hf_shard(tmp_path / "release", demo_dir, raw=raw))


def test_a_latin1_cors_label_file_is_one_message(tmp_path):
    (tmp_path / "CoRS").mkdir()
    (tmp_path / "CoRS" / "CoRS_labels.txt").write_bytes("Codéc p225_001 - - - spoof\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"CoRS_labels.txt is not UTF-8 text \(byte 3: b'\\xe9'\); save it as UTF-8"):
        scan_cors(tmp_path / "CoRS")


# --- sources and flags ----------------------------------------------------------------------------------------

# One share: the edges (0, 1, negative, NaN, infinities) as often as any float.
RATIO = st.sampled_from([0.0, 0.1, 0.8, 1.0, -0.5, math.nan, math.inf, -math.inf]) | st.floats(allow_nan=True)


@PROPERTY
@given(text=st.text(max_size=30) | st.lists(RATIO, min_size=1, max_size=4).map(lambda v: ",".join(map(str, v)))
       | st.tuples(RATIO, RATIO, RATIO).map(lambda v: ",".join(map(str, v))))
def test_split_ratios_are_three_finite_shares_or_one_clear_error(text):
    try:
        ratios = parse_ratios(text)
    except SplitError as error:
        assert "\n" not in str(error)
        return
    assert len(ratios) == 3 and all(math.isfinite(r) and r >= 0 for r in ratios) and abs(sum(ratios) - 1) < 1e-6


@pytest.mark.parametrize("flag, value, message", [
    ("--split_ratios", "nan,0,0", "`--split_ratios` nan,0,0 must be three shares"),
    ("--split_ratios", "inf,-inf,0", "must be three shares"),
    ("--license", "cc-by-4.0\nevil: yes", "`--license` 'cc-by-4.0\\nevil: yes' is not a single token"),
    ("--license_link", "https://x\ny: z", "`--license_link` 'https://x\\ny: z' is not a single token"),
    ("--rendezvous_timeout", "0", "`--rendezvous_timeout` must be a positive number of seconds"),
])
def test_numeric_and_card_flags_are_checked_before_any_work(flag, value, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert builder_main(["build", "--source", "builtin:demo", "--out", str(out), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_speaker_pattern_that_matches_the_empty_string_is_refused(tmp_path, demo_dir):
    for speaker in ("alice", "bob"):
        (tmp_path / speaker).mkdir()
        sf.write(tmp_path / speaker / f"{speaker}.wav", clip(demo_dir, 0, 16_000), 16_000)
    with pytest.raises(CorpusError, match=r"`speaker_pattern` '\(\?P<speaker>x\*\)' gives an empty speaker for "
                                          r"'alice/alice.wav'"):
        AudioFolder(tmp_path, speaker_pattern="(?P<speaker>x*)").records()


def test_an_audio_column_that_is_not_audio_is_refused_naming_the_audio_columns(tmp_path, demo_dir, capsys):
    hubset = make_hub_dataset(tmp_path, demo_dir)
    with pytest.raises(CorpusError, match=r"`audio_column` 'id' of .* is Value\('string'\), not an Audio column; "
                                          r"its Audio columns: audio"):
        HubDataset(str(hubset), audio_column="id")
    assert builder_main(["build", "--source", f"hf:{hubset}", "--audio_column", "id", "--out",
                         str(tmp_path / "out"), "--random_weights", "--codecs", ENCODEC]) == 2
    err = capsys.readouterr().err
    assert "not an Audio column" in err and "Traceback" not in err and not (tmp_path / "out" / "data").exists()

"""Nothing written outside the output folder, nothing deleted that the tool did not write (issue 19, item 1-2).

Each case was a reproduction of the second red team on the code before: release codec names `..`/`.` that put
shards outside `data/<part>/`, names that sanitise to one part, reserved names, a `-1` label turned into a
made-up codec, `demo` deleting a user's files in the state folder, a shard the user replaced and the files
behind a symlinked `data/genuine`, a split name with a newline, and the writer following a symlink out.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import datasets
import pytest
import soundfile as sf
from test_builder import ENCODEC, TinyCodecs, config_for, rows_of
from test_corpus import SPEAKERS, make_vctk_tree
from test_release_import import clip, wav_bytes

from builder import build, import_release
from builder.build import clear_build
from builder.dataset import write_shard
from codecfake_hf import files
from codecfake_hf.corpus import CorpusError
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.names import BadNameError, check_part, check_split, sanitise_part
from codecfake_hf.splits import SpeakerSplit, SplitError

TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` (not following symlinks) -> the SHA-256 of its bytes."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# --- release codec names ------------------------------------------------------------------------------------


def hf_release(root: Path, demo_dir: Path, codecs: list[str], labels: dict[str, int] | None = None) -> Path:
    """A Hub-hosted CodecFake shard: genuine p225/p227 rows and one spoof row per codec name given."""
    features = datasets.Features({
        "audio": datasets.Audio(), "label": datasets.ClassLabel(names=["bonafide", "spoofing"]),
        "speaker_id": datasets.Value("string"), "codec_name": datasets.Value("string")})
    rows = []
    for k, speaker in enumerate(TWO):
        utterance = f"{speaker}_{k + 1:03d}"
        rows.append({"audio": {"bytes": wav_bytes(clip(demo_dir, k, 16_000), 16_000), "path": f"{utterance}.wav"},
                     "label": 0, "speaker_id": speaker, "codec_name": ""})
        for codec in codecs:
            rows.append({"audio": {"bytes": wav_bytes(clip(demo_dir, k, 16_000), 16_000),
                                   "path": f"{codec}+{utterance}.wav"},
                         "label": (labels or {}).get(codec, 1), "speaker_id": speaker, "codec_name": codec})
    (root / "data").mkdir(parents=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    return root


def cors_release(root: Path, demo_dir: Path, models: list[str]) -> Path:
    """A CodecFake+ CoRS folder: genuine clips and one clip per model name given (unique file names)."""
    lines = ["Model ClipID QUA AUX DEC Label"]
    root.mkdir(parents=True)
    for k, speaker in enumerate(TWO):
        utterance = f"{speaker}_{k + 1:03d}"
        sf.write(root / f"{utterance}.wav", clip(demo_dir, k, 16_000), 16_000, subtype="PCM_16")
        lines.append(f"VCTK {utterance} - - - bonafide")
        for m, model in enumerate(models):
            name = f"m{m}x{utterance}"  # a stem of its own: the clip is found without its model's folder
            sf.write(root / f"{name}.wav", clip(demo_dir, k, 16_000), 16_000, subtype="PCM_16")
            lines.append(f"{model} {name} MVQ None Time spoof")
    (root / "CoRS_labels.txt").write_text("\n".join(lines) + "\n")
    return root


def make_release(layout: str, root: Path, demo_dir: Path, codecs: list[str]) -> Path:
    return (hf_release if layout == "hf-parquet" else cors_release)(root, demo_dir, codecs)


@pytest.mark.parametrize("layout", ["hf-parquet", "cors"])
@pytest.mark.parametrize("name", ["..", ".", "genuine", "all", "default"])
def test_a_release_codec_name_that_is_no_part_name_is_refused_and_nothing_is_written(layout, name, tmp_path,
                                                                                       demo_dir):
    release = make_release(layout, tmp_path / "release", demo_dir, [name])
    out = tmp_path / "out"
    out.mkdir()
    (out / "data").mkdir()
    # A user's files where the red team's shards landed (replaced under `overwrite`, on the code before).
    (out / "train-00000-of-00001.parquet").write_text("a user's file")
    (out / "data" / "train-00000-of-00001.parquet").write_text("another user's file")
    before = tree(tmp_path)
    with pytest.raises(CorpusError, match=rf"codec {name!r}: .*(not a usable part name|is reserved)"):
        import_release(release, out, layout=layout, overwrite=True, progress=False)
    assert tree(tmp_path) == before  # nothing written, replaced or deleted anywhere


@pytest.mark.parametrize("layout", ["hf-parquet", "cors"])
def test_two_codec_names_that_sanitise_to_one_part_are_refused_naming_both(layout, tmp_path, demo_dir):
    release = make_release(layout, tmp_path / "release", demo_dir, ["codec:a", "codec;a"])
    with pytest.raises(CorpusError, match=r"the codec names 'codec:a' and 'codec;a' both become the part 'codec_a'"):
        import_release(release, tmp_path / "out", layout=layout, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_row_without_a_label_is_skipped_not_made_a_spoof_of_a_made_up_codec(tmp_path, demo_dir):
    release = hf_release(tmp_path / "release", demo_dir, ["encodec_24khz", "mystery"], labels={"mystery": -1})
    report = import_release(release, tmp_path / "out", progress=False)
    assert report.complete == ["genuine", ENCODEC]  # no `mystery`, no `unknown_codec`
    assert sum("no label (-1)" in line for line in report.skipped) == 2
    assert {row["codec"] for row in rows_of(tmp_path / "out")} == {"genuine", ENCODEC}


def test_the_name_rule(tmp_path):
    for good in ("encodec_24khz", "funcodec-funcodec_en_libritts-16k-gr1nq32ds320", "SpeechTokenizer", "a.b"):
        assert check_part(good, "x") == good
    for bad in ("..", ".", "", "a/b", "a\n", "-a", "a.", " a", "genuine\n", "é", 3, None, "x" * 97):
        with pytest.raises(BadNameError):
            check_part(bad, "x")
    for reserved in ("all", "ALL", "default", "genuine"):
        with pytest.raises(BadNameError, match="reserved"):
            check_part(reserved, "x", genuine_allowed=False)
    assert check_part("genuine", "x") == "genuine"
    for bad in ("test\n", "test-1", "all", "", "tést", "a b"):
        with pytest.raises(BadNameError):
            check_split(bad, "x")
    assert sanitise_part("codec:a") == sanitise_part("codec;a") == "codec_a" and sanitise_part("..") == ""
    assert sanitise_part("../../escape") == "escape"  # a folder of its own under data/


@pytest.mark.parametrize("surface", ["json", "constructor"])
def test_a_split_name_ending_in_a_newline_is_refused(surface, tmp_path):
    """`^\\w+$` matched "test\\n" (`$` allows a final newline): shards were named `test\\n-00000-...`."""
    with pytest.raises(SplitError, match=r"split name 'test\\n' is not a valid `datasets` split name"):
        if surface == "json":
            path = tmp_path / "split.json"
            path.write_text(json.dumps({"spk0": "test\n"}))
            SpeakerSplit.from_file(path)
        else:
            SpeakerSplit({"spk0": "test\n"})


# --- writes stay inside -------------------------------------------------------------------------------------


def test_atomic_writes_refuse_a_path_that_leads_out_of_its_folder(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "data").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "data" / "genuine")
    for target in (out / "data" / "genuine" / "train.parquet", out / "data" / ".." / ".." / "escape.txt"):
        with pytest.raises(files.UnsafePathError, match="outside"):
            files.write_text_atomic(target, "x", within=out)
    with pytest.raises(files.UnsafePathError):
        write_shard([], out / "data" / "genuine" / "train-00000-of-00001.parquet", within=out)
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "escape.txt").exists()
    assert files.write_text_atomic(out / "data" / "ok.txt", "x", within=out).read_text() == "x"


# --- demo deletes only what a build wrote ----------------------------------------------------------------------


@pytest.fixture
def built(tmp_path, demo_dir, codec_fixture) -> Path:
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    return out


def _note_in_state(out: Path, elsewhere: Path) -> str:
    (out / ".codecfake" / "mynotes.txt").write_text("my notes")
    return "mynotes.txt"


def _nested_in_state(out: Path, elsewhere: Path) -> str:
    (out / ".codecfake" / "sub").mkdir()
    (out / ".codecfake" / "sub" / "keep.txt").write_text("keep me")
    return "sub/keep.txt"


def _replaced_shard(out: Path, elsewhere: Path) -> str:
    shard = sorted(out.glob("data/genuine/*.parquet"))[0]
    shard.write_bytes(b"the user's own file, saved over the shard")
    return f"{shard.name} (its content changed since this tool wrote it)"


def _symlinked_part(out: Path, elsewhere: Path) -> str:
    # data/genuine moved elsewhere and linked back: the files there have the shards' names, and are not ours.
    os.rename(out / "data" / "genuine", elsewhere / "genuine")
    os.symlink(elsewhere / "genuine", out / "data" / "genuine")
    return "data/genuine (a symlink)"


@pytest.mark.parametrize("change", [_note_in_state, _nested_in_state, _replaced_shard, _symlinked_part],
                         ids=["note-in-state", "nested-in-state", "replaced-shard", "symlinked-part"])
def test_demo_deletes_nothing_when_the_folder_holds_anything_it_did_not_write(change, built, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = change(built, elsewhere)
    before, before_elsewhere = tree(built), tree(elsewhere)
    with pytest.raises(CodecFakeError, match=r"holds files this tool did not write \(.*" + shown.replace(
            "(", r"\(").replace(")", r"\)") + r".*\); nothing was deleted"):
        clear_build(built)
    assert tree(built) == before and tree(elsewhere) == before_elsewhere


def test_demo_still_clears_a_folder_that_holds_only_what_a_build_wrote(built):
    (built / ".codecfake" / ".plan.json.x1y2.tmp").write_text("{")  # a killed write's temporary file is ours
    clear_build(built)
    assert not built.exists()


def test_a_state_folder_linked_elsewhere_is_refused_before_anything_is_written_or_deleted(tmp_path, demo_dir,
                                                                                            codec_fixture):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    (elsewhere / "tmp" / "precious.txt").write_text("not the builder's")
    (elsewhere / ".notes.abc.tmp").write_text("a user's file named like a temporary file")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / ".codecfake")
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)
    before = tree(elsewhere)
    with pytest.raises(files.UnsafePathError, match=r"\.codecfake/lock resolves to .*elsewhere/lock, outside"):
        build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert tree(elsewhere) == before and not (out / "data").exists()

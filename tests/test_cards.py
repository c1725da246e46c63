"""The dataset card says what is true of the data at hand: repo id at push, licence and language, the split that
was made, papers and risks, and why weights were random."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml
from test_builder import ENCODEC, TinyCodecs
from test_hub import dataset_folder, recorded  # noqa: F401 - fixtures

from builder import build
from builder.__main__ import main
from builder.request import BuildRequest
from codecfake_hf import hub
from codecfake_hf.audio import read_audio
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.splits import SpeakerSplit, SplitError, parse_ratios


def front_matter(folder: Path) -> dict:
    return yaml.safe_load((folder / "README.md").read_text().split("---\n")[1])


def test_push_fills_the_repo_id_into_the_loading_snippet(dataset_folder, recorded, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    card = (dataset_folder / "README.md").read_text()
    assert 'load_dataset("ORG/NAME", "encodec_24khz", split="test")' in card
    hub.push_folder(dataset_folder, "my-org/codecfake-vctk")
    card = (dataset_folder / "README.md").read_text()
    assert 'load_dataset("my-org/codecfake-vctk", "encodec_24khz", split="test")' in card
    assert "ORG/NAME" not in card
    assert [call[0] for call in recorded][0] == "create_repo"


def test_card_of_a_vctk_build_names_papers_risks_language_and_source(dataset_folder):  # noqa: F811
    card = (dataset_folder / "README.md").read_text()
    assert "https://arxiv.org/abs/2406.07237" in card
    assert "## Risks and intended use" in card and "deepfake speech" in card
    assert "2501.08238" in card  # every row carries the CodecFake+ taxonomy columns, so the card cites it


@pytest.fixture
def folder_source(tmp_path, demo_dir) -> Path:
    """A plain folder of speech (not VCTK): five speakers, two clips each, speaker = sub-folder."""
    wave, rate = read_audio(demo_dir / "genuine+p225_273.wav")
    root = tmp_path / "speech"
    for s in range(5):
        for k in range(2):
            path = root / f"spk{s}" / f"utt{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, wave[k * 8000: k * 8000 + 6000], rate)
    return root


def test_folder_source_gets_a_seeded_ratio_split_and_a_card_that_says_so(folder_source, tmp_path, codec_fixture,
                                                                           capsys):
    out = tmp_path / "out"
    request = BuildRequest(source=f"folder:{folder_source}", codecs=ENCODEC, out=str(out), device="cpu",
                           shard_size=4, license="mit", language="de", random_weights=True)
    build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    groups = {split: sorted({row["speaker_id"] for row in datasets.load_dataset(
        str(out), ENCODEC, split=split, cache_dir=str(tmp_path / "cache"))}) for split in ("train", "validation",
                                                                                          "test")}
    assert [len(groups[s]) for s in ("train", "validation", "test")] == [3, 1, 1]  # not all in train
    assert sorted(sum(groups.values(), [])) == [f"spk{s}" for s in range(5)]
    expected = SpeakerSplit.by_ratio([f"spk{s}" for s in range(5)], (0.8, 0.1, 0.1), seed=0)
    assert all(expected.split_of(speaker) == split for split, speakers in groups.items() for speaker in speakers)
    card = (out / "README.md").read_text()
    meta = front_matter(out)
    assert meta["license"] == "mit" and meta["language"] == ["de"]
    assert "seeded random split of the source's speakers (train/validation/test shares 0.8/0.1/0.1, seed 0)" in card
    assert "CodecFake paper's split of VCTK" not in card
    assert "as the build was asked to (`--random_weights`, a smoke run)" in card
    assert "could not be reached" not in card


def test_a_source_without_licence_or_language_claims_neither(folder_source, tmp_path, codec_fixture):
    out = tmp_path / "out"
    request = BuildRequest(source=f"folder:{folder_source}", codecs=ENCODEC, out=str(out), device="cpu",
                           split_ratios="0.6,0.2,0.2", split_seed=3)
    build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    meta = front_matter(out)
    assert meta["license"] == "unknown" and "language" not in meta
    card = (out / "README.md").read_text()
    assert "rebuild with `--license ID`" in card
    assert "shares 0.6/0.2/0.2, seed 3" in card


def test_the_printed_hint_and_the_card_example_use_a_split_that_exists(folder_source, tmp_path, monkeypatch,
                                                                        codec_fixture, capsys):
    import importlib

    tiny = TinyCodecs(codec_fixture)
    monkeypatch.setattr(importlib.import_module("builder.build"), "default_codec_factory",
                        lambda name, device, random_weights, seed=0, weights=None: tiny(name, device, random_weights))
    out = tmp_path / "out"
    assert main(["build", "--source", f"folder:{folder_source}", "--codecs", ENCODEC, "--out", str(out),
                 "--device", "cpu", "--split_ratios", "1,0,0"]) == 0
    printed = capsys.readouterr().out
    assert f'load_dataset("{out}", "{ENCODEC}", split="train")' in printed
    assert f'load_dataset("ORG/NAME", "{ENCODEC}", split="train")' in (out / "README.md").read_text()


@pytest.mark.parametrize("flags, message", [
    (["--license", "other"], "needs `--license_name` and `--license_link`"),
    (["--language", "English"], "is not comma-separated language codes"),
    (["--split_ratios", "0.5,0.5"], "must be three shares"),
])
def test_bad_card_flags_are_one_message(tmp_path, capsys, flags, message):
    assert main(["build", "--source", f"folder:{tmp_path}", "--out", str(tmp_path / "o"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_ratio_parsing_and_small_speaker_sets():
    assert parse_ratios("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    with pytest.raises(SplitError):
        parse_ratios("a,b,c")
    two = SpeakerSplit.by_ratio(["a", "b"], (0.8, 0.1, 0.1), seed=0)
    assert sorted(two.split_of(s) for s in "ab") == ["test", "train"]  # train first, then test
    assert SpeakerSplit.by_ratio(["a"], seed=0).split_of("a") == "train"
    counts = [SpeakerSplit.by_ratio([f"s{i}" for i in range(100)], (0.7, 0.2, 0.1), seed=5).split_of(f"s{i}")
              for i in range(100)]
    assert [counts.count(split) for split in ("train", "validation", "test")] == [70, 20, 10]
    assert SpeakerSplit.by_ratio(list("abcdefghij"), seed=1) == SpeakerSplit.by_ratio(list("jihgfedcba"), seed=1)


def test_request_refuses_a_split_file_with_ratios(tmp_path):
    with pytest.raises(CodecFakeError, match="not both"):
        BuildRequest(source="folder:x", out="o", split_file="f", split_ratios="0.8,0.1,0.1").check()
    assert np.isclose(sum(parse_ratios("0.7,0.2,0.1")), 1)


# --- the model card ---------------------------------------------------------------------------------------


def test_model_card_user_edits_survive_score_and_a_local_dataset_is_no_hub_link(tmp_path):
    from codecfake_hf import modelcard
    from codecfake_hf.results import CodecResult, ScoreResults, TrainingFacts

    model_dir, data_dir = tmp_path / "model", tmp_path / "my-codecfake"
    model_dir.mkdir()
    data_dir.mkdir()
    modelcard.write_training_facts(model_dir, TrainingFacts(
        dataset=str(data_dir), base_model="facebook/wav2vec2-base", dataset_config="all", sampling_rate=16_000,
        train_codecs=["genuine", "encodec_24khz"], train_rows=8))
    path = modelcard.write_model_card(model_dir, "my-org/w2v2-codecfake")
    card = path.read_text()
    assert "https://huggingface.co/datasets/my-codecfake" not in card and "datasets:" not in card
    assert "a local dataset folder `my-codecfake` (not on the Hub)" in card
    assert 'pipeline("audio-classification", model="my-org/w2v2-codecfake")' in card
    assert front_matter(model_dir)["base_model"] == "facebook/wav2vec2-base"

    # A user edits the card: metadata, an intro above, a section below, and a line inside the generated part.
    meta, body = card.split("---\n", 2)[1:]
    meta += "license: apache-2.0\nlanguage:\n- en\ntags:\n- my-tag\n"
    meta = meta.replace("tags:\n- audio-classification", "extra_tags:\n- audio-classification", 1)  # own tag list
    body = body.replace(modelcard.GENERATED_START, "Intro by the user.\n\n" + modelcard.GENERATED_START)
    body = body.replace("## Limitations", "A line the user put in the generated part.\n\n## Limitations")
    path.write_text(f"---\n{meta}---\n{body}\n## Contact\n\nwrite to us\n")

    # `score` adds results and rewrites the card.
    result = CodecResult(eer=0.125, threshold=0.5, min_dcf=0.25, n_bonafide=4, n_spoof=4)
    modelcard.add_results(model_dir, ScoreResults(model=str(model_dir), dataset=str(data_dir), dataset_config="all",
                                                  split="test", max_length_seconds=4.0,
                                                  per_codec={"encodec_24khz": result}, pooled=result))
    modelcard.write_model_card(model_dir, "my-org/w2v2-codecfake")
    card = path.read_text()
    data = front_matter(model_dir)
    assert data["license"] == "apache-2.0" and data["language"] == ["en"]
    assert "my-tag" in data["tags"] and "codecfake" in data["tags"]
    assert data["model-index"][0]["results"][0]["metrics"][0] == {"type": "eer", "value": 12.5, "name": "EER (%)"}
    assert "Intro by the user." in card and card.rstrip().endswith("## Contact\n\nwrite to us")
    assert "A line the user put in the generated part." not in card  # the generated part is regenerated
    assert "| encodec_24khz | 0.2500 |  |  | 12.50 | 4 | 4 |" in card  # minDCF first (ASVspoof 5's primary)
    assert card.count(modelcard.GENERATED_START) == 1


def test_model_card_licence_and_base_model(tmp_path, monkeypatch):
    from codecfake_hf import modelcard
    from codecfake_hf.results import TrainingFacts
    from eval.score import card_main

    # The base model's licence, read from its card in a local folder; none where no card says.
    base = tmp_path / "hub" / "models--facebook--wav2vec2-base" / "snapshots" / "abc123"
    base.mkdir(parents=True)
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# wav2vec2\n")
    assert modelcard.base_model_license(str(base)) == "apache-2.0"
    assert modelcard.base_model_license(str(tmp_path)) is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert modelcard.base_model_license("nobody/not-in-the-cache") is None
    # `base_model`: a Hub id as given; a Hub cache snapshot names its repo; another folder is no link.
    assert modelcard.base_model_id("facebook/wav2vec2-base") == "facebook/wav2vec2-base"
    assert modelcard.base_model_id(str(base)) == "facebook/wav2vec2-base"
    assert modelcard.base_model_id(str(tmp_path)) is None

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    modelcard.write_training_facts(model_dir, TrainingFacts(dataset="org/data", base_model=str(base),
                                                            dataset_config="all", license="apache-2.0"))
    modelcard.write_model_card(model_dir, "me/det")
    meta = front_matter(model_dir)
    assert meta["license"] == "apache-2.0" and meta["base_model"] == "facebook/wav2vec2-base"
    # `card --license` sets it; a later rewrite without it keeps what the card states.
    card_main(["--model_dir", str(model_dir), "--hub_model_id", "me/det", "--license", "mit"])
    assert front_matter(model_dir)["license"] == "mit"
    modelcard.write_model_card(model_dir, "me/det")
    assert front_matter(model_dir)["license"] == "mit"
    assert "## Licence\n\n`mit`." in (model_dir / "README.md").read_text()

    # Nothing known: no `license` key, and the card says so and how to state it.
    other = tmp_path / "other"
    other.mkdir()
    modelcard.write_training_facts(other, TrainingFacts(dataset="org/data", base_model="org/base"))
    modelcard.write_model_card(other, "me/other")
    assert "license" not in front_matter(other) and front_matter(other)["base_model"] == "org/base"
    text = (other / "README.md").read_text()
    assert "Not stated: no `--license` was given" in text and "derive from org/base" in text
    assert "python -m eval card --model_dir FOLDER --license ID" in text


def test_a_card_written_by_hand_keeps_its_text_above_the_generated_part(tmp_path):
    from codecfake_hf import modelcard
    from codecfake_hf.results import TrainingFacts

    modelcard.write_training_facts(tmp_path, TrainingFacts(dataset="org/codecfake", train_codecs=["genuine"]))
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n# My detector\n\nHand-written.\n")
    modelcard.write_model_card(tmp_path, "org/det")
    card = (tmp_path / "README.md").read_text()
    assert card.index("Hand-written.") < card.index(modelcard.GENERATED_START)
    assert front_matter(tmp_path)["license"] == "mit" and front_matter(tmp_path)["datasets"] == ["org/codecfake"]
    assert "[org/codecfake](https://huggingface.co/datasets/org/codecfake)" in card


def test_24_bit_and_float_sources_keep_24_bits_and_the_card_says_where_that_is_lossless(demo_dir, tmp_path,
                                                                                      codec_fixture):
    import io

    wave, rate = read_audio(demo_dir / "genuine+p225_273.wav")
    root = tmp_path / "speech"
    sources = {}
    for s, subtype in enumerate(("PCM_24", "FLOAT", "PCM_24", "FLOAT", "PCM_16")):
        path = root / f"spk{s}" / "utt0.wav"
        path.parent.mkdir(parents=True)
        # Below the 16th bit: a 16-bit row could not hold this; 24 bits hold the 24-bit file exactly.
        clip = 0.5 * wave[s * 4000: s * 4000 + 6000] + np.float32(3 * 2.0 ** -23)
        sf.write(path, clip, rate, subtype=subtype)
        sources[f"spk{s}_utt0"] = (sf.read(path, dtype="float64")[0], subtype)
    out = tmp_path / "out"
    request = BuildRequest(source=f"folder:{root}", codecs=ENCODEC, out=str(out), device="cpu",
                           genuine_sample_rate=0, random_weights=True)
    build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    rows = datasets.concatenate_datasets([
        datasets.load_dataset(str(out), ENCODEC, split=split, cache_dir=str(tmp_path / "cache"))
        for split in ("train", "validation", "test")]).cast_column("audio", datasets.Audio(decode=False))
    fakes = rows.filter(lambda row: row["codec"] == ENCODEC)
    rows = rows.filter(lambda row: row["codec"] == "genuine")
    assert sorted(fakes["utterance_id"]) == sorted(sources)  # the codec read the 24-bit rows
    assert {sf.info(io.BytesIO(a["bytes"])).subtype for a in fakes["audio"]} == {"PCM_16"}  # as the paper did
    assert sorted(rows["utterance_id"]) == sorted(sources)
    for row in rows:
        source, subtype = sources[row["utterance_id"]]
        info = sf.info(io.BytesIO(row["audio"]["bytes"]))
        stored, stored_rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float64")
        assert stored_rate == rate and info.subtype == ("PCM_16" if subtype == "PCM_16" else "PCM_24")
        if subtype == "FLOAT":  # kept to within half a 24-bit step
            assert np.abs(stored - source).max() <= 2.0 ** -24
            assert not np.array_equal(np.round(source * 2 ** 15) / 2 ** 15, source)  # 16 bits would lose it
        else:  # 24- and 16-bit files: sample for sample
            assert np.array_equal(stored, source)
    card = (out / "README.md").read_text()
    assert "24-bit PCM from a 24-bit or float source" in card
    assert "lossless for 16- and 24-bit files; a float file keeps 24 bits" in card
    assert "not lossless" not in card and "below the 16th bit" not in card


def test_the_card_lists_the_weight_licences_of_its_codecs_and_says_when_they_mix(dataset_folder):  # noqa: F811
    """EnCodec's weights are CC-BY-NC 4.0 (facebookresearch/encodec's README), SpeechTokenizer's Apache 2.0 (its
    Hub repository): the card names each licence with its configs, in the codec table too, and that they mix."""
    card = (dataset_folder / "README.md").read_text()
    licences = card[card.index("## License and attribution"):card.index("## Citation")]
    assert "- cc-by-nc-4.0: `encodec_24khz`" in licences and "- apache-2.0: `SpeechTokenizer`" in licences
    assert "mixes 2 weight licences" in licences
    row = next(line for line in card.splitlines() if line.startswith("| `encodec_24khz` | encodec |"))
    assert "| cc-by-nc-4.0 |" in row

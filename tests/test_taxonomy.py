"""The CodecFake+ taxonomy end to end: registry fields -> ClassLabel columns in built rows -> card -> a
taxonomy-level source tracer (`eval finetune --label_column_name decoder`).

Built with a new transformers codec (Mimi, tiny random weights) and a frequency-domain one (FunCodec gr1, the
fixture's tiny weights), so that the decoder column has all three classes.
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest
from test_builder import TinyCodecs, config_for, front_matter
from test_corpus import make_vctk_tree
from test_eval import run_cli, tiny_wav2vec2, trainer_flags  # noqa: F401 (tiny_wav2vec2 is a fixture)
from tiny_configs import tiny_config

from builder import build
from codecfake_hf import codecs
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.schema import FEATURES, GENUINE, taxonomy_names

MIMI = "mimi-nq8"
FREQ = "funcodec-funcodec_en_libritts-16k-gr1nq32ds320"


def test_every_spec_carries_a_valid_taxonomy_and_the_columns_list_it():
    for name in codecs.names():
        s = codecs.spec(name)
        for key, values in TAXONOMY.items():
            assert getattr(s, key) in values, (name, key)
        assert s.backend in ("transformers", "codecfake-hf"), name  # this package's families; plugins name theirs
    for key in TAXONOMY:
        assert FEATURES[key].names == ["bonafide", *TAXONOMY[key]]
    assert codecs.spec("SpeechTokenizer").auxiliary == "semantic-distillation"
    assert codecs.spec(FREQ).decoder == "frequency" and codecs.spec(MIMI).auxiliary == "semantic-distillation"
    facts = {"name": "x", "family": "encodec", "sample_rate": 16000, "hop_length": 320, "n_codebooks": 1,
             "codebook_size": 1024, "bitrate_kbps": 0.5, "hub_repo": "r", "hub_files": (), "length_rule": "same",
             "quantizer": "scalar", "auxiliary": "none"}
    with pytest.raises(ValueError, match="decoder='wavelet'; valid: time, frequency"):
        codecs.CodecSpec(**facts, decoder="wavelet")
    with pytest.raises(ValueError, match="`backend` is empty"):
        codecs.CodecSpec(**facts, decoder="time", backend="")
    # Continuous latents (no quantiser) have no codebooks, and quantised ones at least one.
    assert TAXONOMY["quantizer"][-1] == "continuous" and FEATURES["quantizer"].names[-1] == "continuous"
    with pytest.raises(ValueError, match="n_codebooks=1 with quantizer='continuous'"):
        codecs.CodecSpec(**{**facts, "quantizer": "continuous"}, decoder="time")
    with pytest.raises(ValueError, match="n_codebooks=0 with quantizer='scalar'"):
        codecs.CodecSpec(**{**facts, "n_codebooks": 0}, decoder="time")


@pytest.fixture(scope="module")
def taxonomy_build(tmp_path_factory, demo_dir, codec_fixture):
    root = tmp_path_factory.mktemp("taxonomy")
    source = make_vctk_tree(root / "VCTK-0.92", demo_dir, "0.92")
    fixtures = TinyCodecs(codec_fixture)

    def factory(name, device, random_weights):
        if name == MIMI:  # no ../shared fixture: the tiny config of tests/tiny_configs.py
            return codecs.load(name, config=tiny_config(name), random_weights=True, device=device)
        return fixtures(name, device, random_weights)

    out = root / "out"
    report = build(config_for(source, out, f"{MIMI},{FREQ}"), codec_factory=factory, progress=False)
    assert report.failed == {} and report.complete == [GENUINE, MIMI, FREQ]
    return out


def test_built_rows_load_back_with_the_taxonomy_columns(taxonomy_build, tmp_path):
    ds = datasets.load_dataset(str(taxonomy_build), MIMI, split="test", cache_dir=str(tmp_path))
    for key in TAXONOMY:
        assert ds.features[key] == datasets.ClassLabel(names=taxonomy_names(key))
    seen = Counter((row["codec"], row["quantizer"], row["auxiliary"], row["decoder"])
                   for row in ds.select_columns(["codec", "quantizer", "auxiliary", "decoder"]))
    names = {key: ds.features[key].int2str for key in TAXONOMY}
    decoded = {(codec, names["quantizer"](q), names["auxiliary"](a), names["decoder"](d)): n
               for (codec, q, a, d), n in seen.items()}
    assert decoded == {(GENUINE, "bonafide", "bonafide", "bonafide"): 4,
                       (MIMI, "multi-codebook", "semantic-distillation", "time"): 4}
    everything = datasets.load_dataset(str(taxonomy_build), "all", split="train", cache_dir=str(tmp_path))
    decoders = Counter(everything.features["decoder"].int2str(d) for d in everything["decoder"])
    assert set(decoders) == {"bonafide", "time", "frequency"}


def test_card_codec_table_shows_the_taxonomy_and_backend(taxonomy_build):
    body = (taxonomy_build / "README.md").read_text()
    assert "| quantizer | auxiliary | decoder | backend |" in body
    mimi = "| 24000 Hz | 1.1 kbps | 8 | 1920 | multi-codebook | semantic-distillation | time | transformers |"
    assert f"| `{MIMI}` | mimi {mimi}" in body
    freq = "| 16000 Hz | 16 kbps | 32 | 320 | multi-codebook | none | frequency | codecfake-hf |"
    assert f"| `{FREQ}` | funcodec {freq}" in body
    features = front_matter(taxonomy_build)["dataset_info"][0]["features"]
    decoder = next(f for f in features if f["name"] == "decoder")
    assert decoder["dtype"]["class_label"]["names"] == {"0": "bonafide", "1": "time", "2": "frequency"}


def test_finetune_trains_a_decoder_domain_tracer(taxonomy_build, tiny_wav2vec2, tmp_path):  # noqa: F811
    model_dir = tmp_path / "model"
    assert run_cli("finetune", "--dataset_name", taxonomy_build, "--dataset_config_name", "all",
                   "--label_column_name", "decoder", "--config_name", tiny_wav2vec2,
                   *trainer_flags(model_dir, tmp_path / "cache", steps=2)) == 0
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "bonafide", "1": "time", "2": "frequency"}
    facts = json.loads((model_dir / "eval_results.json").read_text())
    assert 0.0 <= facts["eval_eer"] <= 1.0


def test_readme_codec_table_lists_every_config_with_its_taxonomy():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in codecs.names():
        s = codecs.spec(name)
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, name
        cells = [cell.strip() for cell in row.split("|")]
        assert cells[2] == s.family and cells[6:9] == [s.quantizer, s.auxiliary, s.decoder], name
        assert ("transformers." in cells[9]) == (s.backend == "transformers"), name
        assert cells[10] == (s.license or "not stated"), name
        assert cells[11] == (", ".join(s.public_sets) or "—"), name

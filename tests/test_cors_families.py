"""CodecFake+ CoRS end to end, one config of every CoRS family the registry has: built here by its CoRS name (the
fixtures' tiny models with random weights, the real codec modules), loaded back through `datasets.load_dataset`
with the taxonomy columns; and the same CoRS names in a CoRS-shaped release, imported, land in the same configs.

The reference for the labels is the authors' (`CORS_LABELS`, transcribed from SAST_Net/utils.py): our build's rows
carry the registry's labels, which equal the authors' except where a spec's note says why (AudioDec's decoder).
"""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import soundfile as sf
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree
from test_registry import CORS_AUXILIARY, CORS_DECODER, CORS_LABELS, CORS_QUANTIZER
from test_release_import import clip

from builder import build
from builder.__main__ import main
from codecfake_hf import codecs
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.errors import UnknownCodecError
from codecfake_hf.schema import GENUINE, taxonomy_names


def one_name_per_family() -> dict[str, str]:
    """family -> the first CoRS name (in the authors' order) that resolves to one of its configs."""
    chosen: dict[str, str] = {}
    for name in CORS_LABELS:
        try:
            family = codecs.spec(name).family
        except UnknownCodecError:
            continue  # named in the README with the reason (tests/test_registry.py checks it)
        chosen.setdefault(family, name)
    return chosen


NAMES = one_name_per_family()


def authors_labels(cors_name: str) -> dict[str, str]:
    aux, dec, qua = CORS_LABELS[cors_name]
    return {"auxiliary": CORS_AUXILIARY[aux], "decoder": CORS_DECODER[dec], "quantizer": CORS_QUANTIZER[qua]}


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_dir, codec_fixture):
    root = tmp_path_factory.mktemp("cors-families")
    source = make_vctk_tree(root / "VCTK-0.92", demo_dir, "0.92", per_speaker=1)
    out = root / "out"
    request = config_for(source, out, ",".join(NAMES.values()), random_weights=True, shard_size=8)
    report = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    return out, report


@pytest.mark.slow  # a minute or two on two cores: one tiny codec of each CoRS family over a small tree
def test_a_build_by_cors_names_loads_back_with_the_taxonomy_columns(built, tmp_path):
    out, report = built
    configs = {family: codecs.resolve(name) for family, name in NAMES.items()}
    assert report.failed == {} and report.complete == [GENUINE, *configs.values()]
    assert len(NAMES) >= 20, sorted(NAMES)  # CoRS's families we have (21 in the release; SQ-Codec: see the README)
    for family, config in configs.items():
        ds = datasets.load_dataset(str(out), config, split="test", cache_dir=str(tmp_path))
        fakes = ds.filter(lambda row, config=config: row["codec"] == config)
        assert len(fakes) > 0 and {row["codec"] for row in ds} == {GENUINE, config}, family
        spec = codecs.spec(config)
        for key in TAXONOMY:
            assert ds.features[key] == datasets.ClassLabel(names=taxonomy_names(key))
            assert {ds.features[key].int2str(v) for v in fakes[key]} == {getattr(spec, key)}, (family, key)
        theirs = authors_labels(NAMES[family])
        differ = {key for key in theirs if theirs[key] != getattr(spec, key)}
        assert not differ or all(theirs[key] in spec.notes for key in differ), (family, differ)


@pytest.mark.slow
def test_a_cors_release_of_the_same_names_lands_in_the_same_configs(demo_dir, tmp_path):
    root = tmp_path / "CodecFake+"
    folder = root / "all_data_16k"
    folder.mkdir(parents=True)
    labels = {1: "Trad", 2: "SEM", 3: "DISENT"}, {1: "TIME", 2: "FREQ"}, {1: "MVQ", 2: "SVQ", 3: "SQ"}
    lines = []
    for k, (speaker, utterance) in enumerate((("p225", "p225_001"), ("p226", "p226_002"), ("p227", "p227_003"))):
        sf.write(folder / f"{utterance}.wav", clip(demo_dir, k, 16_000), 16_000, subtype="PCM_16")
        lines.append(f"{speaker} {utterance} - REAL REAL REAL bonafide")
        for name in NAMES.values():
            sf.write(folder / f"{utterance}_{name}.wav", clip(demo_dir, k + 1, 16_000), 16_000, subtype="PCM_16")
            aux, dec, qua = (table[v] for table, v in zip(labels, CORS_LABELS[name], strict=True))
            lines.append(f"{speaker} {utterance}_{name} - {aux} {dec} {qua} spoof")
    (root / "CoRS_labels.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["import", str(root), "--out", str(out), "--layout", "cors"]) == 0
    parts = sorted(p.name for p in (out / "data").iterdir())
    assert parts == sorted([GENUINE, *(codecs.resolve(name) for name in NAMES.values())])
    for name in NAMES.values():
        config = codecs.resolve(name)
        ds = datasets.load_dataset(str(out), config, split="train", cache_dir=str(tmp_path / "cache"))
        fakes = ds.filter(lambda row, config=config: row["codec"] == config)
        assert len(fakes) == 1, name
        got = {key: fakes.features[key].int2str(fakes[0][key]) for key in TAXONOMY}
        assert got == authors_labels(name), name  # the release's labels, kept
        assert np.isfinite(np.asarray(fakes[0]["audio"]["array"])).all()

"""A build with WavTokenizer and BigCodec (tiny random weights, the real codec modules) loads back through
`datasets.load_dataset` with CodecFake+'s taxonomy columns: the single-codebook cell and the frequency decoder
(WavTokenizer's ISTFT head) beside a time-domain one (BigCodec)."""

from __future__ import annotations

from collections import Counter

import datasets
import pytest
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree

from builder import build
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.schema import GENUINE, taxonomy_names

WAVTOKENIZER = "wavtokenizer_small_320_24k_4096"
BIGCODEC = "bigcodec"


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_dir, codec_fixture):
    root = tmp_path_factory.mktemp("wavtokenizer-bigcodec")
    source = make_vctk_tree(root / "VCTK-0.92", demo_dir, "0.92")
    out = root / "out"
    # Built by their CoRS names: the release's names land in the same configs.
    request = config_for(source, out, "wavtokenizer_small_320_24k_4096,BigCodec", random_weights=True)
    report = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.complete == [GENUINE, WAVTOKENIZER, BIGCODEC]
    return out


@pytest.mark.slow  # about 20 s on two cores: two codecs over a 4-utterance tree
@pytest.mark.parametrize("name, cell", [(WAVTOKENIZER, ("single-codebook", "none", "frequency")),
                                        (BIGCODEC, ("single-codebook", "none", "time"))])
def test_rows_load_back_with_the_taxonomy_columns(built, tmp_path, name, cell):
    ds = datasets.load_dataset(str(built), name, split="test", cache_dir=str(tmp_path))
    for key in TAXONOMY:
        assert ds.features[key] == datasets.ClassLabel(names=taxonomy_names(key))
    rows = ds.select_columns(["codec", "label", *TAXONOMY])
    decoded = Counter((row["codec"], *(ds.features[key].int2str(row[key]) for key in TAXONOMY)) for row in rows)
    assert decoded == {(GENUINE, "bonafide", "bonafide", "bonafide"): 4, (name, *cell): 4}
    audio = ds.cast_column("audio", datasets.Audio(decode=False))[0]["audio"]
    assert audio["bytes"] or audio["path"]


@pytest.mark.parametrize("model, part", [("wavtokenizer_small_320_24k_4096", WAVTOKENIZER),
                                         ("wavtokenizer_medium_320_24k_4096", "wavtokenizer_medium_320_24k_4096"),
                                         ("bigcodec", BIGCODEC)])
def test_cors_rows_land_in_the_same_configs(tmp_path, demo_dir, model, part):
    """`builder import --layout cors` names a CoRS model's part by the registry (its CoRS name is an alias)."""
    import soundfile as sf

    from builder.release_layouts import scan_cors

    root = tmp_path / "CoRS"
    (root / model).mkdir(parents=True)
    wave, rate = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    sf.write(root / model / "p225_001.wav", wave[:8000], rate)
    (root / "CoRS_labels.txt").write_text(f"Model ClipID QUA AUX DEC Label\n{model} p225_001 SVQ None Freq spoof\n")
    parts, skipped, _ = scan_cors(root)
    assert list(parts) == [part] and skipped == []

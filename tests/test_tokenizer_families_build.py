"""A build with one config of each tokenizer family of issue 18's second group (the Higgs Audio v2 tokenizer and the
continuous-latent VibeVoice and Pocket TTS tokenizers): random weights on their tiny configs, rows back through
`load_dataset` with the taxonomy columns, and the card's bitrate cell for continuous latents."""

from __future__ import annotations

from collections import Counter

import datasets
import pytest
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree

from builder import build
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.schema import GENUINE, taxonomy_names

HIGGS, VIBEVOICE, POCKET = "higgs-audio-v2-nq2", "vibevoice-acoustic", "pocket-tts-audio-tokenizer"
CELLS = {HIGGS: ("multi-codebook", "semantic-distillation", "time"), VIBEVOICE: ("continuous", "none", "time"),
         POCKET: ("continuous", "semantic-distillation", "time")}


@pytest.mark.slow  # three codecs on the tree's utterances: over 20 s on two cores
def test_random_weight_build_loads_back_with_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    out = tmp_path / "out"
    request = config_for(source, out, ",".join(CELLS), random_weights=True)
    report = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.complete == [GENUINE, *CELLS]
    for name, cell in CELLS.items():
        ds = datasets.load_dataset(str(out), name, split="test", cache_dir=str(tmp_path / "cache"))
        for key in TAXONOMY:
            assert ds.features[key] == datasets.ClassLabel(names=taxonomy_names(key))
        names = [ds.features[key].int2str for key in TAXONOMY]
        seen = Counter((row["codec"], *(f(row[k]) for f, k in zip(names, TAXONOMY, strict=True)))
                       for row in ds.select_columns(["codec", *TAXONOMY]))
        assert seen == {(GENUINE, "bonafide", "bonafide", "bonafide"): 4, (name, *cell): 4}, name
        rows = [row for row in ds if row["codec"] == name]
        # the tree's 1 s utterances, resynthesised at 24 kHz and cut to the input length (no whole-frame padding)
        assert [(row["audio"]["sampling_rate"], len(row["audio"]["array"])) for row in rows] == [(24000, 24000)] * 4
    card = (out / "README.md").read_text()
    assert f"| `{VIBEVOICE}` | vibevoice | 24000 Hz | n/a (continuous latents) | 0 | 3200 | continuous |" in card
    assert f"| `{HIGGS}` | higgs_audio_v2 | 24000 Hz | 0.5 kbps | 2 | 960 | multi-codebook |" in card

"""One build with a config of every family that has configs no public codec-deepfake set covers (the 2025-26
speech-generator codecs among them, beyond CodecFake, CodecFake+, ST-Codecfake and CDD): it loads back through
`load_dataset` with each codec's taxonomy, and the card's licence section lists every weight licence in it (tiny
configs, random weights). The families are chosen from the specs (`public_sets`), not named, so a family added
later joins."""

from __future__ import annotations

import re
from collections import Counter

import datasets
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree

from builder import build
from codecfake_hf import codecs


def beyond_public_sets() -> list[str]:
    """Of each family with a config no public set covers, the first such config (registry order)."""
    first: dict[str, str] = {}
    for name in codecs.names():
        if codecs.spec(name).public_sets == ():
            first.setdefault(codecs.spec(name).family, name)
    return list(first.values())


def test_the_families_beyond_every_public_set_are_the_newer_ones():
    chosen = beyond_public_sets()
    assert len(chosen) >= 6 and len({codecs.spec(n).family for n in chosen}) == len(chosen)
    # each is marked in the README's codec table with `—` in its last column
    readme = (codecs.__file__.rsplit("/codecfake_hf/", 1)[0] + "/README.md")
    table = {m[1]: m[2] for m in re.finditer(r"^\| `([^`]+)` \|.*\| ([^|]+) \|$", open(readme).read(), re.M)}
    assert all(table[name].strip() == "—" for name in chosen), {n: table.get(n) for n in chosen}


def test_one_build_with_each_loads_back_and_its_card_lists_every_weight_licence(tmp_path, demo_dir, codec_fixture):
    chosen = beyond_public_sets()
    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92", per_speaker=1)
    report = build(config_for(source, tmp_path / "out", ",".join(chosen)), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and sorted(report.complete) == sorted(["genuine", *chosen])
    ds = datasets.load_dataset(str(tmp_path / "out"), "all", split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    genuine = seen[("genuine", "bonafide", "bonafide", "bonafide")]
    assert genuine > 0
    for name in chosen:
        spec = codecs.spec(name)
        assert seen[(name, spec.quantizer, spec.auxiliary, spec.decoder)] == genuine, name
    card = (tmp_path / "out" / "README.md").read_text()
    licences = {codecs.spec(n).license or "not stated" for n in chosen}  # X-Codec's repositories state none
    for licence in licences:
        listed = re.search(rf"^- {re.escape(licence)}: (.*)$", card, re.M)
        assert listed, licence
        assert {n for n in chosen if (codecs.spec(n).license or "not stated") == licence} == set(
            re.findall(r"`([^`]+)`", listed[1]))
    assert f"This build mixes {len(licences)} weight licences" in card

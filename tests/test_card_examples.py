"""Issue 24: the dataset card lets a reader hear and see what each codec does (codecfake_hf.card_examples).

On the imported CodecFake release (real audio, 15 codecs): two utterances' audio in every part under examples/,
the very rows' bytes, a spectrogram grid, and card links that resolve; `load_dataset` reads no example as a row;
the tool's start-over deletes them as its own files, and a later card removes the ones it no longer links.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from datasets import load_dataset

from builder import import_release
from builder.build import clear_build
from codecfake_hf import card_examples
from codecfake_hf.schema import GENUINE


@pytest.fixture(scope="module")
def imported(release_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("examples") / "release"
    import_release(release_dir, out, progress=False)
    return out


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_card_links_two_utterances_in_every_part_and_their_spectrograms(imported, release_dir):
    card = (imported / "README.md").read_text()
    section = card.split("## Listen and look", 1)[1].split("\n## ", 1)[0]
    parts = [GENUINE, *sorted({p.name.split("+")[0] for p in release_dir.glob("*.wav")} - {GENUINE})]
    # the release's clips are utterances p225_273, p295_144, p318_114: the first two by id, all in every part
    assert "Utterances `p225_273`, `p295_144` of the `train` split" in section
    assert "![Spectrograms of `p225_273`, `p295_144`: genuine and each codec](examples/spectrograms.png)" in section
    links = re.findall(r"\[listen\]\((examples/[^)]+)\)", section)
    assert len(links) == 2 * len(parts) == 32
    assert {link.split("/")[2].rsplit(".", 1)[0] for link in links} == set(parts)
    rows = load_dataset(str(imported), "all", split="train")
    assert len(rows) == 48  # the examples are not rows: the card's configs name data/ only
    by_id = {row_id: i for i, row_id in enumerate(rows["id"])}
    for link in links:
        _, utterance, name = link.split("/")
        part = name.rsplit(".", 1)[0]
        # the stored FLAC, unchanged: the same bytes as the Parquet row, the same samples as the release's file
        stored = pq.read_table(next((imported / "data" / part).glob("train-*.parquet")), columns=["id", "audio"])
        audio = stored.column("audio").to_pylist()[stored.column("id").to_pylist().index(f"{part}+{utterance}")]
        assert (imported / link).read_bytes() == audio["bytes"]
        example, rate = sf.read(io.BytesIO((imported / link).read_bytes()), dtype="float64")
        original, original_rate = sf.read(release_dir / f"{part}+{utterance}.wav", dtype="float64")
        # 16-bit files exactly; the float genuine files within a 24-bit step (what the import keeps of them)
        step = 0 if sf.info(release_dir / f"{part}+{utterance}.wav").subtype == "PCM_16" else 2.0 ** -23
        assert rate == original_rate and np.abs(example - original).max() <= step
        assert f"{part}+{utterance}" in by_id
    # a panel per part and utterance: 2 columns of 5 in, 16 rows of 1.7 in, at 80 dpi
    assert _png_size(imported / "examples" / "spectrograms.png") == (800, 2176)


def test_a_later_card_removes_the_examples_it_no_longer_links(imported, tmp_path):
    import shutil

    copy = shutil.copytree(imported, tmp_path / "copy")
    examples = card_examples.write_examples(copy, [GENUINE, "encodec_24khz"])
    files = sorted(p.relative_to(copy).as_posix() for p in (copy / "examples").rglob("*") if p.is_file())
    assert files == ["examples/p225_273/encodec_24khz.flac", "examples/p225_273/genuine.flac",
                     "examples/p295_144/encodec_24khz.flac", "examples/p295_144/genuine.flac",
                     "examples/spectrograms.png"]
    assert examples.audio["encodec_24khz"]["p295_144"] == "examples/p295_144/encodec_24khz.flac"
    assert _png_size(copy / "examples" / "spectrograms.png") == (800, round(1.7 * 2 * 80))


def test_the_start_over_deletes_the_examples_with_the_card(imported, tmp_path):
    import shutil

    copy = shutil.copytree(imported, tmp_path / "copy")
    clear_build(copy)
    assert not copy.exists()
    # a file the tool did not write is still refused, examples folder or not
    copy = shutil.copytree(imported, tmp_path / "again")
    (copy / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="holds files this tool did not write"):
        clear_build(copy)
    assert (copy / "examples" / "spectrograms.png").is_file()


def test_a_file_in_examples_that_the_card_does_not_link_is_not_deleted(imported, tmp_path):
    """The examples are ours because the card we wrote (its hash recorded) links them; a file of the user's in
    `examples/`, or an example the card no longer links after the user edited the card, is not."""
    import shutil

    copy = shutil.copytree(imported, tmp_path / "mine")
    (copy / "examples" / "my_take.flac").write_bytes(b"not the tool's")
    with pytest.raises(Exception, match=r"holds files this tool did not write \(examples/my_take.flac\)"):
        clear_build(copy)
    assert (copy / "examples" / "my_take.flac").read_bytes() == b"not the tool's"
    edited = shutil.copytree(imported, tmp_path / "edited")
    (edited / "README.md").write_text((edited / "README.md").read_text() + "\nmy notes\n")
    with pytest.raises(Exception, match=r"README.md \(its content changed since this tool wrote it\), examples/"):
        clear_build(edited)
    assert (edited / "examples" / "spectrograms.png").is_file()

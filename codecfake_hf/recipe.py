"""What each codec resynthesises: the CodecFake paper's input recipe, or exactly the genuine rows.

The CodecFake pipeline (`resyn_vctk.py`) fed its 16 kHz codecs VCTK's 16 kHz files and its 24 and
44.1 kHz codecs the 48 kHz originals, resampled to the codec's rate by `torchaudio.transforms.Resample`
with its defaults. That choice shows in the rows: a 44.1 kHz codec sees the band up to 22 kHz, and
the release's row lengths follow torchaudio's `ceil(n · rate / 48000)` (with 16 kHz input two DAC
44.1 kHz rows of a 15-codec build came out one sample off the release's).

- `paper`: a codec at the genuine rows' rate resynthesises the genuine row; any other codec
  resynthesises the source file as read (48 kHz for VCTK), brought to its rate by
  `codecfake_hf.resample.sinc_resample` (torchaudio's definition, written in torch).
- `matched`: every codec resynthesises exactly its genuine row, resampled to its rate with soxr: a
  fake and its genuine row hold the same content, band-limited alike.

`paper` is the default for VCTK sources, where it reproduces the release. Other sources default to
`matched`: the paper defines no recipe for them, and `matched` pairs every fake with the bona fide
row it was made from. Either may be asked for with any source.
"""

from __future__ import annotations

PAPER = "paper"
MATCHED = "matched"
RECIPES = (PAPER, MATCHED)


def default_recipe(source_kind: str) -> str:
    """`paper` for a VCTK source (`Corpus.kind == "vctk"`), `matched` for any other."""
    return PAPER if source_kind == "vctk" else MATCHED


def from_source(recipe: str, codec_rate: int, genuine_sample_rate: int | None) -> bool:
    """Whether a codec at `codec_rate` is fed the source as read, sinc-resampled to its rate, rather than the
    genuine row: under `paper`, when the genuine rows are at another rate, or at each file's own rate
    (`genuine_sample_rate` None: then the rows are the source, and the sinc is a no-op where rates agree)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r} is not one of {', '.join(RECIPES)}")
    return recipe == PAPER and (genuine_sample_rate is None or int(codec_rate) != int(genuine_sample_rate))


def describe(recipe: str, genuine_sample_rate: int | None) -> str:
    """One paragraph for the dataset card: what the codecs were fed, beside what the CodecFake pipeline fed them."""
    # The bit depth is the source's (16- or 24-bit; the card's next note says which): not claimed here.
    rows = (f"Genuine rows are stored at {genuine_sample_rate} Hz" if genuine_sample_rate
            else "Genuine rows are stored at each file's own rate")
    if recipe == PAPER:
        return (
            f"{rows}. Input recipe `paper`, the CodecFake pipeline's: a codec at the genuine rows' rate "
            "resynthesises the genuine row; every other codec resynthesises the source file as read (48 kHz "
            "for VCTK), resampled to its rate with torchaudio's windowed-sinc `Resample` defaults (Hann window, "
            "6 zero crossings, rolloff 0.99; output length ceil(n · rate / source rate)), reimplemented in torch "
            "as `codecfake_hf.resample`. `--recipe matched` feeds every codec exactly its genuine row instead."
        )
    limit = (f": no codec saw input above {genuine_sample_rate / 2000:g} kHz" if genuine_sample_rate else "")
    return (
        f"{rows}. Input recipe `matched`: every codec resynthesises exactly that audio, resampled to the "
        f"codec's rate with soxr{limit}. The CodecFake pipeline fed its 24 kHz and 44.1 kHz codecs the "
        "48 kHz VCTK originals instead (resampled to their rate); `--recipe paper` does that."
    )

"""What the builder's commands take: one dataclass per command, the single source of their flags and help.

`python -m builder <command>` reads these with `transformers.HfArgumentParser`, as `python -m eval`
reads its own: each field is a flag spelled like the field (`--split_file`; the dashed spelling
`--split-file` is accepted too), and its `help` is the manual. In Python, fill the dataclass and call
`builder.build` (or `import_release`, `run_demo`).

To add an option: add a field here with its `help` (it becomes a flag and a Python argument at once),
check it in `BuildRequest.check`, and read it where it acts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from codecfake_hf.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.recipe import RECIPES
from codecfake_hf.splits import parse_ratios

DEFAULT_GENUINE_RATE = 16_000  # the rate of the CodecFake release's genuine files
DEFAULT_MAX_SECONDS = 60.0  # VCTK's longest utterance is under 20 s, LibriSpeech's under 36 s
DEFAULT_MAX_SKIPPED = 0.2
DEFAULT_RENDEZVOUS_TIMEOUT = 600.0  # seconds the ranks of a launched build wait for each other to start
# A Hub licence id (`cc-by-4.0`, `apache-2.0`, `openrail++`) and an `other` licence's name and link: single
# tokens, since each goes into the card's YAML as it is (a newline there would add keys of its own).
LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")
LICENSE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LICENSE_LINK = re.compile(r"[^\s\x00-\x1f\x7f]{1,512}")


@dataclass(kw_only=True)
class BuildRequest:
    """Resynthesise a corpus through codecs; write Parquet/FLAC shards and the dataset card.

    Every field is also a flag of `python -m builder build`; see each field's `help`.
    """

    source: str = field(metadata={"help": (
        "Genuine speech: vctk:PATH (VCTK 0.92 or 0.80 folder), aishell3:PATH (AISHELL-3, Mandarin), folder:PATH (any "
        "folder of audio; speaker = first sub-folder), hf:ID[:config][:split] (a Hub audio dataset; MLS: "
        "hf:facebook/multilingual_librispeech:german), or builtin:demo. Several joined by commas (vctk:A,aishell3:B) "
        "make one mixed source, whose speakers are split per language.")})
    codecs: str = field(default="all", metadata={"help": (
        "`all` or comma-separated codec names/aliases, e.g. encodec_24khz,dac_16khz (default: all); a folder "
        "already built gets only the missing ones.")})
    conditions: str | None = field(default=None, metadata={"help": (
        "Channel conditions, comma-separated (e.g. opus_16k,amr_nb_12k2; chains as opus_16k+mp3_64k): every part "
        "built (genuine and each codec) also gets a part <part>@<condition>, made from its clean rows through that "
        "channel (FFmpeg's encoders, through PyAV; the codec runs once). The encoder's delay is trimmed and each row "
        "keeps its clean row's length and rate. Default: none.")})
    out: str = field(metadata={"help": (
        "Output folder, laid out as the Hub repo (data/<codec>/<split>-NNNNN-of-NNNNN.parquet, README.md); an "
        "interrupted build resumes when run again with the same options.")})
    device: str = field(default="auto", metadata={"help": (
        "Where the codecs run: auto (CUDA when present), cpu, cuda, cuda:N (default: auto).")})
    split_file: str | None = field(default=None, metadata={"help": (
        "Speaker -> split file (`SPEAKER SPLIT` lines, or JSON); default: the CodecFake paper's split (validation "
        "p226,p229; test p227,p228; train the rest). Refused if a speaker is in two splits.")})
    split_ratios: str | None = field(default=None, metadata={"help": (
        "Train,validation,test shares of the speakers for a seeded speaker-disjoint random split, e.g. "
        "0.8,0.1,0.1. Default: the paper's split for VCTK (and the built-in demo), 0.8,0.1,0.1 for any other "
        "source without a split file.")})
    split_seed: int = field(default=0, metadata={"help": "Seed of the ratio split (default: 0)."})
    license: str | None = field(default=None, metadata={"help": (
        "The dataset's licence as a Hub licence id (e.g. cc-by-4.0, mit, other); default: the source's "
        "(cc-by-4.0 for VCTK), else `unknown`. `other` needs --license_name and --license_link.")})
    license_name: str | None = field(default=None, metadata={"help": "Name of an `other` licence (e.g. my-licence)."})
    license_link: str | None = field(default=None, metadata={"help": "Link to an `other` licence's text."})
    language: str | None = field(default=None, metadata={"help": (
        "Language of the rows whose source states none (e.g. de for a folder of German speech); several "
        "comma-separated codes (de,fr) only name the card's languages. Default: what the source states (en for VCTK, "
        "zh for AISHELL-3, an MLS config's language), else none.")})
    limit: int | None = field(default=None, metadata={"help": (
        "At most N utterances per split, round-robin over its speakers (smoke runs; default: all).")})
    random_weights: bool = field(default=False, metadata={"help": (
        "Build each codec's official architecture with random weights instead of downloading its checkpoint "
        "(smoke runs: the rows are not real codec fakes; the card says so).")})
    weights: str | None = field(default=None, metadata={"help": (
        "Where a codec's official files are, when not in its Hub repository: NAME=FOLDER (a local folder holding the "
        "release's files as published) or NAME=OWNER/REPO (a Hub mirror), comma-separated for several, e.g. "
        "`languagecodec=/data/languagecodec`. Needed for a config whose release is not on the Hub (its error names "
        "the page to download from).")})
    seed: int = field(default=0, metadata={"help": (
        "With random_weights: the seed that, with each codec's name, draws its random weights (default: 0). Every "
        "run and every process draws the same model from the same name and seed.")})
    genuine_sample_rate: int | None = field(default=DEFAULT_GENUINE_RATE, metadata={"help": (
        f"Rate of the genuine rows, in Hz (default: {DEFAULT_GENUINE_RATE}, the rate of the CodecFake release's "
        "genuine files). 0 (None in Python) keeps each file's own rate (48 kHz for VCTK). What each codec is fed "
        "from them is the `recipe`'s choice.")})
    recipe: Literal["paper", "matched"] | None = field(default=None, metadata={"help": (
        "What each codec resynthesises. paper (the CodecFake pipeline's): a codec at the genuine rows' rate gets the "
        "genuine row, the others the source file as read (the 48 kHz VCTK originals) resampled to their rate with "
        "torchaudio's windowed-sinc Resample defaults, reimplemented in torch. matched: every codec gets exactly its "
        f"genuine row, resampled with soxr (a {DEFAULT_GENUINE_RATE // 1000} kHz row gives a 24 or 44.1 kHz codec no "
        f"input above {DEFAULT_GENUINE_RATE / 2000:g} kHz). Default: paper for vctk: sources, matched for others "
        "(the paper defines no recipe for them; matched pairs every fake with the row it was made from). A "
        "folder keeps the recipe it was started with.")})
    precision: Literal["fp32", "tf32", "bf16"] = field(default="fp32", metadata={"help": (
        "Codec arithmetic. fp32 (default): exact float32, TF32 off; rows do not depend on their batch. tf32 (CUDA "
        "only; a no-op on CPU) and bf16 (convolution, linear and recurrent layers in bfloat16) run faster and "
        "deviate from fp32 by the amounts bench/precision.py records; the card states the precision.")})
    shard_size: int = field(default=1000, metadata={"help": (
        "Utterances per Parquet shard (default: 1000, about 100 MB of FLAC for 16 kHz VCTK).")})
    batch_seconds: float | None = field(default=None, metadata={"help": (
        "Padded seconds of audio per codec batch; lower it if memory runs out (default: 60 on CUDA, 8 on CPU, "
        "where big batches run slower).")})
    max_seconds: float = field(default=DEFAULT_MAX_SECONDS, metadata={"help": (
        f"Longest utterance accepted, in seconds (default: {DEFAULT_MAX_SECONDS:g}); longer ones are skipped and "
        "reported, since a codec holds a whole utterance in memory (a 5-minute clip took 6 GB).")})
    max_skipped: float = field(default=DEFAULT_MAX_SKIPPED, metadata={"help": (
        f"Largest fraction of a part's utterances that may be skipped (default: {DEFAULT_MAX_SKIPPED:g}); a codec "
        "that skips more, or writes no row at all, has failed: it is named in the report, left out of the card, "
        "and the exit status is 2.")})
    overwrite: bool = field(default=False, metadata={"help": (
        "Build into a folder that is not empty and was not made by this tool (by default such a folder is "
        "refused, so that its README.md is not replaced by the card). Its other files are left alone.")})
    rendezvous_timeout: float = field(default=DEFAULT_RENDEZVOUS_TIMEOUT, metadata={"help": (
        "Under torchrun / accelerate launch: seconds a rank waits for the others to join before it gives up with "
        f"one message (default: {DEFAULT_RENDEZVOUS_TIMEOUT:g}). Once joined, ranks wait for each other's shards "
        "as long as the work takes.")})
    mic: Literal["mic1", "mic2"] = field(default="mic1", metadata={"help": "VCTK 0.92 microphone (default: mic1)."})
    speaker_pattern: str | None = field(default=None, metadata={"help": (
        "folder: sources; a regex on each file's relative path whose group `speaker` is the speaker.")})
    audio_column: str | None = field(default=None, metadata={"help": (
        "hf: sources; the audio column (default: the first Audio column).")})
    speaker_column: str | None = field(default=None, metadata={"help": (
        "hf: sources; the speaker column (default: speaker_id, speaker, client_id... if present).")})
    streaming: bool = field(default=True, metadata={"help": (
        "hf: sources; read the dataset as a stream (datasets streaming): nothing of it is stored on disk, only "
        "the audio of the shard being made is held in memory (default: true). false loads it whole first "
        "(datasets converts it to Arrow files in its cache).")})
    push_to: str | None = field(default=None, metadata={"help": (
        "A Hub dataset repository (ORG/NAME) to upload to as the build goes: each finished shard is committed "
        "(with its record, under .codecfake/shards/) and removed locally, the card is pushed at the end. A build "
        "into a fresh folder with the same options resumes from the shards the repository holds. The token is "
        "HF_TOKEN or the saved login.")})
    push_private: bool = field(default=False, metadata={"help": (
        "With push_to: create the repository private (default: the Hub's default, public).")})
    push_batch: int = field(default=4, metadata={"help": (
        "With push_to: finished shards per commit (default: 4); local disk holds at most about this many shards "
        "(plus the one being written and a genuine shard read back from the repository).")})

    def __post_init__(self):
        if self.genuine_sample_rate == 0:  # the command line's spelling of None
            self.genuine_sample_rate = None

    def check(self) -> None:
        """Refuse impossible values before any work (the codec names and the device are checked by the run)."""
        if not self.source:
            raise CodecFakeError("`source` is required, e.g. `source=\"vctk:/data/VCTK-Corpus-0.92\"`.")
        if not self.out:
            raise CodecFakeError("`out` is required: the folder to write the dataset into.")
        if self.limit is not None and self.limit < 1:
            raise CodecFakeError(f"`limit` must be a positive number of utterances, got {self.limit}.")
        if self.shard_size < 1:
            raise CodecFakeError(f"`shard_size` must be at least 1 utterance, got {self.shard_size}.")
        if self.genuine_sample_rate is not None and not MIN_SAMPLE_RATE <= self.genuine_sample_rate <= MAX_SAMPLE_RATE:
            raise CodecFakeError(
                f"`genuine_sample_rate` must be a rate in Hz within {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} (e.g. 16000), "
                f"got {self.genuine_sample_rate}.")
        if self.batch_seconds is not None and not (math.isfinite(self.batch_seconds) and self.batch_seconds > 0):
            raise CodecFakeError(f"`batch_seconds` must be a positive number of seconds, got {self.batch_seconds}.")
        if not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise CodecFakeError(f"`max_seconds` must be a positive number of seconds, got {self.max_seconds}.")
        if not 0 <= self.max_skipped <= 1:
            raise CodecFakeError(f"`max_skipped` must be a fraction within 0..1, got {self.max_skipped}.")
        if self.push_batch < 1:
            raise CodecFakeError(f"`push_batch` must be at least 1 shard, got {self.push_batch}.")
        if self.recipe is not None and self.recipe not in RECIPES:
            raise CodecFakeError(f"`recipe` must be one of {', '.join(RECIPES)} (or None: by source), "
                                 f"got {self.recipe!r}.")
        from codecfake_hf.codecs.base import PRECISIONS  # here: importing codecs imports torch, which --help skips

        if self.precision not in PRECISIONS:
            raise CodecFakeError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.")
        self.weight_sources()
        if self.split_ratios is not None:
            if self.split_file:
                raise CodecFakeError("give `split_file` or `split_ratios`, not both.")
            parse_ratios(self.split_ratios)  # SplitError names the bad value
        if not (math.isfinite(self.rendezvous_timeout) and self.rendezvous_timeout > 0):
            raise CodecFakeError(f"`rendezvous_timeout` must be a positive number of seconds, got "
                                 f"{self.rendezvous_timeout}.")
        for name, value, pattern, example in (("license", self.license, LICENSE_ID, "cc-by-4.0"),
                                              ("license_name", self.license_name, LICENSE_NAME, "my-licence"),
                                              ("license_link", self.license_link, LICENSE_LINK, "https://...")):
            if value is not None and not pattern.fullmatch(value):
                raise CodecFakeError(f"`{name}` {value!r} is not a single token such as {example} (it goes into the "
                                     "card's YAML as it is: no spaces, newlines or control characters).")
        if self.license == "other" and not (self.license_name and self.license_link):
            raise CodecFakeError("`license=\"other\"` needs `license_name` and `license_link` (the Hub shows "
                                 "them); or give a Hub licence id such as cc-by-4.0.")
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?(,[a-z]{2,3}(-[A-Za-z0-9]+)?)*",
                                                           self.language):
            raise CodecFakeError(f"`language` {self.language!r} is not comma-separated language codes (e.g. en "
                                 "or de,fr).")

    def weight_sources(self) -> dict[str, str]:
        """`weights` as {canonical codec name: folder or Hub repository}; an entry without `=`, an unknown codec name
        or an empty place is refused in one message."""
        from codecfake_hf import codecs  # here: importing codecs imports torch, which --help skips

        sources: dict[str, str] = {}
        for entry in (self.weights or "").split(","):
            if not entry.strip():
                continue
            name, sep, place = entry.partition("=")
            if not sep or not name.strip() or not place.strip():
                raise CodecFakeError(f"`weights` entry {entry.strip()!r} is not NAME=FOLDER (or NAME=OWNER/REPO), e.g. "
                                     "`languagecodec=/data/languagecodec`.")
            sources[codecs.resolve(name.strip())] = place.strip()  # UnknownCodecError names a bad name
        if sources and self.random_weights:
            raise CodecFakeError("`weights` names where official files are; it cannot be combined with "
                                 "`random_weights`.")
        return sources

    def languages(self) -> list[str] | None:
        return self.language.split(",") if self.language else None


@dataclass(kw_only=True)
class ImportRequest:
    """Convert a downloaded public release (the original wav files, the Hub-hosted CodecFake Parquet, or CodecFake+
    CoRS) into the same schema, splits and layout."""

    path: str = field(metadata={"help": (
        "Folder holding `<codec>+<utterance>.wav` files (searched recursively); may also be given first, "
        "without the flag.")})
    out: str = field(metadata={"help": "Output folder (Hub layout)."})
    split_file: str | None = field(default=None, metadata={"help": (
        "Speaker -> split file (default: the CodecFake paper's split).")})
    shard_size: int = field(default=1000, metadata={"help": "Files per Parquet shard (default: 1000)."})
    metadata: str | None = field(default=None, metadata={"help": (
        "A VCTK copy (vctk:PATH) whose transcripts and speaker metadata fill the rows (default: none; text and "
        "speaker metadata stay empty).")})
    layout: str = field(default="auto", metadata={"help": (
        "The release's layout: wav (`<codec>+<utterance>.wav` files), hf-parquet (a local copy of the Hub's "
        "rogertseng/CodecFake), cors (CodecFake+ CoRS audio + CoRS_labels.txt), or auto (default: from the files).")})
    overwrite: bool = field(default=False, metadata={"help": (
        "Import into a folder that is not empty and was not made by this tool (refused by default).")})


@dataclass(kw_only=True)
class PushRequest:
    """Upload a dataset folder to a Hub dataset repo (resumable). The token comes from HF_TOKEN or the saved
    login (`hf auth login`) and is never printed."""

    folder: str = field(metadata={"help": (
        "The dataset folder (made by build, import or demo); may also be given first, without the flag.")})
    repo: str = field(metadata={"help": "The Hub dataset repository, ORG/NAME (created if missing)."})
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})


DEMO_OUT = "demo-output"
# Two transformers-based codecs, small enough for a 2-core CPU: EnCodec 24 kHz and DAC 16 kHz.
DEMO_CODECS = "encodec_24khz,descript-audio-codec-16khz"


@dataclass(kw_only=True)
class DemoRequest:
    """Build a small dataset with two codecs: official weights and a public speech set where reachable, else
    random weights and built-in synthetic input."""

    out: str = field(default=DEMO_OUT, metadata={"help": (
        f"Output folder, rebuilt from scratch (default: {DEMO_OUT}).")})
    codecs: str = field(default=DEMO_CODECS, metadata={"help": f"Codecs to run (default: {DEMO_CODECS})."})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda (default: auto)."})

"""`CodecSpec`, the facts of one codec config, and the CodecFake+ taxonomy its fields take values from.

Every family folder (`codecs/<family>/specs.py`) declares its configs as `CodecSpec`s; the registry collects them.
This module imports nothing of the package, so a family, the registry and `base.py` can all import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# CodecFake+ taxonomy (Chen et al. 2025, arXiv 2501.08238): quantizer, auxiliary objective, decoder domain.
# `continuous` is ours: a tokenizer whose latents are not quantised (VibeVoice's σ-VAE, Pocket TTS's), a cell the
# CodecFake+ label files do not have yet; such a config has no codebooks and no bitrate.
QUANTIZERS = ("multi-codebook", "single-codebook", "scalar", "continuous")
AUXILIARIES = ("none", "semantic-distillation", "disentanglement")
DECODERS = ("time", "frequency")
# The three taxonomy fields and their values, in the order the dataset's ClassLabel columns list them (after the
# genuine rows' own value, see `codecfake_hf.schema`).
TAXONOMY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"quantizer": QUANTIZERS, "auxiliary": AUXILIARIES, "decoder": DECODERS})

# Public codec-deepfake datasets a config can be covered by (`CodecSpec.public_sets`): CodecFake (Wu, Tseng, Lee,
# Interspeech 2024, arXiv 2406.07237: VCTK through the 15 configs of `paper_order`), CodecFake+ (Chen et al. 2025,
# arXiv 2501.08238: its CoRS part's 31 codecs), Codecfake (Xie et al. 2024, arXiv 2405.04880), ST-Codecfake (the
# source-tracing set of the same group) and CDD; a family folder fills in the ones its configs are in.
PUBLIC_SETS = ("CodecFake", "CodecFake+", "Codecfake", "ST-Codecfake", "CDD")


@dataclass(frozen=True, kw_only=True)
class CodecSpec:
    """The facts of one codec config, as the CodecFake pipeline (or our build of a newer codec) runs it.

    Args:
        name (str): the config's name; for the paper's configs, the name the CodecFake release gives its files
            (`<name>+<utterance>.wav`).
        family (str): the family folder that builds it (`codecs/<family>/`, or a plugin's entry-point name).
        sample_rate (int): the rate the model runs at, in Hz (its input; see `output_rate`).
        hop_length (int): input samples per code (or latent) frame.
        n_codebooks (int): codebooks encoded and decoded with (0 for continuous latents).
        codebook_size (int): entries per codebook (0 for continuous latents); the largest where `codebook_sizes`
            gives each its own.
        bitrate_kbps (float): bitrate at `n_codebooks`: n_codebooks × log2(codebook_size) × frame_rate / 1000
            (0 for continuous latents: not applicable); in general `bits_per_frame` × frame_rate / 1000.
        hub_repo (str | None): Hugging Face repository of the official checkpoint; None for a release published
            elsewhere only (`weights_page`), which a user points at with `load(name, weights=FOLDER_OR_REPO)`.
        hub_files (tuple[str, ...]): files of that repository (or of the release, as published) the loader reads.
        length_rule (str): how output length follows input length, in words (output samples are at `output_rate`).
        quantizer (str): CodecFake+ taxonomy: `multi-codebook` (residual or grouped VQ), `single-codebook`,
            `scalar`, or `continuous` (no quantiser).
        auxiliary (str): CodecFake+ auxiliary objective: `none`, `semantic-distillation` or `disentanglement`.
        decoder (str): CodecFake+ decoder domain: `time` (waveform) or `frequency` (spectrum + inverse STFT).
        aliases (tuple[str, ...]): other names accepted by `spec()` and `load()` (short names, CodecFake+ CoRS names).
        notes (str): what the dataset card should say about this config.
        backend (str): what runs the network: `transformers` (its model class), `codecfake-hf` (this package's own
            modules), or a plugin's own name.
        license (str): licence of the official weights, as the Hub's `license:` field spells it (`mit`,
            `cc-by-nc-4.0`, ...); `""` where the checkpoint states none.
        paper_order (int | None): position in the CodecFake paper's table (Wu et al., Interspeech 2024), 0-based;
            None for configs beyond the paper. The registry lists the paper's configs first, in that order.
        output_rate (int | None): the decoder's output rate where it differs from `sample_rate` (NeuCodec: 16 kHz
            in, 24 kHz out); None: the same.
        public_sets (tuple[str, ...]): the public codec-deepfake datasets whose fakes include this config
            (`PUBLIC_SETS`); empty: none does, and codecfake-hf's build is the first data of it.
        codebook_strides (tuple[int, ...]): per codebook, how many `hop_length` frames one of its codes spans, for
            codecs whose codebooks run at different rates (SNAC 24 kHz: (4, 2, 1)); empty: every codebook at
            `frame_rate`. The bitrate is then sum over codebooks of log2(codebook_size) × frame_rate / stride.
        codebook_sizes (tuple[int, ...]): per codebook, its entries, for codecs whose codebooks differ in size
            (LLM-Codec: (3248, 32000, 32000)); empty: every codebook has `codebook_size`, else `codebook_size` is
            their largest. Each codebook then counts log2 of its own size in the bitrate (`bits_per_frame`).
        weights_page (str | None): for a release whose official weights are not on the Hub (`hub_repo` None), the
            public page they are published on (a Google Drive file, a GitHub release); the error that asks for
            them names it.
    """

    name: str
    family: str
    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int
    bitrate_kbps: float
    hub_repo: str | None
    hub_files: tuple[str, ...]
    length_rule: str
    quantizer: str
    auxiliary: str
    decoder: str
    aliases: tuple[str, ...] = ()
    notes: str = ""
    backend: str = "codecfake-hf"
    license: str = ""
    paper_order: int | None = None
    output_rate: int | None = None
    public_sets: tuple[str, ...] = ()
    codebook_strides: tuple[int, ...] = ()
    codebook_sizes: tuple[int, ...] = ()
    weights_page: str | None = None

    def __post_init__(self) -> None:
        if (self.hub_repo is None) == (self.weights_page is None):
            raise ValueError(f"CodecSpec {self.name!r}: hub_repo={self.hub_repo!r}, "
                             f"weights_page={self.weights_page!r}; name the Hub repository of the official "
                             "weights, or (weights published elsewhere only) the page they are published on, not "
                             "both.")
        for field_name, choices in TAXONOMY.items():
            if getattr(self, field_name) not in choices:
                raise ValueError(f"CodecSpec {self.name!r}: {field_name}={getattr(self, field_name)!r}; "
                                 f"valid: {', '.join(choices)}.")
        unknown = [name for name in self.public_sets if name not in PUBLIC_SETS]
        if unknown:
            raise ValueError(f"CodecSpec {self.name!r}: public_sets {unknown}; known: {', '.join(PUBLIC_SETS)}.")
        if not self.backend:
            raise ValueError(f"CodecSpec {self.name!r}: `backend` is empty; name what runs the network.")
        if self.output_rate is not None and self.output_rate <= 0:
            raise ValueError(f"CodecSpec {self.name!r}: output_rate={self.output_rate}; a rate in Hz, or None for the "
                             "input's.")
        continuous = self.quantizer == "continuous"
        if continuous != (self.n_codebooks == 0):
            raise ValueError(f"CodecSpec {self.name!r}: n_codebooks={self.n_codebooks} with quantizer="
                             f"{self.quantizer!r}; continuous latents have no codebooks, quantised ones at least one.")
        if self.codebook_strides and (len(self.codebook_strides) != self.n_codebooks
                                      or min(self.codebook_strides) < 1):
            raise ValueError(f"CodecSpec {self.name!r}: codebook_strides={self.codebook_strides}; one stride >= 1 per "
                             f"codebook ({self.n_codebooks}), or none.")
        if self.codebook_sizes and (len(self.codebook_sizes) != self.n_codebooks or min(self.codebook_sizes) < 2
                                    or max(self.codebook_sizes) != self.codebook_size):
            raise ValueError(f"CodecSpec {self.name!r}: codebook_sizes={self.codebook_sizes}; one size >= 2 per "
                             f"codebook ({self.n_codebooks}), the largest being codebook_size={self.codebook_size}, "
                             "or none.")

    @property
    def frame_rate(self) -> float:
        """Code frames per second (DAC 44 kHz: 44100 / 512 ≈ 86.13)."""
        return self.sample_rate / self.hop_length

    @property
    def codes_per_frame(self) -> float:
        """Codes per `hop_length` frame over all codebooks: `n_codebooks`, or sum of 1 / stride (SNAC 24 kHz: 1.75)."""
        if not self.codebook_strides:
            return float(self.n_codebooks)
        return sum(1 / stride for stride in self.codebook_strides)

    @property
    def bits_per_frame(self) -> float:
        """Bits per `hop_length` frame over all codebooks: sum of log2(size) / stride (`codes_per_frame` ×
        log2(codebook_size) where the codebooks share one size); the bitrate is this × `frame_rate`."""
        if not self.n_codebooks:
            return 0.0
        sizes = self.codebook_sizes or (self.codebook_size,) * self.n_codebooks
        strides = self.codebook_strides or (1,) * self.n_codebooks
        return sum(math.log2(size) / stride for size, stride in zip(sizes, strides, strict=True))

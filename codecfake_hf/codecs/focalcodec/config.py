"""FocalCodec's config: the `config.json` of its Hub repositories, the keyword arguments of `FocalCodec(...)`.

The file names a registered module and its keyword arguments for each of the five stages (`encoder_name` +
`encoder_config`, `compressor_*`, `quantizer_*`, `decompressor_*`, `decoder_*`), which upstream passes as they are
to the constructors (`FocalCodec.from_config`). Each section is one dataclass here whose fields are those
constructor arguments, with upstream's defaults (v0.0.1, the code the three non-causal checkpoints were released
with). FocalCodec v0.0.2 added streaming arguments (`causal`, window and lookahead sizes, caches); they are accepted
where they describe the non-causal model these checkpoints are (`causal` false) and ignored otherwise, so a file in
either version's vocabulary reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

# v0.0.2's streaming-only constructor arguments: they shape no weight of a non-causal model.
STREAMING_KEYS = ("causal", "window_size", "lookahead_size", "max_cached_steps", "use_flex_attention",
                  "last_window_size", "tanhscale_init", "chunk_size")


def _check_causal(section: Mapping[str, Any], what: str) -> None:
    if section.get("causal", False) is not False:
        raise CodecConfigError(f"{what}: `causal` is {section['causal']!r}; this codec runs FocalCodec's non-causal "
                               "checkpoints (the streaming ones have other modules).")


@dataclass(frozen=True)
class WavLMConf:
    """`WavLM(...)`: the first layers of WavLM-large (its convolutional front end and transformer).

    Args:
        hidden_dims, kernel_sizes, strides (tuple[int, ...]): the front end's convolutions (7 of them; 320 samples a
            frame).
        num_layers (int): transformer layers (6: WavLM-large's first six).
        dim, ffn_dim, num_heads (int): transformer width, feed-forward width, heads.
        num_buckets, max_distance (int): the relative position buckets (gated relative position bias).
        dropout (float): training only.
        conv_pos, conv_pos_groups (int): the convolutional positional embedding's kernel and groups.
    """

    hidden_dims: tuple[int, ...] = (512,) * 7
    kernel_sizes: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    strides: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    num_layers: int = 6
    dim: int = 1024
    ffn_dim: int = 4096
    num_heads: int = 16
    num_buckets: int = 320
    max_distance: int = 800
    dropout: float = 0.0
    conv_pos: int = 128
    conv_pos_groups: int = 16

    TRAINING_KEYS = STREAMING_KEYS

    def __post_init__(self) -> None:
        if not len(self.hidden_dims) == len(self.kernel_sizes) == len(self.strides):
            raise CodecConfigError(f"FocalCodec config: encoder_config has {len(self.hidden_dims)} hidden_dims, "
                                   f"{len(self.kernel_sizes)} kernel_sizes and {len(self.strides)} strides; one each "
                                   "per convolution.")
        if self.dim % self.num_heads or self.dim % self.conv_pos_groups:
            raise CodecConfigError(f"FocalCodec config: encoder_config `dim` {self.dim} is not a multiple of "
                                   f"num_heads ({self.num_heads}) and conv_pos_groups ({self.conv_pos_groups}).")

    @property
    def hop_length(self) -> int:
        return math.prod(self.strides)


@dataclass(frozen=True)
class FocalConf:
    """`FocalEncoder(...)` (the compressor) or `FocalDecoder(...)` (the decompressor): focal modulation blocks.

    Args:
        input_dim, output_dim (int): widths in and out (the compressor: WavLM's 1024 -> 13 latent dimensions).
        hidden_dims (tuple[int, ...]): each block's width.
        downscale_factors / upscale_factors (tuple[int, ...]): each block's stride (1: none); a compressor has the
            first, a decompressor the second.
        focal_window, focal_level, focal_factor (int): the focal modulation's depthwise kernels: level `k` has
            `focal_factor * k + focal_window` taps.
        dropout (float): training only.
        use_post_norm, use_layerscale, normalize_modulator (bool), layerscale_init (float): block options.
    """

    input_dim: int
    output_dim: int
    hidden_dims: tuple[int, ...]
    downscale_factors: tuple[int, ...] | None = None
    upscale_factors: tuple[int, ...] | None = None
    focal_window: int = 7
    focal_level: int = 2
    focal_factor: int = 2
    dropout: float = 0.0
    use_post_norm: bool = False
    use_layerscale: bool = False
    layerscale_init: float = 1e-4
    normalize_modulator: bool = False

    TRAINING_KEYS = STREAMING_KEYS

    @property
    def factors(self) -> tuple[int, ...]:
        found = self.downscale_factors if self.downscale_factors is not None else self.upscale_factors
        return found if found is not None else (1,) * len(self.hidden_dims)

    def __post_init__(self) -> None:
        if self.downscale_factors is not None and self.upscale_factors is not None:
            raise CodecConfigError("FocalCodec config: a focal section has both downscale_factors and "
                                   "upscale_factors; the compressor takes the first, the decompressor the second.")
        if len(self.factors) != len(self.hidden_dims):
            raise CodecConfigError(f"FocalCodec config: {len(self.hidden_dims)} hidden_dims but {len(self.factors)} "
                                   "scale factors; one per block.")


@dataclass(frozen=True)
class QuantizerConf:
    """`BinarySphericalQuantizer(codebook_size)`: log2(codebook_size) sign bits per frame.

    Args:
        codebook_size (int): a power of two (8192: 13 bits).
    """

    codebook_size: int = 8192

    def __post_init__(self) -> None:
        if self.codebook_size < 2 or self.codebook_size & (self.codebook_size - 1):
            raise CodecConfigError(f"FocalCodec config: quantizer_config `codebook_size` {self.codebook_size} is not "
                                   "a power of two (binary spherical quantisation has one bit per dimension).")

    @property
    def dim(self) -> int:
        return int(math.log2(self.codebook_size))


@dataclass(frozen=True)
class VocosConf:
    """`Vocos(...)`: a ConvNeXt backbone and an ISTFT head.

    Args:
        input_channels (int): the features' width (WavLM's 1024); v0.0.2 spells it `input_dim`.
        num_layers, dim, ffn_dim, kernel_size, padding (int): the ConvNeXt backbone.
        layerscale_init (float | None): the blocks' layer scale at initialisation (None: 1 / num_layers); a
            parameter, so only its shape matters here.
        n_fft, hop_length (int): the ISTFT head (window n_fft, "same" padding).
    """

    input_channels: int = 1024
    num_layers: int = 8
    dim: int = 512
    ffn_dim: int = 1536
    kernel_size: int = 7
    padding: int = 3
    layerscale_init: float | None = None
    n_fft: int = 1024
    hop_length: int = 320

    TRAINING_KEYS = STREAMING_KEYS

    def __post_init__(self) -> None:
        if self.n_fft < self.hop_length or (self.n_fft - self.hop_length) % 2:
            raise CodecConfigError(f"FocalCodec config: decoder_config n_fft {self.n_fft} and hop_length "
                                   f"{self.hop_length}: the ISTFT trims (n_fft - hop) / 2 samples each side, which "
                                   "must be a whole number.")


# The registered module names of each stage upstream's REGISTRY knows for these checkpoints.
STAGES = {"encoder": ("WavLM", WavLMConf), "compressor": ("FocalEncoder", FocalConf),
          "quantizer": ("BinarySphericalQuantizer", QuantizerConf), "decompressor": ("FocalDecoder", FocalConf),
          "decoder": ("Vocos", VocosConf)}


@dataclass(frozen=True)
class FocalCodecConfig:
    """A FocalCodec `config.json`, one section per stage (see `STAGES`).

    Args:
        encoder, compressor, quantizer, decompressor, decoder: the sections, read from `<stage>_config`.
    """

    encoder: WavLMConf
    compressor: FocalConf
    quantizer: QuantizerConf
    decompressor: FocalConf
    decoder: VocosConf

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "FocalCodec config") -> FocalCodecConfig:
        """Read a `config.json` mapping: `<stage>_name` must be the module these checkpoints use, `<stage>_config`
        its arguments (unknown ones refused, naming them)."""
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
        known = {f"{stage}_{part}" for stage in STAGES for part in ("name", "config")}
        unknown = sorted(set(config) - known)
        if unknown:
            raise CodecConfigError(f"{what}: unknown option(s) {', '.join(map(repr, unknown))}; known: "
                                   f"{', '.join(sorted(known))}.")
        sections = {}
        for stage, (module, conf) in STAGES.items():
            name = config.get(f"{stage}_name", module)
            if name != module:
                raise CodecConfigError(f"{what}: `{stage}_name` is {name!r}; the non-causal FocalCodec checkpoints "
                                       f"use {module!r} (other modules are not implemented here).")
            section = config.get(f"{stage}_config", {})
            if not isinstance(section, Mapping):
                raise CodecConfigError(f"{what}: `{stage}_config` must be a mapping, got {section!r}.")
            _check_causal(section, f"{what} `{stage}_config`")
            if conf is VocosConf and "input_dim" in section:  # v0.0.2's name of the same argument
                section = {("input_channels" if k == "input_dim" else k): v for k, v in section.items()}
            sections[stage] = from_config(conf, section, what=f"{what} `{stage}_config`")
        made = cls(**sections)
        made.check()
        return made

    def check(self) -> None:
        """The widths that must agree between stages."""
        pairs = (("encoder.dim", self.encoder.dim, "compressor.input_dim", self.compressor.input_dim),
                 ("compressor.output_dim", self.compressor.output_dim, "quantizer bits", self.quantizer.dim),
                 ("decompressor.input_dim", self.decompressor.input_dim, "quantizer bits", self.quantizer.dim),
                 ("decompressor.output_dim", self.decompressor.output_dim, "decoder.input_channels",
                  self.decoder.input_channels))
        for left, a, right, b in pairs:
            if a != b:
                raise CodecConfigError(f"FocalCodec config: {left} ({a}) differs from {right} ({b}).")
        if self.compressor.downscale_factors is None and self.compressor.upscale_factors is not None:
            raise CodecConfigError("FocalCodec config: the compressor takes downscale_factors, not upscale_factors.")
        if self.decompressor.downscale_factors is not None:
            raise CodecConfigError("FocalCodec config: the decompressor takes upscale_factors, not downscale_factors.")
        down, up = math.prod(self.compressor.factors), math.prod(self.decompressor.factors)
        if down != up:
            raise CodecConfigError(f"FocalCodec config: the compressor downscales by {down} but the decompressor "
                                   f"upscales by {up}.")
        if self.encoder.hop_length != self.decoder.hop_length:
            raise CodecConfigError(f"FocalCodec config: the encoder's frames are {self.encoder.hop_length} samples, "
                                   f"the decoder's {self.decoder.hop_length}.")

    @property
    def hop_length(self) -> int:
        """Input samples per token: the encoder's frame times the compressor's downscaling."""
        return self.encoder.hop_length * math.prod(self.compressor.factors)


def official_config(downscale: tuple[int, ...], upscale: tuple[int, ...]) -> dict[str, Any]:
    """A FocalCodec `config.json` with the released architecture and these scale factors, as v0.0.1's arguments.

    Sources: the widths and depths are v0.0.1's constructor defaults, which FocalCodec's SpeechBrain recipe
    (recipes/LibriTTS/focalcodec/hparams/bsq.yaml, vocos.yaml) repeats for the 50 Hz model (WavLM-large's first 6
    layers, compressor 1024/512/256 -> 13 bits, Vocos 8 x 512). The focal window and factor are v0.0.1's 7 and 2,
    not the recipe's 14 and 4 (v0.0.2's defaults, for its streaming models): v0.0.1 pads each depthwise kernel by
    `kernel // 2`, so an even window gives a context one frame longer than its gates and fails, and these
    checkpoints were released to run on v0.0.1. Not compared with the Hub's `config.json` (no Hub access when this
    was written); `download` reads the real file.
    """
    focal = {"focal_window": 7, "focal_level": 2, "focal_factor": 2, "dropout": 0.0, "use_post_norm": False,
             "use_layerscale": False, "layerscale_init": 0.0001, "normalize_modulator": False}
    return {
        "encoder_name": "WavLM",
        "encoder_config": {"hidden_dims": [512] * 7, "kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
                           "strides": [5, 2, 2, 2, 2, 2, 2], "num_layers": 6, "dim": 1024, "ffn_dim": 4096,
                           "num_heads": 16, "num_buckets": 320, "max_distance": 800, "dropout": 0.0,
                           "conv_pos": 128, "conv_pos_groups": 16},
        "compressor_name": "FocalEncoder",
        "compressor_config": {"input_dim": 1024, "output_dim": 13, "hidden_dims": [1024, 512, 256],
                              "downscale_factors": list(downscale), **focal},
        "quantizer_name": "BinarySphericalQuantizer",
        "quantizer_config": {"codebook_size": 8192},
        "decompressor_name": "FocalDecoder",
        "decompressor_config": {"input_dim": 13, "output_dim": 1024, "hidden_dims": [256, 512, 1024],
                                "upscale_factors": list(upscale), **focal},
        "decoder_name": "Vocos",
        "decoder_config": {"input_channels": 1024, "num_layers": 8, "dim": 512, "ffn_dim": 1536, "kernel_size": 7,
                           "padding": 3, "layerscale_init": None, "n_fft": 1024, "hop_length": 320},
    }

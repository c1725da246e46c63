"""SNAC (hubertsiuzdak/snac_24khz, _32khz, _44khz): multi-scale residual VQ, as the `snac` package runs it.

The official repositories hold `config.json` (the keyword arguments of `snac.SNAC`) and `pytorch_model.bin` (a plain
state dict); `download` reads both through the Hub cache and the network of `model.py` loads the file strictly.

The pipeline is upstream's one-call reconstruction, `SNAC.forward`: the input is zero-padded to a multiple of
hop × lcm(coarsest VQ stride, attention window) (`preprocess`), encoded, quantised, decoded, and cut back to the
input length. Each utterance runs alone: the non-causal convolutions and the attention windows would see the
padding of a batch where alone they see the utterance's own zero padding.

The decoder's noise blocks add `noise * W x` with standard normal noise that upstream draws from torch's global
generator at inference. Here every utterance draws it from a CPU generator seeded with the codec's noise seed (the
build's `seed` for random weights, else `registry.weight_seed(name)`; the `noise_seed` option overrides it), in
upstream's order, so an utterance's output depends neither on the order of utterances nor on the device, and a
rerun gives the same rows. Upstream after `torch.manual_seed(noise_seed)` draws the same numbers (the fixtures are
made that way).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn.utils import parametrize

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..config import from_config
from ..spec import CodecSpec
from .model import SNAC

# The repositories' config.json files (hubertsiuzdak/snac_*khz, as published; 300/301/301 bytes). snac_24khz's
# values are the published config's (the snac package builds 19,842,914 parameters from them, as the model card's
# 19.8 M); the 32 and 44.1 kHz ones build the models of the model card
# (54.5 M parameters, 218 MB files), with hop 384 (10/21/42/83 Hz and 14/29/57/115 Hz codebooks).
_MUSIC = {"encoder_dim": 64, "encoder_rates": [2, 3, 8, 8], "decoder_dim": 1536, "decoder_rates": [8, 8, 3, 2],
          "attn_window_size": 32, "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [8, 4, 2, 1],
          "noise": True, "depthwise": True}
OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "hubertsiuzdak/snac_24khz": {
        "sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8], "decoder_dim": 1024,
        "decoder_rates": [8, 8, 4, 2], "attn_window_size": None, "codebook_size": 4096, "codebook_dim": 8,
        "vq_strides": [4, 2, 1], "noise": True, "depthwise": True},
    "hubertsiuzdak/snac_32khz": {"sampling_rate": 32000, **_MUSIC},
    "hubertsiuzdak/snac_44khz": {"sampling_rate": 44100, **_MUSIC},
}


@dataclass(frozen=True)
class SnacConfig:
    """The keys of SNAC's `config.json` (the keyword arguments of `snac.SNAC`); every official file holds them all
    but `latent_dim` (None: encoder_dim × 2^len(encoder_rates), as upstream derives it).

    Args:
        sampling_rate (int): audio rate in Hz.
        encoder_dim (int): width of the encoder's first convolution (doubled at each stride).
        encoder_rates (tuple[int, ...]): encoder strides; their product is the hop.
        decoder_dim (int): width of the decoder's first convolution (halved at each rate).
        decoder_rates (tuple[int, ...]): decoder upsampling rates.
        attn_window_size (int | None): local attention window at the latent rate; None: no attention.
        codebook_size (int): entries per codebook.
        codebook_dim (int): dimension the VQ searches in (a projection of the latent).
        vq_strides (tuple[int, ...]): per codebook, latent frames per code (coarsest first).
        noise (bool): whether the decoder blocks add noise.
        depthwise (bool): depthwise (grouped) convolutions.
        latent_dim (int | None): the latent's width; None: derived.
    """

    sampling_rate: int
    encoder_dim: int
    encoder_rates: tuple[int, ...]
    decoder_dim: int
    decoder_rates: tuple[int, ...]
    attn_window_size: int | None
    codebook_size: int
    codebook_dim: int
    vq_strides: tuple[int, ...]
    noise: bool
    depthwise: bool
    latent_dim: int | None = None

    def __post_init__(self) -> None:
        for key in ("encoder_rates", "decoder_rates", "vq_strides"):
            if not getattr(self, key) or min(getattr(self, key)) < 1:
                raise CodecConfigError(f"SNAC config: `{key}` must be a non-empty list of positive integers, got "
                                       f"{list(getattr(self, key))}.")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "SNAC config") -> SnacConfig:
        return from_config(cls, config, what=what)


class SnacCodec(Codec):
    """SNAC as `SNAC.forward` runs it (pad, encode, quantise, decode, cut to the input length), one utterance at a
    time, its decoder noise drawn from a generator seeded with `noise_seed` for each utterance.

    Args:
        spec (CodecSpec): the registry entry.
        model (SNAC): the network.
        runtime (Runtime): device, precision and random-weight seed.
        noise_seed (int): seed of each utterance's decoder noise.
    """

    # Each utterance runs alone: the encoder's convolutions are not causal and its attention windows are fixed
    # blocks, so inside a zero-padded batch an item's last frames would see the batch's padding.
    batch_exact = False

    def __init__(self, spec: CodecSpec, model: SNAC, runtime: Runtime | None = None, *, noise_seed: int = 0):
        super().__init__(spec, model, runtime)
        self.noise_seed = int(noise_seed)

    def min_input_length(self) -> int:
        return 1  # any input is zero-padded up to whole frames and windows first

    def _seeded_noise(self) -> torch.Generator:
        generator = torch.Generator().manual_seed(self.noise_seed)
        for block in self.model.noise_blocks():
            block.generator = generator
        return generator

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> list[torch.Tensor]:
        """One utterance `[T]` -> codes, one `[ceil(T / pad) * pad / hop / stride]` tensor per codebook."""
        audio = torch.as_tensor(wave, dtype=torch.float32).reshape(1, 1, -1).to(self.device)
        with parametrize.cached():
            return [codes[0] for codes in self.model.encode(audio)]

    @torch.inference_mode()
    def decode(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Codes of one utterance -> `[frames * hop]`, the noise drawn from `noise_seed`."""
        self._seeded_noise()
        with parametrize.cached():
            return self.model.decode([c[None].to(self.device) for c in codes])[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        with parametrize.cached():
            for i, n in enumerate(int(n) for n in lengths):
                self._seeded_noise()
                audio, _ = self.model(waves[i, :n].reshape(1, 1, n))
                out[i, :n] = audio[0, 0]
        return out


# -- the family contract (see registry.load) ------------------------------------------------------------------------

OPTIONS: dict[str, str] = {
    "noise_seed": "seed of the decoder's noise, drawn anew for each utterance (default: the build's random-weight "
                  "seed, else registry.weight_seed(name))",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official `config.json` of `spec`'s repository."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.hub_repo])


def _model(config: SnacConfig) -> SNAC:
    values = asdict(config)
    return SNAC(**values)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `pytorch_model.bin` (a plain state dict, read with `weights_only=True`) of the repository,
    the file checked against the config's architecture here, where its path is known."""
    config_name, checkpoint_name = spec.hub_files
    config_path = weights.hub_file(spec.hub_repo, config_name, codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name, required=("sampling_rate",),
                                      what="a SNAC config.json")
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    state_dict = weights.flatten(weights.load_checkpoint(checkpoint_path, codec=spec.name))
    architecture = SnacConfig.from_config(config, what=f"{spec.name}: config file {config_path}")
    weights.check_against(functools.partial(_model, architecture), state_dict,
                          source=f"{spec.name}: checkpoint file {checkpoint_path}")
    return config, state_dict


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *, runtime: Runtime,
          noise_seed: int | None = None) -> SnacCodec:
    """The codec from an official-format config and state dict (None: random weights).

    Args:
        noise_seed: seed of each utterance's decoder noise (default: `runtime.seed` for random weights, else
            `registry.weight_seed(spec.name)`).
    """
    architecture = SnacConfig.from_config(config)
    model = _model(architecture)
    found = (architecture.sampling_rate, model.hop_length, len(architecture.vq_strides))
    expected = (spec.sample_rate, spec.hop_length, spec.n_codebooks)
    if found != expected:
        raise CodecConfigError(f"{spec.name}: the config describes {found[0]} Hz, hop {found[1]}, {found[2]} "
                               f"codebooks; this codec runs at {expected[0]} Hz, hop {expected[1]}, {expected[2]} "
                               "codebooks.")
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, int)):
        raise CodecConfigError(f"{spec.name}: `noise_seed` must be an integer, got {noise_seed!r}.")
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    if noise_seed is None:
        from ..registry import weight_seed  # here: the registry imports this family while it loads

        noise_seed = runtime.seed if runtime.seed is not None else weight_seed(spec.name)
    return SnacCodec(spec, model, runtime, noise_seed=noise_seed)


__all__ = ["OFFICIAL_CONFIGS", "OPTIONS", "SnacCodec", "SnacConfig", "build", "default_config", "download"]

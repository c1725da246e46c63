"""The Higgs Audio v2 tokenizer at 24 kHz, 25 Hz, RVQ of 1024-entry codebooks (`model.HiggsAudioV2Tokenizer`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from ..spec import CodecSpec
    from .model import HiggsAudioV2Tokenizer

# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {
    "bandwidth": "kbps, one of the config's target_bandwidths 0.5, 1, 1.5, 2 (default: the config's bitrate)",
}

# The released model as transformers' convert_higgs_audio_v2_tokenizer_to_hf.py builds it (its DacConfig; HuBERT base
# is HiggsAudioV2TokenizerConfig's default semantic model), with the bandwidths of its 8 codebooks: transformers 5.23's
# class default (0.5, 1, 1.5, 2, 4) would make 16 quantizers, where its docstring, the checkpoint and Higgs Audio v2's
# 8 audio codebooks have 8 (0.25 kbps each at 25 Hz).
OFFICIAL_BANDWIDTHS = [0.5, 1, 1.5, 2]
OFFICIAL_ACOUSTIC = {"encoder_hidden_size": 64, "downsampling_ratios": [8, 5, 4, 2, 3], "decoder_hidden_size": 1024,
                     "upsampling_ratios": [8, 5, 4, 2, 3], "hidden_size": 256}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official config.json's values (see `OFFICIAL_ACOUSTIC`); `download` reads the real file."""
    from transformers import DacConfig, HiggsAudioV2TokenizerConfig

    config = HiggsAudioV2TokenizerConfig(target_bandwidths=OFFICIAL_BANDWIDTHS,
                                         acoustic_model_config=DacConfig(**OFFICIAL_ACOUSTIC).to_dict())
    return transformers_weights.config_values(config)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the transformers conversion (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> HiggsAudioV2Tokenizer:
    from transformers import HiggsAudioV2TokenizerConfig

    from .model import HiggsAudioV2Tokenizer

    higgs_config = transformers_weights.model_config(HiggsAudioV2TokenizerConfig, config,
                                                     what="Higgs Audio v2 tokenizer config")
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    higgs_config.semantic_model_config._attn_implementation = "eager"
    return HiggsAudioV2Tokenizer(higgs_config)


def load(model: HiggsAudioV2Tokenizer, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Strict load, less the keys transformers' `from_pretrained` ignores in this checkpoint (HuBERT's mask embedding,
    which the tokenizer's semantic model, built with `mask_time_prob=0`, does not have)."""
    kept = {k: v for k, v in state_dict.items() if k not in model.IGNORED_CHECKPOINT_KEYS}
    transformers_weights.load(model, kept, source=source)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
    bandwidth: float | None = None,
) -> HiggsAudioV2Codec:
    """Build the tokenizer from a transformers config and load `state_dict` (checkpoint layout) strictly.

    Args:
        spec: the registry entry.
        config: transformers `HiggsAudioV2TokenizerConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights (codebooks:
            `transformers_weights.draw_codebooks`).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `config["target_bandwidths"]` (default: the spec's bitrate).
    """
    model = make_model(config)
    bandwidth = spec.bitrate_kbps if bandwidth is None else bandwidth
    bandwidth_arg = transformers_weights.checked_bandwidth(spec.name, bandwidth, model.config.target_bandwidths)
    return transformers_weights.build_codec(HiggsAudioV2Codec, spec, model, state_dict, runtime, loader=load,
                                            bandwidth=bandwidth_arg)


class HiggsAudioV2Codec(Codec):
    """The tokenizer as its feature extractor and `forward` run it, one utterance at a time.

    transformers' `DacFeatureExtractor(hop_length=960)` pads the waveform with zeros to whole 960-sample frames;
    `encode` at the bandwidth, `decode`, and the result cut to the input length. Each utterance runs alone: the
    semantic model (HuBERT base) group-normalises its first convolution's output over time and attends over the whole
    utterance, so batch padding would change every frame.

    Args:
        spec: the registry entry.
        model: a `model.HiggsAudioV2Tokenizer`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `model.config.target_bandwidths` (0.25 kbps per codebook).
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: the semantic model group-normalises over time and attends over the "
                  "whole utterance, so batch padding would change every frame")

    def __init__(self, spec: CodecSpec, model: HiggsAudioV2Tokenizer, runtime: Runtime | None = None, *,
                 bandwidth: float = 2.0):
        super().__init__(spec, model, runtime)
        self.bandwidth = bandwidth
        self.hop_length = int(model.config.hop_length)

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[K, ceil(T / 960)]`, padded as the feature extractor pads."""
        padded = torch.nn.functional.pad(wave.to(self.device), (0, -wave.shape[-1] % self.hop_length))
        return self.model.encode(padded[None, None, :], bandwidth=self.bandwidth)[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[K, F]` -> audio `[F * 960]` at 24 kHz."""
        return self.model.decode(codes[None].to(self.device))[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return transformers_weights.resynthesize_alone(self, waves, lengths)

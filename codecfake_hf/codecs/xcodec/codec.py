"""X-Codec 16 kHz, 50 Hz, RVQ of 1024-entry codebooks, on transformers' `XcodecModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from transformers import XcodecModel

    from ..spec import CodecSpec

# The semantic model of each released hf-audio/xcodec-* checkpoint (their model cards' table): HuBERT base for
# the LibriSpeech and general-audio ones, WavLM base+ for the MLS ones. Both are "base" size (768 wide, 12 layers),
# which transformers' HubertConfig/WavLMConfig defaults are.
SEMANTIC_MODEL = {
    "hf-audio/xcodec-hubert-librispeech": "hubert",
    "hf-audio/xcodec-wavlm-mls": "wavlm",
    "hf-audio/xcodec-wavlm-more-data": "wavlm",
    "hf-audio/xcodec-hubert-general": "hubert",
    "hf-audio/xcodec-hubert-general-balanced": "hubert",
}


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {
    "bandwidth": "kbps, one of the config's target_bandwidths 0.5, 1, 1.5, 2, 4 (default: the config's bitrate)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The config of `spec.hub_repo`: transformers' `XcodecConfig` defaults with that checkpoint's semantic model.

    Not compared with the Hub's config.json (no Hub access when this was written); `download` reads the real file.
    """
    from transformers import AutoConfig, XcodecConfig

    semantic = AutoConfig.for_model(SEMANTIC_MODEL.get(spec.hub_repo, "hubert")).to_dict()
    return transformers_weights.config_values(XcodecConfig(semantic_model_config=semantic))


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the hf-audio/xcodec-* repository (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> XcodecModel:
    from transformers import XcodecConfig, XcodecModel

    xcodec_config = transformers_weights.model_config(XcodecConfig, config, what="X-Codec config")
    xcodec_config.semantic_model_config._attn_implementation = "eager"
    return XcodecModel(xcodec_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
    bandwidth: float | None = None,
) -> XcodecCodec:
    """Build `XcodecModel` from a transformers config and load `state_dict` (checkpoint layout) strictly.

    Args:
        spec: the registry entry.
        config: transformers `XcodecConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights (codebooks:
            `transformers_weights.draw_codebooks`).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `config["target_bandwidths"]` (default: the spec's bitrate).
    """
    model = make_model(config)
    bandwidth = spec.bitrate_kbps if bandwidth is None else bandwidth
    bandwidth_arg = transformers_weights.checked_bandwidth(spec.name, bandwidth, model.config.target_bandwidths)
    return transformers_weights.build_codec(XcodecCodec, spec, model, state_dict, runtime, bandwidth=bandwidth_arg)


class XcodecCodec(Codec):
    """X-Codec as its feature extractor and `XcodecModel.forward` run it, one utterance at a time.

    The feature extractor (transformers' `DacFeatureExtractor`, `hop_length` 320) pads the waveform with zeros up
    to a whole number of 320-sample frames; `forward` decodes and the result is cut back to the input length.
    Each utterance runs alone: the semantic model (HuBERT/WavLM base) normalises its first convolution's output
    over time (group norm) and attends over the whole utterance, so batch padding would change every frame.

    Args:
        spec: the registry entry.
        model: a transformers `XcodecModel`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `model.config.target_bandwidths` (0.5 kbps per codebook).
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: the semantic model group-normalises over time and attends over the "
                  "whole utterance, so batch padding would change every frame")

    def __init__(self, spec: CodecSpec, model: XcodecModel, runtime: Runtime | None = None, *,
                 bandwidth: float = 4.0):
        super().__init__(spec, model, runtime)
        self.bandwidth = bandwidth
        self.hop_length = int(model.config.hop_length)

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[K, ceil(T / 320)]`, padded as the feature extractor pads."""
        n = wave.shape[-1]
        padded = torch.nn.functional.pad(wave.to(self.device), (0, -n % self.hop_length))
        return self.model.encode(padded[None, None, :], bandwidth=self.bandwidth, return_dict=False)[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[K, F]` -> audio `[F * 320]` at 16 kHz."""
        return self.model.decode(codes[None].to(self.device), return_dict=False)[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return transformers_weights.resynthesize_alone(self, waves, lengths)

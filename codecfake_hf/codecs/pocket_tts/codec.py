"""Pocket TTS's audio tokenizer at 24 kHz, 12.5 Hz continuous latents, on transformers' model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from transformers import PocketTTSAudioTokenizerModel

    from ..spec import CodecSpec

# Keyword options of `build` (checked by `registry.load`): none.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """transformers' `PocketTTSAudioTokenizerConfig` defaults: the `mimi` section of pocket-tts's english.yaml (the
    facts of tests/codecs/test_pocket_tts.py); `download` reads the real file."""
    from transformers import PocketTTSAudioTokenizerConfig

    return transformers_weights.config_values(PocketTTSAudioTokenizerConfig())


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the transformers conversion (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> PocketTTSAudioTokenizerModel:
    from transformers import PocketTTSAudioTokenizerConfig, PocketTTSAudioTokenizerModel

    pocket_config = transformers_weights.model_config(PocketTTSAudioTokenizerConfig, config,
                                                      what="Pocket TTS audio tokenizer config")
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    pocket_config._attn_implementation = "eager"
    return PocketTTSAudioTokenizerModel(pocket_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
) -> PocketTTSCodec:
    """Build `PocketTTSAudioTokenizerModel` from a transformers config and load `state_dict` strictly.

    Args:
        spec: the registry entry.
        config: transformers `PocketTTSAudioTokenizerConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    return transformers_weights.build_codec(PocketTTSCodec, spec, make_model(config), state_dict, runtime)


class PocketTTSCodec(Codec):
    """The tokenizer as pocket-tts encodes (`encode_to_latent`: zeros up to whole 1920-sample frames) and
    transformers' model decodes; the output cut to the input length.

    Padded batches are exact: the model is causal throughout (left-padded convolutions with zero padding, causal
    attention in both transformers), so the zeros after an item never reach its output.

    Args:
        spec: the registry entry.
        model: a transformers `PocketTTSAudioTokenizerModel`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """

    def __init__(self, spec: CodecSpec, model: PocketTTSAudioTokenizerModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        self.frame_size = int(model.config.frame_size)

    def _padded(self, waves: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(waves, (0, -waves.shape[-1] % self.frame_size))[:, None, :]

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> latents `[ceil(T / 1920), 32]`."""
        return self.model.encode(self._padded(wave.to(self.device)[None])).latents[0]

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents `[F, 32]` -> audio `[F * 1920]` at 24 kHz."""
        return self.model.decode(latents[None].to(self.device)).audio_values[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        latents = self.model.encode(self._padded(waves)).latents
        return self.model.decode(latents).audio_values[:, 0]

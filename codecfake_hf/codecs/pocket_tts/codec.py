"""Pocket TTS audio tokenizer 24 kHz, 12.5 Hz continuous 32-dim latents, on `PocketTTSAudioTokenizerModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec

if TYPE_CHECKING:
    from transformers import PocketTTSAudioTokenizerModel

    from ..registry import CodecSpec


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The eustlb/pocket-tts-audio-tokenizer config: transformers' `PocketTTSAudioTokenizerConfig` defaults, which
    its docstring documents as that checkpoint's (not compared with the Hub's config.json offline)."""
    from transformers import PocketTTSAudioTokenizerConfig

    config = PocketTTSAudioTokenizerConfig().to_dict()
    for key in ("transformers_version", "_name_or_path", "dtype", "torch_dtype"):
        config.pop(key, None)
    return config


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the Hub repository (cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> PocketTTSAudioTokenizerModel:
    from transformers import PocketTTSAudioTokenizerConfig, PocketTTSAudioTokenizerModel

    model_config = PocketTTSAudioTokenizerConfig(**dict(config))
    model_config._attn_implementation = "eager"  # the same kernels whatever the input shape
    return PocketTTSAudioTokenizerModel(model_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    device: str | torch.device = "cpu",
    **options: Any,
) -> PocketTTSCodec:
    """Build the tokenizer from a transformers config and load `state_dict` (checkpoint layout) strictly."""
    if options:
        raise TypeError(f"{spec.name}: unknown option(s) {', '.join(sorted(options))}; this codec takes none.")
    model = make_model(config)
    if state_dict is not None:
        transformers_weights.load(model, state_dict, source=f"{spec.name} checkpoint")
    return PocketTTSCodec(spec, model, device=device)


class PocketTTSCodec(Codec):
    """Encode to continuous latents and decode, as `PocketTTSAudioTokenizerModel.forward` does after
    `EncodecFeatureExtractor`: the waveform is zero-padded to whole 1920-sample frames, the output cut back to the
    input length. Nothing is quantised: the latents go to the decoder as they are.

    Each utterance runs alone, as Mimi's do: the encoder pads the signal's end (replicate padding before its
    downsampling), which batch padding would change.

    Args:
        spec: the registry entry.
        model: a transformers `PocketTTSAudioTokenizerModel`.
        device: where the model runs.
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: the encoder pads the signal's end (replicate padding before its "
                  "downsampling), which batch padding would change")

    def __init__(self, spec: CodecSpec, model: PocketTTSAudioTokenizerModel, device: str | torch.device = "cpu"):
        super().__init__(spec, model, device)
        self.frame_size = int(model.config.frame_size)

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> latents `[ceil(T / 1920), latent_dim]`."""
        padded = torch.nn.functional.pad(wave.to(self.device), (0, -wave.shape[-1] % self.frame_size))
        return self.model.encode(padded[None, None, :]).latents[0]

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents `[F, latent_dim]` -> audio `[F * 1920]` at 24 kHz."""
        return self.model.decode(latents[None].to(self.device)).audio_values[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.decode(self.encode(waves[i, :n]))[:n]
            out[i, : audio.shape[0]] = audio
        return out

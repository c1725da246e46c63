"""VibeVoice's acoustic tokenizer at 24 kHz, 7.5 Hz continuous latents, on transformers' model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from transformers import VibeVoiceAcousticTokenizerModel

    from ..spec import CodecSpec

# Keyword options of `build` (checked by `registry.load`): none. Resynthesis decodes the latent mean (see the class).
OPTIONS: dict[str, str] = {}

# The feature extractor's settings in microsoft/VibeVoice-AcousticTokenizer (and every VibeVoice processor): the level
# each utterance is scaled to, the epsilon of that scaling, the frame the input is padded to (its hop).
TARGET_DB_FS = -25.0
EPS = 1e-6


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """transformers' `VibeVoiceAcousticTokenizerConfig` defaults, documented as microsoft/VibeVoice-1.5B's tokenizer
    (whose config is VibeVoice's own code's default, the facts of tests/codecs/test_vibevoice.py);
    `download` reads the real file."""
    from transformers import VibeVoiceAcousticTokenizerConfig

    return transformers_weights.config_values(VibeVoiceAcousticTokenizerConfig())


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of microsoft/VibeVoice-AcousticTokenizer (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> VibeVoiceAcousticTokenizerModel:
    from transformers import VibeVoiceAcousticTokenizerConfig, VibeVoiceAcousticTokenizerModel

    return VibeVoiceAcousticTokenizerModel(transformers_weights.model_config(
        VibeVoiceAcousticTokenizerConfig, config, what="VibeVoice acoustic tokenizer config"))


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
) -> VibeVoiceCodec:
    """Build `VibeVoiceAcousticTokenizerModel` from a transformers config and load `state_dict` strictly.

    Args:
        spec: the registry entry.
        config: transformers `VibeVoiceAcousticTokenizerConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    return transformers_weights.build_codec(VibeVoiceCodec, spec, make_model(config), state_dict, runtime)


def normalise(wave: torch.Tensor) -> torch.Tensor:
    """One utterance `[T]` as `VibeVoiceAcousticTokenizerFeatureExtractor` scales it: to `TARGET_DB_FS` RMS, then
    below full scale (the same float32 operations, in its order)."""
    rms = torch.sqrt(torch.mean(wave**2))
    wave = wave * (10 ** (TARGET_DB_FS / 20) / (rms + EPS))
    peak = torch.max(torch.abs(wave))
    return wave / (peak + EPS) if peak > 1.0 else wave


class VibeVoiceCodec(Codec):
    """The acoustic tokenizer as transformers' documentation runs it: feature extractor, `encode(sample=False)`,
    `decode`, cut to the input length.

    What resynthesis means for this σ-VAE: the decoder gets the encoder's latent mean. `encode(sample=True)` (the
    default of transformers' `encode`, and what VibeVoice's TTS does to its voice prompt) adds Gaussian noise whose
    scale is itself drawn per utterance from N(0, 0.625); a dataset row would then depend on a random draw, so this
    codec follows the documented reconstruction (`sample=False`, "for deterministic output") and draws nothing.

    Padded batches are exact: each utterance is scaled on its own samples, and the network is causal (left-padded
    convolutions, per-frame RMS norms), so the zeros after an item never reach its output.

    Args:
        spec: the registry entry.
        model: a transformers `VibeVoiceAcousticTokenizerModel`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """

    def __init__(self, spec: CodecSpec, model: VibeVoiceAcousticTokenizerModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        self.hop_length = int(model.config.hop_length)

    def prepare(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """A padded batch `[B, T]` -> the feature extractor's `input_values` `[B, 1, T']`: each item scaled on its own
        samples, zeros after it up to whole hops."""
        width = waves.shape[1] + (-waves.shape[1] % self.hop_length)
        out = torch.zeros(waves.shape[0], width, device=waves.device, dtype=waves.dtype)
        for i, n in enumerate(int(n) for n in lengths):
            out[i, :n] = normalise(waves[i, :n])
        return out[:, None, :]

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> latents `[ceil(T / 3200), 64]` (the mean)."""
        wave = wave.to(self.device)
        inputs = self.prepare(wave[None], torch.tensor([wave.shape[0]]))
        return self.model.encode(inputs, sample=False).latents[0]

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents `[F, 64]` -> audio `[F * 3200]` at 24 kHz."""
        return self.model.decode(latents[None].to(self.device)).audio[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        latents = self.model.encode(self.prepare(waves, lengths), sample=False).latents
        return self.model.decode(latents).audio[:, 0]

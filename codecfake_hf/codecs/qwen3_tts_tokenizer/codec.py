"""Qwen3-TTS's 12 Hz speech tokenizer (`Qwen/Qwen3-TTS-Tokenizer-12Hz`): the family contract and the `Codec`.

The Hub repository is transformers' layout (`config.json`, `model.safetensors`, and `preprocessor_config.json` for
transformers' `EncodecFeatureExtractor`, which passes one mono 24 kHz utterance through as it is). transformers 5.23
has no class for the model: the encoder is its `MimiModel` (decoder dropped), whose checkpoint keys (`encoder.*`, in
the flat layout transformers 4.57 saved) go through transformers' own renaming on load; the decoder is
`model.Decoder`, loaded strictly under `decoder.*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CheckpointError, CodecConfigError
from .. import transformers_weights, weights
from ..base import Codec, Runtime
from .config import OFFICIAL_CONFIG, TokenizerConfig
from .model import Qwen3TTSTokenizerModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

PREFIXES = ("encoder.", "decoder.")
UNLIMITED_WINDOW = 2**31 - 1


class Qwen3TTSTokenizerCodec(Codec):
    """`Qwen3TTSTokenizer.decode(Qwen3TTSTokenizer.encode(wav, sr=24000))` on one utterance: Mimi's encoder, the first
    16 of its 32 codebooks, cut to `ceil(T / 1920)` frames; the decoder in chunks of 300 frames with 25 frames of left
    context; the output `frames · 1920` samples long, as upstream returns it (whole frames, not cut to the input).

    Each utterance runs alone (`batch_exact = False`): Mimi's encoder pads the signal's end (replicate padding before
    its downsampling), which batch padding would change.

    Args:
        spec (CodecSpec): the registry entry.
        model (Qwen3TTSTokenizerModel): encoder and decoder.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: Mimi's encoder pads the signal's end (replicate padding before its "
                  "downsampling), which batch padding would change")

    def frames(self, length: int) -> int:
        return -(-int(length) // self.model.config.encode_downsample_rate)

    def output_length(self, length: int) -> int:
        return self.frames(length) * self.model.config.decode_upsample_rate

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[16, ceil(T / 1920)]` (semantic codebook first)."""
        return self.model.encode(torch.as_tensor(wave, dtype=torch.float32).to(self.device)[None])[0].cpu()

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[16, F]` -> audio `[F · 1920]` at 24 kHz."""
        return self.model.decode(codes[None].to(self.device))[0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.model.decode(self.model.encode(waves[i: i + 1, :n]))[0]
            out[i, : audio.shape[0]] = audio
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The Hub `config.json`'s values (see `config.OFFICIAL_CONFIG`)."""
    import copy

    return copy.deepcopy(OFFICIAL_CONFIG)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the Hub repository (cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> Qwen3TTSTokenizerModel:
    """The network of a `config.json` mapping (random initial weights; Mimi's codebooks at zero)."""
    from transformers import MimiConfig, MimiModel

    architecture = TokenizerConfig.from_config(config)
    # `rope_theta` and `_frame_rate`/`frame_rate`: keys transformers 4.57 wrote, which MimiConfig still reads.
    encoder_config = transformers_weights.model_config(
        MimiConfig, {**architecture.encoder_config, "decoder_config": None}, what="Qwen3-TTS tokenizer config "
        "`encoder_config`", extra_keys=("rope_theta", "_frame_rate", "frame_rate", "decoder_config"))
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    encoder_config._attn_implementation = "eager"
    # Upstream runs on the transformers it pins (4.57.3), whose Mimi transformer masks causally over the whole input
    # (`create_causal_mask`): the config's `sliding_window` (250) is not applied there. transformers 5.23 applies it,
    # so it is lifted here to reproduce upstream on inputs longer than 10 s (250 steps at 25 Hz).
    encoder_config.sliding_window = UNLIMITED_WINDOW
    if encoder_config.sampling_rate != architecture.input_sample_rate:
        raise CodecConfigError(f"Qwen3-TTS tokenizer config: the encoder runs at {encoder_config.sampling_rate} Hz, "
                               f"`input_sample_rate` is {architecture.input_sample_rate}.")
    return Qwen3TTSTokenizerModel(architecture, MimiModel(encoder_config))


def load_checkpoint(model: Qwen3TTSTokenizerModel, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """A `model.safetensors`-layout state dict: `encoder.*` through transformers' renaming of Mimi's keys, `decoder.*`
    as it is; both strict."""
    flat = weights.flatten(state_dict)
    other = sorted(key for key in flat if not key.startswith(PREFIXES))
    if other:
        raise CheckpointError(f"{source} does not match the model's architecture (unexpected keys: "
                              f"{', '.join(other[:5])}{', ...' if len(other) > 5 else ''}): it holds keys outside "
                              "`encoder.` and `decoder.`; it is not this tokenizer's checkpoint.")
    part = {prefix: {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)} for prefix in PREFIXES}
    transformers_weights.load(model.encoder, part["encoder."], source=f"{source} (its `encoder.` part)")
    weights.load_strict(model.decoder, part["decoder."], source=f"{source} (its `decoder.` part)")


def to_checkpoint(model: Qwen3TTSTokenizerModel) -> dict[str, torch.Tensor]:
    """`model`'s weights under the Hub file's key names."""
    state = {f"encoder.{k}": v for k, v in transformers_weights.to_checkpoint(model.encoder).items()}
    return {**state, **{f"decoder.{k}": v for k, v in model.decoder.state_dict().items()}}


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> Qwen3TTSTokenizerCodec:
    """The codec from a `config.json` mapping and a `model.safetensors`-layout state dict (None: random weights, with
    Mimi's codebooks drawn as `transformers_weights.draw_codebooks` draws them)."""
    return transformers_weights.build_codec(Qwen3TTSTokenizerCodec, spec, make_model(config), state_dict, runtime,
                                            loader=load_checkpoint)


__all__ = ["OPTIONS", "Qwen3TTSTokenizerCodec", "build", "default_config", "download", "load_checkpoint",
           "make_model", "to_checkpoint"]

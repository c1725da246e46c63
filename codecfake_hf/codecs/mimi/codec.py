"""Mimi 24 kHz, 12.5 Hz, split RVQ of 2048-entry codebooks, on transformers' `MimiModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CodecConfigError
from .. import transformers_weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from transformers import MimiModel

    from ..spec import CodecSpec


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {
    "num_quantizers": "codebooks to encode and decode with, 1..32 (default: the config's, 8 or 32)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The kyutai/mimi config: transformers' `MimiConfig` defaults, which its docstring documents as that checkpoint's.

    Not compared with the Hub's config.json here (no Hub access when this was written); `download` reads the real
    file, and a difference in an architecture field shows up as a strict-load error naming the keys.
    """
    from transformers import MimiConfig

    return transformers_weights.config_values(MimiConfig())


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of kyutai/mimi (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> MimiModel:
    from transformers import MimiConfig, MimiModel

    # `frame_rate`: the key older Mimi config files carry (transformers derives it now, and still reads it)
    mimi_config = transformers_weights.model_config(MimiConfig, config, what="Mimi config", extra_keys=("frame_rate",))
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    mimi_config._attn_implementation = "eager"
    return MimiModel(mimi_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
    num_quantizers: int | None = None,
) -> MimiCodec:
    """Build `MimiModel` from a transformers config and load `state_dict` (checkpoint layout) strictly.

    Args:
        spec: the registry entry.
        config: transformers `MimiConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights (codebooks:
            `transformers_weights.draw_codebooks`).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        num_quantizers: codebooks to encode and decode with (default: the spec's).
    """
    model = make_model(config)
    n_q = spec.n_codebooks if num_quantizers is None else int(num_quantizers)
    valid = range(model.config.num_semantic_quantizers, model.config.num_quantizers + 1)
    if n_q not in valid:
        raise CodecConfigError(f"{spec.name}: num_quantizers={n_q} is not in {valid.start}..{valid.stop - 1} "
                               f"(1 semantic codebook plus acoustic ones).")
    return transformers_weights.build_codec(MimiCodec, spec, model, state_dict, runtime, num_quantizers=n_q)


class MimiCodec(Codec):
    """Mimi as transformers' `MimiModel.forward` runs it: encode with `num_quantizers` codebooks, decode, trim.

    The output is trimmed to the input length (the decoder makes whole 1920-sample frames, at least as many
    samples as went in). Each utterance runs alone: the encoder's last strided convolutions pad the end of the
    signal (replicate padding in the downsampling layer), so inside a zero-padded batch an item's last frame would
    see the batch padding instead of its own edge. Alone, it gets what `MimiModel` gives it unbatched.

    Args:
        spec: the registry entry.
        model: a transformers `MimiModel`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        num_quantizers: codebooks used (8 is Moshi's setting, 32 all of them).
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: Mimi's encoder pads the signal's end (replicate padding before its "
                  "downsampling), which batch padding would change")

    def __init__(self, spec: CodecSpec, model: MimiModel, runtime: Runtime | None = None, *,
                 num_quantizers: int = 8):
        super().__init__(spec, model, runtime)
        self.num_quantizers = num_quantizers

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[num_quantizers, ceil(T / 1920)]`."""
        audio = wave.to(self.device)[None, None, :]
        return self.model.encode(audio, num_quantizers=self.num_quantizers).audio_codes[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[K, F]` -> audio `[F * 1920]` at 24 kHz."""
        return self.model.decode(codes[None].to(self.device)).audio_values[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return transformers_weights.resynthesize_alone(self, waves, lengths)

"""X-Codec 2 16 kHz, 50 Hz, one FSQ code of 65,536 per frame, on transformers' `Xcodec2Model`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .. import transformers_weights
from ..base import Codec, Runtime
from ..nn import w2v_bert

if TYPE_CHECKING:
    from transformers import Xcodec2Model

    from ..spec import CodecSpec

# Keyword options of `build` (checked by `registry.load`): name -> one line of help. One FSQ code per frame:
# nothing to choose.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The config of HKUSTAudio/xcodec2-hf: transformers' `Xcodec2Config` defaults, which are the values its conversion
    script sets (encoder 48 wide, hidden 1024, w2v-BERT 2.0 cut to its first 16 layers).

    Not compared with the Hub's config.json (no Hub access when this was written); `download` reads the real file.
    """
    from transformers import Xcodec2Config

    return transformers_weights.config_values(Xcodec2Config())


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of HKUSTAudio/xcodec2-hf (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> Xcodec2Model:
    from transformers import Xcodec2Config, Xcodec2Model

    xcodec2_config = transformers_weights.model_config(Xcodec2Config, config, what="X-Codec 2 config")
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    xcodec2_config._attn_implementation = "eager"
    xcodec2_config.semantic_model_config._attn_implementation = "eager"
    return Xcodec2Model(xcodec2_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
) -> Xcodec2Codec:
    """Build `Xcodec2Model` from a transformers config and load `state_dict` (checkpoint layout) strictly.

    Args:
        spec: the registry entry.
        config: transformers `Xcodec2Config` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights (the FSQ grid is fixed).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    return transformers_weights.build_codec(Xcodec2Codec, spec, make_model(config), state_dict, runtime)


class Xcodec2Codec(Codec):
    """X-Codec 2 as the original `XCodec2Model.encode_code` / `decode_code` run it, one utterance at a time.

    `encode_code` pads the waveform with `320 - T mod 320` zeros (1 to 320: a whole frame when T is a multiple of
    the hop), computes the semantic branch's w2v-BERT 2.0 features on that, padded by 160 zeros each side, with
    facebook/w2v-bert-2.0's `SeamlessM4TFeatureExtractor` (`codecs/nn/w2v_bert.py`), and quantises the joint
    embedding to one FSQ code per 320 samples; `decode_code` synthesises every frame, so the output is
    `(T // 320 + 1) * 320` samples, kept whole. transformers' `Xcodec2FeatureExtractor` pads the same way (one
    zero, then to a multiple of the hop) but needs torchaudio. Each utterance runs alone: the features are
    normalised over the utterance and w2v-BERT attends over all of it, so batch padding would change every frame.

    Args:
        spec: the registry entry.
        model: a transformers `Xcodec2Model`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: its w2v-BERT features are normalised over the utterance and attended "
                  "over as a whole, so batch padding would change every frame")

    def __init__(self, spec: CodecSpec, model: Xcodec2Model, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        self.hop_length = int(model.config.hop_length)

    def output_length(self, length: int) -> int:
        return (int(length) // self.hop_length + 1) * self.hop_length

    def min_input_length(self) -> int:
        return 1  # the padding makes a whole frame of any input

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[1, T // 320 + 1]`."""
        n = wave.shape[-1]
        padded = torch.nn.functional.pad(wave.float(), (0, self.hop_length - n % self.hop_length))
        half = self.hop_length // 2
        features = w2v_bert.fbank_features(torch.nn.functional.pad(padded, (half, half)))
        output = self.model.encode(padded[None, None].to(self.device), features.to(self.device))
        return output.audio_codes[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[1, F]` -> audio `[F * 320]` at 16 kHz."""
        return self.model.decode(audio_codes=codes[None].to(self.device)).audio_values[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return transformers_weights.resynthesize_alone(self, waves, lengths)

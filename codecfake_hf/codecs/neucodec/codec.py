"""NeuCodec: 16 kHz in, 50 Hz, one FSQ code of 65,536 per frame, 24 kHz out, on transformers' `NeuCodecModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CodecConfigError
from .. import transformers_weights
from ..base import Codec, Runtime
from ..nn import w2v_bert

if TYPE_CHECKING:
    from transformers import NeuCodecModel

    from ..spec import CodecSpec

# Keyword options of `build` (checked by `registry.load`): name -> one line of help. One FSQ code per frame:
# nothing to choose.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The config of neuphonic/neucodec's transformers conversion: `NeuCodecConfig` defaults, the values its conversion
    script sets (encoder 48 wide, hidden 1024, 24 kHz output, w2v-BERT 2.0 cut to its first 16 layers).

    Not compared with the Hub's config.json (no Hub access when this was written); `download` reads the real file.
    """
    from transformers import NeuCodecConfig

    return transformers_weights.config_values(NeuCodecConfig())


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of neuphonic/neucodec (Hub cache first)."""
    return transformers_weights.download(spec.hub_repo, codec=spec.name)


def make_model(config: Mapping[str, Any]) -> NeuCodecModel:
    from transformers import NeuCodecConfig, NeuCodecModel

    neucodec_config = transformers_weights.model_config(NeuCodecConfig, config, what="NeuCodec config")
    # Eager attention: the same kernels on every device and batch shape (sdpa picks per shape).
    neucodec_config._attn_implementation = "eager"
    neucodec_config.semantic_model_config._attn_implementation = "eager"
    return NeuCodecModel(neucodec_config)


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
) -> NeuCodecCodec:
    """Build `NeuCodecModel` from a transformers config and load `state_dict` (checkpoint layout) strictly.

    Args:
        spec: the registry entry.
        config: transformers `NeuCodecConfig` values.
        state_dict: weights in the Hub file's layout; `None` keeps random initial weights (the FSQ grid is fixed).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    codec = transformers_weights.build_codec(NeuCodecCodec, spec, make_model(config), state_dict, runtime)
    rates = (int(codec.model.config.input_sampling_rate), int(codec.model.config.output_sampling_rate))
    if rates != (codec.sample_rate, codec.output_rate):  # rows are labelled with the spec's rates
        raise CodecConfigError(f"{spec.name}: the config's input/output_sampling_rate are {rates[0]}/{rates[1]} Hz; "
                               f"this config runs at {codec.sample_rate} Hz in, {codec.output_rate} Hz out.")
    return codec


class NeuCodecCodec(Codec):
    """NeuCodec as the original `NeuCodec.encode_code` / `decode_code` run it, one utterance at a time.

    `encode_code` pads the waveform with `320 - T mod 320` zeros (`_prepare_audio`), computes the semantic branch's
    w2v-BERT 2.0 features on exactly that (no extra padding, unlike X-Codec 2) with facebook/w2v-bert-2.0's
    `SeamlessM4TFeatureExtractor` (`codecs/nn/w2v_bert.py`), which gives one frame fewer than the acoustic
    encoder; the longer branch is cut to the shorter, so a T-sample input makes `T // 320` codes. The decoder
    synthesises 480 samples at 24 kHz per code: the output is `(T // 320) * 480` samples at `output_rate`.
    transformers' `NeuCodecFeatureExtractor` pads the same way but needs torchaudio. Each utterance runs alone: the
    features are normalised over the utterance and w2v-BERT attends over all of it.

    Args:
        spec: the registry entry.
        model: a transformers `NeuCodecModel`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: its w2v-BERT features are normalised over the utterance and attended "
                  "over as a whole, so batch padding would change every frame")

    def __init__(self, spec: CodecSpec, model: NeuCodecModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        self.hop_length = int(model.config.encoder_hop_length)  # input samples per code (320 at 16 kHz)
        self.output_hop = int(model.config.hop_length)  # output samples per code (480 at 24 kHz)

    def output_length(self, length: int) -> int:
        return int(length) // self.hop_length * self.output_hop

    def min_input_length(self) -> int:
        return self.hop_length  # shorter inputs give no semantic frame at all

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[1, T // 320]`."""
        n = wave.shape[-1]
        padded = torch.nn.functional.pad(wave.float(), (0, self.hop_length - n % self.hop_length))
        features = w2v_bert.fbank_features(padded)
        output = self.model.encode(padded[None, None].to(self.device), features.to(self.device))
        return output.audio_codes[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[1, F]` -> audio `[F * 480]` at 24 kHz."""
        return self.model.decode(audio_codes=codes[None].to(self.device)).audio_values[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return transformers_weights.resynthesize_alone(self, waves, lengths)

"""DualCodec (Li et al., Interspeech 2025): 24 kHz, one w2v-BERT semantic codebook + DAC acoustic codebooks."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CheckpointError, CodecConfigError
from ...resample import output_length as resampled_length
from ...resample import sinc_resample
from .. import transformers_weights, weights
from ..base import Codec, Runtime
from ..nn import w2v_bert
from .config import OFFICIAL_CONFIGS, DualCodecConfig
from .model import DualCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# The semantic model's Hub repository (upstream's `w2v_path`) and the files read from it.
SEMANTIC_REPO = "facebook/w2v-bert-2.0"
SEMANTIC_FILES = ("config.json", "model.safetensors")
SEMANTIC_RATE = 16000


def semantic_frames(length: int, factor: int) -> int:
    """Pooled semantic frames of `length` samples at 24 kHz: K = 1 + (T16 - 400) // 160 filterbank frames of the
    16 kHz resampling (none below 400 samples), stacked in pairs (an odd last one padded), pooled by `factor`."""
    t16 = resampled_length(length, 24000, SEMANTIC_RATE)
    fbank = 1 + (t16 - 400) // 160 if t16 >= 400 else 0
    return ((fbank + 1) // 2) // factor


def decoded_length(frames: int, rates: tuple[int, ...]) -> int:
    """Samples DAC's decoder gives for `frames` latent frames: each transposed conv (kernel 2s, stride s, padding
    ceil(s / 2)) maps L to L·s + s - 2·ceil(s / 2), one sample short of L·s for an odd stride (both checkpoints'
    5, followed by a 4: frames × hop - 4)."""
    for stride in rates:
        frames = frames * stride + stride - 2 * math.ceil(stride / 2)
    return frames


class DualCodecCodec(Codec):
    """DualCodec as its `Inference.encode` + `decode` run it, one utterance at a time, in float32.

    `encode` resamples to 16 kHz, computes w2v-BERT 2.0's features of the whole utterance (normalised over it by
    the feature extractor), quantises the pooled semantic features to the first codebook and the DAC latent minus
    the decoded semantic latent to the acoustic ones; `decode` gives `hop` samples per semantic frame less 4 (the
    decoder's stride-5 transposed conv), kept whole.
    Each utterance runs alone: the features are normalised over the utterance and w2v-BERT attends over all of it.

    Args:
        spec (CodecSpec): the registry entry.
        model (DualCodecModel): the network and its semantic front end.
        runtime (Runtime): device, precision and random-weight seed.
        n_quantizers (int | None): codebooks to encode and decode with, the semantic one included (default: all).
    """

    batch_exact = False

    def __init__(self, spec: CodecSpec, model: DualCodecModel, runtime: Runtime | None = None,
                 n_quantizers: int | None = None):
        super().__init__(spec, model, runtime)
        total = 1 + len(model.dac.quantizer.quantizers)
        self.n_quantizers = total if n_quantizers is None else int(n_quantizers)
        if not 1 <= self.n_quantizers <= total:
            raise CodecConfigError(f"{spec.name}: n_quantizers={n_quantizers}; this checkpoint has 1 to {total} "
                                   "codebooks (the semantic one first).")
        self.factor = model.config.semantic_downsample_factor

    def output_length(self, length: int) -> int:
        return decoded_length(semantic_frames(length, self.factor), self.model.config.decoder_rates)

    def min_input_length(self) -> int:
        # one pooled frame, and at least two filterbank frames (the extractor's variance over one frame is NaN)
        length = 1
        while semantic_frames(length, self.factor) < 1 or resampled_length(length, 24000, SEMANTIC_RATE) < 560:
            length += 1
        return length

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[1, n_quantizers, S]` (semantic first)."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(1, 1, -1).to(self.device)
        if wave.shape[-1] < self.min_input_length():
            raise ValueError(f"{self.name}: an input of {wave.shape[-1]} samples is shorter than "
                             f"{self.min_input_length()}, the shortest that gives one semantic frame.")
        inputs = w2v_bert.feature_extractor()(sinc_resample(wave[0, 0], 24000, SEMANTIC_RATE).cpu().numpy(),
                                              sampling_rate=SEMANTIC_RATE, return_tensors="pt")
        semantic = self.model.semantic_features(inputs["input_features"].to(self.device),
                                                inputs["attention_mask"].to(self.device))
        return self.model.encode(wave, semantic, self.n_quantizers)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[1, n, S]` -> audio `[S * hop]` at 24 kHz."""
        return self.model.decode(codes.to(self.device))[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = [int(n) for n in lengths if int(n) < self.min_input_length()]
        if short:
            raise ValueError(f"{self.name}: an input of {short[0]} samples is shorter than {self.min_input_length()}, "
                             "the shortest that gives one semantic frame.")
        wanted = [self.output_length(int(n)) for n in lengths]
        out = torch.zeros(waves.shape[0], max(wanted), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.decode(self.encode(waves[i, :n]))[: wanted[i]]
            out[i, : audio.shape[0]] = audio
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {
    "n_quantizers": "codebooks to encode and decode with, the semantic one included (12hz_v1: 1-8, 25hz_v1: 1-12; "
                    "default: all, the README's maximum)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The `model` section of `spec`'s Hydra file (the checkpoint's architecture; see config.py)."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.name])


def _semantic_layers(config: Mapping[str, Any]) -> int:
    from transformers import Wav2Vec2BertConfig

    return int(config.get("num_hidden_layers", Wav2Vec2BertConfig().num_hidden_layers))


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """amphion/dualcodec's weights and w2v-BERT statistics, then facebook/w2v-bert-2.0's config and weights, through
    the Hub cache; returned as one config (the Hydra section plus `semantic_model`) and one state dict (the codec's
    keys, `semantic_model.*`, `semantic_stats.mean`/`var`), checked here while the files' paths are known."""
    weights_name, stats_name = spec.hub_files
    weights_path = weights.hub_file(spec.hub_repo, weights_name, codec=spec.name)
    codec_state = weights.load_checkpoint(weights_path, codec=spec.name)
    stats_path = weights.hub_file(spec.hub_repo, stats_name, codec=spec.name)
    stats = weights.load_checkpoint(stats_path, codec=spec.name)
    if not isinstance(stats, Mapping) or not {"mean", "var"} <= set(stats):
        raise CheckpointError(f"{spec.name}: {stats_path} holds no `mean` and `var`; it is not the w2v-BERT "
                              "statistics file. Delete it from the cache and download it again.")
    config_path = weights.hub_file(SEMANTIC_REPO, SEMANTIC_FILES[0], codec=spec.name)
    semantic_config = _semantic_config(weights.read_config_file(
        config_path, codec=spec.name, required=("hidden_size",), what="a Wav2Vec2BertConfig config.json"),
        what=f"{spec.name}: config file {config_path}")
    semantic_path = weights.hub_file(SEMANTIC_REPO, SEMANTIC_FILES[1], codec=spec.name)
    semantic_state = weights.load_checkpoint(semantic_path, codec=spec.name)
    config = {**default_config(spec), "semantic_model": semantic_config}
    state = {**codec_state, **{f"semantic_model.{k}": v for k, v in semantic_state.items()},
             "semantic_stats.mean": stats["mean"], "semantic_stats.var": stats["var"]}
    architecture = DualCodecConfig.from_config(config, what=f"{spec.name}: config")
    weights.check_against(lambda: DualCodecModel(architecture), state, ignore_prefixes=_unused(architecture),
                          source=f"{spec.name}: checkpoint files {weights_path}, {semantic_path}")
    return config, state


def _semantic_config(values: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """facebook/w2v-bert-2.0's `config.json` checked by transformers' `Wav2Vec2BertConfig` (unknown keys named), as
    the values `DualCodecConfig.semantic_model` holds."""
    from transformers import Wav2Vec2BertConfig

    return transformers_weights.config_values(transformers_weights.model_config(Wav2Vec2BertConfig, values, what=what))


def _unused(architecture: DualCodecConfig) -> tuple[str, ...]:
    """The w2v-BERT layers past the hidden state read: in the checkpoint, never run (explicitly dropped)."""
    return tuple(f"semantic_model.encoder.layers.{i}." for i in
                 range(architecture.semantic_layer, _semantic_layers(architecture.semantic_model)))


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
    n_quantizers: int | None = None,
) -> DualCodecCodec:
    """The codec from a config (a Hydra `model` section, optionally with `semantic_model`) and a state dict in
    `download`'s layout (None: random weights).

    Args:
        spec: the registry entry.
        config: the architecture.
        state_dict: the codec's keys, `semantic_model.*` (w2v-BERT 2.0's, all its layers) and `semantic_stats.*`.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        n_quantizers: codebooks to use, the semantic one included (default: all).
    """
    architecture = DualCodecConfig.from_config(config)
    if architecture.hop_length != spec.hop_length or architecture.sample_rate != spec.sample_rate:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.sample_rate} Hz with a "
                               f"{architecture.hop_length}-sample hop; this checkpoint is {spec.sample_rate} Hz with "
                               f"{spec.hop_length}.")
    if architecture.n_codebooks + 1 != spec.n_codebooks:
        raise CodecConfigError(f"{spec.name}: the config has {architecture.n_codebooks} acoustic codebooks; this "
                               f"checkpoint has {spec.n_codebooks - 1}.")
    model = DualCodecModel(architecture)
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict",
                            ignore_prefixes=_unused(architecture))
    return DualCodecCodec(spec, model, runtime, n_quantizers=n_quantizers)

"""BiCodec (Spark-TTS's codec, Wang et al. 2025, arXiv 2503.01710): 16 kHz, 50 Hz semantic tokens of one codebook
+ 32 global tokens per utterance (residual FSQ) that condition the decoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import BiCodecConfig, official_config
from .model import BiCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# wav2vec2-large-xlsr-53/preprocessor_config.json (facebook/wav2vec2-large-xlsr-53's, which Spark-TTS copies), which
# upstream's `Wav2Vec2FeatureExtractor.from_pretrained` reads: zero mean and unit variance over the utterance.
PREPROCESSOR_CONFIG = {"do_normalize": True, "feature_size": 1, "padding_side": "right", "padding_value": 0,
                       "return_attention_mask": True, "sampling_rate": 16000}

# Checkpoint parts the codec does not build, dropped by name (everything else must match the model exactly): the
# postnet (a feature predictor of training), the ECAPA-TDNN's x-vector head (pooling, batch norm, linear: computed
# upstream and discarded by `tokenize`), the quantiser's code-usage statistic, and the mel transform's window and
# filter bank (absent from the released file; torchaudio rebuilds them, and so does mel.py).
UNUSED = ("postnet.", "speaker_encoder.speaker_encoder.pool.", "speaker_encoder.speaker_encoder.bn.",
          "speaker_encoder.speaker_encoder.linear.", "speaker_encoder.speaker_encoder.bn2.", "quantizer.cluster_size",
          "mel_transformer.")


def semantic_frames(length: int, kernels: tuple[int, ...], strides: tuple[int, ...]) -> int:
    """wav2vec 2.0 frames of `length` samples: each convolution of the feature encoder (no padding) maps L to
    (L - kernel) // stride + 1 (xlsr-53: 1 + (T - 400) // 320 for T >= 400); 0 when one gives none."""
    for kernel, stride in zip(kernels, strides, strict=True):
        if length < kernel:
            return 0
        length = (length - kernel) // stride + 1
    return length


def audio_volume_normalize(audio: np.ndarray, coeff: float = 0.2) -> np.ndarray:
    """Spark-TTS's `audio_volume_normalize` (sparktts/utils/audio.py), in float64 as upstream runs it on the loaded
    file: a quiet clip (peak < 0.1) is first raised to a 0.1 peak; then, over the samples above 0.01 in magnitude
    (more than 10 of them), the mean of their 90th-99th percentile is scaled to `coeff` (by a factor clipped to
    0.1-10), and a peak above 1 is brought back to 1."""
    temp = np.sort(np.abs(audio))
    if temp[-1] < 0.1:
        audio = audio / max(temp[-1], 1e-3) * 0.1
    temp = temp[temp > 0.01]
    count = temp.shape[0]
    if count <= 10:
        return audio
    volume = np.mean(temp[int(0.9 * count): int(0.99 * count)])
    audio = audio * np.clip(coeff / volume, a_min=0.1, a_max=10)
    peak = np.max(np.abs(audio))
    return audio / peak if peak > 1 else audio


def reference_clip(wave: np.ndarray, length: int) -> np.ndarray:
    """Upstream's `get_ref_clip`: the first `length` samples, the utterance tiled first where it is shorter."""
    if length > wave.shape[0]:
        wave = np.tile(wave, length // wave.shape[0] + 1)
    return wave[:length]


class BiCodecCodec(Codec):
    """BiCodec as `BiCodecTokenizer.tokenize` + `detokenize` run it on one utterance, in float32.

    `tokenize`: the utterance volume-normalised (float64), its wav2vec 2.0 features (transformers'
    `Wav2Vec2FeatureExtractor`: zero mean and unit variance over the utterance) averaged over hidden states 11, 14
    and 16, encoded and quantised to one semantic token per 320 samples; the global tokens from the mel spectrogram of
    the reference segment, which upstream takes from the prompt utterance and which resynthesis takes from the
    utterance itself (its first `ref_segment_duration` seconds, the utterance tiled where it is shorter).
    `detokenize`: the semantic latents through the prenet conditioned on the d-vector of the global tokens, plus that
    d-vector, through the wave generator: 320 samples per token, at the normalised level (upstream returns it so).
    Each utterance runs alone: the normalisations are per utterance and wav2vec 2.0 attends over all of it.

    Args:
        spec (CodecSpec): the registry entry.
        model (BiCodecModel): the network and its front ends.
        runtime (Runtime): device, precision and random-weight seed.
    """

    # one utterance at a time: the volume normalisation, the feature extractor's statistics and the reference segment
    # are per utterance, and wav2vec 2.0 attends over the whole of it (a padded batch would change all three)
    batch_exact = False

    def __init__(self, spec: CodecSpec, model: BiCodecModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        self.config = model.config
        w2v = self.config.wav2vec2
        self._conv = (tuple(w2v["conv_kernel"]), tuple(w2v["conv_stride"]))

    def output_length(self, length: int) -> int:
        return semantic_frames(length, *self._conv) * self.config.latent_hop_length

    def min_input_length(self) -> int:
        # one wav2vec 2.0 frame: the feature encoder's receptive field (xlsr-53: 400 samples)
        length = 1
        while semantic_frames(length, *self._conv) < 1:
            length += 1
        return length

    def _check_length(self, length: int) -> None:
        if length < self.min_input_length():
            raise ValueError(f"{self.name}: an input of {length} samples is shorter than {self.min_input_length()}, "
                             "the shortest that gives one semantic token.")

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One utterance `[T]` at 16 kHz -> (semantic tokens `[1, frames]`, global tokens `[1, 1, token_num]`)."""
        from transformers import Wav2Vec2FeatureExtractor

        audio = torch.as_tensor(wave).detach().cpu().double().numpy().reshape(-1)
        self._check_length(audio.shape[0])
        if self.config.volume_normalize:
            audio = audio_volume_normalize(audio)
        values = Wav2Vec2FeatureExtractor(**PREPROCESSOR_CONFIG)(
            audio, sampling_rate=self.config.sample_rate, return_tensors="pt", padding=True).input_values
        reference = torch.from_numpy(reference_clip(audio, self.config.ref_segment_length)).float()[None]
        features = self.model.semantic_features(values.float().to(self.device))
        return self.model.tokenize(features, reference.to(self.device))

    @torch.inference_mode()
    def decode(self, semantic: torch.Tensor, global_tokens: torch.Tensor) -> torch.Tensor:
        """(semantic tokens `[1, frames]`, global tokens `[1, 1, token_num]`) -> audio `[frames · 320]`."""
        return self.model.detokenize(semantic.to(self.device), global_tokens.to(self.device))[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for n in lengths:
            self._check_length(int(n))
        wanted = [self.output_length(int(n)) for n in lengths]
        out = torch.zeros(waves.shape[0], max(wanted), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.decode(*self.encode(waves[i, :n]))[: wanted[i]]
            out[i, : audio.shape[0]] = audio
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}

# The Hub files the config is read from, and the checkpoint files.
ROOT_CONFIG, CODEC_CONFIG, CODEC_WEIGHTS, W2V_CONFIG, W2V_WEIGHTS = (
    "config.yaml", "BiCodec/config.yaml", "BiCodec/model.safetensors", "wav2vec2-large-xlsr-53/config.json",
    "wav2vec2-large-xlsr-53/pytorch_model.bin")
# wav2vec2-large-xlsr-53's checkpoint is `Wav2Vec2ForPreTraining`'s: the model under `wav2vec2.`, the pre-training
# heads (`quantizer.`, `project_q.`, `project_hid.`) beside it, which are not read.
W2V_PREFIX = "wav2vec2."


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The merged config (the root config.yaml's keys, `audio_tokenizer`, `wav2vec2`; see config.py)."""
    return official_config()


def _unused(architecture: BiCodecConfig) -> tuple[str, ...]:
    """Checkpoint keys not built: `UNUSED`, and wav2vec 2.0's layers from the first past the deepest state read."""
    layers = int(architecture.wav2vec2["num_hidden_layers"])
    return (*UNUSED, *(f"wav2vec2.encoder.layers.{i}." for i in range(architecture.semantic_depth, layers)))


def _wav2vec2_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`Wav2Vec2ForPreTraining`'s file -> the `wav2vec2.*` keys of today's transformers: the positional conv's legacy
    weight norm (`weight_g`/`weight_v`, the 2021 file's) as the parametrisation's `original0`/`original1`."""
    renamed = {}
    for key, value in state.items():
        if not key.startswith(W2V_PREFIX):
            continue
        key = key.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
        renamed[key.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")] \
            = value
    return renamed


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """SparkAudio/Spark-TTS-0.5B's three config files and two checkpoints, through the Hub cache; one config (see
    config.py) and one state dict (BiCodec's keys, and `wav2vec2.*`), checked here while the files' paths are known."""
    root_path = weights.hub_file(spec.hub_repo, ROOT_CONFIG, codec=spec.name)
    root = weights.read_config_file(root_path, codec=spec.name, required=("sample_rate", "ref_segment_duration"),
                                    what="Spark-TTS's config.yaml")
    codec_config_path = weights.hub_file(spec.hub_repo, CODEC_CONFIG, codec=spec.name)
    codec_config = weights.read_config_file(codec_config_path, codec=spec.name, required=("audio_tokenizer",),
                                            what="BiCodec's config.yaml")
    w2v_config_path = weights.hub_file(spec.hub_repo, W2V_CONFIG, codec=spec.name)
    w2v_config = weights.read_config_file(w2v_config_path, codec=spec.name, required=("hidden_size",),
                                          what="a Wav2Vec2Config config.json")
    config = {**root, "audio_tokenizer": codec_config["audio_tokenizer"], "wav2vec2": w2v_config}
    codec_path = weights.hub_file(spec.hub_repo, CODEC_WEIGHTS, codec=spec.name)
    codec_state = weights.load_checkpoint(codec_path, codec=spec.name)
    w2v_path = weights.hub_file(spec.hub_repo, W2V_WEIGHTS, codec=spec.name)
    w2v_state = weights.load_checkpoint(w2v_path, codec=spec.name)
    if not any(key.startswith(W2V_PREFIX) for key in w2v_state):
        raise CheckpointError(f"{spec.name}: {w2v_path} holds no `{W2V_PREFIX}*` keys; it is not the "
                              "Wav2Vec2ForPreTraining checkpoint of wav2vec2-large-xlsr-53. Delete it from the cache "
                              "and download it again.")
    state = {**codec_state, **_wav2vec2_keys(w2v_state)}
    architecture = BiCodecConfig.from_config(config, what=f"{spec.name}: config")
    weights.check_against(lambda: BiCodecModel(architecture), state, ignore_prefixes=_unused(architecture),
                          source=f"{spec.name}: checkpoint files {codec_path}, {w2v_path}")
    return config, state


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
) -> BiCodecCodec:
    """The codec from the merged config and a state dict in `download`'s layout (None: random weights).

    Args:
        spec: the registry entry.
        config: the architecture (config.py's merged mapping).
        state_dict: BiCodec/model.safetensors's keys and `wav2vec2.*` (today's transformers naming); the parts
            `UNUSED` names and wav2vec 2.0's layers past the deepest state read are dropped.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    architecture = BiCodecConfig.from_config(config)
    if architecture.latent_hop_length != spec.hop_length or architecture.sample_rate != spec.sample_rate:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.sample_rate} Hz with a "
                               f"{architecture.latent_hop_length}-sample hop; this checkpoint is {spec.sample_rate} Hz "
                               f"with {spec.hop_length}.")
    model = BiCodecModel(architecture)
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict",
                            ignore_prefixes=_unused(architecture))
    return BiCodecCodec(spec, model, runtime)

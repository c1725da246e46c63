"""SoCodec (hhguo/SoCodec, 16 kHz, 4 × 16,384 at 120 ms): its config, the release's files and the family contract."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from ...errors import CheckpointError, CodecConfigError
from .. import transformers_weights, weights
from ..base import Codec, Runtime
from ..config import from_config, refuse_unknown_keys
from .model import SoCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# hhguo/SoCodec (commit 3d35a24) configs/socodec_16384x4_120ms_16khz_chinese.yaml, `task.network.analyzer`, and
# configs/mel_vocoder_80dim_10ms_16khz.yaml, `task.network.vocoder`, as published (the Hub repository hhguo/SoCodec
# holds only the two safetensors files; example.py builds the networks from these YAML files).
OFFICIAL_ANALYZER: dict[str, Any] = {
    "_name": "StagedVQVAE", "in_dim": 1024, "out_dim": 80, "n_model_size": 1024, "downsample_scales": [2, 3],
    "upsample_scales": [[3, 2], [2]],
    "mel_config": {"style": "BigVGAN", "filter_length": 1024, "hop_length": 160, "win_length": 640,
                   "n_mel_channels": 80, "sampling_rate": 16000},
    "vq_class": "VectorQuantization",
    "vq_config": {"codebook_size": [128, 128], "codebook_dim": [128, 128], "requires_projection": True,
                  "decay": 0.99, "threshold_ema_dead_code": 0, "threshold_kmeans_dead_code": 99999999,
                  "commitment_weight": 1.0},
    "tree_config": [{"downsample_rate": 1, "n_groups": 4, "dropout": 0, "ordered": True}],
    "n_samples_per_token": 1920,
}
OFFICIAL_VOCODER: dict[str, Any] = {"_name": "BigVGANGenerator", "gen_cfg": {
    "num_mels": 80, "resblock": 0, "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [11, 8, 4, 4, 4],
    "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "activation": "snakebeta", "snake_logscale": True,
    "use_bias_at_final": True, "use_tanh_at_final": True}}
# StagedVQVAE.__init__ hard-codes its ECAPA_TDNN's arguments (besides out_dim and n_model_size).
OFFICIAL_SPEAKER: dict[str, Any] = {"channels": [256, 256, 256, 256, 768], "kernel_sizes": [5, 3, 3, 3, 1],
                                    "dilations": [1, 2, 3, 4, 1], "attention_channels": 64, "res2net_scale": 2,
                                    "se_channels": 64, "global_context": True, "batch_norm": False}
# The HuBERT upstream loads (utils/hubert.py: chinese-hubert-large-fairseq-ckpt.pt), whose transformers-format files
# are in the same Hub repository; `download` reads its config.json. These are its architecture values (that file, as
# mirrored on the Hub: 1024 wide, layer-norm feature extractor without conv bias, pre-LN transformer), used when a
# config omits `hubert`.
HUBERT_REPO = "TencentGameMate/chinese-hubert-large"
HUBERT_FILES = ("config.json", "pytorch_model.bin")
HUBERT_LARGE: dict[str, Any] = {
    "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False, "feat_extract_norm": "layer", "do_stable_layer_norm": True, "feat_proj_layer_norm": True,
    "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16, "hidden_act": "gelu",
    "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5}
# example.py: "prepend 0.5s silence for casual convolutions"; cut from the output here.
PREFIX_SAMPLES = 8000
# The analyzer file's keys of upstream's `ssl_extractor` (its fairseq HuBERT, frozen and saved in float16: the file is
# 828 MB, the VQ-VAE's 194 MB in float32 plus 316 M HuBERT parameters at two bytes); the codec runs the HuBERT of
# HUBERT_REPO instead (the same weights, which upstream never trains), so these are dropped.
SSL_PREFIX = "ssl_extractor."


@dataclass(frozen=True)
class MelConfig:
    """`mel_config`: `TorchMelSpectrogram`'s arguments (BigVGAN style; `mel_fmin`/`mel_fmax`: upstream's defaults)."""

    style: Literal["BigVGAN"] = "BigVGAN"
    filter_length: int = 1024
    hop_length: int = 160
    win_length: int = 640
    n_mel_channels: int = 80
    sampling_rate: int = 16000
    mel_fmin: float = 0.0
    mel_fmax: float = 8000.0


@dataclass(frozen=True)
class VQConfig:
    """`vq_config`: one group's codebook sizes and dimensions (repeated `n_groups` times); the EMA and dead-code
    options configure training."""

    TRAINING_KEYS = ("decay", "epsilon", "threshold_ema_dead_code", "threshold_kmeans_dead_code",
                     "commitment_weight", "kmeans_init", "kmeans_iters")

    codebook_size: tuple[int, ...]
    codebook_dim: tuple[int, ...]
    requires_projection: bool = True

    def __post_init__(self) -> None:
        if len(self.codebook_size) != len(self.codebook_dim) or not self.codebook_size:
            raise CodecConfigError(f"vq_config: codebook_size {list(self.codebook_size)} and codebook_dim "
                                   f"{list(self.codebook_dim)} must list one value per codebook.")
        if not self.requires_projection:
            raise CodecConfigError("vq_config.requires_projection must be true (the released model projects).")


@dataclass(frozen=True)
class SpeakerConfig:
    """`ECAPA_TDNN`'s arguments as `StagedVQVAE.__init__` hard-codes them (defaults: upstream's values)."""

    channels: tuple[int, ...] = (256, 256, 256, 256, 768)
    kernel_sizes: tuple[int, ...] = (5, 3, 3, 3, 1)
    dilations: tuple[int, ...] = (1, 2, 3, 4, 1)
    attention_channels: int = 64
    res2net_scale: int = 2
    se_channels: int = 64
    global_context: bool = True
    batch_norm: bool = False

    def __post_init__(self) -> None:
        if not self.global_context or self.batch_norm:
            raise CodecConfigError("speaker_encoder: only upstream's global_context=true, batch_norm=false are built.")
        middle = self.channels[1:-1]
        if len(self.channels) < 3 or sum(middle) != self.channels[-1] or len(set(self.channels[:-1])) != 1:
            raise CodecConfigError(f"speaker_encoder.channels {list(self.channels)}: the SE-Res2Net widths must equal "
                                   "the first and sum to the last (the feature aggregation concatenates them).")


_TREE_KEYS = {"downsample_rate", "n_groups", "dropout", "ordered", "dropout_rate_per_group",
              "learnable_time_regulator"}


@dataclass(frozen=True)
class AnalyzerConfig:
    """`task.network.analyzer`: `StagedVQVAE`'s arguments (`_name`, `vq_class` checked; the speaker encoder's widths,
    which upstream hard-codes, are the top-level `speaker_encoder` section)."""

    in_dim: int
    out_dim: int
    n_model_size: int
    downsample_scales: tuple[int, ...]
    upsample_scales: tuple[tuple[int, ...], tuple[int, ...]]
    mel_config: MelConfig
    vq_config: VQConfig
    tree_config: tuple[dict, ...]
    n_samples_per_token: int
    vq_class: Literal["VectorQuantization"] = "VectorQuantization"
    speaker_encoder: SpeakerConfig = field(default_factory=SpeakerConfig)

    def __post_init__(self) -> None:
        if len(self.tree_config) != 1:
            raise CodecConfigError(f"analyzer.tree_config has {len(self.tree_config)} stages; the released model "
                                   "(and this implementation) has one.")
        stage = self.tree_config[0]
        refuse_unknown_keys(stage, _TREE_KEYS, what="analyzer.tree_config[0]")
        if stage.get("downsample_rate") != 1 or stage.get("learnable_time_regulator", False):
            raise CodecConfigError("analyzer.tree_config[0]: only downsample_rate 1 (no time regulator) is built.")
        groups = stage.get("n_groups", 1)
        if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
            raise CodecConfigError(f"analyzer.tree_config[0].n_groups must be a positive integer, got {groups!r}.")
        if self.n_model_size % 32:
            raise CodecConfigError(f"analyzer.n_model_size={self.n_model_size} must be a multiple of 32 (upstream's "
                                   "residual units use 32 groups).")
        if self.n_samples_per_token != 320 * math.prod(self.downsample_scales):
            raise CodecConfigError(f"analyzer.n_samples_per_token={self.n_samples_per_token} must be 320 × "
                                   f"{list(self.downsample_scales)} (HuBERT's hop times the encoder's strides).")
        if math.prod(self.upsample_scales[0]) != math.prod(self.downsample_scales):
            raise CodecConfigError("analyzer.upsample_scales[0] must undo downsample_scales.")
        if self.speaker_encoder.channels[0] != self.speaker_encoder.channels[1]:
            raise CodecConfigError("speaker_encoder.channels: the first TDNN feeds the SE-Res2Net blocks unchanged.")

    @property
    def n_groups(self) -> int:
        return int(self.tree_config[0]["n_groups"])

    @property
    def codebook_size(self) -> int:
        return math.prod(self.vq_config.codebook_size)


@dataclass(frozen=True)
class GeneratorConfig:
    """`task.network.vocoder.gen_cfg`: `BigVGANGenerator`'s `h` (AMPBlock2, SnakeBeta on a log scale)."""

    num_mels: int
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    resblock: Literal[0] = 0
    activation: Literal["snakebeta"] = "snakebeta"
    snake_logscale: Literal[True] = True
    use_bias_at_final: bool = False
    use_tanh_at_final: bool = True

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise CodecConfigError("vocoder.gen_cfg: upsample_rates and upsample_kernel_sizes differ in length.")
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            raise CodecConfigError(f"vocoder.gen_cfg.upsample_initial_channel={self.upsample_initial_channel} must "
                                   f"halve {len(self.upsample_rates)} times.")
        if any(len(d) < 2 for d in self.resblock_dilation_sizes):
            raise CodecConfigError("vocoder.gen_cfg.resblock_dilation_sizes: AMPBlock2 reads two dilations each.")


@dataclass(frozen=True)
class VocoderConfig:
    gen_cfg: GeneratorConfig


@dataclass(frozen=True)
class SoCodecConfig:
    """SoCodec's config: the two YAML files' sections (`analyzer`, `vocoder`), the ECAPA-TDNN widths upstream
    hard-codes (`speaker_encoder`), and the HuBERT: `hubert` (transformers' `HubertConfig` values of
    chinese-hubert-large's config.json) and `hubert_normalize` (its fairseq task's `normalize`, true for the
    layer-norm extractor: its preprocessor_config.json's `do_normalize`)."""

    analyzer: AnalyzerConfig
    vocoder: VocoderConfig
    hubert: dict = field(default_factory=lambda: dict(HUBERT_LARGE))
    hubert_normalize: bool = True

    def __post_init__(self) -> None:
        hop = math.prod(self.vocoder.gen_cfg.upsample_rates)
        mel = self.analyzer.mel_config
        if hop != mel.hop_length or self.vocoder.gen_cfg.num_mels != self.analyzer.out_dim \
                or mel.n_mel_channels != self.analyzer.out_dim:
            raise CodecConfigError(f"the vocoder (hop {hop}, {self.vocoder.gen_cfg.num_mels} mels) does not take the "
                                   f"analyzer's mel (hop {mel.hop_length}, {self.analyzer.out_dim} bands).")
        if int(self.hubert.get("hidden_size", 0)) != self.analyzer.in_dim:
            raise CodecConfigError(f"hubert.hidden_size={self.hubert.get('hidden_size')} must be analyzer.in_dim="
                                   f"{self.analyzer.in_dim}.")
        if math.prod(self.hubert.get("conv_stride", ())) != 320:
            raise CodecConfigError("hubert.conv_stride must make upstream's 320-sample frames.")

    @property
    def hop_length(self) -> int:
        return self.analyzer.n_samples_per_token

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "SoCodec config") -> SoCodecConfig:
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
        refuse_unknown_keys(config, {"analyzer", "vocoder", "speaker_encoder", "hubert", "hubert_normalize"},
                            what=what)
        for key in ("analyzer", "vocoder"):
            if key not in config:
                raise CodecConfigError(f"{what} lacks `{key}`, which the official config holds; add it (see "
                                       "socodec's default_config).")
            if not isinstance(config[key], Mapping):
                raise CodecConfigError(f"{what}: `{key}` must be a mapping, got {type(config[key]).__name__}.")
        analyzer = dict(config["analyzer"])
        vocoder = dict(config["vocoder"])
        for section, name, expected in (("analyzer", analyzer.pop("_name", "StagedVQVAE"), "StagedVQVAE"),
                                        ("vocoder", vocoder.pop("_name", "BigVGANGenerator"), "BigVGANGenerator")):
            if name != expected:
                raise CodecConfigError(f"{what}: `{section}._name` is {name!r}; SoCodec's is {expected!r}.")
        if "speaker_encoder" in config:
            analyzer["speaker_encoder"] = config["speaker_encoder"]
        hubert = config.get("hubert", HUBERT_LARGE)
        if not isinstance(hubert, Mapping):
            raise CodecConfigError(f"{what}: `hubert` must be a mapping of HubertConfig values.")
        hubert = _hubert_values(hubert, what=f"{what} `hubert`")
        values = {"analyzer": analyzer, "vocoder": vocoder, "hubert": hubert,
                  "hubert_normalize": config.get("hubert_normalize", True)}
        return from_config(cls, values, what=what)


def _hubert_values(values: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """chinese-hubert-large's `config.json` checked by transformers' `HubertConfig` (unknown keys named), as the
    values `SoCodecConfig.hubert` holds."""
    from transformers import HubertConfig

    return transformers_weights.config_values(transformers_weights.model_config(HubertConfig, values, what=what))


class SoCodecCodec(Codec):
    """SoCodec as upstream's `example.py` runs it, one utterance at a time: 8000 zeros prepended, 1919 appended
    (see `padded`), `analysis` (codes `[frames, 4]`, `frames = ceil(N / 1920)` of the N padded samples, and the
    speaker embedding), `synthesis` from them (`frames × 1920` samples); the 8000 prepended samples are cut from the
    output, which keeps upstream's tail.

    Args:
        spec (CodecSpec): the registry entry.
        model (SoCodecModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
        hop_length (int): samples per frame (1920).
    """

    # Each utterance runs alone: the ECAPA-TDNN speaker encoder pools over every mel frame (upstream passes absolute
    # lengths where speechbrain expects relative ones, so its mask keeps them all) and HuBERT's waveform layer norm
    # spans the padded waveform; batch padding would change both.
    batch_exact = False
    batch_note = ("each utterance runs alone: the speaker encoder pools over every frame, padding included, and "
                  "HuBERT's input layer norm spans the padded waveform")

    def __init__(self, spec: CodecSpec, model: SoCodecModel, runtime: Runtime | None = None, *, hop_length: int):
        super().__init__(spec, model, runtime)
        self.hop_length = hop_length

    def output_length(self, length: int) -> int:
        padded = int(length) + PREFIX_SAMPLES + self.hop_length - 1
        return math.ceil(padded / self.hop_length) * self.hop_length - PREFIX_SAMPLES

    def min_input_length(self) -> int:
        return 1

    def padded(self, wave: torch.Tensor) -> torch.Tensor:
        """example.py's input: 8000 zeros first; then `StagedVQVAE.forward`'s padding, `hop - wave.shape[1] % hop`
        zeros, which upstream takes of a `[1, 1, T]` tensor (example.py's `pad_sequence` of the `[1, T]` waveform):
        `shape[1]` is 1, so every input gets `hop - 1` = 1919 zeros, whatever its length."""
        return torch.nn.functional.pad(wave, (PREFIX_SAMPLES, self.hop_length - 1))

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[frames, 4]` (upstream's `token`; on the CPU), frames counting
        the prepended 0.5 s."""
        wave = self.padded(torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(self.device))
        return self.model.encode(wave[None])[0][0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, length in enumerate(lengths.tolist()):
            audio, _ = self.model(self.padded(waves[i, :length])[None])
            audio = audio[0, PREFIX_SAMPLES:]
            out[i, : audio.shape[-1]] = audio
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The repository's two YAML sections, the ECAPA-TDNN arguments upstream hard-codes, and chinese-hubert-large's
    architecture (`download` reads its config.json instead)."""
    return {"analyzer": copy.deepcopy(OFFICIAL_ANALYZER), "vocoder": copy.deepcopy(OFFICIAL_VOCODER),
            "speaker_encoder": copy.deepcopy(OFFICIAL_SPEAKER), "hubert": copy.deepcopy(HUBERT_LARGE),
            "hubert_normalize": True}


def _legacy_weight_norm(key: str) -> str:
    """The 2022 `pytorch_model.bin`'s positional conv (`weight_g`/`weight_v`) in today's parametrised names."""
    key = key.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
    return key.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")


def model_state(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A state dict in `download`'s layout (`analyzer.*`, `vocoder.*`, `hubert.*`) as the model's keys: the HuBERT's
    legacy weight-norm names renamed, the analyzer file's `ssl_extractor.*` dropped (see SSL_PREFIX)."""
    flat = weights.flatten(state)
    return {_legacy_weight_norm(key): value for key, value in flat.items()
            if not key.startswith(f"analyzer.{SSL_PREFIX}")}


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """hhguo/SoCodec's analyzer and vocoder files, then TencentGameMate/chinese-hubert-large's config.json and
    pytorch_model.bin, through the Hub cache; one config and one state dict (`analyzer.*`, `vocoder.*`, `hubert.*`),
    checked here while the files' paths are known."""
    analyzer_name, vocoder_name = spec.hub_files
    analyzer_path = weights.hub_file(spec.hub_repo, analyzer_name, codec=spec.name)
    analyzer = weights.load_checkpoint(analyzer_path, codec=spec.name)
    vocoder_path = weights.hub_file(spec.hub_repo, vocoder_name, codec=spec.name)
    vocoder = weights.load_checkpoint(vocoder_path, codec=spec.name)
    for path, state, probe in ((analyzer_path, analyzer, "encoder."), (vocoder_path, vocoder, "conv_pre.")):
        if not any(str(key).startswith(probe) for key in state):
            raise CheckpointError(f"{spec.name}: {path} holds no `{probe}*` keys; it is not SoCodec's "
                                  f"{path.name}. Delete it from the cache and download it again.")
    config_path = weights.hub_file(HUBERT_REPO, HUBERT_FILES[0], codec=spec.name)
    hubert_config = _hubert_values(weights.read_config_file(
        config_path, codec=spec.name, required=("hidden_size",), what="a HubertConfig config.json"),
        what=f"{spec.name}: config file {config_path}")
    hubert_path = weights.hub_file(HUBERT_REPO, HUBERT_FILES[1], codec=spec.name)
    hubert = weights.load_checkpoint(hubert_path, codec=spec.name)
    config = {**default_config(spec), "hubert": hubert_config}
    state = {**{f"analyzer.{k}": v for k, v in analyzer.items() if not str(k).startswith(SSL_PREFIX)},
             **{f"vocoder.{k}": v for k, v in vocoder.items()},
             **{f"hubert.{_legacy_weight_norm(k)}": v for k, v in hubert.items()}}
    architecture = SoCodecConfig.from_config(config, what=f"{spec.name}: config")
    weights.check_against(lambda: SoCodecModel(architecture), state,
                          source=f"{spec.name}: checkpoint files {analyzer_path}, {vocoder_path}, {hubert_path}")
    return config, state


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> SoCodecCodec:
    """The codec from the config and a state dict in `download`'s layout (None: random weights).

    Args:
        spec: the registry entry.
        config: `default_config`'s mapping (the YAML sections, `speaker_encoder`, `hubert`, `hubert_normalize`).
        state_dict: `analyzer.*` (the analyzer file's keys; `ssl_extractor.*` dropped), `vocoder.*`, `hubert.*`
            (transformers' `HubertModel` names, the legacy weight-norm ones accepted).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    architecture = SoCodecConfig.from_config(config)
    if architecture.hop_length != spec.hop_length or architecture.analyzer.n_groups != spec.n_codebooks:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.analyzer.n_groups} streams at a "
                               f"{architecture.hop_length}-sample hop; this checkpoint has {spec.n_codebooks} at "
                               f"{spec.hop_length}.")
    model = SoCodecModel(architecture)
    if state_dict is not None:
        weights.load_strict(model, model_state(state_dict), source=f"{spec.name} state dict")
    return SoCodecCodec(spec, model, runtime, hop_length=architecture.hop_length)

"""SemantiCodec's config: upstream's `get_config(token_rate, semantic_vocab_size)` and `SemantiCodec(...)`'s arguments.

The Hub repository `haoheliu/SemantiCodec` holds the checkpoints and k-means codebooks, no config file: the config
lives in the code (`semanticodec/config.py` of github.com/haoheliu/SemantiCodec-inference). `official_config(token_rate,
semantic_vocab_size)` is that function's output (`model`: the latent diffusion decoder with its VAE and UNet, and the
encoder's arguments under `cond_stage_config`) beside the arguments `SemantiCodec.__init__` takes (`token_rate`,
`semantic_vocab_size`, `ddim_sample_step` 50, `cfg_scale` 2.0). Sizes upstream hard-codes inside its classes (the
AudioMAE ViT-B, the residual LSTM's width, the HiFi-GAN vocoder's config in `get_vocoder`, the DDIM eta of
`generate_sample`) are fields here with upstream's values as defaults, in sections no official config spells, so that a
tiny fixture can shrink them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

TOKEN_RATES = (25, 50, 100)

# `get_config`'s basic_config["model"] (token rate 100), as upstream writes it.
_BASIC_MODEL: dict[str, Any] = {
    "params": {
        "latent_t_size": 256, "scale_by_std": True, "sampling_rate": 16000,
        "first_stage_config": {
            "params": {
                "monitor": "val/rec_loss", "image_key": "fbank", "embed_dim": 8, "batchsize": 16,
                "reload_from_ckpt": "/mnt/bn/lqhaoheliu/exps/checkpoints/audioldm/vae_32k/2023_06_22_vae_16k_64_4/"
                                    "last.ckpt",
                "subband": 1, "time_shuffle": 1, "sampling_rate": 16000,
                "ddconfig": {"ch": 128, "double_z": True, "out_ch": 1, "attn_resolutions": [], "dropout": 0.0,
                             "mel_bins": 64, "ch_mult": [1, 2, 4], "num_res_blocks": 2, "z_channels": 8,
                             "downsample_time": False, "in_channels": 1, "resolution": 256},
                "lossconfig": {"params": {"disc_start": 50001, "kl_weight": 1000.0, "disc_in_channels": 1,
                                          "disc_weight": 0.5},
                               "target": "semanticodec.modules.decoder.latent_diffusion.modules.losses."
                                         "LPIPSWithDiscriminator"},
            },
            "target": "semanticodec.modules.decoder.latent_encoder.autoencoder.AutoencoderKL",
            "base_learning_rate": 8e-06,
        },
        "unet_config": {
            "params": {"channel_mult": [1, 2, 3, 5], "out_channels": 8, "attention_resolutions": [8, 4, 2],
                       "context_dim": [1728], "num_res_blocks": 2, "in_channels": 8, "image_size": 64,
                       "transformer_depth": 1, "use_spatial_transformer": True, "model_channels": 64,
                       "num_head_channels": 32},
            "target": "semanticodec.modules.decoder.latent_diffusion.modules.diffusionmodules.openaimodel.UNetModel",
        },
        "base_learning_rate": 0.0001, "channels": 8, "linear_start": 0.0015, "first_stage_key": "fbank",
        "parameterization": "v",
        "cond_stage_config": {
            "crossattn_audiomae_pooled": {
                "cond_stage_key": "ta_kaldi_fbank",
                "params": {"use_oracle": False, "lstm_bidirectional": True, "feature_dimension": 768,
                           "codebook_size": 8192, "residual_encoder": "lstm", "rvq_layers": 0, "lstm_layer": 4},
                "target": "semanticodec.modules.encoder.encoder.AudioMAEConditionQuantResEncoder",
                "conditioning_key": "crossattn",
            }
        },
        "num_timesteps_cond": 1, "timesteps": 1000, "latent_f_size": 16, "linear_end": 0.0195,
    },
    "target": "semanticodec.modules.decoder.latent_diffusion.models.ddpm.LatentDiffusion",
}
# get_config's changes for the lower token rates: (context_dim, lstm_layer, feature_dimension).
_PER_RATE = {100: (1728, 4, 768), 50: (3264, 3, 768 * 2), 25: (6336, 2, 768 * 4)}


def official_config(token_rate: int, semantic_vocab_size: int = 32768) -> dict[str, Any]:
    """`{"token_rate", "semantic_vocab_size", "ddim_sample_step", "cfg_scale", "model"}` as upstream builds them."""
    if token_rate not in _PER_RATE:
        raise ValueError(f"token_rate must be one of {TOKEN_RATES}, got {token_rate!r}")
    model = copy.deepcopy(_BASIC_MODEL)
    context_dim, lstm_layer, feature_dimension = _PER_RATE[token_rate]
    model["params"]["unet_config"]["params"]["context_dim"] = [context_dim]
    encoder = model["params"]["cond_stage_config"]["crossattn_audiomae_pooled"]["params"]
    encoder["lstm_layer"], encoder["feature_dimension"] = lstm_layer, feature_dimension
    return {"token_rate": token_rate, "semantic_vocab_size": semantic_vocab_size, "ddim_sample_step": 50,
            "cfg_scale": 2.0, "model": model}


@dataclass(frozen=True)
class DDConf:
    """The VAE's `ddconfig` (`Encoder`/`Decoder` of latent diffusion's `diffusionmodules/model.py`)."""

    ch: int
    double_z: bool
    out_ch: int
    attn_resolutions: tuple[int, ...]
    dropout: float
    mel_bins: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    z_channels: int
    in_channels: int
    resolution: int
    downsample_time: bool = False

    def __post_init__(self) -> None:
        if not self.double_z:
            raise CodecConfigError("`double_z` must be true: upstream's AutoencoderKL asserts it.")
        if self.ch % 32:
            raise CodecConfigError(f"`ch` must be a multiple of 32 (the VAE's GroupNorm has 32 groups), got {self.ch}.")


@dataclass(frozen=True)
class FirstStageParams:
    """`AutoencoderKL`'s arguments."""

    TRAINING_KEYS = ("monitor", "batchsize", "reload_from_ckpt", "lossconfig", "base_learning_rate")

    embed_dim: int
    ddconfig: DDConf
    image_key: str = "fbank"
    subband: int = 1
    time_shuffle: int = 1
    sampling_rate: int = 16000

    def __post_init__(self) -> None:
        if self.image_key != "fbank" or self.subband != 1:
            raise CodecConfigError("the VAE must decode a mel spectrogram (`image_key` fbank, `subband` 1), as every "
                                   f"SemantiCodec release does; got {self.image_key!r}, {self.subband}.")


@dataclass(frozen=True)
class FirstStageConf:
    TRAINING_KEYS = ("target", "base_learning_rate")

    params: FirstStageParams


@dataclass(frozen=True)
class UNetParams:
    """`UNetModel`'s arguments (openaimodel.py); the ones upstream's config omits take the class's defaults."""

    channel_mult: tuple[int, ...]
    out_channels: int
    attention_resolutions: tuple[int, ...]
    context_dim: tuple[int, ...]
    num_res_blocks: int
    in_channels: int
    image_size: int
    transformer_depth: int
    use_spatial_transformer: bool
    model_channels: int
    num_head_channels: int
    num_heads: int = -1
    extra_sa_layer: bool = True

    def __post_init__(self) -> None:
        if not self.use_spatial_transformer or self.num_head_channels <= 0:
            raise CodecConfigError("the UNet must use spatial transformers with `num_head_channels` set, as every "
                                   "SemantiCodec release does.")
        if self.model_channels % 32:
            raise CodecConfigError(f"`model_channels` must be a multiple of 32 (GroupNorm32), got "
                                   f"{self.model_channels}.")


@dataclass(frozen=True)
class UNetConf:
    TRAINING_KEYS = ("target",)

    params: UNetParams


@dataclass(frozen=True)
class EncoderParams:
    """`AudioMAEConditionQuantResEncoder`'s arguments (the semantic + acoustic encoder); `lstm_hidden_size` is
    hard-coded upstream (2 x `feature_dimension`)."""

    feature_dimension: int
    lstm_layer: int
    codebook_size: int = 8192
    lstm_bidirectional: bool = True
    residual_encoder: str = "lstm"
    rvq_layers: int = 0
    use_oracle: bool = False
    lstm_hidden_size: int | None = None

    def __post_init__(self) -> None:
        if self.feature_dimension not in (768, 768 * 2, 768 * 4):
            raise CodecConfigError("`feature_dimension` must be 768, 1536 or 3072 (AudioMAE's 768-wide patches, "
                                   f"alone or concatenated 1x2 / 2x2), got {self.feature_dimension}.")
        if (self.residual_encoder, self.rvq_layers, self.use_oracle, self.lstm_bidirectional) != ("lstm", 0, False,
                                                                                                   True):
            raise CodecConfigError("the encoder must be the released one: a bidirectional `lstm` residual encoder, one "
                                   "VQ (`rvq_layers` 0), not `use_oracle`.")

    @property
    def hidden(self) -> int:
        return self.lstm_hidden_size or self.feature_dimension * 2


@dataclass(frozen=True)
class CondEntry:
    TRAINING_KEYS = ("cond_stage_key", "target", "conditioning_key")

    params: EncoderParams


@dataclass(frozen=True)
class CondStageConf:
    crossattn_audiomae_pooled: CondEntry


@dataclass(frozen=True)
class DiffusionParams:
    """`LatentDiffusion`'s arguments."""

    TRAINING_KEYS = ("base_learning_rate", "first_stage_key", "num_timesteps_cond")

    latent_t_size: int
    latent_f_size: int
    channels: int
    timesteps: int
    linear_start: float
    linear_end: float
    parameterization: str
    scale_by_std: bool
    sampling_rate: int
    first_stage_config: FirstStageConf
    unet_config: UNetConf
    cond_stage_config: CondStageConf
    beta_schedule: str = "linear"

    def __post_init__(self) -> None:
        if self.parameterization != "v" or self.beta_schedule != "linear":
            raise CodecConfigError("the decoder must be the released v-parameterised model with a linear beta "
                                   f"schedule; got {self.parameterization!r}, {self.beta_schedule!r}.")


@dataclass(frozen=True)
class ModelConf:
    TRAINING_KEYS = ("target",)

    params: DiffusionParams


@dataclass(frozen=True)
class AudioMAEConf:
    """`mae_vit_base_patch16`'s sizes (hard-coded upstream): ViT-B/16 (12 blocks, 12 heads), an 8-block 512-wide MAE
    decoder, the mean of the blocks after `contextual_depth` 8 as the feature."""

    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    contextual_depth: int = 8

    def __post_init__(self) -> None:
        if self.depth <= self.contextual_depth + 1 or self.contextual_depth < -1:
            raise CodecConfigError(f"AudioMAE `depth` ({self.depth}) must exceed `contextual_depth` + 1 "
                                   f"({self.contextual_depth + 1}): the feature averages the blocks after it.")


@dataclass(frozen=True)
class VocoderConf:
    """`get_vocoder`'s HiFi-GAN (v1 generator, weight norm removed) config, hard-coded upstream."""

    upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 4, 4)
    upsample_initial_channel: int = 1024
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

    def __post_init__(self) -> None:
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        if hop != 160:
            raise CodecConfigError(f"the vocoder's `upsample_rates` must multiply to the mel hop, 160; got {hop}.")


@dataclass(frozen=True)
class SemantiCodecConfig:
    """What builds and runs one SemantiCodec config.

    Args:
        token_rate (int): tokens a second, 100, 50 or 25 (frames of two codes at half that rate).
        semantic_vocab_size (int): k-means centroids of the semantic codebook.
        ddim_sample_step (int): DDIM steps (upstream's default 50; the fixture runs fewer).
        cfg_scale (float): classifier-free guidance scale (2.0).
        model (ModelConf): `get_config`'s model section: the latent diffusion decoder, its VAE and UNet, and the
            encoder's arguments.
        ddim_eta (float): DDIM's eta (`generate_sample`'s default 1.0: a fresh noise draw at every step).
        audiomae (AudioMAEConf), vocoder (VocoderConf): sizes upstream hard-codes.
    """

    token_rate: int
    semantic_vocab_size: int
    model: ModelConf
    ddim_sample_step: int = 50
    cfg_scale: float = 2.0
    ddim_eta: float = 1.0
    audiomae: AudioMAEConf = field(default_factory=AudioMAEConf)
    vocoder: VocoderConf = field(default_factory=VocoderConf)

    def __post_init__(self) -> None:
        if self.token_rate not in TOKEN_RATES:
            raise CodecConfigError(f"`token_rate` must be one of {TOKEN_RATES}, got {self.token_rate}.")
        if self.encoder.feature_dimension != 768 * 100 // self.token_rate:
            raise CodecConfigError(f"token rate {self.token_rate} stacks {100 // self.token_rate} AudioMAE patches a "
                                   f"token: `feature_dimension` must be {768 * 100 // self.token_rate}, got "
                                   f"{self.encoder.feature_dimension}.")
        timesteps = self.diffusion.timesteps
        # make_ddim_timesteps: range(0, T, T // S) + 1; a count whose last step reaches T overruns the schedule
        # (upstream fails with an IndexError: 3 steps of 1000 give 1, 334, 667, 1000).
        if not 1 <= self.ddim_sample_step <= timesteps or list(range(0, timesteps, timesteps // self.ddim_sample_step))[
                -1] + 1 >= timesteps:
            raise CodecConfigError(f"`ddim_sample_step` {self.ddim_sample_step} does not fit the {timesteps}-step "
                                   "schedule (its uniform DDIM steps must end before the last one); use a divisor "
                                   f"of {timesteps}, such as the release's 50.")
        context = self.diffusion.unet_config.params.context_dim
        expected = 2 * self.encoder.feature_dimension + 192
        if context != (expected,):
            raise CodecConfigError(f"the UNet's `context_dim` must be [{expected}] (acoustic + semantic features + "
                                   f"the 192-wide position code), got {list(context)}.")
        if self.diffusion.first_stage_config.params.ddconfig.mel_bins != 64:
            raise CodecConfigError("the VAE's `mel_bins` must be 64, the HiFi-GAN vocoder's mel bands.")

    @property
    def diffusion(self) -> DiffusionParams:
        return self.model.params

    @property
    def encoder(self) -> EncoderParams:
        return self.model.params.cond_stage_config.crossattn_audiomae_pooled.params

    @property
    def stack(self) -> int:
        """AudioMAE patches a token stacks (upstream's `stack_factor_K`): 1, 2 or 4."""
        return 100 // self.token_rate

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SemantiCodecConfig:
        return from_config(cls, config, what="SemantiCodec config")

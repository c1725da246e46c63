"""AcademiCodec's HiFi-Codec configs: the official JSON files and `HiFiCodecConfig`, the keys that shape the model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config


@dataclass(frozen=True)
class HiFiCodecConfig:
    """The hyper-parameters of an AcademiCodec JSON config that shape the model.

    Args:
        upsample_rates (tuple[int, ...]): generator strides; the encoder uses them reversed.
        upsample_kernel_sizes (tuple[int, ...]): kernel of each strided (transposed) convolution.
        upsample_initial_channel (int): generator channels after `conv_pre`, halved at each stage.
        resblock_kernel_sizes (tuple[int, ...]): kernels of the parallel residual blocks of a stage.
        resblock_dilation_sizes (tuple[tuple[int, ...], ...]): dilations of each of those blocks.
        n_code_groups (int): groups of the latent, each quantised by its own codebook per layer.
        n_codes (int): entries per codebook.
        sampling_rate (int): audio rate in Hz.
        resblock (str): `"1"` (ResBlock1, which every HiFi-Codec checkpoint uses; upstream compares the string).
        encoder_base_channels (int): encoder channels after `conv_pre`, doubled at each stage (32 upstream).
        latent_dim (int): latent channels between encoder and generator (512 upstream).
        groupnorm_channels_per_group (int): encoder GroupNorm width, `GroupNorm(ch // this, ch)` (16 upstream).

    The first eight are in every official file. The last three are constants in the upstream code; the config may
    set them so that tests can build a narrow model of the same structure (as the codec fixtures' `tiny.config`
    does).
    """

    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    n_code_groups: int
    n_codes: int
    sampling_rate: int
    resblock: str = "1"
    encoder_base_channels: int = 32
    latent_dim: int = 512
    groupnorm_channels_per_group: int = 16

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HiFiCodecConfig:
        """Read an AcademiCodec JSON config (a dict); its training keys are accepted and ignored."""
        return from_config(cls, config, what="AcademiCodec config", ignored=TRAINING_KEYS)

    def __post_init__(self):
        if self.resblock != "1":
            raise CodecConfigError(f"`resblock` must be '1' (ResBlock1, which every HiFi-Codec checkpoint uses), "
                                   f"got {self.resblock!r}")
        n = len(self.upsample_rates)
        if len(self.upsample_kernel_sizes) != n:
            raise CodecConfigError(f"`upsample_rates` {self.upsample_rates} and `upsample_kernel_sizes` "
                                   f"{self.upsample_kernel_sizes} must have equal lengths")
        if len(self.resblock_dilation_sizes) != len(self.resblock_kernel_sizes):
            raise CodecConfigError(f"`resblock_kernel_sizes` {self.resblock_kernel_sizes} and "
                                   f"`resblock_dilation_sizes` {self.resblock_dilation_sizes} must have equal lengths")
        if self.upsample_initial_channel % 2**n or self.latent_dim % self.n_code_groups:
            raise CodecConfigError(f"`upsample_initial_channel` ({self.upsample_initial_channel}) must divide by "
                                   f"2**{n} and `latent_dim` ({self.latent_dim}) by `n_code_groups` "
                                   f"({self.n_code_groups})")
        if 2 * self.encoder_base_channels % self.groupnorm_channels_per_group:  # the first GroupNorm's width
            raise CodecConfigError(f"2 * `encoder_base_channels` ({self.encoder_base_channels}) must divide by "
                                   f"`groupnorm_channels_per_group` ({self.groupnorm_channels_per_group})")

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)

    @property
    def n_codebooks(self) -> int:
        """Codes per frame: two residual layers of `n_code_groups` codebooks."""
        return 2 * self.n_code_groups


# egs/HiFi-Codec-16k-320d/config_16k_320d.json at b6ac134, which the pipeline also used for the
# 16k-320d-large-universal checkpoint. Only the fields of HiFiCodecConfig shape the model; the rest
# (TRAINING_KEYS: optimiser, mel loss, data loading) are kept so that this is the official file as it is.
_CONFIG_16K: dict[str, Any] = {
    "resblock": "1", "num_gpus": 8, "batch_size": 64, "learning_rate": 0.0002,
    "adam_b1": 0.5, "adam_b2": 0.9, "lr_decay": 0.98, "seed": 1234,
    "upsample_rates": [8, 5, 4, 2], "upsample_kernel_sizes": [16, 11, 8, 4],
    "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "segment_size": 16000, "num_mels": 80, "num_freq": 1025, "n_fft": 1024, "hop_size": 200,
    "win_size": 800, "sampling_rate": 16000, "n_code_groups": 2, "n_codes": 1024,
    "codebook_loss_lambda": 1.0, "commitment_loss_lambda": 0.25, "fmin": 0, "fmax": 8000,
    "fmax_for_loss": None, "num_workers": 12,
    "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321", "world_size": 1},
}
# egs/HiFi-Codec-24k-320d/config_24k_320d.json differs only in rate, batch size and mel-loss framing.
_CONFIG_24K = {**_CONFIG_16K, "batch_size": 80, "hop_size": 240, "win_size": 1024, "sampling_rate": 24000}
OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "academicodec_hifi_16k_320d": _CONFIG_16K,
    "academicodec_hifi_16k_320d_large_uni": _CONFIG_16K,
    "academicodec_hifi_24k_320d": _CONFIG_24K,
}
# The official files' keys that only training reads (optimiser, mel loss, data loading, distribution).
TRAINING_KEYS = tuple(sorted({key for official in OFFICIAL_CONFIGS.values() for key in official}
                             - {field.name for field in fields(HiFiCodecConfig)}))

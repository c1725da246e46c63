"""TiCodec's configs: the three official JSON files and `TiCodecConfig`, the keys that shape the model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config


@dataclass(frozen=True)
class TiCodecConfig:
    """The hyper-parameters of a TiCodec JSON config (`egs/TiCodec-24k-320d/config_*.json`) that shape the model.

    Args:
        upsample_rates (tuple[int, ...]): generator strides; the encoder uses them reversed.
        upsample_kernel_sizes (tuple[int, ...]): kernel of each strided (transposed) convolution.
        upsample_initial_channel (int): generator channels after `conv_pre`, halved at each stage.
        resblock_kernel_sizes (tuple[int, ...]): kernels of the parallel residual blocks of a stage.
        resblock_dilation_sizes (tuple[tuple[int, ...], ...]): dilations of each of those blocks.
        n_code_groups (int): groups of the latent, each quantised by its own codebook per residual layer.
        residul_layer (int): residual VQ layers (1, 2 or 4; upstream's spelling of the key).
        n_codes (int): entries per codebook (frame-level and time-invariant alike).
        global_code_num (int): time-invariant codebooks, each quantising a slice of the global feature.
        global_feature_conv (tuple[int, int, int, int, int]): the time-invariant encoder's convolutions:
            input channels, hidden channels, output channels (the global feature's width), kernel, stride.
        sampling_rate (int): audio rate in Hz.
        resblock (str): `"1"` (HiFi-GAN's ResBlock1, which every TiCodec config uses; upstream compares the string).
        encoder_base_channels (int): encoder channels after `conv_pre`, doubled at each stage (32 upstream).
        latent_dim (int): frame-level latent channels between encoder and generator (512 upstream).
        global_dim (int): width of the time-invariant feature the quantiser reshapes to (128 upstream).
        groupnorm_channels_per_group (int): encoder GroupNorm width, `GroupNorm(ch // this, ch)` (16 upstream).

    The first twelve are in every official file. The last four are constants in the upstream code
    (`academicodec/models/ticodec/models.py`); a config may set them so that tests can build a narrow model of
    the same structure (the fixture's `tiny.config` does, and tests/fixtures/make_ticodec_fixture.py makes the
    same substitutions in the upstream code).
    """

    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    n_code_groups: int
    residul_layer: int
    n_codes: int
    global_code_num: int
    global_feature_conv: tuple[int, int, int, int, int]
    sampling_rate: int
    resblock: str = "1"
    encoder_base_channels: int = 32
    latent_dim: int = 512
    global_dim: int = 128
    groupnorm_channels_per_group: int = 16

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TiCodecConfig:
        """Read a TiCodec JSON config (a dict); its training keys are accepted and ignored."""
        return from_config(cls, config, what="TiCodec config", ignored=TRAINING_KEYS)

    def __post_init__(self):
        if self.resblock != "1":
            raise CodecConfigError(f"`resblock` must be '1' (ResBlock1, which every TiCodec config uses), "
                                   f"got {self.resblock!r}")
        if self.residul_layer not in (1, 2, 4):  # upstream builds the codebooks of 1, 2 or 4 layers only
            raise CodecConfigError(f"`residul_layer` must be 1, 2 or 4 (the layer counts upstream's Quantizer "
                                   f"builds), got {self.residul_layer}")
        n = len(self.upsample_rates)
        if len(self.upsample_kernel_sizes) != n:
            raise CodecConfigError(f"`upsample_rates` {self.upsample_rates} and `upsample_kernel_sizes` "
                                   f"{self.upsample_kernel_sizes} must have equal lengths")
        if len(self.resblock_dilation_sizes) != len(self.resblock_kernel_sizes):
            raise CodecConfigError(f"`resblock_kernel_sizes` {self.resblock_kernel_sizes} and "
                                   f"`resblock_dilation_sizes` {self.resblock_dilation_sizes} must have equal lengths")
        if self.encoder_base_channels * 2**n != self.latent_dim:  # upstream: 32 * 2**4 = 512, conv_post's input
            raise CodecConfigError(f"`encoder_base_channels` ({self.encoder_base_channels}) * 2**{n} must equal "
                                   f"`latent_dim` ({self.latent_dim}): the encoder's last stage feeds the latent")
        if self.upsample_initial_channel % 2**n or self.latent_dim % self.n_code_groups:
            raise CodecConfigError(f"`upsample_initial_channel` ({self.upsample_initial_channel}) must divide by "
                                   f"2**{n} and `latent_dim` ({self.latent_dim}) by `n_code_groups` "
                                   f"({self.n_code_groups})")
        if 2 * self.encoder_base_channels % self.groupnorm_channels_per_group:  # the first GroupNorm's width
            raise CodecConfigError(f"2 * `encoder_base_channels` ({self.encoder_base_channels}) must divide by "
                                   f"`groupnorm_channels_per_group` ({self.groupnorm_channels_per_group})")
        channels_in, _, channels_out, _, _ = self.global_feature_conv
        if channels_in != self.middle_channels or channels_out != self.global_dim:
            raise CodecConfigError(
                f"`global_feature_conv` {list(self.global_feature_conv)} must read the {self.middle_channels} "
                f"channels of the encoder's stage {n // 2 - 1} and give `global_dim` ({self.global_dim}) channels")
        if self.global_dim % self.global_code_num:
            raise CodecConfigError(f"`global_dim` ({self.global_dim}) must divide by `global_code_num` "
                                   f"({self.global_code_num})")

    @property
    def middle_channels(self) -> int:
        """Channels of the encoder stage the time-invariant branch reads (stage `n // 2 - 1`, upstream's 128)."""
        return self.encoder_base_channels * 2 ** (len(self.upsample_rates) // 2)

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)

    @property
    def n_codebooks(self) -> int:
        """Frame-level codes per frame: `residul_layer` layers of `n_code_groups` codebooks."""
        return self.residul_layer * self.n_code_groups


def _official(residual_layers: int) -> dict[str, Any]:
    """egs/TiCodec-24k-320d/config_24k_320d_conv_1g<r>r_8g3k1s.json (y-ren16/TiCodec@13af0eb), as published: the
    three files differ only in `residul_layer`."""
    return {
        "resblock": "1", "num_gpus": 1, "batch_size": 20, "learning_rate": 0.0002, "adam_b1": 0.5, "adam_b2": 0.9,
        "lr_decay": 0.98, "seed": 1234,
        "upsample_rates": [8, 5, 4, 2], "upsample_kernel_sizes": [16, 11, 8, 4], "upsample_initial_channel": 512,
        "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "segment_size": 16000, "num_mels": 80, "num_freq": 1025, "n_fft": 1024, "hop_size": 240, "win_size": 1024,
        "sampling_rate": 24000,
        "n_code_groups": 1, "residul_layer": residual_layers, "n_codes": 1024, "codebook_loss_lambda": 1.0,
        "commitment_loss_lambda": 0.25, "global_code_num": 8, "global_feature_conv": [128, 64, 128, 3, 1],
        "fmin": 0, "fmax": 8000, "fmax_for_loss": None, "num_workers": 12,
        "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321", "world_size": 1},
    }


OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "ticodec_24k_320d_1g1r": _official(1),
    "ticodec_24k_320d_1g2r": _official(2),
    "ticodec_24k_320d_1g4r": _official(4),
}
# The official files' keys that only training reads (optimiser, losses, mel framing, data loading, distribution).
TRAINING_KEYS = tuple(sorted({key for official in OFFICIAL_CONFIGS.values() for key in official}
                             - {field.name for field in fields(TiCodecConfig)}))

"""AudioDec's configs: the official config.yml files and the frozen `generator_params` of each part.

An AudioDec release is two trainer directories, each with its `config.yml`: the autoencoder
(`model_type: symAudioDec`) and the vocoder (`model_type: HiFiGAN`). Only `generator_params` shapes a
network; the rest of each file configures training (data, losses, optimisers, discriminators) and is not read.
`generator_params` reads into `AutoencoderParams` / `VocoderParams` through `codecs.config.from_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config


@dataclass(frozen=True)
class AutoencoderParams:
    """`generator_params` of the autoencoder's config.yml (upstream `StreamGenerator` arguments).

    Only the official choices are built: causal mode, the `audiodec` codec, a conv1d projector and a
    residual VQ, without weight norm. The fields without a default are in the official file.

    Args:
        input_channels (int): audio channels in (1).
        output_channels (int): audio channels out of the (carried, never run) decoder.
        encode_channels (int): width of the encoder's first conv, times `enc_ratios[i]` after stage `i`.
        decode_channels (int): width unit of the decoder, times `dec_ratios[i]` at stage `i`.
        code_dim (int): latent (codebook) dimension.
        codebook_num (int): codebooks of the residual VQ.
        codebook_size (int): entries per codebook.
        bias (bool): whether the strided convs have a bias.
        enc_ratios, dec_ratios (tuple[int, ...]): channel multipliers per stage.
        enc_strides, dec_strides (tuple[int, ...]): strides per stage (the hop is `prod(enc_strides)`).
        mode (str): `"causal"`.
        codec (str): `"audiodec"`.
        projector (str): `"conv1d"`.
        quantier (str): `"residual_vq"` (sic: upstream's spelling).
        nonlinear_activation (str): `torch.nn` activation name (upstream default ELU).
        nonlinear_activation_params (dict | None): its keyword arguments (None: none).
        use_weight_norm (bool): False (the official autoencoder has none).
    """

    input_channels: int
    output_channels: int
    encode_channels: int
    decode_channels: int
    code_dim: int
    codebook_num: int
    codebook_size: int
    bias: bool
    enc_ratios: tuple[int, ...]
    dec_ratios: tuple[int, ...]
    enc_strides: tuple[int, ...]
    dec_strides: tuple[int, ...]
    mode: str
    codec: str
    projector: str
    quantier: str
    nonlinear_activation: str = "ELU"
    nonlinear_activation_params: dict | None = None
    use_weight_norm: bool = False

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> AutoencoderParams:
        return from_config(cls, params, what="AudioDec autoencoder generator_params")

    def __post_init__(self):
        official = {"mode": "causal", "codec": "audiodec", "projector": "conv1d",
                    "quantier": "residual_vq", "use_weight_norm": False, "input_channels": 1}
        for name, value in official.items():
            if getattr(self, name) != value:
                raise CodecConfigError(f"AudioDec autoencoder: `{name}={getattr(self, name)!r}` is not supported "
                                       f"(only {value!r}, the official checkpoint's).")
        if len(self.enc_ratios) != len(self.enc_strides) or len(self.dec_ratios) != len(self.dec_strides):
            raise CodecConfigError("AudioDec autoencoder: `enc_ratios`/`enc_strides` and `dec_ratios`/`dec_strides` "
                                   "must have equal lengths.")


@dataclass(frozen=True)
class VocoderParams:
    """`generator_params` of the vocoder's config.yml (upstream HiFi-GAN `StreamGenerator` arguments).

    Only the multi-group residual block (one kernel, `groups > 1`) is built, as in the official vocoder.
    Every field is in the official file.

    Args:
        in_channels (int): latent channels in (the autoencoder's `code_dim`).
        out_channels (int): audio channels out (1).
        channels (int): width after the input conv, halved at each upsampling.
        kernel_size (int): kernel of the input and output convs (odd).
        upsample_scales (tuple[int, ...]): upsampling factors (the hop is their product).
        upsample_kernel_sizes (tuple[int, ...]): kernels of the transposed convs, twice the scales.
        resblock_kernel_sizes (tuple[int, ...]): one kernel (odd) of the multi-group blocks.
        resblock_dilations (tuple[tuple[int, ...], ...]): one tuple of dilations of those blocks.
        groups (int): groups of the multi-group blocks (> 1).
        bias (bool): whether the convs have biases.
        use_additional_convs (bool): a second conv per residual unit.
        nonlinear_activation (str), nonlinear_activation_params (dict): LeakyReLU and its slope.
        use_weight_norm (bool): weight-normalised convs (`weight_g`/`weight_v` keys).
        stats (str | None): only a switch here: when set, the latents are normalised by the `mean`/`scale`
            buffers, which the checkpoint holds (upstream reads the file at construction and the checkpoint then
            overwrites them); random-weight builds use mean 0, scale 1.
    """

    in_channels: int
    out_channels: int
    channels: int
    kernel_size: int
    upsample_scales: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilations: tuple[tuple[int, ...], ...]
    groups: int
    bias: bool
    use_additional_convs: bool
    nonlinear_activation: str
    nonlinear_activation_params: dict
    use_weight_norm: bool
    stats: str | None

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> VocoderParams:
        return from_config(cls, params, what="AudioDec vocoder generator_params")

    def __post_init__(self):
        if len(self.resblock_kernel_sizes) != 1 or len(self.resblock_dilations) != 1 or self.groups <= 1:
            raise CodecConfigError("AudioDec vocoder: only the multi-group block (one resblock kernel, groups > 1) "
                                   f"is supported, got resblock_kernel_sizes={self.resblock_kernel_sizes}, "
                                   f"groups={self.groups}.")
        if self.kernel_size % 2 == 0 or self.resblock_kernel_sizes[0] % 2 == 0:
            raise CodecConfigError("AudioDec vocoder: `kernel_size` and `resblock_kernel_sizes` must be odd.")
        if list(self.upsample_kernel_sizes) != [2 * s for s in self.upsample_scales]:
            raise CodecConfigError(f"AudioDec vocoder: `upsample_kernel_sizes` must be twice `upsample_scales`, got "
                                   f"{self.upsample_kernel_sizes} and {self.upsample_scales}.")


# The inference-relevant part of the official config.yml files (the rest configures training).
OFFICIAL_CONFIG = {
    "autoencoder": {
        "model_type": "symAudioDec",
        "sampling_rate": 24000,
        "generator_params": {
            "input_channels": 1, "output_channels": 1, "encode_channels": 32, "decode_channels": 32,
            "code_dim": 64, "codebook_num": 8, "codebook_size": 1024, "bias": True,
            "enc_ratios": [2, 4, 8, 16], "dec_ratios": [16, 8, 4, 2],
            "enc_strides": [3, 4, 5, 5], "dec_strides": [5, 5, 4, 3],
            "mode": "causal", "codec": "audiodec", "projector": "conv1d", "quantier": "residual_vq",
        },
    },
    "vocoder": {
        "model_type": "HiFiGAN",
        "sampling_rate": 24000,
        "generator_params": {
            "in_channels": 64, "out_channels": 1, "channels": 512, "kernel_size": 7,
            "upsample_scales": [5, 5, 4, 3], "upsample_kernel_sizes": [10, 10, 8, 6],
            "resblock_kernel_sizes": [11], "resblock_dilations": [[1, 3, 5]], "groups": 3, "bias": True,
            "use_additional_convs": True, "nonlinear_activation": "LeakyReLU",
            "nonlinear_activation_params": {"negative_slope": 0.1}, "use_weight_norm": True,
            "stats": "stats/symAD_libritts_24000_hop300_clean.npy",
        },
    },
}
PARTS = ("autoencoder", "vocoder")
_PARAMS = {"autoencoder": AutoencoderParams, "vocoder": VocoderParams}


def generator_params(config: Mapping[str, Any], part: str) -> AutoencoderParams | VocoderParams:
    """The `generator_params` of `part` in `config`, which is `{part: config.yml}` (the official files) or the
    short form `{f"{part}_generator_params": ...}` (the fixtures')."""
    model_type = OFFICIAL_CONFIG[part]["model_type"]
    if part in config:
        section = config[part]
        if isinstance(section, Mapping) and section.get("model_type", model_type) != model_type:
            raise CodecConfigError(f"AudioDec: the {part} config has model_type {section['model_type']!r}; "
                                   f"only {model_type!r} is supported.")
        if isinstance(section, Mapping) and isinstance(section.get("generator_params"), Mapping):
            return _PARAMS[part].from_config(section["generator_params"])
    elif f"{part}_generator_params" in config:
        return _PARAMS[part].from_config(config[f"{part}_generator_params"])
    raise CodecConfigError(f"AudioDec: the config has no {part!r} generator_params (expected "
                           f"{{'{part}': {{'generator_params': ...}}}} or '{part}_generator_params'); "
                           f"got keys {sorted(config)}.")

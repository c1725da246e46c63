"""WavTokenizer's configs: the official Lightning-CLI YAML files and one frozen dataclass per part of their model.

A WavTokenizer config (`configs/wavtokenizer_smalldata_frame{40,75}_3s_nq1_code4096_dim512_kmeans200_attn.yaml` of
jishengpeng/WavTokenizer, and the `wavtokenizer_mediumdata_*.yaml` beside the medium checkpoints on the Hub) is a
`pytorch_lightning` CLI file: `data` and `trainer` configure training, and `model` names the experiment class
(`decoder.experiment.WavTokenizer`) whose `init_args` hold the three networks as `{class_path, init_args}` mappings:
`feature_extractor` (EnCodec's SEANet encoder + a one-codebook VQ), `backbone` (the Vocos backbone) and `head` (the
ISTFT head). Upstream's `WavTokenizer.from_hparams0802` instantiates exactly those three from the file, so they are
what `WavTokenizerConfig` reads; a key an `init_args` omits takes the default of upstream's class, and a key it does
not know (one upstream's constructor would refuse) is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import CodecConfigError
from ..config import lightning_cli_parts

# Upstream's `EncodecFeatures` builds its SEANet with these values, whatever the file says (`nn.seanet.SEANetEncoder`'s
# arguments); the strides come from `dowmsamples`, the latent width (512 in upstream's code) is the width the backbone
# reads (`backbone.input_channels`: upstream runs only where the two agree) and the base width (32 in upstream's code)
# is `seanet_filters`.
SEANET: dict[str, Any] = dict(
    channels=1, n_residual_layers=1, activation="ELU", norm="weight_norm", kernel_size=7, last_kernel_size=7,
    residual_kernel_size=3, dilation_base=2, causal=False, pad_mode="reflect", true_skip=False, compress=2, lstm=2,
)


@dataclass(frozen=True)
class EncodecFeaturesArgs:
    """`init_args` of `decoder.feature_extractors.EncodecFeatures` (the encoder and its quantiser).

    Args:
        encodec_model (str): `"encodec_24khz"`, the only value upstream accepts.
        bandwidths (tuple[float, ...]): the four bandwidths; inference always uses one codebook (`infer` sets n_q=1).
        train_codebooks (bool): training only.
        num_quantizers (int): quantisers of the VQ stack (1 in every release).
        dowmsamples (tuple[int, ...]): the encoder's strides in decoder order (upstream's spelling): [8, 5, 4, 2] for
            75 frames/s, [6, 5, 5, 4] for 40.
        vq_bins (int): codewords per codebook (4096).
        vq_kmeans (int): k-means iterations of the codebook's initialisation (training only).
        seanet_filters (int): the SEANet's base width. Not an argument of upstream's class, which fixes it at 32, so
            no official file holds it; only the tiny test fixtures set it (tests/fixtures/make_wavtokenizer_fixture.py
            sets upstream's constant to the same value).
    """

    encodec_model: Literal["encodec_24khz"] = "encodec_24khz"
    bandwidths: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0)
    train_codebooks: bool = False
    num_quantizers: int = 1
    dowmsamples: tuple[int, ...] = (6, 5, 5, 4)
    vq_bins: int = 16384
    vq_kmeans: int = 800
    seanet_filters: int = 32

    def __post_init__(self) -> None:
        if (self.num_quantizers < 1 or self.vq_bins < 2 or self.seanet_filters < 2 or not self.dowmsamples
                or min(self.dowmsamples) < 1):
            raise CodecConfigError(f"feature_extractor: num_quantizers={self.num_quantizers}, vq_bins={self.vq_bins}, "
                                   f"seanet_filters={self.seanet_filters}, dowmsamples={list(self.dowmsamples)}; "
                                   "each must be positive (vq_bins and seanet_filters ≥ 2).")


@dataclass(frozen=True)
class VocosBackboneArgs:
    """`init_args` of `decoder.models.VocosBackbone` (ConvNeXt blocks behind a ResNet/attention `pos_net`).

    Args:
        input_channels (int): channels of the quantised latent (the VQ's 512).
        dim (int): hidden width.
        intermediate_dim (int): ConvNeXt blocks' inner width.
        num_layers (int): ConvNeXt blocks.
        layer_scale_init_value (float | None): initial layer scale (None: `1 / num_layers`); the checkpoint holds
            the trained `gamma`s, so this only shapes random weights.
        adanorm_num_embeddings (int | None): rows of the AdaLayerNorm embeddings (the bandwidth ids); None: plain
            LayerNorm.
    """

    input_channels: int
    dim: int
    intermediate_dim: int
    num_layers: int
    layer_scale_init_value: float | None = None
    adanorm_num_embeddings: int | None = None


@dataclass(frozen=True)
class ISTFTHeadArgs:
    """`init_args` of `decoder.heads.ISTFTHead`.

    Args:
        dim (int): the backbone's width.
        n_fft (int): FFT size (and window length).
        hop_length (int): samples per frame (the encoder's total stride).
        padding (str): `"same"`, as in every release (upstream's `"center"`, torch.istft's padding, is not built here).
    """

    dim: int
    n_fft: int
    hop_length: int
    padding: Literal["same"] = "same"


# The class each part names, as upstream's files spell it.
CLASS_PATHS = {
    "feature_extractor": "decoder.feature_extractors.EncodecFeatures",
    "backbone": "decoder.models.VocosBackbone",
    "head": "decoder.heads.ISTFTHead",
}
EXPERIMENT = "decoder.experiment.WavTokenizer"
# `decoder.experiment.WavTokenizer.__init__`'s other arguments: losses, optimiser, evaluation, resuming.
EXPERIMENT_TRAINING_KEYS = ("resume_config", "resume_model", "initial_learning_rate", "num_warmup_steps",
                            "mel_loss_coeff", "mrd_loss_coeff", "pretrain_mel_steps", "decay_mel_coeff",
                            "evaluate_utmos", "evaluate_pesq", "evaluate_periodicty", "resume")
# Top-level sections of the CLI file that only training reads.
FILE_TRAINING_KEYS = ("seed_everything", "data", "trainer", "ckpt_path", "optimizer", "lr_scheduler")
_ARGS = {"feature_extractor": EncodecFeaturesArgs, "backbone": VocosBackboneArgs, "head": ISTFTHeadArgs}


@dataclass(frozen=True)
class WavTokenizerConfig:
    """The model part of a WavTokenizer config file.

    Args:
        sample_rate (int): audio rate (24000).
        feature_extractor (EncodecFeaturesArgs): encoder and quantiser.
        backbone (VocosBackboneArgs): the Vocos backbone.
        head (ISTFTHeadArgs): the ISTFT head.
    """

    sample_rate: int
    feature_extractor: EncodecFeaturesArgs
    backbone: VocosBackboneArgs
    head: ISTFTHeadArgs

    def __post_init__(self) -> None:
        hop = 1
        for ratio in self.feature_extractor.dowmsamples:
            hop *= ratio
        if self.backbone.dim % 32:
            raise CodecConfigError(f"backbone.dim={self.backbone.dim}: upstream's pos_net group-normalises in 32 "
                                   "groups, so the width must be a multiple of 32.")
        if self.head.dim != self.backbone.dim:
            raise CodecConfigError(f"head.dim={self.head.dim} differs from backbone.dim={self.backbone.dim}.")
        if self.head.hop_length != hop:
            raise CodecConfigError(f"head.hop_length={self.head.hop_length}, but the encoder's strides "
                                   f"{list(self.feature_extractor.dowmsamples)} make {hop} samples a frame.")
        if self.head.n_fft <= hop or (self.head.n_fft - hop) % 2:
            raise CodecConfigError(f"head.n_fft={self.head.n_fft} must exceed the hop {hop} by an even number of "
                                   "samples ('same' padding trims half the difference at each end).")

    @property
    def hop_length(self) -> int:
        return self.head.hop_length

    def seanet(self) -> dict[str, Any]:
        """The keyword arguments of the encoder (`nn.seanet.SEANetEncoder`)."""
        return {**SEANET, "dimension": self.backbone.input_channels, "n_filters": self.feature_extractor.seanet_filters,
                "ratios": self.feature_extractor.dowmsamples}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "WavTokenizer config") -> WavTokenizerConfig:
        """Read an official config file's mapping (its training sections are accepted and ignored)."""
        sample_rate, parts = lightning_cli_parts(
            config, experiment=EXPERIMENT, parts={name: (CLASS_PATHS[name], args) for name, args in _ARGS.items()},
            experiment_training_keys=EXPERIMENT_TRAINING_KEYS, file_training_keys=FILE_TRAINING_KEYS,
            default_sample_rate=24000, what=what)  # upstream's default rate
        return cls(sample_rate=sample_rate, **parts)

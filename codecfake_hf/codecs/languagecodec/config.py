"""LanguageCodec's config: the official Lightning-CLI YAML file and one frozen dataclass per part of its model.

LanguageCodec's config (`configs/languagecodec_mm.yaml` of jishengpeng/Languagecodec, commit f10ffa6; the file the
April 2024 "Languagecodec_v2" commit 68e855a renamed from `languagecodec.yaml` and the README's released checkpoint
goes with) is a `pytorch_lightning` CLI file: `data` and `trainer` configure training, and `model` names the
experiment class (`languagecodec_decoder.experiment.VocosEncodecExp`) whose `init_args` hold the three networks as
`{class_path, init_args}` mappings: `feature_extractor` (EnCodec's SEANet encoder and the masked-channel residual VQ),
`backbone` (the Vocos backbone) and `head` (the ISTFT head). Upstream's `Vocos.from_hparams0802` instantiates exactly
those three from the file, so they are what `LanguageCodecConfig` reads; a key an `init_args` omits takes the default
of upstream's class, and a key it does not know (one upstream's constructor would refuse) is refused, naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ...errors import CodecConfigError
from ..config import lightning_cli_parts

OFFICIAL_YAML = """\
seed_everything: 4444

data:
  class_path: languagecodec_decoder.dataset.VocosDataModule
  init_args:
    train_params:
      filelist_path: /home/jovyan/honor/big-disk/speech/code/languagecodec/data/train/languagecodec_ch_en
      sampling_rate: 24000
      num_samples: 24000
      batch_size: 100
      num_workers: 8

    val_params:
      filelist_path: /home/jovyan/honor/big-disk/speech/code/languagecodec/data/train/languagecodec_large_val
      sampling_rate: 24000
      num_samples: 24000
      batch_size: 10
      num_workers: 8

model:
  class_path: languagecodec_decoder.experiment.VocosEncodecExp
  init_args:
    sample_rate: 24000
    initial_learning_rate: 2e-4
    mel_loss_coeff: 45
    mrd_loss_coeff: 1.0
    num_warmup_steps: 0 # Optimizers warmup steps
    pretrain_mel_steps: 0  # 0 means GAN objective from the first iteration

    # automatic evaluation
    evaluate_utmos: true
    evaluate_pesq: true
    evaluate_periodicty: true

    resume: false
    resume_config: null  # _RESUME_CONFIG (a line too long for this file)
    resume_model: null  # _RESUME_MODEL (likewise)

    feature_extractor:
      class_path: languagecodec_decoder.feature_extractors.EncodecFeatures
      init_args:
        encodec_model: encodec_24khz
        bandwidths: [6.6, 6.6, 6.6, 6.6]
        train_codebooks: true

    backbone:
      class_path: languagecodec_decoder.models.VocosBackbone
      init_args:
        input_channels: 128
        dim: 384
        intermediate_dim: 1152
        num_layers: 12
        adanorm_num_embeddings: 4  # len(bandwidths)

    head:
      class_path: languagecodec_decoder.heads.ISTFTHead
      init_args:
        dim: 384
        n_fft: 1280
        hop_length: 320
        padding: same

trainer:
  logger:
    class_path: pytorch_lightning.loggers.TensorBoardLogger
    init_args:
      save_dir: /home/jovyan/honor/big-disk/speech/code/languagecodec/result/
  callbacks:
    - class_path: pytorch_lightning.callbacks.LearningRateMonitor
    - class_path: pytorch_lightning.callbacks.ModelSummary
      init_args:
        max_depth: 2
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args:
        monitor: val_loss
        filename: vocos_checkpoint_{epoch}_{step}_{val_loss:.4f}
        save_top_k: 50
        save_last: true
    - class_path: languagecodec_decoder.helpers.GradNormCallback

  # Lightning calculates max_steps across all optimizer steps (rather than number of batches)
  # This equals to 1M steps per generator and 1M per discriminator
  max_steps: 20000000
  # You might want to limit val batches when evaluating all the metrics, as they are time-consuming
  limit_val_batches: 100
  accelerator: gpu
  strategy: ddp
  devices: [0,1,2,3,4,5,6,7]
  log_every_n_steps: 1000
"""
_RESUME_CONFIG = ('/home/jovyan/honor/big-disk/speech/code/languagecodec/result/train/languagecodec_mm/lightning_logs/v'
    'ersion_1/config.yaml')
_RESUME_MODEL = ('/home/jovyan/honor/big-disk/speech/code/languagecodec/result/train/languagecodec_mm/lightning_logs/v'
    'ersion_1/checkpoints/vocos_checkpoint_epoch=7_step=1268768_val_loss=2.9373.ckpt')


def official_config() -> dict[str, Any]:
    """`configs/languagecodec_mm.yaml` as published, as a mapping."""
    config = yaml.safe_load(OFFICIAL_YAML)
    config["model"]["init_args"].update(resume_config=_RESUME_CONFIG, resume_model=_RESUME_MODEL)
    return config


# Upstream's `EncodecFeatures` builds its SEANet encoder with these values, whatever the file says
# (`nn.seanet.SEANetEncoder`'s arguments); the latent width (128 in upstream's code) is the width the backbone reads
# (`backbone.input_channels`: upstream runs only where the two agree), the base width (32) and the strides
# ([8, 5, 4, 2]) are `seanet_filters` and `seanet_ratios`.
SEANET: dict[str, Any] = dict(
    channels=1, n_residual_layers=1, activation="ELU", norm="weight_norm", kernel_size=7, last_kernel_size=7,
    residual_kernel_size=3, dilation_base=2, causal=False, pad_mode="reflect", true_skip=False, compress=2, lstm=2,
)
# Upstream's `infer` (the README's `encode_infer`) sets `n_q = 8` whatever the bandwidth: every inference codes with
# the first 8 quantisers (`quantization/vq.py`, `ResidualVectorQuantizer.infer`).
INFER_QUANTIZERS = 8


@dataclass(frozen=True)
class EncodecFeaturesArgs:
    """`init_args` of `languagecodec_decoder.feature_extractors.EncodecFeatures` (the encoder and its quantiser).

    Args:
        encodec_model (str): `"encodec_24khz"`, the only value upstream accepts.
        bandwidths (tuple[float, ...]): the four bandwidths; upstream sizes the quantiser stack from the last one
            (`num_quantizers`); inference codes with 8 quantisers whatever the bandwidth.
        train_codebooks (bool): training only.
        seanet_filters (int): the SEANet's base width (32 in upstream's code).
        seanet_ratios (tuple[int, ...]): its strides in decoder order ([8, 5, 4, 2] in upstream's code).
        vq_bins (int): codewords per codebook (1024 in upstream's code).

    `seanet_filters`, `seanet_ratios` and `vq_bins` are not arguments of upstream's class, which fixes them, so no
    official file holds them; only the tiny test fixture sets them (tests/fixtures/make_languagecodec_fixture.py
    sets upstream's constants to the same values).
    """

    encodec_model: Literal["encodec_24khz"] = "encodec_24khz"
    bandwidths: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0)
    train_codebooks: bool = False
    seanet_filters: int = 32
    seanet_ratios: tuple[int, ...] = (8, 5, 4, 2)
    vq_bins: int = 1024

    def __post_init__(self) -> None:
        if (not self.bandwidths or self.vq_bins < 2 or self.seanet_filters < 2 or not self.seanet_ratios
                or min(self.seanet_ratios) < 1):
            raise CodecConfigError(f"feature_extractor: bandwidths={list(self.bandwidths)}, vq_bins={self.vq_bins}, "
                                   f"seanet_filters={self.seanet_filters}, seanet_ratios={list(self.seanet_ratios)}; "
                                   "bandwidths must be given, vq_bins and seanet_filters ≥ 2, the ratios ≥ 1.")
        if self.num_quantizers < INFER_QUANTIZERS:
            raise CodecConfigError(
                f"feature_extractor.bandwidths={list(self.bandwidths)} gives {self.num_quantizers} quantisers, but "
                f"upstream's inference codes with {INFER_QUANTIZERS}; the last bandwidth must be at least 6.6 "
                "(the released config's).")

    @property
    def num_quantizers(self) -> int:
        """The quantiser stack upstream builds: `int(bandwidths[-1] * 1000 / (log2(2048) * 75))` (its constants:
        log2(2048), not of its 1024 bins, and 75 frames/s), 8 for the released 6.6."""
        return int(self.bandwidths[-1] * 1000 / (math.log2(2048) * int(24000 / 320)))


@dataclass(frozen=True)
class VocosBackboneArgs:
    """`init_args` of `languagecodec_decoder.models.VocosBackbone` (ConvNeXt blocks).

    Args:
        input_channels (int): channels of the quantised latent (the SEANet's 128).
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
    """`init_args` of `languagecodec_decoder.heads.ISTFTHead`.

    Args:
        dim (int): the backbone's width.
        n_fft (int): FFT size (and window length).
        hop_length (int): samples per frame (the encoder's total stride).
        padding (str): `"same"`, as in the released config.
    """

    dim: int
    n_fft: int
    hop_length: int
    padding: Literal["same"] = "same"


# The class each part names, as upstream's file spells it.
CLASS_PATHS = {
    "feature_extractor": "languagecodec_decoder.feature_extractors.EncodecFeatures",
    "backbone": "languagecodec_decoder.models.VocosBackbone",
    "head": "languagecodec_decoder.heads.ISTFTHead",
}
EXPERIMENT = "languagecodec_decoder.experiment.VocosEncodecExp"
# `VocosEncodecExp.__init__`'s other arguments: losses, optimiser, evaluation, resuming.
EXPERIMENT_TRAINING_KEYS = ("resume_config", "resume_model", "initial_learning_rate", "num_warmup_steps",
                            "mel_loss_coeff", "mrd_loss_coeff", "pretrain_mel_steps", "decay_mel_coeff",
                            "evaluate_utmos", "evaluate_pesq", "evaluate_periodicty", "resume")
# Top-level sections of the CLI file that only training reads.
FILE_TRAINING_KEYS = ("seed_everything", "data", "trainer", "ckpt_path", "optimizer", "lr_scheduler")
_ARGS = {"feature_extractor": EncodecFeaturesArgs, "backbone": VocosBackboneArgs, "head": ISTFTHeadArgs}


@dataclass(frozen=True)
class LanguageCodecConfig:
    """The model part of a LanguageCodec config file.

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
        hop = math.prod(self.feature_extractor.seanet_ratios)
        if self.backbone.input_channels < 3:
            raise CodecConfigError(f"backbone.input_channels={self.backbone.input_channels}: the masked-channel VQ "
                                   "splits the latent's channels in three, so it needs at least 3.")
        if self.head.dim != self.backbone.dim:
            raise CodecConfigError(f"head.dim={self.head.dim} differs from backbone.dim={self.backbone.dim}.")
        if self.head.hop_length != hop:
            raise CodecConfigError(f"head.hop_length={self.head.hop_length}, but the encoder's strides "
                                   f"{list(self.feature_extractor.seanet_ratios)} make {hop} samples a frame.")
        if self.head.n_fft <= hop or (self.head.n_fft - hop) % 2:
            raise CodecConfigError(f"head.n_fft={self.head.n_fft} must exceed the hop {hop} by an even number of "
                                   "samples ('same' padding trims half the difference at each end).")

    @property
    def hop_length(self) -> int:
        return self.head.hop_length

    def seanet(self) -> dict[str, Any]:
        """The keyword arguments of the encoder (`nn.seanet.SEANetEncoder`)."""
        return {**SEANET, "dimension": self.backbone.input_channels, "n_filters": self.feature_extractor.seanet_filters,
                "ratios": self.feature_extractor.seanet_ratios}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "LanguageCodec config") -> LanguageCodecConfig:
        """Read an official config file's mapping (its training sections are accepted and ignored)."""
        sample_rate, parts = lightning_cli_parts(
            config, experiment=EXPERIMENT, parts={name: (CLASS_PATHS[name], args) for name, args in _ARGS.items()},
            experiment_training_keys=EXPERIMENT_TRAINING_KEYS, file_training_keys=FILE_TRAINING_KEYS,
            default_sample_rate=24000, what=what)  # upstream's default rate
        return cls(sample_rate=sample_rate, **parts)

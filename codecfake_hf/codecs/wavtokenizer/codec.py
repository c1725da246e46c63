"""WavTokenizer (jishengpeng, 24 kHz, one 4096-entry codebook at 40 or 75 frames/s): the family contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
import yaml

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import WavTokenizerConfig
from .model import DECODER_PREFIX, WavTokenizerModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# configs/wavtokenizer_smalldata_frame75_3s_nq1_code4096_dim512_kmeans200_attn.yaml of jishengpeng/WavTokenizer
# (commit 5cf440d), as published; the model reads only `model.init_args`' three networks and `sample_rate`.
_FRAME75 = """\
seed_everything: 3407
data:
  class_path: decoder.dataset.VocosDataModule
  init_args:
    train_params: {filelist_path: ./WavTokenizer/data/train/libritts_train, sampling_rate: 24000, num_samples: 72000,
                   batch_size: 40, num_workers: 8}
    val_params: {filelist_path: ./WavTokenizer/data/infer/librttts_val, sampling_rate: 24000, num_samples: 72000,
                 batch_size: 5, num_workers: 8}
model:
  class_path: decoder.experiment.WavTokenizer
  init_args:
    sample_rate: 24000
    initial_learning_rate: 2e-4
    mel_loss_coeff: 45
    mrd_loss_coeff: 1.0
    num_warmup_steps: 0
    pretrain_mel_steps: 0
    evaluate_utmos: true
    evaluate_pesq: true
    evaluate_periodicty: true
    resume: false
    resume_config: ./WavTokenizer/configs/wavtokenizer_smalldata_frame75_3s_nq1_code16384_dim512_kmeans800_attn.yaml
    resume_model: null  # _RESUME_MODEL (a line too long for this file)
    feature_extractor:
      class_path: decoder.feature_extractors.EncodecFeatures
      init_args: {encodec_model: encodec_24khz, bandwidths: [6.6, 6.6, 6.6, 6.6], train_codebooks: true,
                  num_quantizers: 1, dowmsamples: [8, 5, 4, 2], vq_bins: 4096, vq_kmeans: 200}
    backbone:
      class_path: decoder.models.VocosBackbone
      init_args: {input_channels: 512, dim: 768, intermediate_dim: 2304, num_layers: 12, adanorm_num_embeddings: 4}
    head:
      class_path: decoder.heads.ISTFTHead
      init_args: {dim: 768, n_fft: 1280, hop_length: 320, padding: same}
trainer:
  logger:
    class_path: pytorch_lightning.loggers.TensorBoardLogger
    init_args:
      save_dir: ./WavTokenizer/result/train/wavtokenizer_smalldata_frame75_3s_nq1_code4096_dim512_kmeans200_attn/
  callbacks:
    - class_path: pytorch_lightning.callbacks.LearningRateMonitor
    - class_path: pytorch_lightning.callbacks.ModelSummary
      init_args: {max_depth: 2}
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args: {monitor: val_loss, filename: "wavtokenizer_checkpoint_{epoch}_{step}_{val_loss:.4f}", save_top_k: 10,
                  save_last: true}
    - class_path: decoder.helpers.GradNormCallback
  max_steps: 2000000
  limit_val_batches: 100
  accelerator: gpu
  strategy: ddp
  devices: [0, 1, 2, 3, 4, 5, 6, 7]
  log_every_n_steps: 1000
"""

_RESUME_MODEL = ("./WavTokenizer/result/train/wavtokenizer_smalldata_frame75_3s_nq1_code16384_dim512_kmeans800_attn/"
                 "xxx.ckpt")

# The 40-frame file (..._frame40_...yaml) differs from it in these values only.
_FRAME40 = {
    ("model", "init_args", "resume_config"):
        "./WavTokenizer/configs/wavtokenizer_smalldata_frame40_3s_nq1_code16384_dim512_kmeans800_attn.yaml",
    ("model", "init_args", "resume_model"): "./version_3/checkpoints/xxx.ckpt",
    ("model", "init_args", "feature_extractor", "init_args", "dowmsamples"): [6, 5, 5, 4],
    ("model", "init_args", "head", "init_args", "n_fft"): 2400,
    ("model", "init_args", "head", "init_args", "hop_length"): 600,
    ("trainer", "logger", "init_args", "save_dir"):
        "./WavTokenizer/result/train/wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_kmeans200_attn/",
    ("trainer", "limit_val_batches"): 200,
}


def official_config(hop_length: int) -> dict[str, Any]:
    """The repository's config file of the 75-frame (hop 320) or 40-frame (hop 600) small model, as a mapping."""
    config = yaml.safe_load(_FRAME75)
    config["model"]["init_args"]["resume_model"] = _RESUME_MODEL
    if hop_length == 600:
        for path, value in _FRAME40.items():
            section = config
            for key in path[:-1]:
                section = section[key]
            section[path[-1]] = value
    elif hop_length != 320:
        raise ValueError(f"WavTokenizer releases hop 320 or 600 samples, not {hop_length}")
    return config


class WavTokenizerCodec(Codec):
    """WavTokenizer as its README runs it: `encode_infer` (one codebook), then `decode` at bandwidth id 0.

    Output length is `ceil(T / hop) * hop`: the encoder pads the signal to whole frames and the ISTFT head gives
    `hop` samples per frame; upstream keeps all of them.

    Padded batches are exact: the encoder pads each item at its own end (`nn.seanet`), and the backbone's
    convolutions, group norms, attention and the ISTFT's overlap-add see only each item's frames (`model.py`);
    a batch of equal lengths takes upstream's plain operations.

    Args:
        spec (CodecSpec): the registry entry.
        model (WavTokenizerModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = True

    def __init__(self, spec: CodecSpec, model: WavTokenizerModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        # Upstream's README decodes with `bandwidth_id = torch.tensor([0])`: row 0 of every AdaLayerNorm.
        self.bandwidth_id = torch.tensor([0], device=self.device)

    def output_length(self, length: int) -> int:
        return int(self.model.frame_lengths(int(length))) * self.model.config.hop_length

    def min_input_length(self) -> int:
        return 1  # reflect padding of a signal shorter than the kernel zero-extends it first (as upstream)

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`waves [B, T]` at 24 kHz (valid up to `lengths`) -> `(codes [B, 1, F], frames [B])` on the CPU."""
        waves = torch.as_tensor(waves, dtype=torch.float32)
        waves = waves[None] if waves.dim() == 1 else waves
        lengths = torch.full((waves.shape[0],), waves.shape[1]) if lengths is None else torch.as_tensor(lengths)
        codes = self.model.encode(waves.to(self.device), self._lengths_arg(lengths, waves))
        return codes.cpu(), self.model.frame_lengths(lengths.long().cpu())

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths_arg = self._lengths_arg(lengths, waves)
        codes = self.model.encode(waves, lengths_arg)
        frames = None if lengths_arg is None else self.model.frame_lengths(lengths_arg)
        return self.model.decode(codes, self.bandwidth_id, frames)

    def _lengths_arg(self, lengths: torch.Tensor, waves: torch.Tensor) -> torch.Tensor | None:
        # A batch of equal lengths needs no per-item masking: upstream's exact operations.
        if bool((lengths == waves.shape[-1]).all()):
            return None
        return lengths.to(device=self.device, dtype=torch.long)


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}

# The parts of a Lightning checkpoint's `state_dict` that upstream's `from_pretrained0802` keeps (the rest holds the
# discriminators and the losses' modules).
MODEL_PREFIXES = ("feature_extractor.", "backbone.", "head.")


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The config file of `spec`'s architecture: the repository's 40- or 75-frame file (the medium release's own
    file on the Hub has the same model part)."""
    return official_config(spec.hop_length)


def model_state(checkpoint: Mapping[str, Any], *, source: str) -> dict[str, torch.Tensor]:
    """The network's tensors of a Lightning checkpoint (its `state_dict`, the keys upstream keeps), or of a plain
    state dict already holding them."""
    return weights.lightning_state(checkpoint, prefixes=MODEL_PREFIXES, model="WavTokenizer", source=source)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Fetch the config (the medium release's YAML; else the code's) and the Lightning checkpoint from the Hub cache.

    The `.ckpt` is read with `weights_only=True` (tensors and plain containers only), then checked against the
    config while its path is known.
    """
    *config_files, checkpoint_name = spec.hub_files
    if config_files:
        path = weights.hub_file(spec.hub_repo, config_files[0], codec=spec.name)
        config = weights.read_config_file(path, codec=spec.name, required=("model",),
                                          what="a WavTokenizer config (a Lightning CLI file)")
        what = f"{spec.name}: config file {path}"
    else:
        config = default_config(spec)
        what = f"{spec.name} config"
    architecture = _architecture(spec, config, what=what)
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    source = f"{spec.name}: checkpoint file {checkpoint_path}"
    state_dict = model_state(weights.load_checkpoint(checkpoint_path, codec=spec.name), source=source)
    weights.check_against(lambda: WavTokenizerModel(architecture), state_dict, source=source,
                          ignore_prefixes=(DECODER_PREFIX,))
    return config, state_dict


def _architecture(spec: CodecSpec, config: Mapping[str, Any], *, what: str) -> WavTokenizerConfig:
    architecture = WavTokenizerConfig.from_config(config, what=what)
    if architecture.sample_rate != spec.sample_rate:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.sample_rate} Hz; this codec runs at "
                               f"{spec.sample_rate} Hz.")
    return architecture


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> WavTokenizerCodec:
    """The codec from an official-format config and state dict (a Lightning checkpoint, its `state_dict`, or the
    network's keys alone; None: random weights).

    Args:
        spec: the registry entry.
        config: the official config file's mapping.
        state_dict: the weights, in the checkpoint's key layout; the SEANet decoder's keys are dropped.
        runtime: device, precision and random-weight seed.
    """
    model = WavTokenizerModel(_architecture(spec, config, what="WavTokenizer config"))
    if state_dict is not None:
        weights.load_strict(model, model_state(state_dict, source=f"{spec.name} state dict"),
                            source=f"{spec.name} state dict", ignore_prefixes=(DECODER_PREFIX,))
    return WavTokenizerCodec(spec, model, runtime)

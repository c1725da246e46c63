"""HILCodec (aask1357/hilcodec, 24 kHz, 6 kbps): its config file, the checkpoint's generator and the family
contract.

Upstream facts relied on (aask1357/hilcodec at commit 616e8c36): `configs/hilcodec_speech.yaml` (the speech model's
`model_kwargs` and `data`), `models/hilcodec/wrapper.py` (`HILCodec(sample_rate=data.sampling_rate,
channels_audio=data.channels, **model_kwargs)`; `load` reads the checkpoint's `model` entry, strictly),
`models/modelwrapper.py` (checkpoints named `{epoch:05d}.pth`), `scripts/inference.ipynb` (the input clamped to
[-1, 1] and cut to whole hops, then `model(x, n=8)`; no weight-norm removal) and `test_onnx.py` (the ONNX release
run with 8 quantisers by default, on whole hops).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..config import from_config
from .model import HILCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# configs/hilcodec_speech.yaml of aask1357/hilcodec (commit 616e8c36), the parts inference reads: `model`,
# `model_kwargs` and `data`'s rate and channels. The file's other sections (`disc_kwargs`, the rest of `data`,
# `train`, `valid`, `infer`, `pesq`) configure training; the release's `config.yaml` is the training run's copy of it.
OFFICIAL_CONFIG: dict[str, Any] = {
    "model": "hilcodec",
    "model_kwargs": {
        "channels_enc": 64, "channels_dec": 96, "n_fft_base": 64, "n_residual_enc": 2, "n_residual_dec": 3,
        "res_scale_enc": 0.5773502691896258, "res_scale_dec": 0.5773502691896258, "strides": [8, 5, 4, 2],
        "kernel_size": 5, "last_kernel_size": 5, "residual_kernel_size": 5, "dilation_base": 1, "skip": "identity",
        "final_activation": "Tanh", "act_all": False, "encoder_l2norm": True, "causal": True, "zero_init": True,
        "inout_norm": True, "pad_mode": "constant", "spec": "stft", "spec_compression": "log",
        "spec_learnable": False,
        "vq_kwargs": {"dim": 128, "codebook_size": 1024, "num_quantizers": 8, "kmeans_init": True, "decay": 0.99,
                      "ema_num_threshold": 0.5, "ema_num_initial": 0.5, "dropout": True, "dropout_index": [2, 4, 8]},
    },
    "data": {"sampling_rate": 24000, "channels": 1},
}
# The checkpoint's entry holding the generator's state dict (wrapper.py: `load_state_dict(checkpoint['model'])`);
# `disc`, `optim_g`, `optim_d`, `scheduler_*`, `scaler_*`, `epoch`, `balancer`, `metrics` are training state.
CHECKPOINT_MODEL = "model"


@dataclass(frozen=True)
class VQArgs:
    """`model_kwargs.vq_kwargs`: `ResidualVQ`'s arguments; the k-means/EMA/dropout ones only train.

    Args:
        dim (int): latent and codeword dimension.
        codebook_size (int): codewords per stage.
        num_quantizers (int): stages.
    """

    TRAINING_KEYS = ("kmeans_init", "kmeans_iters", "decay", "eps", "ema_num_threshold", "ema_num_initial",
                     "dropout", "dropout_index")

    dim: int
    codebook_size: int
    num_quantizers: int


@dataclass(frozen=True)
class ModelArgs:
    """`model_kwargs`: the arguments of upstream's `HILCodec` (defaults: its constructor's).

    Upstream also builds variants no released model uses; those values are refused by name (`__post_init__`):
    a non-causal model (another STFT), other convolution norms, non-identity shortcuts, `act_all`, no spectrogram
    branch, no quantiser.

    Args:
        channels_enc (int), channels_dec (int): the encoder's first and the decoder's last width.
        n_fft_base (int): the first scale's STFT size (doubled at each scale).
        n_residual_enc (int), n_residual_dec (int): residual blocks per scale.
        res_scale_enc (float | None), res_scale_dec (float | None): the residual branches' scale.
        strides (tuple[int, ...]): the decoder's upsampling factors (the encoder's, reversed).
        activation (str), activation_kwargs (dict): a torch.nn activation and its arguments.
        norm (str), norm_kwargs (dict): every convolution's norm.
        kernel_size (int), last_kernel_size (int), residual_kernel_size (int), dilation_base (int): kernels.
        skip (str): the residual blocks' shortcut.
        final_activation (str | None): the decoder's last activation (a torch.nn name).
        vq (str): the quantiser class.
        vq_kwargs (VQArgs): its arguments.
        act_all (bool): an activation before every convolution of a block.
        expansion (int), groups (int): the depthwise convolutions' groups (`channels // expansion` for -1).
        encoder_l2norm (bool): l2-normalise the latent.
        bias (bool): biases on the convolutions that have them upstream.
        spec (str), spec_compression (str | float), spec_learnable (bool): the spectrogram branches (`spec_layer`:
            the older configs' name of their one layout, accepted as `1x1_zero`).
        pad_mode (str): the causal convolutions' padding.
        causal (bool): causal convolutions.
        zero_init (bool): learnt branch scalars.
        inout_norm (bool): waveform and spectrogram standardisation.
    """

    vq_kwargs: VQArgs
    channels_enc: int = 32
    channels_dec: int = 32
    n_fft_base: int = 64
    n_residual_enc: int = 1
    n_residual_dec: int = 1
    res_scale_enc: float | None = None
    res_scale_dec: float | None = None
    strides: tuple[int, ...] = (8, 5, 4, 2)
    activation: str = "ELU"
    activation_kwargs: dict = field(default_factory=lambda: {"alpha": 1.0})
    norm: str = "weight_norm"
    norm_kwargs: dict = field(default_factory=dict)
    kernel_size: int = 5
    last_kernel_size: int = 5
    residual_kernel_size: int = 5
    dilation_base: int = 1
    skip: str = "identity"
    final_activation: str | None = "Tanh"
    vq: str = "ResidualVQ"
    act_all: bool = False
    expansion: int = 1
    groups: int = -1
    encoder_l2norm: bool = True
    bias: bool = True
    spec: str = "stft"
    # Only in configs of the first public code (aask1357/hilcodec 7afaf9d; training runs then copied it into their
    # config.yaml): its `1x1_zero` SpecBlock, a 1x1 convolution with a zero-initialised scale, is the one SpecBlock
    # the code kept when "clean codes" (4f2482a) removed the argument.
    spec_layer: str = "1x1_zero"
    spec_compression: str | float = ""
    spec_learnable: bool = False
    pad_mode: str = "constant"
    causal: bool = True
    zero_init: bool = True
    inout_norm: bool = True

    def __post_init__(self) -> None:
        what = "model_kwargs"
        unsupported = {"causal": (self.causal, True), "norm": (self.norm, "weight_norm"),
                       "skip": (self.skip, "identity"), "act_all": (self.act_all, False), "spec": (self.spec, "stft"),
                       "vq": (self.vq, "ResidualVQ")}
        for key, (value, released) in unsupported.items():
            if value != released:
                raise CodecConfigError(f"{what}.{key}={value!r}: only the released models' {key}={released!r} is "
                                       "implemented here (upstream's other variants have no released checkpoint).")
        if self.spec_layer != "1x1_zero":
            raise CodecConfigError(f"{what}.spec_layer={self.spec_layer!r}: only '1x1_zero' (the SpecBlock the code at "
                                   "616e8c36 builds; its other values went with the argument in 4f2482a).")
        if self.norm_kwargs:
            raise CodecConfigError(f"{what}.norm_kwargs={self.norm_kwargs!r}: the released models pass none.")
        if self.expansion != 1 and self.groups != -1:  # upstream's own check
            raise CodecConfigError(f"{what}: both expansion={self.expansion} and groups={self.groups} are set; set "
                                   "expansion=1 or groups=-1.")
        if not 1 <= len(self.strides) <= 5:
            raise CodecConfigError(f"{what}.strides={list(self.strides)}: 1 to 5 strides (upstream's encoder has "
                                   "spectrogram statistics for 5 scales).")
        for name in (self.activation, self.final_activation):
            if name is not None and not isinstance(getattr(nn, name, None), type):
                raise CodecConfigError(f"{what}: {name!r} is not a torch.nn activation (e.g. 'ELU', 'Tanh').")
        if self.pad_mode not in ("constant", "reflect", "replicate"):
            raise CodecConfigError(f"{what}.pad_mode={self.pad_mode!r}: one of 'constant', 'reflect', 'replicate'.")
        if isinstance(self.spec_compression, str) and self.spec_compression not in ("log", ""):
            raise CodecConfigError(f"{what}.spec_compression={self.spec_compression!r}: 'log', '' or a number.")

    @property
    def hop_length(self) -> int:
        hop = 1
        for stride in self.strides:
            hop *= stride
        return hop

    def depthwise_groups(self, channels: int) -> int:
        """The residual blocks' depthwise convolution groups (upstream's `dws_conv_block`)."""
        return channels // self.expansion if self.groups == -1 else self.groups


@dataclass(frozen=True)
class DataArgs:
    """`data`: the audio's rate and channels (its other keys configure the data loaders).

    Args:
        sampling_rate (int): Hz.
        channels (int): audio channels.
    """

    sampling_rate: int
    channels: int


@dataclass(frozen=True)
class HILCodecConfig:
    """A HILCodec config file (`configs/*.yaml`, the release's `config.yaml`): what inference reads of it.

    Args:
        model_kwargs (ModelArgs): the network.
        data (DataArgs): rate and channels.
    """

    model_kwargs: ModelArgs
    data: DataArgs

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "HILCodec config",
                    sample_rate: int | None = None) -> HILCodecConfig:
        """Read the file's mapping: `model` (if present) must name HILCodec; the training sections are ignored, as
        upstream's inference ignores them; an unknown key inside `model_kwargs` is refused (upstream's constructor
        would refuse it too)."""
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
        if config.get("model", "hilcodec") != "hilcodec":
            raise CodecConfigError(f"{what}: model={config['model']!r}; this family builds 'hilcodec'.")
        for key in ("model_kwargs", "data"):
            if not isinstance(config.get(key), Mapping):
                raise CodecConfigError(f"{what} lacks `{key}`, the config file's `{key}:` section.")
        data = config["data"]
        result = cls(model_kwargs=from_config(ModelArgs, config["model_kwargs"], what=f"{what} `model_kwargs`"),
                     data=from_config(DataArgs, {k: data[k] for k in ("sampling_rate", "channels") if k in data},
                                      what=f"{what} `data`"))
        if result.data.channels != 1:
            raise CodecConfigError(f"{what}: data.channels={result.data.channels}; the released models are mono.")
        if sample_rate is not None and result.data.sampling_rate != sample_rate:
            raise CodecConfigError(f"{what}: data.sampling_rate={result.data.sampling_rate}, but this config runs "
                                   f"at {sample_rate} Hz.")
        return result


class HILCodecCodec(Codec):
    """HILCodec as upstream's `scripts/inference.ipynb` runs it.

    The input is clamped to [-1, 1] and cut to whole frames (`T // hop * hop` samples), then encoded, quantised with
    the first `n_quantizers` codebooks and decoded; the causal decoder returns as many samples as it was given.

    Args:
        spec (CodecSpec): the registry entry.
        model (HILCodecModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
        hop_length (int): samples per frame.
        n_quantizers (int): codebooks used.
    """

    # The model is causal (left padding only), so the zeros after an item in a padded batch cannot reach its
    # samples: a batch gives each item what it gets alone.
    batch_exact = True

    def __init__(self, spec: CodecSpec, model: HILCodecModel, runtime: Runtime | None = None, *, hop_length: int,
                 n_quantizers: int):
        super().__init__(spec, model, runtime)
        self.hop_length, self.n_quantizers = hop_length, n_quantizers

    def output_length(self, length: int) -> int:
        return int(length) // self.hop_length * self.hop_length

    def min_input_length(self) -> int:
        return self.hop_length

    def _frames(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The padded batch clamped and cut as the notebook cuts each item: `[B, 1, max(T // hop) * hop]`, each item
        zero past its whole frames."""
        kept = lengths // self.hop_length * self.hop_length
        width = int(kept.max())
        mask = (torch.arange(width) < kept[:, None]).to(waves.device)
        return (waves[:, :width].clamp(min=-1, max=1) * mask)[:, None]

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[n_quantizers, T // hop]` (on the CPU)."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(self.device)
        frames = self._frames(wave[None], torch.tensor([wave.shape[0]]))
        return self.model.quantizer(self.model.encoder(frames), self.n_quantizers)[1][0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        audio, _ = self.model(self._frames(waves, lengths), self.n_quantizers)
        return audio[:, 0]


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {
    "n_quantizers": "codebooks to encode and decode with (hilcodec_speech: 1-8, 0.75 kbps each; default: 8, 6 kbps, "
                    "as upstream's inference.ipynb runs it)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The repository's `configs/hilcodec_speech.yaml`, the parts inference reads (a fresh copy)."""
    return copy.deepcopy(OFFICIAL_CONFIG)


def model_state(checkpoint: Mapping[str, Any], *, source: str) -> dict[str, torch.Tensor]:
    """The generator's state dict of a checkpoint (`<epoch>.pth`: its `model` entry; the training state beside it
    is ignored, as upstream's inference ignores it), flat, tensors only (the codebooks' `_extra_state` flags go)."""
    part = checkpoint.get(CHECKPOINT_MODEL) if isinstance(checkpoint, Mapping) else None
    if not isinstance(part, Mapping):
        raise CheckpointError(f"{source} has no `{CHECKPOINT_MODEL}` state dict: it is not a HILCodec checkpoint "
                              f"(upstream's <epoch>.pth holds the generator under `{CHECKPOINT_MODEL}`).")
    return weights.flatten(part)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The release's `config.yaml` and checkpoint (`torch.load(weights_only=True)`), checked while their paths are
    known; the folder (or Hub repository) is `spec.hub_repo`, which `codecs.load(weights=...)` sets."""
    config_file, checkpoint_file = spec.hub_files
    config_path = weights.hub_file(spec.hub_repo, config_file, codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name, required=("model_kwargs", "data"),
                                      what="a HILCodec config.yaml")
    path = weights.hub_file(spec.hub_repo, checkpoint_file, codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    state_dict = model_state(weights.load_checkpoint(path, codec=spec.name), source=source)
    architecture = HILCodecConfig.from_config(config, what=f"{spec.name} config {config_path}",
                                              sample_rate=spec.sample_rate)
    weights.check_against(lambda: _model(architecture), state_dict, source=source)
    return config, state_dict


def _model(config: HILCodecConfig) -> HILCodecModel:
    model = HILCodecModel(config.model_kwargs, config.data.channels)
    model.config = config
    return model


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *, runtime: Runtime,
          n_quantizers: int | None = None) -> HILCodecCodec:
    """The codec from a config file's mapping and the generator's state dict (flat, as `HILCodec.state_dict()`, or a
    whole checkpoint holding it under `model`; None: random weights).

    Args:
        spec: the registry entry.
        config: the config file's mapping (`configs/hilcodec_speech.yaml`'s format).
        state_dict: the weights.
        runtime: device, precision and random-weight seed.
        n_quantizers: codebooks to use (default: the spec's 8, as inference.ipynb runs it; all of a smaller
            model's).
    """
    architecture = HILCodecConfig.from_config(config, sample_rate=spec.sample_rate)
    total = architecture.model_kwargs.vq_kwargs.num_quantizers
    # inference.ipynb's `model(x, n=8)`: the spec's codebooks, or all of a smaller (tiny) model's
    n = min(spec.n_codebooks, total) if n_quantizers is None else n_quantizers
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise CodecConfigError(f"{spec.name}: n_quantizers={n_quantizers!r}; this model has 1 to {total} codebooks "
                               f"(0.75 kbps each at 24 kHz); leave it out for {min(spec.n_codebooks, total)}.")
    model = _model(architecture)
    if state_dict is not None:
        source = f"{spec.name} state dict"
        if CHECKPOINT_MODEL in state_dict and isinstance(state_dict[CHECKPOINT_MODEL], Mapping):
            flat = model_state(state_dict, source=source)
        else:
            flat = weights.flatten(state_dict)
        weights.load_strict(model, flat, source=source)
    return HILCodecCodec(spec, model, runtime, hop_length=architecture.model_kwargs.hop_length, n_quantizers=n)

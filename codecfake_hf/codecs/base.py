"""The codec contract: `Codec.resynthesize(waves, lengths) -> (waves, lengths)` on padded batches."""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .spec import CodecSpec

# Numeric precision of a codec run. fp32 is exact and batch-independent (the default: dataset rows);
# tf32 and bf16 trade accuracy for throughput, measured per codec by bench/precision.py.
PRECISIONS = ("fp32", "tf32", "bf16")


@contextlib.contextmanager
def _tf32(allowed: bool) -> Iterator[None]:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`, else ValueError listing them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


# Under `bf16` these layers run their matmuls/convolutions in bfloat16 (torch.autocast around each
# call) and hand float32 on; everything between them stays float32: activations, norms, quantiser
# distances, loudness, STFTs and the families' own buffers. Autocast around a whole `_resynthesize`
# broke six of the fifteen codecs (float32 buffers filled with bfloat16, bfloat16 STFTs and loudness
# filters that CPUs refuse), and keeping the codebook search in float32 keeps the codes stabler.
BF16_LAYERS = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear, nn.LSTM, nn.GRU)


def _float32(value):
    if isinstance(value, PackedSequence):  # a tuple too: keep its type
        return value.to(torch.float32) if value.data.dtype == torch.bfloat16 else value
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype == torch.bfloat16 else value
    if isinstance(value, tuple):
        return tuple(_float32(v) for v in value)
    return value


def _bfloat16(value):
    if isinstance(value, PackedSequence):
        return value.to(torch.bfloat16) if value.data.is_floating_point() else value
    if isinstance(value, torch.Tensor):
        return value.to(torch.bfloat16) if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(_bfloat16(v) for v in value)
    return value


def _in_bf16(forward, device_type: str):
    @functools.wraps(forward)
    def run(*args, **kwargs):
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            return _float32(forward(*args, **kwargs))

    return run


def _lstm_in_bf16(module: nn.LSTM):
    """`module`'s forward on a bfloat16 copy of its weights, inputs cast to bfloat16, float32 handed on.

    Not autocast: under CPU autocast an LSTM goes to oneDNN, which has no bfloat16 LSTM on CPUs without
    AVX-512 ("could not create a primitive descriptor for the LSTM forward propagation primitive" on an AVX2
    AMD EPYC); torch's own LSTM runs bfloat16 weights and inputs on any CPU. The copy lives for one
    `precision_mode` block; the model's float32 weights are not touched.
    """
    low = copy.copy(module)  # same class and settings; its own parameter table below
    low._parameters = {name: None if p is None else nn.Parameter(p.detach().to(torch.bfloat16), requires_grad=False)
                       for name, p in module._parameters.items()}
    low._init_flat_weights()
    forward = type(module).forward.__get__(low)

    def run(input, hx=None):
        return _float32(forward(_bfloat16(input), _bfloat16(hx)))

    return run


@contextlib.contextmanager
def _bf16_layers(model: nn.Module, device_type: str) -> Iterator[None]:
    """Each `BF16_LAYERS` module of `model` runs under bfloat16 autocast until the block ends (an LSTM on a CPU: on a
    bfloat16 copy of its weights, `_lstm_in_bf16`)."""
    patched = []
    for module in model.modules():
        if isinstance(module, BF16_LAYERS):
            patched.append((module, module.__dict__.get("forward")))
            if device_type == "cpu" and isinstance(module, nn.LSTM):
                module.forward = _lstm_in_bf16(module)
            else:
                module.forward = _in_bf16(module.forward, device_type)  # shadows the class's forward
    try:
        yield
    finally:
        for module, previous in patched:
            if previous is None:
                del module.forward
            else:
                module.forward = previous


@contextlib.contextmanager
def precision_mode(precision: str, model: nn.Module, device: torch.device) -> Iterator[None]:
    """Run `model` at `precision` on `device`, restoring the global settings and the model after.

    `fp32` (default): float32 throughout, TF32 off. Why off: cuDNN's default TF32 keeps 10 mantissa
    bits, and which kernel runs depends on the batch shape, so the same utterance came out up to ~700
    PCM16 steps apart batched and alone on an H200 with TF32 on; with it off, batched and alone agree
    within 1 PCM16 step for every config (bench/results/device-check-cuda.json). Dataset rows must not
    depend on their batch. `tf32`: CUDA matmuls and convolutions in TF32 (10-bit mantissa
    inputs, float32 accumulation); a no-op on CPU, which has no TF32. `bf16`: the model's
    convolutions, linear and recurrent layers under `torch.autocast` to bfloat16 on the device's type
    (CUDA or CPU), float32 between them (see `BF16_LAYERS`; on a CPU an LSTM runs on a bfloat16 copy of its
    weights instead, since oneDNN has no bfloat16 LSTM without AVX-512). Only fp32 keeps rows independent of how
    they were batched; bench/precision.py measures how far the others are from it, per codec.
    """
    check_precision(precision)
    with _tf32(precision == "tf32"):
        if precision == "bf16":
            with _bf16_layers(model, device.type):
                yield
        else:
            yield


@dataclass(frozen=True)
class Runtime:
    """Where and how a loaded codec runs, fixed when it is built (`registry.load` makes it; a family's `build`
    hands it to its `Codec`).

    Args:
        device (torch.device): where the model runs (a string is accepted: `"cpu"`, `"cuda:0"`, `"meta"`).
        precision (str): `fp32` (default, exact), `tf32` or `bf16`; see `precision_mode`.
        seed (int | None): with random weights, the `seed` they were drawn from (with the name:
            `registry.weight_seed`); None for loaded weights.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", torch.device(self.device))
        check_precision(self.precision)


class Codec:
    """A loaded codec config: the torch module plus what the CodecFake pipeline did around it.

    Subclasses implement `_resynthesize` (and `output_length` where the rule is not "same as input").

    Args:
        spec (CodecSpec): the registry entry.
        model (nn.Module): the network; its `state_dict()` uses the official checkpoint's key names.
        runtime (Runtime): device, precision and random-weight seed, fixed here (read them as `device`,
            `precision`, `seed`, `random_weights`).

    Attributes:
        batch_exact (bool): whether an item of a padded batch gets what it would get alone (rel. L2 ≤
            1e-4). Families that cannot promise it set it False (saying why in a comment); the engine
            then runs that codec one utterance at a time.
    """

    batch_exact: bool = True

    def __init__(self, spec: CodecSpec, model: nn.Module, runtime: Runtime | None = None):
        self.spec = spec
        self.runtime = runtime if runtime is not None else Runtime()
        self.model = model.to(self.runtime.device).eval()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    @property
    def precision(self) -> str:
        """`fp32`, `tf32` or `bf16`, fixed when the codec was built (see `with_precision`)."""
        return self.runtime.precision

    @property
    def seed(self) -> int | None:
        """With random weights, the `seed` they were drawn from; None for loaded weights."""
        return self.runtime.seed

    @property
    def random_weights(self) -> bool:
        """Whether the weights are random (a smoke run), not a checkpoint's."""
        return self.runtime.seed is not None

    def with_precision(self, precision: str) -> Codec:
        """This codec at another precision: a new `Codec` over the same model (this one is unchanged)."""
        if precision == self.precision:
            return self
        other = copy.copy(self)
        other.runtime = Runtime(device=self.device, precision=precision, seed=self.seed)
        return other

    @property
    def sample_rate(self) -> int:
        """The rate the codec takes its input at, in Hz."""
        return self.spec.sample_rate

    @property
    def output_rate(self) -> int:
        """The rate of `resynthesize`'s output, in Hz: the spec's `output_rate` where the decoder's differs from the
        input's (NeuCodec: 16 kHz in, 24 kHz out), else `sample_rate`."""
        return self.spec.output_rate or self.spec.sample_rate

    def output_length(self, length: int) -> int:
        """Output samples (at `output_rate`) for an input of `length` samples (at `sample_rate`), by the upstream
        rule (default: the same)."""
        return int(length)

    def min_input_length(self) -> int:
        """The shortest input, in samples, the codec accepts (default: one hop)."""
        return self.spec.hop_length

    @torch.inference_mode()
    def resynthesize(
        self, waves: torch.Tensor | np.ndarray, lengths: torch.Tensor | np.ndarray | list[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and decode a padded batch.

        Args:
            waves: float32 `[B, T]` at `sample_rate`, item `i` valid up to `lengths[i]`, zero after.
            lengths: `[B]` valid samples per item.

        Returns:
            `(waves [B, T'], lengths [B])` on the CPU: float32 reconstructions (not clamped) at `output_rate`, each
            item cut to `output_length(lengths[i])` and zero beyond it.
        """
        waves = torch.as_tensor(np.asarray(waves) if isinstance(waves, list) else waves, dtype=torch.float32)
        lengths = torch.as_tensor(lengths, dtype=torch.long).cpu().reshape(-1)
        if waves.dim() == 1:
            waves = waves.unsqueeze(0)
        if waves.dim() != 2 or waves.shape[0] != lengths.shape[0]:
            raise ValueError(f"expected waves [B, T] and lengths [B], got {tuple(waves.shape)} and "
                             f"{tuple(lengths.shape)}")
        if int(lengths.max()) > waves.shape[1] or int(lengths.min()) <= 0:
            raise ValueError(f"lengths must lie in 1..{waves.shape[1]}, got {lengths.tolist()}")
        # Zero the padding, so that whatever a caller left there cannot leak into the codec.
        mask = torch.arange(waves.shape[1]) < lengths[:, None]
        waves = (waves * mask).to(self.device)
        with precision_mode(self.precision, self.model, self.device):
            out = self._resynthesize(waves, lengths).float().cpu()
        out_lengths = torch.tensor([self.output_length(int(n)) for n in lengths], dtype=torch.long)
        width = int(out_lengths.max())
        if out.shape[1] < width:  # a decoder that stops short of its rule (DAC on some inputs ≤ 1 s): zeros
            out = torch.nn.functional.pad(out, (0, width - out.shape[1]))
        out = out[:, :width]
        out = out * (torch.arange(width) < out_lengths[:, None])
        return out, out_lengths

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`waves [B, T]` (zero-padded, on `device`) -> reconstructions `[B, T'']` at `output_rate`, T'' ≥ every
        rule length."""
        raise NotImplementedError

    def __repr__(self) -> str:
        weights = "random weights" if self.random_weights else "loaded weights"
        rate = f"{self.sample_rate} Hz" + (f" -> {self.output_rate} Hz" if self.output_rate != self.sample_rate else "")
        return f"<{type(self).__name__} {self.name} @ {rate} on {self.device}, {weights}>"


class CodecFamily(Protocol):
    """What `registry.load` needs of a family: the subpackage `codecs/<family>/` (or a plugin's module) exports
    these names.

    A family builds every registry entry whose `family` names it; `registry.load` checks the arguments
    and options, picks the path (official weights, caller's weights, random weights) and calls these.

    Attributes:
        SPECS (Sequence[CodecSpec]): the family's configs (`specs.py`), each with `family` set to the family.
        OPTIONS (Mapping[str, str]): keyword options `build` takes beyond `device`, each with one line
            of help (valid values, default); `registry.load` refuses any other name.
    """

    SPECS: Sequence[CodecSpec]
    OPTIONS: Mapping[str, str]

    def default_config(self, spec: CodecSpec) -> dict[str, Any]:
        """The official config of `spec`, in the format of its checkpoint's config file."""
        ...

    def download(self, spec: CodecSpec) -> tuple[dict[str, Any], Mapping[str, Any]]:
        """`(config, state_dict)` of the official checkpoint, through the Hub cache (`weights.hub_file`)."""
        ...

    def build(self, spec: CodecSpec, config: dict[str, Any], state_dict: Mapping[str, Any] | None, *,
              runtime: Runtime, **options: Any) -> Codec:
        """The codec built from `config`, loaded strictly from `state_dict` (None: random weights), on `runtime`.

        Raises `CodecConfigError` for a config it cannot build, `CheckpointError` for weights that do
        not fit.
        """
        ...

"""Numeric and device flags of the eval commands, checked before any data or model is loaded.

Each check names the flag and the value and says what would fit; none of them lets a value through that
would end in a traceback (`--batch_size 0`, `--max_samples -5`), a silent change (`--device cuda` on a
machine without CUDA, which Trainer would run on the CPU) or an allocation that cannot fit (a window of
100,000 s tiles every row to 1.6e9 samples at 16 kHz).
"""

from __future__ import annotations

import math

import torch

from .data import EvalArgumentError

# Bytes one batch of windows may take (float32 samples): a window long enough for any real clip still fits.
MAX_BATCH_BYTES = 1 << 30


def check_count(value: int | None, flag: str, *, minimum: int = 1) -> None:
    """`value` is None (where the flag has no default) or a whole number of at least `minimum`."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EvalArgumentError(f"`{flag} {value}`: give a whole number of at least {minimum}")


def check_seconds(value: float | None, flag: str) -> None:
    """A window length: None (the default), 0 (whole clips) or a positive finite number of seconds."""
    if value is None:
        return
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise EvalArgumentError(f"`{flag} {value}`: give a number of seconds (0 for whole clips)")


def check_window(seconds: float, rate: int, batch_size: int, flag: str) -> int:
    """The window in samples at `rate`, refused when a batch of `batch_size` such windows would take more than
    `MAX_BATCH_BYTES` (checked before any row is tiled to it)."""
    length = int(round(seconds * rate))
    size = 4 * length * max(batch_size, 1)
    if size > MAX_BATCH_BYTES:
        raise EvalArgumentError(
            f"`{flag} {seconds:g}` at {rate} Hz tiles every row to {length:,} samples: a batch of {batch_size} would "
            f"take {size / 2**30:.1f} GiB, above the {MAX_BATCH_BYTES >> 30} GiB allowed. Give a shorter window "
            "(CodecFake's is 4.0375 s; 0 scores whole clips), or a smaller batch size")
    return length


def check_device(device: str | None) -> None:
    """`--device`: None, `cpu`, or `cuda` where CUDA is there (Trainer would silently use the CPU instead)."""
    if device not in (None, "cpu", "cuda"):
        raise EvalArgumentError(f"`--device {device}`: scoring runs through Trainer, which takes `cpu` or the "
                                "visible GPUs; choose GPUs with CUDA_VISIBLE_DEVICES")
    if device == "cuda" and not torch.cuda.is_available():
        raise EvalArgumentError("`--device cuda`: CUDA is not available on this machine (torch sees no GPU); "
                                "give `--device cpu`, or leave `--device` out to use what there is")

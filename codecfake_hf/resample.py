"""A windowed-sinc resampler in torch, equal to `torchaudio.functional.resample`'s defaults, on any device.

Why it exists: the CodecFake pipeline (`resyn_vctk.py`) fed its 24 and 44.1 kHz codecs the 48 kHz
VCTK originals through `torchaudio.transforms.Resample(48000, rate)`. Its output length rule,
`ceil(n · new / orig)`, is part of the release's row lengths (DAC 44.1 kHz rows are one sample off
with any other resampler), and torchaudio cannot be installed beside this project's CPU torch. So
the same published definition is written here, in plain torch, and checked against torchaudio's
own outputs in `../shared/resample-fixtures/` (tests/test_resample.py).

The definition (band-limited interpolation): with the rates reduced by their gcd to `orig` → `new`
and the cutoff `fc = rolloff · min(orig, new)` in those reduced units, output sample `j` is

    y[j] = Σ_i x[i] · (fc / orig) · sinc(u) · w(u),   u = fc · (i / orig − j / new),   sinc(u) = sin(πu) / (πu)

over the taps within `lowpass_filter_width` zero crossings of the sinc (`u` clamped to ±width,
where the Hann window `w(u) = cos²(π u / (2 · width))` is zero). Output `j + new` uses the taps of
`j` moved by `orig` input samples, so the `new` phases are the output channels of one `conv1d` with
stride `orig`, interleaved after. The signal is taken as zero beyond both ends.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from .errors import AudioError

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99
METHOD = "sinc_interp_hann"
# The filter bank has one row per output phase and a row's length grows with the input phases, both set by
# the rates divided by their gcd: 48000 -> 44100 (gcd 300) is 147 x 172 taps, but 16001 -> 24000 (gcd 1) is
# 24000 x 16015, and building it (a few float32 temporaries of that size) took 10 GB. Refused above this.
MAX_KERNEL_BYTES = 256 << 20
_KERNEL_TEMPORARIES = 6  # [new, taps] float32 tensors alive at once while `_kernel_cpu` builds the bank


def output_length(length: int, orig_rate: int, new_rate: int) -> int:
    """`ceil(length · new_rate / orig_rate)`, in integers (no float rounding at any length)."""
    return -(-int(length) * int(new_rate) // int(orig_rate))


def _reduced(orig_rate: int, new_rate: int) -> tuple[int, int]:
    if int(orig_rate) != orig_rate or int(new_rate) != new_rate or orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive integers, got {orig_rate} -> {new_rate}")
    g = math.gcd(int(orig_rate), int(new_rate))
    return int(orig_rate) // g, int(new_rate) // g


def kernel_bytes(orig_rate: int, new_rate: int, *, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
                 rolloff: float = ROLLOFF) -> int:
    """Bytes that building the filter bank of `orig_rate` -> `new_rate` takes at its peak (float32), computed
    from the rates alone, before anything is allocated."""
    orig, new = _reduced(orig_rate, new_rate)
    pad = math.ceil(lowpass_filter_width * orig / (rolloff * min(orig, new)))
    return new * (2 * pad + orig) * 4 * _KERNEL_TEMPORARIES


def check_kernel(orig_rate: int, new_rate: int, *, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
                 rolloff: float = ROLLOFF) -> None:
    """`AudioError` (one line) when the filter bank of `orig_rate` -> `new_rate` would take more than
    `MAX_KERNEL_BYTES` to build: rates that share almost no factor (16001 -> 24000)."""
    size = kernel_bytes(orig_rate, new_rate, lowpass_filter_width=lowpass_filter_width, rolloff=rolloff)
    if size > MAX_KERNEL_BYTES:
        raise AudioError(
            f"resampling {orig_rate} Hz to {new_rate} Hz with the windowed sinc would take {size / 2**30:.1f} GiB "
            f"(the rates share only the factor {math.gcd(int(orig_rate), int(new_rate))}), above the "
            f"{MAX_KERNEL_BYTES >> 20} MiB this resampler allows; resample the file to a common rate (16000, 24000, "
            "44100 or 48000 Hz) first")


@lru_cache(maxsize=32)
def _kernel_cpu(orig: int, new: int, lowpass_filter_width: int, rolloff: float) -> tuple[torch.Tensor, int]:
    """The `[new, 1, 2·pad + orig]` filter bank (one row per output phase) and the padding `pad`.

    Built in float32, as `torchaudio.transforms.Resample(..., dtype=torch.float32)` builds it: the
    kernel of the CodecFake pipeline. (A float64 kernel differs from it by ~1e-7.)
    """
    cutoff = rolloff * min(orig, new)
    # Taps reach `lowpass_filter_width` zero crossings of the sinc on each side, in input samples.
    pad = math.ceil(lowpass_filter_width * orig / cutoff)
    taps = torch.arange(-pad, pad + orig, dtype=torch.float32) / orig  # input times, in orig periods
    phases = -torch.arange(new, dtype=torch.float32)[:, None] / new    # minus each output's time
    u = ((phases + taps[None, :]) * cutoff).clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(u * (math.pi / (2 * lowpass_filter_width))) ** 2
    pu = u * math.pi
    sinc = torch.where(pu == 0, torch.ones_like(pu), torch.sin(pu) / pu)
    kernel = sinc * window * (cutoff / orig)
    return kernel[:, None, :].contiguous(), pad


def sinc_kernel(orig_rate: int, new_rate: int, *, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
                rolloff: float = ROLLOFF, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, int]:
    """The filter bank `[new, 1, taps]` (rates gcd-reduced) on `device`, and the zero padding each side."""
    if lowpass_filter_width <= 0:
        raise ValueError(f"lowpass_filter_width must be positive, got {lowpass_filter_width}")
    if not 0 < rolloff <= 1:
        raise ValueError(f"rolloff must lie in (0, 1], got {rolloff}")
    check_kernel(orig_rate, new_rate, lowpass_filter_width=lowpass_filter_width, rolloff=rolloff)
    orig, new = _reduced(orig_rate, new_rate)
    kernel, pad = _kernel_cpu(orig, new, int(lowpass_filter_width), float(rolloff))
    return kernel.to(device=device, dtype=dtype), pad


def sinc_resample(wave: torch.Tensor, orig_rate: int, new_rate: int, *,
                  lowpass_filter_width: int = LOWPASS_FILTER_WIDTH, rolloff: float = ROLLOFF,
                  resampling_method: str = METHOD) -> torch.Tensor:
    """Resample `wave [..., T]` (floating point, any device) from `orig_rate` to `new_rate` Hz.

    Equal to `torchaudio.functional.resample(wave, orig_rate, new_rate)` with its defaults (Hann
    window, 6 zero crossings, rolloff 0.99) to float32 rounding; the output has
    `output_length(T, orig_rate, new_rate)` samples and stays on `wave`'s device and dtype. Only
    the Hann window is written (`sinc_interp_kaiser` raises): it is what the CodecFake pipeline used.
    """
    if resampling_method != METHOD:
        raise ValueError(f"resampling_method {resampling_method!r} is not implemented; only {METHOD!r} "
                         "(torchaudio's default, the CodecFake pipeline's) is")
    if not torch.is_floating_point(wave):
        raise TypeError(f"sinc_resample takes a floating-point waveform, got {wave.dtype}")
    if orig_rate == new_rate:
        return wave
    orig, _ = _reduced(orig_rate, new_rate)
    kernel, pad = sinc_kernel(orig_rate, new_rate, lowpass_filter_width=lowpass_filter_width, rolloff=rolloff,
                              device=wave.device, dtype=wave.dtype)
    shape = wave.shape
    flat = wave.reshape(-1, 1, shape[-1])
    # `pad` zeros before, `pad + orig` after: the last stride still has a full window of input.
    padded = torch.nn.functional.pad(flat, (pad, pad + orig))
    phases = torch.nn.functional.conv1d(padded, kernel, stride=orig)  # [N, new, frames]
    out = phases.transpose(1, 2).reshape(flat.shape[0], -1)            # interleave the phases
    out = out[:, : output_length(shape[-1], orig_rate, new_rate)]
    return out.reshape(*shape[:-1], out.shape[-1])

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

That filter bank has `new × (2·pad + orig)` taps, set by the rates divided by their gcd: 48000 → 44100 (gcd 300)
is 147 × 172, but 16001 → 24000 (gcd 1) is 24000 × 16015, 1.5 GB in float32 and several times that to build. Most
of a row's taps are zero (the window spans `2 · lowpass_filter_width` zero crossings, about 14 input samples), so
above `MAX_BANK_TAPS` the same sum is taken directly over each output's few non-zero taps, in chunks of outputs:
memory then grows with the chunk, not with the rates (float64 weights; the two paths agree to ~1e-7).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99
METHOD = "sinc_interp_hann"
# Above this many taps in the polyphase filter bank (16 M: 64 MB in float32) the direct, chunked path runs.
MAX_BANK_TAPS = 1 << 24
# Outputs per chunk of the direct path: [rows, chunk, taps] float64 temporaries of a few tens of MB.
DIRECT_CHUNK = 1 << 15


def output_length(length: int, orig_rate: int, new_rate: int) -> int:
    """`ceil(length · new_rate / orig_rate)`, in integers (no float rounding at any length)."""
    return -(-int(length) * int(new_rate) // int(orig_rate))


def _reduced(orig_rate: int, new_rate: int) -> tuple[int, int]:
    if int(orig_rate) != orig_rate or int(new_rate) != new_rate or orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive integers, got {orig_rate} -> {new_rate}")
    g = math.gcd(int(orig_rate), int(new_rate))
    return int(orig_rate) // g, int(new_rate) // g


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
    orig, new = _reduced(orig_rate, new_rate)
    if bank_taps(orig_rate, new_rate, lowpass_filter_width=lowpass_filter_width, rolloff=rolloff) > MAX_BANK_TAPS:
        return direct_resample(wave, orig_rate, new_rate, lowpass_filter_width=lowpass_filter_width, rolloff=rolloff)
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


def bank_taps(orig_rate: int, new_rate: int, *, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
              rolloff: float = ROLLOFF) -> int:
    """Taps of the polyphase filter bank of `orig_rate` -> `new_rate` (`new × (2·pad + orig)`, gcd-reduced)."""
    orig, new = _reduced(orig_rate, new_rate)
    pad = math.ceil(lowpass_filter_width * orig / (rolloff * min(orig, new)))
    return new * (2 * pad + orig)


def direct_resample(wave: torch.Tensor, orig_rate: int, new_rate: int, *,
                    lowpass_filter_width: int = LOWPASS_FILTER_WIDTH, rolloff: float = ROLLOFF,
                    chunk: int = DIRECT_CHUNK) -> torch.Tensor:
    """`sinc_resample`'s sum taken output by output over the non-zero taps, `chunk` outputs at a time.

    Output `j` is Σ_i x[i] · (fc / orig) · sinc(u) · w(u) with u = fc · (i / orig − j / new) (rates gcd-reduced),
    over the input samples `i` with |u| < `lowpass_filter_width`; samples outside the signal are zero. Memory is
    `[rows, chunk, taps]`, whatever the rates.
    """
    orig, new = _reduced(orig_rate, new_rate)
    cutoff = rolloff * min(orig, new)
    half = lowpass_filter_width * orig / cutoff  # half the window, in input samples
    n_taps = math.ceil(2 * half) + 2
    shape = wave.shape
    flat = wave.reshape(-1, shape[-1])
    length = shape[-1]
    total = output_length(length, orig_rate, new_rate)
    offsets = torch.arange(n_taps, device=wave.device)
    out = torch.empty(flat.shape[0], total, dtype=wave.dtype, device=wave.device)
    for start in range(0, total, chunk):
        j = torch.arange(start, min(total, start + chunk), device=wave.device, dtype=torch.float64)
        centre = j * (orig / new)                                   # output j's time, in input samples
        first = torch.ceil(centre - half).to(torch.int64)
        taps = first[:, None] + offsets[None, :]                    # [J, taps] input indices
        u = ((taps.to(torch.float64) - centre[:, None]) * (cutoff / orig)).clamp(
            -lowpass_filter_width, lowpass_filter_width)
        window = torch.cos(u * (math.pi / (2 * lowpass_filter_width))) ** 2
        pu = u * math.pi
        sinc = torch.where(pu == 0, torch.ones_like(pu), torch.sin(pu) / torch.where(pu == 0, torch.ones_like(pu), pu))
        weights = sinc * window * (cutoff / orig)
        inside = (taps >= 0) & (taps < length)
        weights = torch.where(inside, weights, torch.zeros_like(weights)).to(wave.dtype)
        values = flat[:, taps.clamp(0, length - 1)]                 # [rows, J, taps]
        out[:, start: start + j.shape[0]] = (values * weights[None]).sum(-1)
    return out.reshape(*shape[:-1], total)

"""Codes that differ from a reference only at near-tied codewords, and decoding under the reference's codes.

A residual VQ picks, per frame and stage, the nearest codeword. When two codewords are almost equally near,
rounding decides: another CPU's kernels (AVX2 vs AVX-512), a batch instead of one item, or upstream's
slightly different convolution calls can pick the other one, and every later stage of that frame follows.
Such a flip is not an implementation error, so parity is checked in two parts that cannot hide one:

- `check_codes`: every code equals the reference's, except frames whose first differing stage is a near-tie
  on our own path (the two codewords' squared distances differ by at most `TIE_GAP` of their scale; the
  median gap between the two nearest codewords of the tiny fixtures is about 5e-2);
- `forcing_codes`: the reference's codes are imposed at every stage ≥ 1 while our model runs, so the
  output must then match the reference over the whole signal, at the parity bound.

The quantiser hook is FunCodec's (`ResidualCodebooks._nearest`), the family whose tiny fixtures have
near-ties at late stages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from codecfake_hf.codecs.funcodec import quantizer as funcodec_quantizer

# Largest relative distance gap accepted as a near-tie. The encoder itself agrees with upstream to about
# 1e-5 (relative L2, gr1's grouped convolutions), so at a deep stage the residual can move by that much;
# the flips seen on AMD EPYC (AVX-512) had gaps of 1.1e-5 (gr1) and 2.4e-5, 3.9e-5 (gr8).
TIE_GAP = 1e-4


@dataclass
class Stages:
    """What each quantiser stage saw and chose, concatenated over successive calls (segments).

    Args:
        residuals (dict[int, list[torch.Tensor]]): stage -> its inputs `[B, D, T]`, in call order.
        indices (dict[int, list[torch.Tensor]]): stage -> the codes it used `[B, T]`, in call order.
    """

    residuals: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    indices: dict[int, list[torch.Tensor]] = field(default_factory=dict)

    def residual(self, stage: int, item: int, frame: int) -> torch.Tensor:
        return torch.cat(self.residuals[stage], dim=-1)[item, :, frame]

    def codes(self, item: int, frames: int) -> np.ndarray:
        """`[n_q, frames]` codes of item `item` (stages at the full frame rate only)."""
        return np.stack([torch.cat(self.indices[s], dim=-1)[item, :frames].numpy() for s in sorted(self.indices)])


@contextlib.contextmanager
def recording_stages(force: np.ndarray | None = None) -> Iterator[Stages]:
    """Record what each FunCodec quantiser stage saw and chose while the block runs.

    With `force` (`[n_q, frames]` codes of one item), stages ≥ 1 use those codes instead of their own
    choice, frame by frame across successive calls (segments); stage 0 may be downsampled and is not forced.
    """
    seen = Stages()
    original = funcodec_quantizer.ResidualCodebooks._nearest

    def nearest(self, stage: int, residual: torch.Tensor):
        offset = sum(r.shape[-1] for r in seen.residuals.get(stage, []))
        seen.residuals.setdefault(stage, []).append(residual.detach().double())
        indices, codewords = original(self, stage, residual)
        if force is not None and stage > 0:
            forced = torch.as_tensor(force[stage, offset: offset + residual.shape[-1]], dtype=torch.long)
            indices = forced.to(indices.device)[None].expand_as(indices)
            codewords = F.embedding(indices, self.embed[stage]).transpose(1, 2)
        seen.indices.setdefault(stage, []).append(indices.detach().cpu())
        return indices, codewords

    funcodec_quantizer.ResidualCodebooks._nearest = nearest
    try:
        yield seen
    finally:
        funcodec_quantizer.ResidualCodebooks._nearest = original


def tie_gap(embed: torch.Tensor, residual: torch.Tensor, a: int, b: int) -> float:
    """|d(x, e_a) - d(x, e_b)| over |x|² + |e_a|², in float64, for one residual `x [D]`."""
    embed = embed.double()
    d_a, d_b = ((residual - embed[a]) ** 2).sum(), ((residual - embed[b]) ** 2).sum()
    return float(abs(d_a - d_b) / ((residual**2).sum() + (embed[a] ** 2).sum()))


def check_codes(codes: np.ndarray, expected: np.ndarray, stages: Stages, embed: torch.Tensor,
                item: int = 0) -> list[int]:
    """Assert `codes [n_q, F]` equal `expected` up to near-ties; return the frames that flipped.

    `stages` is what `recording_stages` saw while `codes` were made (item `item` of each call), `embed`
    the codebooks `[n_q, size, D]`.
    """
    assert codes.shape == expected.shape, (codes.shape, expected.shape)
    flipped = []
    for frame in sorted(set(np.argwhere(codes != expected)[:, 1].tolist())):
        stage = int(np.argmax(codes[:, frame] != expected[:, frame]))
        assert stage > 0, f"frame {frame}: stage 0 differs ({codes[0, frame]} vs {expected[0, frame]})"
        residual = stages.residual(stage, item, frame)
        gap = tie_gap(embed[stage], residual, int(codes[stage, frame]), int(expected[stage, frame]))
        assert gap <= TIE_GAP, (f"frame {frame}, stage {stage}: codeword {codes[stage, frame]} instead of "
                                f"{expected[stage, frame]}, and the two are not near-tied (gap {gap:.2e})")
        flipped.append(frame)
    return flipped

"""Codes that differ from a reference only at near-tied codewords, and decoding under the reference's codes.

A residual VQ picks, per frame and stage, the nearest codeword. When two codewords are almost equally near,
rounding decides: another CPU's kernels (AVX2 vs AVX-512), a batch instead of one item, or upstream's
slightly different convolution calls can pick the other one, and every later stage of that frame follows.
Such a flip is not an implementation error, so parity is checked in two parts that cannot hide one:

- `check_codes`: every code equals the reference's, except frames whose first differing stage is a later
  stage of its chain (never one that quantises the latent itself) and a near-tie on our own path: the two
  codewords' squared distances, in the space the family searches, differ by at most `TIE_GAP` of their
  scale (the median gap between the two nearest codewords of the tiny fixtures is about 5e-2);
- `recording(codec, force=...)`: the reference's codes are imposed at every later stage while our model
  runs, so the output must then match the reference over the whole signal, at the parity bound.

Which flips happen depends on the machine, so nothing here pins a frame: the fixtures were made on one CPU
and the checks run on others (DAC 24 kHz speech flips at frame 299 on one, FunCodec gr1/gr8 elsewhere).

Each family's tester (tests/codecs/test_<family>.py) gives its `Quantiser`: the method that picks one stage's
codewords (hooked while the block runs), which stage a call is, the vectors and codebook the distance is taken
between (DAC: the l2-normalised projected residual and codebook; HiFi-Codec: one group's slice), how to impose
given codes, the chains of stages (Mimi: semantic | acoustic; HiFi-Codec: one per group) and the fixture's codes
layout. This module names no family.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# Largest relative distance gap accepted as a near-tie. The encoders agree with upstream to about 1e-5
# (relative L2, FunCodec gr1's grouped convolutions), so at a deep stage the residual can move by that much;
# the flips seen so far had gaps of 1.1e-5 (FunCodec gr1), 2.4e-5 and 3.9e-5 (gr8), on AMD EPYC (AVX-512).
TIE_GAP = 1e-4


def rows(vectors: torch.Tensor) -> torch.Tensor:
    """A stage's input as `[B, T, D]`: a flat `[N, D]` (one item's frames, as AudioDec and HiFi-Codec pass
    them) becomes `[1, N, D]`."""
    return vectors[None] if vectors.dim() == 2 else vectors


@dataclass(frozen=True)
class Quantiser:
    """Where a family picks its codewords, and how to read and steer that choice (a family tester's `quantiser`).

    Args:
        where (Callable[[], tuple[Any, str]]): the class (or module) and the name of the callable that picks
            one stage's codewords; its first argument is the stage's quantiser object.
        stages (Callable[[Any], list[Any]]): codec -> the quantiser object of each codes row, in row order
            (FunCodec: one object whose `stage` argument is the row).
        chains (Callable[[Any, int], list[list[int]]]): (codec, rows) -> rows in residual chains; the first row
            of a chain quantises the latent itself, each later one what the earlier rows of its chain left.
        search (Callable[..., tuple[torch.Tensor, torch.Tensor]]): (quantiser, *args) -> (the vectors searched,
            `[B, T, D]`, and the codebook `[K, D]`, in the space and form the distance is taken).
        chosen (Callable[[Any], torch.Tensor]): the callable's result -> its codes (any shape with B·T entries).
        impose (Callable[..., Any]): (quantiser, args, result, codes shaped like `chosen(result)`) -> the
            result with those codes (and their codewords, where the callable returns them too).
        row (Callable[..., int] | None): (quantiser, *args) -> the row, where `stages` cannot tell it.
        layout (Callable[[Any, np.ndarray], np.ndarray]): (codec, the fixture's codes) -> `[rows, frames]`.
        span (Callable[[Any], int]): quantiser -> frames of the finest row one of its codes spans (codebooks at
            several rates: a coarse row is recorded, compared and forced repeated over those frames); default 1.
    """

    where: Callable[[], tuple[Any, str]]
    stages: Callable[[Any], list[Any]]
    search: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    chains: Callable[[Any, int], list[list[int]]] = lambda codec, rows: [list(range(rows))]
    chosen: Callable[[Any], torch.Tensor] = lambda result: result
    impose: Callable[..., Any] = lambda quantiser, args, result, codes: codes
    row: Callable[..., int] | None = None
    layout: Callable[[Any, np.ndarray], np.ndarray] = lambda codec, codes: codes
    span: Callable[[Any], int] = lambda quantiser: 1


def transformers_codebook(model_type: str, cls: str, layers: Callable[[Any], list] | None = None,
                          chains: Callable[[Any, int], list[list[int]]] | None = None) -> Quantiser:
    """A transformers k-means codebook: `<cls>.encode(hidden [B, T, D]) -> [B, T]` of
    `transformers.models.<model_type>.modeling_<model_type>`, codebook `embed`; `layers` (codec -> the quantiser
    layers in codes-row order) defaults to `model.quantizer.layers`."""
    layers = layers or (lambda codec: list(codec.model.quantizer.layers))
    return Quantiser(
        where=lambda: (getattr(importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}"),
                               cls), "encode"),
        stages=lambda codec: [layer.codebook for layer in layers(codec)],
        search=lambda codebook, hidden: (rows(hidden), codebook.embed),
        **({"chains": chains} if chains else {}),
    )


def transformers_fsq(model_type: str, cls: str, stage: Callable[[Any], Any]) -> Quantiser:
    """A transformers finite scalar quantiser: `<cls>.forward(hidden [B, T, D]) -> (codes, indices [B, T])` of
    `transformers.models.<model_type>.modeling_<model_type>` bounds each dimension and rounds it to its nearest level,
    which is the nearest point of the grid `codebook × (levels // 2)` (the codebook holds the levels scaled to
    [-1, 1]); `stage` (codec -> the quantiser module) is the one stage. Its codes are one index per frame."""
    def search(fsq, hidden):
        return rows(fsq.bound(hidden.float())), fsq.codebook * (fsq.levels // 2)

    def impose(fsq, args, result, codes):
        return fsq.codebook[codes.long()].to(result[0].dtype), codes.to(result[1].dtype)

    return Quantiser(
        where=lambda: (getattr(importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}"),
                               cls), "forward"),
        stages=lambda codec: [stage(codec)], search=search, chosen=lambda result: result[1], impose=impose)


def quantiser(codec) -> Quantiser:
    """The `Quantiser` of `codec`'s family, from its tester (tests/codecs/test_<family>.py)."""
    from codec_tester import get_tester

    found = get_tester(codec.name).quantiser
    assert found is not None, f"{codec.name}: its family's TESTER has no `quantiser`"
    return found


def reference_codes(codec, codes: np.ndarray) -> np.ndarray:
    """The fixture's codes file in `[rows, frames]`, the layout `Stages.codes` gives."""
    return np.asarray(quantiser(codec).layout(codec, codes))


@dataclass
class Stages:
    """What each quantiser stage saw and chose, in call order (segments, windows, chunks: successive calls).

    Args:
        vectors (dict[int, list[torch.Tensor]]): row -> the vectors it searched, `[B, T, D]` float64, per call.
        indices (dict[int, list[torch.Tensor]]): row -> the codes it used `[B, T]`, per call.
        codebooks (dict[int, torch.Tensor]): row -> its codebook `[K, D]` float64, in the searched form.
        chains (list[list[int]]): rows in residual chains (see `Quantiser.chains`), set when the block ends.
    """

    vectors: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    indices: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    codebooks: dict[int, torch.Tensor] = field(default_factory=dict)
    chains: list[list[int]] = field(default_factory=list)

    def _frames(self, calls: list[torch.Tensor], item: int | None) -> torch.Tensor:
        # item None: every call's batch rows one after another (one utterance cut into windows or chunks);
        # else that batch row of each call.
        if item is None:
            return torch.cat([c.reshape(-1, *c.shape[2:]) for c in calls])
        return torch.cat([c[item] for c in calls])

    def vector(self, row: int, frame: int, item: int | None = None) -> torch.Tensor:
        return self._frames(self.vectors[row], item)[frame]

    def codes(self, item: int | None = None, frames: int | None = None) -> np.ndarray:
        """`[rows, frames]` codes of the run (`item` None: all calls' batch rows in order), the first `frames`."""
        return np.stack([self._frames(self.indices[r], item)[:frames].numpy() for r in sorted(self.indices)])


@contextlib.contextmanager
def recording(codec, force: np.ndarray | None = None) -> Iterator[Stages]:
    """Record what each quantiser stage of `codec`'s family sees and chooses while the block runs.

    With `force` (`[rows, frames]` codes of the one utterance the block runs, as `reference_codes` gives), every
    row that is not the first of its chain uses those codes instead of its own choice, frame by frame across
    successive calls; the first rows are not forced (a difference there is never a near-tie).
    """
    entry = quantiser(codec)
    owner, name = entry.where()
    original = getattr(owner, name)
    stage_rows = {id(stage): row for row, stage in enumerate(entry.stages(codec))}
    seen = Stages()
    firsts: set[int] = set()
    if force is not None:
        firsts = {chain[0] for chain in entry.chains(codec, force.shape[0]) if chain}

    def pick(stage, *args):
        row = entry.row(stage, *args) if entry.row is not None else stage_rows[id(stage)]
        span = entry.span(stage)
        vectors, codebook = entry.search(stage, *args)
        vectors = vectors.repeat_interleave(span, dim=1) if span > 1 else vectors
        offset = sum(v.shape[0] * v.shape[1] for v in seen.vectors.get(row, []))
        result = original(stage, *args)
        codes = entry.chosen(result)
        if force is not None and row not in firsts:
            forced = torch.as_tensor(force[row, offset: offset + codes.numel() * span], dtype=torch.long)
            codes = forced.reshape(-1, span)[:, 0].to(codes.device).reshape(codes.shape)
            result = entry.impose(stage, args, result, codes)
        seen.vectors.setdefault(row, []).append(vectors.detach().double().cpu())
        chosen = codes.detach().cpu().reshape(vectors.shape[0], -1)
        seen.indices.setdefault(row, []).append(chosen.repeat_interleave(span, dim=1) if span > 1 else chosen)
        seen.codebooks.setdefault(row, codebook.detach().double().cpu())
        return result

    setattr(owner, name, pick)
    try:
        yield seen
    finally:
        setattr(owner, name, original)
        seen.chains = entry.chains(codec, len(seen.indices))


def tie_gap(codebook: torch.Tensor, vector: torch.Tensor, a: int, b: int) -> float:
    """|d(x, e_a) - d(x, e_b)| over |x|² + |e_a|², in float64, for one searched vector `x [D]`."""
    d_a, d_b = ((vector - codebook[a]) ** 2).sum(), ((vector - codebook[b]) ** 2).sum()
    return float(abs(d_a - d_b) / ((vector**2).sum() + (codebook[a] ** 2).sum()))


def check_codes(codes: np.ndarray, expected: np.ndarray, stages: Stages, item: int | None = None) -> list[int]:
    """Assert `codes [rows, F]` equal `expected` up to near-ties; return the frames that flipped.

    `stages` is what `recording` saw while `codes` were made (batch row `item` of each call, or all of them).
    In each frame and chain, the first differing row must not be the chain's first and must be a near-tie;
    the later rows of that chain follow it.
    """
    assert codes.shape == expected.shape, (codes.shape, expected.shape)
    flipped = []
    for frame in sorted(set(np.argwhere(codes != expected)[:, 1].tolist())):
        for chain in stages.chains:
            differing = [row for row in chain if codes[row, frame] != expected[row, frame]]
            if not differing:
                continue
            row = differing[0]
            assert row != chain[0], (f"frame {frame}: stage {row} differs ({codes[row, frame]} vs "
                                     f"{expected[row, frame]}), and it quantises the latent itself")
            vector = stages.vector(row, frame, item)
            gap = tie_gap(stages.codebooks[row], vector, int(codes[row, frame]), int(expected[row, frame]))
            assert gap <= TIE_GAP, (f"frame {frame}, stage {row}: codeword {codes[row, frame]} instead of "
                                    f"{expected[row, frame]}, and the two are not near-tied (gap {gap:.2e})")
        flipped.append(frame)
    return flipped

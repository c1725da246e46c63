"""The batched resynthesis engine: utterances in, PCM16 reconstructions out, in input order."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .audio import check_waveform, read_audio, resample, to_pcm16
from .codecs import Codec
from .errors import AudioError

logger = logging.getLogger(__name__)

# A whole window of utterances is read before it is batched: sorting by length inside it keeps
# padding low, and yielding in input order keeps the output deterministic.
DEFAULT_WINDOW = 64
# Padded seconds of audio per batch, by device type. On a GPU batching pays (EnCodec 24 kHz 8.5x the
# batch-size-1 loop on an H200, bench/results/resynth-cuda.md). On a 2-core CPU the convolutions
# already keep both cores busy and big batches only add cache misses: EnCodec ran 0.57x the loop at
# 60 s and about 1.1x at 8 s (bench/results/resynth.md), so the CPU default keeps batches small.
DEFAULT_BATCH_SECONDS = {"cuda": 60.0, "cpu": 8.0}
# Below this peak an utterance is silence: loudness normalisation (DAC) and peak normalisation
# (AcademiCodec) divide by it, and a detector would learn nothing from it.
SILENCE_PEAK = 1e-6


@dataclass
class Utterance:
    """One input: a waveform with its rate, or a `path` that the engine reads (so that a corrupt
    file is reported for that utterance alone).

    Args:
        id (str): unique id, e.g. `p225_001`.
        wave (np.ndarray | None): float32 mono samples; None to read `path`.
        sample_rate (int | None): rate of `wave` in Hz.
        path (str | None): audio file to read when `wave` is None.
    """

    id: str
    wave: np.ndarray | None = None
    sample_rate: int | None = None
    path: str | None = None


@dataclass
class Result:
    """A reconstruction: int16 samples at the codec's rate, clamped to ±0.99 as CodecFake did."""

    id: str
    pcm: np.ndarray
    sample_rate: int


@dataclass
class Failure:
    """An utterance that was skipped, and why."""

    id: str
    reason: str


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` -> CUDA when present, else CPU; anything else as torch reads it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _prepare(utt: Utterance, codec: Codec) -> np.ndarray:
    """Read, check and resample one utterance to the codec's rate; AudioError says what is wrong."""
    if utt.wave is None:
        if utt.path is None:
            raise AudioError(f"{utt.id}: neither a waveform nor a path was given")
        wave, rate = read_audio(utt.path)
    else:
        if not utt.sample_rate:
            raise AudioError(f"{utt.id}: a waveform without its sample rate")
        wave, rate = check_waveform(utt.wave, utt.id), int(utt.sample_rate)
    wave = resample(wave, rate, codec.sample_rate)
    if float(np.abs(wave).max()) < SILENCE_PEAK:
        raise AudioError(f"{utt.id}: the audio is silent (peak below {SILENCE_PEAK:g})")
    if wave.shape[0] < codec.min_input_length():
        raise AudioError(
            f"{utt.id}: too short for {codec.name}: {wave.shape[0]} samples at {codec.sample_rate} Hz, "
            f"the codec needs at least {codec.min_input_length()}"
        )
    return wave


def _batches(lengths: list[int], max_samples: int, exact: bool) -> list[list[int]]:
    """Indices grouped longest first, each group's padded size (len x longest) within `max_samples`."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        # Sorted longest first, so the group's first item is its longest.
        if exact and groups and lengths[groups[-1][0]] * (len(groups[-1]) + 1) <= max_samples:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _run_batch(codec: Codec, waves: list[np.ndarray]) -> list[np.ndarray]:
    lengths = [w.shape[0] for w in waves]
    batch = np.zeros((len(waves), max(lengths)), dtype=np.float32)
    for row, wave in zip(batch, waves, strict=True):
        row[: wave.shape[0]] = wave
    out, out_lengths = codec.resynthesize(torch.from_numpy(batch), torch.tensor(lengths))
    return [out[i, : int(n)].numpy() for i, n in enumerate(out_lengths)]


def _resynthesize_window(
    codec: Codec, window: list[Utterance], max_samples: int
) -> Iterator[Result | Failure]:
    prepared: dict[int, np.ndarray] = {}
    results: dict[int, Result | Failure] = {}
    for i, utt in enumerate(window):
        try:
            prepared[i] = _prepare(utt, codec)
        except AudioError as error:
            results[i] = Failure(utt.id, str(error))
    keys = list(prepared)
    for group in _batches([prepared[k].shape[0] for k in keys], max_samples, codec.batch_exact):
        idx = [keys[g] for g in group]
        try:
            outputs = _run_batch(codec, [prepared[i] for i in idx])
        except (RuntimeError, ValueError) as error:
            if len(idx) == 1:
                results[idx[0]] = Failure(window[idx[0]].id, f"{codec.name} failed: {error}")
                continue
            # One bad item must not take the batch down: retry each alone to find it.
            outputs = []
            for i in idx:
                try:
                    outputs.append(_run_batch(codec, [prepared[i]])[0])
                except (RuntimeError, ValueError) as single_error:
                    outputs.append(single_error)
        for i, out in zip(idx, outputs, strict=True):
            if isinstance(out, Exception):
                results[i] = Failure(window[i].id, f"{codec.name} failed: {out}")
            elif not np.isfinite(out).all():
                results[i] = Failure(window[i].id, f"{codec.name} produced non-finite samples")
            else:
                results[i] = Result(window[i].id, to_pcm16(out), codec.sample_rate)
    for i in range(len(window)):
        yield results[i]


def resynthesize_stream(
    codec: Codec,
    utterances: Iterable[Utterance],
    *,
    batch_seconds: float | None = None,
    window: int = DEFAULT_WINDOW,
    progress: bool = True,
    total: int | None = None,
) -> Iterator[Result | Failure]:
    """Resynthesise `utterances` through `codec`, batched, yielding one `Result` or `Failure` each.

    Each utterance is resampled to the codec's rate (soxr), a window of them is sorted by length and
    cut into batches of at most `batch_seconds` of padded audio (None: `DEFAULT_BATCH_SECONDS` for the
    codec's device type), and results come back in input
    order, as int16 clamped to ±0.99. An utterance that cannot be used (corrupt, silent, too short,
    or one that makes the codec fail) becomes a `Failure` with the reason, logged as a warning; the
    run goes on. Codecs whose batches are not exact (`codec.batch_exact`) run one at a time.
    """
    if batch_seconds is None:
        batch_seconds = DEFAULT_BATCH_SECONDS.get(codec.device.type, DEFAULT_BATCH_SECONDS["cpu"])
    max_samples = max(1, int(batch_seconds * codec.sample_rate))
    if total is None and hasattr(utterances, "__len__"):
        total = len(utterances)  # type: ignore[arg-type]
    bar = tqdm(total=total, unit="utt", desc=codec.name, disable=not progress)
    buffer: list[Utterance] = []

    def flush() -> Iterator[Result | Failure]:
        for item in _resynthesize_window(codec, buffer, max_samples):
            if isinstance(item, Failure):
                logger.warning("skipped %s: %s", item.id, item.reason)
            bar.update(1)
            yield item
        buffer.clear()

    try:
        for utt in utterances:
            buffer.append(utt)
            if len(buffer) >= window:
                yield from flush()
        if buffer:
            yield from flush()
    finally:
        bar.close()

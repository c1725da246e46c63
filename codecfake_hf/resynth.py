"""The batched, pipelined resynthesis engine: utterances in, PCM16 reconstructions out, in input order.

Three stages overlap (`workers > 0`, the default): background workers read, decode and resample the
next utterances while the codec runs on its device in a thread of its own, and the PCM16 conversion
(and FLAC encoding, with `flac=True`) of finished batches runs behind it in the same worker pool. The
stages are the same functions the sequential path (`workers=0`) calls inline, the codec sees the same
batches in the same order, and results come back in input order: the output is byte for byte the same.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from .audio import SILENCE_PEAK, check_waveform, decode_audio_bytes, encode_flac, read_audio, resample, to_pcm16
from .codecs import Codec
from .errors import AudioError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# A whole window of utterances is read before it is batched: sorting by length inside it keeps
# padding low, and yielding in input order keeps the output deterministic.
DEFAULT_WINDOW = 64
# Padded seconds of audio per batch, by device type. On a GPU batching pays (EnCodec 24 kHz 8.5x the
# batch-size-1 loop on an H200, bench/results/resynth-cuda.md). On a 2-core CPU the convolutions
# already keep both cores busy and batching pays little: EnCodec ran 1.18x the loop at 8 s
# (bench/results/resynth.md of commit b2e35da) and 1.3x at 60 s on a loaded machine (bench/results/resynth-cpu-60s.md;
# a first record's 0.6x did not reproduce), so the CPU default keeps batches, and their memory, small.
DEFAULT_BATCH_SECONDS = {"cuda": 60.0, "cpu": 8.0}
# Background workers for reading/resampling and PCM/FLAC encoding. They wait on I/O or run in C
# (libsndfile, soxr, numpy) with the GIL released; four keep a GPU fed from a few cores without
# taking every core from the codec when it runs on the CPU.
DEFAULT_WORKERS = 4


@dataclass
class Utterance:
    """One input: a waveform with its rate, encoded audio `data`, or a `path` that the engine reads (so
    that a corrupt file is reported for that utterance alone).

    Args:
        id (str): unique id, e.g. `p225_001`.
        wave (np.ndarray | None): float32 mono samples; None to decode `data` or read `path`.
        sample_rate (int | None): rate of `wave` in Hz.
        path (str | None): audio file to read when `wave` and `data` are None.
        data (bytes | None): an encoded file (FLAC, WAV...) to decode when `wave` is None, e.g. the
            audio of a genuine row already written.
        resampler (str): how it is brought to the codec's rate: `soxr` (default) or `sinc`
            (torchaudio's `Resample` defaults, as the CodecFake pipeline did; see `audio.RESAMPLERS`).
    """

    id: str
    wave: np.ndarray | None = None
    sample_rate: int | None = None
    path: str | None = None
    data: bytes | None = None
    resampler: str = "soxr"


@dataclass
class Result:
    """A reconstruction: int16 samples at the codec's output rate (`Codec.output_rate`, its input rate for most
    codecs), clamped to ±0.99 as CodecFake did, and their FLAC encoding when the stream was asked for it
    (`flac=True`)."""

    id: str
    pcm: np.ndarray
    sample_rate: int
    flac: bytes | None = None


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


# The three stages. Each takes and returns plain values, so the sequential and pipelined paths share them.


def _load(utt: Utterance) -> tuple[np.ndarray, int]:
    if utt.wave is not None:
        if not utt.sample_rate:
            raise AudioError(f"{utt.id}: a waveform without its sample rate")
        return check_waveform(utt.wave, utt.id), int(utt.sample_rate)
    if utt.data is not None:
        return decode_audio_bytes(utt.data, utt.id)
    if utt.path is not None:
        return read_audio(utt.path)
    raise AudioError(f"{utt.id}: neither a waveform, encoded audio nor a path was given")


def _prepare(utt: Utterance, codec: Codec) -> np.ndarray | Failure:
    """Stage 1: read, check and resample one utterance to the codec's rate, or say why it cannot be used."""
    try:
        wave, rate = _load(utt)
        wave = resample(wave, rate, codec.sample_rate, utt.resampler)
        if float(np.abs(wave).max()) < SILENCE_PEAK:
            raise AudioError(f"{utt.id}: the audio is silent (peak below {SILENCE_PEAK:g})")
        if wave.shape[0] < codec.min_input_length():
            raise AudioError(
                f"{utt.id}: too short for {codec.name}: {wave.shape[0]} samples at {codec.sample_rate} Hz, "
                f"the codec needs at least {codec.min_input_length()}"
            )
    except AudioError as error:
        return Failure(utt.id, str(error))
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


def _codec_window(codec: Codec, prepared: list[np.ndarray | Failure], max_samples: int
                  ) -> list[np.ndarray | Exception | Failure]:
    """Stage 2: a window of prepared inputs through the codec in length-sorted batches; the float
    output (or the error) of each, in the window's order. Failures from stage 1 pass through."""
    outputs: list[np.ndarray | Exception | Failure] = list(prepared)
    keys = [i for i, item in enumerate(prepared) if not isinstance(item, Failure)]
    for group in _batches([prepared[k].shape[0] for k in keys], max_samples, codec.batch_exact):
        idx = [keys[g] for g in group]
        try:
            batch_out: list[np.ndarray | Exception] = list(_run_batch(codec, [prepared[i] for i in idx]))
        except (RuntimeError, ValueError) as error:
            if len(idx) == 1:
                batch_out = [error]
            else:
                # One bad item must not take the batch down: retry each alone to find it.
                batch_out = []
                for i in idx:
                    try:
                        batch_out.append(_run_batch(codec, [prepared[i]])[0])
                    except (RuntimeError, ValueError) as single_error:
                        batch_out.append(single_error)
        for i, out in zip(idx, batch_out, strict=True):
            outputs[i] = out
    return outputs


def _finish(utt_id: str, out: np.ndarray | Exception | Failure, codec: Codec, flac: bool) -> Result | Failure:
    """Stage 3: PCM16 (and FLAC) of one output, or the reason it is skipped."""
    if isinstance(out, Failure):
        return out
    if isinstance(out, Exception):
        return Failure(utt_id, f"{codec.name} failed: {out}")
    if not np.isfinite(out).all():
        return Failure(utt_id, f"{codec.name} produced non-finite samples")
    pcm = to_pcm16(out)
    rate = codec.output_rate  # a decoder may synthesise at another rate than it was fed (NeuCodec: 16 -> 24 kHz)
    return Result(utt_id, pcm, rate, encode_flac(pcm, rate) if flac else None)


def resynthesize_stream(
    codec: Codec,
    utterances: Iterable[Utterance],
    *,
    batch_seconds: float | None = None,
    window: int = DEFAULT_WINDOW,
    progress: bool = True,
    total: int | None = None,
    workers: int | None = None,
    flac: bool = False,
) -> Iterator[Result | Failure]:
    """Resynthesise `utterances` through `codec`, batched, yielding one `Result` or `Failure` each.

    Each utterance is resampled to the codec's rate (soxr), a window of them is sorted by length and
    cut into batches of at most `batch_seconds` of padded audio (None: `DEFAULT_BATCH_SECONDS` for the
    codec's device type), and results come back in input order, as int16 clamped to ±0.99 (and FLAC
    bytes with `flac=True`). An utterance that cannot be used (corrupt, silent, too short, or one that
    makes the codec fail) becomes a `Failure` with the reason, logged as a warning; the run goes on.
    Codecs whose batches are not exact (`codec.batch_exact`) run one at a time.

    `workers` background threads (None: `DEFAULT_WORKERS`) read and resample ahead of the codec, which
    runs in a thread of its own, and encode behind it; 0 runs every stage in the caller's thread, one
    after the other. Both give the same bytes.
    """
    if batch_seconds is None:
        batch_seconds = DEFAULT_BATCH_SECONDS.get(codec.device.type, DEFAULT_BATCH_SECONDS["cpu"])
    max_samples = max(1, int(batch_seconds * codec.sample_rate))
    workers = DEFAULT_WORKERS if workers is None else workers
    if window < 1 or workers < 0:
        raise ValueError(f"window must be at least 1 and workers at least 0, got {window} and {workers}")
    if total is None and hasattr(utterances, "__len__"):
        total = len(utterances)  # type: ignore[arg-type]
    stream = (_pipelined(codec, utterances, max_samples, window, workers, flac) if workers
              else _sequential(codec, utterances, max_samples, window, flac))
    with tqdm(total=total, unit="utt", desc=codec.name, disable=not progress) as bar:
        for item in stream:
            if isinstance(item, Failure):
                logger.warning("skipped %s: %s", item.id, item.reason)
            bar.update(1)
            yield item


def _windows(items: Iterable, size: int) -> Iterator[list]:
    window: list = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


def _sequential(codec: Codec, utterances: Iterable[Utterance], max_samples: int, window: int,
                flac: bool) -> Iterator[Result | Failure]:
    for utts in _windows(utterances, window):
        outputs = _codec_window(codec, [_prepare(u, codec) for u in utts], max_samples)
        for utt, out in zip(utts, outputs, strict=True):
            yield _finish(utt.id, out, codec, flac)


class _Stop(Exception):
    """The consumer went away (closed the generator or raised): the stage threads end."""


class _Pipeline:
    """The threads of one pipelined stream, joined by bounded queues of futures (so order is kept).

    feeder thread:  utterances -> pool.submit(_prepare)          -> `prepared` queue (2 windows deep)
    codec thread:   a window of prepared futures -> the codec    -> pool.submit(_finish) -> `finished` queue
    caller:         `finished` futures, in order -> results

    Bounded queues give back-pressure: reading runs at most two windows ahead of the codec, and the
    codec at most two windows ahead of the caller, so memory stays bounded however long the input.
    An exception in a stage thread travels down the queues and is raised in the caller.
    """

    def __init__(self, codec: Codec, max_samples: int, window: int, workers: int, flac: bool):
        self.codec, self.max_samples, self.window, self.flac = codec, max_samples, window, flac
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix=f"resynth-{codec.name}")
        self.prepared: queue.Queue = queue.Queue(maxsize=2 * window)
        self.finished: queue.Queue = queue.Queue(maxsize=2 * window)
        self.stop = threading.Event()
        # torch's intra-op thread count is per thread under OpenMP: the codec thread takes the caller's,
        # so that the codec computes exactly as it would in the caller's thread.
        self.torch_threads = torch.get_num_threads()

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue):
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue

    def _guard(self, fn: Callable, out: queue.Queue, args: tuple) -> None:
        """Run a stage; pass its end (None) or its exception (any BaseException) downstream."""
        try:
            fn(*args)
            self._put(out, None)
        except _Stop:
            pass
        except BaseException as error:  # any kind, KeyboardInterrupt too: re-raised in the caller's thread
            done: Future = Future()
            done.set_exception(error)
            try:
                self._put(out, done)
            except _Stop:
                pass

    def _feed(self, utterances: Iterable[Utterance]) -> None:
        for utt in utterances:
            self._put(self.prepared, (utt.id, self.pool.submit(_prepare, utt, self.codec)))

    def _run_codec(self) -> None:
        torch.set_num_threads(self.torch_threads)
        done = False
        while not done:
            batch: list[tuple[str, Future]] = []
            while len(batch) < self.window:
                item = self._get(self.prepared)
                if item is None:
                    done = True
                    break
                if isinstance(item, Future):  # the feeder failed
                    item.result()
                batch.append(item)
            if not batch:
                break
            outputs = _codec_window(self.codec, [future.result() for _, future in batch], self.max_samples)
            for (utt_id, _), out in zip(batch, outputs, strict=True):
                self._put(self.finished, self.pool.submit(_finish, utt_id, out, self.codec, self.flac))

    def run(self, utterances: Iterable[Utterance]) -> Iterator[Result | Failure]:
        threads = [threading.Thread(target=self._guard, args=(self._feed, self.prepared, (utterances,)),
                                    daemon=True, name="resynth-feeder"),
                   threading.Thread(target=self._guard, args=(self._run_codec, self.finished, ()),
                                    daemon=True, name="resynth-codec")]
        try:
            for thread in threads:
                thread.start()
            while (item := self._get(self.finished)) is not None:
                yield item.result()
        finally:
            self.stop.set()
            for thread in threads:
                if thread.is_alive():
                    thread.join()
            self.pool.shutdown(wait=True, cancel_futures=True)


def _pipelined(codec: Codec, utterances: Iterable[Utterance], max_samples: int, window: int, workers: int,
               flac: bool) -> Iterator[Result | Failure]:
    yield from _Pipeline(codec, max_samples, window, workers, flac).run(utterances)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None,
                ahead: int = 2 * DEFAULT_WINDOW) -> Iterator[R]:
    """`fn(item)` for each item, in order, computed by `workers` threads (None: `DEFAULT_WORKERS`) at
    most `ahead` items in advance of the caller; 0 workers computes each in the caller's thread.

    For per-item work that runs in C with the GIL released (reading, resampling, FLAC encoding), such
    as the genuine rows of a build. An exception of `fn` is raised when its item's turn comes.
    """
    workers = DEFAULT_WORKERS if workers is None else workers
    if not workers:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="ordered-map")
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

"""Allocations sized before they are made (issue 19, item 4): the sinc resampler's filter bank.

Reproduction of the second red team: a 1-second 16,001 Hz file, fed to a 24 kHz codec under the paper recipe
(torchaudio's windowed sinc), peaked at 10 GB: the filter bank has one row per output phase and rows as long
as the input phases, both the rates divided by their gcd (here 1). The bank's size is now computed from the
rates and refused above `MAX_KERNEL_BYTES` before anything is allocated; the utterance is skipped and reported.
(The AASIST model's and the tiled window's bounds are in test_state_parsing.py and test_eval_arguments.py.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codecfake_hf import audio
from codecfake_hf.errors import AudioError
from codecfake_hf.resample import MAX_KERNEL_BYTES, kernel_bytes
from codecfake_hf.resynth import Failure, Result, Utterance, resynthesize_stream

ROOT = Path(__file__).resolve().parents[1]
MESSAGE = (r"resampling 16001 Hz to 24000 Hz with the windowed sinc would take 8\.6 GiB \(the rates share only the "
           r"factor 1\), above the 256 MiB this resampler allows; resample the file to a common rate")


def tone(rate: int, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def test_the_filter_bank_is_sized_from_the_rates():
    # by hand: 16001 -> 24000 (gcd 1): 24000 phases x (2 * ceil(6 * 16001 / (0.99 * 16001)) + 16001) = 24000 x 16015
    # float32 taps, built with 6 such temporaries alive at once
    assert kernel_bytes(16001, 24000) == 24000 * 16015 * 4 * 6
    for orig, new in ((48000, 44100), (48000, 24000), (48000, 16000), (44100, 24000), (22050, 16000)):
        assert kernel_bytes(orig, new) < MAX_KERNEL_BYTES / 20  # the rates of real corpora stay far below


def test_a_rate_pair_whose_filter_bank_would_not_fit_is_refused_before_it_is_built():
    with pytest.raises(AudioError, match=MESSAGE):
        audio.resample(tone(16001), 16001, 24000, "sinc")


@pytest.mark.slow  # a fresh process: about 10 s
def test_refusing_it_takes_no_memory():
    """The memory a fresh process peaked at, torch included (the refused bank would have been 8.6 GiB)."""
    probe = ("import resource, numpy as np\n"
             "from codecfake_hf import audio\n"
             "from codecfake_hf.errors import AudioError\n"
             "try:\n    audio.resample(np.ones(16001, np.float32), 16001, 24000, 'sinc')\n"
             "except AudioError:\n    pass\n"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 1_500_000  # KiB: the process's whole peak, torch included


def test_the_engine_skips_and_reports_such_an_utterance_and_goes_on(tiny_codec):
    codec = tiny_codec("encodec_24khz")
    out = list(resynthesize_stream(codec, [
        Utterance("odd_rate", wave=tone(16001), sample_rate=16001, resampler="sinc"),
        Utterance("usual_rate", wave=tone(48000), sample_rate=48000, resampler="sinc"),
    ], progress=False, workers=0))
    assert isinstance(out[0], Failure) and "resampling 16001 Hz to 24000 Hz" in out[0].reason
    assert isinstance(out[1], Result) and out[1].sample_rate == 24000

"""`Codec.precision`: fp32 exact by default, bf16 through autocast, global settings restored after."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import rel_l2, resynthesize_one

from codecfake_hf import codecs
from codecfake_hf.codecs.base import PRECISIONS, precision_mode
from codecfake_hf.errors import CodecConfigError


def _wave(rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-t)).astype(np.float32)


def test_precisions_differ_as_promised_and_restore_global_state(tiny_codec):
    codec = tiny_codec("encodec_24khz")
    wave = _wave(codec.sample_rate)
    assert codec.precision == "fp32"
    reference = resynthesize_one(codec, wave)
    tf32_flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    tf32, bf16 = codec.with_precision("tf32"), codec.with_precision("bf16")
    assert (tf32.precision, bf16.precision, codec.precision) == ("tf32", "bf16", "fp32")
    assert tf32.model is codec.model and codec.with_precision("fp32") is codec
    np.testing.assert_array_equal(resynthesize_one(tf32, wave), reference)  # no TF32 on a CPU: the same numbers
    low = resynthesize_one(bf16, wave)
    assert low.shape == reference.shape and low.dtype == np.float32
    # bfloat16 keeps 8 mantissa bits: close to fp32, but not equal.
    assert 0 < rel_l2(low, reference) < 0.5
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == tf32_flags
    np.testing.assert_array_equal(resynthesize_one(codec, wave), reference)


def test_precision_is_fixed_when_the_codec_is_built(codec_fixture):
    """`load(precision=)` validates and fixes it; nothing sets it (or the weights' seed) afterwards."""
    config = codec_fixture("encodec_24khz").tiny_checkpoint_config
    codec = codecs.load("encodec_24khz", config=config, random_weights=True, seed=4, precision="bf16")
    assert (codec.precision, codec.seed, codec.random_weights) == ("bf16", 4, True)
    for attribute, value in (("precision", "fp32"), ("seed", 0), ("random_weights", False)):
        with pytest.raises(AttributeError):
            setattr(codec, attribute, value)
    with pytest.raises(CodecConfigError, match=r"^encodec_24khz: precision='fp16'; valid: fp32, tf32, bf16\.$"):
        codecs.load("encodec_24khz", config=config, random_weights=True, precision="fp16")


def test_precision_mode_sets_and_restores_tf32_layers_and_refuses_unknown():
    cpu = torch.device("cpu")
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv1d(4, 1, 3))
    x = torch.randn(2, 1, 50)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with precision_mode("tf32", model, cpu):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    with precision_mode("fp32", model, cpu):
        assert not (torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)
        exact = model(x)
    with precision_mode("bf16", model, cpu):
        assert not torch.is_autocast_enabled("cpu")  # only inside each convolution
        low = model(x)
    assert low.dtype == torch.float32 and 0 < (low - exact).abs().max() < 0.05
    assert "forward" not in model[0].__dict__  # the layers are the class's again
    torch.testing.assert_close(model(x), exact, rtol=0, atol=0)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == saved
    assert PRECISIONS == ("fp32", "tf32", "bf16")
    with pytest.raises(ValueError, match="'fp16' is not one of fp32, tf32, bf16"):
        with precision_mode("fp16", model, cpu):
            pass


def test_an_lstm_runs_in_bfloat16_on_any_cpu_packed_or_not():
    """CPU autocast sends an LSTM to oneDNN, which has no bfloat16 LSTM without AVX-512 (it refused on the AVX2
    AMD EPYC of CI); the bf16 path runs torch's own LSTM on bfloat16 weights instead, packed input included."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(8, 16, num_layers=2)
    weights = {name: p.clone() for name, p in lstm.named_parameters()}
    x, lengths = torch.randn(20, 3, 8), torch.tensor([20, 13, 5])
    with torch.inference_mode():
        exact, _ = lstm(x)
        exact_packed, _ = pad_packed_sequence(lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))[0])
        with precision_mode("bf16", lstm, torch.device("cpu")):
            low, (h, c) = lstm(x)
            low_packed, _ = pad_packed_sequence(lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))[0])
    for ours, reference in ((low, exact), (low_packed, exact_packed)):
        assert ours.dtype == torch.float32 and 0 < (ours - reference).abs().max() < 0.05
    bf16_weights = {name: p.to(torch.bfloat16) for name, p in weights.items()}
    with torch.inference_mode():  # what "an LSTM in bfloat16" computes, built by hand
        by_hand, _ = torch.func.functional_call(lstm, bf16_weights, (x.to(torch.bfloat16),))
    torch.testing.assert_close(low, by_hand.float(), rtol=0, atol=0)
    assert h.dtype == c.dtype == torch.float32 and "forward" not in lstm.__dict__
    for name, p in lstm.named_parameters():  # the model's own weights are untouched
        assert p.dtype == torch.float32 and torch.equal(p, weights[name])

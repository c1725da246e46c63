"""`Codec.precision`: fp32 exact by default, bf16 through autocast, global settings restored after."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import rel_l2, resynthesize_one

from codecfake_hf import codecs
from codecfake_hf.codecs import base
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


def test_a_bf16_lstm_runs_where_onednn_has_no_bfloat16_rnn(monkeypatch):
    # oneDNN refuses a bfloat16 LSTM on CPUs without AVX-512 BF16 (an AVX2 AMD EPYC): ATen's kernel runs it there,
    # oneDNN off for that call only. Forced here, so that every CPU runs the fallback.
    monkeypatch.setitem(base._ONEDNN_BF16_RNN, "cpu", False)
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = torch.nn.LSTM(8, 8, 2)
    x = torch.randn(20, 1, 8)
    exact = model(x)[0]
    onednn = torch.backends.mkldnn.enabled
    with precision_mode("bf16", model, cpu):
        low = model(x)[0]
    assert low.dtype == torch.float32 and 0 < (low - exact).abs().max() < 0.05
    assert torch.backends.mkldnn.enabled == onednn

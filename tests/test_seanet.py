"""Shared SEANet blocks: checkpoint key names per norm, weight-norm compatibility, exact length-aware batches."""

import warnings

import pytest
import torch
from conftest import rel_l2
from torch import nn

from codecfake_hf.codecs.nn.seanet import SConv1d, SConvTranspose1d, SEANetDecoder, SEANetEncoder
from codecfake_hf.errors import CodecConfigError

FUNCODEC = "funcodec-funcodec_en_libritts-16k-nq32ds320"


def _shapes(module: nn.Module, prefix: str) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}{k}": tuple(v.shape) for k, v in module.state_dict().items()}


def test_time_group_norm_builds_funcodec_encodec_keys(codec_fixture):
    # FunCodec's EnCodec-style checkpoints: plain conv weights plus GroupNorm affine at `.conv.norm.`.
    official = codec_fixture(FUNCODEC).official_shapes()
    for prefix, module in (("encoder.", SEANetEncoder(n_filters=32, dimension=128, norm="time_group_norm")),
                           ("decoder.", SEANetDecoder(n_filters=32, dimension=128, norm="time_group_norm"))):
        expected = {k: v for k, v in official.items() if k.startswith(prefix)}
        assert _shapes(module, prefix) == expected


def test_weight_norm_builds_speechtokenizer_encoder_keys(codec_fixture):
    # SpeechTokenizer: legacy weight_norm names (weight_g [out,1,1]; a transposed conv's is [in,1,1]).
    official = codec_fixture("SpeechTokenizer").official_shapes()
    encoder = SEANetEncoder(n_filters=64, dimension=1024, bidirectional=True)
    assert _shapes(encoder, "encoder.") == {k: v for k, v in official.items() if k.startswith("encoder.")}
    decoder = SEANetDecoder(n_filters=2, dimension=8)
    assert tuple(decoder.state_dict()["model.3.convtr.convtr.weight_g"].shape) == (32, 1, 1)


@pytest.mark.parametrize("transposed", [False, True])
def test_weight_norm_matches_legacy_torch_weight_norm(transposed):
    torch.manual_seed(0)
    ours = SConvTranspose1d(4, 3, 6, stride=3, norm="weight_norm") if transposed else SConv1d(
        4, 3, 5, norm="weight_norm")
    plain = nn.ConvTranspose1d(4, 3, 6, stride=3) if transposed else nn.Conv1d(4, 3, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated, but it wrote the official checkpoints
        legacy = torch.nn.utils.weight_norm(plain)
    with torch.no_grad():
        legacy.weight_g.mul_(torch.rand_like(legacy.weight_g) + 0.5)
    inner = ours.convtr.convtr if transposed else ours.conv.conv
    inner.load_state_dict(legacy.state_dict(), strict=True)
    x = torch.randn(2, 4, 40)
    legacy(x)  # legacy weight_norm recomputes `weight` in a pre-forward hook
    torch.testing.assert_close(inner(x), legacy(x))


def test_unknown_norm_and_pad_mode_list_the_choices():
    with pytest.raises(CodecConfigError, match="`norm` must be one of 'none', 'weight_norm'"):
        SConv1d(1, 1, 3, norm="batch_norm")
    with pytest.raises(CodecConfigError, match="`pad_mode` must be one of 'reflect'"):
        SConv1d(1, 1, 3, pad_mode="circular")
    with pytest.raises(CodecConfigError, match="cannot be causal"):
        SConv1d(1, 1, 3, norm="time_group_norm", causal=True)


@pytest.mark.parametrize("norm,causal,pad_mode,n_residual_layers", [
    ("weight_norm", False, "reflect", 1),
    ("none", True, "constant", 1),
    ("time_group_norm", False, "reflect", 1),
    ("layer_norm", False, "replicate", 1),
    # a second residual block per stage has dilation 2: its valid length must stay T for the norm
    ("time_group_norm", False, "reflect", 2),
])
def test_length_aware_batch_equals_each_item_alone(norm, causal, pad_mode, n_residual_layers):
    torch.manual_seed(0)
    kwargs = dict(channels=2, dimension=8, n_filters=4, ratios=(4, 2), norm=norm, causal=causal,
                  pad_mode=pad_mode, lstm=1, n_residual_layers=n_residual_layers)
    encoder = SEANetEncoder(**kwargs, bidirectional=True).eval()
    decoder = SEANetDecoder(**kwargs).eval()
    lengths = torch.tensor([203, 8, 1, 64])
    batch = torch.randn(4, 2, 203) * (torch.arange(203) < lengths[:, None, None])
    with torch.no_grad():
        frames = encoder.output_lengths(lengths)
        latent = encoder(batch, lengths)
        out = decoder(latent, frames)
        assert frames.tolist() == [26, 1, 1, 8]  # ceil(T / 8)
        for i, n in enumerate(lengths.tolist()):
            alone = encoder(batch[i : i + 1, :, :n])
            torch.testing.assert_close(latent[i : i + 1, :, : frames[i]], alone, rtol=1e-4, atol=1e-5)
            decoded = decoder(alone)
            assert decoded.shape[-1] == decoder.output_lengths(int(frames[i])) == 8 * int(frames[i])
            # Relative L2, the fixtures' measure: a LayerNorm over 2 output channels amplifies rounding
            # wherever the two are nearly equal, so single samples may differ by ~1e-4.
            assert rel_l2(out[i : i + 1, :, : decoded.shape[-1]], decoded) <= 1e-4

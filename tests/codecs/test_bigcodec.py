"""BigCodec: its quirks (inference.py's padding and length, the checkpoint's two parts, the model config file).

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py. The fixture comes from
upstream's code (tests/fixtures/make_bigcodec_fixture.py).
"""

import json

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import FIXTURES
from helpers import torch_save_bytes
from near_ties import Quantiser, rows
from torch.nn import functional as F

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.bigcodec import codec as bigcodec
from codecfake_hf.codecs.bigcodec import model as bigcodec_model
from codecfake_hf.codecs.nn import alias_free
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "bigcodec"


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


def nested(weights: dict) -> dict:
    """The flat fixture weights (`CodecEnc.<key>`, `generator.<key>`) as bigcodec.pt nests them."""
    parts: dict = {}
    for key, value in weights.items():
        part, rest = key.split(".", 1)
        parts.setdefault(part, {})[rest] = value
    return parts


def test_names_and_taxonomy_are_codecfake_plus():
    spec = codecs.spec("bigcodec")
    assert codecs.resolve("BigCodec") == codecs.resolve("bigcodec_1k") == NAME
    # CodecFake+'s labels (AS_CORS_dict 1, DS_CORS_dict 1, QS_CORS_dict 2 in SAST_Net/utils.py)
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("single-codebook", "none", "time")
    assert spec.bitrate_kbps == 1.04 and spec.frame_rate == 80  # the paper's 1.04 kbps


def test_default_config_is_the_repository_file():
    manifest = json.loads((FIXTURES / "codecs" / NAME / "manifest.json").read_text())
    assert bigcodec.default_config(codecs.spec(NAME)) == manifest["official_config"]


def test_inference_pads_a_whole_frame_more_when_the_length_is_a_multiple_of_the_hop(fixture):
    """inference.py pads `200 - T % 200` zeros, so an input of whole frames gets one frame more; the fixture's
    noise (4000 samples, hop 10) came back from upstream as 4010."""
    assert fixture.npy("input.npy").shape == (4000,) and fixture.npy("output.npy").shape == (4010,)
    assert fixture.npy("speech_input.npy").shape == (8007,) and fixture.npy("speech_output.npy").shape == (8010,)
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        codec = bigcodec.build(spec, bigcodec.default_config(spec), None, runtime=Runtime(device="meta"))
    assert [codec.output_length(n) for n in (1, 199, 200, 16000, 16001)] == [200, 200, 400, 16200, 16200]


def test_checkpoint_parts_load_nested_or_flat_and_other_parts_are_ignored(fixture):
    flat = fixture.weights()
    parts = {**nested(flat), "mpd": {"discriminators.0.weight": torch.ones(3)}}  # a training part beside them
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=parts)
    loaded = codec.model.state_dict()
    assert all(torch.equal(loaded[key.replace("CodecEnc.", "encoder.", 1).replace("generator.", "decoder.", 1)],
                           value) for key, value in flat.items())
    assert len(loaded) == len(flat)


def test_checkpoint_without_the_generator_names_the_file(fake_hub, fixture, monkeypatch):
    parts = nested(fixture.weights())
    del parts["generator"]
    fake_hub.add("Alethia/BigCodec", {"bigcodec.pt": torch_save_bytes(parts)})
    monkeypatch.setattr(bigcodec, "default_config", lambda spec: fixture.tiny_config)
    with pytest.raises(CheckpointError, match=r"bigcodec\.pt has no `generator` state dict"):
        codecs.load(NAME)


def test_mismatched_widths_are_one_error(fixture):
    config = json.loads(json.dumps(fixture.tiny_config))
    config["codec_decoder"]["vq_dim"] = 12
    with pytest.raises(CodecConfigError, match=r"codec_encoder\.out_channels=8, codec_decoder\.vq_dim=12"):
        codecs.load(NAME, config=config, random_weights=True)


def test_kaiser_filters_are_upstreams_buffers(fixture):
    """The anti-aliasing filters are computed as upstream computes them: equal to the checkpoint's buffers."""
    weights = fixture.weights()
    up = alias_free.UpSample1d(2, 12).filter
    down = alias_free.DownSample1d(2, 12).lowpass.filter
    torch.testing.assert_close(up, weights["CodecEnc.block.1.block.0.block.0.upsample.filter"], rtol=0, atol=0)
    torch.testing.assert_close(down, weights["CodecEnc.block.1.block.0.block.0.downsample.lowpass.filter"],
                               rtol=0, atol=0)
    assert float(up.sum()) == pytest.approx(1.0, abs=1e-6)


def test_codes_are_one_row_of_the_codebook(fixture):
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    codes = codec.encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    assert codes.shape == (1, 801)
    np.testing.assert_array_equal(codes.numpy(), fixture.npy("speech_codes.npy"))


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class BigCodecTester(FamilyTester):
    family = "bigcodec"
    architecture_key = ("codec_encoder", "ngf")
    required_key = ("codec_encoder",)
    quantiser = Quantiser(
        where=lambda: (bigcodec_model.FactorizedVectorQuantize, "nearest"),
        stages=lambda codec: list(codec.model.decoder.quantizer.layers),
        # the l2-normalised projected latents and codebook, as the distance is taken
        search=lambda layer, latents: (rows(F.normalize(latents, dim=-1)), F.normalize(layer._codebook.weight)),
    )
    facts = {NAME: OfficialFacts(
        source="upstream's CodecEncoder() and CodecDecoder() on the meta device, as inference.py builds them for "
               "bigcodec.pt (Aria-K-Alethia/BigCodec 09845ab; the fixture manifest's `state_dict`); the paper's "
               "'159M parameters'",
        parameters=159_438_018, tensors=533,
        shapes={"encoder.block.0.weight_v": (48, 1, 7), "encoder.block.6.lstm.weight_ih_l0": (6144, 1536),
                "encoder.block.8.weight_v": (1024, 1536, 3),
                "decoder.quantizer.layers.0._codebook.weight": (8192, 8),
                "decoder.quantizer.layers.0.in_proj.weight_v": (8, 1024), "decoder.model.0.weight_v": (1536, 1024, 7),
                "decoder.model.2.block.1.weight_v": (1536, 768, 10), "decoder.model.8.weight_v": (1, 48, 7),
                "encoder.block.1.block.0.block.0.upsample.filter": (1, 1, 12)},
        config={"codec_encoder.up_ratios": (2, 2, 2, 5, 5), "codec_decoder.codebook_size": 8192,
                "codec_decoder.codebook_dim": 8, "hop_length": 200},
    )}

    def official_key_shapes(self, name, fixture):
        attribute = bigcodec.CHECKPOINT_PARTS
        return {f"{attribute[part]}.{key}": tuple(shape) for part, keys in fixture.manifest["state_dict"].items()
                for key, shape in keys.items()}

    def hub_layout(self, name, fixture):
        return {"bigcodec.pt": torch_save_bytes(nested(fixture.weights()))}, "bigcodec.pt"

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # The Hub repository holds only the checkpoint; the config comes from the code.
        monkeypatch.setattr(bigcodec, "default_config", lambda spec: json.loads(json.dumps(fixture.tiny_config)))


TESTER = BigCodecTester()

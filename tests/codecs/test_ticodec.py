"""TiCodec (3 configs): its quirks (time-invariant codes, length rule, batches, checkpoints, config constants).

Fixture parity (made from the upstream code by tests/fixtures/make_ticodec_fixture.py), the official keys and the
offline Hub: tests/test_codec_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2, resynthesize_one
from helpers import plain, torch_save_bytes
from near_ties import Quantiser, rows
from test_builder import config_for
from test_corpus import make_vctk_tree

from builder import build
from builder.release_layouts import codec_part
from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs.ticodec import codec as ticodec
from codecfake_hf.codecs.ticodec import network
from codecfake_hf.codecs.ticodec.config import TiCodecConfig
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ["ticodec_24k_320d_1g1r", "ticodec_24k_320d_1g2r", "ticodec_24k_320d_1g4r"]
CORS = {"ticodec_1g1r": NAMES[0], "ticodec_1g2r": NAMES[1], "ticodec_1g4r": NAMES[2]}
UTTERANCES = ["p225_273", "p295_144", "p318_114"]
# Batched against alone (rel. L2): the fixtures' parity bound, here between two runs of our own code.
PARITY = 1e-4

parametrize_names = pytest.mark.parametrize("name", NAMES)


def nest(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Flat `part.key` weights -> the official file's layout `{part: {key: tensor}}`."""
    return {
        part: {key.removeprefix(f"{part}."): value for key, value in flat.items() if key.startswith(f"{part}.")}
        for part in ticodec.CHECKPOINT_PARTS
    }


def test_cors_names_and_taxonomy_follow_codecfake_plus():
    """The CoRS names resolve to our configs; the labels are those of the CodecFake+ authors' dicts
    (SAST_Net/utils.py: AS_CORS_dict 3 = disentanglement, DS_CORS_dict 1 = time, QS_CORS_dict 2 = single
    codebook for 1g1r, 1 = multi-codebook for 1g2r and 1g4r)."""
    for cors, name in CORS.items():
        spec = codecs.spec(cors)
        assert spec.name == name and spec.public_sets == ("CodecFake+",)
        assert (spec.auxiliary, spec.decoder) == ("disentanglement", "time")
    assert [codecs.spec(n).quantizer for n in NAMES] == ["single-codebook", "multi-codebook", "multi-codebook"]
    # 1, 2, 4 codebooks of 1024 at 24000 / 320 = 75 Hz
    assert [codecs.spec(n).bitrate_kbps for n in NAMES] == [0.75, 1.5, 3.0]


def test_cors_rows_land_in_our_configs():
    """`builder import --layout cors` names a part by the registry's name of the release's Model."""
    assert [codec_part(cors) for cors in CORS] == NAMES


@pytest.mark.slow  # the official architecture (63 M parameters), random weights, 6 clips: ~50 s on 2 shared cores
def test_random_weight_build_loads_back_with_the_taxonomy(tmp_path, demo_dir):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    out = tmp_path / "out"
    report = build(config_for(source, out, "ticodec_1g1r", random_weights=True), progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAMES[0]]
    ds = datasets.load_dataset(str(out), NAMES[0], split="test", cache_dir=str(tmp_path / "cache"))
    fakes = [row for row in ds if row["codec"] == NAMES[0]]
    assert fakes and len(fakes) == sum(row["codec"] == "genuine" for row in ds)
    labels = {key: {ds.features[key].int2str(row[key]) for row in fakes} for key in ("quantizer", "auxiliary",
                                                                                       "decoder")}
    assert labels == {"quantizer": {"single-codebook"}, "auxiliary": {"disentanglement"}, "decoder": {"time"}}
    for row in fakes:  # 24 kHz rows, truncated to whole 320-sample frames
        audio = row["audio"]
        assert audio["sampling_rate"] == 24000 and audio["array"].shape[0] % 320 == 0


@parametrize_names
def test_default_config_is_the_upstream_json(name, codec_fixture):
    """The official config is the file upstream's script read (recorded in the fixture's manifest)."""
    assert ticodec.default_config(codecs.spec(name)) == codec_fixture(name).manifest["config"]["values"]


@parametrize_names
def test_config_dataclass_holds_the_official_values_and_upstream_constants(name, codec_fixture):
    """TiCodecConfig: the file's model keys with their values, and upstream's hard-coded widths (32, 512, 128, 16)."""
    fixture = codec_fixture(name)
    values = plain(TiCodecConfig.from_config(ticodec.default_config(codecs.spec(name))))
    constants = {"encoder_base_channels": 32, "latent_dim": 512, "global_dim": 128,
                 "groupnorm_channels_per_group": 16}
    official = fixture.manifest["config"]["values"]
    assert values == {**{key: official[key] for key in set(values) - set(constants)}, **constants}
    # The tiny config sets the same four keys the fixture script substituted into upstream's models.py.
    assert {key: fixture.tiny_config[key] for key in constants} == fixture.manifest["tiny"]["constants"]


@parametrize_names
def test_nested_checkpoint_layout_loads_like_the_flat_one(name, codec_fixture):
    fixture = codec_fixture(name)
    flat = fixture.weights()
    codec = codecs.load(name, config=fixture.tiny_config, state_dict=nest(flat))
    state = codec.model.state_dict()
    assert state.keys() == flat.keys()
    assert all(torch.equal(state[key], flat[key]) for key in flat)


@parametrize_names
@pytest.mark.parametrize("case", ["", "speech_"])
def test_time_invariant_codes_equal_upstreams(name, case, codec_fixture, tiny_codec):
    """The utterance's `global_code_num` time-invariant codes, as upstream's `VQVAE.encode` gave them."""
    fixture, codec = codec_fixture(name), tiny_codec(name)
    wave = fixture.npy(f"{case}input.npy")
    codes, global_codes, frames = codec.encode(torch.from_numpy(wave[None]), [wave.shape[0]])
    np.testing.assert_array_equal(global_codes[0].numpy(), fixture.npy(f"{case}global_codes.npy"))
    assert frames.tolist() == [wave.shape[0] // 320]


@parametrize_names
def test_time_invariant_feature_reaches_the_generator(name, codec_fixture, tiny_codec):
    """Other global codes change the output: the generator adds the global feature (at its stage as wide)."""
    fixture, codec = codec_fixture(name), tiny_codec(name)
    wave = fixture.npy("speech_input.npy")
    codes, global_codes, frames = codec.encode(torch.from_numpy(wave[None]), [wave.shape[0]])
    out = codec.decode(codes, global_codes, frames)
    other = codec.decode(codes, (global_codes + 1) % codec.model.cfg.n_codes, frames)
    assert rel_l2(other.numpy(), out.numpy()) > 1e-2
    np.testing.assert_allclose(out[0].numpy(), fixture.npy("speech_output.npy"), rtol=0, atol=1e-5)


@parametrize_names
def test_length_rule_on_real_clips(name, demo_dir, tiny_codec):
    """Truncated down to a multiple of 320: 4 strided convolutions with padding (k - u) // 2 floor
    (T // 2 // 4 // 5 // 8 frames) and the transposed ones give 320 samples per frame."""
    codec = tiny_codec(name)
    waves = []
    for utt in UTTERANCES:
        wave, rate = read_audio(demo_dir / f"genuine+{utt}.wav")
        waves.append(resample(wave, rate, codec.sample_rate))
    batch, lengths = pad_batch(waves)
    out, out_lengths = codec.resynthesize(batch, lengths)
    expected = [n // 2 // 4 // 5 // 8 * 320 for n in lengths]
    assert out_lengths.tolist() == expected == [codec.output_length(n) for n in lengths]
    assert out.shape[1] == max(expected)


@parametrize_names
def test_fixture_output_length_is_upstreams(name, codec_fixture):
    """Upstream's own output lengths: 6000 -> 5760 and 12000 -> 11840 samples."""
    fixture = codec_fixture(name)
    assert [fixture.npy(f).shape[0] for f in ("input.npy", "output.npy", "speech_input.npy",
                                             "speech_output.npy")] == [6000, 5760, 12000, 11840]


@parametrize_names
def test_padded_batch_matches_one_by_one(name, codec_fixture, tiny_codec):
    """Each item of a padded batch gets the codes (frame-level and time-invariant) it gets alone.

    Without the network's length masks it would not: GroupNorm and the global branch's mean would take the
    padding in.
    """
    codec = tiny_codec(name)
    assert codec.batch_exact
    wave = codec_fixture(name).npy("speech_input.npy")
    lengths = [wave.shape[0], 7001, 3321, 700]
    batch = np.zeros((len(lengths), wave.shape[0]), np.float32)
    for i, n in enumerate(lengths):
        batch[i, :n] = wave[:n]
    codes, global_codes, frames = codec.encode(torch.from_numpy(batch), lengths)
    for i, n in enumerate(lengths):  # the outputs, batched against alone: tests/test_codec_contract.py
        alone_codes, alone_global, _ = codec.encode(torch.from_numpy(wave[None, :n]), [n])
        assert int(frames[i]) == n // 320
        assert torch.equal(codes[i, :, : int(frames[i])], alone_codes[0])
        assert torch.equal(global_codes[i], alone_global[0])


def test_global_mean_is_over_each_items_own_frames():
    """The time-invariant branch of a padded batch against each item alone (random weights, tiny widths)."""
    torch.manual_seed(0)
    branch = network.GlobalTokenEncoder(4, 3, 4, 3, 1).eval()
    x = torch.randn(2, 4, 30)
    x[1, :, 17:] = 0
    batched = branch(x, torch.tensor([30, 17]))
    alone = branch(x[1:, :, :17], torch.tensor([17]))
    torch.testing.assert_close(batched[1], alone[0], rtol=1e-6, atol=1e-6)
    assert not torch.allclose(branch(x, torch.tensor([30, 30]))[1], alone[0], atol=1e-3)  # the padding counted


def test_input_shorter_than_a_frame_is_refused(tiny_codec):
    codec = tiny_codec(NAMES[0])
    with pytest.raises(ValueError, match="at least one 320-sample frame"):
        codec.resynthesize(np.ones((2, 400), np.float32), [400, 319])


def test_config_that_does_not_fit_the_codec_is_refused():
    config_1g4r = ticodec.default_config(codecs.spec(NAMES[2]))
    with pytest.raises(CodecConfigError, match="4 frame-level codebooks; this codec runs .* 1 codebooks"):
        codecs.load(NAMES[0], config=config_1g4r, random_weights=True)
    with pytest.raises(CodecConfigError, match="`residul_layer` must be 1, 2 or 4"):
        codecs.load(NAMES[0], random_weights=True, config={**config_1g4r, "residul_layer": 3})
    with pytest.raises(CodecConfigError, match=r"`global_feature_conv` \[64, 64, 128, 3, 1\] must read the 128"):
        codecs.load(NAMES[2], random_weights=True, config={**config_1g4r, "global_feature_conv": [64, 64, 128, 3, 1]})


def official_shaped_checkpoint(shapes: dict[str, tuple[int, ...]]) -> dict[str, dict[str, torch.Tensor]]:
    """A checkpoint in the official layout and shapes, each tensor a distinct constant expanded from one element
    (`torch.save` writes the one-element storage: a few KB instead of 250 MB)."""
    flat = {}
    for i, (key, shape) in enumerate(shapes.items()):
        value = torch.full((1,), 0.01 * (1 + i % 13))
        if key.endswith("num_batches_tracked"):
            value = torch.tensor(1000)
        elif key.endswith("running_var"):
            value = torch.ones(1)
        flat[key] = value.expand(shape) if shape else value.reshape(())
    return nest(flat)


@parametrize_names
def test_official_checkpoint_through_the_offline_hub(name, codec_fixture, fake_hub, tmp_path):
    spec = codecs.spec(name)
    shapes = codec_fixture(name).official_shapes()
    checkpoint = official_shaped_checkpoint(shapes)
    checkpoint["steps"] = 300_000  # upstream's loader reads the three parts and ignores anything else
    path = tmp_path / "g_checkpoint"
    torch.save(checkpoint, path)
    fake_hub.add(spec.hub_repo, {spec.hub_files[0]: path})

    codec = codecs.load(name)
    assert not codec.random_weights
    state = codec.model.state_dict()
    assert {key: tuple(value.shape) for key, value in state.items()} == shapes
    for part in ticodec.CHECKPOINT_PARTS:
        assert all(torch.equal(state[f"{part}.{key}"], value) for key, value in checkpoint[part].items())
    out, lengths = codec.resynthesize(np.sin(np.arange(1000, dtype=np.float32) / 7)[None], [1000])
    assert lengths.tolist() == [960] and torch.isfinite(out).all()


def bad_checkpoint(defect: str, tiny_weights: dict[str, torch.Tensor], path: Path) -> Path:
    if defect == "discriminator_file":  # what TiCodec's training saves beside the generator file
        torch.save({"mpd": {"convs.0.bias": torch.zeros(32)}, "steps": 3}, path)
        return path
    torch.save(nest(tiny_weights), path)  # loads, but has tiny shapes where the official config wants 512 channels
    if defect == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


@parametrize_names
@pytest.mark.parametrize(
    "defect, message",
    [
        ("truncated", "could not be loaded safely"),
        ("discriminator_file", "lacks the sub-dictionaries generator, encoder, quantizer"),
        ("other_shapes", "wrong shapes"),
    ],
)
def test_bad_checkpoint_file_is_named(name, defect, message, codec_fixture, fake_hub, tmp_path):
    spec = codecs.spec(name)
    path = bad_checkpoint(defect, codec_fixture(name).weights(), tmp_path / "checkpoint")
    fake_hub.add(spec.hub_repo, {spec.hub_files[0]: path})
    with pytest.raises(CheckpointError, match=message) as error:
        codecs.load(name)
    assert spec.hub_files[0].split("/")[-1] in str(error.value)


@pytest.mark.slow
@parametrize_names
def test_official_size_batch_matches_one_by_one(name, codec_fixture):
    """The length masks at the official width (512 channels, GroupNorm of 16-channel groups), random weights."""
    codec = codecs.load(name, random_weights=True)
    wave = codec_fixture(name).npy("speech_input.npy")
    lengths = [wave.shape[0], wave.shape[0] // 2 + 1]
    batch = np.stack([wave, np.where(np.arange(wave.shape[0]) < lengths[1], wave, 0)]).astype(np.float32)
    out, out_lengths = codec.resynthesize(batch, lengths)
    for i, n in enumerate(lengths):
        alone = resynthesize_one(codec, wave[:n])
        assert int(out_lengths[i]) == alone.shape[0]
        assert rel_l2(out[i, : alone.shape[0]], alone) <= PARITY


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def hub_files(name: str, fixture) -> dict[str, bytes]:
    """The repository's checkpoint file `{generator, encoder, quantizer}` (its config lives in the code)."""
    return {codecs.spec(name).hub_files[0]: torch_save_bytes({**nest(fixture.weights()), "steps": 300_000})}


def _facts(parameters: int, tensors: int, codebooks: int) -> OfficialFacts:
    return OfficialFacts(
        source="upstream y-ren16/TiCodec@13af0eb academicodec/models/ticodec/models.py (Generator, Encoder, "
               "Quantizer) built with egs/TiCodec-24k-320d/config_24k_320d_conv_1g*r_8g3k1s.json on the meta device "
               "(tests/fixtures/make_ticodec_fixture.py; key set in the fixture manifests): generator 15,353,346 + "
               "encoder 47,323,937 (BatchNorm buffers included) + quantizer 1024 x (512 x layers + 128)",
        parameters=parameters, tensors=tensors,
        shapes={"generator.conv_pre.weight_v": (512, 512, 7), "encoder.conv_post.weight": (512, 512, 3),
                "encoder.GlobalTokenEncoder.conv.0.weight": (64, 128, 3),
                "encoder.GlobalTokenEncoder.fn.2.running_var": (128,),
                f"quantizer.{network._LAYER_NAMES[codebooks - 1]}.0.embedding.weight": (1024, 512),
                "quantizer.quantizer_modules_globaltokens.7.embedding.weight": (1024, 16)},
        config={"n_codes": 1024, "residul_layer": codebooks, "global_code_num": 8, "latent_dim": 512})


class TiCodecTester(FamilyTester):
    family = "ticodec"
    architecture_key = ("n_codes",)
    quantiser = Quantiser(  # the frame-level codebooks; the time-invariant ones have their own search method
        where=lambda: (network.Codebook, "encode"),
        stages=lambda codec: [book for layer in codec.model.quantizer.layers for book in layer],
        search=lambda book, x: (rows(x), book.embedding.weight),
    )
    facts = {NAMES[0]: _facts(63_332_643, 512, 1), NAMES[1]: _facts(63_856_931, 513, 2),
             NAMES[2]: _facts(64_905_507, 515, 4)}

    def config_value(self, codec, key):
        return getattr(codec.model.cfg, key)

    def hub_layout(self, name, fixture):
        files = hub_files(name, fixture)
        return files, next(iter(files))

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # The Hub repository holds only the checkpoints; the configs come from the code.
        monkeypatch.setattr(ticodec, "default_config", lambda spec: dict(fixture.tiny_config))


TESTER = TiCodecTester()

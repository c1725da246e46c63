"""FACodec (Amphion's NaturalSpeech 3 codec, v2 networks): its quirks (whole-frame padding, the librosa mel basis,
the batch-indexed positional table, two checkpoint files, the CoRS name) and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/facodec_v2_16khz/ (made by tests/fixtures/make_facodec_fixture.py from Amphion's code).
"""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser

from codecfake_hf import codecs
from codecfake_hf.codecs.facodec import codec as facodec
from codecfake_hf.codecs.facodec import layers
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "facodec_v2_16khz"
REPO = "amphion/naturalspeech3_facodec"
ENCODER_FILE, DECODER_FILE = "ns3_facodec_encoder_v2.bin", "ns3_facodec_decoder_v2.bin"
UTTERANCES = ("p225_273", "p295_144", "p318_114")


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def tiny(fixture):
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def parts(fixture) -> dict[str, dict[str, torch.Tensor]]:
    """The fixture's weights as the two official files hold them (each network's own keys)."""
    found: dict[str, dict[str, torch.Tensor]] = {"encoder": {}, "decoder": {}}
    for key, value in fixture.weights().items():
        part, rest = key.split(".", 1)
        found[part][rest] = value
    return found


def test_cors_name_and_aliases_resolve_to_the_config():
    for alias in ("FACodec_encodec-decoder-v2_16k", "facodec_encodec-decoder-v2_16k", "naturalspeech3_facodec"):
        assert codecs.resolve(alias) == NAME
    spec = codecs.spec(NAME)
    # CodecFake+'s dicts (SAST_Net/utils.py): AS 3 (disentanglement), DS 1 (time), QS 1 (MVQ).
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("multi-codebook", "disentanglement", "time")
    assert spec.bitrate_kbps == 6 * 10 * 80 / 1000 and spec.public_sets == ("CodecFake+",)


def test_cors_import_puts_the_rows_in_the_config(tmp_path, demo_dir):
    """A CoRS label line naming the codec as CodecFake+ does lands in our config, with the release's taxonomy."""
    from builder.release_layouts import scan_cors

    wave, rate = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    for folder in ("VCTK", "FACodec_encodec-decoder-v2_16k"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "p225_273.wav", wave[:8000], rate, subtype="PCM_16")
    (tmp_path / "CoRS_labels.txt").write_text("VCTK p225_273 - - - bonafide\n"
                                              "FACodec_encodec-decoder-v2_16k p225_273 MVQ Dis Time spoof\n")
    found, skipped, taxonomy = scan_cors(tmp_path)
    assert sorted(found) == sorted(["genuine", NAME]) and skipped == []
    assert taxonomy[NAME]["model"] == "FACodec_encodec-decoder-v2_16k"


def test_default_config_is_the_readmes_arguments(fixture):
    assert facodec.default_config(codecs.spec(NAME)) == fixture.manifest["official"]["arguments"]


def test_length_is_the_inputs_on_real_clips_of_every_frame_remainder(tiny, demo_dir):
    """Upstream's encoder gives ceil-like frame counts where its prosody mel gives floor(T / 200): for T mod 200 ≥
    152 the two differ by one and upstream's quantiser sum fails; the whole-frame padding runs every length."""
    encoder = tiny.model.encoder
    # Convolution frames floor((floor((floor(floor(T / 2) / 4) + 1) / 5) + 1) / 5); mel frames
    # floor((T + 824 - 1024) / 200) + 1, by hand.
    for length, (conv_frames, mel_frames) in {551: (2, 2), 552: (3, 2), 600: (3, 3), 751: (3, 3), 752: (4, 3)}.items():
        x = torch.zeros(1, 1, length)
        assert (encoder(x).shape[-1], encoder.get_prosody_feature(x, 20).shape[-1]) == (conv_frames, mel_frames)
    for utterance in UTTERANCES:
        wave, _ = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
        for n in (wave.shape[0], 16152, 16000, 16151):
            out = resynthesize_one(tiny, wave[:n])
            assert out.shape == (n,) and tiny.output_length(n) == n
            assert np.isfinite(out).all() and np.abs(out).max() > 0


def test_padding_to_whole_frames_is_all_that_happens_to_a_length(tiny, fixture):
    """An input of T samples gives the first T samples of what its zero-padding to whole frames gives."""
    wave = fixture.npy("speech_input.npy")[:7_951]
    padded = np.pad(wave, (0, 8_000 - wave.shape[0]))
    np.testing.assert_allclose(resynthesize_one(tiny, wave), resynthesize_one(tiny, padded)[:7_951], atol=1e-6)
    assert tiny.encode(torch.from_numpy(wave)).shape == (6, 40)


def test_too_short_input_is_named(tiny):
    assert tiny.min_input_length() == 401
    with pytest.raises(ValueError, match="shorter than 401"):
        tiny.resynthesize(np.zeros((1, 400), np.float32), [400])
    assert resynthesize_one(tiny, np.full(401, 0.1, np.float32)).shape == (401,)


def test_random_weight_mel_basis_is_librosas(fixture):
    """The fixture's mel basis is librosa's (`librosa.filters.mel`, Slaney), recorded by upstream's MelSpectrogram;
    a random-weight build computes its own with transformers' `mel_filter_bank`."""
    codec = codecs.load(NAME, config=fixture.tiny_config, random_weights=True)
    ours = codec.model.encoder.mel_transform.mel_basis
    upstream = fixture.weights()["encoder.mel_transform.mel_basis"]
    assert ours.shape == upstream.shape == (20, 513)
    torch.testing.assert_close(ours, upstream, rtol=1e-5, atol=1e-9)


def test_positional_table_is_indexed_by_batch_position():
    """Upstream adds `pe[:x.size(0)]` to a batch-first input: item b gets row b at every step, and row 0 is
    sin(0), cos(0) = 0, 1 alternating."""
    table = layers.PositionalEncoding(4, max_len=3)
    out = table(torch.zeros(2, 5, 4))
    torch.testing.assert_close(out[0], torch.tensor([0.0, 1.0, 0.0, 1.0]).expand(5, 4))
    torch.testing.assert_close(out[1], torch.tensor([np.sin(1.0), np.cos(1.0), np.sin(1e-2), np.cos(1e-2)],
                                                    dtype=torch.float32).expand(5, 4))


def test_checkpoint_of_another_network_names_the_file_and_the_keys(fake_hub, fixture, monkeypatch):
    """The v1 decoder (no prosody transformer) in place of the v2 one is named, with the keys it lacks."""
    files = parts(fixture)
    v1 = {k: v for k, v in files["decoder"].items() if not k.startswith(("melspec_linear", "melspec_encoder"))}
    fake_hub.add(REPO, {ENCODER_FILE: torch_save_bytes(files["encoder"]), DECODER_FILE: torch_save_bytes(v1)})
    TESTER.official_config_is_tiny(monkeypatch, NAME, fixture)
    with pytest.raises(CheckpointError, match=r"ns3_facodec_decoder_v2\.bin does not match.*missing keys: melspec"):
        codecs.load(NAME)


def test_inconsistent_config_is_named(fixture):
    config = {**fixture.tiny_config, "decoder": {**fixture.tiny_config["decoder"], "vq_dim": 16}}
    with pytest.raises(CodecConfigError, match=r"facodec_v2_16khz: FACodec config: encoder.out_channels \(8\)"):
        codecs.load(NAME, config=config, random_weights=True)


def test_codebook_count_must_be_the_releases(fixture):
    config = {**fixture.tiny_config, "decoder": {**fixture.tiny_config["decoder"], "vq_num_q_r": 2}}
    with pytest.raises(CodecConfigError, match="has 5 codebooks; this codec runs with 6"):
        codecs.load(NAME, config=config, random_weights=True)


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with FACodec (the fixture's tiny config, random weights) loads back through `load_dataset`
    with CodecFake+'s taxonomy of the codec."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", NAME), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAME]
    ds = datasets.load_dataset(str(tmp_path / "out"), NAME, split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(NAME, "multi-codebook", "disentanglement", "time")] == seen[("genuine", "bonafide", "bonafide",
                                                                              "bonafide")] > 0


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    codec = codecs.load(NAME, random_weights=True)
    wave, _ = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    out = resynthesize_one(codec, wave[:16_100])
    assert out.shape == (16_100,) and np.isfinite(out).all()
    again = resynthesize_one(codecs.load(NAME, random_weights=True), wave[:16_100])
    assert rel_l2(again, out) == 0.0  # the same seeded weights


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _search(quantiser, latents):
    # decode_latents' distance: squared euclidean between the L2-normalised projection and codebook.
    return F.normalize(latents.transpose(1, 2), dim=-1), F.normalize(quantiser.codebook.weight)


def _stages(codec):
    return [stage for group in codec.model.decoder.quantizer for stage in group.layers]


def _chains(codec, rows):
    # The prosody codebooks quantise the prosody features; content and residual codebooks one chain on the latent
    # (the residual quantiser takes what prosody and content left of it).
    prosody = codec.model.config.decoder.vq_num_q_p
    return [list(range(prosody)), list(range(prosody, rows))]


class FACodecTester(FamilyTester):
    family = "facodec"
    architecture_key = ("encoder", "ngf")
    quantiser = Quantiser(
        where=lambda: (layers.FactorizedVectorQuantize, "decode_latents"),
        stages=_stages,
        search=_search,
        chains=_chains,
        chosen=lambda result: result[1],
        impose=lambda quantiser, args, result, codes: (quantiser.decode_code(codes), codes),
    )
    facts = {NAME: OfficialFacts(
        source="Amphion's FACodecEncoderV2 + FACodecDecoderV2 (commit d3de90f) built with the README's arguments "
               "(tests/fixtures/make_facodec_fixture.py; manifest 'official.counts': 4,253,064 + 108,041,420 "
               "entries, 208 + 598 tensors). The same arguments give the v1 networks 4,211,224 and 99,402,188 "
               "float32 entries = 16.8 MB and 397.6 MB, the published ns3_facodec_encoder.bin (16.9 MB) and "
               "ns3_facodec_decoder.bin (398 MB).",
        parameters=112_294_484, tensors=806,
        shapes={"encoder.block.0.weight_v": (32, 1, 7), "encoder.block.6.weight_v": (256, 512, 3),
                "encoder.mel_transform.mel_basis": (80, 513),
                "decoder.quantizer.1.layers.0._codebook.weight": (1024, 8),
                "decoder.model.0.weight_v": (1024, 256, 7), "decoder.melspec_linear.weight": (256, 20),
                "decoder.x_timbre_predictor.1.heads.0.weight": (245200, 256),
                "decoder.timbre_encoder.position_emb.pe": (5000, 1, 256)},
        config={"decoder.codebook_size_content": 10, "decoder.upsample_initial_channel": 1024,
                "encoder.up_ratios": (2, 4, 5, 5)})}

    def chains(self):
        return 2  # prosody | content + residual

    def hub_layout(self, name, fixture):
        files = parts(fixture)
        return {ENCODER_FILE: torch_save_bytes(files["encoder"]),
                DECODER_FILE: torch_save_bytes(files["decoder"])}, DECODER_FILE

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        monkeypatch.setattr(facodec, "OFFICIAL_CONFIG", fixture.tiny_config)

    def with_unknown_key(self, name, config, key):
        return {**config, "decoder": {**config["decoder"], key: 11}}


TESTER = FACodecTester()

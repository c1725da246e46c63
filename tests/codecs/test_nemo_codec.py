"""NVIDIA NeMo's codecs (low-frame-rate speech codec, mel codecs): their quirks (the `.nemo` archive read without NeMo,
whole-frame padding and output, reflect padding's shortest input, FSQ indices, the CoRS name of the Spectral Codec)
and their tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/nvidia-*/ (made by tests/fixtures/make_nemo_codec_fixture.py with nemo_toolkit 2.1.0).
"""

from __future__ import annotations

import copy
import io
import tarfile
from collections import Counter

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.nemo_codec import model as layers
from codecfake_hf.errors import CheckpointError, CodecConfigError

LFR = "nvidia-low-frame-rate-speech-codec-22khz"
MEL22, MEL44 = "nvidia-mel-codec-22khz", "nvidia-mel-codec-44khz"
NAMES = (LFR, MEL22, MEL44)
UTTERANCES = ("p225_273", "p295_144", "p318_114")


@pytest.fixture(scope="module")
def tiny(codec_fixture):
    return {name: codecs.load(name, config=codec_fixture(name).tiny_config, state_dict=codec_fixture(name).weights())
            for name in NAMES}


def nemo_archive(fixture, *, config: dict | None = None, state: dict | None = None, gzip: bool | None = None,
                 drop: str | None = None) -> bytes:
    """The tiny model as a `.nemo` archive laid out as NeMo's `save_to` laid it out when the fixture was made (its
    member names, tar mode, `model_config.yaml` as written, and the training-only tensors beside the generator's)."""
    record = fixture.manifest["archive"]
    config_bytes = (fixture.tiny_dir / "model_config.yaml").read_bytes() if config is None \
        else yaml.safe_dump(config).encode()
    weights = dict(fixture.weights()) if state is None else dict(state)
    weights.update({key: torch.zeros(shape) for key, shape in record["other_keys"].items()})
    contents = {"model_config.yaml": config_bytes, "model_weights.ckpt": torch_save_bytes(weights)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if (record["gzip"] if gzip is None else gzip) else "w:") as tar:
        for name in record["members"]:
            base = name.rsplit("/", 1)[-1]
            if base == drop:
                continue
            info = tarfile.TarInfo(name)
            if base in contents:
                info.size = len(contents[base])
                tar.addfile(info, io.BytesIO(contents[base]))
            else:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return buffer.getvalue()


def test_names_taxonomy_and_the_cors_spectral_codec():
    """CodecFake+'s `spectralcodecs` is the 44.1 kHz mel codec; FSQ is CodecFake+'s scalar quantiser (QS 3), no
    auxiliary objective (AS 1); the decoder domain stays ours (`time`), the note says why CoRS has `frequency`."""
    assert codecs.resolve("spectralcodecs") == codecs.resolve("SpectralCodecs") == MEL44
    for name in NAMES:
        spec = codecs.spec(name)
        assert (spec.quantizer, spec.auxiliary, spec.decoder, spec.license) == ("scalar", "none", "time", "nsclv1")
    assert "DS_CORS_dict" in codecs.spec(MEL44).notes and codecs.spec(MEL44).public_sets == ("CodecFake+",)
    # The model cards: 1.89 kbps at 21.5 frames/s; 6.9 kbps at 86.1 frames/s.
    assert round(codecs.spec(LFR).bitrate_kbps, 2) == 1.89 and round(codecs.spec(LFR).frame_rate, 1) == 21.5
    assert round(codecs.spec(MEL44).bitrate_kbps, 1) == round(codecs.spec(MEL22).bitrate_kbps, 1) == 6.9


def test_cors_import_puts_the_rows_in_the_config(tmp_path, demo_dir):
    """A CoRS label line naming `spectralcodecs` lands in the 44.1 kHz mel codec's part, with the release's labels."""
    from builder.release_layouts import scan_cors

    wave, rate = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    for folder in ("VCTK", "spectralcodecs"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "p225_273.wav", wave[:8000], rate, subtype="PCM_16")
    (tmp_path / "CoRS_labels.txt").write_text("VCTK p225_273 - - - bonafide\n"
                                              "spectralcodecs p225_273 SQ Trad Freq spoof\n")
    found, skipped, taxonomy = scan_cors(tmp_path)
    assert sorted(found) == sorted(["genuine", MEL44]) and skipped == []
    assert taxonomy[MEL44] == {"model": "spectralcodecs", "quantizer": "SQ", "auxiliary": "Trad", "decoder": "Freq"}


def test_output_is_whole_frames_on_real_clips(tiny, demo_dir):
    """Upstream pads the input to whole frames (`pad_audio`) and returns the padded length; the first T samples are
    what the padded input gives."""
    from codecfake_hf.audio import resample

    for name in NAMES:
        codec = tiny[name]
        hop = codec.spec.hop_length
        for utterance in UTTERANCES[:2]:
            wave16k, _ = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
            wave = resample(wave16k[:16000], 16000, codec.sample_rate).astype(np.float32)
            for n in (wave.shape[0], 10 * hop, 10 * hop + 1):
                out = resynthesize_one(codec, wave[:n])
                assert out.shape == (-(-n // hop) * hop,) and np.isfinite(out).all() and np.abs(out).max() > 0
        padded = np.pad(wave[: 10 * hop + 1], (0, hop - 1))
        np.testing.assert_allclose(resynthesize_one(codec, wave[: 10 * hop + 1]), resynthesize_one(codec, padded),
                                   atol=1e-6)


def test_shortest_input_is_named(tiny):
    """Every conv reflect-pads its input, which torch refuses when the padding is not shorter than the input: the
    decoder's first conv (kernel 7, padding 3) needs 4 code frames, the LFR encoder's last residual layer (kernel 11,
    padding 5, at 1/128 of the rate) needs 6 / 128 · 1024 samples, i.e. also 4 frames."""
    for name in NAMES:
        codec = tiny[name]
        shortest = codec.min_input_length()
        assert shortest == 3 * codec.spec.hop_length + 1, name
        with pytest.raises(ValueError, match=f"shorter than {shortest}"):
            codec.resynthesize(np.zeros((1, shortest - 1), np.float32), [shortest - 1])
        assert resynthesize_one(codec, np.full(shortest, 0.1, np.float32)).shape == (4 * codec.spec.hop_length,)


def test_fsq_index_of_a_zero_latent_by_hand():
    """Levels [8, 7, 6, 6], latent 0: each dimension's shifted tanh gives ~0, rounding 0, level index L // 2; the index
    is 4 + 3·8 + 3·56 + 3·336 = 1204 (first dimension lowest); decoding it gives (L//2 - L//2) / (L//2) = 0."""
    fsq = layers.FiniteScalarQuantizer((8, 7, 6, 6))
    codes, indices = fsq.quantize(torch.zeros(1, 4, 3))
    assert indices.tolist() == [[1204, 1204, 1204]] and not codes.any()
    # 0: every level index 0 (the lowest code, -1); 2015: the highest, (L - 1 - L//2) / (L//2)
    torch.testing.assert_close(fsq.decode(torch.tensor([[1204, 0, 2015]]))[0].T, torch.tensor(
        [[0, 0, 0, 0], [-1, -1, -1, -1], [3 / 4, 1, 2 / 3, 2 / 3]]))


def test_random_weight_mel_bank_is_librosas(codec_fixture):
    """The fixture's `fb` is what NeMo recorded from `librosa.filters.mel(norm=None)`; a random-weight build computes
    its own with transformers' `mel_filter_bank`, and the window is `torch.hann_window(periodic=False)` in both."""
    for name in (MEL22, MEL44):
        fixture = codec_fixture(name)
        codec = codecs.load(name, config=fixture.tiny_config, random_weights=True)
        featurizer = codec.model.audio_encoder.mel_processor.preprocessor.featurizer
        prefix = "audio_encoder.mel_processor.preprocessor.featurizer."
        torch.testing.assert_close(featurizer.fb, fixture.weights()[prefix + "fb"], rtol=1e-5, atol=1e-8)
        assert torch.equal(featurizer.window, fixture.weights()[prefix + "window"])


def test_nemo_archive_is_read_without_nemo(codec_fixture, fake_hub):
    """The `.nemo` archive's own config builds the model (not the family's default), its training tensors are
    dropped, and a gzip-compressed archive (older NeMo's `save_to`) reads the same."""
    fixture = codec_fixture(MEL22)
    for gzip in (False, True):
        fake_hub.add("nvidia/mel-codec-22khz", {"mel-codec-22khz.nemo": nemo_archive(fixture, gzip=gzip)})
        codec = codecs.load(MEL22)
        assert codec.model.config.audio_encoder.hidden_channels == 8  # the tiny archive's, not the official 128
        assert rel_l2(resynthesize_one(codec, fixture.npy("input.npy")), fixture.npy("output.npy")) <= 1e-4


def test_truncated_gzip_archive_names_the_file(codec_fixture, fake_hub):
    """Older NeMo wrote gzip-compressed archives: cut in half, the file is named as truncated (not a zlib trace)."""
    data = nemo_archive(codec_fixture(MEL22), gzip=True)
    fake_hub.add("nvidia/mel-codec-22khz", {"mel-codec-22khz.nemo": data[: len(data) // 2]})
    with pytest.raises(CheckpointError, match=r"mel-codec-22khz\.nemo .*truncated or corrupt"):
        codecs.load(MEL22)


def test_archive_without_weights_names_the_file(codec_fixture, fake_hub):
    fake_hub.add("nvidia/mel-codec-22khz", {"mel-codec-22khz.nemo": nemo_archive(codec_fixture(MEL22),
                                                                                 drop="model_weights.ckpt")})
    with pytest.raises(CheckpointError, match=r"mel-codec-22khz\.nemo has no model_weights\.ckpt"):
        codecs.load(MEL22)


def test_weights_that_do_not_fit_the_archives_config_are_named(codec_fixture, fake_hub):
    """The archive's config builds the model its weights are checked against: a config wider than its weights is
    named with the file and the mis-shaped keys."""
    fixture = codec_fixture(MEL22)
    config = yaml.safe_load((fixture.tiny_dir / "model_config.yaml").read_text())
    config["audio_decoder"]["base_channels"] = 32
    fake_hub.add("nvidia/mel-codec-22khz", {"mel-codec-22khz.nemo": nemo_archive(fixture, config=config)})
    with pytest.raises(CheckpointError, match=r"mel-codec-22khz\.nemo does not match.*wrong shapes: audio_decoder"):
        codecs.load(MEL22)


def test_config_references_and_targets(codec_fixture):
    """`${sample_rate}` resolves as omegaconf would; a reference to nothing, or a `_target_` of another class, is
    named with the fix."""
    config = copy.deepcopy(codec_fixture(MEL22).tiny_config)
    config["audio_encoder"]["mel_processor"]["sample_rate"] = "${sample_rate}"
    assert codecs.load(MEL22, config=config, random_weights=True).model.config.audio_encoder.mel_processor \
        .sample_rate == 22050
    config["audio_encoder"]["mel_processor"]["sample_rate"] = "${model.sample_rate}"
    with pytest.raises(CodecConfigError, match=r"'\$\{model.sample_rate\}' refers to nothing"):
        codecs.load(MEL22, config=config, random_weights=True)
    config = copy.deepcopy(codec_fixture(MEL22).tiny_config)
    config["audio_decoder"]["_target_"] = "nemo.collections.tts.modules.audio_codec_modules.CausalHiFiGANDecoder"
    with pytest.raises(CodecConfigError, match=r"`audio_decoder._target_` '.*CausalHiFiGANDecoder' is not a class"):
        codecs.load(MEL22, config=config, random_weights=True)


def test_inconsistent_config_is_named(codec_fixture):
    config = copy.deepcopy(codec_fixture(LFR).tiny_config)
    config["audio_decoder"]["input_dim"] = 16
    with pytest.raises(CodecConfigError, match="the encoder gives 8 channels, the quantiser takes 8 .* the decoder 16"):
        codecs.load(LFR, config=config, random_weights=True)
    config = copy.deepcopy(codec_fixture(MEL44).tiny_config)
    config["audio_encoder"]["mel_bands"] = [[0, 10], [12, 20]]
    with pytest.raises(CodecConfigError, match=r"must cover all 20 mel bands; missing \[10, 11\]"):
        codecs.load(MEL44, config=config, random_weights=True)


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with the LFR codec (tiny config, random weights) loads back through `load_dataset`, with
    CodecFake+'s taxonomy of the codec, and the card names its weights' licence."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", LFR), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.complete == ["genuine", LFR]
    ds = datasets.load_dataset(str(tmp_path / "out"), LFR, split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(LFR, "scalar", "none", "time")] == seen[("genuine", "bonafide", "bonafide", "bonafide")] > 0
    assert f"- nsclv1: `{LFR}`" in (tmp_path / "out" / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_official_size_builds_and_resynthesizes_with_random_weights(name, demo_dir):
    from codecfake_hf.audio import resample

    codec = codecs.load(name, random_weights=True)
    wave16k, _ = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    wave = resample(wave16k[:16_000], 16000, codec.sample_rate).astype(np.float32)
    out = resynthesize_one(codec, wave)
    assert out.shape == (codec.output_length(wave.shape[0]),) and np.isfinite(out).all()
    assert rel_l2(resynthesize_one(codecs.load(name, random_weights=True), wave), out) == 0.0


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _search(fsq, latent):
    # FSQ picks each dimension's nearest level of the squashed latent, i.e. the nearest point of the level grid.
    return rows(fsq.compress(latent).transpose(1, 2)), fsq.grid()


def _impose(fsq, args, result, codes):
    return fsq.decode(codes.to(torch.int64)).to(result[0].dtype), codes.to(result[1].dtype)


class NemoCodecTester(FamilyTester):
    family = "nemo_codec"
    architecture_key = ("audio_decoder", "base_channels")
    required_key = ("audio_decoder", "input_dim")
    quantiser = Quantiser(
        where=lambda: (layers.FiniteScalarQuantizer, "quantize"),
        stages=lambda codec: list(codec.model.vector_quantizer.fsqs),
        search=_search,
        # Every group quantises its own slice of the latent: each is a chain of one (a difference is never a near-tie).
        chains=lambda codec, n: [[row] for row in range(n)],
        chosen=lambda result: result[1],
        impose=_impose,
    )
    facts = {
        LFR: OfficialFacts(
            source="NeMo 2.1.0's HiFiGANEncoder + GroupFiniteScalarQuantizer + HiFiGANDecoder instantiated by hydra "
                   "from examples/tts/conf/audio_codec/audio_codec_low_frame_rate_22050.yaml "
                   "(tests/fixtures/make_nemo_codec_fixture.py; manifest 'official.counts'); the Hub model card says "
                   "112.7M parameters",
            parameters=112_697_522, tensors=418,
            shapes={"audio_encoder.pre_conv.conv.weight_v": (48, 1, 7),
                    "audio_encoder.down_sample_conv_layers.4.conv.weight_v": (1536, 768, 16),
                    "audio_encoder.post_conv.conv.weight_v": (32, 1536, 7),
                    "vector_quantizer.fsqs.7.num_levels": (1, 4, 1),
                    "audio_decoder.up_sample_conv_layers.0.conv.weight_g": (1024, 1, 1),
                    "audio_decoder.res_layers.4.res_blocks.2.res_blocks.2.skip_conv.conv.weight_v": (32, 32, 11)},
            config={"samples_per_frame": 1024, "audio_encoder.down_sample_rates": (2, 2, 4, 8, 8),
                    "vector_quantizer.num_levels_per_group": (8, 7, 6, 6), "audio_decoder.base_channels": 1024}),
        **{name: OfficialFacts(
            source=f"NeMo 2.1.0's MultiBandMelEncoder + GroupFiniteScalarQuantizer + HiFiGANDecoder instantiated by "
                   f"hydra from examples/tts/conf/audio_codec/mel_codec_{rate}.yaml "
                   "(tests/fixtures/make_nemo_codec_fixture.py; manifest 'official.counts'); the Hub model card of "
                   "the 44.1 kHz codec says 64.4M parameters",
            parameters=parameters, tensors=588,
            shapes={"audio_encoder.mel_processor.preprocessor.featurizer.fb": (1, 80, n_fft // 2 + 1),
                    "audio_encoder.mel_processor.preprocessor.featurizer.window": (n_fft,),
                    "audio_encoder.encoders.7.pre_conv.conv.weight_v": (128, 10, 3),
                    "audio_encoder.encoders.7.res_layers.5.input_conv.conv.weight_v": (256, 128, 3),
                    "audio_decoder.pre_conv.conv.weight_v": (1024, 32, 7),
                    "audio_decoder.up_sample_conv_layers.3.conv.weight_v": (128, 64, 4)},
            config={"samples_per_frame": n_fft // 4, "audio_encoder.mel_processor.mel_dim": 80,
                    "vector_quantizer.num_levels_per_group": (8, 5, 5, 5), "audio_decoder.up_sample_rates": ups})
           for name, rate, n_fft, parameters, ups in ((MEL22, 22050, 1024, 64_348_114, (8, 8, 2, 2)),
                                                      (MEL44, 44100, 2048, 64_521_170, (8, 8, 4, 2)))},
    }

    def chains(self):
        return 2  # the tiny fixtures' FSQ groups

    def hub_layout(self, name, fixture):
        filename = codecs.spec(name).hub_files[0]
        return {filename: nemo_archive(fixture)}, filename

    def with_unknown_key(self, name, config, key):
        return {**config, "audio_decoder": {**config["audio_decoder"], key: 11}}


TESTER = NemoCodecTester()

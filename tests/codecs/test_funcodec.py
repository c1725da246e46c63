"""FunCodec (6 configs): its quirks (RMS level, segments, FreqCodec lengths, batches, checkpoints, configs).

Fixture parity, the official keys, the offline Hub and the shared battery: tests/test_codec_contract.py.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2, resynthesize_float64, resynthesize_one
from helpers import plain, torch_save_bytes
from near_ties import Quantiser, check_codes, recording
from torch.nn import functional as F

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio
from codecfake_hf.codecs.funcodec import codec as funcodec
from codecfake_hf.codecs.funcodec import quantizer as funcodec_quantizer
from codecfake_hf.codecs.funcodec.config import FunCodecConfig
from codecfake_hf.errors import CheckpointError, CodecConfigError

FREQ = ["funcodec-funcodec_en_libritts-16k-gr1nq32ds320", "funcodec-funcodec_en_libritts-16k-gr8nq32ds320"]
TIME = [
    "funcodec-funcodec_en_libritts-16k-nq32ds320",
    "funcodec-funcodec_en_libritts-16k-nq32ds640",
    "funcodec-funcodec_zh_en_general_16k_nq32ds320",
    "funcodec-funcodec_zh_en_general_16k_nq32ds640",
]
NAMES = FREQ + TIME
UTTERANCES = ["p225_273", "p295_144", "p318_114"]
# Batched against alone (rel. L2), the fixtures' parity bound (the parity itself: tests/test_codec_contract.py).
PARITY = 1e-4

parametrize_names = pytest.mark.parametrize("name", NAMES)


@pytest.fixture(scope="module")
def tiny(tiny_codec):
    """`tiny(name)` -> the codec built from the fixture's tiny config and weights."""
    return tiny_codec


# --- official configs -------------------------------------------------------------------------------------

@parametrize_names
def test_official_config_and_its_training_only_keys(name, codec_fixture):
    """The official config as the manifest gives it; the keys build() drops are the manifest's training-only
    ones (the inference keys and shapes themselves: tests/test_codec_contract.py)."""
    fixture = codec_fixture(name)
    assert funcodec.default_config(codecs.spec(name)) == fixture.manifest["config"]["values"]
    inference = {key for key in fixture.official_shapes() if not key.startswith(funcodec.TRAINING_ONLY_PREFIXES)}
    assert len(inference) == fixture.manifest["state_dict_notes"]["n_inference_keys"]


@parametrize_names
def test_config_sections_are_upstreams_arguments_with_its_resolved_values(name, codec_fixture):
    """Each section's dataclass holds upstream's constructor arguments (the manifest's resolved ones) with their
    values, the defaults of omitted keys included; every other upstream argument is a known training key. A
    `*_params` None stands for upstream's own default there (ELU's alpha 1, no norm arguments)."""
    resolved = codec_fixture(name).manifest["config"]["resolved_constructor_args"]
    config = FunCodecConfig.from_config(funcodec.default_config(codecs.spec(name)))
    sections = {"encoder": config.encoder_conf, "decoder": config.decoder_conf,
                "quantizer": config.quantizer_conf, "model": config.model_conf}
    for section, conf in sections.items():
        values, upstream = plain(conf), resolved[section]
        assert set(values) <= set(upstream), section
        assert set(upstream) - {"input_size"} <= set(values) | set(getattr(conf, "TRAINING_KEYS", ())), section
        for key, value in values.items():
            if not (value is None and key.endswith("_params")):
                assert value == upstream[key], (section, key)


@pytest.mark.parametrize("name", [FREQ[0], TIME[1]])
def test_random_weights_build_the_official_size(name):
    codec = codecs.load(name, random_weights=True)
    assert codec.random_weights and isinstance(codec, funcodec.FunCodec)
    assert bool((codec.model.quantizer.codebooks.inited == 1).all())
    out, lengths = codec.resynthesize(np.sin(np.arange(4000, dtype=np.float32) / 9)[None] * 0.1, [4000])
    assert lengths.tolist() == [codec.output_length(4000)] and torch.isfinite(out).all()


@parametrize_names
def test_output_follows_the_input_level(name, codec_fixture, tiny):
    """audio_normalize: the model sees the input over its RMS, and the output is scaled back by it.

    On the noise case: the `1e-8 +` of upstream's scale moves the model's input by a few ulps, enough to
    flip a near-tied codeword (tests/near_ties.py).
    """
    wave = codec_fixture(name).npy("input.npy")
    codec = tiny(name)
    assert rel_l2(resynthesize_one(codec, wave * 0.25), resynthesize_one(codec, wave) * 0.25) <= 1e-5


# --- lengths and batches ----------------------------------------------------------------------------------

@parametrize_names
def test_length_rule_matches_the_release_on_real_clips(name, demo_dir, tiny, release_lengths):
    """Time domain: the input length; FreqCodec: the iSTFT's, e.g. 69002 -> 68960 (release files)."""
    codec = tiny(name)
    waves = []
    for utt in UTTERANCES:
        wave, rate = read_audio(demo_dir / f"genuine+{utt}.wav")
        assert rate == codec.sample_rate == 16000
        waves.append(wave)
    batch, lengths = pad_batch(waves)
    out, out_lengths = codec.resynthesize(batch, lengths)
    release = [release_lengths[f"{name}+{utt}.wav"] for utt in UTTERANCES]
    assert all(info.samplerate == 16000 for info in release)
    assert out_lengths.tolist() == [info.frames for info in release]
    assert [codec.output_length(n) for n in lengths] == [info.frames for info in release]
    assert out.shape[1] == max(info.frames for info in release)
    if name in FREQ:
        assert out_lengths.tolist() == [102472, 68960, 44320]
    else:
        assert out_lengths.tolist() == lengths


@pytest.mark.parametrize("name", FREQ)
def test_freqcodec_length_rule_on_the_fixture_probe(name, codec_fixture, tiny):
    """The manifest's length probe of the upstream code: STFT frames rounded to code frames, iSTFT, cut."""
    codec = tiny(name)
    probe = codec_fixture(name).manifest["tiny"]["checks"]["length_probe"]
    wave = codec_fixture(name).npy("speech_input.npy")
    for length, expected in probe.items():
        n = int(length)
        assert codec.output_length(n) == expected["recon_len"]
        assert codec.model.code_frames(n) == expected["code_frames"]
    assert resynthesize_one(codec, wave[:16319]).shape == (16160,)


@parametrize_names
def test_codes_of_a_padded_batch_are_each_items_codes_alone(name, codec_fixture, tiny):
    """GroupNorm and the RMS take whole-utterance statistics: a batch must not mix items or padding.

    The time-domain configs run the batch as one (per-item statistics and edges in codecs/nn/seanet.py); FreqCodec
    runs its items one by one. (The outputs, batched against alone: tests/test_codec_contract.py.)
    """
    codec = tiny(name)
    assert codec.batch_exact
    wave = codec_fixture(name).npy("speech_input.npy")
    batch, lengths = pad_batch([wave, wave[:30001], wave[:16161], wave[5000:5700]])
    batch_codes = codec.encode(torch.from_numpy(batch), lengths)
    for i, n in enumerate(lengths):
        (alone_codes,) = codec.encode(torch.from_numpy(batch[i: i + 1, :n]), [n])
        assert torch.equal(batch_codes[i], alone_codes)


@pytest.mark.parametrize("name", [TIME[0], FREQ[1]])
def test_batch_of_real_clips_matches_each_clip_alone(name, demo_dir, tiny):
    """A time-domain batch is one call, which may resolve a near-tied codeword otherwise than the item alone
    (tests/near_ties.py): then the item alone, under the batch's codes, must give the batch's output."""
    codec = tiny(name)
    waves = [read_audio(demo_dir / f"genuine+{utt}.wav")[0] for utt in UTTERANCES]
    batch, lengths = pad_batch(waves)
    with recording(codec) as batched:
        out, out_lengths = codec.resynthesize(batch, lengths)
    assert codec.model.length_aware == (name in TIME)
    for i, wave in enumerate(waves):
        with recording(codec) as own:
            alone = resynthesize_one(codec, wave)
        if name in TIME:
            batch_codes = batched.codes(i, own.codes().shape[1])
            if check_codes(batch_codes, own.codes(), batched, item=i):
                with recording(codec, force=batch_codes):
                    alone = resynthesize_one(codec, wave)
        assert rel_l2(out[i, : int(out_lengths[i])], alone) <= PARITY


@pytest.mark.parametrize("name", [TIME[1], FREQ[0]])
def test_segmented_configs_overlap_add_whole_segments(name, codec_fixture):
    """`segment_dur` (upstream's default when model_conf omits it): segments encoded alone, overlap-added."""
    fixture = codec_fixture(name)
    config = {**fixture.tiny_config, "model_conf": {**fixture.tiny_config["model_conf"],
                                                    "segment_dur": 1.0, "overlap_ratio": 0.01}}
    whole = codecs.load(name, config=fixture.tiny_config, state_dict=fixture.weights())
    segmented = codecs.load(name, config=config, state_dict=fixture.weights())
    assert not segmented.model.length_aware
    wave = fixture.npy("speech_input.npy")  # 3 s: segments at 0, 15840, 31680 (stride 0.99 s), 47520
    out = resynthesize_one(segmented, wave)
    assert out.shape == (segmented.output_length(wave.shape[0]),)
    # Up to the second segment's start only the first one contributes: it is the first second alone.
    first = resynthesize_one(whole, wave[:16000])
    assert rel_l2(out[:15840], first[:15840]) <= 1e-6
    (codes,) = segmented.encode(torch.from_numpy(wave[None]), [wave.shape[0]])
    assert codes.shape[1] == sum(whole.model.code_frames(min(16000, 48000 - o)) for o in (0, 15840, 31680, 47520))
    one = resynthesize_one(segmented, wave[:15000])  # a single segment is the whole-utterance model
    assert rel_l2(one, resynthesize_one(whole, wave[:15000])) <= 1e-6


# --- configs and checkpoints ------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"model": "soundstream"}, "model 'soundstream' is not supported"),
    ({"encoder_conf": {"seq_model": "transformer"}}, "seq_model"),
    ({"quantizer_conf": {"codebook_size": 8, "num_quantizers": 2, "commit_weight": 1}}, "commit_weight"),
    ({"model_conf": {"codec_domain": "stft"}}, "codec_domain 'stft'"),
    ({"decoder_conf": {"upsample_kernel": 3}}, r"`decoder_conf`: unknown option\(s\) 'upsample_kernel'; known: .*trim"),
    ({"sampling_rate": 16000, "encoder_conf": {"ratios": [8, 5, 4, 4]}}, "640-sample hop"),
])
def test_unsupported_or_mismatched_config_is_refused(change, message):
    config = funcodec.default_config(codecs.spec(TIME[0]))
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    with pytest.raises(CodecConfigError, match=message):
        codecs.load(TIME[0], config=config, random_weights=True)


def test_weight_normalised_2d_convs_use_the_legacy_keys(codec_fixture):
    """FreqCodec's `norm: weight_norm` (upstream's other 2-D norm): `weight_g`/`weight_v`, w = g v / |v|."""
    config = codec_fixture(FREQ[1]).tiny_config

    def with_norm(norm: str) -> dict:
        return {**config, **{side: {**config[side], "norm": norm} for side in ("encoder_conf", "decoder_conf")}}

    torch.manual_seed(0)
    plain, normed = funcodec.build_model(with_norm("none")).eval(), funcodec.build_model(with_norm("weight_norm"))
    state = {}
    for key, value in plain.state_dict().items():
        if key.endswith(("conv.conv.weight", "convtr.convtr.weight")):
            norm = torch.linalg.vector_norm(value, dim=tuple(range(1, value.dim())), keepdim=True)
            state[key.removesuffix("weight") + "weight_v"], state[key.removesuffix("weight") + "weight_g"] = value, norm
        else:
            state[key] = value
    assert not any(".norm." in key for key in normed.state_dict())
    normed.eval().load_state_dict(state, strict=True)  # every conv weight_g/weight_v, the rest as plain
    wave = torch.from_numpy(codec_fixture(FREQ[1]).npy("input.npy"))[None, None]
    with torch.inference_mode():
        assert rel_l2(normed(wave)[0], plain(wave)[0]) <= 1e-5


def test_uninitialised_codebooks_are_marked_initialised(codec_fixture, caplog):
    """Upstream would run k-means on the input at inference for a codebook whose `inited` is 0."""
    fixture = codec_fixture(TIME[0])
    weights = fixture.weights()
    weights["quantizer.rq.model.inited"] = torch.zeros_like(weights["quantizer.rq.model.inited"])
    with caplog.at_level(logging.WARNING, logger="codecfake_hf.codecs.funcodec.quantizer"):
        codec = codecs.load(TIME[0], config=fixture.tiny_config, state_dict=weights)
    assert bool((codec.model.quantizer.codebooks.inited == 1).all())
    assert "not initialised" in caplog.text


def _defective(defect: str, fixture) -> tuple[dict[str, bytes | str], str, str]:
    """(Hub files, the file the error must name, a phrase of the error) for each kind of bad download."""
    good = hub_files(fixture)
    weights = fixture.weights()
    if defect == "not_a_dict":
        return hub_files(fixture, checkpoint=list(weights.values())), "model.pth", "not a dict of tensors"
    if defect == "missing_key":
        del weights["decoder.model.0.conv.conv.bias"]
        return (hub_files(fixture, checkpoint=weights), "model.pth",
                "missing keys: decoder.model.0.conv.conv.bias")
    if defect == "unknown_key":
        weights["generator.extra"] = torch.zeros(1)
        return hub_files(fixture, checkpoint=weights), "model.pth", "unexpected keys: generator.extra"
    if defect == "other_width":  # tiny weights under the official config
        config = funcodec.default_config(codecs.spec(fixture.manifest["name"]))
        return hub_files(fixture, config=config), "model.pth", "wrong shapes"
    if defect == "bad_yaml":
        return {**good, "config.yaml": "encoder: [unclosed"}, "config.yaml", "could not be read as YAML"
    if defect == "not_a_model_config":
        return {**good, "config.yaml": "batch_size: 8\n"}, "config.yaml", "not a FunCodec model config"
    raise AssertionError(defect)


# What FunCodec's trainer writes beside the model part of a recipe (the Hub's config.yaml is its dump of every
# argument: 3.9 kB against the recipe's model part), a sample of the kinds of keys it holds.
TRAINER_DUMP = {"config": "conf/encodec_16k_n32_600k_step.yaml", "output_dir": "exp/encodec", "ngpu": 4, "seed": 0,
                "num_workers": 8, "batch_type": "length", "batch_bins": 76800, "max_epoch": 60, "optim": "adam",
                "optim_conf": {"lr": 3.0e-4, "betas": [0.5, 0.9]}, "scheduler": "warmuplr",
                "use_preprocessor": True, "speech_max_length": 40960, "train_data_path_and_name_and_type":
                [["dump/train/wav.scp", "speech", "kaldi_ark"]], "token_list": None}


@pytest.mark.parametrize("name", [TIME[0], FREQ[1]])
def test_a_trainer_dump_config_yaml_loads_as_its_model_part(name, codec_fixture, fake_hub, caplog):
    """The top level of a checkpoint's config.yaml holds the training run's arguments, which upstream ignores."""
    fixture = codec_fixture(name)
    fake_hub.add(codecs.spec(name).hub_repo,
                 hub_files(fixture, config={**fixture.tiny_config, **TRAINER_DUMP}))
    with caplog.at_level(logging.DEBUG, logger="codecfake_hf.codecs.funcodec.config"):
        codec = codecs.load(name)
    assert "ignoring the training options batch_bins, batch_type, config" in caplog.text
    reference = codecs.load(name, config=fixture.tiny_config, state_dict=fixture.weights())
    wave = fixture.npy("input.npy")
    np.testing.assert_array_equal(resynthesize_one(codec, wave), resynthesize_one(reference, wave))


# A truncated model.pth: tests/test_codec_contract.py, for every config.
DEFECTS = ["not_a_dict", "missing_key", "unknown_key", "other_width", "bad_yaml",
           "not_a_model_config"]


@pytest.mark.parametrize("name, defect", [(name, defect) for name in (TIME[0], FREQ[1]) for defect in DEFECTS])
def test_bad_download_names_the_file(name, defect, codec_fixture, fake_hub):
    fixture = codec_fixture(name)
    files, named, message = _defective(defect, fixture)
    fake_hub.add(codecs.spec(name).hub_repo, files)
    with pytest.raises(CheckpointError, match=message) as error:
        codecs.load(name)
    assert named in str(error.value)


# --- official size, real clips (slow) ---------------------------------------------------------------------

@pytest.mark.slow
@parametrize_names
def test_official_size_length_rule_and_batch_on_real_clips(name, demo_dir):
    """Random weights at the official widths: the release's lengths, and a batch equal to each clip alone.

    The batch is compared in float64: in float32 this CPU's batch-size-dependent rounding (AVX2 AMD EPYC) moved one
    of 32 random-weight RVQ stages of p225_273 across a near tie (rel. L2 1e-2 from one code; 2e-6 for the other
    clips); in float64 the three agree to 3e-15, so only the masking can make a difference."""
    torch.manual_seed(0)
    codec = codecs.load(name, random_weights=True)
    waves = [read_audio(demo_dir / f"genuine+{utt}.wav")[0] for utt in UTTERANCES]
    batch, lengths = pad_batch(waves)
    _, out_lengths = codec.resynthesize(batch, lengths)
    assert out_lengths.tolist() == [sf.info(demo_dir / f"{name}+{utt}.wav").frames for utt in UTTERANCES]
    codec.model.double()
    out = resynthesize_float64(codec, waves)
    for i, wave in enumerate(waves):
        alone = resynthesize_float64(codec, [wave])[0]
        assert alone.shape[0] == int(out_lengths[i])
        assert rel_l2(out[i, : alone.shape[0]], alone) <= 1e-9


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.yaml and model.pth as FunCodec's Hub repositories hold them (the tiny model by default)."""
    return {"config.yaml": yaml.safe_dump(config if config is not None else fixture.tiny_config),
            "model.pth": torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}


def _impose(codebooks, args, result, codes):
    stage, _ = args
    return codes, F.embedding(codes, codebooks.embed[stage]).transpose(1, 2)


def _facts(name: str, parameters: int, tensors: int, lstm: tuple[int, int]) -> OfficialFacts:
    return OfficialFacts(
        source=f"../shared/codec-fixtures/{name}/manifest.json: the state dict of FunCodec's recipe config for "
               "this checkpoint (its key set; the manifest notes that the Hub model.pth's shapes were not read), "
               "inference keys only (the discriminator and mel-loss tensors are training-only)",
        parameters=parameters, tensors=tensors,
        shapes={"quantizer.rq.model.embed": (32, 1024, 128), "decoder.model.1.lstm.weight_ih_l0": lstm})


class FunCodecTester(FamilyTester):
    family = "funcodec"
    # `encoder_conf` keys take upstream's defaults when omitted, so the required key is the top-level `input_size`.
    architecture_key = ("encoder_conf", "n_filters")
    required_key = ("input_size",)
    # gr1's near-depthwise grouped convs round differently from upstream's calls: 1.1e-5 reached
    quantiser = Quantiser(
        where=lambda: (funcodec_quantizer.ResidualCodebooks, "_nearest"),
        stages=lambda codec: [codec.model.quantizer.codebooks],
        search=lambda codebooks, stage, residual: (residual.transpose(1, 2), codebooks.embed[stage]),
        chosen=lambda result: result[0],
        impose=_impose,
        row=lambda codebooks, stage, residual: stage,
    )
    facts = {
        FREQ[0]: _facts(FREQ[0], 24_645_065, 166, (2048, 512)),
        FREQ[1]: _facts(FREQ[1], 24_645_065, 166, (2048, 512)),
        TIME[0]: _facts(TIME[0], 23_277_251, 164, (2048, 512)),
        TIME[1]: _facts(TIME[1], 65_971_395, 196, (4096, 1024)),
        TIME[2]: _facts(TIME[2], 23_277_251, 164, (2048, 512)),
        TIME[3]: _facts(TIME[3], 65_971_395, 196, (4096, 1024)),
    }

    def hub_layout(self, name, fixture):
        return hub_files(fixture), "model.pth"

    def with_unknown_key(self, name, config, key):
        # The top level of its config.yaml is the trainer's dump: only the model's sections are checked.
        config = copy.deepcopy(config)
        config["model_conf"] = {**(config.get("model_conf") or {}), key: 11}
        return config

    def official_key_shapes(self, name, fixture):
        return {key: shape for key, shape in fixture.official_shapes().items()
                if not key.startswith(funcodec.TRAINING_ONLY_PREFIXES)}


TESTER = FunCodecTester()

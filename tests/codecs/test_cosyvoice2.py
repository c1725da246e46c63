"""CosyVoice 2 resynthesis (FunAudioLLM/CosyVoice2-0.5B): parity of the four networks with the upstream code, the
front ends' features, the length rule, the seeded noise, the official architecture.

The family is NOT registered yet (codecfake_hf/codecs/cosyvoice2/__init__.py says why: the release's ONNX files are
not read), so the registry-wide contract does not run on it; these tests build it through the family's own `build`.
The fixture (tests/fixtures/codecs/cosyvoice2/) is upstream's: tests/fixtures/make_cosyvoice2_fixture.py ran
FunAudioLLM/CosyVoice's `CosyVoice2Model.token2wav`, s3tokenizer's `S3TokenizerV2`, 3D-Speaker's `CAMPPlus` and
torchaudio's `kaldi.fbank` on a tiny config.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import rel_l2, resynthesize_one
from safetensors.torch import load_file

from codecfake_hf.audio import read_audio
from codecfake_hf.codecs import cosyvoice2
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.cosyvoice2 import campplus, tokenizer
from codecfake_hf.codecs.cosyvoice2.config import OFFICIAL
from codecfake_hf.errors import CheckpointError, CodecConfigError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / "cosyvoice2"
TINY = FIXTURE / "tiny"
MANIFEST = json.loads((FIXTURE / "manifest.json").read_text())
NOISE_SEED = MANIFEST["upstream"]["noise_seed"]
PARITY = 1e-4


def npy(name: str) -> np.ndarray:
    return np.load(TINY / name)


def tiny(noise_seed: int | None = NOISE_SEED, state_dict=None, **overrides):
    config = {**MANIFEST["tiny"]["config"], **overrides}
    weights = load_file(str(TINY / "weights.safetensors")) if state_dict is None else state_dict
    return cosyvoice2.build(cosyvoice2.SPEC, config, weights, runtime=Runtime(), noise_seed=noise_seed)


@pytest.fixture(scope="module")
def codec():
    return tiny()


@pytest.mark.parametrize("case", ["", "speech_"])
def test_resynthesis_reproduces_upstreams_token2wav(codec, case):
    """Tokens (exactly), then the output of upstream's tokenizer -> CAM++ -> token2wav chain, within 1e-4."""
    wave = npy(f"{case}input.npy")
    tokens, _ = codec.encode(torch.from_numpy(wave))
    np.testing.assert_array_equal(tokens.numpy(), npy(f"{case}codes.npy"))
    output = resynthesize_one(codec, wave)
    expected = npy(f"{case}output.npy")
    assert output.shape == expected.shape == (codec.output_length(wave.shape[0]),)
    assert rel_l2(output, expected) <= PARITY


def test_front_end_features_are_whispers_and_kaldis():
    """The tokenizer's 128-bin log-mel is Whisper's (s3tokenizer's copy of `whisper.log_mel_spectrogram`), CAM++'s
    filterbanks torchaudio's `kaldi.fbank(num_mel_bins=80, dither=0)`, both recorded by the upstream run."""
    wave = torch.from_numpy(npy("speech_input.npy"))
    np.testing.assert_allclose(tokenizer.log_mel_spectrogram(wave).numpy(), npy("speech_log_mel.npy"),
                               rtol=0, atol=1e-5)
    fbank = campplus.fbank(wave)
    assert tuple(fbank.shape) == npy("speech_fbank.npy").shape == (1 + (16000 - 400) // 160, 80)
    np.testing.assert_allclose(fbank.numpy(), npy("speech_fbank.npy"), rtol=0, atol=1e-4)


def test_tokenizer_encoder_is_upstreams_before_rounding(codec):
    """The FSQ input, not only the codes it rounds to: a small error in the encoder rarely flips a code."""
    mel = tokenizer.log_mel_spectrogram(torch.from_numpy(npy("speech_input.npy")))
    with torch.inference_mode():
        hidden = codec.model.speech_tokenizer.encoder(mel[None])
    assert rel_l2(hidden.numpy(), npy("speech_tokenizer_hidden.npy")) <= 1e-5


def test_speaker_embedding_is_upstreams_campplus(codec):
    embedding = codec.encode(torch.from_numpy(npy("speech_input.npy")))[1]
    assert rel_l2(embedding.numpy(), npy("speech_embedding.npy")) <= 1e-5


def test_length_rule_on_the_real_clips(demo_dir):
    """ceil((T // 160) / 4) tokens of 960 samples at 24 kHz, on whole clips and on cuts around a token's edge."""
    codec = cosyvoice2.build(cosyvoice2.SPEC, MANIFEST["tiny"]["config"], None, runtime=Runtime(seed=1))
    assert (codec.sample_rate, codec.output_rate) == (16000, 24000)
    wave, rate = read_audio(sorted(demo_dir.glob("genuine+*.wav"))[0])
    assert rate == 16000
    for n in (wave.shape[0], 640 * 5, 640 * 5 + 159, 640 * 5 + 160, 720):
        tokens, _ = codec.encode(torch.from_numpy(wave[:n]))
        assert tokens.shape[1] == -(-(n // 160) // 4)
        assert resynthesize_one(codec, wave[:n]).shape[0] == codec.output_length(n) == tokens.shape[1] * 960, n


def test_noise_follows_the_seed_and_restarts_for_each_utterance(codec):
    first, second = npy("speech_input.npy"), npy("input.npy")
    alone = resynthesize_one(codec, first)
    resynthesize_one(codec, second)  # another utterance between: the noise restarts for each
    np.testing.assert_array_equal(resynthesize_one(codec, first), alone)
    other = tiny(noise_seed=NOISE_SEED + 1)
    assert rel_l2(resynthesize_one(other, first), alone) > 1e-2


def test_default_noise_seed_is_the_builds_seed_else_the_names_and_zero_is_the_releases():
    from codecfake_hf.codecs.registry import weight_seed

    config = MANIFEST["tiny"]["config"]
    random = cosyvoice2.build(cosyvoice2.SPEC, config, None, runtime=Runtime(seed=7))
    assert random.noise_seed == 7
    loaded = tiny(noise_seed=None)
    assert loaded.noise_seed == weight_seed("cosyvoice2")
    # the release: CausalConditionalCFM.__init__ runs set_all_random_seed(0), then torch.randn([1, 80, 50 * 300])
    release = tiny(noise_seed=0)  # built first: building draws initial weights from the global generator
    torch.manual_seed(0)
    np.testing.assert_array_equal(release.flow_noise.numpy(), torch.randn([1, 80, 50 * 300]).numpy())


def test_the_hift_noise_is_drawn_as_upstreams_randn_like_of_transposed_sines():
    """torch fills a non-contiguous tensor with another kernel than a contiguous one: upstream's
    `randn_like(sine_waves)` (a [B, 9, L] tensor transposed) draws other numbers than `randn(B, L, 9)`."""
    torch.manual_seed(3)
    upstream = torch.randn_like(torch.zeros(1, 9, 40).transpose(1, 2))
    ours = torch.empty(1, 9, 40).transpose(1, 2).normal_(generator=torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(ours.numpy(), upstream.numpy())
    assert not np.array_equal(torch.randn(1, 40, 9, generator=torch.Generator().manual_seed(3)).numpy(),
                              upstream.numpy())


def test_official_architecture_has_upstreams_keys_and_shapes():
    """The official config built on the meta device has the key -> shape map of upstream's networks built with the
    same config (the fixture manifest: s3tokenizer's S3TokenizerV2, 3D-Speaker's CAMPPlus, CosyVoice's flow and
    HiFT), and a few of the release's sizes (6561 tokens of 512, FSQ from 1280 to 8, a 192-dim embedding)."""
    with torch.device("meta"):
        codec = cosyvoice2.build(cosyvoice2.SPEC, cosyvoice2.default_config(cosyvoice2.SPEC), None,
                                 runtime=Runtime(device="meta", seed=0))
    shapes = {key: list(value.shape) for key, value in codec.model.state_dict().items()}
    assert shapes == MANIFEST["state_dict"]
    assert shapes["flow.input_embedding.weight"] == [6561, 512]
    assert shapes["speech_tokenizer.quantizer._codebook.project_down.weight"] == [8, 1280]
    assert shapes["campplus.xvector.dense.linear.weight"] == [192, 1024, 1]


def test_legacy_weight_norm_names_load():
    """A hift.pt saved with torch's old weight norm (`weight_g`, `weight_v`) loads as the parametrization."""
    state = load_file(str(TINY / "weights.safetensors"))
    legacy = {key.replace(".parametrizations.weight.original0", ".weight_g")
                 .replace(".parametrizations.weight.original1", ".weight_v"): value for key, value in state.items()}
    assert any(key.endswith(".weight_g") for key in legacy)
    wave = npy("input.npy")
    np.testing.assert_array_equal(resynthesize_one(tiny(state_dict=legacy), wave), resynthesize_one(tiny(), wave))


def test_bad_inputs_and_configs_are_one_clear_error():
    with pytest.raises(CodecConfigError, match="speech_tokenizer.n_audio_state must be 64 × n_audio_head"):
        tiny(speech_tokenizer={**MANIFEST["tiny"]["config"]["speech_tokenizer"], "n_audio_head": 2})
    with pytest.raises(CodecConfigError, match="lacks `hift`"):
        cosyvoice2.build(cosyvoice2.SPEC, {k: v for k, v in OFFICIAL.items() if k != "hift"}, None,
                         runtime=Runtime(seed=0))
    with pytest.raises(CodecConfigError, match="`noise_seed` must be an integer"):
        tiny(noise_seed="seven")
    state = load_file(str(TINY / "weights.safetensors"))
    state.pop("hift.conv_pre.bias")
    with pytest.raises(CheckpointError, match="hift.conv_pre.bias"):
        tiny(state_dict=state)
    codec = tiny()
    with pytest.raises(ValueError, match="longer than the 30 s"):
        codec.encode(torch.zeros(16000 * 30 + 1))
    with pytest.raises(CheckpointError, match="ONNX"):
        cosyvoice2.download(cosyvoice2.SPEC)


def test_the_family_is_not_registered_until_its_onnx_files_load():
    from codecfake_hf import codecs

    assert "cosyvoice2" not in codecs.names()
    assert not (Path(cosyvoice2.__file__).parent / "specs.py").exists()
    spec = cosyvoice2.SPEC
    assert spec.bitrate_kbps == pytest.approx(0.317, abs=1e-3) and spec.frame_rate == 25

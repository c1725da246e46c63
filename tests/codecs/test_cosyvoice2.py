"""CosyVoice 2 resynthesis (FunAudioLLM/CosyVoice2-0.5B): the release's ONNX files read (the tokenizer converted by
s3tokenizer's rule, CAM++ run by onnxruntime), the front ends' features, the length rule, the seeded noise, the
official architecture, bad files; and the family's tester for the registry-wide contract (parity, facts, offline Hub
loading, truncated checkpoint: tests/test_codec_contract.py).

The fixture (tests/fixtures/codecs/cosyvoice2/) is upstream's: tests/fixtures/make_cosyvoice2_fixture.py exported
the tiny upstream tokenizer (s3tokenizer's `S3TokenizerV2`, in the release graph's naming, checked by s3tokenizer's
own `init_from_onnx`) and CAM++ (3D-Speaker's `CAMPPlus`, by 3D-Speaker's ONNX export) to ONNX, ran CosyVoice's front
end (`_extract_speech_token`, `_extract_spk_embedding`: onnxruntime on those files) and `CosyVoice2Model.token2wav`.
Its `weights.safetensors` holds flow.pt's and hift.pt's tensors (float16) and the two ONNX files' bytes (uint8, under
their file names), which the Hub layout below writes back as the release's four files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser, rows
from safetensors.torch import load_file

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio
from codecfake_hf.codecs import cosyvoice2
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.cosyvoice2 import campplus, onnx_files, tokenizer
from codecfake_hf.codecs.cosyvoice2 import codec as cosyvoice2_codec
from codecfake_hf.codecs.cosyvoice2.config import OFFICIAL, CosyVoice2Config
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "cosyvoice2"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "codecs" / NAME
TINY = FIXTURE / "tiny"
MANIFEST = json.loads((FIXTURE / "manifest.json").read_text())
NOISE_SEED = MANIFEST["upstream"]["noise_seed"]
TOKENIZER_FILE, CAMPPLUS_FILE = onnx_files.TOKENIZER_FILE, onnx_files.CAMPPLUS_FILE


def npy(name: str) -> np.ndarray:
    return np.load(TINY / name)


def fixture_weights() -> dict[str, torch.Tensor]:
    return load_file(str(TINY / "weights.safetensors"))


def tiny(noise_seed: int | None = NOISE_SEED, state_dict=None, **overrides):
    config = {**MANIFEST["tiny"]["config"], **overrides}
    weights = fixture_weights() if state_dict is None else state_dict
    return cosyvoice2.build(codecs.spec(NAME), config, weights, runtime=Runtime(), noise_seed=noise_seed)


def onnx_bytes(name: str) -> bytes:
    return fixture_weights()[name].numpy().tobytes()


def release_files(weights: dict[str, torch.Tensor] | None = None) -> dict[str, bytes]:
    """The release's four files holding the fixture's tiny model: the two ONNX graphs as exported upstream, flow.pt
    and hift.pt as `torch.save`d state dicts (hift.pt's keys with the `generator.` prefix CosyVoice2Model.load
    drops)."""
    weights = fixture_weights() if weights is None else weights
    part = {prefix: {key.removeprefix(f"{prefix}."): value.float() if value.is_floating_point() else value
                     for key, value in weights.items() if key.startswith(f"{prefix}.")} for prefix in ("flow", "hift")}
    return {TOKENIZER_FILE: weights[TOKENIZER_FILE].numpy().tobytes(),
            CAMPPLUS_FILE: weights[CAMPPLUS_FILE].numpy().tobytes(),
            "flow.pt": torch_save_bytes(part["flow"]),
            "hift.pt": torch_save_bytes({f"generator.{key}": value for key, value in part["hift"].items()})}


def load_from_hub(fake_hub, monkeypatch, files: dict[str, bytes]):
    fake_hub.add(codecs.spec(NAME).hub_repo, files)
    TESTER.official_config_is_tiny(monkeypatch, NAME, None)
    return codecs.load(NAME, noise_seed=NOISE_SEED)


@pytest.fixture(scope="module")
def codec():
    return tiny()


# -- the ONNX files -------------------------------------------------------------------------------------------------


def test_tokenizer_graph_converts_by_s3tokenizers_rule_into_the_upstream_encoder(codec):
    """The fixture's speech_tokenizer_v2.onnx (the upstream tokenizer exported in the release's naming; s3tokenizer's
    init_from_onnx read it strictly) converts into exactly the port's keys, its MatMul weights transposed, and the
    converted encoder gives upstream's output before rounding."""
    import onnx

    graph = onnx.load_model_from_string(onnx_bytes(TOKENIZER_FILE))
    state = onnx_files.tokenizer_state(graph, prefix="")
    expected = codec.model.speech_tokenizer.state_dict()
    assert state.keys() == expected.keys()
    initializers = {init.name: onnx.numpy_helper.to_array(init) for init in graph.graph.initializer}
    # the release's names (s3tokenizer's v2_25hz list), and a [in, out] MatMul weight read as nn.Linear's [out, in]
    np.testing.assert_array_equal(state["encoder.conv1.weight"].numpy(), initializers["onnx::Conv_2216"])
    np.testing.assert_array_equal(state["quantizer._codebook.project_down.weight"].numpy(),
                                  initializers["onnx::MatMul_2536"].T)
    mlp = next(node for node in graph.graph.node if node.name == "/blocks.0/mlp/mlp.0/MatMul")
    assert initializers[mlp.input[1]].shape == (64, 256) and tuple(state["encoder.blocks.0.mlp.0.weight"].shape) == (
        256, 64)
    mel = tokenizer.log_mel_spectrogram(torch.from_numpy(npy("speech_input.npy")))
    with torch.inference_mode():
        hidden = codec.model.speech_tokenizer.encoder(mel[None])
    assert rel_l2(hidden.numpy(), npy("speech_tokenizer_hidden.npy")) <= 1e-5


def test_campplus_graph_runs_as_cosyvoices_front_end_runs_it(codec):
    """The speaker embedding is the front end's (`_extract_spk_embedding`: onnxruntime on campplus.onnx), and the
    state dict carries the graph's bytes."""
    assert isinstance(codec.model.campplus, campplus.OnnxCAMPPlus)
    assert codec.model.state_dict()["campplus.onnx"].numpy().tobytes() == onnx_bytes(CAMPPLUS_FILE)
    embedding = codec.encode(torch.from_numpy(npy("speech_input.npy")))[1]
    assert embedding.shape == (1, 16)
    assert rel_l2(embedding.numpy(), npy("speech_embedding.npy")) <= 1e-5


def test_campplus_graph_survives_a_copy(codec):
    """An onnxruntime session does not pickle: a copied (or pickled) module reopens it from its buffer."""
    wave = torch.from_numpy(npy("speech_input.npy"))
    copied = copy.deepcopy(codec.model.campplus)
    np.testing.assert_array_equal(copied(wave).numpy(), codec.model.campplus(wave).numpy())


def test_torch_campplus_port_is_3d_speakers_campplus():
    """The torch port (random weights) with the weights campplus.onnx was exported from gives 3D-Speaker's torch
    CAMPPlus's embedding, and the graph's within export rounding."""
    config = CosyVoice2Config.from_config(MANIFEST["tiny"]["config"]).campplus
    port = campplus.CAMPPlus(config.feat_dim, config.embedding_size, config.growth_rate, config.bn_size,
                             config.init_channels, config.m_channels, config.block_layers).eval()
    flat, state, start = torch.from_numpy(npy("campplus_torch.npy")).float(), port.state_dict(), 0
    for value in state.values():  # upstream's state dict order, which the port shares (the key-map test)
        if value.is_floating_point():
            value.copy_(flat[start: start + value.numel()].reshape(value.shape))
            start += value.numel()
    assert start == flat.numel()
    with torch.inference_mode():
        embedding = port(torch.from_numpy(npy("speech_input.npy"))).numpy()
    assert rel_l2(embedding, npy("speech_embedding_torch.npy")) <= 1e-5
    assert rel_l2(embedding, npy("speech_embedding.npy")) <= 1e-4


def test_release_files_load_offline_with_hift_saved_as_a_generator(fake_hub, monkeypatch, codec):
    """The four files in the Hub cache (hift.pt's keys under `generator.`, as CosyVoice2Model.load expects them):
    the same model as the fixture's state dict, the tokenizer converted and CAM++ kept as its graph."""
    loaded = load_from_hub(fake_hub, monkeypatch, release_files())
    assert isinstance(loaded.model.campplus, campplus.OnnxCAMPPlus)
    state, expected = loaded.model.state_dict(), codec.model.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in expected)
    wave = npy("speech_input.npy")
    assert rel_l2(resynthesize_one(loaded, wave), npy("speech_output.npy")) <= 1e-4


@pytest.mark.parametrize("file", [TOKENIZER_FILE, CAMPPLUS_FILE])
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_onnx_file_is_one_error_naming_it(file, damage, fake_hub, monkeypatch):
    files = release_files()
    files[file] = files[file][: len(files[file]) // 3] if damage == "truncated" else b"not an onnx graph" * 50
    with pytest.raises(CheckpointError, match=rf"^cosyvoice2: checkpoint file .*{file}.*corrupt or truncated"):
        load_from_hub(fake_hub, monkeypatch, files)


@pytest.mark.parametrize("file", [TOKENIZER_FILE, CAMPPLUS_FILE])
def test_graph_missing_an_initializer_is_one_error_naming_the_file(file, fake_hub, monkeypatch):
    """A file cut where protobuf still parses (an initializer gone) is named, not left to a failing node."""
    import onnx

    files = release_files()
    graph = onnx.load_model_from_string(files[file])
    lost = graph.graph.initializer[0].name
    del graph.graph.initializer[0]
    files[file] = graph.SerializeToString()
    with pytest.raises(CheckpointError, match=rf"{file} is not a whole ONNX graph: its nodes read undefined values "
                                              rf"\({lost}"):
        load_from_hub(fake_hub, monkeypatch, files)


def test_tokenizer_graph_with_other_names_is_one_error_naming_file_and_keys(fake_hub, monkeypatch):
    """An initializer the rule looks up by name, renamed: the file and the parameter it lacks are named."""
    import onnx

    files = release_files()
    graph = onnx.load_model_from_string(files[TOKENIZER_FILE])
    for init in graph.graph.initializer:
        if init.name == "onnx::Conv_2216":
            init.name = "onnx::Conv_17"
    for node in graph.graph.node:
        node.input[:] = ["onnx::Conv_17" if name == "onnx::Conv_2216" else name for name in node.input]
    files[TOKENIZER_FILE] = graph.SerializeToString()
    with pytest.raises(CheckpointError, match=rf"checkpoint file .*{TOKENIZER_FILE} does not match the model's "
                                              r"architecture \(missing keys: encoder.conv1.weight; unexpected keys: "
                                              r"encoder.conv1.Conv"):
        load_from_hub(fake_hub, monkeypatch, files)


def test_flow_file_with_another_key_is_one_error_naming_it(fake_hub, monkeypatch):
    weights = fixture_weights()
    weights["flow.spk_embed_affine_layer.bias_extra"] = weights.pop("flow.spk_embed_affine_layer.bias")
    with pytest.raises(CheckpointError, match=r"checkpoint file .*flow\.pt does not match .*missing keys: "
                                              r"spk_embed_affine_layer\.bias;"):
        load_from_hub(fake_hub, monkeypatch, release_files(weights))


def test_state_dict_with_the_torch_campplus_loads_the_port():
    """A state dict with CAM++ as 3D-Speaker's parameters (not the graph) builds the torch port."""
    weights = {key: value for key, value in fixture_weights().items() if key != CAMPPLUS_FILE}
    random = cosyvoice2.build(codecs.spec(NAME), MANIFEST["tiny"]["config"], None, runtime=Runtime(seed=0))
    weights |= {f"campplus.{key}": value for key, value in random.model.campplus.state_dict().items()}
    built = tiny(state_dict=weights)
    assert isinstance(built.model.campplus, campplus.CAMPPlus)
    assert "campplus.onnx" not in built.model.state_dict()
    np.testing.assert_array_equal(built.encode(torch.from_numpy(npy("input.npy")))[1].numpy(),
                                  random.encode(torch.from_numpy(npy("input.npy")))[1].numpy())


# -- the front ends, the decoder's rules ----------------------------------------------------------------------------


def test_front_end_features_are_whispers_and_kaldis():
    """The tokenizer's 128-bin log-mel is Whisper's (s3tokenizer's copy of `whisper.log_mel_spectrogram`), CAM++'s
    filterbanks torchaudio's `kaldi.fbank(num_mel_bins=80, dither=0)`, both recorded by the upstream run."""
    wave = torch.from_numpy(npy("speech_input.npy"))
    np.testing.assert_allclose(tokenizer.log_mel_spectrogram(wave).numpy(), npy("speech_log_mel.npy"),
                               rtol=0, atol=1e-5)
    fbank = campplus.fbank(wave)
    assert tuple(fbank.shape) == npy("speech_fbank.npy").shape == (1 + (wave.shape[0] - 400) // 160, 80)
    np.testing.assert_allclose(fbank.numpy(), npy("speech_fbank.npy"), rtol=0, atol=1e-4)


def test_length_rule_on_the_real_clips(demo_dir):
    """ceil((T // 160) / 4) tokens of 960 samples at 24 kHz, on whole clips and on cuts around a token's edge."""
    codec = cosyvoice2.build(codecs.spec(NAME), MANIFEST["tiny"]["config"], None, runtime=Runtime(seed=1))
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
    random = cosyvoice2.build(codecs.spec(NAME), config, None, runtime=Runtime(seed=7))
    assert random.noise_seed == 7
    assert codecs.load(NAME, config=config, random_weights=True, seed=7).noise_seed == 7
    loaded = tiny(noise_seed=None)
    assert loaded.noise_seed == weight_seed(NAME) == NOISE_SEED  # the fixture's: what the contract's build takes
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


def test_official_architecture_has_a_few_of_the_releases_sizes():
    """Beside the contract's key map: 6561 tokens of 512, FSQ from 1280 to 8, a 192-dim embedding."""
    with torch.device("meta"):
        codec = cosyvoice2.build(codecs.spec(NAME), cosyvoice2.default_config(codecs.spec(NAME)), None,
                                 runtime=Runtime(device="meta", seed=0))
    shapes = {key: list(value.shape) for key, value in codec.model.state_dict().items()}
    assert shapes["flow.input_embedding.weight"] == [6561, 512]
    assert shapes["speech_tokenizer.quantizer._codebook.project_down.weight"] == [8, 1280]
    assert shapes["campplus.xvector.dense.linear.weight"] == [192, 1024, 1]


def test_legacy_weight_norm_names_load():
    """A hift.pt saved with torch's old weight norm (`weight_g`, `weight_v`) loads as the parametrization."""
    state = fixture_weights()
    legacy = {key.replace(".parametrizations.weight.original0", ".weight_g")
                 .replace(".parametrizations.weight.original1", ".weight_v"): value for key, value in state.items()}
    assert any(key.endswith(".weight_g") for key in legacy)
    wave = npy("input.npy")
    np.testing.assert_array_equal(resynthesize_one(tiny(state_dict=legacy), wave), resynthesize_one(tiny(), wave))


def test_bad_inputs_and_configs_are_one_clear_error():
    with pytest.raises(CodecConfigError, match="speech_tokenizer.n_audio_state must be 64 × n_audio_head"):
        tiny(speech_tokenizer={**MANIFEST["tiny"]["config"]["speech_tokenizer"], "n_audio_head": 2})
    with pytest.raises(CodecConfigError, match="lacks `hift`"):
        cosyvoice2.build(codecs.spec(NAME), {k: v for k, v in OFFICIAL.items() if k != "hift"}, None,
                         runtime=Runtime(seed=0))
    with pytest.raises(CodecConfigError, match="`noise_seed` must be an integer"):
        tiny(noise_seed="seven")
    state = fixture_weights()
    state.pop("hift.conv_pre.bias")
    with pytest.raises(CheckpointError, match="hift.conv_pre.bias"):
        tiny(state_dict=state)
    state = fixture_weights()
    state[CAMPPLUS_FILE] = state[CAMPPLUS_FILE][:1000]
    with pytest.raises(CheckpointError, match=r"checkpoint file `state_dict\['campplus.onnx'\]` .*truncated"):
        tiny(state_dict=state)
    codec = tiny()
    with pytest.raises(ValueError, match="longer than the 30 s"):
        codec.encode(torch.zeros(16000 * 30 + 1))


def test_registered_with_its_bitrate_and_hub_files():
    spec = codecs.spec(NAME)
    assert codecs.spec("CosyVoice2-0.5B") == spec and spec.public_sets == ()
    assert spec.bitrate_kbps == pytest.approx(0.317, abs=1e-3) and spec.frame_rate == 25
    assert spec.hub_files == (TOKENIZER_FILE, CAMPPLUS_FILE, "flow.pt", "hift.pt")


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with CosyVoice 2 (the fixture's tiny config) loads back through `load_dataset` with the
    taxonomy the spec gives."""
    from collections import Counter

    import datasets
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", NAME), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAME]
    ds = datasets.load_dataset(str(tmp_path / "out"), NAME, split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(NAME, "scalar", "semantic-distillation", "frequency")] == seen[
        ("genuine", "bonafide", "bonafide", "bonafide")] > 0


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    wave, _ = read_audio(sorted(demo_dir.glob("genuine+*.wav"))[0])
    codec = codecs.load(NAME, random_weights=True)
    out = resynthesize_one(codec, wave[:16000])
    assert out.shape == (codec.output_length(16000),) and np.isfinite(out).all()


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _fsq_search(codebook, x):
    # FSQ rounds each of the 8 bounded values to {-1, 0, 1}: the nearest point of the 3^8 grid, index Σ (v + 1)·3^i
    digits = (torch.arange(3**8)[:, None] // 3 ** torch.arange(8)[None]) % 3
    return rows(codebook.bounded(x).double()), (digits - 1).double()


class CosyVoice2Tester(FamilyTester):
    family = "cosyvoice2"
    architecture_key = ("speech_tokenizer", "n_audio_layer")
    required_key = ("hift",)
    quantiser = Quantiser(
        where=lambda: (tokenizer.FSQCodebook, "encode"),
        stages=lambda codec: [codec.model.speech_tokenizer.quantizer._codebook],
        search=_fsq_search,
    )
    # Four networks, two of them ONNX graphs whose exports carry their structure (campplus.onnx's graph is most of its
    # file), the tokenizer's 64-wide heads and 128 mel bins and the flow's 6561-token embedding fixed by upstream.
    fixture_bytes = 1_500_000
    # tests/fixtures/codecs/cosyvoice2/manifest.json "state_dict": upstream's four networks built with the official
    # config on the meta device (make_cosyvoice2_fixture.py: s3tokenizer 0.3.0's S3TokenizerV2 at ModelConfig's v2
    # sizes, whose onnx2torch loads the release's speech_tokenizer_v2.onnx strictly; 3D-Speaker's CAMPPlus(80, 192),
    # the model campplus.onnx is exported from; CosyVoice's CausalMaskedDiffWithXvec and HiFTGenerator at
    # cosyvoice2.yaml's arguments, whose flow.pt and hift.pt CosyVoice2Model.load loads strictly): 123,714,568
    # tokenizer + 6,930,842 CAM++ + 112,549,360 flow + 20,821,295 HiFT scalars in 2,488 tensors.
    facts = {NAME: OfficialFacts(
        source="tests/fixtures/codecs/cosyvoice2/manifest.json: upstream S3TokenizerV2, CAMPPlus, "
               "CausalMaskedDiffWithXvec and HiFTGenerator built with the official config on the meta device",
        parameters=264_016_065, tensors=2_488,
        shapes={"speech_tokenizer.encoder.conv1.weight": (1280, 128, 3),
                "speech_tokenizer.encoder.blocks.5.attn.fsmn_block.weight": (1280, 1, 31),
                "campplus.head.conv1.weight": (32, 1, 3, 3),
                "flow.decoder.estimator.final_proj.weight": (80, 256, 1),
                "hift.conv_post.parametrizations.weight.original1": (18, 64, 7)},
        config={"flow.n_timesteps": 10, "speech_tokenizer.n_audio_layer": 6, "token_mel_ratio": 2},
    )}

    def hub_layout(self, name, fixture):
        return release_files(), TOKENIZER_FILE

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # the Hub's cosyvoice2.yaml is not read (a HyperPyYAML of constructor calls): the config comes from the code
        monkeypatch.setattr(cosyvoice2_codec, "default_config", lambda spec: copy.deepcopy(MANIFEST["tiny"]["config"]))


TESTER = CosyVoice2Tester()

"""SoCodec (hhguo/SoCodec, socodec_16384x4_120ms_16khz_chinese): its quirks (example.py's prepended 0.5 s and the
1919-sample padding, the HuBERT in float16 from its own repository, the analyzer file's HuBERT copy dropped, the
product-VQ codes) and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/socodec/ (made by tests/fixtures/make_socodec_fixture.py from upstream's code, its HuBERT run by
fairseq 0.12.2 and converted for transformers by transformers' own conversion script).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import FIXTURES, FakeHubCache, rel_l2
from helpers import torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.nn import alias_free
from codecfake_hf.codecs.socodec import codec as socodec
from codecfake_hf.codecs.socodec import model as socodec_model
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "socodec"
ANALYZER, VOCODER = codecs.spec(NAME).hub_files


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def tiny(fixture):
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def part(weights: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in weights.items() if k.startswith(prefix)}


def legacy_hubert(weights: dict) -> dict:
    """The fixture's HuBERT as the 2022 pytorch_model.bin names its positional conv (weight_g / weight_v)."""
    return part(weights, "hubert.")


def test_names_rates_codebooks_and_taxonomy():
    spec = codecs.spec(NAME)
    assert codecs.resolve("socodec_16384x4_120ms_16khz_chinese") == NAME
    assert (spec.sample_rate, spec.hop_length, spec.n_codebooks, spec.codebook_size) == (16000, 1920, 4, 16384)
    # CodecFake+'s labels (SAST_Net/utils.py: AS_CORS_dict 3, DS_CORS_dict 2, QS_CORS_dict 1)
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("multi-codebook", "disentanglement", "frequency")
    # the README's "ultra low 0.47 kbps bitrate and a short 120ms frameshift": 4 × 14 bits × 16000 / 1920
    assert round(spec.bitrate_kbps, 2) == 0.47 and spec.frame_rate == pytest.approx(25 / 3)
    assert spec.hub_repo == "hhguo/SoCodec" and spec.license == "mit"


def test_default_config_is_the_repository_yaml_sections(fixture):
    config = socodec.default_config(codecs.spec(NAME))
    official = fixture.manifest["official_config"]
    assert {k: config[k] for k in ("analyzer", "vocoder", "speaker_encoder")} == official


def test_length_rule_is_example_pys_prefix_and_upstreams_padding(fixture, tiny):
    """example.py prepends 8000 zeros; StagedVQVAE pads `1920 - shape[1] % 1920` of a [1, 1, T] tensor, i.e. 1919
    zeros, whatever T; the fixture's noise (4000 samples) came back from upstream as 8 frames (15360 samples, 7360 once
    the prepended 8000 are cut), its speech (8007) as 10 (11200)."""
    assert fixture.npy("output.npy").shape == (7360,) and fixture.npy("speech_output.npy").shape == (11200,)
    assert fixture.npy("codes.npy").shape == (8, 4) and fixture.npy("speech_codes.npy").shape == (10, 4)
    assert [tiny.output_length(n) for n in (1, 1601, 1602, 4000, 8007)] == [3520, 3520, 5440, 7360, 11200]


def test_codes_are_four_streams_of_16384_from_two_codebooks_each(fixture, tiny):
    codes = tiny.encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    np.testing.assert_array_equal(codes.numpy(), fixture.npy("speech_codes.npy"))
    books = tiny.model.analyzer.quantizer.quantizers[0]._codebook
    assert books.scales(0) == [1, 8]  # code = i0 + 8 i1 (tiny: 8 × 8; official: 128 × 128 = 16384)


@pytest.mark.parametrize("case", ["", "speech_"])
def test_hubert_encoder_and_speaker_embedding_are_upstreams(fixture, tiny, case):
    """fairseq's HuBERT in float16 (upstream's run) against transformers' on the weights transformers' conversion
    script made, then the encoder's output and the ECAPA-TDNN's embedding, all hooked in upstream's run: the codes
    and the output alone would not show an error before the quantiser (a product VQ of few codewords absorbs it)."""
    wave = tiny.padded(torch.from_numpy(fixture.npy(f"{case}input.npy")))[None]
    model = tiny.model
    with torch.inference_mode():
        hubert = socodec_model.hubert_features(model.hubert, wave, True, torch.float16)
        latent = model.analyzer.encoder(hubert)
        speaker = model.analyzer.speaker_encoder(model.analyzer.mel_spectrogram(wave))
    # float16 both sides: equal on the machine that made the fixture (fairseq's F.multi_head_attention_forward and
    # transformers' sdpa run the same kernel; the eager softmax would be 7e-4 off, float32 7e-4); another CPU's
    # kernels may round otherwise, hence the margin (1 % more on the first layer's query weights: 7e-5). The encoder's
    # output likewise (1 % more on its first conv: 7e-5).
    assert rel_l2(hubert[0].numpy(), fixture.npy(f"{case}hubert.npy")) <= 5e-5
    assert rel_l2(latent[0].numpy(), fixture.npy(f"{case}latent.npy")) <= 1e-5
    assert rel_l2(speaker[0].numpy(), fixture.npy(f"{case}speaker.npy")) <= 1e-5


def test_hubert_runs_in_float16_as_upstream_casts_it(tiny):
    """utils/hubert.py: `model.half()`, `source.half()`. In float32 the features move by about 1e-3 of their norm
    (the tiny fixture's codes happen to survive that; a code near a tie would not)."""
    assert {p.dtype for p in tiny.model.hubert.parameters()} == {torch.float16}
    assert {p.dtype for p in tiny.model.analyzer.parameters()} == {torch.float32}
    wave = tiny.padded(torch.from_numpy(np.load(FIXTURES / "codecs" / NAME / "tiny" / "speech_input.npy")))[None]
    with torch.inference_mode():
        half = socodec_model.hubert_features(tiny.model.hubert, wave, True, torch.float16)
        full = socodec_model.hubert_features(copy.deepcopy(tiny.model.hubert).float(), wave, True, torch.float32)
    assert 1e-4 < rel_l2(half.numpy(), full.numpy()) < 1e-2


def test_analyzer_files_hubert_copy_is_dropped_and_other_keys_are_refused(fixture):
    weights = fixture.weights()
    with_copy = {**weights, "analyzer.ssl_extractor.model.mask_emb": torch.zeros(16, dtype=torch.float16)}
    loaded = codecs.load(NAME, config=fixture.tiny_config, state_dict=with_copy).model.state_dict()
    assert len(loaded) == len(weights)
    with pytest.raises(CheckpointError, match=r"analyzer\.discriminator\.x"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict={**weights, "analyzer.discriminator.x": torch.ones(1)})


def test_legacy_hubert_weight_norm_names_load(fixture):
    """The 2022 pytorch_model.bin names the positional conv's weight norm weight_g / weight_v."""
    weights = fixture.weights()
    assert "hubert.encoder.pos_conv_embed.conv.weight_g" in weights
    state = socodec.model_state(weights)
    assert "hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original0" in state


def test_kaiser_filters_are_upstreams_buffers(fixture):
    weights = fixture.weights()
    up = alias_free.UpSample1d(2, 12).filter
    down = alias_free.DownSample1d(2, 12).lowpass.filter
    torch.testing.assert_close(up, weights["vocoder.activation_post.upsample.filter"], rtol=0, atol=0)
    torch.testing.assert_close(down, weights["vocoder.activation_post.downsample.lowpass.filter"], rtol=0, atol=0)


def test_mismatched_vocoder_is_one_error(fixture):
    config = json.loads(json.dumps(fixture.tiny_config))
    config["vocoder"]["gen_cfg"]["num_mels"] = 12
    with pytest.raises(CodecConfigError, match=r"does not take the analyzer's mel"):
        codecs.load(NAME, config=config, random_weights=True)


def test_other_tree_configs_are_refused(fixture):
    config = json.loads(json.dumps(fixture.tiny_config))
    config["analyzer"]["tree_config"][0]["downsample_rate"] = 2
    with pytest.raises(CodecConfigError, match=r"downsample_rate 1"):
        codecs.load(NAME, config=config, random_weights=True)


def test_analyzer_file_without_its_encoder_is_named(fake_hub, fixture, monkeypatch):
    files, _ = TESTER.hub_layout(NAME, fixture)
    from safetensors.torch import save

    files[ANALYZER] = save({"something.else": torch.zeros(2)})
    fake_hub.add("hhguo/SoCodec", files)
    TESTER.official_config_is_tiny(monkeypatch, NAME, fixture)
    with pytest.raises(CheckpointError, match=r"holds no `encoder\.\*` keys"):
        codecs.load(NAME)


def test_manifest_records_upstream_and_its_hubert():
    manifest = json.loads((FIXTURES / "codecs" / NAME / "manifest.json").read_text())
    assert manifest["upstream"]["commit"].startswith("3d35a241")
    assert "fairseq 0.12.2" in manifest["upstream"]["hubert"]


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _layout(codec, codes: np.ndarray) -> np.ndarray:
    """Upstream's tokens `[frames, groups]` -> one row per codebook: group g's code is `sum_j i_j × prod(sizes[:j])`."""
    books = codec.model.analyzer.quantizer.quantizers[0]._codebook
    out = []
    for group in range(codes.shape[1]):
        sizes = books.sizes[group * books.per_group: (group + 1) * books.per_group]
        for scale, size in zip(books.scales(group), sizes, strict=True):
            out.append(codes[:, group] // scale % size)
    return np.stack(out)


def _hubert_shapes() -> dict[str, tuple[int, ...]]:
    """transformers' HubertModel at chinese-hubert-large's architecture, on the meta device (its config.json's
    values, `socodec.HUBERT_LARGE`)."""
    from transformers import HubertConfig, HubertModel

    with torch.device("meta"):
        model = HubertModel(HubertConfig(**socodec.HUBERT_LARGE))
    return {f"hubert.{k}": tuple(v.shape) for k, v in model.state_dict().items()}


class SoCodecTester(FamilyTester):
    family = "socodec"
    architecture_key = ("analyzer", "n_model_size")
    required_key = ("analyzer",)
    # 8000 zeros prepended and 1919 appended make every output 0.5 s and a frame longer than its input, and upstream's
    # residual units hard-code 32 groups, so 32 channels is the narrowest VQ-VAE: 0.25 s of noise and 0.5 s of speech
    # with a 2-layer HuBERT, an ECAPA-TDNN, two decoders and a 5-stage BigVGAN (and their intermediates) take ~506 kB.
    fixture_bytes = 520_000
    quantiser = Quantiser(
        where=lambda: (socodec_model.EuclideanCodebook, "quantize"),
        stages=lambda codec: list(codec.model.analyzer.quantizer.quantizers[0]._codebook.codebooks),
        search=lambda book, x: (rows(x), book.embed),
        # product VQ: each codebook quantises its own slice, none a residual
        chains=lambda codec, n: [[row] for row in range(n)],
        layout=_layout,
    )
    facts = {NAME: OfficialFacts(
        source="upstream's StagedVQVAE (without its HuBERT: 48,605,912 scalars, 138 tensors) and BigVGANGenerator "
               "(5,715,402, 235) built from configs/*.yaml on the meta device (hhguo/SoCodec 3d35a24; the fixture "
               "manifest's `state_dict`), and transformers' HubertModel at chinese-hubert-large's config.json "
               "(315,435,136, 415); the analyzer file's 828 MB on the Hub = 194.4 MB of VQ-VAE in float32 + the "
               "fairseq HuBERT in float16",
        parameters=369_756_450, tensors=788,
        shapes={"analyzer.encoder.layers.0.weight": (1024, 1024, 3),
                "analyzer.encoder.layers.2.layers.6.weight": (1024, 1024, 4),
                "analyzer.quantizer.quantizers.0.project_in.weight": (1024, 1024),
                "analyzer.quantizer.quantizers.0._codebook.codebooks.7.embed": (128, 128),
                "analyzer.speaker_encoder.blocks.0.conv.conv.weight": (256, 80, 5),
                "analyzer.speaker_encoder.fc.conv.weight": (1024, 1536, 1),
                "analyzer.decoder_2.layers.5.weight": (80, 1024, 3),
                "vocoder.conv_pre.weight_v": (512, 80, 7), "vocoder.ups.0.0.weight_v": (512, 256, 11),
                "vocoder.conv_post.weight_v": (1, 16, 7),
                "hubert.encoder.layers.23.feed_forward.output_dense.weight": (1024, 4096)},
        config={"analyzer.n_samples_per_token": 1920, "analyzer.n_groups": 4, "analyzer.codebook_size": 16384,
                "vocoder.gen_cfg.upsample_rates": (5, 4, 2, 2, 2), "hubert.num_hidden_layers": 24},
    )}

    def chains(self):
        return 8  # the tiny (and official) 4 groups × 2 codebooks, each its own chain

    def official_key_shapes(self, name, fixture):
        return {**fixture.official_shapes(), **_hubert_shapes()}

    def hub_layout(self, name, fixture):
        """hhguo/SoCodec's two safetensors files; the tiny HuBERT goes to its own repository in
        `official_config_is_tiny`."""
        from safetensors.torch import save

        weights = fixture.weights()
        return {ANALYZER: save(part(weights, "analyzer.")), VOCODER: save(part(weights, "vocoder."))}, ANALYZER

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        """The YAML sections are in the code: make them the tiny ones; and put the tiny HuBERT (config.json +
        pytorch_model.bin) in TencentGameMate/chinese-hubert-large of the offline cache the test set up."""
        from transformers import HubertConfig

        tiny = fixture.tiny_config
        monkeypatch.setattr(socodec, "default_config", lambda spec: {**json.loads(json.dumps(tiny)),
                                                                    "hubert_normalize": True})
        config = HubertConfig(**tiny["hubert"]).to_dict()
        FakeHubCache(Path(os.environ["HF_HUB_CACHE"])).add(
            socodec.HUBERT_REPO, {"config.json": json.dumps(config),
                                  "pytorch_model.bin": torch_save_bytes(legacy_hubert(fixture.weights()))})


TESTER = SoCodecTester()

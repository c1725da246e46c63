"""CosyVoice 2's model configuration: the sections of `cosyvoice2.yaml` that shape the token-to-speech networks, plus
the two ONNX front ends' architectures.

`cosyvoice2.yaml` (FunAudioLLM/CosyVoice2-0.5B; the same `flow` and `hift` sections as the repository's
`examples/libritts/cosyvoice2/conf/cosyvoice2.yaml`) is a HyperPyYAML file of constructor calls (`!new:` tags,
`!ref` expressions); `OFFICIAL` transcribes the constructor arguments that shape the inference networks, under the
yaml's own section and argument names. Three groups of numbers are not in that file and are named here with their
source: the speech tokenizer's (`speech_tokenizer_v2.onnx`: s3tokenizer's `ModelConfig` for v2), CAM++'s
(`campplus.onnx`: 3D-Speaker's `CAMPPlus(feat_dim=80, embedding_size=192)` defaults) and what upstream hard-codes in
code (the flow's 10 Euler steps in `CausalMaskedDiffWithXvec.inference`, the encoder's 4 layers after the
upsampling in `UpsampleConformerEncoder`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

OFFICIAL: dict[str, Any] = {
    "sample_rate": 24000,
    "token_frame_rate": 25,
    "token_mel_ratio": 2,
    # s3tokenizer 0.3.0 `ModelConfig` with `S3TokenizerV2` ("speech_tokenizer_v2_25hz"): 128 mels, 1280 wide,
    # 20 heads, 6 layers, 3^8 codes
    "speech_tokenizer": {"n_mels": 128, "n_audio_state": 1280, "n_audio_head": 20, "n_audio_layer": 6},
    # 3D-Speaker `CAMPPlus` defaults (growth 32, bn_size 4, init 128, FCM 32 wide, blocks of 12, 24, 16 layers) with
    # CosyVoice's 192-dim embedding (`spk_embed_dim`)
    "campplus": {"feat_dim": 80, "embedding_size": 192, "growth_rate": 32, "bn_size": 4, "init_channels": 128,
                 "m_channels": 32, "block_layers": [12, 24, 16]},
    "flow": {
        "input_size": 512, "output_size": 80, "spk_embed_dim": 192, "vocab_size": 6561, "pre_lookahead_len": 3,
        "n_timesteps": 10,  # CausalMaskedDiffWithXvec.inference: `n_timesteps=10`
        "encoder": {"output_size": 512, "attention_heads": 8, "linear_units": 2048, "num_blocks": 6,
                    "num_up_blocks": 4},  # UpsampleConformerEncoder: `for _ in range(4)`
        "decoder": {"inference_cfg_rate": 0.7, "t_scheduler": "cosine",
                    "estimator": {"in_channels": 320, "out_channels": 80, "channels": [256], "attention_head_dim": 64,
                                  "n_blocks": 4, "num_mid_blocks": 12, "num_heads": 8, "act_fn": "gelu"}},
    },
    "hift": {
        "in_channels": 80, "base_channels": 512, "nb_harmonics": 8, "sampling_rate": 24000, "nsf_alpha": 0.1,
        "nsf_sigma": 0.003, "nsf_voiced_threshold": 10, "upsample_rates": [8, 5, 3],
        "upsample_kernel_sizes": [16, 11, 7], "istft_params": {"n_fft": 16, "hop_len": 4},
        "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "source_resblock_kernel_sizes": [7, 7, 11], "source_resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "lrelu_slope": 0.1, "audio_limit": 0.99,
        "f0_predictor": {"num_class": 1, "in_channels": 80, "cond_channels": 512},
    },
}


def official() -> dict[str, Any]:
    return copy.deepcopy(OFFICIAL)


@dataclass(frozen=True)
class TokenizerConfig:
    n_mels: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int


@dataclass(frozen=True)
class CampplusConfig:
    feat_dim: int
    embedding_size: int
    growth_rate: int
    bn_size: int
    init_channels: int
    m_channels: int
    block_layers: tuple[int, ...]


@dataclass(frozen=True)
class EncoderConfig:
    output_size: int
    attention_heads: int
    linear_units: int
    num_blocks: int
    num_up_blocks: int


@dataclass(frozen=True)
class EstimatorConfig:
    in_channels: int
    out_channels: int
    channels: tuple[int, ...]
    attention_head_dim: int
    n_blocks: int
    num_mid_blocks: int
    num_heads: int
    act_fn: str


@dataclass(frozen=True)
class CFMConfig:
    inference_cfg_rate: float
    t_scheduler: str
    estimator: EstimatorConfig


@dataclass(frozen=True)
class FlowConfig:
    input_size: int
    output_size: int
    spk_embed_dim: int
    vocab_size: int
    pre_lookahead_len: int
    n_timesteps: int
    encoder: EncoderConfig
    decoder: CFMConfig


@dataclass(frozen=True)
class ISTFTConfig:
    n_fft: int
    hop_len: int


@dataclass(frozen=True)
class F0Config:
    num_class: int
    in_channels: int
    cond_channels: int


@dataclass(frozen=True)
class HiftConfig:
    in_channels: int
    base_channels: int
    nb_harmonics: int
    sampling_rate: int
    nsf_alpha: float
    nsf_sigma: float
    nsf_voiced_threshold: float
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    istft_params: ISTFTConfig
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    source_resblock_kernel_sizes: tuple[int, ...]
    source_resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    lrelu_slope: float
    audio_limit: float
    f0_predictor: F0Config


@dataclass(frozen=True)
class CosyVoice2Config:
    """The whole token-to-speech chain: tokenizer, speaker encoder, flow, vocoder (see `OFFICIAL`).

    Args:
        sample_rate (int): the vocoder's output rate (24000).
        token_frame_rate (int): tokens per second (25); token_mel_ratio (int): mel frames per token (2).
        speech_tokenizer, campplus, flow, hift: the sections.
    """

    sample_rate: int
    token_frame_rate: int
    token_mel_ratio: int
    speech_tokenizer: TokenizerConfig
    campplus: CampplusConfig
    flow: FlowConfig
    hift: HiftConfig

    def __post_init__(self) -> None:
        estimator = self.flow.decoder.estimator
        checks = [
            (self.flow.output_size == 80 and estimator.out_channels == 80 and self.hift.in_channels == 80,
             "the mel width must be 80 (flow.output_size, estimator.out_channels, hift.in_channels): upstream's "
             "solver allocates [2, 80, T]"),
            (estimator.in_channels == 4 * self.flow.output_size,
             "flow.decoder.estimator.in_channels must be 4 × flow.output_size (x, mu, speaker, condition)"),
            (self.flow.spk_embed_dim == self.campplus.embedding_size,
             "flow.spk_embed_dim must equal campplus.embedding_size"),
            (self.flow.vocab_size == 3**8, "flow.vocab_size must be 6561, the tokenizer's 3^8 codes"),
            (self.flow.input_size == self.flow.encoder.output_size,
             "flow.input_size must equal flow.encoder.output_size (upstream's second embedding layer takes it)"),
            (self.flow.decoder.t_scheduler == "cosine" and estimator.act_fn == "gelu",
             "only the release's cosine time grid and GELU feed-forward are written here"),
            (len(estimator.channels) == 1, "flow.decoder.estimator.channels: one U-Net level (the release's)"),
            (self.hift.sampling_rate == self.sample_rate and self.hift.f0_predictor.num_class == 1,
             "hift.sampling_rate must equal sample_rate; one F0 class"),
            (self.speech_tokenizer.n_audio_state == 64 * self.speech_tokenizer.n_audio_head,
             "speech_tokenizer.n_audio_state must be 64 × n_audio_head (64-wide rotary heads)"),
        ]
        failed = [message for ok, message in checks if not ok]
        if failed:
            raise CodecConfigError(f"CosyVoice 2 config: {'; '.join(failed)}.")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "CosyVoice 2 config") -> CosyVoice2Config:
        return from_config(cls, config, what=what)

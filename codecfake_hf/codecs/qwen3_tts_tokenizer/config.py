"""The Qwen3-TTS tokenizer's config: the Hub `config.json` of `Qwen/Qwen3-TTS-Tokenizer-12Hz`.

The file is transformers' layout of Qwen's `Qwen3TTSTokenizerV2Config` (model_type `qwen3_tts_tokenizer_12hz`): a few
rates at the top, `encoder_config` (transformers' `MimiConfig`: the encoder is Mimi's, its decoder dropped) and
`decoder_config` (Qwen's own decoder). transformers 5.23 ships no class for it, so the top and the decoder are
dataclasses here, read with `codecs.config.from_config`; the encoder section goes through transformers' `MimiConfig`
(`transformers_weights.model_config`). Keys that `PretrainedConfig` writes into every section (`return_dict`,
`dtype`, ...) are accepted and ignored, as `from_pretrained` ignores them for the architecture.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...errors import CodecConfigError
from ..config import from_config

WHAT = "Qwen3-TTS tokenizer config"

# The official config.json's values (see the fixture manifest's `official.config`, from Qwen3-TTS's published
# speech tokenizer config; the encoder's are kyutai/mimi's, transformers' MimiConfig defaults).
OFFICIAL_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3TTSTokenizerV2Model"], "model_type": "qwen3_tts_tokenizer_12hz",
    "encoder_valid_num_quantizers": 16, "input_sample_rate": 24000, "output_sample_rate": 24000,
    "decode_upsample_rate": 1920, "encode_downsample_rate": 1920,
    "encoder_config": {
        "audio_channels": 1, "num_filters": 64, "kernel_size": 7, "residual_kernel_size": 3, "last_kernel_size": 3,
        "num_residual_layers": 1, "compress": 2, "upsampling_ratios": [8, 6, 5, 4], "hidden_size": 512,
        "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 8, "head_dim": 64,
        "intermediate_size": 2048, "hidden_act": "gelu", "norm_eps": 1e-5, "layer_scale_initial_scale": 0.01,
        "rope_theta": 10000.0, "max_position_embeddings": 8000, "sliding_window": 250, "num_quantizers": 32,
        "num_semantic_quantizers": 1, "codebook_size": 2048, "codebook_dim": 256,
        "vector_quantization_hidden_dimension": 256, "pad_mode": "constant", "use_causal_conv": True,
        "sampling_rate": 24000, "frame_rate": 12.5},
    "decoder_config": {
        "attention_bias": False, "latent_dim": 1024, "codebook_dim": 512, "codebook_size": 2048, "decoder_dim": 1536,
        "hidden_act": "silu", "hidden_size": 512, "intermediate_size": 1024, "layer_scale_initial_scale": 0.01,
        "max_position_embeddings": 8000, "head_dim": 64, "num_attention_heads": 16, "num_hidden_layers": 8,
        "num_key_value_heads": 16, "num_quantizers": 16, "num_semantic_quantizers": 1, "rms_norm_eps": 1e-5,
        "rope_theta": 10000, "semantic_codebook_size": 4096, "sliding_window": 72, "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2], "vector_quantization_hidden_dimension": 512},
}

# What `PretrainedConfig.to_dict()` writes into a section besides the class's own keys (transformers 4.57, the version
# Qwen's code pins), plus the top-level file keys: none shapes the model.
PRETRAINED_KEYS = (
    "_name_or_path", "architectures", "model_type", "transformers_version", "dtype", "torch_dtype", "return_dict",
    "output_hidden_states", "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss", "pruned_heads",
    "tie_word_embeddings", "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size",
    "add_cross_attention", "tie_encoder_decoder", "finetuning_task", "id2label", "label2id", "task_specific_params",
    "problem_type", "tokenizer_class", "prefix", "bos_token_id", "pad_token_id", "eos_token_id", "sep_token_id",
    "decoder_start_token_id", "use_cache", "initializer_range", "_attn_implementation_autoset",
)


@dataclass(frozen=True)
class DecoderConfig:
    """`Qwen3TTSTokenizerV2DecoderConfig`: split RVQ dequantiser, causal sliding-window transformer, ConvNeXt
    upsampler, SnakeBeta waveform decoder. Omitted keys take the class's defaults.

    Args:
        codebook_size (int): entries of each of the `num_quantizers` codebooks (the semantic one too: upstream builds
            both quantisers with it; `semantic_codebook_size` is not read by its code).
        codebook_dim (int): the dequantised latent's channels; each codebook holds vectors of half that.
        latent_dim (int): the pre-transformer and upsampler width.
        hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads (int): the
            transformer (`head_dim`: hidden_size / heads when omitted).
        sliding_window (int): each frame attends to itself and the `sliding_window - 1` frames before it.
        rope_theta (float), rms_norm_eps (float), layer_scale_initial_scale (float), max_position_embeddings (int).
        hidden_act (str): the MLP's gate activation (`silu`).
        attention_bias (bool): biases of the attention projections.
        num_quantizers (int): codebooks decoded (semantic first).
        upsample_rates (tuple[int, ...]): the waveform decoder's strides; `upsampling_ratios`: the ConvNeXt
            upsampler's, before it.
        decoder_dim (int): the waveform decoder's first width, halved at each of its blocks.
        num_semantic_quantizers (int): upstream hard-codes 1 semantic codebook; the file's value must agree.
        semantic_codebook_size, vector_quantization_hidden_dimension (int): in the file, not read by upstream's code.
        attention_dropout (float): training only.
    """

    TRAINING_KEYS: ClassVar[tuple[str, ...]] = PRETRAINED_KEYS

    codebook_size: int = 2048
    hidden_size: int = 1024
    latent_dim: int = 1024
    max_position_embeddings: int = 8000
    rope_theta: float = 10000.0
    num_attention_heads: int = 16
    num_key_value_heads: int = 16
    attention_bias: bool = False
    sliding_window: int = 72
    intermediate_size: int = 3072
    hidden_act: str = "silu"
    layer_scale_initial_scale: float = 0.01
    rms_norm_eps: float = 1e-5
    num_hidden_layers: int = 8
    num_quantizers: int = 16
    upsample_rates: tuple[int, ...] = (8, 5, 4, 3)
    upsampling_ratios: tuple[int, ...] = (2, 2)
    decoder_dim: int = 1536
    attention_dropout: float = 0.0
    codebook_dim: int = 512
    head_dim: int | None = None
    num_semantic_quantizers: int = 1
    semantic_codebook_size: int | None = None
    vector_quantization_hidden_dimension: int | None = None
    rope_scaling: dict | None = None

    def __post_init__(self):
        problems = []
        if self.num_semantic_quantizers != 1:
            problems.append(f"`decoder_config.num_semantic_quantizers` is {self.num_semantic_quantizers}; upstream's "
                            "decoder has one semantic codebook")
        if self.hidden_act != "silu":
            problems.append(f"`decoder_config.hidden_act` {self.hidden_act!r} is not supported; valid: 'silu'")
        if self.rope_scaling:
            problems.append("`decoder_config.rope_scaling` is set; only the default rotary embedding is supported")
        if self.decoder_dim % 2 ** len(self.upsample_rates):
            problems.append(f"`decoder_config.decoder_dim` {self.decoder_dim} does not halve "
                            f"{len(self.upsample_rates)} times")
        if self.num_attention_heads % self.num_key_value_heads:
            problems.append("`decoder_config.num_attention_heads` is not a multiple of `num_key_value_heads`")
        if problems:
            raise CodecConfigError(f"{WHAT}: " + "; ".join(problems) + ".")

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads

    @property
    def total_upsample(self) -> int:
        return math.prod(self.upsample_rates) * math.prod(self.upsampling_ratios)


@dataclass(frozen=True)
class TokenizerConfig:
    """`Qwen3TTSTokenizerV2Config`: the rates, the Mimi encoder's config, the decoder's.

    Args:
        encoder_config (dict): transformers `MimiConfig` values (read by `transformers_weights.model_config`).
        decoder_config (DecoderConfig): the decoder.
        encoder_valid_num_quantizers (int): codebooks kept of the encoder's codes (its first ones).
        input_sample_rate, output_sample_rate (int): 24 kHz both.
        encode_downsample_rate, decode_upsample_rate (int): samples per code frame: the codes of an input of T
            samples are its first `ceil(T / encode_downsample_rate)` frames; the output is `decode_upsample_rate`
            samples per frame.
    """

    TRAINING_KEYS: ClassVar[tuple[str, ...]] = PRETRAINED_KEYS

    encoder_config: dict = dataclasses.field(default_factory=dict)
    decoder_config: DecoderConfig = dataclasses.field(default_factory=DecoderConfig)
    encoder_valid_num_quantizers: int = 16
    input_sample_rate: int = 24000
    output_sample_rate: int = 24000
    decode_upsample_rate: int = 1920
    encode_downsample_rate: int = 1920

    def __post_init__(self):
        if self.decoder_config.num_quantizers != self.encoder_valid_num_quantizers:
            raise CodecConfigError(f"{WHAT}: the encoder keeps {self.encoder_valid_num_quantizers} codebooks "
                                   f"(`encoder_valid_num_quantizers`), the decoder reads "
                                   f"{self.decoder_config.num_quantizers} (`decoder_config.num_quantizers`).")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TokenizerConfig:
        """Read `config.json`'s mapping (`model_type` must be the 12 Hz tokenizer's)."""
        if isinstance(config, Mapping) and config.get("model_type", "qwen3_tts_tokenizer_12hz") \
                != "qwen3_tts_tokenizer_12hz":
            raise CodecConfigError(f"{WHAT}: `model_type` is {config['model_type']!r}, not "
                                   "'qwen3_tts_tokenizer_12hz' (the 25 Hz tokenizer is another model).")
        return from_config(cls, config, what=WHAT)

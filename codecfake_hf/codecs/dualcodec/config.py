"""DualCodec's config: the `model` section of the `dualcodec` package's Hydra files, plus its semantic front end.

The Hub repository amphion/dualcodec holds the weights and the w2v-BERT 2.0 feature statistics but no config:
each checkpoint's architecture is the Hydra file the package ships (`dualcodec/conf/model/
dualcodec_12hz_16384_4096_8vq.yaml`, `dualcodec_25hz_16384_1024_12vq.yaml`), whose `model` section
`hydra.utils.instantiate` passes to `DualCodec(...)`. `OFFICIAL_CONFIGS` holds those sections as written. Four sizes
upstream hard-codes beside them are fields here with upstream's values (only a tiny fixture changes them): the
semantic features' width (1024, the `WNConv1d(1024, convnext_dim)` of `convnext_encoder`), the ConvNeXt blocks' MLP
width (2048), the hidden state read (`hidden_states[17]`, upstream's `output_idx = layer_idx + 2` with
`layer_idx = 15`) and the w2v-BERT 2.0 config (facebook/w2v-bert-2.0, a separate Hub repository read by
transformers' `Wav2Vec2BertModel`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

# The `model` sections of the package's two Hydra files (dualcodec 0.4.x, github.com/jiaqili3/DualCodec), without
# `_target_` and with `${..SAMPLE_RATE}` resolved.
OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "dualcodec_12hz_v1": {
        "sample_rate": 24000, "encoder_rates": [4, 5, 6, 8, 2], "decoder_rates": [2, 8, 6, 5, 4], "encoder_dim": 32,
        "decoder_dim": 1536, "n_codebooks": 7, "quantizer_dropout": 1.0, "codebook_size": 4096,
        "semantic_codebook_size": 16384, "is_causal": True, "semantic_downsample_factor": 4,
    },
    "dualcodec_25hz_v1": {
        "sample_rate": 24000, "encoder_rates": [4, 5, 6, 8], "decoder_rates": [8, 6, 5, 4], "n_codebooks": 11,
        "quantizer_dropout": 1.0, "codebook_size": 1024, "semantic_codebook_size": 16384, "is_causal": True,
    },
}


@dataclass(frozen=True)
class DualCodecConfig:
    """`DualCodec(...)`'s arguments (upstream's defaults where a Hydra file omits one) and the semantic front end.

    Args:
        sample_rate (int): the acoustic branch's rate (24 kHz).
        encoder_rates, decoder_rates (tuple[int, ...]): the DAC encoder's and decoder's strides.
        n_codebooks (int): acoustic RVQ codebooks (the semantic codebook is one more).
        codebook_size (int): entries per acoustic codebook.
        semantic_codebook_size (int): entries of the semantic codebook.
        encoder_dim, decoder_dim (int): the DAC encoder's first and decoder's first widths.
        latent_dim (int | None): the DAC latent's width (None: encoder_dim × 2^len(encoder_rates)).
        codebook_dim, semantic_codebook_dim (int): the factorised codebooks' width.
        quantizer_dropout (float): training only.
        distill_projection_out_dim (int): unused without distillation (upstream builds DAC with `distill=False`).
        convnext_dim, convnext_layers (int): the semantic branch's ConvNeXt width and depth.
        convnext_intermediate_dim (int): the ConvNeXt blocks' MLP width (2048, hard-coded upstream).
        decode_semantic_for_codec (bool): whether the quantised semantic latent goes through `convnext_decoder`
            before it is subtracted from (and added back to) the acoustic latent.
        is_causal (bool): the ConvNeXt blocks pad on the left only.
        semantic_downsample_factor (int): average pooling of the 50 Hz w2v-BERT features to the codec's rate.
        semantic_dim (int): the features' width (w2v-BERT 2.0's 1024, hard-coded upstream).
        semantic_layer (int): the hidden state read (`hidden_states[17]`, after 17 of w2v-BERT's layers; only those
            layers are built).
        semantic_model (dict): the `Wav2Vec2BertConfig` values of the w2v-BERT 2.0 checkpoint (empty: the class's
            defaults, which are facebook/w2v-bert-2.0's architecture).
    """

    sample_rate: int
    encoder_rates: tuple[int, ...]
    decoder_rates: tuple[int, ...]
    n_codebooks: int
    codebook_size: int
    semantic_codebook_size: int
    encoder_dim: int = 64
    latent_dim: int | None = None
    decoder_dim: int = 1536
    codebook_dim: int = 8
    semantic_codebook_dim: int = 8
    quantizer_dropout: float = 0.0
    distill_projection_out_dim: int = 1024
    convnext_dim: int = 768
    convnext_layers: int = 4
    convnext_intermediate_dim: int = 2048
    decode_semantic_for_codec: bool = True
    is_causal: bool = False
    semantic_downsample_factor: int = 2
    semantic_dim: int = 1024
    semantic_layer: int = 17
    semantic_model: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "DualCodec config") -> DualCodecConfig:
        """Read a config mapping (a Hydra file's `model` section, optionally with the semantic fields)."""
        made = from_config(cls, config, what=what, ignored=("_target_",))
        made.check(what)
        return made

    def check(self, what: str) -> None:
        if not self.decode_semantic_for_codec and self.convnext_dim != self.latent:
            raise CodecConfigError(f"{what}: without decode_semantic_for_codec the ConvNeXt width ({self.convnext_dim})"
                                   f" must be the DAC latent's ({self.latent}), as upstream asserts.")
        if math.prod(self.encoder_rates) != math.prod(self.decoder_rates):
            raise CodecConfigError(f"{what}: the encoder's strides multiply to {math.prod(self.encoder_rates)}, the "
                                   f"decoder's to {math.prod(self.decoder_rates)}.")
        for key in ("n_codebooks", "codebook_size", "semantic_codebook_size", "semantic_downsample_factor",
                    "semantic_layer"):
            if getattr(self, key) < 1:
                raise CodecConfigError(f"{what}: `{key}` must be at least 1, got {getattr(self, key)}.")

    @property
    def latent(self) -> int:
        """The DAC latent's width."""
        return self.latent_dim if self.latent_dim is not None else self.encoder_dim * 2 ** len(self.encoder_rates)

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_rates)

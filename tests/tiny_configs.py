"""Tiny configs of the transformers-backed codec families that have no `../shared/codec-fixtures` folder.

Each is the family's official config (`default_config`) with the sizes shrunk, keeping what the contract depends
on: sample rate, hop/frame size, codebook size (so bandwidth -> codebooks is the official mapping), chunking.
"""

from __future__ import annotations

from typing import Any

_TINY: dict[str, dict[str, Any]] = {
    "encodec": {"num_filters": 2, "hidden_size": 4, "codebook_dim": 4, "num_lstm_layers": 1},
    # 48 kHz: 20 ms chunks instead of 1 s, so that a few hundred samples cross chunk boundaries.
    "encodec_chunked": {"num_filters": 2, "hidden_size": 4, "codebook_dim": 4, "num_lstm_layers": 1,
                        "chunk_length_s": 0.02},
    "mimi": {"hidden_size": 16, "num_filters": 2, "codebook_dim": 8, "vector_quantization_hidden_dimension": 8,
             "upsample_groups": 16, "num_hidden_layers": 1, "intermediate_size": 16, "num_attention_heads": 2,
             "num_key_value_heads": 2, "head_dim": 8},
    "xcodec": {
        "semantic_model_config": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                  "intermediate_size": 16, "conv_dim": [8, 8], "conv_kernel": [10, 8],
                                  "conv_stride": [5, 64], "num_feat_extract_layers": 2, "num_conv_pos_embeddings": 4,
                                  "num_conv_pos_embedding_groups": 2, "num_buckets": 8, "max_bucket_distance": 16},
        "acoustic_model_config": {"encoder_hidden_size": 2, "decoder_hidden_size": 32, "hidden_size": 8},
        "codebook_dim": None,
    },
}


def tiny_config(name: str) -> dict[str, Any]:
    """The official config of codec config `name`, shrunk (nested sub-configs merged key by key)."""
    from codecfake_hf import codecs

    spec = codecs.spec(name)
    family = __import__(f"codecfake_hf.codecs.{spec.family}", fromlist=["default_config"])
    config = family.default_config(spec)
    key = spec.family
    if spec.family == "encodec" and config.get("chunk_length_s"):
        key = "encodec_chunked"
    for field, value in _TINY[key].items():
        if isinstance(value, dict) and isinstance(config.get(field), dict):
            config[field] = {**config[field], **value}
        else:
            config[field] = value
    return config


def has_tiny_config(name: str) -> bool:
    from codecfake_hf import codecs

    return codecs.spec(name).family in ("mimi", "xcodec") or name.startswith(("encodec_24khz_", "encodec_48khz"))

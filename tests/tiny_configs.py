"""Tiny configs of the transformers-backed codec families that have no `../shared/codec-fixtures` folder.

Each is the family's official config (`default_config`) with the sizes shrunk, keeping what the contract depends
on: sample rate, hop/frame size, codebook size (so bandwidth -> codebooks is the official mapping), chunking.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
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


_GENERATED: dict[str, Path] = {}


def generated_fixture_root(name: str) -> Path:
    """A codec-fixture folder for a config beyond the paper (no ../shared fixture), made once per session.

    The same layout as `../shared/codec-fixtures/<name>/`, so the registry-wide contract test runs on it:
    `manifest.json` (name, the official checkpoint's key/shape set from the official config built on the meta
    device, the tiny config) and `tiny/` (the tiny config and random weights in the Hub file's layout, a noise
    input and a speech-like one at the codec's rate). There is no upstream output to compare with: these
    families run on transformers' own models, which tests/test_transformers_codecs.py compares with
    transformers' feature extractor + `forward`.
    """
    if name in _GENERATED:
        return _GENERATED[name]
    import numpy as np
    from safetensors.torch import save_file

    from codecfake_hf import codecs
    from codecfake_hf.codecs import transformers_weights

    spec = codecs.spec(name)
    root = Path(tempfile.mkdtemp(prefix=f"codecfake-fixture-{name}-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "tiny").mkdir()
    config = tiny_config(name)
    codec = codecs.load(name, config=config, random_weights=True)
    if spec.family == "encodec":  # the Hub file's layout is the model's own (legacy weight norm names)
        state = codec.model.state_dict()
        official = _official_encodec_shapes(spec)
    else:
        state = transformers_weights.to_checkpoint(codec.model)
        family = __import__(f"codecfake_hf.codecs.{spec.family}.codec", fromlist=["make_model"])
        official = transformers_weights.meta_shapes(lambda: family.make_model(family.default_config(spec)))
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "tiny" / "weights_transformers.safetensors"))
    (root / "tiny" / "config_transformers.json").write_text(json.dumps(config, indent=1))
    rate = spec.sample_rate
    rng = np.random.default_rng(0)
    np.save(root / "tiny" / "input.npy", (0.1 * rng.standard_normal(rate // 4)).astype(np.float32))
    t = np.arange(rate) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    speech = 0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 3 * t)) * t) * envelope
    np.save(root / "tiny" / "speech_input.npy", (speech + 0.01 * rng.standard_normal(rate)).astype(np.float32))
    manifest = {"name": name, "state_dict": {k: list(v) for k, v in official.items()}, "tiny": {"config": config},
                "generated": "tests/tiny_configs.py (transformers family, no ../shared fixture)"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    _GENERATED[name] = root
    return root


def _official_encodec_shapes(spec) -> dict[str, tuple[int, ...]]:
    """The Hub file's key/shape set of an EnCodec config: its model on the meta device, weight norm in the file's
    legacy `weight_g`/`weight_v` naming (the 48 kHz model has none: group norm)."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    from codecfake_hf.codecs.encodec import codec as encodec

    with torch.device("meta"):
        model = EncodecModel(EncodecConfig(**encodec.default_config(spec)))
    return {encodec._from_parametrization(k): tuple(v.shape) for k, v in model.state_dict().items()}

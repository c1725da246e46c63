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


_GENERATED: dict[str, Path] = {}


def generated_fixture_root(name: str) -> Path:
    """A codec-fixture folder for a config beyond the paper (no ../shared fixture), made once per session.

    The same layout as `../shared/codec-fixtures/<name>/`, so the registry-wide contract test runs on it:
    `manifest.json` (name, the official checkpoint's key/shape set from the official config built on the meta
    device, the tiny config) and `tiny/` (the tiny config and random weights in the Hub file's layout, a noise
    input and a speech-like one at the codec's rate, and for each the reference output and codes). These
    families run on transformers' own models, so the reference is transformers' own pipeline, feature extractor
    + `forward` (`transformers_reference`), which shares no code with our wrappers beyond the model itself.
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
    rate = spec.sample_rate
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(rate // 4)).astype(np.float32)
    t = np.arange(rate // 2) / rate  # 0.5 s: a few frames of every config, kept short for the suite's time
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    speech = 0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 3 * t)) * t) * envelope
    speech = (speech + 0.01 * rng.standard_normal(t.shape[0])).astype(np.float32)
    if spec.family == "encodec":  # the Hub file's layout is the model's own (legacy weight norm names)
        state = codec.model.state_dict()
        official = _official_encodec_shapes(spec)
    else:
        state = transformers_weights.to_checkpoint(codec.model)
        family = __import__(f"codecfake_hf.codecs.{spec.family}.codec", fromlist=["make_model"])
        official = transformers_weights.meta_shapes(lambda: family.make_model(family.default_config(spec)))
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "tiny" / "weights_transformers.safetensors"))
    (root / "tiny" / "config_transformers.json").write_text(json.dumps(config, indent=1))
    np.save(root / "tiny" / "input.npy", noise)
    np.save(root / "tiny" / "speech_input.npy", speech)
    for case in ("", "speech_"):
        output, codes = transformers_reference(name, codec.model, np.load(root / "tiny" / f"{case}input.npy"))
        np.save(root / "tiny" / f"{case}output.npy", output)
        np.save(root / "tiny" / f"{case}codes.npy", codes)
    manifest = {"name": name, "state_dict": {k: list(v) for k, v in official.items()}, "tiny": {"config": config},
                "generated": "tests/tiny_configs.py (transformers family, no ../shared fixture)"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    _GENERATED[name] = root
    return root


def transformers_reference(name: str, model, wave):
    """(output `[T]`, codes `[K, frames]`) of one utterance through transformers' own pipeline: the family's
    feature extractor, then the model at the registry entry's bitrate (as `transformers`' docs run it).

    EnCodec: `EncodecFeatureExtractor` (chunked and padded at 48 kHz), the mono utterance as every channel,
    `encode` then `decode` (the CodecFake pipeline's calls), the decoded channels averaged, the chunks' codes one
    after another without the padding `encode` adds to the last; Mimi: the same extractor, `num_quantizers`;
    X-Codec: `DacFeatureExtractor` (padding to whole hops), `bandwidth`. The output is cut to the input length.
    """
    import numpy as np
    import torch
    from transformers import DacFeatureExtractor, EncodecFeatureExtractor

    from codecfake_hf import codecs

    spec = codecs.spec(name)
    config = model.config
    rate, n = spec.sample_rate, wave.shape[0]
    with torch.inference_mode():
        if spec.family == "xcodec":
            extractor = DacFeatureExtractor(feature_size=1, sampling_rate=rate, hop_length=config.hop_length)
            inputs = extractor(raw_audio=wave, sampling_rate=rate, return_tensors="pt")
            bandwidth = next(b for b in config.target_bandwidths if b == spec.bitrate_kbps)
            result = model(inputs["input_values"], bandwidth=bandwidth)
            return result.audio_values[0, 0, :n].numpy(), result.audio_codes[0].numpy()
        channels = getattr(config, "audio_channels", 1)
        extractor = EncodecFeatureExtractor(feature_size=channels, sampling_rate=rate,
                                            chunk_length_s=getattr(config, "chunk_length_s", None),
                                            overlap=getattr(config, "overlap", None))
        raw = wave if channels == 1 else np.stack([wave] * channels)
        inputs = extractor(raw_audio=raw, sampling_rate=rate, return_tensors="pt")
        if spec.family == "mimi":
            result = model(**inputs, num_quantizers=spec.n_codebooks)
            return result.audio_values[0, 0, :n].numpy(), result.audio_codes[0].numpy()
        bandwidth = next(b for b in config.target_bandwidths if b == spec.bitrate_kbps)
        codes, scales, pad = model.encode(**inputs, bandwidth=bandwidth, return_dict=False)
        audio = model.decode(codes, scales, inputs["padding_mask"], last_frame_pad_length=pad, return_dict=False)[0]
        codes = codes[:, 0].permute(1, 0, 2).reshape(codes.shape[2], -1)  # [chunks, 1, K, frames] -> [K, all frames]
        return audio[0].mean(0)[:n].numpy(), codes[:, : codes.shape[1] - pad].numpy()


def _official_encodec_shapes(spec) -> dict[str, tuple[int, ...]]:
    """The Hub file's key/shape set of an EnCodec config: its model on the meta device, weight norm in the file's
    legacy `weight_g`/`weight_v` naming (the 48 kHz model has none: group norm)."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    from codecfake_hf.codecs.encodec import codec as encodec

    with torch.device("meta"):
        model = EncodecModel(EncodecConfig(**encodec.default_config(spec)))
    return {encodec._from_parametrization(k): tuple(v.shape) for k, v in model.state_dict().items()}

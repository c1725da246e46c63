"""Helpers shared by the codec tests (fixtures stay in conftest.py; each family's own in its tester module,
tests/codecs/test_<family>.py): checkpoint bytes, config editing, tiny transformers-backed codecs. No family here."""

from __future__ import annotations

import copy
import dataclasses
import io
import json

import numpy as np
import torch

from codecfake_hf import codecs


def torch_save_bytes(obj) -> bytes:
    """What `torch.save(obj, path)` would write, as bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


_DELETE = object()


def plain(config) -> dict:
    """A config dataclass as the JSON of an official file would spell it (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def with_value(config: dict, path: tuple[str, ...], value=_DELETE) -> dict:
    """A deep copy of `config` with the key at `path` set to `value` (no value: removed)."""
    config = copy.deepcopy(config)
    *sections, key = path
    section = config
    for name in sections:
        section = section[name]
    assert key in section, (path, sorted(section))
    if value is _DELETE:
        del section[key]
    else:
        section[key] = value
    return config


def speechlike(n: int, seed: int) -> np.ndarray:
    """`n` samples of a voiced-like tone with noise, float32 (different per `seed`)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * (150 + 40 * seed) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def tiny_transformers_codec(name: str, seed: int = 0, **options):
    """A transformers-backed config beyond the paper on its tester's tiny config, with seeded random weights."""
    from tiny_configs import tiny_config

    return codecs.load(name, config=tiny_config(name), random_weights=True, seed=seed, **options)


def save_pretrained_files(codec) -> dict[str, bytes]:
    """config.json and model.safetensors as `save_pretrained` writes them (the checkpoint layout)."""
    from safetensors.torch import save

    from codecfake_hf.codecs import transformers_weights

    state = {k: v.contiguous() for k, v in transformers_weights.to_checkpoint(codec.model).items()}
    return {"config.json": json.dumps(codec.model.config.to_dict()).encode(), "model.safetensors": save(state)}

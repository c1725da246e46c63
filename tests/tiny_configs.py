"""Fixtures for the codec configs that have neither a `../shared/codec-fixtures` folder nor a committed one: the
transformers families beyond the paper, whose reference is transformers' own pipeline.

Each config's tiny config is its family tester's `tiny_config` (the official config with the sizes shrunk, keeping
what the contract depends on: sample rate, hop/frame size, codebook size, chunking); its reference output and codes
are the tester's `reference` (the family's feature extractor + model, as transformers' docs run it), which shares no
code with our wrappers beyond the model itself. The official architecture facts of these configs are not derived
here: each tester pins them from a source outside our code (its `facts`).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from codec_tester import get_tester


def tiny_config(name: str) -> dict[str, Any]:
    """The official config of codec config `name`, shrunk by its family tester."""
    return get_tester(name).tiny_config(name)


_GENERATED: dict[str, Path] = {}


def generated_fixture_root(name: str) -> Path:
    """A codec-fixture folder for a config without one, made once per session.

    The same layout as `../shared/codec-fixtures/<name>/`, so the registry-wide contract test runs on it:
    `manifest.json` (name, the tiny config, `generated`: no official key set, which would come from our own
    builder) and `tiny/` (the tiny config and random weights in the Hub file's layout, a noise input and a
    speech-like one at the codec's rate, and for each the reference output and codes).
    """
    if name in _GENERATED:
        return _GENERATED[name]
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from codecfake_hf import codecs

    spec, family = codecs.spec(name), get_tester(name)
    root = Path(tempfile.mkdtemp(prefix=f"codecfake-fixture-{name}-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "tiny").mkdir()
    config = family.tiny_config(name)
    codec = codecs.load(name, config=config, random_weights=True)
    rate = spec.sample_rate
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(rate // 4)).astype(np.float32)
    t = np.arange(rate // 2) / rate  # 0.5 s: a few frames of every config, kept short for the suite's time
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    speech = 0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 3 * t)) * t) * envelope
    speech = (speech + 0.01 * rng.standard_normal(t.shape[0])).astype(np.float32)
    state = family.checkpoint_state(codec)
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "tiny" / "weights_transformers.safetensors"))
    (root / "tiny" / "config_transformers.json").write_text(json.dumps(config, indent=1))
    np.save(root / "tiny" / "input.npy", noise)
    np.save(root / "tiny" / "speech_input.npy", speech)
    for case in ("", "speech_"):
        with torch.inference_mode():
            output, codes = family.reference(name, codec.model, np.load(root / "tiny" / f"{case}input.npy"))
        np.save(root / "tiny" / f"{case}output.npy", output)
        if codes is not None:  # continuous latents have none
            np.save(root / "tiny" / f"{case}codes.npy", codes)
    manifest = {"name": name, "tiny": {"config": config},
                "generated": "tests/tiny_configs.py (transformers family, no ../shared fixture)"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    _GENERATED[name] = root
    return root

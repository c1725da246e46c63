"""The official clovaai/aasist checkpoints (`AASIST.pth`, `AASIST-L.pth`) as `AasistForAudioClassification`.

Apart from the model files on purpose: `configuration_aasist.py`, `feature_extraction_aasist.py`,
`modeling_aasist.py` and `modeling_w2v2_aasist.py` travel with every saved model as its remote code
(`trust_remote_code=True`), so they import only torch, numpy, transformers and each other. Reading an
upstream checkpoint is the project's business, with the project's errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..errors import CheckpointError
from .configuration_aasist import BONAFIDE_SPOOF, UPSTREAM_FIELDS, AasistConfig
from .modeling_aasist import AasistForAudioClassification

# The largest model `aasist_from_original` builds, in parameters (AASIST has 297,866, AASIST-L 85,306): counted on
# the meta device before any memory is taken, so a model_config cannot ask for gigabytes.
MAX_PARAMETERS = 50_000_000
# Bounds of a model_config's values: far above the released models (70 sinc filters of 129 taps, 64 channels,
# graph widths 64 and 32, 64,600 samples) and far below what would not fit in memory (gat_dims
# [100000000, 32] asks for a 25.6 GB layer, and more). `check_model_config` refuses values outside them.
MAX_CHANNELS = 4096
MAX_SINC_LENGTH = 16_001
MAX_SAMPLES = 16_000 * 600  # ten minutes at 16 kHz


def _whole(value, key: str, low: int, high: int, where: str) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):
        raise CheckpointError(f"{where}: `{key}` is {value!r}, not a whole number (within {low}..{high})")
    if not low <= value <= high:
        raise CheckpointError(f"{where}: `{key}` is {value!r}, outside {low}..{high}")
    return int(value)


def _numbers(value, key: str, count: int, where: str) -> list:
    if not isinstance(value, list | tuple) or len(value) != count:
        raise CheckpointError(f"{where}: `{key}` is {value!r}, not a list of {count} values")
    return list(value)


def check_model_config(values: dict, where: str) -> dict:
    """An upstream AASIST `model_config` with every value checked for type and range (`CheckpointError` naming
    `where`, the key and the value), before any layer is sized from it; returns the values as the config takes
    them (ints and floats).

    Args:
        values (dict): `nb_samp`, `first_conv`, `filts`, `gat_dims`, `pool_ratios`, `temperatures` (each optional:
            AASIST's default where absent) and `architecture`.
        where (str): where the values came from (a file, `model_config`), for the message.
    """
    checked = {}
    if "nb_samp" in values:
        checked["nb_samp"] = _whole(values["nb_samp"], "nb_samp", 1, MAX_SAMPLES, where)
    if "first_conv" in values:
        checked["first_conv"] = _whole(values["first_conv"], "first_conv", 1, MAX_SINC_LENGTH, where)
    if "filts" in values:
        filts = _numbers(values["filts"], "filts", 5, where)
        sinc = _whole(filts[0], "filts[0]", 3, MAX_CHANNELS, where)  # the spectral graph has filts[0] // 3 nodes
        blocks = []
        for i, pair in enumerate(filts[1:], 1):
            pair = _numbers(pair, f"filts[{i}]", 2, where)
            blocks.append([_whole(c, f"filts[{i}]", 1, MAX_CHANNELS, where) for c in pair])
        checked["filts"] = [sinc, *blocks]
    if "gat_dims" in values:
        checked["gat_dims"] = [_whole(d, "gat_dims", 1, MAX_CHANNELS, where)
                               for d in _numbers(values["gat_dims"], "gat_dims", 2, where)]
    for key in ("pool_ratios", "temperatures"):
        if key in values:
            numbers = _numbers(values[key], key, 4, where)
            if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
                raise CheckpointError(f"{where}: `{key}` is {values[key]!r}, not four finite numbers")
            low_ok = (lambda v: 0 < v <= 1) if key == "pool_ratios" else (lambda v: v > 0)
            if not all(low_ok(v) for v in numbers):
                raise CheckpointError(f"{where}: `{key}` is {values[key]!r}; "
                                      + ("each ratio must lie in (0, 1]" if key == "pool_ratios"
                                         else "each temperature must be above 0"))
            checked[key] = [float(v) for v in numbers]
    if "architecture" in values:
        checked["architecture"] = values["architecture"]
    return checked


def aasist_from_original(path: str | Path, model_config: dict | str | Path | None = None,
                         **config_kwargs) -> AasistForAudioClassification:
    """An official clovaai/aasist checkpoint (`AASIST.pth`, `AASIST-L.pth`) as a model, in eval mode.

    Upstream's output row 0 is spoof and row 1 bona fide; with the default labels the rows of `out_layer`
    are swapped into the project's order (0 = bonafide).

    Args:
        path: the `.pth` file, a plain state dict (CUDA tensors are mapped to the CPU; `weights_only`).
        model_config: the upstream `model_config` as a dict, a `.conf` file (JSON with a `model_config`
            section) or a JSON file of the section itself. Default: AASIST's.
        config_kwargs: further `AasistConfig` fields.
    Raises:
        CheckpointError: unreadable file, a model_config value of the wrong type or range, a model that would
            be too large, keys/shapes that do not match the config, or weights that are not tensors or hold
            NaN/inf (each named).
    """
    model_config = read_model_config(model_config) if model_config is not None else {}
    architecture = model_config.get("architecture", "AASIST")
    if architecture != "AASIST":
        raise CheckpointError(f"model_config names architecture {architecture!r}; only AASIST (and AASIST-L, "
                              "the same architecture) is supported")
    config = AasistConfig(**{key: model_config[key] for key in UPSTREAM_FIELDS if key in model_config},
                          **config_kwargs)
    with torch.device("meta"):  # sized before anything is allocated
        parameters = sum(p.numel() for p in AasistForAudioClassification(config).parameters())
    if parameters > MAX_PARAMETERS:
        raise CheckpointError(f"this model_config (filts {config.filts}, gat_dims {config.gat_dims}) makes a "
                              f"model of {parameters:,} parameters ({4 * parameters / 2**30:.1f} GiB), above the "
                              f"{MAX_PARAMETERS:,} accepted (AASIST has 297,866); is it the right .conf?")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        # a truncated or 5-byte file, not a zip or pickle, unsafe objects: torch raises many kinds
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"cannot read the AASIST checkpoint {path}: {reason}. Give the official .pth "
                              "file (models/weights/AASIST.pth in clovaai/aasist)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    not_tensors = sorted(str(key) for key, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f"{path} is not a state dict of tensors: {len(not_tensors)} entries are not tensors "
                              f"({', '.join(not_tensors[:4])}{', ...' if len(not_tensors) > 4 else ''})")
    bad = sorted(key for key, value in state.items()
                 if value.is_floating_point() and not bool(torch.isfinite(value).all()))
    if bad:  # a model with such weights gives NaN logits on every input
        raise CheckpointError(f"{path} holds NaN or infinite weights in {len(bad)} tensors "
                              f"({', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}); the file is damaged: "
                              "download the official checkpoint again")
    model = AasistForAudioClassification(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(f"{key} {tuple(state[key].shape)} (expected {tuple(expected[key].shape)})"
                   for key in set(state) & set(expected) if state[key].shape != expected[key].shape)
    problems = [f"{len(keys)} {what} ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})"
                for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                   ("keys of the wrong shape", wrong)) if keys]
    if problems:
        raise CheckpointError(
            f"{path} does not fit this model_config (filts {config.filts}, gat_dims {config.gat_dims}): "
            f"{'; '.join(problems)}. Pass the model_config of the .conf that came with the checkpoint "
            "(AASIST-L.conf for AASIST-L.pth)")
    if config.id2label == BONAFIDE_SPOOF:  # upstream row 0 = spoof, row 1 = bona fide: swap to ours
        order = [1, 0]
        state = dict(state)
        state["out_layer.weight"] = state["out_layer.weight"][order]
        state["out_layer.bias"] = state["out_layer.bias"][order]
    model.load_state_dict(state, strict=True)
    return model.eval()


def read_model_config(model_config: dict | str | Path) -> dict:
    """Upstream `model_config` from a dict, a `.conf` file or a JSON file of the section."""
    if isinstance(model_config, dict):
        values = model_config
    else:
        try:
            values = json.loads(Path(model_config).read_text())
        except (OSError, ValueError) as error:
            raise CheckpointError(f"cannot read the AASIST model_config {model_config}: {error}. Give the "
                                  "upstream config/*.conf file or a JSON file of its model_config section") from None
    if isinstance(values, dict) and isinstance(values.get("model_config"), dict):
        values = values["model_config"]
    if not isinstance(values, dict) or "filts" not in values:
        raise CheckpointError(f"{model_config} has no AASIST model_config (no `filts`)")
    where = "the model_config" if isinstance(model_config, dict) else str(model_config)
    return check_model_config(values, where)

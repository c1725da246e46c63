"""The official clovaai/aasist checkpoints (`AASIST.pth`, `AASIST-L.pth`) as `AasistForAudioClassification`.

Apart from the model files on purpose: `configuration_aasist.py`, `feature_extraction_aasist.py`,
`modeling_aasist.py` and `modeling_w2v2_aasist.py` travel with every saved model as its remote code
(`trust_remote_code=True`), so they import only torch, numpy, transformers and each other. Reading an
upstream checkpoint is the project's business, with the project's errors.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

from ..errors import CheckpointError
from .configuration_aasist import BONAFIDE_SPOOF, UPSTREAM_FIELDS, AasistConfig
from .modeling_aasist import AasistForAudioClassification


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
        CheckpointError: unreadable file, or keys/shapes that do not match the config (named).
    """
    model_config = read_model_config(model_config) if model_config is not None else {}
    architecture = model_config.get("architecture", "AASIST")
    if architecture != "AASIST":
        raise CheckpointError(f"model_config names architecture {architecture!r}; only AASIST (and AASIST-L, "
                              "the same architecture) is supported")
    config = AasistConfig(**{key: model_config[key] for key in UPSTREAM_FIELDS if key in model_config},
                          **config_kwargs)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        reason = str(error).splitlines()[0]
        raise CheckpointError(f"cannot read the AASIST checkpoint {path}: {reason}. Give the official .pth "
                              "file (models/weights/AASIST.pth in clovaai/aasist)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
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
    return values

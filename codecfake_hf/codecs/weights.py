"""Official weights: Hub download through `huggingface_hub`, safe file loading, strict key checks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from safetensors.torch import load_file as load_safetensors
from torch import nn

from ..errors import CheckpointError, WeightsUnavailableError


def hub_file(repo_id: str, filename: str, *, codec: str, revision: str | None = None) -> Path:
    """Path of `filename` of the Hub repository `repo_id`, from the cache or downloaded into it.

    `HF_HUB_OFFLINE=1`, `HF_HOME` and `HF_HUB_CACHE` are honoured by `huggingface_hub` itself. A `repo_id`
    that is an existing local folder (a user's copy of a release, `load(name, weights=FOLDER)`) is read as the
    repository's files are, as `from_pretrained` reads a folder in transformers.
    """
    folder = Path(repo_id).expanduser()
    if folder.is_dir():
        path = folder / filename
        if not path.is_file():
            raise WeightsUnavailableError(
                f"{codec}: the weights folder {folder} has no {filename!r}. Fix: put the release's files there "
                "under the names they are published with, or point `weights` at the folder holding them."
            )
        return path
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except (RepositoryNotFoundError, GatedRepoError) as error:
        raise WeightsUnavailableError(
            f"{codec}: the Hub repository {repo_id!r} could not be accessed ({type(error).__name__}). "
            "Check the name, and log in with `hf auth login` if it is gated."
        ) from error
    except RemoteEntryNotFoundError as error:
        raise WeightsUnavailableError(
            f"{codec}: {filename!r} is not in the Hub repository {repo_id!r}."
        ) from error
    except (LocalEntryNotFoundError, OSError) as error:
        # LocalEntryNotFoundError: offline (HF_HUB_OFFLINE=1 or no network) and not in the cache.
        offline = "HF_HUB_OFFLINE=1 is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        raise WeightsUnavailableError(
            f"{codec}: the official weights {repo_id}/{filename} are not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and {offline}. Fix: on a machine with internet run "
            f"`hf download {repo_id} {filename}` and copy its cache here (or point HF_HUB_CACHE at it), "
            "or build with random weights (`--random-weights`) for a smoke run."
        ) from error


def load_checkpoint(path: str | os.PathLike, *, codec: str) -> dict[str, object]:
    """Load a checkpoint file without executing code from it.

    `.safetensors` through safetensors; anything else through `torch.load(weights_only=True)`, which
    refuses pickles that would call anything but tensor and container constructors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{codec}: checkpoint file {path} does not exist.")
    try:
        if path.suffix == ".safetensors":
            return dict(load_safetensors(str(path)))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, bad pickle, unsafe global, ...
        raise CheckpointError(
            f"{codec}: checkpoint file {path} could not be loaded safely ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). The file is corrupt or truncated: "
            "delete it from the cache and download it again."
        ) from error


def read_config_file(
    path: str | os.PathLike, *, codec: str, required: Iterable[str] = (), what: str = "config"
) -> dict[str, Any]:
    """A checkpoint's config file as a dict: JSON, or YAML (`.yaml`/`.yml`, `yaml.safe_load`).

    A file that does not parse, is not a mapping, or lacks one of the `required` top-level keys is a
    `CheckpointError` naming the file, what it should be (`what`) and the fix.
    """
    path = Path(path)
    is_yaml = path.suffix in (".yaml", ".yml")
    try:
        text = path.read_text(encoding="utf-8")
        config = yaml.safe_load(text) if is_yaml else json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(
            f"{codec}: config file {path} {'could not be read as YAML' if is_yaml else 'is not valid JSON'} "
            f"({first_line}). The file is corrupt or truncated: delete it from the cache and download it again."
        ) from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{codec}: config file {path} holds {type(config).__name__}, not a mapping; "
                              f"it is not {what}. Delete it from the cache and download it again.")
    missing = [key for key in required if key not in config]
    if missing:
        raise CheckpointError(f"{codec}: config file {path} has no {', '.join(f'`{k}`' for k in missing)}: it is "
                              f"not {what}. Delete it from the cache and download it again.")
    return config


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, torch.Tensor]:
    """Nested sub-dictionaries of tensors -> one flat dict with `sub.key` names (as the fixtures store them)."""
    flat: dict[str, torch.Tensor] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            flat[f"{prefix}{key}"] = value
    return flat


def lightning_state(checkpoint: Mapping[str, Any], *, prefixes: tuple[str, ...], model: str,
                    source: str) -> dict[str, torch.Tensor]:
    """The network's tensors of a Lightning checkpoint (those of its `state_dict` under `prefixes`, the rest being
    discriminators and losses), or of a plain state dict already holding them; `model` names it in messages."""
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{source} holds no state dict (`state_dict` is a {type(state).__name__}).")
    kept = {key: value for key, value in flatten(state).items() if key.startswith(prefixes)}
    if not kept:
        raise CheckpointError(f"{source} holds no {model} weights (no key starts with {', '.join(prefixes)}); it is "
                              f"not a {model} checkpoint.")
    return kept


def check_state_dict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str,
    ignore_prefixes: Iterable[str] = (),
) -> dict[str, torch.Tensor]:
    """`state_dict` less `ignore_prefixes`, if it has exactly `module`'s keys and shapes; else a
    `CheckpointError` naming `source` and what is wrong.

    Keys starting with one of `ignore_prefixes` (training-only tensors a checkpoint carries, such as a
    discriminator) are dropped first, explicitly; everything else must match in name and shape.
    """
    ignore = tuple(ignore_prefixes)
    given = {k: v for k, v in state_dict.items() if not (ignore and k.startswith(ignore))}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong_shape = sorted(
        f"{k}: {tuple(given[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
        for k in set(given) & set(expected)
        if tuple(given[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong_shape)):
        if items:
            shown = ", ".join(items[:5]) + (f", ... ({len(items)} in all)" if len(items) > 5 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(
            f"{source} does not match the model's architecture ({'; '.join(problems)}). "
            "The file is not the checkpoint this codec config expects, or its config does not match it."
        )
    return given


def check_against(
    make_model: Callable[[], nn.Module],
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str,
    ignore_prefixes: Iterable[str] = (),
) -> None:
    """`check_state_dict` against the model `make_model()` builds on the meta device: names and shapes
    only, no memory. Downloads call it while the file's path is known, so a wrong file is named."""
    with torch.device("meta"):
        skeleton = make_model()
    check_state_dict(skeleton, state_dict, source=source, ignore_prefixes=ignore_prefixes)


def load_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str,
    ignore_prefixes: Iterable[str] = (),
) -> None:
    """`module.load_state_dict(strict=True)` after `check_state_dict`, whose message names `source`."""
    module.load_state_dict(check_state_dict(module, state_dict, source=source, ignore_prefixes=ignore_prefixes),
                           strict=True)


"""The registry: the `CodecSpec`s of every family folder and installed plugin, and `load()` to build one.

It holds no spec of its own. A family is a folder `codecs/<family>/` whose package exports `SPECS` (its configs, in
`specs.py`) beside the `CodecFamily` functions (`OPTIONS`, `default_config`, `download`, `build`); the registry
finds every such folder. A third-party package adds a family without editing this repository by declaring an entry
point in the group `codecfake_hf.codecs` (`<family> = "package.module"`, a module exporting the same names);
`load_plugins` registers them after the built-in families, and a plugin that fails is named in one warning line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import importlib
import importlib.metadata
import importlib.resources
import logging
import os
from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import (
    BackendNotBuiltError,
    CheckpointError,
    CodecConfigError,
    UnknownCodecError,
    WeightsUnavailableError,
)
from .spec import TAXONOMY, CodecSpec

if TYPE_CHECKING:
    import torch

    from .base import Codec, CodecFamily

logger = logging.getLogger(__name__)


__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "RELEASE_NAMES", "TAXONOMY", "CodecSpec", "family", "families", "load",
           "load_plugins", "names", "options", "parse_codec_list", "register", "resolve", "spec", "weight_seed"]

ENTRY_POINT_GROUP = "codecfake_hf.codecs"
"""The entry-point group through which an installed package adds a codec family (see `load_plugins`)."""

# What a family module must export (the `CodecFamily` protocol of base.py, plus its configs).
FAMILY_EXPORTS = ("SPECS", "OPTIONS", "default_config", "download", "build")

_REGISTRY: dict[str, CodecSpec] = {}
_ALIASES: dict[str, str] = {}  # every name and alias, lower-cased -> canonical name
REGISTRY: Mapping[str, CodecSpec] = MappingProxyType(_REGISTRY)
"""Canonical name -> `CodecSpec`, in registration order; read-only (add entries with `register`)."""


def register(new: CodecSpec, *, replace: bool = False) -> CodecSpec:
    """Add `new` to the registry, its name and aliases resolvable (any case).

    A name or alias that already resolves to another entry is refused; `replace=True` replaces an entry
    of the same name (its old aliases go with it).
    """
    if new.name in _REGISTRY and not replace:
        raise ValueError(f"Codec {new.name!r} is already registered; pass replace=True to replace it.")
    keys = list(dict.fromkeys(key.lower() for key in (new.name, *new.aliases)))
    taken = {key: _ALIASES[key] for key in keys if _ALIASES.get(key, new.name) != new.name}
    if taken:
        raise ValueError(f"Codec {new.name!r}: names already taken: "
                         + ", ".join(f"{key!r} (by {owner!r})" for key, owner in taken.items()) + ".")
    _unregister(new.name)
    _REGISTRY[new.name] = new
    _ALIASES.update(dict.fromkeys(keys, new.name))
    return new


def _unregister(name: str) -> None:
    """Remove `name` and its aliases (for `register(replace=True)` and tests)."""
    _REGISTRY.pop(name, None)
    for key in [key for key, owner in _ALIASES.items() if owner == name]:
        del _ALIASES[key]


_FAMILIES: dict[str, ModuleType] = {}  # family name -> its module (a folder of this package, or a plugin's)


def _family_folders() -> list[str]:
    """The subpackages of `codecfake_hf.codecs` that declare configs (a `specs.py`), by name."""
    root = importlib.resources.files(__package__)
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and (entry / "specs.py").is_file())


def _check_family(module: ModuleType, family: str) -> list[CodecSpec]:
    """`module`'s specs, after checking it exports the family protocol and that every spec names `family`."""
    missing = [name for name in FAMILY_EXPORTS if not hasattr(module, name)]
    if missing:
        raise TypeError(f"module {module.__name__} does not export {', '.join(missing)} (a codec family exports "
                        f"{', '.join(FAMILY_EXPORTS)})")
    specs = list(module.SPECS)
    for entry in specs:
        if not isinstance(entry, CodecSpec):
            raise TypeError(f"{module.__name__}.SPECS holds a {type(entry).__name__}, not a CodecSpec")
        if entry.family != family:
            raise ValueError(f"{module.__name__}: spec {entry.name!r} names family {entry.family!r}, not {family!r}")
    return specs


def _register_builtin_families() -> None:
    """Register every family folder's specs: the paper's configs first, in the paper's order, then the others by
    family folder (alphabetically) and in each folder's own order."""
    found: list[tuple[int, CodecSpec]] = []
    for folder in _family_folders():
        module = importlib.import_module(f"{__package__}.{folder}")
        _FAMILIES[folder] = module
        found += [(len(found), entry) for entry in _check_family(module, folder)]
    paper = sorted((e for _, e in found if e.paper_order is not None), key=lambda e: e.paper_order)
    for entry in [*paper, *(e for _, e in found if e.paper_order is None)]:
        register(entry)


def load_plugins() -> list[str]:
    """Register the families of installed plugins (entry-point group `codecfake_hf.codecs`); return their names.

    Each entry point is `<family> = "package.module"`; the module exports `SPECS` (every spec's `family` is the
    entry point's name) and the `CodecFamily` functions. A plugin that cannot be imported, lacks an export, or
    whose names clash with registered ones is skipped with one warning line naming it and the cause; the registry
    and the other families are not affected. Called once when `codecfake_hf.codecs` is imported (after the
    package's own names exist, so a plugin may import them); calling it again registers nothing twice.
    """
    added = []
    for point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        if point.name in _FAMILIES:
            if _FAMILIES[point.name].__name__ != point.value:
                logger.warning("codec plugin %r (%s) skipped: the family name %r is taken by %s", point.name,
                               point.value, point.name, _FAMILIES[point.name].__name__)
            continue
        try:
            module = point.load()
            specs = _check_family(module, point.name)
            clash = [k for e in specs for k in (e.name, *e.aliases) if k.lower() in _ALIASES]
            if clash:
                raise ValueError(f"names already registered: {', '.join(clash)}")
        except Exception as error:  # a broken plugin must not break the registry: named, then skipped
            first = str(error).splitlines()[0] if str(error) else ""
            logger.warning("codec plugin %r (%s) skipped: %s: %s", point.name, point.value, type(error).__name__,
                           first)
            continue
        _FAMILIES[point.name] = module
        for entry in specs:
            register(entry)
        added.append(point.name)
    return added


_register_builtin_families()

# The 15 configs of the CodecFake paper and release, in its table's order.
RELEASE_NAMES: tuple[str, ...] = tuple(e.name for e in REGISTRY.values() if e.paper_order is not None)


def families() -> list[str]:
    """The registered family names: the folders of this package, then plugins."""
    return list(_FAMILIES)


def names() -> list[str]:
    """Every codec config name: the CodecFake paper's 15 in its table's order, then the others by family."""
    return list(REGISTRY)


def resolve(name: str) -> str:
    """The canonical name of `name` (a release name or an alias, any case)."""
    canonical = _ALIASES.get(str(name).lower())
    if canonical is None:
        matches = difflib.get_close_matches(str(name).lower(), list(_ALIASES), n=5, cutoff=0.75)
        close = dict.fromkeys(_ALIASES[m] for m in matches)  # a name and its alias suggest it once
        hint = f" Did you mean {', '.join(repr(c) for c in list(close)[:3])}?" if close else ""
        raise UnknownCodecError(
            f"Unknown codec {name!r}.{hint} Valid names: {', '.join(names())} (or 'all')."
        )
    return canonical


def spec(name: str) -> CodecSpec:
    """The `CodecSpec` of a codec config, by release name or alias."""
    return REGISTRY[resolve(name)]


def parse_codec_list(text: str) -> list[str]:
    """`all` or a comma-separated list of names/aliases -> canonical names, in order, without repeats."""
    if text.strip().lower() == "all":
        return names()
    result: list[str] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        canonical = resolve(item)
        if canonical not in result:
            result.append(canonical)
    if not result:
        raise UnknownCodecError(f"No codec named in {text!r}. Valid names: {', '.join(names())} (or 'all').")
    return result


def _family(s: CodecSpec) -> CodecFamily:
    if s.family in _FAMILIES:
        return _FAMILIES[s.family]
    try:
        return importlib.import_module(f"{__package__}.{s.family}")
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{s.family}":
            raise
        raise BackendNotBuiltError(
            f"Codec {s.name!r} is registered, but its {s.family!r} inference module is not built yet "
            f"in this version of codecfake-hf. Choose another codec (see `codecfake_hf.codecs.names()`)."
        ) from None


def family(name: str) -> CodecFamily:
    """The family subpackage that builds `name` (its `CodecFamily` functions); BackendNotBuiltError if unwritten."""
    return _family(spec(name))


def options(name: str) -> Mapping[str, str]:
    """The keyword options `load(name, ...)` accepts for this codec's family, each with one line of help."""
    return MappingProxyType(dict(family(name).OPTIONS))


def weight_seed(name: str, seed: int = 0) -> int:
    """The initialisation seed of `name`'s random weights: a SHA-256 of the name and `seed`.

    Stable across runs, processes and machines (Python's `hash()` of a string is salted per
    process), so every rank of a distributed build, and every rerun, builds the same model.
    """
    digest = hashlib.sha256(f"codecfake-hf/{name}/{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@contextlib.contextmanager
def _seeded(seed: int):
    """The CPU generator seeded with `seed` inside the block, the caller's RNG state restored after.

    Families build their modules on the CPU (`Codec` moves them to the device), so the CPU generator
    is the only one initialisation draws from; CUDA's is neither used nor touched.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def _weights_source(s: CodecSpec, weights: str | os.PathLike | None, *, official: bool) -> CodecSpec:
    """The spec `family.download` reads the official files through: `s`, or `s` with its repository replaced by
    the caller's folder or Hub repository (`weights`). The codec keeps `s` itself."""
    if weights is not None and not official:
        raise CodecConfigError(f"{s.name}: `weights` names where the official files are; it cannot be combined with "
                               "`state_dict` or `random_weights=True`.")
    if weights is not None:
        if not str(weights).strip():
            raise CodecConfigError(f"{s.name}: `weights` is empty; give a folder holding "
                                   f"{', '.join(s.hub_files)}, or a Hub repository id.")
        return dataclasses.replace(s, hub_repo=os.fspath(weights), weights_page=None)
    if official and s.hub_repo is None:
        raise WeightsUnavailableError(
            f"{s.name}: its official weights are not on the Hugging Face Hub; they are published at "
            f"{s.weights_page}. Fix: download {', '.join(s.hub_files)} from there into a folder and pass "
            f"`weights=FOLDER` (builder: `--weights {s.name}=FOLDER`), or upload them to a Hub repository of "
            "yours and pass its id; or build with random weights (`random_weights=True`) for a smoke run."
        )
    return s


def _config_source(s: CodecSpec, config: Mapping[str, Any] | None) -> str:
    """Where a config came from, for error messages: the caller's argument or the official files."""
    if config is not None:
        return "the `config` argument"
    files = [f for f in s.hub_files if f.endswith((".json", ".yaml", ".yml"))] or list(s.hub_files)
    return f"the official config ({s.hub_repo or s.weights_page}: {', '.join(files)})"


def _check_options(s: CodecSpec, family: CodecFamily, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(family.OPTIONS))
    if not unknown:
        return
    got = ", ".join(f"{key}={options[key]!r}" for key in unknown)
    if family.OPTIONS:
        valid = "; ".join(f"`{key}`: {text}" for key, text in family.OPTIONS.items())
        raise CodecConfigError(f"{s.name}: unknown option(s) {got}. Options of the {s.family!r} family: {valid}.")
    raise CodecConfigError(f"{s.name}: unknown option(s) {got}; the {s.family!r} family takes no options.")


def _check_state_dict(s: CodecSpec, state_dict: object) -> None:
    """A mapping of names to tensors, or to sub-mappings (official checkpoints nest their parts, and may
    carry metadata there), holding at least one tensor."""
    import torch

    if isinstance(state_dict, (str, bytes, os.PathLike)):
        raise CodecConfigError(
            f"{s.name}: `state_dict` is a path ({str(state_dict)!r}), not the weights; load the file first "
            "(`safetensors.torch.load_file(path)` or `torch.load(path, map_location='cpu', weights_only=True)`) "
            "and pass the tensors, or pass no `state_dict` for the official weights."
        )
    if not isinstance(state_dict, Mapping):
        raise CodecConfigError(f"{s.name}: `state_dict` is a {type(state_dict).__name__}; expected a mapping of "
                               "parameter names to tensors.")
    for key, value in state_dict.items():
        if not isinstance(value, (torch.Tensor, Mapping)):
            raise CodecConfigError(f"{s.name}: `state_dict[{key!r}]` is a {type(value).__name__}, not a tensor; "
                                   "pass the checkpoint's tensors (its state dict).")

    def has_tensor(tree: Mapping[str, Any]) -> bool:
        return any(isinstance(v, torch.Tensor) or (isinstance(v, Mapping) and has_tensor(v)) for v in tree.values())

    if not has_tensor(state_dict):
        raise CodecConfigError(f"{s.name}: `state_dict` holds no tensors; pass the checkpoint's state dict, or no "
                               "`state_dict` for the official weights.")


def load(
    name: str,
    *,
    config: Mapping[str, Any] | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    random_weights: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    weights: str | os.PathLike | None = None,
    **options: Any,
) -> Codec:
    """Build a codec, ready for `resynthesize`.

    With no `config`/`state_dict`, the official checkpoint is fetched through `huggingface_hub`
    (which honours the cache and `HF_HUB_OFFLINE`). `config` and `state_dict` take the format of the
    official checkpoint, so tiny test weights and the real files go through the same code; a
    `state_dict` without `config` uses the official config. `random_weights=True` builds the
    architecture (from `config`, or the official one) with random weights, for smoke runs; it logs a
    warning, and the codec's `random_weights`/`seed` say so. `weights` reads the official files from another
    place than the spec's Hub repository: a local folder holding them as the release names them, or a Hub
    repository id (a mirror); a config whose release is not on the Hub (`spec.hub_repo` None, `weights_page`)
    needs it. Random weights are drawn from
    `weight_seed(name, seed)` without touching the caller's RNG state: the same name, seed and config give
    the same model in every run and process. `precision` (`fp32`, `tf32`, `bf16`; see
    `base.precision_mode`) and `device` are fixed on the codec when it is built (`Codec.with_precision` gives
    another one over the same model). `options` go to the family (e.g. `bandwidth=` for EnCodec; each
    family's `OPTIONS` lists its own).

    Every failure is a `CodecFakeError`: `UnknownCodecError`, `CodecConfigError` (arguments, options, a
    config the family cannot build, naming the codec and where the config came from), `CheckpointError`,
    `WeightsUnavailableError`, `BackendNotBuiltError`.
    """
    from .base import PRECISIONS, Runtime

    s = spec(name)
    if precision not in PRECISIONS:
        raise CodecConfigError(f"{s.name}: precision={precision!r}; valid: {', '.join(PRECISIONS)}.")
    if random_weights and state_dict is not None:
        raise CodecConfigError(f"{s.name}: pass either `state_dict` or `random_weights=True`, not both.")
    if config is not None and state_dict is None and not random_weights:
        raise CodecConfigError(
            f"{s.name}: a `config` without a `state_dict`; pass the weights too, or "
            "`random_weights=True` for a model with random weights."
        )
    if config is not None and not isinstance(config, Mapping):
        raise CodecConfigError(f"{s.name}: `config` is a {type(config).__name__}; expected a mapping in the "
                               "format of the official config file.")
    if state_dict is not None:
        _check_state_dict(s, state_dict)
    source_spec = _weights_source(s, weights, official=not random_weights and state_dict is None)
    family = _family(s)
    _check_options(s, family, options)
    source = _config_source(source_spec, config)
    try:
        if random_weights:
            logger.warning("%s: building with RANDOM weights (smoke run, not the official model)", s.name)
            config = dict(config) if config is not None else family.default_config(s)
        elif state_dict is None:
            config, state_dict = family.download(source_spec)
        elif config is None:
            config = family.default_config(s)
        runtime = Runtime(device=device, precision=precision, seed=int(seed) if state_dict is None else None)
        with _seeded(weight_seed(s.name, seed)) if state_dict is None else contextlib.nullcontext():
            codec = family.build(s, dict(config), state_dict, runtime=runtime, **options)
    except CodecConfigError as error:
        message = str(error)
        if not message.startswith(f"{s.name}:"):
            message = f"{s.name}: {message}"
        raise CodecConfigError(f"{message} (config: {source})") from None
    except (TypeError, ValueError, KeyError) as error:
        not_tensor = _first_non_tensor(state_dict)
        if not_tensor is not None:  # a list or a number where the family reads a tensor
            raise CheckpointError(f"{s.name}: `state_dict[{not_tensor[0]!r}]` is a {type(not_tensor[1]).__name__}, "
                                  "not a tensor; pass the checkpoint's tensors (as loaded from its file).") from None
        # A value the family could not use and did not name itself: one message, per codec.
        raise CodecConfigError(f"{s.name}: cannot build the model from this config/options "
                               f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}; "
                               f"config: {source}). Check the config against the official one.") from None
    _check_finite(s.name, codec)
    return codec


def _first_non_tensor(state_dict: Any, prefix: str = "") -> tuple[str, Any] | None:
    """The first leaf of a (nested) state dict that is neither a tensor nor checkpoint metadata (a mapping)."""
    import torch

    for key, value in (state_dict or {}).items():
        if isinstance(value, Mapping):
            found = _first_non_tensor(value, f"{prefix}{key}.")
            if found is not None:
                return found
        elif isinstance(value, (list, tuple)) or (not isinstance(value, torch.Tensor) and not prefix):
            return f"{prefix}{key}", value
    return None


def _check_finite(name: str, codec: Codec) -> None:
    """Refuse weights holding NaN or inf: such a codec turns every utterance into NaN (every row skipped)."""
    model = getattr(codec, "model", None)
    if model is None:
        return
    bad = [key for key, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not tensor.is_meta and not bool(tensor.isfinite().all())]
    if bad:
        raise CheckpointError(f"{name}: {len(bad)} weight tensor(s) hold NaN or inf (first: {bad[0]}); the checkpoint "
                              "is corrupt. Download it again (delete it from the Hugging Face cache) or fix the file.")

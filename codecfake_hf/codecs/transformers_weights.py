"""Checkpoints of the codec families that run on `transformers` models: Hub files, key names, strict loads.

A transformers checkpoint on the Hub is `config.json` plus `model.safetensors` in the layout the model had when
it was converted; `from_pretrained` renames its keys on load through transformers' conversion mapping (Mimi's
flat `encoder.layers.*` become `encoder.encoder_seanet.layers.*` in transformers 5, `weight_g`/`weight_v` become
weight-norm parametrizations). The families here read the same files through `weights.hub_file` (cache first,
`HF_HUB_OFFLINE` honoured, one message when they are missing) and apply that same mapping, key by key, before a
strict `load_state_dict`, so a wrong or truncated file is named instead of half-loaded.

The families also share their config handling here (`config_values`, `model_config`), `build_codec`, and
`resynthesize_alone` for those that run each utterance on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ..errors import CodecConfigError
from . import weights
from .config import refuse_unknown_keys


def download(repo_id: str, *, codec: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the Hub repository `repo_id` (the transformers layout)."""
    config = weights.read_config_file(weights.hub_file(repo_id, "config.json", codec=codec), codec=codec,
                                      required=("model_type",), what="a transformers config.json")
    path = weights.hub_file(repo_id, "model.safetensors", codec=codec)
    return config, weights.load_checkpoint(path, codec=codec)


def _renamings(model: nn.Module, *, reverse: bool) -> list:
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightRenaming

    conversions = get_model_conversion_mapping(model, add_legacy=not reverse)
    if reverse:  # as `save_pretrained` reverts them: last first
        conversions = [c.reverse_transform() for c in conversions[::-1]]
    return [c for c in conversions if isinstance(c, WeightRenaming)]


def checkpoint_key(key: str, renamings: list) -> str:
    from transformers.core_model_loading import rename_source_key

    return rename_source_key(key, renamings, [])[0]


def checkpoint_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """The keys and shapes `save_pretrained(model)` writes: the checkpoint layout of `model`'s architecture.

    Works on a model built on the meta device (no memory): this is how the official key/shape set of a config is
    recorded without its weights.
    """
    reverse = _renamings(model, reverse=True)
    return {checkpoint_key(k, reverse): tuple(v.shape) for k, v in model.state_dict().items()}


def model_keys(model: nn.Module, keys) -> dict[str, str]:
    """Checkpoint key -> `model`'s key, for `keys` in the checkpoint layout (as `load` renames them)."""
    forward = _renamings(model, reverse=False)
    return {key: checkpoint_key(key, forward) for key in keys}


def to_checkpoint(model: nn.Module) -> dict[str, torch.Tensor]:
    """`model`'s weights under the checkpoint's key names (what `save_pretrained` would write)."""
    reverse = _renamings(model, reverse=True)
    return {checkpoint_key(k, reverse): v for k, v in model.state_dict().items()}


def load(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load a checkpoint-layout `state_dict` into `model` strictly, through transformers' key renamings.

    Keys are renamed as `from_pretrained` renames them (the model's conversion mapping plus the legacy
    `weight_g`/`weight_v` and `gamma`/`beta` names); weight-norm pairs are then folded into plain weights
    where the model has none (the transformers codecs here build their convolutions without weight norm).
    """
    forward = _renamings(model, reverse=False)
    renamed = {checkpoint_key(k, forward): v for k, v in state_dict.items()}
    expected = model.state_dict()
    renamed = _fold_weight_norm(renamed, expected)
    weights.load_strict(model, renamed, source=source)


def _fold_weight_norm(state: dict[str, torch.Tensor], expected: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    g_suffix, v_suffix = ".parametrizations.weight.original0", ".parametrizations.weight.original1"
    out = dict(state)
    for key in [k for k in state if k.endswith(g_suffix)]:
        base = key[: -len(g_suffix)]
        if f"{base}.weight" in expected and f"{base}{g_suffix}" not in expected and f"{base}{v_suffix}" in state:
            g, v = out.pop(key), out.pop(f"{base}{v_suffix}")
            dims = tuple(range(1, v.dim()))
            out[f"{base}.weight"] = g * v / v.norm(dim=dims, keepdim=True)
    return out


def meta_shapes(make_model: Callable[[], nn.Module]) -> dict[str, tuple[int, ...]]:
    """`checkpoint_shapes` of the model `make_model()` builds on the meta device."""
    with torch.device("meta"):
        model = make_model()
    return checkpoint_shapes(model)


# Keys a transformers config's `to_dict()` carries about the file or the run, not the architecture.
_RUN_KEYS = ("transformers_version", "_name_or_path", "dtype", "torch_dtype")


def config_values(config) -> dict[str, Any]:
    """A transformers config object's values without the keys about its file or run (version, path, dtype)."""
    values = config.to_dict()
    for key in _RUN_KEYS:
        values.pop(key, None)
    return values


# Keys a transformers config.json on the Hub carries beside the config class's own.
FILE_KEYS = ("_name_or_path", "architectures", "torch_dtype", "dtype", "transformers_version")


def model_config(config_class, config: Mapping[str, Any], *, what: str, extra_keys=(), convert=None):
    """The transformers config class built from the official `config.json` mapping; every transformers family's
    config goes through here.

    The config pattern of the native families (`config.from_config`) with transformers' class as the dataclass:
    keys that `config_class` does not know (besides the file's own `FILE_KEYS` and `extra_keys`, keys of older
    files) are refused naming them and the known ones; a value of the wrong type is refused naming its key
    (transformers' configs are `huggingface_hub` strict dataclasses that check their annotations). Omitted keys
    take the class's defaults, as in `from_pretrained`: `save_pretrained` writes only the values that differ from
    them, so the Hub files omit keys by design. `convert`, if given, maps the checked mapping onto the class's
    keys first (DAC: the dac package's own kwargs).
    """
    refuse_unknown_keys(config, {*config_class().to_dict(), *FILE_KEYS, *extra_keys}, what=what)
    values = dict(config) if convert is None else convert(dict(config))
    _check_sub_configs(values, what=what)
    return _strict(lambda: config_class(**values), what=what)


def _check_sub_configs(values: Mapping[str, Any], *, what: str) -> None:
    """Type-check each sub-config (a mapping with a `model_type`, as X-Codec's semantic and acoustic models) with
    its own config class: a composite config reads values of its sub-configs before they are validated."""
    from transformers import CONFIG_MAPPING

    for key, value in values.items():
        if isinstance(value, Mapping) and value.get("model_type") in CONFIG_MAPPING:
            sub_class = CONFIG_MAPPING[value["model_type"]]
            sub_values = {k: v for k, v in value.items() if k != "model_type"}
            _strict(lambda cls=sub_class, kwargs=sub_values: cls(**kwargs), what=what, prefix=f"{key}.")


def _strict(make: Callable[[], Any], *, what: str, prefix: str = ""):
    """`make()`, a transformers config; its strict-dataclass validation error as a `CodecConfigError` naming the key."""
    from huggingface_hub.errors import StrictDataclassError

    try:
        return make()
    except StrictDataclassError as error:
        lines = str(error).splitlines()
        field = re.search(r"field '([^']+)'", lines[0])
        detail = re.sub(r"^\w+Error: ", "", lines[-1].strip())
        raise CodecConfigError(f"{what}: {f'`{prefix}{field[1]}`: ' if field else ''}{detail}") from None


def checked_bandwidth(name: str, bandwidth: float, target_bandwidths) -> float:
    """`bandwidth` (kbps) as the config spells it (transformers checks membership against its own numbers);
    refused, with the valid ones, when the model was not trained for it."""
    match = [b for b in target_bandwidths if float(b) == float(bandwidth)]
    if not match:
        raise CodecConfigError(f"{name}: bandwidth={bandwidth!r} kbps is not one this model was trained for; "
                               f"valid: {', '.join(f'{float(b):g}' for b in target_bandwidths)}.")
    return match[0]


def build_codec(codec_class, spec, model: nn.Module, state_dict: Mapping[str, torch.Tensor] | None, runtime, *,
                loader: Callable[..., None] = load, **codec_options):
    """The `build` of the transformers families (EnCodec, Mimi, X-Codec): `codec_class(spec, model, runtime,
    **codec_options)` with a checkpoint-layout `state_dict` loaded strictly by `loader` (`load`, or a family's own);
    `None` keeps the random initial weights and draws the k-means codebooks that transformers leaves at zero
    (`draw_codebooks`)."""
    if state_dict is not None:
        loader(model, state_dict, source=f"{spec.name} checkpoint")
    codec = codec_class(spec, model, runtime, **codec_options)
    if state_dict is None:
        draw_codebooks(codec)
    return codec


# transformers' k-means codebooks (`<Model>EuclideanCodebook`: EnCodec's, Mimi's, X-Codec's, and the families that
# mirror one), which it initialises to zeros (the released models learnt theirs).
_CODEBOOK_SUFFIX = "EuclideanCodebook"


def draw_codebooks(codec) -> None:
    """Codewords for a random-weight codec whose codebooks transformers leaves at zero (EnCodec, Mimi, X-Codec).

    With zero codebooks every frame quantises to codeword 0, so a random-weight build (a smoke run) gives
    the decoder the same input for every utterance and never exercises the quantiser. Here the codewords
    are drawn as a k-means initialisation draws them, from the data: one second of noise from the
    current generator (seeded by `registry.load`) goes through the codec while each codebook records
    what it is asked to quantise (all of it, since zero codewords leave the whole latent to every
    stage); each codebook then gets normal entries of that input's spread per dimension, around its
    mean for the first stage of a residual chain (`....0.codebook`) and around zero for the
    later ones, which quantise what the earlier stages leave. Stages the codec's bitrate does not use
    keep their zeros.
    """
    if any(parameter.is_meta for parameter in codec.model.parameters()):
        return  # built for its shapes only (on the meta device): nothing to draw
    books = {name: module for name, module in codec.model.named_modules()
             if type(module).__name__.endswith(_CODEBOOK_SUFFIX)}
    if not books:
        return  # continuous latents, or a scalar quantiser's fixed grid: no codebook to draw
    seen: dict[str, torch.Tensor] = {}

    def recording(name, book):
        def encode(hidden_states):
            seen.setdefault(name, hidden_states.detach().reshape(-1, hidden_states.shape[-1]).float().cpu())
            return type(book).encode(book, hidden_states)
        return encode

    for name, book in books.items():
        book.encode = recording(name, book)  # on the instance: the class and other models are untouched
    try:
        noise = 0.1 * torch.randn(1, codec.sample_rate)
        codec.resynthesize(noise, torch.tensor([noise.shape[1]]))
    finally:
        for book in books.values():
            del book.encode
    with torch.no_grad():
        for name, book in books.items():
            if name not in seen:
                continue
            latent = seen[name]
            center = latent.mean(0) if name.endswith(".0.codebook") else torch.zeros(latent.shape[1])
            key = "embed_sum" if "embed_sum" in book._buffers else "embed"  # Mimi keeps sums and usage counts
            buffer = book._buffers[key]
            buffer.copy_((center + latent.std(0) * torch.randn(buffer.shape)).to(buffer.device))
            if key == "embed_sum":
                book._buffers["cluster_usage"].fill_(1.0)
                book._embed = None  # Mimi's cached codewords
            else:
                book._buffers["embed_avg"].copy_(buffer)


def resynthesize_alone(codec, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`codec.decode(codec.encode(item))` of each utterance of a padded batch on its own, cut to its rule's length
    (`codec.output_length`, in samples at `codec.output_rate`)."""
    wanted = [codec.output_length(int(n)) for n in lengths]
    out = torch.zeros(waves.shape[0], max(wanted), device=waves.device)
    for i, n in enumerate(int(n) for n in lengths):
        audio = codec.decode(codec.encode(waves[i, :n]))[: wanted[i]]
        out[i, : audio.shape[0]] = audio
    return out

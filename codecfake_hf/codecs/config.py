"""The config pattern of the native codec families: an official config mapping -> a frozen dataclass.

Each family that runs its own network (SpeechTokenizer, AcademiCodec, AudioDec, FunCodec) describes the keys of
its official config file that shape the model as a frozen dataclass (at the top of its `codec.py`, or in its
`config.py` where its network modules take the dataclass) and reads the file's mapping with `from_config`: one
place that refuses unknown keys, names missing ones and checks the type of each value from the dataclass's
annotations (standard library only: `dataclasses.fields`, `typing`). The dataclass's own `__post_init__` then
checks what relates fields to each other. The transformers families do the same with transformers' config
classes (`transformers_weights.model_config`)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from ..errors import CodecConfigError

T = TypeVar("T")


def refuse_unknown_keys(config: Mapping[str, Any], known: Iterable[str], *, what: str) -> None:
    """Raise `CodecConfigError` naming the keys of `config` outside `known` (and the known ones).

    Official config files carry training options too; `known` holds every key of the official files, so
    only a key that no official config has (a typo, another model's option) is refused.
    """
    known = set(known)
    unknown = sorted(set(config) - known)
    if unknown:
        raise CodecConfigError(f"{what}: unknown option(s) {', '.join(map(repr, unknown))}; "
                               f"known: {', '.join(sorted(known))}.")


def from_config(cls: type[T], config: Mapping[str, Any], *, what: str, ignored: Iterable[str] = (),
                hints: Mapping[str, Any] | None = None) -> T:
    """The frozen dataclass `cls` built from the official config mapping `config`.

    Args:
        cls: a dataclass whose fields are the config keys that shape the model; a field without a default is a
            key every official file holds (required), a field with one takes upstream's default when omitted.
        config: the official file's mapping (JSON or YAML as read).
        what: names the config in messages (e.g. "SpeechTokenizer config").
        ignored: keys of the official files that only training reads: accepted and dropped (as are those of the
            class attribute `TRAINING_KEYS`, where `cls` lists them itself).
        hints: annotations that replace the fields' own for this call (FunCodec: the dataclass of `encoder_conf`
            depends on the `encoder` it configures). A field annotated with a dataclass reads its mapping with
            `from_config` too, its messages naming the section.

    Raises:
        CodecConfigError: naming the keys that are neither fields nor `ignored` (and the known ones), the
            required keys that are missing, or the key whose value has the wrong type. Lists become tuples,
            integers are accepted where a float is expected; nothing else is converted (a string is not a number).
    """
    if not isinstance(config, Mapping):
        raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    refuse_unknown_keys(config, {*fields, *ignored, *getattr(cls, "TRAINING_KEYS", ())}, what=what)
    missing = [name for name, field in fields.items() if name not in config and _required(field)]
    if missing:
        raise CodecConfigError(f"{what} lacks {', '.join(f'`{key}`' for key in missing)}, which the official config "
                               "file holds; add it (see the family's default_config).")
    hints = {**_hints(cls), **(hints or {})}
    values = {name: coerce(config[name], hints[name], key=name, what=what) for name in fields if name in config}
    return cls(**values)


def lightning_cli_parts(config: Mapping[str, Any], *, experiment: str, parts: Mapping[str, tuple[str, type]],
                        experiment_training_keys: Iterable[str], file_training_keys: Iterable[str],
                        default_sample_rate: int, what: str) -> tuple[int, dict[str, Any]]:
    """The model of a Lightning CLI config file in the Vocos experiment layout (WavTokenizer's, LanguageCodec's):
    `model: {class_path: <experiment>, init_args: {sample_rate, <part>: {class_path, init_args}, ...}}`.

    Args:
        config: the file's mapping.
        experiment: the `model.class_path` the family builds.
        parts: `init_args` key -> (its `class_path`, the frozen dataclass its `init_args` fill, read by
            `from_config`).
        experiment_training_keys: the experiment's other `init_args` (losses, optimiser, ...): accepted, ignored.
        file_training_keys: the file's other top-level sections (data, trainer, ...): accepted, ignored.
        default_sample_rate: the experiment's `sample_rate` default, where the file omits it.
        what: names the config in messages.

    Returns:
        (sample rate, {part: its dataclass}).
    """
    if not isinstance(config, Mapping):
        raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
    file_training_keys = tuple(file_training_keys)

    def part_of(mapping: Mapping[str, Any], key: str, class_path: str) -> Mapping:
        if key not in mapping:
            raise CodecConfigError(f"{what} lacks `{key}`, which the official config file holds; add it (see the "
                                   "family's default_config).")
        part = mapping[key]
        if not isinstance(part, Mapping):
            raise CodecConfigError(f"{what}: `{key}` is a {type(part).__name__}, not a mapping.")
        unknown = sorted(set(part) - {"class_path", "init_args"})
        if unknown:
            raise CodecConfigError(f"{what}: unknown option(s) {', '.join(map(repr, unknown))} in `{key}`; known: "
                                   "class_path, init_args.")
        if part.get("class_path") != class_path:
            raise CodecConfigError(f"{what}: `{key}.class_path` is {part.get('class_path')!r}; this family builds "
                                   f"{class_path!r}.")
        return part

    unknown = sorted(set(config) - {"model", *file_training_keys})
    if unknown:
        raise CodecConfigError(f"{what}: unknown section(s) {', '.join(map(repr, unknown))}; known: "
                               f"{', '.join(['model', *file_training_keys])}.")
    init_args = part_of(config, "model", experiment).get("init_args")
    if not isinstance(init_args, Mapping):
        raise CodecConfigError(f"{what}: `model.init_args` is a {type(init_args).__name__}, not a mapping.")
    known = {"sample_rate", *parts, *experiment_training_keys}
    unknown = sorted(set(init_args) - known)
    if unknown:
        raise CodecConfigError(f"{what}: unknown option(s) {', '.join(map(repr, unknown))} in `model.init_args`; "
                               f"known: {', '.join(sorted(known))}.")
    read = {name: from_config(cls, part_of(init_args, name, class_path).get("init_args", {}),
                              what=f"{what} `model.init_args.{name}.init_args`")
            for name, (class_path, cls) in parts.items()}
    sample_rate = init_args.get("sample_rate", default_sample_rate)
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool):
        raise CodecConfigError(f"{what}: `sample_rate` must be an integer, got {sample_rate!r}.")
    return sample_rate, read


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def coerce(value: Any, hint: Any, *, key: str, what: str) -> Any:
    """`value` as the annotation `hint` wants it (list -> tuple, int -> float), or a `CodecConfigError` naming `key`.

    Supported annotations: `Any`, `bool`, `int`, `float`, `str`, `dict` / `Mapping[...]`, `tuple[X, ...]`,
    `tuple[X, Y]`, `Literal[...]`, unions of these (`X | None`), and a dataclass (read from a mapping).
    """
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return from_config(hint, value, what=f"{what} `{key}`")
    try:
        return _coerce(value, hint)
    except _Mismatch:
        raise CodecConfigError(f"{what}: `{key}` must be {_describe(hint)}, got {value!r} "
                               f"({type(value).__name__}).") from None


class _Mismatch(Exception):
    pass


def _coerce(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                try:
                    return _coerce(value, arg)
                except _Mismatch:
                    pass
        raise _Mismatch
    if origin is typing.Literal:
        if any(value == arg and type(value) is type(arg) for arg in args):
            return value
        raise _Mismatch
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if hint is dict or origin in (dict, Mapping):
        if isinstance(value, Mapping):
            return dict(value)
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0]) for item in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_coerce(item, arg) for item, arg in zip(value, args, strict=True))
    raise TypeError(f"config.py: annotation {hint!r} is not supported")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} values ({', '.join(_describe(arg) for arg in args)})"
    if hint is dict or origin in (dict, Mapping):
        return "a mapping"
    if hint is type(None):
        return "null"
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {hint.__name__} options"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, repr(hint))


def _plural(hint: Any) -> str:
    described = _describe(hint)
    if described.startswith("a list of "):
        return "lists of " + described[len("a list of "):]
    for article in ("an ", "a "):
        if described.startswith(article):
            return described[len(article):] + "s"
    return described

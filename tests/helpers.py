"""Helpers shared by the codec tests (fixtures stay in conftest.py): checkpoint bytes and Hub-layout files."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import io
import json

import torch
import yaml

from codecfake_hf import codecs

# The families whose configs are transformers' config classes (their Hub files are in transformers' format).
TRANSFORMERS_FAMILIES = ("encodec", "dac", "mimi", "xcodec")


def torch_save_bytes(obj) -> bytes:
    """What `torch.save(obj, path)` would write, as bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def funcodec_hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.yaml and model.pth as FunCodec's Hub repositories hold them (the tiny model by default)."""
    return {"config.yaml": yaml.safe_dump(config if config is not None else fixture.tiny_config),
            "model.pth": torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}


def speechtokenizer_hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.json and SpeechTokenizer.pt under the repository's `speechtokenizer_hubert_avg/`."""
    config_file, checkpoint_file = codecs.spec("SpeechTokenizer").hub_files
    return {config_file: json.dumps(config if config is not None else fixture.tiny_config),
            checkpoint_file: torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}


def audiodec_trainer_checkpoint(generator: dict) -> bytes:
    """A checkpoint as AudioDec's trainer saves it: model, optimizer and scheduler states, steps, epochs."""
    probe = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-4, betas=(0.5, 0.9))
    probe(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=200000, gamma=1.0)
    multi_step = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[200000, 400000], gamma=0.5)
    return torch_save_bytes({
        "optimizer": {"generator": optimizer.state_dict(), "discriminator": optimizer.state_dict()},
        "scheduler": {"generator": step_lr.state_dict(), "discriminator": multi_step.state_dict()},
        "steps": 500000,
        "epochs": 17,
        "model": {"generator": generator, "discriminator": {"msd.weight": torch.zeros(2, 2)}},
    })


def audiodec_hub_files(fixture) -> dict[str, bytes]:
    """The tiny model as the official repository's files: trainer .pkl checkpoints and config.yml per part."""
    files = {}
    for path in codecs.spec("audiodec_24k_320d").hub_files:
        part = path.split("/")[0]
        if path.endswith(".yml"):
            model_type = "symAudioDec" if part == "autoencoder" else "HiFiGAN"
            config = {"model_type": model_type, "sampling_rate": 24000, "batch_length": 9600,
                      "generator_params": fixture.tiny_config[f"{part}_generator_params"]}
            files[path] = yaml.safe_dump(config).encode()
        else:
            prefix = f"{part}.generator."
            generator = {k.removeprefix(prefix): v for k, v in fixture.weights().items() if k.startswith(prefix)}
            files[path] = audiodec_trainer_checkpoint(generator)
    return files


def academicodec_hub_files(name: str, fixture) -> dict[str, bytes]:
    """The repository's one checkpoint file `{generator, encoder, quantizer}` (its config lives in the code)."""
    from codecfake_hf.codecs.academicodec import codec as academicodec

    nested = {part: {k.removeprefix(f"{part}."): v for k, v in fixture.weights().items() if k.startswith(f"{part}.")}
              for part in academicodec.CHECKPOINT_PARTS}
    return {codecs.spec(name).hub_files[0]: torch_save_bytes({**nested, "steps": 1_000_000})}


def hub_layout(name: str, fixture) -> tuple[dict[str, bytes | str], str]:
    """(files of the official Hub repository holding `name`'s tiny fixture model, the checkpoint file among them).

    AcademiCodec's repository holds only the checkpoint; its config comes from the code, so a test of this
    layout also has to make `default_config` return the tiny config (see `tiny_official_config`).
    """
    family = codecs.spec(name).family
    if family in TRANSFORMERS_FAMILIES:  # transformers' layout: config.json + model.safetensors
        files = {"config.json": (fixture.tiny_dir / "config_transformers.json").read_bytes(),
                 "model.safetensors": (fixture.tiny_dir / "weights_transformers.safetensors").read_bytes()}
        return files, "model.safetensors"
    if family == "speechtokenizer":
        files = speechtokenizer_hub_files(fixture)
    elif family == "funcodec":
        files = funcodec_hub_files(fixture)
    elif family == "audiodec":
        files = audiodec_hub_files(fixture)
    elif family == "academicodec":
        files = academicodec_hub_files(name, fixture)
    else:
        raise NotImplementedError(f"tests/helpers.py: no Hub layout for the {family!r} family yet")
    checkpoint = next(path for path in files if not path.endswith((".json", ".yaml", ".yml")))
    return files, checkpoint


def tiny_official_config(monkeypatch, name: str, fixture) -> None:
    """Make the official config of a family whose Hub repository holds no config (AcademiCodec) the tiny one."""
    if codecs.spec(name).family == "academicodec":
        from codecfake_hf.codecs.academicodec import codec as academicodec

        monkeypatch.setattr(academicodec, "default_config", lambda spec: dict(fixture.tiny_config))


def with_unknown_option(name: str, config: dict, key: str = "volume_knob") -> dict:
    """`config` with `key` added where the family reads its model options (AudioDec: generator_params)."""
    config = copy.deepcopy(config)
    family = codecs.spec(name).family
    if family == "audiodec":
        config["autoencoder_generator_params"][key] = 11
    elif family == "funcodec":  # the top level of its config.yaml is the trainer's dump: only sections are checked
        config["model_conf"] = {**(config.get("model_conf") or {}), key: 11}
    else:
        config[key] = 11
    return config


# Per family, where a key that shapes the model sits in its config (a path into the official format, the
# fixtures' short form for AudioDec): an integer in every family. FunCodec's `encoder_conf` keys take upstream's
# defaults when omitted, so its required key is the top-level `input_size`.
ARCHITECTURE_KEYS = {
    "speechtokenizer": ("n_filters",),
    "academicodec": ("n_codes",),
    "audiodec": ("autoencoder_generator_params", "code_dim"),
    "funcodec": ("encoder_conf", "n_filters"),
    "encodec": ("hidden_size",),
    "dac": ("encoder_hidden_size",),
    "mimi": ("hidden_size",),
    "xcodec": ("semantic_model_config", "hidden_size"),
}
REQUIRED_KEYS = {**ARCHITECTURE_KEYS, "funcodec": ("input_size",)}
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


def official_key_shapes(name: str, fixture) -> dict[str, tuple[int, ...]]:
    """The manifest's official state dict in the naming our model uses (inference keys only).

    EnCodec and DAC: the manifests list the upstream packages' keys, which transformers' conversion renames
    one to one (DAC folds weight_g/weight_v into one `weight`); FunCodec: the discriminator and mel-loss
    tensors of its files are training-only and dropped by `build`.
    """
    family = codecs.spec(name).family
    shapes = fixture.official_shapes()
    if family == "encodec":
        from codecfake_hf.codecs.encodec import codec as encodec

        return {encodec.original_key(key): shape for key, shape in shapes.items()}
    if family == "dac":
        from codecfake_hf.codecs.dac import codec as dac

        renamed = {dac.original_key(key.removeprefix("state_dict.")): shape for key, shape in shapes.items()}
        return {key: shape for key, shape in renamed.items() if key is not None}
    if family == "funcodec":
        from codecfake_hf.codecs.funcodec import codec as funcodec

        return {key: shape for key, shape in shapes.items() if not key.startswith(funcodec.TRAINING_ONLY_PREFIXES)}
    if family in ("mimi", "xcodec"):  # the Hub file's layout, renamed as `from_pretrained` renames it
        import torch

        from codecfake_hf.codecs import transformers_weights

        module = importlib.import_module(f"codecfake_hf.codecs.{family}.codec")
        with torch.device("meta"):
            model = module.make_model(module.default_config(codecs.spec(name)))
        renamed = transformers_weights.model_keys(model, shapes)
        return {renamed[key]: shape for key, shape in shapes.items()}
    return shapes


# The two parity cases of every fixture: (input, reference output, reference codes) files under tiny/.
PARITY_CASES = {"noise": ("input.npy", "output.npy", "codes.npy"),
                "speech": ("speech_input.npy", "speech_output.npy", "speech_codes.npy")}


def parity_files(name: str, case: str) -> tuple[str, str, str]:
    """The fixture files of `case` for `name`'s pipeline path.

    DAC's pipeline path is the dac package's compress()/decompress(): its `output.npy` is the plain
    encode/decode of the 1 s noise input (a DAC quirk, tests/test_dac.py), so the noise case of the compress
    path is the 3 s one (`input_3s.npy`, `output_compress.npy`, `codes_compress.npy`).
    """
    if case == "noise" and codecs.spec(name).family == "dac":
        return "input_3s.npy", "output_compress.npy", "codes_compress.npy"
    return PARITY_CASES[case]

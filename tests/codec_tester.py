"""The per-family tester: what the registry-wide contract test needs to know of one codec family.

Each family folder `codecfake_hf/codecs/<family>/` has one test module, `tests/codecs/test_<family>.py`, that holds
the family's quirk tests and its `TESTER`, a `FamilyTester` (as transformers pairs a `ModelTester` with the common
tests of `ModelTesterMixin`). `tests/test_codec_contract.py` iterates over `codecs.names()`, asks `get_tester(name)` for
the family's hooks and facts, and names no family; nor does any other shared test module. A new family adds its
module and nothing else under tests/ (see docs/ARCHITECTURE.md, "Add a codec family").

What a tester gives:
- `quantiser`: where the family picks its codewords, for the near-tie check (tests/near_ties.py); `has_codes`: False
  for continuous latents (no quantiser: output-only parity, no near-tie check);
- `parity_bound`: rel. L2 of the output against the upstream reference, the fixtures' 1e-4 or tighter;
- `architecture_key` / `required_key`: where an integer that shapes the model sits in the official config
  (a wrong type must be named; a missing required key too, except in transformers configs, whose omitted keys
  take the class default: `transformers_config`);
- `hub_layout`: the official Hub repository's files holding a fixture's tiny model;
- `official_key_shapes`: the fixture manifest's official checkpoint keys in the naming our model uses, or None
  where no independent key set exists;
- `facts`: official architecture facts of each config, pinned from a source outside our code (the published
  checkpoint's key set, its config, the upstream code, transformers' conversion script), never from our builder.
- `fixture_bytes`: the size a committed upstream-made fixture may take (400 kB unless the family says why not).
- for families without a `../shared` or committed fixture (the transformers families beyond the paper):
  `tiny_overrides` and `reference`, from which tests/tiny_configs.py makes a fixture with transformers' own code.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTERS = Path(__file__).resolve().parent / "codecs"
if str(TESTERS) not in sys.path:  # the family modules import as `test_<family>`, as pytest imports them
    sys.path.insert(0, str(TESTERS))

# The two parity cases of every fixture: (input, reference output, reference codes) files under tiny/.
PARITY_CASES = {"noise": ("input.npy", "output.npy", "codes.npy"),
                "speech": ("speech_input.npy", "speech_output.npy", "speech_codes.npy")}


@dataclass(frozen=True)
class OfficialFacts:
    """Architecture facts of one official checkpoint, as the model holds it once loaded (its `state_dict()`).

    Args:
        source (str): where the numbers come from (a published file, the upstream code, a conversion script).
        parameters (int): scalars in the state dict (parameters and buffers), as the model holds it once loaded or,
            where the family's tester says so (`FamilyTester.facts_state`), as the Hub file stores it.
        tensors (int): entries of that state dict.
        shapes (Mapping[str, tuple[int, ...]]): a few keys (our model's naming) and their shapes.
        config (Mapping[str, Any]): config values that shape the model (`FamilyTester.config_value` reads them).
    """

    source: str
    parameters: int
    tensors: int
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


class FamilyTester:
    """The hooks and facts of one family; a family's `TESTER` subclasses this and sets what differs."""

    family: str = ""
    parity_bound: float = 1e-4
    # Batched against alone (rel. L2), two runs of our own code on the fixture's tiny model (test_codec_contract).
    batch_parity_bound: float = 1e-4
    quantiser: Any = None  # a near_ties.Quantiser
    architecture_key: tuple[str, ...] = ()
    required_key: tuple[str, ...] | None = None  # None: architecture_key
    transformers_config: bool = False
    facts: Mapping[str, OfficialFacts] = {}
    # Beyond-the-paper transformers families only: shrunk config values, for tests/tiny_configs.py.
    tiny_overrides: Mapping[str, Any] = {}
    # Bytes a committed fixture folder (tests/fixtures/codecs/<name>/) may take; a family whose smallest faithful
    # tiny model needs more raises it, saying why beside the number.
    fixture_bytes: int = 400_000

    def hub_layout(self, name: str, fixture) -> tuple[dict[str, bytes | str], str]:
        """(the official Hub repository's files holding `fixture`'s tiny model, the checkpoint file among them).

        Default: transformers' layout, `config.json` + `model.safetensors`, from the fixture's tiny folder
        (`config_transformers.json` + `weights_transformers.safetensors`, or, for a committed fixture of a
        transformers-format checkpoint, the manifest's tiny config + `weights.safetensors`).
        """
        if not (fixture.tiny_dir / "config_transformers.json").exists():
            files = {"config.json": json.dumps(fixture.tiny_config),
                     "model.safetensors": (fixture.tiny_dir / "weights.safetensors").read_bytes()}
            return files, "model.safetensors"
        files = {"config.json": (fixture.tiny_dir / "config_transformers.json").read_bytes(),
                 "model.safetensors": (fixture.tiny_dir / "weights_transformers.safetensors").read_bytes()}
        return files, "model.safetensors"

    def official_config_is_tiny(self, monkeypatch, name: str, fixture) -> None:
        """For a family whose Hub repository holds no config (its config lives in the code): make the official
        config the fixture's tiny one while a test loads the tiny model through the Hub layout."""

    def with_unknown_key(self, name: str, config: dict, key: str) -> dict:
        """`config` with `key` added where the family reads its model options."""
        config = copy.deepcopy(config)
        config[key] = 11
        return config

    def has_official_key_set(self, name: str) -> bool:
        """Whether `name`'s fixture manifest records the official checkpoint's key set (an upstream record; a
        fixture generated here has none, since it would come from our own builder)."""
        from conftest import fixture_source

        return fixture_source(name) != "generated"

    def official_key_shapes(self, name: str, fixture) -> dict[str, tuple[int, ...]]:
        """The fixture manifest's official state dict in our model's naming (inference keys only)."""
        return fixture.official_shapes()

    def parity_files(self, name: str, case: str) -> tuple[str, str, str]:
        """The fixture files of `case` ("noise" or "speech") for `name`'s pipeline path."""
        return PARITY_CASES[case]

    def config_value(self, codec, key: str) -> Any:
        """The value of config key `key` (dotted for nested) of a built codec, for `OfficialFacts.config`."""
        value = codec.model.config
        for part in key.split("."):
            value = value[part] if isinstance(value, Mapping) else getattr(value, part)
        return value

    def facts_state(self, codec) -> Mapping[str, Any]:
        """The state dict `facts` describe: the model's own (default), or the Hub file's layout where the facts were
        read off a converted checkpoint (`checkpoint_state`)."""
        return codec.model.state_dict()

    def has_codes(self, name: str) -> bool:
        """Whether `name` makes codes (a quantiser picks codewords) rather than continuous latents (`n_codebooks` 0,
        quantizer `continuous`: a VAE's latents). Without codes the contract compares the output alone (the fixture
        has no codes file) and the near-tie machinery does not apply; a family may override this."""
        from codecfake_hf import codecs

        return codecs.spec(name).n_codebooks > 0

    def chains(self) -> int:
        """Residual chains of the quantiser (HiFi-Codec: one per group; Mimi: semantic | acoustic)."""
        return 1

    # -- beyond-the-paper transformers families (tests/tiny_configs.py) -----------------------------------------

    def tiny_config(self, name: str) -> dict[str, Any]:
        """The official config of `name`, shrunk by `tiny_overrides` (nested sub-configs merged key by key)."""
        from codecfake_hf import codecs

        spec = codecs.spec(name)
        config = codecs.registry.family(name).default_config(spec)
        for key, value in self.tiny_overrides.items():
            if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    def checkpoint_state(self, codec) -> dict[str, Any]:
        """`codec`'s weights in the layout of its Hub file (default: what transformers' `save_pretrained` writes)."""
        from codecfake_hf.codecs import transformers_weights

        return transformers_weights.to_checkpoint(codec.model)

    def reference(self, name: str, model, wave):
        """(output `[T]`, codes `[K, frames]`, or None for continuous latents: `has_codes`) of one utterance through the
        upstream pipeline (for families whose fixture tests/tiny_configs.py generates: transformers' own feature
        extractor + model)."""
        raise NotImplementedError(f"{self.family}: no generated reference; the fixture comes from upstream code")


def get_tester(name: str) -> FamilyTester:
    """The `FamilyTester` of codec config `name`'s family (`tests/codecs/test_<family>.py`'s `TESTER`)."""
    from codecfake_hf import codecs

    family = codecs.spec(name).family
    return get_family_tester(family)


def get_family_tester(family: str) -> FamilyTester:
    try:
        module = importlib.import_module(f"test_{family}")
    except ModuleNotFoundError as error:
        if error.name != f"test_{family}":
            raise
        raise AssertionError(f"the {family!r} family has no tester: add tests/codecs/test_{family}.py with a "
                             "TESTER (see tests/codec_tester.py)") from None
    found = getattr(module, "TESTER", None)
    assert isinstance(found, FamilyTester) and found.family == family, f"tests/codecs/test_{family}.py: TESTER"
    return found

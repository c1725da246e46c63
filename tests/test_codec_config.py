"""`codecs/config.py`: the one reader of the native families' config dataclasses (what the families' tests and the
contract test do not reach: booleans where integers belong, nested lists, floats from integers)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from codecfake_hf.codecs.config import from_config
from codecfake_hf.errors import CodecConfigError


@dataclass(frozen=True)
class Example:
    size: int
    ratios: tuple[int, ...]
    pairs: tuple[tuple[int, ...], ...] = ((1, 2),)
    gain: float = 1.0
    name: str | None = None
    flag: bool = False


def test_values_take_their_annotated_types_and_training_keys_are_dropped():
    config = from_config(Example, {"size": 3, "ratios": [2, 4], "pairs": [[1, 3]], "gain": 2, "lr": 0.1},
                         what="X config", ignored=("lr",))
    assert config == Example(size=3, ratios=(2, 4), pairs=((1, 3),), gain=2.0)
    assert type(config.gain) is float


@pytest.mark.parametrize("values, message", [
    ({"size": True, "ratios": []}, "X config: `size` must be an integer, got True (bool)."),
    ({"size": 3, "ratios": [2, "4"]}, "X config: `ratios` must be a list of integers, got [2, '4'] (list)."),
    ({"size": 3, "ratios": [], "pairs": [1]}, "X config: `pairs` must be a list of lists of integers, got [1] (list)."),
    ({"size": 3, "ratios": [], "flag": 1}, "X config: `flag` must be true or false, got 1 (int)."),
    ({"size": 3, "ratios": [], "name": 5}, "X config: `name` must be a string or null, got 5 (int)."),
    ({"ratios": []}, "X config lacks `size`, which the official config file holds; add it (see the family's "
                     "default_config)."),
    ({"size": 3, "ratios": [], "volume": 1}, "X config: unknown option(s) 'volume'; known: flag, gain, lr, name, "
                                             "pairs, ratios, size."),
])
def test_a_config_that_does_not_fit_is_one_error_naming_the_key(values, message):
    with pytest.raises(CodecConfigError, match=f"^{re.escape(message)}$"):
        from_config(Example, values, what="X config", ignored=("lr",))

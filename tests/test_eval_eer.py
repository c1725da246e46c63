"""The `evaluate` metric module eval/eer: loads offline from the checkout, runs its doctests, agrees with metrics."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def eer_metric():
    evaluate = pytest.importorskip("evaluate")
    # Offline, a Hub metric cannot load; a local module must (and must pass evaluate's import check).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.chdir(ROOT)
        return evaluate.load("eval/eer")


def test_loads_offline_and_describes_itself(eer_metric):
    assert eer_metric.name == "eer"
    assert set(eer_metric.features) == {"predictions", "references"}
    assert "pos_label" in eer_metric.inputs_description and "higher = more bona fide" in eer_metric.inputs_description


def test_doctest_examples(eer_metric, monkeypatch):
    import evaluate

    monkeypatch.chdir(ROOT)  # the examples load "eval/eer" relative to the checkout
    module = sys.modules[type(eer_metric).__module__]
    result = doctest.testmod(module, extraglobs={"evaluate": evaluate}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


def test_agrees_with_compute_eer(eer_metric):
    from codecfake_hf.metrics import compute_eer

    rng = np.random.default_rng(0)
    for ties in (False, True):
        labels = rng.integers(0, 2, 400)
        labels[:2] = [0, 1]
        scores = rng.normal(0, 1, 400) - labels
        if ties:
            scores = np.round(scores, 1)
        expected = compute_eer(scores[labels == 0], scores[labels == 1])
        result = eer_metric.compute(predictions=scores, references=labels)
        assert (result["eer"], result["threshold"]) == expected
        flipped = eer_metric.compute(predictions=-scores, references=1 - labels, pos_label=1)
        assert flipped["eer"] == compute_eer(-scores[labels == 0], -scores[labels == 1])[0]


def test_space_app_loads_the_module_beside_it(monkeypatch):
    import runpy

    import evaluate.utils

    launched = []
    monkeypatch.setattr(evaluate.utils, "launch_gradio_widget", launched.append)  # no gradio needed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(ROOT / "eval" / "eer")  # a Space runs app.py from the repository root
    runpy.run_path("app.py")
    assert [module.name for module in launched] == ["eer"]


def test_bad_input_is_one_clear_error(eer_metric):
    from codecfake_hf.errors import CodecFakeError

    with pytest.raises(CodecFakeError, match="no spoof trials"):
        eer_metric.compute(predictions=[0.1, 0.2], references=[0, 0])
    with pytest.raises(CodecFakeError, match="NaN"):
        eer_metric.compute(predictions=[0.1, float("nan")], references=[0, 1])


def test_metric_card_examples(eer_metric, monkeypatch):
    import evaluate

    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "eval" / "eer" / "README.md"), module_relative=False,
                              globs={"evaluate": evaluate}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4
    assert result.failed == 0


def test_metric_card_has_the_sections_of_evaluate_cards():
    card = (ROOT / "eval" / "eer" / "README.md").read_text()
    assert card.startswith("---\n")
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values",
                    "### Values from Popular Papers", "## Examples", "## Limitations and Bias", "## Citation",
                    "## Further References"):
        assert section in card

"""The `evaluate` metric module eval/eer: stands alone (numpy only), loads offline, runs its doctests."""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import subprocess
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
    from codecfake_hf.metrics import compute_eer, detection_measures

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
        measures = detection_measures(scores[labels == 0], scores[labels == 1])
        for name in ("min_dcf", "act_dcf", "cllr"):  # the ASVspoof 5 measures, as the library computes them
            assert result[name] == pytest.approx(measures[name], abs=1e-12), name
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
    with pytest.raises(ValueError, match="no spoof trials"):
        eer_metric.compute(predictions=[0.1, 0.2], references=[0, 0])
    with pytest.raises(ValueError, match="NaN"):
        eer_metric.compute(predictions=[0.1, float("nan")], references=[0, 1])
    with pytest.raises(ValueError, match="`method` must be"):
        eer_metric.compute(predictions=[0.1, 0.2], references=[0, 1], method="roc")


def test_info_names_homepage_codebase_and_licence(eer_metric):
    assert eer_metric.homepage.startswith("https://")
    assert eer_metric.license == "apache-2.0"
    assert any("asvspoof" in url for url in eer_metric.codebase_urls)


def test_space_requirements_are_published_packages():
    lines = (ROOT / "eval" / "eer" / "requirements.txt").read_text().splitlines()
    names = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0] for line in lines if line and not line.startswith("#")}
    assert names == {"evaluate", "numpy"}  # nothing unpublished (codecfake-hf is not on PyPI)


def _tie_heavy_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Score sets where the published algorithm and a threshold sweep differ: many exact ties."""
    rng = np.random.default_rng(14)
    sets = {
        "saturated": (np.concatenate((np.ones(40), rng.uniform(0, 1, 10))),
                      np.concatenate((np.ones(25), rng.uniform(0, 1, 200)))),
        "rounded": (np.round(rng.normal(1, 1, 300), 1), np.round(rng.normal(0, 1, 900), 1)),
        "two_values": (rng.integers(0, 2, 64).astype(float), rng.integers(0, 2, 96).astype(float)),
        "all_tied": (np.zeros(7), np.zeros(5)),
        "tiny": (np.array([1.0, 1.0]), np.array([1.0, 0.0])),
        "continuous": (rng.normal(2, 1, 500), rng.normal(0, 1, 1500)),
    }
    return sets


_STANDALONE = """
import json
import sys

import numpy as np

sys.modules["codecfake_hf"] = None  # whatever is installed, importing it now fails
try:
    import codecfake_hf  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("codecfake_hf is importable")

import evaluate

metric = evaluate.load(sys.argv[1])
sets = np.load(sys.argv[2])
out = {}
for name in sorted({key.rsplit("_", 1)[0] for key in sets.files}):
    bonafide, spoof = sets[name + "_bonafide"], sets[name + "_spoof"]
    scores = np.concatenate((bonafide, spoof))
    labels = np.concatenate((np.zeros(bonafide.size, int), np.ones(spoof.size, int)))
    for method in ("asvspoof", "sweep", "rocch"):
        result = metric.compute(predictions=scores, references=labels, method=method)
        out[f"{name}/{method}"] = [result["eer"].hex(), result["threshold"].hex()]
print(json.dumps({"module": type(metric).__module__, "results": out}))
"""


def test_copy_of_the_folder_stands_alone_and_equals_metrics(tmp_path):
    """Done-when of issue 14: eval/eer/ copied elsewhere, codecfake_hf unimportable, same bits as the library."""
    from codecfake_hf.metrics import compute_eer

    folder = shutil.copytree(ROOT / "eval" / "eer", tmp_path / "copy" / "eer")
    sets = _tie_heavy_sets()
    arrays = {f"{name}_{kind}": values for name, (bonafide, spoof) in sets.items()
              for kind, values in (("bonafide", bonafide), ("spoof", spoof))}
    np.savez(tmp_path / "sets.npz", **arrays)
    (tmp_path / "run.py").write_text(_STANDALONE)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_MODULES_CACHE=str(tmp_path / "modules"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(folder), str(tmp_path / "sets.npz")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["module"].rsplit(".", 1)[-1] == "eer"
    assert len(report["results"]) == 3 * len(sets)
    for key, (eer_hex, threshold_hex) in report["results"].items():
        name, method = key.split("/")
        eer, threshold = compute_eer(*sets[name], method=method)
        assert (float.fromhex(eer_hex), float.fromhex(threshold_hex)) == (eer, threshold), key
    # The sets are tie-heavy indeed: the published algorithm and the sweep disagree on some.
    assert any(report["results"][f"{name}/asvspoof"] != report["results"][f"{name}/sweep"] for name in sets)


def test_module_imports_nothing_of_the_project():
    source = (ROOT / "eval" / "eer" / "eer.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"datasets", "evaluate", "numpy"}


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

"""Issue 24: a saved AASIST, AASIST-L or W2V2-AASIST carries its code (`auto_map`), so a user without codecfake-hf
loads it with `trust_remote_code=True`, as transformers' convention for models outside the library asks.

The user is a subprocess in a venv where `codecfake_hf` is not installed (tests/venvs.py); the model is the real
AASIST-L (clovaai/aasist's weights, ../shared) converted by `convert-aasist`, and a small W2V2-AASIST.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import torch
from conftest import rel_l2
from test_detectors import FAST_ROWS, tiny_w2v2_aasist_config
from test_eval import run_cli
from transformers import AutoModelForAudioClassification
from venvs import bare_venv, outside_env

from codecfake_hf.detectors import AasistFeatureExtractor, W2V2AasistForAudioClassification

MODEL_FILES = {"configuration_aasist.py", "modeling_aasist.py", "feature_extraction_aasist.py"}

# What a user runs: no codecfake_hf anywhere, the Auto classes and the pipeline with trust_remote_code=True.
USER = r"""
import importlib.util, json, sys
import numpy as np, torch
from transformers import AutoModelForAudioClassification, pipeline

assert importlib.util.find_spec("codecfake_hf") is None, "codecfake_hf is importable here"
torch.set_num_threads(1)
aasist, w2v2, work = sys.argv[1:4]
inputs = np.load(f"{work}/inputs.npy")
found = {}
for name, folder in (("aasist", aasist), ("w2v2", w2v2)):
    model = AutoModelForAudioClassification.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        np.save(f"{work}/{name}.npy", model(torch.from_numpy(inputs)).logits.numpy())
    found[name] = type(model).__module__
detector = pipeline("audio-classification", model=aasist, trust_remote_code=True)
found["pipeline"] = detector({"raw": inputs[0], "sampling_rate": 16000})
found["loaded"] = sorted(name for name in sys.modules if name.split(".")[0] == "codecfake_hf")
print(json.dumps(found))
"""


def _logits(model, inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(inputs)).logits.numpy()


def test_saved_detectors_load_without_codecfake_hf_with_the_same_logits(shared, tmp_path):
    aasist = shared / "detector-fixtures" / "aasist"
    converted = tmp_path / "aasist-l"
    assert run_cli("convert-aasist", "--checkpoint", aasist / "AASIST-L.pth", "--model_config",
                   aasist / "AASIST-L.model_config.json", "--output_dir", converted) == 0
    assert MODEL_FILES | {"LICENSE"} <= {path.name for path in converted.iterdir()}
    config = json.loads((converted / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_aasist.AasistConfig",
                                  "AutoModelForAudioClassification": "modeling_aasist.AasistForAudioClassification"}
    preprocessor = json.loads((converted / "preprocessor_config.json").read_text())
    assert preprocessor["auto_map"] == {"AutoFeatureExtractor": "feature_extraction_aasist.AasistFeatureExtractor"}
    assert "trust_remote_code=True" in (converted / "README.md").read_text()

    torch.manual_seed(0)
    w2v2 = W2V2AasistForAudioClassification(tiny_w2v2_aasist_config())
    w2v2.save_pretrained(tmp_path / "w2v2")
    AasistFeatureExtractor(max_length=8000).save_pretrained(tmp_path / "w2v2")
    assert MODEL_FILES | {"modeling_w2v2_aasist.py"} <= {path.name for path in (tmp_path / "w2v2").iterdir()}

    inputs = np.load(aasist / "inputs.npy")[FAST_ROWS]
    np.save(tmp_path / "inputs.npy", inputs)
    ours = _logits(AutoModelForAudioClassification.from_pretrained(converted), inputs)
    ours_w2v2 = _logits(w2v2, inputs)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = bare_venv(tmp_path / "venv")
    user = subprocess.run([str(python), "-c", USER, str(converted), str(tmp_path / "w2v2"), str(tmp_path)],
                          cwd=elsewhere, env=outside_env(HF_MODULES_CACHE=str(tmp_path / "modules")),
                          capture_output=True, text=True, timeout=300)
    assert user.returncode == 0, user.stderr[-3000:]
    found = json.loads(user.stdout.strip().splitlines()[-1])
    assert found["loaded"] == []
    assert found["aasist"].startswith("transformers_modules.") and found["aasist"].endswith(".modeling_aasist")
    assert found["w2v2"].endswith(".modeling_w2v2_aasist")
    # the same logits as in the project, and the published detector's (clovaai/aasist's own outputs)
    remote = np.load(tmp_path / "aasist.npy")
    np.testing.assert_allclose(remote, ours, rtol=0, atol=1e-6)
    assert rel_l2(remote, np.load(aasist / "logits_AASIST-L.npy")[FAST_ROWS][:, [1, 0]]) <= 1e-4
    np.testing.assert_allclose(np.load(tmp_path / "w2v2.npy"), ours_w2v2, rtol=0, atol=1e-6)
    # the pipeline's bona fide probability is the softmax of those logits
    scores = {entry["label"]: entry["score"] for entry in found["pipeline"]}
    expected = torch.softmax(torch.from_numpy(ours[0]).double(), dim=0).numpy()
    assert abs(scores["bonafide"] - expected[0]) < 1e-6 and abs(scores["spoof"] - expected[1]) < 1e-6

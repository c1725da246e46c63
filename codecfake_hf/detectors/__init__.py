"""Anti-spoofing detectors as transformers models: AASIST / AASIST-L (clovaai/aasist weights) and W2V2-AASIST.

Importing this package registers them with `AutoConfig`, `AutoModelForAudioClassification` and
`AutoFeatureExtractor`, so `from_pretrained`, `Trainer`, `pipeline("audio-classification")` and
`push_to_hub` need nothing special:

    import codecfake_hf.detectors
    from transformers import pipeline
    model = codecfake_hf.detectors.aasist_from_original("AASIST.pth", "AASIST.conf")
    model.save_pretrained("aasist"); codecfake_hf.detectors.AasistFeatureExtractor().save_pretrained("aasist")
    pipeline("audio-classification", model="aasist")("speech.wav")   # bonafide / spoof

It also registers them for `register_for_auto_class`: `save_pretrained` then copies the four model files
(`configuration_aasist.py`, `feature_extraction_aasist.py`, `modeling_aasist.py`, and `modeling_w2v2_aasist.py`
for W2V2-AASIST) beside the weights and writes `auto_map` into `config.json` and `preprocessor_config.json`,
transformers' convention for models outside the library. Anyone can then load a saved folder or Hub repo
without codecfake-hf installed:

    AutoModelForAudioClassification.from_pretrained("ORG/aasist-l", trust_remote_code=True)
    pipeline("audio-classification", model="ORG/aasist-l", trust_remote_code=True)

Those four files therefore import only torch, numpy, transformers and each other (`original.py`, which reads
upstream checkpoints, stays on this side).
"""

from __future__ import annotations

from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification

from .configuration_aasist import (
    AASIST_L_MODEL_CONFIG,
    AASIST_MODEL_CONFIG,
    BONAFIDE_SPOOF,
    AasistConfig,
    W2V2AasistConfig,
)
from .feature_extraction_aasist import AasistFeatureExtractor, cut_window
from .modeling_aasist import AasistForAudioClassification
from .modeling_w2v2_aasist import W2V2AasistForAudioClassification
from .original import aasist_from_original, read_model_config

DETECTOR_TYPES = (AasistConfig.model_type, W2V2AasistConfig.model_type)


def _register() -> None:
    for config, model in ((AasistConfig, AasistForAudioClassification),
                          (W2V2AasistConfig, W2V2AasistForAudioClassification)):
        AutoConfig.register(config.model_type, config, exist_ok=True)
        AutoModelForAudioClassification.register(config, model, exist_ok=True)
        AutoFeatureExtractor.register(config, AasistFeatureExtractor, exist_ok=True)
        # saved models carry their code and `auto_map` (loadable with trust_remote_code=True, without us)
        config.register_for_auto_class()
        model.register_for_auto_class("AutoModelForAudioClassification")
    AasistFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")


_register()

__all__ = [
    "AASIST_L_MODEL_CONFIG",
    "AASIST_MODEL_CONFIG",
    "BONAFIDE_SPOOF",
    "DETECTOR_TYPES",
    "AasistConfig",
    "AasistFeatureExtractor",
    "AasistForAudioClassification",
    "W2V2AasistConfig",
    "W2V2AasistForAudioClassification",
    "aasist_from_original",
    "cut_window",
    "read_model_config",
]

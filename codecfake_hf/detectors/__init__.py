"""Anti-spoofing detectors as transformers models: AASIST / AASIST-L (clovaai/aasist weights) and W2V2-AASIST.

Importing this package registers them with `AutoConfig`, `AutoModelForAudioClassification` and
`AutoFeatureExtractor`, so `from_pretrained`, `Trainer`, `pipeline("audio-classification")` and
`push_to_hub` need nothing special:

    import codecfake_hf.detectors
    from transformers import pipeline
    model = codecfake_hf.detectors.AasistForAudioClassification.from_original("AASIST.pth", "AASIST.conf")
    model.save_pretrained("aasist"); codecfake_hf.detectors.AasistFeatureExtractor().save_pretrained("aasist")
    pipeline("audio-classification", model="aasist")("speech.wav")   # bonafide / spoof
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
from .modeling_aasist import AasistForAudioClassification, read_model_config
from .modeling_w2v2_aasist import W2V2AasistForAudioClassification

DETECTOR_TYPES = (AasistConfig.model_type, W2V2AasistConfig.model_type)


def _register() -> None:
    for config, model in ((AasistConfig, AasistForAudioClassification),
                          (W2V2AasistConfig, W2V2AasistForAudioClassification)):
        AutoConfig.register(config.model_type, config, exist_ok=True)
        AutoModelForAudioClassification.register(config, model, exist_ok=True)
        AutoFeatureExtractor.register(config, AasistFeatureExtractor, exist_ok=True)


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
    "cut_window",
    "read_model_config",
]

"""The input features of a w2v-BERT 2.0 semantic branch (X-Codec 2, NeuCodec): Kaldi-compatible log-mel filterbanks.

Both upstream codecs compute them with the feature extractor of `facebook/w2v-bert-2.0`, which is transformers'
numpy `SeamlessM4TFeatureExtractor` (X-Codec 2's `modeling_xcodec2.py` and NeuCodec's `model.py` call
`AutoFeatureExtractor.from_pretrained("facebook/w2v-bert-2.0")` on one utterance at a time): 80 mel bins of 25 ms
Povey-windowed frames every 10 ms (pre-emphasis 0.97, DC offset removed, `log` of the power spectrum through
Kaldi's mel filters from 20 Hz), each bin normalised to zero mean and unit variance over the utterance (ddof 1),
and two successive frames stacked into one 160-wide vector (50 vectors a second). transformers' own
`Xcodec2FeatureExtractor` and `NeuCodecFeatureExtractor` compute the same filterbanks with
`torchaudio.compliance.kaldi.fbank`, which cannot be installed beside the CPU torch wheel this package uses; the
numpy extractor is the one the original code ran, so it is used here as it is.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

# facebook/w2v-bert-2.0's preprocessor_config.json (SeamlessM4TFeatureExtractor).
SAMPLING_RATE = 16000
PREPROCESSOR_CONFIG = {"feature_size": 80, "num_mel_bins": 80, "padding_value": 1, "stride": 2,
                       "sampling_rate": SAMPLING_RATE}


@functools.cache
def feature_extractor():
    """facebook/w2v-bert-2.0's feature extractor: `SeamlessM4TFeatureExtractor` with its preprocessor config."""
    from transformers import SeamlessM4TFeatureExtractor

    return SeamlessM4TFeatureExtractor(**PREPROCESSOR_CONFIG)


def fbank_features(wave: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The w2v-BERT 2.0 input features of one utterance `[T]` at 16 kHz, as its feature extractor gives them.

    Args:
        wave: float samples of one utterance, any device (features are computed in numpy on the CPU).

    Returns:
        float32 `[1, frames // 2, 160]` on the CPU, with `frames = 1 + (T - 400) // 160` Kaldi frames (an odd one
        padded with the extractor's `padding_value` before the pairs are stacked).
    """
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().float().cpu().numpy()
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    return feature_extractor()(wave, sampling_rate=SAMPLING_RATE, return_tensors="pt").input_features

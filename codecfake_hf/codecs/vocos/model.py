"""Vocos's network over EnCodec tokens (gemelo-ai/vocos 0.1.0: `models.VocosBackbone`, `modules.ConvNeXtBlock`,
`AdaLayerNorm`, `heads.ISTFTHead`, `spectral_ops.ISTFT`, `feature_extractors.EncodecFeatures`), state-dict compatible
with `charactr/vocos-encodec-24khz`'s `pytorch_model.bin`.

Module names and term order follow upstream, so the file loads strictly; the backbone and the head are the shared
Vocos layers (`codecs/nn/vocos.py`); the EnCodec model inside the feature
extractor is the encodec family's (transformers' `EncodecModel`, the same 24 kHz weights vocos loads through the
`encodec` package), attached under `feature_extractor.encodec` as vocos attaches its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.vocos import ISTFTHead, VocosBackbone


class EncodecFeatures(nn.Module):
    """The EnCodec model and Vocos's own copy of its first codebooks (`codebook_weights`, one block of `bins` rows
    per codebook): the features are the sum over codebooks of the rows the codes pick."""

    def __init__(self, encodec: nn.Module, codebooks: int, bins: int, dim: int):
        super().__init__()
        self.encodec = encodec
        self.bins = bins
        self.codebook_weights = nn.Parameter(torch.zeros(codebooks * bins, dim), requires_grad=False)

    def features(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[K, B, F]` -> features `[B, dim, F]` (upstream's vectorised sum of embeddings)."""
        offsets = torch.arange(0, self.bins * len(codes), self.bins, device=codes.device)
        embeddings_idxs = codes + offsets.view(-1, 1, 1)
        features = F.embedding(embeddings_idxs, self.codebook_weights).sum(dim=0)
        return features.transpose(1, 2)


class Vocos(nn.Module):
    """Feature extractor (EnCodec + codebook embeddings), ConvNeXt backbone, ISTFT head; vocos's key layout."""

    def __init__(self, feature_extractor: EncodecFeatures, backbone: VocosBackbone, head: ISTFTHead):
        super().__init__()
        self.feature_extractor = feature_extractor
        self.backbone = backbone
        self.head = head

    def decode(self, features: torch.Tensor, bandwidth_id: torch.Tensor) -> torch.Tensor:
        """Features `[B, C, F]` -> audio `[B, F * hop]`."""
        return self.head(self.backbone(features, bandwidth_id=bandwidth_id))

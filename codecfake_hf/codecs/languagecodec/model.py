"""LanguageCodec's network: EnCodec's SEANet encoder, the masked-channel residual VQ (MCRVQ) and a Vocos decoder
(backbone + ISTFT head).

State-dict keys are those of the released Lightning checkpoint's `state_dict` (the part upstream's
`Vocos.from_pretrained0802` keeps: `feature_extractor.*`, `backbone.*`, `head.*`), less the SEANet *decoder* of
`feature_extractor.encodec.decoder.*`, which upstream builds and loads but never runs (inference decodes with the
backbone and the ISTFT head); `DECODER_PREFIX` names it so loading drops it explicitly. Module names follow
jishengpeng/Languagecodec (commit f10ffa6): `languagecodec_decoder/feature_extractors.py` (`EncodecFeatures`, whose
`encodec` is the `encodec` package's `EncodecModel` around `languagecodec_encoder`'s SEANet encoder and
`ResidualVectorQuantizer`), `languagecodec_decoder/models.py`, `modules.py`, `heads.py` and `spectral_ops.py` (the
same modules as vocos's, here `codecs/nn/vocos.py`).
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn.quantization import ResidualVectorQuantizer
from ..nn.seanet import SEANetEncoder
from ..nn.vocos import ISTFTHead, VocosBackbone
from .config import INFER_QUANTIZERS, LanguageCodecConfig

DECODER_PREFIX = "feature_extractor.encodec.decoder."


def mcrvq_encode(quantizer: ResidualVectorQuantizer, latent: torch.Tensor, n_q: int = INFER_QUANTIZERS
                 ) -> torch.Tensor:
    """Upstream's masked-channel residual VQ at inference (`LanguageVectorQuantization.forward` in
    `languagecodec_encoder/quantization/core_vq.py`, as `ResidualVectorQuantizer.infer` calls it with `n_q = 8`):
    latent `[B, D, T]` -> codes `[B, n_q, T]`.

    Quantisers 0, 1 and 2 each code one third of the latent's channels (`[:D // 3]`, `[D // 3 : 2 * D // 3]`,
    `[2 * D // 3:]`), the other channels zeroed; their codewords (whole `D`-wide rows) are summed. Quantiser 3
    codes what the three left (`latent - q0 - q1 - q2`), and each later one what the one before it left, as a
    residual VQ does. The quantised latent is the sum of all `n_q` codewords, which `ResidualVectorQuantizer.decode`
    gives from the codes.
    """
    layers = quantizer.vq.layers
    channels = latent.shape[1]
    first, second = channels // 3, 2 * channels // 3
    zeros = torch.zeros_like
    masked = (
        torch.cat((latent[:, :first], zeros(latent[:, first:])), dim=1),
        torch.cat((zeros(latent[:, :first]), latent[:, first:second], zeros(latent[:, second:])), dim=1),
        torch.cat((zeros(latent[:, :second]), latent[:, second:]), dim=1),
    )
    codes, quantized = [], []
    for layer, part in zip(layers[:3], masked, strict=True):
        codes.append(layer.encode(part))
        quantized.append(layer.decode(codes[-1]))
    residual = latent - quantized[0] - quantized[1] - quantized[2]
    for layer in layers[3:n_q]:
        codes.append(layer.encode(residual))
        residual = residual - layer.decode(codes[-1])
    return torch.stack(codes, dim=1)


class EncodecPart(nn.Module):
    """`feature_extractor.encodec`: the SEANet encoder and the VQ stack (upstream's `EncodecModel`, less its decoder).

    Args:
        config (LanguageCodecConfig): the model's config.
    """

    def __init__(self, config: LanguageCodecConfig):
        super().__init__()
        features = config.feature_extractor
        self.encoder = SEANetEncoder(**config.seanet())
        self.quantizer = ResidualVectorQuantizer(dimension=config.backbone.input_channels,
                                                 n_q=features.num_quantizers, bins=features.vq_bins)


class FeatureExtractor(nn.Module):
    """`feature_extractor`: upstream's `EncodecFeatures` (its `encodec` holds the networks).

    Args:
        config (LanguageCodecConfig): the model's config.
    """

    def __init__(self, config: LanguageCodecConfig):
        super().__init__()
        self.encodec = EncodecPart(config)


class LanguageCodecModel(nn.Module):
    """LanguageCodec: waveform -> 8 codes per frame -> waveform, as upstream's `encode_infer` + `decode` run it.

    Args:
        config (LanguageCodecConfig): the model's config.
    """

    def __init__(self, config: LanguageCodecConfig):
        super().__init__()
        self.config = config
        self.feature_extractor = FeatureExtractor(config)
        backbone = config.backbone
        self.backbone = VocosBackbone(backbone.input_channels, backbone.dim, backbone.intermediate_dim,
                                      backbone.num_layers, backbone.layer_scale_init_value,
                                      backbone.adanorm_num_embeddings)
        self.head = ISTFTHead(config.head.dim, config.head.n_fft, config.head.hop_length, config.head.padding)

    @property
    def encoder(self) -> SEANetEncoder:
        return self.feature_extractor.encodec.encoder

    @property
    def quantizer(self) -> ResidualVectorQuantizer:
        return self.feature_extractor.encodec.quantizer

    def frame_lengths(self, lengths):
        """Code frames for inputs of `lengths` samples (int or tensor): `ceil(T / hop)`."""
        return self.encoder.output_lengths(lengths)

    def encode(self, waves: torch.Tensor) -> torch.Tensor:
        """`[B, T]` at 24 kHz -> codes `[B, 8, ceil(T / hop)]` (upstream's `infer`: the first 8 quantisers)."""
        return mcrvq_encode(self.quantizer, self.encoder(waves[:, None]))

    def decode(self, codes: torch.Tensor, bandwidth_id: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, F]` -> waveform `[B, F * hop]`: the sum of the codewords is the backbone's input."""
        features = self.quantizer.decode(codes)
        return self.head(self.backbone(features, bandwidth_id=bandwidth_id))

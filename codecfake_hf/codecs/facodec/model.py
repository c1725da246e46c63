"""FACodec v2 (Amphion's `FACodecEncoderV2` + `FACodecDecoderV2`), state-dict compatible with
`ns3_facodec_encoder_v2.bin` / `ns3_facodec_decoder_v2.bin` under the prefixes `encoder.` / `decoder.`."""

from __future__ import annotations

import torch
from torch import nn

from ..nn.alias_free import Activation1d
from .config import DecoderConf, EncoderConf, FACodecConfig
from .layers import (
    CNNLSTM,
    DecoderBlock,
    EncoderBlock,
    MelSpectrogram,
    ResidualVQ,
    TransformerEncoder,
    reversed_head,
    wn_conv1d,
)

SAMPLE_RATE = 16000


class FACodecEncoderV2(nn.Module):
    """Waveform `[B, 1, T]` -> latent `[B, out_channels, frames]`, and the prosody mel features."""

    def __init__(self, conf: EncoderConf):
        super().__init__()
        d_model = conf.ngf
        blocks: list[nn.Module] = [wn_conv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in conf.up_ratios:
            d_model *= 2
            blocks.append(EncoderBlock(d_model, stride))
        blocks += [Activation1d(d_model), wn_conv1d(d_model, conf.out_channels, kernel_size=3, padding=1)]
        self.block = nn.Sequential(*blocks)
        self.mel_transform = MelSpectrogram(conf.n_fft, conf.num_mels, SAMPLE_RATE, conf.hop_size, conf.win_size,
                                            conf.fmin, conf.fmax)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)

    def get_prosody_feature(self, x: torch.Tensor, bins: int) -> torch.Tensor:
        """The first `bins` log-mel bands of `x [B, 1, T]`: `[B, bins, T // hop]` (upstream: 20)."""
        return self.mel_transform(x.squeeze(1))[:, :bins, :]


class FACodecDecoderV2(nn.Module):
    """Quantisers (prosody from the mel features, content and residual from the latent), the timbre encoder,
    and the waveform decoder; the training heads are kept for strict loading."""

    def __init__(self, conf: DecoderConf):
        super().__init__()
        self.conf = conf
        self.quantizer = nn.ModuleList([
            ResidualVQ(conf.vq_num_q_p, conf.vq_dim, conf.codebook_size_prosody, conf.codebook_dim),
            ResidualVQ(conf.vq_num_q_c, conf.vq_dim, conf.codebook_size_content, conf.codebook_dim),
        ])
        if conf.vq_num_q_r > 0:
            self.quantizer.append(ResidualVQ(conf.vq_num_q_r, conf.vq_dim, conf.codebook_size_residual,
                                             conf.codebook_dim))
        channels = conf.upsample_initial_channel
        layers: list[nn.Module] = [wn_conv1d(conf.in_channels, channels, kernel_size=7, padding=3)]
        for i, stride in enumerate(conf.up_ratios):
            layers.append(DecoderBlock(channels // 2**i, channels // 2 ** (i + 1), stride))
        output_dim = channels // 2 ** len(conf.up_ratios)
        layers += [Activation1d(output_dim), wn_conv1d(output_dim, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

        transformer = dict(layers=conf.transformer_layers, hidden=conf.transformer_hidden,
                           heads=conf.transformer_heads, filter_size=conf.transformer_filter_size,
                           kernel_size=conf.transformer_kernel_size, max_positions=conf.max_positions)
        self.timbre_encoder = TransformerEncoder(**transformer)
        self.timbre_linear = nn.Linear(conf.in_channels, conf.in_channels * 2)
        self.timbre_norm = nn.LayerNorm(conf.in_channels, elementwise_affine=False)

        d = conf.in_channels
        self.f0_predictor = CNNLSTM(d, 1, 2)
        self.phone_predictor = CNNLSTM(d, conf.phone_classes, 1)
        if conf.vq_num_q_r > 0 and conf.use_gr_residual_f0:
            self.res_f0_predictor = reversed_head(d, 1, 2)
        if conf.vq_num_q_r > 0 and conf.use_gr_residual_phone:
            self.res_phone_predictor = reversed_head(d, conf.phone_classes, 1)
        if conf.use_gr_content_f0:
            self.content_f0_predictor = reversed_head(d, 1, 2)
        if conf.use_gr_prosody_phone:
            self.prosody_phone_predictor = reversed_head(d, conf.phone_classes, 1)
        if conf.use_gr_x_timbre:
            self.x_timbre_predictor = reversed_head(d, conf.speaker_classes, 1)

        self.melspec_linear = nn.Linear(conf.prosody_bins, conf.transformer_hidden)
        self.melspec_encoder = TransformerEncoder(**transformer)

    def quantize(self, x: torch.Tensor, prosody_feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent `x [B, D, F]` and prosody mel `[B, bins, F]` -> (the quantised latent `[B, D, F]`, codes
        `[n_p + n_c + n_r, B, F]`: prosody, content, residual), as upstream's `quantize` in eval mode."""
        prosody = self.melspec_encoder(self.melspec_linear(prosody_feature.transpose(1, 2))).transpose(1, 2)
        prosody_q, prosody_codes = self.quantizer[0](prosody)
        content_q, content_codes = self.quantizer[1](x)
        out = prosody_q + content_q
        codes = [prosody_codes, content_codes]
        if len(self.quantizer) > 2:
            residual_q, residual_codes = self.quantizer[2](x - (prosody_q + content_q))
            out = out + residual_q
            codes.append(residual_codes)
        return out, torch.cat(codes)

    def speaker_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The timbre encoder's time average of the latent `[B, D, F]`: `[B, D]`."""
        return torch.mean(self.timbre_encoder(x.transpose(1, 2)).transpose(1, 2), dim=2)

    def inference(self, x: torch.Tensor, speaker_embedding: torch.Tensor) -> torch.Tensor:
        """Quantised latent `[B, D, F]` and speaker embedding `[B, D]` -> waveform `[B, 1, F * hop]`."""
        gamma, beta = self.timbre_linear(speaker_embedding).unsqueeze(2).chunk(2, 1)
        x = self.timbre_norm(x.transpose(1, 2)).transpose(1, 2)
        return self.model(x * gamma + beta)


class FACodecModel(nn.Module):
    """The two v2 networks; `state_dict()` is the two official files' under `encoder.` and `decoder.`."""

    def __init__(self, config: FACodecConfig):
        super().__init__()
        self.config = config
        self.encoder = FACodecEncoderV2(config.encoder)
        self.decoder = FACodecDecoderV2(config.decoder)

    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`wave [B, 1, T]` (T a whole number of frames) -> (quantised latent, codes `[K, B, F]`, speaker embedding).

        Upstream's README path: `enc_out = encoder(wav)`, `prosody = encoder.get_prosody_feature(wav)`,
        `vq_post_emb, vq_id, _, _, spk_embs = decoder(enc_out, prosody, eval_vq=False, vq=True)`.
        """
        latent = self.encoder(wave)
        prosody = self.encoder.get_prosody_feature(wave, self.config.decoder.prosody_bins)
        quantized, codes = self.decoder.quantize(latent, prosody)
        return quantized, codes, self.decoder.speaker_embedding(latent)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Resynthesis: `decoder.inference(vq_post_emb, spk_embs)` of `encode(wave)`."""
        quantized, _, speaker = self.encode(wave)
        return self.decoder.inference(quantized, speaker)

"""The four networks of CosyVoice 2's resynthesis, as one module whose state-dict prefixes name the release files
they come from: `speech_tokenizer.` (speech_tokenizer_v2.onnx, converted into s3tokenizer's torch naming),
`campplus.` (campplus.onnx: the graph's bytes, `campplus.onnx`, run by onnxruntime; or the torch port in
3D-Speaker's naming, which random weights build), `flow.` (flow.pt) and `hift.` (hift.pt)."""

from __future__ import annotations

import torch
from torch import nn

from .campplus import CAMPPlus
from .config import CosyVoice2Config
from .flow import (
    CausalConditionalCFM,
    CausalConditionalDecoder,
    CausalMaskedDiffWithXvec,
    UpsampleConformerEncoder,
)
from .hift import HiFTGenerator
from .tokenizer import S3TokenizerV2

# The release file each prefix's weights come from.
FILES = {"speech_tokenizer": "speech_tokenizer_v2.onnx", "campplus": "campplus.onnx", "flow": "flow.pt",
         "hift": "hift.pt"}


class CosyVoice2Resynthesis(nn.Module):
    """Speech tokenizer, speaker encoder, flow-matching decoder and HiFT vocoder of one config.

    Args:
        config (CosyVoice2Config): the architecture.
    """

    def __init__(self, config: CosyVoice2Config):
        super().__init__()
        self.config = config
        tok, spk, flow, hift = config.speech_tokenizer, config.campplus, config.flow, config.hift
        self.speech_tokenizer = S3TokenizerV2(tok.n_mels, tok.n_audio_state, tok.n_audio_head, tok.n_audio_layer)
        self.campplus = CAMPPlus(spk.feat_dim, spk.embedding_size, spk.growth_rate, spk.bn_size, spk.init_channels,
                                 spk.m_channels, spk.block_layers)
        encoder = UpsampleConformerEncoder(flow.input_size, flow.encoder.output_size, flow.encoder.attention_heads,
                                           flow.encoder.linear_units, flow.encoder.num_blocks,
                                           flow.encoder.num_up_blocks, flow.pre_lookahead_len, config.token_mel_ratio)
        est = flow.decoder.estimator
        estimator = CausalConditionalDecoder(est.in_channels, est.out_channels, est.channels, est.attention_head_dim,
                                             est.n_blocks, est.num_mid_blocks, est.num_heads)
        self.flow = CausalMaskedDiffWithXvec(flow.vocab_size, flow.input_size, flow.output_size, flow.spk_embed_dim,
                                             encoder, CausalConditionalCFM(estimator, flow.decoder.inference_cfg_rate),
                                             flow.encoder.output_size)
        self.hift = HiFTGenerator(
            in_channels=hift.in_channels, base_channels=hift.base_channels, nb_harmonics=hift.nb_harmonics,
            sampling_rate=hift.sampling_rate, nsf_alpha=hift.nsf_alpha, nsf_sigma=hift.nsf_sigma,
            nsf_voiced_threshold=hift.nsf_voiced_threshold, upsample_rates=hift.upsample_rates,
            upsample_kernel_sizes=hift.upsample_kernel_sizes, n_fft=hift.istft_params.n_fft,
            hop_len=hift.istft_params.hop_len, resblock_kernel_sizes=hift.resblock_kernel_sizes,
            resblock_dilation_sizes=hift.resblock_dilation_sizes,
            source_resblock_kernel_sizes=hift.source_resblock_kernel_sizes,
            source_resblock_dilation_sizes=hift.source_resblock_dilation_sizes, lrelu_slope=hift.lrelu_slope,
            audio_limit=hift.audio_limit, f0_cond_channels=hift.f0_predictor.cond_channels)

    @property
    def output_hop(self) -> int:
        """Output samples per token (2 mel frames × 480 at 24 kHz)."""
        return self.config.token_mel_ratio * self.hift.upsample_scale

    def tokens(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> its speech tokens `[1, N]`."""
        return self.speech_tokenizer(wave)

    def speaker(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> its CAM++ embedding `[1, spk_embed_dim]`."""
        return self.campplus(wave)

    def decode(self, tokens: torch.Tensor, embedding: torch.Tensor, noise: torch.Tensor,
               generator: torch.Generator) -> torch.Tensor:
        """Tokens `[1, N]` and a speaker embedding -> speech `[1, N × output_hop]` at `sample_rate`.

        Args:
            noise: the flow's initial noise `[1, 80, >= 2N]` (upstream's `rand_noise`).
            generator: draws the vocoder source's random phases and noise.
        """
        mel = self.flow(tokens, embedding, noise, self.config.flow.n_timesteps)
        return self.hift(mel, generator)

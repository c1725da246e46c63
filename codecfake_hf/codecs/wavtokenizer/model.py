"""WavTokenizer's network: EnCodec's SEANet encoder, one VQ codebook, and a Vocos decoder (backbone + ISTFT head).

State-dict keys are those of the official Lightning checkpoints' `state_dict` (the part upstream's
`WavTokenizer.from_pretrained0802` keeps: `feature_extractor.*`, `backbone.*`, `head.*`), less the SEANet *decoder*
of `feature_extractor.encodec.decoder.*`, which upstream builds and loads but never runs (inference decodes with the
backbone and the ISTFT head); `DECODER_PREFIX` names it so loading drops it explicitly. Module names, term order and
layer nesting follow jishengpeng/WavTokenizer's `decoder/models.py`, `decoder/modules.py`, `decoder/heads.py` and
`decoder/spectral_ops.py`.

Every module takes an optional `lengths` (valid frames per batch item): with it, each item is computed as it would be
alone (convolutions see zeros past its end, group norms and attention see only its frames, the ISTFT's overlap-add
envelope counts only its frames); without it, upstream's own operations run unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn.quantization import ResidualVectorQuantizer
from ..nn.seanet import SEANetEncoder
from .config import WavTokenizerConfig

DECODER_PREFIX = "feature_extractor.encodec.decoder."


def valid(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """`x [B, C, T]` with the steps past each item's length zeroed (what a zero-padded conv sees of an item alone)."""
    if lengths is None:
        return x
    return x * (torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[:, None, :]


class GroupNorm(nn.GroupNorm):
    """`nn.GroupNorm` over `[B, C, T]`; with `lengths`, each item's statistics over its valid steps only."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            return super().forward(x)
        batch, channels, steps = x.shape
        grouped = x.reshape(batch, self.num_groups, channels // self.num_groups, steps)
        mask = (torch.arange(steps, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[:, None, None, :]
        count = lengths.to(x.dtype)[:, None, None, None] * (channels // self.num_groups)
        mean = (grouped * mask).sum(dim=(2, 3), keepdim=True) / count
        var = (((grouped - mean) * mask) ** 2).sum(dim=(2, 3), keepdim=True) / count
        y = ((grouped - mean) / torch.sqrt(var + self.eps)).reshape(batch, channels, steps)
        return y * self.weight[:, None] + self.bias[:, None]


def normalize(channels: int) -> GroupNorm:
    """Upstream's `Normalize`: GroupNorm of 32 groups, eps 1e-6."""
    return GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """Upstream's `ResnetBlock` as `VocosBackbone` builds it (same width in and out, no time embedding).

    Args:
        channels (int): input and output channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = normalize(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=3, stride=1, padding=1)
        self.norm2 = normalize(channels)
        self.dropout = nn.Dropout(0.1)  # inference: identity
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x, lengths)
        h = h * torch.sigmoid(h)  # upstream's `nonlinearity` (swish)
        h = self.conv1(valid(h, lengths))
        h = self.norm2(h, lengths)
        h = h * torch.sigmoid(h)
        h = self.dropout(h)
        h = self.conv2(valid(h, lengths))
        return x + h


class AttnBlock(nn.Module):
    """Upstream's `AttnBlock`: single-head self-attention over time with 1x1 convolutions.

    Args:
        channels (int): input and output channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = normalize(channels)
        self.q = nn.Conv1d(channels, channels, kernel_size=1, stride=1, padding=0)
        self.k = nn.Conv1d(channels, channels, kernel_size=1, stride=1, padding=0)
        self.v = nn.Conv1d(channels, channels, kernel_size=1, stride=1, padding=0)
        self.proj_out = nn.Conv1d(channels, channels, kernel_size=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm(x, lengths)
        q, k, v = self.q(h), self.k(h), self.v(h)
        channels = q.shape[1]
        weights = torch.bmm(q.permute(0, 2, 1), k) * (int(channels) ** (-0.5))  # [B, query, key]
        if lengths is not None:  # an item alone has no keys past its end
            past = torch.arange(weights.shape[-1], device=x.device)[None, :] >= lengths[:, None]
            weights = weights.masked_fill(past[:, None, :], float("-inf"))
        weights = torch.nn.functional.softmax(weights, dim=2)
        h = torch.bmm(v, weights.permute(0, 2, 1))
        return x + self.proj_out(h)


class AdaLayerNorm(nn.Module):
    """LayerNorm whose scale and shift are embeddings of the bandwidth id (upstream's `AdaLayerNorm`).

    Args:
        num_embeddings (int): bandwidth ids.
        embedding_dim (int): normalised width.
        eps (float): LayerNorm epsilon.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps, self.dim = eps, embedding_dim
        self.scale = nn.Embedding(num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.shift = nn.Embedding(num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, cond_embedding_id: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale(cond_embedding_id), self.shift(cond_embedding_id)
        return nn.functional.layer_norm(x, (self.dim,), eps=self.eps) * scale + shift


class ConvNeXtBlock(nn.Module):
    """Upstream's 1-D `ConvNeXtBlock`: depthwise conv, (Ada)LayerNorm, pointwise MLP, layer scale, residual.

    Args:
        dim (int): channels.
        intermediate_dim (int): the MLP's inner width.
        layer_scale_init_value (float): initial `gamma` (≤ 0: no layer scale).
        adanorm_num_embeddings (int | None): AdaLayerNorm rows, or None for a plain LayerNorm.
    """

    def __init__(self, dim: int, intermediate_dim: int, layer_scale_init_value: float,
                 adanorm_num_embeddings: int | None = None):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.adanorm = adanorm_num_embeddings is not None
        self.norm = AdaLayerNorm(adanorm_num_embeddings, dim, eps=1e-6) if adanorm_num_embeddings else \
            nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None

    def forward(self, x: torch.Tensor, cond_embedding_id: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        residual = x
        x = self.dwconv(valid(x, lengths)).transpose(1, 2)
        x = self.norm(x, cond_embedding_id) if self.adanorm else self.norm(x)
        x = self.pwconv2(self.act(self.pwconv1(x)))
        if self.gamma is not None:
            x = self.gamma * x
        return residual + x.transpose(1, 2)


class VocosBackbone(nn.Module):
    """Upstream's `VocosBackbone` (WavTokenizer's, with the ResNet/attention `pos_net` after the embedding conv).

    Args:
        input_channels (int): latent channels.
        dim (int): hidden width.
        intermediate_dim (int): ConvNeXt MLP width.
        num_layers (int): ConvNeXt blocks.
        layer_scale_init_value (float | None): initial layer scale (None: 1 / num_layers).
        adanorm_num_embeddings (int | None): AdaLayerNorm rows (None: plain LayerNorm).
    """

    def __init__(self, input_channels: int, dim: int, intermediate_dim: int, num_layers: int,
                 layer_scale_init_value: float | None = None, adanorm_num_embeddings: int | None = None):
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.adanorm = adanorm_num_embeddings is not None
        self.norm = AdaLayerNorm(adanorm_num_embeddings, dim, eps=1e-6) if adanorm_num_embeddings else \
            nn.LayerNorm(dim, eps=1e-6)
        scale = layer_scale_init_value or 1 / num_layers
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, scale, adanorm_num_embeddings) for _ in range(num_layers))
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(self._init_weights)  # as upstream: before pos_net exists, which keeps torch's initialisation
        self.pos_net = nn.Sequential(ResnetBlock(dim), ResnetBlock(dim), AttnBlock(dim), ResnetBlock(dim),
                                     ResnetBlock(dim), normalize(dim))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.constant_(module.bias, 0)

    def forward(self, x: torch.Tensor, bandwidth_id: torch.Tensor, lengths: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Latent `[B, input_channels, F]` -> hidden `[B, F, dim]`."""
        x = self.embed(valid(x, lengths))
        for layer in self.pos_net:
            x = layer(x, lengths)
        x = self.norm(x.transpose(1, 2), bandwidth_id) if self.adanorm else self.norm(x.transpose(1, 2))
        x = x.transpose(1, 2)
        for block in self.convnext:
            x = block(x, cond_embedding_id=bandwidth_id, lengths=lengths)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFT(nn.Module):
    """Upstream's "same"-padded inverse STFT: irfft, Hann window, overlap-add by `fold`, window-envelope division.

    Args:
        n_fft (int): FFT size.
        hop_length (int): samples per frame.
        win_length (int): window length (= n_fft in every release).
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length))

    def _fold(self, frames: torch.Tensor, length: int) -> torch.Tensor:
        return nn.functional.fold(frames, output_size=(1, length), kernel_size=(1, self.win_length),
                                  stride=(1, self.hop_length))

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Complex spectrum `[B, n_fft // 2 + 1, F]` -> waveform `[B, F * hop_length]`."""
        pad = (self.win_length - self.hop_length) // 2
        steps = spec.shape[-1]
        ifft = torch.fft.irfft(spec, self.n_fft, dim=1, norm="backward") * self.window[None, :, None]
        output_size = (steps - 1) * self.hop_length + self.win_length
        window_sq = self.window.square().expand(1, steps, -1).transpose(1, 2)
        if lengths is None:
            y = self._fold(ifft, output_size)[:, 0, 0, pad:-pad]
            envelope = self._fold(window_sq, output_size).squeeze()[pad:-pad]
            return y / envelope
        # Frames past an item's end would add to (and weigh in the envelope of) its last `pad` samples.
        mask = (torch.arange(steps, device=spec.device)[None, :] < lengths[:, None]).to(ifft.dtype)[:, None, :]
        y = self._fold(ifft * mask, output_size)[:, 0, 0, pad:-pad]
        envelope = self._fold(window_sq * mask, output_size)[:, 0, 0, pad:-pad]
        # Past an item's end the envelope falls to 0; those samples are cut, so divide them by 1 rather than 0.
        return y / torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope))


class ISTFTHead(nn.Module):
    """Upstream's `ISTFTHead`: a linear layer to log-magnitude and phase, then `ISTFT`.

    Args:
        dim (int): the backbone's width.
        n_fft (int): FFT size.
        hop_length (int): samples per frame.
    """

    def __init__(self, dim: int, n_fft: int, hop_length: int):
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft=n_fft, hop_length=hop_length, win_length=n_fft)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden `[B, F, dim]` -> waveform `[B, F * hop_length]`."""
        x = self.out(x).transpose(1, 2)
        mag, p = x.chunk(2, dim=1)
        mag = torch.clip(torch.exp(mag), max=1e2)  # upstream's safeguard
        spectrum = mag * (torch.cos(p) + 1j * torch.sin(p))
        return self.istft(spectrum, lengths)


class EncodecPart(nn.Module):
    """`feature_extractor.encodec`: the SEANet encoder and the VQ (upstream's `EncodecModel`, less its decoder).

    Args:
        config (WavTokenizerConfig): the model's config.
    """

    def __init__(self, config: WavTokenizerConfig):
        super().__init__()
        features = config.feature_extractor
        self.encoder = SEANetEncoder(**config.seanet())
        self.quantizer = ResidualVectorQuantizer(dimension=config.backbone.input_channels, n_q=features.num_quantizers,
                                                 bins=features.vq_bins)


class FeatureExtractor(nn.Module):
    """`feature_extractor`: upstream's `EncodecFeatures` (its `encodec` holds the networks).

    Args:
        config (WavTokenizerConfig): the model's config.
    """

    def __init__(self, config: WavTokenizerConfig):
        super().__init__()
        self.encodec = EncodecPart(config)


class WavTokenizerModel(nn.Module):
    """WavTokenizer: waveform -> one code per frame -> waveform, as upstream's `encode_infer` + `decode` run it.

    Args:
        config (WavTokenizerConfig): the model's config.
    """

    def __init__(self, config: WavTokenizerConfig):
        super().__init__()
        self.config = config
        self.feature_extractor = FeatureExtractor(config)
        backbone = config.backbone
        self.backbone = VocosBackbone(backbone.input_channels, backbone.dim, backbone.intermediate_dim,
                                      backbone.num_layers, backbone.layer_scale_init_value,
                                      backbone.adanorm_num_embeddings)
        self.head = ISTFTHead(config.head.dim, config.head.n_fft, config.head.hop_length)

    @property
    def encoder(self) -> SEANetEncoder:
        return self.feature_extractor.encodec.encoder

    @property
    def quantizer(self) -> ResidualVectorQuantizer:
        return self.feature_extractor.encodec.quantizer

    def frame_lengths(self, lengths):
        """Code frames for inputs of `lengths` samples (int or tensor): `ceil(T / hop)`."""
        return self.encoder.output_lengths(lengths)

    def encode(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, T]` at 24 kHz -> codes `[B, 1, ceil(T / hop)]` (upstream's `infer`: the first quantiser only)."""
        return self.quantizer.encode(self.encoder(waves[:, None], lengths), n_q=1)

    def decode(self, codes: torch.Tensor, bandwidth_id: torch.Tensor, frames: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Codes `[B, K, F]` -> waveform `[B, F * hop]` (the codewords are the backbone's input features)."""
        features = self.quantizer.decode(codes)
        return self.head(self.backbone(features, bandwidth_id, frames), frames)

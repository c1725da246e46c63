"""The Qwen3-TTS 12 Hz tokenizer's network: transformers' Mimi encoder and Qwen's decoder, written here.

Written from Qwen3-TTS's `qwen_tts/core/tokenizer_12hz/modeling_qwen3_tts_tokenizer_v2.py` (commit 022e286). The
encoder is transformers' `MimiModel` with its decoder dropped (`MimiConfig(decoder_config=None)`), as upstream's
`Qwen3TTSTokenizerV2Encoder` drops it from the `MimiModel` it subclasses; transformers 5.23 has no class for the
decoder, so it is here, module by module, with upstream's names (the checkpoint's `decoder.*` keys load strictly).
The decoder's transformer attends causally within a sliding window of `sliding_window` frames (a frame sees itself
and the `sliding_window - 1` before it, transformers' sliding-window causal mask), with rotary positions counted from
each decoded chunk's first frame.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import DecoderConfig, TokenizerConfig


class CausalConvNet(nn.Module):
    """`Conv1d` padded on the left by `kernel - stride` (and on the right to whole windows): causal."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, stride: int = 1,
                 groups: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, groups=groups)
        self.stride = stride
        self.kernel_size = (kernel_size - 1) * dilation + 1
        self.padding = self.kernel_size - self.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        n_frames = (length - self.kernel_size + self.padding) / self.stride + 1
        extra = (math.ceil(n_frames) - 1) * self.stride + (self.kernel_size - self.padding) - length
        return self.conv(F.pad(x, (self.padding, extra), mode="constant", value=0)).contiguous()


class CausalTransConvNet(nn.Module):
    """`ConvTranspose1d` whose last `kernel - stride` outputs are cut: `stride` outputs per input step."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride)
        self.right_pad = kernel_size - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.right_pad > 0:
            x = x[..., : x.shape[-1] - self.right_pad]
        return x.contiguous()


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = CausalConvNet(dim, dim, kernel_size=7, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        x = self.dwconv(x).permute(0, 2, 1)
        x = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(x))))
        return residual + x.permute(0, 2, 1)


class SnakeBeta(nn.Module):
    """`x + sin(x · e^alpha)^2 / (e^beta + 1e-9)` per channel."""

    def __init__(self, in_features: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(in_features))
        self.beta = nn.Parameter(torch.zeros(in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha[None, :, None])
        beta = torch.exp(self.beta[None, :, None])
        return x + (1.0 / (beta + 0.000000001)) * torch.pow(torch.sin(x * alpha), 2)


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


class LayerScale(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.scale = nn.Parameter(torch.full((config.hidden_size,), config.layer_scale_initial_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """transformers' default RoPE: `inv_freq = 1 / theta^(2i / head_dim)`, cos/sin of `position · inv_freq` twice."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        dim = config.attention_head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = (self.inv_freq[None, :, None].float() @ positions[None, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.head_dim = config.attention_head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(config.num_attention_heads * self.head_dim, config.hidden_size, bias=bias)

    def forward(self, x: torch.Tensor, position_embeddings: tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        shape = (*x.shape[:-1], -1, self.head_dim)
        q = self.q_proj(x).view(shape).transpose(1, 2)
        k = self.k_proj(x).view(shape).transpose(1, 2)
        v = self.v_proj(x).view(shape).transpose(1, 2)
        cos, sin = (e.unsqueeze(1) for e in position_embeddings)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(self.num_key_value_groups, dim=1)
        v = v.repeat_interleave(self.num_key_value_groups, dim=1)
        weights = torch.matmul(q, k.transpose(2, 3)) * self.scaling + mask
        weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).contiguous()
        return self.o_proj(out.reshape(*x.shape[:-1], -1))


class Mlp(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class TransformerLayer(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = Mlp(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn_layer_scale = LayerScale(config)
        self.mlp_layer_scale = LayerScale(config)

    def forward(self, x, position_embeddings, mask):
        x = x + self.self_attn_layer_scale(self.self_attn(self.input_layernorm(x), position_embeddings, mask))
        return x + self.mlp_layer_scale(self.mlp(self.post_attention_layernorm(x)))


def sliding_window_mask(positions: torch.Tensor, window: int, dtype: torch.dtype) -> torch.Tensor:
    """transformers' sliding-window causal mask, additive: query i sees key j when i - window < j <= i (0), else the
    dtype's minimum."""
    allowed = (positions[None, :] <= positions[:, None]) & (positions[None, :] > positions[:, None] - window)
    return torch.zeros(allowed.shape, dtype=dtype, device=positions.device).masked_fill(~allowed,
                                                                                         torch.finfo(dtype).min)


class TransformerModel(nn.Module):
    """`latent_dim` -> hidden -> layers -> norm -> `latent_dim`, on `[B, T, latent_dim]`."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.layers = nn.ModuleList([TransformerLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        self.input_proj = nn.Linear(config.latent_dim, config.hidden_size)
        self.output_proj = nn.Linear(config.hidden_size, config.latent_dim)
        self.window = config.sliding_window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_proj(x)
        positions = torch.arange(x.shape[1], device=x.device)
        mask = sliding_window_mask(positions, self.window, x.dtype)
        position_embeddings = self.rotary_emb(x, positions)
        for layer in self.layers:
            x = layer(x, position_embeddings, mask)
        return self.output_proj(self.norm(x))


class EuclideanCodebook(nn.Module):
    """Codewords `embedding_sum / cluster_usage` (the k-means running sums upstream keeps as parameters)."""

    def __init__(self, dim: int, codebook_size: int, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = epsilon
        self.cluster_usage = nn.Parameter(torch.ones(codebook_size))
        # Upstream starts the sums at zero (its weights are always loaded); unit normals give a random-weight build
        # distinct codewords.
        self.embedding_sum = nn.Parameter(torch.randn(codebook_size, dim))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.embedding_sum / self.cluster_usage.clamp(min=self.epsilon)[:, None])


class VectorQuantization(nn.Module):
    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self._codebook = EuclideanCodebook(dim, codebook_size)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self._codebook.decode(codes).transpose(1, 2)


class ResidualVectorQuantization(nn.Module):
    def __init__(self, num_quantizers: int, dim: int, codebook_size: int):
        super().__init__()
        self.layers = nn.ModuleList([VectorQuantization(dim, codebook_size) for _ in range(num_quantizers)])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        quantized = torch.zeros([1], device=codes.device)[0]
        for layer, layer_codes in zip(self.layers, codes, strict=False):
            quantized = quantized + layer.decode(layer_codes)
        return quantized


class ResidualVectorQuantizer(nn.Module):
    """Codes -> codewords summed -> `output_proj`. `input_proj` is in the checkpoint (the encoding side, which the
    decoder never runs)."""

    def __init__(self, dimension: int, input_dimension: int, output_dimension: int, n_q: int, bins: int):
        super().__init__()
        self.input_proj = nn.Conv1d(input_dimension, dimension, 1, bias=False)
        self.output_proj = nn.Conv1d(dimension, output_dimension, 1, bias=False)
        self.vq = ResidualVectorQuantization(n_q, dimension, bins)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.output_proj(self.vq.decode(codes.transpose(0, 1)))


class SplitResidualVectorQuantizer(nn.Module):
    """The semantic codebook (`rvq_first`) and the acoustic ones (`rvq_rest`), each with its own projections; their
    dequantised latents add."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.n_q_semantic = 1
        args = {"dimension": config.codebook_dim // 2, "input_dimension": config.codebook_dim,
                "output_dimension": config.codebook_dim, "bins": config.codebook_size}
        self.rvq_first = ResidualVectorQuantizer(n_q=1, **args)
        self.rvq_rest = ResidualVectorQuantizer(n_q=config.num_quantizers - 1, **args)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T]` -> `[B, codebook_dim, T]`."""
        quantized = self.rvq_first.decode(codes[:, : self.n_q_semantic])
        if codes.shape[1] > self.n_q_semantic:
            quantized += self.rvq_rest.decode(codes[:, self.n_q_semantic:])
        return quantized


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.act1 = SnakeBeta(dim)
        self.conv1 = CausalConvNet(dim, dim, kernel_size=7, dilation=dilation)
        self.act2 = SnakeBeta(dim)
        self.conv2 = CausalConvNet(dim, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act2(self.conv1(self.act1(x)))) + x


class DecoderBlock(nn.Module):
    def __init__(self, config: DecoderConfig, index: int):
        super().__init__()
        in_dim, out_dim = config.decoder_dim // 2**index, config.decoder_dim // 2 ** (index + 1)
        rate = config.upsample_rates[index]
        self.block = nn.ModuleList([SnakeBeta(in_dim), CausalTransConvNet(in_dim, out_dim, 2 * rate, rate),
                                    *(ResidualUnit(out_dim, dilation) for dilation in (1, 3, 9))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block:
            x = block(x)
        return x


class Decoder(nn.Module):
    """Codes `[B, K, F]` -> waveform `[B, 1, F · total_upsample]` in [-1, 1]."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.total_upsample = config.total_upsample
        self.pre_transformer = TransformerModel(config)
        self.quantizer = SplitResidualVectorQuantizer(config)
        self.pre_conv = CausalConvNet(config.codebook_dim, config.latent_dim, kernel_size=3)
        self.upsample = nn.ModuleList(
            nn.ModuleList([CausalTransConvNet(config.latent_dim, config.latent_dim, factor, factor),
                           ConvNeXtBlock(config.latent_dim)]) for factor in config.upsampling_ratios)
        output_dim = config.decoder_dim // 2 ** len(config.upsample_rates)
        self.decoder = nn.ModuleList([CausalConvNet(config.latent_dim, config.decoder_dim, 7),
                                      *(DecoderBlock(config, i) for i in range(len(config.upsample_rates))),
                                      SnakeBeta(output_dim), CausalConvNet(output_dim, 1, 7)])

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        hidden = self.pre_conv(self.quantizer.decode(codes)).transpose(1, 2)
        hidden = self.pre_transformer(hidden).permute(0, 2, 1)
        for blocks in self.upsample:
            for block in blocks:
                hidden = block(hidden)
        for block in self.decoder:
            hidden = block(hidden)
        return hidden.clamp(min=-1, max=1)

    def chunked_decode(self, codes: torch.Tensor, chunk_size: int = 300, left_context_size: int = 25) -> torch.Tensor:
        """Upstream's decode: chunks of `chunk_size` frames, each after up to `left_context_size` frames of the
        previous chunk (whose samples are then cut): the transformer's positions restart in every chunk."""
        wavs, start = [], 0
        while start < codes.shape[-1]:
            end = min(start + chunk_size, codes.shape[-1])
            context = left_context_size if start - left_context_size > 0 else start
            wavs.append(self(codes[..., start - context: end])[..., context * self.total_upsample:])
            start = end
        return torch.cat(wavs, dim=-1)


class Qwen3TTSTokenizerModel(nn.Module):
    """`encoder` (transformers' `MimiModel`, no decoder) and `decoder`: the checkpoint's two key prefixes."""

    def __init__(self, config: TokenizerConfig, encoder: nn.Module):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.decoder = Decoder(config.decoder_config)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """One utterance `[1, T]` -> codes `[1, valid, ceil(T / encode_downsample_rate)]` (`encode` with its
        padding mask all ones: Mimi's codes, the first `encoder_valid_num_quantizers` codebooks)."""
        valid = self.config.encoder_valid_num_quantizers
        # Mimi's acoustic quantisers are residual in order: the first `valid` codes are those of all 32.
        codes = self.encoder.encode(audio[:, None], num_quantizers=valid).audio_codes[:, :valid]
        return codes[..., : -(-audio.shape[-1] // self.config.encode_downsample_rate)]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[1, K, F]` -> `[1, F · decode_upsample_rate]` (upstream's `decode`: chunked, cut to whole frames)."""
        audio = self.decoder.chunked_decode(codes.clamp(min=0))[:, 0]
        return audio[:, : codes.shape[-1] * self.config.decode_upsample_rate]

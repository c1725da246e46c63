"""CosyVoice 2's flow-matching decoder: speech tokens + a speaker embedding -> an 80-bin mel spectrogram at 50 Hz.

Written from FunAudioLLM/CosyVoice (`cosyvoice/flow/flow.py` `CausalMaskedDiffWithXvec`, `flow_matching.py`
`CausalConditionalCFM`, `decoder.py` `CausalConditionalDecoder`, `transformer/upsample_encoder.py`) and the Matcha-TTS
blocks it builds on (`matcha/models/components/decoder.py`, `transformer.py` over diffusers' `Attention`), for the
non-streaming path `CosyVoice2Model.token2wav(..., finalize=True)` runs: every chunk mask is then the full padding
mask. Parameter names are upstream's, so the release's `flow.pt` loads strictly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MEL_BINS = 80  # upstream's solver allocates its CFG batch as [2, 80, T]: the mel width is fixed


def _pad_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """`[B, width]` True where a frame is valid (upstream's `~make_pad_mask`)."""
    return torch.arange(width, device=lengths.device)[None] < lengths[:, None]


# -- the token encoder (UpsampleConformerEncoder) -------------------------------------------------------------------


class RelPositionalEncoding(nn.Module):
    """ESPnet's relative positional encoding (`EspnetRelPositionalEncoding`): scales the input by sqrt(d) and gives
    the `[1, 2T - 1, d]` sinusoids of relative positions T-1 .. -(T-1)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = x.shape[1]
        position = torch.arange(0, size, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, self.d_model, 2, dtype=torch.float32)
                             * -(math.log(10000.0) / self.d_model))
        positive, negative = torch.zeros(size, self.d_model), torch.zeros(size, self.d_model)
        positive[:, 0::2], positive[:, 1::2] = torch.sin(position * div_term), torch.cos(position * div_term)
        negative[:, 0::2], negative[:, 1::2] = torch.sin(-1 * position * div_term), torch.cos(-1 * position * div_term)
        pe = torch.cat([torch.flip(positive, [0]), negative[1:]], dim=0).unsqueeze(0)
        return x * math.sqrt(self.d_model), pe.to(device=x.device, dtype=x.dtype)


class LinearEmbed(nn.Module):
    """`LinearNoSubsampling`: linear + LayerNorm, then the relative positional encoding."""

    def __init__(self, idim: int, odim: int):
        super().__init__()
        self.out = nn.Sequential(nn.Linear(idim, odim), nn.LayerNorm(odim, eps=1e-5), nn.Dropout(0.0))
        self.pos_enc = RelPositionalEncoding(odim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pos_enc(self.out(x))


class RelPositionAttention(nn.Module):
    """`RelPositionMultiHeadedAttention` (Transformer-XL scores with the ESPnet rel-shift)."""

    def __init__(self, n_head: int, n_feat: int):
        super().__init__()
        self.d_k, self.h = n_feat // n_head, n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))

    @staticmethod
    def rel_shift(x: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([x.new_zeros(*x.shape[:3], 1), x], dim=-1)
        padded = padded.view(x.shape[0], x.shape[1], x.shape[3] + 1, x.shape[2])
        return padded[:, :, 1:].view_as(x)[:, :, :, : x.shape[-1] // 2 + 1]

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos_emb: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        q = self.linear_q(x).view(b, -1, self.h, self.d_k)
        k = self.linear_k(x).view(b, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, -1, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(pos_emb.shape[0], -1, self.h, self.d_k).transpose(1, 2)
        matrix_ac = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        matrix_bd = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))
        if matrix_ac.shape != matrix_bd.shape:
            matrix_bd = self.rel_shift(matrix_bd)
        scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
        masked = mask.unsqueeze(1).eq(0)[:, :, :, : scores.shape[-1]]  # mask [B, 1, T]: True = valid
        attn = torch.softmax(scores.masked_fill(masked, -float("inf")), dim=-1).masked_fill(masked, 0.0)
        out = torch.matmul(attn, v).transpose(1, 2).contiguous().view(b, -1, self.h * self.d_k)
        return self.linear_out(out)


class FeedForward(nn.Module):
    """`PositionwiseFeedForward` with SiLU (the `swish` activation)."""

    def __init__(self, idim: int, hidden: int):
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden)
        self.w_2 = nn.Linear(hidden, idim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(F.silu(self.w_1(x)))


class ConformerLayer(nn.Module):
    """`ConformerEncoderLayer` as CosyVoice 2 configures it: no macaron FFN, no convolution module, pre-norm."""

    def __init__(self, size: int, heads: int, linear_units: int):
        super().__init__()
        self.self_attn = RelPositionAttention(heads, size)
        self.feed_forward = FeedForward(size, linear_units)
        self.norm_ff = nn.LayerNorm(size, eps=1e-12)
        self.norm_mha = nn.LayerNorm(size, eps=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos_emb: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm_mha(x), mask, pos_emb)
        return x + self.feed_forward(self.norm_ff(x))


class PreLookaheadLayer(nn.Module):
    """Looks `pre_lookahead_len` tokens ahead (zero-padded at the end), then a causal convolution, residual."""

    def __init__(self, channels: int, pre_lookahead_len: int):
        super().__init__()
        self.pre_lookahead_len = pre_lookahead_len
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=pre_lookahead_len + 1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = F.pad(inputs.transpose(1, 2), (0, self.pre_lookahead_len))
        x = F.leaky_relu(self.conv1(x))
        x = self.conv2(F.pad(x, (self.conv2.kernel_size[0] - 1, 0)))
        return x.transpose(1, 2) + inputs


class TokenUpsample(nn.Module):
    """`Upsample1D` of the encoder: nearest ×stride, left-padded by 2·stride, convolution of width 2·stride + 1."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(channels, channels, stride * 2 + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return self.conv(F.pad(x, (self.stride * 2, 0)))


class UpsampleConformerEncoder(nn.Module):
    """Token embeddings -> conformer layers at 25 Hz -> ×`stride` -> conformer layers at 50 Hz -> LayerNorm.

    Args:
        input_size (int): token embedding width.
        output_size (int): the layers' width (upstream hard-codes 512 for its lookahead and upsampling layers,
            which is `output_size` in the release).
        attention_heads (int), linear_units (int): per layer.
        num_blocks (int): layers before the upsampling; num_up_blocks (int): after it (upstream hard-codes 4).
        pre_lookahead_len (int): tokens looked ahead (the release: 3); stride (int): token_mel_ratio.
    """

    def __init__(self, input_size: int, output_size: int, attention_heads: int, linear_units: int, num_blocks: int,
                 num_up_blocks: int, pre_lookahead_len: int, stride: int):
        super().__init__()
        self.embed = LinearEmbed(input_size, output_size)
        self.after_norm = nn.LayerNorm(output_size, eps=1e-5)
        self.pre_lookahead_layer = PreLookaheadLayer(output_size, pre_lookahead_len)
        self.encoders = nn.ModuleList(ConformerLayer(output_size, attention_heads, linear_units)
                                      for _ in range(num_blocks))
        self.up_layer = TokenUpsample(output_size, stride)
        self.up_embed = LinearEmbed(input_size, output_size)
        self.up_encoders = nn.ModuleList(ConformerLayer(output_size, attention_heads, linear_units)
                                         for _ in range(num_up_blocks))

    def forward(self, xs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _pad_mask(lengths, xs.shape[1]).unsqueeze(1)
        xs, pos_emb = self.embed(xs)
        xs = self.pre_lookahead_layer(xs)
        for layer in self.encoders:
            xs = layer(xs, mask, pos_emb)
        xs = self.up_layer(xs.transpose(1, 2)).transpose(1, 2)
        lengths = lengths * self.up_layer.stride
        mask = _pad_mask(lengths, xs.shape[1]).unsqueeze(1)
        xs, pos_emb = self.up_embed(xs)
        for layer in self.up_encoders:
            xs = layer(xs, mask, pos_emb)
        return self.after_norm(xs)


# -- the CFM estimator (CausalConditionalDecoder) -------------------------------------------------------------------


class Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class CausalConv1d(nn.Conv1d):
    """A stride-1 convolution left-padded by kernel_size - 1 zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


class CausalBlock1D(nn.Module):
    """Causal conv -> LayerNorm over channels -> Mish, masked before and after."""

    def __init__(self, dim: int, dim_out: int):
        super().__init__()
        self.block = nn.Sequential(CausalConv1d(dim, dim_out, 3), Transpose(), nn.LayerNorm(dim_out), Transpose(),
                                   nn.Mish())

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.block(x * mask) * mask


class CausalResnetBlock1D(nn.Module):
    """Two causal blocks with the time embedding added between them, plus a 1×1 residual."""

    def __init__(self, dim: int, dim_out: int, time_emb_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Mish(), nn.Linear(time_emb_dim, dim_out))
        self.block1 = CausalBlock1D(dim, dim_out)
        self.block2 = CausalBlock1D(dim_out, dim_out)
        self.res_conv = nn.Conv1d(dim, dim_out, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x, mask) + self.mlp(time_emb).unsqueeze(-1)
        return self.block2(h, mask) + self.res_conv(x * mask)


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, scale: float = 1000) -> torch.Tensor:
        half = self.dim // 2
        emb = torch.exp(torch.arange(half, device=x.device).float() * -(math.log(10000) / (half - 1)))
        emb = scale * x.unsqueeze(1) * emb.unsqueeze(0)
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels: int, time_embed_dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(sample)))


class Attention(nn.Module):
    """diffusers' `Attention` as Matcha's `BasicTransformerBlock` builds it: no q/k/v bias, an additive mask."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head**-0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, -1).transpose(1, 2) for proj in (self.to_q, self.to_k, self.to_v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None], scale=self.scale)
        return self.to_out[0](out.transpose(1, 2).reshape(b, t, -1))


class GELUProj(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class TransformerBlock(nn.Module):
    """Matcha's `BasicTransformerBlock` with `activation_fn="gelu"`: self-attention and a 4× GELU feed-forward."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Module()
        self.ff.net = nn.ModuleList([GELUProj(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim)])

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attn1(self.norm1(x), bias) + x
        h = self.norm3(x)
        for module in self.ff.net:
            h = module(h)
        return h + x


class CausalConditionalDecoder(nn.Module):
    """The CFM's velocity estimator: a one-level 1-D U-Net of causal resnet and transformer blocks.

    Args:
        in_channels (int): x, mu, speaker and condition stacked (4 × 80 = 320).
        out_channels (int): mel bins.
        channels (tuple[int, ...]): widths per level (the release: (256,)).
        attention_head_dim (int), n_blocks (int), num_mid_blocks (int), num_heads (int): the transformer blocks.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: tuple[int, ...], attention_head_dim: int,
                 n_blocks: int, num_mid_blocks: int, num_heads: int):
        super().__init__()
        if len(channels) != 1:  # Downsample1D/Upsample1D between levels: not in the release, not written here
            raise ValueError(f"CosyVoice 2 estimator: one U-Net level is supported, got channels={list(channels)}")
        width = channels[0]
        time_dim = width * 4
        self.time_embeddings = SinusoidalPosEmb(in_channels)
        self.time_mlp = TimestepEmbedding(in_channels, time_dim)

        def level(dim_in: int, last: nn.Module | None) -> nn.ModuleList:
            blocks = nn.ModuleList(TransformerBlock(width, num_heads, attention_head_dim) for _ in range(n_blocks))
            parts = [CausalResnetBlock1D(dim_in, width, time_dim), blocks]
            return nn.ModuleList(parts + ([last] if last is not None else []))

        self.down_blocks = nn.ModuleList([level(in_channels, CausalConv1d(width, width, 3))])
        self.mid_blocks = nn.ModuleList(level(width, None) for _ in range(num_mid_blocks))
        self.up_blocks = nn.ModuleList([level(width * 2, CausalConv1d(width, width, 3))])
        self.final_block = CausalBlock1D(width, width)
        self.final_proj = nn.Conv1d(width, out_channels, 1)

    @staticmethod
    def _transformers(blocks: nn.ModuleList, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        for block in blocks:
            x = block(x, bias)
        return x.transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, spks: torch.Tensor,
                cond: torch.Tensor) -> torch.Tensor:
        t = self.time_mlp(self.time_embeddings(t).to(t.dtype))
        x = torch.cat([x, mu, spks[:, :, None].expand(-1, -1, x.shape[-1]), cond], dim=1)
        # Non-streaming: every frame attends to every valid frame (upstream's full chunk mask as a -1e10 bias).
        bias = (1.0 - mask.to(x.dtype)).expand(-1, x.shape[-1], -1) * -1.0e10
        (resnet, blocks, downsample), = self.down_blocks
        x = self._transformers(blocks, resnet(x, mask, t), bias)
        skip = x
        x = downsample(x * mask)
        for resnet, blocks in self.mid_blocks:
            x = self._transformers(blocks, resnet(x, mask, t), bias)
        (resnet, blocks, upsample), = self.up_blocks
        x = torch.cat([x[:, :, : skip.shape[-1]], skip], dim=1)
        x = self._transformers(blocks, resnet(x, mask, t), bias)
        x = upsample(x * mask)
        x = self.final_block(x, mask)
        return self.final_proj(x * mask) * mask


class CausalConditionalCFM(nn.Module):
    """Conditional flow matching: Euler steps on a cosine time grid with classifier-free guidance.

    Args:
        estimator (CausalConditionalDecoder): the velocity network (key `estimator.*`).
        inference_cfg_rate (float): the guidance weight (the release: 0.7).
    """

    def __init__(self, estimator: CausalConditionalDecoder, inference_cfg_rate: float):
        super().__init__()
        self.estimator = estimator
        self.inference_cfg_rate = inference_cfg_rate

    def forward(self, z: torch.Tensor, mu: torch.Tensor, mask: torch.Tensor, spks: torch.Tensor, cond: torch.Tensor,
                n_timesteps: int) -> torch.Tensor:
        """`z [1, 80, T]` (the initial noise) -> mel `[1, 80, T]` after `n_timesteps` Euler steps."""
        t_span = torch.linspace(0, 1, n_timesteps + 1, device=mu.device, dtype=mu.dtype)
        t_span = 1 - torch.cos(t_span * 0.5 * torch.pi)
        x, t, dt = z, t_span[0].unsqueeze(0), t_span[1] - t_span[0]
        # The guided and the unconditioned pass run as one batch of two, as upstream's solver runs them.
        mask_in = torch.cat([mask, mask])
        mu_in = torch.cat([mu, torch.zeros_like(mu)])
        spks_in = torch.cat([spks, torch.zeros_like(spks)])
        cond_in = torch.cat([cond, torch.zeros_like(cond)])
        for step in range(1, len(t_span)):
            velocity = self.estimator(torch.cat([x, x]), mask_in, mu_in, t.expand(2), spks_in, cond_in)
            guided, unconditioned = velocity[:1], velocity[1:]
            x = x + dt * ((1.0 + self.inference_cfg_rate) * guided - self.inference_cfg_rate * unconditioned)
            t = t + dt
            if step < len(t_span) - 1:
                dt = t_span[step + 1] - t
        return x.float()


class CausalMaskedDiffWithXvec(nn.Module):
    """Tokens + speaker embedding -> mel (`CausalMaskedDiffWithXvec.inference` with no prompt, finalize=True).

    Args:
        vocab_size (int): speech tokens (6561); input_size (int): their embedding width.
        output_size (int): mel bins (80); spk_embed_dim (int): the speaker embedding's width (CAM++: 192).
        encoder (UpsampleConformerEncoder), decoder (CausalConditionalCFM): the two networks.
    """

    def __init__(self, vocab_size: int, input_size: int, output_size: int, spk_embed_dim: int,
                 encoder: UpsampleConformerEncoder, decoder: CausalConditionalCFM, encoder_output_size: int):
        super().__init__()
        self.output_size = output_size
        self.input_embedding = nn.Embedding(vocab_size, input_size)
        self.spk_embed_affine_layer = nn.Linear(spk_embed_dim, output_size)
        self.encoder = encoder
        self.encoder_proj = nn.Linear(encoder_output_size, output_size)
        self.decoder = decoder

    def forward(self, tokens: torch.Tensor, embedding: torch.Tensor, noise: torch.Tensor,
                n_timesteps: int) -> torch.Tensor:
        """`tokens [1, N]`, `embedding [1, spk_embed_dim]`, `noise [1, 80, >= 2N]` -> mel `[1, 80, 2N]`."""
        embedding = self.spk_embed_affine_layer(F.normalize(embedding, dim=1))
        lengths = torch.tensor([tokens.shape[1]], device=tokens.device)
        h = self.encoder(self.input_embedding(torch.clamp(tokens, min=0)), lengths)
        h = self.encoder_proj(h).transpose(1, 2).contiguous()
        frames = h.shape[-1]
        mask = torch.ones(1, 1, frames, device=h.device, dtype=h.dtype)
        cond = torch.zeros(1, self.output_size, frames, device=h.device, dtype=h.dtype)  # no prompt mel
        z = noise[:, :, :frames].to(device=h.device, dtype=h.dtype)
        return self.decoder(z, h, mask, embedding, cond, n_timesteps)

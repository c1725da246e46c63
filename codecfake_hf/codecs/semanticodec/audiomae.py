"""AudioMAE (Meta's audio masked autoencoder, ViT-B/16 on 1024 x 128 fbanks), as SemantiCodec's semantic encoder
runs it.

Mirrors `semanticodec/modules/audiomae/models_mae.py` (`MaskedAutoencoderViT`, `mae_vit_base_patch16`) and timm's
`Block` it is built of, module for module, so the official encoder checkpoint's `audiomae.model.*` keys load
strictly. The MAE decoder (`decoder_*`) is never run at inference; it is kept because the checkpoint holds it.
Only `forward_encoder_no_mask` runs: patches plus the sin-cos position table (a parameter of the checkpoint), the
class token, the blocks, and the mean of the normalised outputs of the blocks after `contextual_depth`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import AudioMAEConf

IMAGE = (1024, 128)  # fbank frames x mel bins of one 10.24 s window
PATCH = 16
EMBED_DIM = 768  # upstream's encoder hard-codes AudioMAE's width (768) in its token arithmetic


class Attention(nn.Module):
    """timm's `Attention` (qkv with bias, scaled dot-product over heads, projection)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, channels // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, channels))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """timm's pre-norm transformer `Block` (LayerNorm eps 1e-6, as `mae_vit_base_patch16` passes it)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def sincos_table(dim: int, grid: tuple[int, int]) -> np.ndarray:
    """`get_2d_sincos_pos_embed_flexible(dim, grid, cls_token=True)`: the table upstream initialises `pos_embed` with
    (for random weights; a checkpoint brings its own). `grid` is upstream's `patch_hw` = (8, 64), width first."""
    grid_h, grid_w = np.arange(grid[0], dtype=np.float32), np.arange(grid[1], dtype=np.float32)
    mesh = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid[0], grid[1]])

    def one_d(half: int, positions: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(half // 2, dtype=float) / (half / 2.0))
        out = np.einsum("m,d->md", positions.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([one_d(dim // 2, mesh[0]), one_d(dim // 2, mesh[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), table], axis=0)


class MaskedAutoencoderViT(nn.Module):
    """The parameters of upstream's `MaskedAutoencoderViT(patch_size=16, in_chans=1, audio_exp=True, img_size=(1024,
    128), embed_dim=768, ...)` and its `forward_encoder_no_mask`.

    Args:
        conf (AudioMAEConf): depth, heads and widths (upstream's `mae_vit_base_patch16`; a tiny fixture shrinks them).
    """

    def __init__(self, conf: AudioMAEConf):
        super().__init__()
        patches = (IMAGE[0] // PATCH) * (IMAGE[1] // PATCH)
        self.contextual_depth = conf.contextual_depth
        self.patch_embed = PatchEmbed(EMBED_DIM)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, patches + 1, EMBED_DIM), requires_grad=False)
        self.blocks = nn.ModuleList(Block(EMBED_DIM, conf.num_heads, conf.mlp_ratio) for _ in range(conf.depth))
        self.norm = nn.LayerNorm(EMBED_DIM, eps=1e-6)
        self.decoder_embed = nn.Linear(EMBED_DIM, conf.decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, conf.decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, patches + 1, conf.decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(Block(conf.decoder_embed_dim, conf.decoder_num_heads, conf.mlp_ratio)
                                            for _ in range(conf.decoder_depth))
        self.decoder_norm = nn.LayerNorm(conf.decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(conf.decoder_embed_dim, PATCH**2, bias=True)
        if not self.pos_embed.is_meta:
            grid = (IMAGE[1] // PATCH, IMAGE[0] // PATCH)  # upstream's PatchEmbed_org.patch_hw: (W // p, H // p)
            self.pos_embed.data.copy_(torch.from_numpy(sincos_table(EMBED_DIM, grid)).float()[None])
            self.decoder_pos_embed.data.copy_(
                torch.from_numpy(sincos_table(conf.decoder_embed_dim, grid)).float()[None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """fbank windows `[B, 1, 1024, 128]` -> `[B, 513, 768]` (class token first): `forward_encoder_no_mask`."""
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        cls_tokens = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        contextual = []
        for n, block in enumerate(self.blocks):
            x = block(x)
            if n > self.contextual_depth:
                contextual.append(self.norm(x))
        return torch.stack(contextual, dim=0).mean(dim=0)


class AudioMAE(nn.Module):
    """`Vanilla_AudioMAE`: the ViT under `model` (hence the checkpoint's `audiomae.model.*` keys)."""

    def __init__(self, conf: AudioMAEConf):
        super().__init__()
        self.model = MaskedAutoencoderViT(conf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

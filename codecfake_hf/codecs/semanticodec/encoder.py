"""SemantiCodec's encoder: AudioMAE features quantised by k-means (semantic codes) and an LSTM over the residual,
quantised by a VQ (acoustic codes).

Mirrors `semanticodec/modules/encoder/encoder.py` (`AudioMAEConditionQuantResEncoder`, inference path) with
vector-quantize-pytorch's `VectorQuantize` (one head, no projection, Euclidean codebook) as its `quantizer`, so the
encoder checkpoint's keys load strictly. The k-means centroids (`centroid_npy`) are not in that checkpoint: upstream
reads them from the Hub's `codebook_idx/.../codebook_*.npy`; here they are a buffer of that name, which `download`
fills from the same file.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .audiomae import EMBED_DIM, AudioMAE
from .config import SemantiCodecConfig

WINDOW_FRAMES = 1024  # fbank frames of one AudioMAE window (10.24 s)
PATCH_TOKENS = 512  # AudioMAE patches of a window (64 time x 8 frequency)


class EuclideanCodebook(nn.Module):
    """vector-quantize-pytorch's `EuclideanCodebook` (one codebook, EMA buffers kept for strict loading)."""

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self.register_buffer("initted", torch.tensor(True))
        self.register_buffer("cluster_size", torch.ones(1, codebook_size))
        embed = nn.init.kaiming_uniform_(torch.empty(1, codebook_size, dim))
        self.register_buffer("embed_avg", embed.clone())
        self.register_buffer("embed", embed)


def cdist(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """vector-quantize-pytorch's `cdist`, its term order: sqrt(max(|x|² + |y|² - 2 x·y, eps))."""
    x2 = (x**2).sum(-1)
    y2 = (y**2).sum(-1)
    xy = torch.einsum("b i d, b j d -> b i j", x, y) * -2
    return (x2[:, :, None] + y2[:, None, :] + xy).clamp(min=eps).sqrt()


def nearest(stage: nn.Module, vectors: torch.Tensor) -> torch.Tensor:
    """The codes one quantiser stage picks for `vectors [B, N, D]` -> `[B, N]` (the semantic k-means search or the
    acoustic VQ's): one function for both, so that a test can watch every choice."""
    return stage.nearest_codes(vectors)


class VectorQuantize(nn.Module):
    """`VectorQuantize(dim, codebook_size)` at inference: nearest codeword by `cdist` (argmax of its negative)."""

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self._codebook = EuclideanCodebook(dim, codebook_size)

    @property
    def codebook(self) -> torch.Tensor:
        return self._codebook.embed[0]

    def nearest_codes(self, x: torch.Tensor) -> torch.Tensor:
        flatten = x.float().reshape(1, -1, x.shape[-1])
        distances = -cdist(flatten, self._codebook.embed)
        return distances.argmax(dim=-1).reshape(x.shape[:-1])

    def get_output_from_indices(self, indices: torch.Tensor) -> torch.Tensor:
        return self.codebook[indices]


def _concat_1x2(x: torch.Tensor) -> torch.Tensor:
    batch, width, height, channels = x.shape
    return x.view(batch, width, height // 2, 2, channels).reshape(batch, width, height // 2, channels * 2)


def _concat_2x2(x: torch.Tensor) -> torch.Tensor:
    batch, width, height, channels = x.shape
    x = x.view(batch, width // 2, 2, height // 2, 2, channels).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, width // 2, height // 2, channels * 4)


class SemanticAcousticEncoder(nn.Module):
    """`AudioMAEConditionQuantResEncoder`: fbank windows -> tokens `[B, L, 2]` (semantic, acoustic) per window.

    Args:
        config (SemantiCodecConfig): the codec's config (its encoder arguments, AudioMAE sizes, vocabulary).
    """

    def __init__(self, config: SemantiCodecConfig):
        super().__init__()
        params = config.encoder
        self.feature_dimension = params.feature_dimension
        self.downsampling_rate = params.feature_dimension // EMBED_DIM
        self.register_buffer("centroid_npy", torch.randn(config.semantic_vocab_size, params.feature_dimension))
        self.audiomae = AudioMAE(config.audiomae)
        self.encoder = nn.LSTM(input_size=params.feature_dimension * 2, hidden_size=params.hidden,
                               num_layers=params.lstm_layer, bias=True, batch_first=True, bidirectional=True)
        self.encoder_output_linear = nn.Linear(params.hidden * 2, params.feature_dimension, bias=False)
        self.quantizer = VectorQuantize(params.feature_dimension, params.codebook_size)

    # -- the semantic codes: nearest k-means centroid ------------------------------------------------------------

    def semantic_distances(self, representation: torch.Tensor) -> torch.Tensor:
        """`quant_mem_efficient`'s squared distances `[B, N, centroids]`, its term order."""
        norm_rep = representation.pow(2).sum(dim=2, keepdim=True)
        norm_cent = self.centroid_npy.pow(2).sum(dim=1, keepdim=True)
        dot = torch.mm(representation.reshape(-1, self.feature_dimension), self.centroid_npy.t())
        dot = dot.reshape(representation.shape[0], representation.shape[1], -1)
        return norm_rep + norm_cent.t() - 2 * dot

    def nearest_codes(self, representation: torch.Tensor) -> torch.Tensor:
        """`quant_mem_efficient`: the nearest centroid (`torch.min`'s index)."""
        return torch.min(self.semantic_distances(representation), dim=2)[1]

    def unquant(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.embedding(tokens, self.centroid_npy)

    # -- one window ----------------------------------------------------------------------------------------------

    @staticmethod
    def padding_cutoff(window: torch.Tensor) -> float:
        """Where the signal ends in a window `[1024, 128]`, as a fraction: after the last frame whose bins are not
        constant (upstream's `_forward`, including its quirk: exactly one such frame gives 0)."""
        constant = torch.std(window, dim=-1) <= 1e-7
        if not bool(constant.any()):
            return 1.0
        active = torch.nonzero(constant == False, as_tuple=False).squeeze()  # noqa: E712 (upstream's expression)
        if active.dim() == 0:
            return 0.0  # upstream indexes a 0-d tensor, fails, and falls back to 0
        column_max = int(active[-1].item()) + 1 if active.numel() > 0 else 0
        return column_max / window.shape[0]

    def _mark_out_padding(self, feature: torch.Tensor, cutoffs: list[float]) -> torch.Tensor:
        length = feature.shape[-2]
        for i, cutoff in enumerate(cutoffs):
            index = math.ceil(length * cutoff)
            feature[i, int(index):] *= 0.0
            feature[i, int(index):] -= 1.0
        return feature

    def representation(self, windows: torch.Tensor) -> torch.Tensor:
        """AudioMAE features of fbank windows `[B, 1024, 128]`, patches stacked to the token rate `[B, L, dim]`."""
        representation = self.audiomae(windows.unsqueeze(1))
        if self.downsampling_rate == 1:
            return representation[:, 1:, :]
        representation = representation[:, 1:, :].transpose(1, 2)
        batch, channels, _ = representation.size()
        representation = representation.reshape(batch, channels, 64, 8).permute(0, 2, 3, 1)
        stacked = _concat_1x2(representation) if self.downsampling_rate == 2 else _concat_2x2(representation)
        return stacked.permute(0, 3, 1, 2).flatten(2).permute(0, 2, 1)

    def residual(self, representation: torch.Tensor, tokens: torch.Tensor, cutoffs: list[float]) -> torch.Tensor:
        """The LSTM's residual features `[B, L, dim]`, which the acoustic VQ quantises."""
        stacked = torch.cat([representation, self.unquant(tokens)], dim=-1)
        stacked = self._mark_out_padding(stacked, cutoffs)
        return self.encoder_output_linear(self.encoder(stacked)[0])

    def encode_window(self, windows: torch.Tensor, keep: int) -> torch.Tensor:
        """`_forward` on fbank windows `[B, 1024, 128]` -> the first `keep` tokens `[B, keep, 2]`.

        Upstream codes all of a window's tokens and `encode` keeps the first ones. Each code is a per-token nearest
        codeword, so only the kept tokens are searched here, and the semantic codes the LSTM reads: those before the
        signal's end (after it, its input is overwritten with -1). The kept codes are upstream's; the centroid
        search of a short utterance shrinks by the share of padding (12.9 GMAC a window at full size).
        """
        cutoffs = [self.padding_cutoff(window) for window in windows]
        representation = self.representation(windows)
        length = representation.shape[1]
        needed = max(keep, *(math.ceil(length * cutoff) for cutoff in cutoffs))
        tokens = torch.zeros(representation.shape[:2], dtype=torch.long, device=representation.device)
        tokens[:, :needed] = nearest(self, representation[:, :needed])
        indices = nearest(self.quantizer, self.residual(representation, tokens, cutoffs)[:, :keep])
        return torch.cat([tokens[:, :keep].unsqueeze(-1), indices.unsqueeze(-1)], dim=-1)

    def forward(self, fbank: torch.Tensor, keep: int) -> torch.Tensor:
        """fbank `[B, 1024 k, 128]` -> the first `keep` tokens `[B, keep, 2]`, window after window (windows are
        coded independently; those past `keep` are not run)."""
        per_window = PATCH_TOKENS // self.downsampling_rate
        coded = []
        for index, start in enumerate(range(0, fbank.shape[1] - WINDOW_FRAMES + 1, WINDOW_FRAMES)):
            count = min(keep - index * per_window, per_window)
            if count > 0:
                coded.append(self.encode_window(fbank[:, start:start + WINDOW_FRAMES], count))
        return torch.cat(coded, dim=1)

    def token_to_quantized_feature(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens `[1, L, 2]` -> features `[1, L, 2 x dim]`: the acoustic codeword, then the semantic centroid."""
        semantic = self.unquant(tokens[..., 0])
        acoustic = self.quantizer.get_output_from_indices(tokens[..., 1]).reshape(1, semantic.shape[-2],
                                                                                   semantic.shape[-1])
        return torch.cat([acoustic, semantic], dim=-1)

"""FunCodec's residual vector quantiser at inference, with the key names of its checkpoints (`quantizer.rq.model.*`)."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)


class ResidualCodebooks(nn.Module):
    """The codebooks of all residual stages, stacked (upstream `DistributedResidualVectorQuantization`).

    Only `embed` is used at inference. `inited` must be 1 (upstream runs k-means on the input at inference
    otherwise); `cluster_size` and `embed_avg` are the training EMA statistics, kept so that the
    checkpoint loads strictly.

    Args:
        num_quantizers (int): residual stages.
        codebook_size (int): entries per codebook.
        dim (int): codeword dimension.
        q0_ds_ratio (int): the first stage quantises a time-downsampled input when > 1 (nearest).
    """

    def __init__(self, num_quantizers: int, codebook_size: int, dim: int, q0_ds_ratio: int = 1):
        super().__init__()
        self.q0_ds_ratio = q0_ds_ratio
        # Random codebooks for random-weight smoke runs; a checkpoint overwrites all four buffers.
        embed = torch.empty(num_quantizers, codebook_size, dim)
        nn.init.kaiming_uniform_(embed)
        self.register_buffer("inited", torch.ones(num_quantizers, 1))
        self.register_buffer("cluster_size", torch.zeros(num_quantizers, codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    @property
    def num_quantizers(self) -> int:
        return self.embed.shape[0]

    def mark_initialised(self) -> None:
        """Set `inited` to 1, warning if the loaded checkpoint had left some codebook un-initialised."""
        if not self.inited.is_meta and bool((self.inited == 0).any()):  # meta: names and shapes only
            stages = torch.nonzero(self.inited[:, 0] == 0).flatten().tolist()
            logger.warning(
                "FunCodec checkpoint marks codebooks %s as not initialised (upstream would run k-means on the "
                "input at inference); using the stored codebooks as they are", stages,
            )
        self.inited.fill_(1.0)

    def _nearest(self, stage: int, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`residual [B, D, T]` -> (indices [B, T], codewords [B, D, T]) of codebook `stage`."""
        batch, dim, frames = residual.shape
        x = residual.transpose(1, 2).reshape(batch * frames, dim)
        embed = self.embed[stage]
        embed_t = embed.t()
        # Upstream's expression, term for term: near-tied codewords then resolve the same way.
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed_t + embed_t.pow(2).sum(0, keepdim=True))
        indices = dist.max(dim=-1).indices
        codewords = F.embedding(indices, embed).view(batch, frames, dim).transpose(1, 2)
        return indices.view(batch, frames), codewords

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`x [B, D, T]` -> (sum of the first `n_q` stages' codewords [B, D, T], codes [n_q, B, T])."""
        n_q = n_q or self.num_quantizers
        frames = x.shape[-1]
        quantized = torch.zeros_like(x)
        residual = x
        codes = []
        for stage in range(n_q):
            downsampled = stage == 0 and self.q0_ds_ratio > 1
            stage_in = F.interpolate(residual, size=[frames // 2]) if downsampled else residual
            indices, codewords = self._nearest(stage, stage_in)
            if downsampled:
                codewords = F.interpolate(codewords, size=[frames])
                indices = F.interpolate(indices.unsqueeze(1).float(), size=[frames]).squeeze(1).long()
            residual = residual - codewords
            quantized = quantized + codewords
            codes.append(indices)
        return quantized, torch.stack(codes)


class _ResidualVectorQuantizer(nn.Module):
    """Holds the codebooks under `rq.model`, where FunCodec's checkpoints keep them."""

    def __init__(self, model: ResidualCodebooks):
        super().__init__()
        self.model = model


class FunCodecQuantizer(nn.Module):
    """FunCodec's `CostumeQuantizer` at inference: optional projections around a residual VQ.

    Args:
        input_size (int): dimension of the encoder output.
        codebook_size (int): entries per codebook.
        num_quantizers (int): residual stages.
        codec_dim (int | None): codeword dimension; a linear projection in and out when it differs from
            `input_size`.
        codec_range (float | None): when set, the input goes through `tanh` scaled to ±`codec_range`.
        q0_ds_ratio (int): the first stage runs at half the frame rate when > 1.
    """

    def __init__(
        self,
        input_size: int,
        codebook_size: int = 1024,
        num_quantizers: int = 8,
        codec_dim: int | None = None,
        codec_range: float | None = None,
        q0_ds_ratio: int = 1,
    ):
        super().__init__()
        codec_dim = codec_dim or input_size
        self.input_proj = nn.Linear(input_size, codec_dim) if codec_dim != input_size else None
        self.output_proj = nn.Linear(codec_dim, input_size) if codec_dim != input_size else None
        self.codec_range = codec_range
        self.rq = _ResidualVectorQuantizer(ResidualCodebooks(num_quantizers, codebook_size, codec_dim, q0_ds_ratio))

    @property
    def codebooks(self) -> ResidualCodebooks:
        return self.rq.model

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`x [B, D, T]` -> (quantised [B, D, T], codes [n_q, B, T]); `n_q=None` uses every stage."""
        if self.input_proj is not None:
            x = self.input_proj(x.transpose(1, 2)).transpose(1, 2)
        if self.codec_range is not None:
            x = torch.tanh(x) * self.codec_range
        quantized, codes = self.rq.model(x, n_q)
        if self.output_proj is not None:
            quantized = self.output_proj(quantized.transpose(1, 2)).transpose(1, 2)
        return quantized, codes

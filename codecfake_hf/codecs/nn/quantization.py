"""Residual vector quantisation (EnCodec-style, inference only), key-compatible with its checkpoints."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import CodecConfigError


class EuclideanCodebook(nn.Module):
    """A codebook searched by Euclidean distance.

    The training-time buffers (`inited`, `cluster_size`, `embed_avg`: k-means and EMA state) are kept
    only so that checkpoints load strictly; inference reads `embed` alone.

    Args:
        dim (int): codeword dimension D.
        codebook_size (int): codewords K.
    """

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        # Random codewords (EnCodec's init without k-means), so that a random-weight model is not degenerate.
        embed = nn.init.kaiming_uniform_(torch.empty(codebook_size, dim))
        self.register_buffer("inited", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`[..., D]` -> nearest codeword indices `[...]`."""
        flat = x.reshape(-1, x.shape[-1])
        embed = self.embed.t()
        # The full squared distance (not just -2 x.e + |e|^2), computed in EnCodec's order, so that
        # near-ties round the same way as in the reference implementation.
        dist = -(flat.pow(2).sum(1, keepdim=True) - 2 * flat @ embed + embed.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices.view(x.shape[:-1])

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices `[...]` -> codewords `[..., D]`."""
        return F.embedding(indices, self.embed)


class VectorQuantization(nn.Module):
    """One quantiser of the residual stack, on `[B, D, T]`, with optional projections around the codebook.

    Args:
        dim (int): input dimension D.
        codebook_size (int): codewords K.
        codebook_dim (int | None): codeword dimension; if it differs from `dim`, linear projections
            `project_in`/`project_out` map to and from it.
    """

    def __init__(self, dim: int, codebook_size: int, codebook_dim: int | None = None):
        super().__init__()
        codebook_dim = dim if codebook_dim is None else codebook_dim
        projected = codebook_dim != dim
        self.project_in = nn.Linear(dim, codebook_dim) if projected else nn.Identity()
        self.project_out = nn.Linear(codebook_dim, dim) if projected else nn.Identity()
        self._codebook = EuclideanCodebook(codebook_dim, codebook_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, D, T]` -> codes `[B, T]`."""
        return self._codebook.encode(self.project_in(x.transpose(1, 2)))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, T]` -> `[B, D, T]`."""
        return self.project_out(self._codebook.decode(codes)).transpose(1, 2)


class ResidualVectorQuantization(nn.Module):
    """A stack of quantisers, each coding what the previous ones left (SoundStream, Algorithm 1).

    Args:
        num_quantizers (int): quantisers in the stack.
        dim (int): input dimension D.
        codebook_size (int): codewords per quantiser.
        codebook_dim (int | None): codeword dimension, if projected (see `VectorQuantization`).
    """

    def __init__(self, num_quantizers: int, dim: int, codebook_size: int, codebook_dim: int | None = None):
        super().__init__()
        self.layers = nn.ModuleList(
            VectorQuantization(dim, codebook_size, codebook_dim) for _ in range(num_quantizers)
        )

    def encode(self, x: torch.Tensor, n_q: int) -> torch.Tensor:
        """`[B, D, T]` -> codes `[B, n_q, T]`."""
        residual, codes = x, []
        for layer in self.layers[:n_q]:
            indices = layer.encode(residual)
            residual = residual - layer.decode(indices)
            codes.append(indices)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T]` -> the sum of the first K quantisers' codewords `[B, D, T]`."""
        quantized = self.layers[0].decode(codes[:, 0])
        for k in range(1, codes.shape[1]):
            quantized = quantized + self.layers[k].decode(codes[:, k])
        return quantized


class ResidualVectorQuantizer(nn.Module):
    """EnCodec's residual vector quantiser: state-dict keys `vq.layers.N._codebook.{embed,...}`.

    Args:
        dimension (int): input dimension D.
        n_q (int): quantisers in the stack.
        bins (int): codewords per quantiser.
        codebook_dim (int | None): codeword dimension, if projected.
    """

    def __init__(self, dimension: int = 256, n_q: int = 8, bins: int = 1024, codebook_dim: int | None = None):
        super().__init__()
        self.dimension, self.n_q, self.bins = dimension, n_q, bins
        self.vq = ResidualVectorQuantization(n_q, dimension, bins, codebook_dim)

    def check_n_q(self, n_q: int) -> int:
        """`n_q` if this stack has that many quantisers, else a `ValueError` giving the valid range."""
        if not 1 <= n_q <= self.n_q:
            raise CodecConfigError(f"`n_q` must lie in 1..{self.n_q} (the quantisers of this model), got {n_q}.")
        return n_q

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Latent `[B, D, T]` -> codes `[B, n_q, T]` (int64), all quantisers by default."""
        return self.vq.encode(x, self.check_n_q(self.n_q if n_q is None else n_q))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T]` (K ≤ n_q, the first K quantisers) -> quantised latent `[B, D, T]`."""
        self.check_n_q(codes.shape[1])
        return self.vq.decode(codes)

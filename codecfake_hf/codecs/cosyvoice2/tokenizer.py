"""The S3 speech tokenizer v2 (CosyVoice 2's `speech_tokenizer_v2.onnx`): 16 kHz speech -> one of 3^8 tokens per 40 ms.

The release ships the tokenizer as an ONNX graph only. This is a torch port written from `s3tokenizer` (PyPI 0.3.0,
xingchensong/S3Tokenizer, `model_v2.py`: `S3TokenizerV2`, whose `onnx2torch` reads the release's ONNX file into the
state-dict keys used here; `onnx_files.tokenizer_state` applies the same rule): a Whisper-style encoder (two GELU
convolutions, the second with stride 2, then pre-norm blocks whose attention adds rotary embeddings on 64-wide heads
and an FSMN memory, a depthwise convolution over the values) and a finite scalar quantiser (8 dimensions, tanh, 3
levels each).

Its input is Whisper's log-mel spectrogram with 128 bins (`whisper.log_mel_spectrogram(speech, n_mels=128)` in
CosyVoice's `frontend._extract_speech_token`), computed here with transformers' `WhisperFeatureExtractor` filters.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HEAD_DIM = 64  # upstream's rotary table is built for 64-wide heads (precompute_freqs_cis(64, 2048))
ROTARY_POSITIONS = 2048
N_FFT, HOP = 400, 160  # Whisper's STFT at 16 kHz
FSQ_DIMS, FSQ_LEVELS = 8, 3


@functools.cache
def _mel_filters(n_mels: int) -> torch.Tensor:
    """`[n_mels, 201]` Slaney mel filters of Whisper (librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels), the
    arrays Whisper ships), as transformers' WhisperFeatureExtractor computes them."""
    from transformers.audio_utils import mel_filter_bank

    filters = mel_filter_bank(num_frequency_bins=1 + N_FFT // 2, num_mel_filters=n_mels, min_frequency=0.0,
                              max_frequency=8000.0, sampling_rate=16000, norm="slaney", mel_scale="slaney")
    return torch.from_numpy(np.ascontiguousarray(filters.T, dtype=np.float32))


def log_mel_spectrogram(wave: torch.Tensor, n_mels: int = 128) -> torch.Tensor:
    """Whisper's log-mel features of one utterance `[T]` -> `[n_mels, T // 160]` (the last STFT frame dropped)."""
    window = torch.hann_window(N_FFT, device=wave.device)
    stft = torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    log_spec = torch.clamp(_mel_filters(n_mels).to(wave.device) @ magnitudes, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def _rotary(positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    freqs = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2)[: HEAD_DIM // 2].float() / HEAD_DIM))
    angles = torch.outer(torch.arange(positions).float(), freqs)
    cos, sin = torch.cos(angles), torch.sin(angles)
    return torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class FSMNAttention(nn.Module):
    """`FSMNMultiHeadAttention`: rotary self-attention plus an FSMN memory (depthwise conv over the values)."""

    def __init__(self, n_state: int, n_head: int, kernel_size: int = 31):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        self.fsmn_block = nn.Conv1d(n_state, n_state, kernel_size, groups=n_state, bias=False)
        self.left_padding = (kernel_size - 1) // 2
        self.right_padding = kernel_size - 1 - self.left_padding

    def forward(self, x: torch.Tensor, bias: torch.Tensor, mask_pad: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        scale = (d // self.n_head) ** -0.25
        q = self.query(x).view(b, t, self.n_head, -1)
        k = self.key(x).view(b, t, self.n_head, -1)
        v = self.value(x).view(b, t, self.n_head, -1)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        memory = v.reshape(b, t, -1) * mask_pad
        memory = self.fsmn_block(F.pad(memory.transpose(1, 2), (self.left_padding, self.right_padding)))
        memory = (memory.transpose(1, 2) + v.reshape(b, t, -1) * mask_pad) * mask_pad
        qk = (q.permute(0, 2, 1, 3) * scale) @ (k.permute(0, 2, 3, 1) * scale) + bias
        w = torch.softmax(qk.float(), dim=-1).to(q.dtype)
        wv = (w @ v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3).flatten(start_dim=2)
        return self.out(wv) + memory


class ResidualAttentionBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.attn = FSMNAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(n_state, n_state * 4), nn.GELU(), nn.Linear(n_state * 4, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, mask_pad: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x), bias, mask_pad, cos, sin)
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoderV2(nn.Module):
    def __init__(self, n_mels: int, n_state: int, n_head: int, n_layer: int):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.blocks = nn.ModuleList(ResidualAttentionBlock(n_state, n_head) for _ in range(n_layer))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """`mel [1, n_mels, T]` (one utterance, no padding) -> `[1, ceil(ceil(T / 2) / 2), n_state]`."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).permute(0, 2, 1)
        frames = x.shape[1]
        if frames > ROTARY_POSITIONS:
            raise ValueError(f"{frames} token frames: the S3 tokenizer's rotary table holds {ROTARY_POSITIONS}")
        cos, sin = (part[:frames, None].to(x) for part in _rotary(ROTARY_POSITIONS))
        bias = torch.zeros(1, 1, 1, frames, dtype=x.dtype, device=x.device)  # one unpadded utterance: no mask
        mask_pad = torch.ones(1, frames, 1, dtype=x.dtype, device=x.device)
        for block in self.blocks:
            x = block(x, bias, mask_pad, cos, sin)
        return x


class FSQCodebook(nn.Module):
    """Projects to 8 dimensions, tanh, scaled by 0.999, rounded to {-1, 0, 1}: index = Σ (level + 1) · 3^i."""

    def __init__(self, dim: int):
        super().__init__()
        self.project_down = nn.Linear(dim, FSQ_DIMS)

    def bounded(self, x: torch.Tensor) -> torch.Tensor:
        """The values rounded to the grid: `tanh(project_down(x)) × 0.999`, `[B, T, 8]`."""
        return self.project_down(x).float().tanh() * 0.9990000128746033

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, dim]` -> codes `[B, T]` (int64)."""
        h = self.bounded(x).round() + 1
        powers = torch.pow(FSQ_LEVELS, torch.arange(FSQ_DIMS, device=x.device, dtype=h.dtype))
        return torch.sum(h * powers, dim=-1).long()


class FSQVectorQuantization(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self._codebook = FSQCodebook(dim)


class S3TokenizerV2(nn.Module):
    """`S3TokenizerV2`: log-mel -> encoder -> FSQ codes, 25 per second.

    Args:
        n_mels (int): 128; n_audio_state (int): 1280; n_audio_head (int): 20; n_audio_layer (int): 6 (the release).
    """

    def __init__(self, n_mels: int, n_audio_state: int, n_audio_head: int, n_audio_layer: int):
        super().__init__()
        if n_audio_state != HEAD_DIM * n_audio_head:
            raise ValueError(f"S3 tokenizer: n_audio_state {n_audio_state} must be {HEAD_DIM} × n_audio_head "
                             f"({n_audio_head}): its rotary embedding is built for {HEAD_DIM}-wide heads")
        self.n_mels = n_mels
        self.encoder = AudioEncoderV2(n_mels, n_audio_state, n_audio_head, n_audio_layer)
        self.quantizer = FSQVectorQuantization(n_audio_state)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[1, frames]`."""
        mel = log_mel_spectrogram(wave.float(), self.n_mels)[None]
        return self.quantizer._codebook.encode(self.encoder(mel))

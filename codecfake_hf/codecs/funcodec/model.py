"""FunCodec's model at inference: RMS normalisation, encoder, residual VQ, decoder, and its segment framing.

Written from alibaba-damo-academy/FunCodec@3435d87 (`models/codec_basic.py`, `codec_freq.py`) as a
reference; `funcodec.py` builds it from a checkpoint's `config.yaml` and runs it as CodecFake did.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .freqcodec import MagPhaseAnalysis, MagPhaseSynthesis
from .quantizer import FunCodecQuantizer


class FunCodecModel(nn.Module):
    """Loudness normalisation, encoder, residual VQ, decoder, and FunCodec's framing of the utterance.

    The FreqCodec configs add the STFT analysis before the encoder and the inverse STFT after the decoder
    (`enc_trans_func`, `dec_trans_func`, whose Hann windows are checkpoint buffers).

    Args:
        encoder (nn.Module): `[B, C, ...]` features -> latent `[B, D, frames]`.
        quantizer (FunCodecQuantizer): the residual VQ (`quantizer.rq.model.*`).
        decoder (nn.Module): latent `[B, D, frames]` -> waveform `[B, 1, T']` or features.
        sample_rate (int): the rate the model runs at, in Hz (`model_conf.target_sample_hz`).
        audio_normalize (bool): divide the input by its RMS and multiply the output back.
        segment_dur (float | None): encode in segments of this many seconds, overlap-added (None: whole).
        overlap_ratio (float | None): overlap of those segments.
        enc_trans_func (MagPhaseAnalysis | None): waveform -> encoder features (FreqCodec).
        dec_trans_func (MagPhaseSynthesis | None): decoder features -> waveform (FreqCodec).
    """

    def __init__(self, encoder: nn.Module, quantizer: FunCodecQuantizer, decoder: nn.Module, *, sample_rate: int,
                 audio_normalize: bool, segment_dur: float | None, overlap_ratio: float | None,
                 enc_trans_func: MagPhaseAnalysis | None = None, dec_trans_func: MagPhaseSynthesis | None = None):
        super().__init__()
        if enc_trans_func is not None:
            self.enc_trans_func = enc_trans_func
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        if dec_trans_func is not None:
            self.dec_trans_func = dec_trans_func
        self.frequency_domain = enc_trans_func is not None
        self.sample_rate = sample_rate
        self.audio_normalize = audio_normalize
        self.segment_length = None if segment_dur is None else int(segment_dur * sample_rate)
        self.segment_stride = None if segment_dur is None else max(
            1, int((1 - (overlap_ratio or 0.0)) * self.segment_length))

    @property
    def length_aware(self) -> bool:
        """Whether a padded batch runs as one (each item as if alone): the whole-utterance 1-D SEANet."""
        return not self.frequency_domain and self.segment_length is None

    # Lengths -------------------------------------------------------------------------------------------
    def code_frames(self, length: int) -> int:
        """Code frames of one whole segment of `length` samples."""
        if self.frequency_domain:
            return math.ceil((length // self.enc_trans_func.hop_length + 1) / self.encoder.time_stride)
        return int(self.encoder.output_lengths(length))

    def _frame_output_length(self, length: int) -> int:
        """Samples the decoder makes of a segment of `length` samples (before the cut to the input length)."""
        frames = self.code_frames(length)
        if self.frequency_domain:
            return self.dec_trans_func.output_length(frames * self.decoder.time_stride)
        return int(self.decoder.output_lengths(frames))

    def _offsets(self, length: int) -> range:
        """Start of each segment of an input of `length` samples (one segment: the whole input)."""
        return range(0, length, self.segment_stride or length)

    def output_length(self, length: int) -> int:
        """Output samples for `length` input samples: what the decoder makes, cut to the input length."""
        start = self._offsets(length)[-1]  # the overlap-add ends with the last segment's output
        return min(length, start + self._frame_output_length(length - start))

    # Inference -----------------------------------------------------------------------------------------
    def _scale(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """`1e-8 + RMS` of each item `[B, 1, 1]` (over its valid samples), or None without normalisation."""
        if not self.audio_normalize:
            return None
        mono = x.mean(dim=1, keepdim=True)
        if lengths is None:
            volume = mono.pow(2).mean(dim=2, keepdim=True).sqrt()
        else:  # the padding is zero: sum over the row, divide by the valid length
            volume = (mono.pow(2).sum(dim=2, keepdim=True) / lengths.to(x.dtype)[:, None, None]).sqrt()
        return 1e-8 + volume

    def _encode_segment(self, x: torch.Tensor, lengths: torch.Tensor | None, n_q: int | None):
        scale = self._scale(x, lengths)
        if scale is not None:
            x = x / scale
        # The 2-D encoder takes no lengths (FreqCodec never runs a padded batch as one).
        latent = self.encoder(self.enc_trans_func(x)) if self.frequency_domain else self.encoder(x, lengths)
        quantized, codes = self.quantizer(latent, n_q)
        return quantized, codes, scale

    def _decode_segment(self, quantized: torch.Tensor, scale: torch.Tensor | None,
                        frames: torch.Tensor | None) -> torch.Tensor:
        out = self.dec_trans_func(self.decoder(quantized)) if self.frequency_domain else self.decoder(quantized, frames)
        return out if scale is None else out * scale

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None,
                n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Resynthesise as upstream's `inference(speech, bit_width=None, use_scale=True)`.

        Args:
            x: `[B, 1, T]` waveform at `sample_rate`.
            lengths: `[B]` valid samples per item of a zero-padded batch (only where `length_aware`);
                None: every item is `T` samples long.
            n_q: quantisers to use (None: all, as CodecFake did).

        Returns:
            `(waveform [B, 1, T''], codes [n_q, B, frames])`. Without `lengths`, `T''` is the upstream
            output length; with them, item `i` is valid up to `output_length(lengths[i])`. With segments,
            the codes of successive segments are concatenated along frames.
        """
        if lengths is not None and not self.length_aware:
            raise ValueError("FunCodecModel: `lengths` needs a whole-utterance time-domain model; run the items "
                             "of a padded batch one by one.")
        length = x.shape[-1]
        if self.segment_length is None:
            quantized, codes, scale = self._encode_segment(x, lengths, n_q)
            frames = None if lengths is None else self.encoder.output_lengths(lengths)
            return self._decode_segment(quantized, scale, frames)[..., :length], codes
        decoded, all_codes = [], []
        for offset in self._offsets(length):
            quantized, codes, scale = self._encode_segment(x[..., offset: offset + self.segment_length], None, n_q)
            decoded.append(self._decode_segment(quantized, scale, None))
            all_codes.append(codes)
        return _linear_overlap_add(decoded, self.segment_stride)[..., :length], torch.cat(all_codes, dim=-1)

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """`[B, 1, T]` -> codes `[n_q, B, frames]`, as `forward` makes them (segments concatenated)."""
        segment = self.segment_length or x.shape[-1]
        return torch.cat([self._encode_segment(x[..., offset: offset + segment], None, n_q)[1]
                          for offset in self._offsets(x.shape[-1])], dim=-1)


def _linear_overlap_add(frames: list[torch.Tensor], stride: int) -> torch.Tensor:
    """Overlap-add `[..., L_i]` segments placed `stride` apart, each weighted by a triangle peaking mid-segment.

    Upstream's `_linear_overlap_add` (from EnCodec): where segments overlap, the weights cross-fade them;
    dividing by the summed weights makes a lone segment pass unchanged.
    """
    frame_length = frames[0].shape[-1]
    t = torch.linspace(0, 1, frame_length + 2, device=frames[0].device, dtype=frames[0].dtype)[1:-1]
    weight = 0.5 - (t - 0.5).abs()
    total = stride * (len(frames) - 1) + frames[-1].shape[-1]
    out = frames[0].new_zeros(*frames[0].shape[:-1], total)
    weight_sum = frames[0].new_zeros(total)
    for i, frame in enumerate(frames):
        n = frame.shape[-1]
        out[..., i * stride: i * stride + n] += weight[:n] * frame
        weight_sum[i * stride: i * stride + n] += weight[:n]
    return out / weight_sum

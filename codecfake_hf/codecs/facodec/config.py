"""FACodec's config: the constructor arguments of Amphion's `FACodecEncoderV2` / `FACodecDecoderV2`.

The Hub repository `amphion/naturalspeech3_facodec` holds only the two state dicts; the config lives in the code,
as the arguments Amphion's README (models/codec/ns3_codec/README.md) passes to the constructors. `OFFICIAL_CONFIG`
is that call, one section per network. Some sizes are hard-coded inside upstream's constructors (the transformer
encoders' widths, the mel front end of the prosody features, the classifier heads' class counts); they are fields
here with upstream's values as defaults, so that a tiny fixture can shrink them, and no official file spells them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

# The README's constructor arguments (both v2 networks take "the same parameters as FACodecEncoder/Decoder").
OFFICIAL_CONFIG: dict[str, Any] = {
    "encoder": {"ngf": 32, "up_ratios": [2, 4, 5, 5], "out_channels": 256},
    "decoder": {
        "in_channels": 256, "upsample_initial_channel": 1024, "ngf": 32, "up_ratios": [5, 5, 4, 2],
        "vq_num_q_c": 2, "vq_num_q_p": 1, "vq_num_q_r": 3, "vq_dim": 256, "codebook_dim": 8,
        "codebook_size_prosody": 10, "codebook_size_content": 10, "codebook_size_residual": 10,
        "use_gr_x_timbre": True, "use_gr_residual_f0": True, "use_gr_residual_phone": True,
    },
}


@dataclass(frozen=True)
class EncoderConf:
    """`FACodecEncoderV2(ngf, up_ratios, out_channels)` and its prosody mel front end.

    Args:
        ngf (int): width of the first convolution; each stage doubles it.
        up_ratios (tuple[int, ...]): downsampling strides (their product is the hop, 200).
        out_channels (int): latent channels.
        n_fft, num_mels, hop_size, win_size, fmin, fmax (int): the `MelSpectrogram` upstream hard-codes (1024, 80,
            200, 800, 0, 8000 at 16 kHz); the decoder reads its first `prosody_bins` bands.
    """

    ngf: int
    up_ratios: tuple[int, ...]
    out_channels: int
    n_fft: int = 1024
    num_mels: int = 80
    hop_size: int = 200
    win_size: int = 800
    fmin: int = 0
    fmax: int = 8000


@dataclass(frozen=True)
class DecoderConf:
    """`FACodecDecoderV2(...)`: the quantisers, the timbre and prosody transformers, the waveform decoder.

    Args:
        in_channels (int): latent channels (the encoder's `out_channels`).
        upsample_initial_channel (int): width of the decoder's first convolution; each stage halves it.
        ngf (int): stored by upstream, unused by the network.
        up_ratios (tuple[int, ...]): upsampling strides.
        vq_num_q_c, vq_num_q_p, vq_num_q_r (int): content, prosody and residual (acoustic detail) codebooks.
        vq_dim (int): the quantisers' input width.
        codebook_dim (int): the factorised codebooks' width (inputs are projected down to it).
        codebook_size_prosody, codebook_size_content, codebook_size_residual (int): log2 of the entries per codebook.
        use_gr_* (bool): which gradient-reversal classifier heads exist (training only; kept for strict loading).
        transformer_layers, transformer_hidden, transformer_heads, transformer_filter_size, transformer_kernel_size,
            max_positions (int): the timbre and prosody `TransformerEncoder`s, hard-coded upstream (4, 256, 4, 1024,
            5, and the positional table's 5000 rows).
        prosody_bins (int): mel bands fed to the prosody encoder (upstream: 20).
        phone_classes, speaker_classes (int): output sizes of the phone and speaker heads (5003, 245200; training only).
    """

    in_channels: int
    upsample_initial_channel: int
    ngf: int
    up_ratios: tuple[int, ...]
    vq_num_q_c: int
    vq_num_q_p: int
    vq_num_q_r: int
    vq_dim: int
    codebook_dim: int
    codebook_size_prosody: int
    codebook_size_content: int
    codebook_size_residual: int
    use_gr_content_f0: bool = False
    use_gr_prosody_phone: bool = False
    use_gr_residual_f0: bool = False
    use_gr_residual_phone: bool = False
    use_gr_x_timbre: bool = False
    transformer_layers: int = 4
    transformer_hidden: int = 256
    transformer_heads: int = 4
    transformer_filter_size: int = 1024
    transformer_kernel_size: int = 5
    max_positions: int = 5000
    prosody_bins: int = 20
    phone_classes: int = 5003
    speaker_classes: int = 245200

    # Constructor arguments that only training reads (losses, quantiser dropout, the residual mask).
    TRAINING_KEYS = ("vq_commit_weight", "vq_weight_init", "vq_full_commit_loss", "quantizer_dropout", "dropout_type",
                     "use_random_mask_residual", "prob_random_mask_residual")


@dataclass(frozen=True)
class FACodecConfig:
    """The two sections of FACodec's config, checked against each other.

    Args:
        encoder (EncoderConf): `FACodecEncoderV2`'s arguments.
        decoder (DecoderConf): `FACodecDecoderV2`'s arguments.
    """

    encoder: EncoderConf
    decoder: DecoderConf

    def __post_init__(self) -> None:
        enc, dec = self.encoder, self.decoder
        problems = []
        if enc.out_channels != dec.in_channels or dec.vq_dim != dec.in_channels:
            problems.append(f"encoder.out_channels ({enc.out_channels}), decoder.in_channels ({dec.in_channels}) and "
                            f"decoder.vq_dim ({dec.vq_dim}) must be equal: the quantisers read the encoder's output")
        if dec.transformer_hidden != dec.in_channels:
            problems.append(f"decoder.transformer_hidden ({dec.transformer_hidden}) must equal decoder.in_channels "
                            f"({dec.in_channels}): the timbre transformer reads the latent")
        if math.prod(enc.up_ratios) != math.prod(dec.up_ratios) or math.prod(enc.up_ratios) != enc.hop_size:
            problems.append(f"the encoder's strides {list(enc.up_ratios)}, the decoder's {list(dec.up_ratios)} and "
                            f"the mel hop ({enc.hop_size}) must give one frame rate")
        if dec.transformer_hidden % dec.transformer_heads:
            problems.append(f"decoder.transformer_hidden ({dec.transformer_hidden}) is not divisible by "
                            f"decoder.transformer_heads ({dec.transformer_heads})")
        if not 0 < dec.prosody_bins <= enc.num_mels:
            problems.append(f"decoder.prosody_bins ({dec.prosody_bins}) must lie in 1..encoder.num_mels "
                            f"({enc.num_mels})")
        if dec.upsample_initial_channel % 2 ** len(dec.up_ratios):
            problems.append(f"decoder.upsample_initial_channel ({dec.upsample_initial_channel}) must be divisible by "
                            f"2 ** {len(dec.up_ratios)} (one halving per stage)")
        if min(dec.vq_num_q_p, dec.vq_num_q_c) < 1 or dec.vq_num_q_r < 0:
            problems.append("decoder.vq_num_q_p and vq_num_q_c must be at least 1, vq_num_q_r at least 0")
        if problems:
            raise CodecConfigError("FACodec config: " + "; ".join(problems) + ".")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "FACodec config") -> FACodecConfig:
        """Read the official-format mapping (`{"encoder": {...}, "decoder": {...}}`)."""
        return from_config(cls, config, what=what)

    @property
    def n_codebooks(self) -> int:
        return self.decoder.vq_num_q_p + self.decoder.vq_num_q_c + self.decoder.vq_num_q_r

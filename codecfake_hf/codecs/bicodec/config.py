"""BiCodec's config: the three files of SparkAudio/Spark-TTS-0.5B its tokenizer reads, merged into one mapping.

`BiCodecTokenizer` (sparktts/models/audio_tokenizer.py) reads `config.yaml` (the repository root: the sample rate,
the reference segment's duration, the latent hop, whether to normalise the volume), `BiCodec/config.yaml` (whose
`audio_tokenizer` section holds each module's constructor arguments: `Encoder(**encoder)`, ...) and the wav2vec 2.0
folder `wav2vec2-large-xlsr-53/` (a copy of facebook/wav2vec2-large-xlsr-53: its `config.json` for transformers'
`Wav2Vec2Model`). The mapping this package reads is the root file's keys, plus `audio_tokenizer` (that section) and
`wav2vec2` (that config.json).

Sizes upstream hard-codes beside them are fields with upstream's values, which only a tiny fixture changes: the
wav2vec 2.0 hidden states averaged (`hidden_states[11]`, `[14]` and `[16]`), the ECAPA-TDNN's width (512, the
`ECAPA_TDNN_GLOB_c512` the speaker encoder builds) and its output width (`512 * 3`, written so both in the ECAPA-TDNN
and in the perceiver's `dim_context`), and the perceiver's heads (8 of 64).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

# The values of SparkAudio/Spark-TTS-0.5B's three files (the Hub is not reachable from where this was written):
# `wav2vec2` is facebook/wav2vec2-large-xlsr-53's published config.json, of which Spark-TTS ships a copy; the
# `audio_tokenizer` section is the one third-party copies of BiCodec/config.yaml agree on (as YAML, 1,157 bytes: the
# Hub lists 1.16 kB), and upstream's code built with it writes a safetensors file of 625,518,528 bytes (the mel
# buffers dropped, as the checkpoint does; the Hub lists 626 MB); the root config.yaml's seven keys are the ones
# upstream's tokenizer reads and the training keys beside them (as YAML, the 169 bytes the Hub lists).
OFFICIAL_CONFIG: dict[str, Any] = {
    "highpass_cutoff_freq": 40,
    "sample_rate": 16000,
    "segment_duration": 2.4,
    "max_val_duration": 12,
    "latent_hop_length": 320,
    "ref_segment_duration": 6,
    "volume_normalize": True,
    "audio_tokenizer": {
        "mel_params": {"sample_rate": 16000, "n_fft": 1024, "win_length": 640, "hop_length": 320, "mel_fmin": 10,
                       "mel_fmax": None, "num_mels": 128},
        "encoder": {"input_channels": 1024, "vocos_dim": 384, "vocos_intermediate_dim": 2048, "vocos_num_layers": 12,
                    "out_channels": 1024, "sample_ratios": [1, 1]},
        "decoder": {"input_channel": 1024, "channels": 1536, "rates": [8, 5, 4, 2], "kernel_sizes": [16, 11, 8, 4]},
        "quantizer": {"input_dim": 1024, "codebook_size": 8192, "codebook_dim": 8, "commitment": 0.25,
                      "codebook_loss_weight": 2.0, "use_l2_normlize": True, "threshold_ema_dead_code": 0.2},
        "speaker_encoder": {"input_dim": 128, "out_dim": 1024, "latent_dim": 128, "token_num": 32,
                            "fsq_levels": [4, 4, 4, 4, 4, 4], "fsq_num_quantizers": 1},
        "prenet": {"input_channels": 1024, "vocos_dim": 384, "vocos_intermediate_dim": 2048, "vocos_num_layers": 12,
                   "out_channels": 1024, "condition_dim": 1024, "sample_ratios": [1, 1], "use_tanh_at_final": False},
        "postnet": {"input_channels": 1024, "vocos_dim": 384, "vocos_intermediate_dim": 2048, "vocos_num_layers": 6,
                    "out_channels": 1024, "use_tanh_at_final": False},
    },
    "wav2vec2": {
        "activation_dropout": 0.0, "apply_spec_augment": True, "architectures": ["Wav2Vec2ForPreTraining"],
        "attention_dropout": 0.1, "bos_token_id": 1, "codevector_dim": 768, "contrastive_logits_temperature": 0.1,
        "conv_bias": True, "conv_dim": [512, 512, 512, 512, 512, 512, 512], "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
        "conv_stride": [5, 2, 2, 2, 2, 2, 2], "ctc_loss_reduction": "sum", "ctc_zero_infinity": False,
        "diversity_loss_weight": 0.1, "do_stable_layer_norm": True, "eos_token_id": 2,
        "feat_extract_activation": "gelu",
        "feat_extract_dropout": 0.0, "feat_extract_norm": "layer", "feat_proj_dropout": 0.1,
        "feat_quantizer_dropout": 0.0, "final_dropout": 0.0, "gradient_checkpointing": False, "hidden_act": "gelu",
        "hidden_dropout": 0.1, "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 4096,
        "layer_norm_eps": 1e-05, "layerdrop": 0.1, "mask_channel_length": 10, "mask_channel_min_space": 1,
        "mask_channel_other": 0.0, "mask_channel_prob": 0.0, "mask_channel_selection": "static",
        "mask_feature_length": 10, "mask_feature_prob": 0.0, "mask_time_length": 10, "mask_time_min_space": 1,
        "mask_time_other": 0.0, "mask_time_prob": 0.075, "mask_time_selection": "static", "model_type": "wav2vec2",
        "num_attention_heads": 16, "num_codevector_groups": 2, "num_codevectors_per_group": 320,
        "num_conv_pos_embedding_groups": 16, "num_conv_pos_embeddings": 128, "num_feat_extract_layers": 7,
        "num_hidden_layers": 24, "num_negatives": 100, "pad_token_id": 0, "proj_codevector_dim": 768,
        "transformers_version": "4.7.0.dev0", "vocab_size": 32,
    },
}

# Keys of facebook/wav2vec2-large-xlsr-53's config.json (transformers 4.7) that today's `Wav2Vec2Config` no longer
# has: training options (masking, dropout, checkpointing), accepted and unused.
WAV2VEC2_LEGACY_KEYS = ("feat_extract_dropout", "gradient_checkpointing", "mask_channel_length",
                        "mask_channel_min_space", "mask_channel_other", "mask_channel_prob", "mask_channel_selection",
                        "mask_time_min_space", "mask_time_other", "mask_time_selection")


@dataclass(frozen=True)
class MelParams:
    """`mel_params`: torchaudio's `MelSpectrogram(sample_rate, n_fft, win_length, hop_length, mel_fmin, mel_fmax,
    n_mels=num_mels, power=1, norm="slaney", mel_scale="slaney")` of the reference segment (`mel_fmax` None: half
    the sample rate)."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    mel_fmin: float
    mel_fmax: float | None
    num_mels: int


@dataclass(frozen=True)
class EncoderArgs:
    """`encoder`: `feat_encoder.Encoder`'s arguments (a Vocos backbone, sampling blocks, a projection)."""

    input_channels: int
    vocos_dim: int
    vocos_intermediate_dim: int
    vocos_num_layers: int
    out_channels: int
    sample_ratios: tuple[int, ...] = (1, 1)


@dataclass(frozen=True)
class FeatDecoderArgs:
    """`prenet` and `postnet`: `feat_decoder.Decoder`'s arguments (`condition_dim`: adaptive layer norms)."""

    input_channels: int
    vocos_dim: int
    vocos_intermediate_dim: int
    vocos_num_layers: int
    out_channels: int
    condition_dim: int | None = None
    sample_ratios: tuple[int, ...] = (1, 1)
    use_tanh_at_final: bool = False


@dataclass(frozen=True)
class WaveGeneratorArgs:
    """`decoder`: `wave_generator.WaveGenerator`'s arguments (DAC's decoder with its own kernel sizes)."""

    input_channel: int
    channels: int
    rates: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    d_out: int = 1


@dataclass(frozen=True)
class QuantizerArgs:
    """`quantizer`: `FactorizedVectorQuantize`'s arguments that shape it (the others train it)."""

    TRAINING_KEYS = ("commitment", "codebook_loss_weight", "decay", "threshold_ema_dead_code", "momentum",
                     "use_l2_normlize")

    input_dim: int
    codebook_size: int
    codebook_dim: int


@dataclass(frozen=True)
class SpeakerEncoderArgs:
    """`speaker_encoder`: `SpeakerEncoder`'s arguments, plus the sizes it hard-codes (upstream's values).

    Args:
        input_dim (int): mel bins.
        out_dim (int): the x-vector's and d-vector's width.
        latent_dim (int): the perceiver's width, quantised by the residual FSQ.
        token_num (int): global tokens (the perceiver's latents).
        fsq_levels (tuple[int, ...]): levels per FSQ dimension.
        fsq_num_quantizers (int): residual FSQ stages.
        ecapa_channels (int): the ECAPA-TDNN's width (`ECAPA_TDNN_GLOB_c512`: 512).
        ecapa_out_channels (int): its last convolution's width and the perceiver's context (`512 * 3`).
        perceiver_heads, perceiver_dim_head (int): the perceiver's attention heads (8 of 64).
    """

    input_dim: int = 100
    out_dim: int = 512
    latent_dim: int = 128
    token_num: int = 32
    fsq_levels: tuple[int, ...] = (4, 4, 4, 4, 4, 4)
    fsq_num_quantizers: int = 1
    ecapa_channels: int = 512
    ecapa_out_channels: int = 512 * 3
    perceiver_heads: int = 8
    perceiver_dim_head: int = 64


@dataclass(frozen=True)
class AudioTokenizerConfig:
    """BiCodec/config.yaml's `audio_tokenizer` section."""

    mel_params: MelParams
    encoder: EncoderArgs
    quantizer: QuantizerArgs
    prenet: FeatDecoderArgs
    postnet: FeatDecoderArgs
    decoder: WaveGeneratorArgs
    speaker_encoder: SpeakerEncoderArgs


@dataclass(frozen=True)
class BiCodecConfig:
    """The merged config (see the module's docstring).

    Args:
        sample_rate (int): the rate the tokenizer loads audio at (16 kHz).
        latent_hop_length (int): samples per semantic token; the reference segment is a whole number of them.
        ref_segment_duration (float): seconds of the utterance the speaker encoder hears (tiled when shorter).
        volume_normalize (bool): `audio_volume_normalize` on the loaded audio first.
        audio_tokenizer (AudioTokenizerConfig): the networks.
        wav2vec2 (dict): wav2vec2-large-xlsr-53's config.json (checked by transformers' `Wav2Vec2Config`).
        semantic_layers (tuple[int, ...]): the hidden states averaged into the encoder's input (11, 14, 16).
    """

    TRAINING_KEYS = ("highpass_cutoff_freq", "segment_duration", "max_val_duration")

    sample_rate: int
    latent_hop_length: int
    ref_segment_duration: float
    volume_normalize: bool
    audio_tokenizer: AudioTokenizerConfig
    wav2vec2: dict
    semantic_layers: tuple[int, ...] = (11, 14, 16)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "BiCodec config") -> BiCodecConfig:
        """Read the merged mapping; the wav2vec 2.0 part through transformers' `Wav2Vec2Config` (unknown keys named)."""
        from transformers import Wav2Vec2Config

        from .. import transformers_weights

        made = from_config(cls, config, what=what)
        checked = transformers_weights.model_config(Wav2Vec2Config, made.wav2vec2, what=f"{what} `wav2vec2`",
                                                    extra_keys=WAV2VEC2_LEGACY_KEYS)
        made = dataclasses.replace(made, wav2vec2=transformers_weights.config_values(checked))
        made.check(what)
        return made

    def check(self, what: str) -> None:
        tokenizer = self.audio_tokenizer
        hop = math.prod(self.wav2vec2["conv_stride"])
        if hop != self.latent_hop_length or math.prod(tokenizer.decoder.rates) != self.latent_hop_length:
            raise CodecConfigError(f"{what}: wav2vec 2.0's strides multiply to {hop} and the wave generator's rates to "
                                   f"{math.prod(tokenizer.decoder.rates)}; both must be `latent_hop_length` "
                                   f"({self.latent_hop_length}).")
        if any(r != 1 for r in (*tokenizer.encoder.sample_ratios, *tokenizer.prenet.sample_ratios,
                                *tokenizer.postnet.sample_ratios)):
            raise CodecConfigError(f"{what}: sample_ratios other than 1 change the token rate; the released BiCodec "
                                   "keeps the wav2vec 2.0 frame rate (sample_ratios [1, 1]).")
        if len(tokenizer.decoder.rates) != len(tokenizer.decoder.kernel_sizes):
            raise CodecConfigError(f"{what}: the wave generator has {len(tokenizer.decoder.rates)} rates and "
                                   f"{len(tokenizer.decoder.kernel_sizes)} kernel sizes.")
        layers = int(self.wav2vec2["num_hidden_layers"])
        if not self.semantic_layers or max(self.semantic_layers) >= layers or min(self.semantic_layers) < 0:
            raise CodecConfigError(f"{what}: semantic_layers {self.semantic_layers} must be hidden states 0 to "
                                   f"{layers - 1} of the {layers}-layer wav2vec 2.0 (the last is layer-normed).")
        if not self.wav2vec2["do_stable_layer_norm"]:
            raise CodecConfigError(f"{what}: the wav2vec 2.0 model must be a stable-layer-norm one "
                                   "(do_stable_layer_norm true, as wav2vec2-large-xlsr-53), whose hidden states are "
                                   "its layers' own outputs.")
        if self.wav2vec2["hidden_size"] != tokenizer.encoder.input_channels:
            raise CodecConfigError(f"{what}: wav2vec 2.0 is {self.wav2vec2['hidden_size']} wide but the encoder takes "
                                   f"{tokenizer.encoder.input_channels} channels.")
        if tokenizer.speaker_encoder.ecapa_channels % 8:
            raise CodecConfigError(f"{what}: the ECAPA-TDNN's width ({tokenizer.speaker_encoder.ecapa_channels}) must "
                                   "divide into its Res2Net blocks' 8 scales.")

    @property
    def semantic_depth(self) -> int:
        """wav2vec 2.0 layers run: as many as the deepest hidden state read (hidden_states[i] is layer i's input)."""
        return max(self.semantic_layers)

    @property
    def ref_segment_length(self) -> int:
        """Samples of the reference segment: `int(sample_rate × ref_segment_duration)` in whole latent hops."""
        hop = self.latent_hop_length
        return int(self.sample_rate * self.ref_segment_duration) // hop * hop


def official_config() -> dict[str, Any]:
    """A copy of `OFFICIAL_CONFIG`."""
    return copy.deepcopy(OFFICIAL_CONFIG)

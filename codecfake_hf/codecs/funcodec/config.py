"""FunCodec's configs: the official `config.yaml` files and one frozen dataclass per section of their model part.

A FunCodec `config.yaml` names its networks (`model`, `encoder`, `quantizer`, `decoder`) and configures each in
a section (`model_conf`, `encoder_conf`, `quantizer_conf`, `decoder_conf`); the rest (discriminator, optimiser,
data) only training reads. `FunCodecConfig.from_config` reads the file's mapping into `FunCodecConfig`, whose
sections are the dataclasses below (through `codecs.config.from_config`); a key a section omits takes the default
of upstream's class, as FunCodec's own `build_model` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ...errors import CodecConfigError
from ..config import from_config

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SEANetConf:
    """The options FunCodec's SEANet encoders and decoders share (`encoder_conf` / `decoder_conf`).

    Args:
        n_filters (int): width of the first (encoder) or last (decoder) stage.
        n_residual_layers (int): residual blocks per stage.
        ratios (tuple): strides, in decoder order (the encoder reverses them); 2-D: (freq, time) pairs.
        activation (str), activation_params (dict | None): the nonlinearity (ELU) and its arguments.
        norm (str), norm_params (dict | None): the convolutions' normalisation and its arguments.
        kernel_size, last_kernel_size, residual_kernel_size (int): conv kernels.
        dilation_base (int): residual block `j` of a stage has dilation `dilation_base ** j`.
        causal (bool): causal convolutions.
        pad_mode (str): padding of every conv.
        true_skip (bool): identity shortcuts in the residual blocks (else 1x1 convs).
        compress (int): residual blocks' hidden width divisor.
        seq_model (str | None): `"lstm"` or `"none"`: the sequence model between convs and latent.
        seq_layer_num (int): its layers.
        res_seq (bool): a skip connection around it.
    """

    n_filters: int = 32
    n_residual_layers: int = 1
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    activation: str = "ELU"
    activation_params: dict | None = None
    norm: str = "weight_norm"
    norm_params: dict | None = None
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    causal: bool = False
    pad_mode: str = "reflect"
    true_skip: bool = False
    compress: int = 2
    seq_model: str | None = "lstm"
    seq_layer_num: int = 2
    res_seq: bool = True

    def module_args(self) -> dict[str, Any]:
        """The keyword arguments of the module this section configures."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# FunCodec's 1-D SEANet options that EnCodec's SEANet (nn/seanet.py) fixes at these values (every official
# config keeps them); its `seq_model`/`seq_layer_num` become seanet's `lstm` layer count.
_SEANET_FIXED = {"res_seq": True, "double_filters": True, "half_filters": True, "add_snake_activation": False}


class _SEANet1dConf(_SEANetConf):
    """The 1-D sections' checks and their mapping onto `nn.seanet`'s arguments."""

    side: ClassVar[str]

    def __post_init__(self):
        fixed = {key: getattr(self, key) for key in _SEANET_FIXED if hasattr(self, key)}
        unsupported = {key: value for key, value in fixed.items() if value != _SEANET_FIXED[key]}
        if self.seq_model not in ("lstm", "none", None):
            unsupported["seq_model"] = self.seq_model
        if unsupported:
            raise CodecConfigError(f"FunCodec {self.side}: options {unsupported} are not supported; valid: seq_model "
                                   f"'lstm' or 'none', and {_SEANET_FIXED}.")
        num_groups = (self.norm_params or {}).get("num_groups", 1)
        if num_groups != 1:  # EnCodec's time_group_norm is GroupNorm(1, C)
            raise CodecConfigError(f"FunCodec {self.side}: norm_params num_groups={num_groups} is not supported; "
                                   "valid: 1.")

    def module_args(self) -> dict[str, Any]:
        args = super().module_args()
        seq_model, seq_layer_num = args.pop("seq_model"), args.pop("seq_layer_num")
        for key in _SEANET_FIXED:
            args.pop(key, None)
        args["lstm"] = seq_layer_num if seq_model == "lstm" else 0
        args["norm_params"] = {k: v for k, v in (self.norm_params or {}).items() if k != "num_groups"}
        return args


@dataclass(frozen=True)
class SEANetEncoderConf(_SEANet1dConf):
    """`encoder_conf` of `encoder: encodec_seanet_encoder` (1-D, on the waveform); `_SEANetConf`'s fields and:

    Args:
        dimension (int): latent channels.
        double_filters (bool): widths double at each stage (True; the only choice built).
        add_snake_activation (bool): Snake activations (False; the only choice built).
    """

    side: ClassVar[str] = "encoder"
    dimension: int = 128
    double_filters: bool = True
    add_snake_activation: bool = False


@dataclass(frozen=True)
class SEANetDecoderConf(_SEANet1dConf):
    """`decoder_conf` of `decoder: encodec_seanet_decoder` (1-D); `_SEANetConf`'s fields and:

    Args:
        channels (int): audio channels out.
        final_activation (str | None), final_activation_params (dict | None): activation on the output.
        trim_right_ratio (float): share of a causal transposed conv's padding trimmed on the right.
        half_filters (bool): widths halve at each stage (True; the only choice built).
        add_snake_activation (bool): Snake activations (False; the only choice built).
    """

    side: ClassVar[str] = "decoder"
    channels: int = 1
    final_activation: str | None = None
    final_activation_params: dict | None = None
    trim_right_ratio: float = 1.0
    half_filters: bool = True
    add_snake_activation: bool = False


_FREQ_DEFAULT_RATIOS = ((4, 1), (4, 1), (4, 2), (4, 1))


@dataclass(frozen=True)
class SEANetEncoder2dConf(_SEANetConf):
    """`encoder_conf` of `encoder: encodec_seanet_encoder_2d` (FreqCodec, on STFT features); `_SEANetConf`'s
    fields (`ratios` as (freq, time) pairs) and:

    Args:
        dimension (int): latent channels.
        conv_group_ratio (int): grouped residual and downsampling convs when > 0.
    """

    ratios: tuple[tuple[int, ...] | int, ...] = _FREQ_DEFAULT_RATIOS
    dimension: int = 128
    conv_group_ratio: int = -1


@dataclass(frozen=True)
class SEANetDecoder2dConf(_SEANetConf):
    """`decoder_conf` of `decoder: encodec_seanet_decoder_2d` (FreqCodec); `_SEANetConf`'s fields and:

    Args:
        channels (int): feature channels out (3 for magnitude and phase).
        final_activation (str | None), final_activation_params (dict | None): activation on the output.
        trim_right_ratio (float): 1.0 (only causal models trim).
        last_out_padding (tuple): `out_padding` of the last transposed conv ((freq before, after), (time ...)).
        tr_conv_group_ratio (int): grouped transposed convs when > 0.
        conv_group_ratio (int): grouped residual convs when > 0.
    """

    ratios: tuple[tuple[int, ...] | int, ...] = _FREQ_DEFAULT_RATIOS
    channels: int = 1
    final_activation: str | None = None
    final_activation_params: dict | None = None
    trim_right_ratio: float = 1.0
    last_out_padding: tuple[tuple[int, ...], ...] | int = ((0, 1), (0, 0))
    tr_conv_group_ratio: int = -1
    conv_group_ratio: int = -1


@dataclass(frozen=True)
class QuantizerConf:
    """`quantizer_conf` of `quantizer: costume_quantizer` (FunCodec's `CostumeQuantizer`).

    Args:
        codebook_size (int): entries per codebook.
        num_quantizers (int): residual stages.
        codec_dim (int | None): codeword dimension (None: the encoder's).
        codec_range (float | None): `tanh` scaling of the input to ±this, when set.
        q0_ds_ratio (int): the first stage runs at a lower frame rate when > 1.
    """

    # Training only (EMA, k-means init, dropout, DDP), or only the bitrate arithmetic of a `bit_width` request
    # (which CodecFake never made).
    TRAINING_KEYS: ClassVar[tuple[str, ...]] = ("ema_decay", "kmeans_init", "quantize_dropout", "rand_num_quant",
                                                 "use_ddp", "sampling_rate", "encoder_hop_length")
    codebook_size: int = 1024
    num_quantizers: int = 8
    codec_dim: int | None = None
    codec_range: float | None = None
    q0_ds_ratio: int = 1


@dataclass(frozen=True)
class ModelConf:
    """`model_conf` as inference reads it; keys it omits take `MODEL_DEFAULTS[model]` (upstream's class defaults).

    Args:
        target_sample_hz (int): audio rate in Hz.
        audio_normalize (bool): divide the input by its RMS and multiply the output back.
        segment_dur (float | None): encode in segments of this many seconds, overlap-added (None: whole).
        overlap_ratio (float | None): overlap of those segments.
        codec_domain (str | tuple[str, ...]): `"time"` (encodec) or `("mag_phase", "mag_phase")` (freq_codec).
        bypass_quantizer (bool): False (CodecFake quantised).
        domain_conf (dict | None): FreqCodec's STFT options (`n_fft`, `hop_length`; FreqCodec's defaults 512, 160).
    """

    # Upstream's model classes' other arguments: losses and their weights.
    TRAINING_KEYS: ClassVar[tuple[str, ...]] = (
        "odim", "multi_spectral_window_powers_of_two", "multi_spectral_n_mels", "recon_loss_weight",
        "multi_spectral_recon_loss_weight", "adversarial_loss_weight", "feat_match_loss_weight",
        "enc_quant_loss_weight", "use_power_spec_loss", "context_loss_weight", "context_loss_conf",
        "phase_invariant_training", "pit_feat_loss_weight", "pit_disc_loss_weight", "feat_match_layer_start",
    )
    target_sample_hz: int
    audio_normalize: bool
    segment_dur: float | None
    overlap_ratio: float | None
    codec_domain: str | tuple[str, ...]
    bypass_quantizer: bool = False
    domain_conf: dict | None = None

    def __post_init__(self):
        if self.bypass_quantizer:
            raise CodecConfigError("FunCodec: bypass_quantizer=true is not supported (CodecFake quantised).")

    def stft_args(self) -> dict[str, Any]:
        """FreqCodec's STFT arguments (`n_fft`, `hop_length`) that `domain_conf` sets."""
        return {key: value for key, value in (self.domain_conf or {}).items() if key in ("n_fft", "hop_length")}


# Defaults of the upstream model classes for model_conf keys a config.yaml may omit (note: segment_dur
# defaults to 1 s, and audio_normalize differs between the two classes).
MODEL_DEFAULTS = {
    "encodec": {"audio_normalize": True, "segment_dur": 1.0, "overlap_ratio": 0.01, "codec_domain": "time",
                "target_sample_hz": 24000, "bypass_quantizer": False, "domain_conf": {}},
    "freq_codec": {"audio_normalize": False, "segment_dur": 1.0, "overlap_ratio": 0.01,
                   "codec_domain": ["time", "time"], "target_sample_hz": 24000, "bypass_quantizer": False,
                   "domain_conf": {}},
}
# The networks each name in config.yaml stands for, by the dataclass of its section.
ENCODERS = {"encodec_seanet_encoder": SEANetEncoderConf, "encodec_seanet_encoder_2d": SEANetEncoder2dConf}
DECODERS = {"encodec_seanet_decoder": SEANetDecoderConf, "encodec_seanet_decoder_2d": SEANetDecoder2dConf}
QUANTIZERS = {"costume_quantizer": QuantizerConf}
_DOMAINS = {"encodec": "time", "freq_codec": ("mag_phase", "mag_phase")}


@dataclass(frozen=True)
class FunCodecConfig:
    """The model part of a FunCodec `config.yaml`: the networks' names and their sections.

    Args:
        model (str): `"encodec"` (time domain) or `"freq_codec"` (FreqCodec, magnitude and phase).
        input_size (int | None): channels the encoder reads (1: the waveform; 3: magnitude and phase).
            None (a feature front end) is not supported.
        encoder (str), decoder (str): `ENCODERS` / `DECODERS` names.
        quantizer (str): `"costume_quantizer"`.
        encoder_conf, decoder_conf: the section of the named network (`ENCODERS` / `DECODERS`).
        quantizer_conf (QuantizerConf), model_conf (ModelConf): their sections.

    A section the file omits (or leaves null) takes upstream's defaults. Other top-level keys are ignored, as
    upstream ignores them: the `config.yaml` of a checkpoint is the trainer's dump of all its arguments (data
    paths, optimiser, scheduler, GPUs: 3.9 kB on the Hub, against the recipe's model part kept here). Inside
    the sections, which upstream passes to the networks' constructors, an unknown key is refused.
    """
    model: str
    input_size: int | None
    encoder: str
    encoder_conf: SEANetEncoderConf | SEANetEncoder2dConf
    quantizer: str
    quantizer_conf: QuantizerConf
    decoder: str
    decoder_conf: SEANetDecoderConf | SEANetDecoder2dConf
    model_conf: ModelConf

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FunCodecConfig:
        """Read a `config.yaml` mapping; each section as the network its name picks."""
        choices = {"model": MODEL_DEFAULTS, "encoder": ENCODERS, "quantizer": QUANTIZERS, "decoder": DECODERS}
        for key, valid in choices.items():
            if key in config and not (isinstance(config[key], str) and config[key] in valid):
                raise CodecConfigError(f"FunCodec: {key} {config[key]!r} is not supported; valid: "
                                       f"{', '.join(map(repr, valid))}.")
        names = {field.name for field in fields(cls)}
        ignored = sorted(set(config) - names)
        if ignored:
            logger.debug("FunCodec config.yaml: ignoring the training options %s", ", ".join(ignored))
        values = {key: value for key, value in config.items() if key in names}
        for section in ("encoder_conf", "quantizer_conf", "decoder_conf", "model_conf"):
            values[section] = config.get(section) or {}
        values["model_conf"] = {**MODEL_DEFAULTS.get(config.get("model"), {}), **values["model_conf"]}
        hints = {f"{key}_conf": valid[config[key]] for key, valid in choices.items() if key in config and
                 key != "model"}
        return from_config(cls, values, what="FunCodec config.yaml", hints=hints)

    def __post_init__(self):
        if self.input_size is None:
            raise CodecConfigError("FunCodec: configs with a feature front end (input_size: null) are not supported.")
        domain, valid = self.model_conf.codec_domain, _DOMAINS[self.model]
        if domain != valid:
            raise CodecConfigError(f"FunCodec: {self.model} codec_domain {domain!r} is not supported; valid: "
                                   f"{valid!r}.")
        for key, choices in (("encoder_conf", ENCODERS[self.encoder]), ("decoder_conf", DECODERS[self.decoder])):
            if not isinstance(getattr(self, key), choices):
                raise CodecConfigError(f"FunCodec: `{key}` must be a {choices.__name__} for {key[:-5]} "
                                       f"{getattr(self, key[:-5])!r}.")

    @property
    def frequency_domain(self) -> bool:
        return self.model == "freq_codec"


# --- the official files -----------------------------------------------------------------------------------
# The Hub's config.yaml files could not be read when this was written; these are FunCodec's recipes
# (egs/LibriTTS/codec/conf/*.yaml, model part), which the parameter counts and file sizes of the
# EnCodec-style checkpoints corroborate. For gr1/gr8 the widths are NOT known: the recipe's are known to
# be wrong for those checkpoints (0.52 M / 4.50 M parameters published, 16.2 M here). Loading the real
# files never uses these: download() reads the checkpoint's own config.yaml.
_QUANTIZER_CONF = {
    "codebook_size": 1024, "num_quantizers": 32, "ema_decay": 0.99, "kmeans_init": True,
    "sampling_rate": 16000, "quantize_dropout": True, "rand_num_quant": [1, 2, 4, 8, 16, 32], "use_ddp": True,
    "encoder_hop_length": 320,
}
_DISCRIMINATOR = {
    "discriminator": "multiple_disc",
    "discriminator_conf": {"disc_conf_list": [{"name": "encodec_multi_scale_stft_discriminator", "filters": 32}]},
}
_MODEL_CONF = {
    "odim": 128, "multi_spectral_window_powers_of_two": [5, 6, 7, 8, 9, 10], "target_sample_hz": 16000,
    "audio_normalize": True, "use_power_spec_loss": True, "segment_dur": None, "overlap_ratio": None,
}
_ENCODEC_DS320: dict[str, Any] = {
    "input_size": 1, "sampling_rate": 16000,
    "encoder": "encodec_seanet_encoder", "encoder_conf": {"norm": "time_group_norm", "causal": False},
    "quantizer": "costume_quantizer", "quantizer_conf": _QUANTIZER_CONF,
    "decoder": "encodec_seanet_decoder", "decoder_conf": {"norm": "time_group_norm", "causal": False},
    **_DISCRIMINATOR, "model": "encodec", "model_conf": _MODEL_CONF,
}
_DS640_RATIOS = [8, 5, 4, 2, 2]
_ENCODEC_DS640: dict[str, Any] = {
    **_ENCODEC_DS320,
    "encoder_conf": {"ratios": _DS640_RATIOS, **_ENCODEC_DS320["encoder_conf"]},
    "quantizer_conf": {**_QUANTIZER_CONF, "rand_num_quant": [2, 4, 8, 16, 32], "encoder_hop_length": 640},
    "decoder_conf": {"ratios": _DS640_RATIOS, **_ENCODEC_DS320["decoder_conf"]},
}
_FREQ_RATIOS = [[4, 1], [4, 1], [4, 2], [4, 1]]
_FREQ_CONV = {"ratios": _FREQ_RATIOS, "norm": "time_group_norm", "norm_params": {"num_groups": 1},
              "causal": False}
_FREQCODEC_MAG_PHASE: dict[str, Any] = {
    "input_size": 3, "sampling_rate": 16000,
    "encoder": "encodec_seanet_encoder_2d", "encoder_conf": {**_FREQ_CONV, "dilation_base": 1},
    "quantizer": "costume_quantizer", "quantizer_conf": _QUANTIZER_CONF,
    "decoder": "encodec_seanet_decoder_2d", "decoder_conf": {**_FREQ_CONV, "channels": 3, "dilation_base": 1},
    **_DISCRIMINATOR, "model": "freq_codec",
    "model_conf": {**_MODEL_CONF, "codec_domain": ["mag_phase", "mag_phase"]},
}
OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "funcodec-funcodec_en_libritts-16k-gr1nq32ds320": _FREQCODEC_MAG_PHASE,
    "funcodec-funcodec_en_libritts-16k-gr8nq32ds320": _FREQCODEC_MAG_PHASE,
    "funcodec-funcodec_en_libritts-16k-nq32ds320": _ENCODEC_DS320,
    "funcodec-funcodec_en_libritts-16k-nq32ds640": _ENCODEC_DS640,
    "funcodec-funcodec_zh_en_general_16k_nq32ds320": _ENCODEC_DS320,
    "funcodec-funcodec_zh_en_general_16k_nq32ds640": _ENCODEC_DS640,
}

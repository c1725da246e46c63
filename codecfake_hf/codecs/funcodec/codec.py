"""FunCodec's six CodecFake configs: `config.yaml` + `model.pth` loading, the EnCodec-style and FreqCodec models.

The CodecFake pipeline (roger-tseng/AudioDecBenchmark@vctk, `base_codec/funcodec.py`) built FunCodec's
`Speech2Token(config.yaml, model.pth)` and called it on each whole utterance with the default bit width
(all 32 quantisers). Inside (alibaba-damo-academy/FunCodec@3435d87, `models/codec_basic.py` and
`codec_freq.py`): the input is divided by its RMS (`audio_normalize`), encoded, residual-vector
quantised, decoded, multiplied back by the RMS and cut to the input length. The time-domain configs
(`model: encodec`) run a 1-D SEANet on the waveform (`..nn.seanet`); the FreqCodec configs
(`model: freq_codec`) run a 2-D SEANet over an STFT's magnitude and phase (`freqcodec.py`); the
model around either is `model.py`. Everything is built from the checkpoint's own `config.yaml`,
with upstream's defaults for keys it omits.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec
from ..nn.seanet import SEANetDecoder, SEANetEncoder
from ..registry import CodecSpec
from .freqcodec import MagPhaseAnalysis, MagPhaseSynthesis, SEANetDecoder2d, SEANetEncoder2d
from .model import FunCodecModel
from .quantizer import FunCodecQuantizer

# Tensors of model.pth that only training uses: the GAN discriminator, the mel filters of the
# multi-scale spectral loss, and the context model of the (optional) context loss. Dropped by name;
# anything else must match the model exactly.
TRAINING_ONLY_PREFIXES = ("discriminator.", "mel_spec_transforms.", "context_model.")

# --- official configs ---------------------------------------------------------------------------------
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

# Defaults of the upstream model classes for model_conf keys a config.yaml may omit (note: segment_dur
# defaults to 1 s, and audio_normalize differs between the two classes).
_MODEL_DEFAULTS = {
    "encodec": {"audio_normalize": True, "segment_dur": 1.0, "overlap_ratio": 0.01, "codec_domain": "time",
                "target_sample_hz": 24000, "bypass_quantizer": False},
    "freq_codec": {"audio_normalize": False, "segment_dur": 1.0, "overlap_ratio": 0.01,
                   "codec_domain": ["time", "time"], "target_sample_hz": 24000, "bypass_quantizer": False,
                   "domain_conf": {}},
}
# quantizer_conf keys that only training uses (EMA, k-means init, dropout, DDP) or only the bitrate
# arithmetic of a `bit_width` request (which CodecFake never made).
_QUANTIZER_TRAINING_KEYS = ("ema_decay", "kmeans_init", "quantize_dropout", "rand_num_quant", "use_ddp",
                            "sampling_rate", "encoder_hop_length")
_QUANTIZER_KEYS = ("codebook_size", "num_quantizers", "codec_dim", "codec_range", "q0_ds_ratio")
# FunCodec's 1-D SEANet options that EnCodec's SEANet (nn/seanet.py) fixes at these values (every official
# config keeps them); its `seq_model`/`seq_layer_num` become seanet's `lstm` layer count.
_SEANET_FIXED = {"res_seq": True, "double_filters": True, "half_filters": True, "add_snake_activation": False}


# --- building from config.yaml --------------------------------------------------------------------------

def _seanet_1d_args(conf: Mapping[str, Any], side: str) -> dict[str, Any]:
    """FunCodec's 1-D SEANet `encoder_conf`/`decoder_conf` -> `seanet.SEANetEncoder/Decoder` arguments."""
    args = dict(conf)
    seq_model, seq_layer_num = args.pop("seq_model", "lstm"), args.pop("seq_layer_num", 2)
    fixed = {key: args.pop(key, value) for key, value in _SEANET_FIXED.items()}
    unsupported = {key: value for key, value in fixed.items() if value != _SEANET_FIXED[key]}
    if seq_model not in ("lstm", "none", None):
        unsupported["seq_model"] = seq_model
    if unsupported:
        raise CodecConfigError(f"FunCodec {side}: options {unsupported} are not supported; valid: seq_model 'lstm' or "
                               f"'none', and {_SEANET_FIXED}.")
    args["lstm"] = int(seq_layer_num) if seq_model == "lstm" else 0
    args.setdefault("norm", "weight_norm")  # upstream's default
    norm_params = dict(args.get("norm_params") or {})
    num_groups = norm_params.pop("num_groups", 1)
    if num_groups != 1:  # EnCodec's time_group_norm is GroupNorm(1, C)
        raise CodecConfigError(f"FunCodec {side}: norm_params num_groups={num_groups} is not supported; valid: 1.")
    args["norm_params"] = norm_params
    return args


def _construct(cls: type[nn.Module], args: dict[str, Any], what: str, **fixed: Any) -> nn.Module:
    """`cls(**fixed, **args)`, refusing keys `cls` does not take with a message that lists the valid ones."""
    valid = sorted(set(inspect.signature(cls).parameters) - set(fixed))
    unknown = sorted(set(args) - set(valid))
    if unknown:
        raise CodecConfigError(f"FunCodec {what}: keys {unknown} are not supported; valid: {', '.join(valid)}.")
    return cls(**fixed, **args)


def _build_encoder(config: Mapping[str, Any]) -> nn.Module:
    name, conf = config.get("encoder"), dict(config.get("encoder_conf") or {})
    if name == "encodec_seanet_encoder":
        return _construct(SEANetEncoder, _seanet_1d_args(conf, "encoder"), "encoder_conf",
                          channels=config["input_size"])
    if name == "encodec_seanet_encoder_2d":
        return _construct(SEANetEncoder2d, conf, "encoder_conf", input_size=config["input_size"])
    raise CodecConfigError(f"FunCodec: encoder {name!r} is not supported; valid: 'encodec_seanet_encoder', "
                           "'encodec_seanet_encoder_2d'.")


def _build_decoder(config: Mapping[str, Any], input_size: int) -> nn.Module:
    name, conf = config.get("decoder"), dict(config.get("decoder_conf") or {})
    if name == "encodec_seanet_decoder":
        return _construct(SEANetDecoder, _seanet_1d_args(conf, "decoder"), "decoder_conf", dimension=input_size)
    if name == "encodec_seanet_decoder_2d":
        return _construct(SEANetDecoder2d, conf, "decoder_conf", input_size=input_size)
    raise CodecConfigError(f"FunCodec: decoder {name!r} is not supported; valid: 'encodec_seanet_decoder', "
                           "'encodec_seanet_decoder_2d'.")


def _build_quantizer(config: Mapping[str, Any], input_size: int) -> FunCodecQuantizer:
    if config.get("quantizer") != "costume_quantizer":
        raise CodecConfigError(f"FunCodec: quantizer {config.get('quantizer')!r} is not supported; valid: "
                               "'costume_quantizer'.")
    conf = dict(config.get("quantizer_conf") or {})
    unknown = sorted(set(conf) - set(_QUANTIZER_KEYS) - set(_QUANTIZER_TRAINING_KEYS))
    if unknown:
        raise CodecConfigError(f"FunCodec: quantizer_conf keys {unknown} are not supported; valid: "
                               f"{', '.join(_QUANTIZER_KEYS + _QUANTIZER_TRAINING_KEYS)}.")
    return FunCodecQuantizer(input_size, **{key: conf[key] for key in _QUANTIZER_KEYS if key in conf})


def build_model(config: Mapping[str, Any]) -> FunCodecModel:
    """The inference network of a FunCodec `config.yaml` (as a dict), with random weights."""
    weights.refuse_unknown_keys(config, {key for official in OFFICIAL_CONFIGS.values() for key in official},
                                what="FunCodec config.yaml")
    model_name = config.get("model")
    if model_name not in _MODEL_DEFAULTS:
        raise CodecConfigError(f"FunCodec: model {model_name!r} is not supported; valid: {', '.join(_MODEL_DEFAULTS)}.")
    if config.get("input_size") is None:
        raise CodecConfigError("FunCodec: configs with a feature front end (input_size: null) are not supported.")
    model_conf = {**_MODEL_DEFAULTS[model_name], **(config.get("model_conf") or {})}
    if model_conf["bypass_quantizer"]:
        raise CodecConfigError("FunCodec: bypass_quantizer=true is not supported (CodecFake quantised).")
    domain = model_conf["codec_domain"]
    analysis = synthesis = None
    if model_name == "encodec":
        if domain != "time":
            raise CodecConfigError(f"FunCodec: encodec codec_domain {domain!r} is not supported; valid: 'time'.")
    else:
        if list(domain) != ["mag_phase", "mag_phase"]:
            raise CodecConfigError(f"FunCodec: freq_codec codec_domain {domain!r} is not supported; valid: "
                                   "['mag_phase', 'mag_phase'].")
        stft = {key: value for key, value in (model_conf["domain_conf"] or {}).items()
                if key in ("n_fft", "hop_length")}
        analysis, synthesis = MagPhaseAnalysis(**stft), MagPhaseSynthesis(**stft)
    encoder = _build_encoder(config)
    dimension = int((config.get("encoder_conf") or {}).get("dimension", 128))  # both encoders' default
    quantizer = _build_quantizer(config, dimension)
    decoder = _build_decoder(config, dimension)
    return FunCodecModel(
        encoder, quantizer, decoder, sample_rate=int(model_conf["target_sample_hz"]),
        audio_normalize=bool(model_conf["audio_normalize"]), segment_dur=model_conf["segment_dur"],
        overlap_ratio=model_conf["overlap_ratio"], enc_trans_func=analysis, dec_trans_func=synthesis,
    )


# --- the codec ------------------------------------------------------------------------------------------

class FunCodec(Codec):
    """A FunCodec config as CodecFake ran it: each whole utterance, all quantisers, output cut to the input.

    Args:
        spec (CodecSpec): the registry entry.
        model (FunCodecModel): the network, weights loaded.
        device (str | torch.device): where the model runs.
    """

    # Batches: Exact. FunCodec's GroupNorms and its RMS normalisation take statistics over the whole utterance.
    # The time-domain configs run a padded batch as one, with those statistics, the convolutions' edge padding
    # and the transposed convolutions taken per item over its valid samples (the LSTMs are unidirectional, so
    # padding cannot reach back). The FreqCodec configs (and any config that encodes in segments) run the items
    # of a batch one by one inside `resynthesize`.

    def output_length(self, length: int) -> int:
        """The input length, except for FreqCodec, whose inverse STFT can end up to 159 samples short."""
        return self.model.output_length(int(length))

    def min_input_length(self) -> int:
        # FreqCodec's centred STFT reflect-pads n_fft // 2 samples, which needs more samples than that.
        if self.model.frequency_domain:
            return max(self.spec.hop_length, self.model.enc_trans_func.n_fft // 2 + 1)
        return self.spec.hop_length

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Codes of each item of a zero-padded batch `waves [B, T]`: a list of `[n_q, frames_i]`."""
        waves = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        return [self.model.encode(waves[i: i + 1, None, : int(n)])[:, 0] for i, n in enumerate(lengths)]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if waves.shape[0] > 1 and self.model.length_aware:
            return self.model(waves[:, None], lengths.to(self.device))[0][:, 0]
        outputs = [self.model(waves[i: i + 1, None, : int(n)])[0][0, 0] for i, n in enumerate(lengths)]
        return nn.utils.rnn.pad_sequence(outputs, batch_first=True)


# --- the family contract (see registry.load) ------------------------------------------------------------

# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official `config.yaml` of `spec` as a dict (FunCodec's recipe; see `OFFICIAL_CONFIGS`), a fresh copy."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.name])


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.yaml` and `model.pth` of `spec` through the Hugging Face cache, checked against each other.

    `model.pth` is loaded with `torch.load(weights_only=True)` and its inference keys are checked against
    the architecture of `config.yaml` here, where the file's path is known.
    """
    config_file, model_file = spec.hub_files
    config = weights.read_config_file(weights.hub_file(spec.hub_repo, config_file, codec=spec.name), codec=spec.name,
                                      required=("encoder", "decoder"), what="a FunCodec model config")
    path = weights.hub_file(spec.hub_repo, model_file, codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    checkpoint = weights.load_checkpoint(path, codec=spec.name)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source} holds a {type(checkpoint).__name__}, not a dict of tensors.")
    state_dict = weights.flatten(checkpoint)
    weights.check_against(lambda: build_model(config), state_dict, source=source,
                          ignore_prefixes=TRAINING_ONLY_PREFIXES)
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    device: str | torch.device = "cpu",
) -> FunCodec:
    """Build `spec` from a FunCodec config dict and a `model.pth` state dict (None: random weights).

    The training-only tensors (`TRAINING_ONLY_PREFIXES`) are dropped; every other key must match.
    """
    model = build_model(config)
    hop = (model.enc_trans_func.hop_length * model.encoder.time_stride if model.frequency_domain
           else model.encoder.hop_length)
    if (model.sample_rate, hop) != (spec.sample_rate, spec.hop_length):
        raise CodecConfigError(f"{spec.name}: the config describes {model.sample_rate} Hz and a {hop}-sample hop; this "
                               f"codec runs at {spec.sample_rate} Hz with a {spec.hop_length}-sample hop.")
    if state_dict is not None:
        weights.load_strict(model, state_dict, source=f"{spec.name}: the given state_dict",
                            ignore_prefixes=TRAINING_ONLY_PREFIXES)
    # Upstream runs k-means on the input at inference for any codebook not marked initialised.
    model.quantizer.codebooks.mark_initialised()
    return FunCodec(spec, model, device=device)

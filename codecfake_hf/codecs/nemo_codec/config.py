"""NeMo audio codecs' config: the model part of a `.nemo` checkpoint's `model_config.yaml`.

NeMo's `AudioCodecModel` builds its networks with hydra's `instantiate`: each of `audio_encoder`, `vector_quantizer`
and `audio_decoder` is a mapping whose `_target_` names the class and whose other keys are its constructor's
arguments (the mel codecs nest a `mel_processor` the same way). `NemoCodecConfig.from_config` reads that mapping into
the dataclasses below, one per class this family builds, with the classes' own defaults for omitted arguments (as
`instantiate` does). An argument a class does not take is refused, as `instantiate` would refuse it; the rest of
the file (losses, discriminators, data, optimiser) only training reads, and is ignored as NeMo's inference ignores it.

The classes and their defaults are those of NeMo 2.1.0 (`nemo/collections/tts/modules/audio_codec_modules.py`), the
release that added the low-frame-rate codec; the official configs (`OFFICIAL_CONFIGS`) are NeMo's example configs for
the released checkpoints (`examples/tts/conf/audio_codec/*.yaml`, model part, interpolations resolved).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import CodecConfigError
from ..config import from_config

WHAT = "NeMo codec config"
ACTIVATIONS = ("elu", "lrelu", "snake", "half_snake")
OUTPUT_ACTIVATIONS = ("tanh", "clamp")


@dataclass(frozen=True)
class MelProcessorConf:
    """`MelSpectrogramProcessor`: NeMo's ASR log-mel front end with the codec's fixed settings (exact STFT padding,
    magnitude, no normalisation, `log(mel + log_guard)`).

    Args:
        sample_rate (int): audio rate.
        win_length (int): STFT window and FFT size.
        hop_length (int): STFT hop (the codec's frame).
        mel_dim (int): mel bands.
        log_guard (float): added before the log.
    """

    sample_rate: int
    win_length: int
    hop_length: int
    mel_dim: int = 80
    log_guard: float = 1.0

    def __post_init__(self):
        if self.hop_length % 2:  # NeMo's FilterbankFeatures refuses exact padding with an odd hop
            raise CodecConfigError(f"{WHAT}: `mel_processor.hop_length` {self.hop_length} is odd; NeMo's exact STFT "
                                   "padding needs an even hop.")


@dataclass(frozen=True)
class HiFiGANEncoderConf:
    """`HiFiGANEncoder`: the HiFi-GAN generator inverted (residual layers, then a strided conv per stage).

    Args:
        encoded_dim (int): latent channels.
        down_sample_rates (tuple[int, ...]): stride per stage (their product is the frame).
        base_channels (int): first width; each stage doubles it.
        in_kernel_size, out_kernel_size (int): first and last conv kernels.
        resblock_kernel_sizes, resblock_dilation_sizes (tuple[int, ...]): the residual layers' kernels and dilations.
        activation (str): `lrelu`, `elu`, `snake` or `half_snake`.
    """

    encoded_dim: int
    down_sample_rates: tuple[int, ...] = (2, 2, 8, 8)
    base_channels: int = 32
    in_kernel_size: int = 7
    out_kernel_size: int = 7
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[int, ...] = (1, 3, 5)
    activation: str = "lrelu"

    def __post_init__(self):
        _check_activation("audio_encoder.activation", self.activation)

    @property
    def out_dim(self) -> int:
        return self.encoded_dim

    @property
    def hop(self) -> int:
        return math.prod(self.down_sample_rates)


@dataclass(frozen=True)
class MultiBandMelEncoderConf:
    """`MultiBandMelEncoder`: the log-mel spectrogram cut into bands, each encoded by its own `ResNetEncoder`.

    Args:
        mel_bands (tuple[tuple[int, int], ...]): `[start, end)` mel bands, covering every band.
        mel_processor (MelProcessorConf): the mel front end.
        out_channels (int): latent channels per band (one FSQ group each).
        num_layers, hidden_channels, filters, kernel_size (int): each band's `ResNetEncoder`.
        dropout_rate (float): training only.
        activation (str): `lrelu`, `elu`, `snake` or `half_snake`.
    """

    mel_bands: tuple[tuple[int, int], ...]
    mel_processor: MelProcessorConf
    out_channels: int
    num_layers: int = 6
    hidden_channels: int = 256
    filters: int = 768
    kernel_size: int = 3
    dropout_rate: float = 0.1
    activation: str = "lrelu"

    def __post_init__(self):
        _check_activation("audio_encoder.activation", self.activation)
        used = [False] * self.mel_processor.mel_dim
        for start, end in self.mel_bands:
            used[start:end] = [True] * len(used[start:end])
        if not all(used):  # NeMo's validate_mel_bands
            missing = [i for i, flag in enumerate(used) if not flag]
            raise CodecConfigError(f"{WHAT}: `audio_encoder.mel_bands` must cover all {len(used)} mel bands; "
                                   f"missing {missing}.")

    @property
    def out_dim(self) -> int:
        return self.out_channels * len(self.mel_bands)

    @property
    def hop(self) -> int:
        return self.mel_processor.hop_length


@dataclass(frozen=True)
class HiFiGANDecoderConf:
    """`HiFiGANDecoder`: the HiFi-GAN generator.

    Args:
        input_dim (int): latent channels.
        up_sample_rates (tuple[int, ...]): stride per stage (their product is the frame).
        base_channels (int): first width; each stage halves it.
        in_kernel_size, out_kernel_size (int): first and last conv kernels.
        resblock_kernel_sizes, resblock_dilation_sizes (tuple[int, ...]): the residual layers' kernels and dilations.
        activation (str): `lrelu`, `elu`, `snake` or `half_snake`.
        output_activation (str): `tanh` or `clamp` (to [-1, 1]).
    """

    input_dim: int
    up_sample_rates: tuple[int, ...] = (8, 8, 2, 2)
    base_channels: int = 512
    in_kernel_size: int = 7
    out_kernel_size: int = 3
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[int, ...] = (1, 3, 5)
    activation: str = "lrelu"
    output_activation: str = "tanh"

    def __post_init__(self):
        _check_activation("audio_decoder.activation", self.activation)
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise CodecConfigError(f"{WHAT}: `audio_decoder.output_activation` {self.output_activation!r} is not one "
                                   f"of {', '.join(OUTPUT_ACTIVATIONS)}.")


@dataclass(frozen=True)
class GroupFSQConf:
    """`GroupFiniteScalarQuantizer`: the latent cut into `num_groups` equal groups, each an FSQ with the same levels.

    Args:
        num_groups (int): groups (codebooks).
        num_levels_per_group (tuple[int, ...]): levels of each dimension of a group (the codebook size is their
            product).
        eps (float): FSQ's scale-down before rounding.
    """

    num_groups: int
    num_levels_per_group: tuple[int, ...]
    eps: float = 1e-3

    @property
    def dim(self) -> int:
        return self.num_groups * len(self.num_levels_per_group)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.num_levels_per_group)


# `_target_` class name -> the dataclass of its arguments, per section.
ENCODERS: dict[str, type] = {"HiFiGANEncoder": HiFiGANEncoderConf, "MultiBandMelEncoder": MultiBandMelEncoderConf}
SECTIONS: dict[str, dict[str, type]] = {
    "audio_encoder": ENCODERS,
    "vector_quantizer": {"GroupFiniteScalarQuantizer": GroupFSQConf},
    "audio_decoder": {"HiFiGANDecoder": HiFiGANDecoderConf},
}
NESTED: dict[str, type] = {"MelSpectrogramProcessor": MelProcessorConf}
_MODULE = "nemo.collections.tts.modules.audio_codec_modules."


@dataclass(frozen=True)
class NemoCodecConfig:
    """The networks of NeMo's `AudioCodecModel` at inference: encoder, FSQ, decoder.

    Args:
        sample_rate (int): audio rate.
        samples_per_frame (int): input samples per code frame (the input is zero-padded to whole frames).
        audio_encoder (HiFiGANEncoderConf | MultiBandMelEncoderConf): by its `_target_`.
        vector_quantizer (GroupFSQConf): the FSQ.
        audio_decoder (HiFiGANDecoderConf): the decoder.
    """

    sample_rate: int
    samples_per_frame: int
    audio_encoder: HiFiGANEncoderConf | MultiBandMelEncoderConf
    vector_quantizer: GroupFSQConf
    audio_decoder: HiFiGANDecoderConf

    def __post_init__(self):
        encoder, quantizer, decoder = self.audio_encoder, self.vector_quantizer, self.audio_decoder
        problems = []
        if encoder.hop != self.samples_per_frame:
            problems.append(f"the encoder's frame is {encoder.hop} samples, `samples_per_frame` "
                            f"{self.samples_per_frame}")
        if math.prod(decoder.up_sample_rates) != self.samples_per_frame:
            problems.append(f"the decoder's `up_sample_rates` multiply to {math.prod(decoder.up_sample_rates)}, "
                            f"`samples_per_frame` is {self.samples_per_frame}")
        if not encoder.out_dim == quantizer.dim == decoder.input_dim:
            problems.append(f"the encoder gives {encoder.out_dim} channels, the quantiser takes {quantizer.dim} "
                            f"({quantizer.num_groups} groups of {len(quantizer.num_levels_per_group)}), the decoder "
                            f"{decoder.input_dim}")
        if isinstance(encoder, MultiBandMelEncoderConf):
            if len(encoder.mel_bands) != quantizer.num_groups:
                problems.append(f"{len(encoder.mel_bands)} mel bands but {quantizer.num_groups} FSQ groups")
            if encoder.mel_processor.sample_rate != self.sample_rate:
                problems.append(f"the mel processor's rate is {encoder.mel_processor.sample_rate}, the codec's "
                                f"{self.sample_rate}")
        if problems:
            raise CodecConfigError(f"{WHAT}: " + "; ".join(problems) + ".")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NemoCodecConfig:
        """Read a `model_config.yaml` mapping (training keys ignored, `${...}` references resolved)."""
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{WHAT} is a {type(config).__name__}, not a mapping of options.")
        config = _resolve(config, config)
        fields = [field.name for field in dataclasses.fields(cls)]
        model = {key: config[key] for key in fields if key in config}
        hints: dict[str, Any] = {}
        for section, classes in SECTIONS.items():
            if isinstance(model.get(section), Mapping):
                hints[section], model[section] = _untarget(section, model[section], classes)
        return from_config(cls, model, what=WHAT, hints=hints)


def _check_activation(key: str, value: str) -> None:
    if value.lower() not in ACTIVATIONS:
        raise CodecConfigError(f"{WHAT}: `{key}` {value!r} is not one of {', '.join(ACTIVATIONS)}.")


def _class_name(section: str, mapping: Mapping[str, Any], classes: Mapping[str, type]) -> str:
    target = mapping.get("_target_")
    if not isinstance(target, str):
        raise CodecConfigError(f"{WHAT}: `{section}` has no `_target_` naming its class; expected one of "
                               f"{', '.join(_MODULE + name for name in classes)}.")
    name = target.rsplit(".", 1)[-1]
    if name not in classes:
        raise CodecConfigError(f"{WHAT}: `{section}._target_` {target!r} is not a class this family builds; "
                               f"expected one of {', '.join(_MODULE + name for name in classes)}.")
    return name


def _untarget(section: str, mapping: Mapping[str, Any], classes: Mapping[str, type]) -> tuple[type, dict]:
    """(the dataclass `mapping`'s `_target_` names, `mapping` without `_target_`, nested sections likewise)."""
    cls = classes[_class_name(section, mapping, classes)]
    values = {key: value for key, value in mapping.items() if key != "_target_"}
    for key, value in values.items():
        if isinstance(value, Mapping) and "_target_" in value:  # mel_processor
            _class_name(f"{section}.{key}", value, NESTED)
            values[key] = {k: v for k, v in value.items() if k != "_target_"}
    return cls, values


_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def _resolve(value: Any, root: Mapping[str, Any]) -> Any:
    """`value` with each string `${a.b}` replaced by `root[a][b]` (omegaconf's interpolation, whole values only)."""
    if isinstance(value, Mapping):
        return {key: _resolve(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(item, root) for item in value]
    if isinstance(value, str) and "${" in value:
        found = _REFERENCE.match(value)
        target: Any = root
        for part in (found.group(1).split(".") if found else ()):
            if not isinstance(target, Mapping) or part not in target:
                found = None
                break
            target = target[part]
        if found is None:
            raise CodecConfigError(f"{WHAT}: the value {value!r} refers to nothing in the file; write the value "
                                   "itself (only whole `${key}` references to keys of the file are resolved).")
        return _resolve(target, root)
    return value


def official_config(sample_rate: int, encoder: dict[str, Any], decoder: dict[str, Any], levels: list[int],
                    samples_per_frame: int) -> dict[str, Any]:
    """A `model_config.yaml` model part in NeMo's layout (8 FSQ groups, as every released codec has)."""
    return {
        "sample_rate": sample_rate, "samples_per_frame": samples_per_frame,
        "audio_encoder": encoder,
        "vector_quantizer": {"_target_": _MODULE + "GroupFiniteScalarQuantizer", "num_groups": 8,
                             "num_levels_per_group": levels},
        "audio_decoder": {"_target_": _MODULE + "HiFiGANDecoder", **decoder},
    }


def _mel_encoder(sample_rate: int, win_length: int, hop_length: int) -> dict[str, Any]:
    return {"_target_": _MODULE + "MultiBandMelEncoder",
            "mel_bands": [[i, i + 10] for i in range(0, 80, 10)], "out_channels": 4, "hidden_channels": 128,
            "filters": 256,
            "mel_processor": {"_target_": _MODULE + "MelSpectrogramProcessor", "mel_dim": 80,
                              "sample_rate": sample_rate, "win_length": win_length, "hop_length": hop_length}}


# NeMo's example configs of the released checkpoints (model part, interpolations resolved), keyed by Hub repository:
# audio_codec_low_frame_rate_22050.yaml, mel_codec_22050.yaml, mel_codec_44100.yaml.
OFFICIAL_CONFIGS: dict[str, dict[str, Any]] = {
    "nvidia/low-frame-rate-speech-codec-22khz": official_config(
        22050,
        {"_target_": _MODULE + "HiFiGANEncoder", "down_sample_rates": [2, 2, 4, 8, 8], "encoded_dim": 32,
         "base_channels": 48, "activation": "lrelu", "resblock_dilation_sizes": [1]},
        {"up_sample_rates": [8, 8, 4, 2, 2], "input_dim": 32, "base_channels": 1024, "activation": "lrelu",
         "output_activation": "tanh"},
        [8, 7, 6, 6], 1024),
    "nvidia/mel-codec-22khz": official_config(
        22050, _mel_encoder(22050, 1024, 256), {"up_sample_rates": [8, 8, 2, 2], "input_dim": 32,
                                                 "base_channels": 1024},
        [8, 5, 5, 5], 256),
    "nvidia/mel-codec-44khz": official_config(
        44100, _mel_encoder(44100, 2048, 512), {"up_sample_rates": [8, 8, 4, 2], "input_dim": 32,
                                                 "base_channels": 1024},
        [8, 5, 5, 5], 512),
}

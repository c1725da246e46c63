"""Vocos over EnCodec tokens (charactr/vocos-encodec-24khz at 1.5, 3, 6 and 12 kbps), as `Vocos.forward` runs it.

Upstream's copy-synthesis (`vocos(audio, bandwidth_id=...)`, the README's "Reconstruct audio from EnCodec tokens"):
EnCodec 24 kHz encodes and quantises the audio at the bandwidth (`set_target_bandwidth`, then `encoder` and
`quantizer.encode`); the codes pick rows of Vocos's own `codebook_weights`, summed over codebooks; a ConvNeXt backbone
conditioned on the bandwidth's index (adaptive layer norms) and an ISTFT head make the waveform, `frames × 320`
samples: the output is the input padded up to whole 320-sample frames (not cut back).

Weights. `charactr/vocos-encodec-24khz` holds `config.yaml` and `pytorch_model.bin` (backbone, head and
`feature_extractor.codebook_weights`); the EnCodec part is not in it: `Vocos.from_pretrained` builds it with
`EncodecModel.encodec_model_24khz(pretrained=True)` (the `encodec` package's 24 kHz checkpoint) and inserts its
state dict under `feature_extractor.encodec.`. Here that part is the encodec family's model of the same bandwidth,
loaded through that family's public `download`/`build` from `facebook/encodec_24khz` (the transformers conversion of
the same checkpoint; the family also reads the `encodec` package's key names, which is how a full Vocos state dict,
`feature_extractor.encodec.encoder.model.0.conv.conv.weight_g` and so on, loads here).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..config import from_config, refuse_unknown_keys
from ..nn.vocos import ISTFTHead, VocosBackbone
from ..spec import CodecSpec
from .model import EncodecFeatures, Vocos

# charactr/vocos-encodec-24khz's config.yaml (gemelo-ai/vocos configs/vocos-encodec.yaml, the model's part).
OFFICIAL_CONFIG: dict[str, Any] = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.EncodecFeatures",
                          "init_args": {"encodec_model": "encodec_24khz", "bandwidths": [1.5, 3.0, 6.0, 12.0],
                                        "train_codebooks": False}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 128, "dim": 384, "intermediate_dim": 1152, "num_layers": 8,
                               "adanorm_num_embeddings": 4}},
    "head": {"class_path": "vocos.heads.ISTFTHead",
             "init_args": {"dim": 384, "n_fft": 1280, "hop_length": 320, "padding": "same"}},
}
ENCODEC_KEY = "encodec"  # the config's EnCodec part: facebook/encodec_24khz's config.json (see `default_config`)
ENCODEC_PREFIX = "feature_extractor.encodec."
# The encodec family's config of each bandwidth (the same facebook/encodec_24khz model).
ENCODEC_CONFIGS = {1.5: "encodec_24khz", 3.0: "encodec_24khz_3kbps", 6.0: "encodec_24khz_6kbps",
                   12.0: "encodec_24khz_12kbps"}
_CLASSES = {"feature_extractor": "vocos.feature_extractors.EncodecFeatures", "backbone": "vocos.models.VocosBackbone",
            "head": "vocos.heads.ISTFTHead"}


@dataclass(frozen=True)
class FeatureConfig:
    """`feature_extractor.init_args`: which EnCodec, the bandwidths (their index is the backbone's condition)."""

    encodec_model: str
    bandwidths: tuple[float, ...]
    train_codebooks: bool = False


@dataclass(frozen=True)
class BackboneConfig:
    """`backbone.init_args` of `VocosBackbone`."""

    input_channels: int
    dim: int
    intermediate_dim: int
    num_layers: int
    layer_scale_init_value: float | None = None
    adanorm_num_embeddings: int | None = None


@dataclass(frozen=True)
class HeadConfig:
    """`head.init_args` of `ISTFTHead`."""

    dim: int
    n_fft: int
    hop_length: int
    padding: str = "same"


@dataclass(frozen=True)
class VocosConfig:
    feature: FeatureConfig
    backbone: BackboneConfig
    head: HeadConfig
    encodec: dict[str, Any]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default_encodec: Mapping[str, Any]) -> VocosConfig:
        what = "Vocos config"
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping.")
        refuse_unknown_keys(config, {*_CLASSES, ENCODEC_KEY}, what=what)
        parts = {}
        for part, dataclass_ in (("feature_extractor", FeatureConfig), ("backbone", BackboneConfig),
                                 ("head", HeadConfig)):
            section = config.get(part)
            if not isinstance(section, Mapping) or "init_args" not in section:
                raise CodecConfigError(f"{what} lacks `{part}` (with `class_path` and `init_args`), which the official "
                                       "config.yaml holds; add it (see the family's default_config).")
            if section.get("class_path") != _CLASSES[part]:
                raise CodecConfigError(f"{what}: `{part}.class_path` is {section.get('class_path')!r}; this family "
                                       f"builds {_CLASSES[part]} (Vocos over EnCodec tokens).")
            parts[part] = from_config(dataclass_, section["init_args"], what=f"{what} `{part}.init_args`")
        if parts["feature_extractor"].encodec_model != "encodec_24khz":
            raise CodecConfigError(f"{what}: `encodec_model` {parts['feature_extractor'].encodec_model!r}; this "
                                   "family runs the EnCodec 24 kHz model (encodec_24khz).")
        encodec = config.get(ENCODEC_KEY, default_encodec)
        if not isinstance(encodec, Mapping):
            raise CodecConfigError(f"{what}: `{ENCODEC_KEY}` must be EnCodec's config.json mapping.")
        return cls(parts["feature_extractor"], parts["backbone"], parts["head"], dict(encodec))


class VocosCodec(Codec):
    """Vocos copy-synthesis at one bandwidth: EnCodec codes -> Vocos's codebook embeddings -> backbone -> ISTFT.

    Each utterance runs alone: the backbone's convolutions (kernel 7) would read an item's batch padding as
    neighbouring frames where alone they read zeros.

    Args:
        spec (CodecSpec): the registry entry.
        model (Vocos): the network (its EnCodec under `feature_extractor.encodec`).
        encodec (Codec): the encodec family's codec around that same EnCodec model, at `bandwidth`.
        runtime (Runtime): device, precision and random-weight seed.
        bandwidth_id (int): index of the bandwidth in the config's `bandwidths` (the backbone's condition).
    """

    batch_exact = False

    def __init__(self, spec: CodecSpec, model: Vocos, encodec: Codec, runtime: Runtime | None = None, *,
                 bandwidth_id: int = 0):
        super().__init__(spec, model, runtime)
        self.encodec = encodec
        self.bandwidth_id = int(bandwidth_id)

    def output_length(self, length: int) -> int:
        """Whole 320-sample frames: `ceil(T / 320) * 320` (Vocos returns frames × hop, uncut)."""
        return -(-int(length) // self.spec.hop_length) * self.spec.hop_length

    def min_input_length(self) -> int:
        return 1

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> EnCodec codes `[K, ceil(T / 320)]` at this codec's bandwidth."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1).to(self.device)
        return self.encodec.encode(wave, torch.tensor([wave.shape[1]]))[0]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[K, F]` -> `[F * 320]` through Vocos's embeddings, backbone and head."""
        features = self.model.feature_extractor.features(codes[:, None].to(self.device))
        bandwidth_id = torch.tensor([self.bandwidth_id], device=self.device)
        return self.model.decode(features, bandwidth_id)[0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.decode(self.encode(waves[i, :n]))
            out[i, : audio.shape[0]] = audio
        return out


# -- the family contract (see registry.load) ------------------------------------------------------------------------

OPTIONS: dict[str, str] = {}


def _encodec_family():
    from .. import registry  # here: the registry imports this family while it loads

    return registry


def _encodec_spec(spec: CodecSpec) -> CodecSpec:
    return _encodec_family().spec(ENCODEC_CONFIGS[float(spec.bitrate_kbps)])


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """charactr/vocos-encodec-24khz's `config.yaml` (model part), plus its EnCodec's config under `encodec`: the
    encodec family's official `config.json` of facebook/encodec_24khz (the model vocos names `encodec_24khz`)."""
    registry = _encodec_family()
    encodec_spec = _encodec_spec(spec)
    return {**copy.deepcopy(OFFICIAL_CONFIG),
            ENCODEC_KEY: registry.family(encodec_spec.name).default_config(encodec_spec)}


def _vocos_parts(architecture: VocosConfig, encodec: torch.nn.Module) -> Vocos:
    config = encodec.config
    bins = config.codebook_size
    # vocos: the codebooks the largest bandwidth uses (16 at 12 kbps): floor(kbps * 1000 / (log2(bins) * frame rate))
    codebooks = encodec.quantizer.get_num_quantizers_for_bandwidth(max(architecture.feature.bandwidths))
    backbone = VocosBackbone(**vars(architecture.backbone))
    head = ISTFTHead(**vars(architecture.head))
    return Vocos(EncodecFeatures(encodec, codebooks, bins, config.codebook_dim), backbone, head)


def _skeleton(architecture: VocosConfig, spec: CodecSpec) -> Vocos:
    """The Vocos network of `architecture` around a fresh EnCodec of the encodec family (random weights)."""
    registry = _encodec_family()
    encodec_spec = _encodec_spec(spec)
    encodec = registry.family(encodec_spec.name).build(encodec_spec, architecture.encodec, None,
                                                       runtime=Runtime(device="meta"))
    return _vocos_parts(architecture, encodec.model)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Vocos's `config.yaml` and `pytorch_model.bin` (checked against the config here, where its path is known),
    and the EnCodec 24 kHz files through the encodec family's `download` (facebook/encodec_24khz), its tensors under
    `feature_extractor.encodec.` as `Vocos.from_pretrained` puts them."""
    config_name, checkpoint_name = spec.hub_files
    config_path = weights.hub_file(spec.hub_repo, config_name, codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name, required=tuple(_CLASSES),
                                      what="a Vocos config.yaml")
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    state_dict = weights.flatten(weights.load_checkpoint(checkpoint_path, codec=spec.name))
    registry = _encodec_family()
    encodec_spec = _encodec_spec(spec)
    encodec_config, encodec_state = registry.family(encodec_spec.name).download(encodec_spec)
    config = {**{k: v for k, v in config.items() if k in _CLASSES}, ENCODEC_KEY: encodec_config}
    architecture = VocosConfig.from_config(config, encodec_config)
    stray = sorted(k for k in state_dict if k.startswith(ENCODEC_PREFIX))
    if stray:
        raise CheckpointError(f"{spec.name}: checkpoint file {checkpoint_path} holds EnCodec tensors ({stray[0]}, "
                              "...); Vocos's own file has none (they come from the EnCodec checkpoint).")
    with torch.device("meta"):
        skeleton = _skeleton(architecture, spec)
    vocos_only = {k: v for k, v in skeleton.state_dict().items() if not k.startswith(ENCODEC_PREFIX)}
    weights.check_against(functools.partial(_Shapes, vocos_only), state_dict,
                          source=f"{spec.name}: checkpoint file {checkpoint_path}")
    return config, {**state_dict, **{ENCODEC_PREFIX + k: v for k, v in encodec_state.items()}}


class _Shapes(torch.nn.Module):
    """A module whose state dict is `shapes` (meta tensors): what `weights.check_against` compares a file with."""

    def __init__(self, shapes: Mapping[str, torch.Tensor]):
        super().__init__()
        self._shapes = dict(shapes)

    def state_dict(self, *args, **kwargs):  # noqa: D102
        return dict(self._shapes)


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> VocosCodec:
    """The codec from Vocos's config (+ its `encodec` part) and a Vocos state dict whose EnCodec tensors sit under
    `feature_extractor.encodec.` in the Hub file's or the `encodec` package's naming (None: random weights).

    The bandwidth is the spec's (its index in `bandwidths` conditions the backbone); the EnCodec model is the
    encodec family's config of that bandwidth, built by that family's `build`.
    """
    registry = _encodec_family()
    encodec_spec = _encodec_spec(spec)
    encodec_family = registry.family(encodec_spec.name)
    architecture = VocosConfig.from_config(config, encodec_family.default_config(encodec_spec))
    kbps = float(spec.bitrate_kbps)
    bandwidths = [float(b) for b in architecture.feature.bandwidths]
    if kbps not in bandwidths:
        raise CodecConfigError(f"{spec.name}: the config's bandwidths {bandwidths} do not hold {kbps:g} kbps.")
    if architecture.head.hop_length != spec.hop_length:
        raise CodecConfigError(f"{spec.name}: the config's head hop is {architecture.head.hop_length}, EnCodec's "
                               f"{spec.hop_length}.")
    flat = weights.flatten(state_dict) if state_dict is not None else None
    encodec_state = None if flat is None else {k[len(ENCODEC_PREFIX):]: v for k, v in flat.items()
                                               if k.startswith(ENCODEC_PREFIX)}
    if flat is not None and not encodec_state:
        raise CheckpointError(f"{spec.name}: the state dict holds no `{ENCODEC_PREFIX}*` tensors; pass Vocos's file "
                              "with the EnCodec 24 kHz weights under that prefix (as `download` returns them).")
    encodec = encodec_family.build(encodec_spec, architecture.encodec, encodec_state, runtime=runtime,
                                   bandwidth=kbps)
    model = _vocos_parts(architecture, encodec.model)
    if flat is not None:
        own = {k: v for k, v in flat.items() if not k.startswith(ENCODEC_PREFIX)}
        vocos_keys = {k for k in model.state_dict() if not k.startswith(ENCODEC_PREFIX)}
        weights.check_state_dict(_Shapes({k: model.state_dict()[k] for k in vocos_keys}), own,
                                 source=f"{spec.name} state dict")
        model.load_state_dict({**own, **{ENCODEC_PREFIX + k: v for k, v in encodec.model.state_dict().items()}},
                              strict=True)
    else:
        # vocos initialises its embeddings from EnCodec's codebooks (train_codebooks: false keeps them so)
        with torch.no_grad():
            books = [layer.codebook.embed for layer in encodec.model.quantizer.layers]
            rows = model.feature_extractor.codebook_weights
            if not rows.is_meta:
                rows.copy_(torch.cat(books[: rows.shape[0] // model.feature_extractor.bins]))
    return VocosCodec(spec, model, encodec, runtime, bandwidth_id=bandwidths.index(kbps))


__all__ = ["OFFICIAL_CONFIG", "OPTIONS", "VocosCodec", "build", "default_config", "download"]

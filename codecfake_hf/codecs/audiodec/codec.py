"""AudioDec (`audiodec_24k_320d`): causal SEANet-style encoder, 8-layer residual VQ, causal HiFi-GAN vocoder.

The official checkpoints of `AudioDecBenchmark/AudioDec` (the autoencoder `symAD_libritts_24000_hop300`
and the vocoder `AudioDec_v1_..._clean`) load strictly into the networks of `model.py`, built
from the streaming layers of `layers.py`. The network runs at 24 kHz with a 300-sample hop (the
release name says 320d; the checkpoint's hop is 3*4*5*5 = 300), and the output is padded up to a
whole number of hops, as upstream's causal convolutions make it.

Streaming state. Upstream's layers keep their left context (`pad_buffer`) between calls. Loading
primes the vocoder by decoding the codes of 8192 zero samples (`load_receiver` ->
`initial_decoder`), and the CodecFake pipeline never reset the vocoder afterwards, so in the release
each utterance began from the tail of the one before it and its output depended on the order of
the corpus. codecfake-hf starts *every* utterance from the state right after loading (what the
first utterance of the release got): that state is computed once at build time, kept as a
snapshot and restored for each utterance, so results do not depend on order or batching. The
encoder starts each utterance from zeros, as the pipeline's `tx_encoder.reset_buffer()` did.
`decoder_state="zeros"` decodes from a cleared vocoder state instead (upstream `reset_buffer()`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..spec import CodecSpec
from .config import OFFICIAL_CONFIG, PARTS, generator_params
from .model import AudioDecModel, HiFiGANVocoder, SymAudioDec

DECODER_STATES = ("primed", "zeros")


class AudioDecCodec(Codec):
    """AudioDec as the CodecFake pipeline ran it, each utterance from the state right after loading.

    Args:
        spec (CodecSpec): the registry entry.
        model (AudioDecModel): the network.
        device (str | torch.device): where it runs.
        decoder_state (str): `"primed"` (the vocoder context right after loading, what the release's
            first utterance got) or `"zeros"` (a cleared context).
    """

    # Every layer is causal: an item's valid frames never see the zeros after it, and each item of a
    # batch starts from the same snapshot, so padded batches give what each item gets alone.
    batch_exact = True

    def __init__(self, spec: CodecSpec, model: AudioDecModel, runtime: Runtime | None = None,
                 decoder_state: str = "primed"):
        if decoder_state not in DECODER_STATES:
            raise CodecConfigError(f"`decoder_state` must be one of {DECODER_STATES}, got {decoder_state!r}.")
        super().__init__(spec, model, runtime)
        self.decoder_state = decoder_state
        self._initial_state = self.model.primed_state() if decoder_state == "primed" else None

    def output_length(self, length: int) -> int:
        """Padded up to whole 300-sample frames (153708 -> 153900)."""
        return -(-int(length) // self.model.hop_length) * self.model.hop_length

    def min_input_length(self) -> int:
        """One sample: every conv pads itself on the left, so any input makes at least one frame."""
        return 1

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor) -> torch.Tensor:
        """`[B, T]` (or `[T]`) float32 at 24 kHz -> codes `[B, 8, ceil(T / 300)]`, 0..1023 per codebook."""
        waves = torch.as_tensor(waves, dtype=torch.float32, device=self.device)
        return self.model.encode(waves if waves.dim() == 2 else waves.reshape(1, -1))

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, 8, F]` -> `[B, F * 300]` at 24 kHz, from this codec's initial vocoder state."""
        state = None if self._initial_state is None else dict(self._initial_state)
        return self.model.decode(torch.as_tensor(codes, dtype=torch.long, device=self.device), state)

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(waves))


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {"decoder_state": "'primed' (default: the vocoder state right after loading) or 'zeros'"}


def default_config(spec: CodecSpec) -> dict:
    """The official configs, as `{"autoencoder": config.yml, "vocoder": config.yml}` (each reduced to
    `model_type`, `sampling_rate` and `generator_params`; `download` returns the files whole).

    `build` also takes the fixtures' short form `{"autoencoder_generator_params": …,
    "vocoder_generator_params": …}`.
    """
    return copy.deepcopy(OFFICIAL_CONFIG)


def _network(config: Mapping[str, Any], part: str) -> nn.Module:
    """The generator of `part` (`autoencoder` or `vocoder`), built from its `generator_params` in `config`."""
    network = SymAudioDec if part == "autoencoder" else HiFiGANVocoder
    return network(generator_params(config, part))


def _generator_state(path: Path, *, codec: str) -> dict[str, torch.Tensor]:
    """`checkpoint['model']['generator']` of an AudioDec trainer checkpoint, loaded without running code."""
    checkpoint = weights.load_checkpoint(path, codec=codec)
    model = checkpoint.get("model") if isinstance(checkpoint, Mapping) else None
    if not isinstance(model, Mapping) or not isinstance(model.get("generator"), Mapping):
        found = sorted(checkpoint) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{codec}: checkpoint file {path} has no ['model']['generator'] state dict "
                              f"(found {found}); it is not an AudioDec trainer checkpoint.")
    return dict(model["generator"])


def _hub_name(spec: CodecSpec, part: str, suffix: str) -> str:
    names = [n for n in spec.hub_files if n.startswith(f"{part}/") and n.endswith(suffix)]
    if len(names) != 1:
        raise CodecConfigError(f"{spec.name}: expected one {part}/…{suffix} in the registry's `hub_files`, "
                               f"got {names}.")
    return names[0]


def download(spec: CodecSpec) -> tuple[dict, dict]:
    """The official config.yml files and generator weights, through the Hub cache.

    The `.pkl` checkpoints are `torch.save` zip files: they load with `torch.load(weights_only=True)`
    (the trainer's optimizer and scheduler states hold only tensors, numbers, lists and a
    `collections.Counter`, all on torch's allow-list); the configs load with `yaml.safe_load`. The
    vocoder's statistics `.npy` is not read: its mean/scale are buffers of the vocoder checkpoint,
    which upstream loads over the file's values. Each generator is checked against the architecture of
    its config here, where the checkpoint's path is known.

    Returns:
        `(config, state_dict)`: config `{"autoencoder": …, "vocoder": …}` holds the two config.yml
        files whole; state_dict is `{"autoencoder": {"generator": …}, "vocoder": {"generator": …}}`.
    """
    config: dict[str, Any] = {}
    state_dict: dict[str, dict] = {}
    for part in PARTS:
        config_path = weights.hub_file(spec.hub_repo, _hub_name(spec, part, "/config.yml"), codec=spec.name)
        checkpoint_path = weights.hub_file(spec.hub_repo, _hub_name(spec, part, ".pkl"), codec=spec.name)
        config[part] = weights.read_config_file(config_path, codec=spec.name, required=("generator_params",),
                                                what="an AudioDec config.yml")
        generator = _generator_state(checkpoint_path, codec=spec.name)
        weights.check_against(functools.partial(_network, config, part), generator,
                              source=f"{spec.name}: checkpoint file {checkpoint_path}")
        state_dict[part] = {"generator": generator}
    return config, state_dict


def build(spec: CodecSpec, config: dict, state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime, decoder_state: str = "primed") -> AudioDecCodec:
    """Build the codec from `config` (either layout of `default_config`) and load `state_dict` strictly.

    `state_dict` is nested as `{"autoencoder": {"generator": …}, "vocoder": {"generator": …}}` (the
    checkpoints' `['model']['generator']`), or flat with those prefixes (`autoencoder.generator.encoder…`,
    as the fixtures store it); None keeps random weights. `decoder_state` is `"primed"` (default: the
    vocoder state right after loading, as the release's first utterance got) or `"zeros"`.
    """
    model = AudioDecModel(_network(config, "autoencoder"), _network(config, "vocoder"))
    if model.hop_length != spec.hop_length:
        raise CodecConfigError(f"{spec.name}: the config's hop is {model.hop_length}, "
                               f"the registry's {spec.hop_length}.")
    if state_dict is not None:
        _load(model, weights.flatten(state_dict), spec.name)
    return AudioDecCodec(spec, model, runtime, decoder_state=decoder_state)


def _load(model: AudioDecModel, flat: dict[str, torch.Tensor], codec: str) -> None:
    prefixes = tuple(f"{part}.generator." for part in PARTS)
    stray = sorted(k for k in flat if not k.startswith(prefixes))
    if stray:
        shown = ", ".join(stray[:5]) + (f", ... ({len(stray)} in all)" if len(stray) > 5 else "")
        raise CheckpointError(f"{codec}: state dict keys outside {prefixes}: {shown}. Pass "
                              "{'autoencoder': {'generator': ...}, 'vocoder': {'generator': ...}} or flat keys "
                              "with those prefixes.")
    for part, prefix in zip(PARTS, prefixes, strict=True):
        part_dict = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        weights.load_strict(getattr(model, part)["generator"], part_dict, source=f"{codec}: the {part} state dict")


__all__ = ["AudioDecCodec", "AudioDecModel", "build", "default_config", "download"]

"""NVIDIA NeMo's audio codecs (low-frame-rate speech codec, mel codecs): the family contract and the `Codec`.

A released checkpoint is one `.nemo` file: a tar archive holding `model_config.yaml` (the `AudioCodecModel` config)
and `model_weights.ckpt` (a torch pickle of the whole model's state dict: generator, discriminators, loss buffers).
`download` reads both from the archive without NeMo: the config with `yaml.safe_load`, the weights with
`torch.load(weights_only=True)`, keeping the generator's keys (`audio_encoder.`, `vector_quantizer.`, `audio_decoder.`);
the rest only training reads.
"""

from __future__ import annotations

import copy
import io
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from ...errors import CheckpointError
from .. import weights
from ..base import Codec, Runtime
from .config import OFFICIAL_CONFIGS, NemoCodecConfig
from .model import NemoCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# The generator's key prefixes in a checkpoint; the others (discriminator, mel/STFT loss buffers) are training's.
GENERATOR = ("audio_encoder.", "vector_quantizer.", "audio_decoder.")
CONFIG_MEMBER, WEIGHTS_MEMBER = "model_config.yaml", "model_weights.ckpt"


class NemoCodec(Codec):
    """`AudioCodecModel.forward` on one utterance: zero-pad to whole frames (`pad_audio`), encode, quantise to FSQ
    tokens, decode the tokens. The output has the padded length (whole frames), as upstream returns it.

    Each utterance runs alone (`batch_exact = False`): upstream's convolutions reflect-pad at the batch's edge, so an
    item shorter than its batch would see the masked zeros there instead of its own signal.

    Args:
        spec (CodecSpec): the registry entry.
        model (NemoCodecModel): the generator.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = False
    batch_note = "each utterance runs alone: NeMo's convolutions reflect-pad at the batch's edge"

    @property
    def hop(self) -> int:
        return self.model.config.samples_per_frame

    def frames(self, length: int) -> int:
        """Code frames of an input of `length` samples: `ceil(length / samples_per_frame)`."""
        return -(-int(length) // self.hop)

    def output_length(self, length: int) -> int:
        return self.frames(length) * self.hop

    def min_input_length(self) -> int:
        # Every reflect-padded conv needs an input longer than its padding (torch refuses otherwise).
        return (self.model.min_frames() - 1) * self.hop + 1

    def _padded(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.shape[-1] < self.min_input_length():
            raise ValueError(f"{self.name}: an input of {wave.shape[-1]} samples is shorter than "
                             f"{self.min_input_length()}, the shortest input its reflect-padded convolutions take "
                             f"({self.model.min_frames()} frames of {self.hop} samples)")
        return torch.nn.functional.pad(wave, (0, self.output_length(wave.shape[-1]) - wave.shape[-1]))

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` -> FSQ tokens `[groups, ceil(T / samples_per_frame)]`."""
        padded = self._padded(torch.as_tensor(wave, dtype=torch.float32).to(self.device))
        return self.model.encode(padded[None])[:, 0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.model(self._padded(waves[i, :n])[None])[0]
            out[i, : audio.shape[0]] = audio
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """NeMo's example config of the checkpoint (model part), in `model_config.yaml`'s layout."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.hub_repo])


def read_nemo(path: Path, *, codec: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(`model_config.yaml` as a mapping, the generator's tensors) of a `.nemo` archive, without running its code."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in (CONFIG_MEMBER, WEIGHTS_MEMBER):
                    members[name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise CheckpointError(f"{codec}: checkpoint file {path} is not a readable .nemo archive "
                              f"({type(error).__name__}: {error}); it is truncated or corrupt: delete it from the "
                              "cache and download it again.") from error
    missing = [name for name in (CONFIG_MEMBER, WEIGHTS_MEMBER) if name not in members]
    if missing:
        raise CheckpointError(f"{codec}: checkpoint file {path} has no {' or '.join(missing)}; it is not a NeMo "
                              "model archive, or it is truncated: delete it from the cache and download it again.")
    try:
        config = yaml.safe_load(members[CONFIG_MEMBER].decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise CheckpointError(f"{codec}: checkpoint file {path}: its {CONFIG_MEMBER} could not be read as YAML "
                              f"({str(error).splitlines()[0]}); delete the file from the cache and download it "
                              "again.") from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{codec}: checkpoint file {path}: its {CONFIG_MEMBER} is not a mapping.")
    try:
        state = torch.load(io.BytesIO(members[WEIGHTS_MEMBER]), map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, bad pickle, unsafe global, ...
        raise CheckpointError(f"{codec}: checkpoint file {path}: its {WEIGHTS_MEMBER} could not be loaded safely "
                              f"({type(error).__name__}); the file is truncated or corrupt: delete it from the cache "
                              "and download it again.") from error
    state = state.get("state_dict", state) if isinstance(state, Mapping) else state
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{codec}: checkpoint file {path}: its {WEIGHTS_MEMBER} holds no state dict.")
    return config, {key: value for key, value in state.items() if key.startswith(GENERATOR)}


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The `.nemo` archive of `spec.hub_repo` (Hub cache first): its config and the generator's weights, checked
    against the model its config builds."""
    path = weights.hub_file(spec.hub_repo, spec.hub_files[0], codec=spec.name)
    config, state = read_nemo(path, codec=spec.name)
    architecture = NemoCodecConfig.from_config(config)
    weights.check_against(lambda: NemoCodecModel(architecture), state, source=f"{spec.name}: checkpoint file {path}")
    return config, state


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> NemoCodec:
    """The codec from a `model_config.yaml` mapping and the generator's state dict (`read_nemo`'s; None: random
    weights)."""
    model = NemoCodecModel(NemoCodecConfig.from_config(config))
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    return NemoCodec(spec, model, runtime)


__all__ = ["OPTIONS", "NemoCodec", "build", "default_config", "download", "read_nemo"]

"""LanguageCodec (jishengpeng, 24 kHz, 8 of its masked-channel RVQ's 1024-entry codebooks at 75 frames/s): the family
contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import LanguageCodecConfig, official_config
from .model import DECODER_PREFIX, LanguageCodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec


class LanguageCodecCodec(Codec):
    """LanguageCodec as its README runs it: `encode_infer` (8 quantisers), then `decode` at bandwidth id 0.

    Output length is `ceil(T / hop) * hop`: the encoder pads the signal to whole frames and the ISTFT head gives
    `hop` samples per frame; upstream keeps all of them.

    Each utterance runs alone: the backbone's convolutions (kernel 7) and the ISTFT's overlap-add would read an
    item's batch padding as neighbouring frames where alone they read zeros.

    Args:
        spec (CodecSpec): the registry entry.
        model (LanguageCodecModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = False
    batch_note = ("each utterance runs alone: the backbone's convolutions and the ISTFT's overlap-add would read "
                  "batch padding as neighbouring frames")

    def __init__(self, spec: CodecSpec, model: LanguageCodecModel, runtime: Runtime | None = None):
        super().__init__(spec, model, runtime)
        # Upstream's README encodes and decodes with `bandwidth_id = torch.tensor([0])`: row 0 of every AdaLayerNorm
        # (the four bandwidths of the released config are all 6.6, and `infer` codes with 8 quantisers whatever it).
        self.bandwidth_id = torch.tensor([0], device=self.device)

    def output_length(self, length: int) -> int:
        return int(self.model.frame_lengths(int(length))) * self.model.config.hop_length

    def min_input_length(self) -> int:
        return 1  # reflect padding of a signal shorter than the kernel zero-extends it first (as upstream)

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 24 kHz -> codes `[8, ceil(T / hop)]` (on the CPU)."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1).to(self.device)
        return self.model.encode(wave)[0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, length in enumerate(lengths.tolist()):
            audio = self.model.decode(self.model.encode(waves[i : i + 1, :length]), self.bandwidth_id)
            out[i, : audio.shape[-1]] = audio[0]
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}

# The parts of a Lightning checkpoint's `state_dict` that upstream's `from_pretrained0802` keeps (the rest holds the
# discriminators and the losses' modules).
MODEL_PREFIXES = ("feature_extractor.", "backbone.", "head.")


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The repository's config file, `configs/languagecodec_mm.yaml` (the one the released checkpoint goes with)."""
    return official_config()


def model_state(checkpoint: Mapping[str, Any], *, source: str) -> dict[str, torch.Tensor]:
    """The network's tensors of a Lightning checkpoint (its `state_dict`: the keys `from_pretrained0802` keeps, those
    under `feature_extractor.`, `backbone.` and `head.`), or of a plain state dict already holding them."""
    return weights.lightning_state(checkpoint, prefixes=MODEL_PREFIXES, model="LanguageCodec", source=source)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read the release's two files: the config (`languagecodec_mm.yaml`, the repository's) and the Lightning
    checkpoint, from the folder or Hub repository given for `spec.hub_repo`.

    The `.ckpt` is read with `weights_only=True` (tensors and plain containers only), then checked against the
    config while its path is known.
    """
    config_name, checkpoint_name = spec.hub_files
    path = weights.hub_file(spec.hub_repo, config_name, codec=spec.name)
    config = weights.read_config_file(path, codec=spec.name, required=("model",),
                                      what="a LanguageCodec config (a Lightning CLI file)")
    architecture = _architecture(spec, config, what=f"{spec.name}: config file {path}")
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    source = f"{spec.name}: checkpoint file {checkpoint_path}"
    state_dict = model_state(weights.load_checkpoint(checkpoint_path, codec=spec.name), source=source)
    weights.check_against(lambda: LanguageCodecModel(architecture), state_dict, source=source,
                          ignore_prefixes=(DECODER_PREFIX,))
    return config, state_dict


def _architecture(spec: CodecSpec, config: Mapping[str, Any], *, what: str) -> LanguageCodecConfig:
    architecture = LanguageCodecConfig.from_config(config, what=what)
    if architecture.sample_rate != spec.sample_rate:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.sample_rate} Hz; this codec runs at "
                               f"{spec.sample_rate} Hz.")
    return architecture


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> LanguageCodecCodec:
    """The codec from an official-format config and state dict (a Lightning checkpoint, its `state_dict`, or the
    network's keys alone; None: random weights).

    Args:
        spec: the registry entry.
        config: the official config file's mapping.
        state_dict: the weights, in the checkpoint's key layout; the SEANet decoder's keys are dropped.
        runtime: device, precision and random-weight seed.
    """
    model = LanguageCodecModel(_architecture(spec, config, what="LanguageCodec config"))
    if state_dict is not None:
        weights.load_strict(model, model_state(state_dict, source=f"{spec.name} state dict"),
                            source=f"{spec.name} state dict", ignore_prefixes=(DECODER_PREFIX,))
    return LanguageCodecCodec(spec, model, runtime)

"""FocalCodec (Della Libera et al., NeurIPS 2025): 16 kHz, one 13-bit token per frame at 50, 25 or 12.5 Hz."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import FocalCodecConfig, official_config
from .focalnet import BinarySphericalQuantizer, FocalDecoder, FocalEncoder
from .vocos import Vocos
from .wavlm import WavLM

if TYPE_CHECKING:
    from ..spec import CodecSpec


class FocalCodecModel(nn.Module):
    """Encoder (WavLM), compressor, quantiser, decompressor, decoder (Vocos); state dict as the Hub's
    `model.safetensors` (v0.0.1 layout: separate q/k/v projections).

    Args:
        config (FocalCodecConfig): the architecture.
    """

    def __init__(self, config: FocalCodecConfig):
        super().__init__()
        self.config = config
        self.encoder = WavLM(config.encoder)
        self.compressor = FocalEncoder(config.compressor)
        self.quantizer = BinarySphericalQuantizer(config.quantizer.codebook_size)
        self.decompressor = FocalDecoder(config.decompressor)
        self.decoder = Vocos(config.decoder)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform `[B, T]` at 16 kHz -> tokens `[B, N]` (`sig_to_toks`: the latents are L2-normalised first)."""
        latents = nn.functional.normalize(self.compressor(self.encoder(wave)), dim=-1)
        return self.quantizer.quantize(latents)[0]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens `[B, N]` -> waveform `[B, N * hop]` (`toks_to_sig` without a length)."""
        return self.decoder(self.decompressor(self.quantizer.toks_to_codes(tokens)))


class FocalCodecCodec(Codec):
    """FocalCodec as upstream's `FocalCodec.forward` runs it: tokens, their codes, the decoder's output cut to the
    input length (or padded by repeating its last sample, when the frames fall short).

    The encoder's convolutions take no padding, so an input shorter than 400 samples has no frame; `resynthesize`
    refuses it by name. Each utterance runs alone: WavLM attends over the whole utterance and the focal
    modulation's global context is a mean over it, so padding would change every frame.

    Args:
        spec (CodecSpec): the registry entry.
        model (FocalCodecModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = False

    def min_input_length(self) -> int:
        return 400  # WavLM's receptive field: floor((T - 400) / 320) + 1 frames

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> tokens `[1, N]`."""
        return self.model.encode(torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1).to(self.device))

    @torch.inference_mode()
    def decode(self, tokens: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Tokens `[1, N]` -> audio `[length]` (all `N * hop` samples without `length`)."""
        audio = self.model.decode(tokens.to(self.device))[0]
        if length is None or audio.shape[0] >= length:
            return audio[:length]
        # upstream: nn.functional.pad(sig, [0, delta], mode="replicate")
        return nn.functional.pad(audio[None, None], [0, length - audio.shape[0]], mode="replicate")[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = [int(n) for n in lengths if int(n) < self.min_input_length()]
        if short:
            raise ValueError(f"{self.name}: an input of {short[0]} samples is shorter than {self.min_input_length()} "
                             "(25 ms at 16 kHz, WavLM's first frame); FocalCodec encodes no frame of it.")
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            out[i, :n] = self.decode(self.encode(waves[i, :n]), n)
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

# Keyword options of `build` (checked by `registry.load`): one token per frame, nothing to choose.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The config of `spec`'s checkpoint: the released architecture with its down/upscale factors (see `specs.py`)."""
    from .specs import CHECKPOINTS

    down, up = next((d, u) for name, _, _, d, u, _ in CHECKPOINTS if name == spec.name)
    return official_config(down, up)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.json` and `model.safetensors` of the Hub repository (cache first); the weights are checked against
    the config here, while both paths are known."""
    config_name, checkpoint_name = spec.hub_files
    config_path = weights.hub_file(spec.hub_repo, config_name, codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name, what="a FocalCodec config.json")
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    state_dict = weights.load_checkpoint(checkpoint_path, codec=spec.name)
    architecture = FocalCodecConfig.from_config(config, what=f"{spec.name}: config file {config_path}")
    weights.check_against(lambda: FocalCodecModel(architecture), state_dict,
                          source=f"{spec.name}: checkpoint file {checkpoint_path}")
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
) -> FocalCodecCodec:
    """The codec from a `config.json` mapping and a state dict in the checkpoint's layout (None: random weights).

    Args:
        spec: the registry entry.
        config: the Hub `config.json`'s mapping (v0.0.1 or v0.0.2 argument names).
        state_dict: `model.safetensors`' tensors.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
    """
    architecture = FocalCodecConfig.from_config(config)
    if architecture.hop_length != spec.hop_length:
        raise CodecConfigError(f"{spec.name}: the config gives one token per {architecture.hop_length} samples; this "
                               f"codec's checkpoint has one per {spec.hop_length} ({spec.frame_rate:g} Hz).")
    model = FocalCodecModel(architecture)
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    return FocalCodecCodec(spec, model, runtime)

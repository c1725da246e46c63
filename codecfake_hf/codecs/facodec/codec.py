"""FACodec (NaturalSpeech 3's factorised codec, Amphion), v2 networks: the family contract and the `Codec`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import OFFICIAL_CONFIG, FACodecConfig
from .model import FACodecModel

if TYPE_CHECKING:
    from ..spec import CodecSpec

# The reflect padding of the prosody mel, (n_fft - hop) / 2 = 412 samples, must be shorter than the signal.
_MEL_PAD = 412


class FACodecCodec(Codec):
    """FACodec v2 resynthesis: encode, quantise with all six codebooks, decode with the utterance's own timbre.

    Upstream's path (Amphion's README) on one utterance: the encoder's latent and the first 20 log-mel bands
    (prosody), `FACodecDecoderV2(..., vq=True)` for the quantised latent and the timbre encoder's speaker
    embedding, then `FACodecDecoderV2.inference`. The input is zero-padded to a whole number of 200-sample frames
    first and the output cut back to the input's length: upstream's encoder and its prosody mel count frames
    differently for other lengths (the encoder gives one frame more when T mod 200 ≥ 152, and the quantiser sums
    then fail to broadcast), so the padding is what makes every length run; on whole frames it changes nothing.

    Each utterance runs alone (`batch_exact = False`): the speaker embedding is a mean over all frames and the
    transformers attend over all of them, so batch padding would change both; and upstream's positional table is
    indexed by the batch position, so an item's result depends on its place in a batch.

    Args:
        spec (CodecSpec): the registry entry.
        model (FACodecModel): the two networks.
        runtime (Runtime): device, precision and random-weight seed.
    """

    batch_exact = False

    @property
    def hop(self) -> int:
        return self.spec.hop_length

    def min_input_length(self) -> int:
        # Padded to whole frames, the signal must outgrow the prosody mel's reflect padding.
        return (_MEL_PAD // self.hop) * self.hop + 1

    def frames(self, length: int) -> int:
        """Code frames of an input of `length` samples (padded to whole frames): `ceil(length / 200)`."""
        return -(-int(length) // self.hop)

    def _padded(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.shape[-1] < self.min_input_length():
            raise ValueError(f"{self.name}: an input of {wave.shape[-1]} samples is shorter than "
                             f"{self.min_input_length()}, the shortest input FACodec's prosody features take")
        return torch.nn.functional.pad(wave, (0, self.frames(wave.shape[-1]) * self.hop - wave.shape[-1]))

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[6, ceil(T / 200)]`: prosody, 2 content, 3 residual (acoustic
        detail) rows."""
        padded = self._padded(torch.as_tensor(wave, dtype=torch.float32).to(self.device))
        _, codes, _ = self.model.encode(padded[None, None])
        return codes[:, 0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.model(self._padded(waves[i, :n])[None, None])[0, 0]
            out[i, :n] = audio[:n]
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The README's constructor arguments of both v2 networks (the Hub repository holds no config file)."""
    return copy.deepcopy(OFFICIAL_CONFIG)


def _architecture(spec: CodecSpec, config: Mapping[str, Any]) -> FACodecConfig:
    architecture = FACodecConfig.from_config(config)
    if architecture.n_codebooks != spec.n_codebooks:
        raise CodecConfigError(f"{spec.name}: the config has {architecture.n_codebooks} codebooks; this codec runs "
                               f"with {spec.n_codebooks} (prosody, content and residual).")
    return architecture


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two official state dicts (torch pickles of tensors, read with `weights_only=True`), checked against the
    README's config; returned nested as `{"encoder": ..., "decoder": ...}`."""
    config = default_config(spec)
    architecture = _architecture(spec, config)
    parts = {}
    for part, filename in zip(("encoder", "decoder"), spec.hub_files, strict=True):
        path = weights.hub_file(spec.hub_repo, filename, codec=spec.name)
        parts[part] = weights.flatten(weights.load_checkpoint(path, codec=spec.name))
        weights.check_against(lambda part=part: getattr(FACodecModel(architecture), part), parts[part],
                              source=f"{spec.name}: checkpoint file {path}")
    return config, parts


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> FACodecCodec:
    """The codec from the README-format config (`{"encoder": ..., "decoder": ...}`) and the two state dicts, nested
    under `encoder`/`decoder` or flattened with those prefixes (None: random weights)."""
    model = FACodecModel(_architecture(spec, config))
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    return FACodecCodec(spec, model, runtime)


__all__ = ["OPTIONS", "FACodecCodec", "build", "default_config", "download"]

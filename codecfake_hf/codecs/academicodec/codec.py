"""AcademiCodec's HiFi-Codec configs as CodecFake ran them: official configs, checkpoints, peak normalisation.

The CodecFake pipeline (roger-tseng/AudioDecBenchmark@vctk, `base_codec/academicodec.py`) built the
upstream `VQVAE` from AcademiCodec's JSON config and a Hub checkpoint `{"generator", "encoder",
"quantizer"}`, peak-normalised each utterance to 0.95, encoded it to 4 codebooks and decoded the codes.
The network lives in `hificodec.py`, the official configs and `HiFiCodecConfig` in `config.py`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..spec import CodecSpec
from .config import OFFICIAL_CONFIGS, HiFiCodecConfig
from .hificodec import HiFiCodec

logger = logging.getLogger(__name__)

# The CodecFake pipeline fed `librosa.util.normalize(wav) * 0.95` to the encoder.
PEAK_LEVEL = 0.95
# Sub-dictionaries of the official checkpoint file that the upstream VQVAE loads (it ignores any other).
CHECKPOINT_PARTS = ("generator", "encoder", "quantizer")

def peak_normalize(waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The pipeline's `librosa.util.normalize(wav) * 0.95`, per item over its valid samples.

    `waves [B, T]` zero-padded beyond `lengths [B]` -> `[B, T]`. As in librosa, an item whose peak is below
    the dtype's `tiny` (silence) is left undivided.
    """
    valid = torch.arange(waves.shape[-1], device=waves.device) < lengths.to(waves.device)[:, None]
    peak = (waves.abs() * valid).amax(-1, keepdim=True)
    peak = torch.where(peak < torch.finfo(waves.dtype).tiny, torch.ones_like(peak), peak)
    return waves / peak * PEAK_LEVEL


class AcademiCodec(Codec):
    """A HiFi-Codec config: peak normalisation to 0.95, encoder, 2 x 2 group-residual codebooks, generator.

    Args:
        spec (CodecSpec): the registry entry.
        model (HiFiCodec): the network, weights loaded.
        device (str | torch.device): where the model runs.
    """

    # Batches: Exact. Alone, the encoder's GroupNorm normalises over the whole utterance and the non-causal
    # convolutions near its end see zero padding; in a padded batch the network zeroes each item's activations
    # beyond its valid length after every layer and takes GroupNorm statistics over the valid steps only, so
    # each item gets what it gets alone.

    def output_length(self, length: int) -> int:
        """Truncated down to a whole number of frames: every strided encoder convolution floors."""
        return int(length) // self.spec.hop_length * self.spec.hop_length

    @torch.inference_mode()
    def encode(
        self, waves: torch.Tensor, lengths: torch.Tensor | Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Peak-normalise and encode, as the pipeline's `extract_unit` did.

        Args:
            waves: float32 `[B, T]` at `sample_rate`, zero beyond `lengths[i]`.
            lengths: `[B]` valid samples per item, each at least one hop.

        Returns:
            `(codes [B, T // hop, 4], frames [B])`: codes ordered `[layer0-group0, layer0-group1,
            layer1-group0, layer1-group1]`, item `i` valid for `frames[i] = lengths[i] // hop` frames.
        """
        waves = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long).to(self.device)
        if int(lengths.min()) < self.spec.hop_length:
            raise ValueError(f"{self.name}: inputs of {lengths.tolist()} samples; each needs at least one "
                             f"{self.spec.hop_length}-sample frame")
        return self.model.encode(peak_normalize(waves, lengths), lengths)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, frames: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """`codes [B, T', 4]`, item `i` valid for `frames[i]` frames -> waveform `[B, T' * hop]` (tanh, unclamped)."""
        frames = torch.as_tensor(frames, dtype=torch.long).to(self.device)
        return self.model.decode(torch.as_tensor(codes).to(self.device), frames)

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        codes, frames = self.encode(waves, lengths)
        return self.decode(codes, frames)


# --- the family contract (see registry.load) --------------------------------------------------------

# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official JSON config of `spec` (AcademiCodec's `egs/<model>/config_*.json`), a fresh copy."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.name])


def flatten_checkpoint(checkpoint: object, *, source: str) -> dict[str, torch.Tensor]:
    """The official nested layout `{part: {key: tensor}}` or the flat `{"part.key": tensor}` -> flat.

    Upstream reads only the three parts of `CHECKPOINT_PARTS` from the file and ignores the rest; so does
    this. `source` names the checkpoint in errors.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source} holds a {type(checkpoint).__name__}, not a dict of tensors.")
    nested = [part for part in CHECKPOINT_PARTS if isinstance(checkpoint.get(part), Mapping)]
    if not nested and any(str(key).startswith(tuple(f"{part}." for part in CHECKPOINT_PARTS)) for key in checkpoint):
        return weights.flatten(checkpoint)  # flat: load_strict names any key that does not belong
    missing = [part for part in CHECKPOINT_PARTS if part not in nested]
    if missing:
        raise CheckpointError(
            f"{source} lacks the sub-dictionaries {', '.join(missing)} (it holds "
            f"{', '.join(map(str, checkpoint)) or 'nothing'}): it is not a HiFi-Codec generator checkpoint. "
            "Use the generator file (AcademiCodec's training saves it as `g_*`; `do_*` files hold the "
            "discriminators and optimisers), or the official file from the Hub."
        )
    ignored = sorted(map(str, set(checkpoint) - set(CHECKPOINT_PARTS)))
    if ignored:
        logger.debug("%s: ignoring %s, as the upstream loader does", source, ", ".join(ignored))
    return weights.flatten({part: checkpoint[part] for part in CHECKPOINT_PARTS})


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The official config and weights of `spec`, the checkpoint through the Hugging Face cache.

    The Hub repository holds the checkpoint alone (a `torch.save` file without extension); its config is
    AcademiCodec's JSON on GitHub, kept here as `OFFICIAL_CONFIGS`. The file is loaded with
    `torch.load(weights_only=True)` and checked against the architecture here, where its path is known.
    """
    (filename,) = spec.hub_files
    path = weights.hub_file(spec.hub_repo, filename, codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    state_dict = flatten_checkpoint(weights.load_checkpoint(path, codec=spec.name), source=source)
    config = default_config(spec)
    weights.check_against(lambda: HiFiCodec(HiFiCodecConfig.from_config(config)), state_dict, source=source)
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
) -> AcademiCodec:
    """Build `spec` from an AcademiCodec JSON config and a checkpoint (nested or flat; None: random weights)."""
    cfg = HiFiCodecConfig.from_config(config)
    expected = (spec.sample_rate, spec.hop_length, spec.n_codebooks)
    if (cfg.sampling_rate, cfg.hop_length, cfg.n_codebooks) != expected:
        raise CodecConfigError(
            f"{spec.name}: the config describes {cfg.sampling_rate} Hz, a {cfg.hop_length}-sample hop and "
            f"{cfg.n_codebooks} codebooks; this codec runs at {spec.sample_rate} Hz with a "
            f"{spec.hop_length}-sample hop and {spec.n_codebooks} codebooks."
        )
    model = HiFiCodec(cfg)
    if state_dict is not None:
        source = f"{spec.name}: the given state_dict"
        weights.load_strict(model, flatten_checkpoint(state_dict, source=source), source=source)
    return AcademiCodec(spec, model, runtime)

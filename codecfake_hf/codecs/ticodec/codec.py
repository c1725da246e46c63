"""TiCodec's configs as upstream's inference script runs them: official configs, checkpoints, no pre-processing.

Upstream's `vqvae_copy_syn.py` (y-ren16/TiCodec@13af0eb, run by `egs/TiCodec-24k-320d/test_conv_1g*r_*.sh`)
builds `VqvaeTester` from the JSON config and a checkpoint `{"generator", "encoder", "quantizer"}`, removes weight
norm, and for each file: `librosa.load(path, sr=24000)` (the waveform as read, no normalisation), `vqvae.encode`
(frame-level codes and the 8 time-invariant codes), `vqvae(codes, global_codes)` (the generator's tanh output),
written as it is. The network lives in `network.py`, the official configs and `TiCodecConfig` in `config.py`.
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
from .config import OFFICIAL_CONFIGS, TiCodecConfig
from .network import TiCodecModel

logger = logging.getLogger(__name__)

# Sub-dictionaries of the official checkpoint file that upstream's VQVAE loads (it ignores any other).
CHECKPOINT_PARTS = ("generator", "encoder", "quantizer")


class TiCodec(Codec):
    """A TiCodec config: encoder, frame-level residual VQ + time-invariant codes, generator.

    Args:
        spec (CodecSpec): the registry entry.
        model (TiCodecModel): the network, weights loaded.
        runtime (Runtime): device, precision and random-weight seed.
    """

    # Batches: exact. Alone, the encoder's GroupNorm and the global branch's mean take the whole utterance and
    # the non-causal convolutions near its end see zero padding; in a padded batch the network zeroes each
    # item's activations beyond its valid length after every layer and takes GroupNorm statistics and the
    # global mean over the valid steps only, so each item gets what it gets alone.

    def output_length(self, length: int) -> int:
        """Truncated down to a whole number of frames: every strided encoder convolution floors."""
        return int(length) // self.spec.hop_length * self.spec.hop_length

    @torch.inference_mode()
    def encode(
        self, waves: torch.Tensor, lengths: torch.Tensor | Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode as upstream's `VQVAE.encode`.

        Args:
            waves: float32 `[B, T]` at `sample_rate`, zero beyond `lengths[i]`.
            lengths: `[B]` valid samples per item, each at least one hop.

        Returns:
            `(codes [B, K, T // hop], global codes [B, G], frames [B])`: frame-level codes ordered layer by
            layer (upstream's `[N, T, K]`, transposed), item `i` valid for `frames[i] = lengths[i] // hop` frames,
            and the utterance's `global_code_num` time-invariant codes.
        """
        waves = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long).to(self.device)
        if int(lengths.min()) < self.spec.hop_length:
            raise ValueError(f"{self.name}: inputs of {lengths.tolist()} samples; each needs at least one "
                             f"{self.spec.hop_length}-sample frame")
        return self.model.encode(waves, lengths)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, global_codes: torch.Tensor,
               frames: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """`codes [B, K, T']` (item `i` valid for `frames[i]` frames) and `global_codes [B, G]` -> waveform
        `[B, T' * hop]` (tanh, unclamped)."""
        frames = torch.as_tensor(frames, dtype=torch.long).to(self.device)
        return self.model.decode(torch.as_tensor(codes).to(self.device),
                                 torch.as_tensor(global_codes).to(self.device), frames)

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        codes, global_codes, frames = self.encode(waves, lengths)
        return self.decode(codes, global_codes, frames)


# --- the family contract (see registry.load) --------------------------------------------------------

# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official JSON config of `spec` (TiCodec's `egs/TiCodec-24k-320d/config_*.json`), a fresh copy."""
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
            f"{', '.join(map(str, checkpoint)) or 'nothing'}): it is not a TiCodec generator checkpoint. "
            "Use the generator file (TiCodec's training saves it as `g_*`; `do_*` files hold the "
            "discriminators and optimisers), or the official file from the Hub."
        )
    ignored = sorted(map(str, set(checkpoint) - set(CHECKPOINT_PARTS)))
    if ignored:
        logger.debug("%s: ignoring %s, as the upstream loader does", source, ", ".join(ignored))
    return weights.flatten({part: checkpoint[part] for part in CHECKPOINT_PARTS})


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The official config and weights of `spec`, the checkpoint through the Hugging Face cache.

    The Hub repository holds the generator checkpoints alone (`torch.save` files without extension); the
    configs are TiCodec's JSON files on GitHub, kept here as `OFFICIAL_CONFIGS`. The file is loaded with
    `torch.load(weights_only=True)` and checked against the architecture here, where its path is known.
    """
    (filename,) = spec.hub_files
    path = weights.hub_file(spec.hub_repo, filename, codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    state_dict = flatten_checkpoint(weights.load_checkpoint(path, codec=spec.name), source=source)
    config = default_config(spec)
    weights.check_against(lambda: TiCodecModel(TiCodecConfig.from_config(config)), state_dict, source=source)
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
) -> TiCodec:
    """Build `spec` from a TiCodec JSON config and a checkpoint (nested or flat; None: random weights)."""
    cfg = TiCodecConfig.from_config(config)
    expected = (spec.sample_rate, spec.hop_length, spec.n_codebooks)
    if (cfg.sampling_rate, cfg.hop_length, cfg.n_codebooks) != expected:
        raise CodecConfigError(
            f"{spec.name}: the config describes {cfg.sampling_rate} Hz, a {cfg.hop_length}-sample hop and "
            f"{cfg.n_codebooks} frame-level codebooks; this codec runs at {spec.sample_rate} Hz with a "
            f"{spec.hop_length}-sample hop and {spec.n_codebooks} codebooks."
        )
    model = TiCodecModel(cfg)
    if state_dict is not None:
        source = f"{spec.name}: the given state_dict"
        weights.load_strict(model, flatten_checkpoint(state_dict, source=source), source=source)
    return TiCodec(spec, model, runtime)

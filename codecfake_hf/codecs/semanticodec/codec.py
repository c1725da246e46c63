"""SemantiCodec (Liu et al. 2024): the family contract and the `Codec`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from .config import SemantiCodecConfig, official_config
from .model import SemantiCodecModel, output_samples, token_count

if TYPE_CHECKING:
    from ..spec import CodecSpec

# Training-only tensors of the decoder checkpoint: the EMA shadow weights (generate_sample samples with `model.*`).
TRAINING_PREFIXES = ("decoder.model_ema.",)
_TOKEN_RATES = {"semanticodec_1.40kbps": 100, "semanticodec_0.70kbps": 50, "semanticodec_0.35kbps": 25}


class SemantiCodecCodec(Codec):
    """SemantiCodec resynthesis, one utterance at a time: upstream's `encode` (zero padding to 10.24 s windows, Kaldi
    fbank, AudioMAE + k-means semantic codes, LSTM + VQ acoustic codes, cut to the token count) then `decode` (windows
    of 10.24 s with 0.64 s overlap, latent diffusion with classifier-free guidance, VAE, HiFi-GAN, overlap-add, trim).

    The diffusion noise of each utterance is drawn from a CPU generator seeded with `sampling_seed` (upstream draws it
    from torch's global generator, unseeded), so a row is the same in every run, batch and device. Each item of a
    batch runs alone with its own freshly seeded generator, which is what it gets alone: `batch_exact` holds.

    Args:
        spec (CodecSpec): the registry entry.
        model (SemantiCodecModel): encoder and decoder.
        runtime (Runtime): device, precision and random-weight seed.
        sampling_seed (int): seed of each utterance's diffusion noise.
    """

    def __init__(self, spec: CodecSpec, model: SemantiCodecModel, runtime: Runtime | None = None, *,
                 sampling_seed: int = 0):
        super().__init__(spec, model, runtime)
        self.sampling_seed = int(sampling_seed)

    @property
    def token_rate(self) -> int:
        return self.model.config.token_rate

    def output_length(self, length: int) -> int:
        return output_samples(token_count(int(length), self.token_rate), self.token_rate)

    def min_input_length(self) -> int:
        return 1

    def generator(self) -> torch.Generator:
        """A CPU generator seeded with `sampling_seed`: one per utterance."""
        return torch.Generator().manual_seed(self.sampling_seed)

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[2, tokens]` (semantic row, acoustic row)."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(self.device)
        return self.model.encode(wave)[0].T.cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], max(self.output_length(int(n)) for n in lengths))
        for i, n in enumerate(int(n) for n in lengths):
            tokens = self.model.encode(waves[i, :n])
            audio = self.model.decode(tokens, self.generator())
            out[i, :audio.shape[0]] = audio
        return out.to(waves.device)


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {
    "sampling_seed": "seed of each utterance's diffusion noise (default: the build's random-weight seed, else "
                     "registry.weight_seed(name))",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """Upstream's `get_config(token_rate, 32768)` model section and `SemantiCodec`'s arguments (no file on the Hub)."""
    return official_config(_TOKEN_RATES[spec.name])


def _architecture(spec: CodecSpec, config: Mapping[str, Any]) -> SemantiCodecConfig:
    architecture = SemantiCodecConfig.from_config(dict(config))
    if architecture.token_rate != _TOKEN_RATES[spec.name]:
        raise CodecConfigError(f"{spec.name}: the config's `token_rate` is {architecture.token_rate}; this codec runs "
                               f"at {_TOKEN_RATES[spec.name]} tokens a second.")
    return architecture


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two official checkpoints (torch pickles of tensors, read with `weights_only=True`) and the k-means codebook
    (`.npy`, read without pickles), checked against the official config; nested as `{"encoder": ..., "decoder":
    ...}` with the codebook as `encoder.centroid_npy`."""
    config = default_config(spec)
    architecture = _architecture(spec, config)
    encoder_file, decoder_file, codebook_file = spec.hub_files
    parts: dict[str, Any] = {}
    for part, filename in (("encoder", encoder_file), ("decoder", decoder_file)):
        path = weights.hub_file(spec.hub_repo, filename, codec=spec.name)
        parts[part] = weights.flatten(weights.load_checkpoint(path, codec=spec.name))
        if part == "encoder":
            codebook = weights.hub_file(spec.hub_repo, codebook_file, codec=spec.name)
            parts[part]["centroid_npy"] = read_codebook(codebook, codec=spec.name)
        weights.check_against(lambda part=part: getattr(SemantiCodecModel(architecture), part), parts[part],
                              source=f"{spec.name}: checkpoint file {path}", ignore_prefixes=("model_ema.",))
    return config, parts


def read_codebook(path, *, codec: str) -> torch.Tensor:
    """A k-means codebook `.npy` (float32 `[centroids, dim]`), read with `allow_pickle=False`."""
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:  # truncated file, bad header, a pickle
        raise CheckpointError(f"{codec}: checkpoint file {path} could not be loaded safely ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}). The file is corrupt or truncated: "
                              "delete it from the cache and download it again.") from error
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise CheckpointError(f"{codec}: checkpoint file {path} holds a {array.dtype} array of shape {array.shape}, "
                              "not a k-means codebook [centroids, dim]. Delete it from the cache and download it "
                              "again.")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *, runtime: Runtime,
          sampling_seed: int | None = None) -> SemantiCodecCodec:
    """The codec from the official-format config and the two state dicts with the codebook (nested under
    `encoder`/`decoder`, or flattened with those prefixes; None: random weights).

    Args:
        sampling_seed: seed of each utterance's diffusion noise (default: `runtime.seed` for random weights, else
            `registry.weight_seed(spec.name)`).
    """
    if sampling_seed is not None and (isinstance(sampling_seed, bool) or not isinstance(sampling_seed, int)):
        raise CodecConfigError(f"{spec.name}: `sampling_seed` must be an integer, got {sampling_seed!r}.")
    model = SemantiCodecModel(_architecture(spec, config))
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict",
                            ignore_prefixes=TRAINING_PREFIXES)
    if sampling_seed is None:
        from ..registry import weight_seed  # here: the registry imports this family while it loads

        sampling_seed = runtime.seed if runtime.seed is not None else weight_seed(spec.name)
    return SemantiCodecCodec(spec, model, runtime, sampling_seed=sampling_seed)


__all__ = ["OPTIONS", "SemantiCodecCodec", "build", "default_config", "download", "read_codebook"]

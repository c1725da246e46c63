"""LLM-Codec (UniAudio 1.5; yangdongchao/LLM-Codec, weights `semantic_acoustic.pth` of the Hub repository
Dongchao/2024, as its README downloads them): SNAC's network over frozen LLM-vocabulary codebooks.

The Hub repository holds the checkpoint only (a dict whose `codec_model` is the state dict, as upstream's `infer.py`
reads it); the config is the repository's `config.yaml` (`generator.config`, the keyword arguments of `MSCodecLM`),
`OFFICIAL_CONFIG` here. Upstream reads its codebooks' initial values from the two files that config names (LLaMA-2's
token embeddings, `embed_llama2.pt`, and the 3248 word embeddings, `layer1.pth`) and then loads the checkpoint over
them; the checkpoint holds the codebooks, so those files are not read here, and their shapes are two fields of the
config (`global_codebook_shape`, `local_codebook_shape`), taken from the checkpoint when it is downloaded.

The pipeline is upstream's one-call reconstruction, `MSCodecLM.forward` (what `infer.py` runs): the input is
zero-padded to a multiple of hop × lcm(coarsest VQ stride, attention window) = 480 × 8 samples, encoded, quantised,
decoded, and cut back to the input length. Each utterance runs alone (the non-causal convolutions and the attention
windows would see a batch's padding where alone they see the utterance's own zeros).

The decoder's noise blocks add `noise * W x` with standard normal noise that upstream draws from torch's global
generator at inference. Here every utterance draws it from a CPU generator seeded with the codec's noise seed (the
build's `seed` for random weights, else `registry.weight_seed(name)`; the `noise_seed` option overrides it), in
upstream's order, so an utterance's output depends neither on the order of utterances nor on the device. Upstream
after `torch.manual_seed(noise_seed)` draws the same numbers (the fixture was made that way).
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
from ..config import from_config
from ..spec import CodecSpec
from .model import MSCodecLM

# yangdongchao/LLM-Codec, config.yaml, `generator.config` (commit b162928, 2024-08-18), as published.
OFFICIAL_CONFIG: dict[str, Any] = {
    "encoder_dim": 32, "sample_rate": 16000, "encoder_rates": [3, 4, 5, 8], "latent_dim": 512, "decoder_dim": 1536,
    "decoder_rates": [8, 5, 4, 3], "vq_strides": [4, 2, 1], "noise": True, "depthwise": True, "use_cblinear": True,
    "attn_window_size": 8, "local_embedding_path": "embed_llama2.pt", "global_embedding_path": "layer1.pth",
}
# The attention's head width, fixed in upstream's LocalMHA (dim_head=64): widths it runs at are multiples of it.
_DIM_HEAD = 64


@dataclass(frozen=True)
class LLMCodecConfig:
    """The keys of config.yaml's `generator.config` (every one required), plus the codebook shapes that upstream
    reads from the files the two paths name.

    Args:
        sample_rate (int): audio rate in Hz.
        encoder_dim (int): width of the encoder's first convolution (doubled at each stride).
        encoder_rates (tuple[int, ...]): encoder strides; their product is the hop.
        latent_dim (int | None): the latent's width; None: encoder_dim × 2^len(encoder_rates), the only width the
            encoder gives.
        decoder_dim (int): width of the decoder's first convolution (halved at each rate).
        decoder_rates (tuple[int, ...]): decoder upsampling rates.
        vq_strides (tuple[int, ...]): per codebook (at most three: one global, two local), latent frames per code.
        noise (bool): whether the decoder blocks add noise.
        depthwise (bool): depthwise (grouped) convolutions.
        use_cblinear (bool): project the codebook into the latent space (`cb_proj`); only true is built.
        attn_window_size (int | None): local attention window at the latent rate; None: no attention.
        local_embedding_path (str | None): upstream's file of LLaMA-2's token embeddings (not read: the checkpoint
            holds the codebook).
        global_embedding_path (str | None): upstream's file of the word embeddings (not read, likewise).
        global_codebook_shape (tuple[int, int]): (entries, width) of the first codebook: layer1.npy's 3248 words,
            at width 4096, LLaMA-2 7B's embedding width (assumed: layer1.pth could not be read from here; `download`
            takes the checkpoint's own shape).
        local_codebook_shape (tuple[int, int]): (entries, width) of the others: LLaMA-2 7B's vocabulary and hidden
            size (its config.json: vocab_size 32000, hidden_size 4096).
    """

    sample_rate: int
    encoder_dim: int
    encoder_rates: tuple[int, ...]
    latent_dim: int | None
    decoder_dim: int
    decoder_rates: tuple[int, ...]
    vq_strides: tuple[int, ...]
    noise: bool
    depthwise: bool
    use_cblinear: bool
    attn_window_size: int | None
    local_embedding_path: str | None
    global_embedding_path: str | None
    global_codebook_shape: tuple[int, int] = (3248, 4096)
    local_codebook_shape: tuple[int, int] = (32000, 4096)

    def __post_init__(self) -> None:
        for key in ("encoder_rates", "decoder_rates", "vq_strides", "global_codebook_shape", "local_codebook_shape"):
            if not getattr(self, key) or min(getattr(self, key)) < 1:
                raise CodecConfigError(f"LLM-Codec config: `{key}` must be a non-empty list of positive integers, "
                                       f"got {list(getattr(self, key))}.")
        if len(self.vq_strides) > 3:
            raise CodecConfigError(f"LLM-Codec config: `vq_strides` {list(self.vq_strides)} has more than three "
                                   "codebooks; LLM-Codec has one global (word) codebook and two local (token) ones.")
        if not self.use_cblinear:
            raise CodecConfigError("LLM-Codec config: `use_cblinear` false (no codebook projection) is not built "
                                   "here; the released model projects its codebooks: set it to true.")
        width = self.encoder_dim * 2 ** len(self.encoder_rates)
        if self.latent_dim not in (None, width):
            raise CodecConfigError(f"LLM-Codec config: `latent_dim` {self.latent_dim} is not the encoder's output "
                                   f"width encoder_dim × 2^{len(self.encoder_rates)} = {width}.")
        if self.attn_window_size is not None and (width % _DIM_HEAD or self.decoder_dim % _DIM_HEAD):
            raise CodecConfigError(f"LLM-Codec config: with attention (`attn_window_size` {self.attn_window_size}) "
                                   f"the latent width ({width}) and `decoder_dim` ({self.decoder_dim}) must be "
                                   f"multiples of the {_DIM_HEAD}-wide attention heads.")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "LLM-Codec config") -> LLMCodecConfig:
        return from_config(cls, config, what=what)

    @property
    def width(self) -> int:
        return self.encoder_dim * 2 ** len(self.encoder_rates)


class LLMCodec(Codec):
    """LLM-Codec as `MSCodecLM.forward` runs it (pad, encode, quantise, decode, cut to the input length), one
    utterance at a time, its decoder noise drawn from a generator seeded with `noise_seed` for each utterance.

    Args:
        spec (CodecSpec): the registry entry.
        model (MSCodecLM): the network.
        runtime (Runtime): device, precision and random-weight seed.
        noise_seed (int): seed of each utterance's decoder noise.
    """

    # Each utterance runs alone: the encoder's convolutions are not causal and its attention windows are fixed
    # blocks, so inside a zero-padded batch an item's last frames would see the batch's padding.
    batch_exact = False

    def __init__(self, spec: CodecSpec, model: MSCodecLM, runtime: Runtime | None = None, *, noise_seed: int = 0):
        super().__init__(spec, model, runtime)
        self.noise_seed = int(noise_seed)

    def min_input_length(self) -> int:
        return 1  # any input is zero-padded up to whole frames and windows first

    def _seeded_noise(self) -> torch.Generator:
        generator = torch.Generator().manual_seed(self.noise_seed)
        for block in self.model.noise_blocks():
            block.generator = generator
        return generator

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> list[torch.Tensor]:
        """One utterance `[T]` -> codes, one `[ceil(T / pad) * pad / hop / stride]` tensor per codebook."""
        audio = torch.as_tensor(wave, dtype=torch.float32).reshape(1, 1, -1).to(self.device)
        with self.model.quantizer.projected():
            return [codes[0] for codes in self.model.encode(audio)]

    @torch.inference_mode()
    def decode(self, codes: list[torch.Tensor]) -> torch.Tensor:
        """Codes of one utterance -> `[frames * hop]`, the noise drawn from `noise_seed`."""
        self._seeded_noise()
        with self.model.quantizer.projected():
            return self.model.decode([c[None].to(self.device) for c in codes])[0, 0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        with self.model.quantizer.projected():
            for i, n in enumerate(int(n) for n in lengths):
                self._seeded_noise()
                audio, _ = self.model(waves[i, :n].reshape(1, 1, n))
                out[i, :n] = audio[0, 0]
        return out


# -- the family contract (see registry.load) ------------------------------------------------------------------------

OPTIONS: dict[str, str] = {
    "noise_seed": "seed of the decoder's noise, drawn anew for each utterance (default: the build's random-weight "
                  "seed, else registry.weight_seed(name))",
}
# The checkpoint's codebook tensors, whose shapes are the config's codebook shapes.
_CODEBOOKS = {"global_codebook_shape": "quantizer.quantizers.0.codebook.weight",
              "local_codebook_shape": "quantizer.quantizers.1.codebook.weight"}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """config.yaml's `generator.config` (the repository's; the Hub repository holds no config)."""
    return copy.deepcopy(OFFICIAL_CONFIG)


def _model(config: LLMCodecConfig) -> MSCodecLM:
    return MSCodecLM(sample_rate=config.sample_rate, encoder_dim=config.encoder_dim,
                     encoder_rates=config.encoder_rates, latent_dim=config.width, decoder_dim=config.decoder_dim,
                     decoder_rates=config.decoder_rates, attn_window_size=config.attn_window_size,
                     vq_strides=config.vq_strides, noise=config.noise, depthwise=config.depthwise,
                     global_codebook=config.global_codebook_shape, local_codebook=config.local_codebook_shape)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The official config and the `codec_model` state dict of `semantic_acoustic.pth` (read with
    `weights_only=True`), the config's codebook shapes those of the file's codebooks, the file checked against the
    architecture here, where its path is known."""
    (checkpoint_name,) = spec.hub_files
    path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    checkpoint = weights.load_checkpoint(path, codec=spec.name)
    if not isinstance(checkpoint.get("codec_model"), Mapping):
        raise CheckpointError(f"{spec.name}: checkpoint file {path} has no `codec_model` state dict (found: "
                              f"{', '.join(map(str, checkpoint)) or 'nothing'}); it is not LLM-Codec's released "
                              "file: delete it from the cache and download it again.")
    state_dict = weights.flatten(checkpoint["codec_model"])
    config = default_config(spec)
    for key, tensor in _CODEBOOKS.items():
        if tensor in state_dict and state_dict[tensor].dim() == 2:
            config[key] = list(state_dict[tensor].shape)
    architecture = LLMCodecConfig.from_config(config, what=f"{spec.name}: config {spec.hub_repo}")
    weights.check_against(functools.partial(_model, architecture), state_dict,
                          source=f"{spec.name}: checkpoint file {path}")
    return config, state_dict


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *, runtime: Runtime,
          noise_seed: int | None = None) -> LLMCodec:
    """The codec from an official-format config and state dict (None: random weights).

    Args:
        noise_seed: seed of each utterance's decoder noise (default: `runtime.seed` for random weights, else
            `registry.weight_seed(spec.name)`).
    """
    architecture = LLMCodecConfig.from_config(config)
    model = _model(architecture)
    found = (architecture.sample_rate, model.hop_length, len(architecture.vq_strides))
    expected = (spec.sample_rate, spec.hop_length, spec.n_codebooks)
    if found != expected:
        raise CodecConfigError(f"{spec.name}: the config describes {found[0]} Hz, hop {found[1]}, {found[2]} "
                               f"codebooks; this codec runs at {expected[0]} Hz, hop {expected[1]}, {expected[2]} "
                               "codebooks.")
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, int)):
        raise CodecConfigError(f"{spec.name}: `noise_seed` must be an integer, got {noise_seed!r}.")
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    if noise_seed is None:
        from ..registry import weight_seed  # here: the registry imports this family while it loads

        noise_seed = runtime.seed if runtime.seed is not None else weight_seed(spec.name)
    return LLMCodec(spec, model, runtime, noise_seed=noise_seed)


__all__ = ["OFFICIAL_CONFIG", "OPTIONS", "LLMCodec", "LLMCodecConfig", "build", "default_config", "download"]

"""SpeechTokenizer (fnlp, 16 kHz, 8 x 1024 RVQ at 50 Hz): inference module loading the official checkpoint."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..config import from_config
from ..nn.quantization import ResidualVectorQuantizer
from ..nn.seanet import SEANetDecoder, SEANetEncoder

if TYPE_CHECKING:
    from ..spec import CodecSpec

# speechtokenizer_hubert_avg/config.json of fnlp/SpeechTokenizer, as published (training keys included;
# the model reads only the fields of SpeechTokenizerConfig).
OFFICIAL_CONFIG: dict[str, Any] = {
    "resblock": "1", "num_gpus": 3, "batch_size": 60, "learning_rate": 0.0001, "adam_b1": 0.5,
    "adam_b2": 0.9, "lr_decay": 0.98, "seed": 1234, "lambda_distill": 0.15,
    "n_filters": 64, "strides": [8, 5, 4, 2], "dimension": 1024, "semantic_dimension": 768,
    "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3, "n_residual_layers": 1,
    "lstm_layers": 2, "activation": "ELU",
    "segment_size": 48000, "num_mels": 80, "num_freq": 1025, "n_fft": 1024, "hop_size": 240,
    "win_size": 1024, "sampling_rate": 16000, "sample_rate": 16000, "codebook_size": 1024, "n_q": 8,
    "fmin": 0, "fmax": 8000, "fmax_for_loss": None, "num_workers": 12,
    "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54322", "world_size": 1},
}


@dataclass(frozen=True)
class SpeechTokenizerConfig:
    """The keys of SpeechTokenizer's `config.json` that shape the model; every official file holds them all.

    Args:
        n_filters (int): width of the SEANet's first conv.
        strides (tuple[int, ...]): decoder upsampling ratios (the encoder downsamples in reverse order).
        dimension (int): latent channels (the RVQ's dimension).
        semantic_dimension (int): output width of the distillation head (HuBERT's 768); training only.
        bidirectional (bool): whether the encoder's LSTM is bidirectional (the decoder's never is).
        dilation_base (int): residual block `j` of a stage has dilation `dilation_base ** j`.
        residual_kernel_size (int): kernel width of the residual blocks' first conv.
        n_residual_layers (int): residual blocks per stage.
        lstm_layers (int): LSTM layers of encoder and decoder.
        activation (str): `torch.nn` activation name (ELU).
        codebook_size (int): entries per codebook.
        n_q (int): codebooks of the residual VQ.
        sample_rate (int): audio rate in Hz (16000).
    """

    n_filters: int
    strides: tuple[int, ...]
    dimension: int
    semantic_dimension: int
    bidirectional: bool
    dilation_base: int
    residual_kernel_size: int
    n_residual_layers: int
    lstm_layers: int
    activation: str
    codebook_size: int
    n_q: int
    sample_rate: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "SpeechTokenizer config") -> SpeechTokenizerConfig:
        """Read an official-format `config.json` (a dict); its training keys are accepted and ignored."""
        return from_config(cls, config, what=what, ignored=TRAINING_KEYS)


# The official file's other keys: optimiser, data, mel loss and distributed training.
TRAINING_KEYS = tuple(key for key in OFFICIAL_CONFIG if key not in {f.name for f in fields(SpeechTokenizerConfig)})


class SpeechTokenizerModel(nn.Module):
    """SpeechTokenizer: SEANet encoder (BiLSTM), residual VQ, SEANet decoder; state dict as the official file.

    Args:
        encoder (SEANetEncoder): waveform `[B, 1, T]` -> latent `[B, D, F]`.
        quantizer (ResidualVectorQuantizer): latent <-> codes `[B, K, F]`.
        decoder (SEANetDecoder): latent `[B, D, F]` -> waveform `[B, 1, F * hop]`.
        transform (nn.Module): the semantic distillation head (RVQ layer 1 -> HuBERT space). Training
            only, kept so that the checkpoint loads strictly.
    """

    def __init__(self, encoder: SEANetEncoder, quantizer: ResidualVectorQuantizer, decoder: SEANetDecoder,
                 transform: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.transform = transform
        self.quantizer = quantizer
        self.decoder = decoder
        self.hop_length = encoder.hop_length

    @classmethod
    def from_config(cls, config: SpeechTokenizerConfig) -> SpeechTokenizerModel:
        """Build from the config's architecture (randomly initialised)."""
        seanet = dict(
            n_filters=config.n_filters, dimension=config.dimension, ratios=config.strides, lstm=config.lstm_layers,
            dilation_base=config.dilation_base, residual_kernel_size=config.residual_kernel_size,
            n_residual_layers=config.n_residual_layers, activation=config.activation,
        )
        dimension, semantic = config.dimension, config.semantic_dimension
        return cls(
            # Upstream: only the encoder's LSTM follows `bidirectional`; the decoder's is always forward-only.
            encoder=SEANetEncoder(**seanet, bidirectional=config.bidirectional),
            quantizer=ResidualVectorQuantizer(dimension, config.n_q, config.codebook_size),
            decoder=SEANetDecoder(**seanet, bidirectional=False),
            transform=nn.Linear(dimension, semantic) if dimension != semantic else nn.Identity(),
        )

    def frame_lengths(self, lengths):
        """Code frames for inputs of `lengths` samples (int or tensor): `ceil(T / hop)`."""
        return self.encoder.output_lengths(lengths)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None, n_q: int | None = None) -> torch.Tensor:
        """Waveform `[B, 1, T]` at 16 kHz -> codes `[B, n_q, ceil(T / hop)]`.

        With `lengths [B]`, item `b` is `x[b, :, :lengths[b]]` and gets the codes it gets alone on its
        first `frame_lengths(lengths[b])` frames (the rest are unspecified).
        """
        return self.quantizer.encode(self.encoder(x, lengths), n_q)

    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Codes `[B, K, F]` (the first K quantisers) -> waveform `[B, 1, F * hop]` at 16 kHz."""
        return self.decoder(self.quantizer.decode(codes), frame_lengths)


class SpeechTokenizerCodec(Codec):
    """SpeechTokenizer as the CodecFake pipeline ran it: encode, then decode all 8 codebooks, no trimming.

    Output length is `ceil(T / 320) * 320`: the encoder pads to whole frames and the pipeline kept the
    decoder's full output (102472 -> 102720 samples).

    Padded batches are exact, so the engine batches this codec. A plain padded batch would not be: the
    encoder's bidirectional LSTM would read the padding backwards into every item, and the
    reflect-padded convolutions would reflect the batch's padding instead of each item's own end. So
    the model is given each item's length: every convolution pads each item at its own end, the
    BiLSTM runs on packed sequences, and the transposed convolutions ignore frames past an item's end
    (see `seanet.LengthAware`). A batch of equal lengths takes upstream's plain path.

    Args:
        spec (CodecSpec): the registry entry.
        model (SpeechTokenizerModel): the network.
        device (str | torch.device): where it runs.
        n_q (int): codebooks to encode and decode with (CodecFake: all 8).
    """

    batch_exact = True
    # Batches: exact: each item is padded at its own end in every conv, and the encoder's BiLSTM runs on packed
    # sequences

    def __init__(self, spec: CodecSpec, model: SpeechTokenizerModel, runtime: Runtime | None = None,
                 n_q: int | None = None):
        super().__init__(spec, model, runtime)
        self.n_q = model.quantizer.check_n_q(spec.n_codebooks if n_q is None else int(n_q))

    def output_length(self, length: int) -> int:
        return int(self.model.decoder.output_lengths(self.model.frame_lengths(int(length))))

    def min_input_length(self) -> int:
        return 1  # reflect padding of a signal shorter than the kernel zero-extends it first (as upstream)

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`waves [B, T]` at 16 kHz (valid up to `lengths`) -> `(codes [B, n_q, F], frames [B])` (CPU)."""
        waves = torch.as_tensor(waves, dtype=torch.float32)
        waves = waves[None] if waves.dim() == 1 else waves
        lengths = torch.full((waves.shape[0],), waves.shape[1]) if lengths is None else torch.as_tensor(lengths)
        codes = self.model.encode(waves[:, None].to(self.device), self._lengths_arg(lengths, waves), self.n_q)
        return codes.cpu(), self.model.frame_lengths(lengths.long().cpu())

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths_arg = self._lengths_arg(lengths, waves)
        codes = self.model.encode(waves[:, None], lengths_arg, self.n_q)
        frames = None if lengths_arg is None else self.model.frame_lengths(lengths_arg)
        return self.model.decode(codes, frames)[:, 0]

    def _lengths_arg(self, lengths: torch.Tensor, waves: torch.Tensor) -> torch.Tensor | None:
        # A batch of equal lengths needs no per-item padding: take the plain path, upstream's exact ops.
        if bool((lengths == waves.shape[-1]).all()):
            return None
        return lengths.to(device=self.device, dtype=torch.long)


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {"n_q": "codebooks to decode with (default: all 8, as CodecFake did)"}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official `config.json` of `spec`'s checkpoint."""
    return copy.deepcopy(OFFICIAL_CONFIG)


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Fetch the official config and checkpoint through the Hub cache; the state dict is checked here.

    `SpeechTokenizer.pt` is a flat `torch.save`d state dict (tensors only), read with `weights_only=True`.
    """
    config_name, checkpoint_name = spec.hub_files
    config_path = weights.hub_file(spec.hub_repo, config_name, codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name)
    checkpoint_path = weights.hub_file(spec.hub_repo, checkpoint_name, codec=spec.name)
    state_dict = weights.flatten(weights.load_checkpoint(checkpoint_path, codec=spec.name))
    # Check the file against its config now, while both paths are known, so a wrong file is named.
    architecture = SpeechTokenizerConfig.from_config(config, what=f"{spec.name}: config file {config_path}")
    weights.check_against(lambda: SpeechTokenizerModel.from_config(architecture), state_dict,
                          source=f"{spec.name}: checkpoint file {checkpoint_path}")
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None,
    *,
    runtime: Runtime,
    n_q: int | None = None,
) -> SpeechTokenizerCodec:
    """The codec from an official-format config and state dict (nested or flattened; None: random weights).

    Args:
        n_q: codebooks to use (default: the registry's, all 8, as CodecFake did).
    """
    architecture = SpeechTokenizerConfig.from_config(config)
    if architecture.sample_rate != spec.sample_rate:
        raise CodecConfigError(f"{spec.name}: the config describes {architecture.sample_rate} Hz; this codec runs at "
                               f"{spec.sample_rate} Hz.")
    model = SpeechTokenizerModel.from_config(architecture)
    if state_dict is not None:
        weights.load_strict(model, weights.flatten(state_dict), source=f"{spec.name} state dict")
    return SpeechTokenizerCodec(spec, model, runtime, n_q=n_q)

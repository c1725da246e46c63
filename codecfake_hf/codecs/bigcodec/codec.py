"""BigCodec (Aria-K-Alethia, 16 kHz, 1.04 kbps): its config, the checkpoint's two parts and the family contract."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import torch

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..config import from_config, refuse_unknown_keys
from .model import BigCodecModel, CodecDecoder, CodecEncoder

if TYPE_CHECKING:
    from ..spec import CodecSpec

# config/model/default.yaml of Aria-K-Alethia/BigCodec (commit 09845ab), as published: the two networks' arguments
# (upstream's inference.py builds both with their defaults, which are these values) and the discriminators'
# (`mpd`, `mstft`: training only). The Hub repository holds only the checkpoint.
OFFICIAL_CONFIG: dict[str, Any] = {
    "codec_encoder": {"out_channels": 1024, "ngf": 48, "use_rnn": True, "rnn_bidirectional": False,
                      "rnn_num_layers": 2, "up_ratios": [2, 2, 2, 5, 5], "dilations": [1, 3, 9]},
    "codec_decoder": {"in_channels": 1024, "upsample_initial_channel": 1536, "ngf": 48, "use_rnn": True,
                      "rnn_bidirectional": False, "rnn_num_layers": 2, "up_ratios": [5, 5, 2, 2, 2],
                      "dilations": [1, 3, 9], "vq_num_quantizers": 1, "vq_dim": 1024, "vq_commit_weight": 0.25,
                      "vq_weight_init": False, "vq_full_commit_loss": False, "codebook_size": 8192,
                      "codebook_dim": 8},
    "mpd": {"periods": [2, 3, 5, 7, 11], "max_downsample_channels": 512, "channels": 16,
            "channel_increasing_factor": 4},
    "mstft": {"stft_params": {"fft_sizes": [128, 256, 512, 1024, 2048], "hop_sizes": [32, 64, 128, 256, 512],
                              "win_lengths": [128, 256, 512, 1024, 2048], "window": "hann_window"},
              "in_channels": 1, "out_channels": 1, "kernel_sizes": [5, 3], "channels": 32,
              "max_downsample_channels": 512, "downsample_scales": [2, 2, 2], "use_weight_norm": True},
}
TRAINING_SECTIONS = ("mpd", "mstft")
# The checkpoint's parts and the model attribute each loads into.
CHECKPOINT_PARTS = {"CodecEnc": "encoder", "generator": "decoder"}


@dataclass(frozen=True)
class EncoderArgs:
    """`codec_encoder`: `CodecEncoder`'s arguments (defaults: upstream's).

    Args:
        out_channels (int): latent channels.
        ngf (int): width of the first conv.
        use_rnn (bool), rnn_bidirectional (bool), rnn_num_layers (int): the LSTM before the last conv.
        up_ratios (tuple[int, ...]): strides.
        dilations (tuple[int, ...]): residual units' dilations.
    """

    out_channels: int = 1024
    ngf: int = 48
    use_rnn: bool = True
    rnn_bidirectional: bool = False
    rnn_num_layers: int = 2
    up_ratios: tuple[int, ...] = (2, 2, 2, 5, 5)
    dilations: tuple[int, ...] = (1, 3, 9)

    def module(self) -> CodecEncoder:
        return CodecEncoder(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class DecoderArgs:
    """`codec_decoder`: `CodecDecoder`'s arguments (defaults: upstream's); the `vq_commit_weight`,
    `vq_weight_init` and `vq_full_commit_loss` training options and `ngf` (which upstream's decoder stores but never
    uses) are accepted and do not shape the model.

    Args:
        in_channels (int): latent channels.
        upsample_initial_channel (int): width after the first conv.
        use_rnn (bool), rnn_bidirectional (bool), rnn_num_layers (int): the LSTM after the first conv.
        up_ratios (tuple[int, ...]): upsampling factors.
        dilations (tuple[int, ...]): residual units' dilations.
        vq_num_quantizers (int), vq_dim (int), codebook_size (int), codebook_dim (int): the quantiser.
    """

    TRAINING_KEYS = ("ngf", "vq_commit_weight", "vq_weight_init", "vq_full_commit_loss")

    in_channels: int = 1024
    upsample_initial_channel: int = 1536
    use_rnn: bool = True
    rnn_bidirectional: bool = False
    rnn_num_layers: int = 2
    up_ratios: tuple[int, ...] = (5, 5, 2, 2, 2)
    dilations: tuple[int, ...] = (1, 3, 9)
    vq_num_quantizers: int = 1
    vq_dim: int = 1024
    codebook_size: int = 8192
    codebook_dim: int = 8

    def module(self) -> CodecDecoder:
        return CodecDecoder(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class BigCodecConfig:
    """BigCodec's model config (`config/model/default.yaml`): the encoder's and the decoder's sections.

    Args:
        codec_encoder (EncoderArgs): the encoder.
        codec_decoder (DecoderArgs): the decoder and its quantiser.
    """

    codec_encoder: EncoderArgs
    codec_decoder: DecoderArgs

    def __post_init__(self) -> None:
        encoder, decoder = self.codec_encoder, self.codec_decoder
        if encoder.out_channels != decoder.vq_dim or decoder.in_channels != decoder.vq_dim:
            raise CodecConfigError(f"codec_encoder.out_channels={encoder.out_channels}, codec_decoder.vq_dim="
                                   f"{decoder.vq_dim} and codec_decoder.in_channels={decoder.in_channels} must agree.")
        if _product(encoder.up_ratios) != _product(decoder.up_ratios):
            raise CodecConfigError(f"the encoder's strides {list(encoder.up_ratios)} and the decoder's "
                                   f"{list(decoder.up_ratios)} make different hops.")
        if decoder.upsample_initial_channel % 2 ** len(decoder.up_ratios):
            raise CodecConfigError(f"codec_decoder.upsample_initial_channel={decoder.upsample_initial_channel} must "
                                   f"halve {len(decoder.up_ratios)} times.")

    @property
    def hop_length(self) -> int:
        return _product(self.codec_encoder.up_ratios)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, what: str = "BigCodec config") -> BigCodecConfig:
        """Read the model config's mapping (its discriminator sections are accepted and ignored)."""
        if not isinstance(config, Mapping):
            raise CodecConfigError(f"{what} is a {type(config).__name__}, not a mapping of options.")
        refuse_unknown_keys(config, {"codec_encoder", "codec_decoder", *TRAINING_SECTIONS}, what=what)
        return from_config(cls, config, what=what, ignored=TRAINING_SECTIONS)


def _product(values) -> int:
    result = 1
    for value in values:
        result *= value
    return result


class BigCodecCodec(Codec):
    """BigCodec as upstream's `inference.py` runs it, one utterance at a time.

    The input is padded with `200 - (T mod 200)` zeros (a whole frame when T is already a multiple: upstream's
    expression), encoded, quantised and decoded; the decoder's output is kept whole, so `T` samples come back as
    `(floor(T / 200) + 1) * 200`.

    Args:
        spec (CodecSpec): the registry entry.
        model (BigCodecModel): the network.
        runtime (Runtime): device, precision and random-weight seed.
    """

    # Each utterance runs alone: the anti-aliased activations pad every signal by replicating its last sample, and
    # the convolutions see zeros past it; in a padded batch both would see the other items' padding instead.
    batch_exact = False
    batch_note = ("each utterance runs alone: the anti-aliased activations replicate-pad at the signal's end, "
                  "which batch padding would move")

    def __init__(self, spec: CodecSpec, model: BigCodecModel, runtime: Runtime | None = None, *, hop_length: int):
        super().__init__(spec, model, runtime)
        self.hop_length = hop_length

    def output_length(self, length: int) -> int:
        return (int(length) // self.hop_length + 1) * self.hop_length

    def min_input_length(self) -> int:
        return 1

    def padded(self, wave: torch.Tensor) -> torch.Tensor:
        """Upstream's padding: `200 - (T mod 200)` zeros at the end."""
        return torch.nn.functional.pad(wave, (0, self.hop_length - wave.shape[-1] % self.hop_length))

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> codes `[stages, (floor(T / 200) + 1)]` (on the CPU)."""
        wave = self.padded(torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(self.device))
        return self.model(wave[None])[1][:, 0].cpu()

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], self.output_length(int(lengths.max())), device=waves.device)
        for i, length in enumerate(lengths.tolist()):
            audio, _ = self.model(self.padded(waves[i, :length])[None])
            out[i, : audio.shape[-1]] = audio[0]
        return out


# ---------------------------------------------------------------------------------------------------------
# The family contract (see registry.load).

OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The repository's model config (`config/model/default.yaml`; the Hub repository holds none)."""
    return copy.deepcopy(OFFICIAL_CONFIG)


def model_state(checkpoint: Mapping[str, Any], *, source: str) -> dict[str, torch.Tensor]:
    """`bigcodec.pt`'s two state dicts (`CodecEnc`, `generator`, nested as in the file or flattened to
    `CodecEnc.<key>`; anything else the file holds is ignored, as upstream ignores it) as one flat dict in the model's
    naming (`encoder.*`, `decoder.*`)."""
    flat = weights.flatten(checkpoint)
    state = {f"{attribute}.{key[len(part) + 1:]}": value for part, attribute in CHECKPOINT_PARTS.items()
             for key, value in flat.items() if key.startswith(f"{part}.")}
    missing = [part for part in CHECKPOINT_PARTS if not any(key.startswith(f"{part}.") for key in flat)]
    if missing:
        raise CheckpointError(f"{source} has no {' or '.join(f'`{part}`' for part in missing)} state dict: it is "
                              "not a BigCodec checkpoint (upstream's bigcodec.pt holds `CodecEnc` and `generator`).")
    return state


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The code's config and the checkpoint from the Hub cache (`torch.load(weights_only=True)`), checked while its
    path is known."""
    config = default_config(spec)
    path = weights.hub_file(spec.hub_repo, spec.hub_files[0], codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    state_dict = model_state(weights.load_checkpoint(path, codec=spec.name), source=source)
    architecture = BigCodecConfig.from_config(config, what=f"{spec.name} config")
    weights.check_against(lambda: _model(architecture), state_dict, source=source)
    return config, state_dict


def _model(config: BigCodecConfig) -> BigCodecModel:
    model = BigCodecModel(config.codec_encoder.module(), config.codec_decoder.module())
    model.config = config
    return model


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *,
          runtime: Runtime) -> BigCodecCodec:
    """The codec from the model config and the checkpoint's state dicts (`{"CodecEnc": ..., "generator": ...}` as in
    `bigcodec.pt`, or already flat in the model's `encoder.*`/`decoder.*` naming; None: random weights).

    Args:
        spec: the registry entry.
        config: the model config's mapping (`config/model/default.yaml`'s format).
        state_dict: the weights.
        runtime: device, precision and random-weight seed.
    """
    architecture = BigCodecConfig.from_config(config)
    model = _model(architecture)
    if state_dict is not None:
        source = f"{spec.name} state dict"
        flat = weights.flatten(state_dict)
        if not any(key.startswith(("encoder.", "decoder.")) for key in flat):  # the checkpoint's own naming
            flat = model_state(state_dict, source=source)
        weights.load_strict(model, flat, source=source)
    return BigCodecCodec(spec, model, runtime, hop_length=architecture.hop_length)

"""EnCodec 24 kHz (CodecFake's 1.5 kbps and the official bandwidths) and 48 kHz on transformers' `EncodecModel`."""

from __future__ import annotations

import copy
import math
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from ...errors import WeightsUnavailableError
from .. import transformers_weights, weights
from ..base import Codec, Runtime

if TYPE_CHECKING:
    from transformers import EncodecModel

    from ..spec import CodecSpec

# The Hub config.json files, by repository: facebook/encodec_24khz (the transformers 4.31 conversion the
# CodecFake pipeline loaded) and facebook/encodec_48khz (stereo, 1 s chunks with 1 % overlap, normalised).
_OFFICIAL = {
    "facebook/encodec_24khz": {
        "_name_or_path": "ArthurZ/encodec_24khz",
        "architectures": ["EncodecModel"],
        "audio_channels": 1,
        "chunk_length_s": None,
        "codebook_dim": 128,
        "codebook_size": 1024,
        "compress": 2,
        "dilation_growth_rate": 2,
        "hidden_size": 128,
        "kernel_size": 7,
        "last_kernel_size": 7,
        "model_type": "encodec",
        "norm_type": "weight_norm",
        "normalize": False,
        "num_filters": 32,
        "num_lstm_layers": 2,
        "num_residual_layers": 1,
        "overlap": None,
        "pad_mode": "reflect",
        "residual_kernel_size": 3,
        "sampling_rate": 24000,
        "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0],
        "torch_dtype": "float32",
        "transformers_version": "4.31.0.dev0",
        "trim_right_ratio": 1.0,
        "upsampling_ratios": [8, 5, 4, 2],
        "use_causal_conv": True,
    },
    "facebook/encodec_48khz": {
        "_name_or_path": "ArthurZ/encodec_48khz",
        "architectures": ["EncodecModel"],
        "audio_channels": 2,
        "chunk_length_s": 1.0,
        "codebook_dim": 128,
        "codebook_size": 1024,
        "compress": 2,
        "dilation_growth_rate": 2,
        "hidden_size": 128,
        "kernel_size": 7,
        "last_kernel_size": 7,
        "model_type": "encodec",
        "norm_type": "time_group_norm",
        "normalize": True,
        "num_filters": 32,
        "num_lstm_layers": 2,
        "num_residual_layers": 1,
        "overlap": 0.01,
        "pad_mode": "reflect",
        "residual_kernel_size": 3,
        "sampling_rate": 48000,
        "target_bandwidths": [3.0, 6.0, 12.0, 24.0],
        "torch_dtype": "float32",
        "transformers_version": "4.31.0.dev0",
        "trim_right_ratio": 1.0,
        "upsampling_ratios": [8, 5, 4, 2],
        "use_causal_conv": False,
    },
}

# The Hub repository holds model.safetensors and, from the same upload, pytorch_model.bin.
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {
    "bandwidth": "kbps, one of the config's target_bandwidths (default: the config's bitrate; encodec_24khz: 1.5 "
                 "kbps, as CodecFake ran)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official transformers `config.json` of `spec`'s Hub repository (facebook/encodec_24khz or _48khz)."""
    return copy.deepcopy(_OFFICIAL[spec.hub_repo])


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Fetch `config.json` and the weights of the official Hub repository (cache first).

    The weights are `model.safetensors`; if that file cannot be had, `pytorch_model.bin` of the same
    upload is tried (loaded with `weights_only=True`), and the first error is raised if neither works.
    """
    config_path = weights.hub_file(spec.hub_repo, "config.json", codec=spec.name)
    config = weights.read_config_file(config_path, codec=spec.name)
    errors: list[WeightsUnavailableError] = []
    for filename in _WEIGHT_FILES:
        try:
            path = weights.hub_file(spec.hub_repo, filename, codec=spec.name)
        except WeightsUnavailableError as error:
            errors.append(error)
            continue
        return config, weights.load_checkpoint(path, codec=spec.name)
    raise errors[0]


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
    bandwidth: float | None = None,
) -> EncodecCodec:
    """Build `EncodecModel` from a transformers config and load `state_dict` strictly.

    The state dict may use the Hub file's naming (weight norm as `weight_g`/`weight_v`), transformers 5's
    parametrization naming (`parametrizations.weight.original0/1`) or the `encodec` package's naming
    (`encoder.model.N.conv.conv...`, as in `encodec_24khz-d7cc33bc.th`); all map onto the same model.

    Args:
        spec: the registry entry.
        config: transformers `EncodecConfig` values.
        state_dict: weights; `None` keeps random initial weights (codebooks: `transformers_weights.draw_codebooks`).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `config["target_bandwidths"]`; default the spec's bitrate (for `encodec_24khz`
            1.5 kbps, the first, which transformers' `encode` picks without one and CodecFake ran).
    """
    from transformers import EncodecConfig, EncodecModel

    encodec_config = transformers_weights.model_config(EncodecConfig, config, what="EnCodec config")
    valid = [float(b) for b in encodec_config.target_bandwidths]
    if bandwidth is None:
        bandwidth = spec.bitrate_kbps if float(spec.bitrate_kbps) in valid else valid[0]
    transformers_weights.checked_bandwidth(spec.name, bandwidth, encodec_config.target_bandwidths)
    model = EncodecModel(encodec_config)
    _use_legacy_weight_norm(model)
    return transformers_weights.build_codec(EncodecCodec, spec, model, state_dict, runtime, loader=_load,
                                            bandwidth=float(bandwidth))


def _load(model: EncodecModel, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Any of the three namings `build` accepts, loaded strictly into `model` (legacy weight norm)."""
    state_dict = dict(state_dict)
    if any(k.startswith(("encoder.model.", "decoder.model.", "quantizer.vq.")) for k in state_dict):
        state_dict = convert_original_state_dict(state_dict)
    state_dict = {_from_parametrization(k): v for k, v in state_dict.items()}
    weights.load_strict(model, state_dict, source=source)


class EncodecCodec(Codec):
    """EnCodec as the CodecFake pipeline ran it: `decode(encode(x, padding_mask))` at one bandwidth.

    Batches: the 24 kHz model is causal, so frame `t` of an utterance depends only on its samples up to
    frame `t`, except for one thing: every strided convolution right-pads its input by reflection up to a
    whole stride, and alone that padding reflects the utterance's own last samples while inside a
    padded batch it would see the batch padding. `encode` therefore pads each strided convolution's
    input per utterance, as that utterance alone would be padded, and runs everything else batched; the
    decoder (causal, no such padding) runs batched as is. Utterances of under 8 frames (the reflect pads
    then reach past them) and non-causal, group-normed, normalising or chunked configs run one at a time
    through transformers' own `encode`/`decode`.

    Args:
        spec: the registry entry.
        model: a transformers `EncodecModel` (weight norm in the Hub file's `weight_g`/`weight_v` form).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        bandwidth: kbps, one of `model.config.target_bandwidths`.
    """

    def __init__(self, spec: CodecSpec, model: EncodecModel, runtime: Runtime | None = None, *,
                 bandwidth: float = 1.5):
        super().__init__(spec, model, runtime)
        config = model.config
        self.bandwidth = bandwidth
        self.n_codebooks = model.quantizer.get_num_quantizers_for_bandwidth(bandwidth)
        self.hop_length = math.prod(config.upsampling_ratios)
        # Shorter utterances would reach the reflect-padding corner cases of the first/last convolutions.
        self.min_batch_frames = max(config.kernel_size, config.last_kernel_size) + 1
        # `encode` batches exactly only these configs (the 24 kHz model); `_resynthesize` runs others alone,
        # since a non-causal, group-normed, normalising or chunked config sees the padding.
        self.batch_exact = (config.use_causal_conv and config.norm_type == "weight_norm"
                            and not config.normalize and config.chunk_length_s is None)

    # -- codes ------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Codes of a padded batch: `waves [B, T]` at 24 kHz -> `[B, n_codebooks, ceil(max length / hop)]`.

        Item `i` has `ceil(lengths[i] / hop)` valid frames, the same codes it gets alone; later frames are
        meaningless. Causal, weight-norm, unnormalised, unchunked configs only (the 24 kHz model).
        """
        if not self.batch_exact:
            raise ValueError(f"{self.name}: batched `encode` needs a causal, weight-norm, unnormalised, unchunked "
                             "EnCodec config; call `model.encode` per utterance for this one.")
        waves = waves.to(self.device)
        lengths = torch.as_tensor(lengths).cpu()
        width = int(lengths.max())
        valid = torch.arange(width, device=waves.device) < lengths.to(waves.device)[:, None]
        hidden = (waves[:, :width] * valid)[:, None, :]
        sizes = [int(n) for n in lengths]
        for layer in self.model.encoder.layers:
            if _is_strided_conv(layer):
                hidden, sizes = self._strided_conv(layer, hidden, sizes)
            else:
                hidden = layer(hidden)
        codes = self.model.quantizer.encode(hidden, self.bandwidth)  # [K, B, F]
        return codes.transpose(0, 1)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, F]` -> audio `[B, max length]` at 24 kHz (the causal decoder, trimmed)."""
        audio = self.model.decoder(self.model.quantizer.decode(codes.transpose(0, 1).to(self.device)))
        return audio[:, 0, : int(torch.as_tensor(lengths).max())]

    def _strided_conv(self, layer: nn.Module, hidden: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, list[int]]:
        # transformers' EncodecConv1d.forward for a causal conv, with its right "extra padding" (reflect,
        # up to a whole stride) made per item from the item's own valid samples, as it would be alone.
        # `_pad1d` is EncodecConv1d's own padding helper (reflect, with its zero-extension of short inputs).
        stride = int(layer.stride)
        left = int(layer.padding_total)
        width = hidden.shape[-1]
        padded = layer._pad1d(hidden, (left, _extra(width, stride)), mode=layer.pad_mode)
        for i, size in enumerate(sizes):
            if size < width:
                own = layer._pad1d(hidden[i:i + 1, :, :size], (left, _extra(size, stride)), mode=layer.pad_mode)
                padded[i, :, : own.shape[-1]] = own[0]
        return layer.conv(padded), [math.ceil(size / stride) for size in sizes]

    # -- the reference path -----------------------------------------------------------------------------

    def _alone(self, wave: torch.Tensor) -> torch.Tensor:
        # Unchunked mono (24 kHz): exactly the CodecFake pipeline's calls for one utterance (padding mask of ones).
        # Chunked (48 kHz): what `EncodecFeatureExtractor` does first, zero padding up to whole 1 s chunks with a
        # padding mask that marks it, which `encode` uses to zero each chunk's padding and `decode` to cut back.
        # Stereo (48 kHz): the mono utterance is fed as both channels, and the two decoded channels are averaged.
        n = wave.shape[-1]
        config = self.model.config
        audio = wave[None, None, :].expand(1, config.audio_channels, n)
        mask = torch.ones(1, n, dtype=torch.bool, device=wave.device)
        if config.chunk_length is not None and config.chunk_stride is not None:
            steps = math.ceil(n / config.chunk_stride)
            width = (steps - 1) * config.chunk_stride + config.chunk_length
            audio = nn.functional.pad(audio, (0, width - n))
            mask = nn.functional.pad(mask, (0, width - n))
        encoded = self.model.encode(audio, mask, bandwidth=self.bandwidth)
        decoded = self.model.decode(encoded.audio_codes, encoded.audio_scales, mask)[0]
        return decoded[0].mean(dim=0)[:n]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(waves.shape[0], int(lengths.max()), device=waves.device)
        frames = -(-lengths // self.hop_length)
        alone = [i for i in range(len(lengths)) if not self.batch_exact or frames[i] < self.min_batch_frames]
        batched = [i for i in range(len(lengths)) if i not in alone]
        for i in alone:
            n = int(lengths[i])
            out[i, :n] = self._alone(waves[i, :n])
        if batched:
            codes = self.encode(waves[batched], lengths[batched])
            audio = self.decode(codes, lengths[batched])
            out[batched, : audio.shape[-1]] = audio
        return out


def _is_strided_conv(layer: nn.Module) -> bool:
    from transformers.models.encodec.modeling_encodec import EncodecConv1d

    return isinstance(layer, EncodecConv1d) and int(layer.stride) > 1


def _extra(length: int, stride: int) -> int:
    # EncodecConv1d._get_extra_padding_for_conv1d for a causal conv (padding_total = kernel - stride).
    return math.ceil(length / stride) * stride - length


def _use_legacy_weight_norm(model: nn.Module) -> None:
    """Swap transformers 5's weight-norm parametrizations for `torch.nn.utils.weight_norm`.

    The Hub file (converted under transformers 4.31) stores `weight_g`/`weight_v`; with the legacy form
    `model.state_dict()` has exactly those keys, and `load_state_dict(strict=True)` reads the file as
    it is. The effective weights (`g * v / |v|`) are unchanged.
    """
    for parent in list(model.modules()):
        for name, module in list(parent.named_children()):
            if not parametrize.is_parametrized(module, "weight"):
                continue
            # A fresh conv rather than remove_parametrizations(): the parametrized one keeps a load hook
            # that renames weight_g/weight_v to the parametrization's keys.
            fresh = _plain_copy(module)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "weight_norm is deprecated"
                nn.utils.weight_norm(fresh, name="weight", dim=0)
            setattr(parent, name, fresh)


def _plain_copy(conv: nn.Module) -> nn.Module:
    kwargs = {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "groups": conv.groups,
              "bias": conv.bias is not None, "padding_mode": conv.padding_mode}
    if isinstance(conv, nn.ConvTranspose1d):
        fresh = nn.ConvTranspose1d(conv.in_channels, conv.out_channels, conv.kernel_size,
                                   output_padding=conv.output_padding, **kwargs)
    else:
        fresh = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size, **kwargs)
    with torch.no_grad():
        fresh.weight.copy_(conv.weight)  # the effective weight g * v / |v|
        if conv.bias is not None:
            fresh.bias.copy_(conv.bias)
    return fresh


def _from_parametrization(key: str) -> str:
    return key.replace("parametrizations.weight.original0", "weight_g").replace(
        "parametrizations.weight.original1", "weight_v")


_ORIGINAL_KEY_RULES = [
    # encodec package (encodec_24khz-d7cc33bc.th) -> transformers, as convert_encodec_checkpoint_to_pytorch.py
    (r"encoder\.model\.(\d+)\.conv\.conv\.(.*)", r"encoder.layers.\1.conv.\2"),
    (r"encoder\.model\.(\d+)\.block\.(\d+)\.conv\.conv\.(.*)", r"encoder.layers.\1.block.\2.conv.\3"),
    (r"encoder\.model\.(\d+)\.shortcut\.conv\.conv\.(.*)", r"encoder.layers.\1.shortcut.conv.\2"),
    (r"encoder\.model\.(\d+)\.lstm\.(.*)", r"encoder.layers.\1.lstm.\2"),
    (r"decoder\.model\.(\d+)\.conv\.conv\.(.*)", r"decoder.layers.\1.conv.\2"),
    (r"decoder\.model\.(\d+)\.convtr\.convtr\.(.*)", r"decoder.layers.\1.conv.\2"),
    (r"decoder\.model\.(\d+)\.block\.(\d+)\.conv\.conv\.(.*)", r"decoder.layers.\1.block.\2.conv.\3"),
    (r"decoder\.model\.(\d+)\.shortcut\.conv\.conv\.(.*)", r"decoder.layers.\1.shortcut.conv.\2"),
    (r"decoder\.model\.(\d+)\.lstm\.(.*)", r"decoder.layers.\1.lstm.\2"),
    (r"quantizer\.vq\.layers\.(\d+)\._codebook\.(.*)", r"quantizer.layers.\1.codebook.\2"),
]


def original_key(key: str) -> str:
    """The transformers `EncodecModel` key of an `encodec` package state-dict key (same tensor, same shape).

    Args:
        key: a key of the `encodec` package's `EncodecModel.state_dict()`.
    """
    for pattern, target in _ORIGINAL_KEY_RULES:
        match = re.fullmatch(pattern, key)
        if match is not None:
            return match.expand(target)
    return key


def convert_original_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An `encodec` package checkpoint (`encodec_24khz-d7cc33bc.th`) -> the Hub file's transformers naming."""
    return {original_key(k): v for k, v in state_dict.items()}

"""DAC 16/24/44.1 kHz on transformers' `DacModel`, through the `dac` package's compress()/decompress() path."""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CheckpointError, CodecConfigError
from .. import transformers_weights, weights
from ..base import Codec, Runtime
from ..nn.loudness import gain_to, integrated_loudness

if TYPE_CHECKING:
    from transformers import DacModel

    from ..spec import CodecSpec

logger = logging.getLogger(__name__)

# The CodecFake pipeline called `model.compress(signal)` / `model.decompress(codes)` with the defaults
# of descript-audio-codec 1.0.0 (`dac/model/base.py`): 1 s windows, -16 LUFS, every codebook.
WIN_DURATION_S = 1.0
NORMALIZE_LUFS = -16.0

# The descript/dac_* config.json files (transformers' conversion of the GitHub release weights). They
# differ only in strides, codebook count and rate. Keys that DacConfig derives (hidden_size, hop_length,
# upsampling_ratios) are spelled out as the Hub files hold them, except that hop_length is the real one:
# one revision of descript/dac_24khz stores 512 although its strides multiply to 320.
_COMMON = {
    "architectures": ["DacModel"],
    "model_type": "dac",
    "encoder_hidden_size": 64,
    "decoder_hidden_size": 1536,
    "hidden_size": 1024,
    "codebook_size": 1024,
    "codebook_dim": 8,
    "quantizer_dropout": 0.0,
    "commitment_loss_weight": 0.25,
    "codebook_loss_weight": 1.0,
}
_OFFICIAL = {
    "descript-audio-codec-16khz": {"downsampling_ratios": [2, 4, 5, 8], "upsampling_ratios": [8, 5, 4, 2],
                                   "hop_length": 320, "n_codebooks": 12, "sampling_rate": 16000},
    "descript-audio-codec-24khz": {"downsampling_ratios": [2, 4, 5, 8], "upsampling_ratios": [8, 5, 4, 2],
                                   "hop_length": 320, "n_codebooks": 32, "sampling_rate": 24000},
    "descript-audio-codec-44khz": {"downsampling_ratios": [2, 4, 8, 8], "upsampling_ratios": [8, 8, 4, 2],
                                   "hop_length": 512, "n_codebooks": 9, "sampling_rate": 44100},
}
# Keys of the dac package's `DAC(**kwargs)` (the GitHub release's metadata["kwargs"]) -> DacConfig keys.
_ORIGINAL_CONFIG_KEYS = {
    "encoder_dim": "encoder_hidden_size",
    "encoder_rates": "downsampling_ratios",
    "decoder_dim": "decoder_hidden_size",
    "decoder_rates": "upsampling_ratios",
    "n_codebooks": "n_codebooks",
    "codebook_size": "codebook_size",
    "codebook_dim": "codebook_dim",
    "sample_rate": "sampling_rate",
}


# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {
    "path": "'compress' (default: what CodecFake ran, -16 LUFS and 1 s windows) or 'plain' (one padded pass)",
    "window_batch": "windows per forward pass on the compress path (default 32; bounds memory)",
}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official transformers `config.json` of `spec` (descript/dac_16khz, _24khz or _44khz)."""
    return {**_COMMON, **_OFFICIAL[spec.name]}


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Fetch `config.json` and `model.safetensors` of the official Hub repository (cache first)."""
    files = {name: weights.hub_file(spec.hub_repo, name, codec=spec.name) for name in spec.hub_files}
    config = weights.read_config_file(files["config.json"], codec=spec.name)
    state_dict = weights.load_checkpoint(files["model.safetensors"], codec=spec.name)
    return config, state_dict


def build(
    spec: CodecSpec,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
    path: str = "compress",
    window_batch: int = 32,
) -> DacCodec:
    """Build `DacModel` from a transformers config and load `state_dict` strictly.

    The dac package's own formats are accepted too: a config of `DAC(**kwargs)` keys (`encoder_dim`, ...)
    and a GitHub release state dict (weight-norm `weight_g`/`weight_v`, optionally nested under
    `state_dict`); they are converted the way transformers' `convert_dac_checkpoint.py` does.

    Args:
        spec: the registry entry.
        config: transformers `DacConfig` values (or the dac package's kwargs).
        state_dict: weights in the official Hub naming; `None` keeps random initial weights.
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        path: `"compress"` (what CodecFake ran: -16 LUFS, 1 s windows) or `"plain"` (one padded
            encode/decode of the whole utterance, no loudness normalisation).
        window_batch: windows encoded/decoded per forward pass on the compress path (bounds memory).
    """
    from transformers import DacConfig, DacModel

    if path not in ("compress", "plain"):
        raise CodecConfigError(f"{spec.name}: path={path!r}; valid: 'compress' (the CodecFake pipeline), 'plain'.")

    def to_dac_config(values: dict[str, Any]) -> dict[str, Any]:
        if "encoder_dim" in values:
            values = config_from_original(values)
        # DacConfig derives the hop from the strides; a stale stored hop_length (see _COMMON) must not win.
        values.pop("hop_length", None)
        if values.get("sampling_rate", spec.sample_rate) != spec.sample_rate:
            logger.warning("%s: config says sampling_rate=%s; using %d Hz, the rate this checkpoint was trained at",
                           spec.name, values.get("sampling_rate"), spec.sample_rate)
        values["sampling_rate"] = spec.sample_rate
        return values

    original_keys = (*_ORIGINAL_CONFIG_KEYS, "latent_dim", "quantizer_dropout")
    dac_config = transformers_weights.model_config(DacConfig, config, what="DAC config", extra_keys=original_keys,
                                                   convert=to_dac_config)
    model = DacModel(dac_config)
    if state_dict is not None:
        state_dict = dict(state_dict)
        if _is_original(state_dict):
            state_dict = convert_original_state_dict(state_dict)
        weights.load_strict(model, state_dict, source=f"{spec.name} checkpoint")
    return DacCodec(spec, model, runtime, path=path, window_batch=window_batch)


@dataclass
class DacCompressed:
    """What `DacCodec.compress` keeps of one utterance: the dac package's `DACFile`, minus the file.

    Args:
        codes: `[n_codebooks, frames]` code indices (chunked: `frames = windows * chunk_length`).
        chunk_length: frames per window (chunked) or all frames (unchunked).
        input_db: the input's loudness in LUFS, restored after decoding.
        length: input samples at the codec's rate; the output is cut to it.
        chunked: whether the 1 s window path (convolutions without padding) made the codes.
    """

    codes: torch.Tensor
    chunk_length: int
    input_db: float
    length: int
    chunked: bool


class DacCodec(Codec):
    """DAC as the CodecFake pipeline ran it: `decompress(compress(x))` of the dac package, on `DacModel`.

    `compress` measures each utterance's loudness (BS.1770, audiotools' meter), scales it to -16 LUFS
    (and down to a peak of 1 if it clips), then, for utterances over 1 s, zero-pads `delay` samples at
    both ends and encodes overlapping windows of `window` samples every `window_hop` samples with every
    convolution's padding set to 0, so each window yields exactly `window_hop` new output samples.
    `decompress` decodes each window the same way, concatenates, and scales the result back to the
    input's loudness (measured on the concatenation, before it is cut to the input length).

    Batches: loudness and windowing are per utterance, and the windows of all utterances go through the
    network together; an unpadded convolution sees only its own window, so an utterance gets what it
    gets alone. Utterances of 1 s or less take the dac package's unchunked path (padded convolutions on
    the whole utterance), one at a time.

    Args:
        spec: the registry entry.
        model: a transformers `DacModel` (official Hub key names).
        runtime: device, precision and random-weight seed (`registry.load` makes it).
        path: `"compress"` or `"plain"` (see `build`).
        window_batch: windows per forward pass.
    """

    def __init__(self, spec: CodecSpec, model: DacModel, runtime: Runtime | None = None, *,
                 path: str = "compress", window_batch: int = 32):
        super().__init__(spec, model, runtime)
        self.path = path
        self.window_batch = max(1, int(window_batch))
        self.hop_length = math.prod(model.config.downsampling_ratios)
        convs = self._convs()
        self.delay = _delay(convs)
        self.window = math.ceil(int(WIN_DURATION_S * self.sample_rate) / self.hop_length) * self.hop_length
        self.window_hop = _output_length(convs, self.window)
        # Frames an unpadded encoder makes of one window (dac: DACFile.chunk_length).
        self.chunk_length = _output_length(_convs_of(model.encoder), self.window)

    # -- the network -------------------------------------------------------------------------------------

    def _convs(self) -> list[nn.Module]:
        return _convs_of(self.model)

    @contextlib.contextmanager
    def unpadded(self) -> Iterator[None]:
        """Within the block every Conv1d/ConvTranspose1d has padding 0 (the dac package's `padding=False`).

        The original paddings come back on exit, also when the block raises.
        """
        saved = [(conv, conv.padding) for conv in self._convs()]
        try:
            for conv, padding in saved:
                conv.padding = tuple(0 for _ in padding)
            yield
        finally:
            for conv, padding in saved:
                conv.padding = padding

    @torch.inference_mode()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """`audio [N, 1, T]` at `sample_rate` -> codes `[N, n_codebooks, frames]`, all codebooks.

        The residual quantiser of the dac package (`dac/nn/quantize.py`), on transformers' modules: the
        nearest codeword by the same float32 expression (l2-normalised, `-(|e|^2 - 2 e.c + |c|^2)`), and
        the residual updated with the straight-through value `z_e + (z_q - z_e)` as upstream does; a
        different but equivalent expression can flip near-tied codewords.
        """
        residual = self.model.encoder(audio)
        codes = []
        for quantizer in self.model.quantizer.quantizers:
            z_e = quantizer.in_proj(residual)
            indices = nearest_codewords(quantizer, z_e)
            z_q = quantizer.codebook(indices).transpose(1, 2)
            residual = residual - quantizer.out_proj(z_e + (z_q - z_e))
            codes.append(indices)
        return torch.stack(codes, dim=1)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[N, n_codebooks, frames]` -> audio `[N, T']` at `sample_rate` (`quantizer.from_codes`)."""
        return self.model.decoder(self.model.quantizer.from_codes(codes)[0]).squeeze(1)

    def _in_groups(self, fn: Callable[[torch.Tensor], torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        # `window_batch` windows per forward pass: bounded memory whatever the batch of utterances.
        return torch.cat([fn(items[i:i + self.window_batch]) for i in range(0, items.shape[0], self.window_batch)])

    # -- the dac package's compress()/decompress() -------------------------------------------------------

    @torch.inference_mode()
    def compress(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[DacCompressed]:
        """Codes of a padded batch, as `DAC.compress(AudioSignal(wave, rate))` makes them per utterance.

        Args:
            waves: float32 `[B, T]` at `sample_rate`, item `i` valid up to `lengths[i]`.
            lengths: `[B]` valid samples per item.
        """
        items, windows, owners = [], [], []
        for i, length in enumerate(int(n) for n in lengths):
            wave = waves[i, :length].float()
            input_db = integrated_loudness(wave, self.sample_rate)
            wave = wave * gain_to(NORMALIZE_LUFS, input_db)
            peak = wave.abs().max()
            if peak > 1.0:  # audiotools' ensure_max_of_audio()
                wave = wave * (1.0 / peak)
            if length / self.sample_rate <= WIN_DURATION_S:
                items.append(self._compress_whole(wave, input_db))
                continue
            padded = F.pad(wave, (self.delay, self.delay))
            for start in range(0, length, self.window_hop):
                chunk = padded[start:start + self.window]
                windows.append(F.pad(chunk, (0, self.window - chunk.shape[0])))
                owners.append(i)
            items.append(DacCompressed(torch.empty(0), self.chunk_length, input_db, length, chunked=True))
        if windows:
            with self.unpadded():
                codes = self._in_groups(self.encode, torch.stack(windows)[:, None, :]).cpu()
            for i, item in enumerate(items):
                if item.chunked:
                    mine = codes[[j for j, owner in enumerate(owners) if owner == i]]
                    item.codes = mine.permute(1, 0, 2).reshape(mine.shape[1], -1)
        return items

    def _compress_whole(self, wave: torch.Tensor, input_db: float) -> DacCompressed:
        # Unchunked (<= 1 s): padded convolutions on the utterance right-padded to a whole hop.
        length = wave.shape[0]
        audio = F.pad(wave, (0, -length % self.hop_length))[None, None]
        codes = self.encode(audio)[0].cpu()
        return DacCompressed(codes, codes.shape[-1], input_db, length, chunked=False)

    @torch.inference_mode()
    def decompress(self, items: list[DacCompressed]) -> torch.Tensor:
        """Audio `[B, max length]` at `sample_rate` from `compress` output (zero beyond each length)."""
        chunks = [(i, c) for i, item in enumerate(items) if item.chunked
                  for c in item.codes.split(item.chunk_length, dim=-1)]
        decoded: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(items))}
        if chunks:
            with self.unpadded():
                audio = self._in_groups(self.decode, torch.stack([c for _, c in chunks]).to(self.device))
            for (i, _), window in zip(chunks, audio.cpu(), strict=True):
                decoded[i].append(window)
        out = torch.zeros(len(items), max(item.length for item in items))
        for i, item in enumerate(items):
            if item.chunked:
                recon = torch.cat(decoded[i])
            else:
                recon = self.decode(item.codes[None].to(self.device))[0].cpu()
            # Back to the input's loudness, measured on the whole decoded signal before trimming.
            recon = recon * gain_to(item.input_db, integrated_loudness(recon, self.sample_rate))
            # Unchunked inputs whose length is a multiple of the hop decode 8 samples short at 16/24 kHz
            # (the dac package then fails to reshape); the missing tail is left at zero here.
            recon = recon[: item.length]
            out[i, : recon.shape[0]] = recon
        return out

    # -- the plain path ---------------------------------------------------------------------------------

    def _plain(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # One utterance at a time: padded convolutions see the batch padding, so batching would change
        # the end of shorter items.
        out = torch.zeros(waves.shape[0], int(lengths.max()))
        for i, length in enumerate(int(n) for n in lengths):
            audio = F.pad(waves[i, :length], (0, -length % self.hop_length))[None, None]
            recon = self.decode(self.encode(audio))[0, :length]
            out[i, : recon.shape[0]] = recon.cpu()
        return out

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.path == "plain":
            return self._plain(waves, lengths)
        return self.decompress(self.compress(waves, lengths))


# -- length arithmetic of dac/model/base.py (CodecMixin.get_delay / get_output_length) -------------------


def nearest_codewords(quantizer: nn.Module, z_e: torch.Tensor) -> torch.Tensor:
    """Codes `[B, T]` of one stage: the nearest codeword to each frame of `z_e [B, D, T]` (its projected residual),
    both l2-normalised, by the dac package's float32 expression `-(|e|^2 - 2 e.c + |c|^2)`."""
    batch, dim, frames = z_e.shape
    encodings = F.normalize(z_e.permute(0, 2, 1).reshape(batch * frames, dim))
    codebook = F.normalize(quantizer.codebook.weight)
    dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
            + codebook.pow(2).sum(1, keepdim=True).t())
    return (-dist).max(1)[1].reshape(batch, frames)


def _output_length(convs: list[nn.Module], length: int) -> int:
    size = Fraction(length)
    for conv in convs:
        d, k, s = conv.dilation[0], conv.kernel_size[0], conv.stride[0]
        if isinstance(conv, nn.ConvTranspose1d):
            size = (size - 1) * s + d * (k - 1) + 1
        else:
            size = (size - d * (k - 1) - 1) / s + 1
        size = Fraction(math.floor(size))
    return int(size)


def _delay(convs: list[nn.Module]) -> int:
    out = _output_length(convs, 0)
    size = Fraction(out)
    for conv in reversed(convs):
        d, k, s = conv.dilation[0], conv.kernel_size[0], conv.stride[0]
        if isinstance(conv, nn.ConvTranspose1d):
            size = (size - d * (k - 1) - 1) / s + 1
        else:
            size = (size - 1) * s + d * (k - 1) + 1
        size = Fraction(math.ceil(size))
    return int((int(size) - out) // 2)


def _convs_of(module: nn.Module) -> list[nn.Module]:
    # In the order of `module.modules()`, as the dac package walks them for get_delay/get_output_length
    # (the quantizer's 1x1 projections do not change lengths, so where they sit does not matter).
    return [m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]


# -- the dac package's own files -----------------------------------------------------------------------

_UNIT_PARTS = ("snake1", "conv1", "snake2", "conv2")  # dac ResidualUnit.block = [Snake, conv, Snake, conv]


def original_key(key: str, n_blocks: int = 4) -> str | None:
    """The transformers `DacModel` key of a dac package state-dict key (None for `weight_g`).

    Weight-norm pairs fold into one tensor: `...weight_v` names the folded `...weight` (same shape), and
    `...weight_g` has no counterpart. The layout follows transformers' `convert_dac_checkpoint.py`:
    `Encoder.block = [conv, EncoderBlock x n, Snake, conv]` with `EncoderBlock.block = [ResidualUnit x3,
    Snake, strided conv]`, and `Decoder.model = [conv, DecoderBlock x n, Snake, conv, Tanh]` with
    `DecoderBlock.block = [Snake, transposed conv, ResidualUnit x3]`; quantizer keys are unchanged.

    Args:
        key: a key of `DAC.state_dict()` (the GitHub release's `state_dict`).
        n_blocks: encoder/decoder blocks (4 in every released model).
    """
    if key.endswith(".weight_g"):
        return None
    key = re.sub(r"\.weight_v$", ".weight", key)
    parts = key.split(".")
    if parts[0] not in ("encoder", "decoder") or len(parts) < 4:
        return key
    side, index, rest = parts[0], int(parts[2]), parts[3:]
    if index == 0:
        return ".".join([side, "conv1", *rest])
    if index == n_blocks + 1:
        return ".".join([side, "snake1", *rest])
    if index == n_blocks + 2:
        return ".".join([side, "conv2", *rest])
    block = f"{side}.block.{index - 1}"
    layer, tail = int(rest[1]), rest[2:]
    if side == "encoder":
        if layer <= 2:  # ResidualUnit x3, then Snake, then the strided conv
            return ".".join([block, f"res_unit{layer + 1}", _UNIT_PARTS[int(tail[1])], *tail[2:]])
        return ".".join([block, "snake1" if layer == 3 else "conv1", *tail])
    if layer <= 1:  # Snake, transposed conv, then ResidualUnit x3
        return ".".join([block, "snake1" if layer == 0 else "conv_t1", *tail])
    return ".".join([block, f"res_unit{layer - 1}", _UNIT_PARTS[int(tail[1])], *tail[2:]])


def _is_original(state_dict: Mapping[str, Any]) -> bool:
    return "state_dict" in state_dict or any(k.endswith(".weight_v") for k in state_dict)


def convert_original_state_dict(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A dac package checkpoint (GitHub release `.pth` content) -> the transformers `DacModel` state dict.

    Accepts the release's nesting (`{"state_dict": {...}, "metadata": {...}}`), its flattened form
    (`state_dict.` prefixes, as the codec fixtures store it) or the bare `DAC.state_dict()`. Weight norm
    is folded (`g * v / |v|`), as transformers' conversion does with `remove_weight_norm()`.
    """
    flat = weights.flatten(state_dict)
    flat = {k.removeprefix("state_dict."): v for k, v in flat.items() if not k.startswith("metadata.")}
    converted: dict[str, torch.Tensor] = {}
    for key, value in flat.items():
        target = original_key(key)
        if target is None:
            continue
        if key.endswith(".weight_v"):
            gain = flat.get(key[: -len("weight_v")] + "weight_g")
            if gain is None:
                raise CheckpointError(f"DAC checkpoint: {key} has no matching weight_g; the file is damaged.")
            value = torch._weight_norm(value.float(), gain.float(), 0)
        converted[target] = value
    return converted


def config_from_original(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The dac package's `DAC(**kwargs)` (release metadata["kwargs"]) -> DacConfig values."""
    config = {new: kwargs[old] for old, new in _ORIGINAL_CONFIG_KEYS.items() if old in kwargs}
    latent = kwargs.get("latent_dim")
    derived = kwargs.get("encoder_dim", 64) * 2 ** len(kwargs.get("encoder_rates", [2, 4, 8, 8]))
    if latent is not None and latent != derived:
        raise CodecConfigError(f"DAC latent_dim={latent} differs from encoder_dim * 2**len(encoder_rates) = {derived}; "
                               "transformers' DacModel cannot build that model.")
    config["quantizer_dropout"] = float(kwargs.get("quantizer_dropout", 0.0) or 0.0)
    return config

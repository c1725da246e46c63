"""FunCodec's six CodecFake configs: `config.yaml` + `model.pth` loading, the EnCodec-style and FreqCodec models.

The CodecFake pipeline (roger-tseng/AudioDecBenchmark@vctk, `base_codec/funcodec.py`) built FunCodec's
`Speech2Token(config.yaml, model.pth)` and called it on each whole utterance with the default bit width
(all 32 quantisers). Inside (alibaba-damo-academy/FunCodec@3435d87, `models/codec_basic.py` and
`codec_freq.py`): the input is divided by its RMS (`audio_normalize`), encoded, residual-vector
quantised, decoded, multiplied back by the RMS and cut to the input length. The time-domain configs
(`model: encodec`) run a 1-D SEANet on the waveform (`..nn.seanet`); the FreqCodec configs
(`model: freq_codec`) run a 2-D SEANet over an STFT's magnitude and phase (`freqcodec.py`); the
model around either is `model.py`. Everything is built from the checkpoint's own `config.yaml`
(read into `config.FunCodecConfig`), with upstream's defaults for keys it omits.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ...errors import CheckpointError, CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..nn.seanet import SEANetDecoder, SEANetEncoder
from ..spec import CodecSpec
from .config import OFFICIAL_CONFIGS, FunCodecConfig, SEANetDecoder2dConf, SEANetEncoder2dConf
from .freqcodec import MagPhaseAnalysis, MagPhaseSynthesis, SEANetDecoder2d, SEANetEncoder2d
from .model import FunCodecModel
from .quantizer import FunCodecQuantizer

# Tensors of model.pth that only training uses: the GAN discriminator, the mel filters of the
# multi-scale spectral loss, and the context model of the (optional) context loss. Dropped by name;
# anything else must match the model exactly.
TRAINING_ONLY_PREFIXES = ("discriminator.", "mel_spec_transforms.", "context_model.")


# --- building from config.yaml --------------------------------------------------------------------------

def build_model(config: Mapping[str, Any]) -> FunCodecModel:
    """The inference network of a FunCodec `config.yaml` (as a dict), with random weights."""
    cfg = FunCodecConfig.from_config(config)
    encoder_conf, decoder_conf, dimension = cfg.encoder_conf, cfg.decoder_conf, cfg.encoder_conf.dimension
    if isinstance(encoder_conf, SEANetEncoder2dConf):
        encoder = SEANetEncoder2d(input_size=cfg.input_size, **encoder_conf.module_args())
    else:
        encoder = SEANetEncoder(channels=cfg.input_size, **encoder_conf.module_args())
    if isinstance(decoder_conf, SEANetDecoder2dConf):
        decoder = SEANetDecoder2d(input_size=dimension, **decoder_conf.module_args())
    else:
        decoder = SEANetDecoder(dimension=dimension, **decoder_conf.module_args())
    analysis = synthesis = None
    if cfg.frequency_domain:
        stft = cfg.model_conf.stft_args()
        analysis, synthesis = MagPhaseAnalysis(**stft), MagPhaseSynthesis(**stft)
    quantizer = FunCodecQuantizer(dimension, **vars(cfg.quantizer_conf))
    model_conf = cfg.model_conf
    return FunCodecModel(
        encoder, quantizer, decoder, sample_rate=model_conf.target_sample_hz,
        audio_normalize=model_conf.audio_normalize, segment_dur=model_conf.segment_dur,
        overlap_ratio=model_conf.overlap_ratio, enc_trans_func=analysis, dec_trans_func=synthesis,
    )


# --- the codec ------------------------------------------------------------------------------------------

class FunCodec(Codec):
    """A FunCodec config as CodecFake ran it: each whole utterance, all quantisers, output cut to the input.

    Args:
        spec (CodecSpec): the registry entry.
        model (FunCodecModel): the network, weights loaded.
        device (str | torch.device): where the model runs.
    """

    # Batches: Exact. FunCodec's GroupNorms and its RMS normalisation take statistics over the whole utterance.
    # The time-domain configs run a padded batch as one, with those statistics, the convolutions' edge padding
    # and the transposed convolutions taken per item over its valid samples (the LSTMs are unidirectional, so
    # padding cannot reach back). The FreqCodec configs (and any config that encodes in segments) run the items
    # of a batch one by one inside `resynthesize`.

    def output_length(self, length: int) -> int:
        """The input length, except for FreqCodec, whose inverse STFT can end up to 159 samples short."""
        return self.model.output_length(int(length))

    def min_input_length(self) -> int:
        # FreqCodec's centred STFT reflect-pads n_fft // 2 samples, which needs more samples than that.
        if self.model.frequency_domain:
            return max(self.spec.hop_length, self.model.enc_trans_func.n_fft // 2 + 1)
        return self.spec.hop_length

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Codes of each item of a zero-padded batch `waves [B, T]`: a list of `[n_q, frames_i]`."""
        waves = torch.as_tensor(waves, dtype=torch.float32).to(self.device)
        return [self.model.encode(waves[i: i + 1, None, : int(n)])[:, 0] for i, n in enumerate(lengths)]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if waves.shape[0] > 1 and self.model.length_aware:
            return self.model(waves[:, None], lengths.to(self.device))[0][:, 0]
        outputs = [self.model(waves[i: i + 1, None, : int(n)])[0][0, 0] for i, n in enumerate(lengths)]
        return nn.utils.rnn.pad_sequence(outputs, batch_first=True)


# --- the family contract (see registry.load) ------------------------------------------------------------

# Keyword options of `build` (checked by `registry.load`): name -> one line of help.
OPTIONS: dict[str, str] = {}


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The official `config.yaml` of `spec` as a dict (FunCodec's recipe; see `OFFICIAL_CONFIGS`), a fresh copy."""
    return copy.deepcopy(OFFICIAL_CONFIGS[spec.name])


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """`config.yaml` and `model.pth` of `spec` through the Hugging Face cache, checked against each other.

    `model.pth` is loaded with `torch.load(weights_only=True)` and its inference keys are checked against
    the architecture of `config.yaml` here, where the file's path is known.
    """
    config_file, model_file = spec.hub_files
    config = weights.read_config_file(weights.hub_file(spec.hub_repo, config_file, codec=spec.name), codec=spec.name,
                                      required=("encoder", "decoder"), what="a FunCodec model config")
    path = weights.hub_file(spec.hub_repo, model_file, codec=spec.name)
    source = f"{spec.name}: checkpoint file {path}"
    checkpoint = weights.load_checkpoint(path, codec=spec.name)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source} holds a {type(checkpoint).__name__}, not a dict of tensors.")
    state_dict = weights.flatten(checkpoint)
    weights.check_against(lambda: build_model(config), state_dict, source=source,
                          ignore_prefixes=TRAINING_ONLY_PREFIXES)
    return config, state_dict


def build(
    spec: CodecSpec,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    *,
    runtime: Runtime,
) -> FunCodec:
    """Build `spec` from a FunCodec config dict and a `model.pth` state dict (None: random weights).

    The training-only tensors (`TRAINING_ONLY_PREFIXES`) are dropped; every other key must match.
    """
    model = build_model(config)
    hop = (model.enc_trans_func.hop_length * model.encoder.time_stride if model.frequency_domain
           else model.encoder.hop_length)
    if (model.sample_rate, hop) != (spec.sample_rate, spec.hop_length):
        raise CodecConfigError(f"{spec.name}: the config describes {model.sample_rate} Hz and a {hop}-sample hop; this "
                               f"codec runs at {spec.sample_rate} Hz with a {spec.hop_length}-sample hop.")
    if state_dict is not None:
        weights.load_strict(model, state_dict, source=f"{spec.name}: the given state_dict",
                            ignore_prefixes=TRAINING_ONLY_PREFIXES)
    # Upstream runs k-means on the input at inference for any codebook not marked initialised.
    model.quantizer.codebooks.mark_initialised()
    return FunCodec(spec, model, runtime)

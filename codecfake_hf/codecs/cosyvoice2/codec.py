"""CosyVoice 2 resynthesis (FunAudioLLM/CosyVoice2-0.5B): 16 kHz speech -> S3 tokens (25 Hz) + CAM++ speaker
embedding -> flow matching -> HiFT -> 24 kHz speech.

What "resynthesis" means for a decoder that needs a speaker embedding and a prompt: the utterance is tokenised and its
own CAM++ embedding is taken (the two things the release's front end extracts from a prompt wav,
`_extract_speech_token` and `_extract_spk_embedding`), and the tokens are decoded by
`CosyVoice2Model.token2wav(token, prompt_token=[], prompt_feat=[], embedding, finalize=True)`: the non-streaming
decode with NO prompt tokens and NO prompt mel. The release's voice-conversion rule (`frontend_vc`) would also pass
the prompt's tokens and 24 kHz mel, which for the utterance itself would hand the decoder the very mel it is to
generate; without a prompt, the only things that cross from the input to the output are the 25 Hz tokens and one
192-dim speaker vector, which is what a codec's bitstream is. The flow solves 10 Euler steps (upstream's constant)
from fixed initial noise: upstream draws it once, `torch.randn([1, 80, 15000])` after seeding 0; here it is drawn the
same way from the codec's `noise_seed` (default: the build's random-weight seed, else `registry.weight_seed(name)`;
`noise_seed=0` gives the release's own noise). HiFT's source draws its phases and noise at inference (upstream:
torch's global generator): here from a CPU generator seeded with `noise_seed` for each utterance. Rows are therefore
the same in every run, order and device.

The release front end refuses prompts over 30 s (`_extract_speech_token`); so does this codec.

The release's front ends are ONNX graphs (`onnx_files`): the tokenizer's weights are converted into the torch port
(s3tokenizer's rule), which runs on the codec's device; CAM++ runs as the release's graph with onnxruntime on the
CPU (`campplus.OnnxCAMPPlus`), as CosyVoice's front end runs both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ...errors import CodecConfigError
from .. import weights
from ..base import Codec, Runtime
from ..spec import CodecSpec
from .campplus import OnnxCAMPPlus
from .config import CosyVoice2Config, official
from .model import FILES, CosyVoice2Resynthesis
from .onnx_files import CAMPPLUS_FILE, TOKENIZER_FILE, graph_tensor, read_graph, session, tokenizer_state

CAMPPLUS_KEY = "campplus.onnx"  # where a state dict carries campplus.onnx's bytes (OnnxCAMPPlus's buffer `onnx`)
MAX_SECONDS = 30  # CosyVoice's frontend: "do not support extract speech token for audio longer than 30s"
NOISE_FRAMES = 50 * 300  # CausalConditionalCFM.rand_noise: [1, 80, 50 * 300]

OPTIONS: dict[str, str] = {
    "noise_seed": "seed of the flow's initial noise and of the vocoder's source noise (default: the build's random-"
                  "weight seed, else registry.weight_seed(name); 0 gives the release's flow noise)",
}


class CosyVoice2Codec(Codec):
    """Tokens and speaker embedding of each utterance, decoded without a prompt (see the module docstring).

    Args:
        spec (CodecSpec): the registry entry.
        model (CosyVoice2Resynthesis): the four networks.
        runtime (Runtime): device, precision and random-weight seed.
        noise_seed (int): seed of the flow's noise and the vocoder's source noise.
    """

    # Each utterance runs alone: its speaker embedding pools over the whole utterance and every attention layer sees
    # all of it, so batch padding would change every frame.
    batch_exact = False

    def __init__(self, spec: CodecSpec, model: CosyVoice2Resynthesis, runtime: Runtime | None = None, *,
                 noise_seed: int = 0):
        super().__init__(spec, model, runtime)
        self.noise_seed = int(noise_seed)
        generator = torch.Generator().manual_seed(self.noise_seed)
        self.flow_noise = torch.randn([1, 80, NOISE_FRAMES], generator=generator)

    def output_length(self, length: int) -> int:
        # 128-bin mel frames: length // 160 (the STFT's last frame dropped), two stride-2 convolutions: ceil(/4) tokens
        return -(-(int(length) // 160) // 4) * self.model.output_hop

    def min_input_length(self) -> int:
        # three 25 ms Kaldi frames: CAM++'s stride-2 TDNN must leave two frames for the standard deviation it pools
        return 400 + 2 * 160

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One utterance `[T]` at 16 kHz -> (tokens `[1, N]`, speaker embedding `[1, 192]`)."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(self.device)
        if wave.shape[0] > MAX_SECONDS * self.sample_rate:
            raise ValueError(f"{wave.shape[0] / self.sample_rate:.1f} s is longer than the {MAX_SECONDS} s CosyVoice "
                             "2's front end tokenises; cut the utterance")
        return self.model.tokens(wave), self.model.speaker(wave)

    @torch.inference_mode()
    def decode(self, tokens: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """Tokens `[1, N]` + embedding -> `[N × 960]` at 24 kHz, the noise drawn from `noise_seed`."""
        generator = torch.Generator().manual_seed(self.noise_seed)
        return self.model.decode(tokens.to(self.device), embedding.to(self.device), self.flow_noise, generator)[0]

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        width = max(self.output_length(int(n)) for n in lengths)
        out = torch.zeros(waves.shape[0], width, device=waves.device)
        for i, n in enumerate(int(n) for n in lengths):
            audio = self.decode(*self.encode(waves[i, :n]))
            out[i, : audio.shape[0]] = audio
        return out


# -- the family contract (see registry.load) ------------------------------------------------------------------------


def default_config(spec: CodecSpec) -> dict[str, Any]:
    """The release's architecture (`config.OFFICIAL`: cosyvoice2.yaml's sections and the ONNX front ends')."""
    return official()


def _legacy_weight_norm(state: Mapping[str, Any]) -> dict[str, Any]:
    """hift.pt saved with the old `weight_norm` (`weight_g`/`weight_v`) in the parametrization's names, as torch's
    own load hook renames them (`original0` = g, `original1` = v)."""
    renamed = {}
    for key, value in state.items():
        for old, new in ((".weight_g", ".parametrizations.weight.original0"),
                         (".weight_v", ".parametrizations.weight.original1")):
            if key.endswith(old):
                key = key[: -len(old)] + new
        renamed[key] = value
    return renamed


def _hift_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """hift.pt's keys as the model names them: CosyVoice2Model.load drops a `generator.` prefix (a checkpoint saved
    from the GAN wrapper), then the old weight-norm names (`_legacy_weight_norm`)."""
    return _legacy_weight_norm({key.replace("generator.", ""): value for key, value in state.items()})


def download(spec: CodecSpec) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The release's four weight files through the Hub cache, merged under their prefixes (`model.FILES`).

    `speech_tokenizer_v2.onnx` is converted into the tokenizer's parameters (`onnx_files.tokenizer_state`,
    s3tokenizer's rule); `campplus.onnx` is passed on as its bytes (`campplus.onnx`, a uint8 tensor), which `build`
    runs with onnxruntime; `flow.pt` and `hift.pt` are `torch.save`d state dicts (read with `weights_only=True`).
    Each file is checked here, while its path is known: a truncated file or one with other keys is one
    `CheckpointError` naming it.
    """
    config = default_config(spec)
    architecture = CosyVoice2Config.from_config(config)
    with torch.device("meta"):
        skeleton = CosyVoice2Resynthesis(architecture)
    paths = {name: weights.hub_file(spec.hub_repo, name, codec=spec.name) for name in spec.hub_files}
    state: dict[str, torch.Tensor] = {}

    path = paths[TOKENIZER_FILE]
    tokenizer = tokenizer_state(read_graph(path, codec=spec.name, source=str(path)), prefix="")
    weights.check_state_dict(skeleton.speech_tokenizer, tokenizer, source=f"{spec.name}: checkpoint file {path}")
    state |= {f"speech_tokenizer.{key}": value for key, value in tokenizer.items()}

    path = paths[CAMPPLUS_FILE]
    data = path.read_bytes()
    read_graph(data, codec=spec.name, source=str(path))
    session(data, codec=spec.name, source=str(path))
    state[CAMPPLUS_KEY] = graph_tensor(data)

    for prefix, rename in (("flow", dict), ("hift", _hift_state)):
        path = paths[FILES[prefix]]
        part = rename(weights.flatten(weights.load_checkpoint(path, codec=spec.name)))
        weights.check_state_dict(getattr(skeleton, prefix), part, source=f"{spec.name}: checkpoint file {path}")
        state |= {f"{prefix}.{key}": value for key, value in part.items()}
    return config, state


def build(spec: CodecSpec, config: Mapping[str, Any], state_dict: Mapping[str, Any] | None, *, runtime: Runtime,
          noise_seed: int | None = None) -> CosyVoice2Codec:
    """The codec from a config in `config.OFFICIAL`'s format and a state dict under `model.FILES`'s prefixes.

    The state dict is what `download` gives (the tokenizer's parameters, `campplus.onnx` as the file's bytes, flow and
    HiFT parameters); the tokenizer may also come as its ONNX file's bytes under `speech_tokenizer_v2.onnx`, and
    CAM++ as the torch port's parameters (`campplus.*`, 3D-Speaker's names; random weights build that port).

    Args:
        noise_seed: seed of the flow's and the vocoder's noise (default: `runtime.seed` for random weights, else
            `registry.weight_seed(spec.name)`).
    """
    architecture = CosyVoice2Config.from_config(config)
    if architecture.sample_rate != (spec.output_rate or spec.sample_rate):
        raise CodecConfigError(f"{spec.name}: the config's sample_rate is {architecture.sample_rate} Hz; this codec "
                               f"decodes at {spec.output_rate} Hz.")
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, int)):
        raise CodecConfigError(f"{spec.name}: `noise_seed` must be an integer, got {noise_seed!r}.")
    model = CosyVoice2Resynthesis(architecture)
    if state_dict is not None:
        state = _legacy_weight_norm(weights.flatten(state_dict))
        if TOKENIZER_FILE in state:  # the ONNX file's bytes (as the fixture passes them): converted as `download` does
            data = state.pop(TOKENIZER_FILE).cpu().numpy().tobytes()
            state |= tokenizer_state(read_graph(data, codec=spec.name, source=f"`state_dict[{TOKENIZER_FILE!r}]`"))
        if CAMPPLUS_KEY in state:  # the release's CAM++ graph: run by onnxruntime in place of the torch port
            model.campplus = OnnxCAMPPlus(state[CAMPPLUS_KEY], codec=spec.name,
                                          source=f"`state_dict[{CAMPPLUS_KEY!r}]`")
        weights.load_strict(model, state, source=f"{spec.name} state dict")
    if noise_seed is None:
        from ..registry import weight_seed  # here: the registry imports this family while it loads

        noise_seed = runtime.seed if runtime.seed is not None else weight_seed(spec.name)
    return CosyVoice2Codec(spec, model, runtime, noise_seed=noise_seed)


__all__ = ["FILES", "OPTIONS", "CosyVoice2Codec", "build", "default_config", "download"]

"""The registry: one `CodecSpec` per codec config of the CodecFake paper, and `load()` to build one."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotBuiltError, CheckpointError, CodecConfigError, UnknownCodecError

if TYPE_CHECKING:
    import torch

    from .base import Codec

logger = logging.getLogger(__name__)


# The CodecFake+ taxonomy (Chen et al. 2025, arXiv 2501.08238): each field's values, in the order the dataset's
# ClassLabel columns list them (after the genuine rows' own value, see `codecfake_hf.schema`).
TAXONOMY: dict[str, tuple[str, ...]] = {
    "quantizer": ("multi-codebook", "single-codebook", "scalar"),
    "auxiliary": ("none", "semantic-distillation", "disentanglement"),
    "decoder": ("time", "frequency"),
}


@dataclass(frozen=True)
class CodecSpec:
    """The facts of one codec config, as the CodecFake pipeline used it.

    Args:
        name (str): the name the CodecFake release gives its files (`<name>+<utterance>.wav`).
        family (str): module of `codecfake_hf.codecs` that builds it (`encodec`, `dac`, ...).
        sample_rate (int): the rate the model runs at, in Hz.
        hop_length (int): input samples per code frame.
        n_codebooks (int): codebooks CodecFake encoded and decoded with.
        codebook_size (int): entries per codebook.
        bitrate_kbps (float): nominal bitrate at `n_codebooks`.
        hub_repo (str): Hugging Face repository of the official checkpoint.
        hub_files (tuple[str, ...]): files of that repository the loader reads.
        length_rule (str): how output length follows input length, in words.
        aliases (tuple[str, ...]): short names accepted by `spec()` and `load()`.
        notes (str): what the dataset card should say about this config.
        quantizer (str): CodecFake+ taxonomy: `multi-codebook`, `single-codebook` or `scalar`.
        auxiliary (str): CodecFake+ taxonomy: `none`, `semantic-distillation` or `disentanglement`.
        decoder (str): CodecFake+ taxonomy: `time` or `frequency` (the decoder's output domain).
        backend (str): what runs the network: `transformers` (its model class) or `codecfake-hf` (our modules).
    """

    name: str
    family: str
    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int
    bitrate_kbps: float
    hub_repo: str
    hub_files: tuple[str, ...]
    length_rule: str
    aliases: tuple[str, ...] = ()
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    quantizer: str = "multi-codebook"
    auxiliary: str = "none"
    decoder: str = "time"
    backend: str = "codecfake-hf"

    def __post_init__(self):
        for key, values in TAXONOMY.items():
            if getattr(self, key) not in values:
                raise ValueError(f"{self.name}: {key}={getattr(self, key)!r} is not one of {', '.join(values)}")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


_SAME = "same as input (the decoder's output is trimmed to the input length)"
_FUNCODEC_NOTE = "FunCodec, all 32 quantisers (the pipeline's default bit width)."

_SPECS = [
    CodecSpec(
        "encodec_24khz", "encodec", 24000, 320, 2, 1024, 1.5,
        "facebook/encodec_24khz", ("config.json", "model.safetensors"), _SAME,
        aliases=("encodec",), backend="transformers",
        notes="transformers EncodecModel at its default bandwidth, 1.5 kbps (2 of 32 codebooks).",
    ),
    CodecSpec(
        "descript-audio-codec-16khz", "dac", 16000, 320, 12, 1024, 6.0,
        "descript/dac_16khz", ("config.json", "model.safetensors"), _SAME,
        aliases=("dac_16khz", "dac16"), backend="transformers",
        notes="DAC through the dac package's compress()/decompress(): -16 LUFS and back, 1 s windows.",
    ),
    CodecSpec(
        "descript-audio-codec-24khz", "dac", 24000, 320, 32, 1024, 24.0,
        "descript/dac_24khz", ("config.json", "model.safetensors"), _SAME,
        aliases=("dac_24khz", "dac24"), backend="transformers",
        notes="DAC through the dac package's compress()/decompress(): -16 LUFS and back, 1 s windows.",
    ),
    CodecSpec(
        "descript-audio-codec-44khz", "dac", 44100, 512, 9, 1024, 7.752,
        "descript/dac_44khz", ("config.json", "model.safetensors"), _SAME,
        aliases=("dac_44khz", "dac44"), backend="transformers",
        notes="DAC through the dac package's compress()/decompress(): -16 LUFS and back, 1 s windows.",
    ),
    CodecSpec(
        "SpeechTokenizer", "speechtokenizer", 16000, 320, 8, 1024, 4.0,
        "fnlp/SpeechTokenizer",
        ("speechtokenizer_hubert_avg/config.json", "speechtokenizer_hubert_avg/SpeechTokenizer.pt"),
        "padded up to a multiple of the 320-sample hop (not trimmed)",
        aliases=("speechtokenizer",), auxiliary="semantic-distillation",
    ),
    CodecSpec(
        "academicodec_hifi_16k_320d", "academicodec", 16000, 320, 4, 1024, 2.0,
        "Dongchao/AcademiCodec", ("HiFi-Codec-16k-320d",),
        "truncated down to a multiple of the 320-sample hop",
        aliases=("hificodec_16k",),
        notes="Input peak-normalised to 0.95, as the CodecFake pipeline did.",
    ),
    CodecSpec(
        "academicodec_hifi_16k_320d_large_uni", "academicodec", 16000, 320, 4, 1024, 2.0,
        "Dongchao/AcademiCodec", ("HiFi-Codec-16k-320d-large-universal",),
        "truncated down to a multiple of the 320-sample hop",
        aliases=("hificodec_16k_large",),
        notes="Input peak-normalised to 0.95, as the CodecFake pipeline did.",
    ),
    CodecSpec(
        "academicodec_hifi_24k_320d", "academicodec", 24000, 320, 4, 1024, 3.0,
        "Dongchao/AcademiCodec", ("HiFi-Codec-24k-320d",),
        "truncated down to a multiple of the 320-sample hop",
        aliases=("hificodec_24k",),
        notes="Input peak-normalised to 0.95, as the CodecFake pipeline did.",
    ),
    CodecSpec(
        "audiodec_24k_320d", "audiodec", 24000, 300, 8, 1024, 6.4,
        "AudioDecBenchmark/AudioDec",
        (
            "autoencoder/symAD_libritts_24000_hop300/checkpoint-500000steps.pkl",
            "autoencoder/symAD_libritts_24000_hop300/config.yml",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/checkpoint-500000steps.pkl",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/config.yml",
            # Not the repo's statistics .npy: its mean/scale are buffers of the vocoder checkpoint,
            # which upstream loads over the file's values.
        ),
        "padded up to a multiple of the 300-sample hop (the name says 320d; the checkpoint's hop is 300)",
        aliases=("audiodec",),
        notes="Every utterance starts from the vocoder state right after loading (order-independent).",
    ),
    CodecSpec(
        "funcodec-funcodec_en_libritts-16k-gr1nq32ds320", "funcodec", 16000, 320, 32, 1024, 16.0,
        "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch",
        ("config.yaml", "model.pth"),
        "STFT frames rounded to whole code frames, then cut to the input length (some inputs shorten)",
        aliases=("funcodec_gr1",), decoder="frequency",
        notes="FunCodec FreqCodec (magnitude/phase), group ratio 1. " + _FUNCODEC_NOTE,
    ),
    CodecSpec(
        "funcodec-funcodec_en_libritts-16k-gr8nq32ds320", "funcodec", 16000, 320, 32, 1024, 16.0,
        "alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch",
        ("config.yaml", "model.pth"),
        "STFT frames rounded to whole code frames, then cut to the input length (some inputs shorten)",
        aliases=("funcodec_gr8",), decoder="frequency",
        notes="FunCodec FreqCodec (magnitude/phase), group ratio 8. " + _FUNCODEC_NOTE,
    ),
    CodecSpec(
        "funcodec-funcodec_en_libritts-16k-nq32ds320", "funcodec", 16000, 320, 32, 1024, 16.0,
        "alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds320-pytorch",
        ("config.yaml", "model.pth"), _SAME,
        aliases=("funcodec_en_ds320",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        "funcodec-funcodec_en_libritts-16k-nq32ds640", "funcodec", 16000, 640, 32, 1024, 8.0,
        "alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch",
        ("config.yaml", "model.pth"), _SAME,
        aliases=("funcodec_en_ds640",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        "funcodec-funcodec_zh_en_general_16k_nq32ds320", "funcodec", 16000, 320, 32, 1024, 16.0,
        "alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds320-pytorch",
        ("config.yaml", "model.pth"), _SAME,
        aliases=("funcodec_zh_en_ds320",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        "funcodec-funcodec_zh_en_general_16k_nq32ds640", "funcodec", 16000, 640, 32, 1024, 8.0,
        "alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds640-pytorch",
        ("config.yaml", "model.pth"), _SAME,
        aliases=("funcodec_zh_en_ds640",),
        # The release's zh_en ds320 and ds640 demo files are byte-identical: most likely both came
        # from the ds320 checkpoint through a folder-name slip. We run this name with its own weights.
        notes=_FUNCODEC_NOTE + " The original release's files for this name equal the ds320 ones "
        "(most likely a folder-name slip); codecfake-hf runs the ds640 checkpoint.",
    ),
]

# The 15 configs of the CodecFake paper and release, in its table's order.
RELEASE_NAMES: tuple[str, ...] = tuple(s.name for s in _SPECS)

# Beyond the CodecFake paper: the other official bitrates of EnCodec, and codec families transformers ships.
_HF = ("config.json", "model.safetensors")
_ENCODEC_48K_NOTE = (
    "transformers EncodecModel (facebook/encodec_48khz) at {kbps:g} kbps ({nq} of 16 codebooks). The model is "
    "stereo: the mono utterance is fed as both channels and the two decoded channels are averaged. Input is "
    "zero-padded to whole 1 s chunks (1 % overlap) with a padding mask, as EncodecFeatureExtractor does, and each "
    "chunk is normalised to its RMS and restored, as the model does."
)
_MIMI_NOTE = (
    "transformers MimiModel (kyutai/mimi) with {nq} of 32 codebooks ({what}); input and output cut to the input "
    "length, as MimiModel.forward does. The config is transformers' MimiConfig defaults (documented as kyutai/mimi's); "
    "the Hub config.json and the key layout of the Hub file could not be compared offline."
)
_XCODEC_NOTE = (
    "transformers XcodecModel ({repo}, semantic model {semantic}) at {kbps:g} kbps ({nq} of 8 codebooks); input "
    "zero-padded to a multiple of the 320-sample hop as DacFeatureExtractor(hop_length=320) does, output cut to "
    "the input length. Config: XcodecConfig defaults with that semantic model, not compared offline with the Hub's "
    "config.json or preprocessor_config.json."
)
_XCODEC_CHECKPOINTS = (
    ("hubert-librispeech", "HuBERT base (facebook/hubert-base-ls960)"),
    ("wavlm-mls", "WavLM base+"),
    ("wavlm-more-data", "WavLM base+"),
    ("hubert-general", "HuBERT base, general audio"),
    ("hubert-general-balanced", "HuBERT base, general audio"),
)

_SPECS += [
    CodecSpec(
        name=f"encodec_24khz_{kbps}kbps", family="encodec", sample_rate=24000, hop_length=320,
        n_codebooks=nq, codebook_size=1024, bitrate_kbps=float(kbps), hub_repo="facebook/encodec_24khz",
        hub_files=_HF, length_rule=_SAME, aliases=(f"encodec{kbps}",), backend="transformers",
        quantizer="multi-codebook", auxiliary="none", decoder="time",
        notes=f"transformers EncodecModel (facebook/encodec_24khz) at {kbps} kbps ({nq} of 32 codebooks).",
    )
    for kbps, nq in ((3, 4), (6, 8), (12, 16), (24, 32))
] + [
    CodecSpec(
        name=f"encodec_48khz_{kbps}kbps", family="encodec", sample_rate=48000, hop_length=320,
        n_codebooks=nq, codebook_size=1024, bitrate_kbps=float(kbps), hub_repo="facebook/encodec_48khz",
        hub_files=_HF, length_rule=_SAME, aliases=(f"encodec48_{kbps}",), backend="transformers",
        quantizer="multi-codebook", auxiliary="none", decoder="time",
        notes=_ENCODEC_48K_NOTE.format(kbps=kbps, nq=nq),
    )
    for kbps, nq in ((3, 2), (6, 4), (12, 8), (24, 16))
] + [
    CodecSpec(
        name=f"mimi-nq{nq}", family="mimi", sample_rate=24000, hop_length=1920, n_codebooks=nq,
        codebook_size=2048, bitrate_kbps=nq * 11 * 12.5 / 1000, hub_repo="kyutai/mimi", hub_files=_HF,
        length_rule=_SAME, aliases=aliases, notes=_MIMI_NOTE.format(nq=nq, what=what), backend="transformers",
        # split RVQ whose first codebook is distilled from WavLM (semantic); SEANet + transformer decoder (time)
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
    )
    for nq, aliases, what in ((8, ("mimi", "mimi8"), "Moshi's setting"), (32, ("mimi32",), "all of them"))
] + [
    CodecSpec(
        name=f"xcodec-{ckpt}-nq{nq}", family="xcodec", sample_rate=16000, hop_length=320, n_codebooks=nq,
        codebook_size=1024, bitrate_kbps=kbps, hub_repo=f"hf-audio/xcodec-{ckpt}", hub_files=_HF,
        length_rule=_SAME, aliases=(f"xcodec-{ckpt}-{kbps:g}kbps",),
        notes=_XCODEC_NOTE.format(repo=f"hf-audio/xcodec-{ckpt}", semantic=semantic, kbps=kbps, nq=nq),
        # RVQ over acoustic + HuBERT/WavLM features, trained to reconstruct the semantic ones; DAC decoder
        backend="transformers", quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
    )
    for ckpt, semantic in _XCODEC_CHECKPOINTS
    for nq, kbps in ((1, 0.5), (8, 4.0))
]

REGISTRY: dict[str, CodecSpec] = {s.name: s for s in _SPECS}
_ALIASES: dict[str, str] = {alias.lower(): s.name for s in _SPECS for alias in (s.name, *s.aliases)}


def names() -> list[str]:
    """Every codec config name, in the order of the CodecFake paper's table."""
    return list(REGISTRY)


def resolve(name: str) -> str:
    """The canonical name of `name` (a release name or an alias, any case)."""
    canonical = _ALIASES.get(str(name).lower())
    if canonical is None:
        matches = difflib.get_close_matches(str(name).lower(), list(_ALIASES), n=5, cutoff=0.75)
        close = dict.fromkeys(_ALIASES[m] for m in matches)  # a name and its alias suggest it once
        hint = f" Did you mean {', '.join(repr(c) for c in list(close)[:3])}?" if close else ""
        raise UnknownCodecError(
            f"Unknown codec {name!r}.{hint} Valid names: {', '.join(names())} (or 'all')."
        )
    return canonical


def spec(name: str) -> CodecSpec:
    """The `CodecSpec` of a codec config, by release name or alias."""
    return REGISTRY[resolve(name)]


def parse_codec_list(text: str) -> list[str]:
    """`all` or a comma-separated list of names/aliases -> canonical names, in order, without repeats."""
    if text.strip().lower() == "all":
        return names()
    result: list[str] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        canonical = resolve(item)
        if canonical not in result:
            result.append(canonical)
    if not result:
        raise UnknownCodecError(f"No codec named in {text!r}. Valid names: {', '.join(names())} (or 'all').")
    return result


def _family(s: CodecSpec):
    try:
        return importlib.import_module(f"{__package__}.{s.family}")
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{s.family}":
            raise
        raise BackendNotBuiltError(
            f"Codec {s.name!r} is registered, but its {s.family!r} inference module is not built yet "
            f"in this version of codecfake-hf. Choose another codec (see `codecfake_hf.codecs.names()`)."
        ) from None


def weight_seed(name: str, seed: int = 0) -> int:
    """The initialisation seed of `name`'s random weights: a SHA-256 of the name and `seed`.

    Stable across runs, processes and machines (Python's `hash()` of a string is salted per
    process), so every rank of a distributed build, and every rerun, builds the same model.
    """
    digest = hashlib.sha256(f"codecfake-hf/{name}/{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@contextlib.contextmanager
def _seeded(seed: int):
    """The CPU generator seeded with `seed` inside the block, the caller's RNG state restored after.

    Families build their modules on the CPU (`Codec` moves them to the device), so the CPU generator
    is the only one initialisation draws from; CUDA's is neither used nor touched.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def load(
    name: str,
    *,
    config: Mapping[str, Any] | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    random_weights: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
    **options: Any,
) -> Codec:
    """Build a codec, ready for `resynthesize`.

    With no `config`/`state_dict`, the official checkpoint is fetched through `huggingface_hub`
    (which honours the cache and `HF_HUB_OFFLINE`). `config` and `state_dict` take the format of the
    official checkpoint, so tiny test weights and the real files go through the same code; a
    `state_dict` without `config` uses the official config. `random_weights=True` builds the
    architecture (from `config`, or the official one) with random weights, for smoke runs; it logs a
    warning and sets `codec.random_weights`. Random weights are drawn from `weight_seed(name, seed)`
    without touching the caller's RNG state: the same name, seed and config give the same model in
    every run and process. `options` go to the family (e.g. `bandwidth=` for EnCodec).
    """
    s = spec(name)
    if random_weights and state_dict is not None:
        raise ValueError("Pass either `state_dict` or `random_weights=True`, not both.")
    if config is not None and state_dict is None and not random_weights:
        raise ValueError(
            f"{s.name}: a `config` without a `state_dict`; pass the weights too, or "
            "`random_weights=True` for a model with random weights."
        )
    _check_state_dict(s.name, state_dict)
    if config is not None and not isinstance(config, Mapping):
        raise CheckpointError(f"{s.name}: `config` must be a mapping (the official config's keys), "
                              f"got {type(config).__name__}.")
    family = _family(s)
    if random_weights:
        logger.warning("%s: building with RANDOM weights (smoke run, not the official model)", s.name)
        config = dict(config) if config is not None else family.default_config(s)
    elif state_dict is None:
        config, state_dict = family.download(s)
    elif config is None:
        config = family.default_config(s)
    try:
        with _seeded(weight_seed(s.name, seed)) if state_dict is None else contextlib.nullcontext():
            codec = family.build(s, dict(config), state_dict, device=device, **options)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        not_tensor = _first_non_tensor(state_dict)
        if not_tensor is not None:  # a list or a number where the family reads a tensor
            raise CheckpointError(f"{s.name}: `state_dict[{not_tensor[0]!r}]` is a {type(not_tensor[1]).__name__}, "
                                  "not a tensor; pass the checkpoint's tensors (as loaded from its file).") from None
        if isinstance(error, AttributeError):  # not a user's input: a bug, with its traceback
            raise
        # A config key or option the family does not know, or a value it cannot use: one message, per codec.
        raise CodecConfigError(f"{s.name}: cannot build the model from this config/options "
                              f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
                              "Check the config against the official one and the options the family takes.") from None
    _check_finite(s.name, codec)
    codec.random_weights = state_dict is None
    codec.seed = int(seed) if codec.random_weights else None
    return codec


def _check_state_dict(name: str, state_dict: Any) -> None:
    """A `state_dict` must be a mapping of names to tensors (a path or a pickled object is refused)."""

    if state_dict is None:
        return
    if isinstance(state_dict, (str, bytes, os.PathLike)):
        raise CheckpointError(f"{name}: `state_dict` is a path ({str(state_dict)!r}), not the weights; load the file "
                              "first (e.g. `safetensors.torch.load_file(path)`) and pass the tensors.")
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{name}: `state_dict` must map parameter names to tensors, got "
                              f"{type(state_dict).__name__}.")


def _first_non_tensor(state_dict: Any, prefix: str = "") -> tuple[str, Any] | None:
    """The first leaf of a (nested) state dict that is neither a tensor nor checkpoint metadata (a mapping)."""
    import torch

    for key, value in (state_dict or {}).items():
        if isinstance(value, Mapping):
            found = _first_non_tensor(value, f"{prefix}{key}.")
            if found is not None:
                return found
        elif isinstance(value, (list, tuple)) or (not isinstance(value, torch.Tensor) and not prefix):
            return f"{prefix}{key}", value
    return None


def _check_finite(name: str, codec: Codec) -> None:
    """Refuse weights holding NaN or inf: such a codec turns every utterance into NaN (every row skipped)."""
    model = getattr(codec, "model", None)
    if model is None:
        return
    bad = [key for key, tensor in model.state_dict().items()
           if tensor.is_floating_point() and not tensor.is_meta and not bool(tensor.isfinite().all())]
    if bad:
        raise CheckpointError(f"{name}: {len(bad)} weight tensor(s) hold NaN or inf (first: {bad[0]}); the checkpoint "
                              "is corrupt. Download it again (delete it from the Hugging Face cache) or fix the file.")

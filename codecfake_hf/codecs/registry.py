"""The registry: one `CodecSpec` per codec config of the CodecFake paper, and `load()` to build one."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotBuiltError, CheckpointError, CodecConfigError, UnknownCodecError

if TYPE_CHECKING:
    import torch

    from .base import Codec, CodecFamily

logger = logging.getLogger(__name__)


QUANTIZERS = ("multi-codebook", "single-codebook", "scalar")
AUXILIARIES = ("none", "semantic-distillation", "disentanglement")
DECODERS = ("time", "frequency")
# The three taxonomy fields and their values, in the order the dataset's ClassLabel columns list them (after the
# genuine rows' own value, see `codecfake_hf.schema`).
TAXONOMY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"quantizer": QUANTIZERS, "auxiliary": AUXILIARIES, "decoder": DECODERS})
BACKENDS = ("transformers", "codecfake-hf")


@dataclass(frozen=True, kw_only=True)
class CodecSpec:
    """The facts of one codec config, as the CodecFake pipeline used it.

    Args:
        name (str): the name the CodecFake release gives its files (`<name>+<utterance>.wav`).
        family (str): subpackage of `codecfake_hf.codecs` that builds it (`encodec`, `dac`, ...).
        sample_rate (int): the rate the model runs at, in Hz.
        hop_length (int): input samples per code frame.
        n_codebooks (int): codebooks CodecFake encoded and decoded with.
        codebook_size (int): entries per codebook.
        bitrate_kbps (float): bitrate at `n_codebooks`: n_codebooks × log2(codebook_size) × frame_rate / 1000.
        hub_repo (str): Hugging Face repository of the official checkpoint.
        hub_files (tuple[str, ...]): files of that repository the loader reads.
        length_rule (str): how output length follows input length, in words.
        quantizer (str): CodecFake+ taxonomy (Chen et al. 2025, arXiv 2501.08238): `multi-codebook`
            (residual or grouped VQ), `single-codebook` or `scalar`.
        auxiliary (str): CodecFake+ auxiliary objective: `none`, `semantic-distillation` or
            `disentanglement`.
        decoder (str): CodecFake+ decoder domain: `time` (waveform) or `frequency` (spectrum + inverse STFT).
        aliases (tuple[str, ...]): short names accepted by `spec()` and `load()`.
        notes (str): what the dataset card should say about this config.
        backend (str): what runs the network: `transformers` (its model class) or `codecfake-hf` (this
            package's own modules).
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
    quantizer: str
    auxiliary: str
    decoder: str
    aliases: tuple[str, ...] = ()
    notes: str = ""
    backend: str = "codecfake-hf"

    def __post_init__(self) -> None:
        for field_name, choices in (*TAXONOMY.items(), ("backend", BACKENDS)):
            if getattr(self, field_name) not in choices:
                raise ValueError(f"CodecSpec {self.name!r}: {field_name}={getattr(self, field_name)!r}; "
                                 f"valid: {', '.join(choices)}.")

    @property
    def frame_rate(self) -> float:
        """Code frames per second (DAC 44 kHz: 44100 / 512 ≈ 86.13)."""
        return self.sample_rate / self.hop_length


_SAME = "same as input (the decoder's output is trimmed to the input length)"
_FUNCODEC_NOTE = "FunCodec, all 32 quantisers (the pipeline's default bit width)."
_DAC_NOTE = "DAC through the dac package's compress()/decompress(): -16 LUFS and back, 1 s windows."
_HIFI_RULE = "truncated down to a multiple of the 320-sample hop"
_HIFI_NOTE = "Input peak-normalised to 0.95, as the CodecFake pipeline did."
_FUNCODEC_FREQ_RULE = "STFT frames rounded to whole code frames, then cut to the input length (some inputs shorten)"
# Every config of the paper quantises with several codebooks (residual VQ; HiFi-Codec's group-residual VQ is
# several codebooks too) and none but SpeechTokenizer adds an auxiliary objective; only FunCodec's FreqCodec
# configs decode in the frequency domain (CodecFake+, arXiv 2501.08238, its taxonomy table).
_MVQ_TIME = {"quantizer": "multi-codebook", "auxiliary": "none", "decoder": "time"}
_MVQ_FREQ = {"quantizer": "multi-codebook", "auxiliary": "none", "decoder": "frequency"}

_SPECS = [
    CodecSpec(
        name="encodec_24khz", family="encodec", sample_rate=24000, hop_length=320, n_codebooks=2,
        codebook_size=1024, bitrate_kbps=1.5, hub_repo="facebook/encodec_24khz",
        hub_files=("config.json", "model.safetensors"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("encodec",), backend="transformers",
        notes="transformers EncodecModel at its default bandwidth, 1.5 kbps (2 of 32 codebooks).",
    ),
    CodecSpec(
        name="descript-audio-codec-16khz", family="dac", sample_rate=16000, hop_length=320, n_codebooks=12,
        codebook_size=1024, bitrate_kbps=6.0, hub_repo="descript/dac_16khz",
        hub_files=("config.json", "model.safetensors"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("dac_16khz", "dac16"), notes=_DAC_NOTE, backend="transformers",
    ),
    CodecSpec(
        name="descript-audio-codec-24khz", family="dac", sample_rate=24000, hop_length=320, n_codebooks=32,
        codebook_size=1024, bitrate_kbps=24.0, hub_repo="descript/dac_24khz",
        hub_files=("config.json", "model.safetensors"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("dac_24khz", "dac24"), notes=_DAC_NOTE, backend="transformers",
    ),
    CodecSpec(
        name="descript-audio-codec-44khz", family="dac", sample_rate=44100, hop_length=512, n_codebooks=9,
        codebook_size=1024, bitrate_kbps=7.752, hub_repo="descript/dac_44khz",
        hub_files=("config.json", "model.safetensors"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("dac_44khz", "dac44"), notes=_DAC_NOTE, backend="transformers",
    ),
    CodecSpec(
        name="SpeechTokenizer", family="speechtokenizer", sample_rate=16000, hop_length=320, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=4.0, hub_repo="fnlp/SpeechTokenizer",
        hub_files=("speechtokenizer_hubert_avg/config.json", "speechtokenizer_hubert_avg/SpeechTokenizer.pt"),
        length_rule="padded up to a multiple of the 320-sample hop (not trimmed)",
        # Its first RVQ layer is distilled from HuBERT: CodecFake+'s semantic distillation.
        quantizer="multi-codebook", auxiliary="semantic-distillation", decoder="time",
        aliases=("speechtokenizer",),
    ),
    CodecSpec(
        name="academicodec_hifi_16k_320d", family="academicodec", sample_rate=16000, hop_length=320,
        n_codebooks=4, codebook_size=1024, bitrate_kbps=2.0, hub_repo="Dongchao/AcademiCodec",
        hub_files=("HiFi-Codec-16k-320d",), length_rule=_HIFI_RULE, **_MVQ_TIME,
        aliases=("hificodec_16k",), notes=_HIFI_NOTE,
    ),
    CodecSpec(
        name="academicodec_hifi_16k_320d_large_uni", family="academicodec", sample_rate=16000, hop_length=320,
        n_codebooks=4, codebook_size=1024, bitrate_kbps=2.0, hub_repo="Dongchao/AcademiCodec",
        hub_files=("HiFi-Codec-16k-320d-large-universal",), length_rule=_HIFI_RULE, **_MVQ_TIME,
        aliases=("hificodec_16k_large",), notes=_HIFI_NOTE,
    ),
    CodecSpec(
        name="academicodec_hifi_24k_320d", family="academicodec", sample_rate=24000, hop_length=320,
        n_codebooks=4, codebook_size=1024, bitrate_kbps=3.0, hub_repo="Dongchao/AcademiCodec",
        hub_files=("HiFi-Codec-24k-320d",), length_rule=_HIFI_RULE, **_MVQ_TIME,
        aliases=("hificodec_24k",), notes=_HIFI_NOTE,
    ),
    CodecSpec(
        name="audiodec_24k_320d", family="audiodec", sample_rate=24000, hop_length=300, n_codebooks=8,
        codebook_size=1024, bitrate_kbps=6.4, hub_repo="AudioDecBenchmark/AudioDec",
        hub_files=(
            "autoencoder/symAD_libritts_24000_hop300/checkpoint-500000steps.pkl",
            "autoencoder/symAD_libritts_24000_hop300/config.yml",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/checkpoint-500000steps.pkl",
            "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean/config.yml",
            # Not the repo's statistics .npy: its mean/scale are buffers of the vocoder checkpoint,
            # which upstream loads over the file's values.
        ),
        length_rule="padded up to a multiple of the 300-sample hop (the name says 320d; the checkpoint's hop is 300)",
        **_MVQ_TIME, aliases=("audiodec",),
        notes="Every utterance starts from the vocoder state right after loading (order-independent).",
    ),
    CodecSpec(
        name="funcodec-funcodec_en_libritts-16k-gr1nq32ds320", family="funcodec", sample_rate=16000,
        hop_length=320, n_codebooks=32, codebook_size=1024, bitrate_kbps=16.0,
        hub_repo="alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_FUNCODEC_FREQ_RULE, **_MVQ_FREQ,
        aliases=("funcodec_gr1",), notes="FunCodec FreqCodec (magnitude/phase), group ratio 1. " + _FUNCODEC_NOTE,
    ),
    CodecSpec(
        name="funcodec-funcodec_en_libritts-16k-gr8nq32ds320", family="funcodec", sample_rate=16000,
        hop_length=320, n_codebooks=32, codebook_size=1024, bitrate_kbps=16.0,
        hub_repo="alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_FUNCODEC_FREQ_RULE, **_MVQ_FREQ,
        aliases=("funcodec_gr8",), notes="FunCodec FreqCodec (magnitude/phase), group ratio 8. " + _FUNCODEC_NOTE,
    ),
    CodecSpec(
        name="funcodec-funcodec_en_libritts-16k-nq32ds320", family="funcodec", sample_rate=16000,
        hop_length=320, n_codebooks=32, codebook_size=1024, bitrate_kbps=16.0,
        hub_repo="alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds320-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("funcodec_en_ds320",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        name="funcodec-funcodec_en_libritts-16k-nq32ds640", family="funcodec", sample_rate=16000,
        hop_length=640, n_codebooks=32, codebook_size=1024, bitrate_kbps=8.0,
        hub_repo="alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("funcodec_en_ds640",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        name="funcodec-funcodec_zh_en_general_16k_nq32ds320", family="funcodec", sample_rate=16000,
        hop_length=320, n_codebooks=32, codebook_size=1024, bitrate_kbps=16.0,
        hub_repo="alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds320-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_SAME, **_MVQ_TIME,
        aliases=("funcodec_zh_en_ds320",), notes=_FUNCODEC_NOTE,
    ),
    CodecSpec(
        name="funcodec-funcodec_zh_en_general_16k_nq32ds640", family="funcodec", sample_rate=16000,
        hop_length=640, n_codebooks=32, codebook_size=1024, bitrate_kbps=8.0,
        hub_repo="alibaba-damo/audio_codec-encodec-zh_en-general-16k-nq32ds640-pytorch",
        hub_files=("config.yaml", "model.pth"), length_rule=_SAME, **_MVQ_TIME,
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

_REGISTRY: dict[str, CodecSpec] = {}
_ALIASES: dict[str, str] = {}  # every name and alias, lower-cased -> canonical name
REGISTRY: Mapping[str, CodecSpec] = MappingProxyType(_REGISTRY)
"""Canonical name -> `CodecSpec`, in registration order; read-only (add entries with `register`)."""


def register(new: CodecSpec, *, replace: bool = False) -> CodecSpec:
    """Add `new` to the registry, its name and aliases resolvable (any case).

    A name or alias that already resolves to another entry is refused; `replace=True` replaces an entry
    of the same name (its old aliases go with it).
    """
    if new.name in _REGISTRY and not replace:
        raise ValueError(f"Codec {new.name!r} is already registered; pass replace=True to replace it.")
    keys = list(dict.fromkeys(key.lower() for key in (new.name, *new.aliases)))
    taken = {key: _ALIASES[key] for key in keys if _ALIASES.get(key, new.name) != new.name}
    if taken:
        raise ValueError(f"Codec {new.name!r}: names already taken: "
                         + ", ".join(f"{key!r} (by {owner!r})" for key, owner in taken.items()) + ".")
    _unregister(new.name)
    _REGISTRY[new.name] = new
    _ALIASES.update(dict.fromkeys(keys, new.name))
    return new


def _unregister(name: str) -> None:
    """Remove `name` and its aliases (for `register(replace=True)` and tests)."""
    _REGISTRY.pop(name, None)
    for key in [key for key, owner in _ALIASES.items() if owner == name]:
        del _ALIASES[key]


for _spec in _SPECS:
    register(_spec)
del _spec


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


def _family(s: CodecSpec) -> CodecFamily:
    try:
        return importlib.import_module(f"{__package__}.{s.family}")
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{s.family}":
            raise
        raise BackendNotBuiltError(
            f"Codec {s.name!r} is registered, but its {s.family!r} inference module is not built yet "
            f"in this version of codecfake-hf. Choose another codec (see `codecfake_hf.codecs.names()`)."
        ) from None


def family(name: str) -> CodecFamily:
    """The family subpackage that builds `name` (its `CodecFamily` functions); BackendNotBuiltError if unwritten."""
    return _family(spec(name))


def options(name: str) -> Mapping[str, str]:
    """The keyword options `load(name, ...)` accepts for this codec's family, each with one line of help."""
    return MappingProxyType(dict(family(name).OPTIONS))


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


def _config_source(s: CodecSpec, config: Mapping[str, Any] | None) -> str:
    """Where a config came from, for error messages: the caller's argument or the official files."""
    if config is not None:
        return "the `config` argument"
    files = [f for f in s.hub_files if f.endswith((".json", ".yaml", ".yml"))] or list(s.hub_files)
    return f"the official config ({s.hub_repo}: {', '.join(files)})"


def _check_options(s: CodecSpec, family: CodecFamily, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(family.OPTIONS))
    if not unknown:
        return
    got = ", ".join(f"{key}={options[key]!r}" for key in unknown)
    if family.OPTIONS:
        valid = "; ".join(f"`{key}`: {text}" for key, text in family.OPTIONS.items())
        raise CodecConfigError(f"{s.name}: unknown option(s) {got}. Options of the {s.family!r} family: {valid}.")
    raise CodecConfigError(f"{s.name}: unknown option(s) {got}; the {s.family!r} family takes no options.")


def _check_state_dict(s: CodecSpec, state_dict: object) -> None:
    """A mapping of names to tensors, or to sub-mappings (official checkpoints nest their parts, and may
    carry metadata there), holding at least one tensor."""
    import torch

    if isinstance(state_dict, (str, bytes, os.PathLike)):
        raise CodecConfigError(
            f"{s.name}: `state_dict` is a path ({str(state_dict)!r}), not the weights; load the file first "
            "(`safetensors.torch.load_file(path)` or `torch.load(path, map_location='cpu', weights_only=True)`) "
            "and pass the tensors, or pass no `state_dict` for the official weights."
        )
    if not isinstance(state_dict, Mapping):
        raise CodecConfigError(f"{s.name}: `state_dict` is a {type(state_dict).__name__}; expected a mapping of "
                               "parameter names to tensors.")
    for key, value in state_dict.items():
        if not isinstance(value, (torch.Tensor, Mapping)):
            raise CodecConfigError(f"{s.name}: `state_dict[{key!r}]` is a {type(value).__name__}, not a tensor; "
                                   "pass the checkpoint's tensors (its state dict).")

    def has_tensor(tree: Mapping[str, Any]) -> bool:
        return any(isinstance(v, torch.Tensor) or (isinstance(v, Mapping) and has_tensor(v)) for v in tree.values())

    if not has_tensor(state_dict):
        raise CodecConfigError(f"{s.name}: `state_dict` holds no tensors; pass the checkpoint's state dict, or no "
                               "`state_dict` for the official weights.")


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
    every run and process. `options` go to the family (e.g. `bandwidth=` for EnCodec; each family's
    `OPTIONS` lists its own).

    Every failure is a `CodecFakeError`: `UnknownCodecError`, `CodecConfigError` (arguments, options, a
    config the family cannot build, naming the codec and where the config came from), `CheckpointError`,
    `WeightsUnavailableError`, `BackendNotBuiltError`.
    """
    s = spec(name)
    if random_weights and state_dict is not None:
        raise CodecConfigError(f"{s.name}: pass either `state_dict` or `random_weights=True`, not both.")
    if config is not None and state_dict is None and not random_weights:
        raise CodecConfigError(
            f"{s.name}: a `config` without a `state_dict`; pass the weights too, or "
            "`random_weights=True` for a model with random weights."
        )
    if config is not None and not isinstance(config, Mapping):
        raise CodecConfigError(f"{s.name}: `config` is a {type(config).__name__}; expected a mapping in the "
                               "format of the official config file.")
    if state_dict is not None:
        _check_state_dict(s, state_dict)
    family = _family(s)
    _check_options(s, family, options)
    source = _config_source(s, config)
    try:
        if random_weights:
            logger.warning("%s: building with RANDOM weights (smoke run, not the official model)", s.name)
            config = dict(config) if config is not None else family.default_config(s)
        elif state_dict is None:
            config, state_dict = family.download(s)
        elif config is None:
            config = family.default_config(s)
        with _seeded(weight_seed(s.name, seed)) if state_dict is None else contextlib.nullcontext():
            codec = family.build(s, dict(config), state_dict, device=device, **options)
    except CodecConfigError as error:
        message = str(error)
        if not message.startswith(f"{s.name}:"):
            message = f"{s.name}: {message}"
        raise CodecConfigError(f"{message} (config: {source})") from None
    except (TypeError, ValueError, KeyError) as error:
        not_tensor = _first_non_tensor(state_dict)
        if not_tensor is not None:  # a list or a number where the family reads a tensor
            raise CheckpointError(f"{s.name}: `state_dict[{not_tensor[0]!r}]` is a {type(not_tensor[1]).__name__}, "
                                  "not a tensor; pass the checkpoint's tensors (as loaded from its file).") from None
        # A value the family could not use and did not name itself: one message, per codec.
        raise CodecConfigError(f"{s.name}: cannot build the model from this config/options "
                               f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}; "
                               f"config: {source}). Check the config against the official one.") from None
    _check_finite(s.name, codec)
    codec.random_weights = state_dict is None
    codec.seed = int(seed) if codec.random_weights else None
    return codec


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

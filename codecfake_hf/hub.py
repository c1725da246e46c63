"""The Hub side of a dataset folder: its dataset card (YAML configs, dataset_info, codecs, counts) and the push.

The card is made from the folder itself (the Parquet shards' row counts and feature metadata), so
what it declares is what `load_dataset` finds, on the local folder and on the Hub alike.
(Model cards live in `codecfake_hf.modelcard`.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from .codecs import registry
from .errors import CodecFakeError
from .files import write_text_atomic
from .schema import DATA_DIR, GENUINE, LABELS, STATE_DIR, schema_table
from .splits import split_sort_key

logger = logging.getLogger(__name__)

ALL_CONFIG = "all"
# Never uploaded: the build's own state (plan, lock, staging) and the upload's resume cache.
IGNORE_PATTERNS = [f"{STATE_DIR}/**", ".cache/**"]
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")

CODECFAKE_CITATION = """@inproceedings{wu2024codecfake,
  author    = {Wu, Haibin and Tseng, Yuan and Lee, Hung-yi},
  title     = {{CodecFake}: Enhancing Anti-Spoofing Models Against Deepfake Audios from Codec-Based Speech
               Synthesis Systems},
  booktitle = {Proc. Interspeech 2024},
  year      = {2024}
}"""


class PushError(CodecFakeError):
    """A push that cannot start or did not succeed: no token, not a dataset folder, Hub refusal."""


@dataclass
class DatasetCardInfo:
    """What the card says beyond what the folder's files show.

    Args:
        parts (list[str]): complete parts, `genuine` first, then codecs in the registry's order.
        speakers (dict[str, list[str]]): split -> its speakers.
        source (dict[str, str]): the genuine speech's description, license, attribution, citation.
        random_weight_codecs (list[str]): codecs built with random weights (smoke runs, not real fakes).
        imported (bool): rows come from the original release files, not from a build.
        notes (list[str]): extra lines for the card's Notes section.
        genuine_sample_rate (int | None): the rate of the genuine rows and the codecs' input.
        paper_split (bool): the splits are the CodecFake paper's (else a user's speaker -> split file).
        pretty_name (str): the card's title.
    """

    parts: list[str]
    speakers: dict[str, list[str]]
    source: dict[str, str]
    random_weight_codecs: list[str] = field(default_factory=list)
    imported: bool = False
    notes: list[str] = field(default_factory=list)
    genuine_sample_rate: int | None = None
    paper_split: bool = True
    pretty_name: str = "CodecFake"


# Reading the folder


def part_splits(folder: Path, part: str) -> list[str]:
    names = {p.name.split("-", 1)[0] for p in (folder / DATA_DIR / part).glob("*.parquet")}
    return sorted(names, key=split_sort_key)


def count(files: Sequence[Path]) -> tuple[int, int]:
    """(rows, bytes of uncompressed data) of Parquet files, from their footers only."""
    rows = size = 0
    for path in files:
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return rows, size


def config_files(folder: Path, parts: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """{config: {split: [globs]}}: `all` lists every part; each codec lists itself plus genuine.

    Splits are those where the config's own part has shards (a codec config without genuine rows
    still loads; a split where only genuine exists is not declared for a codec).
    """
    configs: dict[str, dict[str, list[str]]] = {ALL_CONFIG: {}}
    for part in parts:
        for split in part_splits(folder, part):
            configs[ALL_CONFIG].setdefault(split, []).append(f"data/{part}/{split}-*.parquet")
    genuine_splits = set(part_splits(folder, GENUINE)) if GENUINE in parts else set()
    for part in parts:
        if part == GENUINE:
            continue
        configs[part] = {
            split: ([f"data/{GENUINE}/{split}-*.parquet"] if split in genuine_splits else [])
            + [f"data/{part}/{split}-*.parquet"]
            for split in part_splits(folder, part)
        }
    for name, table in configs.items():
        configs[name] = dict(sorted(table.items(), key=lambda kv: split_sort_key(kv[0])))
    return configs


def _glob_files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


# The card


def build_card(folder: str | Path, info: DatasetCardInfo) -> DatasetCard:
    """The dataset card of `folder` (not written; see `write_dataset_card`)."""
    folder = Path(folder)
    configs = config_files(folder, info.parts)
    first = next(iter(_glob_files(folder, f"data/{info.parts[0]}/*.parquet")), None)
    if first is None:
        raise CodecFakeError(f"{folder}: no Parquet shards under data/{info.parts[0]}/; nothing to describe.")
    features = datasets.Features.from_arrow_schema(pq.read_schema(first))
    counts: dict[str, dict[str, int]] = {}
    infos = DatasetInfosDict()
    for name, table in configs.items():
        split_dict = datasets.SplitDict()
        counts[name] = {}
        for split, globs in table.items():
            rows, size = count([f for g in globs for f in _glob_files(folder, g)])
            counts[name][split] = rows
            split_dict.add(datasets.SplitInfo(name=split, num_bytes=size, num_examples=rows))
        infos[name] = datasets.DatasetInfo(features=features, splits=split_dict,
                                           dataset_size=sum(s.num_bytes for s in split_dict.values()))
    metadata = MetadataConfigs({
        name: {**({"default": True} if name == ALL_CONFIG else {}),
               "data_files": [{"split": split, "path": globs} for split, globs in table.items()]}
        for name, table in configs.items()
    })
    card_data = DatasetCardData(
        pretty_name=info.pretty_name,
        license=info.source.get("license") or "other",
        language=["en"],
        task_categories=["audio-classification"],
        tags=["audio", "anti-spoofing", "deepfake-detection", "speech", "neural-audio-codec", "codecfake"],
        size_categories=[_size_category(sum(counts[ALL_CONFIG].values()))],
    )
    metadata.to_dataset_card_data(card_data)
    infos.to_dataset_card_data(card_data)
    body = _body(info, counts, features)
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def write_dataset_card(folder: str | Path, info: DatasetCardInfo) -> Path:
    """Write `folder/README.md` atomically (temp name, then rename) and return its path."""
    folder = Path(folder)
    card = build_card(folder, info)
    path = write_text_atomic(folder / "README.md", str(card))
    logger.info("wrote %s", path)
    return path


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def _body(info: DatasetCardInfo, counts: dict[str, dict[str, int]], features: datasets.Features) -> str:
    codec_parts = [p for p in info.parts if p != GENUINE]
    first = codec_parts[0] if codec_parts else ALL_CONFIG
    splits = sorted({s for table in counts.values() for s in table}, key=split_sort_key)
    lines = [
        f"# {info.pretty_name}",
        "",
        "Codec-resynthesised speech for training and testing anti-spoofing (deepfake detection) models, as in the "
        "CodecFake paper (Wu, Tseng, Lee, Interspeech 2024): genuine utterances and what neural audio codecs "
        f"made of them. Genuine speech: {info.source.get('description') or 'see below'}.",
        "",
    ]
    if info.random_weight_codecs:
        lines += [
            "> **Smoke-test data.** These codecs were built with **random weights** (their official "
            "architecture, not their trained checkpoints), because the official weights could not be reached: "
            f"{', '.join(f'`{c}`' for c in info.random_weight_codecs)}. Their rows are noise-like, not real "
            "codec fakes: do not train or evaluate detectors on them.",
            "",
        ]
    lines += [
        "## How to load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("ORG/NAME", "{first}", split="test")   # or a local folder in this layout',
        "row = ds[0]",
        f'row["audio"]  # decoded at the file\'s own rate; row["label"]: 0 = {LABELS[0]}, 1 = {LABELS[1]}',
        "```",
        "",
        f"Configs: one per codec (that codec's rows plus the genuine rows of the same split; genuine audio is "
        f"stored once, under `data/{GENUINE}/`), and `{ALL_CONFIG}` (the default: every row).",
        "",
        "## Rows per config and split",
        "",
        "| config | " + " | ".join(splits) + " | total |",
        "|---|" + "---:|" * (len(splits) + 1),
    ]
    for name, table in sorted(counts.items(), key=lambda kv: (kv[0] != ALL_CONFIG, kv[0])):
        cells = [str(table.get(s, 0)) for s in splits]
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {sum(table.values())} |")
    lines += ["", "## Codecs", "", _codec_table(codec_parts, info), ""]
    used = ("the CodecFake paper's split of VCTK (validation p226, p229; test p227, p228; train the other "
            "speakers)" if info.paper_split else "a speaker -> split file given to the build")
    lines += ["## Splits", "", f"Speaker-disjoint (every speaker's utterances are in one split), by {used}.", ""]
    for split, speakers in info.speakers.items():
        shown = ", ".join(speakers[:20]) + (f", … ({len(speakers)} speakers)" if len(speakers) > 20 else "")
        lines.append(f"- `{split}`: {shown}")
    lines += ["", "## Schema", "", *schema_table(features), "", "## Notes", ""]
    lines += _notes(info)
    lines += ["", "## License and attribution", "",
              f"License: {info.source.get('license') or 'other'}. "
              + (info.source.get("attribution") or "See the source dataset's license."),
              "", "## Citation", "", "```bibtex", CODECFAKE_CITATION]
    if info.source.get("citation"):
        lines += ["", info.source["citation"]]
    lines += ["```", ""]
    return "\n".join(lines)


def _codec_table(codec_parts: Sequence[str], info: DatasetCardInfo) -> str:
    if not codec_parts:
        return "No codec rows yet."
    rows = ["| config | sample rate | bitrate | codebooks | hop | quantizer | auxiliary | decoder | backend "
            "| checkpoint | weights | output length | notes |",
            "|---|---:|---:|---:|---:|---|---|---|---|---|---|---|---|"]
    for name in codec_parts:
        s = registry.spec(name)
        if info.imported:
            weights = "original release files"
        elif name in info.random_weight_codecs:
            weights = "**random** (smoke run)"
        else:
            weights = "official checkpoint"
        rows.append(f"| `{s.name}` | {s.sample_rate} Hz | {s.bitrate_kbps:g} kbps | {s.n_codebooks} | {s.hop_length} | "
                    f"{s.quantizer} | {s.auxiliary} | {s.decoder} | {s.backend} | "
                    f"[{s.hub_repo}](https://huggingface.co/{s.hub_repo}) | {weights} | {s.length_rule} | {s.notes} |")
    return "\n".join(rows)


def _notes(info: DatasetCardInfo) -> list[str]:
    notes = []
    if info.imported:
        notes.append("- Rows are the original CodecFake release's files, converted losslessly (16-bit PCM → FLAC).")
    else:
        notes.append(_rate_note(info.genuine_sample_rate))
        notes += [
            "- Fakes are clamped to ±0.99 and quantised to 16-bit PCM, as the CodecFake pipeline did.",
            "- Utterances that could not be read or that a codec rejected (corrupt, silent, too short) are left out "
            "and were reported by the build.",
        ]
    notes += [f"- {note}" for note in info.notes]
    return notes


def _rate_note(genuine_sample_rate: int | None) -> str:
    """The genuine rows' rate and what the codecs were fed, beside what the CodecFake pipeline fed them."""
    if genuine_sample_rate is None:
        return ("- Genuine rows are stored at each file's own rate (16-bit), and every codec resynthesises that "
                "audio, resampled to the codec's rate with soxr.")
    return (
        f"- Genuine rows are stored at {genuine_sample_rate} Hz (16-bit), and every codec resynthesises exactly "
        "that audio, resampled to the codec's rate with soxr: no codec saw input above "
        f"{genuine_sample_rate / 2000:g} kHz. The CodecFake pipeline fed its 24 kHz and 44.1 kHz codecs the "
        "48 kHz VCTK originals instead (resampled to their rate). To keep each file's own rate (48 kHz for VCTK) "
        "for the genuine rows and every codec's input, build with `genuine_sample_rate=None` "
        "(`--genuine_sample_rate 0` on `python -m builder build`)."
    )


# Pushing


def resolve_token(token: str | None = None) -> str:
    """The token: `token`, else `HF_TOKEN`, else the saved login (`hf auth login`); never printed."""
    token = token or get_token()
    if not token:
        raise PushError("No Hugging Face token found. Set the HF_TOKEN environment variable, or log in once with "
                        "`hf auth login`; then push again. (The token is read only; it is never printed or written.)")
    return token


def push_folder(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload a built dataset folder to the Hub dataset repository `repo_id`; returns its URL.

    Uses `HfApi.upload_large_folder` (resumable, multi-commit) where this `huggingface_hub` has it;
    from `huggingface_hub` 2.x on, `upload_folder` itself is the streamed, resumable multi-commit upload.
    """
    folder = Path(folder)
    if not _REPO_ID.match(repo_id or ""):
        raise PushError(f"`repo` {repo_id!r} is not a Hub repository id; use ORG/NAME (e.g. my-org/codecfake).")
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
        raise PushError(f"`folder` {str(folder)!r} is not a built dataset folder (README.md and data/ expected); "
                        "build it first with `python -m builder build`.")
    token = resolve_token(token)
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        upload_large_folder = getattr(api, "upload_large_folder", None)
        if upload_large_folder is not None:
            upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", private=private,
                                ignore_patterns=IGNORE_PATTERNS)
        else:
            api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                              ignore_patterns=IGNORE_PATTERNS, commit_message="Upload CodecFake dataset")
    except (HfHubHTTPError, OSError, ValueError) as error:
        message = str(error).replace(token, "***")  # never echo the token, even inside a server message
        raise PushError(f"push of {folder} to {repo_id} failed: {message.splitlines()[0] if message else error!r}. "
                        "Run the same command again to resume.") from None
    url = f"https://huggingface.co/datasets/{repo_id}"
    logger.info("pushed %s to %s", folder, url)
    return url

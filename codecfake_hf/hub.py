"""The Hub side of a dataset folder: its dataset card (YAML configs, dataset_info, codecs, counts) and the push.

The card is made from the folder itself (the Parquet shards' row counts and feature metadata), so
what it declares is what `load_dataset` finds, on the local folder and on the Hub alike.
(Model cards live in `codecfake_hf.modelcard`.)
"""

from __future__ import annotations

import fnmatch
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError
from tqdm.auto import tqdm

from . import redact
from .card_examples import CardExamples, write_examples
from .codecs import registry
from .errors import CodecFakeError
from .files import write_text_atomic
from .names import ALL_CONDITIONS_CONFIG, BadNameError, check_part, check_split
from .recipe import MATCHED
from .recipe import describe as describe_recipe
from .schema import (
    CLEAN,
    DATA_DIR,
    FEATURES,
    GENUINE,
    LABELS,
    STATE_DIR,
    codec_of,
    condition_of,
    condition_part,
    release_taxonomy,
    schema_table,
)
from .splits import split_sort_key
from .token_scan import find_token

logger = logging.getLogger(__name__)

ALL_CONFIG = "all"
REPO_PLACEHOLDER = "ORG/NAME"  # the card's loading snippet until `push` fills the repository id in
# Never uploaded: the build's own state (plan, lock, staging) and the upload's resume cache.
IGNORE_PATTERNS = [f"{STATE_DIR}/**", ".cache/**", "*.tmp"]
# A model folder also keeps the Trainer's checkpoints and TensorBoard runs local, as Trainer's push does.
MODEL_IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "runs/**"]
# The Trainer pickles its arguments here, `hub_token` included: uploaded only when proven token-free.
TRAINING_ARGS_FILE = "training_args.bin"
REPO_URL_PREFIX = {"dataset": "datasets/", "model": "", "space": "spaces/"}  # a repo's page under the endpoint
# Shards uploaded and removed from a dataset folder (`builder build --push_to`): their path in the folder (as if
# present) -> (rows, bytes of uncompressed data), as recorded from the footer before the upload.
RemoteShards = Mapping[Path, tuple[int, int]]
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_MODEL_REPO_ID = re.compile(r"^([\w.-]+/)?[\w.-]+$")

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
        genuine_sample_rate (int | None): the rate of the genuine rows.
        recipe (str | None): what the codecs were fed (`codecfake_hf.recipe`); None: `matched`.
        precisions (dict[str, str]): codec -> precision, for codecs not run in exact fp32.
        seeds (dict[str, int]): random-weight codec -> the seed its weights were drawn from.
        paper_split (bool): the splits are the CodecFake paper's (else a user's speaker -> split file).
        split_rule (str): how the split was chosen: `paper`, `file`, or `ratios A,B,C seed N`; empty: from
            `paper_split`.
        random_weights_requested (bool): random weights were the user's choice (`random_weights=True`), not a
            fallback for weights that could not be reached.
        pretty_name (str): the card's title.
        languages (dict[str, dict[str, int]]): language code (`""`: not stated) -> split -> its speakers, from the
            rows' `language`; the card shows it where the rows hold more than one language.
        conditions (dict[str, dict[int, list[dict]]] | None): channel condition -> input rate -> `channels.describe()`
            of it at that rate (encoder, library versions, parameters, delay); None: from the parts under conditions
            (`condition_facts`, at the rates of their rows).
    """

    parts: list[str]
    speakers: dict[str, list[str]]
    source: dict[str, str]
    random_weight_codecs: list[str] = field(default_factory=list)
    imported: bool = False
    notes: list[str] = field(default_factory=list)
    genuine_sample_rate: int | None = None
    recipe: str | None = None
    precisions: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    paper_split: bool = True
    split_rule: str = ""
    random_weights_requested: bool = False
    pretty_name: str = "CodecFake"
    languages: dict[str, dict[str, int]] = field(default_factory=dict)
    conditions: dict[str, dict[int, list[dict]]] | None = None


# Reading the folder


def part_splits(folder: Path, part: str, remote: RemoteShards | None = None) -> list[str]:
    """The splits of `part`'s shards in `folder` (from their file names; names that are not split names are
    not the builder's and are ignored); `remote`: shards uploaded and no longer in the folder, counted too."""
    names = {p.name.split("-", 1)[0] for p in _glob_files(folder, f"{DATA_DIR}/{part}/*.parquet", remote)}
    return sorted((name for name in names if _is_split(name)), key=split_sort_key)


def _is_split(name: str) -> bool:
    try:
        check_split(name, "a shard")
    except BadNameError:
        return False
    return True


def count(files: Sequence[Path], remote: RemoteShards | None = None) -> tuple[int, int]:
    """(rows, bytes of uncompressed data) of Parquet files, from their footers only (or, for a shard of `remote`,
    from what was recorded of its footer before it was uploaded)."""
    rows = size = 0
    for path in files:
        if remote and path in remote:
            rows, size = rows + remote[path][0], size + remote[path][1]
            continue
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return rows, size


def config_files(folder: Path, parts: Sequence[str], remote: RemoteShards | None = None
                 ) -> dict[str, dict[str, list[str]]]:
    """{config: {split: [globs]}}: `all` lists every clean part; each codec lists itself plus genuine.

    A part under a channel condition (`<codec>@<condition>`) is a config of its own that lists itself plus
    `genuine@<condition>` (the genuine rows through the same channel), as a clean codec's lists genuine;
    `genuine@<condition>` lists its own rows; `all-conditions` (only where there are such parts) lists every part,
    clean and under each condition: `all` stays the clean benchmark it is without conditions. Shards uploaded
    and gone from the folder (`remote`) count as present.

    Splits are those where the config's own part has rows (a codec config without genuine rows
    still loads; a split where only genuine exists is not declared for a codec). A split whose shards
    hold no row at all (every utterance of it skipped) is declared nowhere: `load_dataset` cannot read
    a split of empty files. Part and split names are checked (`names`): no glob leaves `data/<part>/`.
    """
    for part in parts:
        check_part(part, "a part of the card")

    def filled(part: str) -> list[str]:
        return [split for split in part_splits(folder, part, remote)
                if count(_glob_files(folder, f"data/{part}/{split}-*.parquet", remote), remote)[0] > 0]

    configs: dict[str, dict[str, list[str]]] = {ALL_CONFIG: {}}
    splits = {part: filled(part) for part in parts}
    conditioned = any(condition_of(part) != CLEAN for part in parts)
    for part in parts:
        for split in splits[part]:
            for name in ([ALL_CONFIG] if condition_of(part) == CLEAN else []) + (
                    [ALL_CONDITIONS_CONFIG] if conditioned else []):
                configs.setdefault(name, {}).setdefault(split, []).append(f"data/{part}/{split}-*.parquet")
    for part in parts:
        if part == GENUINE:
            continue
        genuine = condition_part(GENUINE, condition_of(part))  # the genuine rows through the same channel
        paired = set(splits.get(genuine, [])) if codec_of(part) != GENUINE else set()
        configs[part] = {
            split: ([f"data/{genuine}/{split}-*.parquet"] if split in paired else [])
            + [f"data/{part}/{split}-*.parquet"]
            for split in splits[part]
        }
    for name, table in configs.items():
        configs[name] = dict(sorted(table.items(), key=lambda kv: split_sort_key(kv[0])))
    return configs


def _glob_files(folder: Path, pattern: str, remote: RemoteShards | None = None) -> list[Path]:
    uploaded = {path for path in remote or () if fnmatch.fnmatch(path.relative_to(folder).as_posix(), pattern)}
    return sorted(set(folder.glob(pattern)) | uploaded)


# The card


def build_card(folder: str | Path, info: DatasetCardInfo, examples: CardExamples | None = None, *,
               remote: RemoteShards | None = None) -> DatasetCard:
    """The dataset card of `folder` (not written; see `write_dataset_card`); `examples`: the listening examples
    and spectrogram grid it shows (`card_examples.write_examples`); `remote`: shards already uploaded and removed
    from the folder (`builder build --push_to`), with their rows and data bytes, described as if present."""
    folder = Path(folder)
    remote = dict(remote or {})
    configs = config_files(folder, info.parts, remote)
    shards = _glob_files(folder, f"data/{info.parts[0]}/*.parquet", remote)
    if not shards:
        raise CodecFakeError(f"{folder}: no Parquet shards under data/{info.parts[0]}/; nothing to describe.")
    local = next((path for path in shards if path not in remote), None)
    # Every shard the builder writes has the schema's features (`builder.dataset.write_shard`).
    features = datasets.Features.from_arrow_schema(pq.read_schema(local)) if local is not None else FEATURES
    counts: dict[str, dict[str, int]] = {}
    infos = DatasetInfosDict()
    for name, table in configs.items():
        split_dict = datasets.SplitDict()
        counts[name] = {}
        for split, globs in table.items():
            rows, size = count([f for g in globs for f in _glob_files(folder, g, remote)], remote)
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
        license=info.source.get("license") or "unknown",
        license_name=info.source.get("license_name"),
        license_link=info.source.get("license_link"),
        language=info.source.get("language") or None,
        source_datasets=info.source.get("source_datasets") or None,
        task_categories=["audio-classification"],
        tags=["audio", "anti-spoofing", "deepfake-detection", "speech", "neural-audio-codec", "codecfake"],
        size_categories=[_size_category(sum(counts[ALL_CONFIG].values()))],
    )
    metadata.to_dataset_card_data(card_data)
    infos.to_dataset_card_data(card_data)
    if info.conditions is None:
        info = replace(info, conditions=condition_facts(folder, info.parts))
    body = _body(info, counts, features, examples)
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def condition_facts(folder: Path, parts: Sequence[str]) -> dict[str, dict[int, list[dict]]]:
    """{condition: {input rate: `channels.describe(condition, rate)`}} of the parts under channel conditions among
    `parts`: the rates are those of the parts' rows (a condition's channel rate, and so its delay, follows its input's
    rate), read from the first row of each part's first shard."""
    facts: dict[str, dict[int, list[dict]]] = {}
    for part in parts:
        condition = condition_of(part)
        if condition == CLEAN:
            continue
        rates = facts.setdefault(condition, {})
        shard = next(iter(_glob_files(folder, f"data/{part}/*.parquet")), None)
        rate = _first_rate(shard) if shard is not None else None
        if rate is not None and rate not in rates:
            from . import channels  # here: PyAV is imported only for a folder with conditions

            rates[rate] = channels.describe(condition, rate)
    return {condition: dict(sorted(rates.items())) for condition, rates in facts.items()}


def _first_rate(shard: Path) -> int | None:
    """The rate of the first row of a shard (None: no row)."""
    import soundfile as sf

    for batch in pq.ParquetFile(shard).iter_batches(batch_size=1, columns=["audio"]):
        for row in batch.to_pylist():
            return int(sf.info(io.BytesIO(row["audio"]["bytes"])).samplerate)
    return None


def write_dataset_card(folder: str | Path, info: DatasetCardInfo) -> Path:
    """Write `folder/README.md` atomically (temp name, then rename), with its examples (`examples/`: two
    utterances' audio in every part and their spectrogram grid), and return its path."""
    folder = Path(folder)
    card = build_card(folder, info, write_examples(folder, info.parts))
    path = write_text_atomic(folder / "README.md", str(card))
    logger.info("wrote %s", path)
    return path


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def _body(info: DatasetCardInfo, counts: dict[str, dict[str, int]], features: datasets.Features,
          examples: CardExamples | None = None) -> str:
    codec_parts = [p for p in info.parts if p != GENUINE and condition_of(p) == CLEAN]
    first = codec_parts[0] if codec_parts else ALL_CONFIG
    splits = sorted({s for table in counts.values() for s in table}, key=split_sort_key)
    lines = [
        f"# {info.pretty_name}",
        "",
        "Codec-resynthesised speech for training and testing anti-spoofing (deepfake detection) models, as in the "
        "CodecFake paper (Wu, Tseng, Lee, Interspeech 2024): genuine utterances and what neural audio codecs "
        f"made of them. Genuine speech: {info.source.get('description') or 'see below'}"
        + _language_words(info.source.get("language")) + ".",
        "",
    ]
    if info.random_weight_codecs:
        why = ("as the build was asked to (`--random_weights`, a smoke run)" if info.random_weights_requested
               else "because the official weights could not be reached")
        lines += [
            "> **Smoke-test data.** These codecs were built with **random weights** (their official "
            f"architecture, not their trained checkpoints), {why}: "
            f"{', '.join(f'`{c}`' for c in info.random_weight_codecs)}. Their rows are noise-like, not real "
            "codec fakes: do not train or evaluate detectors on them."
            + (f" The weights were drawn from a SHA-256 of each codec's name and seed "
               f"{', '.join(sorted({str(v) for v in info.seeds.values()}))}, so a rebuild gives the same rows."
               if info.seeds else ""),
            "",
        ]
    example_split = "test" if "test" in splits else splits[0]
    lines += [
        "## How to load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{REPO_PLACEHOLDER}", "{first}", split="{example_split}")   # or a local folder in '
        "this layout",
        "row = ds[0]",
        f'row["audio"]  # decoded at the file\'s own rate; row["label"]: 0 = {LABELS[0]}, 1 = {LABELS[1]}',
        "```",
        "",
        f"Configs: one per codec (that codec's rows plus the genuine rows of the same split; genuine audio is "
        f"stored once, under `data/{GENUINE}/`), and `{ALL_CONFIG}` (the default: every row"
        + (" that went through no channel condition; see Channel conditions below)." if info.conditions else ")."),
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
    lines += _conditions_section(info)
    if examples is not None:
        lines += _examples_section(examples, info.parts)
    lines += _rate_changes(codec_parts, info)
    lines += ["## Splits", "", f"Speaker-disjoint (every speaker's utterances are in one split), by "
              f"{_split_words(info)}.", ""]
    for split, speakers in info.speakers.items():
        shown = ", ".join(speakers[:20]) + (f", … ({len(speakers)} speakers)" if len(speakers) > 20 else "")
        lines.append(f"- `{split}`: {shown}")
    lines += _language_table(info.languages, list(info.speakers))
    lines += ["", "## Schema", "", *schema_table(features), "", "## Notes", ""]
    lines += _notes(info)
    lines += ["", "## Risks and intended use", "",
              "This is deepfake speech: every row but the genuine ones is a codec's imitation of a real speaker's "
              "voice. It is meant for training and testing anti-spoofing (deepfake detection) models and for "
              "studying codec artefacts. Do not use it to impersonate the speakers or to build systems that "
              "deceive people; keep the speakers' rights under the source's licence in mind. A detector trained "
              "on these codecs and speakers can fail on other codecs, generators, languages and channels: "
              "evaluate it on the conditions it will meet.", "",
              "## Papers", "",
              "- CodecFake (Wu, Tseng, Lee, Interspeech 2024): https://arxiv.org/abs/2406.07237"]
    if info.source.get("taxonomy") or "quantizer" in features:
        lines.append("- CodecFake+ and its codec taxonomy (Chen et al. 2025): https://arxiv.org/abs/2501.08238")
    license = info.source.get("license") or "unknown"
    if info.source.get("license_name"):
        license = f"{license} ([{info.source['license_name']}]({info.source.get('license_link')}))"
    elif license == "unknown":
        license = ("not stated: the source gave none; rebuild with `--license ID` (a Hub licence id) once you "
                   "know the source's")
    lines += ["", "## License and attribution", "",
              f"License: {license}. " + (info.source.get("attribution") or "See the source dataset's license."),
              *_weight_licences(codec_parts, info),
              "", "## Citation", "", "```bibtex", CODECFAKE_CITATION]
    if info.source.get("citation"):
        lines += ["", info.source["citation"]]
    lines += ["```", ""]
    return "\n".join(lines)


def _weight_licences(codec_parts: Sequence[str], info: DatasetCardInfo) -> list[str]:
    """The licences of the codec weights that made the rows, each with its configs: the fakes are derived from
    those models, whose terms (non-commercial ones among them) may bind the data too."""
    if info.imported:
        return []
    by_licence: dict[str, list[str]] = {}
    for name in codec_parts:
        if name in registry.names():
            by_licence.setdefault(registry.spec(name).license or "not stated", []).append(f"`{name}`")
    if not by_licence:
        return []
    lines = ["", "The fake rows were made with these codec weights, under their own licences (a non-commercial "
             "licence of a codec's weights may restrict what its rows can be used for):", ""]
    lines += [f"- {licence}: {', '.join(names)}" for licence, names in sorted(by_licence.items())]
    if len(by_licence) > 1:
        lines += ["", f"This build mixes {len(by_licence)} weight licences; check each config's terms before use."]
    return lines


def _conditions_section(info: DatasetCardInfo) -> list[str]:
    """The card's "Channel conditions": what each condition's rows went through, exactly (encoder, libraries,
    parameters, the channel's rate and the delay trimmed at each input rate of the build)."""
    if not info.conditions:
        return []
    listed = ", ".join(f"`{c}`" for c in info.conditions)
    lines = ["## Channel conditions", "",
             f"Every part was also passed through these channels after the codec: {listed}. Genuine rows go "
             "through the same channel as the fakes, so a detector cannot tell them apart by the channel. Config "
             "`<codec>@<condition>` holds that codec's rows under the condition together with the genuine rows under "
             f"it (as each codec's config pairs its rows with `{GENUINE}`'s); `genuine@<condition>` holds the genuine "
             "rows under it alone; "
             f"`{ALL_CONDITIONS_CONFIG}` holds every row, clean and under each condition; `{ALL_CONFIG}` holds the "
             "clean rows only. The `condition` column names each row's (`clean`: none).", "",
             "Each condition row is made from its clean row (the codec ran once): the clean row's FLAC is decoded, "
             "encoded and decoded by the condition's encoder (FFmpeg's, through PyAV) at the channel's rate, the "
             "encoder's delay is trimmed, and the result is cut or zero-padded to the clean row's length and brought "
             "back to its rate: a condition row has exactly its clean row's samples and rate, aligned with it. It is "
             "stored as 16-bit PCM FLAC, clipped at full scale, genuine and fake alike.", "",
             "| condition | link | what | encoder | bit rate | options | channel rate and delay trimmed, per input "
             "rate | libraries |",
             "|---|---|---|---|---:|---|---|---|"]
    for condition, by_rate in info.conditions.items():
        links = next(iter(by_rate.values()), [])
        for index, link in enumerate(links):
            kind = link.get("kind")
            if kind == "codec":
                encoder = f"`{link['encoder']}` ({link['encoder_name']}), in {link['container']}"
                libraries = f"libavcodec {link['libavcodec']}, PyAV {link['pyav']}"
                rates = "; ".join(f"{rate} Hz → {entries[index]['channel_rate']} Hz, "
                                  f"{entries[index]['delay_samples']} samples" for rate, entries in by_rate.items())
            elif kind == "resample":
                encoder, libraries = "resampler", link.get("resampler", "")
                rates = "; ".join(f"{rate} Hz → {link['channel_rate']} Hz → {rate} Hz" for rate in by_rate)
            else:
                encoder, libraries = f"gain to {link.get('target_lufs')} LUFS (ITU-R BS.1770)", ""
                rates = "—"
            bit_rate = f"{link['bit_rate'] / 1000:g} kbit/s" if link.get("bit_rate") else "—"
            options = ", ".join(f"{k}={v}" for k, v in (link.get("options") or {}).items()) or "—"
            lines.append(f"| `{condition}` | {index + 1}: `{link['condition']}` | {link['description']} | {encoder} | "
                         f"{bit_rate} | {options} | {rates} | {libraries} |")
    return [*lines, ""]


def _examples_section(examples: CardExamples, parts: Sequence[str]) -> list[str]:
    """The card's "Listen and look": the spectrogram grid and a table of links to the example audio files."""
    names = ", ".join(f"`{u}`" for u in examples.utterances)
    lines = ["## Listen and look", "",
             f"Utterances {names} of the `{examples.split}` split, genuine and as each codec resynthesised them: "
             f"their spectrograms (each at its file's own rate), and the audio files themselves in this repository's "
             f"`examples/` folder (the rows' FLAC, unchanged).", "",
             f"![Spectrograms of {names}: genuine and each codec]({examples.grid})", "",
             "| config | " + " | ".join(f"`{u}`" for u in examples.utterances) + " |",
             "|---|" + "---|" * len(examples.utterances)]
    for part in parts:
        files = examples.audio.get(part, {})
        cells = [f"[listen]({files[u]})" if u in files else "—" for u in examples.utterances]
        lines.append(f"| `{part}` | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _language_words(languages: Sequence[str] | None) -> str:
    """`; language: `en`` (or `languages: `en`, `zh``) for the card's first paragraph; empty when none is known."""
    if not languages:
        return ""
    return f"; language{'s' if len(languages) > 1 else ''}: " + ", ".join(f"`{code}`" for code in languages)


def _language_table(languages: dict[str, dict[str, int]], splits: Sequence[str]) -> list[str]:
    """Speakers per language and split, for rows of more than one language."""
    if len(languages) < 2:
        return []
    lines = ["", "Speakers per language and split:", "",
             "| language | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    for code, counts in sorted(languages.items()):
        lines.append(f"| {f'`{code}`' if code else 'not stated'} | "
                     + " | ".join(str(counts.get(split, 0)) for split in splits) + " |")
    return lines


def _split_words(info: DatasetCardInfo) -> str:
    rule = info.split_rule or ("paper" if info.paper_split else "file")
    if rule == "paper":
        return ("the CodecFake paper's split of VCTK (validation p226, p229; test p227, p228; train the other "
                "speakers)")
    if rule.startswith("ratios "):
        ratios, _, seed = rule.removeprefix("ratios ").partition(" seed ")
        shares = ratios.replace(",", "/")
        seed, per_language = seed.removesuffix(" per language"), seed.endswith(" per language")
        return (f"a seeded random split of the source's speakers (train/validation/test shares {shares}, seed {seed}"
                + (", drawn within each language, so that every split holds every language)" if per_language else ")"))
    return "a speaker -> split file given to the build"


def fill_repo_id(folder: str | Path, repo_id: str) -> bool:
    """Put the real repository id into the card's loading snippet (`ORG/NAME` as built); True if it changed."""
    path = Path(folder) / "README.md"
    text = path.read_text()
    filled = text.replace(f'load_dataset("{REPO_PLACEHOLDER}"', f'load_dataset("{repo_id}"')
    if filled != text:
        write_text_atomic(path, filled)
    return filled != text


def _codec_table(codec_parts: Sequence[str], info: DatasetCardInfo) -> str:
    if not codec_parts:
        return "No codec rows yet."
    rows = ["| config | family | sample rate | bitrate | codebooks | hop | quantizer | auxiliary | decoder | backend "
            "| checkpoint | weights | weights licence | output length | notes |",
            "|---|---|---:|---:|---:|---:|---|---|---|---|---|---|---|---|---|"]
    taxonomy = info.source.get("taxonomy") or {}
    for name in codec_parts:
        if name not in registry.names():  # imported from a release with codecs the registry lacks (CodecFake+)
            facts = taxonomy.get(name, {})
            # Our values where the release's spelling is known (CodecFake+: MVQ/SVQ/SQ, None/SD/Dis, Time/Freq),
            # as the rows' taxonomy columns hold them; else the spelling (the rows hold -1, no label).
            ours = release_taxonomy(facts)
            cells = " | ".join(ours.get(key) or str(facts.get(key, "—"))
                               for key in ("quantizer", "auxiliary", "decoder"))
            described = ", ".join(f"{key} {facts[key]}" for key in ("quantizer", "auxiliary", "decoder")
                                  if key in facts)
            rows.append(f"| `{name}` | — | — | — | — | — | {cells} | — | — | original release files | — | — | "
                        f"{'CodecFake+ taxonomy: ' + described if described else 'not in the registry'} |")
            continue
        s = registry.spec(name)
        if info.imported:
            weights = "original release files"
        elif name in info.random_weight_codecs:
            weights = "**random** (smoke run)"
        else:
            weights = "official checkpoint"
        bitrate = "n/a (continuous latents)" if s.quantizer == "continuous" else f"{s.bitrate_kbps:g} kbps"
        # Imported rows keep the release's taxonomy labels (CodecFake+'s); the card shows what the rows hold.
        release = release_taxonomy(taxonomy.get(name)) if info.imported else {}
        cells = " | ".join(release.get(key, getattr(s, key)) for key in ("quantizer", "auxiliary", "decoder"))
        differ = [f"{key} {release[key]} (the registry: {getattr(s, key)})" for key in release
                  if release[key] != getattr(s, key)]
        notes = s.notes + (f" Imported rows keep the release's label: {', '.join(differ)}." if differ else "")
        # A decoder that synthesises at another rate than it is fed (NeuCodec): its rows are at the output rate.
        rate = (f"{s.sample_rate} Hz in, {s.output_rate} Hz out" if s.output_rate and s.output_rate != s.sample_rate
                else f"{s.sample_rate} Hz")
        rows.append(f"| `{s.name}` | {s.family} | {rate} | {bitrate} | {s.n_codebooks} | {s.hop_length} | "
                    f"{cells} | {s.backend} | "
                    f"{_weights_link(s)} | {weights} | {s.license or 'not stated'} | "
                    f"{s.length_rule} | {notes} |")
    return "\n".join(rows)


def _weights_link(s: registry.CodecSpec) -> str:
    """The official weights' home: the Hub repository, or the page a release outside the Hub is published on."""
    if s.hub_repo is None:
        return f"[published outside the Hub]({s.weights_page})"
    return f"[{s.hub_repo}](https://huggingface.co/{s.hub_repo})"


def _rate_changes(codec_parts: Sequence[str], info: DatasetCardInfo) -> list[str]:
    """A line for the codecs whose decoder synthesises at another rate than it is fed: their rows are at that rate."""
    if info.imported:
        return []
    changed = [registry.spec(name) for name in codec_parts if name in registry.names()]
    changed = [s for s in changed if s.output_rate and s.output_rate != s.sample_rate]
    if not changed:
        return []
    listed = ", ".join(f"`{s.name}` ({s.sample_rate} Hz in, {s.output_rate} Hz out)" for s in changed)
    return [f"Decoders that synthesise at another rate than they are fed: {listed}. Their rows are stored at the "
            "decoder's rate (each row decodes at its file's own rate), and their output length is counted in "
            "output samples.", ""]


def _notes(info: DatasetCardInfo) -> list[str]:
    notes = []
    if info.imported:
        notes.append("- Rows are the release's files in FLAC: 16-bit PCM for 16-bit files (as the original CodecFake "
                     "release's are) and 24-bit PCM for files with more bits; lossless for 16- and 24-bit files, "
                     "while a float file keeps 24 bits (what lies below, about −144 dBFS, is lost).")
    else:
        notes.append(_rate_note(info.genuine_sample_rate, info.recipe))
        if info.precisions:
            listed = ", ".join(f"`{c}` in {p}" for c, p in info.precisions.items())
            notes.append(
                f"- Precision: {listed}; the other codecs in exact fp32 (TF32 off). tf32 runs CUDA matmuls and "
                "convolutions with 10-bit mantissa inputs, bf16 the convolution, linear and recurrent layers in "
                "bfloat16: their rows deviate from fp32's (codecfake-hf's bench/precision.py measures by how much, "
                "per codec) and may depend on how utterances were batched.")
        notes += [
            "- Fakes are clamped to ±0.99 and quantised to 16-bit PCM, as the CodecFake pipeline did.",
            "- Genuine rows keep their source's precision in FLAC: 16-bit PCM from a 16-bit source, 24-bit PCM "
            "from a 24-bit or float source. At the source's own rate this is lossless for 16- and 24-bit files; a "
            "float file keeps 24 bits (what lies below, about −144 dBFS, is lost; samples beyond full scale are "
            "clipped, and listed below when any were); resampled audio is quantised to that same depth. The codecs "
            "resynthesise exactly these genuine rows.",
            "- Utterances that could not be read or that a codec rejected (corrupt, silent, too short) are left out "
            "and were reported by the build.",
        ]
    notes += [f"- {note}" for note in info.notes]
    return notes


def _rate_note(genuine_sample_rate: int | None, recipe: str | None) -> str:
    """The genuine rows' rate and what the codecs were fed, beside what the CodecFake pipeline fed them."""
    text = "- " + describe_recipe(recipe or MATCHED, genuine_sample_rate)
    if (recipe or MATCHED) == MATCHED and genuine_sample_rate is not None:
        text += (" To keep each file's own rate (48 kHz for VCTK) for the genuine rows, build with "
                 "`genuine_sample_rate=None` (`--genuine_sample_rate 0` on `python -m builder build`).")
    return text


# Pushing: the one path for datasets (builder push) and models (eval finetune/card/protocol)


def resolve_token(token: str | None = None) -> str:
    """The token: `token`, else `HF_TOKEN`, else the saved login (`hf auth login`); never printed."""
    token = token or get_token()
    if not token:
        raise PushError("No Hugging Face token found. Set the HF_TOKEN environment variable, or log in once with "
                        "`hf auth login`; then push again. (The token is read only; it is never printed or written.)")
    redact.add_secret(token)
    return token


def push(folder: str | Path, repo_id: str, *, repo_type: str = "dataset", private: bool | None = None,
         token: str | None = None, commit_message: str | None = None, endpoint: str | None = None) -> str:
    """Upload `folder` to the Hub repository `repo_id` (a dataset, a model or a Space); returns the repository's URL.

    Never uploaded: the build's state (`.codecfake/`), upload caches, temp files, and for models the
    Trainer's checkpoint folders and `training_args.bin` unless it is proven token-free (the Trainer
    pickles its arguments, `hub_token` included). Every file that would be uploaded is searched for
    the token in use (whatever its shape) and for anything shaped like a Hub token, every byte of it
    and, in a Parquet file, every decoded value (`token_scan`); a file that holds one is refused
    before anything is sent. The token is redacted from every log line and message; a refusal (401,
    403, 404) or an unreachable endpoint ends in one `PushError` naming the cause and the fix.

    Args:
        folder (str | Path): the folder to upload (a built dataset folder, a model folder, or a Space folder
            that `codecfake-eval app --space_dir` wrote).
        repo_id (str): `ORG/NAME` (a model or Space may be `NAME`: the token's user namespace).
        repo_type (str): `dataset`, `model` or `space` (a Gradio Space).
        private (bool | None): create the repository private; None: the Hub's default.
        token (str | None): the token; None: `HF_TOKEN` or the saved login.
        commit_message (str | None): the commit's message.
        endpoint (str | None): the Hub's URL; None: `HF_ENDPOINT` or huggingface.co.
    """
    redact.install()
    folder = Path(folder)
    if repo_type not in REPO_URL_PREFIX:
        raise PushError(f"`repo_type` {repo_type!r}: choose `dataset`, `model` or `space`.")
    pattern = _REPO_ID if repo_type == "dataset" else _MODEL_REPO_ID
    if not pattern.match(repo_id or ""):
        raise PushError(f"`repo` {repo_id!r} is not a Hub repository id; use ORG/NAME (e.g. my-org/codecfake).")
    if repo_type == "dataset" and (not (folder / "README.md").is_file() or not (folder / "data").is_dir()):
        raise PushError(f"`folder` {str(folder)!r} is not a built dataset folder (README.md and data/ expected); "
                        "build it first with `python -m builder build`.")
    if repo_type == "space" and not (folder / "app.py").is_file():
        raise PushError(f"`folder` {str(folder)!r} is not a Space folder (app.py expected); write it first with "
                        "`codecfake-eval app --model_name_or_path MODEL --space_dir FOLDER`.")
    if not folder.is_dir():
        raise PushError(f"`folder` {str(folder)!r} is not a folder; pass the model folder that finetune wrote.")
    token = resolve_token(token)
    ignore = [*IGNORE_PATTERNS, *(MODEL_IGNORE_PATTERNS if repo_type != "dataset" else [])]
    ignore += _unsafe_files(folder, token, ignore)
    api = HfApi(endpoint=endpoint, token=token)
    where = endpoint or constants.ENDPOINT
    message = commit_message or f"Upload CodecFake {repo_type}"
    try:
        created = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True,
                                  **({"space_sdk": "gradio"} if repo_type == "space" else {}))
        repo_id = getattr(created, "repo_id", None) or repo_id
        if repo_type == "dataset" and fill_repo_id(folder, repo_id):
            logger.info("card: the loading snippet now names %s", repo_id)
        upload_large_folder = getattr(api, "upload_large_folder", None)
        if repo_type == "dataset" and upload_large_folder is not None:
            upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type=repo_type, private=private,
                                ignore_patterns=ignore)
        else:
            api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type=repo_type,
                              ignore_patterns=ignore, commit_message=message)
    except Exception as error:  # HTTP refusals, httpx/requests network errors, OSError: one message each
        raise PushError(push_error_message(error, folder, repo_id, repo_type, where)) from None
    url = f"{where.rstrip('/')}/{REPO_URL_PREFIX[repo_type]}{repo_id}"
    if where.rstrip("/") == constants.ENDPOINT.rstrip("/"):
        url = f"https://huggingface.co/{REPO_URL_PREFIX[repo_type]}{repo_id}"
    logger.info("pushed %s to %s", folder, url)
    return url


def push_folder(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload a built dataset folder to the Hub dataset repository `repo_id` (see `push`); returns its URL."""
    return push(folder, repo_id, repo_type="dataset", private=private, token=token,
                commit_message="Upload CodecFake dataset")


def push_error_message(error: BaseException, folder: Path, repo_id: str, repo_type: str, endpoint: str) -> str:
    """One line naming the cause (401, 403, 404, network, other) and the fix; tokens redacted."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    what = f"push of {folder} to the {repo_type} repository {repo_id}"
    if isinstance(error, HfHubHTTPError) and status == 401:
        text = (f"{what} failed: the Hub refused the token (401 Unauthorized: invalid or expired). Log in again "
                "with `hf auth login` or set HF_TOKEN to a valid token, then run the same command.")
    elif isinstance(error, HfHubHTTPError) and status == 403:
        text = (f"{what} failed: the token may not write there (403 Forbidden). Use a token with write access "
                f"to {repo_id.split('/')[0]!r}, or push to your own namespace.")
    elif isinstance(error, HfHubHTTPError) and status == 404:
        text = (f"{what} failed: not found (404) at {endpoint}. Check the repository id and the endpoint "
                "(HF_ENDPOINT).")
    elif isinstance(error, HfHubHTTPError):
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        text = f"{what} failed: the Hub answered HTTP {status} ({first}). Run the same command again to resume."
    elif _is_network_error(error):
        text = (f"{what} failed: the Hub at {endpoint} cannot be reached ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else 'no answer'}). Check the network and HF_ENDPOINT, "
                "then run the same command again to resume.")
    else:
        first = str(error).splitlines()[0] if str(error) else ""
        text = f"{what} failed: {type(error).__name__}: {first}. Run the same command again to resume."
    return redact.redact(text)


def _is_network_error(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"TransportError", "NetworkError", "ConnectError", "ConnectionError", "TimeoutException",
                         "OfflineModeIsEnabled"}) or isinstance(error, (ConnectionError, TimeoutError))


def _unsafe_files(folder: Path, token: str, ignore: Sequence[str]) -> list[str]:
    """Files that would be uploaded but hold a token (`token_scan.find_token`: every byte of every file, any
    size, Parquet values decoded): `training_args.bin` is left out (with a warning); any other such file stops
    the push."""
    left_out = []
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in ignore):
            files.append((path, relative))
    total = sum(path.stat().st_size for path, _ in files)
    with tqdm(total=total, unit="B", unit_scale=True, desc="searching for tokens", disable=total < 1 << 30) as bar:
        for path, relative in files:
            if not find_token(path, token, progress=bar):
                continue
            if path.name == TRAINING_ARGS_FILE:
                logger.warning("%s holds a Hub token: not uploaded", relative)
                left_out.append(relative)
                continue
            raise PushError(f"{path} holds a Hub token (the token in use, or one shaped `hf_...`); nothing was "
                            "uploaded. Remove the token from the file (or the file from the folder), then push again.")
    return left_out

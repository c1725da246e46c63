"""Any audio dataset of the Hugging Face Hub (or a local folder `datasets` can load): `hf:ID[:config][:split]`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from ..audio import check_rate, check_waveform
from .base import Corpus, CorpusError, Record

# Column names tried, in order, when the caller names none (the common ones of Hub speech sets).
SPEAKER_COLUMNS = ("speaker_id", "speaker", "client_id", "spk_id", "speaker_name")
TEXT_COLUMNS = ("text", "sentence", "transcription", "transcript", "normalized_text")
ID_COLUMNS = ("id", "utterance_id", "file", "path", "segment_id")
GENDER_COLUMNS = ("gender", "sex")
LANGUAGE_COLUMNS = ("language", "locale", "lang")  # Common Voice: `locale`
# Configs named for their language (MLS, facebook/multilingual_librispeech: `german`, ...) -> BCP-47 codes.
CONFIG_LANGUAGES = {"dutch": "nl", "english": "en", "french": "fr", "german": "de", "italian": "it",
                    "polish": "pl", "portuguese": "pt", "spanish": "es", "mandarin": "zh", "chinese": "zh"}
# A config that is itself a language code (`de`, `zh-CN`, `pt_br`): taken as the rows' language.
LANGUAGE_CODE = re.compile(r"[a-z]{2}([-_][A-Za-z]{2,4})?")
# Splits that repeat rows of `train` (MLS's limited-supervision subsets): left out when every split is read.
SUBSET_SPLITS = ("9_hours", "1_hours", "train.9h", "train.1h")


def config_language(config: str | None) -> str:
    """The language a config's name states (`german` -> `de`, `zh-CN` -> `zh-CN`), else empty."""
    if not config:
        return ""
    if config.lower() in CONFIG_LANGUAGES:
        return CONFIG_LANGUAGES[config.lower()]
    return config.replace("_", "-") if LANGUAGE_CODE.fullmatch(config) else ""


class HubDataset(Corpus):
    """The rows of a `datasets` dataset, decoded through `datasets`' own `Audio` feature.

    Args:
        dataset_id (str): a Hub dataset id (`ORG/NAME`) or a local folder `load_dataset` reads.
        config (str | None): its config; None for the default.
        split (str | None): its split; None for every split, concatenated (our own speaker-disjoint
            splits are made afterwards).
        audio_column (str | None): the audio column; None: the first column of type `Audio`.
        speaker_column (str | None): the speaker column; None: the first of `SPEAKER_COLUMNS` present,
            else every row is speaker `unknown`.
    """

    kind = "hf"

    def __init__(self, dataset_id: str, config: str | None = None, split: str | None = None,
                 audio_column: str | None = None, speaker_column: str | None = None):
        location = ":".join([dataset_id, config or "", split or ""]).rstrip(":")
        super().__init__(location)
        self.dataset_id, self.config, self.split = dataset_id, config, split
        self.dataset = self._load()
        self.audio_column = self._audio_column(audio_column)
        self.speaker_column = self._column(speaker_column, SPEAKER_COLUMNS, "speaker_column")
        self.text_column = self._column(None, TEXT_COLUMNS, "text")
        self.id_column = self._column(None, ID_COLUMNS, "id")
        self.gender_column = self._column(None, GENDER_COLUMNS, "gender")
        self.language_column = self._column(None, LANGUAGE_COLUMNS, "language")
        self.language = config_language(config)  # rows without a language column of their own
        self.description = f"the Hugging Face dataset `{location}`"

    def _load(self, **options):
        import datasets

        try:
            loaded = datasets.load_dataset(self.dataset_id, self.config, split=self.split, **options)
        except Exception as error:  # datasets raises many types (FileNotFound, ConnectionError, ValueError...)
            raise CorpusError(
                f"`hf:` source {self.location!r} could not be loaded ({type(error).__name__}: "
                f"{str(error).splitlines()[0][:300] if str(error) else ''}). Check the id, config and split, "
                "and that the Hub (or its cache, with HF_HUB_OFFLINE=1) can be reached."
            ) from error
        if isinstance(loaded, datasets.DatasetDict):
            # MLS's `9_hours`/`1_hours` are subsets of its `train`: read twice, they would be rows twice.
            names = [n for n in sorted(loaded) if not (n in SUBSET_SPLITS and "train" in loaded)]
            loaded = datasets.concatenate_datasets([loaded[name] for name in names])
        return loaded

    def _audio_column(self, name: str | None) -> str:
        import datasets

        audio = [c for c, f in self.dataset.features.items() if isinstance(f, datasets.Audio)]
        if name is not None:
            self._column(name, (), "audio_column")
            if name not in audio:  # a string or id column would fail row by row, far from the flag
                raise CorpusError(f"`audio_column` {name!r} of {self.location!r} is {self.dataset.features[name]}, not "
                                  f"an Audio column; its Audio columns: {', '.join(audio) or 'none'}.")
            return name
        if not audio:
            raise CorpusError(f"`hf:` source {self.location!r} has no Audio column "
                              f"(columns: {', '.join(self.dataset.column_names)}); name one with `audio_column`.")
        return audio[0]

    def _column(self, name: str | None, candidates: tuple[str, ...], argument: str) -> str | None:
        columns = self.dataset.column_names
        if name is not None:
            if name not in columns:
                raise CorpusError(f"`{argument}` {name!r} is not a column of {self.location!r} "
                                  f"(columns: {', '.join(columns)}).")
            return name
        return next((c for c in candidates if c in columns), None)

    def records(self) -> list[Record]:
        return self._records_from(self.dataset.remove_columns(self.audio_column))

    def _records_from(self, rows: Iterable[dict]) -> list[Record]:
        """The records of the source's metadata rows (no audio column), in their order; `index` is the row's
        position (`hfstream` reads the same rows as a stream, so both give the same records)."""
        records = []
        for index, row in enumerate(rows):
            speaker = str(row[self.speaker_column]) if self.speaker_column else "unknown"
            raw_id = str(row[self.id_column]) if self.id_column else f"{speaker}_{index:06d}"
            # Ids become parts of row ids (`<codec>+<id>`): keep them to one path-free token.
            utt = re.sub(r"[^\w.-]", "_", raw_id.rsplit("/", 1)[-1].rsplit(".", 1)[0]) or f"{index:06d}"
            records.append(Record(
                utterance_id=utt, speaker_id=speaker, index=index,
                text=str(row[self.text_column] or "") if self.text_column else "",
                gender=str(row[self.gender_column] or "") if self.gender_column else "",
                language=str(row[self.language_column] or "") if self.language_column else self.language,
            ))
        if len({r.utterance_id for r in records}) != len(records):
            records = [replace(r, utterance_id=f"{r.utterance_id}_{r.index:06d}") for r in records]
        return records

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        return decoded_wave(self.dataset[int(record.index)][self.audio_column], record)


def decoded_wave(sample, record: Record) -> tuple[np.ndarray, int]:
    """float32 samples and rate of a decoded `Audio` value (a torchcodec decoder, or an array and its rate)."""
    if hasattr(sample, "get_all_samples"):  # datasets >= 4 decodes to a torchcodec AudioDecoder
        samples = sample.get_all_samples()
        wave, rate = samples.data.numpy().T, int(samples.sample_rate)
    else:
        wave, rate = np.asarray(sample["array"]), int(sample["sampling_rate"])
    return check_waveform(wave, record.utterance_id), check_rate(rate, record.utterance_id)

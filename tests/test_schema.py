"""The dataset schema: rows, ids and the card's table all come from `codecfake_hf.schema.COLUMNS`."""

from __future__ import annotations

import io

import datasets
import numpy as np
import soundfile as sf

from codecfake_hf import schema
from codecfake_hf.corpus import Record


def test_make_row_fills_every_column_in_order_and_round_trips_through_datasets(tmp_path):
    pcm = (1000 * np.sin(np.arange(800) / 7)).astype(np.int16)
    record = Record("p225_273", "p225", text="hello", gender="F", age=23, accent="English", region="Kent")
    row = schema.make_row(record, "encodec_24khz", pcm, 24000)
    assert list(row) == list(schema.FEATURES)
    assert row["id"] == schema.row_id("encodec_24khz", "p225_273") == "encodec_24khz+p225_273"
    assert row["label"] == schema.SPOOF
    genuine = schema.make_row(record, schema.GENUINE, pcm, 16000)
    assert genuine["label"] == schema.BONAFIDE
    # the CodecFake+ taxonomy: the codec's own values, and `bonafide` (class 0) in all three for genuine rows
    assert [row[key] for key in ("quantizer", "auxiliary", "decoder")] == [1, 1, 1]  # multi-codebook, none, time
    assert [genuine[key] for key in ("quantizer", "auxiliary", "decoder")] == [0, 0, 0]
    freq = schema.make_row(record, "funcodec-funcodec_en_libritts-16k-gr8nq32ds320", pcm, 16000)
    assert schema.FEATURES["decoder"].int2str(freq["decoder"]) == "frequency"
    # a codec of an imported release that the registry lacks (CodecFake+'s WavTokenizer): no label (-1)
    other = schema.make_row(record, "WavTokenizer", pcm, 16000)
    assert [other[key] for key in ("quantizer", "auxiliary", "decoder")] == [-1, -1, -1]
    samples, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
    assert rate == 24000 and np.array_equal(samples, pcm)

    path = tmp_path / "shard.parquet"
    datasets.Dataset.from_list([row], features=schema.FEATURES).to_parquet(str(path))
    back = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))
    assert back.features == schema.FEATURES
    assert back.features["label"].int2str(back[0]["label"]) == "spoof"
    assert {k: back[0][k] for k in ("id", "text", "age", "region")} == {
        "id": "encodec_24khz+p225_273", "text": "hello", "age": 23, "region": "Kent"}


def test_card_table_is_generated_from_the_features():
    table = schema.schema_table()
    assert table[:2] == ["| column | type | description |", "|---|---|---|"]
    assert [line.split("|")[1].strip(" `") for line in table[2:]] == list(schema.FEATURES)
    assert '| `label` | `ClassLabel(names=["bonafide", "spoof"])` |' in "\n".join(table)
    assert "| `age` | int32 |" in "\n".join(table)
    # A folder with another column (e.g. a ClassLabel added later) shows it with its own type.
    extra = datasets.Features({**schema.FEATURES, "vocoder": datasets.ClassLabel(names=["gan", "diffusion"])})
    assert schema.schema_table(extra)[-1] == '| `vocoder` | `ClassLabel(names=["gan", "diffusion"])` |  |'
    decoder = '| `decoder` | `ClassLabel(names=["bonafide", "time", "frequency"])` | CodecFake+ taxonomy'
    assert decoder in "\n".join(table)

"""Evaluation on damaged datasets (issue 10's traceback list): labels outside the ClassLabel, a deleted shard."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_eval import run_cli, trainer_flags, write_tiny_codecfake


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_tiny_codecfake(tmp_path_factory.mktemp("faults-codecfake"))


def relabel(shard, value: int) -> None:
    """Rewrite the shard's label column to `value` on every row, keeping `datasets`' feature metadata."""
    table = pq.read_table(shard)
    index = table.schema.get_field_index("label")
    labels = pa.array([value] * table.num_rows, type=table.schema.field("label").type)
    pq.write_table(table.set_column(index, table.schema.field("label"), labels), shard)


@pytest.mark.parametrize("command", ["score", "finetune"])
def test_labels_outside_the_class_label_are_one_message(command, dataset, tmp_path, capsys):
    copy = shutil.copytree(dataset, tmp_path / "copy")
    for split in ("train", "validation", "test"):
        relabel(copy / "data" / "encodec_24khz" / f"{split}-00000-of-00001.parquet", 7)
    if command == "score":
        argv = ["score", "--model_name_or_path", tmp_path / "no-model", "--dataset_name", copy, "--split", "test",
                "--output_dir", tmp_path / "out", "--cache_dir", tmp_path / "cache"]
    else:
        argv = ["finetune", "--dataset_name", copy, "--config_name", tmp_path / "no-model",
                *trainer_flags(tmp_path / "out", tmp_path / "cache")]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert "`--label_column_name label` of " in err and "holds values [7] outside its classes 0..1" in err
    assert "Traceback" not in err and len([line for line in err.splitlines() if line.startswith("error:")]) == 1


def test_a_deleted_shard_is_one_message_naming_the_fix(dataset, tmp_path, capsys):
    copy = shutil.copytree(dataset, tmp_path / "copy")
    (copy / "data" / "genuine" / "test-00000-of-00001.parquet").unlink()
    assert run_cli("score", "--model_name_or_path", tmp_path / "no-model", "--dataset_name", copy, "--split", "test",
                   "--output_dir", tmp_path / "out", "--cache_dir", tmp_path / "cache") == 2
    err = capsys.readouterr().err
    assert "split 'test': its files hold 8 rows where its card declares 12; a shard is missing" in err
    assert "run the same `python -m builder build` again" in err and "Traceback" not in err

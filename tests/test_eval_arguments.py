"""eval's numeric and device flags and an empty saved split: one message before any work (issue 19, item 4).

Reproductions of the second red team: `score --batch_size 0` and `--max_samples -5` ended in tracebacks,
`--max_length_seconds 100000` tiled every row to 1.6e9 samples (6.4 GB a row) and ran out of memory, `--device
cuda` on a machine without CUDA silently scored on the CPU, and a `save_to_disk` dataset with an empty split was
an IndexError. The model is a converted AASIST with random weights (what `convert-aasist` writes).
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
import torch
from test_eval import tiny_codecfake  # noqa: F401 (fixture)

from codecfake_hf.detectors import AasistConfig, AasistForAudioClassification
from eval.__main__ import main as eval_main
from eval.checks import check_window


@pytest.fixture(scope="module")
def aasist_model(tmp_path_factory) -> Path:
    """A converted AASIST folder (random weights), as `eval convert-aasist` writes it."""
    root = tmp_path_factory.mktemp("aasist-model")
    torch.manual_seed(0)
    torch.save(AasistForAudioClassification(AasistConfig()).state_dict(), root / "AASIST.pth")
    assert eval_main(["convert-aasist", "--checkpoint", str(root / "AASIST.pth"), "--output_dir",
                      str(root / "model")]) == 0
    return root / "model"


def score(model: Path, dataset: Path, output: Path, *flags: str) -> int:
    return eval_main(["score", "--model_name_or_path", str(model), "--dataset_name", str(dataset), "--output_dir",
                      str(output), "--no_update_model_card", *flags])


@pytest.mark.parametrize("flags, message", [
    (["--batch_size", "0"], "`--batch_size 0`: give a whole number of at least 1"),
    (["--max_samples", "-5"], "`--max_samples -5`: give a whole number of at least 1"),
    (["--dataloader_num_workers", "-1"], "`--dataloader_num_workers -1`: give a whole number of at least 0"),
    (["--max_length_seconds", "nan"], "`--max_length_seconds nan`: give a number of seconds"),
    (["--max_length_seconds", "-2"], "`--max_length_seconds -2.0`: give a number of seconds"),
])
def test_score_refuses_impossible_numbers_before_any_work(flags, message, aasist_model, tiny_codecfake,  # noqa: F811
                                                         tmp_path, capsys):
    assert score(aasist_model, tiny_codecfake, tmp_path / "scores", *flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "scores").exists()


def test_a_window_too_long_to_tile_is_refused_before_any_row_is_tiled(aasist_model, tiny_codecfake,  # noqa: F811
                                                                      tmp_path, capsys):
    assert score(aasist_model, tiny_codecfake, tmp_path / "scores", "--max_length_seconds", "100000",
                 "--device", "cpu", "--cache_dir", str(tmp_path / "cache")) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the dataset's and the model's progress bars
    assert last.startswith("error: `--max_length_seconds 100000` at 16000 Hz tiles every row to 1,600,000,000 "
                           "samples: a batch of 16 would take 95.4 GiB, above the 1 GiB allowed"), last
    # what real windows need stays far below the bound: CodecFake's 4.0375 s, a whole 30 s clip, batches of 16
    assert check_window(4.0375, 16_000, 16, "--max_length_seconds") == 64_600
    assert check_window(30, 48_000, 16, "--max_length_seconds") == 1_440_000


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_device_cuda_without_cuda_is_refused_not_run_on_the_cpu(aasist_model, tiny_codecfake, tmp_path,  # noqa: F811
                                                                capsys):
    assert score(aasist_model, tiny_codecfake, tmp_path / "scores", "--device", "cuda") == 2
    err = capsys.readouterr().err
    assert "`--device cuda`: CUDA is not available on this machine" in err and err.count("\n") == 1
    assert not (tmp_path / "scores").exists()


def test_an_empty_split_of_a_saved_dataset_is_one_message(aasist_model, tiny_codecfake, tmp_path,  # noqa: F811
                                                          capsys):
    saved = tmp_path / "saved"
    splits = datasets.load_dataset(str(tiny_codecfake), "all", cache_dir=str(tmp_path / "cache"))
    splits["test"] = splits["test"].select([])
    splits.save_to_disk(str(saved))
    assert score(aasist_model, saved, tmp_path / "scores", "--split", "test", "--device", "cpu") == 2
    err = capsys.readouterr().err
    assert f"`--split test`: the split 'test' of {saved} holds no rows; choose a split with rows" in err
    # another split of the same folder still scores: the empty one does not stop it
    assert score(aasist_model, saved, tmp_path / "scores", "--split", "validation", "--device", "cpu") == 0


@pytest.mark.parametrize("flag", ["--max_train_samples", "--max_eval_samples"])
def test_finetune_refuses_a_negative_row_limit(flag, tiny_codecfake, tmp_path, capsys):  # noqa: F811
    code = eval_main(["finetune", "--dataset_name", str(tiny_codecfake), "--detector", "aasist-l", "--output_dir",
                      str(tmp_path / "model"), "--do_train", "--use_cpu", "--report_to", "none", flag, "-3"])
    assert code == 2 and f"`{flag} -3`: give a whole number of at least 1" in capsys.readouterr().err

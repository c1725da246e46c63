"""The CodecFake protocols: fine-tune on some codecs, score on every codec, tabulate the EERs.

Usage:

    python -m eval protocol --protocol paper --dataset_name ORG/codecfake \\
        --model_name_or_path facebook/wav2vec2-base --output_dir runs/paper --num_train_epochs 5

- `paper`: one detector per codec, trained on that codec plus genuine, each scored on every codec: the
  train × test EER matrix of the CodecFake paper (`matrix.md`, `matrix.json`, heat map `matrix.png`);
- `all`: one detector trained on every codec, scored on every codec;
- `leave-one-out`: one detector per codec, trained on all the *other* codecs, so that codec is unseen.

Every run is an ordinary `python -m eval finetune` into `<output_dir>/<run>/` followed by `python -m eval
score` into `<output_dir>/<run>/<test split>/`, so each run's model has its own card, scores and plots.
Every run trains (`--do_train` is implied; `--train false` scores the starting model untrained, and the
matrix, the cards and the output say so).

Cross-dataset: `--test_dataset_name B` (and `--test_dataset_config_name`) trains on `--dataset_name A` and
scores every run on B's test split instead, every codec B holds; the matrix has the same format, its columns
B's codecs (e.g. a build of ours against the imported original release).
"""

from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path

import numpy as np
from transformers import TrainingArguments

from codecfake_hf.files import write_json_atomic, write_text_atomic
from codecfake_hf.results import POOLED
from codecfake_hf.schema import GENUINE

from . import program_name
from .arguments import PROTOCOLS, ProtocolArguments
from .arguments import parser as command_parser
from .data import EvalArgumentError, dataset_codecs, load_split
from .finetune import (
    DataTrainingArguments,
    ModelArguments,
    parse_into_dataclasses,
    run_finetune,
)
from .plots import plot_eer_matrix
from .score import ScoreArguments, run_score

logger = logging.getLogger(__name__)

def protocol_runs(protocol: str, codecs: list[str]) -> list[tuple[str, list[str]]]:
    """(run name, training codecs) of each run of `protocol` over `codecs`."""
    if protocol == "paper":
        return [(codec, [codec]) for codec in codecs]
    if protocol == "all":
        return [("all", list(codecs))]
    if protocol == "leave-one-out":
        if len(codecs) < 2:
            raise EvalArgumentError(f"`--protocol leave-one-out` needs at least two codecs, got {codecs}: give "
                                    "`--protocol_codecs` two or more, or use a dataset config with more codecs")
        return [(f"without-{codec}", [c for c in codecs if c != codec]) for codec in codecs]
    raise EvalArgumentError(f"`--protocol {protocol}`: choose one of {list(PROTOCOLS)}")


def eer_matrix_markdown(matrix: np.ndarray, runs: list[tuple[str, list[str]]], columns: list[str],
                        protocol: str) -> str:
    """The EER matrix (%) as a Markdown table; cells of codecs unseen in training are in italics."""
    lines = [f"## EER (%), protocol `{protocol}`: rows are training sets, columns test codecs "
             "(*italics*: codec unseen in training)", "",
             "| trained on | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for (name, trained), values in zip(runs, matrix, strict=True):
        cells = []
        for codec, value in zip(columns, values, strict=True):
            text = "" if np.isnan(value) else f"{100 * value:.2f}"
            cells.append(f"*{text}*" if text and codec != "pooled" and codec not in trained else text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_protocol(protocol_args: ProtocolArguments, model_args: ModelArguments, data_args: DataTrainingArguments,
                 training_args: TrainingArguments) -> dict:
    """Run every fine-tune + score of the protocol; write matrix.json/.md/.png to the output folder."""
    # The codecs the protocol runs over
    if data_args.train_codecs or data_args.eval_codecs:
        raise EvalArgumentError("`--train_codecs`/`--eval_codecs` are set by `--protocol`; use `--protocol_codecs` "
                                "to choose the codecs a protocol runs over")
    train = load_split(data_args.dataset_name, data_args.dataset_config_name, data_args.train_split_name,
                       split_flag="--train_split_name", cache_dir=model_args.cache_dir, token=model_args.token,
                       revision=data_args.dataset_revision)
    available = [codec for codec in dataset_codecs(train, data_args.codec_column_name) if codec != GENUINE]
    codecs = protocol_args.protocol_codecs or available
    unknown = [codec for codec in codecs if codec not in available]
    if unknown:
        raise EvalArgumentError(f"`--protocol_codecs {' '.join(codecs)}`: {unknown} not in the training split of "
                                f"{data_args.dataset_name} ({train.info.config_name}); its codecs are "
                                f"{available}")
    runs = protocol_runs(protocol_args.protocol, codecs)
    root = Path(training_args.output_dir)
    logger.info("Protocol %s over %s: %d run(s)", protocol_args.protocol, codecs, len(runs))

    # Every run trains unless told otherwise (without this, a run would save and score the untrained model)
    if protocol_args.train and not training_args.do_train:
        logger.info("Protocol runs train: `--do_train` set (pass `--train false` for an untrained baseline)")
    training_args.do_train = protocol_args.train
    if not protocol_args.train:
        logger.warning("`--train false`: every run scores the starting model UNTRAINED")

    # The test set: the training dataset's test split, or another dataset's (cross-dataset)
    cross = protocol_args.test_dataset_name is not None
    test_name = protocol_args.test_dataset_name or data_args.dataset_name
    test_config = protocol_args.test_dataset_config_name if cross else data_args.dataset_config_name
    if cross:
        test = load_split(test_name, test_config, protocol_args.test_split_name, split_flag="--test_split_name",
                          cache_dir=model_args.cache_dir, token=model_args.token)
        test_codecs = [codec for codec in dataset_codecs(test, data_args.codec_column_name) if codec != GENUINE]
        logger.info("Cross-dataset: trained on %s, tested on %s (%s)", data_args.dataset_name, test_name, test_codecs)
    else:
        test_codecs = list(codecs)

    # Fine-tune and score each run
    columns = [*test_codecs, POOLED]
    matrix = np.full((len(runs), len(columns)), np.nan)
    summary = {}
    for row, (name, train_codecs) in enumerate(runs):
        run_dir = root / name
        run_training = copy.deepcopy(training_args)
        run_training.output_dir = str(run_dir)
        if training_args.push_to_hub:
            run_training.hub_model_id = f"{training_args.hub_model_id or root.resolve().name}-{name}"
        run_data = copy.deepcopy(data_args)
        run_data.train_codecs = list(train_codecs)
        run_finetune(model_args, run_data, run_training)
        test_dir = run_dir / (f"{Path(test_name).name}-{protocol_args.test_split_name}" if cross
                              else protocol_args.test_split_name)
        results = run_score(ScoreArguments(
            model_name_or_path=str(run_dir), dataset_name=test_name,
            output_dir=str(test_dir),
            dataset_config_name=test_config, dataset_revision=None if cross else data_args.dataset_revision,
            split=protocol_args.test_split_name, codecs=list(test_codecs),
            audio_column_name=data_args.audio_column_name, label_column_name=data_args.label_column_name,
            codec_column_name=data_args.codec_column_name, bonafide_label=data_args.bonafide_label,
            max_length_seconds=data_args.max_length_seconds, batch_size=protocol_args.score_batch_size,
            dataloader_num_workers=training_args.dataloader_num_workers,
            device="cpu" if training_args.use_cpu else None, cache_dir=model_args.cache_dir, token=model_args.token))
        for column, codec in enumerate(columns):
            result = results.pooled if codec == POOLED else results.per_codec.get(codec)
            if result is not None:
                matrix[row, column] = result.eer
        summary[name] = {"train_codecs": list(train_codecs), "results": str(test_dir)}

    # The matrix: JSON, Markdown, heat map
    rows = [name for name, _ in runs]
    report = {"protocol": protocol_args.protocol, "dataset": data_args.dataset_name,
              "dataset_config": train.info.config_name, "split": protocol_args.test_split_name,
              "test_dataset": test_name, "test_dataset_config": test_config, "trained": protocol_args.train,
              "rows": rows, "columns": columns,
              "eer": [[None if np.isnan(v) else float(v) for v in line] for line in matrix], "runs": summary}
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "matrix.json", report)
    markdown = eer_matrix_markdown(matrix, runs, columns, protocol_args.protocol)
    if cross:
        markdown = (f"Trained on `{data_args.dataset_name}`, tested on `{test_name}` "
                    f"(`{test_config or 'default'}`, split `{protocol_args.test_split_name}`).\n\n{markdown}")
    if not protocol_args.train:
        markdown = ("**Untrained** (`--train false`): every row is the starting model, not trained on its "
                    f"codecs.\n\n{markdown}")
    write_text_atomic(root / "matrix.md", markdown)
    plot_eer_matrix(matrix, rows, columns, root / "matrix.png",
                    title=f"EER (%) — {protocol_args.protocol}, {protocol_args.test_split_name} split"
                          + (f" of {Path(test_name).name}" if cross else "")
                          + ("" if protocol_args.train else " (UNTRAINED)"))
    print(markdown)
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = command_parser("protocol", program_name())
    return run_protocol(*parse_into_dataclasses(parser, sys.argv[1:] if argv is None else argv))

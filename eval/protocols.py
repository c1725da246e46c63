"""The CodecFake protocols: fine-tune on some codecs, score on every codec, tabulate the EERs.

Usage:

    python -m eval protocol --protocol paper --dataset_name ORG/codecfake \\
        --model_name_or_path facebook/wav2vec2-base --output_dir runs/paper --num_train_epochs 5

- `paper`: one detector per codec, trained on that codec plus genuine, each scored on every codec: the
  train × test EER matrix of the CodecFake paper (`matrix.md`, `matrix.json`, heat map `matrix.png`);
- `all`: one detector trained on every codec, scored on every codec;
- `leave-one-out`: one detector per codec, trained on all the *other* codecs, so that codec is unseen;
- `family`: one detector per codec family (`codecs.spec(name).family`), trained on that family's codecs, scored
  on every family: the family × family generalisation matrix;
- `leave-one-family-out`: one detector per family, trained on every other family, so that family is unseen;
- `held-out-cell`: per `--held_out` cell of the CodecFake+ taxonomy (e.g. `decoder=frequency`), one detector
  trained on the codecs outside it and scored on all (e.g. trained on time-domain decoders, tested on
  frequency-domain ones);
- `channels`: robustness to the channels of a build's `--conditions` (MP3, Opus, telephony, ...): one detector
  trained on clean rows and one on the conditions' rows (the reverse), each scored under every condition; a
  condition × codec EER matrix per run (`channels_<run>.md/.png`, both in `channels.json`), and each run's card
  names its worst condition.

Every protocol writes two matrices: EER per test codec (`matrix.*`) and per test family (`family_matrix.*`),
each as JSON, Markdown and a heat map; each cell is the EER in that run's `results.json`. With a tracer
(`--label_column_name family` or `codec`), the runs that leave parts out also report open-set tracing (is this
clip from a codec the tracer never saw?) as AUROC and as the rates at `--open_set_threshold`, in `matrix.json`.

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

from codecfake_hf import codecs as codecs_module
from codecfake_hf import modelcard
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.errors import UnknownCodecError
from codecfake_hf.files import write_json_atomic, write_text_atomic
from codecfake_hf.results import POOLED
from codecfake_hf.schema import CLEAN, GENUINE

from . import program_name
from .arguments import PROTOCOLS, DataTrainingArguments, ModelArguments, ProtocolArguments, ScoreArguments
from .arguments import parser as command_parser
from .data import EvalArgumentError, dataset_codecs, dataset_conditions, load_split, part_family
from .finetune import parse_into_dataclasses, run_finetune
from .plots import plot_eer_matrix
from .score import run_score

logger = logging.getLogger(__name__)





def families_of(codecs: list[str]) -> dict[str, list[str]]:
    """Family -> its codecs among `codecs`, families in the order of their first codec (the registry's)."""
    groups: dict[str, list[str]] = {}
    for codec in codecs:
        family = part_family(codec)
        if family is None:
            raise EvalArgumentError(f"{codec!r} is not a codec of the registry: its family is unknown; leave it out "
                                    "with `--protocol_codecs`")
        groups.setdefault(family, []).append(codec)
    return groups


def parse_cell(spec: str) -> dict[str, str]:
    """`decoder=frequency,auxiliary=none` -> {"decoder": "frequency", "auxiliary": "none"}, values checked."""
    cell = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key not in TAXONOMY or value not in TAXONOMY[key]:
            valid = "; ".join(f"{k}={'|'.join(v)}" for k, v in TAXONOMY.items())
            raise EvalArgumentError(f"`--held_out {spec}`: {part!r} is not `key=value` of the taxonomy ({valid})")
        cell[key] = value
    return cell


def protocol_runs(protocol: str, codecs: list[str], held_out: list[str] | None = None) -> list[tuple[str, list[str]]]:
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
    if protocol == "family":
        return list(families_of(codecs).items())
    if protocol == "leave-one-family-out":
        families = families_of(codecs)
        if len(families) < 2:
            raise EvalArgumentError(f"`--protocol leave-one-family-out` needs codecs of at least two families, got "
                                    f"{families}: give `--protocol_codecs` of two or more families")
        return [(f"without-{family}", [c for c in codecs if c not in members]) for family, members in families.items()]
    if protocol == "held-out-cell":
        if not held_out:
            raise EvalArgumentError("`--protocol held-out-cell` needs `--held_out`, e.g. `--held_out "
                                    "decoder=frequency` (train on the time-domain decoders, test on the "
                                    "frequency-domain ones)")
        runs = []
        for spec in held_out:
            cell = parse_cell(spec)
            inside = [c for c in codecs if all(getattr(codecs_spec(c), k) == v for k, v in cell.items())]
            if not inside or len(inside) == len(codecs):
                raise EvalArgumentError(f"`--held_out {spec}`: {len(inside)} of the codecs {codecs} are in that cell; "
                                        "a held-out cell needs codecs inside it and outside it")
            runs.append((f"without-{spec.replace('=', '-').replace(',', '+')}", [c for c in codecs if c not in inside]))
        return runs
    raise EvalArgumentError(f"`--protocol {protocol}`: choose one of {list(PROTOCOLS)}")


def codecs_spec(codec: str):
    """The registry's spec of a codec (its taxonomy), with an unknown codec named."""
    try:
        return codecs_module.spec(codec)
    except UnknownCodecError:
        raise EvalArgumentError(f"{codec!r} is not a codec of the registry: its taxonomy is unknown; leave it out "
                                "with `--protocol_codecs`") from None


def eer_matrix_markdown(matrix: np.ndarray, runs: list[tuple[str, list[str]]], columns: list[str],
                        protocol: str, axis: str = "codec") -> str:
    """The EER matrix (%) as a Markdown table; cells of codecs (families) unseen in training are in italics."""
    if axis == "family":  # the families each run trained on
        runs = [(name, sorted({part_family(codec) for codec in trained})) for name, trained in runs]
    lines = [f"## EER (%), protocol `{protocol}`: rows are training sets, columns test {axis}s "
             f"(*italics*: {axis} unseen in training)", "",
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
    if protocol_args.protocol == "channels":
        return run_channels_protocol(protocol_args, model_args, data_args, training_args)
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
    runs = protocol_runs(protocol_args.protocol, codecs, protocol_args.held_out)
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
    family_columns = [*dict.fromkeys(f for f in map(part_family, test_codecs) if f is not None), POOLED]
    matrix = np.full((len(runs), len(columns)), np.nan)
    family_matrix = np.full((len(runs), len(family_columns)), np.nan)
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
            device="cpu" if training_args.use_cpu else None, cache_dir=model_args.cache_dir, token=model_args.token,
            calibration_split=protocol_args.calibration_split,
            open_set_threshold=protocol_args.open_set_threshold))
        for column, codec in enumerate(columns):
            result = results.pooled if codec == POOLED else results.per_codec.get(codec)
            if result is not None:
                matrix[row, column] = result.eer
        for column, family in enumerate(family_columns):
            result = results.pooled if family == POOLED else results.per_family.get(family)
            if result is not None:
                family_matrix[row, column] = result.eer
        summary[name] = {"train_codecs": list(train_codecs), "results": str(test_dir), "open_set": results.open_set}

    # The matrices: JSON, Markdown, heat maps (per codec and per family)
    rows = [name for name, _ in runs]
    open_set = {name: run["open_set"] for name, run in summary.items() if run["open_set"] is not None}
    report = {"protocol": protocol_args.protocol, "dataset": data_args.dataset_name,
              "dataset_config": train.info.config_name, "split": protocol_args.test_split_name,
              "test_dataset": test_name, "test_dataset_config": test_config, "trained": protocol_args.train,
              "rows": rows, "columns": columns, "eer": as_json(matrix),
              "family_columns": family_columns, "family_eer": as_json(family_matrix),
              "open_set": open_set or None, "runs": summary}
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "matrix.json", report)
    title = (f"{protocol_args.protocol}, {protocol_args.test_split_name} split"
             + (f" of {Path(test_name).name}" if cross else "") + ("" if protocol_args.train else " (UNTRAINED)"))
    markdowns = []
    for stem, values, axis_columns, axis in (("matrix", matrix, columns, "codec"),
                                             ("family_matrix", family_matrix, family_columns, "family")):
        markdown = eer_matrix_markdown(values, runs, axis_columns, protocol_args.protocol, axis)
        if cross:
            markdown = (f"Trained on `{data_args.dataset_name}`, tested on `{test_name}` "
                        f"(`{test_config or 'default'}`, split `{protocol_args.test_split_name}`).\n\n{markdown}")
        if not protocol_args.train:
            markdown = ("**Untrained** (`--train false`): every row is the starting model, not trained on its "
                        f"codecs.\n\n{markdown}")
        if axis == "family" and open_set:
            markdown += "\n" + open_set_markdown(open_set)
        write_text_atomic(root / f"{stem}.md", markdown)
        plot_eer_matrix(values, rows, axis_columns, root / f"{stem}.png", title=f"EER (%) per {axis} — {title}",
                        xlabel=f"test {axis}")
        markdowns.append(markdown)
    # every run's card shows the protocol's matrices beside its own plots
    for name in rows:
        for stem in ("matrix", "family_matrix"):
            modelcard.add_figure(root / name, root / f"{stem}.png", f"protocol-{protocol_args.protocol}-{stem}.png")
        hub_name = f"{training_args.hub_model_id or root.resolve().name}-{name}" if training_args.push_to_hub else None
        modelcard.write_model_card(root / name, model_name=hub_name)
    print("\n".join(markdowns))
    return report


def run_channels_protocol(protocol_args: ProtocolArguments, model_args: ModelArguments,
                          data_args: DataTrainingArguments, training_args: TrainingArguments) -> dict:
    """Train on clean rows and, the reverse, on the conditions' rows; score each under every condition.

    Writes `channels.json` (per run: rows = test conditions, columns = codecs + pooled, EER) and per run
    `channels_<run>.md/.png`; each run's card holds its per-condition results and names its worst condition.
    """
    if data_args.train_conditions or data_args.eval_conditions:
        raise EvalArgumentError("`--train_conditions`/`--eval_conditions` are set by `--protocol channels`; use "
                                "`--protocol_conditions` to choose the conditions it runs over")
    train = load_split(data_args.dataset_name, data_args.dataset_config_name, data_args.train_split_name,
                       split_flag="--train_split_name", cache_dir=model_args.cache_dir, token=model_args.token,
                       revision=data_args.dataset_revision)
    present = dataset_conditions(train, data_args.condition_column_name)
    conditions = protocol_args.protocol_conditions or [c for c in present if c != CLEAN]
    missing = [c for c in [CLEAN, *conditions] if c not in present]
    if missing or not conditions:
        raise EvalArgumentError(
            f"`--protocol channels` needs clean rows and rows under channel conditions in {data_args.dataset_name} "
            f"({train.info.config_name}, {data_args.train_split_name}); it holds {present}"
            + (f", not {missing}" if missing else "") + ": build them with `builder build --conditions opus_16k,...` "
            "and use the `all-conditions` config (`all` holds the clean rows only)")
    codecs = protocol_args.protocol_codecs or [c for c in dataset_codecs(train, data_args.codec_column_name)
                                               if c != GENUINE]
    runs = [("trained-clean", [CLEAN]), ("trained-conditions", list(conditions))]
    tests = [CLEAN, *conditions]
    columns = [*codecs, POOLED]
    root = Path(training_args.output_dir)
    training_args.do_train = protocol_args.train
    report: dict = {"protocol": "channels", "dataset": data_args.dataset_name,
                    "dataset_config": train.info.config_name, "split": protocol_args.test_split_name,
                    "conditions": tests, "columns": columns, "trained": protocol_args.train, "runs": {}}
    for name, trained_on in runs:
        run_dir = root / name
        run_training = copy.deepcopy(training_args)
        run_training.output_dir = str(run_dir)
        run_data = copy.deepcopy(data_args)
        run_data.train_codecs = list(protocol_args.protocol_codecs or []) or None
        run_data.train_conditions = list(trained_on)
        run_finetune(model_args, run_data, run_training)
        matrix = np.full((len(tests), len(columns)), np.nan)
        for row, condition in enumerate(tests):
            results = run_score(ScoreArguments(
                model_name_or_path=str(run_dir), dataset_name=data_args.dataset_name,
                output_dir=str(run_dir / protocol_args.test_split_name / condition),
                dataset_config_name=data_args.dataset_config_name, dataset_revision=data_args.dataset_revision,
                split=protocol_args.test_split_name, codecs=list(codecs), conditions=[condition],
                audio_column_name=data_args.audio_column_name, label_column_name=data_args.label_column_name,
                codec_column_name=data_args.codec_column_name, condition_column_name=data_args.condition_column_name,
                bonafide_label=data_args.bonafide_label, max_length_seconds=data_args.max_length_seconds,
                batch_size=protocol_args.score_batch_size, dataloader_num_workers=training_args.dataloader_num_workers,
                device="cpu" if training_args.use_cpu else None, cache_dir=model_args.cache_dir,
                token=model_args.token, calibration_split=protocol_args.calibration_split))
            for column, codec in enumerate(columns):
                result = results.pooled if codec == POOLED else results.per_codec.get(codec)
                if result is not None:
                    matrix[row, column] = result.eer
        pooled = matrix[:, -1]
        worst = tests[int(np.nanargmax(pooled))] if not np.isnan(pooled).all() else None
        report["runs"][name] = {"trained_on": list(trained_on), "eer": as_json(matrix), "worst_condition": worst}
        lines = [f"## EER (%), protocol `channels`, run `{name}` (trained on {', '.join(trained_on)}): rows are test "
                 "conditions, columns test codecs", "", "| condition | " + " | ".join(columns) + " |",
                 "|---|" + "---:|" * len(columns)]
        for condition, values in zip(tests, matrix, strict=True):
            cells = ["" if np.isnan(v) else f"{100 * v:.2f}" for v in values]
            lines.append(f"| {condition} | " + " | ".join(cells) + " |")
        lines += ["", f"Worst condition: `{worst}`." if worst else ""]
        write_text_atomic(root / f"channels_{name}.md", "\n".join(lines) + "\n")
        plot_eer_matrix(matrix, tests, columns, root / f"channels_{name}.png",
                        title=f"EER (%) per condition and codec — trained on {', '.join(trained_on)}",
                        xlabel="test codec")
        modelcard.add_figure(run_dir, root / f"channels_{name}.png", f"protocol-channels-{name}.png")
        modelcard.write_model_card(run_dir)
        print("\n".join(lines))
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "channels.json", report)
    return report


def as_json(matrix: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in line] for line in matrix]


def open_set_markdown(open_set: dict[str, dict]) -> str:
    """Open-set tracing of each run that left parts out: AUROC and the rates at the threshold."""
    lines = ["## Open-set tracing: clips of parts the tracer never saw against clips of known codecs", "",
             "| run | unseen parts | AUROC | threshold | unseen caught (%) | known flagged (%) |",
             "|---|---|---:|---:|---:|---:|"]
    for name, values in open_set.items():
        lines.append(f"| {name} | {', '.join(values['unknown_parts'])} | {values['auroc']:.4f} | "
                     f"{values['threshold']} | {100 * values['unknown_detected']:.1f} | "
                     f"{100 * values['known_flagged']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = command_parser("protocol", program_name())
    return run_protocol(*parse_into_dataclasses(parser, sys.argv[1:] if argv is None else argv))

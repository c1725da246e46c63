"""Convert an official clovaai/aasist checkpoint (AASIST.pth, AASIST-L.pth) into a `from_pretrained` folder.

Usage:

    python -m eval convert-aasist --checkpoint AASIST.pth --model_config AASIST.conf --output_dir runs/aasist

The folder holds `config.json` (`model_type: aasist`, labels bonafide/spoof), `model.safetensors` (the
output layer's rows swapped into the project's label order), the feature extractor (64,600-sample windows at
16 kHz), `codecfake_training.json` (where the weights come from) and a model card. It then loads with
`AutoModelForAudioClassification.from_pretrained` (after `import codecfake_hf.detectors`), scores with
`python -m eval score`, fine-tunes with `python -m eval finetune --model_name_or_path`, and serves
`pipeline("audio-classification")`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from codecfake_hf import modelcard
from codecfake_hf.detectors import AasistFeatureExtractor, AasistForAudioClassification
from codecfake_hf.files import make_folder, os_errors
from codecfake_hf.results import TrainingFacts

from . import program_name
from .data import EvalArgumentError

ORIGIN = ("the official {name} checkpoint of clovaai/aasist (Jung et al., ICASSP 2022; MIT licence, copyright "
          "NAVER Corp.), trained by its authors on ASVspoof 2019 LA, converted by `python -m eval convert-aasist` "
          "(the same weights; the output layer's two rows reordered to bonafide, spoof)")


@dataclass
class ConvertArguments:
    """Which official checkpoint to convert, and where to."""

    checkpoint: str = field(metadata={"help": "The official .pth file (clovaai/aasist models/weights/AASIST.pth or "
                                              "AASIST-L.pth)."})
    output_dir: str = field(metadata={"help": "Folder to write the converted model into (created)."})
    model_config: str | None = field(
        default=None,
        metadata={"help": "The upstream config (config/AASIST.conf, or a JSON file of its model_config section) "
                          "that came with the checkpoint. Default: AASIST's."})


def run_convert(args: ConvertArguments) -> Path:
    """Convert, save, and write the card; returns the output folder."""
    for flag, value in (("--checkpoint", args.checkpoint), ("--model_config", args.model_config)):
        if value is not None and not Path(value).is_file():
            raise EvalArgumentError(f"`{flag} {value}` is not a file")
    model = AasistForAudioClassification.from_original(args.checkpoint, args.model_config)
    output = make_folder(args.output_dir)  # a read-only or full disk: one message naming the folder
    with os_errors(output):
        model.save_pretrained(output)
    AasistFeatureExtractor(max_length=model.config.nb_samp, sampling_rate=model.config.sampling_rate) \
        .save_pretrained(output)
    name = Path(args.checkpoint).stem
    modelcard.write_training_facts(output, TrainingFacts(
        dataset="ASVspoof 2019 LA",
        origin=ORIGIN.format(name=name),
        training_data="ASVspoof 2019 LA (train), by the clovaai/aasist authors",
        architecture=type(model).__name__,
        max_length_seconds=model.config.nb_samp / model.config.sampling_rate,
        sampling_rate=model.config.sampling_rate,
        labels=[model.config.id2label[i] for i in range(model.config.num_labels)],
    ))
    modelcard.write_model_card(output, model_name=output.resolve().name)
    print(f"wrote {output} ({name}: {sum(p.numel() for p in model.parameters())} parameters)")
    return output


def main(argv: list[str] | None = None) -> Path:
    parser = HfArgumentParser(ConvertArguments, prog=f"{program_name()} convert-aasist",
                              description=__doc__.split("\n\n")[0])
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    return run_convert(args)

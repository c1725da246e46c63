"""Convert an official clovaai/aasist checkpoint (AASIST.pth, AASIST-L.pth) into a `from_pretrained` folder.

Usage:

    python -m eval convert-aasist --checkpoint AASIST.pth --model_config AASIST.conf --output_dir runs/aasist

The folder holds `config.json` (`model_type: aasist`, labels bonafide/spoof, `auto_map`), `model.safetensors`
(the output layer's rows swapped into the project's label order), the feature extractor (64,600-sample windows
at 16 kHz), the model's code (`configuration_aasist.py`, `modeling_aasist.py`, `feature_extraction_aasist.py`),
the weights' MIT licence (`LICENSE`, NAVER Corp.'s copyright), `codecfake_training.json` (where the weights come
from) and a model card (`license: mit`). It then loads with `AutoModelForAudioClassification.from_pretrained`
(`trust_remote_code=True` where codecfake-hf is not installed), scores with `python -m eval score`, fine-tunes
with `python -m eval finetune --model_name_or_path`, and serves `pipeline("audio-classification")`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from codecfake_hf import modelcard
from codecfake_hf.detectors import AasistFeatureExtractor, aasist_from_original
from codecfake_hf.files import atomic_files, make_folder, os_errors
from codecfake_hf.results import TrainingFacts

from . import program_name
from .arguments import ConvertArguments
from .arguments import parser as command_parser
from .data import EvalArgumentError

ORIGIN = ("the official {name} checkpoint of clovaai/aasist (Jung et al., ICASSP 2022; MIT licence, copyright "
          "NAVER Corp.), trained by its authors on ASVspoof 2019 LA, converted by `python -m eval convert-aasist` "
          "(the same weights; the output layer's two rows reordered to bonafide, spoof)")
# clovaai/aasist's LICENSE, which the MIT licence asks to ship with every copy of the weights.
AASIST_LICENSE_ID = "mit"
AASIST_LICENSE = """Copyright (c) 2021-present NAVER Corp.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.  IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""


def run_convert(args: ConvertArguments) -> Path:
    """Convert, save, and write the card; returns the output folder."""
    for flag, value in (("--checkpoint", args.checkpoint), ("--model_config", args.model_config)):
        if value is not None and not Path(value).is_file():
            raise EvalArgumentError(f"`{flag} {value}` is not a file")
    model = aasist_from_original(args.checkpoint, args.model_config)
    output = make_folder(args.output_dir)  # a read-only or full disk: one message naming the folder
    # save_pretrained writes under fixed names: each file whole or absent
    with os_errors(output), atomic_files(output) as staging:
        model.save_pretrained(staging)
        AasistFeatureExtractor(max_length=model.config.nb_samp, sampling_rate=model.config.sampling_rate) \
            .save_pretrained(staging)
        (staging / "LICENSE").write_text(AASIST_LICENSE)
    name = Path(args.checkpoint).stem
    modelcard.write_training_facts(output, TrainingFacts(
        dataset="ASVspoof 2019 LA",
        origin=ORIGIN.format(name=name),
        training_data="ASVspoof 2019 LA (train), by the clovaai/aasist authors",
        architecture=type(model).__name__,
        max_length_seconds=model.config.nb_samp / model.config.sampling_rate,
        sampling_rate=model.config.sampling_rate,
        labels=[model.config.id2label[i] for i in range(model.config.num_labels)],
        license=AASIST_LICENSE_ID,
    ))
    modelcard.write_model_card(output, model_name=output.resolve().name)
    print(f"wrote {output} ({name}: {sum(p.numel() for p in model.parameters())} parameters)")
    return output


def main(argv: list[str] | None = None) -> Path:
    parser = command_parser("convert-aasist", program_name())
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    return run_convert(args)

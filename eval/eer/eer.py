# Copyright 2026 The codecfake-hf authors.
# Licensed under the Apache License, Version 2.0.
"""Equal error rate (EER) of a spoofing countermeasure, computed as the ASVspoof evaluation code does."""

import datasets
import evaluate

from codecfake_hf.metrics import eer_from_labels

_DESCRIPTION = """
The equal error rate (EER) is the error rate at the decision threshold where the false rejection rate
of bona fide trials (FRR, miss rate) equals the false acceptance rate of spoof trials (FAR). It is the
primary metric of the ASVspoof 2019/2021 challenges and of CodecFake. Lower is better; 0 separates the
classes perfectly, 0.5 is chance.

Scores follow the ASVspoof convention: a higher score means *more bona fide* (for a classifier, the bona
fide probability or its log-odds, never an argmax label). The EER is computed exactly as the published
ASVspoof evaluation code computes it (a stable sort of bona fide then spoof scores, rates read at every
sorted position), so values can be compared with published ones. With tied scores this differs from a
sweep over realisable thresholds; `method="sweep"` and `method="rocch"` (convex-hull EER) give those.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `float`): one score per trial, higher = more bona fide (e.g. the model's bona
        fide probability or log-odds). No NaN.
    references (`list` of `int`): one label per trial, in the same order. Both classes must be present.
    pos_label (`int`): the label of the bona fide (positive) class. Defaults to `0`, the `bonafide` index of
        the CodecFake datasets' `ClassLabel(names=["bonafide", "spoof"])`; every other label counts as spoof.
    method (`str`): `"asvspoof"` (default), the published algorithm; `"sweep"`, thresholds between distinct
        scores only; `"rocch"`, the EER of the ROC convex hull. All three agree when no scores are tied.

Returns:
    eer (`float`): the equal error rate, a fraction in [0, 1] (multiply by 100 for the % that papers print).
    threshold (`float`): the score at the EER; trials scoring above it are accepted as bona fide.

Examples:

    Perfectly separated scores (labels as in CodecFake: 0 = bonafide, 1 = spoof):

    >>> eer_metric = evaluate.load("eval/eer")
    >>> results = eer_metric.compute(references=[0, 0, 1, 1], predictions=[0.9, 0.8, 0.2, 0.1])
    >>> print(round(results["eer"], 4), round(results["threshold"], 4))
    0.0 0.2

    One bona fide trial scores below one spoof trial:

    >>> results = eer_metric.compute(references=[0, 0, 0, 0, 1, 1, 1, 1],
    ...                              predictions=[0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.05])
    >>> print(round(results["eer"], 4))
    0.25

    Labels where 1 is the bona fide class:

    >>> results = eer_metric.compute(references=[1, 1, 0, 0], predictions=[0.4, 0.6, 0.5, 0.1], pos_label=1)
    >>> print(round(results["eer"], 4))
    0.5

    Ties: the published algorithm ranks tied bona fide trials below tied spoof ones; a threshold sweep does not:

    >>> print(eer_metric.compute(references=[0, 0, 1, 1], predictions=[1.0, 1.0, 1.0, 0.0])["eer"])
    0.5
    >>> print(eer_metric.compute(references=[0, 0, 1, 1], predictions=[1.0, 1.0, 1.0, 0.0], method="sweep")["eer"])
    0.25
"""

_CITATION = """
@inproceedings{wu24p_interspeech,
  title     = {{CodecFake: Enhancing Anti-Spoofing Models Against Deepfake Audios
               from Codec-Based Speech Synthesis Systems}},
  author    = {Haibin Wu and Yuan Tseng and Hung-yi Lee},
  booktitle = {Interspeech 2024},
  year      = {2024},
  pages     = {1770--1774},
  doi       = {10.21437/Interspeech.2024-2093},
}
@article{liu2023asvspoof,
  title   = {{ASVspoof 2021: Towards Spoofed and Deepfake Speech Detection in the Wild}},
  author  = {Xuechen Liu and Xin Wang and Md Sahidullah and Jose Patino and H{\\'e}ctor Delgado and Tomi Kinnunen
             and Massimiliano Todisco and Junichi Yamagishi and Nicholas Evans and Andreas Nautsch and Kong Aik Lee},
  journal = {IEEE/ACM Transactions on Audio, Speech, and Language Processing},
  volume  = {31},
  pages   = {2507--2522},
  year    = {2023},
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class EER(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("float64"),
                    "references": datasets.Value("int32"),
                }
            ),
            reference_urls=[
                "https://github.com/asvspoof-challenge/2021/tree/main/eval-package",
                "https://github.com/asvspoof-challenge/asvspoof5/tree/main/evaluation-package",
            ],
        )

    def _compute(self, predictions, references, pos_label=0, method="asvspoof"):
        eer, threshold = eer_from_labels(predictions, references, pos_label=pos_label, method=method)
        return {"eer": eer, "threshold": threshold}

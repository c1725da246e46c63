# Copyright 2026 The codecfake-hf authors.
# Licensed under the Apache License, Version 2.0.
"""Equal error rate (EER) of a spoofing countermeasure, computed as the ASVspoof evaluation code does.

This module stands alone: it needs numpy, `datasets` and `evaluate` only (no codecfake-hf), so it loads with
`evaluate.load(PATH)` from any folder and as a pushed Hub metric. Its numbers equal those of
`codecfake_hf.metrics` bit for bit (tests/test_eval_eer.py runs a copy of this folder where codecfake_hf cannot
be imported and compares them on tie-heavy score sets); the library keeps the faster O(n log n) merge and
minDCF, this file the plain published algorithm.
"""

import datasets
import evaluate
import numpy as np

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
    min_dcf (`float`): ASVspoof 5's primary measure, the normalised minimum detection cost (P_spoof 0.05,
        C_miss 1, C_fa 10) over the same DET curve; 0 is perfect, 1 no better than a fixed decision.
    act_dcf (`float`): the normalised actual DCF at the Bayes threshold -log(1.9) of the scores read as
        log-likelihood ratios (meaningful for calibrated scores).
    cllr (`float`): the cost of log-likelihood ratios in bits (likewise).

Examples:

    Perfectly separated scores (labels as in CodecFake: 0 = bonafide, 1 = spoof):

    >>> eer_metric = evaluate.load("eval/eer")
    >>> results = eer_metric.compute(references=[0, 0, 1, 1], predictions=[0.9, 0.8, 0.2, 0.1])
    >>> print(round(results["eer"], 4), round(results["threshold"], 4), round(results["min_dcf"], 4))
    0.0 0.2 0.0

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
            homepage="https://www.asvspoof.org/",
            license="apache-2.0",
            codebase_urls=[
                "https://github.com/asvspoof-challenge/2021/tree/main/eval-package",
                "https://github.com/asvspoof-challenge/asvspoof5/tree/main/evaluation-package",
            ],
            reference_urls=[
                "https://arxiv.org/abs/2406.07237",
                "https://doi.org/10.1109/TASLP.2023.3285283",
            ],
        )

    def _compute(self, predictions, references, pos_label=0, method="asvspoof"):
        bonafide, spoof = split_scores(predictions, references, pos_label)
        eer, threshold = compute_eer(bonafide, spoof, method=method)
        return {"eer": eer, "threshold": threshold, **asvspoof5_costs(_as_scores(bonafide, "bonafide_scores"),
                                                                       _as_scores(spoof, "spoof_scores"))}


# The computation: numpy only. A user's bad input raises ValueError with a message naming the cause and fix.

METHODS = ("asvspoof", "sweep", "rocch")


def _as_scores(values, name):
    """A 1-D float64 array of scores without NaN, or a ValueError naming `name`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be numbers: {error}") from None
    if array.ndim != 1:
        if array.ndim == 0 or sum(size > 1 for size in array.shape) > 1:
            raise ValueError(f"`{name}` must be one score per trial (1-D), got shape {array.shape}")
        array = array.reshape(-1)
    if array.size == 0:
        raise ValueError(f"`{name}` is empty: EER needs at least one bona fide and one spoof trial")
    nan = np.isnan(array)
    if nan.any():
        raise ValueError(
            f"`{name}` holds {int(nan.sum())} NaN score(s) (first at index {int(np.argmax(nan))}); "
            "a NaN has no place in the ranking — fix the model output or drop those trials")
    return array


def split_scores(scores, labels, pos_label=0):
    """`(bonafide, spoof)` scores of one array split by label; `pos_label` is the bona fide label."""
    scores = np.asarray(scores).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.size != labels.size:
        raise ValueError(f"{scores.size} scores but {labels.size} labels: give one label per score (same order)")
    is_bonafide = labels == pos_label
    if not is_bonafide.any():
        raise ValueError(
            f"no trial has the bona fide label pos_label={pos_label!r} (labels seen: "
            f"{np.unique(labels).tolist()[:10]}); set `pos_label` to the bona fide label")
    if is_bonafide.all():
        raise ValueError(f"every trial has the bona fide label pos_label={pos_label!r}: no spoof trials")
    return scores[is_bonafide], scores[~is_bonafide]


def det_curve(bonafide, spoof):
    """ASVspoof's `compute_det_curve`: FRR, FAR and thresholds at the n + 1 positions of a stable sort of the
    bona fide scores followed by the spoof scores (so a tie block lists its bona fide trials first)."""
    n = bonafide.size + spoof.size
    scores = np.concatenate((bonafide, spoof))
    is_bonafide = np.concatenate((np.ones(bonafide.size), np.zeros(spoof.size)))
    order = np.argsort(scores, kind="mergesort")  # stable: the tie rule of the published code
    bona_sums = np.cumsum(is_bonafide[order])
    spoof_sums = spoof.size - (np.arange(1, n + 1) - bona_sums)
    frr = np.concatenate(([0], bona_sums / bonafide.size))
    far = np.concatenate(([1], spoof_sums / spoof.size))
    thresholds = np.concatenate(([scores[order[0]] - 0.001], scores[order]))
    return frr, far, thresholds


def _sweep_points(bonafide, spoof):
    """FRR and FAR at the lowest score − 0.001 and at every distinct score (realisable thresholds only)."""
    values = np.unique(np.concatenate((bonafide, spoof)))
    thresholds = np.concatenate(([values[0] - 0.001], values))
    frr = np.searchsorted(np.sort(bonafide), thresholds, side="right") / bonafide.size
    far = (spoof.size - np.searchsorted(np.sort(spoof), thresholds, side="right")) / spoof.size
    return frr, far, thresholds


def _rocch_eer(frr, far, thresholds):
    """EER of the lower convex hull of the (FAR, FRR) points (BOSARIS' `rocch2eer`) and its nearest vertex."""
    x = np.concatenate(([0.0], far[::-1], [1.0]))
    y = np.concatenate(([1.0], frr[::-1], [0.0]))
    t = np.concatenate(([np.inf], thresholds[::-1], [-np.inf]))
    hull = []
    for i in range(x.size):  # Andrew's monotone chain, lower hull
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) > 0:
                break
            hull.pop()
        hull.append(i)
    for a, b in zip(hull[:-1], hull[1:], strict=True):
        da, db = y[a] - x[a], y[b] - x[b]  # FRR − FAR at both ends: the EER lies where it is 0
        if da >= 0 >= db:
            w = 0.0 if da == db else da / (da - db)
            return float(x[a] + w * (x[b] - x[a])), float(t[a] if w < 0.5 else t[b])
    raise ArithmeticError("the ROC hull runs from (0, 1) to (1, 0); no crossing means NaN slipped through")


def compute_eer(bonafide_scores, spoof_scores, method="asvspoof"):
    """`(eer, threshold)` of two score arrays, higher = more bona fide; `method` as in the module's inputs."""
    if method not in METHODS:
        raise ValueError(f"`method` must be 'asvspoof', 'sweep' or 'rocch', got {method!r}")
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    if method == "rocch":
        return _rocch_eer(*_sweep_points(bonafide, spoof))
    frr, far, thresholds = det_curve(bonafide, spoof) if method == "asvspoof" else _sweep_points(bonafide, spoof)
    index = int(np.argmin(np.abs(frr - far)))  # the first minimum, as the published code
    return float(np.mean((frr[index], far[index]))), float(thresholds[index])


# ASVspoof 5 evaluation plan, track 1: prior of a spoofing attack, cost of a missed bona fide trial, of a false accept
P_SPOOF, C_MISS, C_FA = 0.05, 1.0, 10.0


def asvspoof5_costs(bonafide, spoof):
    """minDCF, actDCF and Cllr as the ASVspoof 5 evaluation package computes them (`compute_mindcf` over the
    published DET curve, first minimum; `compute_actDCF` at -log(beta); `calculate_CLLR`, here overflow-free)."""
    frr, far, _ = det_curve(bonafide, spoof)
    p_target = 1 - P_SPOOF
    normaliser = min(C_MISS * p_target, C_FA * P_SPOOF)
    min_dcf = float(np.min(C_MISS * frr * p_target + C_FA * far * P_SPOOF) / normaliser)
    threshold = -np.log(C_MISS * p_target / (C_FA * P_SPOOF))
    act = C_MISS * p_target * np.mean(bonafide < threshold) + C_FA * P_SPOOF * np.mean(spoof >= threshold)
    cllr = 0.5 * (np.mean(np.logaddexp(0.0, -bonafide)) + np.mean(np.logaddexp(0.0, spoof))) / np.log(2)
    return {"min_dcf": min_dcf, "act_dcf": float(act / normaliser), "cllr": float(cllr)}

"""Spoofing-countermeasure metrics (EER, DET curve, minDCF, ROCCH EER) in the ASVspoof convention, numpy only.

Convention: a score is higher for *more bona fide* (ASVspoof's CM score). A trial is accepted as bona fide
when its score is above the threshold; the false rejection rate (FRR, miss) is the share of bona fide
trials at or below it, the false acceptance rate (FAR, false alarm) the share of spoof trials above it.

`compute_eer` reproduces the evaluation code that published ASVspoof 2019/2021/5 and CodecFake EERs were
computed with (`eval_metrics.compute_det_curve` + `compute_eer` of the ASVspoof packages):

1. concatenate the bona fide scores, *then* the spoof scores, and sort them with a **stable** sort;
2. read FRR and FAR after every sorted position k = 0 … n (k = 0 is "accept everything");
3. take the first k that minimises |FRR − FAR|; EER = (FRR[k] + FAR[k]) / 2, threshold = the k-th
   sorted score (k = 0: the lowest score − 0.001).

Without tied scores every position is a threshold, and this is exactly a sweep over every threshold.
**With ties it is not**: a stable sort puts the bona fide trials of a tie block before its spoof trials,
so the positions inside the block are operating points that no threshold realises (part of a block
accepted, part rejected), and the block is resolved against the detector (its bona fide trials ranked
below its spoof trials). A threshold sweep (`compute_eer(..., method="sweep")`) only stops between
distinct values and can give a different EER; e.g. bona fide [1, 1] against spoof [1, 0]: the published
algorithm gives 0.5, the sweep 0.25 (midpoint of FRR 0, FAR 0.5 at threshold 0). Saturated
probabilities (many scores exactly 1.0) are the common source of such ties; scoring with log-odds
avoids them. `method="rocch"` gives the EER of the ROC convex hull (BOSARIS' `rocch2eer`): the point
where the hull, whose points between two thresholds are reached by choosing between them at random,
crosses FRR = FAR; it is a rate a system can actually run at, unlike the midpoint the other two take.

The implementation sorts the two classes separately (`np.sort`, much faster than a stable argsort of the
concatenation) and merges them with the same tie rule (`searchsorted`: spoof strictly below a bona fide
trial come before it), so it gives the published values bit for bit in O(n log n); `bench/eer.py`
measures it against the straightforward code.

ASVspoof 5's measures (its `evaluation-package`, track 1): minDCF (primary), actDCF, Cllr and EER, with
P_spoof = 0.05, C_miss = 1, C_fa = 10 (`ASVSPOOF5_DCF`). actDCF and Cllr read the score as a log-likelihood
ratio (bona fide vs spoof), so they mean something only for calibrated scores: `fit_calibration` learns the
affine map that makes a system's scores LLRs on development data (prior-weighted logistic regression).
`tests/fixtures/asvspoof5/` holds that package's own outputs on recorded score files; our values equal them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import CodecFakeError

__all__ = [
    "ASVSPOOF5_DCF",
    "DetCurve",
    "MetricInputError",
    "classification_scores",
    "compute_det_curve",
    "compute_eer",
    "compute_min_dcf",
    "compute_act_dcf",
    "compute_cllr",
    "compute_auroc",
    "detection_measures",
    "fit_calibration",
    "Calibration",
    "confusion_matrix",
    "eer_from_labels",
    "split_scores",
]


class MetricInputError(CodecFakeError, ValueError):
    """Scores that cannot be evaluated: an empty class, NaN, mismatched lengths, unknown labels."""


# ASVspoof 5 evaluation plan (track 1): prior of a spoofing attack, cost of rejecting a bona fide trial,
# cost of accepting a spoof.
ASVSPOOF5_DCF = {"p_spoof": 0.05, "c_miss": 1.0, "c_fa": 10.0}


@dataclass(frozen=True)
class DetCurve:
    """The published DET curve: n + 1 operating points, one before and one after every sorted score.

    Args:
        frr: float64 [n + 1], false rejection (miss) rate of bona fide trials, non-decreasing.
        far: float64 [n + 1], false acceptance rate of spoof trials, non-increasing.
        thresholds: float64 [n + 1], the sorted scores, led by the lowest score − 0.001.
    """

    frr: np.ndarray
    far: np.ndarray
    thresholds: np.ndarray

    def min_dcf(
        self,
        p_spoof: float = ASVSPOOF5_DCF["p_spoof"],
        c_miss: float = ASVSPOOF5_DCF["c_miss"],
        c_fa: float = ASVSPOOF5_DCF["c_fa"],
    ) -> tuple[float, float]:
        """`compute_min_dcf` over these points, for a caller that already holds the curve (e.g. to plot it)."""
        if not 0.0 < p_spoof < 1.0 or c_miss <= 0 or c_fa <= 0:
            raise MetricInputError(
                f"minDCF needs 0 < p_spoof < 1 and positive costs, got p_spoof={p_spoof}, c_miss={c_miss}, "
                f"c_fa={c_fa}")
        p_target = 1 - p_spoof
        cost = c_miss * self.frr * p_target + c_fa * self.far * (1 - p_target)
        index = int(np.argmin(cost))  # first minimum, as the published loop's strict `<`
        return float(cost[index] / min(c_miss * p_target, c_fa * (1 - p_target))), float(self.thresholds[index])


def _as_scores(values, name: str) -> np.ndarray:
    """A 1-D float64 array of finite-or-infinite scores, or a `MetricInputError` naming `name`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MetricInputError(f"`{name}` must be numbers: {error}") from None
    if array.ndim != 1:
        if array.ndim == 0 or sum(size > 1 for size in array.shape) > 1:
            raise MetricInputError(f"`{name}` must be one score per trial (1-D), got shape {array.shape}")
        array = array.reshape(-1)  # [N, 1] or [1, N]
    if array.size == 0:
        raise MetricInputError(f"`{name}` is empty: EER needs at least one bona fide and one spoof trial")
    nan = np.isnan(array)
    if nan.any():
        raise MetricInputError(
            f"`{name}` holds {int(nan.sum())} NaN score(s) (first at index {int(np.argmax(nan))}); "
            "a NaN has no place in the ranking — fix the model output or drop those trials")
    return array


def _merge(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort both classes and merge them as a stable sort of `concat(bonafide, spoof)` would order them.

    Returns the sorted bona fide scores, the sorted spoof scores, and `is_bonafide` (bool [n]): the class of
    each merged position. Tie rule: within a block of equal scores the bona fide trials come first (they
    precede every spoof trial in the concatenation), so the i-th sorted bona fide trial lands at position
    i + (number of spoof scores strictly below it): `searchsorted(..., side="left")`.
    """
    bona_sorted = np.sort(bonafide)
    spoof_sorted = np.sort(spoof)
    n = bona_sorted.size + spoof_sorted.size
    bona_positions = np.arange(bona_sorted.size) + np.searchsorted(spoof_sorted, bona_sorted, side="left")
    is_bonafide = np.zeros(n, dtype=bool)
    is_bonafide[bona_positions] = True
    return bona_sorted, spoof_sorted, is_bonafide


def _rates(bona_count: np.ndarray, position: np.ndarray, n_bona: int, n_spoof: int):
    """FRR and FAR at merged positions, with the published code's float operations (exact integers / n)."""
    frr = bona_count.astype(np.float64) / n_bona
    far = (n_spoof - (position - bona_count)).astype(np.float64) / n_spoof
    return frr, far


def compute_det_curve(bonafide_scores, spoof_scores) -> DetCurve:
    """The DET curve exactly as ASVspoof's `compute_det_curve` returns it (same n + 1 points, same floats).

    Args:
        bonafide_scores: array-like [N_bona], scores of bona fide trials (higher = more bona fide).
        spoof_scores: array-like [N_spoof], scores of spoof trials.

    Returns:
        A `DetCurve` (`frr`, `far`, `thresholds`, each float64 [N_bona + N_spoof + 1]).
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    bona_sorted, spoof_sorted, is_bonafide = _merge(bonafide, spoof)
    n = is_bonafide.size
    bona_count = np.concatenate(([0], np.cumsum(is_bonafide, dtype=np.int64)))
    frr, far = _rates(bona_count, np.arange(n + 1), bonafide.size, spoof.size)
    merged = np.empty(n, dtype=np.float64)
    merged[is_bonafide] = bona_sorted
    merged[~is_bonafide] = spoof_sorted
    thresholds = np.concatenate(([merged[0] - 0.001], merged))
    return DetCurve(frr=frr, far=far, thresholds=thresholds)


def compute_eer(
    bonafide_scores,
    spoof_scores,
    method: Literal["asvspoof", "sweep", "rocch"] = "asvspoof",
) -> tuple[float, float]:
    """Equal error rate and its threshold, higher score = more bona fide.

    Args:
        bonafide_scores: array-like [N_bona], scores of bona fide trials; at least one, no NaN.
        spoof_scores: array-like [N_spoof], scores of spoof trials; at least one, no NaN.
        method: `"asvspoof"` (default) the published ASVspoof/CodecFake algorithm, bit for bit;
            `"sweep"` the same rule over thresholds between distinct scores only (differs with ties,
            see the module docstring); `"rocch"` the EER of the ROC convex hull.

    Returns:
        `(eer, threshold)`: the EER as a fraction in [0, 1] and the score at which it is reached (accept
        as bona fide above it). For `"rocch"` the threshold is that of the hull vertex nearest the EER.
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    if method == "asvspoof":
        return _eer_asvspoof(bonafide, spoof)
    if method == "sweep":
        frr, far, thresholds = _sweep_points(bonafide, spoof)
        index = int(np.argmin(np.abs(frr - far)))
        return float(np.mean((frr[index], far[index]))), float(thresholds[index])
    if method == "rocch":
        return _rocch_eer(*_sweep_points(bonafide, spoof))
    raise MetricInputError(f"`method` must be 'asvspoof', 'sweep' or 'rocch', got {method!r}")


def _eer_asvspoof(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """The published EER from the two sorted classes, without building the curve.

    FRR − FAR rises strictly at every merged position k (each step adds 1/N_bona to FRR or removes
    1/N_spoof from FAR), so |FRR − FAR| is smallest where it changes sign. The sign is exact in integers:
    with B(k) bona fide trials among the first k, FRR − FAR >= 0  <=>  B·N_spoof + (k − B)·N_bona >=
    N_bona·N_spoof. Binary search finds the crossing (B(k) itself by binary search over the bona fide
    trials' merged positions, each found with `searchsorted`), then `np.argmin` picks among its neighbours
    with the published floats (first minimum). After the two sorts this costs O(log³ n): three nested
    binary searches.
    """
    bona_sorted = np.sort(bonafide)
    spoof_sorted = np.sort(spoof)
    n_bona, n_spoof = bona_sorted.size, spoof_sorted.size

    def bona_position(i: int) -> int:  # merged position of the i-th sorted bona fide trial (tie rule: first)
        return i + int(np.searchsorted(spoof_sorted, bona_sorted[i], side="left"))

    def bona_count(k: int) -> int:  # bona fide trials among the first k merged positions
        return bisect.bisect_left(range(n_bona), k, key=bona_position)

    def crossing_key(k: int) -> int:
        count = bona_count(k)
        return count * n_spoof + (k - count) * n_bona

    crossing = bisect.bisect_left(range(n_bona + n_spoof + 1), n_bona * n_spoof, key=crossing_key)
    window = np.arange(max(crossing - 2, 0), min(crossing + 2, n_bona + n_spoof) + 1)
    counts = np.array([bona_count(int(k)) for k in window], dtype=np.int64)
    frr, far = _rates(counts, window, n_bona, n_spoof)
    best = int(np.argmin(np.abs(frr - far)))
    index, count = int(window[best]), int(counts[best])
    if index == 0:
        threshold = min(bona_sorted[0], spoof_sorted[0]) - 0.001
    elif count > 0 and bona_position(count - 1) == index - 1:  # merged position index − 1 is bona fide
        threshold = bona_sorted[count - 1]
    else:
        threshold = spoof_sorted[index - 1 - count]
    return float(np.mean((frr[best], far[best]))), float(threshold)


def _sweep_points(bonafide: np.ndarray, spoof: np.ndarray):
    """FRR and FAR at the lowest score − 0.001 and at every distinct score (realisable thresholds only)."""
    values = np.unique(np.concatenate((bonafide, spoof)))
    thresholds = np.concatenate(([values[0] - 0.001], values))
    frr = np.searchsorted(np.sort(bonafide), thresholds, side="right") / bonafide.size
    far = (spoof.size - np.searchsorted(np.sort(spoof), thresholds, side="right")) / spoof.size
    return frr, far, thresholds


def _rocch_eer(frr: np.ndarray, far: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """EER of the lower convex hull of the (FAR, FRR) points, as BOSARIS' `rocch2eer` defines it."""
    # Points in order of increasing FAR (decreasing threshold), closed by the trivial corners.
    x = np.concatenate(([0.0], far[::-1], [1.0]))
    y = np.concatenate(([1.0], frr[::-1], [0.0]))
    t = np.concatenate(([np.inf], thresholds[::-1], [-np.inf]))
    hull: list[int] = []
    for i in range(x.size):  # Andrew's monotone chain, lower hull
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    for a, b in zip(hull[:-1], hull[1:], strict=True):
        da, db = y[a] - x[a], y[b] - x[b]  # FRR − FAR at both ends: the EER lies where it is 0
        if da >= 0 >= db:
            w = 0.0 if da == db else da / (da - db)
            eer = x[a] + w * (x[b] - x[a])
            return float(eer), float(t[a] if w < 0.5 else t[b])
    raise AssertionError("unreachable: the hull runs from (0, 1) to (1, 0)")  # pragma: no cover


def compute_min_dcf(
    bonafide_scores,
    spoof_scores,
    p_spoof: float = ASVSPOOF5_DCF["p_spoof"],
    c_miss: float = ASVSPOOF5_DCF["c_miss"],
    c_fa: float = ASVSPOOF5_DCF["c_fa"],
) -> tuple[float, float]:
    """Normalised minimum detection cost over the published DET curve (ASVspoof 5 `compute_mindcf`).

    DCF(t) = C_miss·(1 − P_spoof)·FRR(t) + C_fa·P_spoof·FAR(t), normalised by
    min(C_miss·(1 − P_spoof), C_fa·P_spoof), the cost of the better trivial system.

    Args:
        bonafide_scores: array-like [N_bona], higher = more bona fide.
        spoof_scores: array-like [N_spoof].
        p_spoof: prior of a spoof trial (ASVspoof 5: 0.05).
        c_miss: cost of rejecting a bona fide trial (ASVspoof 5: 1).
        c_fa: cost of accepting a spoof trial (ASVspoof 5: 10).

    Returns:
        `(min_dcf, threshold)`: 0 is perfect, 1 no better than always deciding for the cheaper class.
    """
    return compute_det_curve(bonafide_scores, spoof_scores).min_dcf(p_spoof, c_miss, c_fa)


def _check_costs(p_spoof: float, c_miss: float, c_fa: float) -> None:
    if not 0.0 < p_spoof < 1.0 or c_miss <= 0 or c_fa <= 0:
        raise MetricInputError(
            f"a DCF needs 0 < p_spoof < 1 and positive costs, got p_spoof={p_spoof}, c_miss={c_miss}, c_fa={c_fa}")


def compute_act_dcf(
    bonafide_scores,
    spoof_scores,
    p_spoof: float = ASVSPOOF5_DCF["p_spoof"],
    c_miss: float = ASVSPOOF5_DCF["c_miss"],
    c_fa: float = ASVSPOOF5_DCF["c_fa"],
) -> tuple[float, float]:
    """Normalised actual DCF: the cost at the Bayes threshold of LLR scores (ASVspoof 5 `compute_actDCF`).

    The scores are read as log-likelihood ratios (bona fide vs spoof); the threshold is −log β with
    β = C_miss·(1 − P_spoof) / (C_fa·P_spoof) (ASVspoof 5: −log 1.9 ≈ −0.642). A bona fide trial below it is a
    miss, a spoof trial at or above it a false acceptance; the cost is normalised as minDCF's.

    Args:
        bonafide_scores: array-like [N_bona], LLRs of bona fide trials.
        spoof_scores: array-like [N_spoof], LLRs of spoof trials.
        p_spoof, c_miss, c_fa: the cost model (ASVspoof 5's by default).

    Returns:
        `(act_dcf, threshold)`; 1 is no better than always deciding for the cheaper class.
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    _check_costs(p_spoof, c_miss, c_fa)
    threshold = -np.log(c_miss * (1 - p_spoof) / (c_fa * p_spoof))
    miss = np.count_nonzero(bonafide < threshold) / bonafide.size
    false_alarm = np.count_nonzero(spoof >= threshold) / spoof.size
    cost = c_miss * (1 - p_spoof) * miss + c_fa * p_spoof * false_alarm
    return float(cost / min(c_fa * p_spoof, c_miss * (1 - p_spoof))), float(threshold)


def compute_cllr(bonafide_scores, spoof_scores) -> float:
    """Cost of log-likelihood ratios in bits (ASVspoof 5 `calculate_CLLR`): 0 for perfect LLRs, 1 for a system
    that always says 0, above 1 for a miscalibrated one.

    Cllr = ½ (mean log2(1 + e^−s) over bona fide + mean log2(1 + e^s) over spoof). `np.logaddexp` keeps it
    finite where the package's `log1p(exp(·))` overflows to inf (|s| > 709); elsewhere the two agree.
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    return float(0.5 * (np.mean(np.logaddexp(0.0, -bonafide)) + np.mean(np.logaddexp(0.0, spoof))) / np.log(2))


def detection_measures(bonafide_scores, spoof_scores, **costs) -> dict[str, float]:
    """ASVspoof 5's track-1 measures of one set of trials: `eer`, `threshold` (at the EER), `min_dcf`,
    `act_dcf` and `cllr` (the last two read the scores as LLRs)."""
    curve = compute_det_curve(bonafide_scores, spoof_scores)
    eer, threshold = compute_eer(bonafide_scores, spoof_scores)
    min_dcf, _ = curve.min_dcf(**costs)
    act_dcf, _ = compute_act_dcf(bonafide_scores, spoof_scores, **costs)
    return {"eer": eer, "threshold": threshold, "min_dcf": min_dcf, "act_dcf": act_dcf,
            "cllr": compute_cllr(bonafide_scores, spoof_scores)}


CALIBRATION_RIDGE = 1e-3  # on the scale only: a separable development set still gives a finite map


@dataclass(frozen=True)
class Calibration:
    """An affine map `scale * score + offset` that turns a system's scores into LLRs (bona fide vs spoof).

    Args:
        scale: the slope (positive for a system whose higher scores are more bona fide).
        offset: the shift.
        prior: the bona fide prior the fit was weighted for.
        n_bonafide: development trials of each class it was fitted on.
        n_spoof: likewise, spoof.
    """

    scale: float
    offset: float
    prior: float = 0.5
    n_bonafide: int = 0
    n_spoof: int = 0

    def __call__(self, scores) -> np.ndarray:
        return self.scale * np.asarray(scores, dtype=np.float64) + self.offset


def _calibration_objective(params: np.ndarray, scores: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                           logit_prior: float):
    """Weighted logistic loss of `scale * s + offset + logit(prior)` with the ridge, its gradient and Hessian."""
    scale, offset = params
    z = scale * scores + offset + logit_prior
    signed = np.where(targets, -z, z)  # loss of each trial: softplus(signed)
    loss = float(np.sum(weights * np.logaddexp(0.0, signed)) + 0.5 * CALIBRATION_RIDGE * scale**2)
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid(z), overflow-free
    residual = weights * (p - targets)
    grad = np.array([np.sum(residual * scores) + CALIBRATION_RIDGE * scale, np.sum(residual)])
    curvature = weights * p * (1.0 - p)
    hess = np.array([[np.sum(curvature * scores**2) + CALIBRATION_RIDGE, np.sum(curvature * scores)],
                     [np.sum(curvature * scores), np.sum(curvature) + 1e-300]])
    return loss, grad, hess


def fit_calibration(bonafide_scores, spoof_scores, prior: float = 0.5, max_iter: int = 200) -> Calibration:
    """Linear calibration of development scores into LLRs by prior-weighted logistic regression.

    As BOSARIS' `train_binary_classifier` and the ASVspoof 5 tools' `get_calibration_affine` (logistic regression
    on the development scores) do: minimise P·mean_bona log(1 + e^−(a s + b + L)) + (1 − P)·mean_spoof
    log(1 + e^(a s + b + L)) + ½·1e-3·a², L = logit(P), over the scale a and offset b by Newton steps with
    backtracking; a s + b is then an LLR. With P = ½ this minimises the development Cllr. The weak ridge on `a`
    keeps the map finite on a separable development set (ASVspoof 5's tool gets the same from scikit-learn's
    default regularisation).

    Args:
        bonafide_scores: array-like [N_bona], development scores of bona fide trials.
        spoof_scores: array-like [N_spoof], development scores of spoof trials.
        prior: the bona fide prior the classes are weighted to (0 < prior < 1).
        max_iter: Newton steps at most.

    Returns:
        The `Calibration` (callable on scores).
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    if not 0.0 < prior < 1.0:
        raise MetricInputError(f"calibration needs 0 < prior < 1, got {prior}")
    if not (np.all(np.isfinite(bonafide)) and np.all(np.isfinite(spoof))):
        raise MetricInputError("calibration needs finite development scores (an infinite score has no LLR)")
    scores = np.concatenate((bonafide, spoof))
    targets = np.concatenate((np.ones(bonafide.size), np.zeros(spoof.size)))
    weights = np.concatenate((np.full(bonafide.size, prior / bonafide.size),
                              np.full(spoof.size, (1 - prior) / spoof.size)))
    logit_prior = float(np.log(prior / (1 - prior)))
    params = np.zeros(2)
    loss, grad, hess = _calibration_objective(params, scores, targets, weights, logit_prior)
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = grad
        size = 1.0
        while size > 1e-12:
            trial = params - size * step
            new = _calibration_objective(trial, scores, targets, weights, logit_prior)
            if new[0] <= loss:
                break
            size /= 2
        else:
            break
        params, (loss, grad, hess) = trial, new
        if np.max(np.abs(grad)) < 1e-12:
            break
    return Calibration(scale=float(params[0]), offset=float(params[1]), prior=prior,
                       n_bonafide=int(bonafide.size), n_spoof=int(spoof.size))


def compute_auroc(positive_scores, negative_scores) -> float:
    """Area under the ROC curve: the probability that a positive trial scores above a negative one, ties
    counted one half (the Mann-Whitney U statistic over N_pos·N_neg). Used for open-set tracing: positives are
    clips of codecs the tracer never saw, the score its "none of the known codecs" score."""
    positive = np.sort(_as_scores(positive_scores, "positive_scores"))
    negative = np.sort(_as_scores(negative_scores, "negative_scores"))
    below = np.searchsorted(negative, positive, side="left")
    tied = np.searchsorted(negative, positive, side="right") - below
    return float((below.sum() + 0.5 * tied.sum()) / (positive.size * negative.size))


def split_scores(scores, labels, pos_label=0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of one array split by label into `(bonafide, spoof)`; `pos_label` is the bona fide label.

    Raises `MetricInputError` if the lengths differ or a class is missing.
    """
    scores = np.asarray(scores).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.size != labels.size:
        raise MetricInputError(
            f"{scores.size} scores but {labels.size} labels: give one label per score (same order)")
    is_bonafide = labels == pos_label
    if not is_bonafide.any():
        raise MetricInputError(
            f"no trial has the bona fide label pos_label={pos_label!r} (labels seen: "
            f"{np.unique(labels).tolist()[:10]}); set `pos_label` to the bona fide label")
    if is_bonafide.all():
        raise MetricInputError(f"every trial has the bona fide label pos_label={pos_label!r}: no spoof trials")
    return scores[is_bonafide], scores[~is_bonafide]


def eer_from_labels(scores, labels, pos_label=0, method: str = "asvspoof") -> tuple[float, float]:
    """`compute_eer` on one score array with labels (`pos_label` = bona fide, higher score = bona fide)."""
    bonafide, spoof = split_scores(scores, labels, pos_label)
    return compute_eer(bonafide, spoof, method=method)


def confusion_matrix(true_ids, predicted_ids, num_classes: int) -> np.ndarray:
    """Counts [num_classes, num_classes]: row = true class, column = predicted class."""
    true_ids, predicted_ids = np.asarray(true_ids, dtype=np.int64), np.asarray(predicted_ids, dtype=np.int64)
    if true_ids.shape != predicted_ids.shape:
        raise MetricInputError(f"true ids {true_ids.shape} and predicted ids {predicted_ids.shape} differ in shape")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true_ids, predicted_ids), 1)
    return matrix


def classification_scores(true_ids, predicted_ids, num_classes: int | None = None) -> dict:
    """Accuracy, macro-F1 and the confusion matrix of a multi-class prediction (source tracing).

    Macro-F1 averages the per-class F1 over the classes that occur as a true or a predicted label (scikit-learn's
    `f1_score(average="macro")` with its default labels); a class with no true and no predicted rows does not
    count. Weighted F1 weighs each class's F1 by its true rows (scikit-learn's `average="weighted"`). Returns
    `{"accuracy", "macro_f1", "weighted_f1", "f1" (per class id, NaN where the class does not count),
    "confusion" (counts, true x predicted)}`.
    """
    true_ids, predicted_ids = np.asarray(true_ids, dtype=np.int64), np.asarray(predicted_ids, dtype=np.int64)
    if true_ids.size == 0:
        raise MetricInputError("no rows to score")
    num_classes = num_classes or int(max(true_ids.max(), predicted_ids.max()) + 1)
    matrix = confusion_matrix(true_ids, predicted_ids, num_classes)
    hits = np.diag(matrix).astype(np.float64)
    true_counts, predicted_counts = matrix.sum(axis=1), matrix.sum(axis=0)
    counted = (true_counts + predicted_counts) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(counted, 2 * hits / (true_counts + predicted_counts), np.nan)
    weighted = float(np.sum(np.where(true_counts > 0, f1, 0.0) * true_counts) / true_counts.sum())
    return {"accuracy": float(hits.sum() / true_ids.size), "macro_f1": float(np.nanmean(f1[counted])),
            "weighted_f1": weighted, "f1": f1, "confusion": matrix}

"""codecfake_hf.metrics: the published ASVspoof EER bit for bit, brute force on tie-free scores, minDCF, errors."""

from __future__ import annotations

import numpy as np
import pytest

from bench.eer import published_det_curve, published_eer
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.metrics import (
    MetricInputError,
    compute_det_curve,
    compute_eer,
    compute_min_dcf,
    eer_from_labels,
    split_scores,
)


def brute_force_eer(bonafide, spoof):
    """Every threshold tried, one by one: accept above it; the first threshold minimising |FRR − FAR|."""
    candidates = [min(bonafide.min(), spoof.min()) - 0.001, *sorted(np.concatenate((bonafide, spoof)))]
    best = None
    for threshold in candidates:
        frr = np.sum(bonafide <= threshold) / bonafide.size
        far = np.sum(spoof > threshold) / spoof.size
        if best is None or abs(frr - far) < best[0]:
            best = (abs(frr - far), (frr + far) / 2, threshold)
    return best[1], best[2]


def random_sets(count: int, ties: bool, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n_bona, n_spoof = rng.integers(1, 60, size=2)
        if ties:  # few distinct values: most scores tied, across and within classes
            levels = rng.integers(1, 6)
            yield (rng.integers(0, levels + 1, n_bona).astype(float),
                   rng.integers(0, levels, n_spoof).astype(float))
        else:
            shift = rng.uniform(0, 3)
            yield rng.normal(shift, 1, n_bona), rng.normal(0, 1, n_spoof)


def test_equals_brute_force_on_tie_free_scores():
    for bonafide, spoof in random_sets(300, ties=False, seed=1):
        eer, threshold = compute_eer(bonafide, spoof)
        expected_eer, expected_threshold = brute_force_eer(bonafide, spoof)
        assert eer == pytest.approx(expected_eer, abs=1e-12)
        assert threshold == expected_threshold
        # without ties, the sweep over distinct scores is the same computation
        assert compute_eer(bonafide, spoof, method="sweep") == pytest.approx((eer, threshold), abs=1e-12)


def test_equals_published_algorithm_bit_for_bit_on_tie_heavy_scores():
    for bonafide, spoof in random_sets(1500, ties=True, seed=2):
        assert compute_eer(bonafide, spoof) == published_eer(bonafide, spoof)


def test_equals_published_algorithm_on_large_sets():
    rng = np.random.default_rng(3)
    bonafide = np.round(rng.normal(1.5, 1, 20_000), 2)  # ties across classes
    spoof = np.round(rng.normal(0, 1, 300_000), 2)
    assert compute_eer(bonafide, spoof) == published_eer(bonafide, spoof)
    curve = compute_det_curve(bonafide, spoof)
    for ours, published in zip((curve.frr, curve.far, curve.thresholds), published_det_curve(bonafide, spoof),
                               strict=True):
        np.testing.assert_array_equal(ours, published)


def test_det_curve_equals_published_with_ties():
    for bonafide, spoof in random_sets(300, ties=True, seed=4):
        curve = compute_det_curve(bonafide, spoof)
        frr, far, thresholds = published_det_curve(bonafide, spoof)
        np.testing.assert_array_equal(curve.frr, frr)
        np.testing.assert_array_equal(curve.far, far)
        np.testing.assert_array_equal(curve.thresholds, thresholds)


def test_ties_published_differs_from_threshold_sweep():
    # the documented example: the tie block at 1 is resolved against the detector by the published code
    bonafide, spoof = np.array([1.0, 1.0]), np.array([1.0, 0.0])
    assert compute_eer(bonafide, spoof) == (0.5, 1.0)
    assert compute_eer(bonafide, spoof, method="sweep") == (0.25, 0.0)
    assert compute_eer(bonafide, spoof, method="rocch")[0] == pytest.approx(1 / 3)


def test_known_values():
    assert compute_eer([0.9, 0.8], [0.2, 0.1]) == (0.0, 0.2)
    assert compute_eer([0.1, 0.2], [0.8, 0.9])[0] == 1.0  # scores pointing the wrong way
    assert compute_eer([0.9, 0.8, 0.7, 0.3], [0.6, 0.2, 0.1, 0.05])[0] == 0.25
    assert compute_eer([3.0], [1.0]) == (0.0, 1.0)
    assert compute_eer([-np.inf, 1.0], [np.inf, 0.0])[0] == 0.5  # infinite log-odds are ordered


def test_rocch_eer_is_below_every_realisable_operating_point():
    for ties in (False, True):
        for bonafide, spoof in random_sets(200, ties=ties, seed=5):
            eer, _ = compute_eer(bonafide, spoof, method="rocch")
            values = np.unique(np.concatenate((bonafide, spoof)))
            worst_of_pair = [max(np.mean(bonafide <= t), np.mean(spoof > t))
                             for t in np.concatenate(([values[0] - 1], values))]
            assert 0.0 <= eer <= min(worst_of_pair) + 1e-12


def test_min_dcf_asvspoof5():
    rng = np.random.default_rng(6)
    for _ in range(100):
        bonafide = np.round(rng.normal(1, 1, rng.integers(1, 40)), 1)
        spoof = np.round(rng.normal(0, 1, rng.integers(1, 40)), 1)
        frr, far, thresholds = published_det_curve(bonafide, spoof)
        costs = [1 * f * 0.95 + 10 * a * 0.05 for f, a in zip(frr, far, strict=True)]  # ASVspoof 5's loop
        best = int(np.argmin(costs))
        min_dcf, threshold = compute_min_dcf(bonafide, spoof)
        assert min_dcf == pytest.approx(costs[best] / min(0.95, 0.5))
        assert threshold == thresholds[best]
        assert 0.0 <= min_dcf <= 1.0 + 1e-12
    assert compute_min_dcf([2.0, 3.0], [0.0, 1.0])[0] == 0.0
    assert compute_min_dcf([0.0], [1.0])[0] == 1.0  # no better than accepting everything


def test_labels_interface():
    scores = [0.9, 0.4, 0.6, 0.1]
    assert eer_from_labels(scores, [0, 0, 1, 1]) == compute_eer([0.9, 0.4], [0.6, 0.1])
    assert eer_from_labels(scores, [1, 1, 0, 0], pos_label=1) == compute_eer([0.9, 0.4], [0.6, 0.1])
    bonafide, spoof = split_scores(np.array([[0.9], [0.1]]), [0, 1])
    assert bonafide.tolist() == [0.9] and spoof.tolist() == [0.1]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: compute_eer([], [0.1]), "`bonafide_scores` is empty"),
    (lambda: compute_eer([0.1], []), "`spoof_scores` is empty"),
    (lambda: compute_eer([0.1, np.nan], [0.2]), "NaN"),
    (lambda: compute_eer([[0.1, 0.2], [0.3, 0.4]], [0.2]), "1-D"),
    (lambda: compute_eer(["a"], [0.2]), "must be numbers"),
    (lambda: compute_eer([0.1], [0.2], method="mean"), "`method`"),
    (lambda: eer_from_labels([0.1, 0.2, 0.3], [0, 1]), "3 scores but 2 labels"),
    (lambda: eer_from_labels([0.1, 0.2], [1, 1]), "no trial has the bona fide label"),
    (lambda: eer_from_labels([0.1, 0.2], [0, 0]), "no spoof trials"),
    (lambda: compute_min_dcf([0.1], [0.2], p_spoof=1.5), "p_spoof"),
])
def test_clear_errors(call, message):
    with pytest.raises(MetricInputError, match=message) as caught:
        call()
    assert isinstance(caught.value, CodecFakeError) and isinstance(caught.value, ValueError)

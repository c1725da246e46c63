"""PNG figures of the evaluation: DET curves (normal-deviate axes), the train × test EER heat map and the
source-tracing confusion matrix. Codecs appear in the registry's (the paper's) order; with 16+ curves each gets
a distinct colour and line style and the legend sits outside the axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from codecfake_hf.files import atomic_path  # noqa: E402
from codecfake_hf.metrics import DetCurve  # noqa: E402
from codecfake_hf.results import POOLED  # noqa: E402
from codecfake_hf.schema import part_order  # noqa: E402

_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)  # rates on the DET axes
_CLIP = 0.0005  # rates of 0 or 1 have no normal deviate: draw them at the plot's edge


def _probit(rates: np.ndarray) -> np.ndarray:
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf(rate) for rate in np.clip(rates, _CLIP, 1 - _CLIP)])


def _thin(curve: DetCurve, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """At most `points` points of the curve (every k-th), keeping both ends; the eye sees no difference."""
    step = max(1, curve.frr.size // points)
    index = np.unique(np.concatenate((np.arange(0, curve.frr.size, step), [curve.frr.size - 1])))
    return curve.far[index], curve.frr[index]


# Four named styles, then four dash patterns: 8 x 20 colours = 160 distinct curves before one repeats.
_LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 2, 2)))
_LEGEND_ROWS = 34  # entries per legend column before a new column starts


def curve_styles(count: int) -> list[dict]:
    """`count` distinct (colour, line style) pairs: tab20's ten dark colours solid, then its ten light ones
    dashed, then both again dash-dotted and dotted, then four dash patterns; neighbours in the legend never share
    a hue."""
    colours = plt.get_cmap("tab20").colors
    ordered = list(colours[0::2]) + list(colours[1::2])
    return [{"color": ordered[i % 20], "linestyle": _LINE_STYLES[(i // 10) % len(_LINE_STYLES)]}
            for i in range(count)]


def plot_det(curves: Mapping[str, DetCurve], eers: Mapping[str, float], path: str | Path, title: str) -> Path:
    """DET curves (FAR of spoof vs FRR of bona fide, normal-deviate scale), one per codec in the registry's order
    plus `pooled` (black, thick), EER in the legend, which sits outside the axes."""
    names = [name for name in part_order([n for n in curves if n != POOLED])] + \
        ([POOLED] if POOLED in curves else [])
    columns = -(-len(names) // _LEGEND_ROWS)
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(figsize=(6 + (3.5 * columns if len(names) > 1 else 0), max(6.0, 0.24 * rows + 1)))
    styles = iter(curve_styles(len(names)))
    for name in names:
        far, frr = _thin(curves[name])
        style = {"color": "black", "linewidth": 2.2} if name == POOLED else {"linewidth": 1.2, **next(styles)}
        axes.plot(_probit(far), _probit(frr), label=f"{name} (EER {100 * eers[name]:.2f} %)", **style)
    ticks = _probit(np.array(_TICKS))
    labels = [f"{100 * t:g}" for t in _TICKS]
    limit = (_probit(np.array([_CLIP]))[0], _probit(np.array([1 - _CLIP]))[0])
    axes.plot(limit, limit, color="grey", linestyle=":", linewidth=0.8)  # FRR = FAR: the EER line
    axes.set(xticks=ticks, xticklabels=labels, yticks=ticks, yticklabels=labels, xlim=limit, ylim=limit,
             xlabel="False acceptance rate of spoof (%)", ylabel="False rejection rate of bona fide (%)",
             title=title)
    axes.grid(True, linewidth=0.3)
    axes.set_aspect("equal")
    axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False,
                ncols=columns)
    figure.tight_layout()
    return _save(figure, path)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: str | Path, title: str) -> Path:
    """Source-tracing confusion matrix, each row normalised to the share of its true class (%), counts printed."""
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(100.0 * confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    size = 3.0 + 0.45 * len(classes)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=100)
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            axes.text(j, i, str(count), ha="center", va="center", fontsize=7,
                      color="white" if shares[i, j] > 60 else "black")
    axes.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=7)
    axes.set_yticks(range(len(classes)), classes, fontsize=7)
    axes.set(xlabel="predicted", ylabel="true", title=title)
    figure.colorbar(image, ax=axes, label="share of the true class (%)", fraction=0.046, pad=0.04)
    figure.tight_layout()
    return _save(figure, path)


def plot_eer_matrix(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], path: str | Path,
                    title: str, xlabel: str = "test codec") -> Path:
    """Heat map of EER (%) with training sets as rows and test codecs as columns (NaN cells left blank)."""
    figure, axes = plt.subplots(figsize=(3.5 + 0.8 * len(columns), 2.5 + 0.5 * len(rows)))
    shown = np.ma.masked_invalid(100 * matrix)
    image = axes.imshow(shown, cmap="viridis_r", vmin=0, vmax=max(50.0, float(np.nanmax(100 * matrix))))
    for (i, j), value in np.ndenumerate(100 * matrix):
        if np.isfinite(value):
            axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=8,
                      color="white" if value > 25 else "black")
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.set(xlabel=xlabel, ylabel="trained on", title=title)
    figure.colorbar(image, ax=axes, label="EER (%)")
    figure.tight_layout()
    return _save(figure, path)


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:  # bbox_inches="tight" keeps a legend placed outside the axes
            figure.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
    finally:
        plt.close(figure)
    return path

"""Confidence intervals shared by every table: Wilson for proportions (success rates), Student-t for means
(scores per sequence)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def wilson_interval(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (95% by default); ``(nan, nan)`` when n == 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(
    values: Sequence[float] | Iterable[float],
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (independent items, e.g. one score per sequence).

    ``mean +- t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` with ``s`` the sample standard deviation.

    Parameters
    ----------
    values : sequence of float, length n
    confidence : float
        In (0, 1); 0.95 by default.
    bounds : (low, high), optional
        The range the mean can take (e.g. ``(0, 1)`` for scores); the interval is clipped to it.

    Returns
    -------
    (float, float)
        ``(nan, nan)`` for n < 2: one sequence gives no estimate of the spread.
    """
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if not np.isfinite(x).all():
        raise ValueError(f"values must be finite, got {x[~np.isfinite(x)][:3].tolist()}")
    n = len(x)
    if n < 2:
        return (math.nan, math.nan)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    lo, hi = float(x.mean()) - half, float(x.mean()) + half
    if bounds is not None:
        lo, hi = max(bounds[0], lo), min(bounds[1], hi)
    return (lo, hi)

"""The Wilcoxon signed-rank p-value of scipy's default (`scipy.stats.wilcoxon(d)`, method
"auto", two-sided, zeros dropped from the ranks), with its slow case computed directly.

With ties or zeros among at most 13 differences, scipy runs a permutation test over all 2^n
sign flips, calling the statistic once per flip from Python: about a second per test on these
machines, minutes for the hundreds of tests of a comparators run. The ranks of |d| do not
depend on the signs, so every flip's statistic (the sum of the ranks of the positive
differences) is one matrix product; the p-value is then counted exactly as
`scipy.stats.permutation_test` counts it (tests/test_stats.py compares the two)."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

EXACT_UP_TO = 13  # scipy: 2^13 flips are fewer than its 9999 resamples, so it enumerates them


def pvalue(d: np.ndarray) -> float:
    """Two-sided signed-rank p-value of the differences `d` (no NaNs), equal to scipy's."""
    d = np.asarray(d, dtype=float)
    zeros = d == 0
    nonzero = np.abs(d[~zeros])
    ties = len(np.unique(nonzero)) < len(nonzero)
    if not (ties or zeros.any()) or len(d) > EXACT_UP_TO:
        with warnings.catch_warnings():  # small-n notes are expected here, not news
            warnings.simplefilter("ignore")
            return float(stats.wilcoxon(d).pvalue)
    ranks = np.zeros_like(d)
    ranks[~zeros] = stats.rankdata(nonzero)  # average ranks; zeros take no part
    flips = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
    null = ((flips * d) > 0) @ ranks  # the statistic under every sign flip
    observed = ranks[d > 0].sum()
    gamma = abs(np.finfo(float).eps * 100 * observed)  # scipy's tolerance for equal statistics
    less = np.count_nonzero(null <= observed + gamma) / len(null)
    greater = np.count_nonzero(null >= observed - gamma) / len(null)
    return float(np.clip(min(less, greater) * 2, 0.0, 1.0))

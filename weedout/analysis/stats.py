"""Across-seed statistics: CIs, paired weedout-vs-random tests, equivalence, convergence.

The paper's claim is a *null* result ("weedout is no better than random"), and a
non-significant t-test is not evidence of no difference. So next to the paired t-test we
run an equivalence test (TOST) against an explicit margin and give every sparsity level
one of four verdicts. All pairing is on ``seed``: the same seed means the same parent
initialisation and the same data order, which removes the seed-to-seed variance.

Undefined quantities are NaN, never a crash or a RuntimeWarning: n < 2 (no spread, so no
CI or test) and differences that are all equal (zero variance: the t statistic is 0/0 or
c/0, so the t-test and TOST p-values and d_z are NaN and the verdict is "inconclusive").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import signed_rank

METHODS = ("dense", "weedout", "random")
LEVEL = ["dataset", "model", "sparsity"]
NETWORK = LEVEL + ["method", "seed"]
# Accuracy differences are multiples of 1/n_test (>= 1e-5); an sd below this is float
# rounding of identical differences (e.g. 0.95-0.90 vs 0.85-0.80), i.e. zero variance.
_ZERO_SD = 1e-12
_NAN = float("nan")

# The output columns of compute_stats, in order (scripts and notebooks index by name).
COLUMNS = (LEVEL
           + [f"{k}_{m}" for m in METHODS for k in ("n", "mean", "std", "ci_low", "ci_high")]
           + ["n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high", "t_stat", "p_value",
              "p_holm", "wilcoxon_p", "effect_dz", "margin", "tost_p", "tost_p_holm", "verdict",
              "drop_weedout", "drop_random", "rel_drop_weedout", "rel_drop_random",
              "node_sparsity", "param_sparsity", "flop_sparsity", "reach"]
           + [f"{x}_{m}" for x in ("epochs_to_reach", "auc") for m in METHODS]
           + ["auc_diff", "auc_p", "epochs_diff", "epochs_p", "n_diverged",
              "auc_p_holm", "epochs_p_holm"])


def mean_ci(values, alpha: float = 0.05) -> dict:
    """n, mean, std (ddof=1), ci_low, ci_high of the finite values; t-interval at 1-alpha."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]  # diverged networks (NaN) do not count
    n = int(x.size)
    out = dict(n=n, mean=_NAN, std=_NAN, ci_low=_NAN, ci_high=_NAN)
    if n == 0:
        return out
    out["mean"] = float(x.mean())
    if n >= 2:  # one value has no spread: std and CI stay NaN
        sd = float(x.std(ddof=1))
        half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n)
        out.update(std=sd, ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    return out


def diffs(a, b) -> np.ndarray:
    """a - b over the pairs where both are finite (a diverged partner voids the pair)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    return d[np.isfinite(d)]


def _one_sample_t(d: np.ndarray, mu: float = 0.0):
    """(t, df) of H0: mean(d) == mu, or (NaN, df) when undefined (n < 2 or zero variance)."""
    n = d.size
    if n < 2 or d.std(ddof=1) <= _ZERO_SD:
        return _NAN, n - 1
    return (d.mean() - mu) / (d.std(ddof=1) / np.sqrt(n)), n - 1


def tost_paired(a, b, margin: float = 0.01) -> float:
    """TOST p-value for |mean(a - b)| < margin: the larger of the two one-sided p-values
    (H0 diff <= -margin, H0 diff >= +margin). p < alpha <=> the (1-2alpha) CI lies in ±margin."""
    d = diffs(a, b)
    t_low, df = _one_sample_t(d, -margin)  # large t_low rejects diff <= -margin
    t_high, _ = _one_sample_t(d, +margin)  # small t_high rejects diff >= +margin
    if np.isnan(t_low):
        return _NAN
    return float(max(stats.t.sf(t_low, df), stats.t.cdf(t_high, df)))


def _wilcoxon(d: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value, NaN when fewer than two nonzero differences."""
    if np.count_nonzero(d) < 2:
        return _NAN
    return signed_rank.pvalue(d)  # scipy's p-value, without its slow permutation loop


def verdict(p_value: float, tost_p: float, diff_mean: float, alpha: float = 0.05) -> str:
    """"equivalent" if tost_p < alpha; else "weedout better"/"weedout worse" if p_value <
    alpha (by the sign of diff_mean); else "inconclusive" (NaN p-values never pass)."""
    if tost_p < alpha:
        return "equivalent"
    if p_value < alpha:
        return "weedout better" if diff_mean > 0 else "weedout worse"
    return "inconclusive"


def paired_test(a, b, margin: float = 0.01, alpha: float = 0.05) -> dict:
    """Paired comparison of a (weedout) and b (random), aligned by seed; NaN pairs dropped.

    Returns n_pairs, diff_mean, diff_ci_low, diff_ci_high (t-interval of a - b), t_stat,
    p_value (two-sided paired t), wilcoxon_p, effect_dz (mean/sd of the differences),
    margin, tost_p and verdict (see `verdict`)."""
    d = diffs(a, b)
    ci = mean_ci(d, alpha)
    t, df = _one_sample_t(d)
    p = _NAN if np.isnan(t) else float(2 * stats.t.sf(abs(t), df))
    dz = ci["mean"] / ci["std"] if ci["std"] > _ZERO_SD else _NAN
    tost = tost_paired(a, b, margin)
    return dict(n_pairs=ci["n"], diff_mean=ci["mean"], diff_ci_low=ci["ci_low"],
                diff_ci_high=ci["ci_high"], t_stat=float(t), p_value=p,
                wilcoxon_p=_wilcoxon(d), effect_dz=dz, margin=margin, tost_p=tost,
                verdict=verdict(p, tost, ci["mean"], alpha))


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in input order; NaNs stay NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, _NAN)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    # step-down: the i-th smallest is scaled by (m - i), then made monotone non-decreasing
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def pairs_table(rows: list[dict], family: list[str], alpha: float = 0.05,
                better: str = "better", worse: str = "worse") -> pd.DataFrame:
    """Rows that carry `paired_test` results (accuracy differences as fractions) as a table in
    points, with Holm-adjusted p-values (t-test and TOST) per `family` and the verdict of the
    adjusted ones, "better"/"worse" named by the caller (e.g. "larger better")."""
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    for c in ("diff_mean", "diff_ci_low", "diff_ci_high"):
        out[c] = 100 * out[c]  # points
    groups = out.groupby(family)
    out["p_holm"] = groups["p_value"].transform(holm)
    out["tost_p_holm"] = groups["tost_p"].transform(holm)
    out["verdict"] = [verdict(p, q, d, alpha).replace("weedout better", better)
                      .replace("weedout worse", worse)
                      for p, q, d in zip(out.p_holm, out.tost_p_holm, out.diff_mean)]
    return out


def convergence(curves: pd.DataFrame, reach: float = 0.95) -> pd.DataFrame:
    """Per network: epochs_to_reach and auc (mean test_acc over epochs 1..E, in [0, 1]).

    epochs_to_reach is the first epoch >= 1 whose test_acc reaches a bar *shared by the pair*:
    `reach` times the lower of the final-epoch test accuracies of the weedout and random networks
    of the same level and seed (both cross it by their last epoch). Each network's own final
    would favour the worse one: a network that ends lower has a lower bar and reaches it sooner.
    Dense networks and other methods have no partner and use their own final accuracy.
    Epoch 0 (before training) is left out of both. A NaN anywhere in a curve (divergence) makes
    that network's values NaN; its partner then keeps its own bar."""
    c = curves.loc[curves["epoch"] >= 1, NETWORK + ["epoch", "test_acc"]].copy()
    last = c.groupby(NETWORK)["epoch"].transform("max")
    c["final"] = c["test_acc"].where(c["epoch"] == last)
    c["final"] = c.groupby(NETWORK)["final"].transform("max")  # broadcast to the curve
    c["broken"] = c["test_acc"].isna().groupby([c[k] for k in NETWORK]).transform("any")
    c["bar"] = c["final"]
    pair = c["method"].isin(["weedout", "random"]) & ~c["broken"]
    c.loc[pair, "bar"] = c[pair].groupby(LEVEL + ["seed"])["final"].transform("min")
    c["hit"] = c["epoch"].where(c["test_acc"] >= reach * c["bar"])
    out = c.groupby(NETWORK, sort=True).agg(epochs_to_reach=("hit", "min"),
                                            auc=("test_acc", "mean"), broken=("broken", "any"))
    out.loc[out["broken"], ["epochs_to_reach", "auc"]] = _NAN
    out = out.drop(columns="broken")
    return out.reset_index()


def _as_bool(s: pd.Series) -> pd.Series:
    """A CSV round trip may leave "True"/"False" strings or NaN; astype(bool) calls both True."""
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])


def _by_seed(rows: pd.DataFrame, col: str) -> pd.Series:
    return rows.set_index("seed")[col]


def paired(x: pd.Series, y: pd.Series):
    """Align two by-seed series on the seeds both have."""
    both = pd.concat([x.rename("x"), y.rename("y")], axis=1, join="inner")
    return both["x"].to_numpy(float), both["y"].to_numpy(float)


def _paired_mean_p(x: pd.Series, y: pd.Series):
    d = diffs(*paired(x, y))
    t, df = _one_sample_t(d)
    mean = float(d.mean()) if d.size else _NAN
    return mean, (_NAN if np.isnan(t) else float(2 * stats.t.sf(abs(t), df)))


def with_dead(accuracy: pd.DataFrame) -> pd.DataFrame:
    """A copy with a `dead` column (NaN accuracy or diverged=True) and NaN accuracy for those
    networks, so they drop out of means and of any pair they are in."""
    acc = accuracy.copy()
    dead = acc["test_acc"].isna()
    if "diverged" in acc:
        dead |= _as_bool(acc["diverged"])
    acc["dead"] = dead
    acc.loc[dead, "test_acc"] = _NAN
    return acc


def _level_row(key: tuple, level: pd.DataFrame, den: pd.DataFrame, margin: float,
               alpha: float, reach: float) -> dict:
    """stats.csv's row of one level: its weedout and random networks and their dense parents."""
    ds, model, s = key
    by = {"dense": den, **{m: level[level["method"] == m] for m in ("weedout", "random")}}
    row = dict(dataset=ds, model=model, sparsity=s)
    for m in METHODS:
        row.update({f"{k}_{m}": v for k, v in mean_ci(by[m]["test_acc"], alpha).items()})
    acc_w, acc_r = (_by_seed(by[m], "test_acc") for m in ("weedout", "random"))
    row.update(paired_test(*paired(acc_w, acc_r), margin=margin, alpha=alpha))
    for m in ("weedout", "random"):
        d = diffs(*paired(_by_seed(den, "test_acc"), _by_seed(by[m], "test_acc")))
        row[f"drop_{m}"] = float(d.mean()) if d.size else _NAN
        md = row["mean_dense"]
        row[f"rel_drop_{m}"] = row[f"drop_{m}"] / md if md != 0 else _NAN
    # the architecture, diverged or not; node_sparsity is the achieved one (nominal level
    # `sparsity` after rounding to whole nodes: 0.3 of 32 channels removes 10, 0.3125)
    for col in ("param_sparsity", "flop_sparsity", "node_sparsity"):
        row[col] = float(level[col].mean()) if col in level else _NAN
    row["reach"] = reach
    for metric in ("epochs_to_reach", "auc"):
        for m in METHODS:
            row[f"{metric}_{m}"] = float(by[m][metric].mean()) if len(by[m]) else _NAN
    row["auc_diff"], row["auc_p"] = _paired_mean_p(_by_seed(by["weedout"], "auc"),
                                                   _by_seed(by["random"], "auc"))
    row["epochs_diff"], row["epochs_p"] = _paired_mean_p(
        _by_seed(by["weedout"], "epochs_to_reach"), _by_seed(by["random"], "epochs_to_reach"))
    row["n_diverged"] = int(level["dead"].sum() + den["dead"].sum())
    return row


def compute_stats(accuracy: pd.DataFrame, curves: pd.DataFrame | None = None,
                  margin: float = 0.01, alpha: float = 0.05, reach: float = 0.95) -> pd.DataFrame:
    """One row per (dataset, model, sparsity > 0): per-method mean/CI, the paired
    weedout-random test with verdict, drops versus dense, sparsity accounting, convergence.

    Verdict rule (per level, at `alpha`): "equivalent" if TOST against ±margin (absolute
    accuracy fraction) rejects non-equivalence; else "weedout better"/"weedout worse" if the
    two-sided paired t-test rejects (sign of diff_mean); else "inconclusive". Both tests are
    Holm-adjusted across the sparsity levels of one dataset x model (p_holm, tost_p_holm) and
    the verdict uses the adjusted values: one verdict per level means nine tests per family,
    and an unadjusted verdict would contradict the p (Holm) printed beside it. Zero-variance differences give NaN p-values, hence "inconclusive".
    Diverged networks (NaN test_acc or diverged=True) drop out of means and of any pair they
    are in. n_diverged counts that level's diverged sparse networks plus the diverged dense
    networks of its dataset x model (so a dense divergence shows on each of its rows).
    drop_m is the mean over seeds of dense - m (paired), rel_drop_m = drop_m / mean_dense.
    """
    if accuracy.duplicated(NETWORK).any():  # silent averaging of duplicates would hide a bug
        raise ValueError("accuracy has more than one row per (dataset, model, sparsity, method, seed)")
    acc = with_dead(accuracy)
    if curves is not None and len(curves):
        acc = acc.merge(convergence(curves, reach), on=NETWORK, how="left")
    else:
        acc["epochs_to_reach"] = acc["auc"] = _NAN
    acc.loc[acc["dead"], ["epochs_to_reach", "auc"]] = _NAN  # merge renumbered the rows
    dense = {k: g for k, g in acc[acc["method"] == "dense"].groupby(["dataset", "model"])}

    # other methods of the run (comparators, controls) are weedout.analysis.comparison's
    sparse = acc[acc["method"].isin(["weedout", "random"]) & (acc["sparsity"] > 0)]
    rows = [_level_row(key, level, dense.get(key[:2], acc.iloc[:0]), margin, alpha, reach)
            for key, level in sparse.groupby(LEVEL, sort=True)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    family = out.groupby(["dataset", "model"])
    out["p_holm"] = family["p_value"].transform(holm)
    out["tost_p_holm"] = family["tost_p"].transform(holm)
    out["auc_p_holm"] = family["auc_p"].transform(holm)        # convergence claims are a
    out["epochs_p_holm"] = family["epochs_p"].transform(holm)  # family of levels too
    out["verdict"] = [verdict(p, t, d, alpha) for p, t, d in
                      zip(out["p_holm"], out["tost_p_holm"], out["diff_mean"])]
    return out.reset_index(drop=True)



def seeds_counted(table: pd.DataFrame) -> pd.Series:
    """How many seeds each row of a stats table was computed from: every seed gives one dense,
    one weedout and one random network, each counted in its n_<method> or, dead, in
    n_diverged (a stats row keeps no seed list; 04_figures checks its grid with this)."""
    return (table[[f"n_{m}" for m in METHODS]].sum(axis=1) + table["n_diverged"]) // len(METHODS)

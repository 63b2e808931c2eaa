"""Oracle tests for weedout.stats: each number is recomputed a second, independent way
(explicit formulas, scipy's own tests, a plain-Python loop) on hand-made data."""
import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from weedout.analysis import stats

# Undefined statistics must come back as NaN quietly: any warning fails the test.
pytestmark = pytest.mark.filterwarnings("error")

EXPECTED_COLUMNS = [
    "dataset", "model", "sparsity",
    "n_dense", "mean_dense", "std_dense", "ci_low_dense", "ci_high_dense",
    "n_weedout", "mean_weedout", "std_weedout", "ci_low_weedout", "ci_high_weedout",
    "n_random", "mean_random", "std_random", "ci_low_random", "ci_high_random",
    "n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high", "t_stat", "p_value", "p_holm",
    "wilcoxon_p", "effect_dz", "margin", "tost_p", "tost_p_holm", "verdict",
    "drop_weedout", "drop_random", "rel_drop_weedout", "rel_drop_random",
    "node_sparsity", "param_sparsity", "flop_sparsity", "reach",
    "epochs_to_reach_dense", "epochs_to_reach_weedout", "epochs_to_reach_random",
    "auc_dense", "auc_weedout", "auc_random", "auc_diff", "auc_p", "epochs_diff", "epochs_p",
    "n_diverged", "auc_p_holm", "epochs_p_holm",
]


# ---------------------------------------------------------------- building blocks
def test_mean_ci_matches_explicit_formula():
    x = np.array([0.81, 0.79, 0.84, 0.80, 0.83, np.nan])  # the NaN is a diverged network
    got = stats.mean_ci(x, alpha=0.05)
    v = x[:5]
    half = st.t.ppf(0.975, 4) * np.sqrt(((v - v.mean()) ** 2).sum() / 4) / np.sqrt(5)
    assert got["n"] == 5
    assert got["mean"] == pytest.approx(0.814)
    assert got["ci_low"] == pytest.approx(v.mean() - half)
    assert got["ci_high"] == pytest.approx(v.mean() + half)
    # 90% interval is narrower
    assert stats.mean_ci(v, alpha=0.10)["ci_high"] < got["ci_high"]


def test_mean_ci_degenerate_sizes():
    assert np.isnan(stats.mean_ci([])["mean"]) and stats.mean_ci([])["n"] == 0
    one = stats.mean_ci([0.7, np.nan])
    assert one["n"] == 1 and one["mean"] == 0.7
    assert np.isnan(one["std"]) and np.isnan(one["ci_low"]) and np.isnan(one["ci_high"])


def test_mean_ci_coverage():
    # 2000 intervals: coverage ~ Binomial(2000, .95)/2000 with sd sqrt(.95*.05/2000) = 0.0049;
    # +-0.02 is about 4 sd, so a correct interval fails this with probability < 1e-4 (and the
    # seed is fixed), while a z-interval (~0.92 at n=8) or a wrong df would fail it.
    rng = np.random.default_rng(0)
    hits = [(c["ci_low"] <= 0 <= c["ci_high"])
            for c in (stats.mean_ci(rng.standard_normal(8)) for _ in range(2000))]
    assert abs(np.mean(hits) - 0.95) < 0.02


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(1)
    b = rng.uniform(0.6, 0.9, 12)
    a = b + rng.normal(0.01, 0.02, 12)
    got = stats.paired_test(a, b, margin=0.01, alpha=0.05)
    d = a - b
    one = st.ttest_1samp(d, 0.0)
    rel = st.ttest_rel(a, b)
    assert got["n_pairs"] == 12
    assert got["p_value"] == pytest.approx(one.pvalue) == pytest.approx(rel.pvalue)
    assert got["t_stat"] == pytest.approx(one.statistic)
    assert got["diff_mean"] == pytest.approx(d.mean())
    assert got["effect_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert got["wilcoxon_p"] == pytest.approx(st.wilcoxon(d).pvalue)
    ci = st.t.interval(0.95, 11, loc=d.mean(), scale=st.sem(d))
    assert (got["diff_ci_low"], got["diff_ci_high"]) == pytest.approx(ci)
    assert got["margin"] == 0.01


def test_paired_test_drops_pairs_with_a_diverged_partner():
    a = np.array([0.8, 0.82, np.nan, 0.85, 0.79])
    b = np.array([0.78, 0.80, 0.81, np.nan, 0.80])
    got = stats.paired_test(a, b)
    assert got["n_pairs"] == 3
    assert got["p_value"] == pytest.approx(st.ttest_1samp([0.02, 0.02, -0.01], 0).pvalue)


@pytest.mark.parametrize("shift", [0.0, 0.004, -0.012])
def test_tost_equals_two_one_sided_tests(shift):
    rng = np.random.default_rng(2)
    b = rng.uniform(0.5, 0.9, 15)
    a = b + shift + rng.normal(0, 0.006, 15)
    margin = 0.01
    d = a - b
    n, se = d.size, d.std(ddof=1) / np.sqrt(d.size)
    p_low = 1 - st.t.cdf((d.mean() + margin) / se, n - 1)  # H0: diff <= -margin
    p_high = st.t.cdf((d.mean() - margin) / se, n - 1)  # H0: diff >= +margin
    assert stats.tost_paired(a, b, margin) == pytest.approx(max(p_low, p_high), abs=1e-12)
    # the same two tests, as scipy's one-sided one-sample t-tests
    scipy_p = max(st.ttest_1samp(d, -margin, alternative="greater").pvalue,
                  st.ttest_1samp(d, margin, alternative="less").pvalue)
    assert stats.tost_paired(a, b, margin) == pytest.approx(scipy_p, abs=1e-12)


def test_holm_hand_computed():
    # sorted 0.005,0.01,0.03,0.04 -> x4,x3,x2,x1 = .02,.03,.06,.04 -> monotone .02,.03,.06,.06
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    got = stats.holm([0.02, np.nan, 0.04])  # NaN is not a test: m = 2
    np.testing.assert_allclose(got, [0.04, np.nan, 0.04])
    np.testing.assert_allclose(stats.holm([0.6, 0.7]), [1.0, 1.0])
    assert stats.holm([]).size == 0


@pytest.mark.parametrize("a,b", [
    ([0.8, 0.7, 0.9], [0.8, 0.7, 0.9]),        # all differences exactly zero
    ([0.95, 0.85, 0.75], [0.90, 0.80, 0.70]),  # constant 0.05 (float rounding aside)
    ([0.8], [0.7]),                            # one pair
    ([], []),                                  # none
])
def test_degenerate_pairs_give_nan_not_warnings(a, b):
    got = stats.paired_test(a, b)
    for k in ("t_stat", "p_value", "tost_p", "effect_dz"):
        assert np.isnan(got[k]), k
    # signed ranks need only nonzero differences: defined for the constant +0.05 case
    nonzero = np.count_nonzero(np.subtract(a, b))
    assert np.isnan(got["wilcoxon_p"]) == (nonzero < 2)
    if nonzero >= 2:
        assert got["wilcoxon_p"] == pytest.approx(st.wilcoxon(np.subtract(a, b)).pvalue)
    assert got["verdict"] == "inconclusive"
    assert got["n_pairs"] == len(a)


def test_verdict_rule():
    assert stats.verdict(0.001, 0.01, 0.002) == "equivalent"  # equivalence checked first
    assert stats.verdict(0.01, 0.3, 0.05) == "weedout better"
    assert stats.verdict(0.01, 0.3, -0.05) == "weedout worse"
    assert stats.verdict(0.2, 0.3, 0.01) == "inconclusive"
    assert stats.verdict(np.nan, np.nan, 0.0) == "inconclusive"


# ---------------------------------------------------------------- convergence
def naive_convergence(epochs, accs, reach, final=None):
    """Plain-Python oracle: sort by epoch, drop epoch 0, scan for reach * final (default: the
    curve's own last value)."""
    pts = sorted((e, a) for e, a in zip(epochs, accs) if e >= 1)
    vals = [a for _, a in pts]
    if any(np.isnan(vals)):
        return np.nan, np.nan
    final = vals[-1] if final is None else final
    first = next(e for e, a in pts if a >= reach * final)
    return float(first), sum(vals) / len(vals)


def curve_rows(key, accs):
    return [dict(zip(stats.NETWORK, key), epoch=e, test_acc=a, train_loss=0.0,
                 train_acc=0.0, test_loss=0.0) for e, a in enumerate(accs)]


def test_convergence_hand_made_curve():
    rows = (curve_rows(("d", "m", 0.5, "weedout", 0), [0.1, 0.5, 0.8, 0.86, 0.9, 0.88])
            # already above 95% of final at epoch 0: epoch 0 does not count, so 2
            + curve_rows(("d", "m", 0.5, "random", 0), [0.9, 0.5, 0.9])
            + curve_rows(("d", "m", 0.5, "random", 1), [0.1, 0.5, np.nan]))
    curves = pd.DataFrame(rows).sample(frac=1, random_state=0)  # row order must not matter
    got = stats.convergence(curves, reach=0.95).set_index(stats.NETWORK)
    w = got.loc[("d", "m", 0.5, "weedout", 0)]
    assert w["epochs_to_reach"] == 3  # 0.95 * 0.88 = 0.836: first hit is 0.86 at epoch 3
    assert w["auc"] == pytest.approx(np.mean([0.5, 0.8, 0.86, 0.9, 0.88]))
    assert got.loc[("d", "m", 0.5, "random", 0), "epochs_to_reach"] == 2
    assert got.loc[("d", "m", 0.5, "random", 0), "auc"] == pytest.approx(0.7)
    assert got.loc[("d", "m", 0.5, "random", 1)].isna().all()  # diverged mid-training


def test_convergence_bar_is_shared_by_the_pair():
    """A network that ends lower must not reach its bar sooner because the bar is lower: the
    weedout and random networks of one level and seed share 95% of the lower final accuracy."""
    rows = (curve_rows(("d", "m", 0.5, "weedout", 0), [0.0, 0.5, 0.6])     # ends at 0.60
            + curve_rows(("d", "m", 0.5, "random", 0), [0.0, 0.6, 0.9]))   # ends at 0.90
    got = stats.convergence(pd.DataFrame(rows), reach=0.95).set_index(stats.NETWORK)
    # shared bar 0.95 * 0.6 = 0.57: random crosses at epoch 1, weedout at 2 (with its own
    # bar, 0.855, random would need epoch 2 too and the two would look equally fast)
    assert got.loc[("d", "m", 0.5, "random", 0), "epochs_to_reach"] == 1
    assert got.loc[("d", "m", 0.5, "weedout", 0), "epochs_to_reach"] == 2


def test_convergence_matches_naive_loop():
    rng = np.random.default_rng(3)
    rows, truth = [], {}
    for seed in range(25):
        curves = {}
        for method in ("dense", "weedout", "random"):
            n_ep = int(rng.integers(2, 9))
            accs = list(np.clip(np.cumsum(rng.uniform(-0.05, 0.3, n_ep + 1)), 0, 1))
            key = ("d", "m", 0.0 if method == "dense" else 0.5, method, seed)
            rows += curve_rows(key, accs)
            curves[method] = (key, accs)
        lower = min(curves["weedout"][1][-1], curves["random"][1][-1])
        for method, (key, accs) in curves.items():
            truth[key] = naive_convergence(range(len(accs)), accs, 0.9,
                                           None if method == "dense" else lower)
    got = stats.convergence(pd.DataFrame(rows), reach=0.9).set_index(stats.NETWORK)
    assert len(got) == len(truth)
    for key, (ep, auc) in truth.items():
        assert got.loc[key, "epochs_to_reach"] == ep
        assert got.loc[key, "auc"] == pytest.approx(auc)


# ---------------------------------------------------------------- the full table
def synthetic(seed=0):
    """dense ~0.92; random = 0.9 - 0.3 s; weedout = random + a known shift per level:
    0.2: +noise sd .002, 30 seeds -> equivalent      0.5: +0.05, 10 seeds -> better
    0.7: 2 seeds, diffs +.04/-.02 -> inconclusive     0.9: -0.05, 10 seeds -> worse"""
    rng = np.random.default_rng(seed)
    acc, curves = [], []

    def add(s, method, sd, test_acc, tau):
        final = 0.0 if np.isnan(test_acc) else test_acc
        acc.append(dict(dataset="toy", model="mlp", sparsity=s, method=method, seed=sd,
                        test_acc=test_acc, diverged=bool(np.isnan(test_acc)),
                        params=1000 * (1 - s) ** 2, flops=2000 * (1 - s) ** 2,
                        param_sparsity=1 - (1 - s) ** 2, flop_sparsity=1 - (1 - s) ** 2,
                        node_sparsity=s, init_score=2.3))
        accs = [0.1] + [final * (1 - np.exp(-e / tau)) for e in range(1, 9)]
        if np.isnan(test_acc):
            accs[-2:] = [np.nan, np.nan]
        curves.extend(curve_rows(("toy", "mlp", s, method, sd), accs))

    for sd in range(30):
        add(0.0, "dense", sd, 0.92 + rng.normal(0, 0.005), 1.0)
    plan = {0.2: (30, None), 0.5: (10, 0.05), 0.7: (2, None), 0.9: (10, -0.05)}
    for s, (n, shift) in plan.items():
        for sd in range(n):
            r = 0.9 - 0.3 * s + rng.normal(0, 0.01)
            if s == 0.2:
                w = r + rng.normal(0, 0.002)
            elif s == 0.7:
                w = r + (0.04 if sd == 0 else -0.02)
            else:
                w = r + shift + rng.normal(0, 0.005)
            add(s, "random", sd, r, 2.0)
            add(s, "weedout", sd, w, 1.5)
    return pd.DataFrame(acc), pd.DataFrame(curves)


def test_compute_stats_verdicts_and_shape():
    acc, curves = synthetic()
    out = stats.compute_stats(acc, curves, margin=0.01, alpha=0.05, reach=0.95)
    assert list(out.columns) == EXPECTED_COLUMNS == stats.COLUMNS
    assert out["sparsity"].tolist() == [0.2, 0.5, 0.7, 0.9]  # one sorted row per level
    assert out["verdict"].tolist() == ["equivalent", "weedout better", "inconclusive",
                                       "weedout worse"]
    assert out[["n_weedout", "n_random", "n_pairs"]].to_numpy().T.tolist() == [[30, 10, 2, 10]] * 3
    # dense repeated on every row of its dataset x model
    dense = acc[acc.method == "dense"].test_acc
    assert (out["n_dense"] == 30).all() and np.allclose(out["mean_dense"], dense.mean())
    assert out[[c for c in out if c.endswith("_dense")]].nunique().max() == 1
    assert (out["n_diverged"] == 0).all() and (out["margin"] == 0.01).all()
    np.testing.assert_allclose(out["p_holm"], stats.holm(out["p_value"]))
    np.testing.assert_allclose(out["tost_p_holm"], stats.holm(out["tost_p"]))
    np.testing.assert_allclose(out["auc_p_holm"], stats.holm(out["auc_p"]))
    # the verdicts follow the Holm-adjusted p-values of their family
    assert out["verdict"].tolist() == [stats.verdict(p, t, d) for p, t, d in
                                       zip(out["p_holm"], out["tost_p_holm"], out["diff_mean"])]
    np.testing.assert_allclose(out["param_sparsity"], 1 - (1 - out["sparsity"]) ** 2)


def test_compute_stats_drops_match_a_merge():
    acc, curves = synthetic()
    out = stats.compute_stats(acc, curves).set_index("sparsity")
    d = acc[acc.method == "dense"][["seed", "test_acc"]].rename(columns={"test_acc": "dense"})
    for (s, m), g in acc[acc.method != "dense"].groupby(["sparsity", "method"]):
        j = g.merge(d, on="seed")
        want = (j["dense"] - j["test_acc"]).mean()
        assert out.loc[s, f"drop_{m}"] == pytest.approx(want)
        assert out.loc[s, f"rel_drop_{m}"] == pytest.approx(want / out.loc[s, "mean_dense"])
    # by construction the random drop is about 0.92 - (0.9 - 0.3 s)
    np.testing.assert_allclose(out["drop_random"], 0.02 + 0.3 * out.index, atol=0.02)


def test_compute_stats_convergence_columns():
    acc, curves = synthetic()
    out = stats.compute_stats(acc, curves, reach=0.95).set_index("sparsity")
    conv = stats.convergence(curves, 0.95)
    row, lvl = out.loc[0.5], conv[conv.sparsity == 0.5]
    w = lvl[lvl.method == "weedout"].set_index("seed")
    r = lvl[lvl.method == "random"].set_index("seed")
    assert row["reach"] == 0.95
    assert row["auc_weedout"] == pytest.approx(w["auc"].mean())
    assert row["auc_dense"] == pytest.approx(conv[conv.method == "dense"]["auc"].mean())
    assert row["auc_diff"] == pytest.approx((w["auc"] - r["auc"]).mean())
    assert row["auc_p"] == pytest.approx(st.ttest_rel(w["auc"], r["auc"]).pvalue)
    # tau 1.5 vs 2.0 curves of exponential shape: weedout reaches 95% sooner, every seed
    assert row["epochs_to_reach_weedout"] < row["epochs_to_reach_random"]
    assert row["epochs_diff"] == pytest.approx(
        (w["epochs_to_reach"] - r["epochs_to_reach"]).mean())
    # without curves the table still builds, with NaN convergence columns
    bare = stats.compute_stats(acc, None)
    assert bare["auc_weedout"].isna().all() and bare["verdict"].equals(out["verdict"].reset_index(drop=True))


def test_diverged_networks_are_excluded_and_counted():
    acc, curves = synthetic()
    kill = ((acc.sparsity == 0.5) & (acc.method == "random") & acc.seed.isin([1, 4])) | (
        (acc.method == "dense") & (acc.seed == 7))
    acc.loc[kill, "test_acc"] = np.nan
    acc.loc[kill, "diverged"] = True
    out = stats.compute_stats(acc, curves).set_index("sparsity")
    row = out.loc[0.5]
    assert row["n_random"] == 8 and row["n_weedout"] == 10 and row["n_pairs"] == 8
    ok = acc[(acc.sparsity == 0.5) & (acc.method == "random")].test_acc.dropna()
    assert row["mean_random"] == pytest.approx(ok.mean())
    assert row["n_diverged"] == 3  # two random networks here + the dense one
    assert (out.drop(index=0.5)["n_diverged"] == 1).all()  # dense divergence on every row
    assert (out["n_dense"] == 29).all()
    # diverged networks drop out of the convergence means too (even with finite curves)
    conv = stats.convergence(curves, 0.95)
    live = conv[(conv.sparsity == 0.5) & (conv.method == "random") & ~conv.seed.isin([1, 4])]
    assert row["auc_random"] == pytest.approx(live["auc"].mean())
    assert row["epochs_to_reach_random"] == pytest.approx(live["epochs_to_reach"].mean())

    # a CSV round trip ("True"/"False" strings, NaN) gives the same table
    buf = io.StringIO()
    acc.to_csv(buf, index=False)
    buf.seek(0)
    again = stats.compute_stats(pd.read_csv(buf), curves).set_index("sparsity")
    pd.testing.assert_frame_equal(again, out)


def test_diverged_flag_without_nan_is_honoured():
    acc, curves = synthetic()
    acc.loc[(acc.sparsity == 0.9) & (acc.method == "weedout") & (acc.seed == 0), "diverged"] = True
    row = stats.compute_stats(acc, curves).set_index("sparsity").loc[0.9]
    assert row["n_weedout"] == 9 and row["n_diverged"] == 1


def test_duplicate_networks_are_rejected():
    acc, curves = synthetic()
    with pytest.raises(ValueError, match="more than one row"):
        stats.compute_stats(pd.concat([acc, acc.iloc[:1]]), curves)


def test_row_order_and_index_do_not_matter():
    acc, curves = synthetic()
    acc.loc[acc.sample(5, random_state=1).index, ["test_acc", "diverged"]] = [np.nan, True]
    want = stats.compute_stats(acc, curves)
    shuffled = acc.sample(frac=1, random_state=2)
    shuffled.index = shuffled.index * 7 + 3  # a filtered/concatenated frame's index
    pd.testing.assert_frame_equal(stats.compute_stats(shuffled, curves), want)


def test_empty_input_gives_empty_table_with_all_columns():
    acc, curves = synthetic()
    out = stats.compute_stats(acc.iloc[:0], curves.iloc[:0])
    assert out.empty and list(out.columns) == EXPECTED_COLUMNS


def test_signed_rank_equals_scipy_with_ties_and_zeros():
    """The signed-rank p-value computed by enumerating the sign flips at once equals scipy's
    own (its permutation test, one Python call per flip), bit for bit: differences on a grid of
    accuracies (ties and zeros, as paired test accuracies have), and tie-free ones."""
    import warnings

    from scipy import stats as sp

    from weedout.analysis import signed_rank

    rng = np.random.default_rng(7)
    cases = [rng.integers(-3, 4, size=n) / 360 for n in (3, 4, 5, 6, 7, 8) for _ in range(5)]
    cases += [rng.integers(-5, 6, size=n) / 360 for n in (10, 13)]
    cases += [rng.normal(size=n) for n in (5, 10, 14)] + [rng.integers(-3, 4, size=16) / 9]
    checked = 0
    for d in cases:
        if np.count_nonzero(d) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = float(sp.wilcoxon(d).pvalue)
        assert signed_rank.pvalue(d) == want, d
        checked += 1
    assert checked >= 30

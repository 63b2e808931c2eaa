"""Figures and tables from small synthetic result tables (no training involved)."""
import matplotlib

matplotlib.use("Agg")  # tests only; the package never sets a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from weedout.viz import plotting, tables  # noqa: E402

PAIRS = [("digits", "mlp"), ("fashion_mnist", "cnn")]
SPARSITIES = [0.25, 0.5, 0.8]
SEEDS = [0, 1, 2]
EPOCHS = 4
N_CAND = 8


def make_accuracy(rng):
    rows = []
    for ds, model in PAIRS:
        for seed in SEEDS:
            rows.append(dict(dataset=ds, model=model, sparsity=0.0, method="dense", seed=seed,
                             test_acc=0.95 + 0.01 * rng.standard_normal(), init_score=2.30,
                             params=1000, flops=2000, param_sparsity=0.0, flop_sparsity=0.0,
                             diverged=False))
            for s in SPARSITIES:
                for m in ("weedout", "random"):
                    rows.append(dict(dataset=ds, model=model, sparsity=s, method=m, seed=seed,
                                     test_acc=0.95 - 0.15 * s + 0.01 * rng.standard_normal(),
                                     init_score=2.3 + 0.05 * rng.standard_normal(),
                                     params=int(1000 * (1 - s) ** 2),
                                     flops=int(2000 * (1 - s) ** 2),
                                     param_sparsity=1 - (1 - s) ** 2,
                                     flop_sparsity=1 - (1 - s) ** 2, diverged=False))
    acc = pd.DataFrame(rows)
    acc.loc[acc.index[5], ["test_acc", "diverged"]] = [np.nan, True]
    return acc


def make_curves(accuracy):
    rows = []
    for r in accuracy.itertuples(index=False):
        final = 0.5 if np.isnan(r.test_acc) else r.test_acc
        for e in range(EPOCHS + 1):
            acc = 0.1 + (final - 0.1) * (1 - np.exp(-1.5 * e))
            rows.append(dict(dataset=r.dataset, model=r.model, sparsity=r.sparsity,
                             method=r.method, seed=r.seed, epoch=e, train_loss=2.3 - e * 0.4,
                             train_acc=acc, test_loss=2.3 - e * 0.35, test_acc=acc))
    return pd.DataFrame(rows)


def make_search(rng):
    rows = []
    for ds, model in PAIRS:
        for s in SPARSITIES:
            for seed in SEEDS:
                scores = 2.3 + 0.1 * s * rng.standard_normal(N_CAND)
                for c, sc in enumerate(scores):
                    rows.append(dict(dataset=ds, model=model, sparsity=s, seed=seed,
                                     candidate=c, score=sc, chosen=c == int(np.argmin(scores))))
    return pd.DataFrame(rows)


def make_stats(rng, n=3):
    rows = []
    for ds, model in PAIRS:
        for s in SPARSITIES:
            r = dict(dataset=ds, model=model, sparsity=s)
            for m, mu in (("dense", 0.95), ("weedout", 0.95 - 0.15 * s),
                          ("random", 0.951 - 0.15 * s)):
                hw = 0.01 + 0.005 * rng.random() if n > 1 else np.nan
                r.update({f"n_{m}": n, f"mean_{m}": mu, f"std_{m}": 0.01,
                          f"ci_low_{m}": mu - hw, f"ci_high_{m}": mu + hw})
            d = -0.001 + 0.002 * rng.standard_normal()
            p = rng.random() if n > 1 else np.nan
            r.update(n_pairs=n, diff_mean=d, diff_ci_low=d - 0.004 if n > 1 else np.nan,
                     diff_ci_high=d + 0.004 if n > 1 else np.nan, p_value=p,
                     p_holm=min(1.0, 3 * p) if n > 1 else np.nan, effect_dz=0.1, margin=0.01,
                     tost_p=0.0004 if n > 1 else np.nan, tost_p_holm=0.0004 if n > 1 else np.nan,
                     verdict="equivalent" if n > 1 else "inconclusive",
                     drop_weedout=0.15 * s, drop_random=0.149 * s,
                     param_sparsity=1 - (1 - s) ** 2, flop_sparsity=1 - (1 - s) ** 2,
                     auc_weedout=0.8, auc_random=0.8, epochs_to_reach_weedout=3,
                     epochs_to_reach_random=3, n_diverged=0)
            rows.append(r)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    acc = make_accuracy(rng)
    return dict(accuracy=acc, curves=make_curves(acc), search=make_search(rng),
                stats=make_stats(rng))


@pytest.fixture(autouse=True)
def _close():
    plotting.set_style()
    yield
    plt.close("all")


def _line_colors(ax):
    return {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines()
            if not ln.get_label().startswith("_")}


def test_method_colors_are_okabe_ito():
    assert plotting.METHODS == ("dense", "weedout", "random")
    assert plotting.METHOD_COLORS == {"dense": "#444444", "weedout": "#D55E00",
                                      "random": "#0072B2"}


def test_accuracy_vs_sparsity(data):
    fig = plotting.plot_accuracy_vs_sparsity(data["stats"])
    assert len(fig.axes) == len(PAIRS)
    for ax in fig.axes:
        colors = _line_colors(ax)
        assert set(colors) == {"dense", "weedout", "random"}
        for m, c in colors.items():
            assert c == plotting.METHOD_COLORS[m].lower()
        w = next(ln for ln in ax.get_lines() if ln.get_label() == "weedout")
        assert np.allclose(w.get_xdata(), np.array(SPARSITIES) * 100)
        assert "%" in ax.get_ylabel() and "%" in ax.get_xlabel()
    first = data["stats"].sort_values(["dataset", "model", "sparsity"]).iloc[:3]
    w = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "weedout")
    assert np.allclose(w.get_ydata(), first.mean_weedout * 100)


def test_learning_curves_default_and_explicit(data):
    fig = plotting.plot_learning_curves(data["curves"])
    assert len(fig.axes) == len(PAIRS) * len(SPARSITIES)
    for ax in fig.axes:
        for m, c in _line_colors(ax).items():
            assert c == plotting.METHOD_COLORS[m].lower()
        assert set(_line_colors(ax)) == {"dense", "weedout", "random"}
    w = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "weedout")
    assert list(w.get_xdata()) == list(range(EPOCHS + 1))
    fig2 = plotting.plot_learning_curves(data["curves"], sparsities=[0.5])
    assert len(fig2.axes) == len(PAIRS)


def test_learning_curves_picks_low_mid_high(data):
    c = data["curves"]
    extra = c[c.sparsity == 0.5].assign(sparsity=0.6)
    extra2 = c[c.sparsity == 0.5].assign(sparsity=0.7)
    fig = plotting.plot_learning_curves(pd.concat([c, extra, extra2]))
    assert len(fig.axes) == len(PAIRS) * 3
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert ["25%" in titles[0], "60%" in titles[1], "80%" in titles[2]] == [True] * 3


def test_search_figure_and_spearman_oracle(data):
    fig = plotting.plot_search(data["search"], data["accuracy"])
    assert len(fig.axes) == 2 * len(PAIRS)
    acc = data["accuracy"]
    d = acc[(acc.dataset == "digits") & acc.method.isin(["weedout", "random"])].dropna(
        subset=["test_acc"])
    rho = spearmanr(d.init_score, d.test_acc)[0]
    texts = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert f"{rho:+.2f}" in texts and "ρ" in texts
    # the chosen (winner) markers sit at the minimum of each draw: one per (sparsity, seed)
    chosen = [c for c in fig.axes[0].collections if c.get_label() == "chosen (weedout)"]
    assert len(chosen) == 1 and len(chosen[0].get_offsets()) == len(SPARSITIES) * len(SEEDS)
    assert to_hex(chosen[0].get_facecolor()[0]) == plotting.METHOD_COLORS["weedout"].lower()


def test_savefig_writes_png_and_pdf(data, tmp_path):
    fig = plotting.plot_accuracy_vs_sparsity(data["stats"])
    paths = plotting.savefig(fig, "acc", tmp_path / "nested" / "figs")
    assert [p.name for p in paths] == ["acc.png", "acc.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in paths[0].parent.iterdir()) == ["acc.pdf", "acc.png"]


def test_main_table_oracle(data):
    stats = data["stats"]
    t = tables.main_table(stats)
    assert len(t) == len(stats)
    assert list(t.columns[:3]) == ["Dataset", "Model", "Sparsity (%)"]
    r = stats.sort_values(["dataset", "model", "sparsity"]).iloc[1]
    row = t.iloc[1]
    half = (r.ci_high_weedout - r.ci_low_weedout) / 2
    assert row["Weedout (%)"] == "%.2f ± %.2f" % (r.mean_weedout * 100, half * 100)
    assert row["Δ (W−R) [95% CI] (pp)"] == "%+.2f [%+.2f, %+.2f]" % (
        r.diff_mean * 100, r.diff_ci_low * 100, r.diff_ci_high * 100)
    assert row["Sparsity (%)"] == "50"
    assert row["Param. sparsity (%)"] == "%.1f" % (r.param_sparsity * 100)
    assert row["Achieved (%)"] == ("%.1f" % (r.node_sparsity * 100) if "node_sparsity" in stats
                                   else "n/a")
    assert row["TOST p (Holm, ±margin)"] == "<0.001 (±1.00 pp)"
    assert row["p (Holm)"] == "%.3f" % r.p_holm
    assert row["Verdict"] == "equivalent"


def test_markdown_and_latex(data, tmp_path):
    stats = data["stats"]
    t = tables.main_table(stats)
    md = tables.to_markdown(t).strip().splitlines()
    assert len(md) == 2 + len(stats)
    assert md[0].startswith("| Dataset | Model |") and set(md[1]) <= set("|:-")
    assert all(line.count("|") == len(t.columns) + 1 for line in md)
    tex = tables.to_latex(t)
    assert "\\begin{tabular}" in tex and "\\toprule" in tex and "\\bottomrule" in tex
    assert "(\\%)" in tex and "$\\pm$" in tex and "fashion\\_mnist" in tex
    assert "±" not in tex and "fashion_mnist" not in tex
    body = [ln for ln in tex.splitlines() if ln.endswith("\\\\")]
    assert len(body) == 1 + len(stats)
    assert all(ln.count(" & ") == len(t.columns) - 1 for ln in body)
    paths = tables.write_tables(stats, tmp_path / "f")
    assert [p.name for p in paths] == ["main_table.md", "main_table.tex"]
    assert paths[0].read_text(encoding="utf-8").splitlines() == md


def test_single_seed_nan_stats_render(tmp_path):
    stats = make_stats(np.random.default_rng(1), n=1)
    t = tables.main_table(stats)
    assert (t["p (Holm)"] == "n/a").all()
    assert t["Weedout (%)"].iloc[0] == "%.2f" % (stats.sort_values(
        ["dataset", "model", "sparsity"]).mean_weedout.iloc[0] * 100)
    assert "n/a" in tables.to_markdown(t) and "n/a" in tables.to_latex(t)
    fig = plotting.plot_accuracy_vs_sparsity(stats)
    assert len(fig.axes) == len(PAIRS)
    plotting.savefig(fig, "one_seed", tmp_path)


def test_latex_escape_specials():
    assert tables.latex_escape("a_b 50% ±1 -0.2 x-y & #") == (
        "a\\_b 50\\% $\\pm$1 $-$0.2 x-y \\& \\#")


def test_empty_table_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_accuracy_vs_sparsity(make_stats(np.random.default_rng(0)).iloc[:0])


def _band_ys(ax):
    """y of every filled band and horizontal span drawn on an axis."""
    ys = [p.vertices[:, 1] for c in ax.collections for p in c.get_paths()]
    ys += [p.get_path().transformed(p.get_patch_transform()).vertices[:, 1] for p in ax.patches]
    return np.concatenate(ys)


def test_two_seed_bands_stay_within_0_100_percent_and_say_n(data):
    """With n = 2 the t-interval is ±12.7 s.d.: unclipped bands ran from -50% to 200%."""
    stats = make_stats(np.random.default_rng(2), n=2)
    for m in plotting.METHODS:
        stats[f"ci_low_{m}"], stats[f"ci_high_{m}"] = -0.5, 2.0
    fig = plotting.plot_accuracy_vs_sparsity(stats)
    for ax in fig.axes:
        ys = _band_ys(ax)
        assert ys.min() >= 0 and ys.max() <= 100 and ys.max() == 100
        bounds = [ln.get_ydata() for ln in ax.get_lines() if ln.get_label() == "_ci"]
        assert np.min(bounds) >= 0 and np.max(bounds) <= 100
        assert "(n = 2 seeds)" in ax.get_title()
    curves = data["curves"][data["curves"].seed.isin([0, 1])].copy()
    curves.loc[curves.seed == 0, "test_acc"] = 0.02  # two seeds far apart: a huge interval
    curves.loc[curves.seed == 1, "test_acc"] = 0.98
    fig = plotting.plot_learning_curves(curves)
    for ax in fig.axes:
        ys = _band_ys(ax)
        assert ys.min() >= 0 and ys.max() <= 100
        assert "n = 2 seeds" in ax.get_title()


def test_learning_curves_count_seeds_with_a_final_accuracy(data):
    curves = data["curves"].copy()  # 3 seeds; one weedout network diverges at 25%
    last = curves.epoch == curves.epoch.max()
    curves.loc[last & (curves.seed == 2) & (curves.method == "weedout")
               & np.isclose(curves.sparsity, 0.25) & (curves.dataset == "digits"), "test_acc"] = np.nan
    fig = plotting.plot_learning_curves(curves)
    assert "(n = 2–3 seeds)" in fig.axes[0].get_title()  # weedout 2, random 3
    assert "(n = 3 seeds)" in fig.axes[1].get_title()


def test_savefig_is_byte_reproducible_and_leaves_equal_files_alone(data, tmp_path):
    fig = plotting.plot_accuracy_vs_sparsity(data["stats"])
    first = plotting.savefig(fig, "acc", tmp_path)
    pdf = first[1].read_bytes()
    assert b"/CreationDate" not in pdf  # a date would change the file on every redraw
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first}
    plotting.savefig(fig, "acc", tmp_path)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first} == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acc.pdf", "acc.png"]  # no temp left

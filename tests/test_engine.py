"""Oracle tests of the fast engine (micrograd's habit): every fast path equals the slow, obvious one.

- masked MaskedNet (dense size, masks multiplied in) == compacted stacked network: outputs and
  the gradients of every kept weight;
- a compacted network materialized as a plain nn.Sequential == the masked one;
- batched, chunked scoring with a shared first layer == one MaskedNet forward per candidate;
- stacked training of M networks == each trained alone == the naive DataLoader reference;
- a diverging network does not change its stack-mates.

Tolerances (float32, eps = 1.2e-7): two paths that compute the same sums in a different order
(bmm of a compacted net vs mm of a masked dense one, which also adds exact zeros) differ by
rounding only: a few ulp per reduction, < 1e-6 on O(1) logits and losses, so one step is checked
at 1e-5. Training then amplifies such differences step by step (SGD with momentum is not
contractive); after 69 steps we measure ~2e-7 on losses and allow 1e-4: 500x that, and still
20x below what a subtle real mistake moves a loss by (the next epoch's batch order: 2e-3).
Accuracies may differ by at most one example (a test logit within rounding of a tie).

Speed is never timed here: that is `python -m weedout.bench`'s job.
"""
import dataclasses
import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from weedout import bench, data
from weedout.report import speed, speedup
from weedout.config import paths
from weedout.core import masks, models, reference, scoring, search
from weedout.pipeline import provenance
from weedout.core.train import Schedule, train_stack

ARCHS = {"mlp": models.Arch("mlp", (1, 8, 8), (12, 9), 10),
         "cnn1d": models.Arch("cnn1d", (1, 16), (6, 5), 4),
         "cnn": models.Arch("cnn", (2, 8, 8), (6, 5), 3)}
STEP_TOL = dict(rtol=1e-5, atol=1e-5)
TRAIN_LOSS_TOL = 1e-4
SCHED = Schedule(epochs=3, batch_size=64, lr=0.05, momentum=0.9, weight_decay=5e-4)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine two OpenMP threads stall on each other."""
    old, _ = torch.get_num_threads(), torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# The oracle tests run on every device: on the GPU machine `pytest -m cuda` runs the cuda ones
# (scripts/gpu_run.sh), under the deterministic settings the experiment itself uses there.
NO_CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                             reason="no CUDA device (scripts/gpu_run.sh runs these on a GPU)")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, NO_CUDA])]


@pytest.fixture(params=DEVICES)
def device(request):
    provenance.configure_torch(request.param)
    return request.param


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits", paths.DATA)


def cut(arch, params, keep):
    """One network cut out of its parent by hand (index_select), independently of models.compact."""
    out, prev = [], None
    for l, rows in enumerate(keep):
        W, b = params[2 * l].index_select(0, rows), params[2 * l + 1].index_select(0, rows)
        out += [W if prev is None else W.index_select(1, prev), b]
        prev = rows
    W = params[-2].view(arch.n_classes, arch.widths[-1], -1).index_select(1, prev)
    return out + [W.reshape(arch.n_classes, -1), params[-1]]


def make_case(kind, n=3, sparsity=0.5, device="cpu"):
    arch, g = ARCHS[kind], torch.Generator().manual_seed(0)
    parents = [[p.to(device) for p in models.init_parent(arch, s)] for s in (10, 11)]
    keep = masks.sample(arch.widths, sparsity, n, torch.Generator().manual_seed(5))
    which = torch.tensor([i % 2 for i in range(n)])  # alternate parents: compact's parent index
    x, y = torch.randn(17, *arch.in_shape, generator=g), torch.randint(arch.n_classes, (17,), generator=g)
    return arch, parents, keep, which, x.to(device), y.to(device)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", list(ARCHS))
def test_masked_equals_compacted_outputs_and_gradients(kind, device):
    arch, parents, keep, which, x, y = make_case(kind, device=device)
    carch, params = models.compact(arch, models.stack(parents), keep, which)
    assert carch.widths == masks.kept_widths(arch.widths, 0.5)
    params = [p.clone().requires_grad_(True) for p in params]
    logits = models.forward(carch, params, x)
    F.cross_entropy(logits.flatten(0, 1), y.repeat(len(which)), reduction="none").view(
        len(which), -1).mean(1).sum().backward()
    for m in range(len(which)):
        one = masks.select(keep, m)
        net = reference.masked_net(arch, parents[which[m]], one, device)
        ref = net(x)
        F.cross_entropy(ref, y).backward()
        torch.testing.assert_close(logits[m], ref, **STEP_TOL)
        rows = [k[0].to(device) for k in one]
        expected = cut(arch, [p.detach() for p in net.parameters()], rows)
        assert all(torch.equal(p[m], e) for p, e in zip(params, expected))  # compact == by hand
        grads = cut(arch, [p.grad for p in net.parameters()], rows)
        for p, g in zip(params, grads):
            torch.testing.assert_close(p.grad[m], g, **STEP_TOL)
        # A removed node is removed whole: none of its weights receive any gradient.
        total = sum(float(p.grad.abs().sum()) for p in net.parameters())
        assert total == pytest.approx(sum(float(g.abs().sum()) for g in grads), rel=1e-6)


def expand(arch, parent, keep, small):
    """The inverse of `cut`: write a compacted network's weights back into a parent copy."""
    big, prev = [p.clone() for p in parent], None
    for l, rows in enumerate(keep):
        big[2 * l][(rows,) if prev is None else (rows[:, None], prev[None, :])] = small[2 * l]
        big[2 * l + 1][rows], prev = small[2 * l + 1], rows
    big[-2].view(arch.n_classes, arch.widths[-1], -1)[:, prev] = small[-2].view(
        arch.n_classes, len(prev), -1)
    big[-1].copy_(small[-1])
    return big


@pytest.mark.parametrize("kind", list(ARCHS))
def test_materialized_equals_masked(kind):
    arch, parents, keep, which, x, _ = make_case(kind, n=1, sparsity=0.6)
    carch, params = models.compact(arch, models.stack(parents[:1]), keep)
    # Stand-in for training: move every kept weight, so the check is not on the parent's values.
    small = [p[0] + 0.1 * torch.randn(p[0].shape, generator=torch.Generator().manual_seed(i))
             for i, p in enumerate(params)]
    net = models.materialize(carch, small)
    assert isinstance(net, torch.nn.Sequential) and not list(net.buffers())  # no masks left
    n_params, flops = models.count(carch)
    assert sum(p.numel() for p in net.parameters()) == n_params
    assert sum(p.numel() for p in models.MaskedNet(arch).parameters()) == models.count(arch)[0]
    assert n_params < models.count(arch)[0] and flops < models.count(arch)[1]
    masked = reference.masked_net(arch, expand(arch, parents[0], [k[0] for k in keep], small), keep, "cpu")
    with torch.no_grad():
        torch.testing.assert_close(net(x), masked(x), **STEP_TOL)
        torch.testing.assert_close(net(x), models.forward(carch, [p[None] for p in small], x)[0], **STEP_TOL)


def test_trained_network_materializes(digits):
    """Train two sparse MLPs stacked, then cut each out as a plain nn.Sequential: it classifies
    the test split exactly as training reported, and equals the masked dense-size network."""
    arch = models.Arch("mlp", digits.in_shape, (24, 16), 10)
    parent = models.init_parent(arch, 3)
    keep = masks.sample(arch.widths, 0.5, 2, torch.Generator().manual_seed(2))
    carch, params = models.compact(arch, models.stack([parent]), keep)
    hist = train_stack(carch, params, digits, [3, 3], Schedule(1, 64, 0.05, 0.9, 5e-4))
    for m in range(2):
        small = [p[m] for p in hist["params"]]
        net = models.materialize(carch, small)
        masked = reference.masked_net(arch, expand(arch, parent, [k[m] for k in keep], small),
                                      masks.select(keep, m), "cpu")
        with torch.no_grad():
            out = net(digits.x_test)
            torch.testing.assert_close(out, masked(digits.x_test), **STEP_TOL)
        acc = (out.argmax(1) == digits.y_test).double().mean()
        assert abs(float(acc) - float(hist["test_acc"][-1, m])) <= 1 / 360 + 1e-12


def test_count_by_hand():
    # mlp 64-12-9-10: weights + biases of each layer; FLOPs = 2 x multiply-adds.
    assert models.count(ARCHS["mlp"]) == (64 * 12 + 12 + 12 * 9 + 9 + 9 * 10 + 10,
                                          2 * (64 * 12 + 12 * 9 + 9 * 10))
    # cnn 2x8x8, 3x3 convs 6 and 5 channels, each followed by a 2x2 pool: 8x8 -> 4x4 -> 2x2.
    assert models.count(ARCHS["cnn"]) == (6 * 2 * 9 + 6 + 5 * 6 * 9 + 5 + 3 * 5 * 4 + 3,
                                          2 * (6 * 2 * 9 * 64 + 5 * 6 * 9 * 16 + 3 * 5 * 4))


def budget_for(arch, kept, batch, chunk):
    """The smallest memory budget for which the scorer takes `chunk` candidates per pass."""
    lo, hi = 1, 1 << 40
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if scoring.chunk_size(arch, kept, batch, mid) < chunk else (lo, mid)
    return lo


@pytest.mark.oracle
@pytest.mark.parametrize("kind", list(ARCHS))
@pytest.mark.parametrize("score", ["loss", "error"])
def test_batched_scoring_equals_one_by_one(kind, score, device):
    arch, parents, _, _, x, y = make_case(kind, device=device)
    n = 23
    keep = masks.sample(arch.widths, 0.5, n, torch.Generator().manual_seed(9))
    expected = reference.score_one_by_one(arch, parents[0], keep, x, y, score)
    chunks = set()
    kept = masks.kept_widths(arch.widths, 0.5)
    for c in (1, 2, 5, n, 4 * n):  # chunk = 1, a few (not dividing n), n, more than n
        budget = budget_for(arch, kept, len(x), c)
        chunks.add(min(scoring.chunk_size(arch, kept, len(x), budget), n))
        got = scoring.scorer(arch, parents[0], x, y, score, budget_bytes=budget)(keep)
        assert got.shape == (n,) and got.dtype == torch.float64
        if score == "error":  # multiples of 1/17: equal unless a logit sits within rounding of a tie
            assert torch.equal(got, expected)
        else:
            torch.testing.assert_close(got, expected, **STEP_TOL)
    assert 1 in chunks and n in chunks and any(1 < c < n and n % c for c in chunks), chunks
    # The parent itself (every node kept) scores as the unmasked network.
    full = masks.full(arch.widths)
    torch.testing.assert_close(scoring.scorer(arch, parents[0], x, y, score)(full),
                               reference.score_one_by_one(arch, parents[0], full, x, y, score))


def test_random_search_keeps_trace_and_argmin():
    arch, parents, _, _, x, y = make_case("mlp")
    draw = lambda: (lambda n, g=torch.Generator().manual_seed(1): masks.sample(arch.widths, 0.5, n, g))
    found = search.random_search(draw(), scoring.scorer(arch, parents[0], x, y), 30)
    scores = reference.score_one_by_one(arch, parents[0], keep := draw()(30), x, y)
    assert len(found.scores) == 30 and found.best_index == int(scores.argmin())
    assert all(torch.equal(b[0], k[found.best_index]) for b, k in zip(found.best, keep))


def on(dset, device):
    """A dataset's tensors on another device."""
    return dataclasses.replace(dset, **{k: getattr(dset, k).to(device)
                                        for k in ("x_train", "y_train", "x_test", "y_test")})


def check_same_history(a, ma, b, mb):
    for k in ("train_loss", "test_loss"):
        torch.testing.assert_close(a[k][:, ma], b[k][:, mb], rtol=0, atol=TRAIN_LOSS_TOL)
    for k, n in (("train_acc", 1437), ("test_acc", 360)):  # digits' split sizes
        assert (a[k][:, ma] - b[k][:, mb]).abs().max() <= 1 / n + 1e-12


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_stacked_training_equals_alone_equals_reference(digits, device, kind):
    digits = on(digits, device)
    arch, seeds = models.arch_for(kind, digits.in_shape, 10, (32, 32), (16, 16)), [0, 0, 1, 1]
    parents = [[p.to(device) for p in models.init_parent(arch, s)] for s in (0, 1)]
    # Two seeds x two masks ("weedout" and "random" of each seed), one sparsity level.
    keep = masks.sample(arch.widths, 0.5, 4, torch.Generator().manual_seed(0))
    carch, params = models.compact(arch, models.stack(parents), keep, torch.tensor(seeds))
    stacked = train_stack(carch, params, digits, seeds, SCHED)
    assert stacked["test_acc"].shape == (SCHED.epochs + 1, 4) and (stacked["diverged_epoch"] == -1).all()
    assert stacked["test_acc"][-1].min() > 0.5  # it learned (chance: 0.1): not a comparison of noise
    for m, seed in enumerate(seeds):
        alone = train_stack(carch, [p[m:m + 1] for p in params], digits, [seed], SCHED)
        check_same_history(stacked, m, alone, 0)
        torch.testing.assert_close(stacked["params"][1][m], alone["params"][1][0], rtol=0, atol=TRAIN_LOSS_TOL)
        naive = reference.train_one(arch, parents[seed], masks.select(keep, m), digits, seed, SCHED)
        check_same_history(stacked, m, naive, 0)
    dense = train_stack(arch, models.stack(parents), digits, [0, 1], SCHED)  # vs no masks at all
    for m in range(2):
        check_same_history(dense, m, reference.train_one(arch, parents[m], None, digits, m, SCHED), 0)


def test_diverging_network_does_not_touch_its_stack_mates(digits):
    arch = models.Arch("mlp", digits.in_shape, (16, 16), 10)
    parents = [models.init_parent(arch, s) for s in (0, 1, 2)]
    bad = [p.clone() for p in parents[1]]
    bad[0].fill_(1e38)  # first layer overflows to inf, the next one to nan: loss nan at step 0
    sched, stack = Schedule(2, 64, 0.05, 0.9, 5e-4), models.stack([parents[0], bad, parents[2]])
    stacked = train_stack(arch, stack, digits, [0, 1, 2], sched)
    assert stacked["diverged_epoch"].tolist() == [-1, 1, -1]
    assert not torch.isfinite(stacked["train_loss"][1:, 1]).any()
    for m in (0, 2):
        alone = train_stack(arch, [p[None] for p in parents[m]], digits, [m], sched)
        check_same_history(stacked, m, alone, 0)
        assert all(torch.isfinite(p[m]).all() for p in stacked["params"])


def test_bench_help_runs():
    out = subprocess.run([sys.executable, "-m", "weedout.bench", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--device" in out.stdout and "--candidates" in out.stdout


def test_bench_tiny_grid_agrees(capsys, tmp_path):
    """The benchmark's own agreement check on a tiny grid (correctness only; times not asserted),
    and the JSON it writes for the README's speed table."""
    out_json = tmp_path / "bench.json"
    assert bench.main("--device cpu --seeds 1 --candidates 6 --epochs 1 --sparsities 0.5 0.9 "
                      f"--threads 1 --json {out_json}".split()) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "end to end" in out and "compaction" in out
    saved = json.loads(out_json.read_text())
    assert saved["agree"] is True and saved["grid"]["dataset"] == "digits"
    assert set(saved["times"]) == {"naive", "baseline", "engine"}
    assert set(saved["times"]["naive"]) == {"search", "training", "end to end", "search cpu",
                                            "training cpu", "end to end cpu"}
    assert saved["baseline_identical"] is True  # the step before issue 20: the same bits
    assert all(saved["efficiency"][k]["fraction"] > 0 for k in ("search", "training"))
    assert saved["environment"]["engine"] == provenance.ENGINE_VERSION
    assert saved["command"].startswith("python -m weedout.bench --device cpu")


def test_bench_workers_train_the_engines_networks(capsys, tmp_path):
    """The grid on two worker processes of one thread each (as --executor local runs it) against
    the engine in this process with two threads: the same masks, scores and weights, bit for
    bit, and the workers' efficiency beside the engine's."""
    out_json = tmp_path / "results" / "bench" / "cpu-workers.json"
    assert bench.main("--device cpu --seeds 2 --candidates 4 --epochs 1 --sparsities 0.5 "
                      f"--threads 2 --workers 2 --json {out_json}".split()) == 0
    out = capsys.readouterr().out
    assert "engine = workers, bit for bit: True" in out and "engine/workers" in out
    saved = json.loads(out_json.read_text())
    assert saved["workers_identical"] is True
    assert set(saved["times"]) == {"naive", "baseline", "engine", "workers"}
    assert saved["times"]["workers"]["training cpu"] > 0
    assert saved["efficiency"]["training_workers"]["gflops"] == \
        saved["efficiency"]["training"]["gflops"]
    # the study's table and findings read the same file: the ratio, computed here by hand
    e, w = saved["times"]["engine"], saved["times"]["workers"]
    row = speed.render_workers(tmp_path).splitlines()[2]
    assert f"**{e['end to end'] / w['end to end']:.2f}×**" in row and "| yes |" in row
    r = speedup.runs(tmp_path)
    assert r.workers_gain.iloc[0] == pytest.approx(e["training"] / w["training"])
    assert "same bits in 1 of them" in speedup.speed_findings(tmp_path)


@pytest.mark.parametrize("args, why", [("--threads 1 --workers 2", "--workers=2 is not allowed"),
                                       ("--workers -1", "--workers=-1 is not allowed")])
def test_bench_rejects_bad_workers_before_work(capsys, args, why):
    assert bench.main(f"--device cpu --json none {args}".split()) == 2
    err = capsys.readouterr().err
    assert why in err and ("--threads (1)" in err or "a count" in err)


def test_bench_rejects_bad_model_before_work(capsys):
    """A model that cannot take the dataset's inputs fails at once with the allowed list."""
    assert bench.main("--dataset digits --model cnn1d --json none".split()) == 2
    assert "MODELS: 'cnn1d' does not fit" in capsys.readouterr().err


def test_bench_default_json_path_and_preset():
    a = bench.parse("--dataset fashion_mnist --model cnn".split())
    assert bench.default_preset("fashion_mnist") == "fashion"
    assert bench.default_preset("cifar10") == "paper" and bench.default_preset("digits") == "cpu"
    assert bench.default_json(a, "cuda").name == "cuda-fashion_mnist-cnn.json"


def test_materialize_keeps_float64():
    """A float64 network stays float64 when materialized (copying into default float32 layers
    first would round its weights: a 1e-7 difference where float64 agrees to 1e-12)."""
    arch = models.arch_for("cnn1d", (1, 40), 10, (16, 16), (8, 6))
    parent = [p.double() for p in models.init_parent(arch, 0)]
    keep = masks.sample(arch.widths, 0.5, 1, torch.Generator().manual_seed(0))
    carch, params = models.compact(arch, [p[None] for p in parent], keep)
    net = models.materialize(carch, [p[0] for p in params])
    x = torch.randn(16, 1, 40, dtype=torch.float64)
    assert next(net.parameters()).dtype == torch.float64
    with torch.no_grad():
        torch.testing.assert_close(net(x), models.forward(carch, params, x)[0], rtol=0, atol=1e-12)


def test_chunks_sized_from_kept_widths_not_the_parent():
    """The paper preset's CIFAR-10 CNN (32-64-128 channels, scoring batch 1024) scores many
    candidates per pass within 1 GiB; sizing with the parent's widths and a shared first layer
    counted per candidate used to give a chunk of 1. Sparser candidates fit more per pass."""
    arch = models.arch_for("cnn", (3, 32, 32), 10, (512, 512), (32, 64, 128))
    chunks = [scoring.chunk_size(arch, masks.kept_widths(arch.widths, s), 1024, 1 << 30)
              for s in (0.1, 0.5, 0.9)]
    assert chunks[0] >= 4 and chunks[0] < chunks[1] < chunks[2] <= scoring.MAX_CHUNK
    # monotone in every kept width: an upper bound must not shrink when a candidate grows
    base = scoring.candidate_bytes(arch, (10, 20, 30), 64)
    for i in range(3):
        bigger = [10, 20, 30]
        bigger[i] += 1
        assert scoring.candidate_bytes(arch, tuple(bigger), 64) > base


def test_score_memory_override(monkeypatch):
    monkeypatch.setenv("WEEDOUT_SCORE_MEMORY_MB", "3")
    assert scoring.default_budget(torch.device("cpu")) == 3 * 2**20
    for bad in ("0", "-1", "lots", "nan"):
        monkeypatch.setenv("WEEDOUT_SCORE_MEMORY_MB", bad)
        with pytest.raises(ValueError, match="WEEDOUT_SCORE_MEMORY_MB="):
            scoring.default_budget(torch.device("cpu"))
    monkeypatch.delenv("WEEDOUT_SCORE_MEMORY_MB")
    assert scoring.default_budget(torch.device("cpu")) == scoring.CPU_BUDGET


@pytest.mark.cuda
@NO_CUDA
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_cuda_runs_repeat_bit_for_bit(digits, kind):
    """Under the experiment's CUDA settings (deterministic algorithms, fixed cuBLAS workspace, no
    TF32) two trainings and two searches are identical to the bit, and no op lacks a
    deterministic implementation (it would raise here, not in the middle of a run)."""
    assert provenance.configure_torch("cuda") == "deterministic"
    digits = on(digits, "cuda")
    arch = models.arch_for(kind, digits.in_shape, 10, (64, 64), (16, 32))
    parents = [[p.cuda() for p in models.init_parent(arch, s)] for s in (0, 1)]
    keep = masks.sample(arch.widths, 0.5, 4, torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        carch, params = models.compact(arch, models.stack(parents), keep, torch.tensor([0, 0, 1, 1]))
        hist = train_stack(carch, params, digits, [0, 0, 1, 1], SCHED)
        scores = scoring.scorer(arch, parents[0], digits.x_train[:512], digits.y_train[:512])(
            masks.sample(arch.widths, 0.7, 300, torch.Generator().manual_seed(1)))
        runs.append((hist, scores))
    (a, sa), (b, sb) = runs
    assert torch.equal(sa, sb)
    for k in ("train_loss", "test_loss", "test_acc"):
        assert torch.equal(a[k], b[k]), k
    assert all(torch.equal(p, q) for p, q in zip(a["params"], b["params"]))


@pytest.mark.cuda
@NO_CUDA
def test_cuda_scoring_budget_from_free_memory():
    budget = scoring.default_budget(torch.device("cuda"))
    assert budget > scoring.CPU_BUDGET
    arch = models.arch_for("cnn", (3, 32, 32), 10, (512, 512), (32, 64, 128))
    assert scoring.chunk_size(arch, masks.kept_widths(arch.widths, 0.1), 1024, budget) > 1

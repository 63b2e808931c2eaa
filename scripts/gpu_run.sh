#!/usr/bin/env bash
# The GPU run in one command, for a machine with one GPU, no network and a bare Python 3.12 that
# has torch, torchvision, numpy, scipy, pandas, matplotlib, seaborn and scikit-learn:
#
#   scripts/gpu_run.sh OUTDIR             on the GPU machine (gpu_bundle/ travels with the tree;
#                                         `make gpu-bundle` builds it)
#   scripts/gpu_run.sh --dry-run OUTDIR   every step on this machine's CPU at toy size
#                                         (tests/test_gpu_script.py runs it in CI)
#   scripts/gpu_run.sh OUTDIR RUN...      the runs named instead of `paper`: each a preset of
#                                         `python -m weedout --preset RUN`, e.g. issue 19's
#                                         fashion_pai fashion_pai_global fashion_unstructured
#   scripts/gpu_run.sh --no-bench ...     without the benchmarks, to leave the runs more minutes
#
# Steps, each under its own time limit so a slow one cannot eat the others' minutes (the whole
# run ends within DEADLINE seconds, 460 by default: under 8 minutes):
#   install   a venv over the system's packages + the bundle's wheels, offline
#   tests     the oracle tests on cuda (`pytest -m cuda`: masked = compacted, batched = one-by-one
#             scoring, stacked = alone = naive training, repeated runs bit-identical)
#   bench-*   python -m weedout.bench --device cuda: digits MLP, MNIST-1D CNN, Fashion-MNIST MLP/CNN
#   bench-bf16-*  the Fashion-MNIST grids again with --precision bfloat16 (the engine trains
#             under autocast; the small grids are left out to keep within the GPU's minutes);
#             "skipped" where the device has no bfloat16 units (PRECISION would be refused:
#             so on a CPU without AVX-512 BF16 or AMX, e.g. the dry run on an AMD EPYC)
#   paper     python -m weedout --preset paper --datasets fashion_mnist --device cuda (4 notebooks),
#             given whatever time is left; or, with RUNs named, one step run-RUN per preset, one
#             after another, each given an equal share of the time left
#   collect   tables, run.json, figures, executed notebooks, trial records (to resume), versions
# A failed step is logged and the next one still runs; a benchmark whose two ways disagree beyond
# float32 tolerance is marked "disagree" (see its log and JSON) without failing the run.
# OUTDIR/summary.tsv lists every step with its status and seconds; OUTDIR/logs/<step>.log has
# its output. Exit 0 only if no step failed or timed out.
set -uo pipefail

DRY=0 BENCH=1
while [ "${1:-}" = "--dry-run" ] || [ "${1:-}" = "--no-bench" ]; do
    [ "$1" = "--dry-run" ] && DRY=1 || BENCH=0; shift; done
if [ $# -lt 1 ]; then
    echo "usage: scripts/gpu_run.sh [--dry-run] [--no-bench] OUTDIR [RUN ...]" >&2; exit 2; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" && OUT=$(cd "$1" && pwd)
shift
RUNS=("${@:-paper}")
BUNDLE=${BUNDLE:-$ROOT/gpu_bundle}
START=$SECONDS
mkdir -p "$OUT/logs" "$OUT/bench"
printf 'step\tstatus\texit\tseconds\tlimit\n' > "$OUT/summary.tsv"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"   # weedout itself, without installing it
export WEEDOUT_QUIET=1                                # no progress bars in logs

if [ $DRY = 1 ]; then
    DEADLINE=${DEADLINE:-900}
    DEV=cpu
    PY=${PY:-$ROOT/.venv/bin/python}                   # the project's own environment
    # The bundle's interpreter, where this machine has a runnable one (a pyenv shim may not run).
    if [ -z "${PY_TARGET:-}" ]; then
        for cand in python3.12 $(ls -d "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.12*/bin/python3.12 2>/dev/null); do
            if "$cand" -c "import sys; assert sys.version_info[:2] == (3, 12)" 2>/dev/null; then
                PY_TARGET=$cand; break; fi
        done
        PY_TARGET=${PY_TARGET:-python3.12}
    fi
    # Toy sizes: the same commands, seconds of work each; one torch thread, as the tests use:
    # on a 2-core machine that other processes share, two OpenMP threads stall on each other.
    BENCH_ARGS=(--seeds 1 --candidates 6 --epochs 1 --sparsities 0.5 0.9 --train-subset 2048
                --threads 1)
    TOY_ARGS=(--seeds 2 --sparsities 0.5,0.9 --candidates 8 --epochs 1)
    TEST_ARGS=(-m "oracle and not cuda")
    BENCH_LIMIT=420                                    # the naive CPU CNN is slow even at toy size,
                                                       # and the baseline and the rates run too
else
    DEADLINE=${DEADLINE:-460}
    DEV=cuda
    PY_TARGET=${PY_TARGET:-python3}
    PY=/tmp/weedout-gpu-venv/bin/python
    BENCH_ARGS=()
    TOY_ARGS=()
    TEST_ARGS=(-m cuda)
    BENCH_LIMIT=60
    export WEEDOUT_DATA="$BUNDLE/data"                  # Fashion-MNIST from the bundle
fi

step() {  # step NAME LIMIT CMD...: run CMD under a time limit, log it, record how it went
    local name=$1 limit=$2 t0=$SECONDS rc status
    shift 2
    timeout --kill-after=10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status=failed ;; esac
    # The benchmark exits 1 when naive and engine disagree beyond its float32 tolerances (SGD
    # amplifies rounding over many steps): a result to look at, not a broken step.
    if [ $rc = 1 ] && [[ $name == bench-* ]] && grep -q "DISAGREE" "$OUT/logs/$name.log"; then
        status=disagree; fi
    printf '%s\t%s\t%d\t%d\t%d\n' "$name" "$status" "$rc" $((SECONDS - t0)) "$limit" >> "$OUT/summary.tsv"
    echo "[$((SECONDS - START)) s] $name: $status ($((SECONDS - t0)) s of $limit s)"
    [ $status = ok ] || [ $status = disagree ]
}

skip() {  # skip NAME WHY
    printf '%s\tskipped\t-\t0\t0\n' "$1" >> "$OUT/summary.tsv"
    echo "[$((SECONDS - START)) s] $1: skipped ($2)"
}

# -- install: the bundle's wheels over the system's packages, offline (scripts/gpu_install.sh).
# On the GPU machine this is the environment of every later step; in a dry run it proves the
# bundle installs on the target Python (where this machine has one) while the project's own
# environment runs the rest.
if [ ! -d "$BUNDLE/wheels" ]; then
    if [ $DRY = 1 ]; then skip install "no bundle at $BUNDLE (make gpu-bundle)"
    else echo "no bundle at $BUNDLE: make gpu-bundle, then carry it" > "$OUT/logs/install.log"
         step install 1 false; fi
elif ! "$PY_TARGET" -c "import sys" 2>/dev/null; then
    skip install "no runnable $PY_TARGET on this machine"
else
    VENV=$([ $DRY = 1 ] && echo "$OUT/venv-target" || echo /tmp/weedout-gpu-venv)
    step install 90 bash scripts/gpu_install.sh "$VENV" "$BUNDLE" "$PY_TARGET"
fi
[ -x "$PY" ] || PY=$(command -v "$PY_TARGET")   # a failed install: the bare system python
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
    torch.cuda.get_device_name() if torch.cuda.is_available() else '')" > "$OUT/logs/versions.log" 2>&1

# -- tests: the oracle tests on the device
step tests 100 "$PY" -m pytest -q -p no:cacheprovider "${TEST_ARGS[@]}" tests/test_engine.py

# -- bench: naive vs baseline vs engine, side by side, JSON per grid; then the Fashion-MNIST
# grids in bfloat16 where the device has bfloat16 units (--precision bfloat16 is refused elsewhere)
GRIDS=("digits mlp" "mnist1d cnn1d" "fashion_mnist mlp --seeds 1 --epochs 1"
       "fashion_mnist cnn --seeds 1 --epochs 1")
BF16=$("$PY" -c "from weedout import precision; print(int(precision.supported('$DEV')))" 2>/dev/null)
for prec in float32 bfloat16; do
    [ $BENCH = 1 ] || break
    for grid in "${GRIDS[@]}"; do
        set -- $grid
        ds=$1 model=$2 name=bench-$1-$2 json=$DEV-$1-$2
        shift 2
        if [ $prec = bfloat16 ]; then
            [ $ds = fashion_mnist ] || continue
            name=bench-bf16-$ds-$model json=$json-bfloat16
            if [ "$BF16" != 1 ]; then skip "$name" "no bfloat16 units on $DEV"; continue; fi
        fi
        # In a dry run BENCH_ARGS (toy sizes) come last and win over the grid's own sizes.
        # --workers 0: one GPU is one device (worker processes are a CPU way); the dry run on a
        # CPU leaves them out too, so that its bench steps time what the GPU's do.
        step "$name" "$BENCH_LIMIT" "$PY" -m weedout.bench --device "$DEV" --dataset "$ds" \
            --model "$model" --precision $prec --workers 0 "$@" "${BENCH_ARGS[@]}" \
            --json "$OUT/bench/$json.json"
    done
done

# -- paper (or the RUNs named): through the four notebooks, with the time left shared out
run_args() {  # run_args RUN: ARGS, the CLI's arguments for one run (paper: on Fashion-MNIST)
    ARGS=(--preset "$1" --device "$DEV" "${TOY_ARGS[@]}")
    if [ "$1" = paper ]; then ARGS+=(--datasets fashion_mnist); fi
    # A dry run writes into OUTDIR; the GPU machine into the tree's results/RUN, collected below
    if [ $DRY = 1 ]; then ARGS+=(--results-dir "$OUT/results/$1" --figures-dir "$OUT/figures/$1"); fi
}
for i in "${!RUNS[@]}"; do
    run=${RUNS[$i]}
    name=run-$run
    LEFT=$(( (DEADLINE - (SECONDS - START) - 25) / (${#RUNS[@]} - i) ))
    [ $LEFT -lt 60 ] && LEFT=60
    run_args "$run"
    step "$name" "$LEFT" "$PY" -m weedout "${ARGS[@]}"
    # An op without a deterministic CUDA kernel raises under the default settings: rather than
    # lose the run, redo it with --fast-cuda (run.json then says cuda_mode "fast"; finished
    # trials reused).
    if grep -q "does not have a deterministic implementation" "$OUT/logs/$name.log" 2>/dev/null; then
        LEFT=$(( (DEADLINE - (SECONDS - START) - 25) / (${#RUNS[@]} - i) ))
        [ $LEFT -ge 60 ] && step "$name-fast-cuda" "$LEFT" "$PY" -m weedout "${ARGS[@]}" --fast-cuda
    fi
done

# -- collect: what comes back (on the GPU machine the run wrote into the tree's results/paper)
COLLECT='set -e
if [ "$DRY" = 0 ]; then
    mkdir -p "$OUT/results" "$OUT/figures"
    for run in $RUN_LIST; do
        cp -r "results/$run" "$OUT/results/" 2>/dev/null || true
        rm -f "$OUT/results/$run/.lock"
        cp -r "figures/$run" "$OUT/figures/" 2>/dev/null || true
    done
fi
command -v nvidia-smi > /dev/null && nvidia-smi > "$OUT/logs/nvidia-smi.log" 2>&1 || true
"$PY" -m pip freeze > "$OUT/logs/pip-freeze.log" 2>&1 || true
ls -R "$OUT/results" "$OUT/figures" "$OUT/bench" 2>/dev/null | head -100'
export DRY OUT PY RUN_LIST="${RUNS[*]}"
step collect 20 bash -c "$COLLECT"

echo "done in $((SECONDS - START)) s; summary in $OUT/summary.tsv"
awk -F'\t' 'NR > 1 && ($2 == "failed" || $2 == "timeout") { bad = 1 } END { exit bad }' "$OUT/summary.tsv"

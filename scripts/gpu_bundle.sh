#!/usr/bin/env bash
# Gather what a GPU machine without network needs to run scripts/gpu_run.sh, into one folder:
#   wheels/   CPython 3.12 manylinux x86_64 wheels of what its python3 lacks (papermill,
#             ipykernel, nbval, pytest, mnist1d and their dependencies; it already has torch,
#             torchvision, numpy, scipy, matplotlib, seaborn, pandas and scikit-learn)
#   data/FashionMNIST/raw/*.gz   the four Fashion-MNIST files (torchvision's layout)
#   MANIFEST.txt                 every file with its size and sha256
# Usage: scripts/gpu_bundle.sh [DIR]   (default gpu_bundle/, git-ignored; `make gpu-bundle`)
# Needs the package registry (pip download) and Fashion-MNIST on disk (`make data`).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-gpu_bundle}
PY=${PY:-.venv/bin/python}
LIMIT_MB=${LIMIT_MB:-60}
# The target: the GPU machine's interpreter, not ours. glibc 2.28+ (pip also accepts older tags).
TARGET=(--python-version 3.12 --implementation cp --abi cp312 --platform manylinux_2_28_x86_64
        --only-binary=:all:)

pipq() {  # pip without the warnings about this machine's missing local indexes
    "$PY" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}

rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp/wheels" "$DIR.tmp/data/FashionMNIST/raw"
# pip evaluates dependency markers with the *running* Python, not --python-version: papermill's
# `aiohttp; python_version == "3.12"` is invisible from 3.11, so it is asked for by name.
pipq download --quiet --disable-pip-version-check -d "$DIR.tmp/wheels" "${TARGET[@]}" \
    papermill ipykernel nbval pytest aiohttp
# mnist1d's own dependencies (numpy, scipy, matplotlib; requests comes with papermill) are on
# the GPU machine already: without --no-deps pip would add ~40 MB of numpy/scipy/matplotlib.
pipq download --quiet --disable-pip-version-check -d "$DIR.tmp/wheels" "${TARGET[@]}" \
    --no-deps mnist1d

# Fashion-MNIST: the .gz files torchvision's downloader fetches (30 MB), from wherever `make data`
# found them; gzip the decompressed ones where only those exist.
RAW=$("$PY" -c "from weedout.config import paths; print(paths.DATA / 'FashionMNIST' / 'raw')")
DEBIAN=$("$PY" -c "from weedout.data import torchvision_sets; print(torchvision_sets.DEBIAN_FASHION_MNIST)")
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -f "$RAW/$f.gz" ]; then cp "$RAW/$f.gz" "$DIR.tmp/data/FashionMNIST/raw/"
    elif [ -f "$DEBIAN/$f.gz" ]; then cp "$DEBIAN/$f.gz" "$DIR.tmp/data/FashionMNIST/raw/"
    elif [ -f "$RAW/$f" ]; then gzip -c "$RAW/$f" > "$DIR.tmp/data/FashionMNIST/raw/$f.gz"
    else echo "error: Fashion-MNIST file $f is in neither $RAW nor $DEBIAN: run 'make data DATASETS=fashion_mnist' first" >&2; exit 1
    fi
done

(cd "$DIR.tmp" && find . -type f ! -name MANIFEST.txt | sort | while read -r f; do
    printf '%s  %10d  %s\n' "$(sha256sum "$f" | cut -c1-64)" "$(stat -c %s "$f")" "${f#./}"
 done) > "$DIR.tmp/MANIFEST.txt"
BYTES=$(du -sb "$DIR.tmp" | cut -f1)
if [ "$BYTES" -gt $((LIMIT_MB * 1000 * 1000)) ]; then
    echo "error: the bundle is $((BYTES / 1000000)) MB, over the ${LIMIT_MB} MB that may travel to the GPU machine" >&2
    exit 1
fi
rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
echo "gpu bundle: $DIR ($((BYTES / 1000000)) MB, $(ls "$DIR/wheels" | wc -l) wheels + Fashion-MNIST)"

#!/usr/bin/env bash
# Install the GPU bundle's wheels offline for scripts/gpu_run.sh: VENV/bin/python afterwards has
# the system's packages (torch & co.) plus papermill, ipykernel, nbval, pytest and mnist1d.
# Usage: scripts/gpu_install.sh VENV BUNDLE PYTHON
# A venv over the system site-packages where `python -m venv` works; where it does not (a
# Python without ensurepip), `pip install --target` and a small VENV/bin/python wrapper.
set -euo pipefail
VENV=$1 BUNDLE=$2 PY_TARGET=$(command -v "$3")
"$PY_TARGET" -c "import sys; print('target python', sys.version.split()[0])"
PIP=(-m pip install --quiet --disable-pip-version-check --no-index --find-links "$BUNDLE/wheels")
# mnist1d without its dependencies: numpy, scipy and matplotlib are the system's.
rm -rf "$VENV"
if "$PY_TARGET" -m venv --system-site-packages "$VENV"; then
    "$VENV/bin/python" "${PIP[@]}" papermill ipykernel nbval pytest
    "$VENV/bin/python" "${PIP[@]}" --no-deps mnist1d
else
    echo "python -m venv failed: installing into $VENV/site with pip --target"
    rm -rf "$VENV" && mkdir -p "$VENV/bin"
    "$PY_TARGET" "${PIP[@]}" --target "$VENV/site" papermill ipykernel nbval pytest
    "$PY_TARGET" "${PIP[@]}" --target "$VENV/site" --no-deps mnist1d
    # Kernels started by papermill inherit these variables, so they see the same packages.
    cat > "$VENV/bin/python" <<WRAPPER
#!/bin/sh
export PYTHONPATH="$VENV/site\${PYTHONPATH:+:\$PYTHONPATH}"
export JUPYTER_PATH="$VENV/site/share/jupyter" PATH="$VENV/site/bin:\$PATH"
exec "$PY_TARGET" "\$@"
WRAPPER
    chmod +x "$VENV/bin/python"
fi
"$VENV/bin/python" -c "import papermill, nbval, ipykernel, pytest
print('installed: papermill', papermill.__version__, 'nbval', nbval.__version__, 'ipykernel', ipykernel.__version__)"
"$VENV/bin/python" -m jupyter kernelspec list

#!/usr/bin/env bash
# Creates a Python venv with current JAX (CPU) and, on request, current PyTorch, for
# bench/peers.py. Only the default PyPI index is used.
#
#   bench/setup_venv.sh [--with-torch] [VENV_DIR]      (default VENV_DIR: /work/venv-bench)
#
# The base interpreter is $PYTHON if set, else the first python3 on PATH (the pyenv one here);
# the venv sees that interpreter's site-packages (--system-site-packages).
#
# PyTorch: PyPI serves Linux x86_64 torch only as the CUDA build, which pulls ~3-4 GB of
# nvidia-* / triton wheels; there is no CPU-only wheel on the default index. So torch is only
# installed with --with-torch, and a failure there is reported but not fatal. Debian's torch
# 1.13 (/usr/bin/python3) is the reference the performance goals are stated against anyway.
set -euo pipefail

with_torch=0
venv=/work/venv-bench
for arg in "$@"; do
    case "$arg" in
    --with-torch) with_torch=1 ;;
    -h | --help)
        sed -n '2,13p' "$0"
        exit 0
        ;;
    -*)
        echo "unknown option: $arg" >&2
        exit 2
        ;;
    *) venv=$arg ;;
    esac
done

base=${PYTHON:-python3}
# Resolve shims (pyenv) to the real interpreter so the venv does not depend on them.
base=$("$base" -c 'import sys; print(sys.executable)')
echo "base interpreter: $base ($("$base" --version 2>&1))"

if [[ ! -x "$venv/bin/python" ]]; then
    "$base" -m venv --system-site-packages "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip

echo "installing jax[cpu] (brings numpy and ml_dtypes) ..."
"$py" -m pip install --quiet --upgrade "jax[cpu]"

torch_status="skipped (pass --with-torch; the PyPI wheel is the multi-GB CUDA build)"
if [[ $with_torch == 1 ]]; then
    echo "installing torch from PyPI (CUDA build and its nvidia-* dependencies) ..."
    if "$py" -m pip install --quiet --upgrade torch; then
        torch_status="installed"
    else
        torch_status="FAILED to install (see pip output above)"
    fi
fi

echo
echo "venv: $venv"
"$py" - <<'EOF'
import importlib
for name in ("numpy", "ml_dtypes", "jax", "jaxlib", "torch"):
    try:
        mod = importlib.import_module(name)
        print(f"  {name:10s} {getattr(mod, '__version__', '?')}")
    except Exception as e:  # noqa: BLE001 - report whatever stops the import
        print(f"  {name:10s} not importable ({type(e).__name__}: {e})")
EOF
echo "  torch: $torch_status"

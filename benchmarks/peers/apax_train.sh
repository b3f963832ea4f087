#!/usr/bin/env bash
# Run benchmarks/peers/apax_train.py (train / predict / time apax 0.14) the way
# benchmarks/train_vs_apax.py needs it: in apax's own virtual environment,
# benchmarks/out/.venv-apax (the one apax_timing.sh uses; created here on the first
# run with `pip install apax==0.14.0 "jax[cpu]"` if it is missing), on the CPU, with
# one XLA/TF thread and the process pinned to one core with taskset (XLA's thread
# flags alone do not keep its CPU runtime on one thread; see apax_timing.sh).
#
# Usage (train_vs_apax.py does this for you):
#   bash benchmarks/peers/apax_train.sh train --train T.xyz --valid V.xyz \
#       --workdir DIR --budget-s 1200
#   bash benchmarks/peers/apax_train.sh predict --model-dir DIR/models/gmnn \
#       --input a.xyz b.xyz --output a-pred.xyz b-pred.xyz
#   bash benchmarks/peers/apax_train.sh time --model-dir DIR/models/gmnn --output t.json
# Environment: APAX_TASKSET=N pins to core N (default 0), APAX_TASKSET=none does not
# pin; PYTHON names the interpreter (>= 3.11) for creating the venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
benchmarks="$(dirname "$here")"
venv="$benchmarks/out/.venv-apax"
python="${PYTHON:-python3}"

fail() {
    echo "apax_train.sh: $*" >&2
    exit 1
}

if ! "$venv/bin/python" -c "import apax" 2>/dev/null; then
    echo "creating $venv (apax 0.14.0 with CPU-only jax; this takes a few minutes)"
    mkdir -p "$benchmarks/out"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || fail "apax 0.14 needs Python >= 3.11; set PYTHON to such an interpreter"
    "$python" -m venv "$venv" || fail "could not create a virtual environment at $venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install "apax==0.14.0" "jax[cpu]" \
        || fail "pip could not install apax==0.14.0 with CPU jax"
fi
if "$venv/bin/pip" list 2>/dev/null | grep -qiE '^(jax-cuda|nvidia-)'; then
    fail "CUDA packages are installed in $venv; remove it and run again"
fi

export JAX_PLATFORMS=cpu
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=3
export PYTHONPATH="$benchmarks:$here${PYTHONPATH:+:$PYTHONPATH}"

core="${APAX_TASKSET:-0}"
if [[ "$core" == "none" ]]; then
    exec "$venv/bin/python" "$here/apax_train.py" "$@"
fi
command -v taskset >/dev/null || fail "taskset not found (util-linux); set APAX_TASKSET=none"
export APAX_PINNED_CORE="$core"
exec taskset -c "$core" "$venv/bin/python" "$here/apax_train.py" "$@"

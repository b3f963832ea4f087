#!/usr/bin/env bash
# Re-measure apax 0.14 (GM-NN) on the benchmark systems of benchmarks/systems.py,
# side by side with benchmarks/time_calculator.py (same systems and call protocol).
#
# apax lives in its own virtual environment, benchmarks/out/.venv-apax (gitignored),
# created here on the first run with `pip install apax==0.14.0 "jax[cpu]"`; pointchem
# never imports apax. The script refuses to go on if jax would run on anything but the
# CPU. apax gets one thread, like torch in time_calculator.py (targets.md): XLA's
# thread flags are set, but they do not stop XLA's CPU runtime from running work on
# several threads (jax-ml/jax#1539; measured here: CPU/wall 1.4-1.7 at 192-1536 atoms),
# so the process is also pinned to one core with taskset (core 0 unless APAX_TASKSET
# names another; APAX_TASKSET=none switches pinning off). apax_time.py reports
# CPU/wall so that the setting can be checked.
#
# Usage, from anywhere:
#   bash benchmarks/peers/apax_timing.sh                       # ethanol,192,1536
#   bash benchmarks/peers/apax_timing.sh --sizes 12288 --calls-large 3
#   APAX_TASKSET=1 bash benchmarks/peers/apax_timing.sh        # pin to core 1 instead
#   PYTHON=python3.12 bash benchmarks/peers/apax_timing.sh     # interpreter for the venv
# Arguments are passed on to apax_time.py (see its --help). Output: a markdown table
# and benchmarks/out/apax_time.json, which time_calculator.py shows as "apax (here)".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
benchmarks="$(dirname "$here")"
out="$benchmarks/out"
venv="$out/.venv-apax"
python="${PYTHON:-python3}"

fail() {
    echo "apax_timing.sh: $*" >&2
    exit 1
}

if ! "$venv/bin/python" -c "import apax" 2>/dev/null; then
    echo "creating $venv (apax 0.14.0 with CPU-only jax; this takes a few minutes)"
    mkdir -p "$out"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || fail "apax 0.14 needs Python >= 3.11; set PYTHON to such an interpreter"
    "$python" -m venv "$venv" || fail "could not create a virtual environment at $venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install "apax==0.14.0" "jax[cpu]" \
        || fail "pip could not install apax==0.14.0 with CPU jax (see pip's message above)"
fi

# CPU-only check: no CUDA wheels in the environment, and jax's backend is the CPU.
if "$venv/bin/pip" list 2>/dev/null | grep -qiE '^(jax-cuda|nvidia-)'; then
    fail "CUDA packages are installed in $venv; remove it and run again"
fi

export JAX_PLATFORMS=cpu
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=3
export PYTHONPATH="$benchmarks${PYTHONPATH:+:$PYTHONPATH}"

"$venv/bin/python" -c 'import jax, sys; sys.exit(jax.default_backend() != "cpu")' \
    || fail "jax in $venv does not run on the CPU"

cd "$out"
core="${APAX_TASKSET:-0}"
if [[ "$core" == "none" ]]; then
    exec "$venv/bin/python" "$here/apax_time.py" "$@"
fi
command -v taskset >/dev/null || fail "taskset not found (util-linux); set APAX_TASKSET=none"
export APAX_TIMING_PINNED_CORE="$core"
exec taskset -c "$core" "$venv/bin/python" "$here/apax_time.py" "$@"

# Shared by apax_timing.sh and apax_train.sh (source it, then call run_in_apax_env).
#
# Makes apax's own virtual environment, benchmarks/out/.venv-apax, on first use
# (`pip install apax==0.14.0 "jax[cpu]"`; pointchem never imports apax), refuses CUDA
# packages and non-CPU jax, sets one XLA/TF/BLAS thread, and runs a script pinned to
# one core with taskset: XLA's thread flags alone do not keep its CPU runtime on one
# thread (jax-ml/jax#1539; measured here: CPU/wall 1.4-1.7).
# Environment: APAX_TASKSET=N pins to core N (default 0), APAX_TASKSET=none does not
# pin; PYTHON names the interpreter (>= 3.11) for creating the venv.

apax_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apax_benchmarks="$(dirname "$apax_here")"
apax_venv="$apax_benchmarks/out/.venv-apax"

apax_fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

apax_make_env() {
    local python="${PYTHON:-python3}"
    if ! "$apax_venv/bin/python" -c "import apax" 2>/dev/null; then
        echo "creating $apax_venv (apax 0.14.0 with CPU-only jax; a few minutes)"
        mkdir -p "$apax_benchmarks/out"
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || apax_fail "apax 0.14 needs Python >= 3.11; set PYTHON to one"
        "$python" -m venv "$apax_venv" || apax_fail "could not create $apax_venv"
        "$apax_venv/bin/pip" install --quiet --upgrade pip
        "$apax_venv/bin/pip" install "apax==0.14.0" "jax[cpu]" \
            || apax_fail "pip could not install apax==0.14.0 with CPU jax (see above)"
    fi
    if "$apax_venv/bin/pip" list 2>/dev/null | grep -qiE '^(jax-cuda|nvidia-)'; then
        apax_fail "CUDA packages are installed in $apax_venv; remove it and run again"
    fi
    export JAX_PLATFORMS=cpu
    export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=3
    export PYTHONPATH="$apax_benchmarks:$apax_here${PYTHONPATH:+:$PYTHONPATH}"
    "$apax_venv/bin/python" -c 'import jax, sys; sys.exit(jax.default_backend() != "cpu")' \
        || apax_fail "jax in $apax_venv does not run on the CPU"
}

# run_in_apax_env PINNED_CORE_VARIABLE SCRIPT [ARGS...]: exec SCRIPT in the venv,
# pinned as configured; the core is exported under PINNED_CORE_VARIABLE for reports.
run_in_apax_env() {
    local pinned_variable="$1" script="$2"
    shift 2
    apax_make_env
    local core="${APAX_TASKSET:-0}"
    if [[ "$core" == "none" ]]; then
        exec "$apax_venv/bin/python" "$script" "$@"
    fi
    command -v taskset >/dev/null || apax_fail "taskset not found; set APAX_TASKSET=none"
    export "$pinned_variable"="$core"
    exec taskset -c "$core" "$apax_venv/bin/python" "$script" "$@"
}

# Shared by metatrain_train.sh and metatrain_timing.sh (source it, then call
# run_in_metatrain_env).
#
# metatrain lives in its own virtual environment, benchmarks/out/.venv-metatrain
# (git-ignored; pointchem never imports metatrain), made here on first use. The order
# of the two installs matters: torch==2.13.0 first, which pip takes from the local
# CPU wheel, then metatrain and metatomic-ase, whose metatensor-torch 0.10 accepts
# torch < 2.15 and so keeps that torch (unpinned, pip would fetch a CUDA torch and
# several GB of nvidia packages). The versions are pinned so that a re-created
# environment times the same code; the environment is refused if anything CUDA got in.
#
# Every run gets one torch/OpenMP/BLAS thread (targets.md: two threads on the 2-core
# machine made timings erratic) and is pinned to one core with taskset, like apax.
# Environment: METATRAIN_TASKSET=N pins to core N (default 0), METATRAIN_TASKSET=none
# does not pin; PYTHON names the interpreter (>= 3.10) for creating the venv.

metatrain_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
metatrain_benchmarks="$(dirname "$metatrain_here")"
metatrain_venv="$metatrain_benchmarks/out/.venv-metatrain"
metatrain_torch="torch==2.13.0"
metatrain_packages=(
    "metatrain==2026.4.1"
    "metatomic-torch==0.1.19"
    "metatensor-torch==0.10.8"
    "metatomic-ase==0.1.4"
)

metatrain_fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

metatrain_install() {
    local python="${PYTHON:-python3}" pip="$metatrain_venv/bin/pip"
    echo "creating $metatrain_venv (${metatrain_packages[*]}, CPU torch; a few minutes)"
    mkdir -p "$metatrain_benchmarks/out"
    "$python" -m venv "$metatrain_venv" || metatrain_fail "could not create $metatrain_venv"
    "$pip" install --quiet --upgrade pip
    "$pip" install "$metatrain_torch" \
        || metatrain_fail "pip could not install $metatrain_torch (see above)"
    "$pip" install "${metatrain_packages[@]}" \
        || metatrain_fail "pip could not install ${metatrain_packages[*]} (see above)"
}

metatrain_make_env() {
    if ! "$metatrain_venv/bin/python" -c "import metatrain, metatomic_ase" 2>/dev/null
    then
        metatrain_install
    fi
    if "$metatrain_venv/bin/pip" list 2>/dev/null | grep -qiE '^(nvidia-|triton|cuda-)'
    then
        metatrain_fail "CUDA packages are in $metatrain_venv; remove it and run again"
    fi
    "$metatrain_venv/bin/python" -c \
        'import sys, torch; sys.exit(torch.version.cuda is not None)' \
        || metatrain_fail "torch in $metatrain_venv is a CUDA build; remove the venv"
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    export PYTHONPATH="$metatrain_benchmarks:$metatrain_here${PYTHONPATH:+:$PYTHONPATH}"
}

# run_in_metatrain_env PINNED_CORE_VARIABLE SCRIPT [ARGS...]: exec SCRIPT in the venv,
# pinned as configured; the core is exported under PINNED_CORE_VARIABLE for reports.
run_in_metatrain_env() {
    local pinned_variable="$1" script="$2"
    shift 2
    metatrain_make_env
    local core="${METATRAIN_TASKSET:-0}" python="$metatrain_venv/bin/python"
    if [[ "$core" == "none" ]]; then
        exec "$python" "$script" "$@"
    fi
    command -v taskset >/dev/null \
        || metatrain_fail "taskset not found; set METATRAIN_TASKSET=none"
    export "$pinned_variable"="$core"
    exec taskset -c "$core" "$python" "$script" "$@"
}

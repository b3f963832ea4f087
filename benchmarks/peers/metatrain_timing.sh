#!/usr/bin/env bash
# Time metatrain's PET (metatrain 2026.4.1, default hypers) through metatomic's ASE
# calculator on the benchmark systems of benchmarks/systems.py, float32 and float64,
# with the call protocol of time_calculator.py and apax_time.py; or write its
# predictions of held-out frames. See benchmarks/peers/metatrain_time.py.
#
# metatrain lives in its own virtual environment, benchmarks/out/.venv-metatrain
# (git-ignored), created here on the first run (see metatrain_env.sh); pointchem never
# imports it. One torch thread, and the process pinned to one core with taskset.
#
# Usage, from anywhere:
#   bash benchmarks/peers/metatrain_timing.sh                  # time ethanol,192,1536
#   bash benchmarks/peers/metatrain_timing.sh time --sizes ethanol,192 --dtypes float32
#   bash benchmarks/peers/metatrain_timing.sh time --model-dir DIR --output t.json
#   bash benchmarks/peers/metatrain_timing.sh predict --model-dir DIR \
#       --input test.xyz --output predicted.xyz
# Without --model-dir a one-epoch model is made once in benchmarks/out/metatrain/quick
# (speed does not depend on training). Output: a markdown table and
# benchmarks/out/metatrain_time.json (or --output).
# Environment: METATRAIN_TASKSET=N pins to core N (default 0), METATRAIN_TASKSET=none
# does not pin; PYTHON names the interpreter for creating the venv.
set -euo pipefail

# shellcheck source=metatrain_env.sh
. "$(dirname "${BASH_SOURCE[0]}")/metatrain_env.sh"
if [[ $# -eq 0 || "$1" == -* ]]; then
    set -- time "$@"
fi
run_in_metatrain_env METATRAIN_TIMING_PINNED_CORE "$metatrain_here/metatrain_time.py" "$@"

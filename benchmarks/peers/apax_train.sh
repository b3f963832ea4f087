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

# shellcheck source=apax_env.sh
. "$(dirname "${BASH_SOURCE[0]}")/apax_env.sh"
run_in_apax_env APAX_PINNED_CORE "$apax_here/apax_train.py" "$@"

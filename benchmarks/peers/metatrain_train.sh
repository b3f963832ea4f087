#!/usr/bin/env bash
# Run benchmarks/peers/metatrain_train.py (train metatrain's PET within a wall-clock
# budget, or make a one-epoch model for timings) the way
# benchmarks/train_vs_metatrain.py needs it: in metatrain's own virtual environment,
# benchmarks/out/.venv-metatrain (created here on the first run if missing; see
# metatrain_env.sh), on the CPU with one thread, pinned to one core with taskset.
#
# Usage (train_vs_metatrain.py does this for you):
#   bash benchmarks/peers/metatrain_train.sh train --train T.xyz --valid V.xyz \
#       --workdir DIR --budget-s 1200
#   bash benchmarks/peers/metatrain_train.sh quick --workdir benchmarks/out/metatrain/quick
# Output in DIR: model.ckpt, model-float32.pt, model-float64.pt, options.yaml,
# summary.json; metatrain's log next to it as DIR-train.log / DIR-train.csv.
# Environment: METATRAIN_TASKSET=N pins to core N (default 0), METATRAIN_TASKSET=none
# does not pin; PYTHON names the interpreter for creating the venv.
set -euo pipefail

# shellcheck source=metatrain_env.sh
. "$(dirname "${BASH_SOURCE[0]}")/metatrain_env.sh"
run_in_metatrain_env METATRAIN_PINNED_CORE "$metatrain_here/metatrain_train.py" "$@"

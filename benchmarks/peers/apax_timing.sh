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

# shellcheck source=apax_env.sh
. "$(dirname "${BASH_SOURCE[0]}")/apax_env.sh"
mkdir -p "$apax_benchmarks/out"
cd "$apax_benchmarks/out"
run_in_apax_env APAX_TIMING_PINNED_CORE "$apax_here/apax_time.py" "$@"

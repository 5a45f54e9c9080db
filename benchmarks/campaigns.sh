#!/usr/bin/env bash
# The Monte Carlo campaigns of docs/scenarios.md: every built-in scenario with the firmware
# controller, and the baselines on the mission they reproduce; then the table.
# Usage: benchmarks/campaigns.sh [OUT_DIR] [RUNS] [WORKERS]   (defaults: campaigns 200 2)
# Takes ~30 min on a 2-core machine. Not part of CI.
set -euo pipefail
out=${1:-campaigns}
runs=${2:-200}
workers=${3:-2}
mkdir -p "$out"
fly() {  # fly NAME DIR [--controller C]
  local name=$1 dir=$2
  shift 2
  softland mc "$name" --runs "$runs" --seed 1 --workers "$workers" --runtime cpython \
    --out "$out/$dir" "$@" > "$out/$dir.log" 2>&1 || true  # a failing campaign is a result
}
for name in $(python3 -c "from softland.simulation.scenario import builtin_names; print(*builtin_names())"); do
  fly "$name" "$name"
done
fly ispace-m2 ispace-m2-naive --controller naive
fly ispace-m1 ispace-m1-latching --controller latching
fly beresheet beresheet-volatile --controller volatile
python3 "$(dirname "$0")/campaign_table.py" "$out"

#!/usr/bin/env bash
# The suite passes in any order: run it N times (default 20), each in a different random order (pytest-randomly,
# --randomly-seed 1..N, which also shuffles across xdist workers), slow tests deselected, and log every run.
#
#   bash benchmarks/test_orders.sh                      # 20 runs, -n 2, log in benchmarks/results/test_orders.txt
#   N=3 WORKERS=1 bash benchmarks/test_orders.sh tests/test_core.py    # extra arguments go to pytest
#
#   START=8 bash benchmarks/test_orders.sh             # go on with seeds 8..N, appending to the log
#
# Environment: PYTHON (default .venv/bin/python, with genlab and its test extras installed), N, START, WORKERS, LOG.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
N=${N:-20}
START=${START:-1}
WORKERS=${WORKERS:-2}
LOG=${LOG:-benchmarks/results/test_orders.txt}
mkdir -p "$(dirname "$LOG")"
dirty=$(git diff --quiet -- . ":(exclude)$LOG" 2>/dev/null || echo '+dirty')   # before the log itself is rewritten
[ "$START" -gt 1 ] || {
    echo "# $N runs of the test suite in random orders (pytest-randomly), -n $WORKERS, -m 'not slow'"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(git rev-parse --short HEAD 2>/dev/null)$dirty"
    echo "# $("$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)')"
} > "$LOG"
[ "$START" -eq 1 ] || echo "# seeds $START..$N from $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(git rev-parse --short HEAD 2>/dev/null)$dirty" >> "$LOG"
failed=0
for i in $(seq "$START" "$N"); do
    start=$(date +%s)
    out=$("$PY" -m pytest -q -p randomly -p no:cacheprovider -n "$WORKERS" -m "not slow" --randomly-seed="$i" "$@" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | tail -n 1)
    printf 'run %2d  --randomly-seed=%-3d rc=%d  %4ds  %s\n' "$i" "$i" "$rc" "$(( $(date +%s) - start ))" "$summary" \
        | tee -a "$LOG"
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        printf '%s\n' "$out" | grep -E '^(FAILED|ERROR)' | sed 's/^/    /' | tee -a "$LOG"
    fi
done
echo "# $((N - START + 1 - failed))/$((N - START + 1)) runs passed (seeds $START..$N)" | tee -a "$LOG"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs the test suite (tests/**/*_test.ts) under Deno, Bun and Node and sums the results.
#
#   bash scripts/test.sh                  # every test file, every runtime  (= npm test)
#   bash scripts/test.sh tests/http1      # only the test files under these paths
#   POOLED_TEST_RUNTIMES=bun bash scripts/test.sh
#
# Environment:
#   POOLED_TEST_RUNTIMES  runtimes to run, space- or comma-separated (default "deno bun node")
#   POOLED_TEST_TIMEOUT   seconds one runtime may take before it is killed (default 300)
#
# Prints each runner's own output, then one summary line per runtime, and last, alone on its
# line: "N passed, M failed" summed over the runtimes. A runtime that exits non-zero without
# reporting a failed test (crash, type error, timeout) or that reports no tests at all counts
# as one failure. Exits non-zero when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

runtimes=${POOLED_TEST_RUNTIMES:-deno bun node}
runtimes=${runtimes//,/ }
limit=${POOLED_TEST_TIMEOUT:-300}
if [ -z "${runtimes// /}" ]; then
  echo "scripts/test.sh: POOLED_TEST_RUNTIMES names no runtime (use \"deno bun node\")" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
export NO_COLOR=1

# The test files, as explicit paths: `bun test tests/` would treat "tests/" as a substring
# filter over the whole repository, and Deno and Bun differ in the names they discover.
paths=("$@")
[ ${#paths[@]} -eq 0 ] && paths=(tests)
mapfile -t files < <(find "${paths[@]}" -name '*_test.ts' -not -path '*/node_modules/*' | sort -u)
if [ ${#files[@]} -eq 0 ]; then
  echo "scripts/test.sh: no *_test.ts files under: ${paths[*]}" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
bun_files=()
for f in "${files[@]}"; do
  case $f in /*) bun_files+=("$f") ;; *) bun_files+=("./${f#./}") ;; esac
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT

total_passed=0
total_failed=0
summaries=()

# Runs one runner with a time limit, showing and logging its output; sets $status.
run_logged() {
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
}

# Sets $passed and $failed from the runner output in $log; empty when no summary was found.
parse_deno() {
  local line
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
  passed=$(sed -nE 's/^(ok|FAILED) \| ([0-9]+) passed.*/\2/p' <<<"$line")
  failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$line")
}

# node:test's spec reporter ends with "ℹ pass N", "ℹ fail N", "ℹ cancelled N".
parse_node() {
  local clean cancelled
  clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  passed=$(sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' <<<"$clean" | tail -n 1)
  failed=$(sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' <<<"$clean" | tail -n 1)
  cancelled=$(sed -nE 's/^ℹ cancelled ([0-9]+)$/\1/p' <<<"$clean" | tail -n 1)
  [ -n "$failed" ] && failed=$((failed + ${cancelled:-0}))
}

parse_bun() {
  local clean errors
  clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  passed=$(sed -nE 's/^ *([0-9]+) pass$/\1/p' <<<"$clean" | tail -n 1)
  failed=$(sed -nE 's/^ *([0-9]+) fail$/\1/p' <<<"$clean" | tail -n 1)
  errors=$(sed -nE 's/^ *([0-9]+) errors?$/\1/p' <<<"$clean" | tail -n 1)
  [ -n "$failed" ] && failed=$((failed + ${errors:-0}))
}

for rt in $runtimes; do
  echo "=== $rt: ${#files[@]} test file(s) ==="
  case $rt in
    deno)
      run_logged node_modules/.bin/deno test -A --v8-flags=--expose-gc --no-check=remote "${files[@]}"
      parse_deno
      ;;
    bun)
      run_logged node_modules/.bin/bun test "${bun_files[@]}"
      parse_bun
      ;;
    node)
      # Node 20 cannot run TypeScript itself: tsx (a pinned devDependency) strips the types.
      run_logged node --expose-gc --import tsx --test --test-reporter=spec "${files[@]}"
      parse_node
      ;;
    *)
      echo "scripts/test.sh: unknown runtime '$rt' in POOLED_TEST_RUNTIMES (use deno, bun, node)" >&2
      status=2 passed="" failed=""
      ;;
  esac
  note=""
  if [ -z "$passed" ] || [ -z "$failed" ]; then
    passed=${passed:-0} failed=${failed:-0}
    note=" (no test summary found)"
  fi
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    note="$note (killed after ${limit}s)"
  fi
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    note="$note (exit code $status counted as 1 failure)"
  elif [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    note="$note (no tests ran: counted as 1 failure)"
  fi
  summaries+=("$rt: $passed passed, $failed failed$note")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
done

echo
echo "=== summary ==="
for s in "${summaries[@]}"; do echo "$s"; done
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]

#!/bin/sh
# The whole test suite (make test):
#   1. every test in the release build (including CLI, MPI and golden tests);
#   2. the tests tagged LLX_T_ASAN (TEST(name, LLX_T_ASAN ...)) again under
#      ASan+UBSan, with the CLI they spawn also built with ASan+UBSan;
#   3. the tests tagged LLX_T_TSAN (threads: ring, nodes, pools) under TSan.
# Each test runs in a process of its own with a time limit (LLX_TEST_TIMEOUT,
# default 600 s): a hang is one failed test, not a stuck suite.
# Tests that start a server (LLX_T_ASAN/TSAN serve_*) get a CLI built the same way.
# Prints each suite's results and, last, the totals:
#   "N passed, N failed, N skipped".  Exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
total_p=0 total_f=0 total_s=0 status=0

run_suite() { # name, command...
    name=$1
    shift
    echo "== $name"
    out=$(mktemp)
    { "$@" 2>&1; echo $? >"$out.rc"; } | tee "$out"
    rc=$(cat "$out.rc")
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out" "$out.rc"
    if [ -z "$last" ]; then
        echo "== $name: no result line (exit status $rc)"
        total_f=$((total_f + 1))
        status=1
        return
    fi
    p=$(echo "$last" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$last" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$last" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "== $name: exit status $rc although no test failed"
        f=1
    fi
    total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + ${s:-0}))
    [ "$f" -eq 0 ] || status=1
}

build() { # mode
    if ! make -s -j"$JOBS" MODE="$1" all >/dev/null; then
        echo "== build ($1) failed"
        make -j"$JOBS" MODE="$1" all 2>&1 | tail -n 30
        total_f=$((total_f + 1))
        status=1
        return 1
    fi
}

build release && run_suite release ./build/looplynx-tests
if [ "${LLX_SKIP_SANITIZERS:-0}" != 1 ]; then
    build asan && LLX_BIN=build/asan/looplynx ASAN_OPTIONS=detect_leaks=1 \
        run_suite asan+ubsan ./build/asan/looplynx-tests --tag asan
    build tsan && LLX_BIN=build/tsan/looplynx TSAN_OPTIONS=halt_on_error=1 \
        run_suite tsan ./build/tsan/looplynx-tests --tag tsan
fi
echo "$total_p passed, $total_f failed, $total_s skipped"
exit $status

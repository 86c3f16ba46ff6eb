#!/bin/sh
# Run every test: the cmocka unit binaries, then the end-to-end tests.
# Ends with one line "N passed, M failed"; exits non-zero on any failure.
# E2E=0 skips the end-to-end tests; UNIT=0 skips the unit tests.
BUILD=${BUILD:-build}
pass=0
fail=0
failed_names=""

# Sanitizer builds (make SANITIZER=...): every process writes its reports to
# $BUILD/sanitizer/<tool>.<pid> instead of stderr, and any such file fails the
# run (the e2e runner also fails the test during which one appeared). Errors
# stop the process; leaks are checked at exit. Suppressions (third-party code
# only, each with its reason) are in tests/sanitizer/. Options already in the
# environment come last and win.
SAN_DIR=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)/sanitizer
SUPP=$(cd "$(dirname "$0")" && pwd)/sanitizer
rm -rf "$SAN_DIR" && mkdir -p "$SAN_DIR"
export SALESFLOW_SANITIZER_DIR="$SAN_DIR"
export ASAN_OPTIONS="log_path=$SAN_DIR/asan:halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$SAN_DIR/ubsan:print_stacktrace=1:halt_on_error=1:abort_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export TSAN_OPTIONS="log_path=$SAN_DIR/tsan:suppressions=$SUPP/tsan.supp:second_deadlock_stack=1:print_suppressions=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

# Print and count the reports that appeared since the last call.
san_seen=""
new_reports() {
    n=0
    for r in "$SAN_DIR"/*; do
        [ -f "$r" ] || continue
        case " $san_seen " in *" $r "*) continue ;; esac
        san_seen="$san_seen $r"
        echo "sanitizer report $r:"
        head -n 60 "$r"
        n=$((n + 1))
    done
    return $((n > 0))
}

if [ "${UNIT:-1}" != 0 ]; then
    # The structure of src/ (tools/archcheck.py): no include cycles, no
    # function over 100 lines, each layer registering its own routes.
    if python3 "$(dirname "$0")/../tools/archcheck.py" >"$BUILD/archcheck.txt" 2>&1; then
        echo "archcheck: ok 1 - structure of src/"
        pass=$((pass + 1))
    else
        cat "$BUILD/archcheck.txt"
        echo "archcheck: not ok 1 - structure of src/"
        fail=$((fail + 1))
        failed_names="$failed_names archcheck"
    fi
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1)
        rc=$?
        echo "$out" | grep -E '^(not )?ok ' | sed "s|^|$(basename "$t"): |"
        p=$(echo "$out" | grep -cE '^ok ')
        f=$(echo "$out" | grep -cE '^not ok ')
        if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
            echo "$out" | tail -n 20
            f=1   # crashed or failed outside a test case
        fi
        new_reports || { [ "$f" != 0 ] || f=1; }
        pass=$((pass + p))
        fail=$((fail + f))
        [ "$f" = 0 ] || failed_names="$failed_names $(basename "$t")"
    done
fi

if [ "${E2E:-1}" != 0 ]; then
    res=$(mktemp)
    SALESFLOW_BIN="$BUILD/salesflow" python3 tests/e2e/run.py --result "$res" $E2E_ARGS
    if [ -s "$res" ]; then
        read -r p f < "$res"
    else
        p=0 f=1
        echo "e2e: the runner itself failed"
    fi
    rm -f "$res"
    pass=$((pass + p))
    fail=$((fail + f))
    [ "$f" = 0 ] || failed_names="$failed_names e2e"
fi

# The e2e runner already showed and counted the reports of its own tests'
# processes; anything left (e.g. written after the runner ended) fails here.
new_reports || { fail=$((fail + 1)); failed_names="$failed_names sanitizer"; }

[ -z "$failed_names" ] || echo "failures in:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]

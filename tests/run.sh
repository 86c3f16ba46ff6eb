#!/bin/sh
# Run every test: the cmocka unit binaries, then the end-to-end tests.
# Ends with one line "N passed, M failed"; exits non-zero on any failure.
# E2E=0 skips the end-to-end tests; UNIT=0 skips the unit tests.
BUILD=${BUILD:-build}
pass=0
fail=0
failed_names=""

if [ "${UNIT:-1}" != 0 ]; then
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

[ -z "$failed_names" ] || echo "failures in:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]

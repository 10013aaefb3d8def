#!/bin/bash
# Run every unit-test program in DIR (optionally through RUNNER, e.g.
# qemu-aarch64-static) and print one "N passed, N failed" line for all of them.
set -u
dir=$1 runner=${2:-}
pass=0 fail=0 progs=0 bad=0
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	progs=$((progs + 1))
	out=$($runner "$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v '^FAIL' | tail -n 1
	printf '%s\n' "$out" | grep '^FAIL' || true
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	[ -n "$line" ] || { p=0 f=1; echo "$t: crashed or printed no summary (rc=$rc)"; printf '%s\n' "$out" | tail -n 20; }
	[ "$rc" -eq 0 ] || { [ "$f" -gt 0 ] || f=1; bad=$((bad + 1)); }
	pass=$((pass + p)) fail=$((fail + f))
done
[ "$progs" -gt 0 ] || { echo "no unit tests found in $dir"; exit 1; }
echo "unit ($dir${runner:+ via $runner}): $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$bad" -eq 0 ]

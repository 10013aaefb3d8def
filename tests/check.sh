#!/bin/bash
# `make check`: every suite in turn, then one closing "N passed, N failed"
# line totalling them. Exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
suites=(check-format check-unit check-cli check-install check-asan check-fuzz check-arm64-unit check-e2e)
[ -n "${COHO_SUITES:-}" ] && read -r -a suites <<<"$COHO_SUITES"
jobs=-j$(nproc)
pass=0 fail=0 bad=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for s in "${suites[@]}"; do
	echo "=== $s"
	start=$SECONDS
	make --no-print-directory "$jobs" "$s" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# Suite-level summary lines (per-program lines start with "build/").
	lines=$(grep -E '^(unit|cli|e2e|format|fuzz|install)[^:]*: [0-9]+ passed, [0-9]+ failed' "$log")
	p=0 f=0
	if [ -n "$lines" ]; then
		while read -r l; do
			p=$((p + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$l")))
			f=$((f + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$l")))
		done <<<"$lines"
	else
		f=1
	fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$rc" -ne 0 ] && bad+=("$s")
	pass=$((pass + p)) fail=$((fail + f))
	echo "=== $s: rc=$rc, $((SECONDS - start)) s"
done
[ ${#bad[@]} -eq 0 ] || echo "failed suites: ${bad[*]}"
echo "all: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ ${#bad[@]} -eq 0 ]

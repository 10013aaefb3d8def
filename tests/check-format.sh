#!/bin/bash
# Every C file must already be formatted as .clang-format (Linux kernel style) says.
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0 fail=0
for f in $(git ls-files '*.c' '*.h'); do
	if clang-format --style=file "$f" | cmp -s - "$f"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "not formatted: $f (clang-format --style=file -i $f)"
	fi
done
echo "format: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

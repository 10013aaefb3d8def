#!/bin/bash
# Build every libFuzzer target (tests/fuzz/fuzz_*.c, with ASan + UBSan) and
# run each for FUZZ_SECONDS (default 30) from a seed corpus derived from the
# test kernel. A crash, leak or sanitizer report fails the suite; crashing
# inputs are kept in tests/out/fuzz/.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/tests/out/fuzz
secs=${FUZZ_SECONDS:-30}
mkdir -p "$out"
# shellcheck source=tests/e2e/assets.sh
. "$root/tests/e2e/assets.sh" >/dev/null
set +e

# Seeds: the head of a real Image, a gzip'd one, and a zboot wrapper.
seeds=$out/seeds
rm -rf "$seeds" && mkdir -p "$seeds"
head -c 262144 "$COHO_KERNEL" >"$seeds/image"
head -c 262144 "$COHO_KERNEL" | gzip -9 >"$seeds/image.gz"
gcc -O2 -o "$out/mkzboot" "$root/tests/tools/mkzboot.c" && "$out/mkzboot" "$seeds/image.gz" "$seeds/zboot"

pass=0 fail=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$out/$name
	# Each target lists the library sources it needs on a " * sources:" line.
	srcs=$(sed -n 's/^ \* sources: //p' "$src")
	if ! (cd "$root" && clang -g -O1 -fsanitize=fuzzer,address,undefined -I. "$src" $srcs -lz -o "$bin"); then
		echo "not ok - $name: does not build"
		fail=$((fail + 1))
		continue
	fi
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	if (cd "$out" && "$bin" -close_fd_mask=2 -max_total_time="$secs" -max_len=400000 \
		-artifact_prefix="$out/$name-" "$corpus" "$seeds" >"$out/$name.log" 2>&1); then
		echo "ok - $name: $(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1) in ${secs}s, no crash"
		pass=$((pass + 1))
	else
		echo "not ok - $name: see $out/$name.log"
		tail -n 30 "$out/$name.log"
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

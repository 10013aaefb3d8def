#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine (as root): install what
# the tests need, then `make check` (native + ASan/UBSan unit tests, aarch64
# unit tests under qemu-aarch64-static, nested arm64 end-to-end boots).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make check

#!/usr/bin/env bash
# Heap allocations per render, counted by valgrind (memcheck's "total heap usage"): the difference
# between runs of 10,000 and 20,000 renders, so start-up allocations cancel out.
# valgrind cannot read the DWARF of Swift 6.3 release builds, so it runs a copy without debug info.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product pushd-bench >/dev/null
binary=$(mktemp)
trap 'rm -f "$binary"' EXIT
cp .build/release/pushd-bench "$binary"
chmod +x "$binary"
strip --strip-debug "$binary"
allocs() {
  valgrind "$binary" render --templates Templates --only "$1" --no-reference --rounds 1 -n "$2" 2>&1 |
    sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
}
printf '| row | allocations per render |\n|---|---|\n'
for row in apns huawei compose; do
  a=$(allocs "$row" 10000)
  b=$(allocs "$row" 20000)
  printf '| %s | %s |\n' "$row" "$(echo "scale=1; ($b - $a) / 10000" | bc)"
done

#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS: a bounded libFuzzer session on
# a fresh copy of the seed corpus. Fails on any crash, leak or sanitizer report.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
# Seeds: messages (*.sip) or programs (*.seed).
find "$seeds" -maxdepth 1 -type f \( -name '*.sip' -o -name '*.seed' \) -exec cp {} "$work/corpus/" \;
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" 2>"$work/log" || {
  tail -n 60 "$work/log"
  exit 1
}
grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true

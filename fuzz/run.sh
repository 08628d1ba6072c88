#!/usr/bin/env bash
# Round-robin fuzzing of every parser on one core (`import` = export -> classify -> signal file,
# which must load with the project's signal parser): ROUNDS rounds of CHUNK inputs per target (the
# scenario target, ~100x slower, gets CHUNK/100), each round with its own seed. Summaries go to
# stdout; a panicking input is saved under fuzz/crashes/.
#   bash fuzz/run.sh [ROUNDS] [CHUNK]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-10}
CHUNK=${2:-1000000}
cargo build --profile fuzz -p ringfence-fuzz
CH="${CARGO_TARGET_DIR:-target}/fuzz/ringfence-fuzz"
# signals and scenario need the data and sim crates: dev profile, workspace crates optimised
OPT=()
for p in ringfence-data ringfence-fuzz ringfence-model ringfence-sim csv csv-core toml toml_parser; do
  OPT+=(--config "profile.dev.package.\"$p\".opt-level=3")
done
cargo build --workspace --features ringfence-fuzz/full "${OPT[@]}"
FULL="${CARGO_TARGET_DIR:-target}/debug/ringfence-fuzz"
for round in $(seq 1 "$ROUNDS"); do
  for t in grammar json html; do "$CH" "$t" "$CHUNK" "$round"; done
  "$FULL" signals "$CHUNK" "$round"
  "$FULL" import "$CHUNK" "$round"
  "$FULL" scenario $((CHUNK / 100)) "$round"
done

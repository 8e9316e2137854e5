#!/usr/bin/env bash
# The cwfy benchmark, in one command:   benches/run.sh [SIZE] [YEARS]
#   SIZE  requests in the synthetic city: 10k (default), 100k, 1M, 10M…
#   YEARS years of history they span (default 10)
# Environment: SEED (default 1); BENCH_DIR work folder (default target/bench).
# Builds cwfy and the generator (release), installs DuckDB from PyPI into a venv once, then runs
# benches/bench.py, which prints a table and writes BENCH_DIR/SIZE-YEARSy/results.json.
# Not a timed test: CI runs it at 10k only to prove it works.
set -euo pipefail
cd "$(dirname "$0")/.."

size="${1:-10k}"
years="${2:-10}"
seed="${SEED:-1}"
bench_dir="${BENCH_DIR:-target/bench}"
mkdir -p "$bench_dir"

cargo build --release --quiet --bin cwfy --example synth

venv="$bench_dir/venv"
if ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --requirement benches/requirements.txt
fi

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec python3 benches/bench.py \
    --size "$size" --years "$years" --seed "$seed" \
    --work "$bench_dir/$size-${years}y" \
    --cwfy "$target_dir/release/cwfy" \
    --synth "$target_dir/release/examples/synth" \
    --python "$venv/bin/python"

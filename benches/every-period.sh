#!/usr/bin/env bash
# The whole-history build at city scale (issue 21): one synthetic city of SIZE requests over
# YEARS years, imported into a fresh store and built with every period's pages, then where the
# room goes (benches/site-by-kind.py), `cp -r` of the site, a build with nothing new, and the
# rebuild after one more day. A shorter companion of benches/run.sh (no DuckDB, one build of
# each kind); its figures are what the README's "Every period" paragraph quotes.
#
#   benches/every-period.sh [SIZE] [YEARS] [WORK]     # defaults: 10M 10 target/bench/every-period
#
# Needs up to 3 × the site's size on disk (the site is 5.6 GB at 10M today): the site, its
# copy and the spare a rebuild recycles. Timings are wall seconds from /usr/bin/time, with user and system
# CPU seconds and the peak resident set size in KB.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-10M}
YEARS=${2:-10}
WORK=${3:-target/bench/every-period}
cargo build --release --quiet --bin cwfy --example synth
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
python3 -c "import sys; sys.path.insert(0, 'benches'); import bench; bench.make_project('$WORK')"
CONFIG="$WORK/project/config.yaml"
SITE="$WORK/project/site"
SYNTH=(target/release/examples/synth --requests "$SIZE" --years "$YEARS" --seed 1 --format csv)
timed() { /usr/bin/time -f "$1: %e s wall, %U s user, %S s system, peak %M KB" "${@:2}"; }
"${SYNTH[@]}" --out "$WORK/city.csv"
"${SYNTH[@]}" --next-days 1 --out "$WORK/next-day.csv"
timed "import" target/release/cwfy --config "$CONFIG" --quiet import "$WORK/city.csv"
rm -f "$WORK/city.csv"
sync
timed "full build" target/release/cwfy --config "$CONFIG" build 2>&1 | grep -E "built|stage times|full build"
python3 benches/site-by-kind.py "$SITE"
echo "pages over 100 KB (100,000 bytes): $(find "$SITE" -name '*.html' -size +100000c | wc -l); the largest:"
find "$SITE" -name '*.html' -printf '%s %P\n' | sort -n | tail -3
sync
start=$(date +%s.%N)
cp -r "$SITE" "$WORK/copy"
sync
echo "cp -r: $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s wall"
timed "build with nothing new (first over the site)" target/release/cwfy --config "$CONFIG" build 2>&1 |
    grep -E "built|stage times|nothing new"
target/release/cwfy --config "$CONFIG" --quiet import "$WORK/next-day.csv"
timed "rebuild after one more day" target/release/cwfy --config "$CONFIG" build 2>&1 |
    grep -E "built|stage times|one more day"

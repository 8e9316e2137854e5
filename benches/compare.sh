#!/usr/bin/env bash
# Times an earlier revision against the working tree on one synthetic city, the two binaries
# taking turns, so that a refactoring can show it made nothing slower. For each binary, ROUNDS
# times: `cwfy import` of the city into an empty store, the full `cwfy build`, and a second
# build with nothing new; prints each run and the medians, and the working tree's medians as a
# ratio of REV's. (The full benchmark with its targets is benches/run.sh.)
#
#   benches/compare.sh REV [SIZE] [ROUNDS]      e.g. benches/compare.sh 2b16313 100k 3
#
# Release builds share target/compare (the first run builds the dependencies). Sites are not
# deleted between runs (ext4 reuses a freed inode slowly; see README, Benchmarks): the work
# folder is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: benches/compare.sh REV [SIZE] [ROUNDS]}"
size="${2:-100k}"
rounds="${3:-3}"
repo="$PWD"
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/compare}"

echo "== release builds of $rev and of the working tree"
git worktree add --quiet --detach "$work/base" "$rev"
(cd "$work/base" && cargo build --release --quiet --bin cwfy --example synth)
cp "$CARGO_TARGET_DIR/release/cwfy" "$work/cwfy-base"
cp "$CARGO_TARGET_DIR/release/examples/synth" "$work/synth"
cargo build --release --quiet --bin cwfy
cp "$CARGO_TARGET_DIR/release/cwfy" "$work/cwfy-new"

echo "== the city: $size requests over 10 years (seed 1)"
"$work/synth" --requests "$size" --years 10 --seed 1 --format csv --out "$work/city.csv"

python3 - "$work" "$rev" "$rounds" <<'EOF'
import os, shutil, statistics, subprocess, sys, time
work, rev, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
trees = {"base": os.path.join(work, "base"), "new": os.getcwd()}
def project(label, i):
    """A folder with the revision's templates, content and data, and a config without the sample."""
    d = os.path.join(work, f"{label}-{i}")
    for sub in ["templates", "static", "content", "data/boundaries", "data/wards"]:
        shutil.copytree(os.path.join(trees[label], sub), os.path.join(d, sub))
    config = open(os.path.join(trees[label], "config.yaml")).read()
    start = config.index("\nsample:\n")
    end = config.index("\n\n", start + 1)
    open(os.path.join(d, "config.yaml"), "w").write(config[:start] + "\nsample: []" + config[end:])
    return d
def timed(binary, d, *args):
    subprocess.run(["sync"])
    t = time.perf_counter()
    subprocess.run([binary, "--quiet", *args], cwd=d, check=True)
    return time.perf_counter() - t
runs = {"base": [], "new": []}
for i in range(rounds):
    for label in ["base", "new"]:
        d = project(label, i)
        binary = os.path.join(work, f"cwfy-{label}")
        r = {
            "import": timed(binary, d, "import", os.path.join(work, "city.csv")),
            "build": timed(binary, d, "build"),
            "rebuild": timed(binary, d, "build"),
        }
        runs[label].append(r)
        print(f"round {i + 1} {label:4}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.items()), flush=True)
print()
print(f"{'step':8} {rev + ' (median)':>18} {'working tree':>14} {'ratio':>7}")
for step in ["import", "build", "rebuild"]:
    b = statistics.median(r[step] for r in runs["base"])
    n = statistics.median(r[step] for r in runs["new"])
    print(f"{step:8} {b:>16.2f} s {n:>12.2f} s {n / b:>7.3f}")
EOF

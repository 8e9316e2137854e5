#!/usr/bin/env bash
# Builds the bundled sample with an earlier revision and with the working tree, from one store,
# and compares the two sites file by file: the proof that a refactoring changed nothing a user
# sees. `manifest.json` is compared without its unit keys, which hold the binary's fingerprint by
# design (a new binary remakes every unit). Exits 0 when the sites are the same.
#
#   benches/same-site.sh REV        e.g. benches/same-site.sh HEAD~3
#
# Needs nothing beyond cargo and python3; uses debug builds (dependencies are optimised).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: benches/same-site.sh REV}"
repo="$PWD"
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== building $rev and the working tree"
git worktree add --quiet --detach "$work/base" "$rev"
# One target folder for both: the dependencies are built once.
(cd "$work/base" && CARGO_TARGET_DIR="$repo/target" cargo build --quiet)
cp "$repo/target/debug/cwfy" "$work/cwfy-base"
cargo build --quiet
cp "$repo/target/debug/cwfy" "$work/cwfy-new"

echo "== the sample site with $rev"
(cd "$work/base" && rm -rf site data/store.sqlite* && "$work/cwfy-base" --quiet build)

echo "== the sample site with the working tree, from the same store"
mkdir -p "$work/new"
git ls-files -z | xargs -0 -I{} cp --parents {} "$work/new/" 2>/dev/null || true
cp "$work/base/data/store.sqlite" "$work/new/data/store.sqlite"
(cd "$work/new" && "$work/cwfy-new" --quiet build)

echo "== diff -r (manifest.json aside)"
diff -r -x manifest.json "$work/base/site" "$work/new/site"
python3 - "$work/base/site/manifest.json" "$work/new/site/manifest.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["files"] == b["files"], "manifest.json lists other files, sizes or hashes"
assert {u: v["files"] for u, v in a["units"].items()} == {u: v["files"] for u, v in b["units"].items()}, "units differ"
print(f"manifest.json: the same {len(a['files'])} files and {len(a['units'])} units")
EOF
echo "same site: $(find "$work/new/site" -type f | wc -l) files identical"

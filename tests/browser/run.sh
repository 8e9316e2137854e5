#!/usr/bin/env bash
# The quality gates of a built site, with real tools (README "Quality checks"):
#   1. build the bundled sample into a temporary folder;
#   2. cwfy check: links, fragments, page budget, charts, XML and JSON files;
#   3. the Nu HTML Checker (vnu) on every page;
#   4. in headless Debian chromium: axe-core (WCAG 2.1 A/AA), no-JavaScript, 360 px and 1280 px;
#   5. Lighthouse on the home, ward week and service week pages: every category >= 95.
# Every step runs; the script fails at the end if any did.
#
# Needs: chromium (apt-get install -y chromium), Java 17+ (default-jre-headless), Node 20+ and
# `npm ci --ignore-scripts` in tests/browser.
# Environment: CWFY_BIN (the cwfy binary; default target/debug/cwfy, built if missing),
# CWFY_SCREENSHOTS=1 (save the README's docs/screenshot-phone-ward.png and screenshot-desktop-day.png),
# CWFY_KEEP=1 (keep the temporary folder with the built site).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bin="${CWFY_BIN:-$root/target/debug/cwfy}"
if [[ ! -x "$bin" ]]; then
  echo "== building cwfy ($bin is missing)"
  (cd "$root" && cargo build --bin cwfy)
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  echo "tests/browser/node_modules is missing: run (cd tests/browser && npm ci --ignore-scripts)" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/cwfy-browser.XXXXXX")"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi
  if [[ "${CWFY_KEEP:-}" != "1" ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

failed=()
step() {
  local name="$1"
  shift
  echo
  echo "== $name"
  local started=$SECONDS
  if "$@"; then
    echo "-- $name: passed ($((SECONDS - started))s)"
  else
    echo "-- $name: FAILED ($((SECONDS - started))s)"
    failed+=("$name")
  fi
}

# A free loopback port, so the site can be built for the address it is served at (canonical
# links and the like point where Lighthouse finds them).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port="$(free_port)"
base="http://127.0.0.1:$port/"

echo "== building the bundled sample into $work/site"
for part in config.yaml templates static content data; do
  cp -r "$root/$part" "$work/"
done
rm -f "$work"/data/store.sqlite*
started=$SECONDS
"$bin" --quiet --config "$work/config.yaml" build --output "$work/site" --base-url "$base"
echo "built in $((SECONDS - started))s: $(find "$work/site" -name '*.html' | wc -l) pages"

step "cwfy check" "$bin" --config "$work/config.yaml" check "$work/site"

# One figure, one value, on every ward week, service week and day page (tests/truth.rs).
truth() {
  (cd "$root" && CWFY_TRUTH_SITE="$work/site" cargo test -q --test truth -- --ignored --nocapture)
}
step "every figure agrees with its JSON (tests/truth.rs)" truth

# validate SITE: the Nu HTML Checker on every page of SITE.
validate() {
  local out="$work/vnu.txt"
  # --errors-only: warnings are advice; errors are invalid HTML.
  if java -Xss16m -jar "$here/node_modules/vnu-jar/build/dist/vnu.jar" --errors-only --skip-non-html \
    "$1" >"$out" 2>&1; then
    echo "every page is valid HTML"
  else
    echo "$(wc -l <"$out") errors, by message (most frequent first), then the first 20 in full:"
    sed -E 's/^"[^"]*":[0-9.-]+: //' "$out" | sort | uniq -c | sort -rn | head -n 30
    head -n 20 "$out"
    return 1
  fi
}
step "Nu HTML Checker (vnu), every page" validate "$work/site"

# serve SITE PORT LOG: serves SITE on PORT in the background (its pid in $server) and waits until
# it answers.
serve() {
  "$bin" --quiet serve "$1" --no-watch --port "$2" >"$3" 2>&1 &
  server=$!
  for _ in $(seq 50); do
    if grep -q "serving" "$3" 2>/dev/null; then break; fi
    sleep 0.1
  done
  cat "$3"
}
serve "$work/site" "$port" "$work/serve.log"

step "chromium: axe-core, no JavaScript, 360 px and 1280 px" node "$here/browser.mjs" "$work/site" "$base"
step "Lighthouse" node "$here/lighthouse.mjs" "$work/site" "$base" 95

kill "$server" 2>/dev/null || true

# The second city: Boston (cities/boston/), one page of each kind in the browser, every page in
# cwfy check and vnu.
echo "== building Boston into $work/boston"
mkdir -p "$work/cities"
cp -r "$root/cities/boston" "$work/cities/"
rm -rf "$work/cities/boston/site" "$work"/cities/boston/data/store.sqlite*
bport="$(free_port)"
bbase="http://127.0.0.1:$bport/"
"$bin" --quiet --config "$work/cities/boston/config.yaml" build --output "$work/boston" --base-url "$bbase"
step "cwfy check (Boston)" "$bin" --config "$work/cities/boston/config.yaml" check "$work/boston"
step "Nu HTML Checker (vnu), every Boston page" validate "$work/boston"
serve "$work/boston" "$bport" "$work/serve-boston.log"
step "chromium (Boston): axe-core, no JavaScript, 360 px and 1280 px" node "$here/browser.mjs" "$work/boston" "$bbase"
step "Lighthouse (Boston)" node "$here/lighthouse.mjs" "$work/boston" "$bbase" 95
kill "$server" 2>/dev/null || true

echo
if ((${#failed[@]} > 0)); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all quality checks passed"

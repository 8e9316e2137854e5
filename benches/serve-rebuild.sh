#!/usr/bin/env bash
# How fast `cwfy serve` shows an edit: builds the bundled sample in a temporary copy of the
# project, starts `cwfy serve` on it, then edits the About page, a ward note and a template, and
# prints what each rebuild wrote and how long it took (from the serve log's "rebuilt in" lines),
# beside the first full build. Not a test: figures for the README and closing notes.
#
#   benches/serve-rebuild.sh            # with target/release/cwfy (built if missing)
#   CWFY_BIN=target/debug/cwfy benches/serve-rebuild.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CWFY_BIN:-$root/target/release/cwfy}"
if [[ ! -x "$bin" ]]; then
  (cd "$root" && cargo build --release --bin cwfy)
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/cwfy-serve.XXXXXX")"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
for part in config.yaml templates static content data; do
  cp -r "$root/$part" "$work/"
done
rm -f "$work"/data/store.sqlite*
# The sample is imported by a build of its own, and its site deleted, so the first serve build
# renders the whole site into an empty folder.
"$bin" --quiet --config "$work/config.yaml" build >/dev/null
rm -rf "$work/site" "$work/site.spare"

# Seconds since $1 (an $EPOCHREALTIME).
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

log="$work/serve.log"
started=$EPOCHREALTIME
"$bin" --config "$work/config.yaml" serve --port 0 >"$work/serve.out" 2>"$log" &
server=$!

# Waits for the n-th "rebuilt in" (or failed) line of the log; prints it.
wait_for_rebuild() {
  local n="$1"
  while (($(grep -c -E "rebuilt in|the rebuild failed" "$log" || true) < n)); do
    if ! kill -0 "$server" 2>/dev/null; then
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  grep -E "rebuilt in|the rebuild failed" "$log" | sed -n "${n}p" | sed -E 's/^.*(rebuilt|the rebuild)/\1/'
}

first="$(wait_for_rebuild 1)"
echo "first build (sample, empty site folder): $first; $(since "$started") s to serving"
files=$(find "$work/site" -type f | wc -l)
echo "site: $files files"

edit() {
  local what="$1" file="$2" n="$3"
  local t0
  t0=$EPOCHREALTIME
  printf '\n\nEdited by benches/serve-rebuild.sh at %s.\n' "$t0" >>"$work/$file"
  local line
  line="$(wait_for_rebuild "$n")"
  printf '%-28s %s; %s s from save to rebuilt (polling included)\n' "$what:" "$line" "$(since "$t0")"
}
edit "About page edited" content/about/index.md 2
edit "About page edited again" content/about/index.md 3
edit "service note edited" content/service/potholes.md 4
printf '\n' >>"$work/templates/page.html"
t0=$EPOCHREALTIME
line="$(wait_for_rebuild 5)"
printf '%-28s %s; %s s from save to rebuilt (polling included)\n' "template edited:" "$line" "$(since "$t0")"

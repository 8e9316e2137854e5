#!/usr/bin/env bash
# Builds the seed corpora from the repository's real data.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fuzz/corpus/front_matter fuzz/corpus/open311_record fuzz/corpus/csv_row
for f in $(find content -name '*.md'); do cp "$f" "fuzz/corpus/front_matter/$(echo "$f" | tr / _)"; done
python3 - <<'PY'
import json, os
page = json.load(open("data/sample/open311-requests-2014-page.json"))
for i, rec in enumerate(page):
    open(f"fuzz/corpus/open311_record/chicago-{i:02}.json", "w").write(json.dumps(rec))
for i, rec in enumerate(json.load(open("data/sample/open311-requests-2014-open311status-fixture.json"))):
    open(f"fuzz/corpus/open311_record/status-{i}.json", "w").write(json.dumps(rec))
lines = open("data/sample/sr-v6vf-nfxy-2021-01-01.csv", encoding="utf-8").read().splitlines()[1:]
for i in range(0, 400, 20):
    open(f"fuzz/corpus/csv_row/portal-{i:03}.csv", "wb").write(b"\x00" + ("\n".join(lines[i:i + 3]) + "\n").encode())
legacy = open("data/sample/legacy/rodent-baiting.csv", encoding="utf-8").read().splitlines()[1:]
for i in range(0, 200, 20):
    open(f"fuzz/corpus/csv_row/legacy-{i:03}.csv", "wb").write(b"\x01" + ("\n".join(legacy[i:i + 3]) + "\n").encode())
PY
echo "seeded: $(ls fuzz/corpus/front_matter | wc -l) front matter, $(ls fuzz/corpus/open311_record | wc -l) open311, $(ls fuzz/corpus/csv_row | wc -l) csv"

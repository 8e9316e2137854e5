#!/usr/bin/env python3
"""Independent count of 311 requests per district, by point in polygon.

Written from scratch with the Python 3.11 standard library only (no shapely, no cwfy code), so
that its numbers can be compared with what cwfy computes. It reads a 311 CSV export (Boston's
legacy schema: case_enquiry_id, open_dt, latitude, longitude, ...) and one GeoJSON boundary file,
and prints JSON to stdout:

    {"total": N,
     "unassigned": {"no_point": a, "placeholder": b, "outside": c},
     "districts": {"1": n1, ..., "9": n9},
     "by_day": {"2011-10-01": {"1": .., ..., "9": .., "unassigned": ..}, ...}}

Rules
-----
* With ``--duplicate COLUMN TEXT``, a row whose COLUMN contains TEXT (without case) is a duplicate
  and not counted at all (cwfy stores duplicates and counts none of them).
* A row is counted when its case_enquiry_id is not empty and its open_dt parses as an ISO 8601
  date or date-time starting ``YYYY-MM-DD`` (the export's form is ``YYYY-MM-DD HH:MM:SS``). Every other row is skipped
  (the number skipped is reported on stderr).
* Its day is the first 10 characters of open_dt (the naive local date, no time-zone conversion).
* Its point is (latitude, longitude). Empty, unparseable, non-finite or 0 in either coordinate
  -> ``no_point``.
* A point within 1e-4 degrees in both latitude and longitude of a ``--placeholder`` -> ``placeholder``.
* A point inside no feature -> ``outside``.
* Otherwise the point's district is the feature's ``--id-property`` value, as a string. A feature is
  tested by ray casting with the even-odd rule over *all* rings of the feature (outer rings and holes
  of every polygon of a MultiPolygon alike), so a point in a hole is outside and a point in any
  part of a MultiPolygon is inside. If a point falls in more than one feature (overlapping or
  shared edges) the feature that comes first in the file wins; how often that happened is reported
  on stderr.
* The same map is used for every row: the caller chooses it.

Every district id in the map appears in "districts" and in every "by_day" entry, with 0 when
nothing fell in it. Diagnostics go to stderr; stdout is only the JSON.

Usage:
    python3 tests/independent/district_counts.py CSV GEOJSON [--id-property DISTRICT]
        [--placeholder LAT,LON ...] [--duplicate closure_reason "Duplicate of Existing Case"]
        [--compare-column city_council_district]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from datetime import datetime

PLACEHOLDER_TOLERANCE = 1e-4
BANDS_PER_RING = 64


class Ring:
    """One closed ring, with its edges bucketed into horizontal bands for speed.

    A horizontal ray at y can only cross an edge whose y-range contains y, so for a point we only
    look at the edges of the band that holds its y. The crossing test itself is the classic
    half-open one: an edge (x1,y1)-(x2,y2) counts when (y1 > y) != (y2 > y) and the crossing's x
    is to the right of the point.
    """

    def __init__(self, coords):
        pts = [(float(c[0]), float(c[1])) for c in coords]
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]
        edges = [(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))] if len(pts) >= 3 else []
        xs = [p[0] for p in pts] or [0.0]
        ys = [p[1] for p in pts] or [0.0]
        self.minx, self.maxx, self.miny, self.maxy = min(xs), max(xs), min(ys), max(ys)
        height = self.maxy - self.miny
        self.nbands = BANDS_PER_RING if height > 0 else 1
        self.band_h = height / self.nbands if height > 0 else 1.0
        self.bands = [[] for _ in range(self.nbands)]
        for (x1, y1), (x2, y2) in edges:
            if y1 == y2:
                continue  # a horizontal edge never satisfies (y1 > y) != (y2 > y)
            lo, hi = self._band(min(y1, y2)), self._band(max(y1, y2))
            for b in range(lo, hi + 1):
                self.bands[b].append((x1, y1, x2, y2))

    def _band(self, y):
        b = int((y - self.miny) / self.band_h)
        return min(max(b, 0), self.nbands - 1)

    def crossings(self, x, y):
        """Number of edges a ray from (x, y) towards +x crosses (only its parity matters)."""
        if y < self.miny or y > self.maxy or x > self.maxx:
            return 0
        n = 0
        for x1, y1, x2, y2 in self.bands[self._band(y)]:
            if (y1 > y) != (y2 > y):
                xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                if x < xc:
                    n += 1
        return n


class Feature:
    def __init__(self, fid, geometry):
        self.id = fid
        gtype = geometry.get("type")
        coords = geometry.get("coordinates") or []
        if gtype == "Polygon":
            polygons = [coords]
        elif gtype == "MultiPolygon":
            polygons = coords
        else:
            raise SystemExit(f"feature {fid}: unsupported geometry type {gtype!r}")
        self.rings = [Ring(ring) for polygon in polygons for ring in polygon]
        self.minx = min(r.minx for r in self.rings)
        self.maxx = max(r.maxx for r in self.rings)
        self.miny = min(r.miny for r in self.rings)
        self.maxy = max(r.maxy for r in self.rings)

    def contains(self, x, y):
        if x < self.minx or x > self.maxx or y < self.miny or y > self.maxy:
            return False
        return sum(r.crossings(x, y) for r in self.rings) % 2 == 1


def load_features(path, id_property):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("type") == "FeatureCollection":
        raw = doc.get("features", [])
    elif doc.get("type") == "Feature":
        raw = [doc]
    else:
        raise SystemExit(f"{path}: not a GeoJSON Feature or FeatureCollection")
    features = []
    for i, feat in enumerate(raw):
        props = feat.get("properties") or {}
        if id_property not in props or props[id_property] is None:
            raise SystemExit(f"{path}: feature {i} has no property {id_property!r}")
        value = props[id_property]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        features.append(Feature(str(value), feat.get("geometry") or {}))
    return features


def parse_float(text):
    try:
        v = float(text.strip())
    except (AttributeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return v


def parse_open_dt(text):
    """The naive local date (first 10 characters) of a parseable open_dt, else None."""
    text = (text or "").strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text[:10]


def parse_placeholder(text):
    try:
        lat, lon = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAT,LON, got {text!r}")
    return lat, lon


def classify(row, features, placeholders, stats):
    """'no_point', 'placeholder', 'outside' or a district id (string)."""
    lat = parse_float(row.get("latitude"))
    lon = parse_float(row.get("longitude"))
    if lat is None or lon is None or lat == 0 or lon == 0:
        return "no_point"
    for plat, plon in placeholders:
        if abs(lat - plat) <= PLACEHOLDER_TOLERANCE and abs(lon - plon) <= PLACEHOLDER_TOLERANCE:
            return "placeholder"
    hits = [f.id for f in features if f.contains(lon, lat)]
    if not hits:
        return "outside"
    if len(hits) > 1:
        stats["multi_hit"] += 1
    return hits[0]


def count(csv_path, features, placeholders, compare_column=None, duplicate=None):
    ids = []
    for f in features:
        if f.id not in ids:
            ids.append(f.id)
    try:
        ids.sort(key=int)
    except ValueError:
        ids.sort()
    result = {
        "total": 0,
        "unassigned": {"no_point": 0, "placeholder": 0, "outside": 0},
        "districts": {i: 0 for i in ids},
        "by_day": {},
    }
    stats = {"skipped_no_id": 0, "skipped_bad_open_dt": 0, "multi_hit": 0, "skipped_duplicate": 0}
    compare = {"compared": 0, "agree": 0, "column_blank_or_invalid": 0}
    rows_out = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not (row.get("case_enquiry_id") or "").strip():
                stats["skipped_no_id"] += 1
                continue
            day = parse_open_dt(row.get("open_dt"))
            if day is None:
                stats["skipped_bad_open_dt"] += 1
                continue
            if duplicate and duplicate[1] in (row.get(duplicate[0]) or "").lower():
                stats["skipped_duplicate"] += 1
                continue
            where = classify(row, features, placeholders, stats)
            result["total"] += 1
            bucket = result["by_day"].setdefault(day, dict({i: 0 for i in ids}, unassigned=0))
            if where in result["unassigned"]:
                result["unassigned"][where] += 1
                bucket["unassigned"] += 1
            else:
                result["districts"][where] += 1
                bucket[where] += 1
            rows_out.append((row, day, where))
            if compare_column and where in result["districts"]:
                own = (row.get(compare_column) or "").strip()
                if own not in result["districts"]:
                    compare["column_blank_or_invalid"] += 1
                else:
                    compare["compared"] += 1
                    compare["agree"] += own == where
    result["by_day"] = dict(sorted(result["by_day"].items()))
    return result, stats, compare, rows_out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("geojson")
    ap.add_argument("--id-property", default="DISTRICT")
    ap.add_argument("--placeholder", type=parse_placeholder, nargs="+", action="extend", default=[],
                    metavar="LAT,LON")
    ap.add_argument("--duplicate", nargs=2, metavar=("COLUMN", "TEXT"),
                    help="leave out (as duplicates) rows whose COLUMN contains TEXT, compared "
                         "without case")
    ap.add_argument("--compare-column", metavar="COLUMN",
                    help="also report (on stderr) how often the CSV's own district column agrees "
                         "with the point-in-polygon district, over rows assigned a district")
    args = ap.parse_args(argv)

    features = load_features(args.geojson, args.id_property)
    duplicate = (args.duplicate[0], args.duplicate[1].lower()) if args.duplicate else None
    result, stats, compare, _ = count(args.csv, features, args.placeholder, args.compare_column,
                                      duplicate)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")

    print(f"skipped rows: no id {stats['skipped_no_id']}, bad open_dt {stats['skipped_bad_open_dt']}, "
          f"duplicates {stats['skipped_duplicate']}; "
          f"points in more than one feature: {stats['multi_hit']}", file=sys.stderr)
    if args.compare_column:
        c = compare
        rate = c["agree"] / c["compared"] if c["compared"] else float("nan")
        print(f"{args.compare_column}: agrees on {c['agree']} of {c['compared']} assigned rows "
              f"({rate:.2%}); blank or not a map district on {c['column_blank_or_invalid']} more",
              file=sys.stderr)


if __name__ == "__main__":
    main()

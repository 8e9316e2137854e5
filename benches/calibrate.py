#!/usr/bin/env python3
"""Writes benches/calibration.json, the shape of Chicago's 311 data that `examples/synth.rs` copies.

Measured from the real files bundled in data/ (see data/PROVENANCE.md):
  - data/sample/sr-v6vf-nfxy-2021-01-01.csv: one whole day (2,953 requests) of the current portal
    dataset: service mix, short codes and departments, channels, hour of day, duplicate, cancel and
    still-open shares per type, close times per type, ward mix, addresses;
  - data/sample/legacy/*.csv and data/sample/sr-7as2-ds3y-potholes-2018-12-sample.csv: about
    10,500 rows of the retired per-type datasets: close times of types the single day has too few
    of, more of the ward mix and more addresses, missing wards;
  - data/sample/open311-requests-2014-page.json: the share of requests with a photo;
  - data/services/services-2023-chicagorequests.json: the full catalogue of request types (the
    types that did not occur on 2021-01-01 still occur, rarely) and their Open311 codes.

What one winter holiday cannot show is an assumption, written in ASSUMPTIONS below and copied into
the JSON: the weekday rhythm, the seasonal profile of each family of types, and the weight of the
types that did not occur that day.

Run from the repository root: python3 benches/calibrate.py (standard library only; deterministic).
"""

import collections
import csv
import datetime
import glob
import json
import math
import os
import statistics

V6VF = "data/sample/sr-v6vf-nfxy-2021-01-01.csv"
LEGACY = sorted(glob.glob("data/sample/legacy/*.csv")) + [
    "data/sample/sr-7as2-ds3y-potholes-2018-12-sample.csv"
]
OPEN311_PAGE = "data/sample/open311-requests-2014-page.json"
CATALOGUE = "data/services/services-2023-chicagorequests.json"
OUT = "benches/calibration.json"

# Retired type names → the current sr_type they became (as in config.yaml's featured services).
LEGACY_TO_CURRENT = {
    "Pot Hole in Street": "Pothole in Street Complaint",
    "Pothole in Street": "Pothole in Street Complaint",
    "Graffiti Removal": "Graffiti Removal Request",
    "Rodent Baiting/Rat Complaint": "Rodent Baiting/Rat Complaint",
    "Tree Debris": "Tree Debris Clean-Up Request",
    "Tree Trim": "Tree Trim Request (NO LONGER BEING ACCEPTED)",
    "Sanitation Code Violation": "Sanitation Code Violation",
    "Abandoned Vehicle Complaint": "Abandoned Vehicle Complaint",
    "Garbage Cart Black Maintenance/Replacement": "Garbage Cart Maintenance",
    "Alley Light Out": "Alley Light Out Complaint",
    "Street Lights - All/Out": "Street Light Out Complaint",
    "Street Light - 1/Out": "Street Light Out Complaint",
}

# Month factors (Jan..Dec, mean 1) of families of types, matched on lower-case name fragments.
# First match wins; anything else is flat.
SEASONS = [
    ("snow|ice and snow", [3.0, 3.0, 1.2, 0.1, 0.02, 0.02, 0.02, 0.02, 0.02, 0.1, 0.5, 2.0]),
    ("pothole|pavement", [1.3, 2.2, 2.5, 2.0, 1.3, 0.9, 0.7, 0.6, 0.5, 0.5, 0.6, 0.9]),
    (
        "weed|yard waste|mosquito|swimming|bee/wasp|no air conditioning|open fire hydrant",
        [0.2, 0.2, 0.4, 0.8, 1.5, 2.2, 2.4, 2.2, 1.4, 0.7, 0.3, 0.2],
    ),
    ("tree", [0.5, 0.5, 0.7, 1.0, 1.4, 1.8, 1.8, 1.6, 1.2, 0.9, 0.6, 0.5]),
    ("rodent|rat |animal|coyote", [0.5, 0.5, 0.7, 1.0, 1.4, 1.6, 1.7, 1.6, 1.3, 1.0, 0.7, 0.5]),
    ("furnace|no heat|boiler", [2.2, 2.0, 1.4, 0.7, 0.3, 0.2, 0.2, 0.2, 0.4, 1.0, 1.6, 2.2]),
    (
        "graffiti|noise|fly dump|street cleaning|bike",
        [0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.2, 1.2, 1.1, 1.0, 0.9, 0.8],
    ),
]

ASSUMPTIONS = {
    "weekday": "Requests per weekday, Monday..Sunday: 1.15, 1.10, 1.05, 1.05, 1.00, 0.70, 0.60 "
    "(a single day cannot show the weekly rhythm; the legacy files cover too few days).",
    "season": "Month factors per family of types (see 'season' of each service): snow Dec-Mar "
    "only, potholes peak Feb-Apr (freeze-thaw), trees, rodents, animals and weeds peak in summer, "
    "heating complaints in winter, graffiti/noise/dumping mildly in summer, everything else flat. "
    "The 2021-01-01 count of a type is divided by its January factor to get its yearly weight.",
    "unseen_types": "Types of the 2023 catalogue that did not occur on 2021-01-01 get a quarter "
    "of the weight of a type seen once that day.",
    "trend": "No growth from year to year; no public holidays.",
    "close_times": "Per type, a share closed the moment it is opened (the data's zero durations) "
    "and a log-normal over the rest, fitted to closed - created in days from the 2021 day "
    "(types with at least 8 closes), else from the legacy files (whole days, +0.5 day), else "
    "the pooled fit of all other types.",
    "open_for_good": "The share of a type still open years later in the 2021 day (e.g. water lead "
    "test kits) never closes.",
    "photos": "Only Open311 records carry media_url (the portal CSV has no such column); the "
    "share is the 2014 Open311 page's.",
}


def parse_time(text):
    return datetime.datetime.fromisoformat(text.strip()[:19])


def season_of(name):
    low = name.lower()
    for pattern, factors in SEASONS:
        if any(p in low for p in pattern.split("|")):
            mean = sum(factors) / 12
            return [round(f / mean, 4) for f in factors]
    return [1.0] * 12


def lognormal_fit(days):
    logs = [math.log(d) for d in days if d > 0]
    if len(logs) < 2:
        return None
    return {
        "mu": round(statistics.fmean(logs), 4),
        "sigma": round(max(statistics.pstdev(logs), 0.3), 4),
    }


def legacy_rows():
    rows = []
    for path in LEGACY:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
            for values in reader:
                rows.append(dict(zip(header, values)))
    return rows


def split_address(address):
    """'5629 N KEDVALE AVE' → number, direction, name, type (as the portal's columns)."""
    parts = address.split()
    if len(parts) >= 4 and parts[0].isdigit() and parts[1] in ("N", "S", "E", "W"):
        return parts[0], parts[1], " ".join(parts[2:-1]), parts[-1]
    return "", "", address, ""


PLACE_COLUMNS = [
    "street_address", "zip_code", "street_number", "street_direction", "street_name",
    "street_type", "community_area", "electricity_grid", "police_sector", "police_district",
    "police_beat", "precinct", "x_coordinate", "y_coordinate", "latitude", "longitude",
    "electrical_district",
]
PLACES_PER_WARD = 16


def compact_json(value, depth=0):
    """JSON with one line per service, ward or short list: readable in a diff, a tenth the size."""
    one_line = json.dumps(value, ensure_ascii=False)
    if depth >= 2 or len(one_line) <= 100 or not isinstance(value, (dict, list)):
        return one_line
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(str(k))}: {compact_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}" + ("\n" if depth == 0 else "")
    items = [f"{pad}{compact_json(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


def main():
    with open(V6VF, newline="", encoding="utf-8") as f:
        day = list(csv.DictReader(f))
    legacy = legacy_rows()
    with open(OPEN311_PAGE, encoding="utf-8") as f:
        page = json.load(f)
    with open(CATALOGUE, encoding="utf-8") as f:
        catalogue = json.load(f)
    open311_code = {c["service_name"]: c["service_code"] for c in catalogue}

    by_type = collections.defaultdict(list)
    for r in day:
        by_type[r["sr_type"]].append(r)

    # Types pinned to one place: the call centre's own address for information calls, O'Hare
    # for aircraft noise. A type is pinned when one ward has most of at least 30 requests.
    pinned = {}
    for name, rows in by_type.items():
        wards = collections.Counter(r["ward"] for r in rows)
        ward, n = wards.most_common(1)[0]
        if len(rows) >= 30 and ward and n / len(rows) >= 0.5:
            place = collections.Counter(
                tuple(r[c] for c in PLACE_COLUMNS) for r in rows if r["ward"] == ward
            ).most_common(1)[0][0]
            pinned[name] = {"ward": int(ward), "share": round(n / len(rows), 4), "place": list(place)}

    # Ward mix of ordinary requests: the 2021 day without pinned types, plus the legacy rows.
    ward_counts = collections.Counter()
    for r in day:
        if r["sr_type"] not in pinned and r["ward"].strip():
            ward_counts[int(r["ward"])] += 1
    for r in legacy:
        w = r.get("ward", "").strip()
        if w and w.replace(".0", "").isdigit() and 1 <= int(float(w)) <= 50:
            ward_counts[int(float(w))] += 1
    ward_weights = [ward_counts[w] + 1 for w in range(1, 51)]

    all_real = len(day) + len(legacy)
    missing = sum(1 for r in day if not r["ward"].strip()) + sum(
        1 for r in legacy if not r.get("ward", "").strip()
    )

    # Addresses per ward: the 2021 day first, then legacy rows, up to PLACES_PER_WARD each.
    places = collections.defaultdict(list)
    seen_addresses = set()
    for r in day:
        w = r["ward"].strip()
        if w and r["sr_type"] not in pinned and r["street_address"] not in seen_addresses:
            if len(places[w]) < PLACES_PER_WARD and r["latitude"]:
                seen_addresses.add(r["street_address"])
                places[w].append([r[c] for c in PLACE_COLUMNS])
    for r in legacy:
        w = r.get("ward", "").strip()
        address = r.get("street_address", "").strip()
        if not w or not address or address in seen_addresses or not r.get("latitude"):
            continue
        if len(places[w]) >= PLACES_PER_WARD:
            continue
        seen_addresses.add(address)
        number, direction, street, kind = split_address(address)
        legacy_place = {
            "street_address": address,
            "zip_code": r.get("zip_code", r.get("zip", "")),
            "street_number": number,
            "street_direction": direction,
            "street_name": street,
            "street_type": kind,
            "community_area": r.get("community_area", ""),
            "police_district": r.get("police_district", ""),
            "x_coordinate": r.get("x_coordinate", ""),
            "y_coordinate": r.get("y_coordinate", ""),
            "latitude": r.get("latitude", ""),
            "longitude": r.get("longitude", ""),
        }
        places[w].append([legacy_place.get(c, "") for c in PLACE_COLUMNS])
    for w in range(1, 51):
        assert places[str(w)], f"no address for ward {w}"

    # Close times, per type.
    def durations(rows):
        out = []
        for r in rows:
            if r["closed_date"] and r["status"] != "Open":
                out.append((parse_time(r["closed_date"]) - parse_time(r["created_date"])).total_seconds() / 86400)
        return out

    legacy_durations = collections.defaultdict(list)
    for r in legacy:
        current = LEGACY_TO_CURRENT.get(r.get("type_of_service_request", "").strip())
        if current and r.get("completion_date", "").strip():
            d = (parse_time(r["completion_date"]) - parse_time(r["creation_date"])).days
            if d >= 0:
                legacy_durations[current].append(d + 0.5)
    pooled = [
        d
        for name, rows in by_type.items()
        if name not in pinned
        for d in durations(rows)
        if d > 0
    ]
    pooled_fit = lognormal_fit(pooled)

    counted = [r for r in day if r["sr_type"] not in pinned]
    dup_share_counted = sum(r["duplicate"] == "True" for r in counted) / len(counted)

    def channel_mix(rows):
        c = collections.Counter(r["origin"] for r in rows if r["origin"])
        return [[k, v] for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]

    services = []
    names = sorted(set(by_type) | set(open311_code))
    for name in names:
        rows = by_type.get(name, [])
        season = season_of(name)
        n = len(rows)
        weight = (n if n else 0.25) / season[0]
        ds = durations(rows)
        positive = [d for d in ds if d > 0]
        if len(ds) >= 8:
            fit, fit_from = lognormal_fit(positive) or pooled_fit, "v6vf-nfxy 2021-01-01"
            instant = sum(1 for d in ds if d == 0) / len(ds)
        elif name in legacy_durations:
            fit, fit_from = lognormal_fit(legacy_durations[name]), "legacy per-type files"
            instant = 0.0
        else:
            fit, fit_from = pooled_fit, "pooled"
            instant = 0.0
        dups = sum(r["duplicate"] == "True" for r in rows)
        k = 10.0
        dup_share = 0.0 if name in pinned else (dups + k * dup_share_counted) / (n + k)
        departments = collections.Counter((r["created_department"], r["owner_department"]) for r in rows)
        created_dept, owner_dept = departments.most_common(1)[0][0] if rows else ("311 City Services", "")
        short = collections.Counter(r["sr_short_code"] for r in rows).most_common(1)[0][0] if rows else ""
        service = {
            "name": name,
            "short_code": short,
            "open311_code": open311_code.get(name, short),
            "weight": round(weight, 4),
            "season": season,
            "duplicate_share": round(dup_share, 4),
            "cancel_share": round(sum(r["status"] == "Canceled" for r in rows) / n, 4) if n else 0.0,
            "open_for_good_share": round(sum(r["status"] == "Open" for r in rows) / n, 4) if n else 0.0,
            "instant_close_share": round(instant, 4),
            "close_days_log_mu": fit["mu"],
            "close_days_log_sigma": fit["sigma"],
            "close_fit_from": fit_from,
            "created_department": created_dept,
            "owner_department": owner_dept,
        }
        if name in pinned:
            service["pinned"] = pinned[name]
            service["channels"] = channel_mix(rows)
        services.append(service)

    hours = collections.Counter(int(r["created_hour"]) for r in day)
    photo_share = sum(1 for r in page if r.get("media_url")) / len(page)

    out = {
        "about": "Generated by benches/calibrate.py from the real files in data/ (see its "
        "docstring); read by examples/synth.rs. Do not edit by hand.",
        "measured_from": [V6VF] + LEGACY + [OPEN311_PAGE, CATALOGUE],
        "assumptions": ASSUMPTIONS,
        "weekday_weights": [1.15, 1.10, 1.05, 1.05, 1.00, 0.70, 0.60],
        "hour_weights": [hours[h] for h in range(24)],
        "channels": channel_mix(counted),
        "missing_ward_share": round(missing / all_real, 5),
        "photo_share": round(photo_share, 4),
        "ward_weights": ward_weights,
        "place_columns": PLACE_COLUMNS,
        "places": {str(w): places[str(w)] for w in range(1, 51)},
        "services": services,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(compact_json(out))
    print(
        f"{OUT}: {len(services)} types ({len(by_type)} seen on 2021-01-01), pinned "
        f"{sorted(pinned)}, missing wards {out['missing_ward_share']:.3%}, photos {photo_share:.1%}, "
        f"duplicates among counted types {dup_share_counted:.1%}"
    )


if __name__ == "__main__":
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    main()

#!/usr/bin/env python3
"""Where a built site's room goes, by kind of page, and what ten years of it would take.

    python3 benches/site-by-kind.py SITE [--years 10] [--wards 50]

Prints, for each kind (day, day x service, ward week, service week, service year, ward x
service, the API's per-period files, other): its pages (index.html files), files, megabytes, and kilobytes and files
per page; then a projection of the per-period kinds to YEARS years of days and weeks at the same
sizes per page, as if every ward and every service had data in every week (services and wards as
many as the site has). Issue 21's closing note quotes it.
"""

import argparse
import collections
import os
import re

KINDS = [
    ("day x service", re.compile(r"^day/\d{4}-\d\d-\d\d/[^/]+/")),
    # A day page's folder, or the folder of its month's chart files (day/2021-03/).
    ("day", re.compile(r"^day/\d{4}-\d\d(-\d\d)?/")),
    # A week page's folder, or the folder of its year's chart files (ward/3/week/2020/).
    ("ward week", re.compile(r"^[a-z-]+/\d+/week/\d{4}(-\d\d-\d\d)?/")),
    ("service week", re.compile(r"^service/[^/]+/week/\d{4}(-\d\d-\d\d)?/")),
    ("service year", re.compile(r"^service/[^/]+/\d{4}/")),
    ("ward x service", re.compile(r"^[a-z-]+/\d+/[a-z][a-z0-9-]*/(?!week/)")),
    ("api: day", re.compile(r"^api/v1/days/")),
    ("api: ward week", re.compile(r"^api/v1/[a-z-]+/\d+/weeks/")),
    ("api: service week", re.compile(r"^api/v1/services/[^/]+/weeks/")),
    ("api: service year", re.compile(r"^api/v1/services/[^/]+/years/")),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site")
    ap.add_argument("--years", type=float, default=10)
    args = ap.parse_args()
    files, size, pages = collections.Counter(), collections.Counter(), collections.Counter()
    days, weeks, services, wards = set(), set(), set(), set()
    ward_weeks, service_weeks, service_years, yearly = set(), set(), set(), set()
    for folder, _, names in os.walk(args.site):
        for name in names:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, args.site).replace(os.sep, "/")
            kind = next((k for k, pattern in KINDS if pattern.match(rel)), "other")
            files[kind] += 1
            size[kind] += os.path.getsize(path)
            pages[kind] += name == "index.html"
            if m := re.match(r"^day/(\d{4}-\d\d-\d\d)/", rel):
                days.add(m[1])
            if m := re.match(r"^service/([^/]+)/week/(\d{4}-\d\d-\d\d)/", rel):
                services.add(m[1])
                weeks.add(m[2])
                service_weeks.add((m[1], m[2]))
            if m := re.match(r"^service/([^/]+)/(\d{4})/", rel):
                yearly.add(m[1])
                service_years.add((m[1], m[2]))
            if m := re.match(r"^[a-z-]+/(\d+)/week/(\d{4}-\d\d-\d\d)/", rel):
                wards.add(m[1])
                weeks.add(m[2])
                ward_weeks.add((m[1], m[2]))
    print(f"{'kind':20} {'pages':>8} {'files':>9} {'MB':>9} {'KB/page':>8} {'files/page':>10}")
    for kind, _ in size.most_common():
        per = pages[kind]
        each = f"{size[kind] / per / 1e3:8.1f} {files[kind] / per:10.1f}" if per else f"{'—':>8} {'—':>10}"
        print(f"{kind:20} {pages[kind]:8,} {files[kind]:9,} {size[kind] / 1e6:9.1f} {each}")
    print(f"{'total':20} {sum(pages.values()):8,} {sum(files.values()):9,} {sum(size.values()) / 1e6:9.1f}")

    # Ten years at these sizes, every period with data: a page (and its files) per day, per ward
    # and week, per featured service and week, and per other service and year. The site itself only has pages for the periods with
    # data, which in the sample leaves most services' weeks out; a city's real data has them all.
    n_days, n_weeks = round(365.25 * args.years), round(52.18 * args.years)
    items = {
        "day": len(days),
        "day x service": len(days),
        "api: day": len(days),
        "ward week": len(ward_weeks),
        "api: ward week": len(ward_weeks),
        "service week": len(service_weeks),
        "api: service week": len(service_weeks),
        "service year": len(service_years),
        "api: service year": len(service_years),
    }
    periods = {
        "day": n_days,
        "day x service": n_days,
        "api: day": n_days,
        "ward week": n_weeks * len(wards),
        "api: ward week": n_weeks * len(wards),
        "service week": n_weeks * len(services),
        "api: service week": n_weeks * len(services),
        "service year": round(args.years) * len(yearly),
        "api: service year": round(args.years) * len(yearly),
    }
    scale = {k: periods[k] / max(items[k], 1) for k in items}
    projected_files = sum(files[k] * scale.get(k, 1) for k in files)
    projected_bytes = sum(size[k] * scale.get(k, 1) for k in size)
    print(f"\n{len(days)} days, {len(weeks)} weeks, {len(wards)} districts, {len(services)} services with week pages, "
          f"{len(yearly)} with year pages")
    print(f"at these sizes, {args.years:g} years of every period ({n_days:,} days, {n_weeks:,} weeks of "
          f"every district and service): {projected_files:,.0f} files, {projected_bytes / 1e9:.2f} GB")


if __name__ == "__main__":
    main()

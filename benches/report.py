#!/usr/bin/env python3
"""How cost grows with size: a Markdown table and an SVG chart from benchmark results.

    python3 benches/report.py target/bench/100k-10y target/bench/1M-10y target/bench/10M-10y \
        --svg docs/bench-scaling.svg

Each argument is a folder `benches/run.sh SIZE YEARS` wrote (it holds results.json). Prints the
table (for the README) on standard output and writes the chart: seconds and peak memory of
import, aggregation, build and rebuild against the number of requests, on log-log axes (a line
of slope 1 is linear growth).
"""

import argparse
import json
import math
import os


def load(folder):
    with open(os.path.join(folder, "results.json")) as f:
        return json.load(f)


def records(r):
    return r["import"]["records"]


def aggregation(r):
    """cwfy's aggregation time: the median of the run's builds (older results: the full build's)."""
    return r.get("aggregate", {}).get("median_s") or r["build"]["stages"].get("aggregate")


def mb(n):
    return f"{n / 1e6:,.0f} MB"


def table(results):
    rows = [
        "| requests | import (records/s) | aggregation (median of 4 builds) | DuckDB query, median of 3 (load) | build (CPU time) | files | `cp -r` floor | build / cp | first build over the site | rebuild (nothing new) | rebuild / build | build peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        agg = aggregation(r) or float("nan")
        d = r["duckdb"]
        rows.append(
            "| {n:,} | {imp:.1f} s ({rate:,.0f}/s) | {agg:.2f} s | {q:.2f} s ({l:.2f} s) | {b:.1f} s{bcpu} | {files:,} ({size}) | {cp:.1f} s | {bcp:.3f}× | {fb} | {rb:.1f} s{rbu} | {rbb:.0%} | {rss} |".format(
                n=records(r),
                imp=r["import"]["seconds"],
                rate=r["import"]["records_per_s"],
                agg=agg,
                q=d["query_s"],
                l=d["load_s"],
                b=r["build"]["seconds"],
                bcpu=f" ({r['build']['cpu_s']:.0f} CPU s)" if "cpu_s" in r["build"] else "",
                files=r["build"]["files"],
                size=mb(r["build"]["bytes"]),
                cp=r["cp_floor"]["seconds"],
                bcp=r["build"]["seconds"] / r["cp_floor"]["seconds"],
                fb=f"{r['rebuild_first']['seconds']:.1f} s" if "rebuild_first" in r else "n/a",
                rb=r["rebuild"]["seconds"],
                rbu=f" ({r['rebuild_unchanged']['seconds']:.1f} s)" if "rebuild_unchanged" in r else "",
                rbb=r["rebuild"]["seconds"] / r["build"]["seconds"],
                rss=mb(r["build"]["max_rss"]),
            )
        )
    return "\n".join(rows)


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(x0, title, unit, series, xs, width=420, height=300):
    """One log-log panel; series is [(label, colour, dash, [values])]."""
    left, right, top, bottom = 64, 16, 36, 44
    values = [v for _, _, _, vs in series for v in vs if v and v > 0]
    lo, hi = min(values), max(values)
    ylo, yhi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if ylo == yhi:
        yhi += 1
    xlo, xhi = math.log10(min(xs)), math.log10(max(xs))
    if xlo == xhi:
        xhi += 1
    pw, ph = width - left - right, height - top - bottom

    def px(x):
        return x0 + left + (math.log10(x) - xlo) / (xhi - xlo) * pw

    def py(y):
        return top + ph - (math.log10(y) - ylo) / (yhi - ylo) * ph

    out = [f'<text x="{x0 + left}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>']
    for e in range(ylo, yhi + 1):
        y = py(10**e)
        out.append(f'<line x1="{x0 + left}" x2="{x0 + left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>')
        label = f"{10**e:g} {unit}"
        out.append(f'<text x="{x0 + left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{label}</text>')
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + ph}" stroke="#e4e4e4"/>')
        label = f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k"
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 18}" font-size="12" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x0 + left + pw / 2}" y="{height - 6}" font-size="12" text-anchor="middle">requests in the store</text>')
    for i, (label, colour, dash, vs) in enumerate(series):
        pts = [(px(x), py(v)) for x, v in zip(xs, vs) if v and v > 0]
        path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 8 + i * 17
        out.append(f'<line x1="{x0 + left + 8}" x2="{x0 + left + 30}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{x0 + left + 36}" y="{ly + 4}" font-size="12">{escape(label)}</text>')
    return out


def chart(results):
    xs = [records(r) for r in results]
    times = [
        ("cwfy build", "#1d5b94", "", [r["build"]["seconds"] for r in results]),
        ("rebuild after a day", "#b35900", "6 3", [r["rebuild"]["seconds"] for r in results]),
        ("cwfy import", "#2e7d32", "2 3", [r["import"]["seconds"] for r in results]),
        ("aggregation", "#6a1b9a", "9 3 2 3", [aggregation(r) for r in results]),
        ("DuckDB query", "#555555", "1 3", [r["duckdb"]["query_s"] for r in results]),
    ]
    memory = [
        ("cwfy build", "#1d5b94", "", [r["build"]["max_rss"] / 1e6 for r in results]),
        ("cwfy import", "#2e7d32", "2 3", [r["import"]["max_rss"] / 1e6 for r in results]),
        ("DuckDB", "#555555", "1 3", [r["duckdb"]["max_rss"] / 1e6 for r in results]),
    ]
    body = panel(0, "Seconds", "s", times, xs) + panel(440, "Peak memory", "MB", memory, xs)
    desc = "; ".join(
        f"{records(r):,} requests: build {r['build']['seconds']:.1f} s, import {r['import']['seconds']:.1f} s, build peak memory {r['build']['max_rss'] / 1e6:,.0f} MB"
        for r in results
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 880 300" role="img" aria-labelledby="t d" '
        'font-family="DejaVu Sans, Arial, sans-serif" fill="#1a1a1a">'
        '<title id="t">How the benchmark\'s time and memory grow with the number of requests (log-log)</title>'
        f'<desc id="d">{escape(desc)}.</desc><rect width="880" height="300" fill="#fff"/>'
        + "".join(body)
        + "</svg>\n"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--svg", help="write the chart here")
    a = p.parse_args()
    results = sorted((load(f) for f in a.folders), key=records)
    print(table(results))
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(chart(results))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The DuckDB baseline of the benchmark: the job cwfy's aggregation does, done by DuckDB.

From a v6vf-nfxy CSV, leaving out duplicates and the excluded type: opened and closed counts per
day x ward x service, and per week (Monday-Sunday) x ward x service the mean and median time to
close in days (over requests closed that week, negative durations left out) and how many.
Loading the CSV and the query are timed apart; the query runs RUNS times (default 3, from scratch
each time), and its median is reported as `query_s`, as the benchmark takes cwfy's aggregation as
the median of its builds. Prints one JSON object.

usage: duckdb_baseline.py [--runs RUNS] FILE.csv [EXCLUDED_TYPE ...]
"""

import json
import statistics
import sys
import time

import duckdb


def main():
    args = sys.argv[1:]
    runs = 3
    if args[:1] == ["--runs"]:
        runs, args = max(1, int(args[1])), args[2:]
    path = args[0]
    excluded = args[1:] or ["311 INFORMATION ONLY CALL"]
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(
        """
        CREATE TABLE requests AS
        SELECT sr_type, status, created_date, closed_date, ward, duplicate
        FROM read_csv(?, header = true, auto_detect = true,
                      types = {'sr_type': 'VARCHAR', 'status': 'VARCHAR',
                               'created_date': 'TIMESTAMP', 'closed_date': 'TIMESTAMP',
                               'ward': 'INTEGER', 'duplicate': 'BOOLEAN'})
        """,
        [path],
    )
    load_s = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM requests").fetchone()[0]

    con.execute("CREATE TEMP TABLE excluded(name VARCHAR)")
    con.executemany("INSERT INTO excluded VALUES (?)", [[e] for e in excluded])
    query_runs = []
    for _ in range(runs):
        con.execute("DROP TABLE IF EXISTS counted; DROP TABLE IF EXISTS daily; DROP TABLE IF EXISTS weekly_ttc")
        t = time.perf_counter()
        query(con)
        query_runs.append(time.perf_counter() - t)
    cells, opened, closed = con.execute(
        "SELECT count(*), sum(opened), sum(closed) FROM daily"
    ).fetchone()
    weeks = con.execute("SELECT count(*) FROM weekly_ttc").fetchone()[0]
    print(
        json.dumps(
            {
                "duckdb_version": duckdb.__version__,
                "rows": rows,
                "load_s": round(load_s, 4),
                "query_s": round(statistics.median(query_runs), 4),
                "query_runs_s": [round(q, 4) for q in query_runs],
                "daily_cells": cells,
                "opened": int(opened or 0),
                "closed": int(closed or 0),
                "weekly_ttc_cells": weeks,
            }
        )
    )


def query(con):
    """The job: the counted requests, then the day cells and the weekly times to close."""
    con.execute(
        """
        CREATE TEMP TABLE counted AS
        SELECT sr_type, created_date, closed_date, coalesce(ward, 0) AS ward,
               status NOT ILIKE 'open%' AND closed_date IS NOT NULL AS is_closed
        FROM requests
        WHERE NOT coalesce(duplicate, false) AND sr_type NOT IN (SELECT name FROM excluded)
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE daily AS
        SELECT coalesce(o.day, c.day) AS day, coalesce(o.ward, c.ward) AS ward,
               coalesce(o.sr_type, c.sr_type) AS sr_type,
               coalesce(o.opened, 0) AS opened, coalesce(c.closed, 0) AS closed
        FROM (SELECT CAST(created_date AS DATE) AS day, ward, sr_type, count(*) AS opened
              FROM counted GROUP BY ALL) o
        FULL OUTER JOIN
             (SELECT CAST(closed_date AS DATE) AS day, ward, sr_type, count(*) AS closed
              FROM counted WHERE is_closed GROUP BY ALL) c
        USING (day, ward, sr_type)
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE weekly_ttc AS
        SELECT date_trunc('week', closed_date) AS week, ward, sr_type,
               avg(days) AS ttc_mean_days, median(days) AS ttc_median_days, count(*) AS ttc_closed
        FROM (SELECT closed_date, ward, sr_type,
                     (epoch(closed_date) - epoch(created_date)) / 86400.0 AS days
              FROM counted WHERE is_closed) t
        WHERE days >= 0
        GROUP BY ALL
        """
    )


if __name__ == "__main__":
    main()

//! Tests of every chart kind: snapshots of small deterministic inputs, accessibility structure,
//! table and JSON agreement, and a map check against real ward offices.

use std::path::Path;

use serde_json::Value;

use super::geo::{Boundaries, BoundaryCache};
use super::maps::{MapLabels, MapWard, choropleth, ward_locator};
use super::*;
use crate::domain::Day;

fn day(s: &str) -> Day {
    Day::parse(s).unwrap()
}

fn services() -> Vec<ServiceBar> {
    vec![
        ServiceBar {
            name: "Potholes".into(),
            count: 45,
            baseline: Some(25.0),
            baseline_days: 365,
            above_pct: Some(80),
        },
        ServiceBar {
            name: "Graffiti removal".into(),
            count: 12,
            baseline: Some(20.5),
            baseline_days: 365,
            above_pct: Some(-41),
        },
        ServiceBar {
            name: "Rats".into(),
            count: 0,
            baseline: None,
            baseline_days: 0,
            above_pct: None,
        },
    ]
}

fn week_days() -> Vec<DayCounts> {
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    (0..7)
        .map(|i| {
            let d = day("2020-12-28").plus(i);
            DayCounts {
                date: d.to_string(),
                weekday: names[i as usize].into(),
                label: format!("Dec {}", 28 + i)
                    .replace("Dec 32", "Jan 1")
                    .replace("Dec 33", "Jan 2")
                    .replace("Dec 34", "Jan 3"),
                opened: [12, 30, 7, 0, 19, 3, 1][i as usize],
                closed: [10, 25, 9, 2, 0, 0, 1][i as usize],
                future: i >= 5,
            }
        })
        .collect()
}

fn ranked() -> Vec<RankedWard> {
    vec![
        RankedWard {
            rank: 1,
            ward: 12,
            closed: 14,
            ttc_mean_days: 0.0,
        },
        RankedWard {
            rank: 2,
            ward: 3,
            closed: 9,
            ttc_mean_days: 0.04,
        },
        RankedWard {
            rank: 3,
            ward: 40,
            closed: 22,
            ttc_mean_days: 2.5,
        },
        RankedWard {
            rank: 4,
            ward: 7,
            closed: 11,
            ttc_mean_days: 9.25,
        },
    ]
}

fn history() -> Vec<WeekHistory> {
    vec![
        WeekHistory {
            start: day("2020-11-30"),
            opened: 4,
            closed: 2,
            ward_ttc: Some(3.5),
            city_ttc: Some(4.25),
        },
        WeekHistory {
            start: day("2020-12-07"),
            opened: 9,
            closed: 6,
            ward_ttc: Some(2.0),
            city_ttc: Some(3.0),
        },
        WeekHistory {
            start: day("2020-12-21"),
            opened: 1,
            closed: 0,
            ward_ttc: None,
            city_ttc: Some(5.5),
        },
        WeekHistory {
            start: day("2020-12-28"),
            opened: 6,
            closed: 7,
            ward_ttc: Some(1.25),
            city_ttc: Some(2.0),
        },
    ]
}

fn service_week() -> Vec<WardWeekBar> {
    vec![
        WardWeekBar {
            ward: 1,
            by_day: [3, 0, 2, 5, 1, 0, 0],
            closed: 8,
        },
        WardWeekBar {
            ward: 2,
            by_day: [0; 7],
            closed: 1,
        },
        WardWeekBar {
            ward: 3,
            by_day: [10, 4, 4, 2, 6, 1, 2],
            closed: 20,
        },
    ]
}

/// Three square wards side by side (1 | 2 | 3) with a non-ward feature, as GeoJSON.
fn three_wards() -> Boundaries {
    let sq = |x: f64| {
        format!(
            "[[[{x},41.80],[{},41.80],[{},41.82],[{x},41.82],[{x},41.80]]]",
            x + 0.02,
            x + 0.02
        )
    };
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[
        {{"properties":{{"ward":"1"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
        {{"properties":{{"ward":"2"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
        {{"properties":{{"ward":"3"}},"geometry":{{"type":"MultiPolygon","coordinates":[{}]}}}},
        {{"properties":{{"ward":"OUT"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}]}}"#,
        sq(-87.70),
        sq(-87.68),
        sq(-87.66),
        sq(-87.64)
    );
    Boundaries::parse(&text, None).unwrap()
}

fn map_wards() -> Vec<MapWard> {
    vec![
        MapWard {
            ward: 1,
            value: 0,
            href: "../../ward/1/index.html".into(),
            note: None,
        },
        MapWard {
            ward: 2,
            value: 3,
            href: "../../ward/2/index.html".into(),
            note: Some("Ald. Two".into()),
        },
        MapWard {
            ward: 3,
            value: 40,
            href: "../../ward/3/index.html".into(),
            note: None,
        },
    ]
}

fn all_charts() -> Vec<Chart> {
    let b = three_wards();
    vec![
        day_services("Friday, January 1, 2021", &services()).unwrap(),
        week_opened_closed(3, "December 28, 2020 – January 3, 2021", &week_days()).unwrap(),
        ttc_ranking(
            "ttc-ranking",
            "Potholes",
            "in the week of December 28, 2020",
            &ranked(),
            5,
            Some(3),
        )
        .unwrap(),
        ttc_ranking(
            "ttc-ranking",
            "Potholes",
            "in the week of December 28, 2020",
            &ranked(),
            5,
            None,
        )
        .unwrap(),
        ttc_ranking(
            "ttc-ranking",
            "Potholes",
            "in the week of December 28, 2020",
            &[],
            5,
            Some(3),
        )
        .unwrap(),
        busiest_days(
            "busiest-days",
            "in Ward 3",
            &[
                BusyDay {
                    date: "2016-09-28".into(),
                    label: "Sep 28, 2016".into(),
                    count: 210,
                },
                BusyDay {
                    date: "2021-01-01".into(),
                    label: "Jan 1, 2021".into(),
                    count: 1,
                },
            ],
        )
        .unwrap(),
        weekly_history(3, "Potholes", &history()).unwrap(),
        weekly_ttc(3, "Potholes", &history(), Some(2.1), Some(3.4)).unwrap(),
        service_wards(
            "Potholes",
            "December 28, 2020 – January 3, 2021",
            &service_week(),
        )
        .unwrap(),
        choropleth(
            &b,
            "map",
            "Potholes requests on Friday, January 1, 2021",
            "request",
            "2023",
            &map_wards(),
            MapLabels::Count,
        ),
        ward_locator(&b, 2, "2023", |w| format!("../{w}/index.html")),
    ]
}

#[test]
fn every_chart_is_accessible_xml() {
    for chart in all_charts() {
        let doc = roxmltree::Document::parse(&chart.svg)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", chart.id, chart.svg));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert!(
            matches!(root.attribute("role"), Some("img") | Some("group")),
            "{}",
            chart.id
        );
        assert!(root.attribute("viewBox").is_some());
        assert!(root.attribute("width").is_none() && root.attribute("height").is_none());
        let title = root.children().find(|n| n.has_tag_name("title")).unwrap();
        let desc = root.children().find(|n| n.has_tag_name("desc")).unwrap();
        assert_eq!(title.text(), Some(chart.title.as_str()));
        assert_eq!(desc.text(), Some(chart.desc.as_str()));
        assert_eq!(
            root.attribute("aria-labelledby"),
            Some(format!("{0}-t {0}-d", chart.id).as_str())
        );
        assert!(chart.alt.ends_with(&chart.desc));
        // Every text is real text in a generic family given at the root.
        assert!(
            root.attribute("font-family")
                .unwrap()
                .ends_with("sans-serif")
        );
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            assert!(t.attribute("font-family").is_none(), "{}", chart.id);
            assert!(!t.text().unwrap_or("").is_empty() || t.children().count() > 0);
        }
    }
}

#[test]
fn every_table_equals_its_json() {
    for chart in all_charts() {
        let text = chart.csv();
        let mut csv = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let json: Value = serde_json::from_slice(&chart.json_document("source")).unwrap();
        let columns = json["columns"].as_array().unwrap();
        let labels: Vec<&str> = columns
            .iter()
            .map(|c| c["label"].as_str().unwrap())
            .collect();
        assert_eq!(header, labels, "{}", chart.id);
        let data = json["data"].as_array().unwrap();
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), data.len(), "{}", chart.id);
        for (row, obj) in rows.iter().zip(data) {
            for (cell, col) in row.iter().zip(columns) {
                let v = &obj[col["key"].as_str().unwrap()];
                match v {
                    Value::Null => assert_eq!(cell, ""),
                    Value::String(s) => assert_eq!(cell, s),
                    Value::Number(n) => {
                        assert_eq!(
                            cell.parse::<f64>().unwrap(),
                            n.as_f64().unwrap(),
                            "{}",
                            chart.id
                        )
                    }
                    other => panic!("{}: unexpected {other}", chart.id),
                }
            }
        }
    }
}

#[test]
fn findings_state_the_numbers() {
    let c = all_charts();
    assert_eq!(
        c[0].desc,
        "Potholes were furthest above their average on Friday, January 1, 2021: 45 requests against 25.0 a day before, 80% above."
    );
    assert_eq!(
        c[1].desc,
        "Ward 3 opened 68 requests and closed 46 in the week of December 28, 2020 – January 3, 2021 so far; the busiest day was Tue Dec 29, with 30 opened."
    );
    assert_eq!(
        c[2].desc,
        "Ward 3 ranked 2nd of 4 wards for closing Potholes requests in the week of December 28, 2020, averaging 58 minutes; Ward 12 was fastest, averaging less than a minute."
    );
    assert!(c[4].desc.starts_with("No ward closed 5 or more Potholes"));
    assert_eq!(
        c[9].desc,
        "Ward 3 had the most Potholes requests on Friday, January 1, 2021: 40; 1 of 3 wards had none."
    );
    assert_eq!(
        c[10].desc,
        "Ward 2 borders Wards 1 and 3 on the 2023 ward map."
    );
}

#[test]
fn a_ward_near_zero_stays_visible_and_the_highlight_is_marked() {
    let chart = &all_charts()[2];
    let doc = roxmltree::Document::parse(&chart.svg).unwrap();
    // Every ranked ward has a bar at least 3 units wide, even at 0.0 days.
    let bars: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| {
            matches!(
                n.attribute("fill"),
                Some(f) if f.eq_ignore_ascii_case(&palette::SLATE.hex()) || f.eq_ignore_ascii_case(&palette::HIGHLIGHT.hex())
            )
        })
        .filter_map(|n| n.attribute("width")?.parse().ok())
        .collect();
    // Two legend swatches and four bars.
    assert_eq!(bars.len(), 6, "{bars:?}");
    assert!(bars.iter().all(|w| *w >= 3.0), "{bars:?}");
    let bold: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("font-weight") == Some("bold"))
        .filter_map(|n| n.text())
        .collect();
    assert!(bold.contains(&"2. Ward 3"), "{bold:?}");
}

/// The text of every `<text>` element of an SVG.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

/// Issue 22: graffiti closes in minutes, and the ranking read "averaging 0.0 days" for every
/// ward, with axis ticks "0.0 0.0 0.0 0.0" under bars of different lengths.
#[test]
fn a_ranking_of_minutes_reads_in_minutes_with_distinct_ticks() {
    let minute = 1.0 / 1440.0;
    let fast: Vec<RankedWard> = [(12, 3.0), (3, 7.0), (40, 12.0), (7, 26.0)]
        .iter()
        .enumerate()
        .map(|(i, (ward, minutes))| RankedWard {
            rank: i + 1,
            ward: *ward,
            closed: 20,
            ttc_mean_days: minutes * minute,
        })
        .collect();
    let chart = ttc_ranking(
        "ttc-ranking",
        "Graffiti Removal",
        "in the week of December 28, 2020",
        &fast,
        5,
        Some(3),
    )
    .unwrap();
    assert!(!chart.desc.contains("0.0"), "{}", chart.desc);
    assert!(chart.desc.contains("averaging 7 minutes"), "{}", chart.desc);
    let texts = svg_texts(&chart.svg);
    assert!(
        texts.iter().any(|t| t == "Mean minutes to close"),
        "{texts:?}"
    );
    for label in ["3 min", "7 min", "12 min", "26 min"] {
        assert!(texts.iter().any(|t| t == label), "{label}: {texts:?}");
    }
    // The axis ticks: every number on the chart that is not a bar label or a row label.
    let ticks: Vec<&String> = texts
        .iter()
        .filter(|t| {
            t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        })
        .collect();
    assert!(ticks.len() >= 3, "{texts:?}");
    let mut distinct = ticks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ticks.len(), "ticks repeat: {ticks:?}");
    assert!(!ticks.iter().any(|t| t.as_str() == "0.0"), "{ticks:?}");
    // The table and the JSON keep days, to three decimals like the API.
    assert_eq!(chart.table.rows[0][3].text(), "0.002");
}

/// Issue 22: a chart with one value or none is stated in words, not drawn as an empty frame.
#[test]
fn charts_with_one_value_or_none_say_so_in_words() {
    let c = all_charts();
    let empty_ranking = &c[4];
    assert_eq!(empty_ranking.rows_with_values(), 0);
    assert!(empty_ranking.says_more_in_words());
    assert!(!c[2].says_more_in_words(), "four ranked wards are drawn");
    let one = ttc_ranking(
        "ttc-ranking",
        "Potholes",
        "in the week of December 28, 2020",
        &ranked()[..1],
        5,
        None,
    )
    .unwrap();
    assert!(one.says_more_in_words());
    assert!(one.desc.contains("Only Ward 12"), "{}", one.desc);
}

#[test]
fn snapshots_of_each_kind() {
    let c = all_charts();
    insta::assert_snapshot!("day_services", c[0].svg);
    insta::assert_snapshot!("week_opened_closed", c[1].svg);
    insta::assert_snapshot!("ttc_ranking_highlighted", c[2].svg);
    insta::assert_snapshot!("busiest_days", c[5].svg);
    insta::assert_snapshot!("weekly_history", c[6].svg);
    insta::assert_snapshot!("weekly_ttc", c[7].svg);
    insta::assert_snapshot!("service_wards", c[8].svg);
    insta::assert_snapshot!("choropleth", c[9].svg);
    insta::assert_snapshot!("ward_locator", c[10].svg);
    insta::assert_snapshot!("ttc_ranking_table", c[2].csv());
}

/// Parses the `d` of a map path (`M x y l dx dy … z`, repeated) into rings.
fn rings_of(d: &str) -> Vec<Vec<(f64, f64)>> {
    let mut rings = Vec::new();
    for part in d.split('M').filter(|p| !p.is_empty()) {
        let part = part.trim_end_matches('z');
        let (start, moves) = part.split_once('l').unwrap_or((part, ""));
        let nums = |s: &str| -> Vec<f64> {
            s.replace('-', " -")
                .split_whitespace()
                .map(|n| n.parse::<f64>().unwrap())
                .collect()
        };
        let s = nums(start);
        let mut p = (s[0], s[1]);
        let mut ring = vec![p];
        for pair in nums(moves).chunks(2) {
            p = (p.0 + pair[0], p.1 + pair[1]);
            ring.push(p);
        }
        rings.push(ring);
    }
    rings
}

fn inside(rings: &[Vec<(f64, f64)>], q: (f64, f64)) -> bool {
    let mut c = false;
    for r in rings {
        for i in 0..r.len() {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            if (a.1 > q.1) != (b.1 > q.1) && q.0 < a.0 + (q.1 - a.1) * (b.0 - a.0) / (b.1 - a.1) {
                c = !c;
            }
        }
    }
    c
}

/// Distance in map units from `p` to the nearest edge of the ward at `level`.
fn border_distance(level: &super::geo::Level, ward: u8, p: (f64, f64)) -> f64 {
    let u = level.unit;
    let mut best = f64::MAX;
    for ring in level.wards[&ward].iter().flatten() {
        for i in 0..ring.len() {
            let a = (ring[i].0 as f64 * u, ring[i].1 as f64 * u);
            let b = (
                ring[(i + 1) % ring.len()].0 as f64 * u,
                ring[(i + 1) % ring.len()].1 as f64 * u,
            );
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let l2 = dx * dx + dy * dy;
            let t = if l2 == 0.0 {
                0.0
            } else {
                (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / l2).clamp(0.0, 1.0)
            };
            best = best.min(((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt());
        }
    }
    best
}

#[test]
fn ward_offices_fall_in_their_wards_path_on_the_2023_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let b = BoundaryCache::new()
        .get(
            &root.join("data/boundaries/wards-2023-simplified.geojson"),
            None,
        )
        .unwrap();
    let wards: Vec<MapWard> = b
        .wards()
        .map(|w| MapWard {
            ward: w,
            value: u64::from(w),
            href: format!("{w}/"),
            note: None,
        })
        .collect();
    let map = choropleth(
        &b,
        "map",
        "requests",
        "request",
        "2023",
        &wards,
        MapLabels::Ward,
    );
    let doc = roxmltree::Document::parse(&map.svg).unwrap();
    // Ward number → the rings of its drawn path.
    type Rings = Vec<Vec<(f64, f64)>>;
    let paths: Vec<(u8, Rings)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .map(|a| {
            let title = a
                .children()
                .find(|n| n.has_tag_name("title"))
                .unwrap()
                .text()
                .unwrap();
            let ward: u8 = title["Ward ".len()..]
                .split(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let d = a
                .children()
                .find(|n| n.has_tag_name("path"))
                .unwrap()
                .attribute("d")
                .unwrap();
            (ward, rings_of(d))
        })
        .collect();
    assert_eq!(paths.len(), 50);
    let offices: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("data/wards/ward-offices-2026-02.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    let mut near_border = 0;
    let mut wrong = Vec::new();
    for o in offices.as_array().unwrap() {
        // Some aldermen give City Hall as their office; it lies in Ward 42.
        if o["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("121 North LaSalle"))
        {
            continue;
        }
        let ward: u8 = o["ward"].as_str().unwrap().parse().unwrap();
        let loc = o["location"].as_str().unwrap();
        let inner = loc.trim_start_matches("POINT (").trim_end_matches(')');
        let mut it = inner.split_whitespace().map(|n| n.parse::<f64>().unwrap());
        let (lon, lat) = (it.next().unwrap(), it.next().unwrap());
        let p = b.projection.project(lon, lat);
        // An office on a boundary street can fall either side once the border is simplified
        // (by up to the city tolerance, about 30 m); those are checked on the detail level.
        if border_distance(&b.detail, ward, p) < 2.0 {
            assert_eq!(
                b.detail.ward_at(p),
                Some(ward),
                "office of ward {ward} near its border"
            );
            near_border += 1;
            continue;
        }
        let hits: Vec<u8> = paths
            .iter()
            .filter(|(_, r)| inside(r, p))
            .map(|(w, _)| *w)
            .collect();
        checked += 1;
        if hits != vec![ward] {
            wrong.push((ward, hits));
        }
    }
    // 5707 S Wentworth Ave, the 20th ward's office.
    let p = b.projection.project(-87.63025141399062, 41.7906677191873);
    assert_eq!(
        paths
            .iter()
            .filter(|(_, r)| inside(r, p))
            .map(|(w, _)| *w)
            .collect::<Vec<_>>(),
        vec![20]
    );
    assert_eq!(b.city.ward_at(p), Some(20));
    assert!(
        wrong.is_empty(),
        "offices outside their ward's path: {wrong:?}"
    );
    assert!(
        checked >= 35,
        "{checked} checked, {near_border} near a border"
    );
}

#[test]
fn real_maps_stay_small_and_neighbours_are_plausible() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = BoundaryCache::new();
    for file in [
        "wards-2003-2015.geojson",
        "wards-2015-2023-simplified.geojson",
        "wards-2023-simplified.geojson",
    ] {
        let b = cache
            .get(&root.join("data/boundaries").join(file), None)
            .unwrap();
        assert_eq!(b.wards().count(), 50, "{file}");
        let wards: Vec<MapWard> = b
            .wards()
            .map(|w| MapWard {
                ward: w,
                value: u64::from(w) * 7,
                href: format!("../../ward/{w}/index.html"),
                note: None,
            })
            .collect();
        let map = choropleth(
            &b,
            "map",
            "requests",
            "request",
            "x",
            &wards,
            MapLabels::Count,
        );
        assert!(map.svg.len() < 60_000, "{file}: {} bytes", map.svg.len());
        for w in b.wards() {
            let n = &b.neighbours[&w];
            assert!((1..=12).contains(&n.len()), "{file}: ward {w} has {n:?}");
            assert!(n.iter().all(|x| b.neighbours[x].contains(&w)));
            let loc = ward_locator(&b, w, "x", |v| format!("{v}"));
            assert!(
                loc.svg.len() < 60_000,
                "{file}: locator {w}: {}",
                loc.svg.len()
            );
        }
    }
}

//! The dashboard's numbers, computed by hand from `tests/fixtures/dashboard-week.jsonl`, against
//! what the JSON API and the HTML say; plus a snapshot of each page type.
//!
//! The fixture (times are Chicago's; the week of 2021-03-08 holds the spring DST change, Sunday
//! 2021-03-14 02:00):
//!
//! | id | service   | ward | opened (local)   | closed (local)   | notes                                |
//! |----|-----------|------|------------------|------------------|--------------------------------------|
//! | B1–B4 | pothole | 5  | Mon 03-01        | open             | the baseline: 4 in the 7 days before |
//! | P1 | pothole   | 1    | Mon 03-08 09:00  | Tue 03-09 09:00  | 1 day                                |
//! | P2 | pothole   | 1    | Mon 03-08 10:00  | Thu 03-11 10:00  | 3 days                               |
//! | P3 | pothole   | 2    | Tue 03-09 08:00  | Tue 03-09 20:00  | 0.5 day                              |
//! | P4 | pothole   | 2    | Tue 03-09        | Tue 03-09        | duplicate: never counted             |
//! | P5 | pothole   | "0"  | Wed 03-10 12:00  | open             | ward "0" is no ward: placed by its point, ward 42 |
//! | P6 | pothole   | 3    | Sat 03-13 23:30 CST | Sun 03-14 23:30 CDT | 23 hours = 0.958 day (DST)     |
//! | P7 | pothole   | 3    | Mon 03-15 00:30 CDT | open          | next week (05:30Z; CST would say Sunday) |
//! | P8 | pothole   | 3    | Fri 03-12 10:00  | Thu 03-11 10:00  | closed before opened: no TTC         |
//! | X1 | 311 INFORMATION ONLY CALL | 1 | Mon 03-08 | …       | excluded type                        |
//! | R1 | pothole   | 2    | Wed 03-10 09:00  | closed, then reopened by a newer version: not closed |
//! | G1 | graffiti  | 1    | Mon 03-08 11:00  | Mon 03-08 13:00  | 2 hours; has a photo and an address with markup |
//! | —  | pothole   | 4    | Wed 03-10        |                  | no id: ignored and counted           |

mod support;

use serde_json::Value;
use support::Project;

fn built() -> Project {
    let p = Project::new(30, 4);
    let fixtures = support::repo().join("tests/fixtures");
    p.ok(&[
        "import",
        fixtures.join("dashboard-week.jsonl").to_str().unwrap(),
    ]);
    p.ok(&[
        "import",
        fixtures.join("dashboard-reopened.jsonl").to_str().unwrap(),
    ]);
    p.ok(&["build", "--as-of", "2021-03-15"]);
    p
}

fn json(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn approx(v: &Value, expected: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - expected).abs() < 0.0006, "{got} != {expected}");
}

/// Puts each tag on its own line so snapshots of minified HTML diff well.
fn lines(html: &str) -> String {
    html.replace("><", ">\n<")
}

#[test]
fn numbers_agree_with_hand_counts_in_json_and_html() {
    let p = built();

    // Day 2021-03-08: potholes P1, P2 against a baseline of 4 requests over 7 days.
    let day = json(&p, "site/api/v1/days/2021-03-08.json");
    assert_eq!(day["date"], "2021-03-08");
    let services = day["services"].as_array().unwrap();
    let potholes = &services[0];
    assert_eq!(potholes["slug"], "potholes", "featured first");
    assert_eq!(potholes["opened"], 2);
    approx(&potholes["baseline"], 4.0 / 7.0);
    assert_eq!(potholes["baseline_days"], 7);
    assert_eq!(potholes["above_average_pct"], 250);
    assert_eq!(potholes["wards"]["1"], 2);
    assert_eq!(potholes["wards"]["2"], 0);
    assert_eq!(potholes["wards"].as_object().unwrap().len(), 50);
    let graffiti = services.iter().find(|s| s["slug"] == "graffiti").unwrap();
    assert_eq!(graffiti["opened"], 1);
    assert_eq!(graffiti["baseline"], 0.0);
    assert_eq!(graffiti["above_average_pct"], Value::Null);
    assert!(
        services
            .iter()
            .all(|s| s["slug"] != "311-information-only-call"),
        "excluded types never count"
    );
    assert_eq!(day["unassigned"], 0);
    // P5's record names ward "0"; its point (1 N State St) is in ward 42 on the 2023 map.
    let wed = json(&p, "site/api/v1/days/2021-03-10.json");
    assert_eq!(wed["unassigned"], 0, "P5 is placed by location");
    let potholes_wed = (wed["services"].as_array().unwrap().iter())
        .find(|s| s["slug"] == "potholes")
        .unwrap();
    assert_eq!(potholes_wed["wards"]["42"], 1, "P5");
    let placement = &json(&p, "site/api/v1/status.json")["placement"];
    assert_eq!(placement["by_location"], 1, "P5");
    let html = p.read("site/day/2021-03-08/index.html");
    assert!(html.contains("▲ 250% above average"), "{html}");
    assert!(html.contains("★ greatest change"), "{html}");
    // Every featured service by ward, a column each: the two potholes of ward 1 that day, in
    // its month's file, each row led by its date.
    assert!(
        html.contains("href=../../day/2021-03/wards.csv")
            || html.contains("href=\"../../day/2021-03/wards.csv\""),
        "{html}"
    );
    let wards_csv = p.read("site/day/2021-03/wards.csv");
    let mut lines = wards_csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let potholes_column = header.iter().position(|h| h.contains("Pothole")).unwrap();
    assert_eq!(header[..2], ["Date", "Ward"], "{wards_csv}");
    let day: Vec<Vec<&str>> = (wards_csv.lines())
        .filter(|l| l.starts_with("2021-03-08,"))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(day.len(), 50, "{wards_csv}");
    assert_eq!(
        (day[0][1], day[0][potholes_column]),
        ("1", "2"),
        "{wards_csv}"
    );
    assert!(html.contains("Every featured service by ward"), "{html}");
    // No page per service and day any more: the day page shows every featured service.
    assert!(!p.join("site/day/2021-03-08/potholes").exists());

    // Ward 1, week of 2021-03-08.
    let week = json(&p, "site/api/v1/wards/1/weeks/2021-03-08.json");
    assert_eq!(week["week_start"], "2021-03-08");
    assert_eq!(week["week_end"], "2021-03-14");
    let days: Vec<(u64, u64)> = week["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["opened"].as_u64().unwrap(), d["closed"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        days,
        vec![(3, 1), (0, 1), (0, 0), (0, 1), (0, 0), (0, 0), (0, 0)],
        "P1 P2 G1 opened Monday; G1, P1, P2 closed Mon, Tue, Thu"
    );
    let s = week["services"].as_array().unwrap();
    let potholes = s.iter().find(|x| x["slug"] == "potholes").unwrap();
    assert_eq!(
        (potholes["opened"].as_u64(), potholes["closed"].as_u64()),
        (Some(2), Some(2))
    );
    approx(&potholes["ttc_mean_days"], 2.0);
    approx(&potholes["ttc_median_days"], 2.0);
    assert_eq!(potholes["ttc_closed"], 2);
    // Closed counts: ward 1: 2, ward 2: 1 (R1 reopened), ward 3: 2 (P6, P8); threshold < 1, so 1 is
    // enough. Means: ward 2 0.5, ward 3 0.958 (P8 has no TTC), ward 1 2.0.
    assert_eq!(potholes["rank"], 3);
    assert_eq!(potholes["ranked_of"], 3);
    let graffiti = s.iter().find(|x| x["slug"] == "graffiti").unwrap();
    approx(&graffiti["ttc_mean_days"], 2.0 / 24.0);
    assert_eq!(graffiti["rank"], 1);
    let html = p.read("site/ward/1/week/2021-03-08/index.html");
    assert!(html.contains("Among the 3 wards that closed 1 or more Potholes requests this week, Ward 1 ranked 3rd, averaging 2.0 days to close."), "{html}");
    assert!(
        html.contains("Ward 1 opened 3 service requests and closed 3."),
        "{html}"
    );

    // Potholes, week of 2021-03-08, per ward.
    let sw = json(&p, "site/api/v1/services/potholes/weeks/2021-03-08.json");
    assert_eq!(sw["city"]["opened"], 7, "P1 P2 P3 P5 P6 P8 R1");
    assert_eq!(sw["city"]["closed"], 5, "P1 P2 P3 P6 P8");
    approx(
        &sw["city"]["ttc_mean_days"],
        (1.0 + 3.0 + 0.5 + 23.0 / 24.0) / 4.0,
    );
    assert_eq!(sw["city"]["unassigned"], 0, "P5 is in ward 42");
    let mean = 5.0 / 50.0;
    let var = ((2.0f64 - mean).powi(2) * 2.0 + (1.0f64 - mean).powi(2) + 47.0 * mean * mean) / 50.0;
    approx(&sw["threshold"], mean - var.sqrt());
    assert_eq!(sw["min_closed_to_rank"], 1);
    let w3 = &sw["wards"]["3"];
    assert_eq!(
        w3["opened_by_day"],
        serde_json::json!([0, 0, 0, 0, 1, 1, 0]),
        "P8 Friday, P6 Saturday; P7 is next week"
    );
    assert_eq!(
        (w3["opened"].as_u64(), w3["closed"].as_u64()),
        (Some(2), Some(2))
    );
    approx(&w3["ttc_mean_days"], 23.0 / 24.0);
    assert_eq!(w3["rank"], 2);
    assert_eq!(sw["wards"]["2"]["rank"], 1);
    assert_eq!(sw["wards"]["2"]["closed"], 1);
    assert_eq!(sw["wards"]["50"]["rank"], Value::Null);
    assert_eq!(sw["wards"]["50"]["ttc_mean_days"], Value::Null);
    let next = json(&p, "site/api/v1/services/potholes/weeks/2021-03-15.json");
    assert_eq!(
        next["wards"]["3"]["opened_by_day"][0], 1,
        "P7 on Monday 00:30 CDT"
    );
    let html = p.read("site/service/potholes/week/2021-03-08/index.html");
    assert!(
        html.contains("Chicago opened 7 and closed 5 Potholes requests"),
        "{html}"
    );
    assert!(
        !html.contains("had no ward"),
        "P5 is placed by location: no request of the week lacks a ward"
    );

    // Highs over the whole store: ties, most recent first.
    let highs = json(&p, "site/api/v1/wards/3/highs.json");
    let dates: Vec<&str> = highs["services"]["potholes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, vec!["2021-03-15", "2021-03-13", "2021-03-12"]);

    // Status.
    let status = json(&p, "site/api/v1/status.json");
    assert_eq!(status["data_through"], "2021-03-15");
    assert_eq!(status["requests"], 15);
    assert_eq!(status["duplicates"], 1);
    assert_eq!(status["excluded"], 1);
    assert_eq!(status["unassigned"], 0);
    assert_eq!(status["ignored_without_id"], 1);

    // Services list.
    let list = json(&p, "site/api/v1/services.json");
    assert_eq!(list[0]["slug"], "potholes");
    assert_eq!(list[0]["featured"], true);
    assert_eq!(list[0]["opened_total"], 12, "B1-B4, P1-P3, P5-P8, R1");
}

#[test]
fn sparse_weeks_and_the_ends_of_the_data_read_well() {
    let p = built();
    // A week with nothing in a ward has no page, and no pager or table links to one; the
    // ward's own page (its latest week) is there all the same.
    assert!(!p.join("site/ward/1/week/2021-03-01").exists());
    let html = p.read("site/ward/1/week/2021-03-08/index.html");
    assert!(html.contains("No earlier week in the data"), "{html}");
    let week = p.read("site/service/potholes/week/2021-03-01/index.html");
    for link in week.split("href=\"../../../../").skip(1) {
        let target = &link[..link.find('"').unwrap()];
        // The file, without a fragment (an SVG's `#week-…` view).
        let file = target.split('#').next().unwrap();
        assert!(p.join("site").join(file).exists(), "{target}");
    }
    let html = p.read("site/ward/5/week/2021-03-01/index.html");
    assert!(
        html.contains("Ward 5 closed no Potholes requests this week, so it is not ranked."),
        "{html}"
    );
    // A service with no baseline on the first day.
    let first = json(&p, "site/api/v1/days/2021-03-01.json");
    assert_eq!(first["services"][0]["baseline"], Value::Null);
    assert_eq!(first["services"][0]["baseline_days"], 0);
    let html = p.read("site/day/2021-03-01/index.html");
    assert!(html.contains("no baseline yet"), "{html}");
    assert!(html.contains("No earlier day in the data"), "{html}");
    assert!(
        !p.join("site/day/2021-02-28").exists(),
        "no pages before the data"
    );
    assert!(
        !p.join("site/day/2021-03-16").exists(),
        "no pages after --as-of"
    );
    let last = p.read("site/day/2021-03-15/index.html");
    assert!(last.contains("No later day in the data"), "{last}");
    // No NaN anywhere.
    for entry in walkdir::WalkDir::new(p.join("site")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(
                !text.contains("NaN") && !text.contains("inf days"),
                "{}",
                entry.path().display()
            );
        }
    }
    // The current week is marked as partial.
    let html = p.read("site/ward/3/index.html");
    assert!(html.contains("so far"), "{html}");
    // The photo is listed, its address escaped.
    let photos = p.read("site/photos/index.html");
    assert!(photos.contains("wall.jpg"), "{photos}");
    assert!(
        photos.contains("&lt;b>Bold&lt;/b>") || photos.contains("&lt;b&gt;Bold"),
        "{photos}"
    );
    // Feeds are Atom with one entry per week page: Ward 3 had nothing in the first week.
    let feed = p.read("site/feeds/ward/3.xml");
    assert_eq!(feed.matches("<entry>").count(), 2, "{feed}");
    assert!(!p.join("site/ward/3/week/2021-03-01").exists());
}

#[test]
fn one_snapshot_per_page_type() {
    let p = built();
    let pages = [
        ("home", "index.html"),
        ("day", "day/2021-03-08/index.html"),
        ("ward_index", "ward/index.html"),
        ("ward_week", "ward/2/week/2021-03-08/index.html"),
        ("ward_service", "ward/3/potholes/index.html"),
        ("service_index", "service/index.html"),
        (
            "service_week",
            "service/potholes/week/2021-03-08/index.html",
        ),
        ("photos", "photos/index.html"),
        ("data", "data/index.html"),
        ("about", "about/methodology/index.html"),
    ];
    for (name, rel) in pages {
        insta::assert_snapshot!(name, lines(&p.read(&format!("site/{rel}"))));
    }
    insta::assert_snapshot!("feed", p.read("site/feeds/ward/2.xml"));
}

/// The API documents are typed structs whose fields are declared in alphabetical order, the
/// order serde_json wrote the untyped documents in: a field added out of order would change
/// every file's bytes. Each document must equal its own sorted, compact form.
#[test]
fn api_documents_keep_their_fields_in_alphabetical_order() {
    let p = built();
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(p.join("site/api/v1")) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            text,
            "{}",
            entry.path().display()
        );
        checked += 1;
    }
    // Days, ward weeks and highs, service weeks, services.json and status.json.
    assert!(checked > 100, "{checked} documents");
}

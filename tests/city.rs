//! A second city set up by configuration alone: Boston (`cities/boston/`), from its real 311
//! export of October 2011, its City Council district maps and its services. Requests are placed
//! in districts by location; the counts are checked against an independent point-in-polygon
//! count (`tests/independent/district_counts.py`, plain Python, written apart from cwfy's own),
//! and Boston's records are fetched as Open311 from a real server on loopback.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::open311::{Open311, REQUESTS};
use support::{Project, copy_dir, repo};

/// The City Hall point Boston's records use for "no location".
const PLACEHOLDER: &str = "42.3594,-71.0587";

/// A project holding `cities/boston/` (without any site or store built in the checkout) and the
/// repository's templates and static files where its config expects them.
fn boston() -> Project {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["templates", "static"] {
        copy_dir(&repo().join(sub), &dir.path().join(sub));
    }
    let city = dir.path().join("cities/boston");
    for sub in ["content", "data/boundaries", "data/sample"] {
        copy_dir(&repo().join("cities/boston").join(sub), &city.join(sub));
    }
    for file in ["config.yaml", "data/services.json"] {
        std::fs::copy(repo().join("cities/boston").join(file), city.join(file)).unwrap();
    }
    Project { dir }
}

/// `cwfy --config cities/boston/config.yaml ARGS`, which must succeed.
fn cwfy(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["--config", "cities/boston/config.yaml"];
    all.extend_from_slice(args);
    p.ok(&all)
}

fn json(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(&format!("cities/boston/site/{rel}"))).unwrap()
}

/// The independent count: `{"total", "unassigned": {..}, "districts": {..}, "by_day": {..}}`.
/// With `duplicates`, rows closed as duplicates are left out, as Boston's config has cwfy do
/// with its export.
fn independent_count(csv: &Path, duplicates: bool) -> Value {
    let mut command = Command::new("python3");
    command
        .arg(repo().join("tests/independent/district_counts.py"))
        .arg(csv)
        .arg(repo().join("cities/boston/data/boundaries/council-districts-2012.geojson"))
        .args(["--id-property", "DISTRICT", "--placeholder", PLACEHOLDER]);
    if duplicates {
        command.args([
            "--duplicate",
            "closure_reason",
            "Duplicate of Existing Case",
        ]);
    }
    let out = command
        .output()
        .expect("python3 runs the independent count");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Requests opened per (day, district) in the site's `data/daily-counts.csv`, all services
/// summed; the district is "unassigned" when empty.
fn site_counts(p: &Project) -> BTreeMap<(String, String), u64> {
    let text = p.read("cities/boston/site/data/daily-counts.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("date,service,district,opened,closed"),
        "the CSV names the district column in Boston's word"
    );
    let mut counts = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let district = if f[2].is_empty() { "unassigned" } else { f[2] };
        *counts
            .entry((f[0].to_string(), district.to_string()))
            .or_insert(0) += f[3].parse::<u64>().unwrap();
    }
    counts.retain(|_, n| *n > 0);
    counts
}

/// The independent count's `by_day` as the same map.
fn expected_counts(independent: &Value) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for (day, districts) in independent["by_day"].as_object().unwrap() {
        for (district, n) in districts.as_object().unwrap() {
            let n = n.as_u64().unwrap();
            if n > 0 {
                counts.insert((day.clone(), district.clone()), n);
            }
        }
    }
    counts
}

#[test]
fn boston_builds_from_its_config_and_every_district_count_matches_an_independent_count() {
    let p = boston();
    cwfy(&p, &["build"]);
    let site = p.join("cities/boston/site");

    // Addresses use Boston's word.
    for d in 1..=9 {
        assert!(site.join(format!("district/{d}/index.html")).is_file());
        assert!(
            site.join(format!("api/v1/districts/{d}/highs.json"))
                .is_file()
        );
        assert!(site.join(format!("feeds/district/{d}.xml")).is_file());
    }
    assert!(!site.join("ward").exists() && !site.join("district/10").exists());

    // Every district on every day holds the requests whose point lies in it on the 2012 map,
    // as counted by a different implementation; the rest are unassigned, for the same reasons.
    let independent = independent_count(
        &repo().join("cities/boston/data/sample/boston-311-2011-10.csv"),
        true,
    );
    assert_eq!(independent["total"], 9_999 - 910);
    let status = json(&p, "api/v1/status.json");
    assert_eq!(
        status["duplicates"], 910,
        "closed as \"Duplicate of Existing Case\""
    );
    assert_eq!(site_counts(&p), expected_counts(&independent));
    let placement = &json(&p, "api/v1/status.json")["placement"];
    let unassigned = &independent["unassigned"];
    assert_eq!(
        placement["unassigned_placeholder"],
        unassigned["placeholder"]
    );
    assert_eq!(placement["unassigned_outside"], unassigned["outside"]);
    assert_eq!(placement["unassigned_no_point"], unassigned["no_point"]);
    let placed: u64 = (independent["districts"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(placement["by_location"], placed);
    assert_eq!(
        placement["by_record"], 0,
        "Boston's own district column is ignored"
    );
    let status = p.read("cities/boston/site/status/index.html");
    assert!(status.contains("a point the city uses for “no location”"));

    // The pages say district, never ward, alderman or Chicago (nor do the data files' keys).
    let banned = regex_free_words(&["ward", "wards", "alderman", "aldermen", "chicago"]);
    for (rel, bytes) in support::site_files(&site) {
        let page_or_api =
            [".html", ".svg", ".xml"].iter().any(|e| rel.ends_with(e)) || rel.starts_with("api/");
        if !page_or_api {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        if let Some(word) = banned(&text) {
            panic!("{rel} says {word:?}");
        }
    }
    let week = p.read("cities/boston/site/district/3/index.html");
    assert!(week.contains("District 3"), "the district page names it");
}

/// A finder of whole words (letters around them are not part of the word).
fn regex_free_words(words: &[&'static str]) -> impl Fn(&str) -> Option<&'static str> {
    let words = words.to_vec();
    move |text: &str| {
        words.iter().copied().find(|w| {
            text.match_indices(w).any(|(i, _)| {
                let before = text[..i].chars().next_back();
                let after = text[i + w.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric())
                    && !after.is_some_and(|c| c.is_alphanumeric())
            })
        })
    }
}

#[test]
fn boston_records_fetched_as_open311_on_loopback_are_placed_by_location() {
    let fixture = repo().join("tests/fixtures/boston/open311-requests-2011-10-01.json");
    let docs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    assert_eq!(docs.len(), 220);
    // Boston's own services.json, as its endpoint would serve it.
    let services =
        std::fs::read_to_string(repo().join("cities/boston/data/services.json")).unwrap();
    let fake = Open311::serving_with(docs, services, None);
    let server = fake.start();
    let p = boston();
    let config = p.read("cities/boston/config.yaml").replace(
        "https://mayors24.cityofboston.gov/open311/v2/",
        &server.url("/open311/v2/"),
    );
    p.write(
        "cities/boston/config.yaml",
        config.replace(
            "sample:\n  - data/sample/boston-311-2011-10.csv",
            "sample: []",
        ),
    );
    let stderr = cwfy(
        &p,
        &[
            "fetch",
            "--backfill-from",
            "2011-10-01",
            "--until",
            "2011-10-02",
        ],
    );
    assert!(stderr.contains("220 new"), "{stderr}");
    assert!(!server.requests_for(REQUESTS).is_empty());
    cwfy(&p, &["build", "--as-of", "2011-10-02"]);

    // The independent count of the same two days from the CSV the fixture was made from.
    let csv = p.join("two-days.csv");
    let text =
        std::fs::read_to_string(repo().join("cities/boston/data/sample/boston-311-2011-10.csv"))
            .unwrap();
    let mut lines = text.lines();
    let mut two_days = vec![lines.next().unwrap().to_string()];
    two_days.extend(
        lines
            .filter(|l| {
                let open = l.split(',').nth(1).unwrap_or("");
                open.starts_with("2011-10-01") || open.starts_with("2011-10-02")
            })
            .map(str::to_string),
    );
    std::fs::write(&csv, two_days.join("\n")).unwrap();
    // Open311 records carry no closure reason: none is a duplicate.
    let independent = independent_count(&csv, false);
    assert_eq!(independent["total"], 220);
    assert_eq!(site_counts(&p), expected_counts(&independent));
    let placement = &json(&p, "api/v1/status.json")["placement"];
    assert_eq!(
        placement["unassigned_placeholder"],
        independent["unassigned"]["placeholder"]
    );
    assert_eq!(
        placement["unassigned_outside"],
        independent["unassigned"]["outside"]
    );
}

#[test]
fn init_writes_a_folder_that_builds_and_a_config_every_key_of_which_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("springfield");
    let cwfy_ok = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cwfy"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cwfy {args:?}: {stderr}");
    };
    cwfy_ok(&["init", city.to_str().unwrap()]);
    let config = std::fs::read_to_string(city.join("config.yaml")).unwrap();
    // Build it as written (an empty store makes a site that says there is no data yet).
    cwfy_ok(&[
        "--config",
        city.join("config.yaml").to_str().unwrap(),
        "build",
    ]);
    assert!(city.join("site/district/index.html").is_file());
    // The keys a new city sets are in the README's config reference.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for key in [
        "city.districts",
        "city.district_name",
        "city.district_plural",
        "city.districts_from",
        "city.no_location_points",
        "city.time_zone",
        "boundaries[].id_property",
        "district_offices",
        "import.columns",
        "import.time_zone",
        "import.duplicate_contains",
    ] {
        assert!(
            config.contains(key.rsplit(['.', ']']).next().unwrap()),
            "{key}"
        );
        assert!(
            readme.contains(&format!("`{key}`")),
            "README's config reference lacks `{key}`"
        );
    }
    // Running it again overwrites nothing.
    let again = Command::new(env!("CARGO_BIN_EXE_cwfy"))
        .args(["init", city.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

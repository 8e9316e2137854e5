//! The bundled real sample: import counts per file and a build of the whole thing.

mod support;

use std::collections::BTreeSet;

use support::Project;

#[test]
fn sample_files_import_with_expected_counts() {
    let p = Project::new(7, 2);
    let out = p.run(&[
        "import",
        support::sample("sr-v6vf-nfxy-2021-01-01.csv")
            .to_str()
            .unwrap(),
    ]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2953 new"), "{stderr}");
    // Re-importing the same file changes nothing.
    let stderr = p.ok(&[
        "import",
        support::sample("sr-v6vf-nfxy-2021-01-01.csv")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        stderr.contains("0 new, 0 updated, 2953 unchanged"),
        "{stderr}"
    );
    let stderr = p.ok(&[
        "import",
        support::sample("open311-requests-2014-page.json")
            .to_str()
            .unwrap(),
    ]);
    assert!(stderr.contains("50 new"), "{stderr}");
}

/// The bundled sample, built with the repository's own config, has a page for every period
/// with data from its first day to its last, and none for the years between its extracts: the
/// day, ward week and service week pages are exactly the periods the bulk CSV (every day,
/// service and ward with a request opened or closed) has data for, plus the latest day and week.
#[test]
fn the_whole_sample_has_a_page_for_every_period_with_data() {
    let p = Project::new(1, 1);
    support::copy_dir(&support::repo().join("data/sample"), &p.join("data/sample"));
    std::fs::copy(support::repo().join("config.yaml"), p.join("config.yaml")).unwrap();
    p.ok(&["build"]);

    let bulk = p.read("site/data/daily-counts.csv");
    // The same rows, a file per year (what a host that takes no file of the whole gets).
    let mut by_year = String::new();
    for year in entries(&p.join("site/data/daily-counts")) {
        let text = p.read(&format!("site/data/daily-counts/{year}"));
        let (header, rows) = text.split_once('\n').unwrap();
        assert_eq!(header, bulk.lines().next().unwrap(), "{year}");
        assert!(rows.lines().all(|r| r.starts_with(&year[..4])), "{year}");
        by_year.push_str(rows);
    }
    assert_eq!(
        by_year,
        bulk.split_once('\n').unwrap().1,
        "the years are the whole"
    );
    let (mut days, mut ward_weeks, mut service_weeks) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for line in bulk.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (date, service, ward) = (f[0], f[1], f[2]);
        let opened: u64 = f[3].parse().unwrap();
        let monday = monday_of(date);
        if opened > 0 {
            days.insert(date.to_string());
        }
        if !ward.is_empty() {
            ward_weeks.insert((ward.to_string(), monday.clone()));
        }
        service_weeks.insert((service.to_string(), monday));
    }
    let latest_day = days.iter().next_back().unwrap().clone();
    let latest_week = monday_of(&latest_day);
    assert!(
        days.iter().next().unwrap().as_str() < "2011-01-01",
        "{days:?}"
    );
    for ward in 1..=50 {
        ward_weeks.insert((ward.to_string(), latest_week.clone()));
    }

    // A folder per day page, and one per month of them (their charts' files).
    let (months, day_pages): (BTreeSet<String>, BTreeSet<String>) = folders(&p.join("site/day"))
        .into_iter()
        .partition(|name| name.len() == 7);
    let months_of_days: BTreeSet<String> = days.iter().map(|d| d[..7].to_string()).collect();
    assert_eq!(months, months_of_days, "a folder for every month of days");
    assert_eq!(
        day_pages, days,
        "a day page for every day with a request opened"
    );
    assert!(day_pages.iter().any(|d| d.starts_with("2012-")));
    assert!(!day_pages.iter().any(|d| d.starts_with("2016-")));

    // A ward's `week/` folder holds a folder per week page and one per year of them, with the
    // charts' files of that year's weeks.
    let mut ward_pages = BTreeSet::new();
    let mut ward_years = BTreeSet::new();
    for ward in 1..=50 {
        for name in folders(&p.join(&format!("site/ward/{ward}/week"))) {
            if name.len() == 4 {
                ward_years.insert((ward.to_string(), name));
            } else {
                ward_pages.insert((ward.to_string(), name));
            }
        }
    }
    let years_of_weeks: BTreeSet<(String, String)> = (ward_weeks.iter())
        .map(|(ward, monday)| (ward.clone(), monday[..4].to_string()))
        .collect();
    assert_eq!(
        ward_years, years_of_weeks,
        "a folder for every year of weeks"
    );
    assert_eq!(
        ward_pages, ward_weeks,
        "a week page for every ward's week with data"
    );

    // A featured service has a page per week with data; any other service a page per year
    // with data, each week a row of it, and its own page for the latest week.
    let services: Vec<serde_json::Value> =
        serde_json::from_str(&p.read("site/api/v1/services.json")).unwrap();
    let featured: BTreeSet<String> = (services.iter())
        .filter(|s| s["featured"] == true)
        .map(|s| s["slug"].as_str().unwrap().to_string())
        .collect();
    assert!(featured.contains("potholes") && featured.len() < services.len());
    let mut service_pages = BTreeSet::new();
    let mut year_pages = BTreeSet::new();
    for slug in folders(&p.join("site/service")) {
        assert!(p.join(&format!("site/service/{slug}/index.html")).exists());
        if featured.contains(&slug) {
            // A folder per week page and one per year of them (the charts' files).
            let (years, weeks): (BTreeSet<String>, BTreeSet<String>) =
                folders(&p.join(&format!("site/service/{slug}/week")))
                    .into_iter()
                    .partition(|name| name.len() == 4);
            assert!(weeks.contains(&latest_week), "{slug}: its latest week");
            let years_of_weeks: BTreeSet<String> =
                weeks.iter().map(|monday| monday[..4].to_string()).collect();
            assert_eq!(
                years, years_of_weeks,
                "{slug}: a folder for every year of weeks"
            );
            for monday in weeks {
                if monday != latest_week {
                    service_pages.insert((slug.clone(), monday));
                }
            }
        } else {
            assert!(
                !p.join(&format!("site/service/{slug}/week")).exists(),
                "{slug}"
            );
            for year in folders(&p.join(&format!("site/service/{slug}"))) {
                let page = p.read(&format!("site/service/{slug}/{year}/index.html"));
                year_pages.insert((slug.clone(), year.clone()));
                let doc: serde_json::Value = serde_json::from_str(
                    &p.read(&format!("site/api/v1/services/{slug}/years/{year}.json")),
                )
                .unwrap();
                for week in doc["weeks"].as_array().unwrap() {
                    let monday = week["week_start"].as_str().unwrap().to_string();
                    assert!(
                        page.contains(&format!("id=\"week-{monday}\"")),
                        "{slug} {monday}"
                    );
                    if monday != latest_week {
                        service_pages.insert((slug.clone(), monday));
                    }
                }
            }
        }
    }
    service_weeks.retain(|(_, monday)| *monday != latest_week);
    assert_eq!(
        service_pages, service_weeks,
        "a week page (or a year page's row) for every service's week with data"
    );
    let years: BTreeSet<(String, String)> = (service_weeks.iter())
        .filter(|(slug, _)| !featured.contains(slug))
        .map(|(slug, monday)| (slug.clone(), monday[..4].to_string()))
        .collect();
    assert!(
        years.is_subset(&year_pages),
        "a year page for every year of a service's weeks"
    );
    // Every period's JSON document is there too.
    for day in &days {
        assert!(
            p.join(&format!("site/api/v1/days/{day}.json")).exists(),
            "{day}"
        );
    }
    for (ward, monday) in &ward_weeks {
        let doc = format!("site/api/v1/wards/{ward}/weeks/{monday}.json");
        assert!(p.join(&doc).exists(), "{doc}");
    }
    // And the whole site checks: no link points at a period without a page.
    p.ok(&["check"]);
}

/// The Monday of a `YYYY-MM-DD` date's week.
fn monday_of(date: &str) -> String {
    let day: jiff::civil::Date = date.parse().unwrap();
    let back = i64::from(day.weekday().to_monday_zero_offset());
    day.checked_sub(jiff::Span::new().days(back))
        .unwrap()
        .to_string()
}

/// The names of the entries of `dir`, sorted.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The names of the folders in `dir`.
fn folders(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

//! Incremental builds: a rebuild links every page whose inputs did not change from the previous
//! site instead of drawing it again, and the site it publishes is byte for byte the site a build
//! from scratch makes from the same store.

mod support;

use std::collections::BTreeMap;

use support::Project;

const HEADER: &str = "sr_number,sr_type,sr_short_code,status,origin,created_date,last_modified_date,closed_date,street_address,duplicate,ward,latitude,longitude,parent_sr_number\n";

const SERVICES: [(&str, &str); 4] = [
    ("Pothole in Street Complaint", "PHF"),
    ("Graffiti Removal Request", "GRAF"),
    ("Rodent Baiting/Rat Complaint", "SGA"),
    ("Tree Trim Request", "SEF"),
];

/// One CSV row: a request made on `day` (2021-01-04 + `day`) at `hour`, closed `close_after`
/// hours later or still open.
fn row(
    id: &str,
    day: i64,
    hour: u32,
    service: usize,
    ward: u32,
    close_after: Option<i64>,
) -> String {
    let start = jiff::civil::date(2021, 1, 4)
        .at(hour as i8, 0, 0, 0)
        .checked_add(jiff::Span::new().days(day))
        .unwrap();
    let (status, closed, modified) = match close_after {
        Some(h) => {
            let c = start.checked_add(jiff::Span::new().hours(h)).unwrap();
            ("Completed", c.to_string(), c.to_string())
        }
        None => ("Open", String::new(), start.to_string()),
    };
    let (name, code) = SERVICES[service];
    format!(
        "{id},{name},{code},{status},Internet,{start},{modified},{closed},1 Main St,False,{ward},41.8,-87.6,\n"
    )
}

/// Seven weeks and two days of requests, to Tuesday 2021-02-23.
fn base_city() -> String {
    let mut csv = String::from(HEADER);
    for day in 0..51 {
        for j in 0..(5 + day % 4) {
            let ward = ((day * 7 + j * 3) % 50 + 1) as u32;
            let close = ((day + j) % 3 != 0).then_some((j + 1) * 9);
            csv.push_str(&row(
                &format!("SR{day}-{j}"),
                day,
                8 + j as u32,
                (j % 4) as usize,
                ward,
                close,
            ));
        }
    }
    csv
}

/// The next day (Wednesday 2021-02-24): new requests, closes of requests left open before, and one request made on an
/// earlier day that arrives late.
fn next_day() -> String {
    let mut csv = String::from(HEADER);
    for j in 0..6 {
        csv.push_str(&row(
            &format!("SR51-{j}"),
            51,
            8 + j as u32,
            (j % 4) as usize,
            (j * 5 + 2) as u32,
            None,
        ));
    }
    // SR30-0 and SR45-0 were open (day + j divisible by 3); both close on the new day.
    csv.push_str(&row("SR30-0", 30, 8, 0, 11, Some((51 - 30) * 24 + 3)));
    csv.push_str(&row("SR45-0", 45, 8, 0, 26, Some((51 - 45) * 24 + 5)));
    // Made on day 44 (Wednesday 2021-02-17), seen only now.
    csv.push_str(&row("SR-late", 44, 15, 2, 7, None));
    csv
}

/// The "N units made, K kept" of a build's log.
fn units(log: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find(|l| l.contains("units made"))
        .unwrap_or_else(|| panic!("no unit counts in:\n{log}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let n = numbers.len();
    (numbers[n - 2], numbers[n - 1])
}

/// The "N files of earlier builds kept" of a build's log.
fn kept_earlier(log: &str) -> usize {
    let line = log
        .lines()
        .find(|l| l.contains("files of earlier builds kept"))
        .unwrap_or_else(|| panic!("no count of earlier files in:\n{log}"));
    let before = &line[..line.find(" files of earlier builds kept").unwrap()];
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Builds again from scratch, into a fresh folder, and asserts the site is the same, but for the
/// files that the last build (its log is `last`) kept from earlier builds without making them:
/// published addresses stay (issue 21), so an incremental site may hold more than a new one.
fn assert_same_as_full_build(p: &Project, what: &str, last: &str) {
    let mut incremental = support::site_files(&p.join("site"));
    let _ = std::fs::remove_dir_all(p.join("site-incremental"));
    std::fs::rename(p.join("site"), p.join("site-incremental")).unwrap();
    let log = p.ok(&["build"]);
    assert_eq!(
        units(&log).1,
        0,
        "a build from scratch keeps nothing:\n{log}"
    );
    let full = support::site_files(&p.join("site"));
    let earlier: Vec<String> = (incremental.keys())
        .filter(|path| !full.contains_key(*path) && *path != "manifest.json")
        .cloned()
        .collect();
    assert_eq!(
        earlier.len(),
        kept_earlier(last),
        "{what}: files only in the incremental site are the ones kept from earlier builds: {earlier:?}"
    );
    for path in &earlier {
        incremental.remove(path);
    }
    // The sitemap lists the kept pages too: a full build's pages and those.
    let mut full = full;
    let locs = |xml: Vec<u8>| -> std::collections::BTreeSet<String> {
        let xml = String::from_utf8(xml).unwrap();
        (xml.split("<loc>").skip(1))
            .map(|l| l[..l.find("</loc>").unwrap()].to_string())
            .collect()
    };
    let (in_incremental, in_full) = (
        locs(incremental.remove("sitemap.xml").unwrap()),
        locs(full.remove("sitemap.xml").unwrap()),
    );
    let kept_pages: Vec<&str> = (earlier.iter())
        .filter_map(|p| p.strip_suffix("index.html"))
        .collect();
    let extra: Vec<&String> = in_incremental.difference(&in_full).collect();
    assert!(in_full.is_subset(&in_incremental), "{what}: sitemap.xml");
    assert_eq!(
        extra.len(),
        kept_pages.len(),
        "{what}: the sitemap lists every kept page: {extra:?}"
    );
    for page in &kept_pages {
        assert!(
            extra.iter().any(|loc| loc.ends_with(&format!("/{page}"))),
            "{what}: the sitemap lists the kept page {page}"
        );
    }
    // The manifests agree but for the kept files' entries and the sitemap's.
    let manifest = |bytes: &[u8], leave_out: &[String]| {
        let mut m: cwfy::publish::Manifest = serde_json::from_slice(bytes).unwrap();
        m.files
            .retain(|e| !leave_out.contains(&e.path) && e.path != "sitemap.xml");
        serde_json::to_string(&m).unwrap()
    };
    assert_eq!(
        manifest(&incremental.remove("manifest.json").unwrap(), &earlier),
        manifest(&full["manifest.json"], &[]),
        "{what}: manifest.json"
    );
    full.remove("manifest.json");
    let paths = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(paths(&incremental), paths(&full), "{what}: the same files");
    for (path, bytes) in &full {
        assert!(
            incremental[path] == *bytes,
            "{what}: {path} differs from a build from scratch:\n{}\n---\n{}",
            String::from_utf8_lossy(&incremental[path]),
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn a_rebuild_after_one_more_day_keeps_unchanged_pages_and_equals_a_full_build() {
    let p = Project::new(30, 6);
    p.write("base.csv", base_city());
    p.write("next.csv", next_day());
    p.ok(&["import", "base.csv"]);
    let first = p.ok(&["build"]);
    let (made, kept) = units(&first);
    assert!(made > 100 && kept == 0, "{first}");
    let old_day = p.read("site/day/2021-02-01/index.html");
    assert!(old_day.contains("data through 2021-02-01"), "{old_day}");

    // Nothing new: every unit is kept.
    let again = p.ok(&["build"]);
    assert_eq!(units(&again), (0, made), "{again}");
    // However the project's folder is spelled (a nightly job names it in full): the same pages.
    let config = p.join("config.yaml");
    let spelled = p.ok(&["--config", config.to_str().unwrap(), "build"]);
    assert_eq!(units(&spelled), (0, made), "{spelled}");
    // Pages rendered around kept units (the data page counts the kept bulk CSV's rows) read
    // the same as from scratch.
    assert_same_as_full_build(&p, "with nothing new", &again);

    p.ok(&["import", "next.csv"]);
    let rebuild = p.ok(&["build"]);
    let (remade, kept) = units(&rebuild);
    assert!(
        kept > remade,
        "most units are kept after one more day: {rebuild}"
    );
    assert!(remade > 0);
    // A day before the late request stays as it was; the late request's day shows it.
    assert_eq!(p.read("site/day/2021-02-01/index.html"), old_day);
    let late = p.read("site/api/v1/days/2021-02-17.json");
    let late: serde_json::Value = serde_json::from_str(&late).unwrap();
    let rodents = late["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"].as_str().unwrap().starts_with("rodent"))
        .unwrap();
    assert_eq!(rodents["wards"]["7"], 1, "{late}");
    assert_same_as_full_build(&p, "after one more day", &rebuild);

    // A template edit changes every page: nothing is kept.
    let base = p.read("templates/base.html");
    p.write(
        "templates/base.html",
        base.replace("<footer", "<p>Edited template</p><footer"),
    );
    let edited = p.ok(&["build"]);
    assert_eq!(units(&edited).1, 0, "{edited}");
    assert!(
        p.read("site/day/2021-02-01/index.html")
            .contains("Edited template")
    );
    assert_same_as_full_build(&p, "after a template edit", &edited);
}

//! Charts in a real build: every SVG the build writes parses as XML with a title and a desc,
//! every chart's CSV holds the same numbers as its JSON, pages carry their charts with the
//! embed snippet, alt text and citation, and day, ward and service pages name a 1200×630 card.

mod support;

use std::path::Path;

use serde_json::Value;
use support::Project;

/// A project with one real day of Chicago data, built into `site/`.
fn built() -> Project {
    Project::real_day(3, 2)
}

fn files_with(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == ext))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// One build serves both checks (a build of the real sample day takes a while in debug).
#[test]
fn charts_in_a_real_build() {
    let p = built();
    every_svg_parses_and_every_chart_table_equals_its_json(&p);
    pages_show_charts_with_embed_alt_text_citation_and_a_card(&p);
}

fn every_svg_parses_and_every_chart_table_equals_its_json(p: &Project) {
    let site = p.join("site");
    let svgs = files_with(&site, "svg");
    // favicon.svg plus charts and maps on day, ward and service pages.
    assert!(svgs.len() > 50, "only {} SVG files", svgs.len());
    let mut charts = 0;
    for svg in &svgs {
        let text = std::fs::read_to_string(svg).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        let root = doc.root_element();
        let has = |name: &str| {
            root.children()
                .any(|n| n.has_tag_name(name) && n.text().is_some_and(|t| !t.trim().is_empty()))
        };
        // The site's icon is the one SVG that is not a chart.
        if svg.ends_with("favicon.svg") {
            continue;
        }
        assert!(has("title"), "{} has no title", svg.display());
        charts += 1;
        assert!(has("desc"), "{} has no desc", svg.display());
        assert!(root.attribute("viewBox").is_some() && root.attribute("width").is_none());
        // Its bundle: the same numbers in the CSV and the JSON.
        let csv_text = std::fs::read_to_string(svg.with_extension("csv")).unwrap();
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(svg.with_extension("json")).unwrap())
                .unwrap();
        // The citation names the last day of data the chart shows (a past week's end, a past
        // day), never past the site's; a boundary map shows no data and names no day.
        let source = json["source"].as_str().unwrap();
        assert!(source.starts_with("Source: City of Chicago 311 via Open311"));
        match source.split_once("data through ") {
            Some((_, rest)) => assert!(rest[..10] <= *"2021-01-01", "{source}"),
            None => assert!(svg.to_string_lossy().contains("ward-map-"), "{source}"),
        }
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        match json["charts"].as_array() {
            // A year of week charts (a month of day charts): each week's rows, led by its
            // Monday (each day's, by its date), are its chart's.
            Some(weeks) => {
                let key = match header[0].as_str() {
                    "Week starting" => "week_start",
                    "Date" => "date",
                    other => panic!("{}: {other}", svg.display()),
                };
                let views = (root.children()).filter(|n| n.has_tag_name("view")).count();
                assert_eq!(views, weeks.len(), "{}", svg.display());
                let mut led = 0;
                for week in weeks {
                    let monday = week[key].as_str().unwrap();
                    let own: Vec<csv::StringRecord> = (rows.iter())
                        .filter(|r| &r[0] == monday)
                        .map(|r| r.iter().skip(1).collect())
                        .collect();
                    led += own.len();
                    let what = format!("{} {monday}", svg.display());
                    table_equals_json(&header[1..], &own, week, &what);
                }
                assert_eq!(led, rows.len(), "{}", svg.display());
            }
            None => table_equals_json(&header, &rows, &json, &svg.display().to_string()),
        }
    }
    assert!(charts > 50, "{charts}");
    // Stable names: the day's charts, the latest ward week also under the ward's own URL.
    for rel in [
        "site/day/2021-01/services.svg",
        "site/day/2021-01/map.svg",
        "site/services.svg",
        "site/map.svg",
        "site/ward/wards-map.svg",
        "site/ward/3/week/2020/opened-closed.svg",
        "site/ward/3/opened-closed.svg",
        "site/ward/3/busiest-days.svg",
        "site/ward/3/ward-map-2015.svg",
        "site/ward/3/potholes/weekly.svg",
        "site/ward/3/potholes/ttc.svg",
        "site/service/potholes/week/2020/wards.svg",
        "site/service/potholes/wards.svg",
        "site/service/potholes/ttc-ranking.svg",
    ] {
        assert!(p.join(rel).is_file(), "{rel} is missing");
    }
}

/// A chart's CSV rows and header are its JSON document's `data` and `columns`.
fn table_equals_json(header: &[String], rows: &[csv::StringRecord], doc: &Value, what: &str) {
    let columns = doc["columns"].as_array().unwrap();
    let data = doc["data"].as_array().unwrap();
    let labels: Vec<&str> = columns
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(header, labels, "{what}");
    assert_eq!(rows.len(), data.len(), "{what}");
    for (row, obj) in rows.iter().zip(data) {
        for (cell, col) in row.iter().zip(columns) {
            match &obj[col["key"].as_str().unwrap()] {
                Value::Null => assert_eq!(cell, "", "{what}"),
                Value::String(s) => assert_eq!(cell, s, "{what}"),
                Value::Number(n) => {
                    assert_eq!(cell.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{what}")
                }
                other => panic!("{what}: {other}"),
            }
        }
    }
}

fn pages_show_charts_with_embed_alt_text_citation_and_a_card(p: &Project) {
    // Pages are minified (attribute quotes dropped where HTML allows), so compare without them.
    let page = |rel: &str| p.read(rel).replace('"', "");
    let day = page("site/day/2021-01-01/index.html");
    // The map is inline, so its wards are links to their pages.
    assert!(day.contains("role=group"));
    assert!(day.contains("<a href=../../ward/1/index.html>"));
    assert!(day.contains("Embed code"));
    assert!(day.contains("Alt text: "));
    assert!(day.contains("Source: City of Chicago 311 via Open311, data through 2021-01-01, cwfy"));
    assert!(day.contains("content=https://cwfy.example.org/day/2021-01-01/card.png"));
    let ward = page("site/ward/3/index.html");
    assert!(ward.contains("id=chart-opened-closed"));
    assert!(ward.contains("id=chart-ward-map-2015"));
    assert!(ward.contains("content=https://cwfy.example.org/ward/3/card.png"));
    // An archived week shares its ward's card rather than drawing its own.
    let archived = page("site/ward/3/week/2020-12-28/index.html");
    assert!(archived.contains("content=https://cwfy.example.org/ward/3/card.png"));
    assert!(!p.join("site/ward/3/week/2020-12-28/card.png").exists());
    // Its charts' files are its year's (the week of its Monday): the SVG link and the embed
    // show the week's view of the year's SVG, the CSV and JSON hold the week's rows.
    let view = "ward/3/week/2020/opened-closed.svg#week-2020-12-28";
    assert!(
        archived.contains(&format!("href=../../../../{view}>SVG")),
        "{archived}"
    );
    assert!(archived.contains(&format!("https://cwfy.example.org/{view}")));
    let year = p.read("site/ward/3/week/2020/opened-closed.svg");
    assert!(year.contains("<view id=\"week-2020-12-28\""));
    let json: serde_json::Value =
        serde_json::from_str(&p.read("site/ward/3/week/2020/opened-closed.json")).unwrap();
    let week = json["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["week_start"] == "2020-12-28")
        .expect("the week's chart in its year's JSON");
    assert_eq!(week["id"], "opened-closed");
    let csv = p.read("site/ward/3/week/2020/opened-closed.csv");
    assert!(csv.starts_with("Week starting,"));
    let week_rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("2020-12-28,"))
        .collect();
    assert_eq!(
        week_rows.len(),
        week["data"].as_array().unwrap().len(),
        "{csv}"
    );
    assert!(week_rows[0].starts_with("2020-12-28,2020-12-28,"));
    assert!(
        json["source"]
            .as_str()
            .unwrap()
            .contains("data through 2021-01-01")
    );
    // Nothing but the page in the week's folder.
    let in_week: Vec<_> = std::fs::read_dir(p.join("site/ward/3/week/2020-12-28"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(in_week, vec![std::ffi::OsString::from("index.html")]);
    let service = page("site/service/potholes/index.html");
    assert!(service.contains("id=chart-wards"));
    for card in [
        "site/day/2021-01-01/card.png",
        "site/ward/3/card.png",
        "site/service/potholes/card.png",
    ] {
        let png = std::fs::read(p.join(card)).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{card}");
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((w, h), (1200, 630), "{card}");
    }
    // Pages stay within the HTML budget with their inline charts.
    for page in files_with(&p.join("site"), "html") {
        let size = std::fs::metadata(&page).unwrap().len();
        assert!(size < 100_000, "{}: {size} bytes", page.display());
    }
}

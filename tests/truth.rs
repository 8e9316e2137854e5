//! One figure, one value: every count a ward week, service week or day page states (in its
//! headline, its sentences, its chart descriptions and its tables) equals the page's own JSON,
//! for the same "data through" day. Run on the real day of the data portal (the week of
//! December 28, 2020 is still in progress on January 1, 2021, the week the issue found wrong)
//! and on a synthetic city with known random requests over three weeks.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::Project;

/// A page's visible text: tags removed, the few entities the minifier leaves decoded.
fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&#39;", "'")
}

/// Parses "12,311" as 12311.
fn count(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {text:?}"))
}

/// Every pair of counts in `text` written as `{a}{between}{b}{after}`, where each count is the
/// whitespace-separated word just before `between` and just before `after`.
fn pairs(text: &str, between: &str, after: &str) -> Vec<(u64, u64)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(between) {
        let before = rest[..i].split_whitespace().last().unwrap_or("");
        let tail = &rest[i + between.len()..];
        rest = tail;
        let Some(j) = tail.find(after) else { break };
        let b = tail[..j].trim();
        let is_count = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ',');
        if is_count(before) && is_count(b) {
            found.push((count(before), count(b)));
        }
    }
    found
}

/// The body rows of the `<table>` whose caption starts with `caption`: each row's cells as text.
fn table_rows(html: &str, caption: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<caption>{caption}"))
        .unwrap_or_else(|| panic!("no table captioned {caption:?}"));
    let body = &html[start..];
    let body = &body[body.find("<tbody>").unwrap() + 7..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .filter(|r| !r.trim().is_empty())
        .map(|row| {
            let row = row.split_once("<th scope=row>").map_or(row, |(_, r)| r);
            row.split("<td>")
                .map(|cell| text_of(cell).trim().to_string())
                .collect()
        })
        .collect()
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// What a reader is told of a mean time to close whose JSON value is `days` (rounded to three
/// decimals there): the words for any value that rounds to it.
fn words_for(days: &Value) -> Vec<String> {
    match days.as_f64() {
        None => vec!["—".into()],
        Some(d) => [-0.0005, 0.0, 0.0005]
            .iter()
            .map(|e| cwfy::numbers::days((d + e).max(0.0)))
            .collect(),
    }
}

/// Every week document under `dir` (`…/weeks/MONDAY.json`), parsed.
fn week_documents(dir: &Path) -> Vec<Value> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().parent().and_then(|p| p.file_name()) == Some("weeks".as_ref()))
        .map(|e| json(e.path()))
        .collect()
}

/// Checks every ward week page of `site` against its JSON; returns how many pages it checked.
fn check_ward_weeks(site: &Path) -> usize {
    let mut checked = 0;
    for api in week_documents(&site.join("api/v1/wards")) {
        let ward = u(&api["ward"]);
        let monday = api["week_start"].as_str().unwrap().to_string();
        let page_path = site.join(format!("ward/{ward}/week/{monday}/index.html"));
        let html = std::fs::read_to_string(&page_path).unwrap();
        let text = text_of(&html);
        let what = format!("ward {ward}, week of {monday}");
        let days = api["days"].as_array().unwrap();
        let opened: u64 = days.iter().map(|d| u(&d["opened"])).sum();
        let closed: u64 = days.iter().map(|d| u(&d["closed"])).sum();

        // The headline sentence (also the page's description) and the week in review.
        if opened == 0 && closed == 0 {
            assert!(
                text.contains("No 311 requests were opened or closed"),
                "{what}"
            );
        } else {
            let lede = pairs(&text, " service requests and closed ", ".")
                .into_iter()
                .chain(pairs(&text, " service request and closed ", "."))
                .chain(pairs(&text, " service requests and closed ", " so far"))
                .chain(pairs(&text, " service request and closed ", " so far"))
                .collect::<Vec<_>>();
            assert!(!lede.is_empty(), "{what}: no headline in {text}");
            for pair in lede {
                assert_eq!(pair, (opened, closed), "{what}: headline");
            }
        }
        let review = pairs(&text, " opened and ", " closed");
        assert_eq!(review, vec![(opened, closed)], "{what}: week in review");
        // The week chart's description and its data.
        // Its year's JSON (the year of its Monday) holds the chart as the page draws it.
        let year = json(&site.join(format!(
            "ward/{ward}/week/{}/opened-closed.json",
            &monday[..4]
        )));
        let chart = (year["charts"].as_array().unwrap().iter())
            .find(|c| c["week_start"].as_str() == Some(monday.as_str()))
            .unwrap_or_else(|| panic!("{what}: no chart in its year's JSON"));
        let rows = chart["data"].as_array().unwrap();
        let (chart_opened, chart_closed) = rows
            .iter()
            .filter(|r| days.iter().any(|d| d["date"] == r["date"]))
            .fold((0, 0), |(o, c), r| {
                (o + u(&r["opened"]), c + u(&r["closed"]))
            });
        assert_eq!(
            (chart_opened, chart_closed),
            (opened, closed),
            "{what}: chart data"
        );
        if opened > 0 || closed > 0 {
            let desc = chart["description"].as_str().unwrap();
            let said = pairs(desc, " requests and closed ", " in the week");
            let said = if said.is_empty() {
                pairs(desc, " request and closed ", " in the week")
            } else {
                said
            };
            assert_eq!(said, vec![(opened, closed)], "{what}: {desc}");
        }
        // The day table: exactly the JSON's days.
        let table: Vec<(String, u64, u64)> =
            table_rows(&html, "Requests opened and closed in Ward")
                .into_iter()
                .map(|r| (r[0].clone(), count(&r[1]), count(&r[2])))
                .collect();
        let expected: Vec<(String, u64, u64)> = days
            .iter()
            .map(|d| {
                (
                    d["date"].as_str().unwrap().to_string(),
                    u(&d["opened"]),
                    u(&d["closed"]),
                )
            })
            .collect();
        assert_eq!(table, expected, "{what}: day table");
        // The services table: each service's counts and mean time to close.
        let services: BTreeMap<String, &Value> = api["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["slug"].as_str().unwrap().to_string(), s))
            .collect();
        let rows = service_rows(&html);
        assert_eq!(rows.len(), services.len(), "{what}: one row per service");
        for (slug, cells) in rows {
            let s = services[&slug];
            assert_eq!(count(&cells[0]), u(&s["opened"]), "{what}: {slug} opened");
            assert_eq!(count(&cells[1]), u(&s["closed"]), "{what}: {slug} closed");
            let words = words_for(&s["ttc_mean_days"]);
            assert!(
                words.contains(&cells[2]),
                "{what}: {slug}: {:?} is not one of {words:?}",
                cells[2]
            );
            assert!(!reads_as_zero(&cells[2]), "{what}: {slug}: {}", cells[2]);
        }
        checked += 1;
    }
    checked
}

/// Whether a duration in words says zero (`0.0 days`): a time to close too short for its unit
/// must read "less than a minute" instead. `20.0 days` is fine.
fn reads_as_zero(words: &str) -> bool {
    words
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        == Some(0.0)
}

/// The services table of a ward week page: slug → [opened, closed, mean time to close].
fn service_rows(html: &str) -> Vec<(String, Vec<String>)> {
    let start = html
        .find("<table class=services>")
        .expect("a services table");
    let body = &html[start..];
    let body = &body[..body.find("</table>").unwrap()];
    body.split("<tr>")
        .skip(2)
        .map(|row| {
            // The name links to the ward × service page: `…/ward/N/SLUG/index.html`.
            let link = row
                .split("href=\"")
                .nth(1)
                .unwrap_or_else(|| panic!("a service row without its service's link: {row}"));
            let link = &link[..link.find('"').unwrap()];
            let slug = link
                .trim_end_matches("index.html")
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            let cells: Vec<String> = row
                .split("<td>")
                .skip(1)
                .map(|c| text_of(c).trim().to_string())
                .collect();
            (slug, cells)
        })
        .collect()
}

/// The count in `<span class=fig>N</span> {label}`.
fn figure(html: &str, label: &str) -> u64 {
    let end = html
        .find(&format!("</span> {label}<"))
        .unwrap_or_else(|| panic!("no {label} figure"));
    let start = html[..end].rfind('>').unwrap() + 1;
    count(&html[start..end])
}

/// Checks every service week page of `site` against its JSON; returns how many it checked.
fn check_service_weeks(site: &Path) -> usize {
    let mut checked = 0;
    for api in week_documents(&site.join("api/v1/services")) {
        let slug = api["slug"].as_str().unwrap();
        let monday = api["week_start"].as_str().unwrap();
        let html =
            std::fs::read_to_string(site.join(format!("service/{slug}/week/{monday}/index.html")))
                .unwrap();
        let text = text_of(&html);
        let what = format!("{slug}, week of {monday}");
        let (opened, closed) = (u(&api["city"]["opened"]), u(&api["city"]["closed"]));
        assert_eq!(figure(&html, "opened"), opened, "{what}: opened figure");
        assert_eq!(figure(&html, "closed"), closed, "{what}: closed figure");
        if opened > 0 || closed > 0 {
            let said = pairs(&text, " and closed ", " ");
            assert!(
                said.contains(&(opened, closed)),
                "{what}: the summary says {said:?}, the JSON ({opened}, {closed})"
            );
        }
        // Each ward's opened by day adds up to its opened; the wards to the city less the
        // unassigned.
        let wards = api["wards"].as_object().unwrap();
        let mut sum = 0;
        for (ward, w) in wards {
            let by_day: u64 = w["opened_by_day"].as_array().unwrap().iter().map(u).sum();
            assert_eq!(by_day, u(&w["opened"]), "{what}: ward {ward} by day");
            sum += u(&w["opened"]);
        }
        assert_eq!(sum + u(&api["city"]["unassigned"]), opened, "{what}: wards");
        // The ranking table: each ranked ward's mean days as the JSON rounds it.
        for row in table_rows(&html, "Wards ranked by mean days to close") {
            let w = &wards[&row[1]];
            assert_eq!(
                u(&w["rank"]).to_string(),
                row[0],
                "{what}: ward {} rank",
                row[1]
            );
            let json_days = w["ttc_mean_days"].as_f64().unwrap();
            assert_eq!(
                row[3],
                format!("{json_days:.3}"),
                "{what}: ward {} mean days",
                row[1]
            );
        }
        checked += 1;
    }
    checked
}

/// Checks every service year page of `site` against its JSON: each week's row (citywide
/// figures, fastest ward) and its row of each ward's opened. Returns how many weeks it checked.
fn check_service_years(site: &Path) -> usize {
    let mut checked = 0;
    let docs = walkdir::WalkDir::new(site.join("api/v1/services"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().parent().and_then(|p| p.file_name()) == Some("years".as_ref()));
    for entry in docs {
        let api = json(entry.path());
        let (slug, year) = (api["slug"].as_str().unwrap(), u(&api["year"]));
        let html = std::fs::read_to_string(site.join(format!("service/{slug}/{year}/index.html")))
            .unwrap();
        let caption = html
            .find("(columns) each week")
            .expect("the table of each ward");
        let matrix = &html[caption..];
        let matrix = &matrix[..matrix.find("</tbody>").unwrap()];
        for week in api["weeks"].as_array().unwrap() {
            let monday = week["week_start"].as_str().unwrap();
            let what = format!("{slug}, {year}, week of {monday}");
            let row_start = (html.find(&format!("<tr id=\"week-{monday}\">")))
                .or_else(|| html.find(&format!("<tr id=week-{monday}>")))
                .unwrap_or_else(|| panic!("{what}: no row"));
            let row = &html[row_start..];
            let row = &row[..row.find("</tr>").unwrap()];
            let cells: Vec<String> = (row.split("<td>").skip(1))
                .map(|c| text_of(c).trim().to_string())
                .collect();
            let city = &week["city"];
            let opened = u(&city["opened"]);
            assert_eq!(count(&cells[0]), opened, "{what}: opened");
            assert_eq!(count(&cells[1]), u(&city["closed"]), "{what}: closed");
            assert!(
                words_for(&city["ttc_mean_days"]).contains(&cells[2]),
                "{what}: mean time to close {:?}, the JSON {}",
                cells[2],
                city["ttc_mean_days"]
            );
            assert_eq!(count(&cells[4]), u(&city["unassigned"]), "{what}: no ward");
            let wards = week["wards"].as_object().unwrap();
            match wards.iter().find(|(_, w)| w["rank"] == 1) {
                Some((ward, _)) => assert!(
                    (cells[5].split_once(':'))
                        .is_some_and(|(w, _)| w.trim_end().ends_with(&format!(" {ward}"))),
                    "{what}: fastest {:?}, the JSON ward {ward}",
                    cells[5]
                ),
                None => assert_eq!(cells[5], "none ranked", "{what}"),
            }
            // The row of each ward's opened: the JSON's, and they add up to the city's.
            let row = matrix
                .split("<tr>")
                .find(|r| r.starts_with(&format!("<th scope=row>{monday}")))
                .unwrap_or_else(|| panic!("{what}: no row of each ward"));
            let shown: Vec<u64> = row
                .split("<td>")
                .skip(1)
                .map(|c| count(text_of(c).trim()))
                .collect();
            let mut sum = 0;
            for (i, n) in shown.iter().enumerate() {
                let ward = &wards[&(i + 1).to_string()];
                assert_eq!(*n, u(&ward["opened"]), "{what}: ward {}", i + 1);
                let by_day: u64 = ward["opened_by_day"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(u)
                    .sum();
                assert_eq!(by_day, *n, "{what}: ward {} by day", i + 1);
                sum += n;
            }
            assert_eq!(shown.len(), wards.len(), "{what}: every ward");
            assert_eq!(sum + u(&city["unassigned"]), opened, "{what}: wards");
            checked += 1;
        }
    }
    checked
}

/// Checks every day page of `site` against its JSON: each featured service's card and its row
/// in the services table.
fn check_days(site: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(site.join("api/v1/days")).unwrap() {
        let path = entry.unwrap().path();
        let api = json(&path);
        let date = api["date"].as_str().unwrap();
        let html = std::fs::read_to_string(site.join(format!("day/{date}/index.html"))).unwrap();
        let what = format!("day {date}");
        let by_slug: BTreeMap<&str, &Value> = api["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["slug"].as_str().unwrap(), s))
            .collect();
        // The cards, in order: the slug (the last folder of the link) and the count shown.
        let list = &html[html.find("service-cards").expect("service cards")..];
        let list = &list[..list.find("</ul>").unwrap()];
        let cards: Vec<(String, u64)> = list
            .split("<li")
            .skip(1)
            .map(|card| {
                let href = card.split("href=").nth(1).unwrap();
                let href = href.trim_start_matches('"');
                let href = &href[..href.find(['"', ' ', '>']).unwrap()];
                // Each card links to its service's column of the table by ward.
                let slug = href
                    .strip_prefix("#by-ward-")
                    .unwrap_or_else(|| panic!("{what}: card links to {href}"))
                    .to_string();
                let at = card.find("card-count>").unwrap() + "card-count>".len();
                (slug, count(&card[at..at + card[at..].find('<').unwrap()]))
            })
            .collect();
        let rows = table_rows(&html, "Featured services on");
        assert_eq!(rows.len(), cards.len(), "{what}: a row per card");
        for ((slug, shown), row) in cards.iter().zip(&rows) {
            let s = by_slug
                .get(slug.as_str())
                .unwrap_or_else(|| panic!("{what}: {slug} is not in the JSON"));
            assert_eq!(*shown, u(&s["opened"]), "{what}: {slug} card");
            assert_eq!(count(&row[1]), u(&s["opened"]), "{what}: {slug} requests");
            match s["baseline"].as_f64() {
                Some(b) => {
                    let in_table: f64 = row[2].parse().unwrap();
                    assert!(
                        (in_table - b).abs() < 0.006,
                        "{what}: {slug} baseline {in_table} vs {b}"
                    );
                }
                None => assert!(row[2].is_empty(), "{what}: {slug}: {row:?}"),
            }
            if !row[3].is_empty() {
                assert_eq!(
                    count(&row[3]),
                    u(&s["baseline_days"]),
                    "{what}: {slug} days"
                );
            }
            // Written with thousands separators past 999 % (a rare service's busy day).
            let in_table = (!row[4].is_empty()).then(|| row[4].replace(',', "").parse::<i64>());
            assert_eq!(
                in_table.map(|p| p.ok()),
                s["above_average_pct"].as_i64().map(Some),
                "{what}: {slug} %: {:?}",
                row[4]
            );
        }
        checked += 1;
    }
    checked
}

/// Checks every ward × service page of `site`: its week-by-week table and its time-to-close
/// chart give each week's ward and city mean days alike; returns how many pages it checked.
fn check_ward_services(site: &Path) -> usize {
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(site.join("ward")).max_depth(2) {
        let dir = entry.unwrap().into_path();
        let (weeks, ttc) = (dir.join("weeks.csv"), dir.join("ttc.csv"));
        if !weeks.is_file() || !ttc.is_file() {
            continue;
        }
        let rows = |path: &Path| -> Vec<Vec<String>> {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| l.split(',').map(str::to_string).collect())
                .collect()
        };
        let chart: BTreeMap<String, (String, String)> = rows(&ttc)
            .into_iter()
            .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
            .collect();
        for row in rows(&weeks) {
            if let Some((ward, city)) = chart.get(&row[0]) {
                assert_eq!(
                    (&row[3], &row[4]),
                    (ward, city),
                    "{}: week of {}: table and chart",
                    dir.display(),
                    row[0]
                );
            }
        }
        checked += 1;
    }
    checked
}

/// A project with the real data portal day (2,953 requests of January 1, 2021, some closed on
/// January 2 and later) built as of that day.
#[test]
fn every_figure_of_the_real_day_agrees_with_its_json() {
    let p = Project::real_day(7, 2);
    let site = p.join("site");
    assert!(check_ward_weeks(&site) >= 50);
    assert!(check_service_weeks(&site) >= 12);
    assert!(check_service_years(&site) >= 10, "the day's other services");
    assert!(check_days(&site) >= 1);
    assert!(check_ward_services(&site) >= 50);

    // The example of the issue: Ward 12, week of December 28, 2020.
    let html = p.read("site/ward/12/week/2020-12-28/index.html");
    let api = json(&site.join("api/v1/wards/12/weeks/2020-12-28.json"));
    let days = api["days"].as_array().unwrap();
    assert_eq!(
        days.last().unwrap()["date"],
        "2021-01-01",
        "no day after the data's last is counted"
    );
    let closed: u64 = days.iter().map(|d| u(&d["closed"])).sum();
    let text = text_of(&html);
    assert!(
        text.contains(&format!("and closed {closed} so far")),
        "{text}"
    );
    assert!(
        !text.contains(" 311 requests so far"),
        "never a count before 311"
    );
}

/// A synthetic city: known requests at random over three weeks and every ward, some closed
/// within minutes, some within hours, some after days, some after the last day.
#[test]
fn every_figure_of_a_synthetic_city_agrees_with_its_json() {
    let p = Project::new(21, 3);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let services = [
        ("4fd3b167e750846744000005", "Graffiti Removal"),
        ("4fd3b656e750846c53000004", "Pothole in Street"),
        ("4fd3bd72e750846c530000cd", "Rodent Baiting/Rat Complaint"),
    ];
    let start = jiff::civil::date(2021, 3, 1).at(0, 0, 0, 0);
    let mut lines = String::new();
    for i in 0..3000 {
        let (code, name) = services[next(3) as usize];
        let opened = start + jiff::SignedDuration::from_mins(next(21 * 24 * 60) as i64);
        let ward = 1 + next(50);
        let close_after = match next(4) {
            0 => jiff::SignedDuration::from_mins(1 + next(50) as i64),
            1 => jiff::SignedDuration::from_mins(60 + next(20 * 60) as i64),
            2 => jiff::SignedDuration::from_hours(24 + next(24 * 9) as i64),
            _ => jiff::SignedDuration::ZERO,
        };
        let mut record = serde_json::json!({
            "service_request_id": format!("SYN-{i}"),
            "service_code": code,
            "service_name": name,
            "requested_datetime": format!("{}-06:00", opened.strftime("%Y-%m-%dT%H:%M:%S")),
            "updated_datetime": format!("{}-06:00", opened.strftime("%Y-%m-%dT%H:%M:%S")),
            "status": "open",
            "extended_attributes": {"ward": ward.to_string()},
        });
        if close_after != jiff::SignedDuration::ZERO {
            let closed = opened + close_after;
            let at = format!("{}-06:00", closed.strftime("%Y-%m-%dT%H:%M:%S"));
            record["status"] = "closed".into();
            record["updated_datetime"] = at.clone().into();
            record["notes"] = serde_json::json!([{"type": "closed", "datetime": at}]);
        }
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    p.write("synthetic.jsonl", lines);
    p.ok(&["import", "synthetic.jsonl"]);
    // The last week is in progress: its data runs through Wednesday, March 17.
    p.ok(&["build", "--as-of", "2021-03-17"]);
    let site = p.join("site");
    assert!(check_ward_weeks(&site) >= 150, "three weeks of fifty wards");
    assert!(check_service_weeks(&site) >= 9);
    assert!(check_days(&site) >= 17);
    assert!(check_ward_services(&site) >= 50);
    let ranking = p.read("site/ward/7/week/2021-03-01/index.html");
    assert!(!text_of(&ranking).contains("0.0 days"));
}

/// Every page of a site built elsewhere: `tests/browser/run.sh` builds the whole bundled sample
/// (2010–2014, 2018 and 2021) and runs this on it with
/// `CWFY_TRUTH_SITE=DIR cargo test --test truth -- --ignored`.
#[test]
#[ignore = "checks the site folder named by CWFY_TRUTH_SITE (tests/browser/run.sh sets it)"]
fn every_figure_of_a_built_site_agrees_with_its_json() {
    let site = std::env::var_os("CWFY_TRUTH_SITE")
        .map(std::path::PathBuf::from)
        .expect("set CWFY_TRUTH_SITE to a built site folder");
    let (wards, services, years, days, ward_services) = (
        check_ward_weeks(&site),
        check_service_weeks(&site),
        check_service_years(&site),
        check_days(&site),
        check_ward_services(&site),
    );
    eprintln!(
        "{}: {wards} ward week pages, {services} service week pages, {years} weeks of service year pages \
         and {days} day pages agree with their JSON, and {ward_services} ward × service pages with their charts",
        site.display()
    );
    assert!(
        wards > 0 && services > 0 && years > 0 && days > 0,
        "no pages in {}",
        site.display()
    );
}

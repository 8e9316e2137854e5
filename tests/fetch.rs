//! `cwfy fetch` against a real HTTP server on 127.0.0.1 serving real documents: the Chicago
//! Open311 page of 50 requests (data/sample/open311-requests-2014-page.json), Chicago's service
//! list (data/services/services-2023-chicagorequests.json, served as services.json), and the
//! v6vf-nfxy day (data/sample/sr-v6vf-nfxy-2021-01-01.csv, served as SODA JSON). The server pages
//! and filters them as the real endpoints do and injects faults; after each run the store must
//! hold exactly the records the server had, once each.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use support::http::{Delivery, Reply, Request, Server};
use support::open311::{Fault, Open311, REQUESTS, SERVICES};
use support::portal::Portal;
use support::{Project, code_and_stderr};

const SODA: &str = "/resource/v6vf-nfxy.json";

fn chicago() -> TimeZone {
    TimeZone::get("America/Chicago").unwrap()
}

/// A project whose config points at `server` with small timeouts, back-offs and pages.
fn project(server: &Server, page_size: u32) -> Project {
    let p = Project::new(7, 2);
    // These tests exercise the Open311 source; the shipped config fetches from the data portal.
    p.edit_config("  kind: socrata\n", "  kind: open311\n");
    p.edit_config(
        "base_url: http://311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {}", server.url("/open311/v2/")),
    );
    p.edit_config(
        "    page_size: 500\n",
        &format!("    page_size: {page_size}\n"),
    );
    p.edit_config("  timeout_seconds: 30\n", "  timeout_seconds: 1\n");
    p.edit_config("  retries: 5\n", "  retries: 4\n");
    p.edit_config("  backoff_ms: 500\n", "  backoff_ms: 20\n");
    p
}

fn store_path(p: &Project) -> PathBuf {
    p.join("data/store.sqlite")
}

fn fetch(p: &Project, args: &[&str]) -> (i32, String) {
    let mut all = vec!["fetch"];
    all.extend_from_slice(args);
    let out = p
        .command(&all)
        .env_remove("CWFY_OPEN311_API_KEY")
        .env_remove("CWFY_SOCRATA_APP_TOKEN")
        .output()
        .unwrap();
    code_and_stderr(&out)
}

fn fetch_ok(p: &Project, args: &[&str]) -> String {
    let (code, stderr) = fetch(p, args);
    assert_eq!(code, 0, "cwfy fetch {args:?} failed:\n{stderr}");
    stderr
}

fn db(p: &Project) -> rusqlite::Connection {
    rusqlite::Connection::open(store_path(p)).unwrap()
}

fn query_strings(p: &Project, sql: &str) -> Vec<String> {
    let conn = db(p);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn count(p: &Project, sql: &str) -> i64 {
    db(p).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Asserts the store holds exactly `expected`, once each, each with its raw record.
fn assert_store_holds(p: &Project, expected: &BTreeSet<String>) {
    let ids = query_strings(p, "SELECT id FROM requests ORDER BY id");
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "an id is stored twice");
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(
        count(p, "SELECT count(*) FROM raw_records"),
        ids.len() as i64
    );
}

const JAN_FEB: [&str; 4] = ["--backfill-from", "2014-01-01", "--until", "2014-02-28"];

fn jan_feb(fake: &Open311) -> BTreeSet<String> {
    fake.ids_requested("2014-01-01T06:00:00Z", "2014-03-01T06:00:00Z")
}

/// Matches the requests for one day's window (and page, when given).
fn day_page(day: &'static str, page: Option<&'static str>) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        r.path == REQUESTS
            && r.param("start_date").is_some_and(|s| s.starts_with(day))
            && page.is_none_or(|p| r.param("page") == Some(p))
    }
}

/// How many times the server was asked for exactly this page.
fn asked(server: &Server, matches: impl Fn(&Request) -> bool) -> usize {
    server.requests().iter().filter(|r| matches(r)).count()
}

#[test]
fn open311_backfill_pages_through_a_year_of_real_requests() {
    let fake = Open311::new(None);
    let server = fake.start();
    let p = project(&server, 2);
    let stderr = fetch_ok(
        &p,
        &["--backfill-from", "2014-01-01", "--until", "2014-12-31"],
    );
    let all = fake.ids_requested("2014-01-01T06:00:00Z", "2015-01-01T06:00:00Z");
    assert_eq!(all.len(), 50);
    assert_store_holds(&p, &all);
    assert!(
        stderr.contains("50 new, 0 updated, 0 unchanged, 0 ignored without id, 0 rejected"),
        "{stderr}"
    );
    assert!(stderr.contains("365 done, 0 skipped"), "{stderr}");
    // Every day asked for once per page: days with 2 or 3 requests needed a second page.
    let requests = server.requests_for(REQUESTS);
    assert!(
        requests
            .iter()
            .all(|r| r.param("extensions") == Some("true") && r.param("page_size") == Some("2"))
    );
    let days: BTreeSet<&str> = requests
        .iter()
        .map(|r| &r.param("start_date").unwrap()[..10])
        .collect();
    assert_eq!(days.len(), 365);
    assert_eq!(
        asked(&server, day_page("2014-05-07", None)),
        2,
        "3 requests on 2014-05-07 take 2 pages of 2"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.param("page") == Some("2"))
            .count(),
        5
    );
    // City-local days with their offsets, daylight saving time included.
    assert!(requests.iter().any(
        |r| r.param("start_date") == Some("2014-03-09T00:00:00-06:00")
            && r.param("end_date") == Some("2014-03-10T00:00:00-05:00")
    ));
    // The raw record is stored exactly as served, with the page URL it came from.
    let doc = &fake.records.lock().unwrap()[0].doc;
    let id = doc["service_request_id"].as_str().unwrap();
    let store = cwfy::store::Store::open(&store_path(&p)).unwrap();
    assert_eq!(
        store.raw(id).unwrap().unwrap(),
        serde_json::to_string(doc).unwrap()
    );
    // The catalogue came from services.json.
    assert_eq!(count(&p, "SELECT count(*) FROM services"), 191);
    assert_eq!(
        query_strings(&p, "SELECT status FROM runs WHERE kind = 'fetch'"),
        ["ok"]
    );
}

#[test]
fn open311_server_errors_are_retried() {
    let fake = Open311::new(None);
    let server = fake.start();
    fake.fault(3, day_page("2014-01-24", Some("1")), Reply::status(500));
    fake.fault(1, day_page("2014-02-04", Some("2")), Reply::status(503));
    fake.fault(2, day_page("2014-02-11", None), Reply::html(502));
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(asked(&server, day_page("2014-01-24", Some("1"))), 4);
    assert_eq!(asked(&server, day_page("2014-02-04", Some("2"))), 2);
    assert_eq!(asked(&server, day_page("2014-02-11", None)), 3);
}

#[test]
fn open311_429_waits_as_long_as_retry_after_says() {
    let fake = Open311::new(None);
    let server = fake.start();
    fake.fault(
        1,
        day_page("2014-01-24", Some("1")),
        Reply::status(429).header("Retry-After", "1"),
    );
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    let tries: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| day_page("2014-01-24", Some("1"))(r))
        .collect();
    assert_eq!(tries.len(), 2);
    // The back-off alone (20 ms) would have retried at once; Retry-After asked for a second.
    assert!(
        tries[1].at.duration_since(tries[0].at) >= Duration::from_secs(1),
        "retried after {:?}",
        tries[1].at.duration_since(tries[0].at)
    );
}

#[test]
fn open311_slow_response_past_the_timeout_is_retried() {
    let fake = Open311::new(None);
    let server = fake.start();
    // An empty page that arrives after the 1 s timeout: taking it would lose the day's requests.
    fake.fault(
        1,
        day_page("2014-01-24", Some("1")),
        Reply::json("[]").delayed(Duration::from_millis(2500)),
    );
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(asked(&server, day_page("2014-01-24", Some("1"))), 2);
}

#[test]
fn open311_truncated_body_is_retried() {
    let fake = Open311::new(None);
    let server = fake.start();
    let body = fake.requests(&page_request("2014-01-24", 1));
    fake.fault(
        2,
        day_page("2014-01-24", Some("1")),
        body.delivered(Delivery::Truncated),
    );
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(asked(&server, day_page("2014-01-24", Some("1"))), 3);
}

#[test]
fn open311_html_error_page_with_status_200_is_retried_and_bad_services_json_is_a_warning() {
    let fake = Open311::new(None);
    let server = fake.start();
    fake.fault(2, day_page("2014-02-04", Some("1")), Reply::html(200));
    fake.fault(
        usize::MAX,
        |r: &Request| r.path == SERVICES,
        Reply::html(200),
    );
    let p = project(&server, 2);
    let stderr = fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(asked(&server, day_page("2014-02-04", Some("1"))), 3);
    assert!(stderr.contains("services.json skipped"), "{stderr}");
    assert!(stderr.contains("HTML"), "{stderr}");
    assert_eq!(count(&p, "SELECT count(*) FROM services"), 0);
}

#[test]
fn open311_records_without_ids_are_ignored_and_counted() {
    let fake = Open311::new(None);
    let server = fake.start();
    // Chicago sends requests still being processed without a service_request_id.
    let first = fake.records.lock().unwrap()[0].doc.clone();
    for n in 0..3 {
        let mut doc = first.clone();
        doc.as_object_mut().unwrap().remove("service_request_id");
        doc["description"] = json!(format!("still being processed {n}"));
        fake.inject(doc, "2014-01-24T12:00:00-06:00");
    }
    let p = project(&server, 2);
    let stderr = fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert!(stderr.contains("3 ignored without id"), "{stderr}");
    assert_eq!(
        query_strings(
            &p,
            "SELECT reason FROM rejected WHERE disposition = 'ignored'"
        ),
        ["no service_request_id"; 3]
    );
    // 2 requests and 3 without ids on 2014-01-24: pages of 2, 2 and 1.
    assert_eq!(asked(&server, day_page("2014-01-24", None)), 3);
}

#[test]
fn open311_malformed_records_are_rejected_with_their_reason_and_page() {
    let fake = Open311::new(None);
    let server = fake.start();
    let mut bad_date = fake.records.lock().unwrap()[1].doc.clone();
    bad_date["service_request_id"] = json!("14-BAD-DATE");
    bad_date["requested_datetime"] = json!("not a date");
    fake.inject(bad_date, "2014-02-04T12:00:00-06:00");
    fake.inject(
        json!({"service_request_id": "14-NO-TYPE", "requested_datetime": "2014-02-04T10:00:00-06:00"}),
        "2014-02-04T10:00:00-06:00",
    );
    fake.inject(json!(42), "2014-02-04T11:00:00-06:00");
    fake.inject(json!("garbage"), "2014-02-04T11:30:00-06:00");
    let p = project(&server, 2);
    let stderr = fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert!(stderr.contains("4 rejected"), "{stderr}");
    let rows = cwfy::store::Store::open(&store_path(&p))
        .unwrap()
        .rejections(10)
        .unwrap();
    let reasons: Vec<&str> = rows.iter().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter()
            .all(|(origin, disposition, _)| disposition == "rejected"
                && origin.starts_with(&server.url(REQUESTS))
                && origin.contains("start_date=2014-02-04"))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("14-BAD-DATE") && r.contains("requested_datetime")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("14-NO-TYPE")),
        "{reasons:?}"
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("must be a JSON object"))
            .count(),
        2
    );
}

#[test]
fn open311_connection_dropped_mid_page_is_retried() {
    let fake = Open311::new(None);
    let server = fake.start();
    let body = fake.requests(&page_request("2014-02-04", 1));
    fake.fault(
        1,
        day_page("2014-02-04", Some("1")),
        body.clone().delivered(Delivery::DroppedMidBody),
    );
    fake.fault(
        1,
        day_page("2014-02-04", Some("1")),
        body.delivered(Delivery::Hangup),
    );
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(asked(&server, day_page("2014-02-04", Some("1"))), 3);
}

#[test]
fn a_window_failing_forever_fails_the_run_keeps_the_rest_and_a_rerun_completes() {
    let fake = Open311::new(None);
    let server = fake.start();
    fake.fault(usize::MAX, day_page("2014-01-24", None), Reply::status(500));
    let p = project(&server, 2);
    let (code, stderr) = fetch(&p, &JAN_FEB);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 of 59 windows failed (2014-01-24)"),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert!(stderr.contains(&server.url(REQUESTS)), "{stderr}");
    assert!(stderr.contains("rerun the same command"), "{stderr}");
    assert_eq!(asked(&server, day_page("2014-01-24", None)), 5);
    // Everything but that day is stored; only the days before it are marked done, so the
    // watermark never passes the failed day.
    let all = jan_feb(&fake);
    let failed_day = fake.ids_requested("2014-01-24T06:00:00Z", "2014-01-25T06:00:00Z");
    assert_eq!(failed_day.len(), 2);
    assert_store_holds(&p, &all.difference(&failed_day).cloned().collect());
    assert_eq!(count(&p, "SELECT count(*) FROM windows"), 23);
    assert_eq!(
        query_strings(&p, "SELECT status FROM runs WHERE kind = 'fetch'"),
        ["partial"]
    );

    fake.heal();
    let before = server.requests().len();
    let stderr = fetch_ok(&p, &JAN_FEB);
    assert_store_holds(&p, &all);
    assert!(stderr.contains("36 done, 23 skipped"), "{stderr}");
    let rerun = &server.requests()[before..];
    assert!(
        rerun
            .iter()
            .filter(|r| r.path == REQUESTS)
            .all(|r| r.param("start_date").unwrap() >= "2014-01-24"),
        "the rerun fetched a day that was done"
    );
    assert_eq!(count(&p, "SELECT count(*) FROM windows"), 59);
}

#[test]
fn a_refused_request_is_not_retried_and_names_what_to_check() {
    let fake = Open311::new(Some("the-right-key"));
    let server = fake.start();
    let p = project(&server, 2);
    let (code, stderr) = fetch(
        &p,
        &["--backfill-from", "2014-01-01", "--until", "2014-01-03"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("HTTP 403 Forbidden"), "{stderr}");
    assert!(stderr.contains("Invalid api_key"), "{stderr}");
    assert!(stderr.contains("api_key_env"), "{stderr}");
    assert!(stderr.contains("3 of 3 windows failed"), "{stderr}");
    assert_eq!(server.requests_for(REQUESTS).len(), 3);
    assert_eq!(
        query_strings(&p, "SELECT status FROM runs WHERE kind = 'fetch'"),
        ["failed"]
    );
}

#[test]
fn the_api_key_and_jurisdiction_are_sent_but_the_key_is_never_stored() {
    let key = "k3y-0f-the-test-9d1c";
    let fake = Open311::new(Some(key));
    let server = fake.start();
    let p = project(&server, 2);
    p.edit_config(
        "    extensions: true\n",
        "    extensions: true\n    jurisdiction_id: cityofchicago.org\n",
    );
    let out = p
        .command(&[
            "fetch",
            "--backfill-from",
            "2014-01-01",
            "--until",
            "2014-01-31",
        ])
        .env("CWFY_OPEN311_API_KEY", key)
        .output()
        .unwrap();
    let (code, stderr) = code_and_stderr(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_store_holds(
        &p,
        &fake.ids_requested("2014-01-01T06:00:00Z", "2014-02-01T06:00:00Z"),
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.param("api_key") == Some(key)
                && r.param("jurisdiction_id") == Some("cityofchicago.org"))
    );
    assert!(!stderr.contains(key));
    for file in ["data/store.sqlite", "data/store.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(p.join(file)) {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{file} holds the API key"
            );
        }
    }
}

#[test]
fn a_rerun_skips_the_windows_already_done() {
    let fake = Open311::new(None);
    let server = fake.start();
    let p = project(&server, 2);
    fetch_ok(&p, &JAN_FEB);
    let first = server.requests_for(REQUESTS).len();
    assert!(first >= 59);
    let stderr = fetch_ok(&p, &JAN_FEB);
    assert!(stderr.contains("0 done, 59 skipped"), "{stderr}");
    assert_eq!(server.requests_for(REQUESTS).len(), first);
    assert_store_holds(&p, &jan_feb(&fake));
    assert_eq!(
        query_strings(
            &p,
            "SELECT status FROM runs WHERE kind = 'fetch' ORDER BY id"
        ),
        ["ok", "ok"]
    );
}

#[test]
fn increment_pages_on_update_times_and_the_next_run_starts_at_the_watermark_less_the_overlap() {
    let fake = Open311::new(None);
    let server = fake.start();
    let p = project(&server, 5);
    let stderr = fetch_ok(&p, &["--since", "2015-09-29", "--until", "2015-10-10"]);
    // The real page was last updated 2015-09-30 to 2015-10-10: all 50 requests.
    assert_store_holds(
        &p,
        &fake.ids_requested("2014-01-01T06:00:00Z", "2015-01-01T06:00:00Z"),
    );
    assert!(stderr.contains("50 new"), "{stderr}");
    let requests = server.requests_for(REQUESTS);
    assert!(
        requests
            .iter()
            .all(|r| r.param("start_date").is_none() && r.param("updated_after").is_some())
    );
    // 23 requests updated on 2015-10-01: pages of 5, 5, 5, 5 and 3.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.param("updated_after") == Some("2015-10-01T00:00:00-05:00"))
            .count(),
        5
    );

    // An increment up to now, then the nightly run with no options: it continues from the
    // stored watermark less the 60 minutes of overlap.
    let tz = chicago();
    let two_hours_ago = Timestamp::now() - jiff::SignedDuration::from_hours(2);
    fetch_ok(&p, &["--since", &two_hours_ago.to_string()]);
    let watermark = count(&p, "SELECT max(window_end) FROM windows");
    let before = server.requests().len();
    fetch_ok(&p, &[]);
    let nightly: Vec<Request> = server.requests()[before..]
        .iter()
        .filter(|r| r.path == REQUESTS)
        .cloned()
        .collect();
    assert!(!nightly.is_empty());
    let earliest = nightly
        .iter()
        .map(|r| {
            r.param("updated_after")
                .unwrap()
                .parse::<Timestamp>()
                .unwrap()
        })
        .min()
        .unwrap();
    assert_eq!(earliest.as_second(), watermark - 3600);
    assert_eq!(
        nightly
            .iter()
            .filter(|r| r
                .param("updated_after")
                .unwrap()
                .parse::<Timestamp>()
                .unwrap()
                == earliest)
            .map(|r| r.param("updated_after").unwrap().to_string())
            .next()
            .unwrap(),
        earliest
            .to_zoned(tz)
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    );
    assert_eq!(count(&p, "SELECT count(*) FROM requests"), 50);
}

#[test]
fn sigkill_midway_then_a_rerun_completes_with_nothing_lost_or_doubled() {
    let fake = Open311::new(None);
    // Slow answers, so the kill usually lands mid-stream (perhaps mid-commit); and after 40
    // answers none until the test heals the server, so the fetch cannot finish before the kill.
    fake.delay_ms.store(40, Ordering::SeqCst);
    fake.hold_after.store(40, Ordering::SeqCst);
    let server = fake.start();
    let p = project(&server, 2);
    p.edit_config("  concurrency: 4\n", "  concurrency: 2\n");
    p.edit_config("  timeout_seconds: 1\n", "  timeout_seconds: 600\n");
    let args = [
        "fetch",
        "--backfill-from",
        "2014-01-01",
        "--until",
        "2014-03-31",
    ];
    let mut child = p
        .command(&args)
        .env_remove("CWFY_OPEN311_API_KEY")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some windows are committed, then kill the process (SIGKILL on Unix).
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the fetch finished ({status}) before it could be killed");
        }
        let done = rusqlite::Connection::open(store_path(&p))
            .and_then(|c| c.query_row("SELECT count(*) FROM windows", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if done >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());

    let store = cwfy::store::Store::open(&store_path(&p)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    // Every window marked done has all its requests: a window is written whole or not at all.
    let done: Vec<(i64, i64)> = {
        let mut stmt = store
            .connection()
            .prepare("SELECT window_start, window_end FROM windows ORDER BY window_start")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        done.len() >= 10 && done.len() < 90,
        "{} windows done",
        done.len()
    );
    // Marked in order: an unbroken run of days from the first, so the watermark (the end of the
    // last one) never passes a day that was not fetched.
    assert_eq!(
        Timestamp::from_second(done[0].0).unwrap().to_string(),
        "2014-01-01T06:00:00Z"
    );
    assert!(done.windows(2).all(|w| w[0].1 == w[1].0), "{done:?}");
    let stored: BTreeSet<String> = query_strings(&p, "SELECT id FROM requests")
        .into_iter()
        .collect();
    for (start, end) in &done {
        let from = Timestamp::from_second(*start).unwrap().to_string();
        let to = Timestamp::from_second(*end).unwrap().to_string();
        let want = fake.ids_requested(&from, &to);
        assert!(
            want.is_subset(&stored),
            "window {from}..{to} is marked but incomplete"
        );
    }
    drop(store);

    fake.heal();
    let before = server.requests().len();
    let stderr = fetch_ok(&p, &args[1..]);
    assert!(
        stderr.contains(&format!("{} skipped", done.len())),
        "{stderr}"
    );
    assert_store_holds(
        &p,
        &fake.ids_requested("2014-01-01T06:00:00Z", "2014-04-01T05:00:00Z"),
    );
    assert_eq!(count(&p, "SELECT count(*) FROM windows"), 90);
    // The rerun asked for none of the windows the killed run had finished.
    let tz = chicago();
    let done_days: BTreeSet<String> = done
        .iter()
        .map(|(s, _)| {
            Timestamp::from_second(*s)
                .unwrap()
                .to_zoned(tz.clone())
                .date()
                .to_string()
        })
        .collect();
    for r in server.requests()[before..]
        .iter()
        .filter(|r| r.path == REQUESTS)
    {
        let day = &r.param("start_date").unwrap()[..10];
        assert!(!done_days.contains(day), "refetched {day}");
    }
}

/// A request for one page of one day's backfill window, to build a reply body from.
fn page_request(day: &str, page: u32) -> Request {
    let date: jiff::civil::Date = day.parse().unwrap();
    let tz = chicago();
    let show = |d: jiff::civil::Date| {
        d.to_zoned(tz.clone())
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    Request {
        method: "GET".into(),
        path: REQUESTS.into(),
        query: vec![
            ("start_date".into(), show(date)),
            ("end_date".into(), show(date.tomorrow().unwrap())),
            ("page".into(), page.to_string()),
            ("page_size".into(), "2".into()),
        ],
        raw_query: String::new(),
        headers: Vec::new(),
        body: String::new(),
        at: std::time::Instant::now(),
    }
}

#[test]
fn socrata_pages_by_offset_with_the_app_token_through_faults() {
    let fake = Portal::new("app-token-for-tests");
    fake.faults.lock().unwrap().extend([
        Fault {
            when: Box::new(|r: &Request| r.param("$offset") == Some("0")),
            times: 1,
            reply: Reply::status(429).header("Retry-After", "1"),
        },
        Fault {
            when: Box::new(|r: &Request| r.param("$offset") == Some("1000")),
            times: 1,
            reply: Reply::html(200),
        },
        Fault {
            when: Box::new(|r: &Request| r.param("$offset") == Some("2000")),
            times: 1,
            reply: Reply::status(500),
        },
    ]);
    let server = fake.start();
    let p = project(&server, 2);
    p.edit_config("    page_size: 50000\n", "    page_size: 500\n");
    let out = p
        .command(&[
            "fetch",
            "--kind",
            "socrata",
            "--url",
            &server.url(SODA),
            "--backfill-from",
            "2020-12-31",
            "--until",
            "2021-01-02",
        ])
        .env("CWFY_SOCRATA_APP_TOKEN", "app-token-for-tests")
        .output()
        .unwrap();
    let (code, stderr) = code_and_stderr(&out);
    assert_eq!(code, 0, "{stderr}");
    let ids = fake.ids();
    assert_eq!(ids.len(), 2953);
    assert_store_holds(&p, &ids);
    assert!(stderr.contains("2953 new"), "{stderr}");
    assert_eq!(
        query_strings(&p, "SELECT DISTINCT source FROM requests"),
        ["socrata"]
    );
    // 2953 rows of 2021-01-01 in pages of 500: offsets 0 … 2500, with three faults retried.
    let asked: Vec<Request> = server.requests_for(SODA);
    let offsets: BTreeSet<&str> = asked
        .iter()
        .filter(|r| r.param("$where").unwrap().contains("'2021-01-01T00:00:00'"))
        .map(|r| r.param("$offset").unwrap())
        .collect();
    assert_eq!(
        offsets,
        ["0", "1000", "1500", "2000", "2500", "500"]
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(asked.len(), 3 + 6 + 1 + 1);
    assert_eq!(count(&p, "SELECT count(*) FROM services"), 0);
}

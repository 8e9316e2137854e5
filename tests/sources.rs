//! The live sources of today, against real HTTP servers on 127.0.0.1 serving real records: the
//! shipped config fetching the City's data portal (SODA 3 with an app token, SODA 2.1 without
//! one), SODA 3 paging through faults and resuming, the Open311 calls Chicago's documentation
//! describes (test and live profiles with their own keys, service definitions on the service
//! page, one request by id), `cwfy source check`, and `/status/` naming the source.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use serde_json::{Value, json};

use support::http::{Reply, Request, Server};
use support::open311::{Fault, Open311, REQUESTS, recent_records};
use support::portal::{Portal, SODA2, SODA3};
use support::{Project, code_and_stderr};

const TOKEN: &str = "app-token-for-tests";
const DAY: [&str; 4] = ["--backfill-from", "2020-12-31", "--until", "2021-01-02"];

/// A project running the shipped config.yaml, unchanged but for the portal's host.
fn shipped(portal: &Server) -> Project {
    let p = Project::new(7, 2);
    let text = std::fs::read_to_string(support::repo().join("config.yaml")).unwrap();
    let from = "    domain: https://data.cityofchicago.org\n";
    assert!(text.contains(from), "the shipped config names the portal");
    p.write(
        "config.yaml",
        text.replacen(from, &format!("    domain: {}\n", portal.url("")), 1),
    );
    p
}

/// Runs `cwfy ARGS` with only the given credentials in the environment.
fn cwfy(p: &Project, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = p.command(args);
    for var in [
        "CWFY_SOCRATA_APP_TOKEN",
        "CWFY_OPEN311_API_KEY",
        "CWFY_OPEN311_TEST_API_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (code, stderr) = code_and_stderr(&out);
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn query_one(p: &Project, sql: &str) -> String {
    let conn = rusqlite::Connection::open(p.join("data/store.sqlite")).unwrap();
    conn.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap()
}

/// The SODA 3 page number a request asked for, and the window's first day.
fn soda3_page(r: &Request) -> Option<(u64, String)> {
    let body: Value = serde_json::from_str(&r.body).ok()?;
    let start = body["query"].as_str()?.split('\'').nth(1)?;
    Some((
        body["page"]["pageNumber"].as_u64()?,
        start.get(..10)?.to_string(),
    ))
}

#[test]
fn the_shipped_config_fetches_the_portal_through_soda3_and_the_status_page_names_it() {
    let portal = Portal::new(TOKEN);
    let server = portal.start();
    let p = shipped(&server);
    let (code, _, stderr) = cwfy(
        &p,
        &["fetch", DAY[0], DAY[1], DAY[2], DAY[3]],
        &[("CWFY_SOCRATA_APP_TOKEN", TOKEN)],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(p.stored_ids(), portal.ids());
    assert_eq!(portal.ids().len(), 2953);
    assert!(stderr.contains("2953 new"), "{stderr}");
    // Three day windows, one page each (page_size 50000), all SODA 3 POSTs with the token.
    let asked = server.requests();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(asked.iter().all(|r| r.method == "POST"
        && r.path == SODA3
        && r.header("X-App-Token") == Some(TOKEN)
        && r.header("Content-Type") == Some("application/json")));
    // Provenance names the query, never the token.
    assert!(
        !std::fs::read(p.join("data/store.sqlite"))
            .unwrap()
            .windows(TOKEN.len())
            .any(|w| w == TOKEN.as_bytes())
    );

    let (code, _, stderr) = cwfy(&p, &["build"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let status = p.read("site/status/index.html");
    assert!(
        status.contains(&format!(
            "Socrata data portal {}, dataset v6vf-nfxy (SODA 3)",
            server.url("")
        )),
        "{status}"
    );
    assert!(!status.contains("none yet"), "{status}");
    let api: Value = serde_json::from_str(&p.read("site/api/v1/status.json")).unwrap();
    assert!(api["last_successful_fetch"].is_string(), "{api}");
    assert!(
        api["newest_request"]
            .as_str()
            .unwrap()
            .starts_with("2021-01-01"),
        "{api}"
    );
}

#[test]
fn without_an_app_token_the_shipped_config_fetches_through_soda2() {
    let portal = Portal::new(TOKEN);
    let server = portal.start();
    let p = shipped(&server);
    let (code, _, stderr) = cwfy(&p, &["fetch", DAY[0], DAY[1], DAY[2], DAY[3]], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(p.stored_ids(), portal.ids());
    assert!(
        stderr.contains("no app token in $CWFY_SOCRATA_APP_TOKEN"),
        "{stderr}"
    );
    let asked = server.requests();
    assert_eq!(asked.len(), 3);
    assert!(
        asked
            .iter()
            .all(|r| r.method == "GET" && r.path == SODA2 && r.header("X-App-Token").is_none())
    );
}

#[test]
fn soda3_pages_through_faults_and_a_failed_window_is_fetched_again_by_the_next_run() {
    let portal = Portal::new(TOKEN);
    let server = portal.start();
    let p = shipped(&server);
    p.edit_config("    page_size: 50000\n", "    page_size: 500\n");
    p.edit_config("  backoff_ms: 500\n", "  backoff_ms: 20\n");
    p.edit_config("  retries: 5\n", "  retries: 2\n");
    let on = |page: u64| move |r: &Request| soda3_page(r) == Some((page, "2021-01-01".to_string()));
    portal.faults.lock().unwrap().extend([
        Fault {
            when: Box::new(on(1)),
            times: 1,
            reply: Reply::status(429).header("Retry-After", "1"),
        },
        Fault {
            when: Box::new(on(3)),
            times: 1,
            reply: Reply::html(200),
        },
        Fault {
            when: Box::new(on(5)),
            times: 1,
            reply: Reply::status(500),
        },
        // Page 6 fails on every try of the first run.
        Fault {
            when: Box::new(on(6)),
            times: 3,
            reply: Reply::status(503),
        },
    ]);
    let token = [("CWFY_SOCRATA_APP_TOKEN", TOKEN)];
    let (code, _, stderr) = cwfy(&p, &["fetch", DAY[0], DAY[1], DAY[2], DAY[3]], &token);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 of 3 windows failed (2021-01-01)"),
        "{stderr}"
    );
    assert!(stderr.contains("503"), "{stderr}");
    // The other windows were done; the failed one is fetched again, whole, by the rerun.
    let (code, _, stderr) = cwfy(&p, &["fetch", DAY[0], DAY[1], DAY[2], DAY[3]], &token);
    assert_eq!(code, 0, "{stderr}");
    // The failed window, and the one after it (kept, but not marked done: marks go in order).
    assert!(stderr.contains("2 done, 1 skipped"), "{stderr}");
    assert_eq!(p.stored_ids(), portal.ids());
    let pages: BTreeSet<u64> = server
        .requests()
        .iter()
        .filter_map(soda3_page)
        .filter(|(_, day)| day == "2021-01-01")
        .map(|(page, _)| page)
        .collect();
    assert_eq!(pages, (1..=6).collect());
}

#[test]
fn a_soda3_server_that_ignores_the_page_is_an_error_not_a_loop() {
    let portal = Portal::new(TOKEN);
    portal.ignore_paging.store(true, Ordering::SeqCst);
    let server = portal.start();
    let p = shipped(&server);
    p.edit_config("    page_size: 50000\n", "    page_size: 500\n");
    let (code, _, stderr) = cwfy(
        &p,
        &[
            "fetch",
            "--backfill-from",
            "2021-01-01",
            "--until",
            "2021-01-01",
        ],
        &[("CWFY_SOCRATA_APP_TOKEN", TOKEN)],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("page.pageNumber"), "{stderr}");
}

/// A project whose Open311 live endpoint is `live` and whose `test` profile is `test`.
fn open311_project(live: &Server, test: &Server) -> Project {
    let p = Project::new(7, 2);
    p.edit_config("  kind: socrata\n", "  kind: open311\n");
    p.edit_config(
        "base_url: http://311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {}", live.url("/open311/v2/")),
    );
    p.edit_config(
        "base_url: http://test311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {}", test.url("/open311/v2/")),
    );
    p.edit_config("  backoff_ms: 500\n", "  backoff_ms: 20\n");
    p
}

#[test]
fn the_test_profile_fetches_from_the_test_endpoint_with_the_test_key() {
    let live = Open311::new(Some("live-key"));
    let live_server = live.start();
    let test = Open311::new(Some("test-key"));
    let test_server = test.start();
    let p = open311_project(&live_server, &test_server);
    let jan = ["--backfill-from", "2014-01-01", "--until", "2014-01-31"];
    let keys = [
        ("CWFY_OPEN311_API_KEY", "live-key"),
        ("CWFY_OPEN311_TEST_API_KEY", "test-key"),
    ];
    let mut args = vec!["fetch", "--profile", "test"];
    args.extend(jan);
    let (code, _, stderr) = cwfy(&p, &args, &keys);
    assert_eq!(code, 0, "{stderr}");
    assert!(live_server.requests().is_empty());
    let asked = test_server.requests_for(REQUESTS);
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|r| r.param("api_key") == Some("test-key")));
    assert_eq!(
        p.stored_ids(),
        test.ids_requested("2014-01-01T06:00:00Z", "2014-02-01T06:00:00Z")
    );
    // The live key on the test endpoint is refused, and the message names the test key's
    // variable.
    let p = open311_project(&live_server, &test_server);
    let (code, _, stderr) = cwfy(&p, &args, &[("CWFY_OPEN311_TEST_API_KEY", "live-key")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("CWFY_OPEN311_TEST_API_KEY"), "{stderr}");
    // A profile the config does not have is a usage error naming the ones it has.
    let (code, _, stderr) = cwfy(&p, &["fetch", "--profile", "staging"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("live, test"), "{stderr}");
}

/// Pot holes' code on Chicago's Open311 endpoint (a featured service).
const POTHOLES: &str = "4fd3b656e750846c53000004";

#[test]
fn service_definitions_are_fetched_and_shown_escaped_and_one_request_is_refreshed_by_id() {
    let fake = Open311::new(None);
    fake.definitions.lock().unwrap().insert(
        POTHOLES.into(),
        json!({"service_code": POTHOLES, "attributes": [
            {"variable": true, "code": "DEPTH", "datatype": "singlevaluelist", "required": true,
             "datatype_description": null, "order": 2, "description": "How deep is the hole?",
             "values": [{"key": "1", "name": "Under 2 inches"}, {"key": "2", "name": "Deeper <b>than</b> that"}]},
            {"variable": true, "code": "WHERE", "datatype": "string", "required": false,
             "datatype_description": "", "order": 1, "description": "Where is it? <script>alert(1)</script>"}
        ]})
        .to_string(),
    );
    let server = fake.start();
    let p = open311_project(&server, &server);
    let (code, _, stderr) = cwfy(
        &p,
        &[
            "fetch",
            "--backfill-from",
            "2014-01-01",
            "--until",
            "2014-12-31",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 service definitions"), "{stderr}");
    assert_eq!(
        server
            .requests_for(&format!("/open311/v2/services/{POTHOLES}.json"))
            .len(),
        1
    );
    // Only the definitions of featured services are asked for.
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/open311/v2/services/"))
            .count(),
        1
    );

    // One request, changed on the server, refreshed by its id.
    let id = "14-00684314";
    {
        let mut records = fake.records.lock().unwrap();
        let r = records
            .iter_mut()
            .find(|r| r.doc["service_request_id"] == id)
            .unwrap();
        r.doc["status"] = json!("open");
        r.doc["updated_datetime"] = json!("2026-01-01T10:00:00-06:00");
    }
    let (code, _, stderr) = cwfy(&p, &["fetch", "--request", id], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("0 new, 1 updated"), "{stderr}");
    assert_eq!(
        query_one(
            &p,
            &format!("SELECT status FROM requests WHERE id = '{id}'")
        ),
        "open"
    );
    let asked = server.requests_for(&format!("/open311/v2/requests/{id}.json"));
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("extensions"), Some("true"));
    let (code, _, stderr) = cwfy(&p, &["fetch", "--request", "14-NO-SUCH"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("request 14-NO-SUCH"), "{stderr}");

    let (code, _, stderr) = cwfy(&p, &["build"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let page = p.read("site/service/potholes/index.html");
    assert!(
        page.contains("What the City asks when you report it"),
        "{page}"
    );
    let first = page.find("Where is it?").expect("first question");
    let second = page.find("How deep is the hole?").expect("second question");
    assert!(first < second, "the form's order");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("Deeper &lt;b&gt;than&lt;/b&gt; that"));
    // A service without a definition shows no such section.
    let graffiti = p.read("site/service/graffiti/index.html");
    assert!(!graffiti.contains("What the City asks"));
}

#[test]
fn a_request_refreshed_by_id_from_the_portal() {
    let portal = Portal::new(TOKEN);
    let server = portal.start();
    let p = shipped(&server);
    let token = [("CWFY_SOCRATA_APP_TOKEN", TOKEN)];
    let (code, _, stderr) = cwfy(&p, &["fetch", DAY[0], DAY[1], DAY[2], DAY[3]], &token);
    assert_eq!(code, 0, "{stderr}");
    let id = portal.ids().into_iter().next().unwrap();
    for row in portal.rows.lock().unwrap().iter_mut() {
        if row["sr_number"] == id.as_str() {
            row["status"] = json!("Canceled");
            row["last_modified_date"] = json!("2021-01-05T10:00:00.000");
        }
    }
    let (code, _, stderr) = cwfy(&p, &["fetch", "--request", &id], &token);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("0 new, 1 updated"), "{stderr}");
    assert_eq!(
        query_one(
            &p,
            &format!("SELECT status FROM requests WHERE id = '{id}'")
        ),
        "Canceled"
    );
}

/// `cwfy source check` of a SODA 2.1 URL, without a token: its exit code and report.
fn check_socrata_url(p: &Project, url: &str) -> (i32, String) {
    let (code, out, _) = cwfy(
        p,
        &["source", "check", "--kind", "socrata", "--url", url],
        &[],
    );
    (code, out)
}

/// Days from the sample's newest update (2025-07-09, when it was exported) to yesterday in
/// Chicago.
fn days_to_yesterday() -> i64 {
    let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
    let today = Timestamp::now().to_zoned(tz).date();
    let newest: jiff::civil::Date = "2025-07-09".parse().unwrap();
    i64::from((today - newest).get_days()) - 1
}

#[test]
fn source_check_says_in_words_what_works_and_what_to_change() {
    // A current portal with the right token: every check passes.
    let portal = Portal::new(TOKEN).shifted(days_to_yesterday());
    let server = portal.start();
    let p = shipped(&server);
    let token = [("CWFY_SOCRATA_APP_TOKEN", TOKEN)];
    let (code, out, stderr) = cwfy(&p, &["source", "check"], &token);
    assert_eq!(code, 0, "{out}{stderr}");
    for said in [
        "Source: Socrata SODA 3",
        "the source answers (HTTP 200",
        "the app token is accepted",
        "have the fields the store needs",
        "the newest record is from",
        "The source is ready",
    ] {
        assert!(out.contains(said), "{said:?} in\n{out}");
    }
    assert_eq!(server.requests().len(), 1, "one small page");
    // A wrong token: refused, and what to check.
    let (code, out, _) = cwfy(
        &p,
        &["source", "check"],
        &[("CWFY_SOCRATA_APP_TOKEN", "wrong")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not accepted: HTTP 403"), "{out}");
    assert!(out.contains("Invalid app_token"), "{out}");
    // No token: SODA 2.1, said as a note, and it works.
    let (code, out, _) = cwfy(&p, &["source", "check"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Source: Socrata SODA 2.1") && out.contains("no app token"),
        "{out}"
    );

    // A portal whose newest record is years old: a problem, with the date.
    let stale = Portal::new(TOKEN);
    let stale_server = stale.start();
    let p = shipped(&stale_server);
    let (code, out, _) = cwfy(&p, &["source", "check"], &token);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the newest record is from 2025-07-09"),
        "{out}"
    );
    assert!(out.contains("no longer updated"), "{out}");

    // Something that answers JSON without the dataset's fields: the missing ones, named.
    let other = Server::start(|_| Reply::json(r#"[{"id":"1","name":"not a 311 request"}]"#));
    let (code, out) = check_socrata_url(&p, &other.url("/resource/abcd-1234.json"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("lack sr_number (the request's id), sr_type"),
        "{out}"
    );

    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out) = check_socrata_url(
        &p,
        &format!("http://127.0.0.1:{port}/resource/v6vf-nfxy.json"),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the source does not answer"), "{out}");
}

#[test]
fn source_check_on_open311_tells_a_frozen_endpoint_from_a_live_one() {
    // Chicago's endpoint as it was: nothing updated in the last 30 days.
    let frozen = Open311::new(None);
    let frozen_server = frozen.start();
    let p = open311_project(&frozen_server, &frozen_server);
    let (code, out, _) = cwfy(&p, &["source", "check"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no request updated in the last 30 days"),
        "{out}"
    );
    assert!(out.contains("source.kind: socrata"), "{out}");
    // Real records moved to the last days, behind a key: all is well with the key.
    let now = Timestamp::now();
    let live = Open311::serving(recent_records(now, 3, |_| 4, 1), Some("k"));
    let live_server = live.start();
    let p = open311_project(&live_server, &live_server);
    let (code, out, _) = cwfy(&p, &["source", "check"], &[("CWFY_OPEN311_API_KEY", "k")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the API key is accepted"), "{out}");
    let (code, out, _) = cwfy(
        &p,
        &["source", "check", "--profile", "test"],
        &[("CWFY_OPEN311_TEST_API_KEY", "nope")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("(profile test)") && out.contains("not accepted"),
        "{out}"
    );
}

//! `cwfy update`, the nightly job, against a real Open311 server on 127.0.0.1 that serves real
//! Chicago records moved to the last weeks (so the history has a real shape and ends yesterday by
//! the real clock): the summary paragraph, unchanged files keeping their modification time, the
//! sanity gates keeping the previous site byte for byte, a source that misbehaves for a whole
//! run, the run lock and `--quiet`.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;

use support::http::{Reply, Server};
use support::open311::{Open311, REQUESTS, recent_records};
use support::{Project, code_and_stderr};

/// A project fetching from `server`: 14 day pages, 3 week pages, a first run that backfills
/// `initial_days`, small pages, short timeouts and back-offs.
fn project(server: &Server, initial_days: u32) -> Project {
    let p = Project::new(14, 3);
    // These tests exercise the Open311 source; the shipped config fetches from the data portal.
    p.edit_config("  kind: socrata\n", "  kind: open311\n");
    p.edit_config(
        "base_url: http://311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {}", server.url("/open311/v2/")),
    );
    p.edit_config("    page_size: 500\n", "    page_size: 200\n");
    p.edit_config("  timeout_seconds: 30\n", "  timeout_seconds: 2\n");
    p.edit_config("  retries: 5\n", "  retries: 2\n");
    p.edit_config("  backoff_ms: 500\n", "  backoff_ms: 20\n");
    p.edit_config(
        "  initial_days: 7\n",
        &format!("  initial_days: {initial_days}\n"),
    );
    p
}

/// Runs `cwfy ARGS` (without the source's credentials): exit code, stdout, stderr.
fn cwfy(p: &Project, args: &[&str]) -> (i32, String, String) {
    let out = p
        .command(args)
        .env_remove("CWFY_OPEN311_API_KEY")
        .output()
        .unwrap();
    let (code, stderr) = code_and_stderr(&out);
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Runs `cwfy update ARGS` and panics unless it exits 0; returns stdout.
fn update_ok(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["update"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = cwfy(p, &all);
    assert_eq!(code, 0, "cwfy {all:?} failed:\n{stderr}");
    stdout
}

/// Every file of a site: its bytes, modification time and inode.
type Snapshot = BTreeMap<String, (Vec<u8>, SystemTime, u64)>;

fn snapshot(site: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(site) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(site).unwrap();
            let meta = entry.metadata().unwrap();
            files.insert(
                rel.to_string_lossy().replace('\\', "/"),
                (
                    std::fs::read(entry.path()).unwrap(),
                    meta.modified().unwrap(),
                    meta.ino(),
                ),
            );
        }
    }
    files
}

/// Asserts the site is exactly what it was: same files, bytes and modification times.
fn assert_kept(before: &Snapshot, site: &Path) {
    let after = snapshot(site);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the set of files changed"
    );
    for (path, (bytes, mtime, _)) in before {
        let (now_bytes, now_mtime, _) = &after[path];
        assert!(bytes == now_bytes, "{path} was rewritten with other bytes");
        assert_eq!(mtime, now_mtime, "{path} was touched");
    }
}

/// Asserts `site/manifest.json` lists exactly the site's other files with their sizes and hashes.
fn assert_manifest_matches(site: &Path) {
    let manifest = cwfy::publish::read_manifest(site).expect("site/manifest.json");
    let files = snapshot(site);
    let listed: Vec<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
    let present: Vec<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|p| *p != "manifest.json")
        .collect();
    assert_eq!(listed, present);
    for e in &manifest.files {
        let bytes = &files[&e.path].0;
        assert_eq!(e.size, bytes.len() as u64, "{}", e.path);
        assert_eq!(
            e.sha256.to_string(),
            cwfy::publish::hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes)),
            "{}",
            e.path
        );
    }
}

/// A published project: `days` days of 30 recent requests a day, fetched and published by a
/// first `cwfy update`.
fn published(days: i32) -> (Arc<Open311>, Server, Project) {
    let fake = Open311::serving(recent_records(Timestamp::now(), days, |_| 30, 0), None);
    let server = fake.start();
    let p = project(&server, days as u32 + 1);
    update_ok(&p, &[]);
    assert_eq!(p.stored_ids(), fake.ids());
    (fake, server, p)
}

/// Lets the clock pass a second, so that a file rewritten from now on gets another mtime.
fn tick() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn update_fetches_builds_publishes_and_a_rerun_without_new_data_changes_only_the_status() {
    let fake = Open311::serving(recent_records(Timestamp::now(), 56, |_| 30, 0), None);
    let server = fake.start();
    let p = project(&server, 57);
    // A file that will no longer belong to the site on the third run.
    p.write("static/retired.txt", "this file will be removed\n");
    let first = update_ok(&p, &[]);
    assert_eq!(p.stored_ids(), fake.ids());
    assert_eq!(fake.ids().len(), 56 * 30);
    let site = p.join("site");
    assert_manifest_matches(&site);
    let files = cwfy::publish::read_manifest(&site).unwrap().files.len();
    // One paragraph naming the records and the pages.
    assert_eq!(first.trim().lines().count(), 1, "{first}");
    assert!(first.starts_with("cwfy update: "), "{first}");
    assert!(
        first.contains("(1680 new, 0 updated, 0 unchanged, 0 ignored without id, 0 rejected)"),
        "{first}"
    );
    assert!(
        first.contains(&format!("({files} written, 0 unchanged, 0 removed)")),
        "{first}"
    );
    for stage in ["fetch ", "aggregate ", "render ", "publish "] {
        assert!(first.contains(stage), "no time for {stage}: {first}");
    }
    let before = snapshot(&site);
    assert!(before.contains_key("retired.txt"));

    // No new data: the increment (which reads again from the start of the last, partial day)
    // finds nothing new or updated. At most the status page and
    // its JSON change (they show the minute of the last fetch); every other file, the manifest
    // included when nothing changed, is the same file with its old modification time.
    tick();
    let second = update_ok(&p, &[]);
    assert!(
        second.contains(" unchanged, 0 ignored without id, 0 rejected)"),
        "{second}"
    );
    assert!(second.contains("(0 new, 0 updated, "), "{second}");
    let after = snapshot(&site);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let rewritten: Vec<&str> = after
        .iter()
        .filter(|(path, (bytes, _, _))| *bytes != before[*path].0)
        .map(|(path, _)| path.as_str())
        .filter(|path| *path != "manifest.json")
        .collect();
    assert!(
        rewritten
            .iter()
            .all(|p| ["api/v1/status.json", "status/index.html"].contains(p)),
        "{rewritten:?}"
    );
    for (path, (bytes, mtime, inode)) in &after {
        if *bytes == before[path].0 {
            assert_eq!(*mtime, before[path].1, "{path} was touched");
            assert_eq!(*inode, before[path].2, "{path} is a new file");
        } else {
            assert_ne!(*mtime, before[path].1, "{path} changed but kept its mtime");
        }
    }
    assert!(
        second.contains(&format!(
            "({} written, {} unchanged, 0 removed)",
            rewritten.len(),
            files - rewritten.len()
        )),
        "{second}"
    );
    assert_manifest_matches(&site);

    // A file no build makes any more stays published (its address may be linked to), and the
    // summary says so; `--prune` removes it, and the summary counts it.
    std::fs::remove_file(p.join("static/retired.txt")).unwrap();
    let kept = update_ok(&p, &[]);
    assert!(
        kept.contains(", 0 removed), and kept 1 file of an earlier build;"),
        "{kept}"
    );
    assert_eq!(
        std::fs::read_to_string(site.join("retired.txt")).unwrap(),
        "this file will be removed\n"
    );
    assert_manifest_matches(&site);
    let third = update_ok(&p, &["--prune"]);
    assert!(third.contains(", 1 removed)"), "{third}");
    assert!(!site.join("retired.txt").exists());
    assert_manifest_matches(&site);
    // Nothing else is left beside the site: no staging or old folders, only the site before
    // the last, kept for the next build to recycle, and complete by its own manifest.
    let mut beside: Vec<String> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("site"))
        .collect();
    beside.sort();
    assert_eq!(beside, ["site", "site.spare"]);
    assert_manifest_matches(&p.join("site.spare"));
}

#[test]
fn a_thin_latest_day_fails_the_volume_gate_keeps_the_site_and_is_fetched_again() {
    // Yesterday has 4 requests where the same weekday had 30 in each of the 7 weeks before.
    let fake = Open311::serving(
        recent_records(Timestamp::now(), 56, |k| if k == 1 { 4 } else { 30 }, 0),
        None,
    );
    let server = fake.start();
    let p = project(&server, 57);
    // The first run stops at the end of the day before yesterday: a normal day, published.
    let two_days_ago = (jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .date()
        - jiff::Span::new().days(2))
    .to_string();
    update_ok(&p, &["--until", &two_days_ago]);
    let site = p.join("site");
    let before = snapshot(&site);
    assert!(before.contains_key("status/index.html") && before.contains_key("api/v1/status.json"));
    tick();

    let (code, stdout, stderr) = cwfy(&p, &["update"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let yesterday = (jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .date()
        - jiff::Span::new().days(1))
    .to_string();
    assert!(
        stderr.contains("day-volume: ")
            && stderr.contains(&format!("{yesterday} has "))
            && stderr.contains("counted requests, under 50% of the usual "),
        "{stderr}"
    );
    assert!(
        stderr.contains("--force") && stderr.contains("the next run fetches that day again"),
        "{stderr}"
    );
    // The figures: yesterday's count (4 served, fewer when some are not counted) and the usual.
    let figures: Vec<f64> = stderr
        .split(&format!("{yesterday} has "))
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(figures[0] <= 4.0, "{stderr}");
    assert_eq!(figures[1], 50.0, "{stderr}");
    assert!((25.0..=30.0).contains(&figures[2]), "{stderr}");
    // Yesterday's requests are stored (the fetch worked); only publishing was refused.
    assert_eq!(p.stored_ids(), fake.ids());
    assert_kept(&before, &site);

    // The thin day is fetched again by the next run: once the source has caught up, a plain
    // rerun publishes.
    let yesterday_served = {
        let mut records = fake.records.lock().unwrap();
        let late = recent_records(Timestamp::now(), 1, |_| 26, 900_000);
        records.extend(late.into_iter().map(support::open311::served));
        records.len()
    };
    assert_eq!(yesterday_served, 55 * 30 + 30);
    let stdout = update_ok(&p, &[]);
    assert!(stdout.contains("(26 new, "), "{stdout}");
    assert_eq!(p.stored_ids(), fake.ids());
    let after = snapshot(&site);
    assert!(after.contains_key(&format!("day/{yesterday}/index.html")));
    assert_manifest_matches(&site);
}

#[test]
fn a_source_that_sends_nothing_fails_the_volume_gate_then_force_publishes() {
    let fake = Open311::serving(recent_records(Timestamp::now(), 56, |_| 30, 0), None);
    let server = fake.start();
    let p = project(&server, 57);
    let two_days_ago = (jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .date()
        - jiff::Span::new().days(2))
    .to_string();
    update_ok(&p, &["--until", &two_days_ago]);
    let site = p.join("site");
    let before = snapshot(&site);
    tick();
    // Every page empty, with 200: nothing fails in the fetch, but yesterday is empty.
    fake.fault(usize::MAX, |r| r.path == REQUESTS, Reply::json("[]"));
    let (code, _, stderr) = cwfy(&p, &["update"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("has 0 counted requests, under 50% of the usual "),
        "{stderr}"
    );
    assert_kept(&before, &site);
    // The forced run publishes (the same numbers: nothing new came, so the files may well be
    // byte-identical; what shows it went through is the warning and the summary).
    let (code, stdout, stderr) = cwfy(&p, &["update", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("cwfy update: "), "{stdout}");
    assert!(stdout.contains(" built "), "{stdout}");
    assert!(
        stderr.contains("publishing despite the day-volume gate (--force)"),
        "{stderr}"
    );
    assert_manifest_matches(&site);
}

#[test]
fn records_lost_from_the_store_fail_the_gate() {
    let (_fake, _server, p) = published(21);
    let site = p.join("site");
    let before = snapshot(&site);
    let conn = rusqlite::Connection::open(p.join("data/store.sqlite")).unwrap();
    let deleted = conn
        .execute(
            "DELETE FROM requests WHERE rowid_key IN (SELECT rowid_key FROM requests ORDER BY rowid_key LIMIT 25)",
            [],
        )
        .unwrap();
    assert_eq!(deleted, 25);
    drop(conn);
    tick();
    let (code, _, stderr) = cwfy(&p, &["update"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("lost-records: the store holds 605 requests but held 630")
            && stderr.contains("(25 lost)"),
        "{stderr}"
    );
    assert_kept(&before, &site);
}

#[test]
fn a_source_that_misbehaves_for_a_whole_run_keeps_the_site() {
    let (fake, server, p) = published(14);
    let site = p.join("site");
    let before = snapshot(&site);
    tick();
    let broken: [(&str, Reply); 3] = [
        ("500 forever", Reply::status(500)),
        ("an HTML page with 200", Reply::html(200)),
        (
            "JSON cut short",
            Reply::json(r#"[{"service_request_id":"26-00000001","status":"#),
        ),
    ];
    for (what, reply) in broken {
        fake.heal();
        fake.fault(usize::MAX, |r| r.path == REQUESTS, reply);
        let (code, stdout, stderr) = cwfy(&p, &["update"]);
        assert_eq!(code, 3, "{what}: {stderr}");
        assert!(stdout.is_empty(), "{what}: {stdout}");
        assert!(
            stderr.contains("fetch-failed: 1 fetch window(s) failed after all retries")
                || stderr.contains("fetch-failed: 2 fetch window(s) failed after all retries"),
            "{what}: {stderr}"
        );
        assert_kept(&before, &site);
    }
    // Down: nothing listens on the port any more.
    let url = server.url(REQUESTS);
    drop(server);
    let (code, _, stderr) = cwfy(&p, &["update"]);
    assert_eq!(code, 3, "down: {stderr}");
    assert!(stderr.contains("fetch-failed: "), "down: {stderr}");
    assert!(
        stderr.contains(&url[..url.len() - REQUESTS.len()]),
        "{stderr}"
    );
    assert_kept(&before, &site);
    assert_eq!(p.stored_ids(), fake.ids());
}

#[test]
fn a_second_run_while_one_holds_the_lock_names_it_and_exits_1() {
    let fake = Open311::serving(recent_records(Timestamp::now(), 14, |_| 30, 0), None);
    // Slow answers keep the first run in its fetch.
    fake.delay_ms.store(400, Ordering::SeqCst);
    let server = fake.start();
    let p = project(&server, 15);
    p.edit_config("  timeout_seconds: 2\n", "  timeout_seconds: 60\n");
    let mut first = p
        .command(&["update"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder = format!("pid {},", first.id());
    let lock = p.join("data/cwfy.lock");
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&holder)) {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, stdout, stderr) = cwfy(&p, &["update"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&holder) && stderr.contains("`cwfy update`"),
        "{stderr}"
    );
    assert!(first.try_wait().unwrap().is_none(), "the first run ended");
    // The first run is unharmed.
    fake.heal();
    assert!(first.wait().unwrap().success());
    assert_eq!(p.stored_ids(), fake.ids());
    assert_manifest_matches(&p.join("site"));
}

#[test]
fn quiet_update_prints_nothing_on_success() {
    let fake = Open311::serving(recent_records(Timestamp::now(), 14, |_| 30, 0), None);
    let server = fake.start();
    let p = project(&server, 15);
    let (code, stdout, stderr) = cwfy(&p, &["--quiet", "update"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));
    assert_eq!(p.stored_ids(), fake.ids());
    assert_manifest_matches(&p.join("site"));
}

//! The fault suite: real `cwfy` processes killed with SIGKILL at random moments, many times over,
//! against a real Open311 server on 127.0.0.1 and a real SQLite file and site folder. After every
//! kill the store must pass `PRAGMA integrity_check`, hold every record it held before (none lost,
//! none doubled, none the server never had), and `site/` must be absent only while no publish has
//! ever completed, otherwise a complete site: exactly the files its `manifest.json` lists, with
//! their sizes and SHA-256. The next run must finish the job.
//!
//! The moments come from a seeded generator; the seed is printed, and `CWFY_FAULT_SEED=N` replays
//! a run.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;

use support::open311::{Open311, chicago_time, recent_records, served};
use support::{Project, code_and_stderr};

/// SplitMix64: small, seedable, good enough to spread kill times.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A whole number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    match std::env::var("CWFY_FAULT_SEED") {
        Ok(s) => s.parse().expect("CWFY_FAULT_SEED must be a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// What the store holds: ids (in rowid order), and whether each has its raw record.
struct Stored {
    ids: Vec<String>,
    raw: i64,
}

fn stored(p: &Project) -> Option<Stored> {
    let path = p.join("data/store.sqlite");
    if !path.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "PRAGMA integrity_check");
    // A store killed before its schema was written has no tables yet.
    let has_schema: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'requests'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if has_schema == 0 {
        return None;
    }
    let mut stmt = conn
        .prepare("SELECT id FROM requests ORDER BY rowid_key")
        .unwrap();
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let raw = conn
        .query_row(
            "SELECT count(*) FROM raw_records WHERE request_key IN (SELECT rowid_key FROM requests)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    Some(Stored { ids, raw })
}

/// Asserts `site` is a complete site: exactly the files its manifest lists, with their sizes and
/// SHA-256. Returns the manifest's bytes.
fn assert_complete_site(site: &Path) -> Vec<u8> {
    let manifest_bytes = std::fs::read(site.join("manifest.json"))
        .unwrap_or_else(|e| panic!("{}: no manifest.json: {e}", site.display()));
    let manifest = cwfy::publish::read_manifest(site).expect("manifest.json parses");
    let listed: BTreeSet<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
    let mut present = BTreeSet::new();
    for entry in walkdir::WalkDir::new(site) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(site).unwrap();
            present.insert(rel.to_string_lossy().into_owned());
        }
    }
    present.remove("manifest.json");
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(listed, present, "the site's files are not its manifest's");
    for e in &manifest.files {
        let bytes = std::fs::read(site.join(&e.path)).unwrap();
        assert_eq!(bytes.len() as u64, e.size, "{}: size", e.path);
        assert_eq!(
            cwfy::publish::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            e.sha256,
            "{}: SHA-256",
            e.path
        );
    }
    assert!(listed.contains("index.html") && listed.contains("status/index.html"));
    manifest_bytes
}

/// Folders beside the site left by runs (staging, old sites).
fn leftovers(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("site."))
        .collect()
}

/// The state carried from one kill to the next.
struct Watch {
    ids: Vec<String>,
    published: bool,
}

impl Watch {
    /// The checks after a kill.
    fn check(&mut self, p: &Project, fake: &Open311, what: &str) {
        let now = stored(p).map(|s| {
            let unique: BTreeSet<&String> = s.ids.iter().collect();
            assert_eq!(unique.len(), s.ids.len(), "{what}: an id is stored twice");
            assert_eq!(
                s.raw as usize,
                s.ids.len(),
                "{what}: a raw record is missing"
            );
            s.ids
        });
        let now = now.unwrap_or_default();
        assert!(
            now.len() >= self.ids.len(),
            "{what}: the store went from {} to {} requests",
            self.ids.len(),
            now.len()
        );
        let now_set: BTreeSet<&String> = now.iter().collect();
        let lost: Vec<&String> = self.ids.iter().filter(|id| !now_set.contains(id)).collect();
        assert!(lost.is_empty(), "{what}: lost {lost:?}");
        let served = fake.ids();
        let phantom: Vec<&&String> = now_set.iter().filter(|id| !served.contains(**id)).collect();
        assert!(phantom.is_empty(), "{what}: never served: {phantom:?}");
        self.ids = now;

        let site = p.join("site");
        if site.exists() {
            assert_complete_site(&site);
            self.published = true;
        } else {
            assert!(!self.published, "{what}: the published site disappeared");
        }
    }
}

/// A project fetching from `fake` at `url`: 14 day pages, 3 week pages, a first run backfilling
/// 15 days in pages of 5 (so the fetch takes many requests), two fetch threads.
fn project(url: &str) -> Project {
    let p = Project::new(14, 3);
    p.edit_config(
        "base_url: http://311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {url}"),
    );
    p.edit_config("    page_size: 500\n", "    page_size: 5\n");
    p.edit_config("  concurrency: 4\n", "  concurrency: 2\n");
    p.edit_config("  backoff_ms: 500\n", "  backoff_ms: 20\n");
    p.edit_config("  initial_days: 7\n", "  initial_days: 15\n");
    p
}

/// What the server changes between two nightly runs: a few new requests today, a few old ones
/// updated (closed, with a new note), so every run has something to fetch.
fn new_day_of_data(fake: &Open311, round: u64) {
    let now = Timestamp::now();
    let mut records = fake.records.lock().unwrap();
    let n = records.len();
    for i in 0..3 {
        let index = (round as usize * 7 + i * 13) % n;
        let mut doc = records[index].doc.clone();
        let at = now - jiff::SignedDuration::from_secs(30 + i as i64);
        doc["status"] = json!("closed");
        doc["updated_datetime"] = json!(chicago_time(at));
        doc["status_notes"] = json!(format!("closed in round {round}"));
        records[index] = served(doc);
    }
    for i in 0..2 {
        let mut doc = records[(round as usize + i) % n].doc.clone();
        let at = now - jiff::SignedDuration::from_secs(20 + i as i64);
        doc["service_request_id"] = json!(format!("26-9{:03}{i}", round));
        doc["status"] = json!("open");
        doc["requested_datetime"] = json!(chicago_time(at));
        doc["updated_datetime"] = json!(chicago_time(at));
        doc["notes"] = json!([]);
        records.push(served(doc));
    }
}

/// Starts `cwfy ARGS` with stderr to a file, kills it after `delay` unless it ended first.
/// Returns whether it was killed, and how long it ran.
fn kill_after(p: &Project, args: &[&str], delay: Duration) -> (bool, Duration, String) {
    let log = p.join("run.log");
    let mut child = p
        .command(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let killed = loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "cwfy {args:?} failed ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            break false;
        }
        if started.elapsed() >= delay {
            child.kill().unwrap();
            child.wait().unwrap();
            break true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (
        killed,
        started.elapsed(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

/// Which stage a killed `cwfy update` was in, from what it logged.
fn stage_of(log: &str, staging_existed: bool) -> &'static str {
    if log.contains("built ") {
        "after publishing"
    } else if staging_existed {
        "render/publish"
    } else if log.contains("fetched ") {
        "aggregate"
    } else {
        "fetch"
    }
}

#[test]
fn sigkill_at_random_moments_of_update_and_build_loses_nothing_and_leaves_a_complete_site() {
    let seed = seed();
    println!("fault suite seed: {seed} (replay with CWFY_FAULT_SEED={seed})");
    let mut rng = Rng(seed);

    let fake: Arc<Open311> =
        Open311::serving(recent_records(Timestamp::now(), 15, |_| 30, 0), None);
    fake.delay_ms.store(10, Ordering::SeqCst);
    let server = fake.start();
    let p = project(&server.url("/open311/v2/"));
    let mut watch = Watch {
        ids: Vec::new(),
        published: false,
    };

    // Part 1: `cwfy update`, killed at a random moment of its run. The longest a run may take is
    // learned from the runs that finish before their kill.
    const UPDATE_KILLS: usize = 24;
    let mut longest = Duration::from_millis(6000);
    let mut stages = std::collections::BTreeMap::<&str, usize>::new();
    let mut kills = 0;
    let mut round = 0;
    while kills < UPDATE_KILLS {
        round += 1;
        assert!(
            round < 3 * UPDATE_KILLS as u64,
            "too few runs could be killed"
        );
        new_day_of_data(&fake, round);
        let delay = Duration::from_millis(rng.below(longest.as_millis() as u64));
        let (killed, ran, log) = kill_after(&p, &["update"], delay);
        let staging = !leftovers(&p).is_empty();
        let what = format!("update round {round} (killed after {ran:?}: {killed})");
        watch.check(&p, &fake, &what);
        if killed {
            kills += 1;
            *stages.entry(stage_of(&log, staging)).or_default() += 1;
        } else {
            longest = ran.mul_f64(1.1);
        }
    }
    println!("update: {kills} kills in {round} runs, by stage: {stages:?}");

    // The next run finishes the job: exactly the server's records, each as last served.
    fake.delay_ms.store(0, Ordering::SeqCst);
    let out = p.command(&["update"]).output().unwrap();
    let (code, stderr) = code_and_stderr(&out);
    assert_eq!(code, 0, "{stderr}");
    watch.check(&p, &fake, "the run after the kills");
    let ids: BTreeSet<String> = watch.ids.iter().cloned().collect();
    assert_eq!(ids, fake.ids());
    let store = cwfy::store::Store::open(&p.join("data/store.sqlite")).unwrap();
    for record in fake.records.lock().unwrap().iter() {
        let id = record.doc["service_request_id"].as_str().unwrap();
        assert_eq!(
            store.raw(id).unwrap().as_deref(),
            Some(serde_json::to_string(&record.doc).unwrap().as_str()),
            "{id} is not the version last served"
        );
    }
    drop(store);
    assert!(leftovers(&p).is_empty(), "{:?}", leftovers(&p));
    assert_complete_site(&p.join("site"));

    // Part 2: `cwfy build`, killed at random moments weighted to the end of its run, where the
    // site is swapped. Each build publishes under another base URL than the last, so every page
    // changes, and a site mixing the two would fail its manifest.
    drop(server);
    let bases = ["https://a.example.org/", "https://b.example.org/cwfy/"];
    let started = Instant::now();
    p.ok(&["build", "--base-url", bases[0]]);
    let build_time = started.elapsed();
    let mut swapped = 0;
    let mut builds = 0;
    let mut last = assert_complete_site(&p.join("site"));
    const BUILD_KILLS: usize = 12;
    let mut kills = 0;
    while kills < BUILD_KILLS {
        builds += 1;
        assert!(builds < 3 * BUILD_KILLS, "too few builds could be killed");
        let span = build_time.as_millis() as u64;
        let delay = if rng.below(2) == 0 {
            rng.below(span * 11 / 10)
        } else {
            span * 7 / 10 + rng.below(span * 4 / 10)
        };
        let base = bases[builds % 2];
        let (killed, ran, _) = kill_after(
            &p,
            &["build", "--base-url", base],
            Duration::from_millis(delay),
        );
        watch.check(
            &p,
            &fake,
            &format!("build {builds} (killed after {ran:?}: {killed})"),
        );
        let now = assert_complete_site(&p.join("site"));
        if killed {
            kills += 1;
            if now != last {
                swapped += 1;
            }
        }
        last = now;
    }
    println!(
        "build: {kills} kills in {builds} runs ({swapped} after the new site was in place), a build takes {build_time:?}"
    );
    p.ok(&["build"]);
    assert_complete_site(&p.join("site"));
    assert!(leftovers(&p).is_empty(), "{:?}", leftovers(&p));
    assert_eq!(
        stored(&p).unwrap().ids.iter().collect::<BTreeSet<_>>(),
        fake.ids().iter().collect::<BTreeSet<_>>()
    );
}

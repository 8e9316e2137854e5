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
            e.sha256.to_string(),
            "{}: SHA-256",
            e.path
        );
    }
    assert!(listed.contains("index.html") && listed.contains("status/index.html"));
    manifest_bytes
}

/// Folders beside the site left by runs (staging, old sites), other than the spare: the site
/// before the last, which the next build recycles and which must be a complete site.
fn leftovers(p: &Project) -> Vec<String> {
    let spare = p.join("site.spare");
    if spare.exists() {
        assert_complete_site(&spare);
    }
    std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("site.") && n != "site.spare")
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

        let spare = p.join("site.spare");
        if spare.exists() {
            assert_complete_site(&spare);
        }
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
/// 15 days in pages of 3 (so the fetch takes many requests), two fetch threads.
fn project(url: &str) -> Project {
    let p = Project::new(14, 3);
    // These tests exercise the Open311 source; the shipped config fetches from the data portal.
    p.edit_config("  kind: socrata\n", "  kind: open311\n");
    p.edit_config(
        "base_url: http://311api.cityofchicago.org/open311/v2/",
        &format!("base_url: {url}"),
    );
    p.edit_config("    page_size: 500\n", "    page_size: 3\n");
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

/// When to kill a run: `offset` after its start, after its staging folder appeared, or after
/// its new site was swapped in.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    Start,
    Staging,
    Swap,
}

/// What was seen of a run, as times from its start.
#[derive(Debug, Default, Clone, Copy)]
struct Timeline {
    /// The fetch ended (its summary line was logged).
    fetched: Option<Duration>,
    /// The staging folder `site.tmp-PID` appeared: rendering began.
    staging: Option<Duration>,
    /// `site` became another folder: the new site was swapped in.
    swapped: Option<Duration>,
    /// The process ended by itself.
    exited: Option<Duration>,
}

fn dir_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Starts `cwfy ARGS` with stderr to a file and kills it `offset` after `anchor` unless it ends
/// first (then it must succeed). Returns what was seen, and the log.
fn run_and_kill(
    p: &Project,
    args: &[&str],
    anchor: Anchor,
    offset: Duration,
) -> (Timeline, String) {
    let log = p.join("run.log");
    let site_inode = dir_inode(&p.join("site"));
    let mut child = p
        .command(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let staging = p.join(&format!("site.tmp-{}", child.id()));
    let started = Instant::now();
    let mut seen = Timeline::default();
    loop {
        let now = started.elapsed();
        if seen.fetched.is_none()
            && std::fs::read_to_string(&log).is_ok_and(|t| t.contains("fetched "))
        {
            seen.fetched = Some(now);
        }
        if seen.staging.is_none() && staging.exists() {
            seen.staging = Some(now);
        }
        if seen.swapped.is_none() && dir_inode(&p.join("site")) != site_inode {
            seen.swapped = Some(now);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "cwfy {args:?} failed ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            seen.exited = Some(now);
            break;
        }
        let due = match anchor {
            Anchor::Start => Some(offset),
            Anchor::Staging => seen.staging.map(|t| t + offset),
            Anchor::Swap => seen.swapped.map(|t| t + offset),
        };
        if due.is_some_and(|due| now >= due) {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    (seen, std::fs::read_to_string(&log).unwrap_or_default())
}

/// Which stage a run was killed in, from what was seen of it.
fn stage_of(seen: &Timeline, fetches: bool) -> &'static str {
    if fetches && seen.fetched.is_none() {
        "fetch"
    } else if seen.staging.is_none() {
        "aggregate"
    } else if seen.swapped.is_none() {
        "render/publish before the swap"
    } else {
        "publish after the swap"
    }
}

/// How long the stages of a run take, learned from the runs that end by themselves.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    fetch: Duration,
    to_swap: Duration,
    after_swap: Duration,
}

impl Estimate {
    fn learn(&mut self, seen: &Timeline) {
        if let Some(f) = seen.fetched {
            self.fetch = f;
        }
        if let (Some(st), Some(sw), Some(end)) = (seen.staging, seen.swapped, seen.exited) {
            self.to_swap = sw.saturating_sub(st);
            self.after_swap = end.saturating_sub(sw);
        }
    }

    /// A random kill moment in `stage`: 0 the fetch, 1 rendering, 2 around the swap, 3 after the
    /// swap (while the old site is removed).
    fn moment(&self, stage: u64, rng: &mut Rng) -> (Anchor, Duration) {
        let ms = |d: Duration| d.as_millis() as u64;
        match stage {
            0 => (
                Anchor::Start,
                Duration::from_millis(rng.below(ms(self.fetch))),
            ),
            1 => (
                Anchor::Staging,
                Duration::from_millis(rng.below(ms(self.to_swap))),
            ),
            2 => {
                let from = ms(self.to_swap).saturating_sub(300);
                (
                    Anchor::Staging,
                    Duration::from_millis(from + rng.below(400)),
                )
            }
            _ => (
                Anchor::Swap,
                Duration::from_millis(rng.below(ms(self.after_swap))),
            ),
        }
    }
}

#[test]
fn sigkill_at_random_moments_of_update_and_build_loses_nothing_and_leaves_a_complete_site() {
    let seed = seed();
    println!("fault suite seed: {seed} (replay with CWFY_FAULT_SEED={seed})");
    let mut rng = Rng(seed);

    let fake: Arc<Open311> =
        Open311::serving(recent_records(Timestamp::now(), 15, |_| 30, 0), None);
    // Slow pages, so the fetch is long enough to be hit.
    fake.delay_ms.store(40, Ordering::SeqCst);
    let server = fake.start();
    let p = project(&server.url("/open311/v2/"));
    let mut watch = Watch {
        ids: Vec::new(),
        published: false,
    };

    // Part 1: `cwfy update` killed in turn in its fetch, its rendering, around the swap and after
    // it; every sixth run is left to finish (and teaches how long the stages take).
    const UPDATE_KILLS: usize = 16;
    let mut estimate = Estimate {
        fetch: Duration::from_millis(2500),
        to_swap: Duration::from_secs(8),
        after_swap: Duration::from_millis(800),
    };
    let mut stages = std::collections::BTreeMap::<&str, usize>::new();
    let (mut kills, mut round, mut finished) = (0, 0u64, 0);
    while kills < UPDATE_KILLS {
        round += 1;
        assert!(
            round < 3 * UPDATE_KILLS as u64,
            "too few runs could be killed"
        );
        new_day_of_data(&fake, round);
        let (anchor, offset) = if round % 6 == 0 {
            (Anchor::Start, Duration::from_secs(3600))
        } else {
            estimate.moment(kills as u64 % 4, &mut rng)
        };
        let (seen, _) = run_and_kill(&p, &["update"], anchor, offset);
        let what = format!("update round {round} ({anchor:?} + {offset:?}: {seen:?})");
        watch.check(&p, &fake, &what);
        if seen.exited.is_some() {
            finished += 1;
            estimate.learn(&seen);
            assert!(p.join("site").exists(), "{what}: finished without a site");
        } else {
            kills += 1;
            *stages.entry(stage_of(&seen, true)).or_default() += 1;
        }
    }
    println!(
        "update: {kills} kills and {finished} finished runs in {round} rounds; kills by stage: {stages:?}; stages took {estimate:?}"
    );

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

    // Part 2: `cwfy build` killed while rendering, around the swap and after it. Each build publishes under
    // another base URL than the last, so every page changes, and a site mixing the two would fail
    // its manifest.
    drop(server);
    let bases = ["https://a.example.org/", "https://b.example.org/cwfy/"];
    let (seen, _) = run_and_kill(
        &p,
        &["build", "--base-url", bases[0]],
        Anchor::Start,
        Duration::from_secs(3600),
    );
    estimate.learn(&seen);
    let mut stages = std::collections::BTreeMap::<&str, usize>::new();
    const BUILD_KILLS: usize = 9;
    let (mut kills, mut builds) = (0, 0);
    while kills < BUILD_KILLS {
        builds += 1;
        assert!(builds < 3 * BUILD_KILLS, "too few builds could be killed");
        let (anchor, offset) = estimate.moment(1 + kills as u64 % 3, &mut rng);
        let base = bases[builds % 2];
        let (seen, _) = run_and_kill(&p, &["build", "--base-url", base], anchor, offset);
        watch.check(
            &p,
            &fake,
            &format!("build {builds} ({anchor:?} + {offset:?}: {seen:?})"),
        );
        assert!(p.join("site").exists());
        if seen.exited.is_some() {
            estimate.learn(&seen);
        } else {
            kills += 1;
            *stages.entry(stage_of(&seen, false)).or_default() += 1;
        }
    }
    println!(
        "build: {kills} kills in {builds} runs; kills by stage: {stages:?}; stages took {estimate:?}"
    );
    p.ok(&["build"]);
    assert_complete_site(&p.join("site"));
    assert!(leftovers(&p).is_empty(), "{:?}", leftovers(&p));
    assert_eq!(
        stored(&p).unwrap().ids.iter().collect::<BTreeSet<_>>(),
        fake.ids().iter().collect::<BTreeSet<_>>()
    );
}

//! The embedded SQLite store: every request (normalised, plus the raw record as received), the
//! service catalogue, a log of every import and fetch run, and every rejected record with why.
//!
//! Writes happen in transactions that each leave the store consistent: a batch of records with
//! its counts, or a fetch window with its completion mark. A process killed at any point loses at
//! most the batch in flight, which the next run fetches or imports again (upserts are idempotent).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::domain::{Placement, Request, ServiceAttribute, ServiceType, UnixSeconds, WardNo};

/// A store operation failed. Exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The folder for the store could not be created.
    #[error("store {path}: cannot create its folder: {source}")]
    Folder {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store holds something cwfy never writes.
    #[error(
        "store {path}: {detail}; the file was changed outside cwfy or is damaged: import the data into a new store"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What is wrong, naming the row.
        detail: String,
    },
    /// The file was written by a newer cwfy.
    #[error(
        "store {path} has schema version {found}, newer than this cwfy knows ({known}); upgrade cwfy"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
}

/// The `SELECT` that packs every stored request's [`Facts`] the way [`Facts::encode`] does
/// (big-endian, so that `printf('%X')` can write them): used once, by migration 4, to fill
/// `request_facts` for a store written before it; a unit test holds the two to the same bytes.
/// `CROSS JOIN` keeps `requests` the outer loop (one index lookup per request).
macro_rules! facts_select {
    () => {
        "SELECT r.rowid_key, unhex(printf('%08X%02X%02X%016X', k.id,
                CASE WHEN r.ward BETWEEN 0 AND 255 THEN r.ward ELSE 0 END,
                (r.duplicate != 0) + 2 * (r.closed_at IS NOT NULL)
                    + 4 * coalesce(r.ward BETWEEN 0 AND 255, 0),
                r.requested_at)
            || CASE WHEN r.closed_at IS NULL THEN '' ELSE printf('%016X', r.closed_at) END)
        FROM requests r CROSS JOIN service_keys k
        WHERE k.name = r.service_name AND k.code IS r.service_code"
    };
}

/// Migrations, applied in order; `PRAGMA user_version` holds how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE requests (
        rowid_key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        service_code TEXT,
        service_name TEXT NOT NULL,
        status TEXT NOT NULL,
        is_closed INTEGER NOT NULL,
        requested_at INTEGER NOT NULL,
        updated_at INTEGER,
        closed_at INTEGER,
        ward INTEGER,
        duplicate INTEGER NOT NULL,
        parent_id TEXT,
        lat REAL,
        long REAL,
        address TEXT,
        description TEXT,
        media_url TEXT,
        channel TEXT,
        source TEXT NOT NULL
    );
    CREATE TABLE raw_records (
        request_key INTEGER PRIMARY KEY,
        raw TEXT NOT NULL
    );
    CREATE INDEX requests_media ON requests(requested_at) WHERE media_url IS NOT NULL;
    CREATE TABLE services (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        group_name TEXT,
        fetched_at INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        window_start INTEGER,
        window_end INTEGER,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        status TEXT NOT NULL,
        pages INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        ignored INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        cleaned INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE windows (
        source TEXT NOT NULL,
        mode TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        pages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        completed_at INTEGER NOT NULL,
        PRIMARY KEY (source, mode, window_start, window_end)
    );
    CREATE TABLE rejected (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL,
        origin TEXT NOT NULL,
        record_id TEXT,
        disposition TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT,
        at INTEGER NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: CSV rows keep their raw record as a JSON array of the row's fields, named by a header
    // stored once (a JSON array of column names) instead of re-encoded as an object per row.
    // `header` is NULL for records kept whole (JSON as received).
    "CREATE TABLE raw_headers (
        id INTEGER PRIMARY KEY,
        names TEXT NOT NULL UNIQUE
    );
    ALTER TABLE raw_records ADD COLUMN header INTEGER REFERENCES raw_headers(id);",
    // 3: what the aggregation reads of every request, in key order. A build scans this index
    // instead of the table (addresses, descriptions, coordinates…): at 10 M requests it reads a
    // fraction of the bytes, which is what a nightly run with the store out of the page cache
    // pays for.
    "CREATE INDEX requests_scan ON requests(
        rowid_key, service_code, service_name, requested_at, closed_at, ward, duplicate
    );",
    // 4: what the aggregation reads of every request, packed into one small blob per request
    // (see `Facts`), with each (service_code, service_name) pair numbered once in
    // `service_keys`. Reading one blob column of a narrow table is about ten times faster than
    // reading six columns, two of them strings, out of the index of migration 3, which goes.
    // cwfy writes the facts with each request; a trigger removes them with a request deleted by
    // hand (cwfy never deletes one), so that the scan and the `lost-records` gate see it gone.
    concat!(
        "CREATE TABLE service_keys (
            id INTEGER PRIMARY KEY,
            code TEXT,
            name TEXT NOT NULL
        );
        CREATE UNIQUE INDEX service_keys_pair ON service_keys(name, code);
        INSERT INTO service_keys(code, name)
            SELECT DISTINCT service_code, service_name FROM requests ORDER BY service_name, service_code;
        CREATE TABLE request_facts (
            request_key INTEGER PRIMARY KEY,
            facts BLOB NOT NULL
        );
        INSERT INTO request_facts(request_key, facts) ",
        facts_select!(),
        ";
        CREATE TRIGGER request_facts_follow_deletes AFTER DELETE ON requests BEGIN
            DELETE FROM request_facts WHERE request_key = OLD.rowid_key;
        END;
        DROP INDEX requests_scan;"
    ),
    // 5: Open311 service definitions: whether `services.json` says a service has one
    // (`metadata`), and its attributes (a JSON array of `ServiceAttribute`) once fetched.
    "ALTER TABLE services ADD COLUMN metadata INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE services ADD COLUMN attributes TEXT;",
];

/// What the aggregation reads of one request, as stored in `request_facts`: the service pair's
/// number in `service_keys` (4 bytes), the ward (1), flags (1: duplicate 1, closed 2, has a ward
/// 4, and in bits 3–5 the [`Placement`] code), `requested_at` (8) and, when closed, `closed_at`
/// (8); integers big-endian. Stores written before placements have 0 there (`Record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    service_key: u32,
    ward: Option<WardNo>,
    placement: Placement,
    duplicate: bool,
    requested_at: UnixSeconds,
    closed_at: Option<UnixSeconds>,
}

impl Facts {
    const DUPLICATE: u8 = 1;
    const CLOSED: u8 = 2;
    const HAS_WARD: u8 = 4;
    /// The placement code's lowest bit.
    const PLACEMENT_SHIFT: u8 = 3;

    fn of(service_key: u32, r: &Request) -> Facts {
        Facts {
            service_key,
            ward: r.ward,
            placement: r.placement,
            duplicate: r.duplicate,
            requested_at: r.requested_at,
            closed_at: r.closed_at,
        }
    }

    /// The packed bytes and how many of them are used (14, or 22 with `closed_at`).
    fn encode(&self) -> ([u8; 22], usize) {
        let mut b = [0u8; 22];
        b[..4].copy_from_slice(&self.service_key.to_be_bytes());
        b[4] = self.ward.unwrap_or(0);
        b[5] = if self.duplicate { Self::DUPLICATE } else { 0 }
            | if self.closed_at.is_some() {
                Self::CLOSED
            } else {
                0
            }
            | if self.ward.is_some() {
                Self::HAS_WARD
            } else {
                0
            }
            | self.placement.code() << Self::PLACEMENT_SHIFT;
        b[6..14].copy_from_slice(&self.requested_at.to_be_bytes());
        match self.closed_at {
            Some(c) => {
                b[14..22].copy_from_slice(&c.to_be_bytes());
                (b, 22)
            }
            None => (b, 14),
        }
    }

    /// Unpacks [`Facts::encode`]'s bytes; `None` when they are not such bytes.
    fn decode(b: &[u8]) -> Option<Facts> {
        let word = |at: usize| Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?));
        let flags = *b.get(5)?;
        let closed = flags & Self::CLOSED != 0;
        if b.len() != if closed { 22 } else { 14 } || flags >> 6 != 0 {
            return None;
        }
        let ward = (flags & Self::HAS_WARD != 0).then_some(b[4]);
        let placement = match Placement::from_code(flags >> Self::PLACEMENT_SHIFT)? {
            // Written before placements: a request without a ward was never placed.
            Placement::Record if ward.is_none() => Placement::NoMap,
            p => p,
        };
        Some(Facts {
            service_key: u32::from_be_bytes(b[..4].try_into().ok()?),
            ward,
            placement,
            duplicate: flags & Self::DUPLICATE != 0,
            requested_at: word(6)?,
            closed_at: if closed { Some(word(14)?) } else { None },
        })
    }
}

/// The numbers `service_keys` gives each (service_code, service_name) pair, for the writer.
#[derive(Debug, Default)]
struct ServiceKeys {
    /// Whether this holds the table (after a failed write it may not: it is read again).
    loaded: bool,
    /// Name → (code, number) pairs with that name.
    by_name: std::collections::HashMap<String, Vec<(Option<String>, u32)>>,
}

impl ServiceKeys {
    fn load(conn: &Connection) -> rusqlite::Result<ServiceKeys> {
        let mut keys = ServiceKeys {
            loaded: true,
            ..ServiceKeys::default()
        };
        let mut stmt = conn.prepare("SELECT id, code, name FROM service_keys")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (id, code, name): (i64, Option<String>, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            if let Ok(id) = u32::try_from(id) {
                keys.by_name.entry(name).or_default().push((code, id));
            }
        }
        Ok(keys)
    }

    fn get(&self, code: Option<&str>, name: &str) -> Option<u32> {
        self.by_name
            .get(name)?
            .iter()
            .find(|(c, _)| c.as_deref() == code)
            .map(|(_, id)| *id)
    }
}

/// `service_keys` read for a scan: the (code, name) pair of each number.
type ServiceKeyNames = Vec<Option<(Option<String>, String)>>;

fn service_key_names(conn: &Connection) -> rusqlite::Result<ServiceKeyNames> {
    let mut names: ServiceKeyNames = Vec::new();
    let mut stmt = conn.prepare("SELECT id, code, name FROM service_keys")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        // Numbers are handed out from 1 up; one far outside that range is not ours.
        let Some(i) = usize::try_from(id).ok().filter(|i| *i < 1 << 24) else {
            continue;
        };
        if names.len() <= i {
            names.resize(i + 1, None);
        }
        names[i] = Some((row.get(1)?, row.get(2)?));
    }
    Ok(names)
}

/// One record on its way into the store.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A parsed request; `notes` say what was cleaned.
    Request {
        /// The request.
        request: Box<Request>,
        /// Cleaning notes (recorded as `cleaned` rows).
        notes: Vec<String>,
        /// File and line, or URL, it came from: recorded with the notes, so only made (by
        /// `Parsed::into_incoming`) when there are notes, and empty otherwise.
        origin: String,
        /// `None` when `request.raw` is the record as received; the header naming its fields
        /// when it is a CSV row as a JSON array (see [`Store::raw_header`]).
        header: Option<RawHeader>,
    },
    /// A record without an id.
    Ignored {
        /// Why.
        reason: String,
        /// Where.
        origin: String,
        /// As received.
        raw: String,
    },
    /// A record that could not be used.
    Rejected {
        /// Why.
        reason: String,
        /// Where.
        origin: String,
        /// As received.
        raw: String,
    },
}

/// What a batch or a run did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Requests not in the store before.
    pub new: u64,
    /// Requests replaced by a newer version.
    pub updated: u64,
    /// Requests already stored as they are (or stored newer).
    pub unchanged: u64,
    /// Records without an id.
    pub ignored: u64,
    /// Records that could not be used.
    pub rejected: u64,
    /// Requests kept after cleaning a field.
    pub cleaned: u64,
}

impl Counts {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Counts) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.ignored += other.ignored;
        self.rejected += other.rejected;
        self.cleaned += other.cleaned;
    }

    /// Every record seen.
    pub fn seen(&self) -> u64 {
        self.new + self.updated + self.unchanged + self.ignored + self.rejected
    }
}

/// Identifies a CSV header row in the `raw_headers` table: the names of a raw row's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader(pub i64);

/// Identifies a run in the `runs` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId(pub i64);

/// A fetch window, in Unix seconds, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: UnixSeconds,
    /// Exclusive end.
    pub end: UnixSeconds,
}

/// The columns the aggregation reads, borrowed from SQLite's row buffer.
#[derive(Debug, Clone, Copy)]
pub struct RequestRef<'a> {
    /// The store's number for this (`service_code`, `service_name`) pair, when read from a
    /// store: the aggregation resolves each numbered pair once.
    pub service_key: Option<u32>,
    /// `service_code`.
    pub service_code: Option<&'a str>,
    /// `service_name`.
    pub service_name: &'a str,
    /// `requested_at`.
    pub requested_at: UnixSeconds,
    /// `closed_at`.
    pub closed_at: Option<UnixSeconds>,
    /// `ward`.
    pub ward: Option<WardNo>,
    /// Where `ward` came from, or why there is none.
    pub placement: Placement,
    /// `duplicate`.
    pub duplicate: bool,
}

/// Stores with fewer rows than this are scanned on one thread.
pub const PARALLEL_SCAN_MIN_ROWS: u64 = 100_000;

/// What a scan of every request saw, so the status needs no second pass over the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanTotals {
    /// Requests read.
    pub requests: u64,
    /// Of which duplicates.
    pub duplicates: u64,
    /// Newest `requested_at`.
    pub newest: Option<UnixSeconds>,
    /// Oldest `requested_at`.
    pub oldest: Option<UnixSeconds>,
}

impl ScanTotals {
    fn merge(self, o: ScanTotals) -> ScanTotals {
        ScanTotals {
            requests: self.requests + o.requests,
            duplicates: self.duplicates + o.duplicates,
            newest: self.newest.max(o.newest),
            oldest: match (self.oldest, o.oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// Reads the requests with `request_key` in `[lo, hi]` into `sink`.
fn scan_range(
    conn: &Connection,
    path: &Path,
    names: &ServiceKeyNames,
    lo: i64,
    hi: i64,
    sink: &mut impl FnMut(RequestRef<'_>),
) -> Result<ScanTotals, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    // No memory map: mapping the store made every page read count as the process's own
    // memory (902 MB peak for a 1 M-request build against 384 MB without), for no measurable
    // gain once the file is in the page cache.
    let mut stmt = conn
        .prepare("SELECT facts, request_key FROM request_facts WHERE request_key BETWEEN ?1 AND ?2")
        .map_err(err)?;
    let mut rows = stmt.query([lo, hi]).map_err(err)?;
    let mut totals = ScanTotals::default();
    while let Some(row) = rows.next().map_err(err)? {
        let facts = row.get_ref(0).ok().and_then(|v| v.as_blob().ok());
        let facts = facts.and_then(Facts::decode);
        let pair = facts.and_then(|f| names.get(f.service_key as usize)?.as_ref());
        let (Some(f), Some((service_code, service_name))) = (facts, pair) else {
            let key: i64 = row.get(1).map_err(err)?;
            return Err(StoreError::Damaged {
                path: path.to_path_buf(),
                detail: format!(
                    "request_facts row {key} is not what cwfy writes (or names a service pair not in service_keys)"
                ),
            });
        };
        totals.requests += 1;
        totals.duplicates += u64::from(f.duplicate);
        totals.newest = totals.newest.max(Some(f.requested_at));
        totals.oldest = Some(
            totals
                .oldest
                .map_or(f.requested_at, |o| o.min(f.requested_at)),
        );
        sink(RequestRef {
            service_key: Some(f.service_key),
            service_code: service_code.as_deref(),
            service_name,
            requested_at: f.requested_at,
            closed_at: f.closed_at,
            ward: f.ward,
            placement: f.placement,
            duplicate: f.duplicate,
        });
    }
    drop(rows);
    drop(stmt);
    Ok(totals)
}

/// A request with a photo, for `/photos/`.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoRow {
    /// `id`.
    pub id: String,
    /// `service_code`.
    pub service_code: Option<String>,
    /// `service_name`.
    pub service_name: String,
    /// `requested_at`.
    pub requested_at: UnixSeconds,
    /// `ward`.
    pub ward: Option<WardNo>,
    /// `address`.
    pub address: Option<String>,
    /// `media_url`.
    pub media_url: String,
    /// `status`.
    pub status: String,
}

/// Figures for `/status/` and the sanity gates.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStatus {
    /// Requests stored.
    pub requests: u64,
    /// Of which duplicates.
    pub duplicates: u64,
    /// Newest `requested_at`.
    pub newest_request: Option<UnixSeconds>,
    /// Oldest `requested_at`.
    pub oldest_request: Option<UnixSeconds>,
    /// When the last fetch or import run finished.
    pub last_run: Option<UnixSeconds>,
    /// Kind and source of that run.
    pub last_run_what: Option<String>,
    /// When the last fetch that completed every window finished.
    pub last_fetch_ok: Option<UnixSeconds>,
    /// The endpoint of that fetch.
    pub last_fetch_ok_from: Option<String>,
    /// Records ignored for lack of an id, over all runs.
    pub ignored_without_id: u64,
    /// Records rejected, over all runs.
    pub rejected: u64,
    /// Requests kept after cleaning, over all runs.
    pub cleaned: u64,
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    checkpointer: Option<Checkpointer>,
    service_keys: ServiceKeys,
}

/// Copies the WAL into the database file from a connection and thread of its own, so that a
/// bulk writer only appends to the WAL instead of stopping for SQLite's automatic checkpoints.
///
/// SQLite starts the WAL over only when a write begins after a checkpoint has copied all of it,
/// which a writer that never waits would not see: the WAL would grow by the whole import. So
/// once the WAL is longer than [`WAL_LIMIT_FRAMES`], the writer waits for the checkpoint of its
/// last commit (the earlier ones are copied already) before it begins the next transaction.
struct Checkpointer {
    shared: Arc<(Mutex<Checkpoints>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// WAL frames (pages) beyond which the writer lets the WAL start over (about 128 MB).
const WAL_LIMIT_FRAMES: i64 = 32_768;

/// What the writer asked of the checkpoint thread, and what it did.
#[derive(Default)]
struct Checkpoints {
    /// Checkpoints asked for (one per commit).
    asked: u64,
    /// The `asked` count the last finished checkpoint was started at.
    done: u64,
    /// Frames in the WAL at the last checkpoint.
    wal_frames: i64,
    /// The thread is to stop, or has.
    stop: bool,
}

impl Checkpointer {
    fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let shared = Arc::new((Mutex::new(Checkpoints::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let (state, changed) = &*theirs;
            // However this thread ends, a writer waiting for it must not wait forever.
            struct Gone<'a>(&'a (Mutex<Checkpoints>, Condvar));
            impl Drop for Gone<'_> {
                fn drop(&mut self) {
                    let (state, changed) = self.0;
                    state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
                    changed.notify_all();
                }
            }
            let _gone = Gone(&theirs);
            loop {
                let asked = {
                    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                    while s.asked == s.done && !s.stop {
                        s = changed.wait(s).unwrap_or_else(PoisonError::into_inner);
                    }
                    if s.stop {
                        return;
                    }
                    s.asked
                };
                // A checkpoint that cannot finish now is no error: the WAL stays longer and the
                // next one (or SQLite's own, once this thread stops) copies it.
                let frames = conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                    .unwrap_or(0);
                let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                s.done = asked;
                s.wal_frames = frames;
                changed.notify_all();
            }
        });
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint of everything committed so far.
    fn committed(&self) {
        let (state, changed) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).asked += 1;
        changed.notify_all();
    }

    /// Before a write: when the WAL is long, waits until everything committed is copied.
    fn before_write(&self) {
        let (state, changed) = &*self.shared;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.wal_frames > WAL_LIMIT_FRAMES {
            while s.done != s.asked && !s.stop {
                s = changed.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            // This write starts the WAL over (unless a reader holds on to it).
            s.wal_frames = 0;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, changed) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store {
    /// Opens (creating when needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            checkpointer: None,
            service_keys: ServiceKeys::default(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        self.conn
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(e)?;
        // WAL keeps readers going while a fetch writes; NORMAL sync is safe in WAL mode against
        // process kills (only power loss can drop the last commits).
        self.conn
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;")
            .map_err(e)?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(e)?;
            tx.execute_batch(sql).map_err(e)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(e)?;
            tx.commit().map_err(e)?;
        }
        Ok(())
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// While on, the WAL is copied into the database by a thread of its own after each commit,
    /// instead of by the writer (SQLite's automatic checkpoint, which the writer waits for): for
    /// bulk imports on a machine with a core to spare. Consistency is unaffected (a checkpoint
    /// never changes what the store holds). Turning it off waits for the thread.
    pub fn background_checkpoints(&mut self, on: bool) -> Result<(), StoreError> {
        if on == self.checkpointer.is_some() {
            return Ok(());
        }
        if on {
            let checkpointer = Checkpointer::start(&self.path).map_err(self.err())?;
            self.conn
                .pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(self.err())?;
            self.checkpointer = Some(checkpointer);
        } else {
            drop(self.checkpointer.take());
            self.conn
                .pragma_update(None, "wal_autocheckpoint", 1000)
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Whether the store holds at least one request: one page read, where counting them reads
    /// a whole index (4.5 s at 10 M requests when the store is not in the page cache).
    pub fn has_requests(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM requests)", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Requests stored.
    pub fn request_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM requests", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Starts a run (an import of a file, or a fetch) in the log.
    pub fn begin_run(
        &self,
        kind: &str,
        source: &str,
        target: &str,
        window: Option<Window>,
    ) -> Result<RunId, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs(kind, source, target, window_start, window_end, started_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')",
                params![kind, source, target, window.map(|w| w.start), window.map(|w| w.end), now()],
            )
            .map_err(self.err())?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Closes a run with its totals, status (`ok`, `failed`, `partial`) and error messages.
    pub fn finish_run(
        &self,
        run: RunId,
        counts: Counts,
        pages: u64,
        status: &str,
        errors: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at=?2, status=?3, pages=?4, new=?5, updated=?6, unchanged=?7, ignored=?8, rejected=?9, cleaned=?10, errors=?11 WHERE id=?1",
                params![run.0, now(), status, pages as i64, counts.new as i64, counts.updated as i64, counts.unchanged as i64, counts.ignored as i64, counts.rejected as i64, counts.cleaned as i64, errors],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Writes a batch in one transaction.
    pub fn write_batch(&mut self, run: RunId, items: &[Incoming]) -> Result<Counts, StoreError> {
        self.write(run, items, None)
    }

    /// Writes a fetch window's records and marks the window done, in one transaction.
    pub fn commit_window(
        &mut self,
        run: RunId,
        source: &str,
        mode: &str,
        window: Window,
        pages: u64,
        items: &[Incoming],
    ) -> Result<Counts, StoreError> {
        self.write(run, items, Some((source, mode, window, pages)))
    }

    fn write(
        &mut self,
        run: RunId,
        items: &[Incoming],
        window: Option<(&str, &str, Window, u64)>,
    ) -> Result<Counts, StoreError> {
        if !self.service_keys.loaded {
            self.service_keys = ServiceKeys::load(&self.conn).map_err(self.err())?;
        }
        let written = self.write_in_transaction(run, items, window);
        if written.is_err() {
            // Numbers handed out in the rolled-back transaction are gone: read them again.
            self.service_keys = ServiceKeys::default();
        }
        written
    }

    /// Writes a batch (and a fetch window's mark) in one transaction: each record through
    /// [`Batch::write`], then the new requests' facts, then the run's totals and the mark.
    fn write_in_transaction(
        &mut self,
        run: RunId,
        items: &[Incoming],
        window: Option<(&str, &str, Window, u64)>,
    ) -> Result<Counts, StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.before_write();
        }
        let tx = self.conn.transaction().map_err(e)?;
        let counts = {
            let mut batch = Batch::prepare(&tx, &path, &mut self.service_keys, run)?;
            batch.new_facts.reserve(items.len());
            for item in items {
                batch.write(item)?;
            }
            batch.add_new_facts()?;
            batch.counts
        };
        record_batch(&tx, run, counts, window).map_err(e)?;
        tx.commit().map_err(e)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(counts)
    }

    /// Whether a fetch window was completed by an earlier run.
    pub fn window_done(
        &self,
        source: &str,
        mode: &str,
        window: Window,
    ) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM windows WHERE source=?1 AND mode=?2 AND window_start=?3 AND window_end=?4",
                params![source, mode, window.start, window.end],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(self.err())
    }

    /// The end of the latest completed window of `source` (the incremental watermark).
    pub fn watermark(&self, source: &str) -> Result<Option<UnixSeconds>, StoreError> {
        self.conn
            .query_row(
                "SELECT max(window_end) FROM windows WHERE source=?1",
                [source],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Forgets every fetch window (of any source) that ends after `from`, so the next fetch
    /// starts there again: the watermark moves back to at most `from`. Returns how many.
    pub fn reopen_windows_from(&self, from: UnixSeconds) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM windows WHERE window_end > ?1", [from])
            .map_err(self.err())
    }

    /// Newest `updated_at` (else `requested_at`) among stored requests of a source kind.
    pub fn newest_update(&self, source_kind: &str) -> Result<Option<UnixSeconds>, StoreError> {
        self.conn
            .query_row(
                "SELECT max(coalesce(updated_at, requested_at)) FROM requests WHERE source=?1",
                [source_kind],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Replaces catalogue entries with what the source's `services.json` says.
    pub fn upsert_services(&mut self, services: &[ServiceType]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut stmt = tx
                // An upsert, not a replace: a service's definition stays until it is fetched anew.
                .prepare_cached("INSERT INTO services(code, name, description, group_name, fetched_at, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                    ON CONFLICT(code) DO UPDATE SET name=excluded.name, description=excluded.description, group_name=excluded.group_name, fetched_at=excluded.fetched_at, metadata=excluded.metadata")
                .map_err(e)?;
            let at = now();
            for s in services {
                stmt.execute(params![
                    s.code,
                    s.name,
                    s.description,
                    s.group,
                    at,
                    s.metadata
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(services.len())
    }

    /// Stores the attributes of a service's definition (`services/{code}.json`).
    pub fn set_service_definition(
        &self,
        code: &str,
        attributes: &[ServiceAttribute],
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(attributes).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "UPDATE services SET attributes = ?2 WHERE code = ?1",
                params![code, json],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The attributes of every service whose definition was fetched, by service code.
    pub fn service_definitions(
        &self,
    ) -> Result<BTreeMap<String, Vec<ServiceAttribute>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT code, attributes FROM services WHERE attributes IS NOT NULL")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (code, json) = row.map_err(self.err())?;
            // Written by `set_service_definition`; a value edited by hand into something else
            // is left out rather than failing the build.
            if let Ok(attributes) = serde_json::from_str::<Vec<ServiceAttribute>>(&json) {
                out.insert(code, attributes);
            }
        }
        Ok(out)
    }

    /// The service catalogue.
    pub fn services(&self) -> Result<Vec<ServiceType>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT code, name, description, group_name, metadata FROM services ORDER BY name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ServiceType {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    group: r.get(3)?,
                    metadata: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// The lowest and highest request key (none when the store is empty): a scan reads at most
    /// `hi - lo + 1` requests. Two index lookups.
    pub fn request_key_span(&self) -> Result<Option<(i64, i64)>, StoreError> {
        // Two subqueries: SQLite answers a lone min() or max() from the end of the b-tree, but
        // reads the whole table for `SELECT min(x), max(x)`.
        let (lo, hi): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT (SELECT min(request_key) FROM request_facts), (SELECT max(request_key) FROM request_facts)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        Ok(lo.zip(hi))
    }

    /// Reads every request's aggregation columns into `sink`. Returns what the scan saw.
    pub fn scan_requests(
        &self,
        sink: impl FnMut(RequestRef<'_>) + Send,
    ) -> Result<ScanTotals, StoreError> {
        let mut sinks = [sink];
        self.scan_requests_in_parts(&mut sinks)
    }

    /// Reads every request once, split by row into as many pieces as there are `sinks`, each
    /// piece on its own thread and its own read connection (WAL lets readers run side by side):
    /// reading rows out of SQLite is most of an aggregation's time. Stores under
    /// [`PARALLEL_SCAN_MIN_ROWS`] rows are read in one piece.
    pub fn scan_requests_in_parts<S>(&self, sinks: &mut [S]) -> Result<ScanTotals, StoreError>
    where
        S: FnMut(RequestRef<'_>) + Send,
    {
        let Some((lo, hi)) = self.request_key_span()? else {
            return Ok(ScanTotals::default());
        };
        let names = service_key_names(&self.conn).map_err(self.err())?;
        let names = &names;
        let Some((first, rest)) = sinks.split_first_mut() else {
            return Ok(ScanTotals::default());
        };
        let count = (hi - lo + 1) as u64;
        if rest.is_empty() || count < PARALLEL_SCAN_MIN_ROWS {
            // Any other sinks get nothing.
            return scan_range(&self.conn, &self.path, names, lo, hi, first);
        }
        let pieces = 1 + rest.len() as i64;
        let step = (hi - lo + pieces) / pieces;
        let bound = |k: i64| (lo + k * step, (lo + (k + 1) * step - 1).min(hi));
        std::thread::scope(|scope| {
            let handles: Vec<_> = rest
                .iter_mut()
                .enumerate()
                .map(|(k, sink)| {
                    let (a, b) = bound(k as i64 + 1);
                    let path = &self.path;
                    scope.spawn(move || {
                        let conn = Connection::open_with_flags(
                            path,
                            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )
                        .map_err(|source| StoreError::Sqlite {
                            path: path.clone(),
                            source,
                        })?;
                        scan_range(&conn, path, names, a, b, sink)
                    })
                })
                .collect();
            let (a, b) = bound(0);
            let mut totals = scan_range(&self.conn, &self.path, names, a, b, first)?;
            for h in handles {
                let part = h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                totals = totals.merge(part);
            }
            Ok(totals)
        })
    }

    /// Requests with a photo requested at or after `since`, newest first.
    pub fn photos_since(
        &self,
        since: UnixSeconds,
        limit: usize,
    ) -> Result<Vec<PhotoRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, service_code, service_name, requested_at, ward, address, media_url, status FROM requests
                 WHERE media_url IS NOT NULL AND requested_at >= ?1 AND duplicate = 0 ORDER BY requested_at DESC, id LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since, limit as i64], |r| {
                let ward: Option<i64> = r.get(4)?;
                Ok(PhotoRow {
                    id: r.get(0)?,
                    service_code: r.get(1)?,
                    service_name: r.get(2)?,
                    requested_at: r.get(3)?,
                    ward: ward.and_then(|w| WardNo::try_from(w).ok()),
                    address: r.get(5)?,
                    media_url: r.get(6)?,
                    status: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// The raw record of a request, as received: JSON text as the source sent it, or a CSV row
    /// as a JSON object keyed by its header's column names.
    pub fn raw(&self, id: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT raw, names FROM raw_records JOIN requests ON request_key = rowid_key
                 LEFT JOIN raw_headers ON raw_headers.id = raw_records.header WHERE requests.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        Ok(found.map(|(raw, names)| match names {
            None => raw,
            Some(names) => row_as_object(&names, &raw).unwrap_or(raw),
        }))
    }

    /// The id of a CSV header (its column names, in order), adding it when new. A raw row
    /// written with it is a JSON array of the row's fields in the same order.
    pub fn raw_header<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<RawHeader, StoreError> {
        let names = serde_json::to_string(&names.into_iter().collect::<Vec<_>>())
            .expect("a list of strings serialises");
        self.conn
            .execute(
                "INSERT INTO raw_headers(names) VALUES (?1) ON CONFLICT(names) DO NOTHING",
                [&names],
            )
            .map_err(self.err())?;
        self.conn
            .query_row(
                "SELECT id FROM raw_headers WHERE names = ?1",
                [&names],
                |r| r.get(0),
            )
            .map(RawHeader)
            .map_err(self.err())
    }

    /// Figures for `/status/`.
    pub fn status(&self) -> Result<StoreStatus, StoreError> {
        let (requests, duplicates, newest, oldest): (i64, Option<i64>, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT count(*), sum(duplicate), max(requested_at), min(requested_at) FROM requests",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.err())?;
        self.status_after_scan(ScanTotals {
            requests: requests as u64,
            duplicates: duplicates.unwrap_or(0) as u64,
            newest,
            oldest,
        })
    }

    /// The newest finished run that `condition` (SQL, written here) selects: when it finished,
    /// and its `what` column (`kind` or `source`) and target.
    fn last_run(
        &self,
        what: &str,
        condition: &str,
    ) -> Result<Option<(UnixSeconds, String)>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT finished_at, {what}, target FROM runs WHERE finished_at IS NOT NULL AND {condition} ORDER BY finished_at DESC, id DESC LIMIT 1"
                ),
                [],
                |r| {
                    let what: String = r.get(1)?;
                    let target: String = r.get(2)?;
                    Ok((r.get(0)?, format!("{what} {target}")))
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// The status, taking the request counts from a scan that just read every request.
    pub fn status_after_scan(&self, scan: ScanTotals) -> Result<StoreStatus, StoreError> {
        let mut s = StoreStatus {
            requests: scan.requests,
            duplicates: scan.duplicates,
            newest_request: scan.newest,
            oldest_request: scan.oldest,
            ..StoreStatus::default()
        };
        (s.last_run, s.last_run_what) = self.last_run("kind", "1")?.unzip();
        (s.last_fetch_ok, s.last_fetch_ok_from) = self
            .last_run("source", "kind = 'fetch' AND status = 'ok'")?
            .unzip();
        let mut stmt = self
            .conn
            .prepare("SELECT disposition, count(*) FROM rejected GROUP BY disposition")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?;
        for row in rows {
            let (disposition, n) = row.map_err(self.err())?;
            match disposition.as_str() {
                "ignored" => s.ignored_without_id = n as u64,
                "rejected" => s.rejected = n as u64,
                "cleaned" => s.cleaned = n as u64,
                _ => {}
            }
        }
        Ok(s)
    }

    /// Rejected, ignored and cleaned records: (origin, disposition, reason), oldest first.
    pub fn rejections(&self, limit: usize) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT origin, disposition, reason FROM rejected ORDER BY id LIMIT ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Sets a value in the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// `PRAGMA integrity_check`: `"ok"` when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// The underlying connection, for tests and tools that need plain SQL.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A raw CSV row (a JSON array of fields) as a JSON object keyed by its header's names (a JSON
/// array); `None` if either is not such an array (then the row is returned as stored).
fn row_as_object(names: &str, row: &str) -> Option<String> {
    let names: Vec<String> = serde_json::from_str(names).ok()?;
    let fields: Vec<serde_json::Value> = serde_json::from_str(row).ok()?;
    let object: serde_json::Map<String, serde_json::Value> =
        names.into_iter().zip(fields).collect();
    Some(serde_json::Value::Object(object).to_string())
}

/// One write transaction's prepared statements and what it has done so far.
struct Batch<'t> {
    tx: &'t rusqlite::Transaction<'t>,
    path: &'t Path,
    service_keys: &'t mut ServiceKeys,
    run: RunId,
    /// When the rejections and marks of this batch are recorded.
    at: i64,
    find: rusqlite::CachedStatement<'t>,
    insert: rusqlite::CachedStatement<'t>,
    update: rusqlite::CachedStatement<'t>,
    add_raw: rusqlite::CachedStatement<'t>,
    replace_raw: rusqlite::CachedStatement<'t>,
    add_facts: rusqlite::CachedStatement<'t>,
    replace_facts: rusqlite::CachedStatement<'t>,
    add_service_key: rusqlite::CachedStatement<'t>,
    reject: rusqlite::CachedStatement<'t>,
    /// New requests' facts, written after the batch's requests: their pages then come out side
    /// by side in the file (20,000 requests: about 150 pages in a row) instead of one among
    /// each request's pages, so a scan of a store out of the page cache reads runs, not
    /// scattered pages.
    new_facts: Vec<(i64, ([u8; 22], usize))>,
    counts: Counts,
}

impl<'t> Batch<'t> {
    fn prepare(
        tx: &'t rusqlite::Transaction<'t>,
        path: &'t Path,
        service_keys: &'t mut ServiceKeys,
        run: RunId,
    ) -> Result<Batch<'t>, StoreError> {
        let e = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let prepare = |sql: &str| tx.prepare_cached(sql).map_err(e);
        Ok(Batch {
            tx,
            path,
            service_keys,
            run,
            at: now(),
            find: prepare("SELECT rowid_key, updated_at FROM requests WHERE id = ?1")?,
            // A new id is inserted in one step; only an id already stored is looked up.
            insert: prepare(
                "INSERT INTO requests(id, service_code, service_name, status, is_closed, requested_at, updated_at, closed_at, ward, duplicate, parent_id, lat, long, address, description, media_url, channel, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT(id) DO NOTHING",
            )?,
            update: prepare(
                "UPDATE requests SET service_code=?2, service_name=?3, status=?4, is_closed=?5, requested_at=?6, updated_at=?7, closed_at=?8, ward=?9, duplicate=?10, parent_id=?11, lat=?12, long=?13, address=?14, description=?15, media_url=?16, channel=?17, source=?18 WHERE rowid_key=?1",
            )?,
            // A new request's raw record is a plain insert: INSERT OR REPLACE may delete a row
            // first, which makes SQLite open a statement journal for every execution.
            add_raw: prepare(
                "INSERT INTO raw_records(request_key, raw, header) VALUES (?1, ?2, ?3)",
            )?,
            replace_raw: prepare(
                "INSERT OR REPLACE INTO raw_records(request_key, raw, header) VALUES (?1, ?2, ?3)",
            )?,
            add_facts: prepare(
                "INSERT INTO request_facts(request_key, facts) VALUES (?1, ?2)",
            )?,
            replace_facts: prepare("UPDATE request_facts SET facts=?2 WHERE request_key=?1")?,
            add_service_key: prepare("INSERT INTO service_keys(code, name) VALUES (?1, ?2)")?,
            reject: prepare(
                "INSERT INTO rejected(run_id, origin, record_id, disposition, reason, raw, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            new_facts: Vec::new(),
            counts: Counts::default(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// Writes one record: a request is inserted, updated when newer, or left as it is; an
    /// ignored or rejected record is logged with its reason.
    fn write(&mut self, item: &Incoming) -> Result<(), StoreError> {
        match item {
            Incoming::Request {
                request,
                notes,
                origin,
                header,
            } => {
                let written = self.upsert(request, header.map(|h| h.0))?;
                if written && !notes.is_empty() {
                    self.counts.cleaned += 1;
                    self.log(
                        origin,
                        Some(&request.id),
                        "cleaned",
                        &notes.join("; "),
                        None,
                    )?;
                }
            }
            Incoming::Ignored {
                reason,
                origin,
                raw,
            } => {
                self.counts.ignored += 1;
                self.log(origin, None, "ignored", reason, Some(raw))?;
            }
            Incoming::Rejected {
                reason,
                origin,
                raw,
            } => {
                self.counts.rejected += 1;
                self.log(origin, None, "rejected", reason, Some(raw))?;
            }
        }
        Ok(())
    }

    /// Inserts a new request, or updates a stored one when the record is newer. Returns
    /// whether it was written.
    fn upsert(&mut self, r: &Request, header: Option<i64>) -> Result<bool, StoreError> {
        let fields = params![
            r.service_code,
            r.service_name,
            r.status,
            r.is_closed,
            r.requested_at,
            r.updated_at,
            r.closed_at,
            r.ward,
            r.duplicate,
            r.parent_id,
            r.lat,
            r.long,
            r.address,
            r.description,
            r.media_url,
            r.channel,
            r.source.as_str()
        ];
        let inserted = self
            .insert
            .execute(params![
                r.id, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
                fields[7], fields[8], fields[9], fields[10], fields[11], fields[12], fields[13],
                fields[14], fields[15], fields[16]
            ])
            .map_err(self.err())?;
        if inserted > 0 {
            self.counts.new += 1;
            let key = self.tx.last_insert_rowid();
            self.add_raw
                .execute(params![key, r.raw, header])
                .map_err(self.err())?;
            let sk = self.service_key(r.service_code.as_deref(), &r.service_name)?;
            self.new_facts.push((key, Facts::of(sk, r).encode()));
            return Ok(true);
        }
        let (key, stored): (i64, Option<i64>) = self
            .find
            .query_row([&r.id], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(self.err())?;
        if !is_newer(r.updated_at, stored) {
            self.counts.unchanged += 1;
            return Ok(false);
        }
        self.update
            .execute(params![
                key, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
                fields[7], fields[8], fields[9], fields[10], fields[11], fields[12], fields[13],
                fields[14], fields[15], fields[16]
            ])
            .map_err(self.err())?;
        self.replace_raw
            .execute(params![key, r.raw, header])
            .map_err(self.err())?;
        let sk = self.service_key(r.service_code.as_deref(), &r.service_name)?;
        let (facts, len) = Facts::of(sk, r).encode();
        self.replace_facts
            .execute(params![key, &facts[..len]])
            .map_err(self.err())?;
        self.counts.updated += 1;
        Ok(true)
    }

    /// The number of a (code, name) pair in `service_keys`, numbering it when it is new.
    fn service_key(&mut self, code: Option<&str>, name: &str) -> Result<u32, StoreError> {
        if let Some(k) = self.service_keys.get(code, name) {
            return Ok(k);
        }
        self.add_service_key
            .execute(params![code, name])
            .map_err(self.err())?;
        let id = self.tx.last_insert_rowid();
        let k = u32::try_from(id).map_err(|_| StoreError::Damaged {
            path: self.path.to_path_buf(),
            detail: format!("service_keys numbered a pair {id}, beyond 32 bits"),
        })?;
        self.service_keys
            .by_name
            .entry(name.to_string())
            .or_default()
            .push((code.map(str::to_string), k));
        Ok(k)
    }

    /// Logs a record that was cleaned, ignored or rejected, with why.
    fn log(
        &mut self,
        origin: &str,
        record_id: Option<&str>,
        disposition: &str,
        reason: &str,
        raw: Option<&str>,
    ) -> Result<(), StoreError> {
        self.reject
            .execute(params![
                self.run.0,
                origin,
                record_id,
                disposition,
                reason,
                raw,
                self.at
            ])
            .map_err(self.err())?;
        Ok(())
    }

    /// Writes the new requests' facts (see [`Batch::new_facts`]).
    fn add_new_facts(&mut self) -> Result<(), StoreError> {
        for (key, (facts, len)) in &self.new_facts {
            self.add_facts
                .execute(params![key, &facts[..*len]])
                .map_err(|source| StoreError::Sqlite {
                    path: self.path.to_path_buf(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Adds a batch's counts to its run and, for a fetch window, marks the window done.
fn record_batch(
    tx: &rusqlite::Transaction,
    run: RunId,
    counts: Counts,
    window: Option<(&str, &str, Window, u64)>,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE runs SET new=new+?2, updated=updated+?3, unchanged=unchanged+?4, ignored=ignored+?5, rejected=rejected+?6, cleaned=cleaned+?7 WHERE id=?1",
        params![run.0, counts.new as i64, counts.updated as i64, counts.unchanged as i64, counts.ignored as i64, counts.rejected as i64, counts.cleaned as i64],
    )?;
    if let Some((source, mode, window, pages)) = window {
        tx.execute(
            "INSERT OR REPLACE INTO windows(source, mode, window_start, window_end, pages, records, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![source, mode, window.start, window.end, pages as i64, counts.seen() as i64, now()],
        )?;
        tx.execute(
            "UPDATE runs SET pages=pages+?2 WHERE id=?1",
            params![run.0, pages as i64],
        )?;
    }
    Ok(())
}

/// Whether an incoming `updated_at` should replace the stored one.
fn is_newer(incoming: Option<UnixSeconds>, stored: Option<UnixSeconds>) -> bool {
    match (incoming, stored) {
        (Some(i), Some(s)) => i > s,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Now, in Unix seconds.
pub fn now() -> UnixSeconds {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;

    fn req(id: &str, updated: Option<i64>, status: &str) -> Incoming {
        Incoming::Request {
            request: Box::new(Request {
                id: id.into(),
                service_code: None,
                service_name: "Pothole".into(),
                status: status.into(),
                is_closed: false,
                requested_at: 1_600_000_000,
                updated_at: updated,
                closed_at: None,
                ward: Some(3),
                placement: crate::domain::Placement::default(),
                duplicate: false,
                parent_id: None,
                lat: None,
                long: None,
                address: None,
                description: None,
                media_url: None,
                channel: None,
                source: SourceKind::Open311,
                raw: format!("{{\"id\":\"{id}\",\"status\":\"{status}\"}}"),
            }),
            notes: vec![],
            origin: "test".into(),
            header: None,
        }
    }

    #[test]
    fn upsert_keeps_newest_and_reimport_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert!(!store.has_requests().unwrap());
        let run = store.begin_run("import", "test", "x", None).unwrap();
        let c = store
            .write_batch(run, &[req("a", Some(10), "open"), req("b", None, "open")])
            .unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (2, 0, 0));
        assert!(store.has_requests().unwrap());
        let c = store
            .write_batch(run, &[req("a", Some(10), "open"), req("b", None, "open")])
            .unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (0, 0, 2));
        let c = store
            .write_batch(
                run,
                &[req("a", Some(5), "stale"), req("a", Some(20), "closed")],
            )
            .unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (0, 1, 1));
        assert!(store.raw("a").unwrap().unwrap().contains("closed"));
        assert_eq!(store.request_count().unwrap(), 2);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn rejected_and_ignored_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let run = store.begin_run("import", "test", "x", None).unwrap();
        let items = [
            Incoming::Ignored {
                reason: "no id".into(),
                origin: "f:2".into(),
                raw: "{}".into(),
            },
            Incoming::Rejected {
                reason: "bad date".into(),
                origin: "f:3".into(),
                raw: "{}".into(),
            },
        ];
        let c = store.write_batch(run, &items).unwrap();
        assert_eq!((c.ignored, c.rejected), (1, 1));
        let s = store.status().unwrap();
        assert_eq!((s.ignored_without_id, s.rejected), (1, 1));
        assert_eq!(
            store.rejections(10).unwrap()[1],
            ("f:3".into(), "rejected".into(), "bad date".into())
        );
    }

    #[test]
    fn reopened_windows_move_the_watermark_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let run = store
            .begin_run("fetch", "open311", "http://x", None)
            .unwrap();
        for (start, end) in [(0, 100), (100, 200), (200, 250)] {
            let w = Window { start, end };
            store
                .commit_window(run, "k", "increment", w, 1, &[])
                .unwrap();
        }
        assert_eq!(store.watermark("k").unwrap(), Some(250));
        assert_eq!(store.reopen_windows_from(100).unwrap(), 2);
        assert_eq!(store.watermark("k").unwrap(), Some(100));
        let kept = Window { start: 0, end: 100 };
        assert!(store.window_done("k", "increment", kept).unwrap());
        assert_eq!(store.reopen_windows_from(100).unwrap(), 0);
    }

    #[test]
    fn windows_are_committed_with_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let run = store
            .begin_run("fetch", "open311", "http://x", None)
            .unwrap();
        let w = Window {
            start: 0,
            end: 86_400,
        };
        assert!(!store.window_done("open311", "backfill", w).unwrap());
        store
            .commit_window(
                run,
                "open311",
                "backfill",
                w,
                2,
                &[req("a", Some(1), "open")],
            )
            .unwrap();
        assert!(store.window_done("open311", "backfill", w).unwrap());
        assert_eq!(store.watermark("open311").unwrap(), Some(86_400));
    }

    #[test]
    fn csv_rows_are_kept_as_arrays_and_read_back_as_objects() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let header = store.raw_header(["sr_number", "status", "ward"]).unwrap();
        assert_eq!(
            store.raw_header(["sr_number", "status", "ward"]).unwrap(),
            header
        );
        assert_ne!(store.raw_header(["sr_number", "ward"]).unwrap(), header);
        let run = store.begin_run("import", "csv", "x", None).unwrap();
        let Incoming::Request {
            request,
            notes,
            origin,
            ..
        } = req("a", Some(1), "open")
        else {
            unreachable!()
        };
        let mut request = request;
        request.raw = r#"["SR1","Open \"now\"","3"]"#.into();
        let item = Incoming::Request {
            request,
            notes,
            origin,
            header: Some(header),
        };
        store
            .write_batch(run, &[item, req("b", Some(1), "open")])
            .unwrap();
        assert_eq!(
            store.raw("a").unwrap().unwrap(),
            r#"{"sr_number":"SR1","status":"Open \"now\"","ward":"3"}"#
        );
        // A record kept whole comes back as it was stored.
        assert_eq!(
            store.raw("b").unwrap().unwrap(),
            r#"{"id":"b","status":"open"}"#
        );
        assert_eq!(store.raw("c").unwrap(), None);
    }

    /// Requests that exercise every part of [`Facts`]: no code, no ward, ward 0, closed before
    /// opened, duplicates, instants before 1970.
    fn varied_requests() -> Vec<Incoming> {
        /// Code, name, ward, closed_at, duplicate, requested_at.
        type Shape = (
            Option<&'static str>,
            &'static str,
            Option<u8>,
            Option<i64>,
            bool,
            i64,
        );
        let shapes: [Shape; 6] = [
            (
                Some("4fd3b"),
                "Pothole in Street",
                Some(3),
                None,
                false,
                1_600_000_000,
            ),
            (
                None,
                "Pothole in Street",
                None,
                Some(1_600_090_000),
                false,
                1_600_000_100,
            ),
            (
                Some("x"),
                "Graffiti Removal",
                Some(0),
                Some(1_599_000_000),
                true,
                1_600_000_200,
            ),
            (
                Some("x"),
                "Graffiti  Removal",
                Some(50),
                Some(-5),
                false,
                -86_400 * 400,
            ),
            (Some("4fd3b"), "Pothole in Street", Some(255), None, true, 0),
            (
                Some(""),
                "Tree Trim",
                Some(12),
                Some(1_700_000_000),
                false,
                1_690_000_000,
            ),
        ];
        shapes
            .iter()
            .enumerate()
            .map(|(i, (code, name, ward, closed, dup, opened))| {
                let Incoming::Request {
                    mut request,
                    notes,
                    origin,
                    header,
                } = req(&format!("r{i}"), Some(1), "open")
                else {
                    unreachable!()
                };
                request.service_code = code.map(str::to_string);
                request.service_name = name.to_string();
                request.ward = *ward;
                request.closed_at = *closed;
                request.duplicate = *dup;
                request.requested_at = *opened;
                Incoming::Request {
                    request,
                    notes,
                    origin,
                    header,
                }
            })
            .collect()
    }

    /// Code, name, requested_at, closed_at, ward, duplicate.
    type Expected = (Option<String>, String, i64, Option<i64>, Option<u8>, bool);

    /// What a scan reads, as owned values in key order.
    type Scanned = (
        Option<u32>,
        Option<String>,
        String,
        i64,
        Option<i64>,
        Option<u8>,
        bool,
    );

    fn scan_all(store: &Store) -> Vec<Scanned> {
        let mut seen = Vec::new();
        store
            .scan_requests(|r| {
                seen.push((
                    r.service_key,
                    r.service_code.map(str::to_string),
                    r.service_name.to_string(),
                    r.requested_at,
                    r.closed_at,
                    r.ward,
                    r.duplicate,
                ))
            })
            .unwrap();
        seen
    }

    fn expected_scan(items: &[Incoming]) -> Vec<Expected> {
        items
            .iter()
            .map(|item| match item {
                Incoming::Request { request: r, .. } => (
                    r.service_code.clone(),
                    r.service_name.clone(),
                    r.requested_at,
                    r.closed_at,
                    r.ward,
                    r.duplicate,
                ),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn facts_come_back_as_packed_and_anything_else_is_refused() {
        for closed_at in [None, Some(-1), Some(i64::MAX)] {
            for ward in [None, Some(0), Some(50), Some(255)] {
                let f = Facts {
                    service_key: 0xdead_beef,
                    ward,
                    placement: if ward.is_some() {
                        Placement::RecordDisagrees
                    } else {
                        Placement::Placeholder
                    },
                    duplicate: ward == Some(0),
                    requested_at: i64::MIN,
                    closed_at,
                };
                let (bytes, len) = f.encode();
                assert_eq!(Facts::decode(&bytes[..len]), Some(f));
                assert_eq!(Facts::decode(&bytes[..len - 1]), None);
            }
        }
        let open = Facts {
            service_key: 7,
            ward: None,
            placement: Placement::NoMap,
            duplicate: false,
            requested_at: 1,
            closed_at: None,
        };
        let (mut bytes, len) = open.encode();
        assert_eq!(Facts::decode(&bytes[..len]), Some(open));
        bytes[5] |= 64;
        assert_eq!(Facts::decode(&bytes[..len]), None);
        assert_eq!(Facts::decode(&[]), None);
    }

    #[test]
    fn the_migration_packs_facts_exactly_as_the_writer_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let run = store.begin_run("import", "csv", "x", None).unwrap();
        store.write_batch(run, &varied_requests()).unwrap();
        let query = |sql: &str| {
            let mut stmt = store.conn.prepare(sql).unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .unwrap();
            rows.collect::<Result<Vec<_>, _>>().unwrap()
        };
        let written = query("SELECT request_key, facts FROM request_facts ORDER BY 1");
        let packed_by_sql = query(concat!(facts_select!(), " ORDER BY 1"));
        assert_eq!(written.len(), 6);
        assert_eq!(packed_by_sql, written);
    }

    #[test]
    fn a_store_written_before_facts_is_upgraded_and_scans_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let items = varied_requests();
        {
            // A store as cwfy left it at schema version 3, with its requests.
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            for (i, (code, name, opened, closed, ward, dup)) in
                expected_scan(&items).into_iter().enumerate()
            {
                conn.execute(
                    "INSERT INTO requests(id, service_code, service_name, status, is_closed, requested_at, closed_at, ward, duplicate, source)
                     VALUES (?1, ?2, ?3, 'open', 0, ?4, ?5, ?6, ?7, 'open311')",
                    params![format!("r{i}"), code, name, opened, closed, ward, dup],
                )
                .unwrap();
            }
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let upgraded = scan_all(&store);
        let without_keys: Vec<_> = upgraded
            .iter()
            .map(|(_, c, n, o, cl, w, d)| (c.clone(), n.clone(), *o, *cl, *w, *d))
            .collect();
        assert_eq!(without_keys, expected_scan(&items));
        // Same pair, same number; the writer goes on numbering from the upgraded table.
        assert_eq!(upgraded[0].0, upgraded[4].0);
        assert_ne!(upgraded[0].0, upgraded[1].0);
        let run = store.begin_run("import", "csv", "x", None).unwrap();
        let mut more = varied_requests();
        if let Incoming::Request { request, .. } = &mut more[0] {
            request.id = "new".into();
            request.service_name = "A New Type".into();
        }
        store.write_batch(run, &more[..1]).unwrap();
        let after = scan_all(&store);
        assert_eq!(after.len(), 7);
        assert!(!upgraded.iter().any(|r| r.0 == after[6].0));
    }

    #[test]
    fn an_update_repacks_the_facts_and_damaged_facts_name_their_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let run = store.begin_run("import", "csv", "x", None).unwrap();
        let items = varied_requests();
        store.write_batch(run, &items).unwrap();
        assert_eq!(
            scan_all(&store)
                .into_iter()
                .map(|(_, c, n, o, cl, w, d)| (c, n, o, cl, w, d))
                .collect::<Vec<_>>(),
            expected_scan(&items)
        );
        let mut closed = items[0].clone();
        if let Incoming::Request { request, .. } = &mut closed {
            request.updated_at = Some(2);
            request.closed_at = Some(1_600_500_000);
            request.ward = Some(9);
        }
        store.write_batch(run, &[closed]).unwrap();
        let first = &scan_all(&store)[0];
        assert_eq!((first.4, first.5), (Some(1_600_500_000), Some(9)));

        // A request deleted by hand leaves the scan too.
        store
            .conn
            .execute("DELETE FROM requests WHERE rowid_key = 3", [])
            .unwrap();
        assert_eq!(scan_all(&store).len(), items.len() - 1);

        store
            .conn
            .execute(
                "UPDATE request_facts SET facts = x'00' WHERE request_key = 2",
                [],
            )
            .unwrap();
        let err = store.scan_requests(|_| {}).unwrap_err().to_string();
        assert!(err.contains("request_facts row 2"), "{err}");
        assert!(err.contains("new store"), "{err}");
    }

    #[test]
    fn background_checkpoints_keep_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = Store::open(&path).unwrap();
        store.background_checkpoints(true).unwrap();
        let run = store.begin_run("import", "test", "x", None).unwrap();
        for batch in 0..20 {
            let items: Vec<Incoming> = (0..500)
                .map(|i| req(&format!("{batch}-{i}"), Some(1), "open"))
                .collect();
            assert_eq!(store.write_batch(run, &items).unwrap().new, 500);
        }
        store.background_checkpoints(false).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.request_count().unwrap(), 10_000);
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let autocheckpoint: i64 = store
            .connection()
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 1000);
    }
}

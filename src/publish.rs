//! The one output funnel: every file of the site goes through [`Output`].
//!
//! Files are minified (HTML and CSS), written into a temporary folder next to the target
//! (`site.tmp-<pid>`), and the folder is swapped in only by [`Output::finish`], with an atomic
//! directory exchange (`renameat2(RENAME_EXCHANGE)` on Linux): at every instant the target is the
//! complete old site or the complete new one. A file whose bytes did not change since the last
//! build is hard-linked from the old site, so it keeps its modification time and `rsync` or a
//! bucket sync uploads only what changed. `manifest.json` lists every file with its size and
//! SHA-256.
//!
//! The site a swap replaces is kept beside the target as `site.spare` and becomes the next
//! build's temporary folder: a nightly build then touches only the files that changed in two
//! nights, instead of linking every file of the site into an empty folder and deleting every
//! file of the old one (at 10 M requests, 234,000 files: most of a rebuild's time). A spare
//! file is kept only when it is the very file the current site has (same inode), so what is
//! published is always exactly what the build wrote or linked. Deleting `site.spare` is safe.
//!
//! A stage may group the files of one page into a *unit* with a key that sums up everything the
//! page is drawn from ([`Output::unit`]). When the previous site has the unit with the same key,
//! its files are linked without drawing anything, which is what makes a nightly rebuild cheap.
//! The manifest records each unit's key and files.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Publishing failed; the previous site is untouched. Exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file or folder operation failed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A path a stage asked for would leave the output folder.
    #[error("refusing to write {0:?}: output paths must be relative and stay inside the site")]
    BadPath(String),
}

fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> PublishError + 'p {
    move |source| PublishError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path inside the site, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes (lower-case hex in the JSON).
    pub sha256: Sha256Hash,
}

/// A SHA-256 hash, held as its 32 bytes and written as 64 lower-case hex digits. At 420,000
/// files a build holds three maps of them; as strings they took 88 bytes and an allocation each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hash(pub [u8; 32]);

impl Sha256Hash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Hash {
        Sha256Hash(Sha256::digest(bytes).into())
    }
}

impl std::fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Sha256Hash {
    type Err = String;

    fn from_str(text: &str) -> Result<Sha256Hash, String> {
        let digits = text.as_bytes();
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut hash = [0u8; 32];
        if digits.len() != 64 {
            return Err(format!("a SHA-256 has 64 hex digits, not {}", digits.len()));
        }
        for (byte, pair) in hash.iter_mut().zip(digits.chunks(2)) {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
                _ => return Err(format!("{text:?} is not a hex SHA-256")),
            }
        }
        Ok(Sha256Hash(hash))
    }
}

impl Serialize for Sha256Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Sha256Hash, D::Error> {
        // A visitor reads the digits where they lie, without a string for each of the
        // manifest's hashes.
        struct Digits;
        impl serde::de::Visitor<'_> for Digits {
            type Value = Sha256Hash;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("64 hex digits of a SHA-256")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Sha256Hash, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Digits)
    }
}

/// What a manifest says of one file besides its path: the maps of a build hold the path once,
/// as their key (at 420,000 files a second copy of every path cost tens of MB a map).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileFacts {
    size: u64,
    sha256: Sha256Hash,
}

impl FileFacts {
    /// A manifest entry as a map's key and value.
    fn keyed(entry: ManifestEntry) -> (String, FileFacts) {
        let ManifestEntry { path, size, sha256 } = entry;
        (path, FileFacts { size, sha256 })
    }

    /// The manifest entry of the file at `path`.
    fn entry(self, path: String) -> ManifestEntry {
        ManifestEntry {
            path,
            size: self.size,
            sha256: self.sha256,
        }
    }
}

/// `manifest.json`: every file of the published site.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Files sorted by path.
    pub files: Vec<ManifestEntry>,
    /// Units by name: the key each was made with and the files it wrote.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, UnitRecord>,
}

/// One unit of a build (see [`Output::unit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The key it was made with, lower-case hex.
    pub key: String,
    /// The files it wrote, sorted.
    pub files: Vec<String>,
}

/// A unit in the new site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitOutcome<T> {
    /// What the maker returned when it ran; `None` when the unit was linked from the previous
    /// site, which had it with the same key.
    pub made: Option<T>,
    /// Its files ending in `.html`.
    pub pages: usize,
    /// Its other files.
    pub files: usize,
}

/// Pages (`.html`) and other files among `files`.
fn page_and_file_counts(files: &[String]) -> (usize, usize) {
    let pages = files.iter().filter(|f| f.ends_with(".html")).count();
    (pages, files.len() - pages)
}

thread_local! {
    /// Files written by the units running on this thread, innermost last.
    static UNIT_FILES: std::cell::RefCell<Vec<Vec<String>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The name of the manifest file at the root of the site.
pub const MANIFEST: &str = "manifest.json";

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// Files whose bytes are new or changed.
    pub written: usize,
    /// Files identical to the previous site (kept with their old modification time).
    pub unchanged: usize,
    /// Files of the previous site that no longer belong (only with `prune`, or when an earlier
    /// file could not be kept; see [`Output::keep_earlier`]).
    pub removed: usize,
    /// Files of earlier builds that this build did not make, published again unchanged
    /// ([`Output::keep_earlier`]); counted in `unchanged` too.
    pub kept_earlier: usize,
    /// Total bytes of the new site.
    pub bytes: u64,
    /// Units (pages with their files) made in this build.
    pub units_made: usize,
    /// Units linked from the previous site because their inputs had not changed.
    pub units_kept: usize,
}

/// The room a host gives a site, checked on the staged site before it is published
/// ([`Output::check_budget`]). The config's `site.budget` fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of the whole site.
    pub bytes: u64,
    /// Files of the whole site.
    pub files: u64,
    /// Bytes of one HTML page.
    pub page_bytes: u64,
    /// Bytes of any one file.
    pub file_bytes: u64,
}

/// The staged site does not fit its budget; nothing was published. The message says by how
/// much, which kinds of file take the most room, and which pages are too big.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OverBudget(pub String);

/// A file's kind for the budget report: its path with the parts that vary from page to page
/// (numbers, dates, slugs) replaced by `*`, and for a file whose own name varies, `*.ext`:
/// `ward/12/week/2021-03-08/index.html` → `ward/*/week/*/index.html`,
/// `api/v1/wards/12/weeks/2021-03-08.json` → `api/v1/wards/*/weeks/*.json`.
pub fn file_kind(path: &str) -> String {
    /// The words of the site's URLs (SPEC §6/§7); any other folder name is a slug.
    const FIXED: [&str; 17] = [
        "api",
        "v1",
        "ward",
        "wards",
        "week",
        "weeks",
        "service",
        "services",
        "day",
        "days",
        "data",
        "feeds",
        "about",
        "photos",
        "status",
        "district",
        "districts",
    ];
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let varies = !FIXED.contains(part) && part.bytes().any(|b| b.is_ascii_digit());
            if i == last {
                if varies {
                    match part.rsplit_once('.') {
                        Some((_, ext)) => format!("*.{ext}"),
                        None => "*".into(),
                    }
                } else {
                    part.to_string()
                }
            } else if varies || (i > 0 && !FIXED.contains(part)) {
                "*".into()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The folder part of a [`file_kind`]: the kind of page a file belongs to.
fn page_kind(kind: &str) -> &str {
    match kind.rfind('/') {
        Some(i) => &kind[..=i],
        None => "(the site's root)",
    }
}

/// How a file is treated on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Css,
    Other,
}

fn kind_of(path: &str) -> Kind {
    if path.ends_with(".html") {
        Kind::Html
    } else if path.ends_with(".css") {
        Kind::Css
    } else {
        Kind::Other
    }
}

/// Settings that keep minified HTML standards-compliant (closing tags, doctype, quoted values
/// where required), so validators accept it.
fn minify_cfg() -> minify_html::Cfg {
    minify_html::Cfg {
        keep_closing_tags: true,
        keep_html_and_head_opening_tags: true,
        minify_css: true,
        minify_doctype: false,
        minify_js: false,
        keep_comments: false,
        allow_noncompliant_unquoted_attribute_values: false,
        allow_removing_spaces_between_attributes: false,
        allow_optimal_entities: false,
        ..minify_html::Cfg::default()
    }
}

/// What stands in a page for a block set aside while the rest of it is minified.
const SLOT: &[u8] = b"<set-aside></set-aside>";

/// Blocks written compact by our own code, set aside from minifying: inline SVG charts and maps,
/// and data tables (`crate::render::html_table` writes a bare `<table>`; a template's table with
/// attributes is minified with the page).
const SET_ASIDE: [(&[u8], &[u8]); 2] = [(b"<svg", b"</svg>"), (b"<table>", b"</table>")];

/// Minifies a page.
///
/// Inline SVG and data tables (most of a big page's bytes) come from our own code already
/// compact, so they are set aside, the rest is minified, and they are put back: minifying them
/// again cost a third of a build's time and saved almost nothing.
pub fn minify_html(html: &[u8]) -> Vec<u8> {
    let (skeleton, blocks) = set_aside_blocks(html);
    if blocks.is_empty() {
        return minify_html::minify(html, &minify_cfg());
    }
    let minified = minify_html::minify(&skeleton, &minify_cfg());
    let parts: Vec<&[u8]> = split_on(&minified, SLOT);
    if parts.len() != blocks.len() + 1 {
        // The minifier moved or dropped a slot: minify the page whole instead.
        return minify_html::minify(html, &minify_cfg());
    }
    let mut out =
        Vec::with_capacity(minified.len() + blocks.iter().map(|s| s.len()).sum::<usize>());
    for (i, part) in parts.iter().enumerate() {
        out.extend_from_slice(part);
        if let Some(block) = blocks.get(i) {
            out.extend_from_slice(block);
        }
    }
    out
}

/// Where the next opening tag `open` is at or after `from`. An open tag `open` (`<svg`) must be
/// followed by a space or `>` (`<svgz>` is not ours).
fn next_open(html: &[u8], open: &[u8], mut from: usize) -> Option<usize> {
    while let Some(at) = find(&html[from..], open) {
        let at = from + at;
        if open.ends_with(b">")
            || html
                .get(at + open.len())
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b'>')
        {
            return Some(at);
        }
        from = at + open.len();
    }
    None
}

/// The page with each top-level block of [`SET_ASIDE`] replaced by [`SLOT`], and the blocks in
/// order. A page with a block that cannot be delimited simply (nested or unclosed) is left whole.
fn set_aside_blocks(html: &[u8]) -> (Vec<u8>, Vec<&[u8]>) {
    let mut skeleton = Vec::with_capacity(html.len());
    let mut blocks = Vec::new();
    let mut done = 0;
    // The next opening of each kind at or after `done` (searched again only once passed).
    let mut next: Vec<Option<usize>> = SET_ASIDE
        .iter()
        .map(|(open, _)| next_open(html, open, 0))
        .collect();
    while let Some((start, kind)) = next
        .iter()
        .enumerate()
        .filter_map(|(kind, at)| at.map(|at| (at, kind)))
        .min()
    {
        let (open, close) = SET_ASIDE[kind];
        let Some(len) = find(&html[start..], close).map(|e| e + close.len()) else {
            return (html.to_vec(), Vec::new());
        };
        let block = &html[start..start + len];
        if find(&block[open.len()..], open).is_some() {
            return (html.to_vec(), Vec::new());
        }
        skeleton.extend_from_slice(&html[done..start]);
        skeleton.extend_from_slice(SLOT);
        blocks.push(block);
        done = start + len;
        for (k, at) in next.iter_mut().enumerate() {
            if at.is_some_and(|at| at < done) {
                *at = next_open(html, SET_ASIDE[k].0, done);
            }
        }
    }
    skeleton.extend_from_slice(&html[done..]);
    (skeleton, blocks)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn split_on<'a>(bytes: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(i) = find(rest, sep) {
        parts.push(&rest[..i]);
        rest = &rest[i + sep.len()..];
    }
    parts.push(rest);
    parts
}

/// Minifies an HTML template, keeping its Tera tags (`{{ }}`, `{% %}`, `{# #}`) as they are;
/// `None` when the result is not text. See `crate::render::load_templates`.
pub fn minify_template(template: &str) -> Option<String> {
    let mut cfg = minify_cfg();
    cfg.preserve_brace_template_syntax = true;
    String::from_utf8(minify_html::minify(template.as_bytes(), &cfg)).ok()
}

/// Minifies a style sheet (through minify-html's CSS minifier).
pub fn minify_css(css: &str) -> String {
    let wrapped = format!("<style>{css}</style>");
    let out = minify_html::minify(wrapped.as_bytes(), &minify_cfg());
    let out = String::from_utf8_lossy(&out);
    match out
        .strip_prefix("<style>")
        .and_then(|s| s.strip_suffix("</style>"))
    {
        Some(inner) => inner.to_string(),
        None => css.to_string(),
    }
}

/// Checks that `rel` is a plain relative path inside the site.
fn check_rel(rel: &str) -> Result<(), PublishError> {
    let bad = rel.is_empty()
        || rel.starts_with('/')
        || rel.contains('\\')
        || rel.contains('\0')
        || rel
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(PublishError::BadPath(rel.to_string()))
    } else {
        Ok(())
    }
}

/// The funnel. Create with [`Output::begin`], add files from any thread, then [`Output::finish`].
pub struct Output {
    target: PathBuf,
    tmp: PathBuf,
    previous: BTreeMap<String, FileFacts>,
    /// The files the staging folder started with, when it is a recycled spare site (by its
    /// manifest); empty for a fresh folder.
    recycled: BTreeMap<String, FileFacts>,
    written: Mutex<BTreeMap<String, (FileFacts, Origin)>>,
    previous_units: BTreeMap<String, UnitRecord>,
    units: Mutex<BTreeMap<String, UnitRecord>>,
    units_kept: std::sync::atomic::AtomicUsize,
    /// Folders of the staging site already created.
    dirs: Mutex<std::collections::HashSet<String>>,
    /// Files published again from earlier builds ([`Output::keep_earlier`]).
    kept_earlier: std::sync::atomic::AtomicUsize,
    /// The live site's files by folder, each folder read once (see [`Output::live_inode`]).
    live_folders: Mutex<HashMap<String, Arc<LiveFolder>>>,
}

/// Where a file of the new site comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Written by this build, with bytes the previous site did not have there.
    Written,
    /// Made or kept by this build, the same as the previous site's file (linked).
    Unchanged,
    /// Not made by this build: published by an earlier one and kept ([`Output::keep_earlier`]).
    Earlier,
}

/// One folder of the live site, as one `readdir` gave it: its device and its regular files'
/// inode numbers by name. The live site does not change while a build runs (`cwfy.lock`).
#[derive(Default)]
struct LiveFolder {
    dev: u64,
    files: HashMap<String, u64>,
}

impl Output {
    /// Starts a new build of `target` (e.g. `site/`) in a fresh temporary folder beside it.
    ///
    /// Leftovers of killed runs are cleaned first; a site left half-swapped by a killed fallback
    /// swap is restored.
    pub fn begin(target: &Path) -> Result<Output, PublishError> {
        let target = target.to_path_buf();
        let parent = parent_of(&target);
        fs::create_dir_all(&parent).map_err(io("create folder", &parent))?;
        recover_and_clean(&target)?;
        let tmp = sibling(&target, &format!("tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io("remove stale folder", &tmp))?;
        }
        let spare = sibling(&target, SPARE);
        let recycled = match read_manifest_files(&spare) {
            Some(files) if fs::rename(&spare, &tmp).is_ok() => files,
            _ => {
                if spare.exists() {
                    remove_tree(&spare);
                }
                fs::create_dir(&tmp).map_err(io("create folder", &tmp))?;
                Vec::new()
            }
        };
        let recycled = recycled.into_iter().map(FileFacts::keyed).collect();
        let manifest = read_manifest(&target).unwrap_or_default();
        let previous = manifest.files.into_iter().map(FileFacts::keyed).collect();
        Ok(Output {
            target,
            tmp,
            previous,
            recycled,
            written: Mutex::new(BTreeMap::new()),
            previous_units: manifest.units,
            units: Mutex::new(BTreeMap::new()),
            units_kept: Default::default(),
            dirs: Mutex::new(Default::default()),
            kept_earlier: Default::default(),
            live_folders: Mutex::new(Default::default()),
        })
    }

    /// The temporary folder being filled (for tests and diagnostics).
    pub fn staging_dir(&self) -> &Path {
        &self.tmp
    }

    /// Adds a file. HTML and CSS are minified. Paths are `/`-separated and relative.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), PublishError> {
        check_rel(rel)?;
        let minified;
        let bytes = match kind_of(rel) {
            Kind::Html => {
                minified = minify_html(bytes);
                &minified[..]
            }
            Kind::Css => {
                minified = minify_css(&String::from_utf8_lossy(bytes)).into_bytes();
                &minified[..]
            }
            Kind::Other => bytes,
        };
        self.write_exact(rel, bytes)
    }

    /// Adds a file byte for byte.
    pub fn write_exact(&self, rel: &str, bytes: &[u8]) -> Result<(), PublishError> {
        check_rel(rel)?;
        let sha256 = Sha256Hash::of(bytes);
        let entry = FileFacts {
            size: bytes.len() as u64,
            sha256,
        };
        let dest = self.tmp.join(rel);
        if let Some((dir, _)) = rel.rsplit_once('/') {
            self.ensure_dir(dir)?;
        }
        let reused = self.previous.get(rel) == Some(&entry)
            && (self.keep_recycled(rel, &dest, &entry)
                || self.link_previous(rel, &dest, entry.size));
        if !reused {
            // A path written twice may be a hard link into the old site: never write through it.
            let mut file = match fs::File::create_new(&dest) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    clear_path(&dest);
                    fs::File::create_new(&dest)
                }
                other => other,
            }
            .map_err(io("create file", &dest))?;
            file.write_all(bytes).map_err(io("write file", &dest))?;
        }
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let origin = if reused {
            Origin::Unchanged
        } else {
            Origin::Written
        };
        written.insert(rel.to_string(), (entry, origin));
        drop(written);
        UNIT_FILES.with(|stack| {
            if let Some(files) = stack.borrow_mut().last_mut() {
                files.push(rel.to_string());
            }
        });
        Ok(())
    }

    /// Makes one unit of the site: the files `make` writes (on this thread, without handing work
    /// to other threads) belong to the unit `name`, made from inputs summed up by `key`.
    ///
    /// When the previous site has the unit with the same key and every one of its files as its
    /// manifest describes them, those files are linked instead and `make` does not run. The key
    /// must therefore change whenever anything `make` would write changes: the caller hashes
    /// every input it reads (the figures, the build's own fingerprint: binary, config,
    /// templates, content).
    pub fn unit<T, E: From<PublishError>>(
        &self,
        name: &str,
        key: u128,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<UnitOutcome<T>, E> {
        let key = format!("{key:032x}");
        if let Some(old) = self.previous_units.get(name).filter(|u| u.key == key)
            && let Some((pages, files)) = self.keep_unit(old)?
        {
            self.record_unit(name, old.clone());
            self.units_kept
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(UnitOutcome {
                made: None,
                pages,
                files,
            });
        }
        UNIT_FILES.with(|stack| stack.borrow_mut().push(Vec::new()));
        let made = make();
        let mut files = UNIT_FILES
            .with(|stack| stack.borrow_mut().pop())
            .unwrap_or_default();
        let made = made?;
        files.sort();
        files.dedup();
        let (pages, others) = page_and_file_counts(&files);
        self.record_unit(name, UnitRecord { key, files });
        Ok(UnitOutcome {
            made: Some(made),
            pages,
            files: others,
        })
    }

    /// Links every file of a previous unit into the new site; `None` (and nothing linked) when
    /// one of them is missing or no longer what the old manifest says.
    fn keep_unit(&self, unit: &UnitRecord) -> Result<Option<(usize, usize)>, PublishError> {
        let mut linked: Vec<(&str, FileFacts)> = Vec::with_capacity(unit.files.len());
        // A unit's files mostly share a folder: it is asked for once.
        let mut last_dir = None;
        for rel in &unit.files {
            check_rel(rel)?;
            let kept = match self.previous.get(rel) {
                Some(entry) => {
                    let dest = self.tmp.join(rel);
                    if let Some((dir, _)) = rel.rsplit_once('/')
                        && last_dir != Some(dir)
                    {
                        self.ensure_dir(dir)?;
                        last_dir = Some(dir);
                    }
                    (self.keep_recycled(rel, &dest, entry)
                        || self.link_previous(rel, &dest, entry.size))
                    .then(|| entry.clone())
                }
                None => None,
            };
            match kept {
                Some(entry) => linked.push((rel, entry)),
                None => {
                    for (rel, _) in linked {
                        let _ = fs::remove_file(self.tmp.join(rel));
                    }
                    return Ok(None);
                }
            }
        }
        let counts = page_and_file_counts(&unit.files);
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        for (rel, entry) in linked {
            written.insert(rel.to_string(), (entry, Origin::Unchanged));
        }
        Ok(Some(counts))
    }

    fn record_unit(&self, name: &str, unit: UnitRecord) {
        let mut units = self.units.lock().unwrap_or_else(|p| p.into_inner());
        units.insert(name.to_string(), unit);
    }

    /// Creates a folder of the staging site once: tens of thousands of files share a few
    /// thousand folders, and asking the file system again for each file cost a system call or two.
    fn ensure_dir(&self, dir: &str) -> Result<(), PublishError> {
        let mut made = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        if made.contains(dir) {
            return Ok(());
        }
        let path = self.tmp.join(dir);
        if fs::create_dir_all(&path).is_err() {
            // A recycled folder may hold a file where this site has a folder.
            let mut at = self.tmp.clone();
            for part in dir.split('/') {
                at.push(part);
                if fs::symlink_metadata(&at).is_ok_and(|m| !m.is_dir()) {
                    clear_path(&at);
                }
            }
            fs::create_dir_all(&path).map_err(io("create folder", &path))?;
        }
        made.insert(dir.to_string());
        Ok(())
    }

    /// Whether the recycled staging folder already holds, at `dest`, the previous site's very
    /// file for `entry` (the same inode, as the manifests describe it): then nothing is written.
    fn keep_recycled(&self, rel: &str, dest: &Path, entry: &FileFacts) -> bool {
        use std::os::unix::fs::MetadataExt;
        if self.recycled.get(rel) != Some(entry) {
            return false;
        }
        let Some((dev, ino)) = self.live_inode(rel) else {
            return false;
        };
        match fs::symlink_metadata(dest) {
            Ok(a) => a.is_file() && a.len() == entry.size && a.dev() == dev && a.ino() == ino,
            _ => false,
        }
    }

    /// The device and inode of the live site's regular file at `rel`, if there is one.
    ///
    /// Read folder by folder: one `readdir` gives every file's inode number, where a nightly
    /// rebuild had made a `stat` call for each of the site's files (a sixth of its time at
    /// 10 M requests).
    fn live_inode(&self, rel: &str) -> Option<(u64, u64)> {
        use std::os::unix::fs::{DirEntryExt, MetadataExt};
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let cached = self
            .live_folders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(dir)
            .cloned();
        let folder = match cached {
            Some(folder) => folder,
            None => {
                // Read without holding the lock; two threads may read one folder, alike.
                let path = self.target.join(dir);
                let mut folder = LiveFolder::default();
                if let Ok(meta) = fs::symlink_metadata(&path)
                    && meta.is_dir()
                    && let Ok(entries) = fs::read_dir(&path)
                {
                    folder.dev = meta.dev();
                    for e in entries.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_file())
                            && let Ok(name) = e.file_name().into_string()
                        {
                            folder.files.insert(name, e.ino());
                        }
                    }
                }
                let folder = Arc::new(folder);
                self.live_folders
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(dir.to_string(), Arc::clone(&folder));
                folder
            }
        };
        folder.files.get(name).map(|ino| (folder.dev, *ino))
    }

    /// Hard-links the previous site's copy when it is still the file the manifest describes.
    fn link_previous(&self, rel: &str, dest: &Path, size: u64) -> bool {
        let old = self.target.join(rel);
        match fs::symlink_metadata(&old) {
            Ok(meta) if meta.is_file() && meta.len() == size => {
                let _ = fs::remove_file(dest);
                fs::hard_link(&old, dest).is_ok()
            }
            _ => false,
        }
    }

    /// Copies every file below `src` into the site under `prefix` (`""` for the root).
    pub fn copy_dir(&self, src: &Path, prefix: &str) -> Result<usize, PublishError> {
        if !src.exists() {
            return Ok(0);
        }
        let mut n = 0;
        for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
            let entry = entry.map_err(|e| PublishError::Io {
                action: "read folder",
                path: e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| src.to_path_buf()),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry.path().strip_prefix(src).unwrap_or(entry.path());
            let rel: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let rel = if prefix.is_empty() {
                rel.join("/")
            } else {
                format!("{}/{}", prefix.trim_end_matches('/'), rel.join("/"))
            };
            let bytes = fs::read(entry.path()).map_err(io("read file", entry.path()))?;
            self.write(&rel, &bytes)?;
            n += 1;
        }
        Ok(n)
    }

    /// Publishes again every file of the previous site that this build did not write, so that
    /// no address a build has published vanishes (issue 21): pages of periods a build no longer
    /// makes stay as they were last made, and so do their data files.
    ///
    /// Files are hard-linked, not copied. A file is left out, and listed in the result, when the
    /// previous site no longer holds it as its manifest describes it (edited or deleted by
    /// hand), or when this build has a folder where it was or a file where one of its folders
    /// was. Call after rendering, before [`Output::check_budget`], which counts them.
    /// Files for which `rewritten` is true are not kept: this build writes its own after this
    /// call (the sitemaps, which list the kept pages too).
    pub fn keep_earlier(
        &self,
        rewritten: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, PublishError> {
        // Held to the end: nothing else writes while the kept files are linked, and the map is
        // read in place rather than copied (420,000 paths at 10 M requests).
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let blocked = |rel: &str| {
            let folder = format!("{rel}/");
            written
                .range(folder.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&folder))
                || rel
                    .match_indices('/')
                    .any(|(i, _)| written.contains_key(&rel[..i]))
        };
        let mut lost = Vec::new();
        let mut kept = Vec::new();
        for (rel, entry) in &self.previous {
            if rel == MANIFEST || written.contains_key(rel) || rewritten(rel) {
                continue;
            }
            if check_rel(rel).is_err() || blocked(rel) {
                lost.push(rel.clone());
                continue;
            }
            let dest = self.tmp.join(rel);
            if let Some((dir, _)) = rel.rsplit_once('/') {
                self.ensure_dir(dir)?;
            }
            if self.keep_recycled(rel, &dest, entry) || self.link_previous(rel, &dest, entry.size) {
                kept.push((rel.clone(), entry.clone()));
            } else {
                lost.push(rel.clone());
            }
        }
        self.kept_earlier
            .fetch_add(kept.len(), std::sync::atomic::Ordering::Relaxed);
        for (rel, entry) in kept {
            written.insert(rel, (entry, Origin::Earlier));
        }
        Ok(lost)
    }

    /// Whether the previous site published `rel` (by its manifest).
    pub fn published_earlier(&self, rel: &str) -> bool {
        self.previous.contains_key(rel)
    }

    /// Paths written so far that end in `suffix`, sorted (only those are copied: at 10 M
    /// requests the site has 420,000 paths and 48,000 pages).
    pub fn paths_ending_with(&self, suffix: &str) -> Vec<String> {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        (written.keys())
            .filter(|p| p.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// Whether a path has been written.
    pub fn contains(&self, rel: &str) -> bool {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written.contains_key(rel)
    }

    /// Checks the staged site against `budget`: its files and bytes (with `manifest.json`,
    /// estimated from its entries), and every page's bytes. On failure the message names the
    /// page kinds that take the most room and the biggest pages over the page budget.
    pub fn check_budget(&self, budget: &Budget) -> Result<(), OverBudget> {
        use crate::numbers::thousands;
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        // The manifest lists each file (its path, size and 64 hex digits) and again under its
        // unit: on the sample about 200 bytes of JSON per file, so this errs on the large side.
        let manifest: u64 = written.keys().map(|p| 2 * p.len() as u64 + 160).sum();
        let files = written.len() as u64 + 1;
        let bytes: u64 = written.values().map(|(e, _)| e.size).sum::<u64>() + manifest;
        let mut big_pages: Vec<(&str, u64)> = written
            .iter()
            .filter(|(p, (e, _))| p.ends_with(".html") && e.size > budget.page_bytes)
            .map(|(p, (e, _))| (p.as_str(), e.size))
            .collect();
        let mut big_files: Vec<(&str, u64, bool)> = (written.iter())
            .filter(|(_, (e, _))| e.size > budget.file_bytes)
            .map(|(p, (e, origin))| (p.as_str(), e.size, *origin == Origin::Earlier))
            .chain((manifest > budget.file_bytes).then_some((MANIFEST, manifest, false)))
            .collect();
        if files <= budget.files
            && bytes <= budget.bytes
            && big_pages.is_empty()
            && big_files.is_empty()
        {
            return Ok(());
        }
        let size = crate::numbers::bytes;
        let mut lines = vec![format!(
            "the site does not fit site.budget, so it was not published (the previous site stays): \
             {} files of {} allowed, {} of {} allowed, {} pages over {}, {} files over {}",
            thousands(files),
            thousands(budget.files),
            size(bytes),
            size(budget.bytes),
            big_pages.len(),
            size(budget.page_bytes),
            big_files.len(),
            size(budget.file_bytes)
        )];
        let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (path, (entry, _)) in written.iter() {
            let kind = file_kind(path);
            let slot = kinds.entry(page_kind(&kind).to_string()).or_default();
            slot.0 += 1;
            slot.1 += entry.size;
        }
        let mut kinds: Vec<(String, (u64, u64))> = kinds.into_iter().collect();
        if files > budget.files {
            kinds.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        } else {
            kinds.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        }
        lines.push("  the kinds of page that take the most room:".into());
        for (kind, (n, b)) in kinds.iter().take(6) {
            lines.push(format!(
                "    {kind}: {} files, {} ({:.0} % of the bytes)",
                thousands(*n),
                size(*b),
                100.0 * *b as f64 / bytes.max(1) as f64
            ));
        }
        big_pages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (page, b) in big_pages.iter().take(5) {
            lines.push(format!("  too big: {page} ({})", size(*b)));
        }
        big_files.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (file, b, kept) in big_files.iter().take(5) {
            // A file an earlier build published is kept as it was, even if this build would
            // not write it (published addresses stay): say so, or lowering a budget looks broken.
            let earlier = if *kept {
                ", as an earlier build published it"
            } else {
                ""
            };
            lines.push(format!("  too big a file: {file} ({}{earlier})", size(*b)));
        }
        lines.push(
            "  raise site.budget in the config if your host allows more; or make less history \
             (history: days, weeks) and drop what earlier builds published with \
             `cwfy build --prune` (`cwfy check --against OLD/manifest.json` lists what goes)"
                .into(),
        );
        Err(OverBudget(lines.join("\n")))
    }

    /// Writes `manifest.json` and swaps the new site in. Until this returns, the old site stands.
    pub fn finish(self) -> Result<PublishReport, PublishError> {
        let written = self.written.into_inner().unwrap_or_else(|p| p.into_inner());
        if !self.recycled.is_empty() {
            clear_leftovers(&self.tmp, &written);
        }
        let mut report = PublishReport::default();
        let mut files = Vec::with_capacity(written.len());
        for (path, (facts, origin)) in written {
            if origin != Origin::Written {
                report.unchanged += 1;
            } else {
                report.written += 1;
            }
            report.bytes += facts.size;
            files.push(facts.entry(path));
        }
        // Both lists are sorted by path: one walk along them counts what is gone.
        let mut published = files.iter().map(|e| e.path.as_str()).peekable();
        report.removed = (self.previous.keys())
            .filter(|p| p.as_str() != MANIFEST)
            .filter(|p| {
                while published.next_if(|now| now < &p.as_str()).is_some() {}
                published.peek() != Some(&p.as_str())
            })
            .count();
        let units = self.units.into_inner().unwrap_or_else(|p| p.into_inner());
        report.units_kept = self.units_kept.into_inner();
        report.kept_earlier = self.kept_earlier.into_inner();
        report.units_made = units.len() - report.units_kept;
        let manifest = Manifest { files, units };
        // Compact: at 10 M requests the manifest lists 234,537 files and the units again (tens
        // of MB), and every build reads the last two and writes one.
        // Sized from the last one, so that tens of MB are not copied over and over as they grow.
        let old_manifest = self.target.join(MANIFEST);
        let old_len = fs::metadata(&old_manifest).map_or(0, |m| m.len());
        let mut json = Vec::with_capacity(old_len as usize + old_len as usize / 16 + 4096);
        if serde_json::to_writer(&mut json, &manifest).is_err() {
            // As `to_vec` did: nothing rather than half a manifest.
            json.clear();
        }
        let manifest_path = self.tmp.join(MANIFEST);
        // A recycled folder's manifest may be a link to the live one: never write through it.
        let _ = fs::remove_file(&manifest_path);
        // An unchanged site keeps its manifest's modification time too, so a sync sends nothing.
        let kept = old_len == json.len() as u64
            && fs::read(&old_manifest).is_ok_and(|old| old == json)
            && fs::hard_link(&old_manifest, &manifest_path).is_ok();
        if !kept {
            fs::write(&manifest_path, json).map_err(io("write file", &manifest_path))?;
        }
        swap_in(&self.tmp, &self.target)?;
        Ok(report)
    }

    /// Drops the staging folder without touching the target.
    pub fn abandon(self) {
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sibling(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "site".into());
    parent_of(target).join(format!("{name}.{suffix}"))
}

/// Reads the manifest of a published site.
pub fn read_manifest(site: &Path) -> Option<Manifest> {
    read_manifest_as(site)
}

/// Reads a published site's manifest as `T`, which takes what it needs of it.
fn read_manifest_as<T: serde::de::DeserializeOwned>(site: &Path) -> Option<T> {
    let bytes = fs::read(site.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads only the files of a published site's manifest: its units are skipped, not kept (at
/// 10 M requests they are 48,000 names and keys and 420,000 paths again).
fn read_manifest_files(site: &Path) -> Option<Vec<ManifestEntry>> {
    #[derive(Deserialize)]
    struct Files {
        files: Vec<ManifestEntry>,
    }
    read_manifest_as::<Files>(site).map(|m| m.files)
}

/// Removes staging and old folders of earlier runs whose process is gone, and puts back a site
/// that a killed fallback swap left aside.
fn recover_and_clean(target: &Path) -> Result<(), PublishError> {
    let parent = parent_of(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(());
    };
    let mut olds = Vec::new();
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!("{name}.")) else {
            continue;
        };
        let (kind, pid) = match rest.split_once('-') {
            Some((k, p)) => (k, p.parse::<u32>().ok()),
            None => continue,
        };
        if kind != "tmp" && kind != "old" {
            continue;
        }
        if pid.is_some_and(process_alive) {
            continue;
        }
        if kind == "old" {
            olds.push(entry.path());
        } else {
            stale.push(entry.path());
        }
    }
    if !target.exists()
        && let Some(old) = olds.pop()
    {
        fs::rename(&old, target).map_err(io("restore previous site", &old))?;
    }
    for path in stale.into_iter().chain(olds) {
        let _ = fs::remove_dir_all(&path);
    }
    Ok(())
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Atomically replaces `target` with `staged`; afterwards `staged` no longer exists.
fn swap_in(staged: &Path, target: &Path) -> Result<(), PublishError> {
    if !target.exists() {
        return fs::rename(staged, target).map_err(io("move new site into place", target));
    }
    let spare = sibling(target, SPARE);
    if exchange(staged, target).is_ok() {
        // `staged` now holds the old site: the next build's staging folder.
        keep_as_spare(staged, &spare);
        return Ok(());
    }
    // No atomic exchange on this file system: move the old site aside, then the new one in.
    // A kill between the two renames is repaired by `recover_and_clean` on the next run.
    let old = sibling(target, &format!("old-{}", std::process::id()));
    fs::rename(target, &old).map_err(io("move previous site aside", target))?;
    if let Err(e) = fs::rename(staged, target) {
        let _ = fs::rename(&old, target);
        return Err(PublishError::Io {
            action: "move new site into place",
            path: target.to_path_buf(),
            source: e,
        });
    }
    keep_as_spare(&old, &spare);
    Ok(())
}

/// Removes from a recycled staging folder every file the build did not write or keep, and
/// the folders that leaves empty.
fn clear_leftovers(staging: &Path, written: &BTreeMap<String, (FileFacts, Origin)>) {
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(staging)
        .min_depth(1)
        .into_iter()
        .flatten()
    {
        let Ok(rel) = entry.path().strip_prefix(staging) else {
            continue;
        };
        if entry.file_type().is_dir() {
            dirs.push(entry.into_path());
            continue;
        }
        let rel: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
        if !written.contains_key(&rel.join("/")) {
            let _ = fs::remove_file(entry.path());
        }
    }
    // Deepest first; a folder with files left is not removed.
    for dir in dirs.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// Removes whatever is at `path` in the staging folder, file or folder.
fn clear_path(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

/// The name (`site.spare`) of the replaced site kept for the next build to recycle.
const SPARE: &str = "spare";

/// Keeps a replaced site as the spare, or deletes it when that cannot be done.
fn keep_as_spare(old_site: &Path, spare: &Path) {
    if spare.exists() {
        remove_tree(spare);
    }
    if fs::rename(old_site, spare).is_err() {
        remove_tree(old_site);
    }
}

/// Deletes a replaced site, best effort, on every core: a site is tens of thousands of files,
/// and deleting them one by one was most of a nightly rebuild's publishing time.
fn remove_tree(path: &Path) {
    use rayon::prelude::*;
    // The entries two levels down (`day/2021-01-01`, `ward/3`, `api/v1`…) are many and of
    // similar size, so they spread evenly over the threads.
    let mut parts = Vec::new();
    for entry in fs::read_dir(path).into_iter().flatten().flatten() {
        let p = entry.path();
        match fs::read_dir(&p) {
            Ok(children) if entry.file_type().is_ok_and(|t| t.is_dir()) => {
                parts.extend(children.flatten().map(|c| c.path()));
            }
            _ => {}
        }
    }
    parts.par_iter().for_each(|p| {
        if fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
            let _ = fs::remove_dir_all(p);
        } else {
            let _ = fs::remove_file(p);
        }
    });
    let _ = fs::remove_dir_all(path);
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths; renameat2 does not keep the pointers.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    let _ = CString::new("");
    Err(std::io::Error::other("no atomic exchange on this platform"))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_hash_reads_and_writes_as_lower_case_hex() {
        let hash = Sha256Hash::of(b"abc");
        let text = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash.to_string(), text);
        assert_eq!(hex(&hash.0), text);
        let entry = ManifestEntry {
            path: "index.html".into(),
            size: 3,
            sha256: hash,
        };
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"path":"index.html","size":3,"sha256":"{text}"}}"#)
        );
        assert_eq!(serde_json::from_str::<ManifestEntry>(&json).unwrap(), entry);
        // Upper-case digits are read too; anything else is an error, not a panic.
        let upper = json.replace(text, &text.to_uppercase());
        assert_eq!(
            serde_json::from_str::<ManifestEntry>(&upper).unwrap(),
            entry
        );
        for bad in ["", "ab", &text[1..], &format!("{}zz", &text[2..]), "é"] {
            let json = format!(r#"{{"path":"a","size":1,"sha256":"{bad}"}}"#);
            assert!(
                serde_json::from_str::<ManifestEntry>(&json).is_err(),
                "{bad:?}"
            );
        }
        // A multi-byte character where a digit pair would split must not panic either.
        let odd = format!("{}é{}", &text[..31], &text[33..]);
        assert_eq!(odd.len(), 64);
        assert!(odd.parse::<Sha256Hash>().is_err());
    }

    #[test]
    fn file_kinds_replace_what_varies_from_page_to_page() {
        for (path, kind) in [
            (
                "ward/12/week/2021-03-08/index.html",
                "ward/*/week/*/index.html",
            ),
            (
                "ward/12/week/2021-03-08/ttc-ranking.svg",
                "ward/*/week/*/ttc-ranking.svg",
            ),
            (
                "api/v1/wards/12/weeks/2021-03-08.json",
                "api/v1/wards/*/weeks/*.json",
            ),
            ("ward/3/potholes/index.html", "ward/*/*/index.html"),
            (
                "service/potholes/week/2021-03-08/index.html",
                "service/*/week/*/index.html",
            ),
            ("day/2021-01-01/index.html", "day/*/index.html"),
            ("index.html", "index.html"),
            ("about/methodology/index.html", "about/*/index.html"),
        ] {
            assert_eq!(file_kind(path), kind, "{path}");
        }
        assert_eq!(page_kind("ward/*/week/*/index.html"), "ward/*/week/*/");
    }

    #[test]
    fn inline_svgs_and_tables_are_kept_as_written_while_the_page_around_them_is_minified() {
        let map = "<svg viewBox=\"0 0 10 10\" role=\"group\"><title>Map</title>\n<a href=\"../ward/1/index.html\"><path d=\"M0 0l1 1z\"/></a></svg>";
        let chart = "<svg\nviewBox=\"0 0 4 4\"><text x=\"1\">a  b</text></svg>";
        let page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title> T </title></head>\n<body>\n  <figure>  {map}  </figure>\n  <p>  x  </p><svgz></svgz><div>{chart}</div>\n</body>\n</html>\n"
        );
        let out = String::from_utf8(minify_html(page.as_bytes())).unwrap();
        assert!(out.contains(map), "{out}");
        assert!(out.contains(chart), "{out}");
        assert!(out.contains("<p>x</p>"), "{out}");
        assert!(!out.contains("set-aside"), "{out}");
        assert!(out.find(map) < out.find(chart));
        // Data tables too, in their place among the SVGs.
        let table = "<table><caption>A  b</caption><tbody><tr><th scope=\"row\">1</th></tr></tbody></table>";
        let page = format!(
            "<body>\n<div>  {chart} </div>\n<div> {table} </div> <p> {map} </p>\n<table class=\"x\"></table></body>"
        );
        let out = String::from_utf8(minify_html(page.as_bytes())).unwrap();
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} not in {out}"));
        assert!(at(chart) < at(table) && at(table) < at(map), "{out}");
        assert!(out.contains("<table class=x></table>"), "{out}");
        // An unclosed SVG leaves the page to the minifier whole.
        let broken = "<html><body><p>  a  </p><svg viewBox=\"0 0 1 1\"></body></html>";
        let out = String::from_utf8(minify_html(broken.as_bytes())).unwrap();
        assert!(!out.contains("set-aside"), "{out}");
    }

    #[test]
    fn html_minification_stays_valid() {
        let out = minify_html(b"<!DOCTYPE html>\n<html lang=\"en\">\n<head><title> T </title></head>\n<body>\n  <p class=\"a b\">x</p>\n</body>\n</html>\n");
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.to_ascii_lowercase().starts_with("<!doctype html>"),
            "{out}"
        );
        assert!(out.contains("</p>") && out.contains("</body>"), "{out}");
        assert!(out.contains(r#"class="a b""#), "{out}");
    }

    #[test]
    fn css_is_minified() {
        assert_eq!(
            minify_css("body {\n  color : red ;\n}\n"),
            "body{color:red}"
        );
    }

    #[test]
    fn paths_must_stay_inside() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b"] {
            assert!(check_rel(bad).is_err(), "{bad}");
        }
        assert!(check_rel("ward/3/index.html").is_ok());
    }

    #[test]
    fn earlier_files_are_kept_unless_changed_by_hand_or_in_the_way() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let out = Output::begin(&site).unwrap();
        for (rel, text) in [
            ("day/1/index.html", "<p>one</p>"),
            ("day/1/data.csv", "a,b\n"),
            ("edited.txt", "as published"),
            ("becomes-a-folder", "file"),
            ("folder/file", "inside"),
            ("same.txt", "same"),
        ] {
            out.write(rel, text.as_bytes()).unwrap();
        }
        out.finish().unwrap();
        let inode = fs::metadata(site.join("day/1/data.csv")).unwrap().ino();
        fs::write(site.join("edited.txt"), "by hand, longer").unwrap();

        let out = Output::begin(&site).unwrap();
        out.write("same.txt", b"same").unwrap();
        out.write("becomes-a-folder/index.html", b"<p>new</p>")
            .unwrap();
        out.write("folder", b"now a file").unwrap();
        let mut lost = out.keep_earlier(|_| false).unwrap();
        lost.sort();
        assert_eq!(lost, ["becomes-a-folder", "edited.txt", "folder/file"]);
        let r = out.finish().unwrap();
        assert_eq!((r.kept_earlier, r.removed), (2, 3));
        assert_eq!((r.written, r.unchanged), (2, 3));
        // Kept files are the published files themselves, listed in the new manifest.
        assert_eq!(
            fs::metadata(site.join("day/1/data.csv")).unwrap().ino(),
            inode
        );
        assert!(site.join("day/1/index.html").is_file());
        assert_eq!(fs::read(site.join("folder")).unwrap(), b"now a file");
        let listed: Vec<String> = read_manifest(&site)
            .unwrap()
            .files
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            listed,
            [
                "becomes-a-folder/index.html",
                "day/1/data.csv",
                "day/1/index.html",
                "folder",
                "same.txt"
            ]
        );
    }

    #[test]
    fn swap_replaces_and_unchanged_files_keep_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let out = Output::begin(&site).unwrap();
        out.write("a.txt", b"one").unwrap();
        out.write("b.txt", b"two").unwrap();
        let r = out.finish().unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (2, 0, 0));
        let mtime = fs::metadata(site.join("a.txt"))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));

        let out = Output::begin(&site).unwrap();
        out.write("a.txt", b"one").unwrap();
        out.write("c.txt", b"three").unwrap();
        let r = out.finish().unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (1, 1, 1));
        assert_eq!(
            fs::metadata(site.join("a.txt"))
                .unwrap()
                .modified()
                .unwrap(),
            mtime
        );
        assert!(!site.join("b.txt").exists());
        assert_eq!(fs::read(site.join("c.txt")).unwrap(), b"three");
        let m = read_manifest(&site).unwrap();
        assert_eq!(m.files.len(), 2);
        let manifest_mtime = fs::metadata(site.join(MANIFEST))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));

        // The same site again: every file, the manifest included, keeps its modification time.
        let out = Output::begin(&site).unwrap();
        out.write("a.txt", b"one").unwrap();
        out.write("c.txt", b"three").unwrap();
        let r = out.finish().unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (0, 2, 0));
        for (name, before) in [("a.txt", mtime), (MANIFEST, manifest_mtime)] {
            let now = fs::metadata(site.join(name)).unwrap().modified().unwrap();
            assert_eq!(now, before, "{name} was rewritten");
        }
        // No staging folders are left behind; the replaced site is kept as the spare.
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["site", "site.spare"]);
    }

    /// Every file of `site` with its bytes, the manifest aside, and whether the manifest lists
    /// exactly those files.
    fn files_of(site: &Path) -> (BTreeMap<String, Vec<u8>>, bool) {
        let mut files = BTreeMap::new();
        for e in walkdir::WalkDir::new(site).into_iter().flatten() {
            if e.file_type().is_file() {
                let rel = e.path().strip_prefix(site).unwrap().to_string_lossy();
                files.insert(rel.into_owned(), fs::read(e.path()).unwrap());
            }
        }
        files.remove(MANIFEST);
        let listed: Vec<String> = read_manifest(site)
            .unwrap()
            .files
            .into_iter()
            .map(|e| e.path)
            .collect();
        let exact = listed.iter().eq(files.keys());
        (files, exact)
    }

    #[test]
    fn the_site_before_last_is_recycled_into_exactly_the_new_site() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let spare = dir.path().join("site.spare");
        let build = |files: &[(&str, &str)]| {
            let out = Output::begin(&site).unwrap();
            for (rel, text) in files {
                out.write(rel, text.as_bytes()).unwrap();
            }
            out.finish().unwrap()
        };
        build(&[
            ("a.txt", "a"),
            ("b.txt", "b1"),
            ("x", "a file"),
            ("d/e.txt", "e"),
        ]);
        build(&[
            ("a.txt", "a"),
            ("b.txt", "b2"),
            ("x", "a file"),
            ("d/e.txt", "e"),
        ]);
        let a_inode = fs::metadata(site.join("a.txt")).unwrap().ino();
        let a_mtime = fs::metadata(site.join("a.txt"))
            .unwrap()
            .modified()
            .unwrap();
        // Something that is not the build's in the spare (the first site).
        fs::write(spare.join("stray.txt"), b"not ours").unwrap();

        // The third site starts from the first: `b` changed back, `x` became a folder, `d/`
        // went, `c` is new, `a` never changed.
        let r = build(&[
            ("a.txt", "a"),
            ("b.txt", "b1"),
            ("x/y.txt", "y"),
            ("c.txt", "c"),
        ]);
        assert_eq!((r.written, r.unchanged, r.removed), (3, 1, 2));
        let (files, exact) = files_of(&site);
        assert!(exact, "{:?}", files.keys());
        let text: Vec<(&str, &str)> = files
            .iter()
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            text,
            [
                ("a.txt", "a"),
                ("b.txt", "b1"),
                ("c.txt", "c"),
                ("x/y.txt", "y")
            ]
        );
        assert!(!site.join("d").exists());
        // The unchanged file is the same file, untouched; the spare is the second site, whole.
        let a = fs::metadata(site.join("a.txt")).unwrap();
        assert_eq!((a.ino(), a.modified().unwrap()), (a_inode, a_mtime));
        let (spare_files, spare_exact) = files_of(&spare);
        assert!(spare_exact);
        assert_eq!(spare_files["b.txt"], b"b2");
        // A file changed since the site before can never be written through a shared link.
        assert_eq!(fs::read(spare.join("x")).unwrap(), b"a file");

        // A spare without a manifest is not used.
        fs::remove_file(spare.join(MANIFEST)).unwrap();
        let r = build(&[("a.txt", "a")]);
        assert_eq!((r.written, r.unchanged, r.removed), (0, 1, 3));
        assert_eq!(files_of(&site).0.len(), 1);
    }

    #[test]
    fn abandoned_build_leaves_old_site() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let out = Output::begin(&site).unwrap();
        out.write("a.txt", b"one").unwrap();
        out.finish().unwrap();
        let out = Output::begin(&site).unwrap();
        out.write("a.txt", b"changed").unwrap();
        out.abandon();
        assert_eq!(fs::read(site.join("a.txt")).unwrap(), b"one");
    }

    #[test]
    fn half_swapped_site_is_restored() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let aside = dir.path().join("site.old-999999999");
        fs::create_dir(&aside).unwrap();
        fs::write(aside.join("a.txt"), b"old").unwrap();
        let out = Output::begin(&site).unwrap();
        assert_eq!(fs::read(site.join("a.txt")).unwrap(), b"old");
        out.abandon();
    }
}

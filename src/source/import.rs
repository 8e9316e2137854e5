//! `cwfy import FILE…`: Open311 JSON (an array, or one object per line), Socrata JSON, and
//! Socrata/portal CSV exports (the v6vf-nfxy layout and the retired per-type layouts).
//!
//! Records go to the store in batches, each in one transaction. A bad record is rejected with its
//! file, line and reason; the good ones are kept. A file that breaks off (truncated JSON) keeps
//! every record before the break and reports where it broke.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Normalizer, Parsed, open311, socrata};
use crate::store::{Counts, Incoming, RawHeader, RunId, Store, StoreError};

/// Records written per transaction.
pub const BATCH: usize = 20_000;

/// A file format `cwfy import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Open311 GeoReport v2 JSON: an array of requests, or one request object per line.
    Open311,
    /// Socrata SODA JSON: an array of records, or one record per line.
    SocrataJson,
    /// A data-portal CSV export (v6vf-nfxy or a retired per-type dataset).
    Csv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Open311 => "open311",
            Format::SocrataJson => "socrata-json",
            Format::Csv => "csv",
        })
    }
}

/// An import that could not run at all (individual bad records are not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The format could not be told from the content.
    #[error("{path}: {reason}")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Record counts.
    pub counts: Counts,
    /// Where the file broke off, if it did (records before it were kept).
    pub broken_at: Option<String>,
    /// The first few rejection messages (file:line: reason).
    pub samples: Vec<String>,
}

/// Tells the format from the first bytes of a file.
pub fn detect(
    path: &Path,
    head: &[u8],
    columns: Option<&crate::config::ColumnMap>,
) -> Result<Format, ImportError> {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let unknown = |reason: &str| ImportError::UnknownFormat {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        // The first key that names an id tells Open311 from Socrata.
        let open311 = trimmed.find("\"service_request_id\"");
        let socrata = ["\"sr_number\"", "\"service_request_number\""]
            .iter()
            .filter_map(|k| trimmed.find(k))
            .min();
        return match (open311, socrata) {
            (Some(a), Some(b)) => Ok(if a < b {
                Format::Open311
            } else {
                Format::SocrataJson
            }),
            (Some(_), None) => Ok(Format::Open311),
            (None, Some(_)) => Ok(Format::SocrataJson),
            (None, None) if trimmed.trim() == "[]" => Ok(Format::Open311),
            (None, None) if trimmed.contains("\"service_code\"") => Err(unknown(
                "this is a list of service types (service_code, no service_request_id), not requests; `cwfy fetch` loads an endpoint's services.json",
            )),
            (None, None) => Err(unknown(
                "JSON without service_request_id or sr_number in its first records, so not 311 requests; if it is, pass --format open311 or --format socrata-json",
            )),
        };
    }
    let first_line = trimmed.lines().next().unwrap_or("");
    let header = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first_line.as_bytes())
        .records()
        .next()
        .and_then(Result::ok);
    match header {
        Some(header) if socrata::CsvHeader::new(&header, columns).is_some() => Ok(Format::Csv),
        _ if trimmed.starts_with('<') => Err(unknown(
            "this is XML or HTML; cwfy imports Open311 requests as JSON (ask the endpoint for requests.json, not requests.xml), Socrata JSON, or CSV",
        )),
        _ => Err(unknown(
            "neither JSON nor a CSV with an sr_number or Service Request Number column, nor the id column of import.columns in the config; if it is a portal export, pass --format csv, and for another layout set import.columns",
        )),
    }
}

/// Rejection messages kept for the report.
const SAMPLES: usize = 10;

/// Collects parsed records into batches for the thread that writes them to the store.
struct Batcher {
    batch: Vec<Incoming>,
    to_store: SyncSender<Vec<Incoming>>,
    /// Batches the writer is done with, emptied here (freeing their records on this thread).
    written: Receiver<Vec<Incoming>>,
    samples: Vec<String>,
    /// Places each request in its district before it is stored.
    normalizer: Normalizer,
}

impl Batcher {
    fn push(
        &mut self,
        mut parsed: Parsed,
        origin: impl FnOnce() -> String,
        raw: impl FnOnce() -> String,
        header: Option<RawHeader>,
    ) -> Result<(), Stop> {
        self.normalizer.place(&mut parsed);
        let item = parsed.into_incoming(origin, raw, header, &mut self.samples, SAMPLES);
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if !self.batch.is_empty() {
            let next = match self.written.try_recv() {
                Ok(mut done) => {
                    done.clear();
                    done
                }
                Err(_) => Vec::with_capacity(BATCH),
            };
            let batch = std::mem::replace(&mut self.batch, next);
            // The writer stops receiving only when the store failed; it reports why.
            self.to_store.send(batch).map_err(|_| Stop::WriterStopped)?;
        }
        Ok(())
    }
}

/// How far an import has come, after a batch was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportProgress {
    /// Records seen so far (written, unchanged, ignored or rejected).
    pub records: u64,
    /// Bytes of the file read so far (the reader runs a batch or so ahead of the store).
    pub bytes: u64,
}

/// Counts the bytes read through it into a counter the store's thread reads.
struct CountingReader<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports one file. `on_batch` is told how far the import has come after each batch.
///
/// One thread reads and parses the file while this one writes the batches to the store, each in
/// its own transaction, in file order.
pub fn import_file(
    store: &mut Store,
    path: &Path,
    format: Option<Format>,
    n: &Normalizer,
    on_batch: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut head = vec![0u8; 64 * 1024];
    let got = read_up_to(&mut file, &mut head).map_err(read_err)?;
    head.truncate(got);
    let format = match format {
        Some(f) => f,
        None => detect(path, &head, n.columns.as_deref())?,
    };
    let display = path.display().to_string();
    let run = store.begin_run("import", &format.to_string(), &display, None)?;
    let bytes_read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let chained = CountingReader {
        inner: std::io::Cursor::new(head).chain(file),
        read: bytes_read.clone(),
    };
    let on_batch = &mut |records| {
        on_batch(ImportProgress {
            records,
            bytes: bytes_read.load(std::sync::atomic::Ordering::Relaxed),
        })
    };
    let display = display.as_str();
    let (result, counts, samples) = match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .buffer_capacity(1 << 20)
                .from_reader(chained);
            match csv_header(&mut reader, display, n.columns.as_deref()) {
                Ok(header) => {
                    if let Some(map) = n.columns.as_deref() {
                        let file = display;
                        for (key, column) in header.missing_columns(map) {
                            tracing::warn!(
                                "{}: the header has no column {column:?} (import.columns.{key} in the config); every record is read without it",
                                file
                            );
                        }
                    }
                    let mapped;
                    let n = if header.layout == socrata::Layout::Mapped {
                        mapped = n.for_mapped_columns();
                        &mapped
                    } else {
                        n
                    };
                    let raw_header = store.raw_header(header.names.iter().map(String::as_str))?;
                    pipeline(store, n, run, on_batch, |batcher| {
                        import_csv(batcher, display, reader, &header, raw_header, n)
                    })
                }
                Err(stop) => (Err(stop), Counts::default(), Vec::new()),
            }
        }
        Format::Open311 | Format::SocrataJson => pipeline(store, n, run, on_batch, |batcher| {
            import_json(batcher, display, chained, format, n)
        }),
    };
    let broken_at = match result {
        Ok(()) => None,
        Err(Stop::Broken(msg)) => Some(msg),
        Err(Stop::Store(e)) => return Err(e.into()),
        Err(Stop::Io(e)) => return Err(read_err(e)),
        Err(Stop::WriterStopped) => unreachable!("the writer's error is reported instead"),
    };
    let status = if broken_at.is_some() { "partial" } else { "ok" };
    store.finish_run(run, counts, 0, status, broken_at.as_deref().unwrap_or(""))?;
    Ok(ImportReport {
        path: path.to_path_buf(),
        format,
        counts,
        broken_at,
        samples,
    })
}

/// Runs `parse` on its own thread, writing the batches it makes to the store on this one.
/// Returns how reading ended, the counts of what was written, and the rejection samples.
/// Meanwhile the store checkpoints its WAL on a thread of its own.
fn pipeline(
    store: &mut Store,
    normalizer: &Normalizer,
    run: RunId,
    on_batch: &mut dyn FnMut(u64),
    parse: impl FnOnce(&mut Batcher) -> Result<(), Stop> + Send,
) -> (Result<(), Stop>, Counts, Vec<String>) {
    let mut counts = Counts::default();
    if let Err(e) = store.background_checkpoints(true) {
        return (Err(Stop::Store(e)), counts, Vec::new());
    }
    let (to_store, batches) = std::sync::mpsc::sync_channel(1);
    let (give_back, written) = std::sync::mpsc::channel();
    let normalizer = normalizer.clone();
    let (result, samples) = std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut batcher = Batcher {
                batch: Vec::with_capacity(BATCH),
                to_store,
                written,
                samples: Vec::new(),
                normalizer,
            };
            let mut result = parse(&mut batcher);
            // Records before a break in the file are kept; after a read error nothing more is
            // written (the file cannot be trusted to end where it seems to).
            if matches!(result, Ok(()) | Err(Stop::Broken(_)))
                && let Err(stop) = batcher.flush()
            {
                result = Err(stop);
            }
            (result, batcher.samples)
        });
        let mut store_error = None;
        for batch in &batches {
            match store.write_batch(run, &batch) {
                Ok(c) => {
                    counts.add(c);
                    on_batch(counts.seen());
                    // Only fails once the parser is done; the batch is then freed here.
                    let _ = give_back.send(batch);
                }
                Err(e) => {
                    store_error = Some(e);
                    break;
                }
            }
        }
        // Closing the channel stops the parser at its next batch.
        drop(batches);
        let (result, samples) = match parser.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let back_to_normal = store.background_checkpoints(false);
        match store_error.or(back_to_normal.err()) {
            Some(e) => (Err(Stop::Store(e)), samples),
            None => (result, samples),
        }
    });
    (result, counts, samples)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match r.read(&mut buf[total..])? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total)
}

/// Why reading a file stopped early.
enum Stop {
    Broken(String),
    Store(StoreError),
    Io(std::io::Error),
    /// The store writer stopped (it has the error).
    WriterStopped,
}

/// Reads a CSV file's header row.
fn csv_header(
    reader: &mut csv::Reader<impl Read>,
    display: &str,
    columns: Option<&crate::config::ColumnMap>,
) -> Result<socrata::CsvHeader, Stop> {
    let header = match reader.byte_headers() {
        Ok(h) => csv::StringRecord::from_byte_record_lossy(h.clone()),
        Err(e) => {
            return Err(Stop::Broken(format!(
                "{display}:1: cannot read the header: {e}"
            )));
        }
    };
    socrata::CsvHeader::new(&header, columns).ok_or_else(|| {
        Stop::Broken(match columns {
            Some(map) => format!(
                "{display}:1: no sr_number or Service Request Number column, nor {:?} (import.columns.id in the config)",
                map.id
            ),
            None => format!("{display}:1: no sr_number or Service Request Number column"),
        })
    })
}

fn import_csv(
    batcher: &mut Batcher,
    display: &str,
    mut reader: csv::Reader<impl Read>,
    header: &socrata::CsvHeader,
    raw_header: RawHeader,
    n: &Normalizer,
) -> Result<(), Stop> {
    // One record buffer serves every row: it is lent to a `StringRecord` and taken back.
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(Stop::Io(std::io::Error::other(e.to_string())));
                }
                return Err(Stop::Broken(format!("{display}:{line}: {e}")));
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let origin = || format!("{display}:{line}");
        match csv::StringRecord::from_byte_record(std::mem::take(&mut record)) {
            Ok(row) => {
                let parsed = socrata::parse_csv_row(header, &row, n);
                let raw = || row.iter().collect::<Vec<_>>().join(",");
                batcher.push(parsed, origin, raw, Some(raw_header))?;
                record = row.into_byte_record();
            }
            Err(e) => {
                let reason = format!("invalid UTF-8 in field {}", e.utf8_error().field() + 1);
                record = e.into_byte_record();
                let lossy = || String::from_utf8_lossy(record.as_slice()).into_owned();
                batcher.push(Parsed::Rejected(reason), origin, lossy, None)?;
            }
        }
    }
}

fn parse_json_element(format: Format, raw: &str, n: &Normalizer) -> Parsed {
    match format {
        Format::Open311 => open311::parse_record(raw, n),
        _ => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v) => socrata::parse_json_record(raw, &v, n),
            Err(e) => Parsed::Rejected(format!("not valid JSON: {e}")),
        },
    }
}

fn import_json(
    batcher: &mut Batcher,
    display: &str,
    input: impl Read,
    format: Format,
    n: &Normalizer,
) -> Result<(), Stop> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    // Peek the first significant byte: `[` is an array, anything else is one object per line.
    let first = loop {
        let buf = reader.fill_buf().map_err(Stop::Io)?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf
            .iter()
            .position(|b| !b" \t\r\n".contains(b) && *b != 0xef && *b != 0xbb && *b != 0xbf)
        {
            Some(i) => break buf[i],
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    };
    if first == b'[' {
        let mut text = String::new();
        if let Err(e) = reader.read_to_string(&mut text) {
            if e.kind() == std::io::ErrorKind::InvalidData {
                return Err(Stop::Broken(format!(
                    "{display}: not UTF-8; JSON must be UTF-8"
                )));
            }
            return Err(Stop::Io(e));
        }
        return import_json_array(batcher, display, &text, format, n);
    }
    let mut line_no = 0u64;
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let got = reader.read_until(b'\n', &mut bytes).map_err(Stop::Io)?;
        if got == 0 {
            return Ok(());
        }
        line_no += 1;
        let origin = || format!("{display}:{line_no}");
        let line = match std::str::from_utf8(&bytes) {
            Ok(s) => s.trim(),
            Err(_) => {
                let lossy = || String::from_utf8_lossy(&bytes).into_owned();
                batcher.push(
                    Parsed::Rejected("invalid UTF-8".into()),
                    origin,
                    lossy,
                    None,
                )?;
                continue;
            }
        };
        let line = line.trim_end_matches(',');
        if line.is_empty() || line == "[" || line == "]" {
            continue;
        }
        let parsed = parse_json_element(format, line, n);
        batcher.push(parsed, origin, || line.to_string(), None)?;
    }
}

/// Streams the elements of a JSON array, keeping every element before a syntax error.
fn import_json_array(
    batcher: &mut Batcher,
    display: &str,
    text: &str,
    format: Format,
    n: &Normalizer,
) -> Result<(), Stop> {
    // Elements come in order, so newlines are counted on from the previous one.
    let mut counted = (0, 1);
    let mut line_of = |raw: &str| {
        let offset = (raw.as_ptr() as usize)
            .saturating_sub(text.as_ptr() as usize)
            .min(text.len());
        let (from, line) = counted;
        let newlines = text.as_bytes()[from.min(offset)..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted = (offset, line + newlines);
        line + newlines
    };
    let mut stopped = None;
    let mut each = |raw: &RawValue| -> bool {
        let raw = raw.get();
        let line = line_of(raw);
        let parsed = parse_json_element(format, raw, n);
        let origin = || format!("{display}:{line}");
        match batcher.push(parsed, origin, || raw.to_string(), None) {
            Ok(()) => true,
            Err(stop) => {
                stopped = Some(stop);
                false
            }
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = ArraySeed { each: &mut each }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(stop) = stopped {
        return Err(stop);
    }
    result.map_err(|e| Stop::Broken(format!("{display}:{}: the JSON breaks off: {e}", e.line())))
}

/// Visits array elements one at a time as borrowed raw JSON.
struct ArraySeed<'f, F: FnMut(&RawValue) -> bool> {
    each: &'f mut F,
}

impl<'de, F: FnMut(&RawValue) -> bool> DeserializeSeed<'de> for ArraySeed<'_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(&RawValue) -> bool> Visitor<'de> for ArraySeed<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if !(self.each)(raw) {
                return Err(serde::de::Error::custom("the store failed"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn n() -> Normalizer {
        Normalizer::new(TimeZone::get("America/Chicago").unwrap(), 50)
    }

    fn import(name: &str, text: &[u8]) -> (ImportReport, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let report = import_file(&mut store, &path, None, &n(), &mut |_| {}).unwrap();
        std::mem::forget(dir);
        (report, store)
    }

    const REC: &str = r#"{"service_request_id":"ID","status":"open","service_name":"X","requested_datetime":"2014-05-09T19:02:21-05:00"}"#;

    #[test]
    fn detects_formats() {
        let p = Path::new("f");
        assert_eq!(detect(p, REC.as_bytes(), None).unwrap(), Format::Open311);
        assert_eq!(
            detect(p, b"[{\"sr_number\":\"1\"}]", None).unwrap(),
            Format::SocrataJson
        );
        assert_eq!(
            detect(p, b"sr_number,sr_type\n", None).unwrap(),
            Format::Csv
        );
        assert_eq!(
            detect(p, b"Creation Date,Status,Service Request Number\n", None).unwrap(),
            Format::Csv
        );
        let message = |head: &[u8]| detect(p, head, None).unwrap_err().to_string();
        assert!(message(b"<html><body>Error</body></html>").contains("requests.json"));
        assert!(message(b"[{\"service_code\":\"1\"}]").contains("service types"));
        assert!(message(b"[{\"ward\":\"1\"}]").contains("--format open311"));
    }

    #[test]
    fn json_lines_keep_good_records_and_name_bad_lines() {
        let text = format!(
            "{}\n{{broken\n{}\n\n{}\n",
            REC.replace("ID", "1"),
            REC.replace("ID", "2"),
            REC.replace("ID", "")
        );
        let (report, store) = import("x.json", text.as_bytes());
        assert_eq!(
            (
                report.counts.new,
                report.counts.rejected,
                report.counts.ignored
            ),
            (2, 1, 1)
        );
        assert!(
            report.samples[0].contains("x.json:2:"),
            "{:?}",
            report.samples
        );
        assert_eq!(store.request_count().unwrap(), 2);
    }

    #[test]
    fn truncated_array_keeps_what_came_before() {
        let text = format!(
            "[\n{},\n{},\n{{\"service_request_id\": \"3\", \"sta",
            REC.replace("ID", "1"),
            REC.replace("ID", "2")
        );
        let (report, store) = import("x.json", text.as_bytes());
        assert_eq!(report.counts.new, 2);
        assert!(
            report.broken_at.as_deref().unwrap().contains("breaks off"),
            "{report:?}"
        );
        assert_eq!(store.request_count().unwrap(), 2);
    }

    #[test]
    fn array_elements_are_rejected_with_their_line() {
        let text = format!(
            "[\n{},\n{{\"service_request_id\":\"9\"}}\n]",
            REC.replace("ID", "1")
        );
        let (report, _) = import("x.json", text.as_bytes());
        assert_eq!((report.counts.new, report.counts.rejected), (1, 1));
        assert!(
            report.samples[0].starts_with(&format!("{}:3:", report.path.display())),
            "{:?}",
            report.samples
        );
    }

    #[test]
    fn csv_with_invalid_utf8_rejects_that_row_only() {
        let mut text = b"sr_number,sr_type,status,created_date,ward\nSR1,Pothole,Open,2021-01-01T00:00:00,3\nSR2,Pot\xffhole,Open,2021-01-01T00:00:00,3\nSR3,Pothole,Open,2021-01-01T00:00:00,3\n".to_vec();
        text.extend_from_slice(b"SR4,Pothole,Open,not a date,3\n");
        let (report, _) = import("x.csv", &text);
        assert_eq!((report.counts.new, report.counts.rejected), (2, 2));
        assert!(
            report.samples[0].contains("x.csv:3: invalid UTF-8"),
            "{:?}",
            report.samples
        );
        assert!(
            report.samples[1].contains("x.csv:5:"),
            "{:?}",
            report.samples
        );
    }

    #[test]
    fn csv_reimport_counts_and_keeps_the_newest_with_its_raw_row() {
        let head = "sr_number,sr_type,status,created_date,last_modified_date,ward\n";
        let first = format!(
            "{head}SR1,Pothole,Open,2021-01-01T00:00:00,2021-01-01T00:00:00,3\nSR2,Pothole,Open,2021-01-01T00:00:00,2021-01-01T00:00:00,99\n,Pothole,Open,2021-01-01T00:00:00,,3\n"
        );
        let (report, mut store) = import("a.csv", first.as_bytes());
        let c = report.counts;
        assert_eq!(
            (
                c.new,
                c.updated,
                c.unchanged,
                c.ignored,
                c.rejected,
                c.cleaned
            ),
            (2, 0, 0, 1, 0, 1)
        );
        let raw: serde_json::Value =
            serde_json::from_str(&store.raw("SR1").unwrap().unwrap()).unwrap();
        assert_eq!(raw["status"], "Open");
        assert_eq!(raw["ward"], "3");
        // The same rows again change nothing; a newer version of SR1 replaces it, an older one
        // of SR2 does not.
        let second = format!(
            "{head}SR1,Pothole,Completed,2021-01-01T00:00:00,2021-01-02T00:00:00,3\nSR2,Pothole,Completed,2021-01-01T00:00:00,2020-12-31T00:00:00,3\nSR1,Pothole,Open,2021-01-01T00:00:00,2021-01-01T00:00:00,3\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        std::fs::write(&path, second).unwrap();
        let report = import_file(&mut store, &path, None, &n(), &mut |_| {}).unwrap();
        let c = report.counts;
        assert_eq!((c.new, c.updated, c.unchanged), (0, 1, 2));
        let raw: serde_json::Value =
            serde_json::from_str(&store.raw("SR1").unwrap().unwrap()).unwrap();
        assert_eq!(raw["status"], "Completed");
        let raw: serde_json::Value =
            serde_json::from_str(&store.raw("SR2").unwrap().unwrap()).unwrap();
        assert_eq!(raw["status"], "Open");
        assert_eq!(store.request_count().unwrap(), 2);
    }

    #[test]
    fn many_batches_arrive_in_order_with_running_counts() {
        let mut text = String::from("sr_number,sr_type,status,created_date,ward\n");
        for i in 0..(2 * BATCH + 7) {
            text.push_str(&format!("SR{i},Pothole,Open,2021-01-01T00:00:00,3\n"));
        }
        // The last row repeats the first: it must see it, whatever batch it is in.
        text.push_str("SR0,Pothole,Open,2021-01-01T00:00:00,3\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        std::fs::write(&path, text).unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let mut seen = Vec::new();
        let mut bytes = Vec::new();
        let report = import_file(&mut store, &path, None, &n(), &mut |s| {
            seen.push(s.records);
            bytes.push(s.bytes);
        })
        .unwrap();
        assert_eq!(
            (report.counts.new, report.counts.unchanged),
            (2 * BATCH as u64 + 7, 1)
        );
        assert_eq!(
            seen,
            vec![BATCH as u64, 2 * BATCH as u64, 2 * BATCH as u64 + 8]
        );
        // Bytes only grow, and the last batch has read the whole file.
        assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "{bytes:?}");
        assert_eq!(
            bytes.last().copied(),
            Some(std::fs::metadata(&path).unwrap().len())
        );
        let first: i64 = store
            .connection()
            .query_row(
                "SELECT min(rowid_key) FROM requests WHERE id = 'SR0'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let last: i64 = store
            .connection()
            .query_row("SELECT max(rowid_key) FROM requests", [], |r| r.get(0))
            .unwrap();
        assert_eq!((first, last), (1, 2 * BATCH as i64 + 7));
    }
}

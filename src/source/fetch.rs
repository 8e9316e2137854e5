//! `cwfy fetch`: pulls service requests from an Open311 GeoReport v2 endpoint (any city; Chicago's
//! `extensions=true` is an option) or a Socrata SODA resource into the store.
//!
//! The time range is cut into city-local day windows: on the request time for a backfill
//! (`start_date`/`end_date`; SODA `created_date`), on the update time for the nightly increment
//! (`updated_after`/`updated_before`; SODA `last_modified_date`), which starts at the stored
//! watermark minus a small overlap so that nothing changed between two runs is missed. A bounded
//! pool of threads fetches windows page by page; the one thread that owns the store writes each
//! window, its records and its completion mark, in one transaction.
//!
//! Marks are written in window order, so the watermark (the end of the latest marked window)
//! never passes a window that was not fetched. A window that fails after every retry keeps the
//! records of the windows after it but leaves them unmarked, and the next run fetches from the
//! failed window on. A run that is interrupted, even by SIGKILL, loses only the windows in flight;
//! the next run skips the marked windows and fetches the rest (upserts make refetching harmless).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::value::RawValue;

use super::{Normalizer, Parsed, open311, quote, socrata};
use crate::config::{Config, LIVE_PROFILE, SodaApi, SourceConfig, SourceKindConfig};
use crate::domain::{ServiceAttribute, ServiceType, UnixSeconds};
use crate::store::{Counts, Incoming, RunId, Store, StoreError, Window};

/// Longest wait a `Retry-After` header is honoured for; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Longest back-off between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Rejected records quoted in the report (all of them are in the store's `rejected` table).
const SAMPLES: usize = 10;

/// Which kind of endpoint `cwfy fetch` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EndpointKind {
    /// Open311 GeoReport v2 (`services.json`, `requests.json`).
    Open311,
    /// Socrata SODA (`$where`, `$order`, `$limit`, `$offset`).
    Socrata,
}

impl EndpointKind {
    /// The lower-case name used in the store and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Open311 => "open311",
            EndpointKind::Socrata => "socrata",
        }
    }
}

impl From<SourceKindConfig> for EndpointKind {
    fn from(kind: SourceKindConfig) -> Self {
        match kind {
            SourceKindConfig::Open311 => EndpointKind::Open311,
            SourceKindConfig::Socrata => EndpointKind::Socrata,
        }
    }
}

/// A `--since` or `--until` value: a city-local date, or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A calendar day in the city's zone (`2015-10-01`).
    Date(Date),
    /// An instant with an offset (`2015-10-01T06:00:00-05:00`).
    Instant(Timestamp),
}

impl When {
    /// Parses `YYYY-MM-DD` or an RFC 3339 time with an offset.
    pub fn parse(text: &str) -> Result<When, String> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<Timestamp>() {
            return Ok(When::Instant(ts));
        }
        if let Ok(date) = text.parse::<Date>() {
            return Ok(When::Date(date));
        }
        Err(format!(
            "{} is neither a date (YYYY-MM-DD) nor a time with an offset (2015-10-01T06:00:00-05:00)",
            quote(text)
        ))
    }

    /// The first instant it names: a date's city-local midnight.
    fn first(self, tz: &TimeZone) -> Result<UnixSeconds, FetchError> {
        match self {
            When::Instant(ts) => Ok(ts.as_second()),
            When::Date(date) => day_start(date, tz),
        }
    }

    /// The end it names, exclusive: the midnight after a date (the whole day is included).
    fn end(self, tz: &TimeZone) -> Result<UnixSeconds, FetchError> {
        match self {
            When::Instant(ts) => Ok(ts.as_second()),
            When::Date(date) => {
                let next = date
                    .tomorrow()
                    .map_err(|e| FetchError::Range(format!("--until {date}: {e}")))?;
                day_start(next, tz)
            }
        }
    }
}

/// What to fetch, from the command line.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Fetch requests updated since then instead of since the stored watermark.
    pub since: Option<When>,
    /// Stop there (default: now).
    pub until: Option<When>,
    /// Backfill the requests opened from this day on.
    pub backfill_from: Option<Date>,
    /// Another endpoint than the config's.
    pub url: Option<String>,
    /// The kind of that endpoint (default: the config's `source.kind`).
    pub kind: Option<EndpointKind>,
    /// The Open311 profile (default: `live`, the config's `base_url`).
    pub profile: Option<String>,
    /// Refresh these requests by id instead of fetching windows.
    pub requests: Vec<String>,
    /// The present, for tests (default: the clock).
    pub now: Option<Timestamp>,
}

/// How windows select records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// By request time (`start_date`/`end_date`).
    Backfill,
    /// By update time (`updated_after`/`updated_before`).
    Increment,
}

impl Mode {
    /// The name stored in the `windows` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Backfill => "backfill",
            Mode::Increment => "increment",
        }
    }
}

/// The span a run covers and how it selects records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Backfill or increment.
    pub mode: Mode,
    /// From the first instant to the end (exclusive).
    pub span: Window,
}

/// A fetch that could not run, or a page that could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The endpoint URL is not an http(s) URL.
    #[error(
        "{url:?} is not a usable endpoint URL ({reason}); fix {setting} in the config or --url"
    )]
    BadUrl {
        /// As given.
        url: String,
        /// What is wrong.
        reason: String,
        /// The config key it came from.
        setting: &'static str,
    },
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// A boundary map (to place requests by location) could not be read.
    #[error(transparent)]
    Boundaries(#[from] crate::geo::GeoError),
    /// The dates given select nothing, or cannot be used.
    #[error("{0}")]
    Range(String),
    /// The server refused the request with a 4xx status (other than 429); not retried.
    #[error("{url}: HTTP {status}{detail}; {advice}")]
    Refused {
        /// The page URL (without the API key).
        url: String,
        /// Status code and reason.
        status: String,
        /// What the server said, when it said something.
        detail: String,
        /// What to check.
        advice: String,
    },
    /// The page still failed after every retry.
    #[error(
        "{url}: {reason}, still after {tries} tries; the server may be down or overloaded: try again later"
    )]
    GaveUp {
        /// The page URL (without the API key).
        url: String,
        /// The last failure.
        reason: String,
        /// Tries made.
        tries: u32,
    },
    /// The server sent the same full page twice: it ignores the paging parameters.
    #[error(
        "{url}: page {page} is the same as the page before it; the endpoint seems to ignore {params}, so paging cannot work: check the URL and the endpoint's documentation"
    )]
    Paging {
        /// The repeated page's URL.
        url: String,
        /// Its number.
        page: u64,
        /// The paging parameters.
        params: &'static str,
    },
    /// The fetch was stopped because another part of it failed.
    #[error("stopped because the fetch failed elsewhere")]
    Cancelled,
    /// A fetch thread panicked (a bug).
    #[error(
        "a fetch thread stopped unexpectedly (a bug: please report it); run `cwfy fetch` again, it resumes where it stopped"
    )]
    Worker,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A window that failed, for the report.
#[derive(Debug, Clone)]
pub struct WindowFailure {
    /// The window (`2014-01-03`, or its two ends when it is not a whole day).
    pub label: String,
    /// Why.
    pub error: String,
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// The endpoint kind.
    pub kind: EndpointKind,
    /// The endpoint URL.
    pub endpoint: String,
    /// What was fetched; `None` when there was nothing to fetch.
    pub plan: Option<Plan>,
    /// Records by what became of them.
    pub counts: Counts,
    /// Pages fetched.
    pub pages: u64,
    /// Windows in the span.
    pub windows: usize,
    /// Windows an earlier run completed.
    pub skipped: usize,
    /// Windows fetched and marked done.
    pub done: usize,
    /// Windows fetched and stored after a failed one, left unmarked so the next run refetches them.
    pub unmarked: usize,
    /// Windows that failed.
    pub failures: Vec<WindowFailure>,
    /// Service types stored from `services.json` (Open311).
    pub services: Option<usize>,
    /// Service definitions stored from `services/{code}.json` (Open311).
    pub definitions: Option<usize>,
    /// Problems that did not stop the fetch (a failing `services.json`).
    pub warnings: Vec<String>,
    /// Some rejected records, as `origin: reason`.
    pub samples: Vec<String>,
}

impl FetchReport {
    fn new(endpoint: &Endpoint) -> FetchReport {
        FetchReport {
            kind: endpoint.kind,
            endpoint: endpoint.url.to_string(),
            plan: None,
            counts: Counts::default(),
            pages: 0,
            windows: 0,
            skipped: 0,
            done: 0,
            unmarked: 0,
            failures: Vec::new(),
            services: None,
            definitions: None,
            warnings: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// The run's status in the store: `ok`, `partial` (some windows failed) or `failed`.
    pub fn status(&self) -> &'static str {
        if self.failures.is_empty() {
            "ok"
        } else if self.done + self.unmarked > 0 {
            "partial"
        } else {
            "failed"
        }
    }

    /// When windows failed: which, why, and that a rerun resumes.
    pub fn failure_message(&self) -> Option<String> {
        let first = self.failures.first()?;
        let shown: Vec<&str> = self
            .failures
            .iter()
            .take(10)
            .map(|f| f.label.as_str())
            .collect();
        let more = self.failures.len() - shown.len();
        let list = if more > 0 {
            format!("{}, and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        };
        Some(format!(
            "{} of {} windows failed ({list}); the first: {}\n  rerun the same command: completed windows are kept and skipped, the rest are fetched again",
            self.failures.len(),
            self.windows - self.skipped,
            first.error
        ))
    }

    fn errors_text(&self) -> String {
        let mut lines: Vec<String> = self
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.label, f.error))
            .collect();
        lines.extend(self.warnings.iter().cloned());
        lines.join("\n")
    }
}

/// An endpoint with everything needed to ask it for a page.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Open311 or Socrata.
    pub kind: EndpointKind,
    /// Open311: the base URL, ending in `/`; Socrata: the SODA 3 query URL or the SODA 2.1
    /// resource URL, as `api` says.
    pub url: Url,
    /// Socrata: which query API is used.
    pub api: Option<SodaApi>,
    /// Socrata: the dataset's SODA 2.1 resource URL, whichever API is used: it names the
    /// dataset in the store's windows, so windows done through one API count for the other.
    resource: Option<Url>,
    /// Records per page.
    pub page_size: u32,
    /// Open311 `jurisdiction_id`.
    pub jurisdiction_id: Option<String>,
    /// Open311 `extensions=true`.
    pub extensions: bool,
    /// Open311: the profile (`live`, `test`, …).
    pub profile: Option<String>,
    /// The environment variable the key or token is read from (for messages).
    pub secret_env: String,
    /// How the endpoint was chosen, when that needs saying (SODA 3 without a token).
    pub notes: Vec<String>,
    /// The API key (Open311 `api_key`) or app token (Socrata `X-App-Token`), when set.
    secret: Option<String>,
}

/// One request for a page: a GET of `url`, or a POST of `body` (JSON) to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The URL, without the API key.
    pub url: Url,
    /// SODA 3: the JSON body (the SoQL query and the page).
    pub body: Option<String>,
}

impl std::fmt::Display for PageRequest {
    /// The request as messages and the store's provenance name it: the URL, and for a POST its
    /// body.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            None => write!(f, "{}", self.url),
            Some(body) => write!(f, "POST {} {body}", self.url),
        }
    }
}

/// Where a Socrata dataset is: the portal (with any path prefix), the dataset id and the API.
fn socrata_parts(url: &Url) -> Option<(String, String, SodaApi)> {
    let path = url.path();
    let id_ok =
        |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if let Some(at) = path.rfind("/api/v3/views/") {
        let rest = &path[at + "/api/v3/views/".len()..];
        let id = rest.strip_suffix("/query.json")?;
        return id_ok(id).then(|| (path[..at].to_string(), id.to_string(), SodaApi::Soda3));
    }
    if let Some(at) = path.rfind("/resource/") {
        let id = path[at + "/resource/".len()..].strip_suffix(".json")?;
        return id_ok(id).then(|| (path[..at].to_string(), id.to_string(), SodaApi::Soda2));
    }
    None
}

/// The URL of a dataset through an API, on the portal `origin` (scheme, host and path prefix).
fn socrata_url(origin: &Url, prefix: &str, dataset: &str, api: SodaApi) -> Url {
    let mut url = origin.clone();
    let prefix = prefix.trim_end_matches('/');
    url.set_path(&match api {
        SodaApi::Soda3 => format!("{prefix}/api/v3/views/{dataset}/query.json"),
        SodaApi::Soda2 => format!("{prefix}/resource/{dataset}.json"),
    });
    url
}

impl Endpoint {
    /// The endpoint of the config, or of `--url`/`--kind`/`--profile`; the key or token comes
    /// from the environment variable the config names.
    pub fn from_config(
        config: &Config,
        kind: Option<EndpointKind>,
        url: Option<&str>,
        profile: Option<&str>,
    ) -> Result<Endpoint, FetchError> {
        let source = &config.source;
        let kind = kind.unwrap_or(source.kind.into());
        if profile.is_some() && kind != EndpointKind::Open311 {
            return Err(FetchError::Range(
                "--profile chooses an Open311 endpoint (source.open311.profiles); this fetch uses Socrata: add --kind open311 or leave --profile out".into(),
            ));
        }
        let target = match kind {
            EndpointKind::Open311 => {
                Some(source.open311.target(profile).map_err(FetchError::Range)?)
            }
            EndpointKind::Socrata => None,
        };
        let socrata = &source.socrata;
        let default_text;
        let (text, setting, env, page_size) = match &target {
            Some(t) => (
                url.unwrap_or(&t.base_url),
                if t.profile == LIVE_PROFILE {
                    "source.open311.base_url"
                } else {
                    "source.open311.profiles"
                },
                t.api_key_env.as_str(),
                source.open311.page_size,
            ),
            None => {
                let text = match (url, &socrata.url) {
                    (Some(u), _) => u,
                    (None, Some(u)) => u.as_str(),
                    (None, None) => {
                        default_text = format!(
                            "{}/resource/{}.json",
                            socrata.domain.trim().trim_end_matches('/'),
                            socrata.dataset.trim()
                        );
                        default_text.as_str()
                    }
                };
                let setting = if url.is_none() && socrata.url.is_none() {
                    "source.socrata.domain and source.socrata.dataset"
                } else {
                    "source.socrata.url"
                };
                (
                    text,
                    setting,
                    socrata.app_token_env.as_str(),
                    socrata.page_size,
                )
            }
        };
        let bad = |reason: &str| FetchError::BadUrl {
            url: text.to_string(),
            reason: reason.to_string(),
            setting,
        };
        let mut parsed = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad("it must be an http:// or https:// URL with a host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad(
                "it must not have a query or fragment; the parameters are set by cwfy",
            ));
        }
        let secret = std::env::var(env)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let mut notes = Vec::new();
        let (api, resource) = match kind {
            EndpointKind::Open311 => {
                // Accept the URL of a document as well as the base: `…/v2/requests.json` → `…/v2/`.
                let path = parsed.path().to_string();
                let base = path
                    .strip_suffix("requests.json")
                    .or_else(|| path.strip_suffix("services.json"))
                    .unwrap_or(&path);
                let base = if base.ends_with('/') {
                    base.to_string()
                } else {
                    format!("{base}/")
                };
                parsed.set_path(&base);
                (None, None)
            }
            EndpointKind::Socrata => {
                let (prefix, dataset, named_api) = socrata_parts(&parsed).ok_or_else(|| {
                    bad("it must be a SODA 2.1 resource URL (…/resource/<id>.json) or a SODA 3 query URL (…/api/v3/views/<id>/query.json)")
                })?;
                // domain + dataset name no API of their own: the config's `api` says which.
                let wanted = if url.is_none() && socrata.url.is_none() {
                    socrata.api
                } else {
                    named_api
                };
                let api = if wanted == SodaApi::Soda3 && secret.is_none() {
                    notes.push(format!(
                        "no app token in ${env}: SODA 3 requires one, so this fetch uses SODA 2.1 ({}), which the portal allows without a token but throttles; register an app token on the portal and set ${env} for SODA 3",
                        socrata_url(&parsed, &prefix, &dataset, SodaApi::Soda2)
                    ));
                    SodaApi::Soda2
                } else {
                    wanted
                };
                let resource = socrata_url(&parsed, &prefix, &dataset, SodaApi::Soda2);
                parsed = socrata_url(&parsed, &prefix, &dataset, api);
                (Some(api), Some(resource))
            }
        };
        if page_size == 0 {
            return Err(FetchError::Range(format!(
                "{}.page_size is 0; set it to the number of records per page (Open311: 500 at most on Chicago's endpoint)",
                match kind {
                    EndpointKind::Open311 => "source.open311",
                    EndpointKind::Socrata => "source.socrata",
                }
            )));
        }
        Ok(Endpoint {
            kind,
            url: parsed,
            api,
            resource,
            page_size,
            jurisdiction_id: target.as_ref().and_then(|t| t.jurisdiction_id.clone()),
            extensions: kind == EndpointKind::Open311 && source.open311.extensions,
            profile: target.as_ref().map(|t| t.profile.clone()),
            secret_env: env.to_string(),
            notes,
            secret,
        })
    }

    /// Whether a key or token was found in the environment.
    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// The endpoint in a few words, for reports: `Socrata SODA 3 https://…/query.json`.
    pub fn describe(&self) -> String {
        match (self.kind, self.api, &self.profile) {
            (EndpointKind::Socrata, Some(SodaApi::Soda3), _) => {
                format!("Socrata SODA 3 {}", self.url)
            }
            (EndpointKind::Socrata, _, _) => format!("Socrata SODA 2.1 {}", self.url),
            (EndpointKind::Open311, _, Some(p)) if p != LIVE_PROFILE => {
                format!("Open311 {} (profile {p})", self.url)
            }
            (EndpointKind::Open311, _, _) => format!("Open311 {}", self.url),
        }
    }

    /// The name of the endpoint in the `windows` table and the watermark: kind, URL and
    /// jurisdiction, so that windows done on one endpoint never count for another. A Socrata
    /// dataset is named by its resource URL through either API.
    pub fn key(&self) -> String {
        let url = self.resource.as_ref().unwrap_or(&self.url);
        match &self.jurisdiction_id {
            Some(j) => format!("{} {url} jurisdiction_id={j}", self.kind.as_str()),
            None => format!("{} {url}", self.kind.as_str()),
        }
    }

    /// `services.json` (Open311).
    pub fn services_url(&self) -> Url {
        let mut url = self.join("services.json");
        self.add_jurisdiction(&mut url);
        url
    }

    /// `services/{code}.json`: a service's definition (Open311).
    pub fn service_definition_url(&self, code: &str) -> Url {
        let mut url = self.join("services/");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(&format!("{code}.json"));
        }
        self.add_jurisdiction(&mut url);
        url
    }

    /// An Open311 request document's URL with the parameters every request query carries:
    /// `jurisdiction_id` and `extensions`, when configured. (The path stays as given, so that a
    /// segment pushed after it is escaped.)
    fn open311_url(&self, document: &str) -> Url {
        let mut url = self.join(document);
        self.add_jurisdiction(&mut url);
        if self.extensions {
            url.query_pairs_mut().append_pair("extensions", "true");
        }
        url
    }

    fn add_jurisdiction(&self, url: &mut Url) {
        if let Some(j) = &self.jurisdiction_id {
            url.query_pairs_mut().append_pair("jurisdiction_id", j);
        }
    }

    fn join(&self, document: &str) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}{document}", url.path());
        url.set_path(&path);
        url
    }

    /// A Socrata request for page `page` (from 1) of the rows `condition` selects, in a stable
    /// order (the row id), so that pages never skip or repeat a row.
    fn socrata_page(&self, condition: &str, page: u64) -> PageRequest {
        self.socrata_query(Some(condition), ":id", page, self.page_size)
    }

    /// A Socrata query through the endpoint's API: SODA 3's JSON body with a SoQL query and a
    /// page, or SODA 2.1's `$where`, `$order`, `$limit` and `$offset`.
    fn socrata_query(
        &self,
        condition: Option<&str>,
        order: &str,
        page: u64,
        page_size: u32,
    ) -> PageRequest {
        match self.api {
            Some(SodaApi::Soda3) => {
                let filter = condition.map(|c| format!("WHERE {c} ")).unwrap_or_default();
                let body = serde_json::json!({
                    "query": format!("SELECT * {filter}ORDER BY {order}"),
                    "page": {"pageNumber": page, "pageSize": page_size},
                    "includeSynthetic": false,
                });
                PageRequest {
                    url: self.url.clone(),
                    body: Some(body.to_string()),
                }
            }
            _ => {
                let mut url = self.url.clone();
                let offset = page.saturating_sub(1) * u64::from(page_size);
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(c) = condition {
                        q.append_pair("$where", c);
                    }
                    q.append_pair("$order", order)
                        .append_pair("$limit", &page_size.to_string())
                        .append_pair("$offset", &offset.to_string());
                }
                PageRequest { url, body: None }
            }
        }
    }

    /// The request for page `page` (from 1) of a window. Its text (see [`PageRequest`]) is the
    /// provenance stored with every record, and what messages name; it never holds the key.
    pub fn page_url(&self, mode: Mode, window: Window, page: u64, tz: &TimeZone) -> PageRequest {
        match self.kind {
            EndpointKind::Open311 => {
                let mut url = self.open311_url("requests.json");
                {
                    let mut q = url.query_pairs_mut();
                    let (after, before) = match mode {
                        Mode::Backfill => ("start_date", "end_date"),
                        Mode::Increment => ("updated_after", "updated_before"),
                    };
                    // end_date may be inclusive: a request at the very second two windows share
                    // then comes twice, which the upsert makes harmless.
                    q.append_pair(after, &offset_time(window.start, tz));
                    q.append_pair(before, &offset_time(window.end, tz));
                    q.append_pair("page", &page.to_string());
                    q.append_pair("page_size", &self.page_size.to_string());
                }
                PageRequest { url, body: None }
            }
            EndpointKind::Socrata => {
                let column = match mode {
                    Mode::Backfill => "created_date",
                    Mode::Increment => "last_modified_date",
                };
                let condition = format!(
                    "{column} >= '{}' AND {column} < '{}'",
                    floating_time(window.start, tz),
                    floating_time(window.end, tz)
                );
                self.socrata_page(&condition, page)
            }
        }
    }

    /// The request for one service request by its id: Open311 `requests/{id}.json`, Socrata the
    /// row whose `sr_number` is `id`.
    pub fn request_url(&self, id: &str) -> PageRequest {
        match self.kind {
            EndpointKind::Open311 => {
                let mut url = self.open311_url("requests/");
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().push(&format!("{id}.json"));
                }
                PageRequest { url, body: None }
            }
            EndpointKind::Socrata => {
                // SoQL quotes a quote by doubling it.
                let condition = format!("sr_number = '{}'", id.replace('\'', "''"));
                self.socrata_page(&condition, 1)
            }
        }
    }

    /// The request for the newest few records (by update time), for `cwfy source check`; an
    /// Open311 endpoint is asked for those updated from `since` to `now`.
    pub fn newest_url(
        &self,
        count: u32,
        since: UnixSeconds,
        now: UnixSeconds,
        tz: &TimeZone,
    ) -> PageRequest {
        match self.kind {
            EndpointKind::Open311 => {
                let mut url = self.open311_url("requests.json");
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("updated_after", &offset_time(since, tz));
                    q.append_pair("updated_before", &offset_time(now, tz));
                    q.append_pair("page", "1");
                    q.append_pair("page_size", &count.to_string());
                }
                PageRequest { url, body: None }
            }
            EndpointKind::Socrata => self.socrata_query(None, "last_modified_date DESC", 1, count),
        }
    }

    /// Sends a request with the key or token: Open311's `api_key` parameter, Socrata's
    /// `X-App-Token` header.
    pub fn send(
        &self,
        client: &Client,
        request: &PageRequest,
    ) -> reqwest::Result<reqwest::blocking::Response> {
        let target = self.authenticated(&request.url);
        let mut builder = match &request.body {
            None => client.get(target),
            Some(body) => client
                .post(target)
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
        }
        .header(ACCEPT, "application/json");
        if let Some(token) = self.app_token() {
            builder = builder.header("X-App-Token", token);
        }
        builder.send()
    }

    /// The URL actually requested: with `api_key` for Open311 when a key is set.
    fn authenticated(&self, url: &Url) -> Url {
        let mut url = url.clone();
        if let (EndpointKind::Open311, Some(key)) = (self.kind, &self.secret) {
            url.query_pairs_mut().append_pair("api_key", key);
        }
        url
    }

    /// The Socrata app token, when set.
    fn app_token(&self) -> Option<&str> {
        match self.kind {
            EndpointKind::Socrata => self.secret.as_deref(),
            EndpointKind::Open311 => None,
        }
    }

    /// Parses one record of a page.
    pub fn parse(&self, raw: &str, n: &Normalizer) -> Parsed {
        let mut parsed = match self.kind {
            EndpointKind::Open311 => open311::parse_record(raw, n),
            EndpointKind::Socrata => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(value) => socrata::parse_json_record(raw, &value, n),
                Err(e) => Parsed::Rejected(format!("not valid JSON: {e}")),
            },
        };
        n.place(&mut parsed);
        parsed
    }

    fn paging_params(&self) -> &'static str {
        match (self.kind, self.api) {
            (EndpointKind::Open311, _) => "page and page_size",
            (EndpointKind::Socrata, Some(SodaApi::Soda3)) => {
                "the body's page.pageNumber and page.pageSize"
            }
            (EndpointKind::Socrata, _) => "$limit and $offset",
        }
    }

    /// What to check after a refusal with this status.
    pub fn advice(&self, status: u16) -> String {
        let setting = match self.kind {
            EndpointKind::Open311 => "source.open311.base_url (or the profile's)",
            EndpointKind::Socrata => "source.socrata.domain and source.socrata.dataset",
        };
        match status {
            401 | 403 => match self.kind {
                EndpointKind::Open311 => format!(
                    "the server refuses access: check the API key (the environment variable {}, named by the profile's api_key_env; a test key works only on the test endpoint and a live key only on the live one) and source.open311.jurisdiction_id",
                    self.secret_env
                ),
                EndpointKind::Socrata => format!(
                    "the server refuses access: check the app token (the environment variable {}, named by source.socrata.app_token_env){}",
                    self.secret_env,
                    if self.api == Some(SodaApi::Soda3) {
                        "; SODA 3 requires a valid token (source.socrata.api: soda2 works without one)"
                    } else {
                        ""
                    }
                ),
            },
            404 | 410 => {
                format!("there is no such document: check {setting} (or --url) and --kind")
            }
            _ => format!(
                "the server refuses the query: check {setting} (or --url), --kind, and that the endpoint supports {}",
                match (self.kind, self.api) {
                    (EndpointKind::Open311, _) =>
                        "start_date/end_date, updated_after/updated_before and page/page_size",
                    (EndpointKind::Socrata, Some(SodaApi::Soda3)) =>
                        "SODA 3 queries (source.socrata.api: soda2 for an older portal)",
                    (EndpointKind::Socrata, _) => "$where, $order, $limit and $offset",
                }
            ),
        }
    }
}

/// A time as Open311 wants it: ISO 8601 with the city's offset (`2014-01-03T00:00:00-06:00`).
pub fn offset_time(t: UnixSeconds, tz: &TimeZone) -> String {
    zoned(t, tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A time as SODA compares floating timestamps: city-local, no offset (`2021-01-01T00:00:00`).
pub fn floating_time(t: UnixSeconds, tz: &TimeZone) -> String {
    zoned(t, tz).strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

fn zoned(t: UnixSeconds, tz: &TimeZone) -> Zoned {
    // Window ends come from valid timestamps, so the fallback is never used.
    Timestamp::from_second(t)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
}

/// The first instant of a city-local day.
fn day_start(date: Date, tz: &TimeZone) -> Result<UnixSeconds, FetchError> {
    date.to_zoned(tz.clone())
        .and_then(|z| z.start_of_day())
        .map(|z| z.timestamp().as_second())
        .map_err(|e| FetchError::Range(format!("{date}: {e}")))
}

/// A window for messages: the day when it is a whole city-local day, else its two ends.
pub fn window_label(window: Window, tz: &TimeZone) -> String {
    let start = zoned(window.start, tz);
    let date = start.date();
    let whole_day = day_start(date, tz).ok() == Some(window.start)
        && date
            .tomorrow()
            .ok()
            .and_then(|d| day_start(d, tz).ok())
            .is_some_and(|next| next == window.end);
    if whole_day {
        date.to_string()
    } else {
        format!(
            "{} to {}",
            offset_time(window.start, tz),
            offset_time(window.end, tz)
        )
    }
}

/// Decides what a run fetches. Explicit options win; otherwise the increment runs from the
/// watermark minus `overlap_minutes`, or, with no watermark yet, a backfill of `initial_days`
/// before today. `None` when there is nothing to fetch yet.
pub fn plan_span(
    options: &FetchOptions,
    watermark: Option<UnixSeconds>,
    source: &SourceConfig,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<Option<Plan>, FetchError> {
    let now_s = now.as_second();
    let end = match options.until {
        Some(until) => until.end(tz)?.min(now_s),
        None => now_s,
    };
    let explicit = |mode: Mode, start: UnixSeconds, what: String| {
        if start >= end {
            return Err(FetchError::Range(format!(
                "nothing to fetch: {what} is not before {} (the end: --until, or now); give an earlier start or a later --until",
                offset_time(end, tz)
            )));
        }
        Ok(Some(Plan {
            mode,
            span: Window { start, end },
        }))
    };
    if let Some(from) = options.backfill_from {
        return explicit(
            Mode::Backfill,
            day_start(from, tz)?,
            format!("--backfill-from {from}"),
        );
    }
    if let Some(since) = options.since {
        let what = match since {
            When::Date(d) => format!("--since {d}"),
            When::Instant(t) => format!("--since {t}"),
        };
        return explicit(Mode::Increment, since.first(tz)?, what);
    }
    let (mode, start) = match watermark {
        Some(mark) => (
            Mode::Increment,
            mark.saturating_sub(source.overlap_minutes.max(0).saturating_mul(60)),
        ),
        None => {
            let today = now.to_zoned(tz.clone()).date();
            let first = Span::new()
                .try_days(source.initial_days.max(0))
                .and_then(|span| today.checked_sub(span))
                .map_err(|e| {
                    FetchError::Range(format!(
                        "source.initial_days {} cannot be used: {e}; use a number of days such as 7",
                        source.initial_days
                    ))
                })?;
            (Mode::Backfill, day_start(first, tz)?)
        }
    };
    if start >= end {
        if options.until.is_some() {
            return Err(FetchError::Range(format!(
                "nothing to fetch: the store is complete up to {}, after --until; give a later --until, or --since/--backfill-from to refetch",
                offset_time(start, tz)
            )));
        }
        return Ok(None);
    }
    Ok(Some(Plan {
        mode,
        span: Window { start, end },
    }))
}

/// Cuts a span at every city-local midnight (days of 23 and 25 hours included).
pub fn day_windows(span: Window, tz: &TimeZone) -> Vec<Window> {
    let mut windows = Vec::new();
    let mut start = span.start;
    while start < span.end {
        let next = zoned(start, tz)
            .date()
            .tomorrow()
            .ok()
            .and_then(|d| day_start(d, tz).ok())
            .filter(|&next| next > start)
            .unwrap_or(span.end);
        let end = next.min(span.end);
        windows.push(Window { start, end });
        start = end;
    }
    windows
}

/// The delay before retry number `retry` (from 0): `base × 2^retry`, at most [`MAX_BACKOFF`],
/// of which a random half, so that clients that failed together do not retry together.
pub fn backoff_delay(base: Duration, retry: u32) -> Duration {
    let full = base.saturating_mul(1 << retry.min(16)).min(MAX_BACKOFF);
    full / 2 + full.mul_f64(jitter() / 2.0)
}

/// A random number in [0, 1): the standard library seeds every `RandomState` randomly.
fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(nanos);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds = match value.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value).ok()?;
            let delta = at.timestamp().as_second() - Timestamp::now().as_second();
            u64::try_from(delta).unwrap_or(0)
        }
    };
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Checks that a body is a JSON array and splits it into its elements, as received.
pub(crate) fn parse_array(body: &[u8]) -> Result<Vec<Box<RawValue>>, String> {
    serde_json::from_slice::<Vec<Box<RawValue>>>(body)
        .map_err(|e| bad_body(body, &e, "a JSON array"))
}

/// A body that did not parse as `expected`, in words: empty, an HTML page, cut short, or else.
fn bad_body(body: &[u8], e: &serde_json::Error, expected: &str) -> String {
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let head = head.trim_start();
    if head.is_empty() {
        format!("an empty body instead of {expected}")
    } else if head.starts_with('<') {
        format!(
            "an HTML or XML page instead of JSON (it starts {})",
            quote(head)
        )
    } else if e.is_eof() {
        format!("the JSON breaks off ({e})")
    } else {
        format!("not {expected} ({e}; it starts {})", quote(head))
    }
}

/// What a 4xx body says: Open311 `[{"code", "description"}]`, SODA `{"message"}`, or its start.
pub(crate) fn error_detail(body: &str) -> String {
    let value: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let said = value.as_ref().and_then(|v| {
        let item = v.as_array().and_then(|a| a.first()).unwrap_or(v);
        ["description", "message", "error"]
            .iter()
            .find_map(|k| item.get(k).and_then(|m| m.as_str()))
            .map(str::to_string)
    });
    match said {
        Some(text) => format!(" ({})", quote(text.trim())),
        None if body.trim().is_empty() => String::new(),
        None => format!(" (the body starts {})", quote(body.trim())),
    }
}

/// A reqwest error in words, without the URL (which may carry the API key).
pub(crate) fn describe(error: reqwest::Error, timeout: Duration) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        return format!(
            "no complete answer within {}s (source.timeout_seconds)",
            timeout.as_secs()
        );
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One try of a page.
enum Attempt {
    /// Worth another try (after the wait the server asked for, if it did).
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    /// Not worth another try.
    Fatal(FetchError),
}

/// A fetched window, on its way to the store.
#[derive(Default)]
struct Fetched {
    items: Vec<Incoming>,
    pages: u64,
    samples: Vec<String>,
}

/// Fetches pages; shared by the fetch threads.
struct Fetcher<'a> {
    client: Client,
    endpoint: &'a Endpoint,
    normalizer: &'a Normalizer,
    tz: &'a TimeZone,
    retries: u32,
    backoff: Duration,
    timeout: Duration,
    cancel: &'a AtomicBool,
}

impl Fetcher<'_> {
    /// Every page of a window, parsed.
    fn window(&self, mode: Mode, window: Window) -> Result<Fetched, FetchError> {
        let mut fetched = Fetched::default();
        let mut previous_page = None;
        for page in 1u64.. {
            let url = self.endpoint.page_url(mode, window, page, self.tz);
            let records = self.get_array(&url)?;
            fetched.pages += 1;
            let full = records.len() >= self.endpoint.page_size as usize;
            let mut hasher = DefaultHasher::new();
            for raw in &records {
                hasher.write(raw.get().as_bytes());
            }
            let fingerprint = hasher.finish();
            if full && previous_page == Some(fingerprint) {
                return Err(FetchError::Paging {
                    url: url.to_string(),
                    page,
                    params: self.endpoint.paging_params(),
                });
            }
            previous_page = Some(fingerprint);
            for raw in &records {
                let raw = raw.get();
                let item = self.endpoint.parse(raw, self.normalizer).into_incoming(
                    || url.to_string(),
                    || raw.to_string(),
                    None,
                    &mut fetched.samples,
                    SAMPLES,
                );
                fetched.items.push(item);
            }
            if !full {
                break;
            }
        }
        Ok(fetched)
    }

    /// A JSON array document, with retries.
    fn get_array(&self, url: &PageRequest) -> Result<Vec<Box<RawValue>>, FetchError> {
        self.get_with(url, parse_array)
    }

    /// A JSON document of any shape (a service definition), as text, with retries.
    fn get_document(&self, url: &PageRequest) -> Result<String, FetchError> {
        self.get_with(url, |body| {
            serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .map_err(|e| bad_body(body, &e, "JSON"))?;
            Ok(String::from_utf8_lossy(body).into_owned())
        })
    }

    /// A document read by `read`, with retries: a body `read` refuses is retried like a 5xx
    /// (a proxy's HTML page, a body cut short).
    fn get_with<T>(
        &self,
        url: &PageRequest,
        read: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, FetchError> {
        let tries = self.retries.saturating_add(1);
        let mut tried = 0;
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(FetchError::Cancelled);
            }
            tried += 1;
            let (reason, wait) = match self.try_once(url, &read) {
                Ok(records) => return Ok(records),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { reason, wait }) => (reason, wait),
            };
            if tried >= tries {
                return Err(FetchError::GaveUp {
                    url: url.to_string(),
                    reason,
                    tries,
                });
            }
            let wait = wait.unwrap_or_else(|| backoff_delay(self.backoff, tried - 1));
            tracing::info!(
                "{url}: {reason}; try {} of {tries} in {:.2}s",
                tried + 1,
                wait.as_secs_f64()
            );
            self.sleep(wait)?;
        }
    }

    fn try_once<T>(
        &self,
        url: &PageRequest,
        read: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, Attempt> {
        let retry = |reason: String| Attempt::Retry { reason, wait: None };
        let response = self
            .endpoint
            .send(&self.client, url)
            .map_err(|e| retry(describe(e, self.timeout)))?;
        let status = response.status();
        let status_text = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Attempt::Retry {
                reason: format!("HTTP {status_text}"),
                wait: retry_after(response.headers()),
            });
        }
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            return Err(Attempt::Fatal(FetchError::Refused {
                url: url.to_string(),
                status: status_text,
                detail: error_detail(&body),
                advice: self.endpoint.advice(status.as_u16()),
            }));
        }
        let body = response.bytes().map_err(|e| {
            retry(format!(
                "the body broke off ({})",
                describe(e, self.timeout)
            ))
        })?;
        read(&body).map_err(retry)
    }

    /// Sleeps, waking early when the fetch is cancelled.
    fn sleep(&self, wait: Duration) -> Result<(), FetchError> {
        let slice = Duration::from_millis(50);
        let mut left = wait;
        while !left.is_zero() {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(FetchError::Cancelled);
            }
            let step = left.min(slice);
            std::thread::sleep(step);
            left -= step;
        }
        Ok(())
    }

    /// A service's definition: the attributes of `services/{code}.json`.
    fn service_definition(&self, code: &str) -> Result<Vec<ServiceAttribute>, String> {
        let url = PageRequest {
            url: self.endpoint.service_definition_url(code),
            body: None,
        };
        let body = self.get_document(&url).map_err(|e| e.to_string())?;
        open311::parse_service_definition(&body).map_err(|e| format!("{url}: {e}"))
    }

    fn services(&self) -> Result<Vec<ServiceType>, String> {
        let url = PageRequest {
            url: self.endpoint.services_url(),
            body: None,
        };
        let records = self.get_array(&url).map_err(|e| e.to_string())?;
        let body = format!(
            "[{}]",
            records
                .iter()
                .map(|r| r.get())
                .collect::<Vec<_>>()
                .join(",")
        );
        open311::parse_services(&body).map_err(|e| format!("{url}: {e}"))
    }
}

/// An HTTP client for an endpoint, with the config's timeout.
pub fn http_client(timeout: Duration) -> Result<Client, FetchError> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("cwfy/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Client(e.to_string()))
}

/// `cwfy fetch`: fetches what `options` and the store's watermark call for into `store`.
///
/// Failed windows do not make this an error: they are listed in the report (and the run is
/// logged `partial` or `failed`); the caller decides the exit status. Errors are what stops the
/// whole fetch: a bad URL or range, or the store failing.
pub fn fetch(
    store: &mut Store,
    config: &Config,
    options: &FetchOptions,
    progress: &ProgressBar,
) -> Result<FetchReport, FetchError> {
    let endpoint = Endpoint::from_config(
        config,
        options.kind,
        options.url.as_deref(),
        options.profile.as_deref(),
    )?;
    for note in &endpoint.notes {
        tracing::warn!("{note}");
    }
    let tz = config.tz();
    let now = options.now.unwrap_or_else(Timestamp::now);
    let key = endpoint.key();
    let plan = if options.requests.is_empty() {
        plan_span(options, store.watermark(&key)?, &config.source, tz, now)?
    } else {
        None
    };
    let mut report = FetchReport::new(&endpoint);
    report.plan = plan;
    report.warnings.extend(endpoint.notes.iter().cloned());

    let timeout = Duration::from_secs(config.source.timeout_seconds.max(1));
    let normalizer = Normalizer::for_config(config)?;
    let cancel = AtomicBool::new(false);
    let fetcher = Fetcher {
        client: http_client(timeout)?,
        endpoint: &endpoint,
        normalizer: &normalizer,
        tz,
        retries: config.source.retries,
        backoff: Duration::from_millis(config.source.backoff_ms),
        timeout,
        cancel: &cancel,
    };

    let run = store.begin_run(
        "fetch",
        endpoint.kind.as_str(),
        endpoint.url.as_str(),
        plan.map(|p| p.span),
    )?;
    let result = (|| {
        if !options.requests.is_empty() {
            return fetch_by_id(store, run, &fetcher, &options.requests, &mut report);
        }
        if endpoint.kind == EndpointKind::Open311 {
            fetch_catalogue(store, config, &fetcher, &mut report)?;
        }
        let Some(plan) = plan else {
            return Ok(());
        };
        let windows = day_windows(plan.span, tz);
        report.windows = windows.len();
        let mut todo = Vec::with_capacity(windows.len());
        for window in windows {
            if store.window_done(&key, plan.mode.as_str(), window)? {
                report.skipped += 1;
            } else {
                todo.push(window);
            }
        }
        progress.set_length(todo.len() as u64);
        progress.set_position(0);
        run_windows(
            store,
            run,
            &fetcher,
            &key,
            plan.mode,
            &todo,
            config.source.concurrency,
            &mut report,
            progress,
        )
    })();
    progress.finish_and_clear();
    match result {
        Ok(()) => {
            store.finish_run(
                run,
                report.counts,
                report.pages,
                report.status(),
                &report.errors_text(),
            )?;
            Ok(report)
        }
        Err(e) => {
            // Best effort: the error that stopped the fetch matters more than logging it.
            let _ = store.finish_run(run, report.counts, report.pages, "failed", &e.to_string());
            Err(e)
        }
    }
}

/// Open311: the service list (`services.json`), then the definition (`services/{code}.json`)
/// of each featured service the list says has one (`metadata: true`): the fields its request
/// form asks for, shown on the service's page. A failure is a warning: requests still come.
fn fetch_catalogue(
    store: &mut Store,
    config: &Config,
    fetcher: &Fetcher,
    report: &mut FetchReport,
) -> Result<(), FetchError> {
    let services = match fetcher.services() {
        Ok(services) => services,
        Err(e) => {
            let warning = format!("services.json skipped: {e}");
            tracing::warn!("{warning}");
            report.warnings.push(warning);
            return Ok(());
        }
    };
    store.upsert_services(&services)?;
    report.services = Some(services.len());
    let featured: BTreeSet<&str> = config
        .services
        .featured
        .iter()
        .flat_map(|f| f.codes.iter().map(String::as_str))
        .collect();
    let mut definitions = 0;
    for service in services
        .iter()
        .filter(|s| s.metadata && featured.contains(s.code.as_str()))
    {
        match fetcher.service_definition(&service.code) {
            Ok(attributes) => {
                store.set_service_definition(&service.code, &attributes)?;
                definitions += 1;
            }
            Err(e) => {
                let warning = format!("the definition of service {} skipped: {e}", service.code);
                tracing::warn!("{warning}");
                report.warnings.push(warning);
            }
        }
    }
    report.definitions = Some(definitions);
    Ok(())
}

/// `cwfy fetch --request ID…`: each request fetched by its id and written (no window is
/// marked: the watermark does not move). An id the source does not know is a failure in the
/// report.
fn fetch_by_id(
    store: &mut Store,
    run: RunId,
    fetcher: &Fetcher,
    ids: &[String],
    report: &mut FetchReport,
) -> Result<(), FetchError> {
    for id in ids {
        let request = fetcher.endpoint.request_url(id);
        let origin = request.to_string();
        let records = match fetcher.get_array(&request) {
            Ok(records) => records,
            Err(e) => {
                report.failures.push(WindowFailure {
                    label: format!("request {id}"),
                    error: e.to_string(),
                });
                continue;
            }
        };
        report.pages += 1;
        if records.is_empty() {
            report.failures.push(WindowFailure {
                label: format!("request {id}"),
                error: format!("{origin}: the source has no request {id}; check the id"),
            });
            continue;
        }
        let mut samples = Vec::new();
        let items: Vec<Incoming> = records
            .iter()
            .map(|raw| {
                let raw = raw.get();
                fetcher
                    .endpoint
                    .parse(raw, fetcher.normalizer)
                    .into_incoming(
                        || origin.clone(),
                        || raw.to_string(),
                        None,
                        &mut samples,
                        SAMPLES,
                    )
            })
            .collect();
        let counts = store.write_batch(run, &items)?;
        report.counts.add(counts);
        report.done += 1;
        let room = SAMPLES.saturating_sub(report.samples.len());
        report.samples.extend(samples.into_iter().take(room));
    }
    report.windows = ids.len();
    Ok(())
}

/// Fetches windows on a pool of threads and writes them from this one, marks in window order.
#[allow(clippy::too_many_arguments)]
fn run_windows(
    store: &mut Store,
    run: RunId,
    fetcher: &Fetcher,
    key: &str,
    mode: Mode,
    todo: &[Window],
    concurrency: usize,
    report: &mut FetchReport,
    progress: &ProgressBar,
) -> Result<(), FetchError> {
    if todo.is_empty() {
        return Ok(());
    }
    let workers = concurrency.clamp(1, todo.len());
    // Windows handed out ahead of the oldest unwritten one: bounds what waits in memory while a
    // slow window holds the marks back.
    let ahead = (workers * 4).max(8);
    // The job queue outlives the scope; its sender is dropped inside, which ends the workers.
    let (job_tx, job_rx) = mpsc::channel::<usize>();
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(usize, Result<Fetched, FetchError>)>();
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(index) = job else { break };
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| fetcher.window(mode, todo[index])))
                            .unwrap_or(Err(FetchError::Worker));
                    if done_tx.send((index, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        let mut sent = 0;
        let send_next = |sent: &mut usize| {
            if *sent < todo.len() {
                // A send fails only when every worker has gone, which `recv` below notices.
                let _ = job_tx.send(*sent);
                *sent += 1;
            }
        };
        while sent < ahead.min(todo.len()) {
            send_next(&mut sent);
        }
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let mut marking = true;
        let result = 'run: loop {
            if next == todo.len() {
                break Ok(());
            }
            let Ok((index, outcome)) = done_rx.recv() else {
                break Err(FetchError::Worker);
            };
            pending.insert(index, outcome);
            while let Some(outcome) = pending.remove(&next) {
                let written = write_window(
                    store,
                    run,
                    key,
                    mode,
                    todo[next],
                    outcome,
                    &mut marking,
                    report,
                    fetcher.tz,
                );
                if let Err(e) = written {
                    break 'run Err(FetchError::Store(e));
                }
                next += 1;
                progress.inc(1);
                send_next(&mut sent);
            }
        };
        if result.is_err() {
            fetcher.cancel.store(true, Ordering::Relaxed);
        }
        drop(job_tx);
        result
    })
}

/// Writes one window's outcome: its records and mark, or its failure.
#[allow(clippy::too_many_arguments)]
fn write_window(
    store: &mut Store,
    run: RunId,
    key: &str,
    mode: Mode,
    window: Window,
    outcome: Result<Fetched, FetchError>,
    marking: &mut bool,
    report: &mut FetchReport,
    tz: &TimeZone,
) -> Result<(), StoreError> {
    let label = window_label(window, tz);
    match outcome {
        Ok(fetched) => {
            let counts = if *marking {
                let c = store.commit_window(
                    run,
                    key,
                    mode.as_str(),
                    window,
                    fetched.pages,
                    &fetched.items,
                )?;
                report.done += 1;
                c
            } else {
                // After a failed window: keep the records, but no mark, so the watermark stays
                // before the failure and the next run fetches this window again.
                let c = store.write_batch(run, &fetched.items)?;
                report.unmarked += 1;
                c
            };
            tracing::debug!(
                "{} window {label}: {} pages, {} new, {} updated",
                mode.as_str(),
                fetched.pages,
                counts.new,
                counts.updated
            );
            report.counts.add(counts);
            report.pages += fetched.pages;
            let room = SAMPLES.saturating_sub(report.samples.len());
            report
                .samples
                .extend(fetched.samples.into_iter().take(room));
        }
        Err(e) => {
            *marking = false;
            tracing::warn!("{} window {label} failed: {e}", mode.as_str());
            report.failures.push(WindowFailure {
                label,
                error: e.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn chicago() -> TimeZone {
        TimeZone::get("America/Chicago").unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn config() -> Config {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml")).unwrap();
        Config::parse(&text).unwrap()
    }

    #[test]
    fn days_are_city_local_including_daylight_saving_changes() {
        let tz = chicago();
        // 2014-03-09 has 23 hours in Chicago, 2014-11-02 has 25.
        let span = Window {
            start: day_start("2014-03-08".parse().unwrap(), &tz).unwrap(),
            end: day_start("2014-03-11".parse().unwrap(), &tz).unwrap(),
        };
        let w = day_windows(span, &tz);
        let hours: Vec<i64> = w.iter().map(|w| (w.end - w.start) / 3600).collect();
        assert_eq!(hours, [24, 23, 24]);
        assert_eq!(window_label(w[1], &tz), "2014-03-09");
        let span = Window {
            start: day_start("2014-11-02".parse().unwrap(), &tz).unwrap(),
            end: day_start("2014-11-03".parse().unwrap(), &tz).unwrap(),
        };
        assert_eq!(day_windows(span, &tz)[0].end - span.start, 25 * 3600);
    }

    #[test]
    fn partial_windows_start_and_end_where_the_span_does() {
        let tz = chicago();
        let span = Window {
            start: ts("2015-10-01T10:30:00-05:00").as_second(),
            end: ts("2015-10-03T08:00:00-05:00").as_second(),
        };
        let w = day_windows(span, &tz);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].start, span.start);
        assert_eq!(offset_time(w[0].end, &tz), "2015-10-02T00:00:00-05:00");
        assert_eq!(w[2].end, span.end);
        assert_eq!(
            window_label(w[0], &tz),
            "2015-10-01T10:30:00-05:00 to 2015-10-02T00:00:00-05:00"
        );
        assert_eq!(window_label(w[1], &tz), "2015-10-02");
        assert!(day_windows(Window { start: 5, end: 5 }, &tz).is_empty());
    }

    #[test]
    fn plans_follow_options_then_the_watermark() {
        let tz = chicago();
        let source = SourceConfig::default();
        let now = ts("2015-10-12T15:00:00-05:00");
        // No watermark: initial_days (7) before today, to now.
        let plan = plan_span(&FetchOptions::default(), None, &source, &tz, now)
            .unwrap()
            .unwrap();
        assert_eq!(plan.mode, Mode::Backfill);
        assert_eq!(
            offset_time(plan.span.start, &tz),
            "2015-10-05T00:00:00-05:00"
        );
        assert_eq!(plan.span.end, now.as_second());
        // A watermark: the increment from it minus the overlap (60 minutes).
        let mark = ts("2015-10-12T03:00:00-05:00").as_second();
        let plan = plan_span(&FetchOptions::default(), Some(mark), &source, &tz, now)
            .unwrap()
            .unwrap();
        assert_eq!(plan.mode, Mode::Increment);
        assert_eq!(plan.span.start, mark - 3600);
        // Nothing new yet.
        assert_eq!(
            plan_span(
                &FetchOptions::default(),
                Some(now.as_second() + 7200),
                &source,
                &tz,
                now
            )
            .unwrap(),
            None
        );
        // An explicit backfill with --until: whole days, the last one included.
        let options = FetchOptions {
            backfill_from: Some("2014-01-01".parse().unwrap()),
            until: Some(When::parse("2014-12-31").unwrap()),
            ..Default::default()
        };
        let plan = plan_span(&options, Some(mark), &source, &tz, now)
            .unwrap()
            .unwrap();
        assert_eq!(plan.mode, Mode::Backfill);
        assert_eq!(day_windows(plan.span, &tz).len(), 365);
        assert_eq!(offset_time(plan.span.end, &tz), "2015-01-01T00:00:00-06:00");
        // --since with an instant, --until past now is cut at now.
        let options = FetchOptions {
            since: Some(When::parse("2015-10-12T01:00:00-05:00").unwrap()),
            until: Some(When::parse("2030-01-01").unwrap()),
            ..Default::default()
        };
        let plan = plan_span(&options, None, &source, &tz, now)
            .unwrap()
            .unwrap();
        assert_eq!(plan.mode, Mode::Increment);
        assert_eq!(plan.span.end, now.as_second());
        // An empty explicit range is an error that says what to do.
        let options = FetchOptions {
            backfill_from: Some("2016-01-01".parse().unwrap()),
            ..Default::default()
        };
        let e = plan_span(&options, None, &source, &tz, now).unwrap_err();
        assert!(e.to_string().contains("--backfill-from 2016-01-01"), "{e}");
        assert!(When::parse("yesterday").is_err());
    }

    #[test]
    fn open311_urls_carry_the_window_paging_and_options_but_not_the_key() {
        let tz = chicago();
        let mut endpoint = Endpoint::from_config(
            &config(),
            Some(EndpointKind::Open311),
            Some("http://127.0.0.1:9/open311/v2/requests.json"),
            None,
        )
        .unwrap();
        endpoint.jurisdiction_id = Some("cityofchicago.org".into());
        endpoint.secret = Some("s3cret".into());
        assert_eq!(endpoint.url.as_str(), "http://127.0.0.1:9/open311/v2/");
        let window = Window {
            start: ts("2014-01-03T06:00:00Z").as_second(),
            end: ts("2014-01-04T06:00:00Z").as_second(),
        };
        let url = endpoint.page_url(Mode::Backfill, window, 2, &tz).url;
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/open311/v2/requests.json?jurisdiction_id=cityofchicago.org&extensions=true&start_date=2014-01-03T00%3A00%3A00-06%3A00&end_date=2014-01-04T00%3A00%3A00-06%3A00&page=2&page_size=500"
        );
        assert!(!url.as_str().contains("s3cret"));
        assert!(
            endpoint
                .authenticated(&url)
                .as_str()
                .ends_with("&api_key=s3cret")
        );
        let url = endpoint.page_url(Mode::Increment, window, 1, &tz).url;
        assert!(
            url.as_str()
                .contains("updated_after=2014-01-03T00%3A00%3A00-06%3A00&updated_before=")
        );
        assert_eq!(
            endpoint.services_url().as_str(),
            "http://127.0.0.1:9/open311/v2/services.json?jurisdiction_id=cityofchicago.org"
        );
        // A positive offset is encoded, not turned into a space.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let url = endpoint.page_url(Mode::Backfill, window, 1, &kolkata).url;
        assert!(url.as_str().contains("%2B05%3A30"), "{url}");
    }

    #[test]
    fn socrata_urls_page_by_offset_on_floating_times() {
        let tz = chicago();
        let endpoint = Endpoint::from_config(
            &config(),
            Some(EndpointKind::Socrata),
            Some("http://127.0.0.1:9/resource/v6vf-nfxy.json"),
            None,
        )
        .unwrap();
        let window = Window {
            start: ts("2021-01-01T06:00:00Z").as_second(),
            end: ts("2021-01-02T06:00:00Z").as_second(),
        };
        let url = endpoint.page_url(Mode::Backfill, window, 3, &tz).url;
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                (
                    "$where".to_string(),
                    "created_date >= '2021-01-01T00:00:00' AND created_date < '2021-01-02T00:00:00'"
                        .to_string()
                ),
                ("$order".into(), ":id".into()),
                ("$limit".into(), "50000".into()),
                ("$offset".into(), "100000".into()),
            ]
        );
        let url = endpoint.page_url(Mode::Increment, window, 1, &tz).url;
        assert!(url.query().unwrap().contains("last_modified_date"));
    }

    #[test]
    fn soda3_posts_the_window_as_soql_with_a_page_and_soda2_is_the_fallback_without_a_token() {
        let tz = chicago();
        let window = Window {
            start: ts("2021-01-01T06:00:00Z").as_second(),
            end: ts("2021-01-02T06:00:00Z").as_second(),
        };
        let mut endpoint =
            Endpoint::from_config(&config(), Some(EndpointKind::Socrata), None, None).unwrap();
        // Without a token (the tests run without one) SODA 3 falls back to SODA 2.1, saying so.
        if !endpoint.has_secret() {
            assert_eq!(endpoint.api, Some(SodaApi::Soda2));
            assert_eq!(
                endpoint.url.as_str(),
                "https://data.cityofchicago.org/resource/v6vf-nfxy.json"
            );
            assert!(
                endpoint.notes[0].contains("SODA 2.1"),
                "{:?}",
                endpoint.notes
            );
        }
        let soda2_key = endpoint.key();
        endpoint = Endpoint::from_config(
            &config(),
            Some(EndpointKind::Socrata),
            Some("https://data.cityofchicago.org/api/v3/views/v6vf-nfxy/query.json"),
            None,
        )
        .unwrap();
        // As with a token in the environment (set here: the environment is shared by the tests).
        if !endpoint.has_secret() {
            endpoint.secret = Some("token".into());
            endpoint.api = Some(SodaApi::Soda3);
            endpoint.url = "https://data.cityofchicago.org/api/v3/views/v6vf-nfxy/query.json"
                .parse()
                .unwrap();
        }
        // One dataset, one set of windows, whichever API fetched them.
        assert_eq!(endpoint.key(), soda2_key);
        assert_eq!(
            soda2_key,
            "socrata https://data.cityofchicago.org/resource/v6vf-nfxy.json"
        );
        let request = endpoint.page_url(Mode::Backfill, window, 3, &tz);
        assert_eq!(
            request.url.as_str(),
            "https://data.cityofchicago.org/api/v3/views/v6vf-nfxy/query.json"
        );
        let body: serde_json::Value =
            serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["query"],
            "SELECT * WHERE created_date >= '2021-01-01T00:00:00' AND created_date < '2021-01-02T00:00:00' ORDER BY :id"
        );
        assert_eq!(body["page"]["pageNumber"], 3);
        assert_eq!(body["page"]["pageSize"], 50000);
        assert_eq!(body["includeSynthetic"], false);
        assert!(request.to_string().starts_with("POST https://"));
        let by_id = endpoint.request_url("SR21-0'1");
        assert!(by_id.body.unwrap().contains("sr_number = 'SR21-0''1'"));
        // Neither API's URL shape: an error naming both.
        let e = Endpoint::from_config(
            &config(),
            Some(EndpointKind::Socrata),
            Some("https://data.cityofchicago.org/d/v6vf-nfxy"),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/api/v3/views/"), "{e}");
    }

    #[test]
    fn open311_profiles_choose_the_endpoint_and_its_key_and_single_requests_have_their_own_url() {
        let live =
            Endpoint::from_config(&config(), Some(EndpointKind::Open311), None, None).unwrap();
        assert_eq!(
            live.url.as_str(),
            "http://311api.cityofchicago.org/open311/v2/"
        );
        assert_eq!(live.secret_env, "CWFY_OPEN311_API_KEY");
        let test =
            Endpoint::from_config(&config(), Some(EndpointKind::Open311), None, Some("test"))
                .unwrap();
        assert_eq!(
            test.url.as_str(),
            "http://test311api.cityofchicago.org/open311/v2/"
        );
        assert_eq!(test.secret_env, "CWFY_OPEN311_TEST_API_KEY");
        assert_ne!(test.key(), live.key());
        let e = Endpoint::from_config(
            &config(),
            Some(EndpointKind::Open311),
            None,
            Some("staging"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("live, test"), "{e}");
        // --profile is for Open311 only.
        assert!(
            Endpoint::from_config(&config(), Some(EndpointKind::Socrata), None, Some("test"))
                .is_err()
        );
        assert_eq!(
            live.request_url("14-00010496").url.as_str(),
            "http://311api.cityofchicago.org/open311/v2/requests/14-00010496.json?extensions=true"
        );
        assert_eq!(
            live.request_url("a/b?c").url.path(),
            "/open311/v2/requests/a%2Fb%3Fc.json"
        );
        assert_eq!(
            live.service_definition_url("4fd3b656e750846c53000004")
                .as_str(),
            "http://311api.cityofchicago.org/open311/v2/services/4fd3b656e750846c53000004.json"
        );
    }

    #[test]
    fn bad_urls_name_the_setting() {
        for bad in ["ftp://x/", "not a url", "http://x/v2/?a=1"] {
            let e = Endpoint::from_config(&config(), Some(EndpointKind::Open311), Some(bad), None)
                .unwrap_err();
            assert!(
                e.to_string().contains("source.open311.base_url"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_and_backoff_grows_with_jitter() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        let base = Duration::from_millis(100);
        for retry in 0..4 {
            let full = base * (1 << retry);
            let d = backoff_delay(base, retry);
            assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
        }
        assert!(backoff_delay(base, 40) <= MAX_BACKOFF);
        let samples: Vec<f64> = (0..20).map(|_| jitter()).collect();
        assert!(samples.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(samples.iter().any(|j| *j != samples[0]));
    }

    #[test]
    fn bodies_that_are_not_json_arrays_are_described() {
        assert_eq!(parse_array(b"[{\"a\":1}, 2]").unwrap().len(), 2);
        assert!(
            parse_array(b"<html><body>Error</body></html>")
                .unwrap_err()
                .contains("HTML")
        );
        assert!(
            parse_array(b"[{\"a\":1}, {\"b\"")
                .unwrap_err()
                .contains("breaks off")
        );
        assert!(parse_array(b"").unwrap_err().contains("empty"));
        assert!(
            parse_array(b"{\"error\":true}")
                .unwrap_err()
                .contains("not a JSON array")
        );
        assert_eq!(
            error_detail(r#"[{"code":403,"description":"Invalid api_key"}]"#),
            " (\"Invalid api_key\")"
        );
        assert_eq!(
            error_detail(r#"{"code":"query.compiler.malformed","message":"bad $where"}"#),
            " (\"bad $where\")"
        );
    }
}

//! `config.yaml`: the site, the city, its wards and services, the data source and the store.
//!
//! Every key is declared here; an unknown key or a bad value is an error that names the key and
//! the line (serde_yaml attaches both, because validation happens inside deserialisation).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::domain::{Day, slugify};

/// A configuration that could not be read or is invalid. Exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key, or a value fails validation.
    #[error("{path}: {message}\n  fix that key (see the config reference in README.md)")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// serde_yaml's message, with the key path and the line.
        message: String,
    },
}

/// The whole configuration, as read from `config.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site title, base URL and where templates, content and static files live.
    pub site: SiteConfig,
    /// The city: name, time zone, its districts and what they are called, links to its services.
    pub city: CityConfig,
    /// The district boundary maps and the dates each was in force.
    #[serde(default)]
    pub boundaries: Vec<BoundaryMap>,
    /// The district offices file (representatives and contacts); optional. `ward_offices` is the
    /// older name of this key.
    #[serde(default, alias = "ward_offices")]
    pub district_offices: Option<PathBuf>,
    /// How `cwfy import` reads a CSV export whose columns are not a layout cwfy knows.
    #[serde(default)]
    pub import: ImportConfig,
    /// Featured and excluded service types.
    #[serde(default)]
    pub services: ServicesConfig,
    /// Where `cwfy fetch` pulls from.
    #[serde(default)]
    pub source: SourceConfig,
    /// The embedded SQLite store.
    #[serde(default)]
    pub store: StoreConfig,
    /// How many past days and weeks get pages (all, unless limited).
    #[serde(default)]
    pub history: HistoryConfig,
    /// The real data imported by `cwfy build` when there is no store yet.
    #[serde(default)]
    pub sample: Vec<PathBuf>,
    /// Sanity gates `cwfy update` applies before publishing.
    #[serde(default)]
    pub gates: GatesConfig,
    /// The folder the config was read from; relative paths are resolved against it.
    #[serde(skip)]
    pub root: PathBuf,
}

/// `site:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's name, shown in every title.
    pub title: String,
    /// One sentence describing the site (meta description of the home page).
    #[serde(default)]
    pub description: String,
    /// Absolute URL the site is published at, ending in `/` (a sub-path is fine).
    pub base_url: BaseUrl,
    /// Language of the pages (`<html lang>`).
    #[serde(default = "default_language")]
    pub language: String,
    /// Templates folder.
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    /// Markdown content folder.
    #[serde(default = "default_content")]
    pub content: PathBuf,
    /// Static files copied as they are.
    #[serde(default = "default_static")]
    pub static_dir: PathBuf,
    /// Output folder.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// What the published site may take: a build over it fails before publishing.
    #[serde(default)]
    pub budget: SiteBudget,
}

/// The room a static host gives a site (`site.budget`). The defaults fit GitHub Pages (1 GB a
/// site) and, by file count, GitLab Pages (200,000) and Cloudflare Pages' paid plan (100,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteBudget {
    /// Bytes of the whole site (`1 GB`, `500 MB` or a number of bytes).
    #[serde(default = "default_budget_bytes")]
    pub bytes: ByteSize,
    /// Files of the whole site.
    #[serde(default = "default_budget_files")]
    pub files: u64,
    /// Bytes of one HTML page (what a phone downloads before it can show anything).
    #[serde(default = "default_budget_page_bytes")]
    pub page_bytes: ByteSize,
    /// Bytes of any one file (Cloudflare Pages takes none over 25 MiB; the site's
    /// `manifest.json` and bulk CSV are the ones that grow).
    #[serde(default = "default_budget_file_bytes")]
    pub file_bytes: ByteSize,
}

impl Default for SiteBudget {
    fn default() -> Self {
        SiteBudget {
            bytes: default_budget_bytes(),
            files: default_budget_files(),
            page_bytes: default_budget_page_bytes(),
            file_bytes: default_budget_file_bytes(),
        }
    }
}

fn default_budget_bytes() -> ByteSize {
    ByteSize(1_000_000_000)
}
fn default_budget_files() -> u64 {
    100_000
}
fn default_budget_page_bytes() -> ByteSize {
    ByteSize(100_000)
}
fn default_budget_file_bytes() -> ByteSize {
    ByteSize(25 * 1024 * 1024)
}

/// A size in bytes, written as a number or with a decimal unit as hosts state their limits:
/// `1 GB`, `100 KB`, `25MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `1 GB`, `100 KB`, `25MB`, `25 MiB`, `512 B` or `1000`.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = (text[..split].trim(), text[split..].trim());
        let n: f64 = number
            .parse()
            .map_err(|_| format!("{text:?}: write a size like 1 GB, 100 KB or 500000"))?;
        let scale = match unit.to_ascii_uppercase().as_str() {
            "" | "B" => 1.0,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "KIB" => 1024.0,
            "MIB" => 1024.0 * 1024.0,
            "GIB" => 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?}; use B, KB, MB, GB, KiB, MiB or GiB"
                ));
            }
        };
        Ok(ByteSize((n * scale).round() as u64))
    }
}

impl std::fmt::Display for ByteSize {
    /// `1.00 GB`, `687 MB`, `98 KB`, `512 B`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::numbers::bytes(self.0))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => ByteSize::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

fn default_language() -> String {
    "en".into()
}
fn default_templates() -> PathBuf {
    "templates".into()
}
fn default_content() -> PathBuf {
    "content".into()
}
fn default_static() -> PathBuf {
    "static".into()
}
fn default_output() -> PathBuf {
    "site".into()
}

/// An absolute http(s) URL ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Validates and normalises (adds the trailing `/`).
    pub fn parse(text: &str) -> Result<BaseUrl, String> {
        let text = text.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| format!("base_url must start with http:// or https://, got {text:?}"))?;
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(format!("base_url needs a host name, got {text:?}"));
        }
        if rest.contains(['?', '#']) {
            return Err(format!(
                "base_url must not have a query or fragment, got {text:?}"
            ));
        }
        let mut url = text.to_string();
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(BaseUrl(url))
    }

    /// The URL, always ending in `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of a site path such as `ward/3/` (no leading slash).
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path.trim_start_matches('/'))
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BaseUrl::parse(&text).map_err(|m| keyed("base_url", m))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `city:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityConfig {
    /// The city's name ("Chicago").
    pub name: String,
    /// IANA time zone all days and weeks are counted in.
    #[serde(default = "default_time_zone")]
    pub time_zone: TimeZoneName,
    /// Number of districts; valid districts are 1..=districts. `wards` is the older name.
    #[serde(alias = "wards")]
    pub districts: Wards,
    /// The word pages and addresses use for a district: `ward` gives `/ward/12/` and "Ward 12",
    /// `district` gives `/district/3/` and "District 3".
    #[serde(default = "default_district_name")]
    pub district_name: DistrictName,
    /// The plural of `district_name`, when it is not `district_name` + "s".
    #[serde(default)]
    pub district_plural: Option<String>,
    /// Where a request's district comes from: `record` (its own district field, its location
    /// when the field is empty or invalid) or `location` (always its location).
    #[serde(default)]
    pub districts_from: DistrictsFrom,
    /// Points (latitude, longitude) the city's records use to mean "no location", such as a
    /// City Hall placeholder; a request there is unassigned.
    #[serde(default)]
    pub no_location_points: Vec<(f64, f64)>,
    /// Link to the city's 311 request form; `{name}` is replaced by the service name.
    #[serde(default)]
    pub request_form_url: Option<String>,
    /// Link to the data portal dataset.
    #[serde(default)]
    pub data_portal_url: Option<String>,
    /// The disclaimer the city's data terms require in the footer.
    pub disclaimer: String,
    /// Who publishes the data (for citation lines).
    #[serde(default = "default_publisher")]
    pub data_publisher: String,
}

fn default_district_name() -> DistrictName {
    DistrictName("ward".into())
}

/// The word for a district: lower-case letters (and dashes), used in URLs and sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictName(pub String);

impl<'de> Deserialize<'de> for DistrictName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let ok = !text.is_empty()
            && text.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !text.starts_with('-')
            && !text.ends_with('-');
        if ok && !RESERVED_SEGMENTS.contains(&text.as_str()) {
            Ok(DistrictName(text))
        } else {
            Err(keyed(
                "district_name",
                format!(
                    "district_name {text:?} must be one lower-case word such as \"ward\" or \"district\" (it is a URL segment), and not one of {RESERVED_SEGMENTS:?}"
                ),
            ))
        }
    }
}

/// Top-level folders of the site a district word may not take.
const RESERVED_SEGMENTS: &[&str] = &[
    "day", "service", "api", "feeds", "data", "static", "about", "status", "photos",
];

/// Where a request's district comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistrictsFrom {
    /// The record's own district field; the location when the field is empty or invalid.
    #[default]
    Record,
    /// Always the location, on the boundary map in force on the day it was opened.
    Location,
}

/// `import:` keys: a column map for CSV exports of other layouts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    /// Which column holds each field; when set, a CSV whose header has the `id` column is read
    /// with this map.
    #[serde(default)]
    pub columns: Option<ColumnMap>,
    /// The zone the export's times without an offset are in; the city's when absent. (A status
    /// starting with "open", or empty, means open; any other status with a close time, closed.)
    #[serde(default)]
    pub time_zone: Option<TimeZoneName>,
    /// Text (compared without case) that marks a duplicate in the `duplicate` column, such as
    /// Boston's closure reason "Duplicate of Existing Case".
    #[serde(default)]
    pub duplicate_contains: Option<String>,
}

/// CSV column names for each field cwfy keeps. `id`, `opened` and `service_name` are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// The request's id.
    pub id: String,
    /// When it was opened.
    pub opened: String,
    /// When it was closed.
    #[serde(default)]
    pub closed: Option<String>,
    /// When the record last changed.
    #[serde(default)]
    pub updated: Option<String>,
    /// The service type's name.
    pub service_name: String,
    /// The service type's code.
    #[serde(default)]
    pub service_code: Option<String>,
    /// The status (`Open`, `Closed`…).
    #[serde(default)]
    pub status: Option<String>,
    /// The district number in the record.
    #[serde(default)]
    pub district: Option<String>,
    /// Latitude (WGS84).
    #[serde(default)]
    pub latitude: Option<String>,
    /// Longitude (WGS84).
    #[serde(default)]
    pub longitude: Option<String>,
    /// The street address.
    #[serde(default)]
    pub address: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// How the request came in.
    #[serde(default)]
    pub channel: Option<String>,
    /// The column that says a request duplicates another: a true value (`true`, `yes`, `1`…),
    /// or, with `import.duplicate_contains`, a value containing that text.
    #[serde(default)]
    pub duplicate: Option<String>,
}

fn default_publisher() -> String {
    "City of Chicago 311".into()
}

fn default_time_zone() -> TimeZoneName {
    TimeZoneName {
        name: "America/Chicago".into(),
        tz: TimeZone::get("America/Chicago").unwrap_or(TimeZone::UTC),
    }
}

/// A valid IANA time zone name, with the zone itself.
#[derive(Debug, Clone)]
pub struct TimeZoneName {
    /// As written, e.g. `America/Chicago`.
    pub name: String,
    /// The zone.
    pub tz: TimeZone,
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let tz = TimeZone::get(&name).map_err(|_| {
            keyed(
                "time_zone",
                format!("unknown time zone {name:?}; use an IANA name such as \"America/Chicago\""),
            )
        })?;
        Ok(TimeZoneName { name, tz })
    }
}

/// The number of districts (wards), 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wards(pub u8);

impl<'de> Deserialize<'de> for Wards {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u8::try_from(n) {
            Ok(n) if n >= 1 => Ok(Wards(n)),
            _ => Err(keyed(
                "districts",
                format!("districts must be a whole number from 1 to 255, got {n}"),
            )),
        }
    }
}

/// A date written `YYYY-MM-DD` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDate(pub Date);

impl<'de> Deserialize<'de> for ConfigDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Date>().map(ConfigDate).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a date; write YYYY-MM-DD"))
        })
    }
}

/// One ward map and the dates it was in force (`until` exclusive; open-ended when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryMap {
    /// A short name ("2015").
    pub name: String,
    /// GeoJSON file with one feature per district.
    pub file: PathBuf,
    /// The feature property holding the district number; when absent, `ward`, `WARD`,
    /// `District_N`, `ward_id`, `DISTRICT` or `district`, whichever a feature has.
    #[serde(default)]
    pub id_property: Option<String>,
    /// First day in force.
    pub from: ConfigDate,
    /// First day no longer in force.
    #[serde(default)]
    pub until: Option<ConfigDate>,
}

/// `services:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// Services that lead lists and the home page.
    #[serde(default)]
    pub featured: Vec<FeaturedService>,
    /// Types that are not service requests and never count (matched on name or code).
    #[serde(default = "default_excluded")]
    pub excluded: Vec<String>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            featured: Vec::new(),
            excluded: default_excluded(),
        }
    }
}

fn default_excluded() -> Vec<String> {
    vec!["311 INFORMATION ONLY CALL".into()]
}

/// A featured service: the codes and names of every source that belong to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturedService {
    /// URL slug, lower case letters, digits and dashes.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Open311 `service_code`s (old and new endpoints) and Socrata `sr_short_code`s.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Socrata `sr_type`s, Open311 `service_name`s and legacy type names.
    #[serde(default)]
    pub names: Vec<String>,
}

/// A URL slug as written in the config.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slug(pub String);

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.is_empty() && slugify(&text) == text {
            Ok(Slug(text))
        } else {
            Err(keyed(
                "slug",
                format!(
                    "slug {text:?} must be lower-case letters, digits and single dashes, such as {:?}",
                    slugify(&text)
                ),
            ))
        }
    }
}

/// Which kind of endpoint `cwfy fetch` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKindConfig {
    /// Open311 GeoReport v2.
    Open311,
    /// Socrata SODA.
    Socrata,
}

/// `source:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Which endpoint `cwfy fetch` uses by default.
    #[serde(default = "default_source_kind")]
    pub kind: SourceKindConfig,
    /// Open311 GeoReport v2 settings.
    #[serde(default)]
    pub open311: Open311Config,
    /// Socrata SODA settings.
    #[serde(default)]
    pub socrata: SocrataConfig,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Retries per page after the first try (timeouts, 5xx, 429, bodies that are not JSON).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First back-off delay in milliseconds; doubles each retry, with jitter.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Minutes the nightly increment reaches back before the stored watermark.
    #[serde(default = "default_overlap")]
    pub overlap_minutes: i64,
    /// Days fetched when the store is empty and no `--backfill-from` is given.
    #[serde(default = "default_initial_days")]
    pub initial_days: i64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: default_source_kind(),
            open311: Open311Config::default(),
            socrata: SocrataConfig::default(),
            concurrency: default_concurrency(),
            timeout_seconds: default_timeout(),
            retries: default_retries(),
            backoff_ms: default_backoff(),
            overlap_minutes: default_overlap(),
            initial_days: default_initial_days(),
        }
    }
}

impl SourceConfig {
    /// The configured source in words, for `/status/`.
    pub fn describe(&self) -> String {
        match self.kind {
            SourceKindConfig::Socrata => match &self.socrata.url {
                Some(url) => format!("Socrata data portal: {url}"),
                None => format!(
                    "Socrata data portal {}, dataset {} ({})",
                    self.socrata.domain.trim_end_matches('/'),
                    self.socrata.dataset,
                    match self.socrata.api {
                        SodaApi::Soda3 => "SODA 3",
                        SodaApi::Soda2 => "SODA 2.1",
                    }
                ),
            },
            SourceKindConfig::Open311 => {
                format!("Open311 GeoReport v2 endpoint {}", self.open311.base_url)
            }
        }
    }
}

fn default_source_kind() -> SourceKindConfig {
    SourceKindConfig::Socrata
}
fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> u64 {
    30
}
fn default_retries() -> u32 {
    5
}
fn default_backoff() -> u64 {
    500
}
fn default_overlap() -> i64 {
    60
}
fn default_initial_days() -> i64 {
    7
}

/// `source.open311:` keys.
///
/// `base_url` and `api_key_env` are the live endpoint (the profile named `live`); `profiles`
/// adds other endpoints of the same system, such as Chicago's test environment, each with its
/// own API key, chosen with `--profile NAME`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Config {
    /// Endpoint base, e.g. `http://311api.cityofchicago.org/open311/v2/`.
    #[serde(default = "default_open311_url")]
    pub base_url: String,
    /// Environment variable holding the API key (sent as `api_key` when set).
    #[serde(default = "default_open311_key_env")]
    pub api_key_env: String,
    /// `jurisdiction_id`, when the endpoint serves several.
    #[serde(default)]
    pub jurisdiction_id: Option<String>,
    /// Records per page.
    #[serde(default = "default_open311_page")]
    pub page_size: u32,
    /// Ask for Chicago's extensions (`extensions=true`).
    #[serde(default = "default_true")]
    pub extensions: bool,
    /// Other endpoints by name (`test: {base_url, api_key_env}`), chosen with `--profile`.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, Open311Profile>,
}

/// One more endpoint of an Open311 system (`source.open311.profiles.NAME`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Profile {
    /// Endpoint base.
    pub base_url: String,
    /// Environment variable holding this endpoint's API key.
    pub api_key_env: String,
    /// `jurisdiction_id` for this endpoint (default: the live one's).
    #[serde(default)]
    pub jurisdiction_id: Option<String>,
}

/// The name of the profile that `base_url` and `api_key_env` make.
pub const LIVE_PROFILE: &str = "live";

/// An Open311 endpoint chosen by profile: where it is and which key it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Target {
    /// The profile's name.
    pub profile: String,
    /// Endpoint base.
    pub base_url: String,
    /// Environment variable holding its API key.
    pub api_key_env: String,
    /// `jurisdiction_id`, if any.
    pub jurisdiction_id: Option<String>,
}

impl Open311Config {
    /// The endpoint of a profile (`None`: the live one). An unknown name is an error listing
    /// the names there are.
    pub fn target(&self, profile: Option<&str>) -> Result<Open311Target, String> {
        match profile {
            None | Some(LIVE_PROFILE) => Ok(Open311Target {
                profile: LIVE_PROFILE.into(),
                base_url: self.base_url.clone(),
                api_key_env: self.api_key_env.clone(),
                jurisdiction_id: self.jurisdiction_id.clone(),
            }),
            Some(name) => {
                let p = self.profiles.get(name).ok_or_else(|| {
                    let mut names = vec![LIVE_PROFILE.to_string()];
                    names.extend(self.profiles.keys().cloned());
                    format!(
                        "there is no Open311 profile {name:?}; the config has {} (source.open311.profiles)",
                        names.join(", ")
                    )
                })?;
                Ok(Open311Target {
                    profile: name.to_string(),
                    base_url: p.base_url.clone(),
                    api_key_env: p.api_key_env.clone(),
                    jurisdiction_id: p
                        .jurisdiction_id
                        .clone()
                        .or_else(|| self.jurisdiction_id.clone()),
                })
            }
        }
    }
}

impl Default for Open311Config {
    fn default() -> Self {
        Open311Config {
            base_url: default_open311_url(),
            api_key_env: default_open311_key_env(),
            jurisdiction_id: None,
            page_size: default_open311_page(),
            extensions: true,
            profiles: Default::default(),
        }
    }
}

fn default_open311_url() -> String {
    "http://311api.cityofchicago.org/open311/v2/".into()
}
fn default_open311_key_env() -> String {
    "CWFY_OPEN311_API_KEY".into()
}
fn default_open311_page() -> u32 {
    500
}
fn default_true() -> bool {
    true
}

/// Which of Socrata's query APIs `cwfy fetch` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SodaApi {
    /// SODA 3: `POST /api/v3/views/<id>/query.json` with a SoQL query and a page in a JSON
    /// body; an app token is required. What the portal's documentation recommends today.
    Soda3,
    /// SODA 2.1: `GET /resource/<id>.json` with `$where`, `$order`, `$limit`, `$offset`; works
    /// without an app token (throttled).
    Soda2,
}

impl SodaApi {
    /// The name in the config and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SodaApi::Soda3 => "soda3",
            SodaApi::Soda2 => "soda2",
        }
    }
}

/// `source.socrata:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocrataConfig {
    /// The data portal, e.g. `https://data.cityofchicago.org`.
    #[serde(default = "default_socrata_domain")]
    pub domain: String,
    /// The dataset's identifier, e.g. `v6vf-nfxy`.
    #[serde(default = "default_socrata_dataset")]
    pub dataset: String,
    /// SODA 3 or SODA 2.1.
    #[serde(default = "default_soda_api")]
    pub api: SodaApi,
    /// A full endpoint URL instead of `domain` and `dataset` (older configs): a SODA 2.1
    /// `/resource/<id>.json` or a SODA 3 `/api/v3/views/<id>/query.json` URL, which also says
    /// which API is used.
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding the app token (sent as `X-App-Token`).
    #[serde(default = "default_socrata_token_env")]
    pub app_token_env: String,
    /// Rows per page (`$limit`, or SODA 3's `pageSize`).
    #[serde(default = "default_socrata_page")]
    pub page_size: u32,
}

impl Default for SocrataConfig {
    fn default() -> Self {
        SocrataConfig {
            domain: default_socrata_domain(),
            dataset: default_socrata_dataset(),
            api: default_soda_api(),
            url: None,
            app_token_env: default_socrata_token_env(),
            page_size: default_socrata_page(),
        }
    }
}

fn default_socrata_domain() -> String {
    "https://data.cityofchicago.org".into()
}
fn default_socrata_dataset() -> String {
    "v6vf-nfxy".into()
}
fn default_soda_api() -> SodaApi {
    SodaApi::Soda3
}
fn default_socrata_token_env() -> String {
    "CWFY_SOCRATA_APP_TOKEN".into()
}
fn default_socrata_page() -> u32 {
    50_000
}

/// `store:` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
        }
    }
}

fn default_store_path() -> PathBuf {
    "data/store.sqlite".into()
}

/// `history:` keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// Past days that get a day page, counting back from the latest day; unset (the default):
    /// every day from the first day of data. Pages a previous build published stay either way.
    #[serde(default)]
    pub days: Option<u32>,
    /// Past weeks that get ward and service week pages; unset (the default): every week.
    #[serde(default)]
    pub weeks: Option<u32>,
}

/// `gates:` keys: when `cwfy update` refuses to publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// The newest complete day must have at least this share of the usual count for its weekday.
    #[serde(default = "default_min_day_share")]
    pub min_day_share: f64,
    /// Weeks of the same weekday the usual count is taken over.
    #[serde(default = "default_usual_weeks")]
    pub usual_weeks: u32,
    /// Below this usual count the day-volume gate does not apply (too little data to judge).
    #[serde(default = "default_min_usual")]
    pub min_usual: u32,
}

impl Default for GatesConfig {
    fn default() -> Self {
        GatesConfig {
            min_day_share: default_min_day_share(),
            usual_weeks: default_usual_weeks(),
            min_usual: default_min_usual(),
        }
    }
}

fn default_min_day_share() -> f64 {
    0.5
}
fn default_usual_weeks() -> u32 {
    8
}
fn default_min_usual() -> u32 {
    20
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        config.root = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(config)
    }

    /// Parses config text; the error is a message with the key path and line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            serde_yaml::from_str(text).map_err(|e| relocate(text, &e.to_string()))?;
        config.validate(text)?;
        Ok(config)
    }

    /// Checks what a single key's type cannot: relations between keys.
    fn validate(&self, text: &str) -> Result<(), String> {
        let mut slugs = BTreeSet::new();
        for service in &self.services.featured {
            if !slugs.insert(service.slug.0.clone()) {
                return Err(format!(
                    "services.featured: the slug {:?} is used twice{}; give each service its own slug",
                    service.slug.0,
                    line_of(text, &format!("slug: {}", service.slug.0))
                ));
            }
            if service.codes.is_empty() && service.names.is_empty() {
                return Err(format!(
                    "services.featured: {:?} has neither codes nor names{}; list at least one",
                    service.slug.0,
                    line_of(text, &format!("slug: {}", service.slug.0))
                ));
            }
        }
        for map in &self.boundaries {
            if let Some(until) = map.until
                && until.0 <= map.from.0
            {
                return Err(format!(
                    "boundaries: map {:?} ends ({}) before it starts ({}){}",
                    map.name,
                    until.0,
                    map.from.0,
                    line_of(text, "until:")
                ));
            }
        }
        if self.source.concurrency == 0 || self.source.concurrency > 64 {
            return Err(format!(
                "source.concurrency must be from 1 to 64, got {}{}",
                self.source.concurrency,
                line_of(text, "concurrency:")
            ));
        }
        if !(0.0..=1.0).contains(&self.gates.min_day_share) {
            return Err(format!(
                "gates.min_day_share must be between 0 and 1, got {}{}",
                self.gates.min_day_share,
                line_of(text, "min_day_share:")
            ));
        }
        Ok(())
    }

    /// A path from the config, resolved against the config's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }

    /// The city's time zone.
    pub fn tz(&self) -> &TimeZone {
        &self.city.time_zone.tz
    }

    /// The number of districts.
    pub fn ward_count(&self) -> u8 {
        self.city.districts.0
    }

    /// The words for the city's districts.
    pub fn terms(&self) -> crate::domain::Terms {
        crate::domain::Terms::new(
            &self.city.district_name.0,
            self.city.district_plural.as_deref(),
        )
    }

    /// The boundary map in force on `day`, if any is configured.
    pub fn boundary_for(&self, day: Day) -> Option<&BoundaryMap> {
        map_in_force(&self.boundaries, day).map(|i| &self.boundaries[i])
    }
}

/// Which of `maps` is in force on `day`: the one whose dates hold it; before the first map or in
/// a gap, the nearest earlier map, else the first. The maps a page draws and the maps requests
/// are placed on are chosen by this one rule.
pub fn map_in_force(maps: &[BoundaryMap], day: Day) -> Option<usize> {
    let date = day.date();
    let indexed = || maps.iter().enumerate();
    indexed()
        .find(|(_, m)| m.from.0 <= date && m.until.is_none_or(|u| date < u.0))
        .or_else(|| {
            indexed()
                .filter(|(_, m)| m.from.0 <= date)
                .max_by_key(|(_, m)| m.from.0)
                .or_else(|| indexed().min_by_key(|(_, m)| m.from.0))
        })
        .map(|(i, _)| i)
}

/// Marks a value error with the key it is about. serde_yaml places errors raised inside a value's
/// own `Deserialize` at the enclosing mapping; [`relocate`] uses the mark to name the key and
/// find its real line.
fn keyed<E: serde::de::Error>(key: &str, message: String) -> E {
    E::custom(format!("\u{1}{key}\u{1}{message}"))
}

/// Rewrites a serde_yaml message carrying a [`keyed`] mark as "path.key: message at line N".
fn relocate(text: &str, message: &str) -> String {
    let Some(start) = message.find('\u{1}') else {
        return message.to_string();
    };
    let rest = &message[start + 1..];
    let Some(end) = rest.find('\u{1}') else {
        return message.to_string();
    };
    let key = &rest[..end];
    let detail = &rest[end + 1..];
    let detail = detail
        .rfind(" at line ")
        .map(|i| &detail[..i])
        .unwrap_or(detail);
    // serde_yaml writes "path: message"; the path is the mapping the key sits in.
    let prefix = message[..start].trim_end_matches(": ").trim();
    let mut path: Vec<&str> = prefix.split('.').filter(|p| !p.is_empty()).collect();
    path.push(key);
    let shown: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    let line = locate_key(text, &path)
        .map(|l| format!(" at line {l}"))
        .unwrap_or_default();
    format!("{}: {detail}{line}", shown.join("."))
}

/// The 1-based line of a key path in block-style YAML (`["city", "wards"]`); list indices such as
/// `featured[1]` pick the n-th item.
fn locate_key(text: &str, path: &[&str]) -> Option<usize> {
    let mut indent_floor: i64 = -1;
    let mut lines = text.lines().enumerate().peekable();
    let mut found = None;
    for part in path {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (*part, None),
        };
        found = None;
        for (i, line) in lines.by_ref() {
            let trimmed = line.trim_start();
            let indent = (line.len() - trimmed.len()) as i64;
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent <= indent_floor {
                return None;
            }
            let bare = trimmed.trim_start_matches("- ");
            if bare.starts_with(&format!("{name}:")) {
                found = Some(i + 1);
                indent_floor = indent;
                break;
            }
        }
        found?;
        if let Some(n) = index {
            let mut seen = 0;
            found = None;
            for (i, line) in lines.by_ref() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("- ") {
                    if seen == n {
                        found = Some(i + 1);
                        indent_floor = (line.len() - trimmed.len()) as i64 - 1;
                        break;
                    }
                    seen += 1;
                }
            }
            found?;
        }
    }
    found
}

/// " at line N" for the first line containing `needle`, or "" when not found.
fn line_of(text: &str, needle: &str) -> String {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| format!(" at line {}", i + 1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_as_hosts_write_them() {
        assert_eq!(ByteSize::parse("1 GB"), Ok(ByteSize(1_000_000_000)));
        assert_eq!(ByteSize::parse("100 KB"), Ok(ByteSize(100_000)));
        assert_eq!(ByteSize::parse("25MB"), Ok(ByteSize(25_000_000)));
        assert_eq!(ByteSize::parse("1.5 gb"), Ok(ByteSize(1_500_000_000)));
        assert_eq!(ByteSize::parse("25 MiB"), Ok(ByteSize(26_214_400)));
        assert_eq!(ByteSize::parse("512"), Ok(ByteSize(512)));
        assert_eq!(ByteSize::parse("1 GiB"), Ok(ByteSize(1 << 30)));
        assert!(
            ByteSize::parse("1 TB")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(SiteBudget::default().file_bytes, ByteSize(25 << 20));
        assert!(ByteSize::parse("lots").is_err());
        assert_eq!(SiteBudget::default().bytes, ByteSize(1_000_000_000));
    }

    const MINIMAL: &str = "site:\n  title: T\n  base_url: https://example.org/sub\ncity:\n  name: Chicago\n  districts: 50\n  disclaimer: D\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.site.base_url.as_str(), "https://example.org/sub/");
        assert_eq!(c.city.time_zone.name, "America/Chicago");
        assert_eq!(
            c.services.excluded,
            vec!["311 INFORMATION ONLY CALL".to_string()]
        );
        assert_eq!(c.history.days, None);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = format!("{MINIMAL}  colour: red\n");
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let text = MINIMAL.replace("districts: 50", "districts: 0");
        let err = Config::parse(&text).unwrap_err();
        assert!(
            err.contains("city.districts") && err.contains("line 6"),
            "{err}"
        );
        // The older key still reads.
        let old = Config::parse(&MINIMAL.replace("districts: 50", "wards: 50")).unwrap();
        assert_eq!(old.ward_count(), 50);
        assert_eq!(old.terms().one, "ward");
        let text = MINIMAL.replace("districts: 50", "districts: 9\n  district_name: Ward 3");
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("city.district_name"), "{err}");
        let text = MINIMAL.replace("districts: 50", "districts: 9\n  district_name: day");
        assert!(Config::parse(&text).unwrap_err().contains("not one of"));

        let text = MINIMAL.replace("name: Chicago", "name: Chicago\n  time_zone: Mars/Olympus");
        let err = Config::parse(&text).unwrap_err();
        assert!(
            err.contains("city.time_zone") && err.contains("line 6"),
            "{err}"
        );

        let text = MINIMAL.replace("https://example.org/sub", "example.org");
        let err = Config::parse(&text).unwrap_err();
        assert!(
            err.contains("site.base_url") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_slugs_are_rejected_with_line() {
        let text = format!(
            "{MINIMAL}services:\n  featured:\n    - slug: a\n      name: A\n      names: [x]\n    - slug: a\n      name: B\n      names: [y]\n"
        );
        let err = Config::parse(&text).unwrap_err();
        assert!(
            err.contains("used twice") && err.contains("line 10"),
            "{err}"
        );
    }

    #[test]
    fn boundary_map_in_force_is_chosen_by_date() {
        let text = format!(
            "{MINIMAL}boundaries:\n  - {{name: '2003', file: a, from: 2003-05-01, until: 2015-05-18}}\n  - {{name: '2015', file: b, from: 2015-05-18, until: 2023-05-15}}\n  - {{name: '2023', file: c, from: 2023-05-15}}\n"
        );
        let c = Config::parse(&text).unwrap();
        let name = |d: &str| c.boundary_for(Day::parse(d).unwrap()).unwrap().name.clone();
        assert_eq!(name("2014-01-01"), "2003");
        assert_eq!(name("2015-05-18"), "2015");
        assert_eq!(name("2023-05-14"), "2015");
        assert_eq!(name("2026-01-01"), "2023");
        assert_eq!(name("1999-01-01"), "2003");
    }
}

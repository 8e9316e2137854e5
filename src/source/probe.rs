//! `cwfy source check`: asks the configured source for one small page of its newest records and
//! says, in plain words, whether it answers, whether the key or token is accepted, whether the
//! records carry the fields the store needs, and how fresh the newest one is, with what to
//! change when something is wrong. One try, no retries: it is a question, not a fetch.

use std::fmt;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;

use super::fetch::{self, Endpoint, EndpointKind, FetchError};
use super::{Normalizer, Parsed};
use crate::config::Config;
use crate::domain::UnixSeconds;

/// Records asked for.
const SAMPLE_SIZE: u32 = 5;
/// How far back an Open311 endpoint is asked for updated records.
const OPEN311_LOOKBACK_DAYS: i64 = 30;
/// A newest record older than this means the source has stopped being updated.
pub const STALE_AFTER_DAYS: i64 = 7;

/// How one finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// As it should be.
    Ok,
    /// Worth knowing; the fetch works.
    Note,
    /// The fetch will not work (or not well) until this is changed.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Good, a note, or a problem.
    pub verdict: Verdict,
    /// What was found, and what to do when it is a problem.
    pub text: String,
}

/// What `cwfy source check` found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The endpoint, in a few words.
    pub endpoint: String,
    /// The findings, in the order they were checked.
    pub findings: Vec<Finding>,
    /// The newest record's update (or request) time, when one was read.
    pub newest: Option<UnixSeconds>,
}

impl ProbeReport {
    /// No problem was found.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.verdict != Verdict::Problem)
    }

    fn push(&mut self, verdict: Verdict, text: impl Into<String>) {
        self.findings.push(Finding {
            verdict,
            text: text.into(),
        });
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Source: {}", self.endpoint)?;
        for finding in &self.findings {
            let mark = match finding.verdict {
                Verdict::Ok => "ok     ",
                Verdict::Note => "note   ",
                Verdict::Problem => "PROBLEM",
            };
            writeln!(f, "  {mark} {}", finding.text)?;
        }
        let problems = self
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Problem)
            .count();
        if problems == 0 {
            writeln!(
                f,
                "The source is ready: `cwfy fetch` and `cwfy update` can use it."
            )
        } else {
            writeln!(
                f,
                "{problems} problem{} to fix before `cwfy fetch` can use this source; then run `cwfy source check` again.",
                if problems == 1 { "" } else { "s" }
            )
        }
    }
}

/// The fields a record needs for the store, by source kind: (field, what it is for).
fn needed_fields(kind: EndpointKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        EndpointKind::Socrata => &[
            ("sr_number", "the request's id"),
            ("sr_type", "its service type"),
            ("created_date", "when it was opened"),
            ("status", "whether it is closed"),
            ("last_modified_date", "the nightly increment"),
        ],
        EndpointKind::Open311 => &[
            ("service_request_id", "the request's id"),
            ("requested_datetime", "when it was opened"),
            ("status", "whether it is closed"),
            ("updated_datetime", "the nightly increment"),
        ],
    }
}

/// Whether a record has a field with a value.
fn has_field(record: &Value, field: &str) -> bool {
    record
        .get(field)
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
}

/// `cwfy source check`: one question to the endpoint of the config (or of `--kind`, `--url`,
/// `--profile`). Errors are what stops it from asking at all (a bad URL or profile).
pub fn probe(
    config: &Config,
    kind: Option<EndpointKind>,
    url: Option<&str>,
    profile: Option<&str>,
    now: Timestamp,
) -> Result<ProbeReport, FetchError> {
    let endpoint = Endpoint::from_config(config, kind, url, profile)?;
    let mut report = ProbeReport {
        endpoint: endpoint.describe(),
        findings: Vec::new(),
        newest: None,
    };
    let env = &endpoint.secret_env;
    let secret_word = match endpoint.kind {
        EndpointKind::Socrata => "app token",
        EndpointKind::Open311 => "API key",
    };
    if endpoint.has_secret() {
        report.push(Verdict::Ok, format!("an {secret_word} is set in ${env}"));
    } else {
        for note in &endpoint.notes {
            report.push(Verdict::Note, note.clone());
        }
        if endpoint.notes.is_empty() {
            report.push(
                Verdict::Note,
                format!("no {secret_word} in ${env}: asking without one"),
            );
        }
    }

    let tz = config.tz();
    let since = now.as_second() - OPEN311_LOOKBACK_DAYS * 86_400;
    let request = endpoint.newest_url(SAMPLE_SIZE, since, now.as_second(), tz);
    let timeout = Duration::from_secs(config.source.timeout_seconds.max(1));
    let client = fetch::http_client(timeout)?;
    let started = Instant::now();
    let response = match endpoint.send(&client, &request) {
        Ok(response) => response,
        Err(e) => {
            report.push(
                Verdict::Problem,
                format!(
                    "the source does not answer: {}; check the URL ({request}) and this machine's network; if it answered before, try again later",
                    fetch::describe(e, timeout)
                ),
            );
            return Ok(report);
        }
    };
    let status = response.status().as_u16();
    let body = match response.bytes() {
        Ok(body) => body,
        Err(e) => {
            report.push(
                Verdict::Problem,
                format!(
                    "the source answered HTTP {status} but its body broke off ({}); try again later",
                    fetch::describe(e, timeout)
                ),
            );
            return Ok(report);
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let said = fetch::error_detail(&String::from_utf8_lossy(&body));
    match status {
        200..=299 => report.push(
            Verdict::Ok,
            format!("the source answers (HTTP {status} in {elapsed:.1} s)"),
        ),
        401 | 403 => {
            let what = if endpoint.has_secret() {
                format!("the {secret_word} in ${env} is not accepted")
            } else {
                format!("the source wants an {secret_word}")
            };
            report.push(
                Verdict::Problem,
                format!("{what}: HTTP {status}{said}; {}", endpoint.advice(status)),
            );
            return Ok(report);
        }
        429 | 500..=599 => {
            report.push(
                Verdict::Problem,
                format!(
                    "the source answers but is overloaded or failing: HTTP {status}{said}; try again later{}",
                    if status == 429 && !endpoint.has_secret() {
                        format!(" (an {secret_word} in ${env} raises the portal's limits)")
                    } else {
                        String::new()
                    }
                ),
            );
            return Ok(report);
        }
        _ => {
            report.push(
                Verdict::Problem,
                format!(
                    "the source refuses the question: HTTP {status}{said}; {}",
                    endpoint.advice(status)
                ),
            );
            return Ok(report);
        }
    }
    if endpoint.has_secret() {
        report.push(Verdict::Ok, format!("the {secret_word} is accepted"));
    }
    let records = match fetch::parse_array(&body) {
        Ok(records) => records,
        Err(e) => {
            report.push(
                Verdict::Problem,
                format!(
                    "the answer is {e}; check that the URL is the source's API ({request}), not a web page"
                ),
            );
            return Ok(report);
        }
    };
    if records.is_empty() {
        report.push(
            Verdict::Problem,
            match endpoint.kind {
                EndpointKind::Open311 => format!(
                    "the source sent no request updated in the last {OPEN311_LOOKBACK_DAYS} days: it may no longer be kept up to date (Chicago's Open311 endpoint stopped answering by 2024; its data portal is the live source: source.kind: socrata)"
                ),
                EndpointKind::Socrata => "the dataset sent no rows: check source.socrata.dataset (Chicago's 311 requests are v6vf-nfxy)".to_string(),
            },
        );
        return Ok(report);
    }
    check_fields(&mut report, &endpoint, &records);
    check_newest(&mut report, &endpoint, &records, config, now);
    Ok(report)
}

/// Whether the records carry every field the store needs.
fn check_fields(
    report: &mut ProbeReport,
    endpoint: &Endpoint,
    records: &[Box<serde_json::value::RawValue>],
) {
    let values: Vec<Value> = records
        .iter()
        .filter_map(|r| serde_json::from_str(r.get()).ok())
        .collect();
    let mut missing = Vec::new();
    for (field, what) in needed_fields(endpoint.kind) {
        if !values.iter().any(|v| has_field(v, field)) {
            missing.push(format!("{field} ({what})"));
        }
    }
    if endpoint.kind == EndpointKind::Open311 {
        if !values
            .iter()
            .any(|v| has_field(v, "service_name") || has_field(v, "service_code"))
        {
            missing.push("service_name or service_code (its service type)".into());
        }
        if endpoint.extensions
            && !values.iter().any(|v| {
                v.get("extended_attributes")
                    .is_some_and(|e| has_field(e, "ward"))
            })
        {
            report.push(
                Verdict::Note,
                "no record has extended_attributes.ward: every request will count citywide only (unassigned to a ward); set source.open311.extensions: false if the endpoint has no extensions",
            );
        }
    } else if !values.iter().any(|v| has_field(v, "ward")) {
        report.push(
            Verdict::Note,
            "no row has a ward: every request will count citywide only",
        );
    }
    if missing.is_empty() {
        report.push(
            Verdict::Ok,
            format!(
                "the {} records sent have the fields the store needs",
                values.len()
            ),
        );
    } else {
        let hint = match endpoint.kind {
            EndpointKind::Socrata => {
                "check source.socrata.dataset: Chicago's 311 requests are v6vf-nfxy, whose columns cwfy reads"
            }
            EndpointKind::Open311 => {
                "check that the URL is an Open311 GeoReport v2 endpoint (source.open311.base_url)"
            }
        };
        report.push(
            Verdict::Problem,
            format!("the records lack {}; {hint}", missing.join(", ")),
        );
    }
}

/// The newest record's time, and whether the source still seems to be updated.
fn check_newest(
    report: &mut ProbeReport,
    endpoint: &Endpoint,
    records: &[Box<serde_json::value::RawValue>],
    config: &Config,
    now: Timestamp,
) {
    let normalizer = Normalizer::new(config.tz().clone(), config.ward_count());
    let mut rejected = Vec::new();
    let mut newest: Option<UnixSeconds> = None;
    for raw in records {
        match endpoint.parse(raw.get(), &normalizer) {
            Parsed::Request(r, _) => {
                let t = r.updated_at.unwrap_or(r.requested_at);
                newest = Some(newest.map_or(t, |n| n.max(t)));
            }
            Parsed::Rejected(reason) => rejected.push(reason),
            Parsed::Ignored(_) => {}
        }
    }
    if let Some(first) = rejected.first() {
        report.push(
            Verdict::Note,
            format!(
                "{} of {} records would be rejected, e.g. {first}",
                rejected.len(),
                records.len()
            ),
        );
    }
    report.newest = newest;
    let Some(newest) = newest else {
        report.push(
            Verdict::Problem,
            "no record could be read as a request, so the newest record's time is unknown",
        );
        return;
    };
    let when = Timestamp::from_second(newest)
        .map(|t| {
            t.to_zoned(config.tz().clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default();
    let age_days = (now.as_second() - newest) / 86_400;
    if age_days > STALE_AFTER_DAYS {
        report.push(
            Verdict::Problem,
            format!(
                "the newest record is from {when}, {age_days} days ago: the source seems no longer updated, so the nightly job's day-volume gate will fail; check that this is the dataset or endpoint the city keeps current"
            ),
        );
    } else {
        let hours = (now.as_second() - newest).max(0) / 3600;
        report.push(
            Verdict::Ok,
            format!("the newest record is from {when} ({hours} hours ago)"),
        );
    }
}

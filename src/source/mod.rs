//! Data in: parsing the city's formats into [`Request`]s, importing files, fetching from APIs.
//!
//! The parsers share one [`Normalizer`] that applies the data rules (docs/ARCHITECTURE.md): time
//! zones, close times, duplicate flags, ward validation, and cleaning of untrusted text. A record
//! either becomes a request (perhaps with notes on what was cleaned), is ignored (no id, counted),
//! or is rejected with a reason; nothing panics on any input.

pub mod fetch;
pub mod import;
pub mod open311;
pub mod probe;
pub mod socrata;

use jiff::civil::DateTime;
use jiff::tz::{Disambiguation, TimeZone};
use jiff::{Timestamp, Zoned};

use crate::domain::{Request, UnixSeconds, WardNo};
use crate::store::{Incoming, RawHeader};

/// Longest free text kept (addresses, descriptions); longer text is cut and the cut recorded.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A request, with notes on anything that was cleaned (empty when nothing was).
    Request(Box<Request>, Vec<String>),
    /// No id: ignored and counted (Chicago sends these while a request is being processed).
    Ignored(String),
    /// Unusable, with the reason.
    Rejected(String),
}

impl Parsed {
    /// The record on its way to the store (the one conversion `cwfy import` and `cwfy fetch`
    /// share). `origin` gives where it came from (file:line or URL) and `raw` the record as
    /// received; each is asked for only when it is recorded (a request carries its own raw
    /// record, and its origin is recorded only with cleaning notes). `header` names the fields of
    /// a request's raw CSV row. A rejection's `origin: reason` is also added to `samples` while
    /// it holds fewer than `max_samples`.
    pub fn into_incoming(
        self,
        origin: impl FnOnce() -> String,
        raw: impl FnOnce() -> String,
        header: Option<RawHeader>,
        samples: &mut Vec<String>,
        max_samples: usize,
    ) -> Incoming {
        match self {
            Parsed::Request(request, notes) => Incoming::Request {
                request,
                origin: if notes.is_empty() {
                    String::new()
                } else {
                    origin()
                },
                notes,
                header,
            },
            Parsed::Ignored(reason) => Incoming::Ignored {
                reason,
                origin: origin(),
                raw: raw(),
            },
            Parsed::Rejected(reason) => {
                let origin = origin();
                if samples.len() < max_samples {
                    samples.push(format!("{origin}: {reason}"));
                }
                Incoming::Rejected {
                    reason,
                    origin,
                    raw: raw(),
                }
            }
        }
    }
}

/// The rules of the data rules (docs/ARCHITECTURE.md) that depend on the city: its time zone and
/// number of wards.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// The city's zone; offset-less times are local to it.
    pub tz: TimeZone,
    /// Valid wards are 1..=wards.
    pub wards: WardNo,
    /// Latest year accepted as a request time (earlier than 1990 or later is rejected).
    pub max_year: i16,
}

/// The earliest year a request time may have (the portal's oldest records are from 2000).
pub const MIN_YEAR: i16 = 1990;

impl Normalizer {
    /// A normaliser for a city; years up to next year are accepted.
    pub fn new(tz: TimeZone, wards: WardNo) -> Normalizer {
        let max_year = Zoned::now().year().saturating_add(1);
        Normalizer {
            tz,
            wards,
            max_year,
        }
    }

    /// Parses a timestamp: with an offset (`2014-05-09T19:02:21-05:00`, `…Z`) it is exact;
    /// without one (`2021-01-01T00:00:09.000`, `2010-11-17 01:08:42.793`) it is city-local, and
    /// in the hour repeated when clocks fall back it is the earlier instant.
    pub fn timestamp(&self, text: &str) -> Result<UnixSeconds, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty time".into());
        }
        let outside = || {
            format!(
                "{} is outside the years {MIN_YEAR}–{}",
                quote(text),
                self.max_year
            )
        };
        // The portal's layout (`2021-01-01T00:00:09.000`) is read without the general parser.
        let civil = match local_fixed(text) {
            Some(civil) => civil,
            None => match text.parse::<Timestamp>() {
                Ok(ts) => {
                    let seconds = ts.as_second();
                    let year = Timestamp::from_second(seconds)
                        .map(|t| self.tz.to_datetime(t).year())
                        .unwrap_or(0);
                    if !(MIN_YEAR..=self.max_year).contains(&year) {
                        return Err(outside());
                    }
                    return Ok(seconds);
                }
                Err(_) => text
                    .parse::<DateTime>()
                    .or_else(|_| text.replacen(' ', "T", 1).parse::<DateTime>())
                    .map_err(|_| format!("{} is not a date and time", quote(text)))?,
            },
        };
        if !(MIN_YEAR..=self.max_year).contains(&civil.year()) {
            return Err(outside());
        }
        let ts = self
            .tz
            .to_ambiguous_timestamp(civil)
            .disambiguate(Disambiguation::Earlier)
            .map_err(|e| format!("{}: {e}", quote(text)))?;
        let seconds = ts.as_second();
        // In a gap the instant's local year can differ from the civil one only at a year's
        // turn; check the instant as the other path does.
        let year = Timestamp::from_second(seconds)
            .map(|t| self.tz.to_datetime(t).year())
            .unwrap_or(0);
        if !(MIN_YEAR..=self.max_year).contains(&year) {
            return Err(outside());
        }
        Ok(seconds)
    }

    /// A ward 1..=N from the source's text (`"21"`, `"21.0"`, `21`); anything else is unassigned.
    pub fn ward(&self, text: &str) -> Option<WardNo> {
        let text = text.trim();
        let n: f64 = text.parse().ok()?;
        if n.fract() != 0.0 || n < 1.0 || n > f64::from(self.wards) {
            return None;
        }
        Some(n as WardNo)
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (or a space for the `T`), with an optional fraction of 1–9 digits and
/// no offset; `None` for anything else, which the general parser then reads.
fn local_fixed(text: &str) -> Option<DateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        b[range].iter().try_fold(0i32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let value = digits(20..b.len())?;
            value * 10i32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    DateTime::new(
        i16::try_from(digits(0..4)?).ok()?,
        digits(5..7)? as i8,
        digits(8..10)? as i8,
        digits(11..13)? as i8,
        digits(14..16)? as i8,
        // A leap second (`:60`) is left to the general parser.
        i8::try_from(digits(17..19)?).ok().filter(|s| *s < 60)?,
        nanos,
    )
    .ok()
}

/// Parses a coordinate, keeping it only when finite, in range and not the 0,0 placeholder.
pub fn coordinate(text: &str, limit: f64) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    (v.is_finite() && v.abs() <= limit && v != 0.0).then_some(v)
}

/// Cleans untrusted text: drops control characters (keeping newlines and tabs), trims, cuts to
/// [`MAX_TEXT_CHARS`]. Returns `None` for empty text, and a note when something was changed.
pub fn clean_text(field: &str, text: &str, notes: &mut Vec<String>) -> Option<String> {
    let is_dropped = |c: char| c.is_control() && c != '\n' && c != '\t';
    let had_controls = if text.is_ascii() {
        text.bytes().any(|b| is_dropped(char::from(b)))
    } else {
        text.chars().any(is_dropped)
    };
    let cleaned = if had_controls {
        notes.push(format!("{field}: control characters removed"));
        let kept: String = text.chars().filter(|c| !is_dropped(*c)).collect();
        kept.trim().to_string()
    } else {
        text.trim().to_string()
    };
    // A text no longer than the limit in bytes is no longer in characters.
    if cleaned.len() > MAX_TEXT_CHARS {
        let chars = cleaned.chars().count();
        if chars > MAX_TEXT_CHARS {
            notes.push(format!(
                "{field}: cut from {chars} to {MAX_TEXT_CHARS} characters"
            ));
            return Some(cleaned.chars().take(MAX_TEXT_CHARS).collect());
        }
    }
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Keeps a media URL only when it is http(s) (a `javascript:` URL must never reach a page).
pub fn clean_url(field: &str, text: &str, notes: &mut Vec<String>) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let ok = (lower.starts_with("http://") || lower.starts_with("https://"))
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
    if ok {
        Some(text.to_string())
    } else {
        notes.push(format!(
            "{field}: dropped {} (not an http(s) URL)",
            quote(text)
        ));
        None
    }
}

/// A value quoted for a message, cut so one bad value cannot flood a log.
pub fn quote(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The truthiness the sources use for flags: `true`, `"true"`, `"True"`, `1`, `"1"`, `"Y"`.
pub fn truthy(text: &str) -> bool {
    let text = text.trim();
    ["true", "1", "y", "yes", "t"]
        .iter()
        .any(|t| text.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normalizer {
        Normalizer::new(TimeZone::get("America/Chicago").unwrap(), 50)
    }

    #[test]
    fn offsets_are_exact_and_local_times_are_chicago() {
        let n = n();
        assert_eq!(
            n.timestamp("2014-05-09T19:02:21-05:00").unwrap(),
            1_399_680_141
        );
        assert_eq!(n.timestamp("2014-05-10T00:02:21Z").unwrap(), 1_399_680_141);
        // 2021-01-01T00:00:09 in Chicago (CST, UTC-6) is 06:00:09Z.
        assert_eq!(
            n.timestamp("2021-01-01T00:00:09.000").unwrap(),
            1_609_480_809
        );
        assert_eq!(n.timestamp("2021-01-01 00:00:09").unwrap(), 1_609_480_809);
    }

    #[test]
    fn repeated_hour_takes_the_earlier_instant() {
        let n = n();
        // 2021-11-07 01:30 happens twice in Chicago; the first is CDT (UTC-5) = 06:30Z.
        let t = n.timestamp("2021-11-07T01:30:00").unwrap();
        assert_eq!(
            Timestamp::from_second(t).unwrap().to_string(),
            "2021-11-07T06:30:00Z"
        );
    }

    #[test]
    fn absurd_years_and_garbage_are_errors() {
        let n = n();
        assert!(
            n.timestamp("1900-01-01T00:00:00")
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            n.timestamp("9999-12-31T00:00:00")
                .unwrap_err()
                .contains("outside")
        );
        assert!(n.timestamp("yesterday").unwrap_err().contains("not a date"));
        assert!(n.timestamp("").is_err());
    }

    #[test]
    fn wards_outside_range_are_unassigned() {
        let n = n();
        assert_eq!(n.ward("21"), Some(21));
        assert_eq!(n.ward("21.0"), Some(21));
        for bad in ["0", "51", "", "abc", "3.5", "-1", "NaN"] {
            assert_eq!(n.ward(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_is_cleaned_with_notes() {
        let mut notes = Vec::new();
        assert_eq!(
            clean_text("address", " 1 Main\u{7}St ", &mut notes).as_deref(),
            Some("1 MainSt")
        );
        assert_eq!(notes.len(), 1);
        let long = "x".repeat(MAX_TEXT_CHARS + 10);
        assert_eq!(
            clean_text("description", &long, &mut notes).unwrap().len(),
            MAX_TEXT_CHARS
        );
        assert_eq!(notes.len(), 2);
        assert_eq!(
            clean_url("media_url", "javascript:alert(1)", &mut notes),
            None
        );
        assert_eq!(
            clean_url("media_url", "http://x/y.jpg", &mut notes).as_deref(),
            Some("http://x/y.jpg")
        );
        assert_eq!(coordinate("NaN", 90.0), None);
        assert_eq!(coordinate("41.8", 90.0), Some(41.8));
        assert_eq!(coordinate("0.0", 90.0), None);
    }

    #[test]
    fn the_portal_layout_reads_as_the_general_parser_does() {
        let n = n();
        let general = |text: &str| {
            let civil = text
                .parse::<DateTime>()
                .or_else(|_| text.replacen(' ', "T", 1).parse::<DateTime>())
                .unwrap();
            n.tz.to_ambiguous_timestamp(civil)
                .disambiguate(Disambiguation::Earlier)
                .unwrap()
                .as_second()
        };
        for text in [
            "2021-01-01T00:00:09.000",
            "2021-01-01 00:00:09",
            "2021-03-14T02:30:00.5",
            "2021-11-07T01:30:00.123456789",
            "2020-02-29T23:59:59",
            "1990-01-01T00:00:00.000",
        ] {
            assert!(local_fixed(text).is_some(), "{text}");
            assert_eq!(n.timestamp(text).unwrap(), general(text), "{text}");
        }
        // Anything else goes to the general parser, which decides.
        for text in [
            "2021-01-01T00:00:60",
            "2021-01-01T00:00:09Z",
            "2021-01-01T00:00:09.0000000001",
            "2021-01-01T00:00:09.",
            "2021-1-01T00:00:09",
            "+2021-01-01T00:00:09",
        ] {
            assert_eq!(local_fixed(text), None, "{text}");
        }
        for bad in [
            "2021-02-30T00:00:00",
            "2021-01-01T24:00:00",
            "2021-13-01T00:00:00",
        ] {
            assert_eq!(local_fixed(bad), None, "{bad}");
            assert!(
                n.timestamp(bad).unwrap_err().contains("not a date"),
                "{bad}"
            );
        }
        assert_eq!(n.timestamp("2021-01-01T00:00:09Z").unwrap(), 1_609_459_209);
    }
}

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

use std::sync::Arc;

use crate::config::{BoundaryMap, Config, DistrictsFrom};
use crate::domain::{Day, Placement, Request, UnixSeconds, WardNo};
use crate::geo::{DistrictShapes, GeoError, Locator};
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
    /// Places requests in districts by their location; none places nothing.
    pub placer: Option<Arc<Placer>>,
    /// The config's CSV column map (`import.columns`), for exports of other layouts.
    pub columns: Option<Arc<crate::config::ColumnMap>>,
    /// The zone of naive times in such an export (`import.time_zone`), when not the city's.
    pub columns_tz: Option<TimeZone>,
    /// Lower-case text that marks a duplicate in such an export's `duplicate` column
    /// (`import.duplicate_contains`); without it, a true value does.
    pub duplicate_contains: Option<String>,
}

/// Places a request in a district: its own field, or its location on the boundary map in force
/// on the day it was opened (config keys `city.districts_from`, `city.no_location_points`,
/// `boundaries`).
#[derive(Debug)]
pub struct Placer {
    from: DistrictsFrom,
    /// The city's zone, in which a request's opened day is counted.
    tz: TimeZone,
    /// The maps as configured.
    maps: Vec<BoundaryMap>,
    /// Each map's locator, in the order of `maps`.
    locators: Vec<Locator>,
    /// Points meaning "no location", as (latitude, longitude).
    placeholders: Vec<(f64, f64)>,
}

/// How close (degrees) a point must be to a placeholder to be taken for it: about 10 m, the
/// precision the cities publish placeholders with.
const PLACEHOLDER_DEGREES: f64 = 1e-4;

impl Placer {
    /// Reads every boundary map of the config. The error names the file and what is wrong.
    pub fn from_config(config: &Config) -> Result<Placer, GeoError> {
        let locators = (config.boundaries.iter())
            .map(|map| {
                let shapes =
                    DistrictShapes::read(&config.resolve(&map.file), map.id_property.as_deref())?;
                Ok(Locator::new(&shapes))
            })
            .collect::<Result<_, GeoError>>()?;
        Ok(Placer {
            from: config.city.districts_from,
            tz: config.tz().clone(),
            maps: config.boundaries.clone(),
            locators,
            placeholders: config.city.no_location_points.clone(),
        })
    }

    /// Sets `r.ward` and `r.placement`. `r.ward` holds the record's own district, if valid.
    pub fn place(&self, r: &mut Request) {
        let own = match self.from {
            DistrictsFrom::Record => r.ward,
            DistrictsFrom::Location => None,
        };
        let located = self.locate(r);
        (r.ward, r.placement) = match (own, located) {
            (Some(w), Ok(l)) if l == w => (Some(w), Placement::RecordAgrees),
            (Some(w), Ok(_)) | (Some(w), Err(Placement::Outside)) => {
                (Some(w), Placement::RecordDisagrees)
            }
            (Some(w), Err(_)) => (Some(w), Placement::Record),
            (None, Ok(l)) => (Some(l), Placement::Location),
            (None, Err(why)) => (None, why),
        };
    }

    /// The district at the request's location, or why there is none.
    fn locate(&self, r: &Request) -> Result<WardNo, Placement> {
        let (Some(lat), Some(long)) = (r.lat, r.long) else {
            return Err(Placement::NoPoint);
        };
        if self.placeholders.iter().any(|&(plat, plong)| {
            (lat - plat).abs() <= PLACEHOLDER_DEGREES && (long - plong).abs() <= PLACEHOLDER_DEGREES
        }) {
            return Err(Placement::Placeholder);
        }
        let day = Day::of_instant(r.requested_at, &self.tz);
        let Some(i) = crate::config::map_in_force(&self.maps, day) else {
            return Err(Placement::NoMap);
        };
        self.locators[i]
            .district_at(long, lat)
            .ok_or(Placement::Outside)
    }
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
            placer: None,
            columns: None,
            columns_tz: None,
            duplicate_contains: None,
        }
    }

    /// This normaliser reading naive times in the column-mapped export's zone, if it has one.
    pub fn for_mapped_columns(&self) -> Normalizer {
        let mut n = self.clone();
        if let Some(tz) = &self.columns_tz {
            n.tz = tz.clone();
        }
        n
    }

    /// The normaliser for a configured city: its zone, its districts and its boundary maps.
    pub fn for_config(config: &Config) -> Result<Normalizer, GeoError> {
        let mut n = Normalizer::new(config.tz().clone(), config.ward_count());
        n.placer = Some(Arc::new(Placer::from_config(config)?));
        n.columns = config.import.columns.clone().map(Arc::new);
        n.columns_tz = config.import.time_zone.as_ref().map(|z| z.tz.clone());
        n.duplicate_contains = (config.import.duplicate_contains.as_deref())
            .map(str::to_lowercase)
            .filter(|t| !t.trim().is_empty());
        Ok(n)
    }

    /// Places a parsed request in its district (see [`Placer::place`]); without boundary maps,
    /// a request with no district field is unassigned for want of a map.
    pub fn place(&self, parsed: &mut Parsed) {
        let Parsed::Request(r, _) = parsed else {
            return;
        };
        match &self.placer {
            Some(placer) => placer.place(r),
            None => {
                r.placement = if r.ward.is_some() {
                    Placement::Record
                } else {
                    Placement::NoMap
                };
            }
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

    /// A request on `day` at `point` (lat, long) whose record names `ward`.
    fn request(day: &str, ward: Option<WardNo>, point: Option<(f64, f64)>) -> Parsed {
        let n = n();
        Parsed::Request(
            Box::new(Request {
                id: "1".into(),
                service_code: None,
                service_name: "Pothole in Street Complaint".into(),
                status: "Open".into(),
                is_closed: false,
                requested_at: n.timestamp(&format!("{day}T12:00:00")).unwrap(),
                updated_at: None,
                closed_at: None,
                ward,
                placement: Placement::default(),
                duplicate: false,
                parent_id: None,
                lat: point.map(|p| p.0),
                long: point.map(|p| p.1),
                address: None,
                description: None,
                media_url: None,
                channel: None,
                source: crate::domain::SourceKind::Socrata,
                raw: String::new(),
            }),
            Vec::new(),
        )
    }

    fn placed(n: &Normalizer, mut parsed: Parsed) -> (Option<WardNo>, Placement) {
        n.place(&mut parsed);
        match parsed {
            Parsed::Request(r, _) => (r.ward, r.placement),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_are_placed_by_record_or_by_location_on_the_map_of_their_day() {
        let mut config = crate::config::Config::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.yaml"),
        )
        .unwrap();
        // City Hall, Chicago (121 N LaSalle St): ward 42 on the 2015 and 2023 maps.
        let city_hall = (41.8837, -87.6321);
        config.city.no_location_points = vec![(41.9, -87.7)];
        let n = Normalizer::for_config(&config).unwrap();
        assert_eq!(
            placed(&n, request("2021-01-01", Some(42), Some(city_hall))),
            (Some(42), Placement::RecordAgrees)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", Some(3), Some(city_hall))),
            (Some(3), Placement::RecordDisagrees)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", Some(3), None)),
            (Some(3), Placement::Record)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", None, Some(city_hall))),
            (Some(42), Placement::Location)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", None, None)),
            (None, Placement::NoPoint)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", None, Some((41.90004, -87.69996)))),
            (None, Placement::Placeholder)
        );
        assert_eq!(
            placed(&n, request("2021-01-01", None, Some((40.0, -87.6)))),
            (None, Placement::Outside)
        );
        // The map of the day: this point was in ward 33 on the 2003 map and is in 35 on 2023's
        // (checked with a separate even–odd count over the two files).
        let moved = (41.95, -87.70);
        assert_eq!(
            placed(&n, request("2012-06-01", None, Some(moved))),
            (Some(33), Placement::Location)
        );
        assert_eq!(
            placed(&n, request("2024-06-01", None, Some(moved))),
            (Some(35), Placement::Location)
        );
        // With districts_from: location the record's ward is not used.
        config.city.districts_from = crate::config::DistrictsFrom::Location;
        let n = Normalizer::for_config(&config).unwrap();
        assert_eq!(
            placed(&n, request("2021-01-01", Some(3), Some(city_hall))),
            (Some(42), Placement::Location)
        );
        // Without maps, a request with no ward cannot be placed.
        assert_eq!(
            placed(
                &Normalizer::new(n.tz.clone(), 50),
                request("2021-01-01", None, Some(city_hall))
            ),
            (None, Placement::NoMap)
        );
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

//! The domain types every stage shares: a service request, a service type, a ward, a day.
//!
//! They live here, in one place, so that the source parsers, the store, the aggregation and the
//! pages all speak about the same things with the same names.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC). Stored as `INTEGER` in SQLite.
pub type UnixSeconds = i64;

/// A ward number, 1..=N. Requests with no valid ward carry `None` instead ("unassigned").
pub type WardNo = u8;

/// Where a record came from; stored with every request so a reader can tell the formats apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Open311 GeoReport v2 JSON (the live API or a saved page).
    Open311,
    /// Socrata SODA JSON or a data-portal CSV export of the 311 dataset (v6vf-nfxy).
    Socrata,
    /// A retired per-type portal export (2000–2018 layouts with Title Case headers).
    Legacy,
}

impl SourceKind {
    /// The lower-case name used in the store and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Open311 => "open311",
            SourceKind::Socrata => "socrata",
            SourceKind::Legacy => "legacy",
        }
    }

    /// Parses the name written by [`SourceKind::as_str`].
    pub fn parse(name: &str) -> Option<SourceKind> {
        match name {
            "open311" => Some(SourceKind::Open311),
            "socrata" => Some(SourceKind::Socrata),
            "legacy" => Some(SourceKind::Legacy),
            _ => None,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service request, normalised per SPEC §4, with the raw record it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `service_request_id` (Open311) or `sr_number` (Socrata); never empty.
    pub id: String,
    /// Open311 `service_code` or Socrata `sr_short_code`, when the source has one.
    pub service_code: Option<String>,
    /// Open311 `service_name`, Socrata `sr_type`.
    pub service_name: String,
    /// The source's status, as sent (e.g. `closed`, `Completed - Dup`).
    pub status: String,
    /// Whether the status says the request is closed (SPEC §4).
    pub is_closed: bool,
    /// When the request was made.
    pub requested_at: UnixSeconds,
    /// When the source last changed the record; the upsert keeps the newest.
    pub updated_at: Option<UnixSeconds>,
    /// When it was closed, per SPEC §4; `None` while open.
    pub closed_at: Option<UnixSeconds>,
    /// Ward 1..=N, or `None` when the source's ward is missing or outside that range.
    pub ward: Option<WardNo>,
    /// The duplicate flag of the source (excluded from every count).
    pub duplicate: bool,
    /// The request this one duplicates, when the source says.
    pub parent_id: Option<String>,
    /// Latitude (WGS84), when finite and plausible.
    pub lat: Option<f64>,
    /// Longitude (WGS84), when finite and plausible.
    pub long: Option<f64>,
    /// Street address as sent (untrusted text).
    pub address: Option<String>,
    /// Free-text description (untrusted text).
    pub description: Option<String>,
    /// Photo URL (Open311 `media_url`), when http(s).
    pub media_url: Option<String>,
    /// How the request came in (phone, internet, mobile…).
    pub channel: Option<String>,
    /// Which format the record came from.
    pub source: SourceKind,
    /// The record as received: JSON text as sent, or a CSV row as a JSON array of its fields
    /// (the store keeps the header naming them; `Store::raw` gives the row as a JSON object).
    pub raw: String,
}

/// A service type as the source's catalogue describes it (Open311 `services.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceType {
    /// `service_code`.
    pub code: String,
    /// `service_name`.
    pub name: String,
    /// `description`, when given.
    pub description: Option<String>,
    /// `group`, when given.
    pub group: Option<String>,
}

/// A calendar day in the city's time zone, as a day number since 1970-01-01.
///
/// A plain integer keeps the aggregation compact and makes day arithmetic trivial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub i32);

impl Day {
    const EPOCH: Date = jiff::civil::date(1970, 1, 1);

    /// The day of a civil date.
    pub fn from_date(date: Date) -> Day {
        // Civil dates of the supported range (years -9999..=9999) always fit in i32 days.
        let days = date
            .since(Self::EPOCH)
            .map(|span| span.get_days())
            .unwrap_or(0);
        Day(days)
    }

    /// The civil date of this day.
    pub fn date(self) -> Date {
        Self::EPOCH
            .checked_add(jiff::Span::new().days(i64::from(self.0)))
            .unwrap_or(Self::EPOCH)
    }

    /// The city-local day of an instant.
    pub fn of_instant(seconds: UnixSeconds, tz: &TimeZone) -> Day {
        match jiff::Timestamp::from_second(seconds) {
            Ok(ts) => Day::from_date(ts.to_zoned(tz.clone()).date()),
            Err(_) => Day(0),
        }
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        text.parse::<Date>().ok().map(Day::from_date)
    }

    /// The Monday that starts this day's week (weeks run Monday–Sunday).
    pub fn week_start(self) -> Day {
        Day(self.0 - self.weekday_index() as i32)
    }

    /// 0 for Monday … 6 for Sunday.
    pub fn weekday_index(self) -> usize {
        // 1970-01-01 was a Thursday (index 3).
        (self.0 + 3).rem_euclid(7) as usize
    }

    /// "Monday" … "Sunday".
    pub fn weekday_name(self) -> &'static str {
        WEEKDAY_NAMES[self.weekday_index()]
    }

    /// The weekday.
    pub fn weekday(self) -> Weekday {
        self.date().weekday()
    }

    /// `n` days later (or earlier when negative).
    pub fn plus(self, n: i32) -> Day {
        Day(self.0 + n)
    }
}

impl fmt::Display for Day {
    /// `YYYY-MM-DD`, the form used in every URL and file name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date();
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

/// Weekday names, Monday first (weeks run Monday–Sunday).
pub const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Turns a display name into a URL slug: lower case ASCII letters and digits joined by `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if slug.is_empty() {
        slug.push_str("unnamed");
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_round_trips_and_knows_its_week() {
        let day = Day::parse("2021-01-01").unwrap();
        assert_eq!(day.to_string(), "2021-01-01");
        assert_eq!(day.weekday(), Weekday::Friday);
        assert_eq!(day.weekday_index(), 4);
        assert_eq!(day.week_start().to_string(), "2020-12-28");
        assert_eq!(
            Day::parse("2020-12-28").unwrap().week_start().to_string(),
            "2020-12-28"
        );
        assert_eq!(Day::parse("1969-12-31").unwrap().to_string(), "1969-12-31");
        assert_eq!(Day::parse("1969-12-31").unwrap().weekday_index(), 2);
    }

    #[test]
    fn instants_fall_on_city_local_days() {
        let tz = TimeZone::get("America/Chicago").unwrap();
        // 2021-01-01T05:30:00Z is 23:30 on Dec 31 in Chicago.
        let ts = jiff::Timestamp::from_second(1_609_479_000).unwrap();
        assert_eq!(ts.to_string(), "2021-01-01T05:30:00Z");
        assert_eq!(
            Day::of_instant(1_609_479_000, &tz).to_string(),
            "2020-12-31"
        );
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            slugify("Snow – Uncleared Sidewalk Complaint"),
            "snow-uncleared-sidewalk-complaint"
        );
        assert_eq!(
            slugify("Air Cond./Refrigeration Violation"),
            "air-cond-refrigeration-violation"
        );
        assert_eq!(slugify("<script>"), "script");
        assert_eq!(slugify("!!!"), "unnamed");
    }
}

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

/// The words a city uses for its districts ("ward"/"wards", "district"/"districts"), for
/// sentences and for addresses (`ward/12/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terms {
    /// Lower case, singular: "ward"; also the URL segment.
    pub one: String,
    /// Lower case, plural: "wards".
    pub many: String,
    /// Capitalised singular: "Ward".
    #[serde(rename = "One")]
    pub one_title: String,
    /// Capitalised plural: "Wards".
    #[serde(rename = "Many")]
    pub many_title: String,
}

impl Terms {
    /// Terms for `name`, with `plural` or `name` + "s".
    pub fn new(name: &str, plural: Option<&str>) -> Terms {
        let many = plural.map_or_else(|| format!("{name}s"), str::to_string);
        Terms {
            one_title: capitalise(name),
            many_title: capitalise(&many),
            one: name.to_string(),
            many,
        }
    }

    /// The terms of the build in progress. A process builds one city at a time; the pipeline
    /// sets them from the config ([`Terms::install`]) before rendering, and every page, chart
    /// and address reads them here rather than each carrying a copy. "ward" until set.
    pub fn current() -> std::sync::Arc<Terms> {
        TERMS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| std::sync::Arc::new(Terms::new("ward", None)))
    }

    /// Makes these the terms of the build in progress.
    pub fn install(self) {
        *TERMS.write().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(self));
    }

    /// "Ward 12".
    pub fn named(&self, n: WardNo) -> String {
        format!("{} {n}", self.one_title)
    }

    /// Whether these are Chicago's words, in which files need no rewording.
    pub fn is_ward(&self) -> bool {
        self.one == "ward" && self.many == "wards"
    }

    /// A data file's key in the city's words: each `_`-separated `ward` or `wards` becomes the
    /// city's word (`ward` → `district`, `by_ward` → `by_district`); `None` when unchanged.
    pub fn reword_key(&self, key: &str) -> Option<String> {
        if self.is_ward() || !key.contains("ward") {
            return None;
        }
        let words: Vec<&str> = key
            .split('_')
            .map(|w| match w {
                "ward" => self.one.as_str(),
                "wards" => self.many.as_str(),
                other => other,
            })
            .collect();
        let reworded = words.join("_");
        (reworded != key).then_some(reworded)
    }

    /// A JSON document with every object key reworded by [`Terms::reword_key`].
    pub fn reword_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.reword_key(&k).unwrap_or(k), self.reword_json(v)))
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.reword_json(v)).collect())
            }
            // Values (a chart column's `key`, say) are data, except a column's key name, which
            // the caller rewords where it writes one.
            other => other,
        }
    }
}

static TERMS: std::sync::RwLock<Option<std::sync::Arc<Terms>>> = std::sync::RwLock::new(None);

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// Where a request's district came from, or why it has none. Kept with the request's facts so
/// that the status page can count and explain unassigned requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// The record's own district field (no location to compare it with).
    #[default]
    Record,
    /// The record's field, and its location lies in the same district.
    RecordAgrees,
    /// The record's field, but its location lies in another district (or in none).
    RecordDisagrees,
    /// Assigned by its location on the boundary map in force on the day it was opened.
    Location,
    /// Unassigned: no usable point.
    NoPoint,
    /// Unassigned: the point is one the city uses for "no location".
    Placeholder,
    /// Unassigned: the point lies outside every district.
    Outside,
    /// Unassigned: no district field and no boundary map to place it.
    NoMap,
}

impl Placement {
    /// Every placement, in the order of [`Placement::code`].
    pub const ALL: [Placement; 8] = [
        Placement::Record,
        Placement::RecordAgrees,
        Placement::RecordDisagrees,
        Placement::Location,
        Placement::NoPoint,
        Placement::Placeholder,
        Placement::Outside,
        Placement::NoMap,
    ];

    /// A number 0..=7 for storage.
    pub fn code(self) -> u8 {
        Placement::ALL.iter().position(|p| *p == self).unwrap_or(0) as u8
    }

    /// The placement stored as `code`.
    pub fn from_code(code: u8) -> Option<Placement> {
        Placement::ALL.get(usize::from(code)).copied()
    }
}

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
    /// A CSV export read through the config's column map (`import.columns`).
    Csv,
}

impl SourceKind {
    /// The lower-case name used in the store and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Open311 => "open311",
            SourceKind::Socrata => "socrata",
            SourceKind::Legacy => "legacy",
            SourceKind::Csv => "csv",
        }
    }

    /// Parses the name written by [`SourceKind::as_str`].
    pub fn parse(name: &str) -> Option<SourceKind> {
        match name {
            "open311" => Some(SourceKind::Open311),
            "socrata" => Some(SourceKind::Socrata),
            "legacy" => Some(SourceKind::Legacy),
            "csv" => Some(SourceKind::Csv),
            _ => None,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service request, normalised by the data rules (docs/ARCHITECTURE.md), with the raw record it
/// came from.
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
    /// Whether the status says the request is closed (the data rules, docs/ARCHITECTURE.md).
    pub is_closed: bool,
    /// When the request was made.
    pub requested_at: UnixSeconds,
    /// When the source last changed the record; the upsert keeps the newest.
    pub updated_at: Option<UnixSeconds>,
    /// When it was closed, by the data rules (docs/ARCHITECTURE.md); `None` while open.
    pub closed_at: Option<UnixSeconds>,
    /// Ward 1..=N, or `None` when the source's ward is missing or outside that range.
    pub ward: Option<WardNo>,
    /// Where `ward` came from, or why there is none (set by `Normalizer::place`).
    pub placement: Placement,
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
    /// `metadata`: the service has a definition (`services/{code}.json`) with attributes.
    #[serde(default)]
    pub metadata: bool,
}

/// One field a service's request form asks for: an attribute of its Open311 service
/// definition (`services/{code}.json`). All text is the city's, untrusted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceAttribute {
    /// `code`: the attribute's identifier.
    pub code: String,
    /// `description`: the question, or the information shown.
    pub description: String,
    /// `datatype`: `string`, `number`, `datetime`, `text`, `singlevaluelist`, `multivaluelist`.
    pub datatype: String,
    /// `datatype_description`, when given.
    pub datatype_description: Option<String>,
    /// `required`: a request cannot be made without it.
    pub required: bool,
    /// `variable`: the resident answers it (false: information only).
    pub variable: bool,
    /// `order`: where it comes on the form.
    pub order: Option<i64>,
    /// `values` of a list: (`key`, `name`).
    pub values: Vec<(String, String)>,
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

/// Turns instants into city-local days fast, for scans of millions of requests.
///
/// [`Day::of_instant`] asks the time zone database and does calendar arithmetic for every
/// instant; here each stretch of time with one UTC offset (between two transitions: months long)
/// is looked up once, and a day is then one addition and one division.
#[derive(Debug, Clone)]
pub struct DayClock {
    tz: TimeZone,
    /// Known stretches `[start, end)` with their offset in seconds, sorted and disjoint.
    spans: Vec<(UnixSeconds, UnixSeconds, i64)>,
    /// The stretch that answered last (instants often come in time order).
    last: usize,
}

impl DayClock {
    /// A clock for the city's time zone.
    pub fn new(tz: &TimeZone) -> DayClock {
        DayClock {
            tz: tz.clone(),
            spans: Vec::new(),
            last: 0,
        }
    }

    /// The city-local day of an instant; always equal to [`Day::of_instant`].
    pub fn day(&mut self, seconds: UnixSeconds) -> Day {
        // Far outside the span a time zone database describes, leave the answer to jiff.
        if !(-8_000_000_000..8_000_000_000).contains(&seconds) {
            return Day::of_instant(seconds, &self.tz);
        }
        let local = |offset: i64| Day((seconds + offset).div_euclid(86_400) as i32);
        if let Some(&(start, end, offset)) = self.spans.get(self.last)
            && start <= seconds
            && seconds < end
        {
            return local(offset);
        }
        let i = self.spans.partition_point(|s| s.1 <= seconds);
        if let Some(&(start, _, offset)) = self.spans.get(i)
            && start <= seconds
        {
            self.last = i;
            return local(offset);
        }
        let Ok(ts) = jiff::Timestamp::from_second(seconds) else {
            return Day::of_instant(seconds, &self.tz);
        };
        let offset = i64::from(self.tz.to_offset(ts).seconds());
        // The transitions around the instant bound the stretch with this offset. Should either
        // come out on the wrong side of the instant, answer exactly without remembering.
        let start = match jiff::Timestamp::from_second(seconds.saturating_add(1)) {
            Ok(next) => self
                .tz
                .preceding(next)
                .next()
                .map_or(UnixSeconds::MIN, |t| t.timestamp().as_second()),
            Err(_) => return Day::of_instant(seconds, &self.tz),
        };
        let end = self
            .tz
            .following(ts)
            .next()
            .map_or(UnixSeconds::MAX, |t| t.timestamp().as_second());
        if start > seconds || end <= seconds {
            return Day::of_instant(seconds, &self.tz);
        }
        self.spans.insert(i, (start, end, offset));
        self.last = i;
        local(offset)
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
    fn the_day_clock_agrees_with_the_time_zone_database() {
        // Chicago's DST changes (on the hour), Kathmandu's +05:45, Lord Howe's half-hour DST.
        for zone in [
            "America/Chicago",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "UTC",
        ] {
            let tz = TimeZone::get(zone).unwrap();
            let mut clock = DayClock::new(&tz);
            let mut instants: Vec<UnixSeconds> = Vec::new();
            // Every transition 1900–2040 and the seconds around it.
            let from = jiff::Timestamp::from_second(-2_208_988_800).unwrap();
            for t in tz
                .following(from)
                .take_while(|t| t.timestamp().as_second() < 2_208_988_800)
            {
                let at = t.timestamp().as_second();
                instants.extend([at - 86_400, at - 3_601, at - 1, at, at + 1, at + 3_599]);
            }
            // A pseudo-random scatter over 1900–2100, out of time order, and the extremes.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                instants.push((x % 6_311_390_400) as i64 - 2_208_988_800);
            }
            instants.extend([0, -1, i64::MIN, i64::MAX, 253_402_300_799, -377_705_116_800]);
            for at in instants {
                assert_eq!(clock.day(at), Day::of_instant(at, &tz), "{zone} at {at}");
            }
        }
    }

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

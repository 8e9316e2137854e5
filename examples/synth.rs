//! A synthetic Chicago: service requests with the shape of the real data, at any size, for the
//! benchmark (`benches/run.sh`). Not a user command.
//!
//! ```sh
//! cargo run --release --example synth -- --requests 1M --years 10 --seed 1 --format csv --out city.csv
//! cargo run --release --example synth -- --requests 1M --years 10 --store bench/store.sqlite
//! cargo run --release --example synth -- --requests 1M --years 10 --next-days 1 --out next-day.csv
//! ```
//!
//! The shape comes from `benches/calibration.json`, which `benches/calibrate.py` measures from the
//! real files in `data/` (service mix, ward mix, hour of day, channels, duplicate, cancel and
//! still-open shares and close times per type, addresses per ward, missing wards, photos) plus a few
//! written assumptions (weekday and seasonal rhythm). The output is the same for the same
//! arguments: one seeded SplitMix64 stream drives everything, consumed the same way whatever the
//! output, and records are streamed day by day, never held.
//!
//! Requests are spread over `--years` years ending on `--end`, exactly `--requests` of them, and
//! written as they stood at the end of that day: a request whose close time is later is still
//! `Open`. `--next-days K` writes instead what changed in the K days after `--end` (new requests,
//! and older ones that closed then), as a nightly fetch would bring it; the K days carry the same
//! daily volume as the rest.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use cwfy::domain::{Day, Request, SourceKind, UnixSeconds};
use cwfy::store::{Counts, Incoming, RawHeader, Store};
use jiff::tz::{Disambiguation, TimeZone};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The calibration, compiled in so the generator needs no file at run time.
const CALIBRATION: &str = include_str!("../benches/calibration.json");

/// The v6vf-nfxy CSV header, column for column as the data portal exports it.
const V6VF_HEADER: [&str; 37] = [
    "sr_number",
    "sr_type",
    "sr_short_code",
    "created_department",
    "owner_department",
    "status",
    "origin",
    "created_date",
    "last_modified_date",
    "closed_date",
    "street_address",
    "city",
    "state",
    "zip_code",
    "street_number",
    "street_direction",
    "street_name",
    "street_type",
    "duplicate",
    "legacy_record",
    "community_area",
    "ward",
    "electricity_grid",
    "police_sector",
    "police_district",
    "police_beat",
    "precinct",
    "created_hour",
    "created_day_of_week",
    "created_month",
    "x_coordinate",
    "y_coordinate",
    "latitude",
    "longitude",
    "location",
    "parent_sr_number",
    "electrical_district",
];

/// Records per store transaction (as `cwfy import`).
const BATCH: usize = 20_000;

/// Longest close time drawn, in days; the log-normal tails of a few types reach further.
const MAX_CLOSE_DAYS: f64 = 3_650.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The data portal's v6vf-nfxy CSV export.
    Csv,
    /// Open311 GeoReport v2 JSON, one request per line (Chicago's extensions included).
    Open311,
}

/// Writes a synthetic city's 311 requests (see the file's doc comment).
#[derive(Debug, Parser)]
#[command(name = "synth")]
struct Args {
    /// How many requests over the whole period: 10000, 10k, 1M, 2.5M…
    #[arg(long, value_parser = parse_count)]
    requests: u64,
    /// Years of history ending on --end.
    #[arg(long, default_value_t = 1)]
    years: u32,
    /// Seed of the random stream; the same seed and arguments give the same output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Last day of the period (YYYY-MM-DD).
    #[arg(long, default_value = "2025-12-31")]
    end: String,
    /// Output format (for --store: the format whose raw records are stored).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write what changed in the N days after --end instead of the period itself.
    #[arg(long, default_value_t = 0)]
    next_days: u32,
    /// Output file ("-" for standard output).
    #[arg(long, conflicts_with = "store", required_unless_present = "store")]
    out: Option<PathBuf>,
    /// Write straight into this cwfy store (SQLite) instead of a file.
    #[arg(long)]
    store: Option<PathBuf>,
}

fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim().replace('_', "");
    let (number, scale) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        _ => (t.as_str(), 1.0),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a count (e.g. 10000, 10k, 1M)"))?;
    if !n.is_finite() || (n * scale).round() < 1.0 {
        return Err(format!("{text:?}: give at least one request"));
    }
    Ok((n * scale).round() as u64)
}

// ----------------------------------------------------------------------------------------------
// Calibration

#[derive(Debug, Deserialize)]
struct Calibration {
    weekday_weights: Vec<f64>,
    hour_weights: Vec<f64>,
    channels: Vec<(String, f64)>,
    missing_ward_share: f64,
    photo_share: f64,
    ward_weights: Vec<f64>,
    place_columns: Vec<String>,
    places: HashMap<String, Vec<Vec<String>>>,
    services: Vec<ServiceCal>,
}

#[derive(Debug, Deserialize)]
struct ServiceCal {
    name: String,
    short_code: String,
    open311_code: String,
    weight: f64,
    season: Vec<f64>,
    duplicate_share: f64,
    cancel_share: f64,
    open_for_good_share: f64,
    instant_close_share: f64,
    close_days_log_mu: f64,
    close_days_log_sigma: f64,
    created_department: String,
    owner_department: String,
    #[serde(default)]
    pinned: Option<Pinned>,
    #[serde(default)]
    channels: Option<Vec<(String, f64)>>,
}

#[derive(Debug, Deserialize)]
struct Pinned {
    ward: u8,
    share: f64,
    place: Vec<String>,
}

/// An address with everything the portal writes beside it.
#[derive(Debug)]
struct Place {
    columns: HashMap<String, String>,
    lat: Option<f64>,
    long: Option<f64>,
    /// The coordinates as `cwfy import` reads them back from Open311 JSON: serde_json's default
    /// number parser may round the last digit differently from the CSV's text.
    open311_lat: Option<f64>,
    open311_long: Option<f64>,
}

impl Place {
    fn new(names: &[String], values: &[String]) -> Place {
        let columns: HashMap<String, String> =
            names.iter().cloned().zip(values.iter().cloned()).collect();
        let coord = |k: &str, limit: f64| {
            columns
                .get(k)
                .and_then(|v| cwfy::source::coordinate(v, limit))
        };
        let lat = coord("latitude", 90.0);
        let long = coord("longitude", 180.0);
        let through_json = |v: Option<f64>| {
            v.and_then(|v| serde_json::from_str::<f64>(&json!(v).to_string()).ok())
        };
        Place {
            open311_lat: through_json(lat),
            open311_long: through_json(long),
            lat,
            long,
            columns,
        }
    }

    fn get(&self, column: &str) -> &str {
        self.columns.get(column).map(String::as_str).unwrap_or("")
    }
}

/// Weighted choice by binary search over cumulative weights.
#[derive(Debug, Clone)]
struct Table {
    cumulative: Vec<f64>,
}

impl Table {
    fn new(weights: impl IntoIterator<Item = f64>) -> Table {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Table { cumulative }
    }

    fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    fn pick(&self, rng: &mut Rng) -> usize {
        let x = rng.f64() * self.total();
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

struct Service {
    cal: ServiceCal,
    pinned_place: Option<Place>,
    channels: Option<(Vec<String>, Table)>,
}

/// Everything the generator draws from, prepared once.
struct Model {
    services: Vec<Service>,
    /// Per month: the choice of service.
    service_by_month: Vec<Table>,
    /// Per month: the sum of seasonal weights (the month's relative volume).
    month_volume: Vec<f64>,
    weekday: Vec<f64>,
    hours: Table,
    channels: (Vec<String>, Table),
    wards: Table,
    places: Vec<Vec<Place>>,
    missing_ward_share: f64,
    photo_share: f64,
}

impl Model {
    fn load() -> Result<Model> {
        let cal: Calibration =
            serde_json::from_str(CALIBRATION).context("benches/calibration.json")?;
        if cal.weekday_weights.len() != 7 || cal.hour_weights.len() != 24 {
            bail!("benches/calibration.json: weekday_weights needs 7 values, hour_weights 24");
        }
        let mut places = Vec::new();
        for ward in 1..=cal.ward_weights.len() {
            let rows = cal
                .places
                .get(&ward.to_string())
                .map(Vec::as_slice)
                .unwrap_or_default();
            if rows.is_empty() {
                bail!("benches/calibration.json: no address for ward {ward}");
            }
            places.push(
                rows.iter()
                    .map(|r| Place::new(&cal.place_columns, r))
                    .collect(),
            );
        }
        let mix = |list: &[(String, f64)]| {
            (
                list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                Table::new(list.iter().map(|(_, w)| *w)),
            )
        };
        let channels = mix(&cal.channels);
        let place_columns = cal.place_columns.clone();
        let services: Vec<Service> = cal
            .services
            .into_iter()
            .map(|s| Service {
                pinned_place: s
                    .pinned
                    .as_ref()
                    .map(|p| Place::new(&place_columns, &p.place)),
                channels: s.channels.as_deref().map(mix),
                cal: s,
            })
            .collect();
        let service_by_month: Vec<Table> = (0..12)
            .map(|m| Table::new(services.iter().map(|s| s.cal.weight * s.cal.season[m])))
            .collect();
        let month_volume = service_by_month.iter().map(Table::total).collect();
        Ok(Model {
            service_by_month,
            month_volume,
            weekday: cal.weekday_weights,
            hours: Table::new(cal.hour_weights),
            channels,
            wards: Table::new(cal.ward_weights),
            places,
            missing_ward_share: cal.missing_ward_share,
            photo_share: cal.photo_share,
            services,
        })
    }

    /// The relative volume of a day: its weekday times its month.
    fn day_weight(&self, day: Day) -> f64 {
        self.weekday[day.weekday_index()] * self.month_volume[usize::from(civil(day.0).1) - 1]
    }
}

// ----------------------------------------------------------------------------------------------
// Randomness and calendar arithmetic

/// SplitMix64: tiny, fast, and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.f64();
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), by Hinnant's algorithm.
fn civil(days: i32) -> (i32, u8, u8) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// City-local wall-clock time, in seconds since 1970-01-01T00:00 local ("civil seconds").
type CivilSeconds = i64;

/// Turns civil seconds into instants as cwfy does for offset-less times (the earlier instant in
/// a repeated hour), caching the offset of every day without a clock change.
struct Clock {
    tz: TimeZone,
    fixed: HashMap<i32, Option<i32>>,
}

impl Clock {
    fn new(tz: TimeZone) -> Clock {
        Clock {
            tz,
            fixed: HashMap::new(),
        }
    }

    fn datetime(cs: CivilSeconds) -> jiff::civil::DateTime {
        let (y, m, d) = civil(cs.div_euclid(86_400) as i32);
        let s = cs.rem_euclid(86_400);
        jiff::civil::date(y as i16, m as i8, d as i8).at(
            (s / 3600) as i8,
            (s / 60 % 60) as i8,
            (s % 60) as i8,
            0,
        )
    }

    fn exact(&self, cs: CivilSeconds) -> jiff::Zoned {
        self.tz
            .to_ambiguous_zoned(Clock::datetime(cs))
            .disambiguate(Disambiguation::Earlier)
            .expect("every civil time of 1990–2100 has an instant")
    }

    /// The instant, and the wall-clock time and UTC offset it shows (which differ from `cs` only
    /// inside the hour skipped when clocks go forward).
    fn resolve(&mut self, cs: CivilSeconds) -> (UnixSeconds, CivilSeconds, i32) {
        let day = cs.div_euclid(86_400) as i32;
        let fixed = match self.fixed.get(&day) {
            Some(fixed) => *fixed,
            None => {
                let start = i64::from(day) * 86_400;
                let a = self.exact(start).offset().seconds();
                let b = self.exact(start + 86_399).offset().seconds();
                let fixed = (a == b).then_some(a);
                self.fixed.insert(day, fixed);
                fixed
            }
        };
        match fixed {
            Some(offset) => (cs - i64::from(offset), cs, offset),
            None => {
                let z = self.exact(cs);
                let offset = z.offset().seconds();
                let unix = z.timestamp().as_second();
                (unix, unix + i64::from(offset), offset)
            }
        }
    }
}

fn write_civil(out: &mut String, cs: CivilSeconds) {
    use std::fmt::Write as _;
    let (y, m, d) = civil(cs.div_euclid(86_400) as i32);
    let s = cs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// `2021-01-01T00:00:09.000` (the portal's offset-less local time).
fn portal_time(cs: CivilSeconds) -> String {
    let mut s = String::with_capacity(23);
    write_civil(&mut s, cs);
    s.push_str(".000");
    s
}

/// `2014-05-09T19:02:21-05:00` (Open311: local time with its offset).
fn open311_time(clock: &mut Clock, cs: CivilSeconds) -> String {
    use std::fmt::Write as _;
    let (_, shown, offset) = clock.resolve(cs);
    let mut s = String::with_capacity(25);
    write_civil(&mut s, shown);
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    let _ = write!(s, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    s
}

// ----------------------------------------------------------------------------------------------
// The city

/// One request's whole life, drawn once.
struct Life<'m> {
    id: String,
    service: &'m Service,
    created: CivilSeconds,
    /// When it closes (`None`: never).
    closes: Option<CivilSeconds>,
    canceled: bool,
    /// Ward, and the place it is at.
    ward: Option<u8>,
    place: &'m Place,
    duplicate: bool,
    parent: Option<String>,
    channel: &'m str,
    photo: bool,
}

/// How one record looks at a moment.
struct Snapshot {
    closed: bool,
    modified: CivilSeconds,
}

impl Life<'_> {
    fn at(&self, moment: CivilSeconds) -> Snapshot {
        match self.closes {
            Some(c) if c < moment => Snapshot {
                closed: true,
                modified: c,
            },
            _ => Snapshot {
                closed: false,
                modified: self.created,
            },
        }
    }
}

/// Draws every request of the period (and the `next_days` after it), day by day, in order, and
/// hands each to `emit`. The random stream is consumed the same way whatever is emitted.
fn simulate<'m>(
    model: &'m Model,
    args: &Args,
    mut emit: impl FnMut(&Life<'m>) -> Result<()>,
) -> Result<()> {
    let end = Day::parse(&args.end)
        .with_context(|| format!("--end {:?}: write a date as YYYY-MM-DD", args.end))?;
    if args.years == 0 {
        bail!("--years: give at least one year");
    }
    let start_date = end
        .date()
        .checked_sub(jiff::Span::new().years(i64::from(args.years)))
        .context("--years reaches before year 1")?;
    let start = Day::from_date(start_date).plus(1);
    let total_weight: f64 = (start.0..=end.0).map(|d| model.day_weight(Day(d))).sum();
    let per_weight = args.requests as f64 / total_weight;
    let last = end.plus(args.next_days as i32);

    let mut rng = Rng(args.seed ^ 0x00C1_7E5E_ED00_0311);
    let mut last_of_service: Vec<Option<String>> = vec![None; model.services.len()];
    let mut expected = 0.0f64;
    let mut made = 0u64;
    let mut year = i32::MIN;
    let mut seq = 0u64;
    let mut times = Vec::new();
    for d in start.0..=last.0 {
        let day = Day(d);
        let (y, m, _) = civil(d);
        if y != year {
            year = y;
            seq = 0;
        }
        expected += model.day_weight(day) * per_weight;
        let count = (expected.round() as u64).saturating_sub(made);
        made += count;

        times.clear();
        for _ in 0..count {
            let hour = model.hours.pick(&mut rng) as i64;
            times.push(hour * 3600 + rng.below(3600) as i64);
        }
        times.sort_unstable();
        let services = &model.service_by_month[usize::from(m) - 1];
        for &second in &times {
            seq += 1;
            let id = format!("SR{:02}-{seq:08}", y.rem_euclid(100));
            let si = services.pick(&mut rng);
            let service = &model.services[si];
            let cal = &service.cal;
            let created = i64::from(d) * 86_400 + second;

            let (ward, place) = match &cal.pinned {
                Some(p) if rng.chance(p.share) => (
                    Some(p.ward),
                    service.pinned_place.as_ref().expect("pinned place"),
                ),
                _ => {
                    let w = model.wards.pick(&mut rng);
                    let places = &model.places[w];
                    let place = &places[rng.below(places.len() as u64) as usize];
                    (Some(w as u8 + 1), place)
                }
            };
            let ward = if rng.chance(model.missing_ward_share) {
                None
            } else {
                ward
            };
            let duplicate = rng.chance(cal.duplicate_share);
            let parent = if duplicate {
                last_of_service[si].clone()
            } else {
                None
            };
            let channel = match &service.channels {
                Some((names, table)) => &names[table.pick(&mut rng)],
                None => &model.channels.0[model.channels.1.pick(&mut rng)],
            };
            let never = rng.chance(cal.open_for_good_share);
            let instant = rng.chance(cal.instant_close_share);
            let z = rng.normal();
            let canceled = rng.chance(cal.cancel_share);
            let photo = rng.chance(model.photo_share);
            let closes = if never {
                None
            } else if instant {
                Some(created)
            } else {
                let days = (cal.close_days_log_mu + cal.close_days_log_sigma * z)
                    .exp()
                    .min(MAX_CLOSE_DAYS);
                Some(created + (days * 86_400.0).round() as i64)
            };
            if !duplicate {
                last_of_service[si] = Some(id.clone());
            }
            emit(&Life {
                id,
                service,
                created,
                closes,
                canceled,
                ward,
                place,
                duplicate,
                parent,
                channel,
                photo,
            })?;
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Records

/// Sunday = 1 … Saturday = 7, as the portal's `created_day_of_week`.
fn portal_weekday(day: Day) -> usize {
    (day.weekday_index() + 1) % 7 + 1
}

/// The v6vf-nfxy row of a request at a moment.
fn csv_row(life: &Life, snap: &Snapshot) -> Vec<String> {
    let cal = &life.service.cal;
    let p = life.place;
    let day = Day(life.created.div_euclid(86_400) as i32);
    let location = match (p.lat, p.long) {
        (Some(_), Some(_)) => format!(
            "{{'latitude': '{}', 'longitude': '{}', 'human_address': '{{\"address\": \"\", \"city\": \"\", \"state\": \"\", \"zip\": \"\"}}'}}",
            p.get("latitude"),
            p.get("longitude")
        ),
        _ => String::new(),
    };
    let status = match (snap.closed, life.canceled) {
        (false, _) => "Open",
        (true, false) => "Completed",
        (true, true) => "Canceled",
    };
    V6VF_HEADER
        .iter()
        .map(|&column| match column {
            "sr_number" => life.id.clone(),
            "sr_type" => cal.name.clone(),
            "sr_short_code" => cal.short_code.clone(),
            "created_department" => cal.created_department.clone(),
            "owner_department" => cal.owner_department.clone(),
            "status" => status.to_string(),
            "origin" => life.channel.to_string(),
            "created_date" => portal_time(life.created),
            "last_modified_date" => portal_time(snap.modified),
            "closed_date" => match (snap.closed, life.closes) {
                (true, Some(c)) => portal_time(c),
                _ => String::new(),
            },
            "city" => "Chicago".into(),
            "state" => "Illinois".into(),
            "duplicate" => if life.duplicate { "True" } else { "False" }.into(),
            "legacy_record" => "False".into(),
            "ward" => life.ward.map(|w| w.to_string()).unwrap_or_default(),
            "created_hour" => (life.created.rem_euclid(86_400) / 3600).to_string(),
            "created_day_of_week" => portal_weekday(day).to_string(),
            "created_month" => civil(day.0).1.to_string(),
            "location" => location.clone(),
            "parent_sr_number" => life.parent.clone().unwrap_or_default(),
            other => p.get(other).to_string(),
        })
        .collect()
}

/// Open311 channel names for the portal's `origin` values.
fn open311_channel(origin: &str) -> &str {
    match origin {
        "Phone Call" => "phone",
        "Internet" => "web",
        "Mobile Device" => "mobile",
        "Mass Entry" => "mass entry",
        other => other,
    }
}

/// The Open311 record of a request at a moment, as JSON.
fn open311_value(life: &Life, snap: &Snapshot, clock: &mut Clock) -> Value {
    let cal = &life.service.cal;
    let p = life.place;
    let mut ext = Map::new();
    ext.insert("channel".into(), json!(open311_channel(life.channel)));
    if let Some(w) = life.ward {
        ext.insert("ward".into(), json!(w.to_string()));
    }
    if !p.get("police_district").is_empty() {
        ext.insert("police_district".into(), json!(p.get("police_district")));
    }
    if !p.get("zip_code").is_empty() {
        ext.insert("zip".into(), json!(p.get("zip_code")));
    }
    ext.insert("duplicate".into(), json!(life.duplicate));
    if let Some(parent) = &life.parent {
        ext.insert("parent_service_request_id".into(), json!(parent));
    }
    let opened = open311_time(clock, life.created);
    let mut notes =
        vec![json!({"datetime": opened, "summary": "Request opened", "type": "opened"})];
    if let (true, Some(c)) = (snap.closed, life.closes) {
        notes.push(json!({"datetime": open311_time(clock, c), "summary": "Request closed", "type": "closed"}));
    }
    let mut record = Map::new();
    record.insert("service_request_id".into(), json!(life.id));
    record.insert(
        "status".into(),
        json!(if snap.closed { "closed" } else { "open" }),
    );
    record.insert("service_name".into(), json!(cal.name));
    record.insert("service_code".into(), json!(cal.open311_code));
    record.insert("agency_responsible".into(), json!(cal.owner_department));
    record.insert("requested_datetime".into(), json!(opened));
    record.insert(
        "updated_datetime".into(),
        json!(open311_time(clock, snap.modified)),
    );
    record.insert("address".into(), json!(p.get("street_address")));
    if let (Some(lat), Some(long)) = (p.lat, p.long) {
        record.insert("lat".into(), json!(lat));
        record.insert("long".into(), json!(long));
    }
    if life.photo {
        record.insert(
            "media_url".into(),
            json!(format!(
                "https://311.chicago.gov/media/synthetic/{}.jpg",
                life.id
            )),
        );
    }
    record.insert("extended_attributes".into(), Value::Object(ext));
    record.insert("notes".into(), Value::Array(notes));
    Value::Object(record)
}

/// The [`Request`] `cwfy import` makes of the same record, built directly.
fn request(
    life: &Life,
    snap: &Snapshot,
    format: Format,
    raw: String,
    clock: &mut Clock,
) -> Request {
    let cal = &life.service.cal;
    let closed_at = match (snap.closed, life.closes) {
        (true, Some(c)) => Some(clock.resolve(c).0),
        _ => None,
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let p = life.place;
    let (lat, long) = match format {
        Format::Csv => (p.lat, p.long),
        Format::Open311 => (p.open311_lat, p.open311_long),
    };
    let (service_code, channel, status, source, media_url) = match format {
        Format::Csv => (
            non_empty(&cal.short_code),
            life.channel.to_string(),
            match (snap.closed, life.canceled) {
                (false, _) => "Open",
                (true, false) => "Completed",
                (true, true) => "Canceled",
            },
            SourceKind::Socrata,
            None,
        ),
        Format::Open311 => (
            non_empty(&cal.open311_code),
            open311_channel(life.channel).to_string(),
            if snap.closed { "closed" } else { "open" },
            SourceKind::Open311,
            life.photo
                .then(|| format!("https://311.chicago.gov/media/synthetic/{}.jpg", life.id)),
        ),
    };
    Request {
        id: life.id.clone(),
        service_code,
        service_name: cal.name.clone(),
        status: status.to_string(),
        is_closed: closed_at.is_some(),
        requested_at: clock.resolve(life.created).0,
        updated_at: Some(clock.resolve(snap.modified).0),
        closed_at,
        ward: life.ward,
        // As the parsers make it, before placing (the generator writes the store directly; a
        // request without a ward reads back as "no map").
        placement: cwfy::domain::Placement::default(),
        duplicate: life.duplicate,
        parent_id: life.parent.clone(),
        lat,
        long,
        address: non_empty(life.place.get("street_address")),
        description: None,
        media_url,
        channel: Some(channel),
        source,
        raw,
    }
}

/// The CSV row as `cwfy import` stores it: a JSON array of its fields (named by the header).
fn csv_raw(row: &[String]) -> String {
    cwfy::source::socrata::raw_row(&csv::StringRecord::from(row.to_vec()))
}

// ----------------------------------------------------------------------------------------------
// Output

enum Sink {
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Lines(Box<dyn Write>),
    Store {
        store: Box<Store>,
        run: cwfy::store::RunId,
        batch: Vec<Incoming>,
        counts: Counts,
        /// The CSV header naming the fields of raw rows (none for Open311 records).
        header: Option<RawHeader>,
    },
}

impl Sink {
    fn open(args: &Args) -> Result<Sink> {
        if let Some(path) = &args.store {
            let store = Store::open(path).with_context(|| format!("{}", path.display()))?;
            let run = store.begin_run(
                "import",
                match args.format {
                    Format::Csv => "csv",
                    Format::Open311 => "open311",
                },
                &format!("synthetic city, seed {}", args.seed),
                None,
            )?;
            let header = match args.format {
                Format::Csv => Some(store.raw_header(V6VF_HEADER)?),
                Format::Open311 => None,
            };
            return Ok(Sink::Store {
                store: Box::new(store),
                run,
                batch: Vec::with_capacity(BATCH),
                counts: Counts::default(),
                header,
            });
        }
        let out = args.out.as_deref().unwrap_or(Path::new("-"));
        let writer: Box<dyn Write> = if out == Path::new("-") {
            Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
        } else {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            Box::new(BufWriter::with_capacity(1 << 20, file))
        };
        Ok(match args.format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(writer);
                w.write_record(V6VF_HEADER)?;
                Sink::Csv(Box::new(w))
            }
            Format::Open311 => Sink::Lines(writer),
        })
    }

    fn write(
        &mut self,
        life: &Life,
        snap: &Snapshot,
        format: Format,
        clock: &mut Clock,
    ) -> Result<()> {
        match self {
            Sink::Csv(w) => w.write_record(csv_row(life, snap))?,
            Sink::Lines(w) => {
                serde_json::to_writer(&mut *w, &open311_value(life, snap, clock))?;
                w.write_all(b"\n")?;
            }
            Sink::Store {
                store,
                run,
                batch,
                counts,
                header,
            } => {
                let raw = match format {
                    Format::Csv => csv_raw(&csv_row(life, snap)),
                    Format::Open311 => open311_value(life, snap, clock).to_string(),
                };
                batch.push(Incoming::Request {
                    request: Box::new(request(life, snap, format, raw, clock)),
                    notes: Vec::new(),
                    origin: "synthetic city".into(),
                    header: *header,
                });
                if batch.len() >= BATCH {
                    counts.add(store.write_batch(*run, batch)?);
                    batch.clear();
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Csv(mut w) => w.flush()?,
            Sink::Lines(mut w) => w.flush()?,
            Sink::Store {
                mut store,
                run,
                batch,
                mut counts,
                ..
            } => {
                counts.add(store.write_batch(run, &batch)?);
                store.finish_run(run, counts, 0, "ok", "")?;
            }
        }
        Ok(())
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let model = Model::load()?;
    let started = Instant::now();
    let tz = TimeZone::get("America/Chicago").context("the America/Chicago time zone")?;
    let mut clock = Clock::new(tz);
    let mut sink = Sink::open(&args)?;
    let end = Day::parse(&args.end)
        .with_context(|| format!("--end {:?}: write a date as YYYY-MM-DD", args.end))?;
    // Records are written as they stood at midnight after the last day generated; with
    // --next-days only those created or closed in those days.
    let moment = i64::from(end.plus(args.next_days as i32 + 1).0) * 86_400;
    let changed_from = (args.next_days > 0).then(|| i64::from(end.plus(1).0) * 86_400);
    let mut written = 0u64;
    simulate(&model, &args, |life| {
        let snap = life.at(moment);
        if let Some(from) = changed_from {
            let closed_lately = snap.closed && life.closes.is_some_and(|c| c >= from);
            if life.created < from && !closed_lately {
                return Ok(());
            }
        }
        written += 1;
        sink.write(life, &snap, args.format, &mut clock)
    })?;
    sink.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "synth: {written} records in {seconds:.1}s ({:.0}/s)",
        written as f64 / seconds.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cwfy::source::socrata::{CsvHeader, parse_csv_row};
    use cwfy::source::{Normalizer, Parsed, open311};

    fn args(requests: u64, years: u32, format: Format) -> Args {
        Args {
            requests,
            years,
            seed: 7,
            end: "2025-12-31".into(),
            format,
            next_days: 0,
            out: None,
            store: None,
        }
    }

    fn lives(a: &Args) -> Vec<(String, CivilSeconds, Option<CivilSeconds>)> {
        let model = Model::load().unwrap();
        let mut out = Vec::new();
        simulate(&model, a, |l| {
            out.push((l.id.clone(), l.created, l.closes));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn header_is_the_portal_layout() {
        let real = include_str!("../data/sample/sr-v6vf-nfxy-2021-01-01.csv");
        assert_eq!(real.lines().next().unwrap(), V6VF_HEADER.join(","));
    }

    #[test]
    fn counts_are_exact_and_the_stream_is_deterministic() {
        let a = args(5_000, 2, Format::Csv);
        let first = lives(&a);
        assert_eq!(first.len(), 5_000);
        assert_eq!(first, lives(&a));
        let mut other = args(5_000, 2, Format::Csv);
        other.seed = 8;
        assert_ne!(first, lives(&other));
        // Extra days leave the period itself untouched.
        let mut longer = args(5_000, 2, Format::Csv);
        longer.next_days = 3;
        let extended = lives(&longer);
        assert!(extended.len() > 5_000);
        assert_eq!(&extended[..5_000], &first[..]);
    }

    #[test]
    fn counts_parse_with_suffixes() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("2.5M"), Ok(2_500_000));
        assert_eq!(parse_count("1_000"), Ok(1_000));
        assert!(parse_count("lots").is_err());
        assert!(parse_count("0").is_err());
    }

    /// Every request built directly must equal what `cwfy import` makes of the record's text,
    /// over two years (so every clock change) and in both formats.
    #[test]
    fn direct_requests_equal_what_import_parses() {
        let tz = TimeZone::get("America/Chicago").unwrap();
        let n = Normalizer::new(tz.clone(), 50);
        let header = CsvHeader::new(&csv::StringRecord::from(V6VF_HEADER.to_vec()), None).unwrap();
        let model = Model::load().unwrap();
        for format in [Format::Csv, Format::Open311] {
            let a = args(20_000, 2, format);
            let moment = i64::from(Day::parse("2026-01-01").unwrap().0) * 86_400;
            let mut clock = Clock::new(tz.clone());
            let (mut closed, mut open, mut dups, mut unassigned) = (0, 0, 0, 0);
            simulate(&model, &a, |life| {
                let snap = life.at(moment);
                let (raw, parsed) = match format {
                    Format::Csv => {
                        let row = csv_row(life, &snap);
                        let parsed =
                            parse_csv_row(&header, &csv::StringRecord::from(row.clone()), &n);
                        (csv_raw(&row), parsed)
                    }
                    Format::Open311 => {
                        let raw = open311_value(life, &snap, &mut clock).to_string();
                        let parsed = open311::parse_record(&raw, &n);
                        (raw, parsed)
                    }
                };
                let direct = request(life, &snap, format, raw, &mut clock);
                match parsed {
                    Parsed::Request(parsed, notes) => {
                        assert!(notes.is_empty(), "{notes:?}");
                        assert_eq!(*parsed, direct);
                    }
                    other => panic!("{other:?}"),
                }
                closed += usize::from(direct.is_closed);
                open += usize::from(!direct.is_closed);
                dups += usize::from(direct.duplicate);
                unassigned += usize::from(direct.ward.is_none());
                Ok(())
            })
            .unwrap();
            assert!(
                closed > 15_000 && open > 100,
                "{closed} closed, {open} open"
            );
            assert!((200..2_000).contains(&dups), "{dups} duplicates");
            assert!(unassigned < 100, "{unassigned} unassigned");
        }
    }

    #[test]
    fn the_next_day_holds_new_requests_and_late_closes() {
        let model = Model::load().unwrap();
        let mut a = args(50_000, 1, Format::Csv);
        a.next_days = 1;
        let from = i64::from(Day::parse("2026-01-01").unwrap().0) * 86_400;
        let moment = from + 86_400;
        let (mut new, mut closed_late) = (0, 0);
        simulate(&model, &a, |life| {
            let snap = life.at(moment);
            if life.created >= from {
                new += 1;
                assert!(life.created < moment);
            } else if snap.closed && life.closes.unwrap() >= from {
                closed_late += 1;
            }
            Ok(())
        })
        .unwrap();
        // About a 365th of the year, and a good share of that closing what came before.
        assert!((80..250).contains(&new), "{new} new");
        assert!(closed_late > 20, "{closed_late} closed late");
    }
}

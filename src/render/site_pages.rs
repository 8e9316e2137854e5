//! The site's other pages: photos, data status, the data page, and the bulk CSV of daily counts.

use super::views::context_of;
use serde::Serialize;

use super::site::*;
use super::urls::{self, href};
use super::words::*;
use super::{PageMeta, RenderError};
use crate::aggregate::{Cell, ServiceIdx};
use crate::charts;
use crate::domain::{Day, Placement, WardNo};

impl Dash<'_, '_> {
    // ---------------------------------------------------------------- photos, status, data

    pub(super) fn misc_pages(&self) -> Result<(usize, usize), RenderError> {
        self.photos_page()?;
        self.status_page()?;
        self.data_page()?;
        Ok((3, 2))
    }

    /// `photos/`: the photos residents attached in the last 14 days of data.
    fn photos_page(&self) -> Result<(), RenderError> {
        let input = self.r.input;
        let tz = input.config.tz();
        let photos: Vec<PhotoView> = input
            .photos
            .iter()
            .map(|p| {
                let day = Day::of_instant(p.requested_at, tz);
                PhotoView {
                    id: &p.id,
                    service: &p.service_name,
                    ward: p.ward,
                    ward_href: p.ward.map(|w| href(&urls::ward(w))),
                    address: p.address.as_deref(),
                    url: &p.media_url,
                    date: day.to_string(),
                    label: long_date(day),
                    status: &p.status,
                }
            })
            .collect();
        let ctx = context_of(&PhotosPage {
            photos,
            since: self.range.map(|r| long_date(r.last.plus(-13))),
        });
        let meta = PageMeta {
            title: "Photos".into(),
            description:
                "Photos residents attached to their 311 requests in the last 14 days of data."
                    .into(),
            section: "photos".into(),
            image: None,
        };
        self.r.page("photos/", "photos.html", &meta, ctx)
    }

    /// `status/` and `api/v1/status.json`: how fresh and complete the data is.
    fn status_page(&self) -> Result<(), RenderError> {
        let m = self.m;
        let input = self.r.input;
        let tz = input.config.tz();
        let s = input.status;
        let fmt_ts = |t: Option<i64>| {
            t.and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| {
                    t.to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M %Z")
                        .to_string()
                })
        };
        let status = StatusApi {
            data_through: input.as_of.map(|d| d.to_string()),
            duplicates: m.totals.duplicates,
            excluded: m.totals.excluded,
            ignored_without_id: s.ignored_without_id,
            last_fetch: fmt_ts(s.last_run),
            last_successful_fetch: fmt_ts(s.last_fetch_ok),
            newest_request: fmt_ts(s.newest_request),
            placement: PlacementApi::of(&m.totals.placements),
            requests: s.requests,
            source: input.config.source.describe(),
            unassigned: m.totals.unassigned,
        };
        self.files.json("api/v1/status.json", &status)?;
        let ctx = context_of(&StatusPage {
            status: &status,
            extra: StatusExtra {
                rejected: s.rejected,
                cleaned: s.cleaned,
                counted: m.totals.counted,
                negative_durations: m.totals.negative_durations,
                oldest_request: fmt_ts(s.oldest_request),
                last_run_what: s.last_run_what.as_deref(),
                last_fetch_ok_from: s.last_fetch_ok_from.as_deref(),
                services: m.services.len(),
                disagreement: {
                    let p = &status.placement;
                    let checked = p.record_agrees_with_location + p.record_disagrees_with_location;
                    (checked > 0)
                        .then(|| crate::numbers::percent(p.record_disagrees_with_location, checked))
                },
            },
        });
        let meta = PageMeta {
            title: "Data status".into(),
            description: "How fresh and how complete the data behind this site is.".into(),
            section: "data".into(),
            image: None,
        };
        self.r.page("status/", "status.html", &meta, ctx)
    }

    /// `data/`: where every file is, and the bulk CSV of daily counts.
    fn data_page(&self) -> Result<(), RenderError> {
        let m = self.m;
        // Bulk CSV: every day × service × ward with activity over the day-page range. A unit
        // of its own: it changes only with the figures of those days, and remaking it was a
        // twentieth of a nightly rebuild at 10 M requests.
        let bulk_key = self
            .r
            .unit_key()
            .with("bulk csv")
            .with(&self.range.map(|r| (r.first_day.0, r.last.0)))
            .with(&self.range.map(|r| m.window_digest(r.first_day, r.last)))
            .finish();
        let bulk = self
            .r
            .unit("data/daily-counts.csv", bulk_key, || self.bulk_csv())?;
        let bulk_rows = match bulk.made {
            Some(rows) => rows,
            None => self.bulk_row_count(),
        };
        let bulk_all = self.r.out.contains(BULK_CSV);
        let bulk_years = self.bulk_csv_years()?;

        let ctx = context_of(&DataPage {
            range: self.range.map(|r| DataRange {
                first: r.first_day.to_string(),
                last: r.last.to_string(),
                first_week: r.first_week.to_string(),
                last_week: r.last_week.to_string(),
            }),
            example: self.range.map(|r| DataExample {
                day: r.last.to_string(),
                week: r.last_week.to_string(),
                slug: (m.services.iter().find(|s| s.featured)).map(|s| s.slug.as_str()),
                year: (m.service_ids())
                    .find_map(|s| {
                        let years = self.periods.service_years(s);
                        years.last().map(|y| (m.info(s).slug.as_str(), *y))
                    })
                    .map(|(slug, year)| DataYearExample { slug, year }),
            }),
            bulk_rows,
            bulk_all,
            bulk_years,
        });
        let meta = PageMeta {
            title: "Data and API".into(),
            description: "Download every number on this site as CSV or JSON, and how to use the static JSON API.".into(),
            section: "data".into(),
            image: None,
        };
        self.r.page("data/", "data.html", &meta, ctx)
    }
}

impl<'a> Dash<'_, 'a> {
    /// Every day × service × ward with activity from `from` to `to` (within the day-page
    /// range), in date, service and ward order: (day, service, ward, opened, closed).
    pub(super) fn bulk_cells(
        &self,
        from: Day,
        to: Day,
    ) -> Vec<(Day, ServiceIdx, WardNo, u32, u32)> {
        let mut bulk: Vec<_> = self
            .bulk_slices(from, to)
            .flat_map(|(sv, w, cells)| {
                cells
                    .iter()
                    .map(move |c| (c.day(), sv, w, c.opened, c.closed))
            })
            .collect();
        bulk.sort_unstable();
        bulk
    }

    /// How many rows the bulk CSV has over the whole day-page range, without gathering and
    /// sorting them.
    pub(super) fn bulk_row_count(&self) -> usize {
        let Some(range) = self.range else { return 0 };
        (self.bulk_slices(range.first_day, range.last))
            .map(|(_, _, cells)| cells.len())
            .sum()
    }

    /// Each (service, ward) pair's cells from `from` to `to`, pair by pair (none without a
    /// range).
    pub(super) fn bulk_slices(
        &self,
        from: Day,
        to: Day,
    ) -> impl Iterator<Item = (ServiceIdx, WardNo, &'a [Cell])> + '_ {
        let m = self.m;
        self.range.into_iter().flat_map(move |range| {
            let (from, to) = (from.max(range.first_day), to.min(range.last));
            m.service_ids()
                .flat_map(move |sv| (0..=m.wards).map(move |w| (sv, w)))
                .map(move |(sv, w)| (sv, w, m.cells(sv, w, from, to)))
        })
    }

    /// The bulk CSV of `cells`.
    fn bulk_csv_bytes(&self, cells: &[(Day, ServiceIdx, WardNo, u32, u32)]) -> Vec<u8> {
        let terms = crate::domain::Terms::current();
        let mut csv = charts::CsvRows::new(
            ["date", "service", terms.one.as_str(), "opened", "closed"],
            48 * (cells.len() + 1),
        );
        for (d, sv, ward, opened, closed) in cells {
            bulk_row(
                &mut csv,
                *d,
                &self.m.info(*sv).slug,
                *ward,
                *opened,
                *closed,
            );
        }
        csv.into_bytes()
    }

    /// Writes `data/daily-counts.csv` (see [`Dash::bulk_cells`]) over the whole range, unless
    /// it is bigger than a host takes one file (`site.budget.file_bytes`): then the files of
    /// each year are the download. Returns its row count.
    pub(super) fn bulk_csv(&self) -> Result<usize, RenderError> {
        let Some(range) = self.range else {
            return Ok(0);
        };
        let limit = self.r.input.config.site.budget.file_bytes;
        // The rows are counted cheaply; a file that cannot fit even at the smallest row size is
        // not gathered, sorted and formatted only to be dropped (104 MB of rows every night at
        // 10 M requests, since this unit changes with every new day).
        let rows = self.bulk_row_count();
        if bulk_cannot_fit(rows, limit.0) {
            tracing::info!(
                "{BULK_CSV} would have {rows} rows, at least {} (over site.budget.file_bytes, {limit}): written by year only, as data/daily-counts/YEAR.csv",
                crate::numbers::bytes(rows as u64 * MIN_BULK_ROW_BYTES)
            );
            return Ok(rows);
        }
        let bulk = self.bulk_cells(range.first_day, range.last);
        let bytes = self.bulk_csv_bytes(&bulk);
        if bytes.len() as u64 > limit.0 {
            tracing::info!(
                "{BULK_CSV} would be {} (over site.budget.file_bytes, {limit}): written by year only, as data/daily-counts/YEAR.csv",
                crate::numbers::bytes(bytes.len() as u64)
            );
        } else {
            self.r.out.write(BULK_CSV, &bytes)?;
        }
        Ok(bulk.len())
    }

    /// Writes `data/daily-counts/YEAR.csv` for each year of the range with data, each a unit
    /// of its own (a new day remakes its year's file only). Returns the years written.
    fn bulk_csv_years(&self) -> Result<Vec<BulkYear>, RenderError> {
        let Some(range) = self.range else {
            return Ok(Vec::new());
        };
        let mut years = Vec::new();
        for year in range.first_day.date().year()..=range.last.date().year() {
            let first = Day::from_date(jiff::civil::date(year, 1, 1)).max(range.first_day);
            let last = Day::from_date(jiff::civil::date(year, 12, 31)).min(range.last);
            let path = format!("data/daily-counts/{year}.csv");
            let key = (self.r.unit_key())
                .with("bulk csv year")
                .with(&(first.0, last.0))
                .with(&self.m.window_digest(first, last))
                .finish();
            self.r.unit(&path, key, || {
                let cells = self.bulk_cells(first, last);
                if !cells.is_empty() {
                    self.r.out.write(&path, &self.bulk_csv_bytes(&cells))?;
                }
                Ok(())
            })?;
            if self.r.out.contains(&path) {
                years.push(BulkYear {
                    year,
                    href: path.clone(),
                });
            }
        }
        Ok(years)
    }
}

/// The bulk CSV over the whole range (see [`Dash::bulk_csv`]).
const BULK_CSV: &str = "data/daily-counts.csv";

/// The fewest bytes a bulk CSV row takes: a date, a one-letter slug, the citywide ward (empty)
/// and two one-digit counts, `2021-01-01,a,,0,0` and its newline.
const MIN_BULK_ROW_BYTES: u64 = 18;

/// Whether a bulk CSV of `rows` rows is over `limit` bytes whatever its rows hold.
fn bulk_cannot_fit(rows: usize, limit: u64) -> bool {
    (rows as u64).saturating_mul(MIN_BULK_ROW_BYTES) > limit
}

/// Writes one bulk CSV row: date, service slug, ward (empty for the whole city), opened, closed.
fn bulk_row(
    csv: &mut charts::CsvRows,
    day: Day,
    slug: &str,
    ward: WardNo,
    opened: u32,
    closed: u32,
) {
    csv.field(day);
    csv.field(slug);
    if ward == 0 {
        csv.field("");
    } else {
        csv.field(ward);
    }
    csv.field(opened);
    csv.field(closed);
    csv.end_row();
}

/// A year's bulk CSV on the data page.
#[derive(Serialize)]
struct BulkYear {
    year: i16,
    href: String,
}

/// The photos page's template view (see `templates/photos.html`).
#[derive(Serialize)]
struct PhotosPage<'t> {
    photos: Vec<PhotoView<'t>>,
    /// The first day the photos come from, in words.
    since: Option<String>,
}

/// A request with a photo. All of it is the city's text.
#[derive(Serialize)]
struct PhotoView<'t> {
    id: &'t str,
    service: &'t str,
    ward: Option<WardNo>,
    ward_href: Option<String>,
    address: Option<&'t str>,
    /// The photo.
    url: &'t str,
    date: String,
    label: String,
    status: &'t str,
}

/// The status page's template view (see `templates/status.html`).
#[derive(Serialize)]
struct StatusPage<'t> {
    status: &'t StatusApi,
    extra: StatusExtra<'t>,
}

/// What the status page shows beyond `status.json`.
#[derive(Serialize)]
struct StatusExtra<'t> {
    rejected: u64,
    cleaned: u64,
    counted: u64,
    negative_durations: u64,
    oldest_request: Option<String>,
    last_run_what: Option<&'t str>,
    last_fetch_ok_from: Option<&'t str>,
    services: usize,
    /// The share of checked records whose district disagrees with their location ("4.2 %").
    disagreement: Option<String>,
}

/// `api/v1/status.json` (the JSON API, docs/ARCHITECTURE.md). Fields in alphabetical order (see
/// `views.rs`).
#[derive(Serialize)]
pub struct StatusApi {
    /// The last complete day the pages show.
    pub data_through: Option<String>,
    /// Duplicates stored, never counted.
    pub duplicates: u64,
    /// Requests of excluded types.
    pub excluded: u64,
    /// Records ignored for lack of an id.
    pub ignored_without_id: u64,
    /// When the last fetch or import finished.
    pub last_fetch: Option<String>,
    /// When the last fetch that completed every window finished.
    pub last_successful_fetch: Option<String>,
    /// The newest request's time.
    pub newest_request: Option<String>,
    /// Where counted requests' districts came from, or why they have none.
    pub placement: PlacementApi,
    /// Requests stored.
    pub requests: u64,
    /// The configured source, in words.
    pub source: String,
    /// Counted requests with no valid ward.
    pub unassigned: u64,
}

/// Where counted requests' districts came from (`status.json` `placement`), in alphabetical
/// order.
#[derive(Serialize)]
pub struct PlacementApi {
    /// Placed by location (no usable district in the record, or the config says to ignore it).
    pub by_location: u64,
    /// The record's district, with no location to check it against.
    pub by_record: u64,
    /// The record's district, and its location lies in the same one.
    pub record_agrees_with_location: u64,
    /// The record's district, but its location lies in another district or in none.
    pub record_disagrees_with_location: u64,
    /// Unassigned: no district field and no boundary map to place the request on.
    pub unassigned_no_map: u64,
    /// Unassigned: no usable point.
    pub unassigned_no_point: u64,
    /// Unassigned: the point lies outside every district.
    pub unassigned_outside: u64,
    /// Unassigned: the point is one the city uses for "no location".
    pub unassigned_placeholder: u64,
}

impl PlacementApi {
    fn of(counts: &[u64; 8]) -> PlacementApi {
        let n = |p: Placement| counts[usize::from(p.code())];
        PlacementApi {
            by_location: n(Placement::Location),
            by_record: n(Placement::Record),
            record_agrees_with_location: n(Placement::RecordAgrees),
            record_disagrees_with_location: n(Placement::RecordDisagrees),
            unassigned_no_map: n(Placement::NoMap),
            unassigned_no_point: n(Placement::NoPoint),
            unassigned_outside: n(Placement::Outside),
            unassigned_placeholder: n(Placement::Placeholder),
        }
    }
}

/// The data page's template view (see `templates/data.html`).
#[derive(Serialize)]
struct DataPage<'t> {
    range: Option<DataRange>,
    /// Names for the examples of the API's addresses.
    example: Option<DataExample<'t>>,
    bulk_rows: usize,
    /// Whether the bulk CSV over the whole range was written (it fits one file).
    bulk_all: bool,
    bulk_years: Vec<BulkYear>,
}

/// The days and weeks with pages.
#[derive(Serialize)]
struct DataRange {
    first: String,
    last: String,
    first_week: String,
    last_week: String,
}

/// A day, week and service the data page's examples use.
#[derive(Serialize)]
struct DataExample<'t> {
    day: String,
    week: String,
    /// A service with week pages.
    slug: Option<&'t str>,
    /// A service's year page, when some service has them.
    year: Option<DataYearExample<'t>>,
}

/// A service's year the data page's examples use.
#[derive(Serialize)]
struct DataYearExample<'t> {
    slug: &'t str,
    year: i16,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound the all-in-one CSV is skipped by holds: no row is shorter than
    /// `MIN_BULK_ROW_BYTES`, and the shortest is exactly that long.
    #[test]
    fn smallest_bulk_row_is_the_bound() {
        let header = ["date", "service", "ward", "opened", "closed"];
        let header_only = charts::CsvRows::new(header, 64).into_bytes().len();
        let row_bytes = |slug: &str, ward: WardNo, opened: u32, closed: u32| {
            let mut csv = charts::CsvRows::new(header, 64);
            let day = Day::from_date(jiff::civil::date(2021, 1, 1));
            bulk_row(&mut csv, day, slug, ward, opened, closed);
            (csv.into_bytes().len() - header_only) as u64
        };
        assert_eq!(row_bytes("a", 0, 0, 0), MIN_BULK_ROW_BYTES);
        assert!(row_bytes("a", 1, 0, 0) > MIN_BULK_ROW_BYTES);
        assert!(row_bytes("potholes", 50, 12, 3) > MIN_BULK_ROW_BYTES);
        assert!(!bulk_cannot_fit(1000, 18_000));
        assert!(bulk_cannot_fit(1001, 18_000));
        assert!(bulk_cannot_fit(usize::MAX, u64::MAX - 1));
    }
}

//! The dashboard's list of steps: which days and weeks get pages ([`Range`]), the page writers'
//! shared state ([`Dash`]), and [`render`], which makes the four page kinds side by side: day
//! pages (`day.rs`), ward pages (`ward.rs`, with the ward × service pages of `ward_service.rs`),
//! service pages (`service.rs`) and the site's other pages (`site_pages.rs`).
//!
//! Each page is built from [`Metrics`] queries into a plain context, rendered through its
//! template, and written with its data files (the static JSON API, a CSV beside every table).
//! Pages are independent, so they render in parallel.

use std::collections::HashMap;

use serde::Serialize;
use tera::Context;

use super::{PageMeta, RenderError, Renderer};
use crate::aggregate::{Metrics, Ranking, ServiceIdx, WindowStats};
use crate::charts;
use crate::domain::{Day, WardNo};
use crate::publish::UnitOutcome;

/// What the dashboard wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashReport {
    /// HTML pages.
    pub pages: usize,
    /// Data files.
    pub files: usize,
}

/// The span of days and weeks that get pages: from the first day of data (or the `history:`
/// limits, when set) to the latest. Which of them have pages is [`Periods`]'s answer.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The last complete day.
    pub last: Day,
    /// The first day that may have a page.
    pub first_day: Day,
    /// Monday of the first week that may have pages.
    pub first_week: Day,
    /// Monday of the last week (the one holding `last`).
    pub last_week: Day,
}

impl Range {
    /// The range for a build as of `last`, counting back `days` and `weeks` when limited.
    pub fn new(metrics: &Metrics, last: Day, days: Option<u32>, weeks: Option<u32>) -> Range {
        let data_first = metrics.first_day.unwrap_or(last).min(last);
        let first_day = days.map_or(data_first, |n| {
            last.plus(-(n.max(1) as i32 - 1)).max(data_first)
        });
        let last_week = last.week_start();
        let first_week = weeks.map_or(data_first.week_start(), |n| {
            last_week
                .plus(-7 * (n.max(1) as i32 - 1))
                .max(data_first.week_start())
        });
        Range {
            last,
            first_day,
            first_week,
            last_week,
        }
    }

    /// The last day of the last complete week: `last` when it is a Sunday, else the Sunday
    /// before. Pages of whole weeks over all the data stop there, so a partial week never reads
    /// as a sudden drop (and those pages change once a week).
    pub fn last_sunday(&self) -> Day {
        self.last.plus(1).week_start().plus(-1)
    }

    /// The last day of a week that has data (the week holding `last` is cut at `last`).
    pub fn week_end(&self, monday: Day) -> Day {
        monday.plus(6).min(self.last.max(monday))
    }
}

/// The periods that have pages: every day on which a request was opened, and every week in
/// which a ward (for its week pages) or a service (for its) had a request opened or closed,
/// within the [`Range`]. The latest day and week always have pages: they are the home page and
/// each ward's and service's own page. Days and weeks without any data have none, so the gaps
/// in a store (the sample's years between extracts) cost nothing and link nowhere.
///
/// A featured service's week has a page of its own; any other service's week is a section of
/// its year page (`service/SLUG/YEAR/#week-MONDAY`). Two hundred service types a week for ten
/// years would be 100,000 pages, more than a static host takes; the year pages are 2,000.
#[derive(Debug, Default)]
pub struct Periods {
    days: Vec<Day>,
    /// Per ward, 1 first.
    ward_weeks: Vec<Vec<Day>>,
    /// Per service index: its weeks with data, whether they have pages or year sections.
    service_weeks: Vec<Vec<Day>>,
    /// Per service index: whether its weeks have pages of their own (featured services).
    weekly: Vec<bool>,
}

impl Periods {
    /// The periods of `range` that have data in `metrics`.
    pub fn new(metrics: &Metrics, range: Range) -> Periods {
        // Every list ends at or before `latest` (the days it was asked about end there).
        let with_latest = |mut list: Vec<Day>, latest: Day| {
            if list.last() != Some(&latest) {
                list.push(latest);
            }
            list
        };
        let (from, to) = (range.first_week, range.last);
        let weeks = |list: Vec<Day>| with_latest(list, range.last_week);
        Periods {
            days: with_latest(metrics.days_with_opened(range.first_day, to), range.last),
            ward_weeks: (1..=metrics.wards)
                .map(|w| weeks(metrics.ward_active_weeks(w, from, to)))
                .collect(),
            service_weeks: metrics
                .service_ids()
                .map(|s| weeks(metrics.service_active_weeks(s, from, to)))
                .collect(),
            weekly: metrics
                .service_ids()
                .map(|s| metrics.info(s).featured)
                .collect(),
        }
    }

    /// Days with a page, oldest first.
    pub fn days(&self) -> &[Day] {
        &self.days
    }

    /// Mondays of a ward's weeks with a page, oldest first.
    pub fn ward_weeks(&self, ward: WardNo) -> &[Day] {
        (usize::from(ward).checked_sub(1))
            .and_then(|i| self.ward_weeks.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// Mondays of a service's weeks with data (a page or a year page's section), oldest first.
    pub fn service_weeks(&self, s: ServiceIdx) -> &[Day] {
        self.service_weeks
            .get(usize::from(s))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether a service's weeks have pages of their own (else sections of its year pages).
    pub fn weekly(&self, s: ServiceIdx) -> bool {
        self.weekly.get(usize::from(s)).copied().unwrap_or(false)
    }

    /// The years of a service's year pages, oldest first: none for a service with week pages.
    pub fn service_years(&self, s: ServiceIdx) -> Vec<i16> {
        if self.weekly(s) {
            return Vec::new();
        }
        let mut years: Vec<i16> = (self.service_weeks(s).iter())
            .map(|monday| monday.date().year())
            .collect();
        years.dedup();
        years
    }

    /// The year pages before and after `year`.
    pub fn service_year_neighbours(&self, s: ServiceIdx, year: i16) -> (Option<i16>, Option<i16>) {
        let years = self.service_years(s);
        let before = years.partition_point(|y| *y < year);
        let after = years.partition_point(|y| *y <= year);
        (
            before.checked_sub(1).map(|i| years[i]),
            years.get(after).copied(),
        )
    }

    /// The link (relative to the site root) to where a service's week is shown: its week page,
    /// or its section of the year page. The week must be one of [`Periods::service_weeks`].
    pub fn service_week_link(&self, s: ServiceIdx, slug: &str, monday: Day) -> String {
        if self.weekly(s) {
            super::file_of(&super::urls::service_week(slug, monday))
        } else {
            let page = super::urls::service_year(slug, monday.date().year());
            format!(
                "{}#{}",
                super::file_of(&page),
                super::urls::week_anchor(monday)
            )
        }
    }

    /// Whether a day has a page.
    pub fn has_day(&self, day: Day) -> bool {
        self.days.binary_search(&day).is_ok()
    }

    /// Whether a ward's week has a page.
    pub fn has_ward_week(&self, ward: WardNo, monday: Day) -> bool {
        self.ward_weeks(ward).binary_search(&monday).is_ok()
    }

    /// Whether a service's week has data, so a page or a year page's section.
    pub fn has_service_week(&self, s: ServiceIdx, monday: Day) -> bool {
        self.service_weeks(s).binary_search(&monday).is_ok()
    }

    /// The day pages before and after `day`.
    pub fn day_neighbours(&self, day: Day) -> (Option<Day>, Option<Day>) {
        neighbours(&self.days, day)
    }

    /// A ward's week pages before and after the week of `monday`.
    pub fn ward_week_neighbours(&self, ward: WardNo, monday: Day) -> (Option<Day>, Option<Day>) {
        neighbours(self.ward_weeks(ward), monday)
    }

    /// A service's week pages before and after the week of `monday`.
    pub fn service_week_neighbours(
        &self,
        s: ServiceIdx,
        monday: Day,
    ) -> (Option<Day>, Option<Day>) {
        neighbours(self.service_weeks(s), monday)
    }
}

/// The entries of a sorted list just before and just after `at`.
fn neighbours(list: &[Day], at: Day) -> (Option<Day>, Option<Day>) {
    let before = list.partition_point(|d| *d < at);
    let after = list.partition_point(|d| *d <= at);
    (
        before.checked_sub(1).map(|i| list[i]),
        list.get(after).copied(),
    )
}

/// Writes a data file (JSON or CSV) and counts it.
pub(super) struct Files<'r, 'a> {
    pub(super) r: &'r Renderer<'a>,
}

impl Files<'_, '_> {
    /// Writes a JSON document, its keys in the city's words (`district` where Chicago's say
    /// `ward`).
    pub(super) fn json(&self, path: &str, value: &impl Serialize) -> Result<(), RenderError> {
        let terms = crate::domain::Terms::current();
        let bytes = if terms.is_ward() {
            serde_json::to_vec(value).unwrap_or_default()
        } else {
            let doc = serde_json::to_value(value).unwrap_or_default();
            serde_json::to_vec(&terms.reword_json(doc)).unwrap_or_default()
        };
        self.r.out.write(path, &bytes)?;
        Ok(())
    }

    pub(super) fn csv(
        &self,
        path: &str,
        header: &[&str],
        rows: &[Vec<String>],
    ) -> Result<(), RenderError> {
        let terms = crate::domain::Terms::current();
        let header: Vec<String> = (header.iter())
            .map(|h| terms.reword_key(h).unwrap_or_else(|| h.to_string()))
            .collect();
        let mut csv = charts::CsvRows::new(&header, 0);
        for row in rows {
            csv.row(row);
        }
        self.r.out.write(path, &csv.into_bytes())?;
        Ok(())
    }
}

/// A table of numbers on a page, with the CSV written beside it. Templates see its caption,
/// CSV path, row count and the table as HTML (see [`super::html_table`]).
/// Everything shared by the page writers.
pub(super) struct Dash<'r, 'a> {
    pub(super) r: &'r Renderer<'a>,
    pub(super) m: &'a Metrics,
    pub(super) range: Option<Range>,
    /// The days and weeks of `range` that have pages.
    pub(super) periods: Periods,
    pub(super) files: Files<'r, 'a>,
    /// Rankings of every service for every week with data, each made on first use: one is
    /// needed by 50 ward pages and one service page, so it is computed once; and a build that
    /// keeps those pages (a rebuild after one more day keeps nearly all) never computes it.
    pub(super) rankings: HashMap<(ServiceIdx, Day), std::sync::OnceLock<Ranking>>,
    /// Each service's citywide figures for every week of the whole history and in all, indexed
    /// by service: every ward × service page shows them beside the ward's, so they are computed
    /// once per service (on first use) rather than once per ward. (The city's time to close over
    /// all the data sorts every close of the service: at 10 M requests that was a fifth of the
    /// ward × service pages' time when done per ward.)
    pub(super) city_history: Vec<std::sync::OnceLock<CityHistory>>,
    /// Each service's citywide digest up to the last complete week (ward × service page keys).
    pub(super) city_digests: Vec<std::sync::OnceLock<u128>>,
    /// Every service's opened per ward on each day with a page (see `Dash::day_wards`).
    pub(super) day_wards: std::sync::OnceLock<crate::aggregate::DayWards>,
    /// Thread time spent on ward × service pages, in microseconds (they run inside the ward
    /// jobs; the build log reports them apart).
    pub(super) ward_service_micros: std::sync::atomic::AtomicU64,
}

/// A service's citywide figures for ward × service pages (see `Dash::city_history`).
pub(super) struct CityHistory {
    /// Each week from the first week with data to the last complete week.
    pub(super) weeks: Vec<WindowStats>,
    /// All the data up to the end of the last complete week.
    pub(super) all: WindowStats,
}

/// Renders every dashboard page and data file.
pub fn render(r: &Renderer) -> Result<DashReport, RenderError> {
    let m = r.input.metrics;
    let cfg = r.input.config;
    let range = r
        .input
        .as_of
        .map(|last| Range::new(m, last, cfg.history.days, cfg.history.weeks));
    let periods = range.map_or_else(Periods::default, |range| Periods::new(m, range));
    // Without a range, `periods` has no weeks and the map is empty.
    let rankings = (m.service_ids())
        .flat_map(|s| periods.service_weeks(s).iter().map(move |w| (s, *w)))
        .map(|key| (key, std::sync::OnceLock::new()))
        .collect();
    let d = Dash {
        r,
        m,
        range,
        periods,
        files: Files { r },
        rankings,
        city_history: m.service_ids().map(|_| Default::default()).collect(),
        city_digests: m.service_ids().map(|_| Default::default()).collect(),
        day_wards: Default::default(),
        ward_service_micros: Default::default(),
    };
    r.check_boundaries()?;
    // The four kinds of pages are made side by side: each kind's last jobs leave a core idle
    // until the next kind starts, and the other pages (bulk CSV, status) are one serial job.
    // Their files never overlap.
    let timed = |make: &(dyn Fn() -> Result<(usize, usize), RenderError> + Sync)| {
        let t = std::time::Instant::now();
        make().map(|counts| (counts, t.elapsed().as_secs_f64()))
    };
    let ((days, wards), (services, other)) = rayon::join(
        || rayon::join(|| timed(&|| d.day_pages()), || timed(&|| d.ward_pages())),
        || {
            rayon::join(
                || timed(&|| d.service_pages()),
                || timed(&|| d.misc_pages()),
            )
        },
    );
    let mut report = DashReport::default();
    let mut times = Vec::new();
    for (name, result) in [
        ("days", days),
        ("wards", wards),
        ("services", services),
        ("other", other),
    ] {
        let ((p, f), seconds) = result?;
        report.pages += p;
        report.files += f;
        times.push(format!("{name} {seconds:.2}"));
    }
    let ward_service = d
        .ward_service_micros
        .load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        "render times (s, side by side): {} (ward × service pages: {:.2} s of thread time)",
        times.join(", "),
        ward_service as f64 / 1e6
    );
    Ok(report)
}

/// Sums page and file counts of parallel jobs, stopping at the first error.
pub(super) fn sum_counts(
    results: Vec<Result<(usize, usize), RenderError>>,
) -> Result<(usize, usize), RenderError> {
    let mut total = (0, 0);
    for r in results {
        let (p, f) = r?;
        total.0 += p;
        total.1 += f;
    }
    Ok(total)
}

impl Dash<'_, '_> {
    /// The ranking of a service for the week starting `monday`.
    pub(super) fn ranking(&self, s: ServiceIdx, monday: Day) -> Ranking {
        let make = || self.m.ranking(s, monday, self.week_through(monday));
        match self.rankings.get(&(s, monday)) {
            Some(cell) => cell.get_or_init(make).clone(),
            None => make(),
        }
    }

    /// The periods one bundle of chart files holds (a month of days, a year of weeks, given
    /// as `periods` of `length` days): every one of them from the first day of data to the
    /// last, with data or not. A page kept from an earlier build (outside `history:`, or the
    /// latest period of its day, without data) links its view in the bundle; and the bundle
    /// depends on the data and the range alone, so a rebuild's equals a build's from scratch.
    /// Those whose pages this build makes (`made`) are always in.
    pub(super) fn bundle_periods(
        &self,
        made: &[Day],
        periods: impl Iterator<Item = Day>,
        length: i32,
    ) -> Vec<Day> {
        let (first, last) = (self.m.first_day, self.range.map(|r| r.last));
        let mut all: Vec<Day> = periods
            .filter(|d| {
                made.contains(d)
                    || (first.is_some_and(|f| d.plus(length - 1) >= f)
                        && last.is_some_and(|l| *d <= l))
            })
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Every service's opened per ward on each day with a page, made on first use: a rebuild
    /// that keeps every day page never needs it.
    pub(super) fn day_wards(&self) -> &crate::aggregate::DayWards {
        self.day_wards.get_or_init(|| match self.range {
            // From the first of the first day's month: the month's chart files show every day
            // of it (see Dash::bundle_periods).
            Some(range) => {
                let day_of_month = i32::from(range.first_day.date().day());
                self.m
                    .opened_by_day(range.first_day.plus(1 - day_of_month), range.last)
            }
            None => self.m.opened_by_day(Day(1), Day(0)),
        })
    }

    /// The last day a week's figures count: its Sunday, or the last day of data when the week
    /// is not over. Every figure of a week page (headline, sentences, tables, charts, JSON)
    /// counts the same days, the ones its "data through" line names.
    pub(super) fn week_through(&self, monday: Day) -> Day {
        self.range
            .map_or(monday.plus(6), |range| range.week_end(monday))
    }

    pub(super) fn featured(&self) -> Vec<ServiceIdx> {
        self.m
            .service_ids()
            .filter(|s| self.m.info(*s).featured)
            .collect()
    }

    pub(super) fn no_data(&self, url: &str, title: &str, section: &str) -> Result<(), RenderError> {
        let meta = PageMeta {
            title: title.to_string(),
            description: "There is no data in the store yet.".into(),
            section: section.into(),
            image: None,
        };
        self.r.page(url, "empty.html", &meta, Context::new())
    }
}

/// The page and file counts of a unit, made or kept (each file once, however often it was
/// written).
pub(super) fn counted<T>(outcome: UnitOutcome<T>) -> (usize, usize) {
    (outcome.pages, outcome.files)
}

/// A ranking's ranked wards as the TTC ranking chart takes them.
pub(super) fn ranked_wards(ranking: &Ranking) -> Vec<charts::RankedWard> {
    ranking
        .ranked
        .iter()
        .map(|r| charts::RankedWard {
            rank: r.rank,
            ward: r.ward,
            closed: r.closed,
            ttc_mean_days: r.ttc_mean_days,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        Day::parse(text).unwrap()
    }

    /// A featured service links its week pages; any other its year pages' rows, a year page
    /// per year of its weeks (the year of the Monday).
    #[test]
    fn weeks_of_services_that_are_not_featured_are_rows_of_year_pages() {
        let weeks = vec![day("2019-12-30"), day("2020-03-02"), day("2022-01-03")];
        let periods = Periods {
            service_weeks: vec![weeks.clone(), weeks],
            weekly: vec![true, false],
            ..Periods::default()
        };
        assert!(periods.service_years(0).is_empty());
        assert_eq!(
            periods.service_week_link(0, "potholes", day("2020-03-02")),
            "service/potholes/week/2020-03-02/index.html"
        );
        assert_eq!(periods.service_years(1), [2019, 2020, 2022]);
        assert_eq!(
            periods.service_week_link(1, "graffiti", day("2019-12-30")),
            "service/graffiti/2019/index.html#week-2019-12-30"
        );
        assert_eq!(
            periods.service_year_neighbours(1, 2020),
            (Some(2019), Some(2022))
        );
        assert_eq!(periods.service_year_neighbours(1, 2019), (None, Some(2020)));
        assert_eq!(periods.service_year_neighbours(1, 2022), (Some(2020), None));
    }
}

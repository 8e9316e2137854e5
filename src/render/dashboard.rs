//! The dashboard: day, ward, service, photos, status and data pages, the static JSON API
//! (SPEC §7), a CSV beside every table, and the ward feeds.
//!
//! Each page is built from [`Metrics`] queries into a plain context, rendered through its
//! template, and written with its data files. Pages are independent, so they render in parallel.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use tera::Context;

use super::{PageMeta, RenderError, Renderer, file_of, format_days, thousands, urlencode};
use crate::aggregate::{Cell, Metrics, Ranking, ServiceIdx, WindowStats};
use crate::charts::{self, maps};
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

/// Which days and weeks get pages.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The last complete day.
    pub last: Day,
    /// The first day with a page.
    pub first_day: Day,
    /// Monday of the first week with pages.
    pub first_week: Day,
    /// Monday of the last week (the one holding `last`).
    pub last_week: Day,
}

impl Range {
    /// The range for a build as of `last`.
    pub fn new(metrics: &Metrics, last: Day, days: u32, weeks: u32) -> Range {
        let data_first = metrics.first_day.unwrap_or(last).min(last);
        let first_day = last.plus(-(days.max(1) as i32 - 1)).max(data_first);
        let last_week = last.week_start();
        let first_week = last_week
            .plus(-7 * (weeks.max(1) as i32 - 1))
            .max(data_first.week_start());
        Range {
            last,
            first_day,
            first_week,
            last_week,
        }
    }

    /// Days with a page, oldest first.
    pub fn days(&self) -> impl Iterator<Item = Day> {
        (self.first_day.0..=self.last.0).map(Day)
    }

    /// Mondays of weeks with pages, oldest first.
    pub fn weeks(&self) -> impl Iterator<Item = Day> {
        (self.first_week.0..=self.last_week.0).step_by(7).map(Day)
    }

    /// Whether a day has a page.
    pub fn has_day(&self, d: Day) -> bool {
        d >= self.first_day && d <= self.last
    }

    /// Whether a week has pages.
    pub fn has_week(&self, monday: Day) -> bool {
        monday >= self.first_week && monday <= self.last_week
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

/// Page URLs, in one place so links and files always agree.
pub mod urls {
    use crate::domain::{Day, WardNo};

    /// `day/2021-01-01/`.
    pub fn day(d: Day) -> String {
        format!("day/{d}/")
    }
    /// `day/2021-01-01/potholes/`.
    pub fn day_service(d: Day, slug: &str) -> String {
        format!("day/{d}/{slug}/")
    }
    /// `ward/3/`.
    pub fn ward(w: WardNo) -> String {
        format!("ward/{w}/")
    }
    /// `ward/3/week/2020-12-28/`.
    pub fn ward_week(w: WardNo, monday: Day) -> String {
        format!("ward/{w}/week/{monday}/")
    }
    /// `ward/3/potholes/`.
    pub fn ward_service(w: WardNo, slug: &str) -> String {
        format!("ward/{w}/{slug}/")
    }
    /// `service/potholes/`.
    pub fn service(slug: &str) -> String {
        format!("service/{slug}/")
    }
    /// `service/potholes/week/2020-12-28/`.
    pub fn service_week(slug: &str, monday: Day) -> String {
        format!("service/{slug}/week/{monday}/")
    }
}

/// A link relative to the site root, or none when the target page is not built.
fn href(url: &str) -> String {
    file_of(url)
}

/// Writes a data file (JSON or CSV) and counts it.
struct Files<'r, 'a> {
    r: &'r Renderer<'a>,
}

impl Files<'_, '_> {
    fn json(&self, path: &str, value: &impl Serialize) -> Result<(), RenderError> {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.r.out.write(path, &bytes)?;
        Ok(())
    }

    fn csv(&self, path: &str, header: &[&str], rows: &[Vec<String>]) -> Result<(), RenderError> {
        let mut csv = charts::CsvRows::new(header, 0);
        for row in rows {
            csv.row(row);
        }
        self.r.out.write(path, &csv.into_bytes())?;
        Ok(())
    }
}

/// A table of numbers on a page, with the CSV written beside it. Templates see its caption,
/// CSV path, row count and the table as HTML (see [`super::html_table`]).
#[derive(Debug, Clone)]
pub struct Table {
    /// Caption.
    pub caption: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells (already formatted text).
    pub rows: Vec<Vec<String>>,
    /// The CSV file, relative to the site root.
    pub csv: String,
}

impl Serialize for Table {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut t = serializer.serialize_struct("Table", 4)?;
        t.serialize_field("caption", &self.caption)?;
        t.serialize_field("csv", &self.csv)?;
        t.serialize_field("row_count", &self.rows.len())?;
        t.serialize_field(
            "html",
            &super::blocks::hold(super::html_table(&self.caption, &self.header, &self.rows)),
        )?;
        t.end()
    }
}

impl Table {
    fn write(&self, files: &Files) -> Result<(), RenderError> {
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        files.csv(&self.csv, &header, &self.rows)
    }
}

fn opt_num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!((x * 1000.0).round() / 1000.0),
        _ => Value::Null,
    }
}

fn days_text(v: Option<f64>) -> String {
    v.map(format_days).unwrap_or_else(|| "—".into())
}

/// "1st", "2nd", "3rd", "11th", "22nd".
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A date as people read it: "Friday, January 1, 2021".
pub fn long_date(d: Day) -> String {
    let date = d.date();
    format!(
        "{}, {} {}, {}",
        weekday_name(d),
        month_name(date.month()),
        date.day(),
        date.year()
    )
}

/// "Jan 1".
pub fn short_date(d: Day) -> String {
    let date = d.date();
    format!("{} {}", &month_name(date.month())[..3], date.day())
}

fn month_name(m: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(m.clamp(1, 12) - 1) as usize]
}

/// "Monday" … "Sunday".
pub fn weekday_name(d: Day) -> &'static str {
    d.weekday_name()
}

/// The week's span as text: "December 28, 2020 – January 3, 2021".
pub fn week_label(monday: Day) -> String {
    let a = monday.date();
    let b = monday.plus(6).date();
    format!(
        "{} {}, {} – {} {}, {}",
        month_name(a.month()),
        a.day(),
        a.year(),
        month_name(b.month()),
        b.day(),
        b.year()
    )
}

/// Everything shared by the page writers.
struct Dash<'r, 'a> {
    r: &'r Renderer<'a>,
    m: &'a Metrics,
    range: Option<Range>,
    files: Files<'r, 'a>,
    /// Rankings of every service for every week with pages: each is needed by 50 ward pages and
    /// one service page, so they are computed once, up front, in parallel.
    rankings: HashMap<(ServiceIdx, Day), Ranking>,
    /// Each service's citywide figures for every week of the whole history and in all, indexed
    /// by service: every ward × service page shows them beside the ward's, so they are computed
    /// once per service (on first use) rather than once per ward. (The city's time to close over
    /// all the data sorts every close of the service: at 10 M requests that was a fifth of the
    /// ward × service pages' time when done per ward.)
    city_history: Vec<std::sync::OnceLock<CityHistory>>,
    /// Each service's citywide digest up to the last complete week (ward × service page keys).
    city_digests: Vec<std::sync::OnceLock<u128>>,
    /// Every service's opened per ward on each day with a page (see `Dash::day_wards`).
    day_wards: std::sync::OnceLock<crate::aggregate::DayWards>,
    /// Thread time spent on ward × service pages, in microseconds (they run inside the ward
    /// jobs; the build log reports them apart).
    ward_service_micros: std::sync::atomic::AtomicU64,
}

/// A service's citywide figures for ward × service pages (see `Dash::city_history`).
struct CityHistory {
    /// Each week from the first week with data to the last complete week.
    weeks: Vec<WindowStats>,
    /// All the data up to the end of the last complete week.
    all: WindowStats,
}

/// Renders every dashboard page and data file.
pub fn render(r: &Renderer) -> Result<DashReport, RenderError> {
    let m = r.input.metrics;
    let cfg = r.input.config;
    let range = r
        .input
        .as_of
        .map(|last| Range::new(m, last, cfg.history.days, cfg.history.weeks));
    let rankings = match range {
        Some(range) => {
            let jobs: Vec<(ServiceIdx, Day)> = m
                .service_ids()
                .flat_map(|s| range.weeks().map(move |w| (s, w)))
                .collect();
            jobs.into_par_iter()
                .map(|(s, w)| ((s, w), m.ranking(s, w, w.plus(6))))
                .collect()
        }
        None => HashMap::new(),
    };
    let d = Dash {
        r,
        m,
        range,
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
fn sum_counts(
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

/// The short comparison on a service card: "▲ 12% above average", "no baseline yet"….
fn versus(baseline: Option<crate::aggregate::Baseline>, pct: Option<i64>) -> String {
    match (baseline, pct) {
        (None, _) => "no baseline yet".into(),
        (Some(_), Some(p)) if p > 0 => format!("▲ {p}% above average"),
        (Some(_), Some(p)) if p < 0 => format!("▼ {}% below average", -p),
        (Some(_), Some(_)) => "at the average".into(),
        (Some(b), None) => format!("none in the previous {} days", b.days),
    }
}

/// The sentence that says how a count compares with its baseline.
fn baseline_sentence(
    count: u64,
    baseline: Option<crate::aggregate::Baseline>,
    pct: Option<i64>,
) -> String {
    let requests = if count == 1 { "request" } else { "requests" };
    match (baseline, pct) {
        (None, _) => format!(
            "{} {requests}; no baseline yet (no earlier days in the data).",
            thousands(count)
        ),
        (Some(b), _) if b.per_day == 0.0 => format!(
            "{} {requests}; none on the {} days before.",
            thousands(count),
            b.days
        ),
        (Some(b), Some(p)) if p > 0 => format!(
            "{} {requests}, {p}% above the average of {:.1} a day over the previous {} days.",
            thousands(count),
            b.per_day,
            b.days
        ),
        (Some(b), Some(p)) if p < 0 => format!(
            "{} {requests}, {}% below the average of {:.1} a day over the previous {} days.",
            thousands(count),
            -p,
            b.per_day,
            b.days
        ),
        (Some(b), _) => format!(
            "{} {requests}, the same as the average of {:.1} a day over the previous {} days.",
            thousands(count),
            b.per_day,
            b.days
        ),
    }
}

impl Dash<'_, '_> {
    /// The ranking of a service for the week starting `monday`.
    fn ranking(&self, s: ServiceIdx, monday: Day) -> Ranking {
        match self.rankings.get(&(s, monday)) {
            Some(r) => r.clone(),
            None => self.m.ranking(s, monday, monday.plus(6)),
        }
    }

    /// Every service's opened per ward on each day with a page, made on first use: a rebuild
    /// that keeps every day page never needs it.
    fn day_wards(&self) -> &crate::aggregate::DayWards {
        self.day_wards.get_or_init(|| match self.range {
            Some(range) => self.m.opened_by_day(range.first_day, range.last),
            None => self.m.opened_by_day(Day(1), Day(0)),
        })
    }

    fn featured(&self) -> Vec<ServiceIdx> {
        self.m
            .service_ids()
            .filter(|s| self.m.info(*s).featured)
            .collect()
    }

    fn no_data(&self, url: &str, title: &str, section: &str) -> Result<(), RenderError> {
        let meta = PageMeta {
            title: title.to_string(),
            description: "There is no data in the store yet.".into(),
            section: section.into(),
            image: None,
        };
        self.r.page(url, "empty.html", &meta, Context::new())
    }

    // ---------------------------------------------------------------- day pages

    fn day_pages(&self) -> Result<(usize, usize), RenderError> {
        let Some(range) = self.range else {
            self.no_data("", "No data yet", "home")?;
            return Ok((1, 0));
        };
        let days: Vec<Day> = range.days().collect();
        let results: Vec<_> = days.par_iter().map(|d| self.day_unit(range, *d)).collect();
        let mut total = sum_counts(results)?;
        // The home page is the latest day, with its default service.
        let mut ctx = self.day_context(range, range.last, None);
        // The home page's charts are also written at the site root, so a link to the latest
        // day's chart keeps pointing at the latest day.
        total.1 += self.day_charts(range.last, None, "", true, &mut ctx.context)?;
        let mut meta = self.day_meta(range.last, &ctx, "home");
        meta.image = Some(format!("{}card.png", urls::day(range.last)));
        self.r.page("", "day.html", &meta, ctx.context)?;
        total.0 += 1;
        Ok(total)
    }

    fn day_meta(&self, day: Day, ctx: &DayContext, section: &str) -> PageMeta {
        let chosen = ctx.chosen_name.clone().unwrap_or_default();
        PageMeta {
            title: format!("{} — 311 requests citywide", long_date(day)),
            description: format!(
                "311 service requests in {} on {}: {} in all{}",
                self.r.input.config.city.name,
                long_date(day),
                thousands(ctx.total),
                if chosen.is_empty() {
                    ".".to_string()
                } else {
                    format!("; {chosen}: {}", ctx.chosen_sentence)
                }
            ),
            section: section.into(),
            image: None,
        }
    }

    /// A day's pages and files, kept from the previous site while nothing they show changed:
    /// the figures of every day up to this one (counts, baselines, backlog), its neighbours.
    fn day_unit(&self, range: Range, day: Day) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let key = self
            .r
            .unit_key()
            .with("day")
            .with(&day.0)
            .with(&m.history_digest(day))
            .with(&m.first_day.map(|d| d.0))
            .with(&range.has_day(day.plus(-1)))
            .with(&range.has_day(day.plus(1)))
            .with(&(day == range.last));
        let done = self
            .r
            .unit(&urls::day(day), key.finish(), || self.day(range, day))?;
        Ok(counted(done))
    }

    fn day(&self, range: Range, day: Day) -> Result<(usize, usize), RenderError> {
        let mut pages = 0;
        let mut files = 0;
        let mut ctx = self.day_context(range, day, None);
        self.r.set_through(&mut ctx.context, Some(day));
        for t in &ctx.tables {
            t.write(&self.files)?;
            files += 1;
        }
        self.files
            .json(&format!("api/v1/days/{day}.json"), &ctx.api)?;
        files += 1;
        files += self.day_charts(day, None, &urls::day(day), false, &mut ctx.context)?;
        let card = self.day_card(day, ctx.total)?;
        files += 1;
        let mut meta = self.day_meta(day, &ctx, "home");
        meta.image = Some(card.clone());
        self.r
            .page(&urls::day(day), "day.html", &meta, ctx.context)?;
        pages += 1;
        for s in self.featured() {
            let mut ctx = self.day_context(range, day, Some(s));
            self.r.set_through(&mut ctx.context, Some(day));
            for t in ctx.tables.iter().skip(1) {
                t.write(&self.files)?;
                files += 1;
            }
            let slug = &self.m.info(s).slug;
            let url = urls::day_service(day, slug);
            files += self.day_charts(day, Some(s), &url, false, &mut ctx.context)?;
            let mut meta = self.day_meta(day, &ctx, "home");
            meta.image = Some(card.clone());
            self.r.page(&url, "day.html", &meta, ctx.context)?;
            pages += 1;
        }
        Ok((pages, files))
    }

    fn day_context(&self, range: Range, day: Day, chosen: Option<ServiceIdx>) -> DayContext {
        let explicit_choice = chosen.is_some();
        let m = self.m;
        let wards = m.wards;
        let featured = self.featured();
        let mut rows = Vec::new();
        let mut best: Option<(i64, ServiceIdx)> = None;
        for s in &featured {
            let count = m.city_opened(*s, day);
            let baseline = m.baseline(*s, day);
            let pct = baseline.and_then(|b| b.above_average_pct(count));
            if let Some(p) = pct
                && best.is_none_or(|(bp, _)| p > bp)
            {
                best = Some((p, *s));
            }
            rows.push((*s, count, baseline, pct));
        }
        let greatest = best.map(|(_, s)| s);
        // With no baseline to compare against, open on the busiest featured service.
        let busiest = rows
            .iter()
            .filter(|r| r.1 > 0)
            .max_by_key(|r| (r.1, std::cmp::Reverse(r.0)))
            .map(|r| r.0);
        let chosen = chosen
            .or(greatest)
            .or(busiest)
            .or(featured.first().copied());
        let day_url = urls::day(day);
        let services: Vec<Value> = rows
            .iter()
            .map(|(s, count, baseline, pct)| {
                let info = m.info(*s);
                json!({
                    "slug": info.slug,
                    "name": info.name,
                    "count": count,
                    "baseline": baseline.map(|b| format!("{:.1}", b.per_day)),
                    "baseline_days": baseline.map(|b| b.days).unwrap_or(0),
                    "pct": pct,
                    "above": pct.is_some_and(|p| p > 0),
                    "greatest": Some(*s) == greatest,
                    "chosen": Some(*s) == chosen,
                    "href": href(&urls::day_service(day, &info.slug)),
                    "sentence": baseline_sentence(*count, *baseline, *pct),
                    "versus": versus(*baseline, *pct),
                })
            })
            .collect();
        let total = m.total_opened(day, day);
        let unassigned = m.unassigned(day, day);
        let others: Vec<Value> = m
            .services_on(day)
            .into_iter()
            .filter(|s| !m.info(*s).featured)
            .map(|s| {
                let info = m.info(s);
                json!({"name": info.name, "count": m.city_opened(s, day), "href": href(&urls::service(&info.slug))})
            })
            .collect();

        let services_table = Table {
            caption: format!(
                "Featured services on {} against their baseline",
                long_date(day)
            ),
            header: vec![
                "Service".into(),
                "Requests".into(),
                "Baseline per day".into(),
                "Days in baseline".into(),
                "Above average %".into(),
            ],
            rows: rows
                .iter()
                .map(|(s, count, b, pct)| {
                    vec![
                        m.info(*s).name.clone(),
                        count.to_string(),
                        b.map(|b| format!("{:.2}", b.per_day)).unwrap_or_default(),
                        b.map(|b| b.days.to_string()).unwrap_or_default(),
                        pct.map(|p| p.to_string()).unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: format!("{day_url}services.csv"),
        };
        let mut tables = vec![services_table];
        let mut chosen_ctx = Value::Null;
        let mut chosen_name = None;
        let mut chosen_sentence = String::new();
        if let Some(c) = chosen {
            let info = m.info(c);
            let by_ward = self.day_wards().by_ward(c, day);
            let counts: Vec<(WardNo, u64)> =
                (1..=wards).map(|w| (w, by_ward[usize::from(w)])).collect();
            let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
            let busiest: Vec<WardNo> = counts
                .iter()
                .filter(|(_, n)| *n == max && max > 0)
                .map(|(w, _)| *w)
                .collect();
            let (_, count, baseline, pct) = rows.iter().find(|r| r.0 == c).copied().unwrap_or((
                c,
                m.city_opened(c, day),
                m.baseline(c, day),
                None,
            ));
            chosen_sentence = baseline_sentence(count, baseline, pct);
            chosen_name = Some(info.name.clone());
            let table = Table {
                caption: format!("{} requests by ward on {}", info.name, long_date(day)),
                header: vec!["Ward".into(), "Requests".into()],
                rows: counts
                    .iter()
                    .map(|(w, n)| vec![w.to_string(), n.to_string()])
                    .collect(),
                csv: format!("{}wards.csv", urls::day_service(day, &info.slug)),
            };
            let unassigned_service = by_ward[0];
            chosen_ctx = json!({
                "slug": info.slug,
                "name": info.name,
                "count": count,
                "sentence": chosen_sentence,
                "unassigned": unassigned_service,
                "busiest": busiest,
                "busiest_count": max,
                "wards": counts.iter().map(|(w, n)| json!({"ward": w, "count": n, "href": href(&urls::ward(*w))})).collect::<Vec<_>>(),
                "table": table,
                "service_href": href(&urls::service(&info.slug)),
            });
            tables.push(table);
        }
        let prev = day.plus(-1);
        let next = day.plus(1);
        let mut context = Context::new();
        context.insert("day", &json!({
            "date": day.to_string(),
            "label": long_date(day),
            "weekday": weekday_name(day),
            "total": total,
            "unassigned": unassigned,
            "prev": range.has_day(prev).then(|| json!({"href": href(&urls::day(prev)), "label": long_date(prev)})),
            "next": range.has_day(next).then(|| json!({"href": href(&urls::day(next)), "label": long_date(next)})),
            "is_latest": day == range.last,
            "before_data": m.first_day.is_none_or(|f| day < f),
        }));
        context.insert("services", &services);
        context.insert("others", &others);
        context.insert("chosen", &chosen_ctx);
        context.insert("services_table", &tables[0]);
        context.insert("api", &format!("api/v1/days/{day}.json"));

        // The API lists every service with a request that day, featured first. The variants of
        // the page for each service share the day's document, so only the default page makes it.
        let api = if explicit_choice {
            Value::Null
        } else {
            // The API lists every service with a request that day, featured first.
            let api_services: Vec<Value> = m
                .service_ids()
                .filter(|s| m.info(*s).featured || m.city_opened(*s, day) > 0)
                .map(|s| {
                    let count = m.city_opened(s, day);
                    let b = m.baseline(s, day);
                    let by_ward = self.day_wards().by_ward(s, day);
                    let ward_counts: BTreeMap<String, u64> = (1..=wards)
                        .map(|w| (w.to_string(), by_ward[usize::from(w)]))
                        .collect();
                    json!({
                        "slug": m.info(s).slug,
                        "opened": count,
                        "baseline": opt_num(b.map(|b| b.per_day)),
                        "baseline_days": b.map(|b| b.days).unwrap_or(0),
                        "above_average_pct": b.and_then(|b| b.above_average_pct(count)),
                        "wards": ward_counts,
                    })
                })
                .filter(|v| {
                    v["opened"].as_u64() > Some(0)
                        || v["slug"]
                            .as_str()
                            .is_some_and(|slug| m.service(slug).is_some_and(|s| m.info(s).featured))
                })
                .collect();
            let api = json!({"date": day.to_string(), "services": api_services, "unassigned": unassigned});
            api
        };
        DayContext {
            context,
            tables,
            api,
            total,
            chosen_name,
            chosen_sentence,
        }
    }

    // ---------------------------------------------------------------- ward pages

    fn ward_pages(&self) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let cfg = self.r.input.config;
        let offices = self.r.input.offices;
        // The ward index.
        let wards: Vec<Value> = (1..=m.wards)
            .map(|w| {
                let office = offices.get(&w);
                let week = self.range.map(|r| m.ward_days(w, r.last_week, r.last).iter().map(|(_, o, _)| o).sum::<u64>());
                json!({"ward": w, "alderman": office.map(|o| o.alderman.clone()), "href": href(&urls::ward(w)), "week_opened": week})
            })
            .collect();
        let mut ctx = Context::new();
        ctx.insert("wards", &wards);
        ctx.insert("week", &self.range.map(|r| json!({"label": week_label(r.last_week), "start": r.last_week.to_string(), "end": r.last.to_string()})));
        let table = Table {
            caption: "Wards and their aldermen".into(),
            header: vec![
                "Ward".into(),
                "Alderman".into(),
                "Requests this week".into(),
            ],
            rows: wards
                .iter()
                .map(|w| {
                    vec![
                        w["ward"].to_string(),
                        w["alderman"].as_str().unwrap_or("").to_string(),
                        w["week_opened"]
                            .as_u64()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: "ward/wards.csv".into(),
        };
        table.write(&self.files)?;
        ctx.insert("table", &table);
        let mut map_files = 0;
        if let Some((b, name)) = self.range.and_then(|r| self.r.boundaries_for(r.last)) {
            let map_wards: Vec<maps::MapWard> = wards
                .iter()
                .filter_map(|w| {
                    let ward = WardNo::try_from(w["ward"].as_u64()?).ok()?;
                    Some(maps::MapWard {
                        ward,
                        value: w["week_opened"].as_u64().unwrap_or(0),
                        href: ward_link("ward/", ward),
                        note: w["alderman"].as_str().map(|a| format!("Alderman {a}")),
                    })
                })
                .collect();
            let map = maps::choropleth(
                &b,
                "wards-map",
                "requests this week",
                "request",
                &name,
                &map_wards,
                maps::MapLabels::Ward,
            );
            let through = self.r.input.as_of;
            map_files = self.r.write_chart(&map, "ward/", through)?;
            ctx.insert(
                "wards_map",
                &self.r.chart_view(&map, "ward/", true, false, through),
            );
        }
        let meta = PageMeta {
            title: format!("The {} wards of {}", m.wards, cfg.city.name),
            description: format!(
                "311 service requests in each of {}'s {} wards, with their aldermen.",
                cfg.city.name, m.wards
            ),
            section: "ward".into(),
            image: None,
        };
        self.r.page("ward/", "ward_index.html", &meta, ctx)?;
        let Some(range) = self.range else {
            for w in 1..=m.wards {
                self.no_data(&urls::ward(w), &format!("Ward {w}"), "ward")?;
            }
            return Ok((1 + usize::from(m.wards), 1));
        };
        let results: Vec<_> = (1..=m.wards)
            .into_par_iter()
            .map(|w| self.ward(range, w))
            .collect();
        let (p, f) = sum_counts(results)?;
        Ok((p + 1, f + 1 + map_files))
    }

    fn ward(&self, range: Range, ward: WardNo) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let (mut pages, mut files) = self.ward_maps(range, ward)?;
        let mut feed_entries = Vec::new();
        // Every week page lists the ward's busiest days over all the data.
        let busiest: Vec<(i32, u64)> = m
            .ward_busiest_days(ward, 6)
            .into_iter()
            .map(|(d, n)| (d.0, n))
            .collect();
        for monday in range.weeks() {
            let sunday = monday.plus(6);
            let complete = sunday <= range.last;
            // A week page shows that week's figures (its rankings compare every ward, so the
            // whole city's week counts), the busiest days and its place in the range.
            let key = self
                .r
                .unit_key()
                .with("ward week")
                .with(&ward)
                .with(&monday.0)
                .with(&m.window_digest(monday, sunday))
                .with(&(!complete).then_some(range.last.0))
                .with(&range.has_week(monday.plus(-7)))
                .with(&range.has_week(monday.plus(7)))
                .with(&(monday == range.last_week))
                .with(&busiest);
            let done = self
                .r
                .unit(&urls::ward_week(ward, monday), key.finish(), || {
                    self.ward_week(range, ward, monday)
                })?;
            let (p, f) = counted(done);
            pages += p;
            files += f;
            let (opened, closed) = m
                .ward_days(ward, monday, sunday)
                .iter()
                .fold((0, 0), |(o, c), d| (o + d.1, c + d.2));
            feed_entries.push((
                monday,
                ward_week_summary(ward, monday, opened, closed, complete),
            ));
        }
        // Highs, per service, over the whole store.
        let services = self.m.services_in_ward(ward);
        let highs: BTreeMap<String, Vec<Value>> = services
            .iter()
            .map(|s| {
                let list = self
                    .m
                    .highs(*s, ward)
                    .into_iter()
                    .map(|(d, n)| json!({"date": d.to_string(), "count": n}))
                    .collect();
                (self.m.info(*s).slug.clone(), list)
            })
            .collect();
        self.files.json(
            &format!("api/v1/wards/{ward}/highs.json"),
            &json!({"ward": ward, "services": highs}),
        )?;
        files += 1;
        // Featured services get a page in every ward, even with no requests there: the ward's
        // week pages always list and link them.
        let mut with_pages = services;
        for s in self.featured() {
            if !with_pages.contains(&s) {
                with_pages.push(s);
            }
        }
        for s in with_pages {
            let t = std::time::Instant::now();
            let (p, f) = self.ward_service(range, ward, s)?;
            self.ward_service_micros.fetch_add(
                t.elapsed().as_micros() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            pages += p;
            files += f;
        }
        self.feed(ward, &feed_entries)?;
        files += 1;
        Ok((pages, files))
    }

    /// One week of a ward: its page (and, for the latest week, the ward's own page), tables,
    /// API document, charts and card.
    fn ward_week(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
    ) -> Result<(usize, usize), RenderError> {
        let (mut pages, mut files) = (0, 0);
        let through = Some(range.week_end(monday));
        let (mut ctx, api, tables, summary) = self.ward_week_context(range, ward, monday);
        self.r.set_through(&mut ctx, through);
        for t in &tables {
            t.write(&self.files)?;
            files += 1;
        }
        self.files
            .json(&format!("api/v1/wards/{ward}/weeks/{monday}.json"), &api)?;
        files += 1;
        let url = urls::ward_week(ward, monday);
        let latest = ctx.clone();
        files += self.ward_week_charts(range, ward, monday, &url, &mut ctx)?;
        let opened = api["days"].as_array().map_or(0, |d| {
            d.iter().filter_map(|d| d["opened"].as_u64()).sum::<u64>()
        });
        let closed = api["days"].as_array().map_or(0, |d| {
            d.iter().filter_map(|d| d["closed"].as_u64()).sum::<u64>()
        });
        // One card per ward, drawn for its latest week: a card per archived week would
        // multiply the build's slowest files for previews nobody asked for, so archived
        // weeks (and the ward × service pages) share the ward's card, which names its week.
        let card = format!("{}card.png", urls::ward(ward));
        if monday == range.last_week {
            self.r.card(
                &card,
                &format!("Ward {ward}, week of {}", week_label(monday)),
                &thousands(opened),
                &format!(
                    "311 requests opened; {} closed{}",
                    thousands(closed),
                    if monday.plus(6) > range.last {
                        " so far"
                    } else {
                        ""
                    }
                ),
                through,
            )?;
            files += 1;
        }
        let meta = PageMeta {
            title: format!("Ward {ward}, week of {}", short_date(monday)),
            description: summary,
            section: "ward".into(),
            image: Some(card),
        };
        self.r.page(&url, "ward_week.html", &meta, ctx)?;
        pages += 1;
        if monday == range.last_week {
            let mut latest = latest;
            let own = urls::ward(ward);
            files += self.ward_week_charts(range, ward, monday, &own, &mut latest)?;
            self.r.page(&own, "ward_week.html", &meta, latest)?;
            pages += 1;
        }
        Ok((pages, files))
    }

    fn ward_week_context(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
    ) -> (Context, Value, Vec<Table>, String) {
        let m = self.m;
        let sunday = monday.plus(6);
        let last = range.week_end(monday);
        let complete = sunday <= range.last;
        let days = m.ward_days(ward, monday, sunday);
        let opened: u64 = days.iter().map(|d| d.1).sum();
        let closed: u64 = days.iter().map(|d| d.2).sum();
        let base = urls::ward_week(ward, monday);
        let day_rows: Vec<Value> = days
            .iter()
            .map(|(d, o, c)| json!({"date": d.to_string(), "label": format!("{} {}", &weekday_name(*d)[..3], short_date(*d)), "opened": o, "closed": c, "future": *d > range.last}))
            .collect();
        let days_table = Table {
            caption: format!(
                "Requests opened and closed in Ward {ward} each day, week of {}",
                short_date(monday)
            ),
            header: vec!["Date".into(), "Opened".into(), "Closed".into()],
            rows: days
                .iter()
                .filter(|(d, _, _)| *d <= range.last)
                .map(|(d, o, c)| vec![d.to_string(), o.to_string(), c.to_string()])
                .collect(),
            csv: format!("{base}days.csv"),
        };

        // Each service with activity this week, featured always.
        let mut services = Vec::new();
        let mut api_services = Vec::new();
        let mut ranking_sentences = Vec::new();
        for s in m.service_ids() {
            let info = m.info(s);
            let stats = m.ward_window(s, ward, monday, sunday);
            if !info.featured && stats.opened == 0 && stats.closed == 0 {
                continue;
            }
            let ranking = self.ranking(s, monday);
            let rank = ranking.of(ward);
            let ttc = stats.ttc;
            api_services.push(json!({
                "slug": info.slug,
                "opened": stats.opened,
                "closed": stats.closed,
                "ttc_mean_days": opt_num(ttc.map(|t| t.mean_days)),
                "ttc_median_days": opt_num(ttc.map(|t| t.median_days)),
                "ttc_closed": ttc.map(|t| t.count).unwrap_or(0),
                "rank": rank.map(|r| r.rank),
                "ranked_of": ranking.ranked.len(),
            }));
            let sentence = ranking_sentence(ward, &info.name, &stats, &ranking);
            if info.featured && (stats.opened > 0 || stats.closed > 0) {
                ranking_sentences.push(sentence.clone());
            }
            services.push(json!({
                "slug": info.slug,
                "name": info.name,
                "featured": info.featured,
                "opened": stats.opened,
                "closed": stats.closed,
                "ttc_mean": days_text(ttc.map(|t| t.mean_days)),
                "ttc_median": days_text(ttc.map(|t| t.median_days)),
                "rank": rank.map(|r| r.rank),
                "rank_text": rank.map(|r| format!("{} of {}", ordinal(r.rank), ranking.ranked.len())).unwrap_or_else(|| "not ranked".into()),
                "sentence": sentence,
                "href": href(&urls::ward_service(ward, &info.slug)),
                "service_week_href": href(&urls::service_week(&info.slug, monday)),
            }));
        }
        let services_table = Table {
            caption: format!(
                "Each service in Ward {ward}, week of {}",
                short_date(monday)
            ),
            header: vec![
                "Service".into(),
                "Opened".into(),
                "Closed".into(),
                "Mean days to close".into(),
                "Median days to close".into(),
                "Rank".into(),
            ],
            rows: services
                .iter()
                .zip(&api_services)
                .map(|(s, a)| {
                    vec![
                        s["name"].as_str().unwrap_or("").to_string(),
                        s["opened"].to_string(),
                        s["closed"].to_string(),
                        a["ttc_mean_days"]
                            .as_f64()
                            .map(|v| format!("{v:.2}"))
                            .unwrap_or_default(),
                        a["ttc_median_days"]
                            .as_f64()
                            .map(|v| format!("{v:.2}"))
                            .unwrap_or_default(),
                        a["rank"]
                            .as_u64()
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: format!("{base}services.csv"),
        };
        let busiest = m.ward_busiest_days(ward, 6);
        let busiest_table = Table {
            caption: format!("Days with the most requests in Ward {ward}, all services"),
            header: vec!["Date".into(), "Requests".into()],
            rows: busiest
                .iter()
                .map(|(d, n)| vec![d.to_string(), n.to_string()])
                .collect(),
            csv: format!("{base}busiest-days.csv"),
        };
        let office = self.r.input.offices.get(&ward);
        let prev = monday.plus(-7);
        let next = monday.plus(7);
        let summary = ward_week_summary(ward, monday, opened, closed, complete);
        let mut ctx = Context::new();
        ctx.insert(
            "ward",
            &json!({
                "number": ward,
                "office": office,
                "note": self.r.input.content.ward_note(ward).map(|p| p.html.clone()),
            }),
        );
        ctx.insert("week", &json!({
            "start": monday.to_string(),
            "end": sunday.to_string(),
            "last": last.to_string(),
            "label": week_label(monday),
            "complete": complete,
            "opened": opened,
            "closed": closed,
            "summary": summary,
            "prev": range.has_week(prev).then(|| json!({"href": href(&urls::ward_week(ward, prev)), "label": week_label(prev)})),
            "next": range.has_week(next).then(|| json!({"href": href(&urls::ward_week(ward, next)), "label": week_label(next)})),
        }));
        ctx.insert("days", &day_rows);
        ctx.insert("services", &services);
        ctx.insert("ranking_sentences", &ranking_sentences);
        ctx.insert(
            "busiest",
            &busiest
                .iter()
                .map(|(d, n)| json!({"date": d.to_string(), "label": long_date(*d), "count": n}))
                .collect::<Vec<_>>(),
        );
        ctx.insert("days_table", &days_table);
        ctx.insert("services_table", &services_table);
        ctx.insert("busiest_table", &busiest_table);
        ctx.insert("api", &format!("api/v1/wards/{ward}/weeks/{monday}.json"));
        ctx.insert("feed", &format!("feeds/ward/{ward}.xml"));
        let api = json!({
            "ward": ward,
            "week_start": monday.to_string(),
            "week_end": sunday.to_string(),
            "days": days.iter().map(|(d, o, c)| json!({"date": d.to_string(), "opened": o, "closed": c})).collect::<Vec<_>>(),
            "services": api_services,
        });
        (
            ctx,
            api,
            vec![days_table, services_table, busiest_table],
            summary,
        )
    }

    fn ward_service(
        &self,
        range: Range,
        ward: WardNo,
        s: ServiceIdx,
    ) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let info = m.info(s);
        let url = urls::ward_service(ward, &info.slug);
        let through = range.last_sunday();
        let highs = m.highs_through(s, ward, through);
        // Everything the page shows: this ward's and the whole city's figures for the service
        // up to the last complete week, the highs (and which of them have a day page), and the
        // Sunday the data runs through. The page changes once a week, not every night.
        let city = *self.city_digests[usize::from(s)].get_or_init(|| {
            (0..=m.wards).fold(0u128, |sum, w| {
                sum.wrapping_add(m.ward_history_digest(s, w, through))
            })
        });
        let mut key = self
            .r
            .unit_key()
            .with("ward service")
            .with(&ward)
            .with(&s)
            .with(&through.0)
            .with(&m.first_day.map(|d| d.0))
            .with(&city)
            .with(&m.ward_history_digest(s, ward, through));
        for (d, n) in &highs {
            key = key.with(&(d.0, n, range.has_day(*d)));
        }
        let done = self.r.unit(&url, key.finish(), || {
        let first = m.first_day.unwrap_or(range.last).week_start();
        let city_history = self.city_history[usize::from(s)].get_or_init(|| {
            let mut weeks = Vec::new();
            let mut monday = first;
            while monday <= through {
                weeks.push(m.city_window(s, monday, monday.plus(6)));
                monday = monday.plus(7);
            }
            CityHistory {
                weeks,
                all: m.city_window(s, Day(i32::MIN + 1), through),
            }
        });
        let mut weeks = Vec::new();
        let mut monday = first;
        for city in &city_history.weeks {
            let w = m.ward_window(s, ward, monday, monday.plus(6));
            if w.opened > 0 || w.closed > 0 || city.closed > 0 {
                weeks.push((monday, w, *city));
            }
            monday = monday.plus(7);
        }
        let all = m.ward_window(s, ward, Day(i32::MIN + 1), through);
        let city_all = city_history.all;
        let weeks_table = Table {
            caption: format!("{} in Ward {ward}, week by week", info.name),
            header: vec![
                "Week starting".into(),
                "Opened".into(),
                "Closed".into(),
                "Ward mean days to close".into(),
                "City mean days to close".into(),
            ],
            rows: weeks
                .iter()
                .map(|(d, w, c)| {
                    vec![
                        d.to_string(),
                        w.opened.to_string(),
                        w.closed.to_string(),
                        w.ttc
                            .map(|t| format!("{:.2}", t.mean_days))
                            .unwrap_or_default(),
                        c.ttc
                            .map(|t| format!("{:.2}", t.mean_days))
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: format!("{url}weeks.csv"),
        };
        let highs_table = Table {
            caption: format!("The busiest days for {} in Ward {ward}", info.name),
            header: vec!["Date".into(), "Requests".into()],
            rows: highs
                .iter()
                .map(|(d, n)| vec![d.to_string(), n.to_string()])
                .collect(),
            csv: format!("{url}highs.csv"),
        };
        weeks_table.write(&self.files)?;
        highs_table.write(&self.files)?;
        let comparison = match (all.ttc, city_all.ttc) {
            (Some(w), Some(c)) => format!(
                "Over all the data, Ward {ward} took {} on average to close {} requests, against {} citywide.",
                format_days(w.mean_days),
                info.name,
                format_days(c.mean_days)
            ),
            (None, Some(c)) => format!(
                "No {} request in Ward {ward} has a recorded close; citywide they took {} on average.",
                info.name,
                format_days(c.mean_days)
            ),
            _ => format!("No {} request has a recorded close yet.", info.name),
        };
        let mut ctx = Context::new();
        ctx.insert("ward", &json!({"number": ward, "office": self.r.input.offices.get(&ward), "href": href(&urls::ward(ward))}));
        ctx.insert("service", &json!({"slug": info.slug, "name": info.name, "href": href(&urls::service(&info.slug))}));
        ctx.insert("totals", &json!({"opened": all.opened, "closed": all.closed, "ttc_mean": days_text(all.ttc.map(|t| t.mean_days)), "city_ttc_mean": days_text(city_all.ttc.map(|t| t.mean_days))}));
        ctx.insert("comparison", &comparison);
        ctx.insert("through_label", &long_date(through));
        ctx.insert("weeks_table", &weeks_table);
        ctx.insert("highs", &highs.iter().map(|(d, n)| json!({"date": d.to_string(), "label": long_date(*d), "count": n, "href": if info.featured && range.has_day(*d) { Some(href(&urls::day_service(*d, &info.slug))) } else { None }})).collect::<Vec<_>>());
        ctx.insert("highs_table", &highs_table);
        let chart_files = self.ward_service_charts(
            ward,
            s,
            through,
            &weeks,
            (
                all.ttc.map(|t| t.mean_days),
                city_all.ttc.map(|t| t.mean_days),
            ),
            &mut ctx,
        )?;
        // The ward's card (see `ward`): one per ward keeps the build's PNGs few.
        let card = format!("{}card.png", urls::ward(ward));
        let meta = PageMeta {
            title: format!("{} in Ward {ward}", info.name),
            description: comparison.clone(),
            section: "ward".into(),
            image: Some(card),
        };
        self.r.set_through(&mut ctx, Some(through));
        self.r.page(&url, "ward_service.html", &meta, ctx)?;
        Ok::<_, RenderError>((1, 2 + chart_files))
        })?;
        Ok(counted(done))
    }

    fn feed(&self, ward: WardNo, entries: &[(Day, String)]) -> Result<(), RenderError> {
        let base = &self.r.input.config.site.base_url;
        let updated = entries
            .last()
            .map(|(d, _)| {
                format!(
                    "{}T00:00:00Z",
                    d.plus(6).min(self.range.map(|r| r.last).unwrap_or(*d))
                )
            })
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
        let items: Vec<Value> = entries
            .iter()
            .rev()
            .map(|(d, summary)| {
                json!({
                    "title": format!("Ward {ward}: week of {}", week_label(*d)),
                    "link": base.join(&urls::ward_week(ward, *d)),
                    "id": base.join(&urls::ward_week(ward, *d)),
                    "updated": format!("{}T00:00:00Z", d.plus(6).min(self.range.map(|r| r.last).unwrap_or(*d))),
                    "summary": summary,
                })
            })
            .collect();
        let mut ctx = Context::new();
        ctx.insert("site", &json!({"title": self.r.input.config.site.title}));
        ctx.insert("ward", &ward);
        ctx.insert("self_url", &base.join(&format!("feeds/ward/{ward}.xml")));
        ctx.insert("page_url", &base.join(&urls::ward(ward)));
        ctx.insert("updated", &updated);
        ctx.insert("entries", &items);
        let xml = self.r.render("feed.xml", &ctx)?;
        self.r
            .out
            .write(&format!("feeds/ward/{ward}.xml"), xml.as_bytes())?;
        Ok(())
    }

    // ---------------------------------------------------------------- service pages

    fn service_pages(&self) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let cfg = self.r.input.config;
        let list: Vec<Value> = m
            .service_ids()
            .map(|s| {
                let info = m.info(s);
                let week = self.range.map(|r| m.city_counts(s, r.last_week, r.last).0);
                json!({"slug": info.slug, "name": info.name, "featured": info.featured, "opened_total": info.opened_total, "week_opened": week, "href": href(&urls::service(&info.slug))})
            })
            .collect();
        let table = Table {
            caption: "Every service type".into(),
            header: vec![
                "Service".into(),
                "Featured".into(),
                "Requests this week".into(),
                "Requests in all the data".into(),
            ],
            rows: list
                .iter()
                .map(|v| {
                    vec![
                        v["name"].as_str().unwrap_or("").into(),
                        if v["featured"] == true {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        v["week_opened"]
                            .as_u64()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        v["opened_total"].to_string(),
                    ]
                })
                .collect(),
            csv: "service/services.csv".into(),
        };
        table.write(&self.files)?;
        let api: Vec<Value> = m
            .service_ids()
            .map(|s| {
                let i = m.info(s);
                json!({"slug": i.slug, "name": i.name, "codes": i.codes, "featured": i.featured, "opened_total": i.opened_total})
            })
            .collect();
        self.files.json("api/v1/services.json", &api)?;
        let mut ctx = Context::new();
        ctx.insert("services", &list);
        ctx.insert("table", &table);
        ctx.insert("week", &self.range.map(|r| week_label(r.last_week)));
        let meta = PageMeta {
            title: "311 services".into(),
            description: format!(
                "Every kind of 311 service request in {}, with how many were made and how fast they were closed.",
                cfg.city.name
            ),
            section: "service".into(),
            image: None,
        };
        self.r.page("service/", "service_index.html", &meta, ctx)?;
        let Some(range) = self.range else {
            return Ok((1, 2));
        };
        let ids: Vec<ServiceIdx> = m.service_ids().collect();
        let results: Vec<_> = ids.par_iter().map(|s| self.service(range, *s)).collect();
        let (p, f) = sum_counts(results)?;
        Ok((p + 1, f + 2))
    }

    fn service(&self, range: Range, s: ServiceIdx) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let (mut pages, mut files) = (0, 0);
        for monday in range.weeks() {
            let sunday = monday.plus(6);
            // The week's figures of every ward, the page's place in the range, and the one
            // whole-history figure the page states (closes before the open).
            let key = self
                .r
                .unit_key()
                .with("service week")
                .with(&s)
                .with(&monday.0)
                .with(&m.window_digest(monday, sunday))
                .with(&m.info(s).negative_durations)
                .with(&(sunday > range.last).then_some(range.last.0))
                .with(&range.has_week(monday.plus(-7)))
                .with(&range.has_week(monday.plus(7)))
                .with(&(monday == range.last_week));
            let url = urls::service_week(&m.info(s).slug, monday);
            let done = self
                .r
                .unit(&url, key.finish(), || self.service_week(range, s, monday))?;
            let (p, f) = counted(done);
            pages += p;
            files += f;
        }
        Ok((pages, files))
    }

    /// One week of a service: its page (and, for the latest week, the service's own page),
    /// tables, API document, charts and card.
    fn service_week(
        &self,
        range: Range,
        s: ServiceIdx,
        monday: Day,
    ) -> Result<(usize, usize), RenderError> {
        let (mut pages, mut files) = (0, 0);
        let through = Some(range.week_end(monday));
        let (mut ctx, api, tables, summary) = self.service_week_context(range, s, monday);
        self.r.set_through(&mut ctx, through);
        for t in &tables {
            t.write(&self.files)?;
            files += 1;
        }
        let slug = &self.m.info(s).slug;
        self.files
            .json(&format!("api/v1/services/{slug}/weeks/{monday}.json"), &api)?;
        files += 1;
        let url = urls::service_week(slug, monday);
        let latest = ctx.clone();
        files += self.service_week_charts(s, monday, &url, through, &mut ctx)?;
        let city = &api["city"];
        // One card per service, drawn for its latest week (see `ward`).
        let card = format!("{}card.png", urls::service(slug));
        if monday == range.last_week {
            self.r.card(
                &card,
                &format!("{}, week of {}", self.m.info(s).name, week_label(monday)),
                &thousands(city["opened"].as_u64().unwrap_or(0)),
                &format!(
                    "requests in {}; {} closed{}",
                    self.r.input.config.city.name,
                    thousands(city["closed"].as_u64().unwrap_or(0)),
                    city["ttc_mean_days"]
                        .as_f64()
                        .map(|d| format!(", in {} on average", format_days(d)))
                        .unwrap_or_default()
                ),
                through,
            )?;
            files += 1;
        }
        let meta = PageMeta {
            title: format!("{}, week of {}", self.m.info(s).name, short_date(monday)),
            description: summary,
            section: "service".into(),
            image: Some(card),
        };
        self.r.page(&url, "service_week.html", &meta, ctx)?;
        pages += 1;
        if monday == range.last_week {
            let mut latest = latest;
            let own = urls::service(slug);
            files += self.service_week_charts(s, monday, &own, through, &mut latest)?;
            self.r.page(&own, "service_week.html", &meta, latest)?;
            pages += 1;
        }
        Ok((pages, files))
    }

    fn service_week_context(
        &self,
        range: Range,
        s: ServiceIdx,
        monday: Day,
    ) -> (Context, Value, Vec<Table>, String) {
        let m = self.m;
        let cfg = self.r.input.config;
        let info = m.info(s);
        let sunday = monday.plus(6);
        let stats: Vec<(WardNo, WindowStats)> = (1..=m.wards)
            .map(|w| (w, m.ward_window(s, w, monday, sunday)))
            .collect();
        let ranking = self.ranking(s, monday);
        let city = m.city_window(s, monday, sunday);
        let unassigned = m.ward_window(s, 0, monday, sunday).opened;
        let base = urls::service_week(&info.slug, monday);
        let mut ward_rows = Vec::new();
        let mut api_wards = BTreeMap::new();
        for (w, st) in &stats {
            let by_day = m.ward_opened_daily(s, *w, monday, sunday);
            let rank = ranking.of(*w).map(|r| r.rank);
            api_wards.insert(
                w.to_string(),
                json!({
                    "opened_by_day": by_day,
                    "opened": st.opened,
                    "closed": st.closed,
                    "ttc_mean_days": opt_num(st.ttc.map(|t| t.mean_days)),
                    "ttc_median_days": opt_num(st.ttc.map(|t| t.median_days)),
                    "rank": rank,
                }),
            );
            ward_rows.push(json!({
                "ward": w,
                "href": href(&urls::ward_week(*w, monday)),
                "by_day": by_day,
                "opened": st.opened,
                "closed": st.closed,
                "ttc_mean": days_text(st.ttc.map(|t| t.mean_days)),
                "rank": rank,
            }));
        }
        let by_day_table = Table {
            caption: format!(
                "{} opened by ward and weekday, and closed, week of {}",
                info.name,
                short_date(monday)
            ),
            header: [
                "Ward", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Opened", "Closed",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: ward_rows
                .iter()
                .map(|r| {
                    let mut row = vec![r["ward"].to_string()];
                    row.extend(
                        r["by_day"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|v| v.to_string()),
                    );
                    row.push(r["opened"].to_string());
                    row.push(r["closed"].to_string());
                    row
                })
                .collect(),
            csv: format!("{base}wards.csv"),
        };
        let ranking_table = Table {
            caption: format!(
                "Wards ranked by mean days to close {}, week of {}",
                info.name,
                short_date(monday)
            ),
            header: vec![
                "Rank".into(),
                "Ward".into(),
                "Closed".into(),
                "Mean days to close".into(),
            ],
            rows: ranking
                .ranked
                .iter()
                .map(|r| {
                    vec![
                        r.rank.to_string(),
                        r.ward.to_string(),
                        r.closed.to_string(),
                        format!("{:.2}", r.ttc_mean_days),
                    ]
                })
                .collect(),
            csv: format!("{base}ranking.csv"),
        };
        let prev = monday.plus(-7);
        let next = monday.plus(7);
        let summary = if city.opened == 0 && city.closed == 0 {
            format!(
                "No {} requests were opened or closed in {} in the week of {}.",
                info.name,
                cfg.city.name,
                week_label(monday)
            )
        } else {
            format!(
                "In the week of {}, {} opened {} and closed {} {} requests{}.",
                week_label(monday),
                cfg.city.name,
                thousands(city.opened),
                thousands(city.closed),
                info.name,
                city.ttc
                    .map(|t| format!(", closing them in {} on average", format_days(t.mean_days)))
                    .unwrap_or_default()
            )
        };
        let note = self.r.input.content.service_note(&info.slug);
        let form = cfg
            .city
            .request_form_url
            .as_ref()
            .map(|u| u.replace("{name}", &urlencode(&info.name)));
        let mut ctx = Context::new();
        ctx.insert("service", &json!({
            "slug": info.slug,
            "name": info.name,
            "featured": info.featured,
            "codes": info.codes,
            "note": note.map(|p| p.html.clone()),
            "note_title": note.map(|p| p.title.clone()),
            "portal": note.and_then(|p| p.front.extra.get("portal").and_then(|v| v.as_str().map(str::to_string))).or(cfg.city.data_portal_url.clone()),
            "form": form,
            "negative_durations": info.negative_durations,
            "form_fields": self.form_fields(&info.codes),
        }));
        ctx.insert("week", &json!({
            "start": monday.to_string(),
            "end": sunday.to_string(),
            "label": week_label(monday),
            "complete": sunday <= range.last,
            "summary": summary,
            "prev": range.has_week(prev).then(|| json!({"href": href(&urls::service_week(&info.slug, prev)), "label": week_label(prev)})),
            "next": range.has_week(next).then(|| json!({"href": href(&urls::service_week(&info.slug, next)), "label": week_label(next)})),
        }));
        ctx.insert("city", &json!({"opened": city.opened, "closed": city.closed, "ttc_mean": days_text(city.ttc.map(|t| t.mean_days)), "ttc_median": days_text(city.ttc.map(|t| t.median_days)), "unassigned": unassigned}));
        ctx.insert("ranking", &json!({
            "threshold": format!("{:.2}", ranking.threshold),
            "min_closed": ranking.min_closed,
            "count": ranking.ranked.len(),
            "ranked": ranking.ranked.iter().map(|r| json!({"rank": r.rank, "ward": r.ward, "closed": r.closed, "ttc_mean": format_days(r.ttc_mean_days), "href": href(&urls::ward_week(r.ward, monday))})).collect::<Vec<_>>(),
        }));
        ctx.insert("wards", &ward_rows);
        ctx.insert("by_day_table", &by_day_table);
        ctx.insert("ranking_table", &ranking_table);
        ctx.insert(
            "api",
            &format!("api/v1/services/{}/weeks/{monday}.json", info.slug),
        );
        let api = json!({
            "slug": info.slug,
            "week_start": monday.to_string(),
            "week_end": sunday.to_string(),
            "city": {"opened": city.opened, "closed": city.closed, "ttc_mean_days": opt_num(city.ttc.map(|t| t.mean_days)), "unassigned": unassigned},
            "threshold": opt_num(Some(ranking.threshold)),
            "min_closed_to_rank": ranking.min_closed,
            "wards": api_wards,
        });
        (ctx, api, vec![by_day_table, ranking_table], summary)
    }

    /// What a service's request form asks for (its Open311 service definition), in the form's
    /// order; the first of the service's codes that has a definition gives it.
    fn form_fields(&self, codes: &[String]) -> Vec<Value> {
        let Some(attributes) = codes.iter().find_map(|c| self.r.input.definitions.get(c)) else {
            return Vec::new();
        };
        attributes
            .iter()
            .map(|a| {
                json!({
                    "question": a.description,
                    "kind": attribute_kind(&a.datatype),
                    "hint": a.datatype_description,
                    "required": a.required,
                    "asked": a.variable,
                    "choices": a.values.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect()
    }

    // ---------------------------------------------------------------- photos, status, data

    fn misc_pages(&self) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let input = self.r.input;
        let cfg = input.config;
        let tz = cfg.tz();
        // Photos.
        let photos: Vec<Value> = input
            .photos
            .iter()
            .map(|p| {
                let day = Day::of_instant(p.requested_at, tz);
                json!({
                    "id": p.id,
                    "service": p.service_name,
                    "ward": p.ward,
                    "ward_href": p.ward.map(|w| href(&urls::ward(w))),
                    "address": p.address,
                    "url": p.media_url,
                    "date": day.to_string(),
                    "label": long_date(day),
                    "status": p.status,
                })
            })
            .collect();
        let mut ctx = Context::new();
        ctx.insert("photos", &photos);
        ctx.insert("since", &self.range.map(|r| long_date(r.last.plus(-13))));
        let meta = PageMeta {
            title: "Photos".into(),
            description:
                "Photos residents attached to their 311 requests in the last 14 days of data."
                    .into(),
            section: "photos".into(),
            image: None,
        };
        self.r.page("photos/", "photos.html", &meta, ctx)?;

        // Status.
        let s = input.status;
        let fmt_ts = |t: Option<i64>| {
            t.and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| {
                    t.to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M %Z")
                        .to_string()
                })
        };
        let status = json!({
            "data_through": input.as_of.map(|d| d.to_string()),
            "newest_request": fmt_ts(s.newest_request),
            "last_fetch": fmt_ts(s.last_run),
            "source": input.config.source.describe(),
            "last_successful_fetch": fmt_ts(s.last_fetch_ok),
            "requests": s.requests,
            "duplicates": m.totals.duplicates,
            "excluded": m.totals.excluded,
            "unassigned": m.totals.unassigned,
            "ignored_without_id": s.ignored_without_id,
        });
        self.files.json("api/v1/status.json", &status)?;
        let mut ctx = Context::new();
        ctx.insert("status", &status);
        ctx.insert(
            "extra",
            &json!({
                "rejected": s.rejected,
                "cleaned": s.cleaned,
                "counted": m.totals.counted,
                "negative_durations": m.totals.negative_durations,
                "oldest_request": fmt_ts(s.oldest_request),
                "last_run_what": s.last_run_what,
                "last_fetch_ok_from": s.last_fetch_ok_from,
                "services": m.services.len(),
            }),
        );
        let meta = PageMeta {
            title: "Data status".into(),
            description: "How fresh and how complete the data behind this site is.".into(),
            section: "data".into(),
            image: None,
        };
        self.r.page("status/", "status.html", &meta, ctx)?;

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

        let mut ctx = Context::new();
        ctx.insert("range", &self.range.map(|r| json!({"first": r.first_day.to_string(), "last": r.last.to_string(), "first_week": r.first_week.to_string(), "last_week": r.last_week.to_string()})));
        ctx.insert(
            "example",
            &self.range.map(|r| {
                json!({
                    "day": r.last.to_string(),
                    "week": r.last_week.to_string(),
                    "slug": m.services.first().map(|s| s.slug.clone()),
                })
            }),
        );
        ctx.insert("bulk_rows", &bulk_rows);
        let meta = PageMeta {
            title: "Data and API".into(),
            description: "Download every number on this site as CSV or JSON, and how to use the static JSON API.".into(),
            section: "data".into(),
            image: None,
        };
        self.r.page("data/", "data.html", &meta, ctx)?;
        Ok((3, 2))
    }
}

impl<'a> Dash<'_, 'a> {
    /// Every day × service × ward with activity over the day-page range, in date, service and
    /// ward order: (day, service, ward, opened, closed).
    fn bulk_cells(&self) -> Vec<(Day, ServiceIdx, WardNo, u32, u32)> {
        let mut bulk: Vec<_> = self
            .bulk_slices()
            .flat_map(|(sv, w, cells)| {
                cells
                    .iter()
                    .map(move |c| (c.day(), sv, w, c.opened, c.closed))
            })
            .collect();
        bulk.sort_unstable();
        bulk
    }

    /// How many rows [`Dash::bulk_cells`] has, without gathering and sorting them.
    fn bulk_row_count(&self) -> usize {
        self.bulk_slices().map(|(_, _, cells)| cells.len()).sum()
    }

    /// Each (service, ward) pair's cells over the published year, pair by pair (none without
    /// a year).
    fn bulk_slices(&self) -> impl Iterator<Item = (ServiceIdx, WardNo, &'a [Cell])> + '_ {
        let m = self.m;
        self.range.into_iter().flat_map(move |range| {
            m.service_ids()
                .flat_map(move |sv| (0..=m.wards).map(move |w| (sv, w)))
                .map(move |(sv, w)| (sv, w, m.cells(sv, w, range.first_day, range.last)))
        })
    }

    /// Writes `data/daily-counts.csv` (see [`Dash::bulk_cells`]); returns its row count.
    fn bulk_csv(&self) -> Result<usize, RenderError> {
        let bulk = self.bulk_cells();
        let mut csv = charts::CsvRows::new(
            ["date", "service", "ward", "opened", "closed"],
            48 * (bulk.len() + 1),
        );
        for (d, sv, ward, opened, closed) in &bulk {
            csv.field(d);
            csv.field(&self.m.info(*sv).slug);
            if *ward == 0 {
                csv.field("");
            } else {
                csv.field(ward);
            }
            csv.field(opened);
            csv.field(closed);
            csv.end_row();
        }
        let bytes = csv.into_bytes();
        self.r.out.write("data/daily-counts.csv", &bytes)?;
        Ok(bulk.len())
    }
}

/// What a day page needs, plus its API document and tables.
struct DayContext {
    context: Context,
    tables: Vec<Table>,
    api: Value,
    total: u64,
    chosen_name: Option<String>,
    chosen_sentence: String,
}

/// "Among the K wards that closed M or more … Ward W ranked Nth, averaging X days", or why not.
pub fn ranking_sentence(
    ward: WardNo,
    service: &str,
    stats: &WindowStats,
    ranking: &Ranking,
) -> String {
    let k = ranking.ranked.len();
    let m = ranking.min_closed;
    match ranking.of(ward) {
        Some(r) => format!(
            "Among the {k} wards that closed {m} or more {service} requests this week, Ward {ward} ranked {}, averaging {} to close.",
            ordinal(r.rank),
            format_days(r.ttc_mean_days)
        ),
        None if stats.closed == 0 => {
            format!("Ward {ward} closed no {service} requests this week, so it is not ranked.")
        }
        None if stats.closed < m => format!(
            "Ward {ward} closed {} {service} request{} this week; a ward needs {m} or more to be ranked.",
            stats.closed,
            if stats.closed == 1 { "" } else { "s" }
        ),
        None => format!(
            "Ward {ward}'s closed {service} requests this week have no valid time to close, so it is not ranked."
        ),
    }
}

// ---------------------------------------------------------------- charts, maps and cards
//
// Each page's charts are drawn from the same metrics as its tables, inserted into its context
// as views (crate::render::charts) and written as bundles beside the page under stable names.
// Map links are relative to the page showing the map, so a map is drawn for each page URL.

/// The link from the page at `page_url` to a ward's page.
fn ward_link(page_url: &str, w: WardNo) -> String {
    format!("{}{}", super::root_of(page_url), file_of(&urls::ward(w)))
}

impl Dash<'_, '_> {
    /// The day page's charts: services against their baseline and the ward map of the chosen
    /// service, shown on the page at `page_url`. Bundles go in `bundle_dir` (the day's folder,
    /// the service's folder for the map) unless `write` is false. Returns files written.
    fn day_charts(
        &self,
        day: Day,
        chosen: Option<ServiceIdx>,
        page_url: &str,
        latest: bool,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let m = self.m;
        let featured = self.featured();
        let bars: Vec<charts::ServiceBar> = featured
            .iter()
            .map(|s| {
                let count = m.city_opened(*s, day);
                let b = m.baseline(*s, day);
                charts::ServiceBar {
                    name: m.info(*s).name.clone(),
                    count,
                    baseline: b.map(|b| b.per_day),
                    baseline_days: b.map(|b| b.days).unwrap_or(0),
                    above_pct: b.and_then(|b| b.above_average_pct(count)),
                }
            })
            .collect();
        let mut files = 0;
        let services = charts::day_services(&long_date(day), &bars)
            .map_err(|e| RenderError::Chart(e.to_string()))?;
        // The day page (and the home page, for the latest day) owns the services chart; the
        // per-service variants show the day's copy.
        let day_dir = if latest {
            String::new()
        } else {
            urls::day(day)
        };
        if chosen.is_none() {
            files += self.r.write_chart(&services, &day_dir, Some(day))?;
        }
        ctx.insert(
            "services_chart",
            &self
                .r
                .chart_view(&services, &day_dir, true, false, Some(day)),
        );
        let chosen = chosen.or_else(|| {
            ctx.get("chosen")
                .and_then(|c| c.get("slug"))
                .and_then(Value::as_str)
                .and_then(|slug| m.service(slug))
        });
        if let (Some(c), Some((b, name))) = (chosen, self.r.boundaries_for(day)) {
            let info = m.info(c);
            let by_ward = self.day_wards().by_ward(c, day);
            let map_wards: Vec<maps::MapWard> = (1..=m.wards)
                .map(|w| maps::MapWard {
                    ward: w,
                    value: by_ward[usize::from(w)],
                    href: ward_link(page_url, w),
                    note: None,
                })
                .collect();
            let subject = format!("{} requests on {}", info.name, long_date(day));
            let map = maps::choropleth(
                &b,
                "map",
                &subject,
                "request",
                &name,
                &map_wards,
                maps::MapLabels::Count,
            );
            let dir = if latest {
                String::new()
            } else {
                urls::day_service(day, &info.slug)
            };
            // The per-service page and the home page write the map; the day page links there.
            if page_url == dir {
                files += self.r.write_chart(&map, &dir, Some(day))?;
            }
            ctx.insert(
                "map_chart",
                &self.r.chart_view(&map, &dir, true, false, Some(day)),
            );
        }
        Ok(files)
    }

    /// The day's social card (shared by the day page, its per-service variants and, for the
    /// latest day, the home page).
    fn day_card(&self, day: Day, total: u64) -> Result<String, RenderError> {
        self.r.card(
            &format!("{}card.png", urls::day(day)),
            &format!("{} in {}", long_date(day), self.r.input.config.city.name),
            &thousands(total),
            if total == 1 {
                "311 service request that day"
            } else {
                "311 service requests that day"
            },
            Some(day),
        )
    }

    /// A ward week page's charts for the page at `page_url`, bundles written into that page's
    /// folder (the week's, or the ward's own for the latest week). Returns files written.
    fn ward_week_charts(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
        page_url: &str,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let m = self.m;
        let mut files = 0;
        let through = Some(range.week_end(monday));
        let err = |e: charts::ChartError| RenderError::Chart(e.to_string());
        let days: Vec<charts::DayCounts> = m
            .ward_days(ward, monday, monday.plus(6))
            .into_iter()
            .map(|(d, o, c)| charts::DayCounts {
                date: d.to_string(),
                weekday: weekday_name(d)[..3].to_string(),
                label: short_date(d),
                opened: o,
                closed: c,
                future: d > range.last,
            })
            .collect();
        let week = charts::week_opened_closed(ward, &week_label(monday), &days).map_err(err)?;
        files += self.r.write_chart(&week, page_url, through)?;
        ctx.insert(
            "week_chart",
            &self.r.chart_view(&week, page_url, true, false, through),
        );

        // The TTC ranking of the service this ward closed most of this week.
        let best = m
            .service_ids()
            .map(|s| (s, m.ward_window(s, ward, monday, monday.plus(6)).closed))
            .filter(|(_, closed)| *closed > 0)
            .max_by_key(|(s, closed)| (*closed, std::cmp::Reverse(*s)));
        if let Some((s, _)) = best {
            let ranking = self.ranking(s, monday);
            let ranked = ranked_wards(&ranking);
            let chart = charts::ttc_ranking(
                "ttc-ranking",
                &m.info(s).name,
                &format!("in the week of {}", week_label(monday)),
                &ranked,
                ranking.min_closed,
                Some(ward),
            )
            .map_err(err)?;
            files += self.r.write_chart(&chart, page_url, through)?;
            ctx.insert(
                "ranking_chart",
                &self.r.chart_view(&chart, page_url, false, true, through),
            );
        }

        // The busiest days (all the data) live in the ward's own folder.
        let ward_dir = urls::ward(ward);
        let busy: Vec<charts::BusyDay> = m
            .ward_busiest_days(ward, 6)
            .into_iter()
            .map(|(d, n)| charts::BusyDay {
                date: d.to_string(),
                label: format!("{}, {}", short_date(d), d.date().year()),
                count: n,
            })
            .collect();
        let busiest =
            charts::busiest_days("busiest-days", &format!("in Ward {ward}"), &busy).map_err(err)?;
        if page_url == ward_dir {
            files += self.r.write_chart(&busiest, &ward_dir, through)?;
        }
        ctx.insert(
            "busiest_chart",
            &self.r.chart_view(&busiest, &ward_dir, true, false, through),
        );

        // The ward's outline among its neighbours, on the map in force that week.
        if let Some((b, name)) = self.r.boundaries_for(range.week_end(monday)) {
            let mut map = maps::ward_locator(&b, ward, &name, |w| ward_link(page_url, w));
            map.id = ward_map_id(&name);
            ctx.insert(
                "ward_map",
                &self.r.chart_view(&map, &ward_dir, true, true, through),
            );
        }
        Ok(files)
    }

    /// The ward's outline among its neighbours, one bundle per boundary map its weeks use, in
    /// the ward's folder and linked from every week (see [`Dash::ward_week_charts`]).
    fn ward_maps(&self, range: Range, ward: WardNo) -> Result<(usize, usize), RenderError> {
        let ward_dir = urls::ward(ward);
        let mut names = Vec::new();
        let mut total = (0, 0);
        for monday in range.weeks() {
            let Some((b, name)) = self.r.boundaries_for(range.week_end(monday)) else {
                continue;
            };
            if names.contains(&name) {
                continue;
            }
            let id = ward_map_id(&name);
            // Boundaries alone, no figures: the build's fingerprint covers the files.
            let key = self.r.unit_key().with("ward map").with(&ward).with(&name);
            let done = self.r.unit(&format!("{ward_dir}{id}"), key.finish(), || {
                let mut own = maps::ward_locator(&b, ward, &name, |w| ward_link(&ward_dir, w));
                own.id = id.clone();
                Ok::<_, RenderError>((0, self.r.write_chart(&own, &ward_dir, None)?))
            })?;
            let (p, f) = counted(done);
            total = (total.0 + p, total.1 + f);
            names.push(name);
        }
        Ok(total)
    }

    /// A service week page's charts (see [`Dash::ward_week_charts`]).
    fn service_week_charts(
        &self,
        s: ServiceIdx,
        monday: Day,
        page_url: &str,
        through: Option<Day>,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let m = self.m;
        let info = m.info(s);
        let err = |e: charts::ChartError| RenderError::Chart(e.to_string());
        let bars: Vec<charts::WardWeekBar> = (1..=m.wards)
            .map(|w| {
                let mut by_day = [0u64; 7];
                by_day.copy_from_slice(&m.ward_opened_daily(s, w, monday, monday.plus(6)));
                charts::WardWeekBar {
                    ward: w,
                    by_day,
                    closed: m.ward_window(s, w, monday, monday.plus(6)).closed,
                }
            })
            .collect();
        let mut files = 0;
        let wards = charts::service_wards(&info.name, &week_label(monday), &bars).map_err(err)?;
        files += self.r.write_chart(&wards, page_url, through)?;
        ctx.insert(
            "wards_chart",
            &self.r.chart_view(&wards, page_url, true, false, through),
        );
        let ranking = self.ranking(s, monday);
        let ranked = ranked_wards(&ranking);
        let chart = charts::ttc_ranking(
            "ttc-ranking",
            &info.name,
            &format!("in the week of {}", week_label(monday)),
            &ranked,
            ranking.min_closed,
            None,
        )
        .map_err(err)?;
        files += self.r.write_chart(&chart, page_url, through)?;
        ctx.insert(
            "ranking_chart",
            &self.r.chart_view(&chart, page_url, false, false, through),
        );
        Ok(files)
    }

    /// The ward × service page's charts, bundles in its folder.
    fn ward_service_charts(
        &self,
        ward: WardNo,
        s: ServiceIdx,
        through: Day,
        weeks: &[(Day, WindowStats, WindowStats)],
        means: (Option<f64>, Option<f64>),
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let info = self.m.info(s);
        let url = urls::ward_service(ward, &info.slug);
        let err = |e: charts::ChartError| RenderError::Chart(e.to_string());
        let history: Vec<charts::WeekHistory> = weeks
            .iter()
            .map(|(d, w, c)| charts::WeekHistory {
                start: *d,
                opened: w.opened,
                closed: w.closed,
                ward_ttc: w.ttc.map(|t| t.mean_days),
                city_ttc: c.ttc.map(|t| t.mean_days),
            })
            .collect();
        let weekly = charts::weekly_history(ward, &info.name, &history).map_err(err)?;
        let ttc = charts::weekly_ttc(ward, &info.name, &history, means.0, means.1).map_err(err)?;
        let through = Some(through);
        let mut files = self.r.write_chart(&weekly, &url, through)?;
        files += self.r.write_chart(&ttc, &url, through)?;
        ctx.insert(
            "weekly_chart",
            &self.r.chart_view(&weekly, &url, true, false, through),
        );
        ctx.insert(
            "ttc_chart",
            &self.r.chart_view(&ttc, &url, true, false, through),
        );
        Ok(files)
    }
}

/// The one-sentence summary of a ward's week (page description and feed entry).
fn ward_week_summary(
    ward: WardNo,
    monday: Day,
    opened: u64,
    closed: u64,
    complete: bool,
) -> String {
    if opened == 0 && closed == 0 {
        format!(
            "No 311 requests were opened or closed in Ward {ward} in the week of {}.",
            week_label(monday)
        )
    } else {
        format!(
            "In the week of {}, Ward {ward} opened {} and closed {} 311 requests{}.",
            week_label(monday),
            thousands(opened),
            thousands(closed),
            if complete { "" } else { " so far" }
        )
    }
}

/// The id (file name) of a ward's boundary map bundle for the boundary map `name`.
fn ward_map_id(name: &str) -> String {
    format!("ward-map-{}", crate::domain::slugify(name))
}

/// The page and file counts of a unit, made or kept (each file once, however often it was
/// written).
fn counted<T>(outcome: UnitOutcome<T>) -> (usize, usize) {
    (outcome.pages, outcome.files)
}

/// A ranking's ranked wards as the TTC ranking chart takes them.
fn ranked_wards(ranking: &Ranking) -> Vec<charts::RankedWard> {
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

/// An Open311 attribute's `datatype` as a reader would name the answer it wants.
fn attribute_kind(datatype: &str) -> &'static str {
    match datatype {
        "number" => "a number",
        "datetime" => "a date and time",
        "text" => "a description",
        "singlevaluelist" => "one of a list",
        "multivaluelist" => "one or more of a list",
        _ => "a short answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::root_of;

    #[test]
    fn words_for_numbers_and_dates() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(43), "43rd");
        let d = Day::parse("2021-01-01").unwrap();
        assert_eq!(long_date(d), "Friday, January 1, 2021");
        assert_eq!(
            week_label(d.week_start()),
            "December 28, 2020 – January 3, 2021"
        );
        assert_eq!(root_of(&urls::ward_week(3, d.week_start())), "../../../../");
    }
}

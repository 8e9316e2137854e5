//! Day pages (pages and URLs, docs/ARCHITECTURE.md): the city's day, with each featured service
//! against its baseline and a ward map of the chosen service, one variant per featured service, the
//! home page for the latest day; their charts, cards and API documents.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;
use tera::Context;

use super::site::*;
use super::tables::Table;
use super::urls::{self, href, ward_link};
use super::views::{Num, PagerLink, context_of};
use super::words::*;
use super::{PageMeta, RenderError, thousands};
use crate::aggregate::ServiceIdx;
use crate::charts::{self, maps};
use crate::domain::{Day, WardNo};

impl Dash<'_, '_> {
    // ---------------------------------------------------------------- day pages

    pub(super) fn day_pages(&self) -> Result<(usize, usize), RenderError> {
        let Some(range) = self.range else {
            self.no_data("", "No data yet", "home")?;
            return Ok((1, 0));
        };
        let results: Vec<_> = (self.periods.days().par_iter())
            .map(|d| self.day_unit(range, *d))
            .collect();
        let mut total = sum_counts(results)?;
        // Each month of day pages: its charts' and tables' files, made again when one of its
        // days changed (see Dash::day_month).
        let months: Vec<Vec<Day>> = (self.periods.days())
            .chunk_by(|a, b| urls::day_month(*a) == urls::day_month(*b))
            .map(|made| {
                let month = urls::day_month(made[0]);
                let same_month = (-31..=31)
                    .map(|k| made[0].plus(k))
                    .filter(|d| urls::day_month(*d) == month);
                self.bundle_periods(made, same_month, 1)
            })
            .collect();
        let results: Vec<_> = (months.par_iter())
            .map(|days| {
                let m = self.m;
                let mut key = self.r.unit_key().with("day month");
                for &day in days {
                    key = key
                        .with(&day.0)
                        .with(&m.history_digest(day))
                        .with(&m.first_day.map(|d| d.0));
                }
                let done = (self.r).unit(&urls::day_month(days[0]), key.finish(), || {
                    self.day_month(days)
                })?;
                Ok(counted(done))
            })
            .collect();
        let months = sum_counts(results)?;
        total.0 += months.0;
        total.1 += months.1;
        // The home page is the latest day. Its charts are also written at the site root, so a
        // link to the latest day's chart keeps pointing at the latest day.
        let mut ctx = self.day_context(range, range.last);
        total.1 += self.day_charts(range.last, ctx.shown, "", true, &mut ctx.context)?;
        let mut meta = self.day_meta(range.last, &ctx, "home");
        meta.image = Some(format!("{}card.png", urls::day(range.last)));
        self.r.page("", "day.html", &meta, ctx.context)?;
        total.0 += 1;
        Ok(total)
    }

    pub(super) fn day_meta(&self, day: Day, ctx: &DayContext, section: &str) -> PageMeta {
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
    pub(super) fn day_unit(&self, range: Range, day: Day) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let key = self
            .r
            .unit_key()
            .with("day")
            .with(&day.0)
            .with(&m.history_digest(day))
            .with(&m.first_day.map(|d| d.0))
            .with(&self.periods.day_neighbours(day))
            .with(&(day == range.last))
            .with(&self.moved_day_pages(day));
        let done = self
            .r
            .unit(&urls::day(day), key.finish(), || self.day(range, day))?;
        Ok(counted(done))
    }

    pub(super) fn day(&self, range: Range, day: Day) -> Result<(usize, usize), RenderError> {
        let mut pages = 0;
        let mut files = 0;
        let mut ctx = self.day_context(range, day);
        self.r.set_through(&mut ctx.context, Some(day));
        // The tables' CSV files are the month's (see Dash::day_month).
        self.files
            .json(&format!("api/v1/days/{day}.json"), &ctx.api)?;
        files += 1;
        let day_url = urls::day(day);
        files += self.day_charts(day, ctx.shown, &day_url, false, &mut ctx.context)?;
        let card = self.day_card(day, ctx.total)?;
        files += 1;
        let mut meta = self.day_meta(day, &ctx, "home");
        meta.image = Some(card);
        self.r.page(&day_url, "day.html", &meta, ctx.context)?;
        pages += 1;
        // Earlier versions made a page per featured service and day; the day page now shows
        // every featured service. An address published before points to it (its data files
        // stay, as every published file does; see `Output::keep_earlier`).
        for old in self.moved_day_pages(day) {
            let title = format!("{} — 311 requests citywide", long_date(day));
            let fragment = format!("by-{}", crate::domain::Terms::current().one);
            self.r.redirect(&old, &day_url, &fragment, &title)?;
            pages += 1;
        }
        Ok((pages, files))
    }

    /// The addresses of the day's pages per featured service that the previous site published.
    fn moved_day_pages(&self, day: Day) -> Vec<String> {
        (self.featured().into_iter())
            .map(|s| urls::day_service(day, &self.m.info(s).slug))
            .filter(|url| (self.r.out).published_earlier(&format!("{url}index.html")))
            .collect()
    }

    /// The headings of a day's table of featured services by ward.
    fn day_wards_header(&self) -> Vec<String> {
        let terms = crate::domain::Terms::current();
        let mut header = vec![terms.one_title.to_string()];
        header.extend(self.featured().iter().map(|s| self.m.info(*s).name.clone()));
        header
    }

    /// A day's table of featured services by ward: a row per ward, a column per service.
    fn day_wards_rows(&self, day: Day) -> Vec<Vec<String>> {
        let by_service: Vec<Vec<u64>> = (self.featured().iter())
            .map(|s| self.day_wards().by_ward(*s, day))
            .collect();
        (1..=self.m.wards)
            .map(|w| {
                let mut row = vec![w.to_string()];
                row.extend(by_service.iter().map(|c| c[usize::from(w)].to_string()));
                row
            })
            .collect()
    }

    /// The featured services on `day` against their baselines, and the one the day page leads
    /// with: the most above its baseline, else the busiest, else the first.
    fn featured_on(&self, day: Day) -> FeaturedOnDay {
        let m = self.m;
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
        let chosen = greatest.or(busiest).or(featured.first().copied());
        FeaturedOnDay {
            rows,
            greatest,
            chosen,
        }
    }

    pub(super) fn day_context(&self, range: Range, day: Day) -> DayContext {
        let terms = crate::domain::Terms::current();
        let ward_w = &terms.one;
        let wards_w = &terms.many;
        let m = self.m;
        let wards = m.wards;
        let featured = self.featured();
        let FeaturedOnDay {
            rows,
            greatest,
            chosen,
        } = self.featured_on(day);
        // A day page's tables offer its month's CSV files (see Dash::day_month).
        let month_dir = urls::day_month(day);
        let services: Vec<DayServiceRow> = rows
            .iter()
            .map(|(s, count, baseline, pct)| {
                let info = m.info(*s);
                DayServiceRow {
                    slug: info.slug.clone(),
                    name: info.name.clone(),
                    count: *count,
                    baseline: baseline.map(|b| crate::numbers::average(b.per_day)),
                    baseline_days: baseline.map(|b| b.days).unwrap_or(0),
                    pct: *pct,
                    above: pct.is_some_and(|p| p > 0),
                    greatest: Some(*s) == greatest,
                    chosen: Some(*s) == chosen,
                    sentence: baseline_sentence(*count, *baseline, *pct),
                    versus: versus(*baseline, *pct),
                }
            })
            .collect();
        let total = m.total_opened(day, day);
        let unassigned = m.unassigned(day, day);
        let others: Vec<OtherService> = m
            .services_on(day)
            .into_iter()
            .filter(|s| !m.info(*s).featured)
            .map(|s| {
                let info = m.info(s);
                OtherService {
                    name: info.name.clone(),
                    count: m.city_opened(s, day),
                    href: href(&urls::service(&info.slug)),
                }
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
            // The services chart's rows: the month's file (see Dash::day_month).
            csv: format!("{month_dir}services.csv"),
        };
        let mut tables = vec![services_table];
        let mut chosen_view = None;
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
            let unassigned_service = by_ward[0];
            chosen_view = Some(ChosenService {
                slug: info.slug.clone(),
                name: info.name.clone(),
                count,
                sentence: chosen_sentence.clone(),
                unassigned: unassigned_service,
                busiest,
                busiest_count: max,
                wards: counts
                    .iter()
                    .map(|(w, n)| WardCount {
                        ward: *w,
                        count: *n,
                        href: href(&urls::ward(*w)),
                    })
                    .collect(),
                service_href: href(&urls::service(&info.slug)),
            });
        }
        // Every featured service by ward: what a page per service and day used to show.
        tables.push(Table {
            caption: format!("Featured services by {ward_w} on {}", long_date(day)),
            header: self.day_wards_header(),
            rows: self.day_wards_rows(day),
            csv: format!("{month_dir}{wards_w}.csv"),
        });
        let (prev, next) = self.periods.day_neighbours(day);
        let context = context_of(&DayPage {
            day: DayView {
                date: day.to_string(),
                label: long_date(day),
                weekday: weekday_name(day),
                total,
                unassigned,
                prev: PagerLink::to_period(prev, urls::day, long_date),
                next: PagerLink::to_period(next, urls::day, long_date),
                is_latest: day == range.last,
                before_data: m.first_day.is_none_or(|f| day < f),
            },
            services,
            others,
            chosen: chosen_view,
            services_table: &tables[0],
            wards_table: WardsTable {
                table: &tables[1],
                column_ids: featured
                    .iter()
                    .map(|s| format!("by-{ward_w}-{}", m.info(*s).slug))
                    .collect(),
            },
            api: format!("api/v1/days/{day}.json"),
        });

        // The API lists every service with a request that day, featured first.
        let api = self.day_api(day, unassigned);
        DayContext {
            context,
            api,
            total,
            chosen_name,
            chosen_sentence,
            shown: chosen,
        }
    }
}

impl Dash<'_, '_> {
    /// `api/v1/days/DATE.json`: every service with a request that day, featured first.
    fn day_api(&self, day: Day, unassigned: u64) -> DayApi {
        let m = self.m;
        let wards = m.wards;
        DayApi {
            date: day.to_string(),
            services: m
                .service_ids()
                .filter(|s| m.info(*s).featured || m.city_opened(*s, day) > 0)
                .map(|s| {
                    let count = m.city_opened(s, day);
                    let b = m.baseline(s, day);
                    let by_ward = self.day_wards().by_ward(s, day);
                    DayApiService {
                        above_average_pct: b.and_then(|b| b.above_average_pct(count)),
                        baseline: Num(b.map(|b| b.per_day)),
                        baseline_days: b.map(|b| b.days).unwrap_or(0),
                        opened: count,
                        slug: m.info(s).slug.clone(),
                        wards: (1..=wards)
                            .map(|w| (w.to_string(), by_ward[usize::from(w)]))
                            .collect(),
                    }
                })
                .collect(),
            unassigned,
        }
    }
}

/// See [`Dash::featured_on`].
struct FeaturedOnDay {
    /// Each featured service: its requests, baseline and percent above it.
    rows: Vec<(
        ServiceIdx,
        u64,
        Option<crate::aggregate::Baseline>,
        Option<i64>,
    )>,
    /// The service most above its baseline.
    greatest: Option<ServiceIdx>,
    /// The service the page leads with (its map).
    chosen: Option<ServiceIdx>,
}

/// What a day page needs, plus its API document.
pub(super) struct DayContext {
    context: Context,
    api: DayApi,
    total: u64,
    chosen_name: Option<String>,
    chosen_sentence: String,
    /// The service the ward map shows.
    shown: Option<ServiceIdx>,
}

/// A day page's template view (see `templates/day.html`).
#[derive(Serialize)]
struct DayPage<'t> {
    day: DayView,
    /// Featured services against their baselines.
    services: Vec<DayServiceRow>,
    /// The other services with requests that day.
    others: Vec<OtherService>,
    /// The service the ward map shows.
    chosen: Option<ChosenService>,
    services_table: &'t Table,
    /// Every featured service's requests by ward.
    wards_table: WardsTable<'t>,
    /// The day's JSON document, relative to the root.
    api: String,
}

/// The table of every featured service by ward, each service's column heading an anchor
/// (`#by-ward-SLUG`, in the city's word for its districts) that the service's card links to.
struct WardsTable<'t> {
    table: &'t Table,
    /// The ids of the columns after the first, in order.
    column_ids: Vec<String>,
}

impl Serialize for WardsTable<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let t = self.table;
        let mut html = super::html_table(&t.caption, &t.header, &t.rows);
        // The first heading is the ward's; each service heading after it gets its id.
        for id in self.column_ids.iter().rev() {
            if let Some(at) = html.rfind("<th scope=col>") {
                html.insert_str(at + "<th scope=col".len(), &format!(" id={id}"));
            }
        }
        let mut out = serializer.serialize_struct("WardsTable", 3)?;
        out.serialize_field("caption", &t.caption)?;
        out.serialize_field("csv", &t.csv)?;
        out.serialize_field("html", &super::blocks::hold(html))?;
        out.end()
    }
}

/// The day itself.
#[derive(Serialize)]
struct DayView {
    date: String,
    label: String,
    weekday: &'static str,
    total: u64,
    unassigned: u64,
    prev: Option<PagerLink>,
    next: Option<PagerLink>,
    is_latest: bool,
    before_data: bool,
}

/// A featured service on a day, against its baseline.
#[derive(Serialize)]
struct DayServiceRow {
    slug: String,
    name: String,
    count: u64,
    /// Requests per day in the baseline, one decimal.
    baseline: Option<String>,
    baseline_days: u32,
    pct: Option<i64>,
    above: bool,
    /// The service furthest above its baseline.
    greatest: bool,
    chosen: bool,
    sentence: String,
    versus: String,
}

/// A service that is not featured, with its count.
#[derive(Serialize)]
struct OtherService {
    name: String,
    count: u64,
    href: String,
}

/// The service the day's ward map shows.
#[derive(Serialize)]
struct ChosenService {
    slug: String,
    name: String,
    count: u64,
    sentence: String,
    unassigned: u64,
    busiest: Vec<WardNo>,
    busiest_count: u64,
    wards: Vec<WardCount>,
    service_href: String,
}

/// A ward's count of a service on a day.
#[derive(Serialize)]
struct WardCount {
    ward: WardNo,
    count: u64,
    href: String,
}

/// `api/v1/days/DATE.json` (the JSON API, docs/ARCHITECTURE.md). Fields in alphabetical order (see
/// `views.rs`).
#[derive(Serialize)]
pub struct DayApi {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Every featured service, and every other service with a request that day.
    pub services: Vec<DayApiService>,
    /// Requests that day with no valid ward.
    pub unassigned: u64,
}

/// A service in `api/v1/days/DATE.json`.
#[derive(Serialize)]
pub struct DayApiService {
    /// Percent above (or below) the baseline; null without one.
    pub above_average_pct: Option<i64>,
    /// Requests per day in the baseline.
    pub baseline: Num,
    /// Days in the baseline.
    pub baseline_days: u32,
    /// Requests opened that day.
    pub opened: u64,
    /// The service's slug.
    pub slug: String,
    /// Requests opened that day by ward (`"1"` … `"50"`).
    pub wards: BTreeMap<String, u64>,
}

impl Dash<'_, '_> {
    /// A day's two charts: the featured services against their baselines, and the ward map of
    /// `shown` (none without a boundary map), its wards linked from the page at `page_url`.
    fn day_chart_pair(
        &self,
        day: Day,
        shown: Option<ServiceIdx>,
        page_url: &str,
    ) -> Result<(charts::Chart, Option<charts::Chart>), RenderError> {
        let m = self.m;
        let bars: Vec<charts::ServiceBar> = (self.featured().iter())
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
        let services = charts::day_services(&long_date(day), &bars)
            .map_err(|e| RenderError::Chart(e.to_string()))?;
        let map = match (shown, self.r.boundaries_for(day)) {
            (Some(c), Some((b, name))) => {
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
                Some(maps::choropleth(
                    &b,
                    "map",
                    &subject,
                    "request",
                    &name,
                    &map_wards,
                    maps::MapLabels::Count,
                ))
            }
            _ => None,
        };
        Ok((services, map))
    }

    /// The day page's charts: services against their baseline and the ward map of `shown`, the
    /// service the page leads with, both inline on the page at `page_url`. The home page's copy
    /// (`latest`) writes their files at the site root, so a link to the latest day's chart
    /// keeps pointing at the latest day; a day page offers its month's (see
    /// [`Dash::day_month`]). Returns files written.
    pub(super) fn day_charts(
        &self,
        day: Day,
        shown: Option<ServiceIdx>,
        page_url: &str,
        latest: bool,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let (services, map) = self.day_chart_pair(day, shown, page_url)?;
        let month_dir = urls::day_month(day);
        let view = charts::Period::DAY.view_id(&day.to_string());
        // The home page's copy (`latest`, at the root) writes them beside it.
        let bundle = (!latest).then_some((month_dir.as_str(), view.as_str()));
        let mut files = 0;
        for (chart, name) in [
            (Some(&services), "services_chart"),
            (map.as_ref(), "map_chart"),
        ] {
            let Some(chart) = chart else { continue };
            let (shown, written) =
                (self.r).period_chart_view(chart, page_url, bundle, (true, false), Some(day))?;
            files += written;
            ctx.insert(name, &shown);
        }
        Ok(files)
    }

    /// A month of day pages' files in one folder (`day/2019-03/`): their charts as
    /// [`charts::ChartBundle`]s (`services`, `map`: an SVG with a view per day, CSV and JSON led
    /// by the date) and their tables of featured services by ward (`wards.csv`, led by the
    /// date). A month rather than a year: a map is some 25 KB, and an embed of one day loads
    /// the whole SVG. Returns files written.
    pub(super) fn day_month(&self, days: &[Day]) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let Some(&first) = days.first() else {
            return Ok((0, 0));
        };
        let dir = urls::day_month(first);
        let mut services = Vec::with_capacity(days.len());
        let mut maps = Vec::with_capacity(days.len());
        let mut wards = Vec::new();
        for &day in days {
            let shown = self.featured_on(day).chosen;
            let (s, map) = self.day_chart_pair(day, shown, &urls::day(day))?;
            services.push((day.to_string(), s));
            if let Some(map) = map {
                maps.push((day.to_string(), map));
            }
            for row in self.day_wards_rows(day) {
                wards.push(std::iter::once(day.to_string()).chain(row).collect());
            }
        }
        let month = first.date().strftime("%B %Y").to_string();
        let files = self.r.write_bundles(
            &dir,
            charts::Period::DAY,
            vec![
                (
                    "services",
                    format!("Featured services against their baseline, each day of {month}"),
                    services,
                ),
                (
                    "map",
                    format!(
                        "Requests of each day's leading service by {}, each day of {month}",
                        terms.one
                    ),
                    maps,
                ),
            ],
            days.last().copied(),
        )?;
        let header: Vec<String> = std::iter::once("Date".to_string())
            .chain(self.day_wards_header())
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        self.files
            .csv(&format!("{dir}{}.csv", terms.many), &header, &wards)?;
        Ok((0, files + 1))
    }

    /// The day's social card (shared by the day page and, for the latest day, the home page).
    pub(super) fn day_card(&self, day: Day, total: u64) -> Result<String, RenderError> {
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
}

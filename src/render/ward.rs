//! Ward pages (pages and URLs, docs/ARCHITECTURE.md): a page per ward and week, the ward's own page
//! for its latest week, its boundary maps and its feed.

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
use crate::charts::{self, maps};
use crate::content::wards::WardOffice;
use crate::domain::{Day, WardNo};

impl Dash<'_, '_> {
    // ---------------------------------------------------------------- ward pages

    pub(super) fn ward_pages(&self) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let ward_w = &terms.one;
        let wards_t = &terms.many_title;
        let wards_w = &terms.many;
        let m = self.m;
        let cfg = self.r.input.config;
        let offices = self.r.input.offices;
        // The ward index.
        let wards: Vec<WardIndexRow> = (1..=m.wards)
            .map(|w| WardIndexRow {
                ward: w,
                alderman: offices.get(&w).map(|o| o.alderman.clone()),
                href: href(&urls::ward(w)),
                week_opened: self.range.map(|r| {
                    m.ward_days(w, r.last_week, r.last)
                        .iter()
                        .map(|(_, o, _)| o)
                        .sum::<u64>()
                }),
            })
            .collect();
        // The representatives' column only when the city has an offices file.
        let has_offices = !offices.is_empty();
        let mut header = vec![ward_t.to_string()];
        if has_offices {
            header.push("Alderman".into());
        }
        header.push("Requests this week".into());
        let table = Table {
            caption: if has_offices {
                format!("{wards_t} and their aldermen")
            } else {
                format!("The {wards_w} and their requests this week")
            },
            header,
            rows: wards
                .iter()
                .map(|w| {
                    let mut row = vec![w.ward.to_string()];
                    if has_offices {
                        row.push(w.alderman.clone().unwrap_or_default());
                    }
                    row.push(w.week_opened.map(|n| n.to_string()).unwrap_or_default());
                    row
                })
                .collect(),
            csv: format!("{ward_w}/{wards_w}.csv"),
        };
        table.write(&self.files)?;
        let mut ctx = context_of(&WardIndexPage {
            wards: &wards,
            week: self.range.map(|r| WeekSpan {
                label: week_label(r.last_week),
                start: r.last_week.to_string(),
                end: r.last.to_string(),
            }),
            table: &table,
        });
        let mut map_files = 0;
        if let Some((b, name)) = self.range.and_then(|r| self.r.boundaries_for(r.last)) {
            let map_wards: Vec<maps::MapWard> = wards
                .iter()
                .map(|w| maps::MapWard {
                    ward: w.ward,
                    value: w.week_opened.unwrap_or(0),
                    href: ward_link(&format!("{ward_w}/"), w.ward),
                    note: w.alderman.as_ref().map(|a| format!("Alderman {a}")),
                })
                .collect();
            let map = maps::choropleth(
                &b,
                &format!("{wards_w}-map"),
                "requests this week",
                "request",
                &name,
                &map_wards,
                maps::MapLabels::Ward,
            );
            let through = self.r.input.as_of;
            map_files = self.r.write_chart(&map, &format!("{ward_w}/"), through)?;
            ctx.insert(
                "wards_map",
                &self
                    .r
                    .chart_view(&map, &format!("{ward_w}/"), true, false, through),
            );
        }
        let meta = PageMeta {
            title: format!("The {} {wards_w} of {}", m.wards, cfg.city.name),
            description: format!(
                "311 service requests in each of {}'s {} {wards_w}{}.",
                cfg.city.name,
                m.wards,
                if has_offices {
                    ", with their aldermen"
                } else {
                    ""
                }
            ),
            section: "ward".into(),
            image: None,
        };
        self.r
            .page(&format!("{ward_w}/"), "ward_index.html", &meta, ctx)?;
        let Some(range) = self.range else {
            for w in 1..=m.wards {
                self.no_data(&urls::ward(w), &format!("{ward_t} {w}"), "ward")?;
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

    pub(super) fn ward(&self, range: Range, ward: WardNo) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let wards_w = &terms.many;
        let m = self.m;
        let (mut pages, mut files) = self.ward_maps(range, ward)?;
        let mut feed_entries = Vec::new();
        let note = self.r.input.content.ward_note(ward).map(|p| &p.html);
        // Every week page lists the ward's busiest days over all the data.
        let busiest: Vec<(i32, u64)> = m
            .ward_busiest_days(ward, 6)
            .into_iter()
            .map(|(d, n)| (d.0, n))
            .collect();
        let weeks = self.periods.ward_weeks(ward);
        // A feed carries the latest year of weeks; older weeks keep their pages.
        let feed_from = weeks.len().saturating_sub(FEED_WEEKS);
        for (i, &monday) in weeks.iter().enumerate() {
            let sunday = monday.plus(6);
            let complete = sunday <= range.last;
            // A week page shows that week's figures (its rankings compare every ward, so the
            // whole city's week counts), the busiest days, its place in the range and the
            // ward's editorial note.
            let key = self
                .r
                .unit_key()
                .with("ward week")
                .with(&ward)
                .with(&monday.0)
                .with(&m.window_digest(monday, sunday))
                .with(&(!complete).then_some(range.last.0))
                .with(&self.periods.ward_week_neighbours(ward, monday))
                .with(&(monday == range.last_week))
                .with(&busiest)
                .with(&note);
            let done = self
                .r
                .unit(&urls::ward_week(ward, monday), key.finish(), || {
                    self.ward_week(range, ward, monday)
                })?;
            let (p, f) = counted(done);
            pages += p;
            files += f;
            if i < feed_from {
                continue;
            }
            let (opened, closed) = m
                .ward_days(ward, monday, range.week_end(monday))
                .iter()
                .fold((0, 0), |(o, c), d| (o + d.1, c + d.2));
            feed_entries.push((
                monday,
                ward_week_summary(ward, monday, opened, closed, complete),
            ));
        }
        // Each year of weeks: its charts' and tables' files, made again when one of its weeks
        // changed (see Dash::ward_week_year).
        for made in weeks.chunk_by(|a, b| a.date().year() == b.date().year()) {
            let year = made[0].date().year();
            let year_weeks = &self.bundle_periods(made, weeks_of_year(made[0], year), 7);
            let mut key = self
                .r
                .unit_key()
                .with("ward week year")
                .with(&ward)
                .with(&year);
            for &monday in year_weeks {
                let sunday = monday.plus(6);
                key = key
                    .with(&monday.0)
                    .with(&m.window_digest(monday, sunday))
                    .with(&(sunday > range.last).then_some(range.last.0));
            }
            let done = self
                .r
                .unit(&urls::ward_week_year(ward, year), key.finish(), || {
                    self.ward_week_year(range, ward, year, year_weeks)
                })?;
            let (p, f) = counted(done);
            pages += p;
            files += f;
        }
        // Highs, per service, over the whole store.
        let services = self.m.services_in_ward(ward);
        let highs = WardHighsApi {
            services: services
                .iter()
                .map(|s| {
                    let list = self
                        .m
                        .highs(*s, ward)
                        .into_iter()
                        .map(|(d, n)| DayCount {
                            count: n,
                            date: d.to_string(),
                        })
                        .collect();
                    (self.m.info(*s).slug.clone(), list)
                })
                .collect(),
            ward,
        };
        self.files
            .json(&format!("api/v1/{wards_w}/{ward}/highs.json"), &highs)?;
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
    pub(super) fn ward_week(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
    ) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let wards_w = &terms.many;
        let (mut pages, mut files) = (0, 0);
        let through = Some(range.week_end(monday));
        let (mut ctx, api, summary) = self.ward_week_context(range, ward, monday);
        self.r.set_through(&mut ctx, through);
        self.files.json(
            &format!("api/v1/{wards_w}/{ward}/weeks/{monday}.json"),
            &api,
        )?;
        files += 1;
        let url = urls::ward_week(ward, monday);
        let latest = ctx.clone();
        files += self.ward_week_charts(range, ward, monday, &url, &mut ctx)?;
        let opened: u64 = api.days.iter().map(|d| d.opened).sum();
        let closed: u64 = api.days.iter().map(|d| d.closed).sum();
        // One card per ward, drawn for its latest week: a card per archived week would
        // multiply the build's slowest files for previews nobody asked for, so archived
        // weeks (and the ward × service pages) share the ward's card, which names its week.
        let card = format!("{}card.png", urls::ward(ward));
        if monday == range.last_week {
            self.r.card(
                &card,
                &format!("{ward_t} {ward}, week of {}", week_label(monday)),
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
            title: format!("{ward_t} {ward}, week of {}", short_date(monday)),
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

    pub(super) fn ward_week_context(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
    ) -> (Context, WardWeekApi, String) {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let ward_w = &terms.one;
        let wards_w = &terms.many;
        let m = self.m;
        let sunday = monday.plus(6);
        let last = range.week_end(monday);
        let complete = sunday <= range.last;
        // Days after the last day of data are not counted, though the source may already hold
        // closes on them: the page says "data through {last}".
        let days = m.ward_days(ward, monday, last);
        let opened: u64 = days.iter().map(|d| d.1).sum();
        let closed: u64 = days.iter().map(|d| d.2).sum();
        // The week's rows are in its year's files (see Dash::ward_week_year).
        let year_dir = urls::ward_week_year(ward, monday.date().year());
        let day_rows: Vec<WeekDayRow> = days
            .iter()
            .map(|(d, o, c)| WeekDayRow {
                date: d.to_string(),
                label: format!("{} {}", &weekday_name(*d)[..3], short_date(*d)),
                opened: *o,
                closed: *c,
                future: false,
            })
            .collect();
        let days_table = Table {
            caption: format!(
                "Requests opened and closed in {ward_t} {ward} each day, week of {}",
                short_date(monday)
            ),
            header: vec!["Date".into(), "Opened".into(), "Closed".into()],
            rows: days
                .iter()
                .map(|(d, o, c)| vec![d.to_string(), o.to_string(), c.to_string()])
                .collect(),
            // The same rows as the week's chart: the table offers the chart's CSV.
            csv: format!("{year_dir}opened-closed.csv"),
        };

        let (services, api_services, ranking_sentences) =
            self.ward_week_services(ward, monday, last);
        let services_table = Table {
            caption: format!(
                "Each service in {ward_t} {ward}, week of {}",
                short_date(monday)
            ),
            header: SERVICES_HEADER.iter().map(|h| h.to_string()).collect(),
            rows: services_rows(&services, &api_services),
            csv: format!("{year_dir}services.csv"),
        };
        let busiest = m.ward_busiest_days(ward, 6);
        let busiest_table = Table::day_counts(
            format!("Days with the most requests in {ward_t} {ward}, all services"),
            &busiest,
            // All the data, the same for every week: the ward's busiest-days chart's CSV.
            format!("{}busiest-days.csv", urls::ward(ward)),
        );
        let office = self.r.input.offices.get(&ward);
        let (prev, next) = self.periods.ward_week_neighbours(ward, monday);
        let summary = ward_week_summary(ward, monday, opened, closed, complete);
        let ctx = context_of(&WardWeekPage {
            ward: WardView {
                number: ward,
                office,
                note: self.r.input.content.ward_note(ward).map(|p| p.html.clone()),
            },
            week: WardWeekView {
                start: monday.to_string(),
                end: sunday.to_string(),
                last: last.to_string(),
                label: week_label(monday),
                complete,
                opened,
                closed,
                summary: summary.clone(),
                prev: PagerLink::to_period(prev, |d| urls::ward_week(ward, d), week_label),
                next: PagerLink::to_period(next, |d| urls::ward_week(ward, d), week_label),
            },
            days: day_rows,
            services,
            ranking_sentences,
            busiest: busiest
                .iter()
                .map(|(d, n)| BusyDayRow {
                    date: d.to_string(),
                    label: long_date(*d),
                    count: *n,
                })
                .collect(),
            days_table: &days_table,
            services_table: &services_table,
            busiest_table: &busiest_table,
            api: format!("api/v1/{wards_w}/{ward}/weeks/{monday}.json"),
            feed: format!("feeds/{ward_w}/{ward}.xml"),
        });
        let api = WardWeekApi {
            days: days
                .iter()
                .map(|(d, o, c)| DayOpenedClosed {
                    closed: *c,
                    date: d.to_string(),
                    opened: *o,
                })
                .collect(),
            services: api_services,
            ward,
            week_end: sunday.to_string(),
            week_start: monday.to_string(),
        };
        (ctx, api, summary)
    }

    /// Each service with activity in the ward's week (featured ones always): its row on the
    /// page, its entry in the week's JSON document, and, for featured services with activity,
    /// what the week's ranking says of the ward.
    fn ward_week_services(
        &self,
        ward: WardNo,
        monday: Day,
        last: Day,
    ) -> (
        Vec<WardWeekServiceRow>,
        Vec<WardWeekApiService>,
        Vec<String>,
    ) {
        let m = self.m;
        let mut services = Vec::new();
        let mut api_services = Vec::new();
        let mut ranking_sentences = Vec::new();
        for s in m.service_ids() {
            let info = m.info(s);
            let stats = m.ward_window(s, ward, monday, last);
            if !info.featured && stats.opened == 0 && stats.closed == 0 {
                continue;
            }
            let ranking = self.ranking(s, monday);
            let rank = ranking.of(ward);
            let ttc = stats.ttc;
            api_services.push(WardWeekApiService {
                closed: stats.closed,
                opened: stats.opened,
                rank: rank.map(|r| r.rank),
                ranked_of: ranking.ranked.len(),
                slug: info.slug.clone(),
                ttc_closed: ttc.map(|t| t.count).unwrap_or(0),
                ttc_mean_days: Num(ttc.map(|t| t.mean_days)),
                ttc_median_days: Num(ttc.map(|t| t.median_days)),
            });
            let sentence = ranking_sentence(ward, &info.name, &stats, &ranking);
            if info.featured && (stats.opened > 0 || stats.closed > 0) {
                ranking_sentences.push(sentence.clone());
            }
            services.push(WardWeekServiceRow {
                slug: info.slug.clone(),
                name: info.name.clone(),
                featured: info.featured,
                opened: stats.opened,
                closed: stats.closed,
                ttc_mean: days_text(ttc.map(|t| t.mean_days)),
                ttc_median: days_text(ttc.map(|t| t.median_days)),
                rank: rank.map(|r| r.rank),
                rank_text: rank
                    .map(|r| format!("{} of {}", ordinal(r.rank), ranking.ranked.len()))
                    .unwrap_or_else(|| "not ranked".into()),
                sentence,
                href: href(&urls::ward_service(ward, &info.slug)),
                service_week_href: (self.periods.has_service_week(s, monday))
                    .then(|| self.periods.service_week_link(s, &info.slug, monday)),
            });
        }
        (services, api_services, ranking_sentences)
    }

    pub(super) fn feed(&self, ward: WardNo, entries: &[(Day, String)]) -> Result<(), RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let ward_w = &terms.one;
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
        let ctx = context_of(&WardFeed {
            site: FeedSite {
                title: &self.r.input.config.site.title,
            },
            ward,
            self_url: base.join(&format!("feeds/{ward_w}/{ward}.xml")),
            page_url: base.join(&urls::ward(ward)),
            updated,
            entries: entries
                .iter()
                .rev()
                .map(|(d, summary)| FeedEntry {
                    title: format!("{ward_t} {ward}: week of {}", week_label(*d)),
                    link: base.join(&urls::ward_week(ward, *d)),
                    id: base.join(&urls::ward_week(ward, *d)),
                    updated: format!(
                        "{}T00:00:00Z",
                        d.plus(6).min(self.range.map(|r| r.last).unwrap_or(*d))
                    ),
                    summary: summary.clone(),
                })
                .collect(),
        });
        let mut ctx = ctx;
        ctx.insert("terms", &*terms);
        let xml = self.r.render("feed.xml", &ctx)?;
        self.r
            .out
            .write(&format!("feeds/{ward_w}/{ward}.xml"), xml.as_bytes())?;
        Ok(())
    }
}

impl Dash<'_, '_> {
    /// A ward week's two charts: requests opened and closed each day, and the time-to-close
    /// ranking of the service the ward closed most of that week (none when it closed nothing).
    fn ward_week_chart_pair(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
    ) -> Result<(charts::Chart, Option<charts::Chart>), RenderError> {
        let m = self.m;
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
        let best = m
            .service_ids()
            .map(|s| {
                (
                    s,
                    m.ward_window(s, ward, monday, range.week_end(monday))
                        .closed,
                )
            })
            .filter(|(_, closed)| *closed > 0)
            .max_by_key(|(s, closed)| (*closed, std::cmp::Reverse(*s)));
        let ranking = match best {
            Some((s, _)) => {
                let ranking = self.ranking(s, monday);
                let ranked = ranked_wards(&ranking);
                Some(
                    charts::ttc_ranking(
                        "ttc-ranking",
                        &m.info(s).name,
                        &format!("in the week of {}", week_label(monday)),
                        &ranked,
                        ranking.min_closed,
                        Some(ward),
                    )
                    .map_err(err)?,
                )
            }
            None => None,
        };
        Ok((week, ranking))
    }

    /// A ward week page's charts for the page at `page_url`. The ward's own page (its latest
    /// week) writes its charts' files into its folder; a week page shows its charts inline and
    /// offers its year's files (see [`Dash::ward_week_year`]). Returns files written.
    pub(super) fn ward_week_charts(
        &self,
        range: Range,
        ward: WardNo,
        monday: Day,
        page_url: &str,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let m = self.m;
        let mut files = 0;
        let through = Some(range.week_end(monday));
        let err = |e: charts::ChartError| RenderError::Chart(e.to_string());
        let ward_dir = urls::ward(ward);
        let own_page = page_url == ward_dir;
        let year_dir = urls::ward_week_year(ward, monday.date().year());
        let view = charts::Period::WEEK.view_id(&monday.to_string());
        let bundle = (!own_page).then_some((year_dir.as_str(), view.as_str()));
        let (week, ranking) = self.ward_week_chart_pair(range, ward, monday)?;
        // The day by day chart inline without a table (the page has one); the ranking with its
        // own table.
        for (chart, name, shown) in [
            (Some(&week), "week_chart", (true, false)),
            (ranking.as_ref(), "ranking_chart", (false, true)),
        ] {
            let Some(chart) = chart else { continue };
            let (view, written) =
                (self.r).period_chart_view(chart, page_url, bundle, shown, through)?;
            files += written;
            ctx.insert(name, &view);
        }

        // The busiest days (all the data) live in the ward's own folder.
        let busy: Vec<charts::BusyDay> = m
            .ward_busiest_days(ward, 6)
            .into_iter()
            .map(|(d, n)| charts::BusyDay {
                date: d.to_string(),
                label: format!("{}, {}", short_date(d), d.date().year()),
                count: n,
            })
            .collect();
        let busiest = charts::busiest_days("busiest-days", &format!("in {ward_t} {ward}"), &busy)
            .map_err(err)?;
        if own_page {
            files += self.r.write_chart(&busiest, &ward_dir, through)?;
        }
        // The same chart on every week: inline on the ward's own page, its file on an archived
        // week's (a lighter page; the chart is an image either way, with the same alt text).
        ctx.insert(
            "busiest_chart",
            &self
                .r
                .chart_view(&busiest, &ward_dir, page_url == ward_dir, false, through),
        );

        // The ward's outline among its neighbours, on the map in force that week.
        // The ward's own page draws it inline, its wards links; an archived week, a tenth of
        // the page, shows the ward's file of the same map and lists the neighbours as links.
        if let Some((b, name)) = self.r.boundaries_for(range.week_end(monday)) {
            let mut map = maps::ward_locator(&b, ward, &name, |w| ward_link(page_url, w));
            map.id = ward_map_id(&name);
            let inline = page_url == ward_dir;
            ctx.insert(
                "ward_map",
                &self.r.chart_view(&map, &ward_dir, inline, true, through),
            );
            if !inline {
                let neighbours: Vec<Neighbour> = (b.neighbours.get(&ward).into_iter().flatten())
                    .map(|&w| Neighbour {
                        ward: w,
                        href: href(&urls::ward(w)),
                    })
                    .collect();
                ctx.insert("ward_neighbours", &neighbours);
            }
        }
        Ok(files)
    }

    /// A year of a ward's weeks in one set of files (`ward/12/week/2019/`): each chart of its
    /// week pages as a [`charts::ChartBundle`] (`opened-closed`, `ttc-ranking`: SVG with a view
    /// per week, CSV, JSON) and the weeks' tables of services in `services.csv`. One folder
    /// of a few files instead of eight files in each of fifty-two week folders. Returns files
    /// written.
    pub(super) fn ward_week_year(
        &self,
        range: Range,
        ward: WardNo,
        year: i16,
        mondays: &[Day],
    ) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let dir = urls::ward_week_year(ward, year);
        let mut weeks = Vec::with_capacity(mondays.len());
        let mut rankings = Vec::new();
        let mut services = Vec::new();
        for &monday in mondays {
            let period = monday.to_string();
            let (week, ranking) = self.ward_week_chart_pair(range, ward, monday)?;
            weeks.push((period.clone(), week));
            if let Some(ranking) = ranking {
                rankings.push((period.clone(), ranking));
            }
            let (rows, api, _) = self.ward_week_services(ward, monday, range.week_end(monday));
            for row in services_rows(&rows, &api) {
                services.push(std::iter::once(period.clone()).chain(row).collect());
            }
        }
        let through = mondays.last().map(|&d| range.week_end(d));
        let ranked = format!(
            "Mean days to close, by {}, of the service closed most",
            terms.one
        );
        let files = self.r.write_bundles(
            &dir,
            charts::Period::WEEK,
            vec![
                (
                    "opened-closed",
                    format!("Requests opened and closed each day in {ward_t} {ward}, each week of {year}"),
                    weeks,
                ),
                (
                    "ttc-ranking",
                    format!("{ranked} in {ward_t} {ward}, each week of {year}"),
                    rankings,
                ),
            ],
            through,
        )?;
        let header: Vec<&str> = std::iter::once("Week starting")
            .chain(SERVICES_HEADER)
            .collect();
        self.files
            .csv(&format!("{dir}services.csv"), &header, &services)?;
        Ok((0, files + 1))
    }

    /// The ward's outline among its neighbours, one bundle per boundary map its weeks use, in
    /// the ward's folder and linked from every week (see [`Dash::ward_week_charts`]).
    pub(super) fn ward_maps(
        &self,
        range: Range,
        ward: WardNo,
    ) -> Result<(usize, usize), RenderError> {
        let ward_dir = urls::ward(ward);
        let mut names = Vec::new();
        let mut total = (0, 0);
        for &monday in self.periods.ward_weeks(ward) {
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
}

/// How many of the latest weeks a ward's feed lists.
const FEED_WEEKS: usize = 52;

/// The Mondays of `year`, counted from `monday`, one of them.
pub(super) fn weeks_of_year(monday: Day, year: i16) -> impl Iterator<Item = Day> {
    (-53..=53)
        .map(move |k| monday.plus(7 * k))
        .filter(move |d| d.date().year() == year)
}

/// The headings of a ward week's table of services (and of its year's `services.csv`, after
/// the week).
const SERVICES_HEADER: [&str; 6] = [
    "Service",
    "Opened",
    "Closed",
    "Mean days to close",
    "Median days to close",
    "Rank",
];

/// A ward week's table of services: each service's row, as the week's JSON document says it.
fn services_rows(
    services: &[WardWeekServiceRow],
    api_services: &[WardWeekApiService],
) -> Vec<Vec<String>> {
    services
        .iter()
        .zip(api_services)
        .map(|(s, a)| {
            vec![
                s.name.clone(),
                s.opened.to_string(),
                s.closed.to_string(),
                // The table shows what the API says: days to three decimals.
                a.ttc_mean_days
                    .rounded()
                    .map(crate::numbers::days_figure_text)
                    .unwrap_or_default(),
                a.ttc_median_days
                    .rounded()
                    .map(crate::numbers::days_figure_text)
                    .unwrap_or_default(),
                a.rank.map(|v| v.to_string()).unwrap_or_default(),
            ]
        })
        .collect()
}

/// The id (file name) of a ward's boundary map bundle for the boundary map `name`.
pub(super) fn ward_map_id(name: &str) -> String {
    let terms = crate::domain::Terms::current();
    let ward_w = &terms.one;
    format!("{ward_w}-map-{}", crate::domain::slugify(name))
}

/// The ward index's template view (see `templates/ward_index.html`).
#[derive(Serialize)]
struct WardIndexPage<'t> {
    wards: &'t [WardIndexRow],
    /// The latest week, when there is data.
    week: Option<WeekSpan>,
    table: &'t Table,
}

/// A ward on the ward index.
#[derive(Serialize)]
struct WardIndexRow {
    ward: WardNo,
    alderman: Option<String>,
    href: String,
    /// Requests opened in the latest week.
    week_opened: Option<u64>,
}

/// A week's label and ends.
#[derive(Serialize)]
struct WeekSpan {
    label: String,
    start: String,
    end: String,
}

/// A ward week page's template view (see `templates/ward_week.html`).
#[derive(Serialize)]
struct WardWeekPage<'t> {
    ward: WardView<'t>,
    week: WardWeekView,
    days: Vec<WeekDayRow>,
    services: Vec<WardWeekServiceRow>,
    /// What the week's rankings say of the ward's featured services.
    ranking_sentences: Vec<String>,
    busiest: Vec<BusyDayRow>,
    days_table: &'t Table,
    services_table: &'t Table,
    busiest_table: &'t Table,
    /// The week's JSON document, relative to the root.
    api: String,
    /// The ward's feed, relative to the root.
    feed: String,
}

/// The ward: its number, office and note.
#[derive(Serialize)]
struct WardView<'t> {
    number: WardNo,
    office: Option<&'t WardOffice>,
    /// The ward's Markdown note, as HTML.
    note: Option<String>,
}

/// The week of a ward week page.
#[derive(Serialize)]
struct WardWeekView {
    start: String,
    end: String,
    /// The last day with data in the week.
    last: String,
    label: String,
    complete: bool,
    opened: u64,
    closed: u64,
    summary: String,
    prev: Option<PagerLink>,
    next: Option<PagerLink>,
}

/// A day of a ward's week.
#[derive(Serialize)]
struct WeekDayRow {
    date: String,
    label: String,
    opened: u64,
    closed: u64,
    /// After the last day of data.
    future: bool,
}

/// A service in a ward's week.
#[derive(Serialize)]
struct WardWeekServiceRow {
    slug: String,
    name: String,
    featured: bool,
    opened: u64,
    closed: u64,
    ttc_mean: String,
    ttc_median: String,
    rank: Option<usize>,
    rank_text: String,
    sentence: String,
    href: String,
    service_week_href: Option<String>,
}

/// One of the ward's busiest days.
#[derive(Serialize)]
struct BusyDayRow {
    date: String,
    label: String,
    count: u64,
}

/// A ward's Atom feed's view (see `templates/feed.xml`).
#[derive(Serialize)]
struct WardFeed<'t> {
    site: FeedSite<'t>,
    ward: WardNo,
    self_url: String,
    page_url: String,
    updated: String,
    entries: Vec<FeedEntry>,
}

/// The site, as a feed names it.
#[derive(Serialize)]
struct FeedSite<'t> {
    title: &'t str,
}

/// A week in a ward's feed.
#[derive(Serialize)]
struct FeedEntry {
    title: String,
    link: String,
    id: String,
    updated: String,
    summary: String,
}

/// `api/v1/wards/N/weeks/MONDAY.json` (the JSON API, docs/ARCHITECTURE.md). Fields in alphabetical
/// order (see `views.rs`).
#[derive(Serialize)]
pub struct WardWeekApi {
    /// Each day of the week.
    pub days: Vec<DayOpenedClosed>,
    /// Each featured service, and every other with activity that week.
    pub services: Vec<WardWeekApiService>,
    /// The ward.
    pub ward: WardNo,
    /// The week's Sunday.
    pub week_end: String,
    /// The week's Monday.
    pub week_start: String,
}

/// A day's requests opened and closed.
#[derive(Serialize)]
pub struct DayOpenedClosed {
    /// Closed that day.
    pub closed: u64,
    /// The day.
    pub date: String,
    /// Opened that day.
    pub opened: u64,
}

/// A service in a ward's week.
#[derive(Serialize)]
pub struct WardWeekApiService {
    /// Closed in the week.
    pub closed: u64,
    /// Opened in the week.
    pub opened: u64,
    /// The ward's rank by mean time to close, when ranked.
    pub rank: Option<usize>,
    /// Wards ranked.
    pub ranked_of: usize,
    /// The service.
    pub slug: String,
    /// Closes with a valid time to close.
    pub ttc_closed: u64,
    /// Mean days to close.
    pub ttc_mean_days: Num,
    /// Median days to close.
    pub ttc_median_days: Num,
}

/// `api/v1/wards/N/highs.json`: each service's busiest days in the ward.
#[derive(Serialize)]
pub struct WardHighsApi {
    /// By service slug.
    pub services: BTreeMap<String, Vec<DayCount>>,
    /// The ward.
    pub ward: WardNo,
}

/// A day's count.
#[derive(Serialize)]
pub struct DayCount {
    /// Requests.
    pub count: u64,
    /// The day.
    pub date: String,
}

/// A neighbouring ward, linked.
#[derive(Serialize)]
struct Neighbour {
    ward: WardNo,
    href: String,
}

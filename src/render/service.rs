//! Service pages (pages and URLs, docs/ARCHITECTURE.md): a page per featured service and week, with
//! every ward's figures and the time-to-close ranking, and the service's own page for its latest
//! week.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;
use tera::Context;

use super::site::*;
use super::tables::Table;
use super::urls::{self, href};
use super::views::{Num, PagerLink, context_of};
use super::words::*;
use super::{PageMeta, RenderError, format_days, thousands, urlencode};
use crate::aggregate::ServiceIdx;
use crate::charts;
use crate::domain::{Day, WardNo};

impl Dash<'_, '_> {
    // ---------------------------------------------------------------- service pages

    pub(super) fn service_pages(&self) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let cfg = self.r.input.config;
        let list: Vec<ServiceIndexRow> = m
            .service_ids()
            .map(|s| {
                let info = m.info(s);
                ServiceIndexRow {
                    slug: info.slug.clone(),
                    name: info.name.clone(),
                    featured: info.featured,
                    opened_total: info.opened_total,
                    week_opened: self.range.map(|r| m.city_counts(s, r.last_week, r.last).0),
                    href: href(&urls::service(&info.slug)),
                }
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
                        v.name.clone(),
                        if v.featured { "yes" } else { "no" }.into(),
                        v.week_opened.map(|n| n.to_string()).unwrap_or_default(),
                        v.opened_total.to_string(),
                    ]
                })
                .collect(),
            csv: "service/services.csv".into(),
        };
        table.write(&self.files)?;
        let api: Vec<ServiceApi> = m
            .service_ids()
            .map(|s| {
                let i = m.info(s);
                ServiceApi {
                    codes: &i.codes,
                    featured: i.featured,
                    name: &i.name,
                    opened_total: i.opened_total,
                    slug: &i.slug,
                }
            })
            .collect();
        self.files.json("api/v1/services.json", &api)?;
        let ctx = context_of(&ServiceIndexPage {
            services: &list,
            table: &table,
            week: self.range.map(|r| week_label(r.last_week)),
        });
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

    /// A service's pages: a page per week with data when its weeks have pages of their own
    /// (featured services), else a page per year with a section per week; and its own page,
    /// the latest week.
    pub(super) fn service(
        &self,
        range: Range,
        s: ServiceIdx,
    ) -> Result<(usize, usize), RenderError> {
        let m = self.m;
        let (mut pages, mut files) = (0, 0);
        let weekly = self.periods.weekly(s);
        let mondays: &[Day] = if weekly {
            self.periods.service_weeks(s)
        } else {
            std::slice::from_ref(&range.last_week)
        };
        for &monday in mondays {
            let sunday = monday.plus(6);
            // The week's figures of every ward, the page's place in the range, the one
            // whole-history figure the page states (closes before the open), and the
            // service's editorial note.
            let note = self.r.input.content.service_note(&m.info(s).slug);
            let key = self
                .r
                .unit_key()
                .with("service week")
                .with(&s)
                .with(&monday.0)
                .with(&m.window_digest(monday, sunday))
                .with(&m.info(s).negative_durations)
                .with(&(sunday > range.last).then_some(range.last.0))
                .with(&self.periods.service_week_neighbours(s, monday))
                .with(&self.periods.service_years(s))
                .with(&(monday == range.last_week))
                .with(&note.map(|p| &p.html));
            let url = if weekly {
                urls::service_week(&m.info(s).slug, monday)
            } else {
                urls::service(&m.info(s).slug)
            };
            let done = self
                .r
                .unit(&url, key.finish(), || self.service_week(range, s, monday))?;
            let (p, f) = counted(done);
            pages += p;
            files += f;
        }
        if weekly {
            // Each year of week pages: its charts' files, made again when one of its weeks
            // changed.
            for made in mondays.chunk_by(|a, b| a.date().year() == b.date().year()) {
                let year = made[0].date().year();
                let year_weeks =
                    &self.bundle_periods(made, super::ward::weeks_of_year(made[0], year), 7);
                let mut key = self
                    .r
                    .unit_key()
                    .with("service week year")
                    .with(&s)
                    .with(&year);
                for &monday in year_weeks {
                    let sunday = monday.plus(6);
                    key = key
                        .with(&monday.0)
                        .with(&m.window_digest(monday, sunday))
                        .with(&(sunday > range.last).then_some(range.last.0));
                }
                let url = urls::service_week_year(&m.info(s).slug, year);
                let done = self.r.unit(&url, key.finish(), || {
                    self.service_week_year(range, s, year, year_weeks)
                })?;
                let (p, f) = counted(done);
                pages += p;
                files += f;
            }
        }
        for year in self.periods.service_years(s) {
            let (p, f) = self.service_year_unit(range, s, year)?;
            pages += p;
            files += f;
        }
        Ok((pages, files))
    }

    /// One week of a service: its page (and, for the latest week, the service's own page),
    /// tables, API document, charts and card.
    pub(super) fn service_week(
        &self,
        range: Range,
        s: ServiceIdx,
        monday: Day,
    ) -> Result<(usize, usize), RenderError> {
        let (mut pages, mut files) = (0, 0);
        let through = Some(range.week_end(monday));
        let (mut ctx, api, tables, summary) = self.service_week_context(range, s, monday);
        self.r.set_through(&mut ctx, through);
        let slug = &self.m.info(s).slug;
        // A service without week pages has its weeks in its year documents.
        let weekly = self.periods.weekly(s);
        // With week pages, the tables' CSV files are the year's charts' (service_week_year).
        if !weekly {
            for t in &tables {
                t.write(&self.files)?;
                files += 1;
            }
        }
        if weekly {
            self.files
                .json(&format!("api/v1/services/{slug}/weeks/{monday}.json"), &api)?;
            files += 1;
        }
        let url = urls::service_week(slug, monday);
        let latest = ctx.clone();
        if weekly {
            files += self.service_week_charts(s, monday, &url, through, &mut ctx)?;
        }
        let city = &api.city;
        // One card per service, drawn for its latest week (see `ward`).
        let card = format!("{}card.png", urls::service(slug));
        if monday == range.last_week {
            self.r.card(
                &card,
                &format!("{}, week of {}", self.m.info(s).name, week_label(monday)),
                &thousands(city.opened),
                &format!(
                    "requests in {}; {} closed{}",
                    self.r.input.config.city.name,
                    thousands(city.closed),
                    city.ttc_mean_days
                        .rounded()
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
        if weekly {
            self.r.page(&url, "service_week.html", &meta, ctx)?;
            pages += 1;
        }
        if monday == range.last_week {
            let mut latest = latest;
            let own = urls::service(slug);
            files += self.service_week_charts(s, monday, &own, through, &mut latest)?;
            self.r.page(&own, "service_week.html", &meta, latest)?;
            pages += 1;
        }
        Ok((pages, files))
    }

    pub(super) fn service_week_context(
        &self,
        range: Range,
        s: ServiceIdx,
        monday: Day,
    ) -> (Context, ServiceWeekApi, Vec<Table>, String) {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
        let ward_w = &terms.one;
        let wards_t = &terms.many_title;
        let wards_w = &terms.many;
        let m = self.m;
        let cfg = self.r.input.config;
        let info = m.info(s);
        let sunday = monday.plus(6);
        let last = self.week_through(monday);
        let api = self.service_week_api(s, monday);
        let ranking = self.ranking(s, monday);
        let city = m.city_window(s, monday, last);
        let unassigned = api.city.unassigned;
        // Tables and charts sit beside the page that shows them: the service's own page for a
        // service without week pages.
        // A featured service's weeks keep their charts' files (whose CSV the tables offer) a
        // year to a folder (see Dash::service_week_year).
        let weekly = self.periods.weekly(s);
        let base = if weekly {
            urls::service_week_year(&info.slug, monday.date().year())
        } else {
            urls::service(&info.slug)
        };
        let ward_rows: Vec<ServiceWeekWardRow> = (1..=m.wards)
            .filter_map(|w| api.wards.get(&w.to_string()).map(|a| (w, a)))
            .map(|(w, a)| ServiceWeekWardRow {
                ward: w,
                href: (self.periods.has_ward_week(w, monday))
                    .then(|| href(&urls::ward_week(w, monday))),
                by_day: a.opened_by_day.clone(),
                opened: a.opened,
                closed: a.closed,
                ttc_mean: days_text(a.ttc_mean_days.0),
                rank: a.rank,
            })
            .collect();
        let by_day_table = Table {
            caption: format!(
                "{} opened by {ward_w} and weekday, and closed, week of {}",
                info.name,
                short_date(monday)
            ),
            header: [
                ward_t.as_str(),
                "Mon",
                "Tue",
                "Wed",
                "Thu",
                "Fri",
                "Sat",
                "Sun",
                "Opened",
                "Closed",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: ward_rows
                .iter()
                .map(|r| {
                    let mut row = vec![r.ward.to_string()];
                    row.extend(r.by_day.iter().map(|v| v.to_string()));
                    row.push(r.opened.to_string());
                    row.push(r.closed.to_string());
                    row
                })
                .collect(),
            csv: format!("{base}{wards_w}.csv"),
        };
        let ranking_table = Table {
            caption: format!(
                "{wards_t} ranked by mean days to close {}, week of {}",
                info.name,
                short_date(monday)
            ),
            header: vec![
                "Rank".into(),
                ward_t.to_string(),
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
                        crate::numbers::days_figure_text(r.ttc_mean_days),
                    ]
                })
                .collect(),
            // The ranking chart's rows: the table offers the chart's CSV.
            csv: format!("{base}ttc-ranking.csv"),
        };
        let (prev, next) = self.periods.service_week_neighbours(s, monday);
        let summary =
            service_week_summary(&info.name, &cfg.city.name, monday, &city, sunday <= last);
        let week_link = |d: Day| PagerLink {
            href: self.periods.service_week_link(s, &info.slug, d),
            label: week_label(d),
        };
        let years = self.year_links(s);
        let note = self.r.input.content.service_note(&info.slug);
        let form = cfg
            .city
            .request_form_url
            .as_ref()
            .map(|u| u.replace("{name}", &urlencode(&info.name)));
        let ctx = context_of(&ServiceWeekPage {
            service: ServiceView {
                slug: &info.slug,
                name: &info.name,
                featured: info.featured,
                codes: &info.codes,
                note: note.map(|p| p.html.clone()),
                note_title: note.map(|p| p.title.clone()),
                portal: note
                    .and_then(|p| {
                        p.front
                            .extra
                            .get("portal")
                            .and_then(|v| v.as_str().map(str::to_string))
                    })
                    .or(cfg.city.data_portal_url.clone()),
                form,
                negative_durations: info.negative_durations,
                form_fields: self.form_fields(&info.codes),
            },
            week: ServiceWeekView {
                start: monday.to_string(),
                end: sunday.to_string(),
                label: week_label(monday),
                complete: sunday <= range.last,
                summary: summary.clone(),
                prev: prev.map(week_link),
                next: next.map(week_link),
            },
            city: CityWeekView {
                opened: city.opened,
                closed: city.closed,
                ttc_mean: days_text(city.ttc.map(|t| t.mean_days)),
                ttc_median: days_text(city.ttc.map(|t| t.median_days)),
                unassigned,
            },
            ranking: RankingView {
                threshold: format!("{:.2}", ranking.threshold),
                min_closed: ranking.min_closed,
                count: ranking.ranked.len(),
                ranked: ranking
                    .ranked
                    .iter()
                    .map(|r| RankedWardRow {
                        rank: r.rank,
                        ward: r.ward,
                        closed: r.closed,
                        ttc_mean: format_days(r.ttc_mean_days),
                        href: href(&urls::ward_week(r.ward, monday)),
                    })
                    .collect(),
            },
            wards: &ward_rows,
            by_day_table: &by_day_table,
            ranking_table: &ranking_table,
            api: if weekly {
                format!("api/v1/services/{}/weeks/{monday}.json", info.slug)
            } else {
                service_year_api(&info.slug, monday.date().year())
            },
            years,
        });
        (ctx, api, vec![by_day_table], summary)
    }

    /// A service's week as the JSON API gives it: the city's figures and every ward's.
    pub(super) fn service_week_api(&self, s: ServiceIdx, monday: Day) -> ServiceWeekApi {
        let m = self.m;
        let last = self.week_through(monday);
        let ranking = self.ranking(s, monday);
        let city = m.city_window(s, monday, last);
        let wards = (1..=m.wards)
            .map(|w| {
                let st = m.ward_window(s, w, monday, last);
                let doc = ServiceWeekApiWard {
                    closed: st.closed,
                    opened: st.opened,
                    opened_by_day: m.ward_opened_daily(s, w, monday, last),
                    rank: ranking.of(w).map(|r| r.rank),
                    ttc_mean_days: Num(st.ttc.map(|t| t.mean_days)),
                    ttc_median_days: Num(st.ttc.map(|t| t.median_days)),
                };
                (w.to_string(), doc)
            })
            .collect();
        ServiceWeekApi {
            city: ServiceWeekApiCity {
                closed: city.closed,
                opened: city.opened,
                ttc_mean_days: Num(city.ttc.map(|t| t.mean_days)),
                unassigned: m.ward_window(s, 0, monday, last).opened,
            },
            min_closed_to_rank: ranking.min_closed,
            slug: self.m.info(s).slug.clone(),
            threshold: Num(Some(ranking.threshold)),
            wards,
            week_end: monday.plus(6).to_string(),
            week_start: monday.to_string(),
        }
    }

    /// A service's year page, made when what it shows changed (see [`Dash::service_year`]).
    fn service_year_unit(
        &self,
        range: Range,
        s: ServiceIdx,
        year: i16,
    ) -> Result<(usize, usize), RenderError> {
        let weeks = self.year_weeks(s, year);
        let (Some(&first), Some(&last)) = (weeks.first(), weeks.last()) else {
            return Ok((0, 0));
        };
        let slug = &self.m.info(s).slug;
        let key = self
            .r
            .unit_key()
            .with("service year")
            .with(&s)
            .with(&year)
            .with(&self.m.window_digest(first, last.plus(6)))
            .with(&weeks.iter().map(|d| d.0).collect::<Vec<_>>())
            .with(&(last.plus(6) > range.last).then_some(range.last.0))
            // The page links every year of the service (and so its neighbours).
            .with(&self.periods.service_years(s));
        let url = urls::service_year(slug, year);
        let done = self
            .r
            .unit(&url, key.finish(), || self.service_year(s, year, &weeks))?;
        Ok(counted(done))
    }

    /// Links to a service's year pages, oldest first (none for a service with week pages).
    fn year_links(&self, s: ServiceIdx) -> Vec<YearLink> {
        let slug = &self.m.info(s).slug;
        (self.periods.service_years(s).into_iter())
            .map(|year| YearLink {
                year,
                href: href(&urls::service_year(slug, year)),
            })
            .collect()
    }

    /// The Mondays of a service's weeks with data in `year`.
    fn year_weeks(&self, s: ServiceIdx, year: i16) -> Vec<Day> {
        (self.periods.service_weeks(s).iter())
            .filter(|monday| monday.date().year() == year)
            .copied()
            .collect()
    }

    /// A year of a service whose weeks have no pages of their own: a page with a row per week
    /// (the week's section, `#week-MONDAY`) and each ward's opened per week, the year's JSON
    /// document (every week as `services/SLUG/weeks/MONDAY.json` would give it) and a CSV
    /// beside each table.
    fn service_year(
        &self,
        s: ServiceIdx,
        year: i16,
        weeks: &[Day],
    ) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let m = self.m;
        let cfg = self.r.input.config;
        let info = m.info(s);
        let url = urls::service_year(&info.slug, year);
        let docs: Vec<ServiceWeekApi> = weeks
            .iter()
            .map(|&monday| self.service_week_api(s, monday))
            .collect();
        let mut rows = Vec::new();
        for (&monday, doc) in weeks.iter().zip(&docs) {
            let ranking = self.ranking(s, monday);
            let fastest = ranking.ranked.first().map(|r| YearWeekWard {
                ward: r.ward,
                ttc_mean: format_days(r.ttc_mean_days),
                href: (self.periods.has_ward_week(r.ward, monday))
                    .then(|| href(&urls::ward_week(r.ward, monday))),
            });
            let ttc = m.city_window(s, monday, self.week_through(monday)).ttc;
            rows.push(ServiceYearWeekRow {
                anchor: urls::week_anchor(monday),
                monday: monday.to_string(),
                label: week_label(monday),
                complete: self.week_through(monday) == monday.plus(6),
                opened: doc.city.opened,
                closed: doc.city.closed,
                ttc_mean: days_text(ttc.map(|t| t.mean_days)),
                ttc_median: days_text(ttc.map(|t| t.median_days)),
                ttc_mean_days: ttc.map(|t| t.mean_days),
                ttc_median_days: ttc.map(|t| t.median_days),
                unassigned: doc.city.unassigned,
                ranked: ranking.ranked.len(),
                fastest,
            });
        }
        let opened: u64 = rows.iter().map(|r| r.opened).sum();
        let closed: u64 = rows.iter().map(|r| r.closed).sum();
        let weeks_table = Table {
            caption: format!("{} each week of {year}, citywide", info.name),
            header: vec![
                "Week starting".into(),
                "Opened".into(),
                "Closed".into(),
                "Mean days to close".into(),
                "Median days to close".into(),
                format!("Opened with no {}", terms.one),
                format!("{} ranked", terms.many_title),
                format!("Fastest {}", terms.one),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.monday.clone(),
                        r.opened.to_string(),
                        r.closed.to_string(),
                        (r.ttc_mean_days.map(crate::numbers::days_figure_text)).unwrap_or_default(),
                        (r.ttc_median_days.map(crate::numbers::days_figure_text))
                            .unwrap_or_default(),
                        r.unassigned.to_string(),
                        r.ranked.to_string(),
                        r.fastest
                            .as_ref()
                            .map(|f| f.ward.to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: format!("{url}weeks.csv"),
        };
        let mut header = vec!["Week starting".to_string()];
        header.extend((1..=m.wards).map(|w| w.to_string()));
        let wards_table = Table {
            caption: format!(
                "{} opened in each {} (columns) each week of {year}",
                info.name, terms.one
            ),
            header,
            rows: weeks
                .iter()
                .zip(&docs)
                .map(|(monday, doc)| {
                    let mut row = vec![monday.to_string()];
                    row.extend(
                        (1..=m.wards)
                            .map(|w| doc.wards.get(&w.to_string()).map_or(0, |d| d.opened))
                            .map(|n| n.to_string()),
                    );
                    row
                })
                .collect(),
            csv: format!("{url}{}.csv", terms.many),
        };
        weeks_table.write(&self.files)?;
        wards_table.write(&self.files)?;
        let api = service_year_api(&info.slug, year);
        self.files.json(
            &api,
            &ServiceYearApi {
                slug: &info.slug,
                weeks: docs,
                year,
            },
        )?;
        let (prev, next) = self.periods.service_year_neighbours(s, year);
        let year_link = |y: i16| PagerLink {
            href: href(&urls::service_year(&info.slug, y)),
            label: y.to_string(),
        };
        let summary = format!(
            "{} in {}, {year}: {} requests opened and {} closed in the {} week{} with data.",
            info.name,
            cfg.city.name,
            thousands(opened),
            thousands(closed),
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
        );
        let years = self.year_links(s);
        let mut ctx = context_of(&ServiceYearPage {
            name: &info.name,
            own: href(&urls::service(&info.slug)),
            year,
            summary: summary.clone(),
            opened,
            closed,
            weeks: &rows,
            weeks_table: &weeks_table,
            wards_table: &wards_table,
            api,
            prev: prev.map(year_link),
            next: next.map(year_link),
            years,
        });
        let through = weeks.last().map(|&monday| self.week_through(monday));
        self.r.set_through(&mut ctx, through);
        let meta = PageMeta {
            title: format!("{} in {year}", info.name),
            description: summary,
            section: "service".into(),
            image: None,
        };
        self.r.page(&url, "service_year.html", &meta, ctx)?;
        Ok((1, 3))
    }

    /// What a service's request form asks for (its Open311 service definition), in the form's
    /// order; the first of the service's codes that has a definition gives it.
    pub(super) fn form_fields(&self, codes: &[String]) -> Vec<FormField> {
        let Some(attributes) = codes.iter().find_map(|c| self.r.input.definitions.get(c)) else {
            return Vec::new();
        };
        attributes
            .iter()
            .map(|a| FormField {
                question: a.description.clone(),
                kind: attribute_kind(&a.datatype),
                hint: a.datatype_description.clone(),
                required: a.required,
                asked: a.variable,
                choices: a.values.iter().map(|(_, name)| name.clone()).collect(),
            })
            .collect()
    }

    /// A service week's two charts: each ward's requests opened by day, and the wards ranked
    /// by time to close.
    fn service_week_chart_pair(
        &self,
        s: ServiceIdx,
        monday: Day,
    ) -> Result<(charts::Chart, charts::Chart), RenderError> {
        let m = self.m;
        let info = m.info(s);
        let err = |e: charts::ChartError| RenderError::Chart(e.to_string());
        let bars: Vec<charts::WardWeekBar> = (1..=m.wards)
            .map(|w| {
                let mut by_day = [0u64; 7];
                let last = self.week_through(monday);
                let counted = m.ward_opened_daily(s, w, monday, last);
                by_day[..counted.len()].copy_from_slice(&counted);
                charts::WardWeekBar {
                    ward: w,
                    by_day,
                    closed: m.ward_window(s, w, monday, last).closed,
                }
            })
            .collect();
        let wards = charts::service_wards(&info.name, &week_label(monday), &bars).map_err(err)?;
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
        Ok((wards, chart))
    }

    /// A service week page's charts (see [`Dash::ward_week_charts`]): the service's own page
    /// writes its charts' files beside it; a week page offers its year's (see
    /// [`Dash::service_week_year`]). Returns files written.
    pub(super) fn service_week_charts(
        &self,
        s: ServiceIdx,
        monday: Day,
        page_url: &str,
        through: Option<Day>,
        ctx: &mut Context,
    ) -> Result<usize, RenderError> {
        let slug = &self.m.info(s).slug;
        let own_page = page_url == urls::service(slug);
        let year_dir = urls::service_week_year(slug, monday.date().year());
        let view = charts::Period::WEEK.view_id(&monday.to_string());
        let bundle = (!own_page).then_some((year_dir.as_str(), view.as_str()));
        let (wards, ranking) = self.service_week_chart_pair(s, monday)?;
        let mut files = 0;
        for (chart, name, inline) in [
            (&wards, "wards_chart", true),
            (&ranking, "ranking_chart", false),
        ] {
            let (view, written) =
                (self.r).period_chart_view(chart, page_url, bundle, (inline, false), through)?;
            files += written;
            ctx.insert(name, &view);
        }
        Ok(files)
    }

    /// A year of a featured service's weeks in one set of files (`service/SLUG/week/2019/`):
    /// each chart of its week pages as a [`charts::ChartBundle`] (the wards' requests by day,
    /// the time-to-close ranking), as [`Dash::ward_week_year`] does for a ward. Returns files
    /// written.
    pub(super) fn service_week_year(
        &self,
        range: Range,
        s: ServiceIdx,
        year: i16,
        mondays: &[Day],
    ) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let info = self.m.info(s);
        let mut wards = Vec::with_capacity(mondays.len());
        let mut rankings = Vec::with_capacity(mondays.len());
        for &monday in mondays {
            let (w, r) = self.service_week_chart_pair(s, monday)?;
            wards.push((monday.to_string(), w));
            rankings.push((monday.to_string(), r));
        }
        let through = mondays.last().map(|&d| range.week_end(d));
        let dir = urls::service_week_year(&info.slug, year);
        let files = self.r.write_bundles(
            &dir,
            charts::Period::WEEK,
            vec![
                (
                    terms.many.as_str(),
                    format!(
                        "{} opened by {} and weekday, each week of {year}",
                        info.name, terms.one
                    ),
                    wards,
                ),
                (
                    "ttc-ranking",
                    format!(
                        "{} ranked by mean days to close {}, each week of {year}",
                        terms.many_title, info.name
                    ),
                    rankings,
                ),
            ],
            through,
        )?;
        Ok((0, files))
    }
}

/// The service index's template view (see `templates/service_index.html`).
#[derive(Serialize)]
struct ServiceIndexPage<'t> {
    services: &'t [ServiceIndexRow],
    table: &'t Table,
    /// The latest week, in words.
    week: Option<String>,
}

/// A service on the service index.
#[derive(Serialize)]
struct ServiceIndexRow {
    slug: String,
    name: String,
    featured: bool,
    opened_total: u64,
    /// Opened in the latest week.
    week_opened: Option<u64>,
    href: String,
}

/// A service week page's template view (see `templates/service_week.html`).
#[derive(Serialize)]
struct ServiceWeekPage<'t> {
    service: ServiceView<'t>,
    week: ServiceWeekView,
    city: CityWeekView,
    ranking: RankingView,
    wards: &'t [ServiceWeekWardRow],
    by_day_table: &'t Table,
    ranking_table: &'t Table,
    /// The week's JSON document (or its year's, for a service without week pages), relative
    /// to the root.
    api: String,
    /// The service's year pages (for a service without week pages).
    years: Vec<YearLink>,
}

/// A link to a service's year page.
#[derive(Serialize)]
struct YearLink {
    year: i16,
    href: String,
}

/// `api/v1/services/SLUG/years/YEAR.json`, a year of a service without week pages.
fn service_year_api(slug: &str, year: i16) -> String {
    format!("api/v1/services/{slug}/years/{year}.json")
}

/// A service year page's template view (see `templates/service_year.html`).
#[derive(Serialize)]
struct ServiceYearPage<'t> {
    name: &'t str,
    /// The service's own page (its latest week).
    own: String,
    year: i16,
    summary: String,
    opened: u64,
    closed: u64,
    weeks: &'t [ServiceYearWeekRow],
    weeks_table: &'t Table,
    wards_table: &'t Table,
    /// The year's JSON document, relative to the root.
    api: String,
    prev: Option<PagerLink>,
    next: Option<PagerLink>,
    years: Vec<YearLink>,
}

/// A week on a service's year page: its section.
#[derive(Serialize)]
struct ServiceYearWeekRow {
    /// The section's `id`.
    anchor: String,
    monday: String,
    label: String,
    /// Whether the week is over (else counted through the last day of data).
    complete: bool,
    opened: u64,
    closed: u64,
    ttc_mean: String,
    ttc_median: String,
    #[serde(skip)]
    ttc_mean_days: Option<f64>,
    #[serde(skip)]
    ttc_median_days: Option<f64>,
    unassigned: u64,
    /// Wards ranked by time to close.
    ranked: usize,
    fastest: Option<YearWeekWard>,
}

/// The fastest ward of a week on a year page.
#[derive(Serialize)]
struct YearWeekWard {
    ward: WardNo,
    ttc_mean: String,
    /// Its week page.
    href: Option<String>,
}

/// `api/v1/services/SLUG/years/YEAR.json`: every week with data of a service without week
/// pages, each as `services/SLUG/weeks/MONDAY.json` would give it. Fields in alphabetical
/// order.
#[derive(Serialize)]
pub struct ServiceYearApi<'t> {
    /// The service.
    pub slug: &'t str,
    /// Its weeks with data, oldest first.
    pub weeks: Vec<ServiceWeekApi>,
    /// The year of the weeks' Mondays.
    pub year: i16,
}

/// The service: names, note, links, and its request form's fields.
#[derive(Serialize)]
struct ServiceView<'t> {
    slug: &'t str,
    name: &'t str,
    featured: bool,
    codes: &'t [String],
    /// The service's Markdown note, as HTML.
    note: Option<String>,
    note_title: Option<String>,
    /// The raw data on the city's portal.
    portal: Option<String>,
    /// The city's request form for the service.
    form: Option<String>,
    negative_durations: u64,
    form_fields: Vec<FormField>,
}

/// One field of a service's request form (see [`Dash::form_fields`]).
#[derive(Serialize)]
pub(super) struct FormField {
    question: String,
    /// The kind of answer, in words.
    kind: &'static str,
    hint: Option<String>,
    required: bool,
    /// Answered by the resident (else information only).
    asked: bool,
    choices: Vec<String>,
}

/// The week of a service week page.
#[derive(Serialize)]
struct ServiceWeekView {
    start: String,
    end: String,
    label: String,
    complete: bool,
    summary: String,
    prev: Option<PagerLink>,
    next: Option<PagerLink>,
}

/// The city's figures for a service's week.
#[derive(Serialize)]
struct CityWeekView {
    opened: u64,
    closed: u64,
    ttc_mean: String,
    ttc_median: String,
    unassigned: u64,
}

/// The week's time-to-close ranking of wards.
#[derive(Serialize)]
struct RankingView {
    /// How many closes a ward needs to be ranked (`mean − SD` of the wards' closed counts), two
    /// decimals.
    threshold: String,
    min_closed: u64,
    count: usize,
    ranked: Vec<RankedWardRow>,
}

/// A ranked ward.
#[derive(Serialize)]
struct RankedWardRow {
    rank: usize,
    ward: WardNo,
    closed: u64,
    ttc_mean: String,
    href: String,
}

/// A ward's row in a service's week.
#[derive(Serialize)]
struct ServiceWeekWardRow {
    ward: WardNo,
    /// Its week page, when it has one.
    href: Option<String>,
    /// Opened on each day, Monday first.
    by_day: Vec<u64>,
    opened: u64,
    closed: u64,
    ttc_mean: String,
    rank: Option<usize>,
}

/// An entry of `api/v1/services.json`. Fields in alphabetical order (see `views.rs`).
#[derive(Serialize)]
pub struct ServiceApi<'t> {
    /// The source's codes for the service.
    pub codes: &'t [String],
    /// Featured on the home page.
    pub featured: bool,
    /// Its name.
    pub name: &'t str,
    /// Requests in all the data.
    pub opened_total: u64,
    /// Its slug.
    pub slug: &'t str,
}

/// `api/v1/services/SLUG/weeks/MONDAY.json` (the JSON API, docs/ARCHITECTURE.md). Fields in
/// alphabetical order.
#[derive(Serialize)]
pub struct ServiceWeekApi {
    /// The city's figures.
    pub city: ServiceWeekApiCity,
    /// Closes a ward needs in the week to be ranked.
    pub min_closed_to_rank: u64,
    /// The service.
    pub slug: String,
    /// `mean − SD` of the wards' closed counts: the least a ward closes to be ranked.
    pub threshold: Num,
    /// Each ward's figures (`"1"` … `"50"`).
    pub wards: BTreeMap<String, ServiceWeekApiWard>,
    /// The week's Sunday.
    pub week_end: String,
    /// The week's Monday.
    pub week_start: String,
}

/// The city's figures in a service's week.
#[derive(Serialize)]
pub struct ServiceWeekApiCity {
    /// Closed in the week.
    pub closed: u64,
    /// Opened in the week.
    pub opened: u64,
    /// Mean days to close.
    pub ttc_mean_days: Num,
    /// Opened with no valid ward.
    pub unassigned: u64,
}

/// A ward in a service's week.
#[derive(Serialize)]
pub struct ServiceWeekApiWard {
    /// Closed in the week.
    pub closed: u64,
    /// Opened in the week.
    pub opened: u64,
    /// Opened each day, Monday first.
    pub opened_by_day: Vec<u64>,
    /// Rank by mean time to close, when ranked.
    pub rank: Option<usize>,
    /// Mean days to close.
    pub ttc_mean_days: Num,
    /// Median days to close.
    pub ttc_median_days: Num,
}

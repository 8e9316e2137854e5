//! Ward × service pages: one service in one ward over all the data, in complete weeks.

use serde::Serialize;
use tera::Context;

use super::site::*;
use super::tables::Table;
use super::urls::{self, href};
use super::views::context_of;
use super::words::*;
use super::{PageMeta, RenderError, format_days};
use crate::aggregate::{ServiceIdx, WindowStats};
use crate::charts;
use crate::content::wards::WardOffice;
use crate::domain::{Day, WardNo};

impl Dash<'_, '_> {
    pub(super) fn ward_service(
        &self,
        range: Range,
        ward: WardNo,
        s: ServiceIdx,
    ) -> Result<(usize, usize), RenderError> {
        let terms = crate::domain::Terms::current();
        let ward_t = &terms.one_title;
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
            key = key.with(&(d.0, n, self.periods.has_day(*d)));
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
            caption: format!("{} in {ward_t} {ward}, week by week", info.name),
            header: vec![
                "Week starting".into(),
                "Opened".into(),
                "Closed".into(),
                format!("{ward_t} mean days to close"),
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
                            .map(|t| crate::numbers::days_figure_text(t.mean_days))
                            .unwrap_or_default(),
                        c.ttc
                            .map(|t| crate::numbers::days_figure_text(t.mean_days))
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            csv: format!("{url}weeks.csv"),
        };
        let highs_table = Table::day_counts(
            format!("The busiest days for {} in {ward_t} {ward}", info.name),
            &highs,
            format!("{url}highs.csv"),
        );
        weeks_table.write(&self.files)?;
        highs_table.write(&self.files)?;
        let comparison = match (all.ttc, city_all.ttc) {
            (Some(w), Some(c)) => format!(
                "Over all the data, {ward_t} {ward} took {} on average to close {} requests, against {} citywide.",
                format_days(w.mean_days),
                info.name,
                format_days(c.mean_days)
            ),
            (None, Some(c)) => format!(
                "No {} request in {ward_t} {ward} has a recorded close; citywide they took {} on average.",
                info.name,
                format_days(c.mean_days)
            ),
            _ => format!("No {} request has a recorded close yet.", info.name),
        };
        let mut ctx = context_of(&WardServicePage {
            ward: WardLink {
                number: ward,
                office: self.r.input.offices.get(&ward),
                href: href(&urls::ward(ward)),
            },
            service: ServiceLink {
                slug: &info.slug,
                name: &info.name,
                href: href(&urls::service(&info.slug)),
            },
            totals: WardServiceTotals {
                opened: all.opened,
                closed: all.closed,
                ttc_mean: days_text(all.ttc.map(|t| t.mean_days)),
                city_ttc_mean: days_text(city_all.ttc.map(|t| t.mean_days)),
            },
            comparison: comparison.clone(),
            through_label: long_date(through),
            weeks_table: &weeks_table,
            highs: highs
                .iter()
                .map(|(d, n)| HighDay {
                    date: d.to_string(),
                    label: long_date(*d),
                    count: *n,
                    // Only featured services have a page per day.
                    href: (info.featured && self.periods.has_day(*d))
                        .then(|| format!("{}#by-{}-{}", href(&urls::day(*d)), terms.one, info.slug)),
                })
                .collect(),
            highs_table: &highs_table,
        });
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
            title: format!("{} in {ward_t} {ward}", info.name),
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

    /// The ward × service page's charts, bundles in its folder.
    pub(super) fn ward_service_charts(
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

/// A ward × service page's template view (see `templates/ward_service.html`).
#[derive(Serialize)]
struct WardServicePage<'t> {
    ward: WardLink<'t>,
    service: ServiceLink<'t>,
    totals: WardServiceTotals,
    /// The ward's time to close against the city's, in a sentence.
    comparison: String,
    through_label: String,
    weeks_table: &'t Table,
    highs: Vec<HighDay>,
    highs_table: &'t Table,
}

/// The ward, with its office and page.
#[derive(Serialize)]
struct WardLink<'t> {
    number: WardNo,
    office: Option<&'t WardOffice>,
    href: String,
}

/// The service, with its page.
#[derive(Serialize)]
struct ServiceLink<'t> {
    slug: &'t str,
    name: &'t str,
    href: String,
}

/// The ward's figures over all the data, and the city's time to close.
#[derive(Serialize)]
struct WardServiceTotals {
    opened: u64,
    closed: u64,
    ttc_mean: String,
    city_ttc_mean: String,
}

/// One of the ward's busiest days for the service.
#[derive(Serialize)]
struct HighDay {
    date: String,
    label: String,
    count: u64,
    /// The day's page for the service, when there is one.
    href: Option<String>,
}

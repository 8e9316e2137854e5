//! One service in one ward over the whole history: requests opened and closed each week, and
//! the ward's mean time to close beside the city's.
//!
//! Years of weeks are drawn as one filled area (opened) and one line (closed) rather than
//! hundreds of bars, which keeps the SVG small; with few weeks every point also gets a marker so
//! a single week still shows.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{HPos, Pos, VPos};

use super::palette::{self, Rgb};
use super::{
    Cell, Chart, ChartError, Column, DataTable, DurationUnit, WIDTH, days_words, draw_svg, legend,
    line_swatch, nice_axis, text_style, thousands, tick_label,
};
use crate::domain::{Day, WardNo};

/// One week of a ward × service history.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekHistory {
    /// The week's Monday.
    pub start: Day,
    /// Requests opened in the ward that week.
    pub opened: u64,
    /// Requests closed in the ward that week.
    pub closed: u64,
    /// The ward's mean days to close that week.
    pub ward_ttc: Option<f64>,
    /// The city's mean days to close that week.
    pub city_ttc: Option<f64>,
}

/// Weeks with at most this many points get a marker on every point.
const MARKERS_UP_TO: usize = 26;

type TimeContext<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the time frame (y grid and ticks, x labels at years or months) and returns the chart.
fn time_frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    first: Day,
    last: Day,
    y_top: f64,
    y_step: f64,
    y_desc: &str,
) -> Result<TimeContext<'a, 'b>, Box<dyn std::error::Error>> {
    let x0 = f64::from(first.0);
    let x1 = f64::from(last.0 + 7).max(x0 + 7.0);
    let mut chart = ChartBuilder::on(root)
        .margin_top(34)
        .margin_right(14)
        .x_label_area_size(30)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, 0.0..y_top)?;
    let ticks = (y_top / y_step).round() as usize + 1;
    let label = |v: &f64| tick_label(*v, y_step);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .y_labels(ticks)
        .y_desc(y_desc)
        .label_style(text_style(13.0, palette::MUTED))
        .axis_desc_style(text_style(13.0, palette::MUTED))
        .bold_line_style(palette::GRID.plot())
        .light_line_style(TRANSPARENT)
        .axis_style(palette::MUTED.plot());
    mesh.y_label_formatter(&label);
    mesh.draw()?;
    // X labels: each January 1 over a long span, each month's first over a short one.
    let (fd, ld) = (first.date(), last.plus(7).date());
    let months = (i32::from(ld.year()) - i32::from(fd.year())) * 12 + i32::from(ld.month())
        - i32::from(fd.month());
    let mut marks = Vec::new();
    if months > 18 {
        let every = ((i32::from(ld.year()) - i32::from(fd.year())) / 7 + 1) as i16;
        let mut y = fd.year() + 1;
        while y <= ld.year() {
            if let Ok(d) = jiff::civil::Date::new(y, 1, 1) {
                marks.push((Day::from_date(d), y.to_string()));
            }
            y += every;
        }
        if marks.is_empty() {
            marks.push((first, fd.year().to_string()));
        }
    } else {
        let every = (months / 6 + 1) as i8;
        let mut d = jiff::civil::Date::new(fd.year(), fd.month(), 1).unwrap_or(fd);
        while d <= ld {
            let day = Day::from_date(d);
            if day >= first {
                marks.push((day, format!("{} {}", month_abbr(d.month()), d.year())));
            }
            let mut m = d.month() + every;
            let mut y = d.year();
            while m > 12 {
                m -= 12;
                y += 1;
            }
            match jiff::civil::Date::new(y, m, 1) {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        if marks.is_empty() {
            marks.push((first, format!("{} {}", month_abbr(fd.month()), fd.year())));
        }
    }
    for (day, text) in marks {
        let (x, y) = chart.backend_coord(&(f64::from(day.0), 0.0));
        root.draw(&PathElement::new(
            vec![(x, y), (x, y + 5)],
            palette::MUTED.plot(),
        ))?;
        root.draw(&Text::new(
            text,
            (x, y + 8),
            text_style(13.0, palette::MUTED).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(chart)
}

fn month_abbr(m: i8) -> &'static str {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m.clamp(1, 12) - 1) as usize]
}

/// Every Monday from the first to the last week, with zero for weeks not listed.
fn all_weeks(weeks: &[WeekHistory]) -> Vec<(Day, u64, u64)> {
    let listed: BTreeMap<Day, &WeekHistory> = weeks.iter().map(|w| (w.start, w)).collect();
    let (Some(first), Some(last)) = (listed.keys().next(), listed.keys().last()) else {
        return Vec::new();
    };
    (first.0..=last.0)
        .step_by(7)
        .map(|d| {
            let w = listed.get(&Day(d));
            (
                Day(d),
                w.map(|w| w.opened).unwrap_or(0),
                w.map(|w| w.closed).unwrap_or(0),
            )
        })
        .collect()
}

/// Requests opened (filled area) and closed (line) each week over the whole history of a
/// service in a ward. Weeks not listed count as zero.
pub fn weekly_history(
    ward: WardNo,
    service: &str,
    weeks: &[WeekHistory],
) -> Result<Chart, ChartError> {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let id = "weekly";
    let title = format!("{service} requests opened and closed in {ward_t} {ward}, week by week");
    let series = all_weeks(weeks);
    let opened: u64 = series.iter().map(|s| s.1).sum();
    let closed: u64 = series.iter().map(|s| s.2).sum();
    let desc = match (series.first(), series.last()) {
        (Some(first), Some(last)) if opened + closed > 0 => {
            let busiest = series.iter().rev().max_by_key(|s| s.1).filter(|s| s.1 > 0);
            format!(
                "Over {} from {} to {}, {ward_t} {ward} opened {} and closed {} {service} requests{}.",
                if series.len() == 1 {
                    "1 week".to_string()
                } else {
                    format!("{} weeks", series.len())
                },
                first.0,
                last.0.plus(6),
                thousands(opened),
                thousands(closed),
                busiest
                    .map(|b| format!(
                        "; the busiest week began {}, with {} opened",
                        b.0,
                        thousands(b.1)
                    ))
                    .unwrap_or_default()
            )
        }
        _ => format!("No {service} requests were opened or closed in {ward_t} {ward} in the data."),
    };
    let max = series.iter().map(|s| s.1.max(s.2)).max().unwrap_or(0) as f64;
    let (top, step) = nice_axis(max);
    let first = series.first().map(|s| s.0).unwrap_or(Day(0));
    let last = series.last().map(|s| s.0).unwrap_or(Day(0));
    let markers = series.len() <= MARKERS_UP_TO;
    let svg = draw_svg(id, &title, &desc, (WIDTH, 260), |root| {
        legend(
            root,
            8,
            8,
            &[
                (
                    Box::new(|root: &DrawingArea<SVGBackend, Shift>, x, y| {
                        root.draw(&Rectangle::new(
                            [(x, y + 4), (x + 14, y + 14)],
                            palette::SEQUENTIAL[2].plot().filled(),
                        ))?;
                        root.draw(&PathElement::new(
                            vec![(x, y + 4), (x + 14, y + 4)],
                            palette::BLUE.plot().stroke_width(2),
                        ))?;
                        Ok(())
                    }),
                    "Opened (area)".into(),
                ),
                (
                    line_swatch(palette::ORANGE, false, true),
                    "Closed (line)".into(),
                ),
            ],
        )?;
        let chart = time_frame(root, first, last, top, step, "Requests per week")?;
        // A week's count is drawn at the middle of the week.
        let pts = |f: &dyn Fn(&(Day, u64, u64)) -> u64| -> Vec<(i32, i32)> {
            series
                .iter()
                .map(|s| chart.backend_coord(&(f64::from(s.0.0) + 3.5, f(s) as f64)))
                .collect()
        };
        let open_pts = pts(&|s| s.1);
        let closed_pts = pts(&|s| s.2);
        if let (Some(a), Some(b)) = (open_pts.first(), open_pts.last()) {
            let (_, y0) = chart.backend_coord(&(0.0, 0.0));
            let mut area = vec![(a.0, y0)];
            area.extend(open_pts.iter().copied());
            area.push((b.0, y0));
            root.draw(&Polygon::new(area, palette::SEQUENTIAL[2].plot().filled()))?;
            root.draw(&PathElement::new(
                open_pts.clone(),
                palette::BLUE.plot().stroke_width(2),
            ))?;
            root.draw(&PathElement::new(
                closed_pts.clone(),
                palette::ORANGE.plot().stroke_width(2),
            ))?;
            if markers {
                for p in &open_pts {
                    root.draw(&Rectangle::new(
                        [(p.0 - 3, p.1 - 3), (p.0 + 3, p.1 + 3)],
                        palette::BLUE.plot().filled(),
                    ))?;
                }
                for p in &closed_pts {
                    root.draw(&Circle::new(*p, 3, palette::ORANGE.plot().filled()))?;
                }
            }
        }
        Ok(())
    })?;
    let table = DataTable {
        columns: vec![
            Column::new("week_start", "Week starting"),
            Column::new("opened", "Opened"),
            Column::new("closed", "Closed"),
        ],
        rows: weeks
            .iter()
            .map(|w| {
                vec![
                    Cell::Text(w.start.to_string()),
                    Cell::Int(w.opened),
                    Cell::Int(w.closed),
                ]
            })
            .collect(),
    };
    let lead = format!(
        "Chart over time of {service} requests opened (a filled area) and closed (a line) in {ward_t} {ward} each week."
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

/// The ward's mean days to close each week (solid line with round markers) beside the city's
/// (dashed line). `ward_mean` and `city_mean` are the means over all the data, for the finding.
pub fn weekly_ttc(
    ward: WardNo,
    service: &str,
    weeks: &[WeekHistory],
    ward_mean: Option<f64>,
    city_mean: Option<f64>,
) -> Result<Chart, ChartError> {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let id = "ttc";
    let title = format!(
        "Mean time to close {service} requests, {ward_t} {ward} and the city, week by week"
    );
    let desc = match (ward_mean, city_mean) {
        (Some(w), Some(c)) => {
            let cmp = if (w - c).abs() < 0.05 {
                "about the same as".to_string()
            } else if w < c {
                format!("{} faster than", days_words(c - w))
            } else {
                format!("{} slower than", days_words(w - c))
            };
            format!(
                "Over all the data, {ward_t} {ward} took {} on average to close {service} requests, {cmp} the city's {}.",
                days_words(w),
                days_words(c)
            )
        }
        (None, Some(c)) => format!(
            "No {service} request in {ward_t} {ward} has a recorded close; citywide they took {} on average.",
            days_words(c)
        ),
        (Some(w), None) => format!(
            "{ward_t} {ward} took {} on average to close {service} requests.",
            days_words(w)
        ),
        (None, None) => format!("No {service} request has a recorded close yet."),
    };
    let mut sorted: Vec<&WeekHistory> = weeks.iter().collect();
    sorted.sort_by_key(|w| w.start);
    let max = sorted
        .iter()
        .flat_map(|w| [w.ward_ttc, w.city_ttc])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Minutes or hours when every week closed faster than that: a days axis would read 0.0.
    let unit = DurationUnit::for_max(max);
    let (top, step) = nice_axis(unit.of_days(max));
    let first = sorted.first().map(|w| w.start).unwrap_or(Day(0));
    let last = sorted.last().map(|w| w.start).unwrap_or(Day(0));
    let markers = sorted.len() <= MARKERS_UP_TO;
    let svg = draw_svg(id, &title, &desc, (WIDTH, 260), |root| {
        legend(
            root,
            8,
            8,
            &[
                (
                    line_swatch(palette::BLUE, false, true),
                    format!("{ward_t} {ward}"),
                ),
                (
                    line_swatch(palette::CITY, true, false),
                    "City (dashed)".into(),
                ),
            ],
        )?;
        let y_desc = format!("Mean {} to close", unit.name());
        let chart = time_frame(root, first, last, top, step, &y_desc)?;
        let at = |w: &WeekHistory, v: f64| {
            chart.backend_coord(&(f64::from(w.start.0) + 3.5, unit.of_days(v)))
        };
        for (colour, pick, round) in [
            (
                palette::CITY,
                (|w: &WeekHistory| w.city_ttc) as fn(&WeekHistory) -> Option<f64>,
                false,
            ),
            (palette::BLUE, |w: &WeekHistory| w.ward_ttc, true),
        ] {
            // Consecutive weeks with a value are joined; a gap (no closes) breaks the line.
            let mut run: Vec<(i32, i32)> = Vec::new();
            let mut prev: Option<Day> = None;
            let mut runs = Vec::new();
            for w in &sorted {
                match pick(w).filter(|v| v.is_finite()) {
                    Some(v) => {
                        if prev.is_some_and(|p| p.plus(7) != w.start) && !run.is_empty() {
                            runs.push(std::mem::take(&mut run));
                        }
                        run.push(at(w, v));
                        prev = Some(w.start);
                    }
                    None => {
                        if !run.is_empty() {
                            runs.push(std::mem::take(&mut run));
                        }
                        prev = None;
                    }
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for r in &runs {
                if r.len() > 1 {
                    root.draw(&PathElement::new(r.clone(), colour.plot().stroke_width(2)))?;
                }
                if markers || r.len() == 1 {
                    for p in r {
                        marker(root, *p, colour, round)?;
                    }
                }
            }
        }
        Ok(())
    })?;
    let svg = dashed(&svg, palette::CITY);
    let table = DataTable {
        columns: vec![
            Column::new("week_start", "Week starting"),
            Column::new(
                "ward_ttc_mean_days",
                format!("{ward_t} {ward} mean days to close"),
            ),
            Column::new("city_ttc_mean_days", "City mean days to close"),
        ],
        rows: weeks
            .iter()
            .map(|w| {
                vec![
                    Cell::Text(w.start.to_string()),
                    Cell::Days(w.ward_ttc),
                    Cell::Days(w.city_ttc),
                ]
            })
            .collect(),
    };
    let lead = format!(
        "Line chart over time of the mean days to close {service} requests each week in {ward_t} {ward} (solid line) and citywide (dashed line)."
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

/// A point marker: a circle for the ward, a square for the city.
fn marker(
    root: &DrawingArea<SVGBackend, Shift>,
    p: (i32, i32),
    c: Rgb,
    round: bool,
) -> super::DrawResult {
    if round {
        root.draw(&Circle::new(p, 3, c.plot().filled()))?;
    } else {
        root.draw(&Rectangle::new(
            [(p.0 - 3, p.1 - 3), (p.0 + 3, p.1 + 3)],
            c.plot().filled(),
        ))?;
    }
    Ok(())
}

/// Dashes every line and polyline stroked in `colour` (plotters has no dash style of its own
/// for a single path; the colour is unique to the dashed series and its legend swatch).
fn dashed(svg: &str, colour: Rgb) -> String {
    let stroke = format!("stroke=\"{}\"", colour.hex().to_uppercase());
    svg.replace(
        &format!("fill=\"none\" {stroke}"),
        &format!("fill=\"none\" stroke-dasharray=\"6 4\" {stroke}"),
    )
}

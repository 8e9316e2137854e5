//! The service week chart: per ward, that week's opened requests stacked by weekday, with the
//! number closed marked by a tick.

use plotters::prelude::*;

use super::hbar::{HBarFrame, RowLabel, value_label};
use super::palette;
use super::{
    Cell, Chart, ChartError, Column, DataTable, draw_svg, legend, solid_swatch, thousands,
    tick_swatch,
};
use crate::domain::WardNo;

/// One ward's week for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct WardWeekBar {
    /// The ward.
    pub ward: WardNo,
    /// Opened each day, Monday to Sunday.
    pub by_day: [u64; 7],
    /// Closed in the week.
    pub closed: u64,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Horizontal bars, one per ward, of the week's opened requests stacked Monday (left) to Sunday
/// (right), with a tick at the number closed. `week` is the week in words.
pub fn service_wards(
    service: &str,
    week: &str,
    wards: &[WardWeekBar],
) -> Result<Chart, ChartError> {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_w = &terms.many;
    let id = wards_w.as_str();
    let title = format!("{service} requests by {ward_w} and weekday, {week}");
    let opened = |w: &WardWeekBar| w.by_day.iter().sum::<u64>();
    let total: u64 = wards.iter().map(opened).sum();
    let desc = if total == 0 {
        let closed: u64 = wards.iter().map(|w| w.closed).sum();
        format!(
            "No {service} requests were opened in any {ward_w} in the week of {week}; {} were closed.",
            thousands(closed)
        )
    } else {
        let top = wards
            .iter()
            .max_by(|a, b| opened(a).cmp(&opened(b)).then(b.ward.cmp(&a.ward)));
        let none = wards.iter().filter(|w| opened(w) == 0).count();
        let per_day: Vec<u64> = (0..7)
            .map(|i| wards.iter().map(|w| w.by_day[i]).sum())
            .collect();
        let busiest_day = (0..7).max_by(|a, b| per_day[*a].cmp(&per_day[*b]).then(b.cmp(a)));
        format!(
            "In the week of {week}, {ward_t} {} opened the most {service} requests ({}) of {} in the {wards_w}{}{}.",
            top.map(|w| w.ward).unwrap_or(0),
            thousands(top.map(opened).unwrap_or(0)),
            thousands(total),
            busiest_day
                .map(|d| format!(
                    "; {} was the busiest day ({})",
                    full_weekday(d),
                    thousands(per_day[d])
                ))
                .unwrap_or_default(),
            if none > 0 {
                format!("; {none} of {} {wards_w} opened none", wards.len())
            } else {
                String::new()
            }
        )
    };
    let max = wards
        .iter()
        .map(|w| opened(w).max(w.closed))
        .max()
        .unwrap_or(0) as f64;
    let rows: Vec<RowLabel> = wards
        .iter()
        .map(|w| RowLabel {
            text: format!("{ward_t} {}", w.ward),
            bold: false,
        })
        .collect();
    let frame = HBarFrame::new(
        rows,
        max,
        40,
        56,
        "Requests opened (bars) and closed (tick)",
    );
    let svg = draw_svg(id, &title, &desc, frame.size(), |root| {
        let days: Vec<_> = (0..7)
            .map(|i| (solid_swatch(palette::WEEKDAYS[i]), WEEKDAYS[i].to_string()))
            .collect();
        legend(root, 8, 6, &days)?;
        legend(
            root,
            8,
            28,
            &[(tick_swatch(palette::INK), "Closed that week".into())],
        )?;
        frame.draw(root, |chart| {
            for (i, w) in wards.iter().enumerate() {
                let (b, t) = frame.band(i, 0.12);
                let mut x = 0.0;
                for (d, n) in w.by_day.iter().enumerate() {
                    if *n == 0 {
                        continue;
                    }
                    let (px0, py0) = chart.backend_coord(&(x, t));
                    x += *n as f64;
                    let (px1, py1) = chart.backend_coord(&(x, b));
                    // A white hairline between segments; at least 2 pixels of colour each.
                    let px1 = px1.max(px0 + 3);
                    root.draw(&Rectangle::new(
                        [(px0, py0), (px1 - 1, py1)],
                        palette::WEEKDAYS[d].plot().filled(),
                    ))?;
                }
                let (tb, tt) = frame.band(i, 0.0);
                let (cx, cy0) = chart.backend_coord(&(w.closed as f64, tt));
                let (_, cy1) = chart.backend_coord(&(w.closed as f64, tb));
                root.draw(&Rectangle::new(
                    [(cx - 1, cy0 + 1), (cx + 2, cy1 - 1)],
                    palette::INK.plot().filled(),
                ))?;
                let end = (opened(w).max(w.closed)) as f64;
                let at = chart.backend_coord(&(end, (b + t) / 2.0));
                value_label(
                    root,
                    (at.0 + 2, at.1),
                    thousands(opened(w)),
                    false,
                    palette::INK,
                )?;
            }
            Ok(())
        })
    })?;
    let mut columns = vec![Column::new("ward", ward_t.as_str())];
    let keys = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for (k, l) in keys.iter().zip(WEEKDAYS) {
        columns.push(Column::new(k, l));
    }
    columns.push(Column::new("opened", "Opened"));
    columns.push(Column::new("closed", "Closed"));
    let table = DataTable {
        columns,
        rows: wards
            .iter()
            .map(|w| {
                let mut row = vec![Cell::Int(u64::from(w.ward))];
                row.extend(w.by_day.iter().map(|n| Cell::Int(*n)));
                row.push(Cell::Int(opened(w)));
                row.push(Cell::Int(w.closed));
                row
            })
            .collect(),
    };
    let lead = format!(
        "Horizontal stacked bar chart of {service} requests opened in each {ward_w}, split by weekday from Monday on the left to Sunday on the right, with a tick at the number closed."
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

fn full_weekday(i: usize) -> &'static str {
    crate::domain::WEEKDAY_NAMES[i.min(6)]
}

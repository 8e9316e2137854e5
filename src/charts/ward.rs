//! Ward page charts: the week in review (opened and closed each day) and the busiest days.

use plotters::prelude::*;

use super::{HPos, Pos, VPos};

use super::hbar::{HBarFrame, RowLabel, bar, value_label};
use super::palette;
use super::{
    Cell, Chart, ChartError, Column, DataTable, LABEL_PX, WIDTH, draw_svg, legend, nice_axis,
    outline_swatch, outlined_bar, requests, solid_swatch, text_style, thousands, tick_label,
};
use crate::domain::WardNo;

/// One day of a week in review.
#[derive(Debug, Clone, PartialEq)]
pub struct DayCounts {
    /// `2020-12-28`.
    pub date: String,
    /// Weekday, short: `Mon`.
    pub weekday: String,
    /// Short date: `Dec 28`.
    pub label: String,
    /// Requests opened that day.
    pub opened: u64,
    /// Requests closed that day.
    pub closed: u64,
    /// The day is after the data ends (the current week): no bars, not in the table.
    pub future: bool,
}

/// Paired bars of requests opened (solid) and closed (outlined) on each day of a week.
/// `week` is the week in words ("December 28, 2020 – January 3, 2021").
pub fn week_opened_closed(
    ward: WardNo,
    week: &str,
    days: &[DayCounts],
) -> Result<Chart, ChartError> {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let id = "opened-closed";
    let title = format!("Requests opened and closed in {ward_t} {ward} each day, {week}");
    let known: Vec<&DayCounts> = days.iter().filter(|d| !d.future).collect();
    let opened: u64 = known.iter().map(|d| d.opened).sum();
    let closed: u64 = known.iter().map(|d| d.closed).sum();
    let so_far = if known.len() < days.len() {
        " so far"
    } else {
        ""
    };
    let desc = if opened == 0 && closed == 0 {
        format!(
            "No requests were opened or closed in {ward_t} {ward} in the week of {week}{so_far}."
        )
    } else {
        let busiest = known
            .iter()
            .copied()
            .rev()
            .max_by_key(|d| d.opened)
            .filter(|d| d.opened > 0);
        format!(
            "{ward_t} {ward} opened {} and closed {} in the week of {week}{so_far}{}.",
            requests(opened),
            thousands(closed),
            busiest
                .map(|d| format!(
                    "; the busiest day was {} {}, with {} opened",
                    d.weekday,
                    d.label,
                    thousands(d.opened)
                ))
                .unwrap_or_default()
        )
    };
    let max = known
        .iter()
        .map(|d| d.opened.max(d.closed))
        .max()
        .unwrap_or(0) as f64;
    let (top, step) = nice_axis(max);
    let n = days.len().max(1) as f64;
    let size = (WIDTH, 280);
    let svg = draw_svg(id, &title, &desc, size, |root| {
        legend(
            root,
            8,
            8,
            &[
                (solid_swatch(palette::BLUE), "Opened".into()),
                (
                    outline_swatch(palette::ORANGE_TINT, palette::ORANGE),
                    "Closed".into(),
                ),
            ],
        )?;
        let mut chart = ChartBuilder::on(root)
            .margin_top(34)
            .margin_right(12)
            .x_label_area_size(44)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..n, 0.0..top)?;
        let ticks = (top / step).round() as usize + 1;
        let label = |v: &f64| tick_label(*v, step);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(ticks)
            .y_label_formatter(&label)
            .label_style(text_style(13.0, palette::MUTED))
            .bold_line_style(palette::GRID.plot())
            .light_line_style(TRANSPARENT)
            .axis_style(palette::MUTED.plot())
            .draw()?;
        for (i, d) in days.iter().enumerate() {
            let x = i as f64;
            let (cx, base_y) = chart.backend_coord(&(x + 0.5, 0.0));
            root.draw(&Text::new(
                d.weekday.clone(),
                (cx, base_y + 6),
                text_style(LABEL_PX, palette::INK).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
            root.draw(&Text::new(
                d.label.clone(),
                (cx, base_y + 23),
                text_style(12.0, palette::MUTED).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
            if d.future {
                continue;
            }
            for (j, (v, is_closed)) in [(d.opened, false), (d.closed, true)]
                .into_iter()
                .enumerate()
            {
                let x0 = x + 0.12 + j as f64 * 0.39;
                let x1 = x0 + 0.35;
                if v > 0 {
                    let (px0, py0) = chart.backend_coord(&(x0, v as f64));
                    let (px1, py1) = chart.backend_coord(&(x1, 0.0));
                    // At least 2 pixels tall, so one request still shows.
                    let py0 = py0.min(py1 - 2);
                    if is_closed {
                        outlined_bar(root, (px0, py0), (px1, py1))?;
                    } else {
                        root.draw(&Rectangle::new(
                            [(px0, py0), (px1, py1)],
                            palette::BLUE.plot().filled(),
                        ))?;
                    }
                }
                let (lx, ly) = chart.backend_coord(&((x0 + x1) / 2.0, v as f64));
                root.draw(&Text::new(
                    thousands(v),
                    (lx, ly - 3),
                    text_style(11.0, palette::INK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                ))?;
            }
        }
        Ok(())
    })?;
    let table = DataTable {
        columns: vec![
            Column::new("date", "Date"),
            Column::new("opened", "Opened"),
            Column::new("closed", "Closed"),
        ],
        rows: known
            .iter()
            .map(|d| {
                vec![
                    Cell::Text(d.date.clone()),
                    Cell::Int(d.opened),
                    Cell::Int(d.closed),
                ]
            })
            .collect(),
    };
    let lead = format!(
        "Bar chart of requests opened (solid bars) and closed (outlined bars) in {ward_t} {ward} on each day of the week."
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

/// One of a ward's busiest days.
#[derive(Debug, Clone, PartialEq)]
pub struct BusyDay {
    /// `2016-09-28`.
    pub date: String,
    /// Short label for the chart: `Sep 28, 2016`.
    pub label: String,
    /// Requests opened.
    pub count: u64,
}

/// Bars of the days with the most requests, busiest first. `subject` names what is counted
/// ("in Ward 3", "for Potholes in Ward 3").
pub fn busiest_days(id: &str, subject: &str, days: &[BusyDay]) -> Result<Chart, ChartError> {
    let title = format!("The days with the most requests {subject}");
    let desc = match days.first() {
        Some(d) => format!(
            "The busiest day {subject} in all the data was {}, with {}.",
            d.label,
            requests(d.count)
        ),
        None => format!("There are no requests {subject} in the data yet."),
    };
    let max = days.iter().map(|d| d.count).max().unwrap_or(0) as f64;
    let rows: Vec<RowLabel> = if days.is_empty() {
        vec![RowLabel {
            text: "No data".into(),
            bold: false,
        }]
    } else {
        days.iter()
            .map(|d| RowLabel {
                text: d.label.clone(),
                bold: false,
            })
            .collect()
    };
    let frame = HBarFrame::new(rows, max, 56, 8, "Requests opened that day");
    let svg = draw_svg(id, &title, &desc, frame.size(), |root| {
        frame.draw(root, |chart| {
            for (i, d) in days.iter().enumerate() {
                let (b, t) = frame.band(i, 0.2);
                let at = bar(root, chart, (b, t), d.count as f64, palette::BLUE)?;
                value_label(root, at, thousands(d.count), false, palette::INK)?;
            }
            Ok(())
        })
    })?;
    let table = DataTable {
        columns: vec![
            Column::new("date", "Date"),
            Column::new("requests", "Requests"),
        ],
        rows: days
            .iter()
            .map(|d| vec![Cell::Text(d.date.clone()), Cell::Int(d.count)])
            .collect(),
    };
    let lead = format!(
        "Horizontal bar chart of the {} days with the most requests {subject}.",
        days.len()
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

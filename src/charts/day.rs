//! The day page's chart: each featured service's requests that day against its baseline.

use plotters::prelude::*;

use super::hbar::{HBarFrame, RowLabel, bar, value_label};
use super::palette;
use super::{
    Cell, Chart, ChartError, Column, DataTable, draw_svg, legend, requests, solid_swatch,
    thousands, tick_swatch,
};
use crate::numbers::average;

/// One service's bar on a day.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceBar {
    /// Display name.
    pub name: String,
    /// Requests opened that day, citywide.
    pub count: u64,
    /// Average opened per day over the baseline window; `None` when there is no baseline yet.
    pub baseline: Option<f64>,
    /// Days in the baseline window (0 when none).
    pub baseline_days: u32,
    /// `round((count − baseline) / baseline × 100)`, when defined.
    pub above_pct: Option<i64>,
}

/// Bars of each service's requests on a day, with a tick at its daily average; the service
/// furthest above its average is labelled in bold. `day` is the date in words.
pub fn day_services(day: &str, services: &[ServiceBar]) -> Result<Chart, ChartError> {
    let id = "services";
    let title = format!("Requests by service on {day}, against each one's daily average");
    let greatest = services
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.above_pct.map(|p| (p, i)))
        // The greatest change; on a tie, the first listed (featured order).
        .fold(None, |best: Option<(i64, usize)>, (p, i)| match best {
            Some((bp, _)) if bp >= p => best,
            _ => Some((p, i)),
        });
    let desc = finding(day, services, greatest.map(|(_, i)| i));
    let max = services
        .iter()
        .map(|s| (s.count as f64).max(s.baseline.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    let rows = services
        .iter()
        .enumerate()
        .map(|(i, s)| RowLabel {
            text: s.name.clone(),
            bold: greatest.map(|(_, g)| g) == Some(i),
        })
        .collect();
    let frame = HBarFrame::new(rows, max, 92, 34, "Requests");
    let size = frame.size();
    let svg = draw_svg(id, &title, &desc, size, |root| {
        legend(
            root,
            8,
            8,
            &[
                (solid_swatch(palette::BLUE), "Requests this day".into()),
                (tick_swatch(palette::INK), "Average per day before".into()),
            ],
        )?;
        frame.draw(root, |chart| {
            for (i, s) in services.iter().enumerate() {
                let (b, t) = frame.band(i, 0.2);
                let mut end = chart.backend_coord(&(0.0, (b + t) / 2.0));
                if s.count > 0 {
                    end = bar(root, chart, (b, t), s.count as f64, palette::BLUE)?;
                }
                if let Some(base) = s.baseline {
                    let (b2, t2) = frame.band(i, 0.08);
                    let (x0, y0) = chart.backend_coord(&(base, t2));
                    let (_, y1) = chart.backend_coord(&(base, b2));
                    root.draw(&Rectangle::new(
                        [(x0 - 1, y0), (x0 + 2, y1)],
                        palette::INK.plot().filled(),
                    ))?;
                }
                let base_end = chart.backend_coord(&(s.baseline.unwrap_or(0.0), (b + t) / 2.0));
                let at = (end.0.max(base_end.0 + 2), end.1);
                let text = match s.above_pct {
                    Some(p) if p > 0 => format!("{}, +{p}%", thousands(s.count)),
                    Some(p) => format!("{}, {p}%", thousands(s.count)),
                    None => thousands(s.count),
                };
                value_label(
                    root,
                    (at.0 + 2, at.1),
                    text,
                    Some(i) == greatest.map(|g| g.1),
                    palette::INK,
                )?;
            }
            Ok(())
        })
    })?;
    let table = DataTable {
        columns: vec![
            Column::new("service", "Service"),
            Column::new("requests", "Requests"),
            Column::new("baseline_per_day", "Average per day before"),
            Column::new("baseline_days", "Days in the average"),
            Column::new("above_average_pct", "Above average %"),
        ],
        rows: services
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.name.clone()),
                    Cell::Int(s.count),
                    Cell::Decimal(s.baseline),
                    Cell::Int(u64::from(s.baseline_days)),
                    Cell::Signed(s.above_pct),
                ]
            })
            .collect(),
    };
    let lead = format!(
        "Horizontal bar chart of requests for {} services on {day}, each with a mark at its average per day.",
        services.len()
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

fn finding(day: &str, services: &[ServiceBar], greatest: Option<usize>) -> String {
    let total: u64 = services.iter().map(|s| s.count).sum();
    if services.is_empty() {
        return format!("No featured services to show on {day}.");
    }
    if total == 0 {
        return format!("No requests for the featured services on {day}.");
    }
    match greatest {
        Some(i) => {
            let s = &services[i];
            let base = s.baseline.unwrap_or(0.0);
            let p = s.above_pct.unwrap_or(0);
            if p > 0 {
                format!(
                    "{} were furthest above their average on {day}: {} against {} a day before, {p}% above.",
                    s.name,
                    requests(s.count),
                    average(base)
                )
            } else if p == 0 {
                format!(
                    "No featured service was above its average on {day}; {} came closest, at its average of {} a day.",
                    s.name,
                    average(base)
                )
            } else {
                format!(
                    "Every featured service was below its average on {day}; {} came closest, {}% below its {} a day.",
                    s.name,
                    -p,
                    average(base)
                )
            }
        }
        None => {
            let busiest = services
                .iter()
                .max_by_key(|s| s.count)
                .map(|s| s.name.as_str())
                .unwrap_or("");
            format!(
                "There is no average to compare with yet; {busiest} had the most requests on {day}."
            )
        }
    }
}

//! The time-to-close ranking: one bar per ranked ward, fastest on top, optionally with one ward
//! highlighted (in colour, in bold, and named in the legend).

use super::hbar::{HBarFrame, RowLabel, bar, value_label};
use super::palette;
use super::{
    Cell, Chart, ChartError, Column, DataTable, DurationUnit, days_short, days_words, draw_svg,
    legend, ordinal, solid_swatch,
};
use crate::domain::WardNo;

/// A ranked ward.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedWard {
    /// 1 = fastest.
    pub rank: usize,
    /// The ward.
    pub ward: WardNo,
    /// Requests it closed in the window.
    pub closed: u64,
    /// Mean days to close.
    pub ttc_mean_days: f64,
}

/// Bars of mean days to close for the ranked wards, rank 1 on top. `service` is the service's
/// name, `period` says when in words ("in the week of December 28, 2020"), `min_closed` is how
/// many closes a ward needed to be ranked, and `highlight` is the page's own ward.
pub fn ttc_ranking(
    id: &str,
    service: &str,
    period: &str,
    ranked: &[RankedWard],
    min_closed: u64,
    highlight: Option<WardNo>,
) -> Result<Chart, ChartError> {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_t = &terms.many_title;
    let wards_w = &terms.many;
    let title = format!("Mean time to close {service} requests by {ward_w}, {period}");
    let desc = finding(service, period, ranked, min_closed, highlight);
    let max = ranked.iter().map(|r| r.ttc_mean_days).fold(0.0, f64::max);
    let rows: Vec<RowLabel> = if ranked.is_empty() {
        vec![RowLabel {
            text: format!("No ranked {wards_w}"),
            bold: false,
        }]
    } else {
        ranked
            .iter()
            .map(|r| RowLabel {
                text: format!("{}. {ward_t} {}", r.rank, r.ward),
                bold: Some(r.ward) == highlight,
            })
            .collect()
    };
    // Minutes or hours when every ward closed faster than that: a days axis would read 0.0.
    let unit = DurationUnit::for_max(max);
    let frame = HBarFrame::new(
        rows,
        unit.of_days(max),
        64,
        34,
        &format!("Mean {} to close", unit.name()),
    );
    let svg = draw_svg(id, &title, &desc, frame.size(), |root| {
        let mut items = Vec::new();
        if let Some(w) = highlight.filter(|w| ranked.iter().any(|r| r.ward == *w)) {
            items.push((solid_swatch(palette::HIGHLIGHT), format!("{ward_t} {w}")));
            items.push((
                solid_swatch(palette::SLATE),
                format!("Other ranked {wards_w}"),
            ));
        } else {
            items.push((
                solid_swatch(palette::SLATE),
                format!("{wards_t} that closed {min_closed} or more"),
            ));
        }
        legend(root, 8, 8, &items)?;
        frame.draw(root, |chart| {
            // A ward that closed its requests almost at once still gets a visible bar.
            for (i, r) in ranked.iter().enumerate() {
                let (b, t) = frame.band(i, 0.15);
                let own = Some(r.ward) == highlight;
                let colour = if own {
                    palette::HIGHLIGHT
                } else {
                    palette::SLATE
                };
                let at = bar(root, chart, (b, t), unit.of_days(r.ttc_mean_days), colour)?;
                value_label(root, at, days_short(r.ttc_mean_days), own, palette::INK)?;
            }
            Ok(())
        })
    })?;
    let table = DataTable {
        columns: vec![
            Column::new("rank", "Rank"),
            Column::new("ward", ward_t.as_str()),
            Column::new("closed", "Closed"),
            Column::new("ttc_mean_days", "Mean days to close"),
        ],
        rows: ranked
            .iter()
            .map(|r| {
                vec![
                    Cell::Int(r.rank as u64),
                    Cell::Int(u64::from(r.ward)),
                    Cell::Int(r.closed),
                    Cell::Days(Some(r.ttc_mean_days)),
                ]
            })
            .collect(),
    };
    let lead = format!(
        "Horizontal bar chart of mean days to close {service} requests for each of {} ranked {wards_w}, fastest first.",
        ranked.len()
    );
    Ok(Chart::new(id, title, desc, &lead, svg, table))
}

fn finding(
    service: &str,
    period: &str,
    ranked: &[RankedWard],
    min_closed: u64,
    highlight: Option<WardNo>,
) -> String {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_w = &terms.many;
    let (Some(first), Some(last)) = (ranked.first(), ranked.last()) else {
        return format!(
            "No {ward_w} closed {min_closed} or more {service} requests {period}, so none is ranked."
        );
    };
    let k = ranked.len();
    let wards = if k == 1 { ward_w } else { wards_w };
    let fastest = format!(
        "{ward_t} {} was fastest, averaging {}",
        first.ward,
        days_words(first.ttc_mean_days)
    );
    match highlight {
        Some(w) => match ranked.iter().find(|r| r.ward == w) {
            Some(r) if k == 1 => format!(
                "{ward_t} {w} was the only {ward_w} ranked for {service} {period}, averaging {} to close.",
                days_words(r.ttc_mean_days)
            ),
            Some(r) if r.rank == 1 => format!(
                "{ward_t} {w} closed {service} requests fastest of the {k} ranked {wards_w} {period}, averaging {}.",
                days_words(r.ttc_mean_days)
            ),
            Some(r) => format!(
                "{ward_t} {w} ranked {} of {k} {wards} for closing {service} requests {period}, averaging {}; {}.",
                ordinal(r.rank),
                days_words(r.ttc_mean_days),
                fastest
            ),
            None => format!(
                "{ward_t} {w} is not ranked for {service} {period} (a {ward_w} needs {min_closed} or more closed requests); of the {k} ranked {wards}, {fastest}."
            ),
        },
        None if k == 1 => format!(
            "Only {ward_t} {} closed {min_closed} or more {service} requests {period}, averaging {}.",
            first.ward,
            days_words(first.ttc_mean_days)
        ),
        None => format!(
            "Of the {k} {wards} that closed {min_closed} or more {service} requests {period}, {} and {ward_t} {} slowest at {}.",
            fastest,
            last.ward,
            days_words(last.ttc_mean_days)
        ),
    }
}

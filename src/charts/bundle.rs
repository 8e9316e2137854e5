//! Many charts of one kind, one per period, in one set of files: a year of a ward's weeks is
//! one `.svg`, one `.csv` and one `.json` instead of fifty-two of each.
//!
//! The SVG stacks the charts and names each one's place with a `<view>` element, so
//! `opened-closed.svg#week-2019-03-04` shows that week's chart alone (in a browser tab, an
//! `<img>` or an embed) while the file without a fragment shows the whole year. The CSV and the
//! JSON carry every chart's rows under a leading period column.

use serde::Serialize;

use super::{Chart, FONT_FAMILY, JsonDocument, escape, svg_view_size};

/// Charts of one kind (one [`Chart::id`]), each for one period, in the order they are shown.
#[derive(Debug, Clone)]
pub struct ChartBundle {
    /// The charts' shared file stem (`opened-closed`).
    pub id: String,
    /// What the bundle holds, as the SVG's title ("Requests opened and closed in Ward 12, each
    /// week of 2019").
    pub title: String,
    /// What each chart is of: a week, a day.
    pub period: Period,
    /// Each period's label (`2019-03-04`) and its chart.
    pub charts: Vec<(String, Chart)>,
}

/// The kind of period a bundle's charts are of: its column in the CSV and the JSON, and the
/// ids of its views in the SVG.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// JSON key (`week_start`).
    pub key: &'static str,
    /// CSV heading (`Week starting`).
    pub heading: &'static str,
    /// What the views' ids start with (`week`).
    pub view: &'static str,
}

impl Period {
    /// Weeks, named by their Monday.
    pub const WEEK: Period = Period {
        key: "week_start",
        heading: "Week starting",
        view: "week",
    };
    /// Days.
    pub const DAY: Period = Period {
        key: "date",
        heading: "Date",
        view: "day",
    };

    /// The `id` of a period's `<view>`: the fragment a page links (`week-2019-03-04`).
    pub fn view_id(&self, label: &str) -> String {
        format!("{}-{label}", self.view)
    }
}

impl ChartBundle {
    /// One SVG document with every chart, one under the other, each with its `<view>`. Each
    /// chart keeps its title and description (ids made unique by the period).
    pub fn svg(&self) -> String {
        // A chart of a period without a single value (a week with no request in a ward) is
        // its finding in words, as on its page: a drawing of empty axes, for every such week
        // of a sparse year, was most of a bundle's bytes.
        let drawn: Vec<std::borrow::Cow<Chart>> = (self.charts.iter())
            .map(|(_, c)| {
                if c.rows_with_values() == 0 && !c.id.contains("map") {
                    std::borrow::Cow::Owned(in_words(c))
                } else {
                    std::borrow::Cow::Borrowed(c)
                }
            })
            .collect();
        let sizes: Vec<(f64, f64)> = drawn.iter().map(|c| svg_view_size(&c.svg)).collect();
        let width = sizes.iter().map(|s| s.0).fold(0.0, f64::max);
        let height: f64 = sizes.iter().map(|s| s.1).sum();
        let total: usize = drawn.iter().map(|c| c.svg.len() + 120).sum();
        let mut out = String::with_capacity(total + 600);
        let bundle = format!("{}-bundle", self.id);
        out.push_str(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"{bundle}-t {bundle}-d\" font-family=\"{}\"><title id=\"{bundle}-t\">{}</title><desc id=\"{bundle}-d\">{} charts, one under the other. Add #{} to this file's address to see one alone.</desc>",
            escape(FONT_FAMILY),
            escape(&self.title),
            self.charts.len(),
            escape(&self.period.view_id("YYYY-MM-DD")),
        ));
        let mut y = 0.0;
        for (((period, _), chart), (w, h)) in self.charts.iter().zip(&drawn).zip(&sizes) {
            let view = self.period.view_id(period);
            out.push_str(&format!(
                "<view id=\"{}\" viewBox=\"0 {y} {w} {h}\"/>",
                escape(&view)
            ));
            out.push_str(&nested(chart, &view, y, (*w, *h)));
            y += h;
        }
        out.push_str("</svg>\n");
        out
    }

    /// Every chart's table under one header, each row led by its period.
    pub fn csv(&self) -> String {
        let Some((_, first)) = self.charts.first() else {
            return String::new();
        };
        let header = std::iter::once(self.period.heading)
            .chain(first.table.columns.iter().map(|c| c.label.as_str()));
        let rows: usize = self.charts.iter().map(|(_, c)| c.table.rows.len()).sum();
        let mut csv = super::CsvRows::new(header, 24 * (rows + 1));
        for (period, chart) in &self.charts {
            for row in &chart.table.rows {
                csv.field(period);
                for cell in row {
                    csv.field_with(|out| cell.write_text(out));
                }
                csv.end_row();
            }
        }
        String::from_utf8(csv.into_bytes()).unwrap_or_default()
    }

    /// `{id, title, source, charts: [{week_start, id, title, description, columns, data,
    /// alt}]}`: each chart as its own JSON document would be, led by its period.
    pub fn json_document(&self, source: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct Doc<'a> {
            id: &'a str,
            title: &'a str,
            source: &'a str,
            charts: Vec<JsonDocument<'a>>,
        }
        let doc = Doc {
            id: &self.id,
            title: &self.title,
            source,
            charts: (self.charts.iter())
                .map(|(period, chart)| JsonDocument {
                    chart,
                    source: None,
                    period: Some((self.period.key, period)),
                })
                .collect(),
        };
        // Serializing plain strings and numbers into memory cannot fail.
        serde_json::to_vec(&doc).unwrap_or_default()
    }
}

/// A chart with nothing to draw as a small SVG that states its finding, with its title and
/// description as the drawing would have them.
fn in_words(chart: &Chart) -> Chart {
    let id = &chart.id;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 480 48\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" class=\"chart\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc><rect width=\"480\" height=\"48\" fill=\"#FFFFFF\"/><text x=\"8\" y=\"28\" font-size=\"13\" fill=\"#1A1A1A\">No requests to draw in this period.</text></svg>\n",
        escape(&chart.title),
        escape(&chart.desc),
    );
    Chart {
        svg,
        ..chart.clone()
    }
}

/// A chart's SVG as a child of the bundle's, at height `y`, with its ids prefixed by its view.
fn nested(chart: &Chart, view: &str, y: f64, (w, h): (f64, f64)) -> String {
    let svg = chart.svg.trim_end();
    let body = svg
        .strip_prefix("<svg xmlns=\"http://www.w3.org/2000/svg\"")
        .unwrap_or(svg.strip_prefix("<svg").unwrap_or(svg));
    // A chart's ids all start with its own (`map-t`, `map-zero`); each is referred to by
    // `aria-labelledby` or `url(#…)`. Led by the view, they stay unique in the bundle.
    let cid = &chart.id;
    let body = body
        .replace(&format!("id=\"{cid}-"), &format!("id=\"{view}-{cid}-"))
        .replace(&format!("url(#{cid}-"), &format!("url(#{view}-{cid}-"))
        .replace(
            &format!("aria-labelledby=\"{cid}-t {cid}-d\""),
            &format!("aria-labelledby=\"{view}-{cid}-t {view}-{cid}-d\""),
        );
    format!("<svg x=\"0\" y=\"{y}\" width=\"{w}\" height=\"{h}\"{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{DayCounts, week_opened_closed};

    fn week(start: u32, opened: u64) -> (String, Chart) {
        let days: Vec<DayCounts> = (0..7)
            .map(|i| DayCounts {
                date: format!("2019-03-{:02}", start + i),
                weekday: "Mon".into(),
                label: format!("March {}", start + i),
                opened: opened + u64::from(i),
                closed: 1,
                future: false,
            })
            .collect();
        let chart = week_opened_closed(12, &format!("March {start}"), &days).unwrap();
        (format!("2019-03-{start:02}"), chart)
    }

    fn bundle() -> ChartBundle {
        ChartBundle {
            id: "opened-closed".into(),
            title: "Requests opened and closed in Ward 12, each week of 2019".into(),
            period: Period::WEEK,
            charts: vec![week(4, 3), week(11, 40)],
        }
    }

    #[test]
    fn svg_has_a_view_per_chart_and_unique_ids() {
        let svg = bundle().svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let views: Vec<(&str, &str)> = (doc.descendants())
            .filter(|n| n.has_tag_name("view"))
            .map(|n| (n.attribute("id").unwrap(), n.attribute("viewBox").unwrap()))
            .collect();
        assert_eq!(
            views,
            vec![
                ("week-2019-03-04", "0 0 480 280"),
                ("week-2019-03-11", "0 280 480 280")
            ]
        );
        let mut ids: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("id"))
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids repeat: {ids:?}");
        // Every nested chart names its own title and description.
        for chart in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("svg"))
        {
            let labelled = chart.attribute("aria-labelledby").unwrap();
            for id in labelled.split(' ') {
                assert!(chart.descendants().any(|n| n.attribute("id") == Some(id)));
            }
        }
        let root = doc.root_element();
        assert_eq!(root.attribute("viewBox"), Some("0 0 480 560"));
        assert!(root.children().any(|n| n.has_tag_name("title")));
    }

    #[test]
    fn references_inside_a_chart_follow_its_renamed_ids() {
        let map = |fill: &str| Chart {
            id: "map".into(),
            title: "T".into(),
            desc: "D".into(),
            alt: "A".into(),
            svg: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-10 -10 100 50\" role=\"group\" aria-labelledby=\"map-t map-d\"><title id=\"map-t\">T</title><desc id=\"map-d\">D</desc><defs><pattern id=\"map-zero\"/></defs><path fill=\"{fill}\"/></svg>\n"
            ),
            table: crate::charts::DataTable {
                columns: Vec::new(),
                rows: Vec::new(),
            },
        };
        let bundle = ChartBundle {
            id: "map".into(),
            title: "Maps".into(),
            period: Period::DAY,
            charts: vec![
                ("2019-03-04".into(), map("url(#map-zero)")),
                ("2019-03-05".into(), map("url(#map-zero)")),
            ],
        };
        let svg = bundle.svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let ids: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("id"))
            .collect();
        assert!(ids.contains(&"day-2019-03-05-map-zero"), "{ids:?}");
        let fills: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("fill"))
            .collect();
        assert_eq!(
            fills,
            vec![
                "url(#day-2019-03-04-map-zero)",
                "url(#day-2019-03-05-map-zero)"
            ]
        );
        // The map's own viewBox (its margin below zero) is kept; its view is its place.
        assert!(svg.contains("<view id=\"day-2019-03-05\" viewBox=\"0 50 100 50\"/>"));
        assert!(svg.contains("viewBox=\"-10 -10 100 50\" role=\"group\""));
    }

    #[test]
    fn a_chart_without_values_is_its_finding_in_words() {
        let mut b = bundle();
        b.charts.push(week(18, 0));
        // week(18, 0) opens 0..6 a day: make every value zero.
        let empty = &mut b.charts[2].1;
        for row in &mut empty.table.rows {
            for cell in row.iter_mut() {
                if let crate::charts::Cell::Int(n) = cell {
                    *n = 0;
                }
            }
        }
        assert_eq!(b.charts[2].1.rows_with_values(), 0);
        let svg = b.svg();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let views: Vec<&str> = (doc.descendants())
            .filter(|n| n.has_tag_name("view"))
            .map(|n| n.attribute("viewBox").unwrap())
            .collect();
        assert_eq!(views, vec!["0 0 480 280", "0 280 480 280", "0 560 480 48"]);
        let last = doc
            .root_element()
            .children()
            .rfind(|n| n.has_tag_name("svg"));
        let last = last.unwrap();
        assert!(
            last.descendants()
                .any(|n| n.has_tag_name("desc") && n.text() == Some(b.charts[2].1.desc.as_str()))
        );
        // Its rows are in the CSV all the same.
        assert_eq!(
            b.csv()
                .lines()
                .filter(|l| l.starts_with("2019-03-18,"))
                .count(),
            7
        );
    }

    #[test]
    fn csv_and_json_lead_each_row_with_its_period() {
        let b = bundle();
        let csv = b.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 14);
        assert!(lines[0].starts_with("Week starting,"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("2019-03-04,2019-03-04,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[8].starts_with("2019-03-11,2019-03-11,"),
            "{}",
            lines[8]
        );
        let json: serde_json::Value = serde_json::from_slice(&b.json_document("cite")).unwrap();
        assert_eq!(json["source"], "cite");
        let charts = json["charts"].as_array().unwrap();
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[1]["week_start"], "2019-03-11");
        assert_eq!(charts[1]["data"].as_array().unwrap().len(), 7);
        assert_eq!(charts[1]["data"][0]["opened"], 40);
        assert!(charts[1].get("source").is_none());
        // Each chart is its own document but the source: the same keys, the same values.
        let own: serde_json::Value =
            serde_json::from_slice(&b.charts[1].1.json_document("cite")).unwrap();
        for key in ["id", "title", "description", "columns", "data", "alt"] {
            assert_eq!(charts[1][key], own[key], "{key}");
        }
    }
}

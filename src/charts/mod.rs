//! Charts and maps: accessible SVG drawn at build time from plain numbers.
//!
//! This module knows nothing of pages or the store. Each chart is a pure function from plain
//! data (counts, labels, dates already written as text) to a [`Chart`]: the SVG, a sentence that
//! states the finding, alt text, and the same numbers as a table and as JSON, so a page can show
//! the table beside the chart and write the chart's `.svg`, `.csv` and `.json` bundle.
//!
//! Charts are drawn with plotters' SVG backend, then finished by [`finish_svg`]: `role="img"`,
//! `<title>` and `<desc>` referenced by `aria-labelledby`, a `viewBox` and no fixed size (so the
//! chart scales to a phone and nothing shifts while the page loads), and one generic font family
//! (text stays real `<text>`, never missing-glyph boxes). Maps ([`maps`]) are written directly as
//! SVG paths from the ward boundary GeoJSON ([`geo`]). Social cards ([`card`]) are PNGs.

mod bundle;
pub mod card;
mod day;
pub mod geo;
mod hbar;
mod history;
#[cfg(test)]
mod kinds_tests;
pub mod maps;
pub mod palette;
mod ranking;
mod service;
mod ward;

pub use bundle::{ChartBundle, Period};
pub use day::{ServiceBar, day_services};
pub use history::{WeekHistory, weekly_history, weekly_ttc};
pub use ranking::{RankedWard, ttc_ranking};
pub use service::{WardWeekBar, service_wards};
pub use ward::{BusyDay, DayCounts, busiest_days, week_opened_closed};

use plotters::prelude::*;
pub(crate) use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

pub(crate) use crate::numbers::{DurationUnit, days as days_words, days_short, ordinal, thousands};

use palette::Rgb;

/// Drawing a chart failed (a bug or an impossible size, never bad data: data is only drawn).
#[derive(Debug, thiserror::Error)]
#[error("drawing the {id} chart: {message}")]
pub struct ChartError {
    /// The chart's file stem.
    pub id: String,
    /// What went wrong.
    pub message: String,
}

impl ChartError {
    fn new(id: &str, e: impl std::fmt::Display) -> ChartError {
        ChartError {
            id: id.to_string(),
            message: e.to_string(),
        }
    }
}

/// One drawn chart with everything a page and a journalist need.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Stable file stem (`opened-closed`, `ttc-ranking`, `map`): the same chart on the same page
    /// gets the same name in every build, so links to its files keep working.
    pub id: String,
    /// Short title (also the SVG `<title>` and the table caption).
    pub title: String,
    /// The finding in a sentence (the SVG `<desc>`).
    pub desc: String,
    /// Alt text for an `<img>` of the chart: what it shows, then the finding.
    pub alt: String,
    /// The finished SVG document.
    pub svg: String,
    /// The numbers drawn, as a table (also the chart's CSV and JSON: see [`Chart::json_document`]).
    pub table: DataTable,
}

impl Chart {
    /// Assembles a chart.
    fn new(
        id: &str,
        title: String,
        desc: String,
        alt_lead: &str,
        svg: String,
        table: DataTable,
    ) -> Chart {
        Chart {
            id: id.to_string(),
            alt: format!("{alt_lead} {desc}"),
            title,
            desc,
            svg,
            table,
        }
    }

    /// The chart's JSON document, derived from its table so the two always agree:
    /// `{id, title, description, columns: [{key, label}], data: [{key: value}], alt, source}`,
    /// `source` being the citation. Written straight from the table (no intermediate `Value`):
    /// a build writes tens of thousands of these.
    pub fn json_document(&self, source: &str) -> Vec<u8> {
        let doc = JsonDocument {
            chart: self,
            source: Some(source),
            period: None,
        };
        // Serializing plain strings and numbers into memory cannot fail.
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// The table as CSV text (header row of column labels).
    pub fn csv(&self) -> String {
        self.table.csv()
    }

    /// How many rows of the table have a value other than zero in a measure column (not a
    /// column that names the row: ward, rank, date, week, service, place on the map).
    pub fn rows_with_values(&self) -> usize {
        const NAMING: [&str; 6] = ["ward", "rank", "date", "week_start", "service", "relation"];
        let measures: Vec<usize> = (self.table.columns.iter().enumerate())
            .filter(|(_, c)| !NAMING.contains(&c.key))
            .map(|(i, _)| i)
            .collect();
        self.table
            .rows
            .iter()
            .filter(|row| {
                measures.iter().any(|&i| match row.get(i) {
                    Some(Cell::Int(n)) => *n != 0,
                    Some(Cell::Signed(Some(n))) => *n != 0,
                    Some(Cell::Decimal(Some(v)) | Cell::Days(Some(v))) => *v != 0.0,
                    _ => false,
                })
            })
            .count()
    }

    /// Whether a drawing would show nothing worth a picture: no value at all, or a single one.
    /// Pages then state the finding in words instead of drawing an empty frame; the files are
    /// written all the same. Maps are always drawn: they show where, whatever the figures.
    pub fn says_more_in_words(&self) -> bool {
        !self.id.contains("map") && self.rows_with_values() <= 1
    }
}

/// A column of a chart's table: a JSON key and a human heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// JSON key (`snake_case`).
    pub key: &'static str,
    /// Heading in the HTML table and the CSV.
    pub label: String,
}

impl Column {
    fn new(key: &'static str, label: impl Into<String>) -> Column {
        Column {
            key,
            label: label.into(),
        }
    }
}

/// One value in a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Words (a name, a date).
    Text(String),
    /// A count.
    Int(u64),
    /// A whole number that may be negative or undefined (a percentage change, a rank).
    Signed(Option<i64>),
    /// A measure shown with two decimals (a daily average); `None` when undefined.
    Decimal(Option<f64>),
    /// A duration in days, with three decimals as in the JSON API (a graffiti removal closed
    /// in 4 minutes is 0.003, not 0.00); `None` when undefined.
    Days(Option<f64>),
}

impl Cell {
    fn rounded(v: f64) -> f64 {
        (v * 100.0).round() / 100.0
    }

    /// The cell as table and CSV text (an undefined measure is empty).
    pub fn text(&self) -> String {
        let mut text = String::new();
        self.write_text(&mut text);
        text
    }

    /// Appends the cell's text (see [`Cell::text`]) to `out`.
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = match self {
            Cell::Text(s) => out.write_str(s),
            Cell::Int(n) => write!(out, "{n}"),
            Cell::Signed(Some(n)) => write!(out, "{n}"),
            Cell::Decimal(Some(v)) if v.is_finite() => write!(out, "{:.2}", Cell::rounded(*v)),
            Cell::Days(Some(v)) if v.is_finite() => {
                out.write_str(&crate::numbers::days_figure_text(*v))
            }
            Cell::Signed(None) | Cell::Decimal(_) | Cell::Days(_) => Ok(()),
        };
    }
}

/// The cell as JSON: the same number the text shows; `null` when undefined.
impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(s) => serializer.serialize_str(s),
            Cell::Int(n) => serializer.serialize_u64(*n),
            Cell::Signed(Some(n)) => serializer.serialize_i64(*n),
            Cell::Decimal(Some(v)) if v.is_finite() => serializer.serialize_f64(Cell::rounded(*v)),
            Cell::Days(Some(v)) if v.is_finite() => {
                serializer.serialize_f64(crate::numbers::days_figure(*v))
            }
            Cell::Signed(None) | Cell::Decimal(_) | Cell::Days(_) => serializer.serialize_none(),
        }
    }
}

/// See [`Chart::json_document`].
struct JsonDocument<'a> {
    chart: &'a Chart,
    /// The citation; left out of a chart inside a [`ChartBundle`], which cites once.
    source: Option<&'a str>,
    /// In a bundle, the chart's period (key and value), first.
    period: Option<(&'static str, &'a str)>,
}

impl Serialize for JsonDocument<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = self.chart;
        // Keys in the city's words ("district" where Chicago says "ward").
        let terms = crate::domain::Terms::current();
        let keys: Vec<std::borrow::Cow<str>> = (c.table.columns.iter())
            .map(|col| match terms.reword_key(col.key) {
                Some(k) => std::borrow::Cow::Owned(k),
                None => std::borrow::Cow::Borrowed(col.key),
            })
            .collect();
        let columns: Vec<ColumnDoc> = (c.table.columns.iter().zip(&keys))
            .map(|(col, key)| ColumnDoc {
                key,
                label: &col.label,
            })
            .collect();
        let data: Vec<RowDocument> = c
            .table
            .rows
            .iter()
            .map(|cells| RowDocument { keys: &keys, cells })
            .collect();
        let mut map = serializer.serialize_map(Some(8))?;
        if let Some((key, value)) = self.period {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("id", &c.id)?;
        map.serialize_entry("title", &c.title)?;
        map.serialize_entry("description", &c.desc)?;
        map.serialize_entry("columns", &columns)?;
        map.serialize_entry("data", &data)?;
        map.serialize_entry("alt", &c.alt)?;
        if let Some(source) = self.source {
            map.serialize_entry("source", source)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ColumnDoc<'a> {
    key: &'a str,
    label: &'a str,
}

/// One row of a chart's JSON: `{column key: cell}`.
struct RowDocument<'a> {
    keys: &'a [std::borrow::Cow<'a, str>],
    cells: &'a [Cell],
}

impl Serialize for RowDocument<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.cells.len()))?;
        for (key, cell) in self.keys.iter().zip(self.cells) {
            map.serialize_entry(key.as_ref(), cell)?;
        }
        map.end()
    }
}

/// The numbers a chart draws, as rows under columns.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl DataTable {
    /// Column headings.
    pub fn header(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.label.clone()).collect()
    }

    /// CSV with a header row.
    pub fn csv(&self) -> String {
        let mut csv = CsvRows::new(
            self.columns.iter().map(|c| c.label.as_bytes()),
            16 * (self.rows.len() + 1),
        );
        for row in &self.rows {
            for cell in row {
                csv.field_with(|out| cell.write_text(out));
            }
            csv.end_row();
        }
        String::from_utf8(csv.into_bytes()).unwrap_or_default()
    }
}

/// CSV written to memory a field at a time, each field formatted through one reused buffer: a
/// `String` per cell was most of the time of a long table.
pub struct CsvRows {
    writer: csv::Writer<Vec<u8>>,
    field: String,
}

impl CsvRows {
    /// Starts with the header row, with room for about `capacity` bytes.
    pub fn new<T: AsRef<[u8]>>(header: impl IntoIterator<Item = T>, capacity: usize) -> CsvRows {
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(capacity));
        // Writing to memory cannot fail.
        let _ = writer.write_record(header);
        CsvRows {
            writer,
            field: String::new(),
        }
    }

    /// Adds a field whose text `write` appends to the (empty) buffer it is given.
    pub fn field_with(&mut self, write: impl FnOnce(&mut String)) {
        self.field.clear();
        write(&mut self.field);
        let _ = self.writer.write_field(&self.field);
    }

    /// Adds a field: `value` as `Display` writes it.
    pub fn field(&mut self, value: impl std::fmt::Display) {
        use std::fmt::Write as _;
        self.field_with(|out| {
            let _ = write!(out, "{value}");
        });
    }

    /// Adds a whole row of fields already written as text.
    pub fn row<T: AsRef<[u8]>>(&mut self, fields: impl IntoIterator<Item = T>) {
        let _ = self.writer.write_record(fields);
    }

    /// Ends the row.
    pub fn end_row(&mut self) {
        let _ = self.writer.write_record(None::<&[u8]>);
    }

    /// The CSV's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }
}

/// `viewBox` width and height of an SVG document (480 × 300 when it has none).
pub fn svg_view_size(svg: &str) -> (f64, f64) {
    let vb = svg
        .split("viewBox=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("0 0 480 300");
    let n: Vec<f64> = vb
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match n.as_slice() {
        [_, _, w, h] => (*w, *h),
        _ => (480.0, 300.0),
    }
}

/// The font stack every chart's text asks for: generic families only, so every device has it.
pub const FONT_FAMILY: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

/// Escapes text for SVG content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes a drawn SVG accessible and responsive.
///
/// Replaces the opening `<svg>` tag (plotters writes a fixed width and height) with one that has
/// only a `viewBox`, `role="img"` and `aria-labelledby` pointing at a `<title>` and a `<desc>`
/// inserted first, and moves the font family to the root so every `<text>` uses the generic
/// stack. `id` makes the title and desc ids unique on a page that shows several charts.
pub fn finish_svg(raw: &str, id: &str, title: &str, desc: &str, size: (u32, u32)) -> String {
    let body = match raw.find("<svg") {
        Some(start) => {
            let rest = &raw[start..];
            match rest.find('>') {
                Some(end) => &rest[end + 1..],
                None => "",
            }
        }
        None => raw,
    };
    let body = body.trim_start_matches('\n');
    let mut out = String::with_capacity(raw.len() + 400);
    out.push_str(&svg_open(id, title, desc, size));
    push_without_defaults(&mut out, body);
    if !out.ends_with("</svg>") {
        out.push_str("</svg>");
    }
    out.push('\n');
    out
}

/// Appends plotters' SVG body without its line breaks and without the attributes it repeats on
/// every element that the root already says, to keep files small. One pass: the ten-year weekly
/// charts have thousands of elements, and a `replace` per attribute per line showed in profiles.
fn push_without_defaults(out: &mut String, body: &str) {
    const DROP: [&str; 3] = [
        " opacity=\"1\"",
        " stroke=\"none\"",
        " font-family=\"sans-serif\"",
    ];
    let bytes = body.as_bytes();
    let mut kept = 0;
    let mut at = 0;
    while let Some(i) = memchr::memchr3(b'\n', b'\r', b' ', &bytes[at..]).map(|i| at + i) {
        let skip = match bytes[i] {
            b' ' => DROP
                .iter()
                .find(|d| body[i..].starts_with(**d))
                .map_or(0, |d| d.len()),
            _ => 1,
        };
        if skip > 0 {
            out.push_str(&body[kept..i]);
            kept = i + skip;
            at = kept;
        } else {
            at = i + 1;
        }
    }
    out.push_str(&body[kept..]);
}

/// The opening `<svg>` tag with its title and desc, shared by charts, maps and cards.
pub fn svg_open(id: &str, title: &str, desc: &str, size: (u32, u32)) -> String {
    svg_open_box(
        id,
        title,
        desc,
        (0.0, 0.0, f64::from(size.0), f64::from(size.1)),
    )
}

/// [`svg_open`] for any `viewBox` (`x, y, width, height`).
pub fn svg_open_box(id: &str, title: &str, desc: &str, vb: (f64, f64, f64, f64)) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{} {} {} {}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" class=\"chart\" font-family=\"{}\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        num(vb.0),
        num(vb.1),
        num(vb.2),
        num(vb.3),
        escape(FONT_FAMILY),
        escape(title),
        escape(desc)
    )
}

/// A number for SVG: integers without a decimal point, others with at most two decimals.
pub fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        let s = format!("{r:.2}");
        s.trim_end_matches('0').to_string()
    }
}

// ------------------------------------------------------------------ shared drawing helpers

/// Width of the charts' drawing (in SVG units; the chart scales to its container).
pub(crate) const WIDTH: u32 = 480;
/// Label font size in SVG units. Plotters divides font sizes by 1.24 when writing SVG.
pub(crate) const LABEL_PX: f64 = 14.0;

/// A plotters text style of `px` SVG units.
pub(crate) fn text_style(px: f64, colour: Rgb) -> TextStyle<'static> {
    let mut style = TextStyle::from(("sans-serif", px * 1.24).into_font());
    style.color = colour.plot().to_backend_color();
    style
}

/// A bold plotters text style.
pub(crate) fn bold_style(px: f64, colour: Rgb) -> TextStyle<'static> {
    let mut style = TextStyle::from(("sans-serif", px * 1.24).into_font().style(FontStyle::Bold));
    style.color = colour.plot().to_backend_color();
    style
}

/// A rough width of `text` at `px` (for layout only; browsers measure the real text).
pub(crate) fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | '\'' | ' ' | '|' | '!' | ':' => 0.3,
            'm' | 'w' | 'M' | 'W' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii_digit() => 0.56,
            _ => 0.54,
        })
        .sum::<f64>()
        * px
}

/// An axis maximum and tick step that read well: 0–5 for tiny counts, 0–250 by 50, 0–3,000 by 500.
pub(crate) fn nice_axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 1.0);
    }
    let rough = max / 4.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    // Counts never need fractional ticks.
    let step = if max >= 1.0 { step.max(1.0) } else { step };
    let top = (max / step).ceil() * step;
    (top.max(step), step)
}

/// A tick label on an axis stepping by `step` (see [`crate::numbers::tick`]).
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    crate::numbers::tick(v, step)
}

/// `1 request` / `3 requests`.
pub(crate) fn requests(n: u64) -> String {
    format!("{} request{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// Runs a plotters drawing into an SVG string and finishes it.
pub(crate) fn draw_svg(
    id: &str,
    title: &str,
    desc: &str,
    size: (u32, u32),
    draw: impl FnOnce(
        &DrawingArea<SVGBackend, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, ChartError> {
    let mut raw = String::new();
    {
        let root = SVGBackend::with_string(&mut raw, size).into_drawing_area();
        root.fill(&palette::WHITE.plot())
            .map_err(|e| ChartError::new(id, e))?;
        draw(&root).map_err(|e| ChartError::new(id, e))?;
        root.present().map_err(|e| ChartError::new(id, e))?;
    }
    Ok(finish_svg(&raw, id, title, desc, size))
}

/// Draws a legend row of (swatch, label) pairs at `y`, starting at `x`; returns nothing. Each
/// swatch is drawn by `swatch(root, x, y)` in a 14×14 box.
pub(crate) type Swatch<'s> =
    Box<dyn Fn(&DrawingArea<SVGBackend, plotters::coord::Shift>, i32, i32) -> DrawResult + 's>;

/// The result of a drawing step.
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) fn legend(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    x: i32,
    y: i32,
    items: &[(Swatch, String)],
) -> DrawResult {
    let mut x = x;
    for (swatch, label) in items {
        swatch(root, x, y)?;
        root.draw(&Text::new(
            label.clone(),
            (x + 20, y + 7),
            text_style(13.0, palette::INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 20 + text_width(label, 13.0).ceil() as i32 + 18;
    }
    Ok(())
}

/// A solid square swatch.
pub(crate) fn solid_swatch<'s>(c: Rgb) -> Swatch<'s> {
    Box::new(move |root, x, y| {
        root.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 14)],
            c.plot().filled(),
        ))?;
        Ok(())
    })
}

/// An outlined square swatch (light fill, dark border).
pub(crate) fn outline_swatch<'s>(fill: Rgb, stroke: Rgb) -> Swatch<'s> {
    Box::new(move |root, x, y| {
        root.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 14)],
            stroke.plot().filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(x + 2, y + 2), (x + 12, y + 12)],
            fill.plot().filled(),
        ))?;
        Ok(())
    })
}

/// A bar with a 2-pixel dark border and a light fill (the closed series): the border carries
/// the contrast, the hollow look tells it from solid bars without colour. Drawn as two filled
/// rectangles because plotters' SVG rectangles have no stroke width.
pub(crate) fn outlined_bar(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    top_left: (i32, i32),
    bottom_right: (i32, i32),
) -> DrawResult {
    let (x0, y0) = top_left;
    let (x1, y1) = bottom_right;
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        palette::ORANGE.plot().filled(),
    ))?;
    if x1 - x0 > 4 && y1 - y0 > 4 {
        root.draw(&Rectangle::new(
            [(x0 + 2, y0 + 2), (x1 - 2, y1 - 2)],
            palette::ORANGE_TINT.plot().filled(),
        ))?;
    }
    Ok(())
}

/// A line swatch (solid or dashed) with an optional round marker.
pub(crate) fn line_swatch<'s>(c: Rgb, dashed: bool, marker: bool) -> Swatch<'s> {
    Box::new(move |root, x, y| {
        if dashed {
            for i in 0..3 {
                root.draw(&PathElement::new(
                    vec![(x + i * 6, y + 7), (x + i * 6 + 3, y + 7)],
                    c.plot().stroke_width(2),
                ))?;
            }
        } else {
            root.draw(&PathElement::new(
                vec![(x, y + 7), (x + 14, y + 7)],
                c.plot().stroke_width(2),
            ))?;
        }
        if marker {
            root.draw(&Circle::new((x + 7, y + 7), 3, c.plot().filled()))?;
        }
        Ok(())
    })
}

/// A vertical tick swatch (the baseline mark).
pub(crate) fn tick_swatch<'s>(c: Rgb) -> Swatch<'s> {
    Box::new(move |root, x, y| {
        root.draw(&Rectangle::new(
            [(x + 6, y - 1), (x + 9, y + 15)],
            c.plot().filled(),
        ))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn axes_read_well_for_small_and_large_counts() {
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
        assert_eq!(nice_axis(3.0), (3.0, 1.0));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(230.0), (300.0, 100.0));
        assert_eq!(nice_axis(2900.0), (3000.0, 1000.0));
        let (top, step) = nice_axis(0.3);
        assert!(top >= 0.3 && step < 1.0);
    }

    #[test]
    fn svg_is_finished_with_title_desc_and_viewbox() {
        let raw = "<svg width=\"10\" height=\"20\" viewBox=\"0 0 10 20\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"10\" height=\"20\" opacity=\"1\" fill=\"#FFFFFF\" stroke=\"none\"/>\n<text x=\"1\" y=\"2\" font-family=\"sans-serif\">a &amp; b</text>\n</svg>\n";
        let svg = finish_svg(raw, "c", "T <1>", "D & d", (10, 20));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 20\" role=\"img\" aria-labelledby=\"c-t c-d\""));
        assert!(
            svg.contains("<title id=\"c-t\">T &lt;1&gt;</title><desc id=\"c-d\">D &amp; d</desc>")
        );
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(doc.root_element().attribute("width").is_none());
        assert!(!svg.contains("opacity=\"1\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().attribute("role"), Some("img"));
    }

    #[test]
    fn plotters_defaults_and_line_breaks_are_dropped() {
        let mut out = String::new();
        push_without_defaults(
            &mut out,
            "<rect x=\"1\" opacity=\"1\" stroke=\"none\"/>\r\n<text font-family=\"sans-serif\" opacity=\"0.5\">a b</text>\n",
        );
        assert_eq!(out, "<rect x=\"1\"/><text opacity=\"0.5\">a b</text>");
    }

    #[test]
    fn table_text_and_json_agree() {
        let t = DataTable {
            columns: vec![
                Column::new("ward", "Ward"),
                Column::new("mean", "Mean days"),
            ],
            rows: vec![
                vec![Cell::Int(3), Cell::Decimal(Some(1.23456))],
                vec![Cell::Int(4), Cell::Decimal(None)],
            ],
        };
        assert_eq!(t.csv(), "Ward,Mean days\n3,1.23\n4,\n");
        let chart = Chart::new("x", "T".into(), "D".into(), "A", String::new(), t);
        let j: Value = serde_json::from_slice(&chart.json_document("S")).unwrap();
        assert_eq!(
            j,
            json!({"id": "x", "title": "T", "description": "D", "alt": "A D", "source": "S",
                "columns": [{"key": "ward", "label": "Ward"}, {"key": "mean", "label": "Mean days"}],
                "data": [{"ward": 3, "mean": 1.23}, {"ward": 4, "mean": null}]})
        );
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.50), "2.5");
        assert_eq!(num(-0.125), "-0.13");
    }
}

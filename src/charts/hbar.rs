//! The frame shared by horizontal bar charts: a category label on the left of each row, a value
//! axis along the bottom, room on the right for a value label, and a legend on top.
//!
//! Horizontal bars suit a phone: long names (services, dates, "Ward 12") read across instead of
//! being rotated, and fifty wards simply make a taller chart.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{HPos, Pos, VPos};

use super::palette::{self, Rgb};
use super::{
    DrawResult, LABEL_PX, WIDTH, bold_style, nice_axis, text_style, text_width, tick_label,
};

/// The plotting context of a horizontal bar chart: x is the value, y runs 0 (bottom) to n (top).
pub(crate) type BarContext<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One category row.
pub(crate) struct RowLabel {
    /// The text on the left.
    pub text: String,
    /// Drawn bold (the highlighted row, the greatest change).
    pub bold: bool,
}

/// Layout of a horizontal bar chart.
pub(crate) struct HBarFrame {
    /// Rows, top to bottom.
    pub rows: Vec<RowLabel>,
    /// Pixels reserved left of the plot for the row labels.
    pub label_w: u32,
    /// Pixels reserved right of the plot for value labels.
    pub value_w: u32,
    /// Height of one row.
    pub row_h: u32,
    /// Pixels above the plot (legend).
    pub top: u32,
    /// The axis maximum and tick step.
    pub axis: (f64, f64),
    /// The axis description under the ticks.
    pub x_desc: String,
}

/// Pixels under the plot: tick labels and the axis description.
const BOTTOM: u32 = 44;

impl HBarFrame {
    /// A frame for `rows` with values up to `max`, `value_w` pixels for labels past the bars.
    pub fn new(rows: Vec<RowLabel>, max: f64, value_w: u32, top: u32, x_desc: &str) -> HBarFrame {
        let label_w = rows
            .iter()
            .map(|r| text_width(&r.text, LABEL_PX) * if r.bold { 1.1 } else { 1.0 })
            .fold(0.0, f64::max)
            .ceil() as u32
            + 12;
        let row_h = if rows.len() > 20 { 18 } else { 26 };
        HBarFrame {
            rows,
            label_w: label_w.min(WIDTH / 2),
            value_w,
            row_h,
            top,
            axis: nice_axis(max),
            x_desc: x_desc.to_string(),
        }
    }

    /// The drawing's size.
    pub fn size(&self) -> (u32, u32) {
        (
            WIDTH,
            self.top + self.row_h * self.rows.len().max(1) as u32 + BOTTOM,
        )
    }

    /// Data y of row `i`'s band (top row is 0): `(bottom, top)`, inset by `inset` of a row.
    pub fn band(&self, i: usize, inset: f64) -> (f64, f64) {
        let n = self.rows.len() as f64;
        let bottom = n - 1.0 - i as f64;
        (bottom + inset, bottom + 1.0 - inset)
    }

    /// Draws the frame (axis, grid, row labels) and then `body` on the plot.
    pub fn draw<'b>(
        &self,
        root: &DrawingArea<SVGBackend<'b>, Shift>,
        body: impl FnOnce(&mut BarContext<'_, 'b>) -> DrawResult,
    ) -> DrawResult {
        let n = self.rows.len().max(1) as f64;
        let (top, step) = self.axis;
        let mut chart = ChartBuilder::on(root)
            .margin_top(self.top)
            .margin_right(self.value_w + 10)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(self.label_w)
            .build_cartesian_2d(0.0..top, 0.0..n)?;
        let ticks = (top / step).round() as usize + 1;
        let label = |v: &f64| tick_label(*v, step);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(ticks)
            .x_label_formatter(&label)
            .x_desc(self.x_desc.clone())
            .label_style(text_style(13.0, palette::MUTED))
            .axis_desc_style(text_style(13.0, palette::MUTED))
            .bold_line_style(palette::GRID.plot())
            .light_line_style(TRANSPARENT)
            .axis_style(palette::MUTED.plot())
            .draw()?;
        for (i, row) in self.rows.iter().enumerate() {
            let (b, t) = self.band(i, 0.0);
            let (x, y) = chart.backend_coord(&(0.0, (b + t) / 2.0));
            let style = if row.bold {
                bold_style(LABEL_PX, palette::INK)
            } else {
                text_style(LABEL_PX, palette::INK)
            };
            root.draw(&Text::new(
                row.text.clone(),
                (x - 6, y),
                style.pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        body(&mut chart)
    }
}

/// Draws a bar from 0 to `value` in the band `(bottom, top)` and returns the pixel point just
/// past its end (for the value label). A bar is at least 3 pixels long, so a value near zero
/// stays visible.
pub(crate) fn bar<'b>(
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    chart: &BarContext<'_, 'b>,
    band: (f64, f64),
    value: f64,
    colour: Rgb,
) -> Result<(i32, i32), Box<dyn std::error::Error>> {
    let (x0, y0) = chart.backend_coord(&(0.0, band.1));
    let (x1, y1) = chart.backend_coord(&(value.max(0.0), band.0));
    let x1 = x1.max(x0 + 3);
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        colour.plot().filled(),
    ))?;
    Ok((x1, (y0 + y1) / 2))
}

/// A value label just past the end of a bar.
pub(crate) fn value_label<'b>(
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    at: (i32, i32),
    text: String,
    bold: bool,
    colour: Rgb,
) -> DrawResult {
    let style = if bold {
        bold_style(13.0, colour)
    } else {
        text_style(13.0, colour)
    };
    root.draw(&Text::new(
        text,
        (at.0 + 5, at.1),
        style.pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}

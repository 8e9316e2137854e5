//! Social cards: the 1200×630 PNG a page names as its `og:image`, with the page's headline
//! figure.
//!
//! The card is built as SVG and rasterised with resvg. Its text is drawn from the font shipped
//! in `assets/fonts/` (DejaVu Sans Bold, compiled in): each glyph's outline becomes part of an
//! SVG path, so the card needs no system fonts and no text-shaping stack, and looks the same on
//! every machine that builds the site.

use std::fmt::Write as _;
use std::sync::OnceLock;

use resvg::{tiny_skia, usvg};
use ttf_parser::{Face, GlyphId, OutlineBuilder};

use super::palette::{self, Rgb};
use super::{escape, num};

/// The card font (see `assets/fonts/README.md`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Card size in pixels (the size OpenGraph and Twitter recommend).
pub const CARD_SIZE: (u32, u32) = (1200, 630);

/// Rendering a card failed.
#[derive(Debug, thiserror::Error)]
#[error("social card {title:?}: {message}")]
pub struct CardError {
    /// The card's page title.
    pub title: String,
    /// What went wrong.
    pub message: String,
}

/// What a card says.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The site's name, top left.
    pub site: String,
    /// The page: "Ward 3, week of Dec 28, 2020".
    pub title: String,
    /// The headline figure: "1,234".
    pub figure: String,
    /// What the figure is: "requests opened; 1,100 closed".
    pub caption: String,
    /// The bottom line: the data source and date.
    pub footer: String,
}

fn face() -> Option<&'static Face<'static>> {
    static FACE: OnceLock<Option<Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| Face::parse(FONT, 0).ok()).as_ref()
}

/// Appends glyph outlines to an SVG path, placed and scaled (font units are y-up).
struct PathSink<'a> {
    d: &'a mut String,
    x: f64,
    y: f64,
    scale: f64,
}

impl PathSink<'_> {
    fn pt(&self, x: f32, y: f32) -> (String, String) {
        (
            num(self.x + f64::from(x) * self.scale),
            num(self.y - f64::from(y) * self.scale),
        )
    }
}

impl OutlineBuilder for PathSink<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (a, b) = self.pt(x, y);
        let _ = write!(self.d, "M{a} {b}");
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (a, b) = self.pt(x, y);
        let _ = write!(self.d, "L{a} {b}");
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (a, b) = self.pt(x1, y1);
        let (c, d) = self.pt(x, y);
        let _ = write!(self.d, "Q{a} {b} {c} {d}");
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (a, b) = self.pt(x1, y1);
        let (c, d) = self.pt(x2, y2);
        let (e, f) = self.pt(x, y);
        let _ = write!(self.d, "C{a} {b} {c} {d} {e} {f}");
    }
    fn close(&mut self) {
        self.d.push('Z');
    }
}

/// The glyph for a character, or for `?` when the font lacks it (never a missing-glyph box).
fn glyph(face: &Face, c: char) -> GlyphId {
    face.glyph_index(c)
        .or_else(|| face.glyph_index('?'))
        .unwrap_or(GlyphId(0))
}

/// Width of `text` at `size` pixels.
pub fn text_width(text: &str, size: f64) -> f64 {
    let Some(face) = face() else { return 0.0 };
    let scale = size / f64::from(face.units_per_em());
    text.chars()
        .map(|c| f64::from(face.glyph_hor_advance(glyph(face, c)).unwrap_or(0)) * scale)
        .sum()
}

/// The outline path of `text` with its baseline starting at (`x`, `y`).
pub fn text_path(text: &str, x: f64, y: f64, size: f64) -> String {
    let mut d = String::new();
    let Some(face) = face() else { return d };
    let scale = size / f64::from(face.units_per_em());
    let mut pen = x;
    for c in text.chars() {
        let g = glyph(face, c);
        let mut sink = PathSink {
            d: &mut d,
            x: pen,
            y,
            scale,
        };
        face.outline_glyph(g, &mut sink);
        pen += f64::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale;
    }
    d
}

/// Splits `text` into lines no wider than `width` at `size`, at most `max_lines` (the last one
/// ends with an ellipsis when text was cut).
fn wrap(text: &str, size: f64, width: f64, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size) <= width || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            while !last.is_empty() && text_width(&format!("{last}…"), size) > width {
                last.pop();
            }
            last.push('…');
        }
    }
    lines
}

/// The card as an SVG document (text as outlines).
pub fn card_svg(card: &Card) -> String {
    let (w, h) = (f64::from(CARD_SIZE.0), f64::from(CARD_SIZE.1));
    let left = 80.0;
    let width = w - 2.0 * left;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-labelledby=\"card-t\"><title id=\"card-t\">{}</title>",
        num(w),
        num(h),
        num(w),
        num(h),
        escape(&format!("{}: {} {}", card.title, card.figure, card.caption))
    );
    let _ = write!(
        svg,
        "<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(w),
        num(h)
    );
    let _ = write!(
        svg,
        "<rect width=\"{}\" height=\"16\" fill=\"{}\"/><rect y=\"{}\" width=\"{}\" height=\"16\" fill=\"{}\"/>",
        num(w),
        palette::BLUE.hex(),
        num(h - 16.0),
        num(w),
        palette::ORANGE.hex()
    );
    let mut text = |s: &str, x: f64, y: f64, size: f64, colour: Rgb| {
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"{}\"/>",
            text_path(s, x, y, size),
            colour.hex()
        );
    };
    text(&card.site, left, 96.0, 34.0, palette::BLUE);
    let mut y = 176.0;
    let title_size = 52.0;
    for line in wrap(&card.title, title_size, width, 2) {
        text(&line, left, y, title_size, palette::INK);
        y += title_size * 1.2;
    }
    // The figure as large as fits, up to 150 pixels.
    let mut figure_size: f64 = 150.0;
    while figure_size > 60.0 && text_width(&card.figure, figure_size) > width {
        figure_size -= 10.0;
    }
    let figure_y = (y + figure_size * 0.95).max(400.0);
    text(&card.figure, left, figure_y, figure_size, palette::BLUE);
    let mut y = figure_y + 62.0;
    for line in wrap(&card.caption, 38.0, width, 2) {
        text(&line, left, y, 38.0, palette::MUTED);
        y += 46.0;
    }
    let footer_size = 24.0;
    let footer = wrap(&card.footer, footer_size, width, 1);
    if let Some(f) = footer.first() {
        text(f, left, h - 44.0, footer_size, palette::MUTED);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The card as a 1200×630 PNG.
pub fn card_png(card: &Card) -> Result<Vec<u8>, CardError> {
    let err = |message: String| CardError {
        title: card.title.clone(),
        message,
    };
    if face().is_none() {
        return Err(err("the built-in font could not be read".into()));
    }
    let svg = card_svg(card);
    let tree = usvg::Tree::from_str(&svg, &usvg::Options::default())
        .map_err(|e| err(format!("the card's SVG did not parse: {e}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(CARD_SIZE.0, CARD_SIZE.1)
        .ok_or_else(|| err("could not allocate the image".into()))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    // Cards are opaque: written as RGB with fast compression they encode in a fraction of the
    // time tiny-skia's RGBA encoder at default compression took (the largest cost of a build).
    // One pass that drops the alpha byte and checks it (an iterator chain of `any` then
    // `flat_map` took a sixth of a card's time).
    let pixels = pixmap.data();
    let mut rgb = vec![0u8; pixels.len() / 4 * 3];
    let mut opaque = true;
    for (to, from) in rgb.chunks_exact_mut(3).zip(pixels.chunks_exact(4)) {
        to.copy_from_slice(&from[..3]);
        opaque &= from[3] == 255;
    }
    if !opaque {
        return pixmap
            .encode_png()
            .map_err(|e| err(format!("PNG encoding failed: {e}")));
    }
    let mut png_bytes = Vec::with_capacity(64 * 1024);
    let mut encoder = png::Encoder::new(&mut png_bytes, CARD_SIZE.0, CARD_SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| err(format!("PNG encoding failed: {e}")))?;
    writer
        .write_image_data(&rgb)
        .and_then(|()| writer.finish())
        .map_err(|e| err(format!("PNG encoding failed: {e}")))?;
    Ok(png_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Card {
        Card {
            site: "Chicago Works For You".into(),
            title: "Ward 3, week of Dec 28, 2020".into(),
            figure: "1,234".into(),
            caption: "requests opened; 1,100 closed, in 2.3 days on average".into(),
            footer: "Source: City of Chicago 311 via Open311, data through 2021-01-01, cwfy".into(),
        }
    }

    #[test]
    fn text_is_drawn_from_the_shipped_font() {
        assert!(face().is_some());
        let w = text_width("Ward 3", 50.0);
        assert!(w > 100.0 && w < 250.0, "{w}");
        let d = text_path("A", 0.0, 100.0, 50.0);
        assert!(d.starts_with('M') && d.contains('Z'), "{d}");
        // A character the font lacks falls back to '?', never a box.
        assert_eq!(
            text_path("\u{10FFFD}", 0.0, 0.0, 10.0),
            text_path("?", 0.0, 0.0, 10.0)
        );
        let lines = wrap(
            "one two three four five six seven eight nine ten",
            50.0,
            300.0,
            2,
        );
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
    }

    #[test]
    fn the_card_is_a_1200_by_630_png() {
        let png = card_png(&sample()).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((w, h), (1200, 630));
        let svg = card_svg(&sample());
        assert!(roxmltree::Document::parse(&svg).is_ok());
        assert!(!svg.contains("<text"), "card text must be outlines");
    }
}

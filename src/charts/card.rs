//! Social cards: the 1200×630 PNG a page names as its `og:image`, with the page's headline
//! figure.
//!
//! The card is drawn with tiny-skia. Its text is drawn from the font shipped in `assets/fonts/`
//! (DejaVu Sans Bold, compiled in): each glyph's outline is filled as a path, so the card needs
//! no system fonts and no text-shaping stack, and looks the same on every machine that builds
//! the site.

use std::sync::OnceLock;

use tiny_skia::{Color, FillRule, Paint, Path, PathBuilder, Pixmap, Rect, Transform};
use ttf_parser::{Face, GlyphId, OutlineBuilder};

use super::palette::{self, Rgb};

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

/// Adds glyph outlines to a path, placed and scaled (font units are y-up, pixels y-down).
struct PathSink<'a> {
    path: &'a mut PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl PathSink<'_> {
    fn pt(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl OutlineBuilder for PathSink<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (a, b) = self.pt(x, y);
        self.path.move_to(a, b);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (a, b) = self.pt(x, y);
        self.path.line_to(a, b);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (a, b) = self.pt(x1, y1);
        let (c, d) = self.pt(x, y);
        self.path.quad_to(a, b, c, d);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (a, b) = self.pt(x1, y1);
        let (c, d) = self.pt(x2, y2);
        let (e, f) = self.pt(x, y);
        self.path.cubic_to(a, b, c, d, e, f);
    }
    fn close(&mut self) {
        self.path.close();
    }
}

/// The glyph for a character, or for `?` when the font lacks it (never a missing-glyph box).
fn glyph(face: &Face, c: char) -> GlyphId {
    face.glyph_index(c)
        .or_else(|| face.glyph_index('?'))
        .unwrap_or(GlyphId(0))
}

/// Width of `text` at `size` pixels.
pub fn text_width(text: &str, size: f32) -> f32 {
    let Some(face) = face() else { return 0.0 };
    let scale = size / f32::from(face.units_per_em());
    text.chars()
        .map(|c| f32::from(face.glyph_hor_advance(glyph(face, c)).unwrap_or(0)) * scale)
        .sum()
}

/// The outline of `text` with its baseline starting at (`x`, `y`); `None` when it draws
/// nothing (only spaces, or the font could not be read).
pub fn text_path(text: &str, x: f32, y: f32, size: f32) -> Option<Path> {
    let face = face()?;
    let mut path = PathBuilder::new();
    let scale = size / f32::from(face.units_per_em());
    let mut pen = x;
    for c in text.chars() {
        let g = glyph(face, c);
        let mut sink = PathSink {
            path: &mut path,
            x: pen,
            y,
            scale,
        };
        face.outline_glyph(g, &mut sink);
        pen += f32::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale;
    }
    path.finish()
}

/// Splits `text` into lines no wider than `width` at `size`, at most `max_lines` (the last one
/// ends with an ellipsis when text was cut).
fn wrap(text: &str, size: f32, width: f32, max_lines: usize) -> Vec<String> {
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

/// The card as a 1200×630 PNG.
///
/// Drawn straight onto a tiny-skia pixmap: glyph outlines become paths as they are read, where
/// writing them into an SVG for resvg to parse back cost a third of a card's time.
pub fn card_png(card: &Card) -> Result<Vec<u8>, CardError> {
    let err = |message: String| CardError {
        title: card.title.clone(),
        message,
    };
    if face().is_none() {
        return Err(err("the built-in font could not be read".into()));
    }
    let (w, h) = (CARD_SIZE.0 as f32, CARD_SIZE.1 as f32);
    let mut pixmap = Pixmap::new(CARD_SIZE.0, CARD_SIZE.1)
        .ok_or_else(|| err("could not allocate the image".into()))?;
    pixmap.fill(Color::WHITE);
    let paint_of = |colour: Rgb| {
        let mut paint = Paint::default();
        paint.set_color_rgba8(colour.0, colour.1, colour.2, 255);
        paint
    };
    for (y, colour) in [(0.0, palette::BLUE), (h - 16.0, palette::ORANGE)] {
        if let Some(bar) = Rect::from_xywh(0.0, y, w, 16.0) {
            pixmap.fill_rect(bar, &paint_of(colour), Transform::identity(), None);
        }
    }
    let mut text = |s: &str, x: f32, y: f32, size: f32, colour: Rgb| {
        if let Some(path) = text_path(s, x, y, size) {
            pixmap.fill_path(
                &path,
                &paint_of(colour),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    };
    let left = 80.0;
    let width = w - 2.0 * left;
    text(&card.site, left, 96.0, 34.0, palette::BLUE);
    let mut y = 176.0;
    let title_size = 52.0;
    for line in wrap(&card.title, title_size, width, 2) {
        text(&line, left, y, title_size, palette::INK);
        y += title_size * 1.2;
    }
    // The figure as large as fits, up to 150 pixels.
    let mut figure_size = 150.0;
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
    if let Some(f) = wrap(&card.footer, footer_size, width, 1).first() {
        text(f, left, h - 44.0, footer_size, palette::MUTED);
    }
    // Every pixel is opaque (a white ground under opaque paint), so the alpha byte is dropped
    // and the premultiplied colours are the colours.
    // One plain loop: an iterator chain with `flat_map` took a sixth of a card's time.
    let pixels = pixmap.data();
    let mut rgb = vec![0u8; pixels.len() / 4 * 3];
    for (to, from) in rgb.chunks_exact_mut(3).zip(pixels.chunks_exact(4)) {
        to.copy_from_slice(&from[..3]);
    }
    encode_png(&rgb, CARD_SIZE.0, CARD_SIZE.1).map_err(|e| err(format!("PNG encoding failed: {e}")))
}

/// Encodes opaque RGB pixels as a PNG. A card has few colours (five paints and their
/// anti-aliased edges on white: 75 on a day card), so it is written losslessly as an indexed
/// image, a byte a pixel with a palette: 24 KB where the RGB file took 77 KB (issue 21: a card
/// for every day of ten years). More than 256 colours are written as RGB.
///
/// The indices are deflated at level 4 without PNG's row filters, which do not help palette
/// indices: the test card is 23.6 KB in 4.3 ms, palette included, where the png crate's
/// `Balanced` preset (level 6 after adaptive filters) takes 27.3 KB and 6.0 ms besides the
/// palette's 1.5 ms, and `Fast` 32.2 KB (`cargo test --release --lib card_encodings --
/// --ignored --nocapture`). Encoding cards was a sixth of a full build's CPU at 10 M requests.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut png_bytes = Vec::with_capacity(32 * 1024);
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_depth(png::BitDepth::Eight);
    match palette_indices(rgb) {
        Some((palette, indices)) => {
            encoder.set_deflate_compression(png::DeflateCompression::Level(4));
            encoder.set_filter(png::Filter::NoFilter);
            encoder.set_color(png::ColorType::Indexed);
            encoder.set_palette(palette);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&indices)?;
            writer.finish()?;
        }
        None => {
            encoder.set_compression(png::Compression::Balanced);
            encoder.set_color(png::ColorType::Rgb);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(rgb)?;
            writer.finish()?;
        }
    }
    Ok(png_bytes)
}

/// The pixels' colours as a PNG palette (RGB triples) and each pixel's index into it; `None`
/// when there are more than 256 colours.
fn palette_indices(rgb: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut palette: Vec<u8> = Vec::new();
    let mut index_of: std::collections::HashMap<[u8; 3], u8> = Default::default();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    // Most pixels repeat the one before (the ground, the bars): no lookup for those.
    let mut last: Option<([u8; 3], u8)> = None;
    for px in rgb.chunks_exact(3) {
        let colour = [px[0], px[1], px[2]];
        let index = match last {
            Some((c, i)) if c == colour => i,
            _ => match index_of.get(&colour) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(index_of.len()).ok()?;
                    index_of.insert(colour, i);
                    palette.extend_from_slice(&colour);
                    i
                }
            },
        };
        last = Some((colour, index));
        indices.push(index);
    }
    Some((palette, indices))
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
        // "A" at 50 px on a baseline at y = 100 stands on it, about as tall as the size.
        let a = text_path("A", 0.0, 100.0, 50.0).unwrap().bounds();
        assert!(
            a.bottom() <= 100.5 && a.top() > 50.0 && a.top() < 70.0,
            "{a:?}"
        );
        assert!(
            text_path("   ", 0.0, 0.0, 10.0).is_none(),
            "spaces draw nothing"
        );
        // A character the font lacks falls back to '?', never a box.
        assert!(text_path("\u{10FFFD}", 0.0, 0.0, 10.0) == text_path("?", 0.0, 0.0, 10.0));
        let lines = wrap(
            "one two three four five six seven eight nine ten",
            50.0,
            300.0,
            2,
        );
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
    }

    /// The decoded card's RGB pixels (a palette expanded).
    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    #[test]
    fn the_card_is_a_1200_by_630_png_with_its_text_drawn() {
        let (info, pixels) = decode(&card_png(&sample()).unwrap());
        assert_eq!((info.width, info.height), (1200, 630));
        // Written as an indexed image, expanded to RGB by the decoder.
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let at = |x: usize, y: usize| &pixels[(y * 1200 + x) * 3..(y * 1200 + x) * 3 + 3];
        let blue = palette::BLUE;
        assert_eq!(at(600, 5), [blue.0, blue.1, blue.2], "the top bar");
        assert_eq!(at(1150, 300), [255, 255, 255], "the white ground");
        // The title's line (baseline 176, 52 px) holds ink, and only a share of it.
        let inked = (130..176)
            .flat_map(|y| (80..1120).map(move |x| (x, y)))
            .filter(|(x, y)| at(*x, *y) != [255, 255, 255])
            .count();
        let area = 46 * 1040;
        assert!(inked > area / 20 && inked < area / 2, "{inked} of {area}");
        // A longer title draws more ink than a shorter one: the text comes from the card.
        let short = Card {
            title: "W".into(),
            ..sample()
        };
        let (_, short_pixels) = decode(&card_png(&short).unwrap());
        let short_inked = (130..176)
            .flat_map(|y| (80..1120).map(move |x| (x, y)))
            .filter(|(x, y)| {
                let i = (y * 1200 + x) * 3;
                short_pixels[i..i + 3] != [255, 255, 255]
            })
            .count();
        assert!(short_inked * 5 < inked, "{short_inked} vs {inked}");
    }

    #[test]
    fn few_colours_are_written_as_a_palette_and_many_as_rgb_both_losslessly() {
        let decode_bytes = |bytes: &[u8]| decode(bytes).1;
        // Two colours: indexed, and the same pixels back.
        let two: Vec<u8> = (0..64 * 8)
            .flat_map(|i| {
                if i % 3 == 0 {
                    [255, 255, 255]
                } else {
                    [11, 79, 108]
                }
            })
            .collect();
        let colour_type = |bytes: &[u8]| {
            (png::Decoder::new(std::io::Cursor::new(bytes)).read_info())
                .unwrap()
                .info()
                .color_type
        };
        let png_bytes = encode_png(&two, 64, 8).unwrap();
        assert_eq!(colour_type(&png_bytes), png::ColorType::Indexed);
        assert_eq!(decode_bytes(&png_bytes), two);
        // 300 colours: RGB, the same pixels back.
        let many: Vec<u8> = (0..300u32)
            .flat_map(|i| [(i % 256) as u8, (i / 256) as u8, 7])
            .collect();
        let png_bytes = encode_png(&many, 300, 1).unwrap();
        assert_eq!(colour_type(&png_bytes), png::ColorType::Rgb);
        assert_eq!(decode_bytes(&png_bytes), many);
    }

    /// How the card's encoding compares with the png crate's presets, on a real card: the
    /// chosen one is smaller than `Balanced` and than `Fast`, and gives the same pixels. Run with
    /// `--release --ignored --nocapture` for the times quoted at [`encode_png`]; ignored because
    /// a debug build's times say nothing.
    #[test]
    #[ignore]
    fn card_encodings() {
        let rounds = 20;
        let started = std::time::Instant::now();
        let mut chosen = Vec::new();
        for _ in 0..rounds {
            chosen = card_png(&sample()).unwrap();
        }
        eprintln!("card_png: {:?} a card", started.elapsed() / rounds);
        let rgb = decode(&chosen).1;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            chosen = encode_png(&rgb, CARD_SIZE.0, CARD_SIZE.1).unwrap();
        }
        eprintln!(
            "chosen: {} bytes, {:?}",
            chosen.len(),
            started.elapsed() / rounds
        );
        let (palette, indices) = palette_indices(&rgb).unwrap();
        let mut sizes = Vec::new();
        for (name, preset) in [
            ("Balanced", png::Compression::Balanced),
            ("Fast", png::Compression::Fast),
            ("High", png::Compression::High),
        ] {
            let started = std::time::Instant::now();
            let mut bytes = Vec::new();
            for _ in 0..rounds {
                bytes.clear();
                let mut encoder = png::Encoder::new(&mut bytes, CARD_SIZE.0, CARD_SIZE.1);
                encoder.set_compression(preset);
                encoder.set_color(png::ColorType::Indexed);
                encoder.set_palette(palette.clone());
                let mut writer = encoder.write_header().unwrap();
                writer.write_image_data(&indices).unwrap();
                writer.finish().unwrap();
            }
            eprintln!(
                "{name}: {} bytes, {:?}",
                bytes.len(),
                started.elapsed() / rounds
            );
            assert_eq!(decode(&bytes).1, rgb);
            sizes.push((name, bytes.len()));
        }
        for (name, size) in &sizes[..2] {
            assert!(
                chosen.len() < *size,
                "{} bytes, {name} {size}",
                chosen.len()
            );
        }
    }
}

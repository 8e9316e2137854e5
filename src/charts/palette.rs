//! The chart colours, chosen for contrast (WCAG 2.1, 1.4.11 non-text contrast: 3:1).
//!
//! Every colour that marks data has at least 3:1 contrast against the white background.
//! Categorical series (the seven weekdays of a stacked bar) have a colour each, every pair at
//! least [`MIN_CATEGORY_DIFFERENCE`] apart in CIELAB, and segments are separated by a white
//! hairline, so each segment meets the background at 3:1. Meaning never rests on colour alone: charts also differ in shape (solid vs
//! outlined bars, lines vs bars, tick marks), carry direct labels, and have a table beside them.
//! The tests below check every pair that needs it.

/// An sRGB channel as linear light (0 to 1).
fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (WCAG 2.1 definition).
    pub fn luminance(self) -> f64 {
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// Contrast ratio between two colours (1 to 21).
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// The colour as plotters wants it.
    pub fn plot(self) -> plotters::style::RGBColor {
        plotters::style::RGBColor(self.0, self.1, self.2)
    }
}

/// The page background.
pub const WHITE: Rgb = Rgb(255, 255, 255);
/// Text and the baseline tick.
pub const INK: Rgb = Rgb(26, 26, 26);
/// Axis labels and secondary text.
pub const MUTED: Rgb = Rgb(84, 84, 84);
/// Grid lines (decoration only: they carry no data).
pub const GRID: Rgb = Rgb(224, 224, 224);
/// Opened requests, and the main series of a chart.
pub const BLUE: Rgb = Rgb(29, 91, 148);
/// Closed requests (drawn as outlined bars or a line with markers, never only by colour).
pub const ORANGE: Rgb = Rgb(176, 74, 10);
/// The light fill inside an outlined bar (the outline carries the contrast).
pub const ORANGE_TINT: Rgb = Rgb(252, 228, 210);
/// Bars that are not highlighted in a ranking.
pub const SLATE: Rgb = Rgb(98, 122, 150);
/// The highlighted bar in a ranking (also labelled in bold and named in the legend).
pub const HIGHLIGHT: Rgb = ORANGE;
/// The city's line beside a ward's (also dashed).
pub const CITY: Rgb = Rgb(90, 90, 90);

/// Weekday segments, Monday to Sunday: seven different hues (blue, rust, green, purple, teal,
/// crimson, brown), each dark enough for 3:1 on white, no two closer than
/// [`MIN_CATEGORY_DIFFERENCE`]. (An earlier palette alternated two blues, so the legend could not
/// tell Monday from Wednesday.)
pub const WEEKDAYS: [Rgb; 7] = [
    Rgb(29, 91, 148),
    Rgb(176, 74, 10),
    Rgb(46, 125, 50),
    Rgb(142, 36, 170),
    Rgb(0, 121, 107),
    Rgb(194, 24, 91),
    Rgb(93, 64, 55),
];

/// The least colour difference (CIE76 ΔE*ab) between two categories of one chart: 2.3 is
/// just noticeable side by side; 30 keeps two swatches apart in a legend at a glance.
pub const MIN_CATEGORY_DIFFERENCE: f64 = 30.0;

impl Rgb {
    /// The colour in CIELAB (D65), for colour differences.
    pub fn lab(self) -> (f64, f64, f64) {
        let (r, g, b) = (linear(self.0), linear(self.1), linear(self.2));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 216.0 / 24389.0 {
                t.cbrt()
            } else {
                (24389.0 / 27.0 * t + 16.0) / 116.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
    }

    /// CIE76 colour difference ΔE*ab to `other`.
    pub fn difference(self, other: Rgb) -> f64 {
        let (a, b) = (self.lab(), other.lab());
        ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2) + (a.2 - b.2).powi(2)).sqrt()
    }
}

/// Choropleth classes, lightest (zero) to darkest. The zero class is near white and is told
/// apart by its label and hatching, not by colour.
pub const SEQUENTIAL: [Rgb; 6] = [
    Rgb(242, 242, 242),
    Rgb(208, 225, 242),
    Rgb(148, 192, 224),
    Rgb(58, 120, 181),
    Rgb(29, 91, 148),
    Rgb(11, 47, 85),
];

/// The colour of text drawn on `fill`: ink on light fills, white on dark ones, whichever
/// contrasts more (at least 4.5:1 for every fill above).
pub fn text_on(fill: Rgb) -> Rgb {
    if fill.contrast(INK) >= fill.contrast(WHITE) {
        INK
    } else {
        WHITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_colours_stand_out_from_the_background() {
        for (name, c) in [
            ("ink", INK),
            ("muted", MUTED),
            ("blue", BLUE),
            ("orange", ORANGE),
            ("slate", SLATE),
            ("city", CITY),
        ] {
            assert!(c.contrast(WHITE) >= 3.0, "{name}: {}", c.contrast(WHITE));
        }
        for (i, c) in WEEKDAYS.iter().enumerate() {
            assert!(
                c.contrast(WHITE) >= 3.0,
                "weekday {i}: {}",
                c.contrast(WHITE)
            );
        }
        // Text colours pass the 4.5:1 text rule.
        assert!(INK.contrast(WHITE) >= 4.5);
        assert!(MUTED.contrast(WHITE) >= 4.5);
    }

    /// Issue 22: Monday, Wednesday and Friday were one colour, Tuesday and Thursday another.
    #[test]
    fn every_two_weekdays_have_distinguishable_colours() {
        assert!((WHITE.difference(Rgb(0, 0, 0)) - 100.0).abs() < 0.1);
        for (i, a) in WEEKDAYS.iter().enumerate() {
            for (j, b) in WEEKDAYS.iter().enumerate().skip(i + 1) {
                assert!(
                    a.difference(*b) >= MIN_CATEGORY_DIFFERENCE,
                    "weekday {i} {} and weekday {j} {}: ΔE {:.1}",
                    a.hex(),
                    b.hex(),
                    a.difference(*b)
                );
            }
        }
    }

    #[test]
    fn highlight_differs_from_the_other_bars_and_labels_read_on_every_class() {
        // The highlight is also bold-labelled, but the colours differ visibly as well.
        assert!(HIGHLIGHT.contrast(SLATE) >= 1.2);
        for c in SEQUENTIAL {
            assert!(
                text_on(c).contrast(c) >= 4.5,
                "label on {}: {:.2}",
                c.hex(),
                text_on(c).contrast(c)
            );
        }
        assert_eq!(Rgb(29, 91, 148).hex(), "#1d5b94");
    }
}

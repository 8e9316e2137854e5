//! The chart colours, chosen for contrast (WCAG 2.1, 1.4.11 non-text contrast: 3:1).
//!
//! Every colour that marks data has at least 3:1 contrast against the white background; colours
//! drawn next to each other without a white gap (weekday segments of one bar) have 3:1 against
//! each other too. Meaning never rests on colour alone: charts also differ in shape (solid vs
//! outlined bars, lines vs bars, tick marks), carry direct labels, and have a table beside them.
//! The tests below check every pair that needs it.

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
        fn channel(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
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

/// Weekday segments, Monday to Sunday: weekdays in blues, the weekend in oranges, alternating
/// dark and mid tones so neighbours differ by 3:1 even without the white gap between them.
pub const WEEKDAYS: [Rgb; 7] = [
    Rgb(18, 48, 79),
    Rgb(74, 134, 197),
    Rgb(18, 48, 79),
    Rgb(74, 134, 197),
    Rgb(18, 48, 79),
    Rgb(214, 107, 28),
    Rgb(94, 38, 4),
];

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

    #[test]
    fn adjacent_weekday_segments_differ() {
        for pair in WEEKDAYS.windows(2) {
            assert!(
                pair[0].contrast(pair[1]) >= 3.0,
                "{} next to {}: {:.2}",
                pair[0].hex(),
                pair[1].hex(),
                pair[0].contrast(pair[1])
            );
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

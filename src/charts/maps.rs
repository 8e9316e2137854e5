//! Ward maps as hand-written SVG: a choropleth of counts (the day page's map and the citywide
//! map on `/ward/`) and a ward's own outline among its neighbours.
//!
//! Every ward is a link to its page with a `<title>` ("Ward 12: 34 requests"). Colour classes
//! are also labelled on the map (the count or the ward number) and listed in a legend; the zero
//! class is hatched, so no reading depends on colour alone. Paths use relative integer moves on
//! the simplified grid ([`super::geo`]), which keeps a whole-city map near 30 KB.

use std::fmt::Write as _;

use super::geo::{Boundaries, GridPt, Level, MAP_WIDTH, Polygon};
use super::palette::{self, Rgb, text_on};
use super::{Cell, Chart, Column, DataTable, escape, num, svg_open_box, thousands};
use crate::domain::WardNo;

/// One ward on a choropleth.
#[derive(Debug, Clone, PartialEq)]
pub struct MapWard {
    /// The ward.
    pub ward: WardNo,
    /// The count it is shaded by.
    pub value: u64,
    /// Link to the ward's page (relative to the page showing the map).
    pub href: String,
    /// Extra words for its tooltip after "Ward N", such as the alderman's name.
    pub note: Option<String>,
}

/// What each ward's label on a choropleth shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapLabels {
    /// The count (the day's map).
    Count,
    /// The ward number (the citywide ward map).
    Ward,
}

/// A class of values on a choropleth: `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// Smallest value in the class.
    pub lo: u64,
    /// Largest value in the class.
    pub hi: u64,
}

impl Class {
    /// `0`, `3`, `4–10`.
    pub fn label(&self) -> String {
        if self.lo == self.hi {
            thousands(self.lo)
        } else {
            format!("{}–{}", thousands(self.lo), thousands(self.hi))
        }
    }
}

/// Class breaks that read well for small and large counts: zero is its own class (when any
/// ward has zero), then up to four classes of the non-zero values split near their quartiles
/// and rounded to round numbers (`1`, `2–3`, `4–10`, `11–40`, or `1–50`, `51–200`, `201–1,500`).
pub fn class_breaks(values: &[u64]) -> Vec<Class> {
    let mut classes = Vec::new();
    if values.contains(&0) {
        classes.push(Class { lo: 0, hi: 0 });
    }
    let mut nonzero: Vec<u64> = values.iter().copied().filter(|v| *v > 0).collect();
    nonzero.sort_unstable();
    let Some(&max) = nonzero.last() else {
        return classes;
    };
    let mut distinct = nonzero.clone();
    distinct.dedup();
    let k = distinct.len().min(4);
    // Few distinct values: split the distinct values evenly. Many: split the values at their
    // quantiles, so classes follow where the wards are.
    let pool = if distinct.len() <= 8 {
        &distinct
    } else {
        &nonzero
    };
    let mut uppers: Vec<u64> = Vec::new();
    for j in 1..k {
        let q = pool[(pool.len() * j / k).saturating_sub(1).min(pool.len() - 1)];
        let u = round_nice(q).min(max.saturating_sub(1)).max(1);
        if uppers.last().is_none_or(|l| u > *l) && u < max {
            uppers.push(u);
        }
    }
    uppers.push(max);
    let mut lo = 1;
    for hi in uppers {
        classes.push(Class { lo, hi });
        lo = hi + 1;
    }
    classes
}

/// Rounds up to 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × a power of ten above 10; small counts stay.
fn round_nice(v: u64) -> u64 {
    if v <= 10 {
        return v;
    }
    let mag = 10u64.pow((v as f64).log10().floor() as u32);
    let f = v as f64 / mag as f64;
    let nice = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|n| *n >= f - 1e-9)
        .unwrap_or(10.0);
    (nice * mag as f64).round() as u64
}

/// The fill of each class: the zero class is near white (and hatched); non-zero classes spread
/// over the sequential blues.
fn class_fills(classes: &[Class]) -> Vec<Rgb> {
    let nonzero = classes.iter().filter(|c| c.hi > 0).count();
    let picks: &[usize] = match nonzero {
        0 => &[],
        1 => &[3],
        2 => &[2, 4],
        3 => &[1, 3, 5],
        _ => &[1, 2, 3, 5],
    };
    let mut fills = Vec::new();
    let mut i = 0;
    for c in classes {
        if c.hi == 0 {
            fills.push(palette::SEQUENTIAL[0]);
        } else {
            fills.push(palette::SEQUENTIAL[picks[i.min(picks.len() - 1)]]);
            i += 1;
        }
    }
    fills
}

/// Writes a ward's rings as one path: absolute move, then relative integer lines.
fn path_data(polys: &[Polygon], origin: GridPt) -> String {
    let mut d = String::new();
    for ring in polys.iter().flatten() {
        let Some(first) = ring.first() else { continue };
        let _ = write!(d, "M{} {}", first.0 - origin.0, first.1 - origin.1);
        let mut prev = *first;
        d.push('l');
        let mut start = true;
        for p in &ring[1..] {
            let (dx, dy) = (p.0 - prev.0, p.1 - prev.1);
            if !start && dx >= 0 {
                d.push(' ');
            }
            let _ = write!(d, "{dx}");
            if dy >= 0 {
                d.push(' ');
            }
            let _ = write!(d, "{dy}");
            start = false;
            prev = *p;
        }
        d.push('z');
    }
    d
}

/// Space under the map for the legend, in map units.
const LEGEND_H: f64 = 120.0;

fn hatch_defs(id: &str, unit_px: f64) -> String {
    let s = 10.0 * unit_px;
    format!(
        "<defs><pattern id=\"{id}-zero\" width=\"{}\" height=\"{}\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"{}\" height=\"{}\" fill=\"{}\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"{}\" stroke=\"#8a8a8a\" stroke-width=\"{}\"/></pattern></defs>",
        num(s),
        num(s),
        num(s),
        num(s),
        palette::SEQUENTIAL[0].hex(),
        num(s),
        num(1.5 * unit_px)
    )
}

/// A choropleth of the wards: each shaded by its class, labelled, linked and titled. `subject`
/// says what is counted and when ("Potholes requests on Friday, January 1, 2021"), `unit` names
/// one ("request"), and `map_name` which boundaries these are ("2023").
pub fn choropleth(
    boundaries: &Boundaries,
    id: &str,
    subject: &str,
    unit: &str,
    map_name: &str,
    wards: &[MapWard],
    labels: MapLabels,
) -> Chart {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_w = &terms.many;
    let level = &boundaries.city;
    let values: Vec<u64> = wards.iter().map(|w| w.value).collect();
    let classes = class_breaks(&values);
    let fills = class_fills(&classes);
    let class_of = |v: u64| classes.iter().position(|c| v >= c.lo && v <= c.hi);
    let plural = |n: u64| {
        if n == 1 {
            unit.to_string()
        } else {
            format!("{unit}s")
        }
    };
    let title = format!("Map of {subject} by {ward_w}");
    let total: u64 = values.iter().sum();
    let desc = if total == 0 {
        format!("No {ward_w} had any {subject}.")
    } else {
        let top = wards
            .iter()
            .max_by(|a, b| a.value.cmp(&b.value).then(b.ward.cmp(&a.ward)));
        let tops = wards
            .iter()
            .filter(|w| Some(w.value) == top.map(|t| t.value))
            .count();
        let zero = wards.iter().filter(|w| w.value == 0).count();
        format!(
            "{ward_t} {} had the most {subject}: {}{}{}.",
            top.map(|t| t.ward).unwrap_or(0),
            thousands(top.map(|t| t.value).unwrap_or(0)),
            if tops > 1 {
                format!(
                    " (tied with {} other {ward_w}{})",
                    tops - 1,
                    if tops > 2 { "s" } else { "" }
                )
            } else {
                String::new()
            },
            if zero > 0 {
                format!("; {zero} of {} {wards_w} had none", wards.len())
            } else {
                String::new()
            }
        )
    };
    let height = boundaries.height;
    let pad = 10.0;
    let vb = (
        -pad,
        -pad,
        MAP_WIDTH + 2.0 * pad,
        height + LEGEND_H + 2.0 * pad,
    );
    let mut svg = svg_open_box(id, &title, &desc, vb).replacen("role=\"img\"", "role=\"group\"", 1);
    svg.push_str(&hatch_defs(id, 1.0));
    let _ = write!(
        svg,
        "<g stroke=\"#fff\" stroke-width=\"1.6\" stroke-linejoin=\"round\" fill-rule=\"evenodd\">"
    );
    for w in wards {
        let Some(polys) = level.wards.get(&w.ward) else {
            continue;
        };
        let c = class_of(w.value).unwrap_or(0);
        let fill = if classes.get(c).is_some_and(|c| c.hi == 0) {
            format!("url(#{id}-zero)")
        } else {
            fills
                .get(c)
                .copied()
                .unwrap_or(palette::SEQUENTIAL[0])
                .hex()
        };
        let tip = format!(
            "{ward_t} {}{}: {} {}",
            w.ward,
            w.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            thousands(w.value),
            plural(w.value)
        );
        let _ = write!(
            svg,
            "<a href=\"{}\"><title>{}</title><path d=\"{}\" fill=\"{fill}\"/></a>",
            escape(&w.href),
            escape(&tip),
            path_data(polys, (0, 0)),
        );
    }
    svg.push_str("</g>");
    // Labels: dark text on light classes, white on dark ones.
    let _ = write!(
        svg,
        "<g font-size=\"22\" text-anchor=\"middle\" pointer-events=\"none\" aria-hidden=\"true\">"
    );
    for w in wards {
        let Some(p) = boundaries.label_points.get(&w.ward) else {
            continue;
        };
        let c = class_of(w.value).unwrap_or(0);
        let colour = text_on(fills.get(c).copied().unwrap_or(palette::SEQUENTIAL[0]));
        let text = match labels {
            MapLabels::Count => thousands(w.value),
            MapLabels::Ward => w.ward.to_string(),
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" dy=\"0.35em\" fill=\"{}\">{}</text>",
            num(p.0),
            num(p.1),
            colour.hex(),
            text
        );
    }
    svg.push_str("</g>");
    // The legend under the map.
    let ly = height + 24.0;
    let _ = write!(
        svg,
        "<g font-size=\"24\" fill=\"{}\"><text x=\"0\" y=\"{}\">{}</text>",
        palette::INK.hex(),
        num(ly + 8.0),
        escape(&format!(
            "{} per {ward_w}{}",
            capitalise(&format!("{unit}s")),
            match labels {
                MapLabels::Count => " (numbers on the map)".to_string(),
                MapLabels::Ward => format!(" (the map shows {ward_w} numbers)"),
            }
        ))
    );
    let sw = (MAP_WIDTH / classes.len().max(1) as f64).min(190.0);
    for (i, (c, fill)) in classes.iter().zip(&fills).enumerate() {
        let x = i as f64 * sw;
        let paint = if c.hi == 0 {
            format!("url(#{id}-zero)")
        } else {
            fill.hex()
        };
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"34\" height=\"34\" fill=\"{paint}\" stroke=\"{}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\">{}</text>",
            num(x),
            num(ly + 28.0),
            palette::MUTED.hex(),
            num(x + 44.0),
            num(ly + 53.0),
            c.label()
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"20\" fill=\"{}\">{} {ward_w} boundaries</text></g></svg>",
        num(MAP_WIDTH),
        num(ly + 96.0),
        palette::MUTED.hex(),
        escape(map_name)
    );
    svg.push('\n');
    let table = DataTable {
        columns: vec![
            Column::new("ward", ward_t.as_str()),
            Column::new("count", capitalise(&format!("{unit}s"))),
        ],
        rows: wards
            .iter()
            .map(|w| vec![Cell::Int(u64::from(w.ward)), Cell::Int(w.value)])
            .collect(),
    };
    let lead = format!(
        "Map of the {wards_w} shaded by {subject}, in {} classes from {} to {}.",
        classes.len(),
        classes.first().map(Class::label).unwrap_or_default(),
        classes.last().map(Class::label).unwrap_or_default()
    );
    Chart::new(id, title, desc, &lead, svg, table)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A map of one ward's outline among its neighbours, zoomed to them, each neighbour labelled
/// and linked. `href` gives the link to a ward's page.
pub fn ward_locator(
    boundaries: &Boundaries,
    ward: WardNo,
    map_name: &str,
    href: impl Fn(WardNo) -> String,
) -> Chart {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_w = &terms.many;
    let id = &format!("{ward_w}-map");
    let level: &Level = &boundaries.detail;
    let neighbours: Vec<WardNo> = boundaries
        .neighbours
        .get(&ward)
        .cloned()
        .unwrap_or_default();
    let title = format!("Map of {ward_t} {ward} and the {wards_w} around it");
    let desc = match neighbours.len() {
        0 if !level.wards.contains_key(&ward) => {
            format!("{ward_t} {ward} is not on the {map_name} {ward_w} map.")
        }
        0 => format!("{ward_t} {ward} borders no other {ward_w} on the {map_name} map."),
        _ => format!(
            "{ward_t} {ward} borders {} on the {map_name} {ward_w} map.",
            list_wards(&neighbours)
        ),
    };
    // The view: the ward and its neighbours, padded, not too narrow or too flat.
    let mut bbox = level
        .bbox(ward)
        .unwrap_or((0.0, 0.0, MAP_WIDTH, boundaries.height));
    for n in &neighbours {
        if let Some(b) = level.bbox(*n) {
            bbox = (
                bbox.0.min(b.0),
                bbox.1.min(b.1),
                bbox.2.max(b.2),
                bbox.3.max(b.3),
            );
        }
    }
    let (mut w, mut h) = (bbox.2 - bbox.0, bbox.3 - bbox.1);
    let (cx, cy) = ((bbox.0 + bbox.2) / 2.0, (bbox.1 + bbox.3) / 2.0);
    w = w.max(h * 0.75) * 1.06;
    h = h.max(w * 0.75) * 1.06;
    let view = (cx - w / 2.0, cy - h / 2.0, w, h);
    // Paths are in grid units of the detail level.
    let g = level.unit;
    let vb = (view.0 / g, view.1 / g, view.2 / g, view.3 / g);
    let px = vb.2 / 480.0; // one pixel of a 480-pixel-wide drawing, in view units
    let mut svg = svg_open_box(id, &title, &desc, vb).replacen("role=\"img\"", "role=\"group\"", 1);
    let _ = write!(
        svg,
        "<g stroke=\"#fff\" stroke-width=\"{}\" stroke-linejoin=\"round\" fill-rule=\"evenodd\">",
        num(1.5 * px)
    );
    let visible: Vec<WardNo> = level
        .wards
        .keys()
        .copied()
        .filter(|w| {
            level.bbox(*w).is_some_and(|b| {
                b.2 >= view.0 && b.0 <= view.0 + view.2 && b.3 >= view.1 && b.1 <= view.1 + view.3
            })
        })
        .collect();
    // Others first, then neighbours, then the ward on top with a dark outline.
    let mut order: Vec<WardNo> = visible
        .iter()
        .copied()
        .filter(|v| *v != ward && !neighbours.contains(v))
        .collect();
    order.extend(neighbours.iter().copied().filter(|n| visible.contains(n)));
    if visible.contains(&ward) {
        order.push(ward);
    }
    for v in &order {
        let (fill, tip) = if *v == ward {
            (palette::HIGHLIGHT, format!("{ward_t} {v} (this {ward_w})"))
        } else if neighbours.contains(v) {
            (palette::SEQUENTIAL[1], format!("{ward_t} {v}, a neighbour"))
        } else {
            (palette::SEQUENTIAL[0], format!("{ward_t} {v}"))
        };
        let polys = &level.wards[v];
        let extra = if *v == ward {
            format!(
                " stroke=\"{}\" stroke-width=\"{}\"",
                palette::INK.hex(),
                num(2.5 * px)
            )
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            "<a href=\"{}\"><title>{}</title><path d=\"{}\" fill=\"{}\"{extra}/></a>",
            escape(&href(*v)),
            escape(&tip),
            path_data(polys, (0, 0)),
            fill.hex()
        );
    }
    svg.push_str("</g>");
    let _ = write!(
        svg,
        "<g font-size=\"{}\" text-anchor=\"middle\" pointer-events=\"none\" aria-hidden=\"true\">",
        num(15.0 * px)
    );
    for v in order
        .iter()
        .filter(|v| **v == ward || neighbours.contains(v))
    {
        let Some(p) = boundaries.label_points.get(v) else {
            continue;
        };
        let (x, y) = (p.0 / g, p.1 / g);
        if x < vb.0 || x > vb.0 + vb.2 || y < vb.1 || y > vb.1 + vb.3 {
            continue;
        }
        let own = *v == ward;
        let fill = if own {
            palette::HIGHLIGHT
        } else {
            palette::SEQUENTIAL[1]
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" dy=\"0.35em\" fill=\"{}\"{}>{}</text>",
            num(x),
            num(y),
            text_on(fill).hex(),
            if own { " font-weight=\"bold\"" } else { "" },
            if own {
                format!("{ward_t} {v}")
            } else {
                v.to_string()
            }
        );
    }
    svg.push_str("</g></svg>\n");
    let mut rows = vec![vec![
        Cell::Int(u64::from(ward)),
        Cell::Text(format!("This {ward_w}")),
    ]];
    rows.extend(
        neighbours
            .iter()
            .map(|n| vec![Cell::Int(u64::from(*n)), Cell::Text("Neighbour".into())]),
    );
    let table = DataTable {
        columns: vec![
            Column::new("ward", ward_t.as_str()),
            Column::new("relation", "On the map"),
        ],
        rows,
    };
    let lead = format!(
        "Map of {ward_t} {ward}, highlighted, with the neighbouring {wards_w} labelled by number."
    );
    Chart::new(id, title, desc, &lead, svg, table)
}

/// "wards 2, 4 and 11", "ward 3".
fn list_wards(wards: &[WardNo]) -> String {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let wards_t = &terms.many_title;
    let names: Vec<String> = wards.iter().map(|w| w.to_string()).collect();
    match names.len() {
        0 => String::new(),
        1 => format!("{ward_t} {}", names[0]),
        n => format!(
            "{wards_t} {} and {}",
            names[..n - 1].join(", "),
            names[n - 1]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(values: &[u64]) -> Vec<String> {
        class_breaks(values).iter().map(Class::label).collect()
    }

    #[test]
    fn classes_read_well_for_small_and_large_counts() {
        assert_eq!(labels(&[]), Vec::<String>::new());
        assert_eq!(labels(&[0, 0]), vec!["0"]);
        assert_eq!(labels(&[0, 1, 1, 1]), vec!["0", "1"]);
        assert_eq!(labels(&[0, 1, 2, 3]), vec!["0", "1", "2", "3"]);
        assert_eq!(labels(&[1, 1, 1, 2, 5]), vec!["1", "2", "3–5"]);
        let big: Vec<u64> = (0..50).map(|i| i * i * 3).collect();
        let l = labels(&big);
        assert_eq!(l.len(), 5);
        assert_eq!(l[0], "0");
        assert!(l.last().unwrap().ends_with("7,203"), "{l:?}");
        // Every value falls in exactly one class.
        let classes = class_breaks(&big);
        for v in &big {
            assert_eq!(
                classes.iter().filter(|c| *v >= c.lo && *v <= c.hi).count(),
                1,
                "{v}"
            );
        }
        assert_eq!(round_nice(37), 40);
        assert_eq!(round_nice(183), 200);
        assert_eq!(round_nice(7), 7);
    }

    #[test]
    fn paths_are_relative_and_closed() {
        let polys = vec![vec![vec![(10, 10), (20, 10), (20, 25), (10, 25)]]];
        assert_eq!(path_data(&polys, (0, 0)), "M10 10l10 0 0 15-10 0z");
        assert_eq!(list_wards(&[2, 4, 11]), "Wards 2, 4 and 11");
    }
}

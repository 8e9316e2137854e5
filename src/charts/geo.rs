//! Ward boundaries: read from GeoJSON, projected to map units, simplified so maps stay small.
//!
//! Projection: equirectangular with longitude scaled by cos(latitude) at the map's middle, which
//! is accurate to well under a pixel across one city. The map is 1,000 units wide, y grows south.
//!
//! Simplification keeps shared borders identical on both sides. Adjacent wards in the city's
//! files share their vertices, so after snapping every vertex to a grid, each border between two
//! junctions (points where three or more edges meet) is one chain of points that both wards hold,
//! possibly in opposite directions. Each chain is simplified with Douglas–Peucker in one
//! canonical direction, so both wards get exactly the same simplified border: no slivers or gaps
//! between neighbours.
//!
//! Files are loaded once per build through [`BoundaryCache`], which is shared by the threads that
//! render pages in parallel.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::domain::WardNo;
use crate::geo::DistrictShapes;
pub use crate::geo::GeoError;

/// A point in map units (x east, y south).
pub type Pt = (f64, f64);
/// A point snapped to a level's grid.
pub type GridPt = (i64, i64);
/// A ring of grid points (not repeating its first point).
pub type Ring = Vec<GridPt>;
/// A polygon: its outer ring, then its holes.
pub type Polygon = Vec<Ring>;

/// One loaded (or failed) file, shared by the threads waiting for it.
type CachedFile = Arc<OnceLock<Result<Arc<Boundaries>, GeoError>>>;

/// The width of every map in map units.
pub const MAP_WIDTH: f64 = 1000.0;

/// Boundaries simplified for one scale.
#[derive(Debug, Clone)]
pub struct Level {
    /// Map units per grid step.
    pub unit: f64,
    /// Each ward's polygons, in grid points.
    pub wards: BTreeMap<WardNo, Vec<Polygon>>,
}

impl Level {
    /// Grid points in this ward's rings, for size checks and tests.
    pub fn point_count(&self) -> usize {
        self.wards.values().flatten().flatten().map(Vec::len).sum()
    }

    /// Whether `p` (map units) is inside the ward as drawn at this level (even–odd rule, so
    /// holes are outside).
    pub fn contains(&self, ward: WardNo, p: Pt) -> bool {
        let q = (p.0 / self.unit, p.1 / self.unit);
        self.wards
            .get(&ward)
            .is_some_and(|polys| inside_rings(polys.iter().flatten(), q))
    }

    /// The ward drawn at `p`, if any.
    pub fn ward_at(&self, p: Pt) -> Option<WardNo> {
        self.wards.keys().copied().find(|w| self.contains(*w, p))
    }

    /// The bounding box of a ward in map units: `(min x, min y, max x, max y)`.
    pub fn bbox(&self, ward: WardNo) -> Option<(f64, f64, f64, f64)> {
        let polys = self.wards.get(&ward)?;
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in polys.iter().flatten().flatten() {
            let (x, y) = (p.0 as f64 * self.unit, p.1 as f64 * self.unit);
            b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
        }
        (b.0 <= b.2).then_some(b)
    }
}

/// Even–odd point-in-rings test in grid units.
fn inside_rings<'r>(rings: impl Iterator<Item = &'r Ring>, q: (f64, f64)) -> bool {
    let mut inside = false;
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            let a = ring[i];
            let b = ring[(i + 1) % n];
            let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
            if (ay > q.1) != (by > q.1) {
                let x = ax + (q.1 - ay) * (bx - ax) / (by - ay);
                if q.0 < x {
                    inside = !inside;
                }
            }
        }
    }
    inside
}

/// The projection from longitude/latitude to map units.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    min_lon: f64,
    max_lat: f64,
    kx: f64,
    scale: f64,
}

impl Projection {
    /// Map units of a longitude/latitude.
    pub fn project(&self, lon: f64, lat: f64) -> Pt {
        (
            (lon - self.min_lon) * self.kx * self.scale,
            (self.max_lat - lat) * self.scale,
        )
    }
}

/// One boundary file, ready to draw.
#[derive(Debug)]
pub struct Boundaries {
    /// The file it was read from.
    pub source: PathBuf,
    /// The projection used.
    pub projection: Projection,
    /// Height of the map in map units (the width is [`MAP_WIDTH`]).
    pub height: f64,
    /// For the whole city (about a pixel at 500 pixels wide).
    pub city: Level,
    /// For one ward and its neighbours (four times finer).
    pub detail: Level,
    /// Wards sharing a border with each ward, or within a few metres of it.
    pub neighbours: BTreeMap<WardNo, Vec<WardNo>>,
    /// A point well inside each ward for its label, in map units.
    pub label_points: BTreeMap<WardNo, Pt>,
    /// Features that were not wards (such as `OUT`) and were left out.
    pub ignored_features: usize,
}

/// City level: grid step and Douglas–Peucker tolerance in map units.
const CITY_GRID: f64 = 1.0;
const CITY_TOLERANCE: f64 = 1.2;
/// Detail level, for maps zoomed to a ward and its neighbours.
const DETAIL_GRID: f64 = 0.25;
const DETAIL_TOLERANCE: f64 = 0.35;
/// Wards closer than this (map units, about 50 m in Chicago) count as neighbours.
const NEIGHBOUR_DISTANCE: f64 = 2.0;

impl Boundaries {
    /// Reads and prepares a GeoJSON file of district polygons, numbered by `id_property` (or
    /// the usual property names when `None`).
    pub fn load(path: &Path, id_property: Option<&str>) -> Result<Boundaries, GeoError> {
        let mut b = Boundaries::from_shapes(DistrictShapes::read(path, id_property)?);
        b.source = path.to_path_buf();
        Ok(b)
    }

    /// Prepares boundaries from GeoJSON text. The error says what is wrong with the document.
    pub fn parse(text: &str, id_property: Option<&str>) -> Result<Boundaries, String> {
        DistrictShapes::parse(text, id_property).map(Boundaries::from_shapes)
    }

    /// Projects and prepares a document's districts for drawing.
    fn from_shapes(shapes: DistrictShapes) -> Boundaries {
        let DistrictShapes {
            districts: raw,
            ignored_features: ignored,
        } = shapes;
        let (mut min_lon, mut max_lon, mut min_lat, mut max_lat) =
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in raw.values().flatten().flatten().flatten() {
            min_lon = min_lon.min(p.0);
            max_lon = max_lon.max(p.0);
            min_lat = min_lat.min(p.1);
            max_lat = max_lat.max(p.1);
        }
        let kx = ((min_lat + max_lat) / 2.0).to_radians().cos();
        let span = ((max_lon - min_lon) * kx).max(1e-9);
        let projection = Projection {
            min_lon,
            max_lat,
            kx,
            scale: MAP_WIDTH / span,
        };
        let height = (max_lat - min_lat) * projection.scale;
        let projected: BTreeMap<WardNo, Vec<Vec<Vec<Pt>>>> = raw
            .into_iter()
            .map(|(w, polys)| {
                let polys = polys
                    .into_iter()
                    .map(|rings| {
                        rings
                            .into_iter()
                            .map(|r| {
                                r.into_iter()
                                    .map(|(x, y)| projection.project(x, y))
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                (w, polys)
            })
            .collect();
        let city = simplify(&projected, CITY_GRID, CITY_TOLERANCE);
        let detail = simplify(&projected, DETAIL_GRID, DETAIL_TOLERANCE);
        let neighbours = neighbours(&detail);
        let label_points = city
            .wards
            .iter()
            .filter_map(|(w, polys)| label_point(polys, city.unit).map(|p| (*w, p)))
            .collect();
        Boundaries {
            source: PathBuf::new(),
            projection,
            height,
            city,
            detail,
            neighbours,
            label_points,
            ignored_features: ignored,
        }
    }

    /// The wards on the map.
    pub fn wards(&self) -> impl Iterator<Item = WardNo> + '_ {
        self.city.wards.keys().copied()
    }
}

/// Snaps to a grid of `grid` map units and simplifies with `tolerance`, keeping shared borders
/// identical (see the module documentation).
fn simplify(wards: &BTreeMap<WardNo, Vec<Vec<Vec<Pt>>>>, grid: f64, tolerance: f64) -> Level {
    // Snap, dropping repeated points and rings that collapse.
    let snapped: BTreeMap<WardNo, Vec<Polygon>> = wards
        .iter()
        .map(|(w, polys)| {
            let polys = polys
                .iter()
                .filter_map(|rings| {
                    let rings: Vec<Ring> = rings
                        .iter()
                        .map(|r| snap_ring(r, grid))
                        .filter(|r| r.len() >= 3)
                        .collect();
                    // A polygon whose outer ring collapsed is dropped with its holes.
                    (!rings.is_empty()).then_some(rings)
                })
                .collect();
            (*w, polys)
        })
        .collect();
    // Junctions: points with other than two distinct neighbours over all rings.
    let mut adjacent: HashMap<GridPt, Vec<GridPt>> = HashMap::new();
    for ring in snapped.values().flatten().flatten() {
        let n = ring.len();
        for i in 0..n {
            let list = adjacent.entry(ring[i]).or_default();
            for q in [ring[(i + n - 1) % n], ring[(i + 1) % n]] {
                if !list.contains(&q) {
                    list.push(q);
                }
            }
        }
    }
    let is_junction = |p: &GridPt| adjacent.get(p).is_some_and(|l| l.len() != 2);
    let tol = tolerance / grid;
    let simplified = snapped
        .iter()
        .map(|(w, polys)| {
            let out: Vec<Polygon> = polys
                .iter()
                .filter_map(|rings| {
                    let rings: Vec<Ring> = rings
                        .iter()
                        .map(|r| simplify_ring(r, &is_junction, tol))
                        .filter(|r| r.len() >= 3)
                        .collect();
                    (!rings.is_empty()).then_some(rings)
                })
                .collect();
            // A ward too small to survive keeps its snapped shape.
            let out = if out.is_empty() { polys.clone() } else { out };
            (*w, out)
        })
        .collect();
    Level {
        unit: grid,
        wards: simplified,
    }
}

fn snap_ring(ring: &[Pt], grid: f64) -> Ring {
    let mut out: Ring = Vec::with_capacity(ring.len());
    for p in ring {
        let q = ((p.0 / grid).round() as i64, (p.1 / grid).round() as i64);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// Simplifies one ring chain by chain between junctions.
fn simplify_ring(ring: &Ring, is_junction: &impl Fn(&GridPt) -> bool, tol: f64) -> Ring {
    let n = ring.len();
    let mut fixed: Vec<usize> = (0..n).filter(|i| is_junction(&ring[*i])).collect();
    if fixed.is_empty() {
        // A ring that touches no other: start at its least point, the same for any copy of it.
        let start = (0..n).min_by_key(|i| ring[*i]).unwrap_or(0);
        fixed.push(start);
    }
    let mut out = Vec::with_capacity(n);
    for (k, &a) in fixed.iter().enumerate() {
        let b = fixed[(k + 1) % fixed.len()];
        // The chain from junction a to junction b (wrapping), both ends included.
        let len = if b > a { b - a } else { b + n - a };
        let chain: Vec<GridPt> = (0..=len).map(|j| ring[(a + j) % n]).collect();
        let kept = simplify_chain(&chain, tol);
        out.extend_from_slice(&kept[..kept.len() - 1]);
    }
    out
}

/// Douglas–Peucker on a chain, run in a canonical direction so the two wards that share a
/// border (and walk it in opposite directions) keep the same points.
fn simplify_chain(chain: &[GridPt], tol: f64) -> Vec<GridPt> {
    let m = chain.len();
    if m <= 2 {
        return chain.to_vec();
    }
    let reversed = chain[0] > chain[m - 1] || (chain[0] == chain[m - 1] && chain[1] > chain[m - 2]);
    let pts: Vec<GridPt> = if reversed {
        chain.iter().rev().copied().collect()
    } else {
        chain.to_vec()
    };
    let mut keep = vec![false; m];
    keep[0] = true;
    keep[m - 1] = true;
    let mut stack = vec![(0, m - 1)];
    let tol2 = tol * tol;
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (mut best, mut best_d) = (0, -1.0);
        for i in a + 1..b {
            let d = segment_distance2(pts[i], pts[a], pts[b]);
            if d > best_d {
                best = i;
                best_d = d;
            }
        }
        if best_d > tol2 {
            keep[best] = true;
            stack.push((a, best));
            stack.push((best, b));
        }
    }
    let mut out: Vec<GridPt> = pts
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect();
    if reversed {
        out.reverse();
    }
    out
}

/// Squared distance from `p` to the segment `a`–`b`.
fn segment_distance2(p: GridPt, a: GridPt, b: GridPt) -> f64 {
    let (px, py) = (p.0 as f64, p.1 as f64);
    let (ax, ay) = (a.0 as f64, a.1 as f64);
    let (bx, by) = (b.0 as f64, b.1 as f64);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (ax + t * dx, ay + t * dy);
    (px - cx) * (px - cx) + (py - cy) * (py - cy)
}

/// Wards that share a vertex or come within [`NEIGHBOUR_DISTANCE`] of each other.
fn neighbours(level: &Level) -> BTreeMap<WardNo, Vec<WardNo>> {
    let boxes: BTreeMap<WardNo, (f64, f64, f64, f64)> = level
        .wards
        .keys()
        .filter_map(|w| level.bbox(*w).map(|b| (*w, b)))
        .collect();
    let reach = NEIGHBOUR_DISTANCE;
    let reach_grid2 = (reach / level.unit) * (reach / level.unit);
    let mut out: BTreeMap<WardNo, Vec<WardNo>> =
        level.wards.keys().map(|w| (*w, Vec::new())).collect();
    let wards: Vec<WardNo> = boxes.keys().copied().collect();
    for (i, a) in wards.iter().enumerate() {
        for b in &wards[i + 1..] {
            let (ba, bb) = (boxes[a], boxes[b]);
            if ba.0 > bb.2 + reach
                || bb.0 > ba.2 + reach
                || ba.1 > bb.3 + reach
                || bb.1 > ba.3 + reach
            {
                continue;
            }
            let ra: Vec<&Ring> = level.wards[a].iter().flatten().collect();
            let rb: Vec<&Ring> = level.wards[b].iter().flatten().collect();
            let near = ra.iter().any(|r| {
                r.iter().any(|p| {
                    rb.iter().any(|s| {
                        let n = s.len();
                        (0..n).any(|k| segment_distance2(*p, s[k], s[(k + 1) % n]) <= reach_grid2)
                    })
                })
            });
            if near {
                out.entry(*a).or_default().push(*b);
                out.entry(*b).or_default().push(*a);
            }
        }
    }
    out
}

/// A point well inside the ward's largest polygon (far from its edges), for the label.
fn label_point(polys: &[Polygon], unit: f64) -> Option<Pt> {
    let largest = polys.iter().max_by(|a, b| {
        ring_area(&a[0])
            .partial_cmp(&ring_area(&b[0]))
            .unwrap_or(std::cmp::Ordering::Equal)
    })?;
    let outer = largest.first()?;
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for p in outer {
        x0 = x0.min(p.0);
        y0 = y0.min(p.1);
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let steps = 24;
    let mut best: Option<((f64, f64), f64)> = None;
    for i in 0..=steps {
        for j in 0..=steps {
            let q = (
                x0 as f64 + (x1 - x0) as f64 * (f64::from(i) + 0.5) / f64::from(steps + 1),
                y0 as f64 + (y1 - y0) as f64 * (f64::from(j) + 0.5) / f64::from(steps + 1),
            );
            if !inside_rings(largest.iter(), q) {
                continue;
            }
            let d = largest
                .iter()
                .flat_map(|r| {
                    let n = r.len();
                    (0..n).map(move |k| (r[k], r[(k + 1) % n]))
                })
                .map(|(a, b)| {
                    segment_distance2_f(
                        (q.0, q.1),
                        (a.0 as f64, a.1 as f64),
                        (b.0 as f64, b.1 as f64),
                    )
                })
                .fold(f64::MAX, f64::min);
            if best.is_none_or(|(_, bd)| d > bd) {
                best = Some((q, d));
            }
        }
    }
    best.map(|(q, _)| (q.0 * unit, q.1 * unit))
}

fn segment_distance2_f(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    (p.0 - cx).powi(2) + (p.1 - cy).powi(2)
}

fn ring_area(r: &Ring) -> f64 {
    let n = r.len();
    (0..n)
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % n]);
            (a.0 as f64) * (b.1 as f64) - (b.0 as f64) * (a.1 as f64)
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

/// Loaded boundary files, each read once however many threads ask for it.
#[derive(Default)]
pub struct BoundaryCache {
    files: Mutex<HashMap<(PathBuf, Option<String>), CachedFile>>,
}

impl BoundaryCache {
    /// An empty cache.
    pub fn new() -> BoundaryCache {
        BoundaryCache::default()
    }

    /// The process-wide cache (a build renders from one set of files).
    pub fn global() -> &'static BoundaryCache {
        static CACHE: OnceLock<BoundaryCache> = OnceLock::new();
        CACHE.get_or_init(BoundaryCache::new)
    }

    /// The boundaries in `path` numbered by `id_property`, loading them on first use. Other
    /// threads asking for the same file meanwhile wait for that one load.
    pub fn get(&self, path: &Path, id_property: Option<&str>) -> Result<Arc<Boundaries>, GeoError> {
        let cell = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            let key = (path.to_path_buf(), id_property.map(str::to_string));
            files.entry(key).or_default().clone()
        };
        cell.get_or_init(|| Boundaries::load(path, id_property).map(Arc::new))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, s: f64) -> String {
        format!(
            "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
            x + s,
            x + s,
            y + s,
            y + s
        )
    }

    #[test]
    fn reads_polygons_and_multipolygons_and_skips_non_wards() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","properties":{{"ward":"1"}},"geometry":{{"type":"Polygon","coordinates":{}}}}},
            {{"type":"Feature","properties":{{"District_N":"2"}},"geometry":{{"type":"MultiPolygon","coordinates":[{}]}}}},
            {{"type":"Feature","properties":{{"ward":"OUT"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}
            ]}}"#,
            square(-87.7, 41.8, 0.01),
            square(-87.69, 41.8, 0.01),
            square(-87.68, 41.8, 0.01)
        );
        let b = Boundaries::parse(&text, None).unwrap();
        assert_eq!(b.wards().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(b.ignored_features, 1);
        assert_eq!(b.neighbours[&1], vec![2]);
        let p = b.projection.project(-87.695, 41.805);
        assert!(b.city.contains(1, p));
        assert_eq!(b.city.ward_at(p), Some(1));
        assert_eq!(
            b.detail.ward_at(b.projection.project(-87.685, 41.805)),
            Some(2)
        );
        let lp = b.label_points[&2];
        assert!(b.city.contains(2, lp));
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        assert!(
            Boundaries::parse("{", None)
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            Boundaries::parse("{}", None)
                .unwrap_err()
                .contains("features")
        );
        let e = Boundaries::parse(r#"{"features":[{"properties":{"ward":"3"},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#, None).unwrap_err();
        assert!(
            e.contains("feature 1 (district 3)") && e.contains("Point"),
            "{e}"
        );
        let e =
            Boundaries::parse(r#"{"features":[{"properties":{"ward":"OUT"}}]}"#, None).unwrap_err();
        assert!(e.contains("has a district number"), "{e}");
        let missing = Boundaries::load(Path::new("/nonexistent/wards.geojson"), None).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/wards.geojson"));
    }

    #[test]
    fn shared_borders_simplify_identically_on_both_sides() {
        // Two wards sharing a wiggly border, walked in opposite directions.
        let wiggle: Vec<(f64, f64)> = (0..=40)
            .map(|i| {
                (
                    100.0 + (f64::from(i) * 0.7).sin() * 3.0,
                    f64::from(i) * 10.0,
                )
            })
            .collect();
        let mut left = vec![(0.0, 0.0)];
        left.extend(wiggle.iter().copied());
        left.push((0.0, 400.0));
        let mut right: Vec<(f64, f64)> = wiggle.iter().rev().copied().collect();
        right.push((200.0, 0.0));
        right.insert(0, (200.0, 400.0));
        let mut wards = BTreeMap::new();
        wards.insert(1, vec![vec![left]]);
        wards.insert(2, vec![vec![right]]);
        let level = simplify(&wards, 1.0, 2.5);
        let border = |w: WardNo| -> Vec<GridPt> {
            let mut pts: Vec<GridPt> = level.wards[&w][0][0]
                .iter()
                .filter(|p| p.0 > 90 && p.0 < 110)
                .copied()
                .collect();
            pts.sort();
            pts
        };
        assert_eq!(border(1), border(2));
        assert!(border(1).len() < 41, "simplified: {}", border(1).len());
    }

    #[test]
    fn the_cache_loads_a_file_once_and_is_shared_between_threads() {
        let cache = BoundaryCache::new();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/boundaries/wards-2023-simplified.geojson");
        let all: Vec<Arc<Boundaries>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| cache.get(&path, None).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(all.windows(2).all(|p| Arc::ptr_eq(&p[0], &p[1])));
        assert_eq!(all[0].wards().count(), 50);
    }
}

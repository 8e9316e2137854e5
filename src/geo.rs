//! District boundaries as the city publishes them: GeoJSON read into polygons of
//! longitude/latitude, and [`Locator`], which finds the district a point lies in.
//!
//! Two stages use them: the source stage places requests that have a location but no usable
//! district, and the charts stage draws maps (`charts::geo` projects and simplifies the same
//! polygons). Locating uses the file's full detail, never the simplified drawing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::domain::WardNo;

/// Rings of longitude/latitude pairs, the outer ring first: a polygon as GeoJSON gives it.
pub type LonLatPolygon = Vec<Vec<(f64, f64)>>;

/// Properties tried, in order, when a boundary map names no `id_property`.
pub const DEFAULT_ID_PROPERTIES: &[&str] = &[
    "ward",
    "District_N",
    "ward_id",
    "WARD",
    "DISTRICT",
    "district",
];

/// Reading a boundary file failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct GeoError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and what to do.
    pub message: String,
}

/// The districts of one GeoJSON document.
#[derive(Debug, Clone, Default)]
pub struct DistrictShapes {
    /// Each district's polygons.
    pub districts: BTreeMap<WardNo, Vec<LonLatPolygon>>,
    /// Features without a district number (such as `OUT`), left out.
    pub ignored_features: usize,
}

impl DistrictShapes {
    /// Reads a GeoJSON FeatureCollection whose features carry the district number in
    /// `id_property` (or one of [`DEFAULT_ID_PROPERTIES`]), as a number or a string of digits.
    /// The error says what is wrong with the document.
    pub fn parse(text: &str, id_property: Option<&str>) -> Result<DistrictShapes, String> {
        Self::parse_document(text, id_property)
    }

    /// Reads a boundary file (see [`DistrictShapes::parse`]); the error names the file.
    pub fn read(path: &Path, id_property: Option<&str>) -> Result<DistrictShapes, GeoError> {
        let err = |message: String| GeoError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(format!(
                "cannot read the boundary file ({e}); check boundaries: in the config"
            ))
        })?;
        Self::parse_document(&text, id_property).map_err(err)
    }

    fn parse_document(text: &str, id_property: Option<&str>) -> Result<DistrictShapes, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            format!("not valid JSON ({e}); it should be a GeoJSON FeatureCollection")
        })?;
        let features = doc
            .get("features")
            .and_then(Value::as_array)
            .ok_or("no \"features\" array; it should be a GeoJSON FeatureCollection")?;
        let mut shapes = DistrictShapes::default();
        for (i, f) in features.iter().enumerate() {
            let Some(district) = district_of(f, id_property) else {
                shapes.ignored_features += 1;
                continue;
            };
            let geometry = f.get("geometry").unwrap_or(&Value::Null);
            let polys = polygons_of(geometry)
                .map_err(|m| format!("feature {} (district {district}): {m}", i + 1))?;
            shapes.districts.entry(district).or_default().extend(polys);
        }
        if shapes.districts.is_empty() {
            let names = id_property.map_or_else(
                || DEFAULT_ID_PROPERTIES.join(", "),
                |p| format!("{p} (boundaries[].id_property)"),
            );
            return Err(format!(
                "none of its {} features has a district number in the property {names}; set id_property to the property that holds it",
                features.len()
            ));
        }
        Ok(shapes)
    }
}

/// The district number of a feature: a positive whole number in the property, or `None`.
fn district_of(feature: &Value, id_property: Option<&str>) -> Option<WardNo> {
    let props = feature.get("properties")?;
    let named: &[&str] = match id_property {
        Some(p) => &[p][..],
        None => DEFAULT_ID_PROPERTIES,
    };
    named
        .iter()
        .filter_map(|k| props.get(*k))
        .find_map(|v| match v {
            Value::Number(n) => n.as_u64().and_then(|n| WardNo::try_from(n).ok()),
            Value::String(s) => s.trim().parse::<WardNo>().ok(),
            _ => None,
        })
        .filter(|w| *w > 0)
}

/// Polygons (rings of lon/lat) of a Polygon or MultiPolygon geometry.
fn polygons_of(geometry: &Value) -> Result<Vec<LonLatPolygon>, String> {
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geometry
        .get("coordinates")
        .ok_or("geometry has no coordinates")?;
    let ring = |r: &Value| -> Result<Vec<(f64, f64)>, String> {
        r.as_array()
            .ok_or("a ring is not an array")?
            .iter()
            .map(|p| {
                let lon = p.get(0).and_then(Value::as_f64);
                let lat = p.get(1).and_then(Value::as_f64);
                match (lon, lat) {
                    (Some(lon), Some(lat)) if lon.is_finite() && lat.is_finite() => Ok((lon, lat)),
                    _ => Err(format!("bad position {p}")),
                }
            })
            .collect()
    };
    let polygon = |p: &Value| -> Result<LonLatPolygon, String> {
        p.as_array()
            .ok_or("a polygon is not an array of rings")?
            .iter()
            .map(ring)
            .collect()
    };
    match kind {
        "Polygon" => Ok(vec![polygon(coords)?]),
        "MultiPolygon" => coords
            .as_array()
            .ok_or("MultiPolygon coordinates are not an array")?
            .iter()
            .map(polygon)
            .collect(),
        other => Err(format!(
            "geometry type {other:?} is not supported; use Polygon or MultiPolygon"
        )),
    }
}

/// Horizontal bands each district's edges are sorted into: a point is tested only against the
/// edges crossing its band, a few dozen instead of thousands.
const BANDS: usize = 64;

/// Finds the district a point lies in, at the boundary file's full detail.
#[derive(Debug, Clone)]
pub struct Locator {
    districts: Vec<DistrictIndex>,
}

/// An edge between two (longitude, latitude) points.
type Edge = ((f64, f64), (f64, f64));

/// One district's edges, banded by latitude.
#[derive(Debug, Clone)]
struct DistrictIndex {
    district: WardNo,
    /// `(min lon, min lat, max lon, max lat)`.
    bbox: (f64, f64, f64, f64),
    /// Height of a band in degrees of latitude.
    band_height: f64,
    /// For each band, the edges whose latitude span meets it.
    bands: Vec<Vec<Edge>>,
}

impl Locator {
    /// Indexes every district of `shapes`.
    pub fn new(shapes: &DistrictShapes) -> Locator {
        let districts = shapes
            .districts
            .iter()
            .filter_map(|(&district, polys)| DistrictIndex::new(district, polys))
            .collect();
        Locator { districts }
    }

    /// The district whose polygons hold the point (even–odd rule, so holes are outside); the
    /// lowest number when a point lies on a shared border.
    pub fn district_at(&self, lon: f64, lat: f64) -> Option<WardNo> {
        self.districts
            .iter()
            .find(|d| d.contains(lon, lat))
            .map(|d| d.district)
    }
}

impl DistrictIndex {
    fn new(district: WardNo, polys: &[LonLatPolygon]) -> Option<DistrictIndex> {
        let mut bbox = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in polys.iter().flatten().flatten() {
            bbox = (bbox.0.min(x), bbox.1.min(y), bbox.2.max(x), bbox.3.max(y));
        }
        if bbox.0 > bbox.2 {
            return None;
        }
        let band_height = ((bbox.3 - bbox.1) / BANDS as f64).max(f64::MIN_POSITIVE);
        let mut bands = vec![Vec::new(); BANDS];
        for ring in polys.iter().flatten() {
            let n = ring.len();
            for i in 0..n {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                if a.1 == b.1 {
                    continue; // A horizontal edge never crosses a horizontal ray.
                }
                let lo = band_of(a.1.min(b.1), bbox.1, band_height);
                let hi = band_of(a.1.max(b.1), bbox.1, band_height);
                for band in &mut bands[lo..=hi] {
                    band.push((a, b));
                }
            }
        }
        Some(DistrictIndex {
            district,
            bbox,
            band_height,
            bands,
        })
    }

    fn contains(&self, lon: f64, lat: f64) -> bool {
        let (x0, y0, x1, y1) = self.bbox;
        if lon < x0 || lon > x1 || lat < y0 || lat > y1 {
            return false;
        }
        let mut inside = false;
        for &(a, b) in &self.bands[band_of(lat, y0, self.band_height)] {
            if (a.1 > lat) != (b.1 > lat) {
                let x = a.0 + (lat - a.1) * (b.0 - a.0) / (b.1 - a.1);
                if lon < x {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

fn band_of(lat: f64, min_lat: f64, height: f64) -> usize {
    (((lat - min_lat) / height) as usize).min(BANDS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(id: &str, x: f64, y: f64, s: f64) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"DISTRICT":{id}}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}"#,
            x + s,
            x + s,
            y + s,
            y + s
        )
    }

    #[test]
    fn a_point_is_in_the_district_around_it_and_holes_are_outside() {
        let hole = r#"{"type":"Feature","properties":{"DISTRICT":"3"},"geometry":{"type":"Polygon","coordinates":[[[10,10],[20,10],[20,20],[10,20],[10,10]],[[14,14],[16,14],[16,16],[14,16],[14,14]]]}}"#;
        let doc = format!(
            r#"{{"type":"FeatureCollection","features":[{},{},{hole},{}]}}"#,
            square("1", 0.0, 0.0, 1.0),
            square("2", 1.0, 0.0, 1.0),
            r#"{"type":"Feature","properties":{"DISTRICT":"OUT"},"geometry":null}"#
        );
        let shapes = DistrictShapes::parse(&doc, Some("DISTRICT")).unwrap();
        assert_eq!(shapes.ignored_features, 1);
        let locator = Locator::new(&shapes);
        assert_eq!(locator.district_at(0.5, 0.5), Some(1));
        assert_eq!(locator.district_at(1.5, 0.99), Some(2));
        assert_eq!(locator.district_at(12.0, 18.0), Some(3));
        assert_eq!(locator.district_at(15.0, 15.0), None, "in the hole");
        assert_eq!(locator.district_at(5.0, 5.0), None, "between districts");
        assert_eq!(locator.district_at(-1.0, 0.5), None);
    }

    #[test]
    fn a_document_without_the_named_property_says_which_to_set() {
        let doc = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            square("1", 0.0, 0.0, 1.0)
        );
        let err = DistrictShapes::parse(&doc, Some("ward")).unwrap_err();
        assert!(err.contains("ward (boundaries[].id_property)"), "{err}");
        assert!(
            DistrictShapes::parse(&doc, None).is_ok(),
            "DISTRICT is a default"
        );
        assert!(
            DistrictShapes::parse("{", None)
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    /// The banded test agrees with a plain even–odd test over every edge on the real 2023 map.
    #[test]
    fn banding_changes_no_answer_on_the_real_2023_map() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/boundaries/wards-2023-simplified.geojson"
        );
        let shapes = DistrictShapes::parse(&std::fs::read_to_string(path).unwrap(), None).unwrap();
        let locator = Locator::new(&shapes);
        let plain = |lon: f64, lat: f64| {
            shapes.districts.iter().find_map(|(w, polys)| {
                let mut inside = false;
                for ring in polys.iter().flatten() {
                    for i in 0..ring.len() {
                        let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                        if (a.1 > lat) != (b.1 > lat)
                            && lon < a.0 + (lat - a.1) * (b.0 - a.0) / (b.1 - a.1)
                        {
                            inside = !inside;
                        }
                    }
                }
                inside.then_some(*w)
            })
        };
        let mut placed = 0;
        for i in 0..60 {
            for j in 0..60 {
                let (lon, lat) = (
                    -87.95 + 0.0065 * f64::from(i),
                    41.64 + 0.0066 * f64::from(j),
                );
                let found = locator.district_at(lon, lat);
                assert_eq!(found, plain(lon, lat), "at {lon},{lat}");
                placed += usize::from(found.is_some());
            }
        }
        assert!(placed > 1000, "{placed} of 3,600 grid points in a ward");
    }
}

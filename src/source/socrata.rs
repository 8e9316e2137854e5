//! Data-portal records: the 311 dataset (v6vf-nfxy) as SODA JSON or CSV, and the retired
//! per-type datasets (pot holes, graffiti, rodents, …) in their Title Case or snake_case CSV
//! layouts.

use serde_json::Value;

use super::open311::text_of;
use super::{Normalizer, Parsed, clean_text, coordinate, quote, truthy};
use crate::config::ColumnMap;
use crate::domain::{Request, SourceKind};

/// Which columns a portal export has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The 311 Service Requests dataset (v6vf-nfxy): `sr_number`, `sr_type`, `created_date`…
    Portal,
    /// A retired per-type dataset: `Service Request Number`, `Creation Date`, `Completion Date`…
    Legacy,
    /// Another city's export, read through the config's column map (`import.columns`).
    Mapped,
}

/// The fields the parser reads, in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Type,
    Code,
    Status,
    Created,
    Updated,
    Closed,
    Address,
    Duplicate,
    Ward,
    Lat,
    Long,
    Parent,
    Channel,
    Description,
}

const FIELDS: [Field; 15] = [
    Field::Id,
    Field::Type,
    Field::Code,
    Field::Status,
    Field::Created,
    Field::Updated,
    Field::Closed,
    Field::Address,
    Field::Duplicate,
    Field::Ward,
    Field::Lat,
    Field::Long,
    Field::Parent,
    Field::Channel,
    Field::Description,
];

impl Field {
    /// The normalised column name in each layout.
    fn column(self, layout: Layout) -> Option<&'static str> {
        use Field::*;
        match layout {
            Layout::Portal => Some(match self {
                Id => "sr_number",
                Type => "sr_type",
                Code => "sr_short_code",
                Status => "status",
                Created => "created_date",
                Updated => "last_modified_date",
                Closed => "closed_date",
                Address => "street_address",
                Duplicate => "duplicate",
                Ward => "ward",
                Lat => "latitude",
                Long => "longitude",
                Parent => "parent_sr_number",
                Channel => "origin",
                Description => return None,
            }),
            Layout::Legacy => match self {
                Id => Some("service_request_number"),
                Type => Some("type_of_service_request"),
                Status => Some("status"),
                Created => Some("creation_date"),
                Closed => Some("completion_date"),
                Address => Some("street_address"),
                Ward => Some("ward"),
                Lat => Some("latitude"),
                Long => Some("longitude"),
                Code | Updated | Duplicate | Parent | Channel | Description => None,
            },
            Layout::Mapped => None,
        }
    }
}

/// `Service Request Number` → `service_request_number`.
pub fn normalise_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending = false;
    for c in name.trim().trim_start_matches('\u{feff}').chars() {
        if c.is_ascii_alphanumeric() {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending = true;
        }
    }
    out
}

/// Which layout a header row (or a JSON record's keys) belongs to.
pub fn detect_layout<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Layout> {
    let mut layout = None;
    for name in names {
        match normalise_header(name).as_str() {
            "sr_number" => return Some(Layout::Portal),
            "service_request_number" => layout = Some(Layout::Legacy),
            _ => {}
        }
    }
    layout
}

/// A CSV header row, with the column index of every field the parser reads.
#[derive(Debug, Clone)]
pub struct CsvHeader {
    /// The layout.
    pub layout: Layout,
    /// Column names as written (for the raw record).
    pub names: Vec<String>,
    index: [Option<usize>; FIELDS.len()],
}

impl CsvHeader {
    /// Reads a header row; `None` when it is no layout cwfy knows and not the one `columns`
    /// (the config's column map) describes.
    pub fn new(names: &csv::StringRecord, columns: Option<&ColumnMap>) -> Option<CsvHeader> {
        let Some(layout) = detect_layout(names.iter()) else {
            return CsvHeader::mapped(names, columns?);
        };
        let normalised: Vec<String> = names.iter().map(normalise_header).collect();
        let mut index = [None; FIELDS.len()];
        for (i, field) in FIELDS.iter().enumerate() {
            index[i] = field
                .column(layout)
                .and_then(|col| normalised.iter().position(|n| n == col));
        }
        Some(CsvHeader {
            layout,
            names: names.iter().map(str::to_string).collect(),
            index,
        })
    }
}

impl CsvHeader {
    /// A header read through the config's column map, when it has the map's `id` column.
    /// Column names are compared as written, then without case and punctuation.
    fn mapped(names: &csv::StringRecord, map: &ColumnMap) -> Option<CsvHeader> {
        let normalised: Vec<String> = names.iter().map(normalise_header).collect();
        let find = |column: &str| {
            names
                .iter()
                .position(|n| n.trim().trim_start_matches('\u{feff}') == column)
                .or_else(|| {
                    let want = normalise_header(column);
                    normalised.iter().position(|n| *n == want)
                })
        };
        find(&map.id)?;
        let mut index = [None; FIELDS.len()];
        for (i, field) in FIELDS.iter().enumerate() {
            index[i] = mapped_column(map, *field).and_then(|(_, c)| find(c));
        }
        Some(CsvHeader {
            layout: Layout::Mapped,
            names: names.iter().map(str::to_string).collect(),
            index,
        })
    }

    /// Configured columns the header lacks (`import.columns` key and column name), for a
    /// warning: a misspelt column would silently leave every record without that field.
    pub fn missing_columns<'m>(&self, map: &'m ColumnMap) -> Vec<(&'static str, &'m str)> {
        if self.layout != Layout::Mapped {
            return Vec::new();
        }
        (FIELDS.iter())
            .filter(|&&field| field != Field::Id && self.index[field as usize].is_none())
            .filter_map(|&field| mapped_column(map, field))
            .map(|(key, column)| (key, column.as_str()))
            .collect()
    }
}

/// The column the config's column map names for `field`, with its `import.columns` key.
fn mapped_column(map: &ColumnMap, field: Field) -> Option<(&'static str, &String)> {
    use Field::*;
    let (key, column) = match field {
        Id => ("id", Some(&map.id)),
        Type => ("service_name", Some(&map.service_name)),
        Code => ("service_code", map.service_code.as_ref()),
        Status => ("status", map.status.as_ref()),
        Created => ("opened", Some(&map.opened)),
        Updated => ("updated", map.updated.as_ref()),
        Closed => ("closed", map.closed.as_ref()),
        Address => ("address", map.address.as_ref()),
        Ward => ("district", map.district.as_ref()),
        Lat => ("latitude", map.latitude.as_ref()),
        Long => ("longitude", map.longitude.as_ref()),
        Channel => ("channel", map.channel.as_ref()),
        Description => ("description", map.description.as_ref()),
        Duplicate => ("duplicate", map.duplicate.as_ref()),
        Parent => return None,
    };
    Some((key, column?))
}

/// Parses one CSV row. The request's `raw` is the row as a JSON array of its fields (see
/// [`raw_row`]), named by the header's columns (`Store::raw_header`).
pub fn parse_csv_row(header: &CsvHeader, row: &csv::StringRecord, n: &Normalizer) -> Parsed {
    if row.len() != header.names.len() {
        return Parsed::Rejected(format!(
            "{} columns where the header has {}",
            row.len(),
            header.names.len()
        ));
    }
    let get = |f: Field| header.index[f as usize].and_then(|i| row.get(i));
    parse_fields(get, header.layout, || raw_row(row), n)
}

/// A CSV row's raw record: a JSON array of its fields, in column order (far smaller than an
/// object repeating every column name, and as faithful: the header is stored once).
pub fn raw_row(row: &csv::StringRecord) -> String {
    let mut out = String::with_capacity(row.as_byte_record().as_slice().len() + 3 * row.len() + 2);
    out.push('[');
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, field);
    }
    out.push(']');
    out
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    // Most fields need no escape; this test runs without branches (so vectorised).
    let needs_escape = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a character boundary.
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Parses one SODA JSON record (an object keyed by column names).
pub fn parse_json_record(raw: &str, value: &Value, n: &Normalizer) -> Parsed {
    let Some(obj) = value.as_object() else {
        return Parsed::Rejected("a record must be a JSON object".into());
    };
    let layout = detect_layout(obj.keys().map(String::as_str)).unwrap_or(Layout::Portal);
    let by_name: Vec<(String, Option<String>)> = obj
        .iter()
        .map(|(k, v)| (normalise_header(k), text_of(Some(v))))
        .collect();
    let get = |f: Field| {
        let col = f.column(layout)?;
        by_name
            .iter()
            .find(|(k, _)| k == col)
            .and_then(|(_, v)| v.as_deref())
    };
    parse_fields(get, layout, || raw.to_string(), n)
}

/// Reads the fields; `raw` makes the raw record (only for a request).
fn parse_fields<'a>(
    get: impl Fn(Field) -> Option<&'a str>,
    layout: Layout,
    raw: impl FnOnce() -> String,
    n: &Normalizer,
) -> Parsed {
    let mut notes = Vec::new();
    let id = get(Field::Id).map(str::trim).unwrap_or_default();
    let Some(id) = clean_text("id", id, &mut notes) else {
        return Parsed::Ignored("no service request number".into());
    };
    let Some(service_name) = get(Field::Type).and_then(|s| clean_text("type", s, &mut notes))
    else {
        return Parsed::Rejected(format!("request {id}: no service type"));
    };
    let requested_at = match get(Field::Created).map(|t| n.timestamp(t)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Parsed::Rejected(format!("request {id}: creation date {e}")),
        None => return Parsed::Rejected(format!("request {id}: no creation date")),
    };
    let optional_time = |field: Field, label: &str, notes: &mut Vec<String>| match get(field) {
        Some(t) if !t.trim().is_empty() => match n.timestamp(t) {
            Ok(t) => Some(t),
            Err(e) => {
                notes.push(format!("{label} {e}: ignored"));
                None
            }
        },
        _ => None,
    };
    let updated_at = optional_time(Field::Updated, "last modified date", &mut notes);
    let closed_date = optional_time(Field::Closed, "closed date", &mut notes);
    let status = get(Field::Status).unwrap_or_default().trim().to_string();
    let is_open = status.is_empty()
        || status
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case("open"));
    let closed_at = if is_open { None } else { closed_date };
    let duplicate = match layout {
        Layout::Portal => get(Field::Duplicate).is_some_and(truthy),
        Layout::Mapped => get(Field::Duplicate).is_some_and(|v| match &n.duplicate_contains {
            Some(text) => v.to_lowercase().contains(text.as_str()),
            None => truthy(v),
        }),
        Layout::Legacy => status
            .len()
            .checked_sub(5)
            .and_then(|at| status.get(at..))
            .is_some_and(|end| end.eq_ignore_ascii_case("- dup")),
    };
    let ward_text = get(Field::Ward).unwrap_or_default();
    let ward = n.ward(ward_text);
    if ward.is_none() && !ward_text.trim().is_empty() {
        notes.push(format!(
            "ward {} is not a ward 1–{}: unassigned",
            quote(ward_text),
            n.wards
        ));
    }
    let source = match layout {
        Layout::Portal => SourceKind::Socrata,
        Layout::Legacy => SourceKind::Legacy,
        Layout::Mapped => SourceKind::Csv,
    };
    Parsed::Request(
        Box::new(Request {
            service_code: get(Field::Code).and_then(|s| clean_text("code", s, &mut notes)),
            service_name,
            is_closed: closed_at.is_some(),
            status,
            requested_at,
            updated_at,
            closed_at,
            ward,
            placement: crate::domain::Placement::default(),
            duplicate,
            parent_id: get(Field::Parent).and_then(|s| clean_text("parent", s, &mut notes)),
            lat: get(Field::Lat).and_then(|s| coordinate(s, 90.0)),
            long: get(Field::Long).and_then(|s| coordinate(s, 180.0)),
            address: get(Field::Address).and_then(|s| clean_text("address", s, &mut notes)),
            description: get(Field::Description)
                .and_then(|s| clean_text("description", s, &mut notes)),
            media_url: None,
            channel: get(Field::Channel).and_then(|s| clean_text("origin", s, &mut notes)),
            source,
            raw: raw(),
            id,
        }),
        notes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn n() -> Normalizer {
        Normalizer::new(TimeZone::get("America/Chicago").unwrap(), 50)
    }

    fn rows(text: &str) -> Vec<Parsed> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let header = CsvHeader::new(reader.headers().unwrap(), None).unwrap();
        reader
            .records()
            .map(|r| parse_csv_row(&header, &r.unwrap(), &n()))
            .collect()
    }

    #[test]
    fn raw_rows_are_json_arrays_as_serde_json_writes_them() {
        let fields = [
            "SR1",
            "",
            "{'a': '{\"b\": \"\"}'}",
            "back\\slash",
            "tab\tnew\nline\rbell\u{7}\u{8}\u{c}\u{1f}",
            "Ünïcödé ✓",
        ];
        let raw = raw_row(&csv::StringRecord::from(fields.to_vec()));
        assert_eq!(raw, serde_json::to_string(&fields).unwrap());
        let back: Vec<String> = serde_json::from_str(&raw).unwrap();
        assert_eq!(back, fields);
    }

    #[test]
    fn headers_normalise() {
        assert_eq!(
            normalise_header("Service Request Number"),
            "service_request_number"
        );
        assert_eq!(
            normalise_header("SERVICE REQUEST NUMBER"),
            "service_request_number"
        );
        assert_eq!(normalise_header("\u{feff}sr_number"), "sr_number");
    }

    #[test]
    fn another_citys_export_reads_through_the_column_map() {
        let map: ColumnMap = serde_yaml::from_str(
            "{id: case_enquiry_id, opened: open_dt, closed: closed_dt, service_name: type, status: case_status, latitude: latitude, longitude: longitude, address: location, description: case_title, district: Council District}",
        )
        .unwrap();
        let text = "\u{feff}case_enquiry_id,open_dt,closed_dt,case_status,type,case_title,location,council_district,latitude,longitude\n\
            101000336903,2011-10-01 01:37:13,2011-10-01 06:13:16,Closed,Street Light Outages,Major System Failure,INTERSECTION of E Berkeley St & Harrison Ave,2,42.3435,-71.0644\n\
            101000336904,2011-10-01 01:42:16,,Open,Street Light Outages,,,,,\n";
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let names = reader.headers().unwrap().clone();
        assert!(
            CsvHeader::new(&names, None).is_none(),
            "no layout cwfy knows"
        );
        let header = CsvHeader::new(&names, Some(&map)).unwrap();
        assert_eq!(header.layout, Layout::Mapped);
        assert!(
            header.missing_columns(&map).is_empty(),
            "\"Council District\" matches council_district"
        );
        let boston = Normalizer::new(TimeZone::get("America/New_York").unwrap(), 9);
        let rows: Vec<Parsed> = reader
            .records()
            .map(|r| parse_csv_row(&header, &r.unwrap(), &boston))
            .collect();
        let Parsed::Request(r, notes) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(r.id, "101000336903");
        assert_eq!(r.source, SourceKind::Csv);
        // 01:37:13 in Boston (EDT, UTC−4) is 05:37:13 UTC.
        assert_eq!(r.requested_at, 1_317_447_433);
        assert_eq!(r.closed_at.unwrap() - r.requested_at, 16_563);
        assert_eq!(
            (r.ward, r.lat, r.long),
            (Some(2), Some(42.3435), Some(-71.0644))
        );
        assert_eq!(r.description.as_deref(), Some("Major System Failure"));
        let Parsed::Request(open, _) = &rows[1] else {
            panic!("{rows:?}")
        };
        assert!(open.closed_at.is_none() && open.lat.is_none() && open.ward.is_none());
        let missing: ColumnMap = serde_yaml::from_str(
            "{id: case_enquiry_id, opened: open_dt, service_name: type, latitude: lat}",
        )
        .unwrap();
        let header = CsvHeader::new(&names, Some(&missing)).unwrap();
        assert_eq!(header.missing_columns(&missing), vec![("latitude", "lat")]);
    }

    #[test]
    fn a_mapped_export_marks_duplicates_by_its_column() {
        let map: ColumnMap = serde_yaml::from_str(
            "{id: id, opened: opened, service_name: type, duplicate: closure_reason}",
        )
        .unwrap();
        let text = "id,opened,type,closure_reason\n\
            1,2011-10-01 08:00:00,Graffiti Removal,Case Closed Duplicate of Existing Case CRM # 5\n\
            2,2011-10-01 08:00:00,Graffiti Removal,Case Resolved\n\
            3,2011-10-01 08:00:00,Graffiti Removal,yes\n";
        let parse = |contains: Option<&str>| -> Vec<bool> {
            let mut boston = Normalizer::new(TimeZone::get("America/New_York").unwrap(), 9);
            boston.duplicate_contains = contains.map(str::to_lowercase);
            let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let header = CsvHeader::new(&reader.headers().unwrap().clone(), Some(&map)).unwrap();
            reader
                .records()
                .map(|r| match parse_csv_row(&header, &r.unwrap(), &boston) {
                    Parsed::Request(r, _) => r.duplicate,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(
            parse(Some("Duplicate of Existing Case")),
            [true, false, false]
        );
        assert_eq!(
            parse(None),
            [false, false, true],
            "without the text, a true value"
        );
    }

    #[test]
    fn portal_rows_parse() {
        let parsed = rows(
            "sr_number,sr_type,sr_short_code,status,origin,created_date,last_modified_date,closed_date,street_address,duplicate,ward,latitude,longitude,parent_sr_number\n\
            SR1,Graffiti Removal Request,GRAF,Completed,Internet,2021-01-01T10:00:00.000,2021-01-02T00:00:00.000,2021-01-01T12:00:00.000,1 Main St,False,28,41.8,-87.6,\n\
            SR2,Graffiti Removal Request,GRAF,Open,Internet,2021-01-01T10:00:00.000,,,1 Main St,True,abc,NaN,-87.6,SR1\n\
            ,Graffiti Removal Request,GRAF,Open,Internet,2021-01-01T10:00:00.000,,,,False,1,,,\n",
        );
        let Parsed::Request(r, notes) = &parsed[0] else {
            panic!("{parsed:?}")
        };
        assert!(notes.is_empty());
        assert_eq!(r.ward, Some(28));
        assert_eq!(r.closed_at.unwrap() - r.requested_at, 7200);
        assert_eq!(r.channel.as_deref(), Some("Internet"));
        assert_eq!(r.source, SourceKind::Socrata);
        let raw: Value = serde_json::from_str(&r.raw).unwrap();
        assert_eq!(raw[0], "SR1");
        assert_eq!(raw.as_array().unwrap().len(), 14);
        let Parsed::Request(r, notes) = &parsed[1] else {
            panic!("{parsed:?}")
        };
        assert!(r.duplicate && r.closed_at.is_none() && r.ward.is_none() && r.lat.is_none());
        assert_eq!(notes.len(), 1);
        assert!(matches!(parsed[2], Parsed::Ignored(_)));
    }

    #[test]
    fn legacy_rows_take_dup_from_status() {
        let parsed = rows(
            "Creation Date,Status,Completion Date,Service Request Number,Type of Service Request,Street Address,Ward,Latitude,Longitude\n\
            2011-01-01T00:00:00,Completed - Dup,2011-01-07T00:00:00,11-1,Abandoned Vehicle Complaint,5629 N KEDVALE AVE,39,41.98,-87.73\n\
            2011-01-01T00:00:00,Open,,11-2,Abandoned Vehicle Complaint,5629 N KEDVALE AVE,39,41.98,-87.73\n\
            2011-01-01T00:00:00,Completed,2011-01-07T00:00:00,11-3,Abandoned Vehicle Complaint,5629 N KEDVALE AVE,39\n",
        );
        let Parsed::Request(r, _) = &parsed[0] else {
            panic!()
        };
        assert!(r.duplicate && r.is_closed);
        assert_eq!(r.source, SourceKind::Legacy);
        assert_eq!(r.closed_at.unwrap() - r.requested_at, 6 * 86400);
        let Parsed::Request(r, _) = &parsed[1] else {
            panic!()
        };
        assert!(!r.duplicate && !r.is_closed);
        assert!(matches!(&parsed[2], Parsed::Rejected(m) if m.contains("columns")));
    }

    #[test]
    fn soda_json_parses_with_native_booleans() {
        let raw = r#"{"sr_number":"SR9","sr_type":"Pothole in Street Complaint","sr_short_code":"PHF","status":"Completed","created_date":"2021-01-01T10:00:00.000","closed_date":"2021-01-03T10:00:00.000","duplicate":true,"ward":"7"}"#;
        let v: Value = serde_json::from_str(raw).unwrap();
        let Parsed::Request(r, _) = parse_json_record(raw, &v, &n()) else {
            panic!()
        };
        assert!(r.duplicate);
        assert_eq!(r.service_code.as_deref(), Some("PHF"));
        assert_eq!(r.ward, Some(7));
    }
}

//! Open311 GeoReport v2 JSON records (`requests.json`, with or without Chicago's extensions).

use serde_json::Value;

use super::{Normalizer, Parsed, clean_text, clean_url, coordinate, quote, truthy};
use crate::domain::{Request, ServiceAttribute, ServiceType, SourceKind};

/// A field as text, whether the source sent a string, a number or a boolean.
pub(crate) fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses one `requests.json` element. `raw` is the element's text as received.
pub fn parse_record(raw: &str, n: &Normalizer) -> Parsed {
    let value: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => return Parsed::Rejected(format!("not valid JSON: {e}")),
    };
    parse_value(raw, &value, n)
}

/// Parses one already-decoded element.
pub fn parse_value(raw: &str, value: &Value, n: &Normalizer) -> Parsed {
    let Some(obj) = value.as_object() else {
        return Parsed::Rejected("a request must be a JSON object".into());
    };
    let get = |k: &str| obj.get(k);
    let ext = get("extended_attributes").and_then(Value::as_object);
    let ext_get = |k: &str| ext.and_then(|e| e.get(k));

    let id = text_of(get("service_request_id"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if id.is_empty() {
        return Parsed::Ignored("no service_request_id".into());
    }
    let mut notes = Vec::new();
    let Some(id) = clean_text("service_request_id", &id, &mut notes) else {
        return Parsed::Ignored("no service_request_id".into());
    };
    let Some(requested) = text_of(get("requested_datetime")) else {
        return Parsed::Rejected(format!("request {id}: no requested_datetime"));
    };
    let requested_at = match n.timestamp(&requested) {
        Ok(t) => t,
        Err(e) => return Parsed::Rejected(format!("request {id}: requested_datetime {e}")),
    };
    let updated_at = match text_of(get("updated_datetime")).filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(t) => match n.timestamp(&t) {
            Ok(t) => Some(t),
            Err(e) => {
                notes.push(format!("updated_datetime {e}: ignored"));
                None
            }
        },
    };
    let service_name = text_of(get("service_name"))
        .and_then(|s| clean_text("service_name", &s, &mut notes))
        .or_else(|| text_of(get("service_code")))
        .unwrap_or_default();
    if service_name.is_empty() {
        return Parsed::Rejected(format!("request {id}: no service_name or service_code"));
    }
    let status = text_of(get("status"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let is_closed = status.eq_ignore_ascii_case("closed");

    // Close time: the last `closed` note, else updated_datetime (the data rules,
    // docs/ARCHITECTURE.md).
    let closed_at = if is_closed {
        let last_closed_note = get("notes")
            .and_then(Value::as_array)
            .map(|notes| notes.as_slice())
            .unwrap_or_default()
            .iter()
            .rev()
            .filter(|note| note.get("type").and_then(Value::as_str) == Some("closed"))
            .filter_map(|note| text_of(note.get("datetime")))
            .find_map(|t| n.timestamp(&t).ok());
        last_closed_note.or(updated_at)
    } else {
        None
    };

    let duplicate = match ext_get("duplicate") {
        Some(Value::Bool(b)) => *b,
        Some(v) => text_of(Some(v)).is_some_and(|s| truthy(&s)),
        None => false,
    };
    let ward_text = text_of(ext_get("ward")).unwrap_or_default();
    let ward = n.ward(&ward_text);
    if ward.is_none() && !ward_text.trim().is_empty() {
        notes.push(format!(
            "ward {} is not a ward 1–{}: unassigned",
            quote(&ward_text),
            n.wards
        ));
    }
    let lat = text_of(get("lat")).and_then(|s| coordinate(&s, 90.0));
    let long = text_of(get("long")).and_then(|s| coordinate(&s, 180.0));
    Parsed::Request(
        Box::new(Request {
            id,
            service_code: text_of(get("service_code"))
                .and_then(|s| clean_text("service_code", &s, &mut notes)),
            service_name,
            status,
            is_closed,
            requested_at,
            updated_at,
            closed_at,
            ward,
            placement: crate::domain::Placement::default(),
            duplicate,
            parent_id: text_of(ext_get("parent_service_request_id"))
                .and_then(|s| clean_text("parent_service_request_id", &s, &mut notes)),
            lat,
            long,
            address: text_of(get("address")).and_then(|s| clean_text("address", &s, &mut notes)),
            description: text_of(get("description"))
                .and_then(|s| clean_text("description", &s, &mut notes)),
            media_url: text_of(get("media_url"))
                .and_then(|s| clean_url("media_url", &s, &mut notes)),
            channel: text_of(ext_get("channel"))
                .and_then(|s| clean_text("channel", &s, &mut notes)),
            source: SourceKind::Open311,
            raw: raw.to_string(),
        }),
        notes,
    )
}

/// Parses a `services.json` document into service types; elements without a code are skipped.
pub fn parse_services(body: &str) -> Result<Vec<ServiceType>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("services.json is not JSON: {e}"))?;
    let list = value
        .as_array()
        .ok_or("services.json must be a JSON array")?;
    let mut out = Vec::new();
    for item in list {
        let mut notes = Vec::new();
        let Some(code) = text_of(item.get("service_code"))
            .and_then(|s| clean_text("service_code", &s, &mut notes))
        else {
            continue;
        };
        let name = text_of(item.get("service_name"))
            .and_then(|s| clean_text("service_name", &s, &mut notes))
            .unwrap_or_else(|| code.clone());
        out.push(ServiceType {
            code,
            name,
            description: text_of(item.get("description"))
                .and_then(|s| clean_text("description", &s, &mut notes)),
            group: text_of(item.get("group")).and_then(|s| clean_text("group", &s, &mut notes)),
            metadata: flag(item.get("metadata")),
        });
    }
    Ok(out)
}

/// A flag sent as `true`, `"true"` or `1`.
fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(v) => text_of(Some(v)).is_some_and(|s| truthy(&s)),
        None => false,
    }
}

/// Parses a service definition (`services/{code}.json`): `{"service_code", "attributes": […]}`
/// (or that object alone in an array, as some endpoints send it). Attributes come in their
/// `order`; one without a `code` or a `description` is skipped.
pub fn parse_service_definition(body: &str) -> Result<Vec<ServiceAttribute>, String> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format!("the service definition is not JSON: {e}"))?;
    let object = match &value {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    let attributes = object
        .get("attributes")
        .and_then(Value::as_array)
        .ok_or("a service definition must be an object with an \"attributes\" array")?;
    let mut notes = Vec::new();
    let mut out: Vec<ServiceAttribute> = attributes
        .iter()
        .filter_map(|a| {
            let mut text =
                |key: &str| text_of(a.get(key)).and_then(|s| clean_text(key, &s, &mut notes));
            let code = text("code")?;
            let description = text("description")?;
            let datatype = text("datatype").unwrap_or_else(|| "string".into());
            let datatype_description = text("datatype_description");
            let values = a
                .get("values")
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|v| {
                            let key = text_of(v.get("key"))?;
                            let name = text_of(v.get("name")).unwrap_or_else(|| key.clone());
                            let mut n = Vec::new();
                            Some((
                                clean_text("key", &key, &mut n)?,
                                clean_text("name", &name, &mut n)?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(ServiceAttribute {
                code,
                description,
                datatype,
                datatype_description,
                required: flag(a.get("required")),
                variable: a.get("variable").is_none_or(|v| flag(Some(v))),
                order: text_of(a.get("order")).and_then(|o| o.trim().parse().ok()),
                values,
            })
        })
        .collect();
    out.sort_by_key(|a| a.order.unwrap_or(i64::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn n() -> Normalizer {
        Normalizer::new(TimeZone::get("America/Chicago").unwrap(), 50)
    }

    fn request(raw: &str) -> (Request, Vec<String>) {
        match parse_record(raw, &n()) {
            Parsed::Request(r, notes) => (*r, notes),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closed_request_uses_last_closed_note() {
        let (r, notes) = request(
            r#"{"service_request_id":"14-1","status":"closed","service_name":"Pothole in Street","service_code":"c1",
            "requested_datetime":"2014-05-09T19:02:21-05:00","updated_datetime":"2015-10-10T10:15:40-05:00",
            "extended_attributes":{"ward":"21","channel":"phone","duplicate":false},
            "notes":[{"type":"closed","datetime":"2014-06-01T10:00:00-05:00"},{"type":"activity","datetime":"2014-06-02T10:00:00-05:00"},{"type":"closed","datetime":"2014-07-01T10:00:00-05:00"}],
            "lat":41.7,"long":-87.6}"#,
        );
        assert!(notes.is_empty(), "{notes:?}");
        assert!(r.is_closed);
        assert_eq!(r.closed_at, Some(1_404_226_800));
        assert_eq!(r.ward, Some(21));
        assert_eq!(r.channel.as_deref(), Some("phone"));
        assert!(!r.duplicate);
    }

    #[test]
    fn closed_without_note_uses_updated_and_open_is_not_closed() {
        let (r, _) = request(
            r#"{"service_request_id":"1","status":"closed","service_name":"X","requested_datetime":"2014-05-09T19:02:21-05:00","updated_datetime":"2014-05-10T19:02:21-05:00"}"#,
        );
        assert_eq!(r.closed_at, Some(1_399_766_541));
        let (r, _) = request(
            r#"{"service_request_id":"1","status":"open","service_name":"X","requested_datetime":"2014-05-09T19:02:21-05:00","updated_datetime":"2014-05-10T19:02:21-05:00","notes":[{"type":"closed","datetime":"2014-05-10T19:02:21-05:00"}]}"#,
        );
        assert_eq!(r.closed_at, None);
    }

    #[test]
    fn duplicates_wards_and_missing_ids() {
        let (r, notes) = request(
            r#"{"service_request_id":"1","status":"closed","service_name":"X","requested_datetime":"2014-05-09T19:02:21-05:00","extended_attributes":{"duplicate":"true","parent_service_request_id":"2","ward":"abc"}}"#,
        );
        assert!(r.duplicate);
        assert_eq!(r.parent_id.as_deref(), Some("2"));
        assert_eq!(r.ward, None);
        assert!(notes[0].contains("unassigned"));
        assert!(matches!(
            parse_record(r#"{"status":"open"}"#, &n()),
            Parsed::Ignored(_)
        ));
        assert!(matches!(
            parse_record(r#"{"service_request_id":"","status":"open"}"#, &n()),
            Parsed::Ignored(_)
        ));
        assert!(matches!(
            parse_record(
                r#"{"service_request_id":"9","service_name":"X","requested_datetime":"9999-01-01T00:00:00Z"}"#,
                &n()
            ),
            Parsed::Rejected(_)
        ));
        assert!(matches!(parse_record("[1,2]", &n()), Parsed::Rejected(_)));
        assert!(matches!(parse_record("{", &n()), Parsed::Rejected(_)));
    }

    #[test]
    fn service_definitions_parse_in_their_order_with_their_values() {
        // The GeoReport v2 example (DMV66), as JSON, with a second attribute out of order.
        let body = r#"{"service_code":"DMV66","attributes":[
            {"variable":true,"code":"NOTE","datatype":"text","required":false,"datatype_description":null,"order":2,"description":"Anything else?"},
            {"variable":true,"code":"WHISHETN","datatype":"singlevaluelist","required":true,"datatype_description":"","order":1,"description":"What is the ticket/tag/DL number?",
             "values":[{"key":"123","name":"Ford"},{"key":124,"name":"Chrysler"}]},
            {"variable":false,"datatype":"string","description":"no code: skipped"}]}"#;
        let attributes = parse_service_definition(body).unwrap();
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes[0].code, "WHISHETN");
        assert!(attributes[0].required && attributes[0].variable);
        assert_eq!(attributes[0].datatype_description, None);
        assert_eq!(
            attributes[0].values,
            [
                ("123".into(), "Ford".into()),
                ("124".into(), "Chrysler".into())
            ]
        );
        assert_eq!(attributes[1].code, "NOTE");
        assert!(!attributes[1].required);
        assert_eq!(
            parse_service_definition(&format!("[{body}]")).unwrap(),
            attributes
        );
        assert!(parse_service_definition("{}").is_err());
        assert!(parse_service_definition("<html>").is_err());
        let services = parse_services(
            r#"[{"service_code":"A","service_name":"a","metadata":true},{"service_code":"B","metadata":"false"}]"#,
        )
        .unwrap();
        assert!(services[0].metadata && !services[1].metadata);
    }

    #[test]
    fn deep_nesting_is_rejected_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse_record(&deep, &n()), Parsed::Rejected(_)));
    }

    #[test]
    fn real_chicago_page_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/sample/open311-requests-2014-page.json"
        ))
        .unwrap();
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        let parsed: Vec<Parsed> = list
            .iter()
            .map(|v| parse_value(&v.to_string(), v, &n()))
            .collect();
        let requests: Vec<&Request> = parsed
            .iter()
            .filter_map(|p| match p {
                Parsed::Request(r, _) => Some(&**r),
                _ => None,
            })
            .collect();
        assert_eq!(requests.len(), 50);
        assert_eq!(requests.iter().filter(|r| r.is_closed).count(), 49);
        assert!(requests.iter().any(|r| r.duplicate));
        assert_eq!(requests.iter().filter(|r| r.media_url.is_some()).count(), 2);
    }
}

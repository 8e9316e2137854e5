//! Ward offices: the alderman and contacts of each ward, from the data portal's "Ward Offices"
//! dataset (SODA JSON, either as an array of records or keyed by ward as CWFY saved it in 2013).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::ContentError;
use crate::domain::WardNo;
use crate::source::open311::text_of;

/// One ward's office.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WardOffice {
    /// Ward number.
    pub ward: WardNo,
    /// The alderman's name as the portal writes it ("Taylor, Jeanette B." or "Joe Moreno"),
    /// turned to "First Last".
    pub alderman: String,
    /// Ward office street address.
    pub address: Option<String>,
    /// Ward office phone, as the portal writes it ("(872) 206-2685").
    pub phone: Option<String>,
    /// The phone as a `tel:` link target ("tel:+1-872-206-2685"); none when it has no digits.
    pub phone_href: Option<String>,
    /// City Hall office address.
    pub city_hall_address: Option<String>,
    /// City Hall phone.
    pub city_hall_phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Web site.
    pub website: Option<String>,
}

/// Reads a ward offices file; unknown or out-of-range wards are skipped.
pub fn load_offices(
    path: &Path,
    wards: WardNo,
) -> Result<BTreeMap<WardNo, WardOffice>, ContentError> {
    let text = std::fs::read_to_string(path).map_err(|e| ContentError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| ContentError::FrontMatter {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("not valid JSON: {e}"),
    })?;
    let records: Vec<&Value> = match &value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => Vec::new(),
    };
    let mut out = BTreeMap::new();
    for record in records {
        let Some(ward) = text_of(record.get("ward").or_else(|| record.get("WARD")))
            .and_then(|w| w.trim().parse::<WardNo>().ok())
            .filter(|w| (1..=wards).contains(w))
        else {
            continue;
        };
        let field = |k: &str| -> Option<String> {
            let v = record.get(k)?;
            let text = match v {
                // Old SODA wraps phones and URLs in objects.
                Value::Object(o) => text_of(o.get("phone_number").or_else(|| o.get("url"))),
                other => text_of(Some(other)),
            }?;
            let text = text.trim().to_string();
            (!text.is_empty()).then_some(text)
        };
        let address = match (field("address"), field("city"), field("zipcode")) {
            (Some(a), Some(c), Some(z)) => Some(format!("{a}, {}, IL {z}", title_case(&c))),
            (Some(a), _, _) => Some(a),
            _ => None,
        };
        out.insert(
            ward,
            WardOffice {
                ward,
                alderman: field("alderman")
                    .map(|a| display_name(&a))
                    .unwrap_or_default(),
                address,
                phone_href: field("ward_phone").and_then(|p| tel_href(&p)),
                phone: field("ward_phone"),
                city_hall_address: field("city_hall_address"),
                city_hall_phone: field("city_hall_phone"),
                email: field("email"),
                website: field("website").filter(|w| is_web_address(w)),
            },
        );
    }
    Ok(out)
}

/// A `tel:` URI for a phone number as people write it: a 10-digit North American number gets its
/// country code; spaces and brackets (not allowed in a `tel:` URI) are dropped. Of several numbers
/// ("(312) 744-6836 / 9867/6213": a main line and other extensions) the first is linked; what
/// is not a whole number gets no link.
pub fn tel_href(phone: &str) -> Option<String> {
    let first = phone.split(['/', ',', ';']).next().unwrap_or(phone);
    let digits: String = first.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        0 => None,
        10 => Some(format!(
            "tel:+1-{}-{}-{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..]
        )),
        11 if digits.starts_with('1') => Some(format!(
            "tel:+1-{}-{}-{}",
            &digits[1..4],
            &digits[4..7],
            &digits[7..]
        )),
        _ => None,
    }
}

/// An http(s) address with a plain host: the portal sometimes has an e-mail address typed into
/// the web site field ("http://www.ward39@cityofchicago.org"), which is no web site.
fn is_web_address(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !host.contains('@') && !host.contains(' ')
}

/// A name as people write it: "Taylor, Jeanette B." → "Jeanette B. Taylor"; "Burnett, Jr.,
/// Walter" and "Walter Burnett, Jr." → "Walter Burnett Jr."; "WILLIAM BURNS" → "William Burns";
/// "O'SHEA, MATTHEW" → "Matthew O'Shea".
pub fn display_name(name: &str) -> String {
    let mut parts: Vec<&str> = name
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    // A generational suffix may stand anywhere: a part of its own ("Burnett, Jr., Walter") or
    // the last word of a part ("Smith, John III").
    let mut suffix = parts
        .iter()
        .position(|p| generational_suffix(p).is_some())
        .and_then(|i| generational_suffix(parts.remove(i)));
    if suffix.is_none() {
        for part in parts.iter_mut() {
            if let Some((rest, last)) = part.rsplit_once(' ')
                && let Some(found) = generational_suffix(last)
            {
                suffix = Some(found);
                *part = rest.trim_end();
                break;
            }
        }
    }
    let mut text = match parts.as_slice() {
        [last, first] => format!("{first} {last}"),
        _ => parts.join(", "),
    };
    if let Some(suffix) = suffix {
        text.push(' ');
        text.push_str(suffix);
    }
    if text.chars().any(|c| c.is_lowercase()) {
        text
    } else {
        title_case(&text)
    }
}

/// "Jr.", "Sr.", "II", "III", "IV" as they are usually written, for any spelling of them.
fn generational_suffix(part: &str) -> Option<&'static str> {
    match part.trim_end_matches('.').to_ascii_lowercase().as_str() {
        "jr" => Some("Jr."),
        "sr" => Some("Sr."),
        "ii" => Some("II"),
        "iii" => Some("III"),
        "iv" => Some("IV"),
        _ => None,
    }
}

/// "O'SHEA" → "O'Shea", "SIGCHO-LOPEZ" → "Sigcho-Lopez"; "II" and "III" stay as they are.
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for word in text.split(' ') {
        if !out.is_empty() {
            out.push(' ');
        }
        if matches!(word, "II" | "III" | "IV") {
            out.push_str(word);
            continue;
        }
        for c in word.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = matches!(c, '\'' | '-' | '.');
        }
        start = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_naturally() {
        assert_eq!(display_name("Taylor, Jeanette B."), "Jeanette B. Taylor");
        assert_eq!(display_name("WILLIAM BURNS"), "William Burns");
        assert_eq!(display_name("Joe Moreno"), "Joe Moreno");
        // Issue 22: the ward list said "Jr., Walter Burnett".
        assert_eq!(display_name("Burnett, Jr., Walter"), "Walter Burnett Jr.");
        assert_eq!(display_name("Walter Burnett, Jr."), "Walter Burnett Jr.");
        assert_eq!(display_name("Cardona, Jr., Felix"), "Felix Cardona Jr.");
        assert_eq!(display_name("O'SHEA, MATTHEW J."), "Matthew J. O'Shea");
        assert_eq!(display_name("SIGCHO-LOPEZ, BYRON"), "Byron Sigcho-Lopez");
        assert_eq!(display_name("SMITH, JOHN III"), "John Smith III");
        assert_eq!(display_name("Walter Burnett Jr."), "Walter Burnett Jr.");
        assert_eq!(display_name("La Spata, Daniel"), "Daniel La Spata");
    }

    #[test]
    fn phones_become_tel_links_and_emails_are_no_web_sites() {
        assert_eq!(
            tel_href("(872) 206-2685").as_deref(),
            Some("tel:+1-872-206-2685")
        );
        assert_eq!(
            tel_href("1-773-278-0101").as_deref(),
            Some("tel:+1-773-278-0101")
        );
        assert_eq!(tel_href("n/a"), None);
        assert_eq!(
            tel_href("(312) 744-6836 / 9867/6213").as_deref(),
            Some("tel:+1-312-744-6836")
        );
        assert_eq!(tel_href("744-6836"), None);
        assert!(is_web_address("https://www.25thward.org"));
        assert!(!is_web_address("http://www.ward39@cityofchicago.org"));
        assert!(!is_web_address("www.25thward.org"));
    }

    #[test]
    fn both_real_files_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/wards");
        let now = load_offices(&root.join("ward-offices-2026-02.json"), 50).unwrap();
        assert_eq!(now.len(), 50);
        assert_eq!(now[&20].alderman, "Jeanette B. Taylor");
        assert_eq!(now[&27].alderman, "Walter Burnett Jr.");
        for office in now.values() {
            let name = &office.alderman;
            assert!(
                !name.contains(',') && !name.starts_with("Jr"),
                "ward {}: {name}",
                office.ward
            );
        }
        assert_eq!(
            now[&25].website.as_deref(),
            Some("https://www.25thward.org")
        );
        let old = load_offices(&root.join("ward-offices-2013-cwfy.json"), 50).unwrap();
        assert_eq!(old.len(), 50);
        assert_eq!(old[&1].phone.as_deref(), Some("773-278-0101"));
    }
}

//! Hostile records: markup and quotes in every text field, a 1 MB description, control
//! characters, invalid UTF-8, absurd dates, NaN coordinates, a ward that is not a number, and
//! deeply nested JSON. Nothing executes in a page, nothing panics, each bad record is rejected or
//! cleaned with its reason recorded, and the rest of the run goes on.

mod support;

use rusqlite::Connection;
use support::{Project, live_markup};

fn record(id: &str, extra: &str) -> String {
    format!(
        r#"{{"service_request_id":"{id}","status":"open","service_name":"Pothole in Street","service_code":"4fd3b656e750846c53000004","requested_datetime":"2021-03-08T09:00:00-06:00","updated_datetime":"2021-03-08T09:00:00-06:00","extended_attributes":{{"ward":"3"}}{extra}}}"#
    )
}

#[test]
fn hostile_records_are_contained() {
    let p = Project::new(7, 2);
    let mut lines = vec![
        record("GOOD1", ""),
        // Markup and quotes in the name, address and description.
        record("H1", "").replace(
            r#""service_name":"Pothole in Street","service_code":"4fd3b656e750846c53000004""#,
            r#""service_name":"<script>alert('name')</script> \"Quoted\"","service_code":"X<1>""#,
        ),
        record(
            "H2",
            r#","address":"<img src=x onerror=alert(1)> 1 \"Main\" St","description":"</textarea><script>alert(2)</script>""#,
        ),
        // A 1 MB description and control characters.
        record(
            "H3",
            &format!(r#","description":"{}""#, "A".repeat(1_000_000)),
        ),
        record("H4", r#","address":"12\u0000 W\u0007 Oak\u001b[31m St""#),
        // Absurd dates, NaN coordinates, a ward that is not a number.
        record("H5", "").replace(
            "2021-03-08T09:00:00-06:00\",\"updated",
            "1900-01-01T00:00:00-06:00\",\"updated",
        ),
        record("H6", "").replace(
            "2021-03-08T09:00:00-06:00\",\"updated",
            "9999-12-31T00:00:00-06:00\",\"updated",
        ),
        record("H7", r#","lat":"NaN","long":"-Infinity""#)
            .replace(r#""ward":"3""#, r#""ward":"abc""#),
        // Deeply nested JSON.
        format!(
            r#"{{"service_request_id":"H8","x":{}{}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        ),
        record("GOOD2", ""),
    ];
    lines.push(String::from("{not json at all"));
    p.write("hostile.jsonl", lines.join("\n"));
    // A CSV with invalid UTF-8 in one row.
    let mut csv =
        b"sr_number,sr_type,sr_short_code,status,created_date,ward,latitude,longitude\n".to_vec();
    csv.extend_from_slice(
        b"SRC1,Graffiti Removal Request,GRAF,Open,2021-03-08T10:00:00.000,4,41.8,-87.6\n",
    );
    csv.extend_from_slice(
        b"SRC2,Graffiti \xff\xfe Removal,GRAF,Open,2021-03-08T10:00:00.000,4,41.8,-87.6\n",
    );
    csv.extend_from_slice(
        b"SRC3,Graffiti Removal Request,GRAF,Open,2021-03-09T10:00:00.000,4,NaN,-87.6\n",
    );
    p.write("hostile.csv", csv);

    let stderr = p.ok(&["import", "hostile.jsonl", "hostile.csv"]);
    assert!(
        stderr.contains("hostile.jsonl:6") && stderr.contains("1900"),
        "{stderr}"
    );
    p.ok(&["build", "--as-of", "2021-03-09"]);

    // The good records and the cleaned ones are stored; the bad ones are not.
    let db = Connection::open(p.join("data/store.sqlite")).unwrap();
    let ids: Vec<String> = db
        .prepare("SELECT id FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        ids,
        vec![
            "GOOD1", "GOOD2", "H1", "H2", "H3", "H4", "H7", "SRC1", "SRC3"
        ]
    );
    let description_len: i64 = db
        .query_row(
            "SELECT length(description) FROM requests WHERE id='H3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(description_len, 4000);
    let raw_len: i64 = db
        .query_row("SELECT length(raw) FROM raw_records JOIN requests ON request_key = rowid_key WHERE id='H3'", [], |r| r.get(0))
        .unwrap();
    assert!(raw_len > 1_000_000, "the raw record is kept whole");
    let address: String = db
        .query_row("SELECT address FROM requests WHERE id='H4'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(address, "12 W Oak[31m St");
    let (ward, lat): (Option<i64>, Option<f64>) = db
        .query_row("SELECT ward, lat FROM requests WHERE id='H7'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((ward, lat), (None, None));

    // Every bad or cleaned record has its reason.
    let reasons: Vec<(String, String, String)> = db
        .prepare("SELECT origin, disposition, reason FROM rejected ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let find = |origin_end: &str| {
        reasons
            .iter()
            .find(|(o, _, _)| o.ends_with(origin_end))
            .unwrap_or_else(|| panic!("no reason recorded for {origin_end}: {reasons:?}"))
    };
    assert!(
        find("hostile.jsonl:4")
            .2
            .contains("description: cut from 1000000")
    );
    assert_eq!(find("hostile.jsonl:4").1, "cleaned");
    assert!(find("hostile.jsonl:5").2.contains("control characters"));
    assert_eq!(find("hostile.jsonl:6").1, "rejected");
    assert!(find("hostile.jsonl:7").2.contains("outside the years"));
    assert!(find("hostile.jsonl:8").2.contains("\"abc\""));
    assert!(
        find("hostile.jsonl:9").2.contains("recursion limit"),
        "{:?}",
        find("hostile.jsonl:9")
    );
    assert!(find("hostile.jsonl:11").2.contains("not valid JSON"));
    assert!(find("hostile.csv:3").2.contains("invalid UTF-8"));

    // Nothing executes in any page.
    for entry in walkdir::WalkDir::new(p.join("site")) {
        let entry = entry.unwrap();
        let path = entry.path().to_string_lossy().into_owned();
        if entry.file_type().is_file()
            && (path.ends_with(".html") || path.ends_with(".xml") || path.ends_with(".svg"))
        {
            let live = live_markup(&std::fs::read_to_string(entry.path()).unwrap());
            assert!(!live.contains("<script"), "{path}");
            assert!(!live.contains("<img src=x"), "{path}");
            // Only the embed snippets' own text areas close: no text closes one early.
            assert_eq!(
                live.matches("</textarea").count(),
                live.matches("<textarea").count(),
                "{path}"
            );
        }
    }
    let week = p.read("site/ward/3/week/2021-03-08/index.html");
    assert!(
        week.contains("&lt;script>alert('name')&lt;/script>")
            || week.contains("&lt;script&gt;alert("),
        "{week}"
    );
}

//! A fake Socrata data portal for the integration tests, serving the real v6vf-nfxy day
//! (data/sample/sr-v6vf-nfxy-2021-01-01.csv, converted to SODA JSON: text values, booleans as
//! booleans, empty fields left out as SODA does) through both of Socrata's query APIs:
//!
//! - SODA 2.1: `GET /resource/v6vf-nfxy.json?$where=…&$order=:id&$limit=…&$offset=…`;
//! - SODA 3: `POST /api/v3/views/v6vf-nfxy/query.json` with a JSON body `{"query": "SELECT * WHERE
//!   … ORDER BY :id", "page": {"pageNumber", "pageSize"}, "includeSynthetic": false}`, which
//!   requires an app token (`X-App-Token`), as the portal's documentation says.
//!
//! The conditions understood are the ones cwfy writes: a range on `created_date` or
//! `last_modified_date`, `sr_number = '…'`, or none with `ORDER BY last_modified_date DESC`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::civil::DateTime;
use jiff::{Span, ToSpan};
use serde_json::{Value, json};

use super::http::{Reply, Request, Server};
use super::open311::{Fault, take_fault};

/// The SODA 2.1 resource path.
pub const SODA2: &str = "/resource/v6vf-nfxy.json";
/// The SODA 3 query path.
pub const SODA3: &str = "/api/v3/views/v6vf-nfxy/query.json";

/// The portal.
pub struct Portal {
    /// The rows, in row-id order.
    pub rows: Mutex<Vec<Value>>,
    /// Faults to inject, tried in order.
    pub faults: Mutex<Vec<Fault>>,
    /// The app token the portal accepts.
    pub token: String,
    /// Answer every SODA 3 page with the first page (a server that ignores paging).
    pub ignore_paging: AtomicBool,
}

/// A row's floating timestamp column (`2021-01-01T00:00:09.000`).
fn time_of(row: &Value, column: &str) -> Option<DateTime> {
    row.get(column)?.as_str()?.parse().ok()
}

impl Portal {
    /// The real v6vf-nfxy day of 2021-01-01, accepting `token`.
    pub fn new(token: &str) -> Arc<Portal> {
        let mut reader =
            csv::Reader::from_path(super::sample("sr-v6vf-nfxy-2021-01-01.csv")).unwrap();
        let headers = reader.headers().unwrap().clone();
        let rows = reader
            .records()
            .map(|row| {
                let row = row.unwrap();
                let mut doc = serde_json::Map::new();
                for (name, value) in headers.iter().zip(row.iter()) {
                    if value.is_empty() || name == "location" {
                        continue;
                    }
                    let value = match (name, value) {
                        ("duplicate" | "legacy_record", "True") => json!(true),
                        ("duplicate" | "legacy_record", "False") => json!(false),
                        _ => json!(value),
                    };
                    doc.insert(name.to_string(), value);
                }
                Value::Object(doc)
            })
            .collect();
        Arc::new(Portal {
            rows: Mutex::new(rows),
            faults: Mutex::new(Vec::new()),
            token: token.to_string(),
            ignore_paging: AtomicBool::new(false),
        })
    }

    /// The same rows moved `days` days later (every time column), keeping their times of day:
    /// a current-looking portal for the checks that judge freshness.
    pub fn shifted(self: Arc<Portal>, days: i64) -> Arc<Portal> {
        let span: Span = days.days();
        for row in self.rows.lock().unwrap().iter_mut() {
            for column in ["created_date", "last_modified_date", "closed_date"] {
                if let Some(t) = time_of(row, column) {
                    let moved = t.checked_add(span).unwrap();
                    row[column] = json!(format!("{}.000", moved.strftime("%Y-%m-%dT%H:%M:%S")));
                }
            }
        }
        self
    }

    /// Serves the portal on 127.0.0.1.
    pub fn start(self: &Arc<Portal>) -> Server {
        let portal = self.clone();
        Server::start(move |req| portal.answer(req))
    }

    /// Every row's `sr_number`.
    pub fn ids(&self) -> BTreeSet<String> {
        self.rows
            .lock()
            .unwrap()
            .iter()
            .map(|d| d["sr_number"].as_str().unwrap().to_string())
            .collect()
    }

    /// The answer to one request.
    pub fn answer(&self, req: &Request) -> Reply {
        if let Some(reply) = take_fault(&self.faults, req) {
            return reply;
        }
        let token = req.header("X-App-Token");
        let refused = || {
            Reply::new(
                403,
                "application/json",
                r#"{"code":"permission_denied","error":true,"message":"Invalid app_token"}"#,
            )
        };
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", SODA2) => {
                // SODA 2.1 works without a token; a token sent must be valid.
                if token.is_some_and(|t| t != self.token) {
                    return refused();
                }
                let limit: usize = req.param("$limit").unwrap_or("1000").parse().unwrap();
                let offset: usize = req.param("$offset").unwrap_or("0").parse().unwrap();
                let order = req.param("$order").unwrap_or("");
                assert!(
                    req.param("$where").is_none() || order == ":id",
                    "a filtered SODA 2.1 query must be ordered by :id, got {order:?}"
                );
                let rows = self.select(req.param("$where"), order == "last_modified_date DESC");
                let page: Vec<&Value> = rows.iter().skip(offset).take(limit).collect();
                Reply::json(serde_json::to_string(&page).unwrap())
            }
            ("POST", SODA3) => {
                if token != Some(self.token.as_str()) {
                    return refused();
                }
                let body: Value = match serde_json::from_str(&req.body) {
                    Ok(body) => body,
                    Err(_) => return Reply::status(400),
                };
                let query = body["query"].as_str().unwrap_or("");
                assert_eq!(body["includeSynthetic"], false);
                let rest = query.strip_prefix("SELECT * ").expect(query);
                let (condition, descending) = match rest {
                    "ORDER BY last_modified_date DESC" => (None, true),
                    _ => {
                        let condition = rest
                            .strip_prefix("WHERE ")
                            .and_then(|r| r.strip_suffix(" ORDER BY :id"))
                            .expect(query);
                        (Some(condition), false)
                    }
                };
                let number: usize = body["page"]["pageNumber"].as_u64().unwrap() as usize;
                let size: usize = body["page"]["pageSize"].as_u64().unwrap() as usize;
                let number = if self.ignore_paging.load(Ordering::SeqCst) {
                    1
                } else {
                    number
                };
                let rows = self.select(condition, descending);
                let page: Vec<&Value> = rows.iter().skip((number - 1) * size).take(size).collect();
                Reply::json(serde_json::to_string(&page).unwrap())
            }
            _ => Reply::status(404),
        }
    }

    /// The rows a condition selects, in row-id order (or newest update first).
    fn select(&self, condition: Option<&str>, newest_first: bool) -> Vec<Value> {
        let rows = self.rows.lock().unwrap();
        let mut out: Vec<Value> = match condition {
            None => rows.clone(),
            Some(c) if c.starts_with("sr_number = '") => {
                let id = c["sr_number = '".len()..c.len() - 1].replace("''", "'");
                rows.iter()
                    .filter(|r| r["sr_number"].as_str() == Some(id.as_str()))
                    .cloned()
                    .collect()
            }
            Some(c) => {
                // `col >= 'A' AND col < 'B'`, as cwfy writes it.
                let parts: Vec<&str> = c.split('\'').collect();
                let column = parts[0].split_whitespace().next().unwrap();
                assert!(
                    ["created_date", "last_modified_date"].contains(&column),
                    "{c}"
                );
                let from: DateTime = parts[1].parse().unwrap();
                let to: DateTime = parts[3].parse().unwrap();
                rows.iter()
                    .filter(|r| time_of(r, column).is_some_and(|t| from <= t && t < to))
                    .cloned()
                    .collect()
            }
        };
        if newest_first {
            out.sort_by_key(|r| std::cmp::Reverse(time_of(r, "last_modified_date")));
        }
        out
    }
}

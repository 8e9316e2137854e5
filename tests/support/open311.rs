//! A fake Open311 GeoReport v2 endpoint for the integration tests: `requests.json` paged and
//! filtered on request time (`start_date`/`end_date`) or update time
//! (`updated_after`/`updated_before`) as Chicago's endpoint does, and `services.json` from
//! Chicago's real service list. It serves the real Chicago page of 50 requests
//! (data/sample/open311-requests-2014-page.json) or, with [`Open311::recent`], real records moved
//! to the last weeks (so the nightly job sees a real-shaped, current history), and injects faults.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::http::{Reply, Request, Server};

/// The requests path.
pub const REQUESTS: &str = "/open311/v2/requests.json";
/// The service list path.
pub const SERVICES: &str = "/open311/v2/services.json";

/// A record on the fake server: the document and the times it is filtered on.
pub struct Served {
    /// The record as served.
    pub doc: Value,
    /// Its request time.
    pub requested: Timestamp,
    /// Its update time.
    pub updated: Timestamp,
}

/// A fault: the reply to the next `times` requests that `when` matches.
pub struct Fault {
    /// Which requests it answers.
    pub when: Box<dyn Fn(&Request) -> bool + Send + Sync>,
    /// How many more.
    pub times: usize,
    /// The reply.
    pub reply: Reply,
}

/// The reply of the first fault that matches `req` and has times left, using one of them.
pub fn take_fault(faults: &Mutex<Vec<Fault>>, req: &Request) -> Option<Reply> {
    let mut faults = faults.lock().unwrap();
    let f = faults.iter_mut().find(|f| f.times > 0 && (f.when)(req))?;
    f.times -= 1;
    Some(f.reply.clone())
}

/// An Open311 GeoReport v2 endpoint serving the real Chicago page.
pub struct Open311 {
    /// What requests.json serves.
    pub records: Mutex<Vec<Served>>,
    /// The body of services.json.
    pub services: String,
    /// Faults to inject, tried in order.
    pub faults: Mutex<Vec<Fault>>,
    /// Every requests.json answer waits this long.
    pub delay_ms: AtomicU64,
    /// requests.json answers after this many wait until [`Open311::heal`].
    pub hold_after: AtomicUsize,
    /// requests.json answers so far.
    pub answered: AtomicUsize,
    /// Set by [`Open311::heal`]: held answers go out.
    pub released: AtomicBool,
    /// The `api_key` every request must carry, if any.
    pub api_key: Option<String>,
    /// Service definitions (`services/{code}.json` bodies) by code; services.json says
    /// `metadata: true` for these codes.
    pub definitions: Mutex<std::collections::BTreeMap<String, String>>,
}

/// The real Chicago page of 50 requests.
pub fn chicago_page() -> Vec<Value> {
    serde_json::from_str(
        &std::fs::read_to_string(super::sample("open311-requests-2014-page.json")).unwrap(),
    )
    .unwrap()
}

/// Formats an instant as Chicago's endpoint does: city time with its offset.
pub fn chicago_time(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Real Chicago records moved to recent days: `per_day(k)` requests on the city-local day `k`
/// days before today (k = 1 is yesterday) for k in 1..=days. Each is a record of the real page
/// (taken in turn) with a fresh id (`26-NNNNNNNN`, numbered from `first_id`), its local time of
/// day kept, and its later times (update, notes) moved along but kept within three days of the
/// request and before `now` less an hour, so an increment up to now sees nothing new.
pub fn recent_records(
    now: Timestamp,
    days: i32,
    per_day: impl Fn(i32) -> usize,
    first_id: u64,
) -> Vec<Value> {
    let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
    let page = chicago_page();
    let today = now.to_zoned(tz.clone()).date();
    let latest = now - jiff::SignedDuration::from_hours(1);
    let mut out = Vec::new();
    let mut n = 0usize;
    for k in (1..=days).rev() {
        let day = today - jiff::Span::new().days(k);
        for _ in 0..per_day(k) {
            let mut doc = page[n % page.len()].clone();
            let orig: jiff::Zoned = doc["requested_datetime"]
                .as_str()
                .unwrap()
                .parse::<Timestamp>()
                .unwrap()
                .to_zoned(tz.clone());
            let requested = day
                .to_datetime(orig.time())
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp();
            let move_time = |text: &str| -> String {
                let t: Timestamp = text.parse().unwrap();
                let after = t.duration_since(orig.timestamp()).clamp(
                    jiff::SignedDuration::ZERO,
                    jiff::SignedDuration::from_hours(72),
                );
                chicago_time((requested + after).min(latest).max(requested))
            };
            doc["service_request_id"] = json!(format!("26-{:08}", first_id + n as u64));
            doc["requested_datetime"] = json!(chicago_time(requested));
            if let Some(u) = doc["updated_datetime"].as_str().map(str::to_string) {
                doc["updated_datetime"] = json!(move_time(&u));
            }
            if let Some(notes) = doc.get_mut("notes").and_then(Value::as_array_mut) {
                for note in notes {
                    if let Some(t) = note["datetime"].as_str().map(str::to_string) {
                        note["datetime"] = json!(move_time(&t));
                    }
                }
            }
            out.push(doc);
            n += 1;
        }
    }
    out
}

/// A record as the server holds it, with the times it is filtered on.
pub fn served(doc: Value) -> Served {
    Served {
        requested: doc["requested_datetime"].as_str().unwrap().parse().unwrap(),
        updated: doc["updated_datetime"].as_str().unwrap().parse().unwrap(),
        doc,
    }
}

impl Open311 {
    /// Serves the real Chicago page of 50 requests (of 2014).
    pub fn new(api_key: Option<&str>) -> Arc<Open311> {
        Open311::serving(chicago_page(), api_key)
    }

    /// Serves these records, with Chicago's service list.
    pub fn serving(docs: Vec<Value>, api_key: Option<&str>) -> Arc<Open311> {
        // Chicago's service list, reshaped from {slug, service_code, service_name} to the
        // GeoReport v2 services.json fields it has.
        let list: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(
                super::repo().join("data/services/services-2023-chicagorequests.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let services: Vec<Value> = list
            .iter()
            .map(|s| json!({"service_code": s["service_code"], "service_name": s["service_name"]}))
            .collect();
        Open311::serving_with(docs, serde_json::to_string(&services).unwrap(), api_key)
    }

    /// Serves these records, and `services` as services.json.
    pub fn serving_with(docs: Vec<Value>, services: String, api_key: Option<&str>) -> Arc<Open311> {
        let records = docs.into_iter().map(served).collect();
        Arc::new(Open311 {
            records: Mutex::new(records),
            services,
            faults: Mutex::new(Vec::new()),
            delay_ms: AtomicU64::new(0),
            hold_after: AtomicUsize::new(usize::MAX),
            answered: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            api_key: api_key.map(str::to_string),
            definitions: Mutex::default(),
        })
    }

    /// Starts a loopback server answering as this endpoint.
    pub fn start(self: &Arc<Open311>) -> Server {
        let fake = self.clone();
        Server::start(move |req| fake.answer(req))
    }

    /// Answers the next `times` requests that `when` matches with `reply`.
    pub fn fault(
        &self,
        times: usize,
        when: impl Fn(&Request) -> bool + Send + Sync + 'static,
        reply: Reply,
    ) {
        self.faults.lock().unwrap().push(Fault {
            when: Box::new(when),
            times,
            reply,
        });
    }

    /// Ends every fault, delay and hold.
    pub fn heal(&self) {
        self.faults.lock().unwrap().clear();
        self.delay_ms.store(0, Ordering::SeqCst);
        self.hold_after.store(usize::MAX, Ordering::SeqCst);
        self.released.store(true, Ordering::SeqCst);
    }

    /// The ids of every record served.
    pub fn ids(&self) -> BTreeSet<String> {
        self.ids_requested("1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
    }

    /// Adds a document to the day of `requested` (it need not be a valid request).
    pub fn inject(&self, doc: Value, requested: &str) {
        let t: Timestamp = requested.parse().unwrap();
        self.records.lock().unwrap().push(Served {
            doc,
            requested: t,
            updated: t,
        });
    }

    /// The ids of the valid requests on the server requested in `[from, to)`.
    pub fn ids_requested(&self, from: &str, to: &str) -> BTreeSet<String> {
        let from: Timestamp = from.parse().unwrap();
        let to: Timestamp = to.parse().unwrap();
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.requested >= from && r.requested < to)
            .filter(|r| r.doc.get("service_name").is_some())
            .filter(|r| {
                r.doc["requested_datetime"]
                    .as_str()
                    .is_some_and(|t| t.parse::<Timestamp>().is_ok())
            })
            .filter_map(|r| r.doc.get("service_request_id")?.as_str().map(String::from))
            .collect()
    }

    /// The answer to one request.
    pub fn answer(&self, req: &Request) -> Reply {
        if let Some(reply) = take_fault(&self.faults, req) {
            return reply;
        }
        if let Some(key) = &self.api_key
            && req.param("api_key") != Some(key.as_str())
        {
            return Reply::new(
                403,
                "application/json",
                r#"[{"code":403,"description":"Invalid api_key"}]"#,
            );
        }
        // A copy: the lock is not held while a held answer waits.
        let definitions = self.definitions.lock().unwrap().clone();
        if let Some(code) = req
            .path
            .strip_prefix("/open311/v2/services/")
            .and_then(|rest| rest.strip_suffix(".json"))
        {
            return match definitions.get(code) {
                Some(body) => Reply::json(body.clone()),
                None => Reply::status(404),
            };
        }
        if let Some(id) = req
            .path
            .strip_prefix("/open311/v2/requests/")
            .and_then(|rest| rest.strip_suffix(".json"))
        {
            let records = self.records.lock().unwrap();
            return match records
                .iter()
                .find(|r| r.doc["service_request_id"].as_str() == Some(id))
            {
                Some(r) => Reply::json(serde_json::to_string(&[&r.doc]).unwrap()),
                None => Reply::status(404),
            };
        }
        match req.path.as_str() {
            SERVICES => {
                let mut list: Vec<Value> = serde_json::from_str(&self.services).unwrap();
                for service in &mut list {
                    let code = service["service_code"].as_str().unwrap_or("").to_string();
                    service["metadata"] = json!(definitions.contains_key(&code));
                }
                Reply::json(serde_json::to_string(&list).unwrap())
            }
            REQUESTS => {
                if self.answered.fetch_add(1, Ordering::SeqCst)
                    >= self.hold_after.load(Ordering::SeqCst)
                {
                    while !self.released.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
                self.requests(req).delayed(delay)
            }
            _ => Reply::status(404),
        }
    }

    /// One page of requests.json.
    pub fn requests(&self, req: &Request) -> Reply {
        let bound = |name: &str| req.param(name).and_then(|t| t.parse::<Timestamp>().ok());
        let (by_update, from, to) = match (bound("start_date"), bound("end_date")) {
            (Some(from), Some(to)) => (false, from, to),
            _ => match (bound("updated_after"), bound("updated_before")) {
                (Some(from), Some(to)) => (true, from, to),
                _ => return Reply::status(400),
            },
        };
        let page: usize = req.param("page").unwrap_or("1").parse().unwrap();
        let size: usize = req.param("page_size").unwrap_or("50").parse().unwrap();
        let records = self.records.lock().unwrap();
        let docs: Vec<&Value> = records
            .iter()
            .filter(|r| {
                let t = if by_update { r.updated } else { r.requested };
                from <= t && t < to
            })
            .map(|r| &r.doc)
            .skip((page - 1) * size)
            .take(size)
            .collect();
        Reply::json(serde_json::to_string(&docs).unwrap())
    }
}

//! Every metric (the metrics, docs/ARCHITECTURE.md), computed in one pass over the store into
//! compact structures.
//!
//! The pass turns each counted request into two sort keys — `(service, ward, opened day)` and
//! `(service, ward, closed day)` with its time to close — and sorts them. The sorted runs become
//! [`Cell`]s (one per service × ward × day with any activity) and one flat array of durations
//! grouped the same way, so any window of any service in any ward is a contiguous slice found by
//! binary search. Citywide and per-ward totals are kept as dense day arrays. While sorting, a
//! counted request takes 8 bytes for its open and 16 for its close, in the array of the piece
//! of the store it was read from (pieces are sorted in place and merged, never copied into one);
//! afterwards, at Chicago scale (10 million requests, 200 types, 10 years), about 30 bytes.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::domain::{Day, DayClock, UnixSeconds, WardNo, slugify};
use crate::store::RequestRef;

/// Index of a service in [`Metrics::services`].
pub type ServiceIdx = u16;

/// A service type as the pages know it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Featured in config.
    pub featured: bool,
    /// Codes seen in the data or listed in config, sorted.
    pub codes: Vec<String>,
    /// Names seen in the data, sorted.
    pub source_names: Vec<String>,
    /// Counted requests opened over the whole store.
    pub opened_total: u64,
    /// Closes before the open (excluded from time-to-close).
    pub negative_durations: u64,
}

/// Activity of one service in one ward (0 = unassigned) on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    key: u64,
    /// Requests opened that day.
    pub opened: u32,
    /// Requests closed that day.
    pub closed: u32,
    ttc_start: u32,
    ttc_len: u32,
}

/// Opened requests per (service, ward) on each day of a window: see [`Metrics::opened_by_day`].
#[derive(Debug, Clone)]
pub struct DayWards {
    from: Day,
    wards: WardNo,
    /// Per day of the window: (service, ward 0..=N, opened) with opened > 0, by service then ward.
    by_day: Vec<Vec<(ServiceIdx, WardNo, u32)>>,
}

impl DayWards {
    /// Opened requests of service `s` on `day` in each ward, indexed by ward number (0 =
    /// unassigned, then 1..=N); all zero for a day outside the window.
    pub fn by_ward(&self, s: ServiceIdx, day: Day) -> Vec<u64> {
        let mut counts = vec![0; usize::from(self.wards) + 1];
        let entries = usize::try_from(day.0 - self.from.0)
            .ok()
            .and_then(|i| self.by_day.get(i))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let start = entries.partition_point(|e| e.0 < s);
        for (_, w, n) in entries[start..].iter().take_while(|e| e.0 == s) {
            counts[usize::from(*w)] = u64::from(*n);
        }
        counts
    }
}

impl Cell {
    /// The cell's day.
    pub fn day(&self) -> Day {
        key_day(self.key)
    }
}

fn make_key(service: ServiceIdx, ward: WardNo, day: Day) -> u64 {
    (u64::from(service) << 40) | (u64::from(ward) << 32) | u64::from((day.0 as u32) ^ 0x8000_0000)
}

/// The key with its service index replaced through `remap` (old index → new).
fn remap_service(key: u64, remap: &[ServiceIdx]) -> u64 {
    let s = (key >> 40) as usize;
    (u64::from(remap[s]) << 40) | (key & ((1u64 << 40) - 1))
}

fn key_day(key: u64) -> Day {
    Day(((key as u32) ^ 0x8000_0000) as i32)
}

/// Time to close over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ttc {
    /// Mean days.
    pub mean_days: f64,
    /// Median days.
    pub median_days: f64,
    /// Requests it is taken over.
    pub count: u64,
}

/// Opened, closed and time to close over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WindowStats {
    /// Opened in the window.
    pub opened: u64,
    /// Closed in the window.
    pub closed: u64,
    /// Time to close of those closed (none when nothing closed with a valid duration).
    pub ttc: Option<Ttc>,
}

/// One ward in a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WardRank {
    /// Ward.
    pub ward: WardNo,
    /// 1 = fastest.
    pub rank: usize,
    /// Closed in the window.
    pub closed: u64,
    /// Mean days to close.
    pub ttc_mean_days: f64,
}

/// The ranking of wards by time to close for a service and window (the metrics,
/// docs/ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// `mean − SD` of the wards' closed counts.
    pub threshold: f64,
    /// Closed count a ward needs to be ranked: `min(round(max(threshold, 1)), 10)`.
    pub min_closed: u64,
    /// Ranked wards, fastest first.
    pub ranked: Vec<WardRank>,
}

impl Ranking {
    /// The rank of a ward, if ranked.
    pub fn of(&self, ward: WardNo) -> Option<&WardRank> {
        self.ranked.iter().find(|r| r.ward == ward)
    }
}

/// The baseline of a service on a day: opened per day over the covered days before it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    /// Mean opened per day.
    pub per_day: f64,
    /// Days it is taken over (up to 365).
    pub days: u32,
}

impl Baseline {
    /// `round((count − baseline) / baseline × 100)`; `None` when the baseline is zero.
    pub fn above_average_pct(&self, count: u64) -> Option<i64> {
        (self.per_day > 0.0)
            .then(|| ((count as f64 - self.per_day) / self.per_day * 100.0).round() as i64)
    }
}

/// Store-wide counts the pages report.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    /// Requests read from the store.
    pub requests: u64,
    /// Requests that count (not duplicates, not excluded).
    pub counted: u64,
    /// Duplicates (stored, never counted).
    pub duplicates: u64,
    /// Requests of excluded types.
    pub excluded: u64,
    /// Counted requests with no valid ward.
    pub unassigned: u64,
    /// Closes before the open (excluded from time-to-close).
    pub negative_durations: u64,
    /// Counted requests by where their district came from (`Placement::code` order).
    pub placements: [u64; 8],
}

impl std::ops::AddAssign for Totals {
    /// Adds another piece's counts.
    fn add_assign(&mut self, o: Totals) {
        self.requests += o.requests;
        self.counted += o.counted;
        self.duplicates += o.duplicates;
        self.excluded += o.excluded;
        self.unassigned += o.unassigned;
        self.negative_durations += o.negative_durations;
        for (mine, theirs) in self.placements.iter_mut().zip(o.placements) {
            *mine += theirs;
        }
    }
}

/// All metrics, ready to answer every page.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Services: featured first in config order, then the rest by name.
    pub services: Vec<ServiceInfo>,
    /// Number of wards.
    pub wards: WardNo,
    /// First day with a counted request opened.
    pub first_day: Option<Day>,
    /// Last day with a counted request opened.
    pub last_day: Option<Day>,
    /// Store-wide counts.
    pub totals: Totals,
    span_start: Day,
    span_len: usize,
    /// Per service: citywide opened per day over the span.
    city_opened: Vec<Vec<u32>>,
    /// Per service: citywide closed per day over the span.
    city_closed: Vec<Vec<u32>>,
    /// Per service: prefix sums of `city_opened` (length span + 1).
    city_opened_prefix: Vec<Vec<u64>>,
    /// Per service: open backlog at the end of each day.
    backlog: Vec<Vec<u32>>,
    /// Per ward 0..=N: opened per day, all services.
    ward_opened: Vec<Vec<u32>>,
    /// Per ward 0..=N: closed per day, all services.
    ward_closed: Vec<Vec<u32>>,
    cells: Vec<Cell>,
    /// Per (service, ward 0..=N) pair, at `service × (N + 1) + ward`: where its cells lie in
    /// `cells`. Pages ask for millions of windows; searching one pair's few thousand cells
    /// stays in cache, where searching all the cells missed it at every step.
    pair_cells: Vec<std::ops::Range<usize>>,
    ttc_values: Vec<f32>,
    slug_index: HashMap<String, ServiceIdx>,
    /// Per span day: a digest of everything counted on that day (see [`Metrics::history_digest`]).
    day_digests: Vec<u128>,
    /// Per span day: the digests of every day up to and including it, chained.
    history_digests: Vec<u128>,
}

/// A service code seen with a name, and the service it resolved to (none: excluded).
type CodeResolution = (Option<String>, Option<ServiceIdx>);

/// Assigns a service to each (code, name) the store holds: featured services by their codes and
/// names, excluded types to nothing, every other type by its name's slug.
struct Resolver {
    featured_by_code: HashMap<String, ServiceIdx>,
    featured_by_name: HashMap<String, ServiceIdx>,
    excluded: Vec<String>,
    services: Vec<ServiceInfo>,
    by_slug: HashMap<String, ServiceIdx>,
    /// Name → (code, resolution) pairs seen with that name.
    memo: HashMap<String, Vec<CodeResolution>>,
    /// By the store's number for a (code, name) pair: its resolution, once made.
    by_key: Vec<Option<Option<ServiceIdx>>>,
}

impl Resolver {
    fn new(config: &Config) -> Resolver {
        let mut r = Resolver {
            featured_by_code: HashMap::new(),
            featured_by_name: HashMap::new(),
            excluded: config
                .services
                .excluded
                .iter()
                .map(|s| s.trim().to_lowercase())
                .collect(),
            services: Vec::new(),
            by_slug: HashMap::new(),
            memo: HashMap::new(),
            by_key: Vec::new(),
        };
        for f in &config.services.featured {
            let idx = r.services.len() as ServiceIdx;
            r.services.push(ServiceInfo {
                slug: f.slug.0.clone(),
                name: f.name.clone(),
                featured: true,
                codes: f.codes.clone(),
                source_names: Vec::new(),
                opened_total: 0,
                negative_durations: 0,
            });
            r.by_slug.insert(f.slug.0.clone(), idx);
            for c in &f.codes {
                r.featured_by_code.insert(c.trim().to_lowercase(), idx);
            }
            for n in &f.names {
                r.featured_by_name.insert(n.trim().to_lowercase(), idx);
            }
        }
        r
    }

    fn resolve(&mut self, code: Option<&str>, name: &str) -> Option<ServiceIdx> {
        // The memo turns 10 million lookups into a few hundred resolutions; it is keyed by name
        // first so that a hit allocates nothing.
        if let Some(hit) = self
            .memo
            .get(name)
            .and_then(|codes| codes.iter().find(|(c, _)| c.as_deref() == code))
        {
            return hit.1;
        }
        let result = self.resolve_uncached(code, name);
        self.memo
            .entry(name.to_string())
            .or_default()
            .push((code.map(str::to_string), result));
        result
    }

    /// [`Resolver::resolve`] for a pair the store numbered `key`: an index instead of a hash of
    /// the name on every request.
    fn resolve_keyed(&mut self, key: u32, code: Option<&str>, name: &str) -> Option<ServiceIdx> {
        let i = key as usize;
        if let Some(Some(hit)) = self.by_key.get(i) {
            return *hit;
        }
        let result = self.resolve(code, name);
        // The store numbers pairs from 1 up; far larger numbers are left to the name's memo.
        if i < 1 << 20 {
            if self.by_key.len() <= i {
                self.by_key.resize(i + 1, None);
            }
            self.by_key[i] = Some(result);
        }
        result
    }

    fn resolve_uncached(&mut self, code: Option<&str>, name: &str) -> Option<ServiceIdx> {
        let code_l = code.map(|c| c.trim().to_lowercase());
        let name_l = name.trim().to_lowercase();
        if self
            .excluded
            .iter()
            .any(|x| *x == name_l || Some(x) == code_l.as_ref())
        {
            return None;
        }
        let idx = code_l
            .as_ref()
            .and_then(|c| self.featured_by_code.get(c))
            .or_else(|| self.featured_by_name.get(&name_l))
            .copied();
        let idx = match idx {
            Some(i) => i,
            None => {
                let slug = slugify(name);
                match self.by_slug.get(&slug) {
                    Some(i) => *i,
                    None => {
                        let i = self.services.len() as ServiceIdx;
                        self.services.push(ServiceInfo {
                            slug: slug.clone(),
                            name: name.trim().to_string(),
                            featured: false,
                            codes: Vec::new(),
                            source_names: Vec::new(),
                            opened_total: 0,
                            negative_durations: 0,
                        });
                        self.by_slug.insert(slug, i);
                        i
                    }
                }
            }
        };
        let info = &mut self.services[idx as usize];
        if let Some(c) = code
            && !info.codes.iter().any(|x| x == c)
        {
            info.codes.push(c.to_string());
        }
        if !info.source_names.iter().any(|x| x == name) {
            info.source_names.push(name.to_string());
        }
        Some(idx)
    }
}

/// A counted request reduced to what the metrics need.
#[derive(Clone, Copy)]
struct Event {
    key: u64,
    ttc: f32,
}

/// Accumulates requests; [`Builder::finish`] produces the [`Metrics`].
pub struct Builder {
    resolver: Resolver,
    opened: Vec<u64>,
    closed: Vec<Event>,
    totals: Totals,
    wards: WardNo,
    /// Per service, negative durations.
    negative: HashMap<ServiceIdx, u64>,
    /// Closes on a day before their open's, as (service, close day, open day): the backlog
    /// counts them on the open day (see [`Builder::finish_all`]). Rare, so kept apart rather
    /// than noting an open and a close day for every request.
    early_closes: Vec<(ServiceIdx, i32, i32)>,
    /// Smallest and largest day of any open or close added (`i32::MAX`, `i32::MIN` when none).
    day_lo: i32,
    day_hi: i32,
    /// Instants to city-local days (two per request).
    clock: DayClock,
}

impl Builder {
    /// A builder for the config's services, wards and time zone.
    pub fn new(config: &Config) -> Builder {
        Builder {
            resolver: Resolver::new(config),
            opened: Vec::new(),
            closed: Vec::new(),
            totals: Totals::default(),
            wards: config.ward_count(),
            negative: HashMap::new(),
            early_closes: Vec::new(),
            day_lo: i32::MAX,
            day_hi: i32::MIN,
            clock: DayClock::new(config.tz()),
        }
    }

    /// Makes room for `requests` more requests, so that adding them never moves what was added.
    pub fn reserve(&mut self, requests: usize) {
        self.opened.reserve(requests);
        self.closed.reserve(requests);
    }

    /// Adds one stored request.
    pub fn add(&mut self, r: RequestRef<'_>) {
        self.totals.requests += 1;
        if r.duplicate {
            self.totals.duplicates += 1;
            return;
        }
        let service = match r.service_key {
            Some(key) => self
                .resolver
                .resolve_keyed(key, r.service_code, r.service_name),
            None => self.resolver.resolve(r.service_code, r.service_name),
        };
        let Some(service) = service else {
            self.totals.excluded += 1;
            return;
        };
        self.totals.counted += 1;
        self.totals.placements[usize::from(r.placement.code())] += 1;
        let ward = r.ward.filter(|w| (1..=self.wards).contains(w)).unwrap_or(0);
        if ward == 0 {
            self.totals.unassigned += 1;
        }
        let opened_day = self.clock.day(r.requested_at);
        self.opened.push(make_key(service, ward, opened_day));
        self.day_lo = self.day_lo.min(opened_day.0);
        self.day_hi = self.day_hi.max(opened_day.0);
        if let Some(closed_at) = r.closed_at {
            let closed_day = self.clock.day(closed_at);
            let seconds: UnixSeconds = closed_at - r.requested_at;
            let ttc = if seconds < 0 {
                self.totals.negative_durations += 1;
                *self.negative.entry(service).or_insert(0) += 1;
                f32::NAN
            } else {
                (seconds as f64 / 86_400.0) as f32
            };
            self.closed.push(Event {
                key: make_key(service, ward, closed_day),
                ttc,
            });
            self.day_lo = self.day_lo.min(closed_day.0);
            self.day_hi = self.day_hi.max(closed_day.0);
            if closed_day < opened_day {
                self.early_closes
                    .push((service, closed_day.0, opened_day.0));
            }
        }
    }

    /// The index, among this builder's services, of each service `other` resolved. Every
    /// (code, name) `other` saw is resolved here too, in a fixed order, so that a service new to
    /// this builder is numbered the same way however the store was split.
    fn map_services_of(&mut self, other: &Builder) -> Vec<ServiceIdx> {
        let mut seen: Vec<(ServiceIdx, &String, &Option<String>)> = other
            .resolver
            .memo
            .iter()
            .flat_map(|(name, codes)| {
                codes
                    .iter()
                    .filter_map(move |(code, idx)| idx.map(|i| (i, name, code)))
            })
            .collect();
        seen.sort();
        let mut to_ours = vec![0 as ServiceIdx; other.resolver.services.len()];
        for (theirs, name, code) in seen {
            if let Some(ours) = self.resolver.resolve(code.as_deref(), name) {
                to_ours[usize::from(theirs)] = ours;
            }
        }
        to_ours
    }

    /// Sorts and compacts what `first` and `rest` (one builder per piece of the store)
    /// accumulated into [`Metrics`]. Each piece's keys stay where its builder wrote them: they
    /// are renumbered and sorted in place, the pieces at once, and merged while the cells are
    /// made. Copying them into one array first touched as much fresh memory again, and
    /// the kernel's zeroing of fresh pages was the largest cost of the aggregation.
    fn finish_all(mut first: Builder, rest: Vec<Builder>) -> Metrics {
        // Per piece: its services' indices among the first builder's, its opens and closes.
        let mut runs = Vec::with_capacity(1 + rest.len());
        let mut totals = first.totals;
        for other in rest {
            let to_first = first.map_services_of(&other);
            let Builder {
                opened,
                closed,
                totals: o,
                negative,
                early_closes,
                day_lo,
                day_hi,
                ..
            } = other;
            for (s, n) in negative {
                *first.negative.entry(to_first[usize::from(s)]).or_insert(0) += n;
            }
            first.early_closes.extend(
                early_closes
                    .into_iter()
                    .map(|(s, close, open)| (to_first[usize::from(s)], close, open)),
            );
            first.day_lo = first.day_lo.min(day_lo);
            first.day_hi = first.day_hi.max(day_hi);
            totals += o;
            runs.push((to_first, opened, closed));
        }
        let Builder {
            resolver,
            opened,
            closed,
            totals: _,
            wards,
            negative,
            early_closes,
            day_lo,
            day_hi,
            clock: _,
        } = first;
        let own: Vec<ServiceIdx> = (0..resolver.services.len() as ServiceIdx).collect();
        runs.insert(0, (own, opened, closed));

        let (mut services, remap) = order_services(resolver.services, &negative);
        let remap = &remap;
        runs.par_iter_mut().for_each(|(to_first, opened, closed)| {
            let to_final: Vec<ServiceIdx> =
                to_first.iter().map(|i| remap[usize::from(*i)]).collect();
            let to_final = &to_final;
            rayon::join(
                || {
                    opened
                        .iter_mut()
                        .for_each(|k| *k = remap_service(*k, to_final));
                    opened.par_sort_unstable();
                },
                || {
                    closed
                        .iter_mut()
                        .for_each(|e| e.key = remap_service(e.key, to_final));
                    closed.par_sort_unstable_by_key(|e| e.key);
                },
            );
        });

        // Day span covering every open and close.
        let (span_start, span_len) = if day_lo <= day_hi {
            (Day(day_lo), (day_hi - day_lo + 1) as usize)
        } else {
            (Day(0), 0)
        };

        let n_services = services.len();
        let n_wards = usize::from(wards) + 1;
        let mut city_opened = vec![vec![0u32; span_len]; n_services];
        let mut city_closed = vec![vec![0u32; span_len]; n_services];
        let mut ward_opened = vec![vec![0u32; span_len]; n_wards];
        let mut ward_closed = vec![vec![0u32; span_len]; n_wards];

        // Merge the pieces' sorted runs into cells. There is at most a cell per open and per
        // close; the pages of the room not used are never touched.
        let opened_count: usize = runs.iter().map(|r| r.1.len()).sum();
        let closed_count: usize = runs.iter().map(|r| r.2.len()).sum();
        let mut cells: Vec<Cell> = Vec::with_capacity(opened_count + closed_count);
        let mut ttc_values: Vec<f32> = Vec::with_capacity(closed_count);
        let mut opened_runs: Vec<&[u64]> = runs.iter().map(|r| r.1.as_slice()).collect();
        let mut closed_runs: Vec<&[Event]> = runs.iter().map(|r| r.2.as_slice()).collect();
        loop {
            let next_opened = opened_runs.iter().filter_map(|r| r.first()).min();
            let next_closed = closed_runs.iter().filter_map(|r| r.first()).map(|e| e.key);
            let Some(key) = next_opened.copied().into_iter().chain(next_closed).min() else {
                break;
            };
            let mut cell = Cell {
                key,
                opened: 0,
                closed: 0,
                ttc_start: ttc_values.len() as u32,
                ttc_len: 0,
            };
            for run in &mut opened_runs {
                let n = run.iter().take_while(|k| **k == key).count();
                cell.opened += n as u32;
                *run = &run[n..];
            }
            for run in &mut closed_runs {
                let n = run.iter().take_while(|e| e.key == key).count();
                for e in &run[..n] {
                    if !e.ttc.is_nan() {
                        ttc_values.push(e.ttc);
                        cell.ttc_len += 1;
                    }
                }
                cell.closed += n as u32;
                *run = &run[n..];
            }
            let service = (key >> 40) as usize;
            let ward = ((key >> 32) & 0xff) as usize;
            let d = (key_day(key).0 - span_start.0) as usize;
            city_opened[service][d] += cell.opened;
            city_closed[service][d] += cell.closed;
            ward_opened[ward][d] += cell.opened;
            ward_closed[ward][d] += cell.closed;
            services[service].opened_total += u64::from(cell.opened);
            cells.push(cell);
        }
        drop(runs);

        let opened_on = |d: &usize| ward_opened.iter().any(|w| w[*d] > 0);
        let first_day = (0..span_len)
            .find(opened_on)
            .map(|d| span_start.plus(d as i32));
        let last_day = (0..span_len)
            .rev()
            .find(opened_on)
            .map(|d| span_start.plus(d as i32));

        let city_opened_prefix = city_opened.iter().map(|days| prefix_sums(days)).collect();
        let early_closes = early_closes
            .into_iter()
            .map(|(service, close, open)| (remap[usize::from(service)], close, open));
        let backlog = backlog(&city_opened, &city_closed, early_closes, span_start);

        let slug_index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.slug.clone(), i as ServiceIdx))
            .collect();
        let day_digests = day_digests(&cells, &ttc_values, &backlog, span_start, span_len);
        let history_digests = day_digests
            .iter()
            .scan(0u128, |chain, d| {
                *chain = chain_digest(*chain, *d);
                Some(*chain)
            })
            .collect();
        let pair_cells = pair_cells(&cells, services.len(), wards);
        Metrics {
            services,
            wards,
            first_day,
            last_day,
            totals,
            span_start,
            span_len,
            city_opened,
            city_closed,
            city_opened_prefix,
            backlog,
            ward_opened,
            ward_closed,
            cells,
            pair_cells,
            ttc_values,
            slug_index,
            day_digests,
            history_digests,
        }
    }
}

/// The services in their final order, featured first (config order), then the rest by name,
/// each with its closes before the open (`negative`, by first-builder index) and its codes and
/// names sorted; and each first-builder index's place in that order.
fn order_services(
    services: Vec<ServiceInfo>,
    negative: &HashMap<ServiceIdx, u64>,
) -> (Vec<ServiceInfo>, Vec<ServiceIdx>) {
    let featured_count = services.iter().filter(|s| s.featured).count();
    let mut order: Vec<usize> = (0..services.len()).collect();
    order[featured_count..].sort_by(|a, b| {
        services[*a]
            .name
            .to_lowercase()
            .cmp(&services[*b].name.to_lowercase())
    });
    let mut remap = vec![0 as ServiceIdx; services.len()];
    for (new, old) in order.iter().enumerate() {
        remap[*old] = new as ServiceIdx;
    }
    let mut services = services;
    for (old, n) in negative {
        services[*old as usize].negative_durations = *n;
    }
    let mut reordered: Vec<ServiceInfo> = order.iter().map(|i| services[*i].clone()).collect();
    for s in &mut reordered {
        s.codes.sort();
        s.source_names.sort();
    }
    (reordered, remap)
}

/// Running totals of daily counts, starting at 0: `p[d + 1] - p[a]` is days `a..=d`.
fn prefix_sums(days: &[u32]) -> Vec<u64> {
    let mut p = Vec::with_capacity(days.len() + 1);
    p.push(0u64);
    let mut sum = 0u64;
    for d in days {
        sum += u64::from(*d);
        p.push(sum);
    }
    p
}

/// Each service's open requests at the end of each day: +1 on the open day, −1 on the close
/// day, never before the open: a close on an earlier day (`early_closes`: service, close day,
/// open day) counts on the open day.
fn backlog(
    city_opened: &[Vec<u32>],
    city_closed: &[Vec<u32>],
    early_closes: impl Iterator<Item = (ServiceIdx, i32, i32)>,
    span_start: Day,
) -> Vec<Vec<u32>> {
    let mut delta: Vec<Vec<i64>> = city_opened
        .iter()
        .zip(city_closed)
        .map(|(opened, closed)| {
            opened
                .iter()
                .zip(closed)
                .map(|(o, c)| i64::from(*o) - i64::from(*c))
                .collect()
        })
        .collect();
    for (service, close, open) in early_closes {
        let s = usize::from(service);
        delta[s][(close - span_start.0) as usize] += 1;
        delta[s][(open - span_start.0) as usize] -= 1;
    }
    delta
        .into_iter()
        .map(|d| {
            let mut run = 0i64;
            d.into_iter()
                .map(|x| {
                    run += x;
                    run.max(0) as u32
                })
                .collect()
        })
        .collect()
}

/// Where each (service, ward) pair's cells are in the sorted cells.
fn pair_cells(cells: &[Cell], services: usize, wards: WardNo) -> Vec<std::ops::Range<usize>> {
    (0..services as ServiceIdx)
        .flat_map(|s| (0..=wards).map(move |w| (s, w)))
        .map(|(s, w)| {
            let lo = make_key(s, w, Day(i32::MIN));
            let hi = make_key(s, w, Day(i32::MAX));
            cells.partition_point(|c| c.key < lo)..cells.partition_point(|c| c.key <= hi)
        })
        .collect()
}

/// SplitMix64's finaliser: a fast, well-spread 64-bit mix (change detection, not security).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 128-bit digest of `value` folded into `state` (two independent 64-bit lanes).
fn fold128(state: u128, value: u64) -> u128 {
    let (a, b) = ((state >> 64) as u64, state as u64);
    let a = mix64(a ^ value);
    let b = mix64(b.rotate_left(17) ^ value ^ 0x6a09_e667_f3bc_c908);
    (u128::from(a) << 64) | u128::from(b)
}

fn chain_digest(chain: u128, day: u128) -> u128 {
    fold128(fold128(chain, (day >> 64) as u64), day as u64)
}

/// A cell's digest: its service, ward, day, counts and times to close.
fn cell_digest(cell: &Cell, ttc_values: &[f32]) -> u128 {
    let h = fold128(
        fold128(0, cell.key),
        (u64::from(cell.opened) << 32) | u64::from(cell.closed),
    );
    // Summed: the order of a cell's times to close depends on how the store was read.
    let start = cell.ttc_start as usize;
    let ttc = ttc_values[start..start + cell.ttc_len as usize]
        .iter()
        .fold(0u128, |sum, v| {
            sum.wrapping_add(fold128(h, u64::from(v.to_bits())))
        });
    h.wrapping_add(ttc)
}

/// Each span day's digest: every cell of the day (its service, ward, counts and each time to
/// close) and each service's backlog that evening. Cells and times are summed, so their order
/// does not matter; a change to any figure of a day changes that day's digest.
fn day_digests(
    cells: &[Cell],
    ttc_values: &[f32],
    backlog: &[Vec<u32>],
    span_start: Day,
    span_len: usize,
) -> Vec<u128> {
    let mut digests = vec![0u128; span_len];
    for cell in cells {
        let i = (cell.day().0 - span_start.0) as usize;
        let Some(slot) = digests.get_mut(i) else {
            continue;
        };
        *slot = slot.wrapping_add(cell_digest(cell, ttc_values));
    }
    for (s, days) in backlog.iter().enumerate() {
        for (slot, open) in digests.iter_mut().zip(days) {
            *slot = slot.wrapping_add(fold128(s as u128, u64::from(*open)));
        }
    }
    digests
}

fn ttc_of(values: &mut [f32]) -> Option<Ttc> {
    if values.is_empty() {
        return None;
    }
    let count = values.len();
    // Sorted before summing, so the mean does not depend on the order the store was read in.
    values.sort_unstable_by(|a, b| a.total_cmp(b));
    let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / count as f64;
    let median = if count % 2 == 1 {
        f64::from(values[count / 2])
    } else {
        (f64::from(values[count / 2 - 1]) + f64::from(values[count / 2])) / 2.0
    };
    Some(Ttc {
        mean_days: mean,
        median_days: median,
        count: count as u64,
    })
}

impl Metrics {
    /// Builds the metrics from every request `scan` yields.
    pub fn build(config: &Config, scan: impl FnOnce(&mut dyn FnMut(RequestRef<'_>))) -> Metrics {
        let mut builder = Builder::new(config);
        scan(&mut |r| builder.add(r));
        Builder::finish_all(builder, Vec::new())
    }

    /// Like [`Metrics::build`] with the store read in `parts` pieces at once: `scan` gets one
    /// [`Builder`] per piece and feeds each from its own thread. The result does not depend on
    /// how the requests were split.
    pub fn build_in_parts(
        config: &Config,
        parts: usize,
        scan: impl FnOnce(&mut [Builder]),
    ) -> Metrics {
        let mut builders: Vec<Builder> = (0..parts.max(1)).map(|_| Builder::new(config)).collect();
        scan(&mut builders);
        let mut rest = builders.into_iter();
        let first = rest.next().unwrap_or_else(|| Builder::new(config));
        Builder::finish_all(first, rest.collect())
    }

    /// A digest of every figure of every day up to and including `through`: a page drawn only
    /// from those days (a past day with its baselines and backlog, a past week) can be kept as it
    /// is while this digest stays the same.
    pub fn history_digest(&self, through: Day) -> u128 {
        if self.span_len == 0 || through < self.span_start {
            return 0;
        }
        let i = ((through.0 - self.span_start.0) as usize).min(self.span_len - 1);
        self.history_digests[i]
    }

    /// A digest of every figure of the days `[from, to]` alone (all services and wards).
    pub fn window_digest(&self, from: Day, to: Day) -> u128 {
        match self.span_range(from, to) {
            Some((a, b)) => self.day_digests[a..=b]
                .iter()
                .fold(fold128(0, (b - a) as u64), |chain, d| {
                    chain_digest(chain, *d)
                }),
            None => 0,
        }
    }

    /// A digest of one service's figures in one ward (0: unassigned) on every day up to and
    /// including `through`.
    pub fn ward_history_digest(&self, s: ServiceIdx, ward: WardNo, through: Day) -> u128 {
        self.cells(s, ward, Day(i32::MIN + 1), through)
            .iter()
            .fold(0u128, |chain, cell| {
                chain_digest(chain, cell_digest(cell, &self.ttc_values))
            })
    }

    /// A service's index by slug.
    pub fn service(&self, slug: &str) -> Option<ServiceIdx> {
        self.slug_index.get(slug).copied()
    }

    /// The service's info.
    pub fn info(&self, s: ServiceIdx) -> &ServiceInfo {
        &self.services[s as usize]
    }

    /// Service indices: featured first.
    pub fn service_ids(&self) -> impl Iterator<Item = ServiceIdx> + '_ {
        (0..self.services.len()).map(|i| i as ServiceIdx)
    }

    fn span_index(&self, day: Day) -> Option<usize> {
        let i = day.0 - self.span_start.0;
        (i >= 0 && (i as usize) < self.span_len).then_some(i as usize)
    }

    /// Clamps `[from, to]` to the span; `None` when it does not overlap.
    fn span_range(&self, from: Day, to: Day) -> Option<(usize, usize)> {
        if self.span_len == 0 || to < from {
            return None;
        }
        let lo = (from.0 - self.span_start.0).max(0);
        let hi = (to.0 - self.span_start.0).min(self.span_len as i32 - 1);
        (lo <= hi).then_some((lo as usize, hi as usize))
    }

    fn sum(days: &[u32], range: Option<(usize, usize)>) -> u64 {
        range
            .map(|(a, b)| days[a..=b].iter().map(|v| u64::from(*v)).sum())
            .unwrap_or(0)
    }

    /// Citywide opened of a service on a day (unassigned included).
    pub fn city_opened(&self, s: ServiceIdx, day: Day) -> u64 {
        self.span_index(day)
            .map(|i| u64::from(self.city_opened[s as usize][i]))
            .unwrap_or(0)
    }

    /// Citywide opened and closed of a service over `[from, to]`.
    pub fn city_counts(&self, s: ServiceIdx, from: Day, to: Day) -> (u64, u64) {
        let r = self.span_range(from, to);
        (
            Self::sum(&self.city_opened[s as usize], r),
            Self::sum(&self.city_closed[s as usize], r),
        )
    }

    /// A ward's (0 = unassigned) opened and closed over all services, per day of `[from, to]`.
    pub fn ward_days(&self, ward: WardNo, from: Day, to: Day) -> Vec<(Day, u64, u64)> {
        let w = usize::from(ward);
        (from.0..=to.0)
            .map(|d| {
                let day = Day(d);
                match self.span_index(day) {
                    Some(i) => (
                        day,
                        u64::from(self.ward_opened[w][i]),
                        u64::from(self.ward_closed[w][i]),
                    ),
                    None => (day, 0, 0),
                }
            })
            .collect()
    }

    /// Days of `[from, to]` on which a counted request was opened (any service, any ward),
    /// oldest first: the days that have data.
    pub fn days_with_opened(&self, from: Day, to: Day) -> Vec<Day> {
        let Some((a, b)) = self.span_range(from, to) else {
            return Vec::new();
        };
        (a..=b)
            .filter(|i| self.ward_opened.iter().any(|w| w[*i] > 0))
            .map(|i| Day(self.span_start.0 + i as i32))
            .collect()
    }

    /// Mondays of the weeks in which a ward (0 = unassigned) had a request opened or closed,
    /// over the days `[from, to]`, oldest first.
    pub fn ward_active_weeks(&self, ward: WardNo, from: Day, to: Day) -> Vec<Day> {
        let w = usize::from(ward);
        match (self.ward_opened.get(w), self.ward_closed.get(w)) {
            (Some(opened), Some(closed)) => self.active_weeks(opened, closed, from, to),
            _ => Vec::new(),
        }
    }

    /// Mondays of the weeks in which a service had a request opened or closed anywhere, over
    /// the days `[from, to]`, oldest first.
    pub fn service_active_weeks(&self, s: ServiceIdx, from: Day, to: Day) -> Vec<Day> {
        let s = usize::from(s);
        self.active_weeks(&self.city_opened[s], &self.city_closed[s], from, to)
    }

    fn active_weeks(&self, opened: &[u32], closed: &[u32], from: Day, to: Day) -> Vec<Day> {
        let mut weeks: Vec<Day> = Vec::new();
        if let Some((a, b)) = self.span_range(from, to) {
            for i in (a..=b).filter(|i| opened[*i] > 0 || closed[*i] > 0) {
                let monday = Day(self.span_start.0 + i as i32).week_start();
                if weeks.last() != Some(&monday) {
                    weeks.push(monday);
                }
            }
        }
        weeks
    }

    /// The cells of a service in a ward over `[from, to]`.
    pub fn cells(&self, s: ServiceIdx, ward: WardNo, from: Day, to: Day) -> &[Cell] {
        let pair = if ward <= self.wards {
            self.pair_cells
                .get(usize::from(s) * (usize::from(self.wards) + 1) + usize::from(ward))
        } else {
            None
        };
        let Some(pair) = pair else {
            return &[];
        };
        let cells = &self.cells[pair.clone()];
        let lo = make_key(s, ward, from);
        let hi = make_key(s, ward, to);
        let a = cells.partition_point(|c| c.key < lo);
        let b = cells.partition_point(|c| c.key <= hi);
        &cells[a..b.max(a)]
    }

    /// Requests of a service opened in one ward (0 = unassigned) on each day of `[from, to]`,
    /// oldest first: one search of the pair's cells instead of one per day.
    pub fn ward_opened_daily(&self, s: ServiceIdx, ward: WardNo, from: Day, to: Day) -> Vec<u64> {
        let mut daily = vec![0; usize::try_from(to.0 - from.0 + 1).unwrap_or(0)];
        for c in self.cells(s, ward, from, to) {
            daily[(c.day().0 - from.0) as usize] = u64::from(c.opened);
        }
        daily
    }

    /// Every service's opened requests per ward on each day of `[from, to]`, laid out day by day.
    ///
    /// The day pages ask each day for every ward of every service; asked pair by pair, each of
    /// those millions of lookups searched a different pair's cells and missed the cache. One pass
    /// over the pairs here puts a day's counts together.
    pub fn opened_by_day(&self, from: Day, to: Day) -> DayWards {
        let days = usize::try_from(to.0 - from.0 + 1).unwrap_or(0);
        let mut by_day = vec![Vec::new(); days];
        for s in self.service_ids() {
            for w in 0..=self.wards {
                for c in self.cells(s, w, from, to) {
                    if c.opened > 0 {
                        by_day[(c.day().0 - from.0) as usize].push((s, w, c.opened));
                    }
                }
            }
        }
        DayWards {
            from,
            wards: self.wards,
            by_day,
        }
    }

    /// Opened, closed and time to close of a service in one ward (0 = unassigned) over a window.
    pub fn ward_window(&self, s: ServiceIdx, ward: WardNo, from: Day, to: Day) -> WindowStats {
        self.window_over(s, std::iter::once(ward), from, to)
    }

    /// The same, citywide (every ward and the unassigned).
    pub fn city_window(&self, s: ServiceIdx, from: Day, to: Day) -> WindowStats {
        self.window_over(s, 0..=self.wards, from, to)
    }

    fn window_over(
        &self,
        s: ServiceIdx,
        wards: impl Iterator<Item = WardNo>,
        from: Day,
        to: Day,
    ) -> WindowStats {
        let mut stats = WindowStats::default();
        let mut values = Vec::new();
        for w in wards {
            for c in self.cells(s, w, from, to) {
                stats.opened += u64::from(c.opened);
                stats.closed += u64::from(c.closed);
                values.extend_from_slice(
                    &self.ttc_values[c.ttc_start as usize..(c.ttc_start + c.ttc_len) as usize],
                );
            }
        }
        stats.ttc = ttc_of(&mut values);
        stats
    }

    /// The ranking of wards 1..N by time to close for a service over a window (the metrics,
    /// docs/ARCHITECTURE.md).
    pub fn ranking(&self, s: ServiceIdx, from: Day, to: Day) -> Ranking {
        let stats: Vec<(WardNo, WindowStats)> = (1..=self.wards)
            .map(|w| (w, self.ward_window(s, w, from, to)))
            .collect();
        self.ranking_from(&stats)
    }

    /// Ranking from per-ward stats already computed (wards 1..N, in order).
    pub fn ranking_from(&self, stats: &[(WardNo, WindowStats)]) -> Ranking {
        let n = stats.len().max(1) as f64;
        let mean = stats.iter().map(|(_, s)| s.closed as f64).sum::<f64>() / n;
        let var = stats
            .iter()
            .map(|(_, s)| (s.closed as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let threshold = mean - var.sqrt();
        let min_closed = (threshold.max(1.0).round() as u64).min(10);
        let mut ranked: Vec<WardRank> = stats
            .iter()
            .filter(|(_, s)| s.closed >= min_closed)
            .filter_map(|(w, s)| {
                s.ttc.map(|t| WardRank {
                    ward: *w,
                    rank: 0,
                    closed: s.closed,
                    ttc_mean_days: t.mean_days,
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            a.ttc_mean_days
                .total_cmp(&b.ttc_mean_days)
                .then(a.ward.cmp(&b.ward))
        });
        for (i, r) in ranked.iter_mut().enumerate() {
            r.rank = i + 1;
        }
        Ranking {
            threshold,
            min_closed,
            ranked,
        }
    }

    /// The baseline of a service for `day`: opened per day over the up to 365 days before it that
    /// the store covers (from its first day). `None` when no day before `day` is covered.
    pub fn baseline(&self, s: ServiceIdx, day: Day) -> Option<Baseline> {
        let first = self.first_day?;
        let from = day.plus(-365).max(first);
        let to = day.plus(-1);
        if to < from {
            return None;
        }
        let days = (to.0 - from.0 + 1) as u32;
        let total = match self.span_range(from, to) {
            Some((a, b)) => {
                self.city_opened_prefix[s as usize][b + 1] - self.city_opened_prefix[s as usize][a]
            }
            None => 0,
        };
        Some(Baseline {
            per_day: total as f64 / f64::from(days),
            days,
        })
    }

    /// The 6 days with the most opened requests of a service in a ward, over the whole store
    /// (ties: most recent first).
    pub fn highs(&self, s: ServiceIdx, ward: WardNo) -> Vec<(Day, u64)> {
        self.highs_through(s, ward, Day(i32::MAX - 1))
    }

    /// [`Metrics::highs`] over the days up to and including `through`.
    pub fn highs_through(&self, s: ServiceIdx, ward: WardNo, through: Day) -> Vec<(Day, u64)> {
        let all = self.cells(s, ward, Day(i32::MIN + 1), through);
        let mut days: Vec<(Day, u64)> = all
            .iter()
            .filter(|c| c.opened > 0)
            .map(|c| (c.day(), u64::from(c.opened)))
            .collect();
        days.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        days.truncate(6);
        days
    }

    /// The days with the most requests (all services) in a ward over the whole store.
    pub fn ward_busiest_days(&self, ward: WardNo, n: usize) -> Vec<(Day, u64)> {
        let Some(series) = self.ward_opened.get(usize::from(ward)) else {
            return Vec::new();
        };
        let mut days: Vec<(Day, u64)> = series
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .map(|(i, v)| (self.span_start.plus(i as i32), u64::from(*v)))
            .collect();
        days.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        days.truncate(n);
        days
    }

    /// Requests of a service open at the end of `day`, citywide.
    pub fn backlog(&self, s: ServiceIdx, day: Day) -> u64 {
        if self.span_len == 0 || day < self.span_start {
            return 0;
        }
        let i = self.span_index(day).unwrap_or(self.span_len - 1);
        u64::from(self.backlog[s as usize][i])
    }

    /// Counted requests with no valid ward opened over `[from, to]`.
    pub fn unassigned(&self, from: Day, to: Day) -> u64 {
        Self::sum(&self.ward_opened[0], self.span_range(from, to))
    }

    /// Counted requests opened citywide on `[from, to]`, all services.
    pub fn total_opened(&self, from: Day, to: Day) -> u64 {
        let r = self.span_range(from, to);
        self.ward_opened.iter().map(|w| Self::sum(w, r)).sum()
    }

    /// Services with at least one request opened on `day`, featured first.
    pub fn services_on(&self, day: Day) -> Vec<ServiceIdx> {
        match self.span_index(day) {
            Some(i) => self
                .service_ids()
                .filter(|s| self.city_opened[*s as usize][i] > 0)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Services with any activity in a ward over the whole store, featured first.
    pub fn services_in_ward(&self, ward: WardNo) -> Vec<ServiceIdx> {
        self.service_ids()
            .filter(|s| {
                !self
                    .cells(*s, ward, Day(i32::MIN + 1), Day(i32::MAX - 1))
                    .is_empty()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> Config {
        Config::parse(
            "site: {title: T, base_url: 'https://e.org/'}\ncity: {name: C, wards: 3, disclaimer: D}\nservices:\n  featured:\n    - {slug: potholes, name: Potholes, codes: [PHF], names: [Pot Hole in Street]}\n",
        )
        .unwrap()
    }

    const DAY: i64 = 86_400;
    // 2021-01-04 00:00 in Chicago (a Monday), in Unix seconds.
    const MON: i64 = 1_609_740_000;

    fn req<'a>(
        code: Option<&'a str>,
        name: &'a str,
        open: i64,
        close: Option<i64>,
        ward: Option<u8>,
        dup: bool,
    ) -> RequestRef<'a> {
        RequestRef {
            service_key: None,
            service_code: code,
            service_name: name,
            requested_at: open,
            closed_at: close,
            ward,
            placement: crate::domain::Placement::Record,
            duplicate: dup,
        }
    }

    #[test]
    fn counts_ttc_and_exclusions_by_hand() {
        let c = config();
        let m = Metrics::build(&c, |add| {
            add(req(
                Some("PHF"),
                "Pothole in Street Complaint",
                MON + 3600,
                Some(MON + 3600 + DAY),
                Some(1),
                false,
            ));
            add(req(
                None,
                "Pot Hole in Street",
                MON + 7200,
                Some(MON + 7200 + 3 * DAY),
                Some(1),
                false,
            ));
            add(req(Some("PHF"), "x", MON + 7200, None, Some(2), false));
            add(req(Some("PHF"), "x", MON + 7200, None, None, false)); // unassigned
            add(req(Some("PHF"), "x", MON + 7200, Some(MON), Some(2), false)); // negative duration
            add(req(Some("PHF"), "x", MON + 7200, None, Some(2), true)); // duplicate
            add(req(
                Some("311IOC"),
                "311 INFORMATION ONLY CALL",
                MON,
                None,
                Some(2),
                false,
            ));
            add(req(None, "Graffiti Removal", MON, None, Some(7), false)); // ward outside 1..3
        });
        assert_eq!(m.totals.counted, 6);
        assert_eq!(m.totals.duplicates, 1);
        assert_eq!(m.totals.excluded, 1);
        assert_eq!(m.totals.unassigned, 2);
        assert_eq!(m.totals.negative_durations, 1);
        let p = m.service("potholes").unwrap();
        assert_eq!(p, 0);
        assert_eq!(m.service("graffiti-removal"), Some(1));
        let mon = Day::of_instant(MON, c.tz());
        assert_eq!(mon.to_string(), "2021-01-04");
        assert_eq!(m.city_opened(p, mon), 5);
        let w1 = m.ward_window(p, 1, mon, mon.plus(6));
        assert_eq!((w1.opened, w1.closed), (2, 2));
        let t = w1.ttc.unwrap();
        assert_eq!((t.mean_days, t.median_days, t.count), (2.0, 2.0, 2));
        let w2 = m.ward_window(p, 2, mon, mon.plus(6));
        assert_eq!((w2.opened, w2.closed), (2, 1));
        assert_eq!(w2.ttc, None, "negative durations do not count");
        let city = m.city_window(p, mon, mon.plus(6));
        assert_eq!((city.opened, city.closed), (5, 3));
        assert_eq!(m.unassigned(mon, mon), 2);
        // Backlog at the end of Monday: 5 opened, the negative one closes the same day.
        assert_eq!(m.backlog(p, mon), 4);
        assert_eq!(m.backlog(p, mon.plus(1)), 3);
        assert_eq!(m.backlog(p, mon.plus(3)), 2);
    }

    #[test]
    fn a_close_on_a_day_before_the_open_counts_in_the_backlog_on_the_open_day() {
        let c = config();
        let m = Metrics::build(&c, |add| {
            // Opened Monday, closed Wednesday.
            add(req(
                None,
                "Tree Trim",
                MON + 3600,
                Some(MON + 2 * DAY),
                Some(1),
                false,
            ));
            // Opened Tuesday 01:00, closed Monday noon: a close before the open, a day earlier.
            add(req(
                None,
                "Tree Trim",
                MON + DAY + 3600,
                Some(MON + DAY / 2),
                Some(1),
                false,
            ));
        });
        let s = m.service("tree-trim").unwrap();
        let mon = Day::of_instant(MON, c.tz());
        // Closes are counted on the day they happened…
        assert_eq!(m.city_window(s, mon, mon).closed, 1);
        assert_eq!(m.totals.negative_durations, 1);
        // …but the backlog never counts a close before its open: Monday evening the first
        // request is still open, and the second is never open at the end of a day.
        assert_eq!(m.backlog(s, mon.plus(-1)), 0);
        assert_eq!(m.backlog(s, mon), 1);
        assert_eq!(m.backlog(s, mon.plus(1)), 1);
        assert_eq!(m.backlog(s, mon.plus(2)), 0);
    }

    #[test]
    fn a_store_read_in_pieces_gives_the_same_metrics_as_one_read() {
        let c = config();
        let names = [
            (Some("PHF"), "Pothole in Street Complaint"),
            (None, "Graffiti Removal"),
            (Some("SCB"), "Sanitation Code Violation"),
            (None, "311 INFORMATION ONLY CALL"),
            (None, "graffiti removal "),
            (Some("X"), "Tree Trim"),
        ];
        let mut x: u64 = 7;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let requests: Vec<RequestRef<'static>> = (0..600)
            .map(|_| {
                let (code, name) = names[next(names.len() as u64) as usize];
                let open = MON + (next(40 * DAY as u64) as i64) - 10 * DAY;
                let close = (next(3) > 0).then(|| open + next(9 * DAY as u64) as i64 - DAY / 2);
                let ward = [None, Some(1), Some(2), Some(3), Some(9)][next(5) as usize];
                req(code, name, open, close, ward, next(10) == 0)
            })
            .collect();
        let whole = Metrics::build(&c, |add| requests.iter().for_each(|r| add(*r)));
        for pieces in [2, 3] {
            let split = Metrics::build_in_parts(&c, pieces, |builders| {
                let size = requests.len().div_ceil(pieces);
                for (b, chunk) in builders.iter_mut().zip(requests.chunks(size)) {
                    b.reserve(size);
                    // Numbered the way a store numbers (code, name) pairs; the whole read
                    // above resolved every request by its names.
                    chunk.iter().for_each(|r| {
                        let pair = (r.service_code, r.service_name);
                        let key = names.iter().position(|p| *p == pair).map(|i| i as u32 + 1);
                        b.add(RequestRef {
                            service_key: key,
                            ..*r
                        })
                    });
                }
            });
            assert_eq!(
                format!("{:?}", split.services),
                format!("{:?}", whole.services)
            );
            assert_eq!(format!("{:?}", split.totals), format!("{:?}", whole.totals));
            let (from, to) = (
                Day::of_instant(MON, c.tz()).plus(-12),
                Day::of_instant(MON, c.tz()).plus(50),
            );
            for s in whole.service_ids() {
                for w in 0..=3 {
                    for monday in (from.0..to.0).step_by(7).map(Day) {
                        assert_eq!(
                            split.ward_window(s, w, monday, monday.plus(6)),
                            whole.ward_window(s, w, monday, monday.plus(6))
                        );
                    }
                }
                for d in from.0..to.0 {
                    assert_eq!(split.backlog(s, Day(d)), whole.backlog(s, Day(d)));
                    assert_eq!(split.city_opened(s, Day(d)), whole.city_opened(s, Day(d)));
                }
            }
            // The digests that let a rebuild keep pages do not depend on the reading order.
            for d in from.0..to.0 {
                assert_eq!(split.history_digest(Day(d)), whole.history_digest(Day(d)));
                assert_eq!(
                    split.window_digest(Day(d), Day(d + 6)),
                    whole.window_digest(Day(d), Day(d + 6))
                );
            }
        }

        // One request closing a day later changes the digests from its old close day on, and
        // none before.
        let mut moved = requests.clone();
        let i = moved
            .iter()
            .position(|r| {
                r.closed_at.is_some_and(|c| c > r.requested_at)
                    && !r.duplicate
                    && r.service_name == "Tree Trim"
            })
            .unwrap();
        let old_close = moved[i].closed_at.unwrap();
        moved[i].closed_at = Some(old_close + DAY);
        let changed = Metrics::build(&c, |add| moved.iter().for_each(|r| add(*r)));
        let close_day = Day::of_instant(old_close, c.tz());
        assert_eq!(
            changed.history_digest(close_day.plus(-1)),
            whole.history_digest(close_day.plus(-1))
        );
        assert_ne!(
            changed.history_digest(close_day),
            whole.history_digest(close_day)
        );
        assert_ne!(
            changed.window_digest(close_day, close_day),
            whole.window_digest(close_day, close_day)
        );
    }

    #[test]
    fn day_major_counts_agree_with_the_pair_lookups() {
        let c = config();
        let opened = [
            (0, Some(1)),
            (0, Some(1)),
            (0, Some(3)),
            (0, None),
            (1, Some(2)),
            (2, Some(3)),
            (5, Some(1)),
        ];
        let m = Metrics::build(&c, |add| {
            for (day, ward) in opened {
                add(req(
                    Some("PHF"),
                    "x",
                    MON + day * DAY + 60,
                    None,
                    ward,
                    false,
                ));
            }
            add(req(
                None,
                "Graffiti Removal",
                MON + DAY,
                None,
                Some(2),
                false,
            ));
        });
        let mon = Day::of_instant(MON, c.tz());
        // A window that starts before the data and ends inside it.
        let by_day = m.opened_by_day(mon.plus(-2), mon.plus(4));
        let p = m.service("potholes").unwrap();
        let g = m.service("graffiti-removal").unwrap();
        assert_eq!(by_day.by_ward(p, mon), vec![1, 2, 0, 1]);
        assert_eq!(by_day.by_ward(p, mon.plus(1)), vec![0, 0, 1, 0]);
        assert_eq!(by_day.by_ward(g, mon.plus(1)), vec![0, 0, 1, 0]);
        assert_eq!(
            by_day.by_ward(p, mon.plus(5)),
            vec![0; 4],
            "after the window"
        );
        assert_eq!(
            by_day.by_ward(p, mon.plus(-9)),
            vec![0; 4],
            "before the window"
        );
        for s in m.service_ids() {
            for d in -2..=4 {
                let day = mon.plus(d);
                let pairwise: Vec<u64> = (0..=3)
                    .map(|w| m.ward_window(s, w, day, day).opened)
                    .collect();
                assert_eq!(by_day.by_ward(s, day), pairwise, "service {s}, day {day}");
            }
        }
    }

    #[test]
    fn ranking_threshold_and_order() {
        let c = config();
        let m = Metrics::build(&c, |add| {
            for (ward, n, days) in [(1u8, 4, 2), (2, 3, 1), (3, 1, 5)] {
                for i in 0..n {
                    add(req(
                        Some("PHF"),
                        "x",
                        MON + i,
                        Some(MON + i + days * DAY),
                        Some(ward),
                        false,
                    ));
                }
            }
        });
        let mon = Day::of_instant(MON, c.tz());
        let r = m.ranking(0, mon, mon.plus(6));
        // closed counts 4, 3, 1: mean 8/3, population SD sqrt(14/9) = 1.247; threshold 1.42 → 1.
        assert!((r.threshold - (8.0 / 3.0 - (14.0f64 / 9.0).sqrt())).abs() < 1e-9);
        assert_eq!(r.min_closed, 1);
        let order: Vec<_> = r.ranked.iter().map(|x| (x.ward, x.rank)).collect();
        assert_eq!(order, vec![(2, 1), (1, 2), (3, 3)]);
    }

    #[test]
    fn baseline_is_relative_to_the_day_shown() {
        let c = config();
        let m = Metrics::build(&c, |add| {
            for d in 0..10 {
                add(req(Some("PHF"), "x", MON + d * DAY, None, Some(1), false));
            }
            add(req(Some("PHF"), "x", MON + 10 * DAY, None, Some(1), false));
            add(req(
                Some("PHF"),
                "x",
                MON + 10 * DAY + 60,
                None,
                Some(1),
                false,
            ));
        });
        let mon = Day::of_instant(MON, c.tz());
        assert_eq!(
            m.baseline(0, mon),
            None,
            "no day before the first is covered"
        );
        let b = m.baseline(0, mon.plus(10)).unwrap();
        assert_eq!((b.per_day, b.days), (1.0, 10));
        assert_eq!(b.above_average_pct(2), Some(100));
        let highs = m.highs(0, 1);
        assert_eq!(highs[0], (mon.plus(10), 2));
        assert_eq!(highs[1], (mon.plus(9), 1), "ties: most recent first");
        assert_eq!(highs.len(), 6);
    }
}

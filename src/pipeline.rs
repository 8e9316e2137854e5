//! The pipeline: the stages in order, as named steps that `cwfy import`, `fetch`, `build` and
//! `update` share. `build` is load content → open the store (importing the bundled sample when
//! it is empty) → aggregate → sanity gates (for `update`) → render → publish; `update` is fetch,
//! then the same build with the gates. The command line (`cli.rs`) parses arguments into the
//! options here, and turns the errors into messages and exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::aggregate::Metrics;
use crate::config::Config;
use crate::content::wards::WardOffice;
use crate::content::{self, Content};
use crate::domain::{Day, WardNo};
use crate::gates::{GateInputs, GatesFailed};
use crate::progress;
use crate::publish::{Output, PublishReport};
use crate::render::{self, RenderInput, RenderReport};
use crate::source::Normalizer;
use crate::source::fetch::{self, FetchOptions, FetchReport};
use crate::source::import::{self, Format};
use crate::store::{Counts, PhotoRow, ScanTotals, Store, StoreStatus};

/// The `meta` key holding the store's request count when the site was last published.
const PUBLISHED_REQUESTS: &str = "published_requests";

/// Days of photos on the photos page, counting the last day shown.
const PHOTO_DAYS: i32 = 14;
/// Most photos on the photos page.
const PHOTO_LIMIT: usize = 500;

/// How to build, once the command line is parsed.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Output folder (default: the config's `site.output`).
    pub output: Option<PathBuf>,
    /// Build as if this were the last complete day (default: the newest day with requests,
    /// never today).
    pub as_of: Option<Day>,
    /// Include pages marked `draft: true` (`cwfy serve --drafts` only; `cwfy build` never does).
    pub drafts: bool,
    /// Remove the files of earlier builds that this build does not make (`--prune`); by
    /// default every address published once stays published.
    pub prune: bool,
}

/// The sanity gates a build applies before publishing.
#[derive(Debug, Clone, Default)]
pub struct GateRun {
    /// Figures from the fetch.
    pub inputs: GateInputs,
    /// Publish anyway, logging what failed.
    pub force: bool,
}

/// What a build did, for the summary line.
#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    /// Pages and files rendered.
    pub render: RenderReport,
    /// What publishing did.
    pub publish: PublishReport,
    /// Seconds per stage.
    pub timings: Vec<(&'static str, f64)>,
}

/// What `cwfy update` did: the fetch and the build.
#[derive(Debug, Clone)]
pub struct UpdateSummary {
    /// The fetch.
    pub fetch: FetchReport,
    /// Seconds the fetch took.
    pub fetch_seconds: f64,
    /// The build.
    pub build: BuildSummary,
    /// Seconds the whole update took.
    pub seconds: f64,
}

impl UpdateSummary {
    /// The one paragraph `cwfy update` prints.
    pub fn paragraph(&self) -> String {
        let (report, summary) = (&self.fetch, &self.build);
        let c = report.counts;
        let mut times = vec![format!("fetch {:.1}s", self.fetch_seconds)];
        times.extend(
            summary
                .timings
                .iter()
                .map(|(stage, s)| format!("{stage} {s:.1}s")),
        );
        format!(
            "cwfy update: fetched {} pages from {} ({} new, {} updated, {} unchanged, {} ignored without id, {} rejected); \
             built {} pages and {} other files ({} written, {} unchanged, {} removed){}; took {:.1}s ({}).",
            report.pages,
            report.endpoint,
            c.new,
            c.updated,
            c.unchanged,
            c.ignored,
            c.rejected,
            summary.render.pages,
            summary.render.files,
            summary.publish.written,
            summary.publish.unchanged,
            summary.publish.removed,
            match summary.publish.kept_earlier {
                0 => String::new(),
                1 => ", and kept 1 file of an earlier build".to_string(),
                n => format!(", and kept {n} files of earlier builds"),
            },
            self.seconds,
            times.join(", ")
        )
    }
}

/// The pipeline of one command, for one config.
pub struct Pipeline<'c> {
    config: &'c Config,
    /// No progress bars (`--quiet`, or not a terminal).
    quiet: bool,
    /// Seconds per stage, in order.
    timings: Vec<(&'static str, f64)>,
}

/// What the content step loads.
struct Loaded {
    content: Content,
    offices: BTreeMap<WardNo, WardOffice>,
}

impl<'c> Pipeline<'c> {
    /// A pipeline for `config`; `quiet` hides progress bars.
    pub fn new(config: &'c Config, quiet: bool) -> Pipeline<'c> {
        Pipeline {
            config,
            quiet,
            timings: Vec::new(),
        }
    }

    /// Opens the configured store.
    pub fn open_store(&self) -> Result<Store> {
        let path = self.config.resolve(&self.config.store.path);
        tracing::debug!("store: {}", path.display());
        Ok(Store::open(&path)?)
    }

    /// The normaliser for the configured city.
    pub fn normalizer(&self) -> Result<Normalizer> {
        Ok(Normalizer::for_config(self.config)?)
    }

    /// `cwfy import`: imports files, logging a line per file.
    pub fn import(
        &self,
        store: &mut Store,
        files: &[PathBuf],
        format: Option<Format>,
    ) -> Result<Counts> {
        let n = self.normalizer()?;
        let mut total = Counts::default();
        for file in files {
            let started = Instant::now();
            let bar = self.import_bar(file);
            let report = import::import_file(store, file, format, &n, &mut |at| {
                bar.set_position(at.bytes);
                bar.set_message(format!("{}: {} records", file.display(), at.records));
            })?;
            bar.finish_and_clear();
            let c = report.counts;
            tracing::info!(
                "imported {} ({}): {} new, {} updated, {} unchanged, {} ignored without id, {} rejected, {} cleaned in {:.1}s",
                file.display(),
                report.format,
                c.new,
                c.updated,
                c.unchanged,
                c.ignored,
                c.rejected,
                c.cleaned,
                started.elapsed().as_secs_f64()
            );
            for sample in &report.samples {
                tracing::warn!("rejected {sample}");
            }
            if let Some(broken) = &report.broken_at {
                tracing::warn!("{broken}; the records before it were kept");
            }
            total.add(c);
        }
        Ok(total)
    }

    fn import_bar(&self, file: &Path) -> indicatif::ProgressBar {
        // A bar over the file's bytes: records per byte vary little within a file, so the
        // byte rate gives an honest time left.
        let size = std::fs::metadata(file).map_or(0, |m| m.len());
        let bar = progress::bar(
            self.quiet,
            size,
            "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, about {eta} left) {msg}",
        );
        bar.set_message(file.display().to_string());
        bar
    }

    /// `cwfy fetch`: fetches into the store and logs a summary. Windows that failed are in the
    /// report (see [`FetchReport::failure_message`]); the caller decides what they mean.
    pub fn fetch(&self, store: &mut Store, options: &FetchOptions) -> Result<FetchReport> {
        let bar = progress::bar(
            self.quiet,
            0,
            "{bar:30} {pos}/{len} days ({elapsed}, about {eta} left)",
        );
        let started = Instant::now();
        let report = fetch::fetch(store, self.config, options, &bar)?;
        let c = report.counts;
        let what = match report.plan {
            Some(plan) => format!(
                "{} {}",
                plan.mode.as_str(),
                fetch::window_label(plan.span, self.config.tz())
            ),
            None if !options.requests.is_empty() => {
                format!("request {}", options.requests.join(", "))
            }
            None => "nothing new yet".to_string(),
        };
        tracing::info!(
            "fetched {} ({}, {what}): {} new, {} updated, {} unchanged, {} ignored without id, {} rejected; windows: {} done, {} skipped (done before), {} failed, {} kept but to fetch again; {} pages in {:.1}s",
            report.endpoint,
            report.kind.as_str(),
            c.new,
            c.updated,
            c.unchanged,
            c.ignored,
            c.rejected,
            report.done,
            report.skipped,
            report.failures.len(),
            report.unmarked,
            report.pages,
            started.elapsed().as_secs_f64()
        );
        if let Some(n) = report.services {
            tracing::info!(
                "services.json: {n} service types in the catalogue; {} service definitions of featured services",
                report.definitions.unwrap_or(0)
            );
        }
        for sample in &report.samples {
            tracing::warn!("rejected {sample}");
        }
        Ok(report)
    }

    /// `cwfy update`: fetch, then build and publish unless the data fails a gate.
    pub fn update(
        mut self,
        fetch: &FetchOptions,
        build: &BuildOptions,
        force: bool,
    ) -> Result<UpdateSummary> {
        let started = Instant::now();
        let mut store = self.open_store()?;
        let report = self.fetch(&mut store, fetch)?;
        let fetch_seconds = started.elapsed().as_secs_f64();
        drop(store);
        let gates = GateRun {
            inputs: GateInputs {
                failed_windows: report
                    .failures
                    .iter()
                    .map(|f| format!("{} ({})", f.label, f.error))
                    .collect(),
                fetched_until: report.plan.as_ref().map(|plan| plan.span.end),
                ..GateInputs::default()
            },
            force,
        };
        let summary = self.build(build, Some(&gates))?;
        Ok(UpdateSummary {
            fetch: report,
            fetch_seconds,
            build: summary,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// `cwfy build`: the steps from content to publishing.
    ///
    /// With `gates`, the sanity gates run after aggregation, and a failure stops the build before
    /// anything is written (the previous site stays published).
    pub fn build(
        &mut self,
        options: &BuildOptions,
        gates: Option<&GateRun>,
    ) -> Result<BuildSummary> {
        let loaded = self.timed("content", |p| p.load_content(options.drafts))?;
        let mut store = self.open_store()?;
        self.import_sample_if_empty(&mut store)?;
        let (metrics, status) = self.timed("aggregate", |p| p.aggregate(&store))?;
        let as_of = options
            .as_of
            .or_else(|| latest_complete_day(self.config, &metrics));
        if let Some(run) = gates {
            self.check_gates(
                &mut store,
                &metrics,
                &status,
                as_of,
                options.as_of.is_some(),
                run,
            )?;
        }
        let photos = self.photos(&store, as_of)?;
        let definitions = store.service_definitions()?;
        let output = match &options.output {
            Some(o) => o.clone(),
            None => self.config.resolve(&self.config.site.output),
        };
        let input = RenderInput {
            config: self.config,
            content: &loaded.content,
            metrics: &metrics,
            offices: &loaded.offices,
            photos: &photos,
            status: &status,
            definitions: &definitions,
            as_of,
        };
        let (out, mut rendered) = self.timed("render", |p| p.render(&input, &output))?;
        if !options.prune {
            let lost = out.keep_earlier(render::is_sitemap)?;
            if !lost.is_empty() {
                tracing::warn!(
                    "{} files of the published site could not be kept (changed by hand, or in the way of this build's folders); they will be gone: {}{}",
                    lost.len(),
                    lost.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                    if lost.len() > 5 { ", …" } else { "" }
                );
            }
        }
        // The sitemaps list every page, kept ones too, so they come after `keep_earlier`.
        match render::write_sitemaps(&out, &self.config.site.base_url) {
            Ok(n) => rendered.files += n,
            Err(e) => {
                out.abandon();
                return Err(anyhow::Error::from(e).context("writing the sitemaps"));
            }
        }
        if let Err(over) = out.check_budget(&budget_of(self.config)) {
            out.abandon();
            return Err(over.into());
        }
        let published = self.timed("publish", |_| -> Result<PublishReport> {
            let published = out.finish()?;
            store.set_meta(PUBLISHED_REQUESTS, &status.requests.to_string())?;
            Ok(published)
        })?;
        tracing::info!(
            "built {}: {} pages and {} other files; {} written, {} unchanged, {} removed, \
             {} files of earlier builds kept ({:.1} MB); {} units made, {} kept from the previous build",
            output.display(),
            rendered.pages,
            rendered.files,
            published.written,
            published.unchanged,
            published.removed,
            published.kept_earlier,
            published.bytes as f64 / 1e6,
            published.units_made,
            published.units_kept
        );
        // One parseable line for the benchmark (benches/bench.py) and for anyone timing a build.
        tracing::info!(
            "stage times (s): {}",
            self.timings
                .iter()
                .map(|(stage, seconds)| format!("{stage} {seconds:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(BuildSummary {
            render: rendered,
            publish: published,
            timings: std::mem::take(&mut self.timings),
        })
    }

    /// Runs a step and notes how long it took.
    fn timed<T>(
        &mut self,
        stage: &'static str,
        step: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<T> {
        tracing::debug!("{stage}: started");
        let t = Instant::now();
        let spinner = progress::spinner(self.quiet, stage);
        let out = step(self);
        spinner.finish_and_clear();
        let out = out?;
        let seconds = t.elapsed().as_secs_f64();
        tracing::debug!("{stage}: done in {seconds:.3} s");
        self.timings.push((stage, seconds));
        Ok(out)
    }

    /// Step: the Markdown pages and the ward offices.
    fn load_content(&self, drafts: bool) -> Result<Loaded> {
        let config = self.config;
        let content = content::load(&config.resolve(&config.site.content), drafts)?;
        let offices = match &config.district_offices {
            Some(p) => content::wards::load_offices(&config.resolve(p), config.ward_count())?,
            None => Default::default(),
        };
        Ok(Loaded { content, offices })
    }

    /// Step: with no requests in the store yet, the bundled real sample (`sample:` in the config)
    /// is imported first, and the log says so.
    fn import_sample_if_empty(&mut self, store: &mut Store) -> Result<()> {
        if store.has_requests()? {
            return Ok(());
        }
        let config = self.config;
        let files: Vec<PathBuf> = config.sample.iter().map(|p| config.resolve(p)).collect();
        tracing::info!(
            "no data in {} yet: importing the bundled real sample ({} files) first",
            config.resolve(&config.store.path).display(),
            files.len()
        );
        self.timed("import", |p| p.import(store, &files, None).map(|_| ()))
    }

    /// Step: every stored request read once, in one piece of the store per core, into the
    /// metrics; the store's status comes from the same read.
    fn aggregate(&self, store: &Store) -> Result<(Metrics, StoreStatus)> {
        let t = Instant::now();
        let (metrics, scanned) = aggregate_store(self.config, store)?;
        let status = store.status_after_scan(scanned)?;
        tracing::info!(
            "aggregated {} stored requests in {:.3} s",
            status.requests,
            t.elapsed().as_secs_f64()
        );
        Ok((metrics, status))
    }

    /// Step (`cwfy update`): the sanity gates. A failure stops the build, unless forced; a thin
    /// day is unmarked in the store so that the next run fetches it again.
    fn check_gates(
        &self,
        store: &mut Store,
        metrics: &Metrics,
        status: &StoreStatus,
        as_of: Option<Day>,
        as_of_given: bool,
        run: &GateRun,
    ) -> Result<()> {
        let config = self.config;
        let mut inputs = run.inputs.clone();
        inputs.stored_now = status.requests;
        inputs.stored_at_last_publish =
            store.meta(PUBLISHED_REQUESTS)?.and_then(|v| v.parse().ok());
        // The newest complete day the fetch covered (yesterday, unless --until stopped it
        // earlier), not the newest day with data: a source that silently stops sending requests
        // leaves that day empty, and that must fail the gate.
        let judged = match (as_of_given, inputs.fetched_until) {
            (true, _) => as_of,
            (false, Some(until)) => Some(Day::of_instant(until, config.tz()).plus(-1)),
            (false, None) => Some(today(config).plus(-1)),
        };
        let failures = crate::gates::check(metrics, judged, &inputs, &config.gates);
        if failures.is_empty() {
            return Ok(());
        }
        if !run.force {
            if let Some(day) = judged
                && failures.iter().any(|f| f.gate == "day-volume")
            {
                // The thin day's fetch windows were marked done; forget them so the next run
                // fetches that day again (the source may have caught up by then).
                store.reopen_windows_from(day_start(day, config).unwrap_or(i64::MAX))?;
            }
            return Err(GatesFailed(failures).into());
        }
        for f in &failures {
            tracing::warn!(
                "publishing despite the {} gate (--force): {}",
                f.gate,
                f.message
            );
        }
        Ok(())
    }

    /// Step: the requests with photos on the last days the pages show.
    fn photos(&self, store: &Store, as_of: Option<Day>) -> Result<Vec<PhotoRow>> {
        let Some(day) = as_of else {
            return Ok(Vec::new());
        };
        let tz = self.config.tz();
        let since = day_start(day.plus(1 - PHOTO_DAYS), self.config).unwrap_or(0);
        Ok(store
            .photos_since(since, PHOTO_LIMIT)?
            .into_iter()
            .filter(|p| Day::of_instant(p.requested_at, tz) <= day)
            .collect())
    }

    /// Step: the pages, into a new output folder beside `output`. On failure the new folder is
    /// abandoned and the published site stays as it was.
    fn render(&self, input: &RenderInput, output: &Path) -> Result<(Output, RenderReport)> {
        let out = Output::begin(output)?;
        let rendered = (|| -> Result<RenderReport> {
            let static_dir = self.config.resolve(&self.config.site.static_dir);
            out.copy_dir(&static_dir, "")?;
            Ok(render::render_site(input, &out)?)
        })();
        match rendered {
            Ok(r) => Ok((out, r)),
            Err(e) => {
                out.abandon();
                Err(e.context(format!(
                    "the build failed; {} was left as it was",
                    output.display()
                )))
            }
        }
    }
}

/// The config's `site.budget` as publishing checks it.
fn budget_of(config: &Config) -> crate::publish::Budget {
    let b = config.site.budget;
    crate::publish::Budget {
        bytes: b.bytes.0,
        files: b.files,
        page_bytes: b.page_bytes.0,
        file_bytes: b.file_bytes.0,
    }
}

/// Reads every stored request into the metrics, one piece of the store per core (reading rows
/// out of SQLite is most of the time), and returns what the read saw.
fn aggregate_store(config: &Config, store: &Store) -> Result<(Metrics, ScanTotals)> {
    let mut scanned = None;
    let pieces = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Room for every request of a piece up front: growing 10 M-entry vectors copies them and
    // touches their pages twice (room never written to is never touched). The key span only
    // bounds the count (keys edited by hand may leave gaps), so beyond 16 M the arrays grow.
    let most = store.request_key_span()?.map_or(0, |(lo, hi)| {
        usize::try_from(hi.saturating_sub(lo).saturating_add(1))
            .unwrap_or(0)
            .min(1 << 24)
    });
    let metrics = Metrics::build_in_parts(config, pieces, |builders| {
        for b in builders.iter_mut() {
            b.reserve(most / pieces + 1);
        }
        let mut sinks: Vec<_> = builders
            .iter_mut()
            .map(|b| move |r: crate::store::RequestRef<'_>| b.add(r))
            .collect();
        scanned = Some(store.scan_requests_in_parts(&mut sinks));
    });
    let scanned = match scanned {
        Some(Ok(totals)) => totals,
        Some(Err(e)) => {
            return Err(anyhow::Error::new(e).context("cannot read the requests from the store"));
        }
        None => ScanTotals::default(),
    };
    Ok((metrics, scanned))
}

/// The first instant of a city-local day.
fn day_start(day: Day, config: &Config) -> Option<i64> {
    day.date()
        .to_zoned(config.tz().clone())
        .map(|z| z.timestamp().as_second())
        .ok()
}

/// The last complete day: the newest day with requests, but never today (still in progress).
pub fn latest_complete_day(config: &Config, metrics: &Metrics) -> Option<Day> {
    let last = metrics.last_day?;
    let today = today(config);
    Some(if last >= today { today.plus(-1) } else { last })
}

/// Today in the city.
fn today(config: &Config) -> Day {
    Day::from_date(
        jiff::Zoned::now()
            .with_time_zone(config.tz().clone())
            .date(),
    )
}
/// One writer at a time: an exclusive lock on `cwfy.lock` beside the store, held for the whole
/// command. The operating system releases it when the process ends, however it ends, so a killed
/// run never leaves a stale lock.
pub struct RunLock {
    _file: std::fs::File,
}

/// Another cwfy process is writing.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is held by another cwfy run ({holder}); wait for it to finish, or stop that process"
)]
pub struct LockHeld {
    /// The lock file.
    pub path: PathBuf,
    /// What the holder wrote into it.
    pub holder: String,
}

impl RunLock {
    /// Takes the lock or fails at once, naming the process that holds it.
    pub fn acquire(config: &Config) -> Result<RunLock> {
        use std::io::{Read, Seek, Write};
        let store = config.resolve(&config.store.path);
        let dir = store
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("cwfy.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "process unknown".to_string()
                } else {
                    holder.to_string()
                };
                return Err(LockHeld { path, holder }.into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(anyhow::anyhow!("cannot lock {}: {e}", path.display()));
            }
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let args: Vec<String> = std::env::args().skip(1).collect();
        let _ = write!(
            file,
            "pid {}, `cwfy {}`, since {}",
            std::process::id(),
            args.join(" "),
            jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S %Z")
        );
        let _ = file.flush();
        Ok(RunLock { _file: file })
    }
}

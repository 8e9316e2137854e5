//! The command line: parses arguments into the pipeline's options (`pipeline.rs` runs the
//! stages), sets up logging, and turns errors into one clear message and an exit status.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::{BaseUrl, Config, ConfigError};
use crate::content::ContentError;
use crate::domain::Day;
use crate::gates::GatesFailed;
use crate::pipeline::{BuildOptions, Pipeline, RunLock};
use crate::render::RenderError;
use crate::source::fetch::{EndpointKind, FetchError, FetchOptions, When};
use crate::source::import::Format;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: an error.
pub const EXIT_ERROR: u8 = 1;
/// Exit status: bad usage, config or content.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the data failed a sanity gate and the previous site was kept.
pub const EXIT_GATE: u8 = 3;

/// cwfy — Chicago Works For You: turns a city's 311 service requests into a static dashboard.
#[derive(Debug, Parser)]
#[command(
    name = "cwfy",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CWFY_COMMIT"), ")"),
    about,
    long_about = None
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "config.yaml")]
    pub config: PathBuf,
    /// Only warnings and errors (for cron).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v for debug lines, -vv for everything. Without -v or -q, RUST_LOG (e.g.
    /// `RUST_LOG=debug`, `RUST_LOG=cwfy=trace`) sets what is logged.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Aggregate the store and write the site (imports the bundled sample when there is no store).
    Build(BuildArgs),
    /// Load Open311 JSON, Socrata JSON or portal CSV files into the store.
    Import {
        /// Files to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The format, when it cannot be told from the content.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Pull new and updated requests from the configured source (or --url) into the store.
    Fetch(FetchArgs),
    /// Fetch, build and publish in one go: the nightly job. Exits 3 when the new data fails a
    /// sanity gate (the previous site is kept).
    Update(UpdateArgs),
    /// Check a built site: links, fragments, page budgets, charts, XML and JSON files.
    Check {
        /// The site folder (default: the config's `site.output`).
        dir: Option<PathBuf>,
        /// An earlier build's `manifest.json` (or its site folder): every file it lists must
        /// still be there, or the check fails listing the addresses that vanished.
        #[arg(long, value_name = "MANIFEST")]
        against: Option<PathBuf>,
    },
    /// Ask the configured source whether it works: `cwfy source check`.
    Source {
        /// What to do with the source.
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Print a shell completion script: `cwfy completions bash > /etc/bash_completion.d/cwfy`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `cwfy man > cwfy.1 && man ./cwfy.1`.
    Man,
    /// Start a folder for a new city: a commented config.yaml, About and Methodology pages to
    /// edit, and the templates and stylesheet. Never overwrites a file.
    Init {
        /// The folder to create (or an empty one).
        dir: PathBuf,
    },
    /// Preview the site on 127.0.0.1: build it, serve it, and rebuild and reload open pages
    /// whenever content/, templates/, static/ or the config change.
    Serve {
        /// The site folder to build into and serve (default: the config's `site.output`; with
        /// --drafts, a folder beside it named `<output>-drafts`).
        dir: Option<PathBuf>,
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Serve the folder as it is: no build, no watching, no reloading.
        #[arg(long)]
        no_watch: bool,
        /// Include pages marked `draft: true` (`cwfy build` never does).
        #[arg(long, conflicts_with = "no_watch")]
        drafts: bool,
        /// Open the site in a browser ($BROWSER, or the system's default).
        #[arg(long)]
        open: bool,
    },
}

/// `cwfy source` subcommands.
#[derive(Debug, Subcommand)]
pub enum SourceAction {
    /// Ask the source for one small page of its newest records and say whether it answers,
    /// whether the key or token is accepted, whether the fields the store needs are there, and
    /// how fresh the newest record is. Exits 1 when something needs changing.
    Check(EndpointArgs),
}

/// Which endpoint to use, when not the config's default.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct EndpointArgs {
    /// Use this endpoint instead of the config's: an Open311 GeoReport v2 base URL (any city),
    /// or, with --kind socrata, a SODA 2.1 resource URL (…/resource/ID.json) or a SODA 3 query
    /// URL (…/api/v3/views/ID/query.json).
    #[arg(long)]
    pub url: Option<String>,
    /// The kind of endpoint (default: the config's source.kind).
    #[arg(long, value_enum)]
    pub kind: Option<EndpointKind>,
    /// The Open311 endpoint to use: `live` (source.open311.base_url, the default) or a name
    /// under source.open311.profiles, such as `test`.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// `cwfy fetch` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct FetchArgs {
    /// Fetch the requests updated since DATE (YYYY-MM-DD, city time) or TIME (with an offset)
    /// instead of since the stored watermark.
    #[arg(long, value_name = "DATE|TIME", conflicts_with = "backfill_from")]
    pub since: Option<String>,
    /// Stop at the end of DATE, or at TIME (default: now).
    #[arg(long, value_name = "DATE|TIME")]
    pub until: Option<String>,
    /// Backfill: fetch the requests opened from DATE on, one city-local day at a time.
    #[arg(long, value_name = "DATE")]
    pub backfill_from: Option<String>,
    /// Refresh one request by its id (Open311 `requests/ID.json`; Socrata its `sr_number`)
    /// instead of fetching by date; may be given more than once.
    #[arg(long = "request", value_name = "ID", conflicts_with_all = ["since", "backfill_from", "until"])]
    pub requests: Vec<String>,
    /// The endpoint.
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// `cwfy update` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct UpdateArgs {
    /// What to fetch.
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// How to build.
    #[command(flatten)]
    pub build: BuildArgs,
    /// Publish even when the data fails a sanity gate.
    #[arg(long)]
    pub force: bool,
}

/// `cwfy build` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct BuildArgs {
    /// Output folder (default: the config's `site.output`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Publish under another base URL than the config's.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Build as if DATE (YYYY-MM-DD) were the last complete day.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Remove the files of earlier builds that this build does not make. Without it, every
    /// address the site has published stays (pages of periods no longer rebuilt keep their
    /// last version); `cwfy check --against` lists what a pruned site lost.
    #[arg(long)]
    pub prune: bool,
}

/// A usage error found after argument parsing (bad `--as-of`, …). Exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    init_logging(cli.quiet, cli.verbose);
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code_of(&e))
        }
    }
}

/// The exit status an error maps to.
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<ConfigError>() || cause.is::<ContentError>() || cause.is::<UsageError>() {
            return EXIT_USAGE;
        }
        if cause.is::<GatesFailed>() {
            return EXIT_GATE;
        }
        // A fetch's dates or endpoint that cannot be used are usage errors.
        if let Some(FetchError::Range(_) | FetchError::BadUrl { .. }) =
            cause.downcast_ref::<FetchError>()
        {
            return EXIT_USAGE;
        }
        if let Some(RenderError::Template(_) | RenderError::MissingLayout { .. }) =
            cause.downcast_ref::<RenderError>()
        {
            return EXIT_USAGE;
        }
    }
    EXIT_ERROR
}

/// Logging to standard error: `--quiet` warnings and errors, by default information, `-v`
/// debug lines, `-vv` everything; with neither flag, `RUST_LOG` when it is set. Colour only on a
/// terminal, and never with `NO_COLOR` set to anything (no-color.org).
fn init_logging(quiet: bool, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty() && !quiet && verbose == 0)
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal() && !crate::progress::no_color();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::progress::LogWriter)
        .with_target(verbose > 1)
        .with_ansi(colour)
        .try_init();
}

/// Runs a parsed command; returns the exit status.
pub fn run(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Build(args) => {
            let config = load_config(&cli.config, args.base_url.as_deref())?;
            let _lock = RunLock::acquire(&config)?;
            Pipeline::new(&config, cli.quiet).build(&build_options(args)?, None)?;
            Ok(EXIT_OK)
        }
        Command::Import { files, format } => {
            let config = load_config(&cli.config, None)?;
            let _lock = RunLock::acquire(&config)?;
            let pipeline = Pipeline::new(&config, cli.quiet);
            let mut store = pipeline.open_store()?;
            pipeline.import(&mut store, files, *format)?;
            Ok(EXIT_OK)
        }
        Command::Update(args) => {
            let config = load_config(&cli.config, args.build.base_url.as_deref())?;
            let _lock = RunLock::acquire(&config)?;
            let summary = Pipeline::new(&config, cli.quiet).update(
                &fetch_options(&args.fetch)?,
                &build_options(&args.build)?,
                args.force,
            )?;
            if cli.quiet {
                tracing::info!("{}", summary.paragraph());
            } else {
                println!("{}", summary.paragraph());
            }
            Ok(EXIT_OK)
        }
        Command::Fetch(args) => {
            let config = load_config(&cli.config, None)?;
            let _lock = RunLock::acquire(&config)?;
            let pipeline = Pipeline::new(&config, cli.quiet);
            let mut store = pipeline.open_store()?;
            let report = pipeline.fetch(&mut store, &fetch_options(args)?)?;
            match report.failure_message() {
                Some(message) => Err(anyhow::anyhow!(message)),
                None => Ok(EXIT_OK),
            }
        }
        Command::Check { dir, against } => {
            let (dir, config) = site_dir(cli, dir.as_deref())?;
            let earlier = against
                .as_deref()
                .map(crate::check::EarlierSite::read)
                .transpose()?;
            let options = crate::check::CheckOptions {
                base_url: config.as_ref().map(|c| c.site.base_url.to_string()),
                max_page_bytes: config
                    .as_ref()
                    .map_or(crate::check::MAX_PAGE_BYTES, |c| c.site.budget.page_bytes.0),
                earlier,
            };
            let started = Instant::now();
            let spinner =
                crate::progress::spinner(cli.quiet, format!("checking {}", dir.display()));
            let report = crate::check::check_site(&dir, &options);
            spinner.finish_and_clear();
            let report = report?;
            print!("{}", report.render());
            println!(
                "{} in {:.1}s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(if report.ok() { EXIT_OK } else { EXIT_ERROR })
        }
        Command::Source {
            action: SourceAction::Check(args),
        } => {
            let config = load_config(&cli.config, None)?;
            let report = crate::source::probe::probe(
                &config,
                args.kind,
                args.url.as_deref(),
                args.profile.as_deref(),
                jiff::Timestamp::now(),
            )?;
            print!("{report}");
            Ok(if report.ok() { EXIT_OK } else { EXIT_ERROR })
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "cwfy", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
        Command::Init { dir } => {
            let written = crate::init::init(dir)?;
            let config = dir.join("config.yaml");
            println!(
                "wrote {} files into {}; edit {} (every CHANGE ME), add the district maps under {}, then:\n  cwfy --config {} import YOUR-EXPORT.csv\n  cwfy --config {} build",
                written.len(),
                dir.display(),
                config.display(),
                dir.join("data/boundaries").display(),
                config.display(),
                config.display()
            );
            Ok(EXIT_OK)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| anyhow::anyhow!("cannot write the man page: {e}"))?;
            Ok(EXIT_OK)
        }
        Command::Serve {
            dir,
            port,
            no_watch: true,
            open,
            ..
        } => {
            let (dir, _) = site_dir(cli, dir.as_deref())?;
            crate::serve::serve(&dir, *port, *open)?;
            Ok(EXIT_OK)
        }
        Command::Serve {
            dir,
            port,
            drafts,
            open,
            ..
        } => {
            crate::preview::run(&crate::preview::PreviewOptions {
                config: cli.config.clone(),
                output: dir.clone(),
                port: *port,
                drafts: *drafts,
                open: *open,
                quiet: cli.quiet,
            })?;
            Ok(EXIT_OK)
        }
    }
}

/// `cwfy build` options as the pipeline takes them.
fn build_options(args: &BuildArgs) -> Result<BuildOptions> {
    let as_of = args
        .as_of
        .as_deref()
        .map(|text| {
            Day::parse(text)
                .ok_or_else(|| UsageError(format!("--as-of {text:?}: write a date as YYYY-MM-DD")))
        })
        .transpose()?;
    Ok(BuildOptions {
        output: args.output.clone(),
        as_of,
        drafts: false,
        prune: args.prune,
    })
}

/// `cwfy fetch` options as the pipeline takes them.
fn fetch_options(args: &FetchArgs) -> Result<FetchOptions> {
    let when = |flag: &str, text: &Option<String>| -> Result<Option<When>> {
        text.as_deref()
            .map(|t| When::parse(t).map_err(|m| UsageError(format!("{flag}: {m}")).into()))
            .transpose()
    };
    let backfill_from = args
        .backfill_from
        .as_deref()
        .map(|t| {
            t.trim().parse::<jiff::civil::Date>().map_err(|_| {
                UsageError(format!("--backfill-from {t:?}: write a date as YYYY-MM-DD"))
            })
        })
        .transpose()?;
    Ok(FetchOptions {
        since: when("--since", &args.since)?,
        until: when("--until", &args.until)?,
        backfill_from,
        url: args.endpoint.url.clone(),
        kind: args.endpoint.kind,
        profile: args.endpoint.profile.clone(),
        requests: args.requests.clone(),
        now: None,
    })
}

/// The site folder a command works on: the one named, or the config's output folder. The config
/// is read when it exists (for the base URL), and is required only when no folder is named.
fn site_dir(cli: &Cli, dir: Option<&Path>) -> Result<(PathBuf, Option<Config>)> {
    match dir {
        Some(d) => {
            let config = if cli.config.exists() {
                Some(load_config(&cli.config, None)?)
            } else {
                None
            };
            Ok((d.to_path_buf(), config))
        }
        None => {
            let config = load_config(&cli.config, None)?;
            Ok((config.resolve(&config.site.output), Some(config)))
        }
    }
}

/// Loads the config, applying a `--base-url` override.
pub fn load_config(path: &Path, base_url: Option<&str>) -> Result<Config> {
    let mut config = Config::load(path)?;
    if let Some(url) = base_url {
        config.site.base_url =
            BaseUrl::parse(url).map_err(|m| UsageError(format!("--base-url: {m}")))?;
    }
    Ok(config)
}

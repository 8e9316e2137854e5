//! The command line's habits: `--version` names the commit, completions and the man page come
//! from the parser's own definitions and parse, `-v`/`-vv`/`RUST_LOG` show more than the default
//! and `-q` less, and `NO_COLOR` (or a pipe) leaves no escape codes, checked in a real
//! pseudo-terminal; the hosting recipes run cwfy with flags it has and keep the site between runs.

mod support;

use std::process::Command;

use support::{Project, code_and_stderr};

fn cwfy() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cwfy"));
    cmd.env_remove("RUST_LOG").env_remove("NO_COLOR");
    cmd
}

fn stdout(args: &[&str]) -> String {
    let out = cwfy().args(args).output().unwrap();
    assert!(out.status.success(), "cwfy {args:?}: {:?}", out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_the_commit() {
    let text = stdout(&["--version"]);
    let text = text.trim();
    assert!(
        text.starts_with(&format!("cwfy {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.ends_with(')'), "{text}");
}

#[test]
fn completions_parse_and_the_man_page_documents_every_command() {
    let bash = stdout(&["completions", "bash"]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bash).unwrap();
    let checked = Command::new("bash")
        .arg("-n")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(checked.status.success(), "bash -n: {checked:?}");
    assert!(bash.contains("complete -F"), "a bash completion function");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let text = stdout(&["completions", shell]);
        for word in ["build", "fetch", "source", "config"] {
            assert!(text.contains(word), "{shell}: {word}");
        }
    }
    // Where the shell is installed, it parses its script too.
    for (shell, flag) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if Command::new(shell).arg("--version").output().is_ok() {
            let script = stdout(&["completions", shell]);
            std::fs::write(file.path(), &script).unwrap();
            let checked = Command::new(shell)
                .arg(flag)
                .arg(file.path())
                .output()
                .unwrap();
            assert!(checked.status.success(), "{shell}: {checked:?}");
        }
    }
    let man = stdout(&["man"]);
    assert!(man.contains(".TH cwfy 1"), "{man}");
    for command in [
        "build",
        "fetch",
        "update",
        "check",
        "serve",
        "source",
        "completions",
    ] {
        assert!(man.contains(command), "the man page names {command}");
    }
    let rejected = cwfy().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(rejected.status.code(), Some(2));
}

/// The log of `cwfy ARGS build` on an empty store, with `env` set.
fn build_log(p: &Project, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.push("build");
    let mut cmd = p.command(&all);
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, stderr) = code_and_stderr(&cmd.output().unwrap());
    assert_eq!(code, 0, "{stderr}");
    stderr
}

#[test]
fn verbose_shows_more_and_quiet_less_and_rust_log_is_honoured() {
    let p = Project::new(3, 1);
    let default = build_log(&p, &[], &[]);
    let verbose = build_log(&p, &["-v"], &[]);
    let very = build_log(&p, &["-vv"], &[]);
    let quiet = build_log(&p, &["-q"], &[]);
    let from_env = build_log(&p, &[], &[("RUST_LOG", "debug")]);
    assert!(
        default.contains("INFO") && !default.contains("DEBUG"),
        "{default}"
    );
    assert!(
        verbose.contains("DEBUG") && verbose.contains("render: done in"),
        "{verbose}"
    );
    assert!(verbose.lines().count() > default.lines().count());
    assert!(very.lines().count() >= verbose.lines().count());
    assert!(!quiet.contains("INFO"), "{quiet}");
    assert!(from_env.contains("DEBUG"), "{from_env}");
    // -q and -v say opposite things: a usage error.
    let out = p.command(&["-q", "-v", "build"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Piped: never an escape code.
    assert!(!default.contains('\u{1b}'), "{default}");
}

/// Runs `cwfy build` in a pseudo-terminal (util-linux `script`) and returns what it showed.
fn in_terminal(p: &Project, no_color: bool) -> String {
    let command = format!(
        "{} --config {} build",
        env!("CARGO_BIN_EXE_cwfy"),
        p.join("config.yaml").display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(p.path())
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn no_color_leaves_no_escape_codes_in_a_terminal() {
    let p = Project::new(3, 1);
    let coloured = in_terminal(&p, false);
    assert!(
        coloured.contains("\u{1b}["),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = in_terminal(&p, true);
    assert!(plain.contains("INFO"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}

/// The arguments a hosting recipe passes to cwfy: the words after `cargo run --release --`, each
/// quoted value (a shell variable, an Actions expression) replaced by a real address.
fn recipe_args(command: &str) -> Vec<String> {
    let mut rest = command
        .split("cargo run --release --")
        .nth(1)
        .unwrap_or_else(|| panic!("not a cargo run command: {command}"))
        .trim();
    let mut args = Vec::new();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap();
            args.push("https://example.org/cwfy/".to_string());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            args.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    args
}

/// Issue 21: the hosting recipes (docs/hosting/github-pages.yml, the README's GitLab job) run
/// `cwfy update` with flags it has, and keep the store and the site between runs: a build can
/// only keep publishing the addresses that the previous site holds.
#[test]
fn hosting_recipes_use_real_flags_and_keep_the_site_between_runs() {
    let repo = support::repo();
    let read = |rel: &str| std::fs::read_to_string(repo.join(rel)).unwrap();
    let mut commands = Vec::new();

    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&read("docs/hosting/github-pages.yml")).unwrap();
    let mut caches = 0;
    for step in workflow["jobs"]["build"]["steps"].as_sequence().unwrap() {
        let uses = step["uses"].as_str().unwrap_or_default();
        if uses.starts_with("actions/cache/restore") || uses.starts_with("actions/cache/save") {
            let paths = step["with"]["path"].as_str().unwrap();
            let paths: Vec<&str> = paths.lines().map(str::trim).collect();
            assert!(
                paths.contains(&"site") && paths.contains(&"data/store.sqlite*"),
                "{uses}: {paths:?}"
            );
            caches += 1;
        }
        if let Some(run) = step["run"].as_str() {
            commands.push((run.to_string(), "site".to_string()));
        }
    }
    assert_eq!(caches, 2, "a restore and a save");

    let readme = read("README.md");
    let block = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the GitLab job in the README");
    let gitlab: serde_yaml::Value = serde_yaml::from_str(block).unwrap();
    let cached: Vec<&str> = (gitlab["pages"]["cache"]["paths"].as_sequence().unwrap())
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        cached.contains(&"public/") && cached.contains(&"data/store.sqlite*"),
        "{cached:?}"
    );
    let script = gitlab["pages"]["script"][0].as_str().unwrap();
    commands.push((script.to_string(), "public".to_string()));

    assert_eq!(commands.len(), 2, "{commands:?}");
    for (command, folder) in commands {
        let args = recipe_args(&command);
        assert!(args.iter().any(|a| a == "update"), "{command}");
        // The folder the job publishes and caches is the one cwfy writes.
        let output = (args.iter().position(|a| a == "--output")).map(|i| args[i + 1].as_str());
        assert_eq!(output.unwrap_or("site"), folder, "{command}");
        // Every flag is one cwfy has: clap reads the arguments before --help and rejects an
        // unknown one.
        let mut with_help = args.clone();
        with_help.push("--help".into());
        let out = cwfy().args(&with_help).output().unwrap();
        let (code, stderr) = code_and_stderr(&out);
        assert_eq!(code, 0, "cwfy {with_help:?}: {stderr}");
    }
}

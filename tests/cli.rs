//! The command line's habits: `--version` names the commit, completions and the man page come
//! from the parser's own definitions and parse, `-v`/`-vv`/`RUST_LOG` show more than the default
//! and `-q` less, and `NO_COLOR` (or a pipe) leaves no escape codes, checked in a real
//! pseudo-terminal.

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

//! `cwfy serve` as a site maintainer uses it: it builds the site, serves it on loopback, and an
//! edit to a Markdown page reaches the served page by itself; a broken template shows its error
//! on the page while the last good site stays served; open pages are told to reload; drafts are
//! previewed but never built by `cwfy build`; and the published files never carry the reload
//! script. Real binary, real sockets, real files.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use support::Project;

/// A running `cwfy serve` and what it has written.
struct Serving {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// Lines of its standard error (the log), as they come.
    log: Receiver<String>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A guard against a hang, not a speed limit: a rebuild of this small project takes seconds.
const HANG: Duration = Duration::from_secs(300);

fn start(p: &Project, args: &[&str]) -> Serving {
    let mut all = vec!["serve", "--port", "0"];
    all.extend_from_slice(args);
    let mut child = p
        .command(&all)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (to_log, log) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if to_log.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let serving = Serving { child, addr, log };
    if !args.contains(&"--no-watch") {
        // The first build's line, so that the next one is an edit's.
        serving.next_rebuild();
    }
    serving
}

impl Serving {
    /// Waits for the log line of the next rebuild: "rebuilt" or "the rebuild failed". Returns
    /// every line up to it.
    fn next_rebuild(&self) -> String {
        let mut lines = String::new();
        loop {
            match self.log.recv_timeout(HANG) {
                Ok(line) => {
                    lines.push_str(&line);
                    lines.push('\n');
                    if line.contains("rebuilt in") || line.contains("the rebuild failed") {
                        return lines;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no rebuild; log so far:\n{lines}"),
                Err(RecvTimeoutError::Disconnected) => panic!("cwfy serve ended:\n{lines}"),
            }
        }
    }

    /// `GET path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).unwrap();
        let (head, body) = all.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_string())
    }

    /// Opens the reload event stream.
    fn events(&self) -> BufReader<TcpStream> {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(stream, "GET /__cwfy/live HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        BufReader::new(stream)
    }
}

/// The next `data:` line of an event stream.
fn next_event(events: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
        if let Some(data) = line.strip_prefix("data: ") {
            return data.trim().to_string();
        }
    }
}

#[test]
fn an_edit_under_serve_reaches_the_served_page_and_a_broken_template_keeps_the_last_good_site() {
    let p = Project::new(3, 1);
    let serving = start(&p, &[]);
    // The first build happened before the address was printed.
    let (status, about) = serving.get("/about/");
    assert_eq!(status, 200);
    assert!(about.contains("About Chicago Works For You"), "{about}");
    assert!(
        about.contains("/__cwfy/live"),
        "served pages carry the reload hook"
    );
    let on_disk = p.read("site/about/index.html");
    assert!(
        !on_disk.contains("__cwfy") && !on_disk.contains("<script"),
        "the published file has no script"
    );
    let (_, css) = serving.get("/style.css");
    assert!(!css.contains("__cwfy"), "only HTML pages get the hook");

    let mut events = serving.events();
    let first = next_event(&mut events);

    // An edit of a Markdown page: rebuilt, served, and open pages told to reload.
    let about_md = p.read("content/about/index.md");
    p.write(
        "content/about/index.md",
        about_md.replace(
            "# About Chicago Works For You",
            "# About Chicago Works For You\n\nEdited while serving: 4,217 reasons.",
        ),
    );
    let log = serving.next_rebuild();
    assert!(log.contains("changed: content/about/index.md"), "{log}");
    assert!(log.contains("rebuilt in"), "{log}");
    let (_, about) = serving.get("/about/");
    assert!(
        about.contains("Edited while serving: 4,217 reasons."),
        "{about}"
    );
    assert!(
        p.read("site/about/index.html")
            .contains("Edited while serving")
    );
    assert_ne!(next_event(&mut events), first, "open pages reload");

    // A broken template: the error in the terminal and on the page, the last good site served.
    let page_template = p.read("templates/page.html");
    p.write(
        "templates/page.html",
        page_template.replace("{% block content %}", "{% block content %}{% if %}"),
    );
    let log = serving.next_rebuild();
    assert!(log.contains("the rebuild failed"), "{log}");
    assert!(
        log.contains("page.html"),
        "the terminal names the template: {log}"
    );
    let (status, about) = serving.get("/about/");
    assert_eq!(status, 200);
    assert!(about.contains("Edited while serving"), "the last good site");
    assert!(about.contains("role=\"alert\""), "{about}");
    assert!(about.contains("the last rebuild failed"), "{about}");
    assert!(about.contains("page.html"), "the page names the template");
    let (status, missing) = serving.get("/no/such/page/");
    assert_eq!(status, 404);
    assert!(missing.contains("the last rebuild failed"), "{missing}");
    assert!(!p.read("site/about/index.html").contains("alert"));

    // Mended: the error goes away.
    p.write("templates/page.html", &page_template);
    let log = serving.next_rebuild();
    assert!(log.contains("rebuilt in"), "{log}");
    let (_, about) = serving.get("/about/");
    assert!(!about.contains("role=\"alert\""), "{about}");
    assert!(about.contains("Edited while serving"));
}

#[test]
fn drafts_are_previewed_beside_the_site_and_never_built() {
    let p = Project::new(3, 1);
    p.write(
        "content/about/plans.md",
        "---\ntitle: Plans for next year\ndraft: true\n---\n\n# Plans for next year\n\nNot ready.\n",
    );
    {
        let serving = start(&p, &["--drafts"]);
        let (status, plans) = serving.get("/about/plans/");
        assert_eq!(status, 200, "{plans}");
        assert!(plans.contains("Not ready."), "{plans}");
        assert!(plans.contains("Draft."), "a draft says it is one: {plans}");
        assert!(p.join("site-drafts/about/plans/index.html").is_file());
        assert!(
            !p.join("site/about/plans").exists(),
            "drafts never reach the published folder"
        );
    }
    p.ok(&["build"]);
    assert!(p.join("site/about/index.html").is_file());
    assert!(
        !p.join("site/about/plans").exists(),
        "cwfy build leaves drafts out"
    );

    // --no-watch serves the folder as it is: no build, no hook.
    let serving = start(&p, &["--no-watch"]);
    let (status, about) = serving.get("/about/");
    assert_eq!(status, 200);
    assert!(!about.contains("__cwfy"), "{about}");
    let (status, _) = serving.get("/__cwfy/live");
    assert_eq!(status, 404);
    let refused = p.run(&["serve", "--no-watch", "--drafts"]);
    assert_eq!(refused.status.code(), Some(2), "drafts need a build");
}

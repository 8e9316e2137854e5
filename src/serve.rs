//! `cwfy serve`: a small static file server on 127.0.0.1 for previewing a built site and for the
//! browser tests (Lighthouse needs HTTP, not `file://`).
//!
//! One thread per connection, one request per connection (`Connection: close`). `GET` and `HEAD`
//! only; `/x/` serves `/x/index.html`, `/x` redirects to `/x/` when `x` is a folder, unknown paths
//! get the site's `404.html` with status 404, and no path can leave the site folder.
//!
//! While `cwfy serve` watches and rebuilds (see `preview.rs`), the server is *live*: every HTML
//! page it sends gets a short script that listens on `/__cwfy/live` (server-sent events) and
//! reloads the page after each rebuild, and, while the last rebuild failed, a banner with the
//! error. Both are added to the response only: the files on disk, which are what gets
//! published, never carry them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The path of the reload event stream, as a literal for `concat!`.
macro_rules! live_path {
    () => {
        "/__cwfy/live"
    };
}

/// The path of the reload event stream of a live server.
pub const LIVE_PATH: &str = live_path!();

/// What a live server tells its pages: how many rebuilds there have been, and the error of the
/// last one if it failed.
#[derive(Debug, Default)]
pub struct Live {
    state: Mutex<LiveState>,
    changed: Condvar,
}

#[derive(Debug, Default, Clone)]
struct LiveState {
    rebuilds: u64,
    error: Option<String>,
}

impl Live {
    /// A live state with no rebuild yet.
    pub fn new() -> Arc<Live> {
        Arc::new(Live::default())
    }

    /// A rebuild finished: `error` is why it failed (the last good site is still served), or
    /// `None`. Open pages reload.
    pub fn rebuilt(&self, error: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.rebuilds += 1;
        state.error = error;
        self.changed.notify_all();
    }

    fn now(&self) -> LiveState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until the rebuild count differs from `seen`, or `timeout` passes.
    fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |s| s.rebuilds == seen)
            .unwrap_or_else(|p| p.into_inner());
        state.rebuilds
    }
}

/// The script a live server adds to each page: reload when the rebuild count changes (an
/// `EventSource` reconnects by itself when the server restarts).
const RELOAD_SCRIPT: &str = concat!(
    "<script>(function(){var seen;var s=new EventSource(\"",
    live_path!(),
    "\");s.onmessage=function(e){if(seen===undefined){seen=e.data}\
else if(e.data!==seen){location.reload()}}})();</script>"
);

/// `page` as a live server sends it: with the reload script, and the error banner when the last
/// rebuild failed. Appended after the document's end, where browsers still put it in the body.
fn with_live_parts(page: &[u8], error: Option<&str>) -> Vec<u8> {
    let mut out = page.to_vec();
    if let Some(error) = error {
        out.extend_from_slice(
            b"<div role=\"alert\" id=\"cwfy-serve-error\" style=\"position:fixed;top:0;left:0;right:0;\
max-height:60vh;overflow:auto;z-index:2147483647;margin:0;padding:1rem;background:#fff1f0;\
color:#5c0000;border-bottom:4px solid #b00020;font:14px/1.5 monospace;white-space:pre-wrap\">\
<strong>cwfy serve: the last rebuild failed.</strong> This is the last good site; fix the error \
and save, and this page reloads.\n\n",
        );
        out.extend_from_slice(tera::escape_html(error).as_bytes());
        out.extend_from_slice(b"</div>");
    }
    out.extend_from_slice(RELOAD_SCRIPT.as_bytes());
    out
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The site folder does not exist.
    #[error("{0}: no such folder; build the site first (cwfy build) or name the folder to serve")]
    NoSite(PathBuf),
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}; is another server using it? Try --port")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The error.
        source: std::io::Error,
    },
}

/// A bound server, not yet accepting.
pub struct Server {
    root: PathBuf,
    listener: TcpListener,
    live: Option<Arc<Live>>,
}

impl Server {
    /// Binds 127.0.0.1:`port` (0 picks a free port) to serve `dir`.
    pub fn bind(dir: &Path, port: u16) -> Result<Server, ServeError> {
        if !dir.is_dir() {
            return Err(ServeError::NoSite(dir.to_path_buf()));
        }
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| ServeError::Bind { port, source })?;
        Ok(Server {
            root: dir.to_path_buf(),
            listener,
            live: None,
        })
    }

    /// Makes the server live: pages reload after each rebuild `live` is told of.
    pub fn with_live(mut self, live: Arc<Live>) -> Server {
        self.live = Some(live);
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Accepts connections until the process ends, each on its own thread.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let root = self.root.clone();
            let live = self.live.clone();
            std::thread::spawn(move || {
                if let Err(e) = handle(&root, live.as_deref(), stream) {
                    tracing::debug!("connection ended: {e}");
                }
            });
        }
    }
}

/// Serves `dir` on 127.0.0.1:`port` until the process ends, printing the URL first, and opening
/// it in a browser with `open`.
pub fn serve(dir: &Path, port: u16, open: bool) -> Result<(), ServeError> {
    let server = Server::bind(dir, port)?;
    let url = format!("http://{}/", server.local_addr());
    println!("serving {} at {url} (Ctrl-C to stop)", dir.display());
    if open {
        open_browser(&url);
    }
    server.run();
    Ok(())
}

/// Opens `url` in `$BROWSER`, or the system's default browser; says so when it cannot.
pub fn open_browser(url: &str) {
    let (program, args): (String, Vec<&str>) = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => (b, vec![url]),
        _ if cfg!(target_os = "macos") => ("open".into(), vec![url]),
        _ if cfg!(windows) => ("cmd".into(), vec!["/C", "start", "", url]),
        _ => ("xdg-open".into(), vec![url]),
    };
    let spawned = std::process::Command::new(&program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        tracing::warn!(
            "cannot open a browser with {program} ({e}); open {url} yourself, or set $BROWSER"
        );
    }
}

/// The content type of a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "js" => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What a request path maps to.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// Serve this file.
    File(PathBuf),
    /// Redirect a folder without its slash to `path/`.
    Slash(String),
    /// Not found.
    Missing,
    /// A path that tries to leave the site or is malformed.
    Bad,
}

fn route(root: &Path, target: &str) -> Route {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(path) = path.strip_prefix('/') else {
        return Route::Bad;
    };
    // Escapes are decoded before the segments are checked, so `%2e%2e` is `..` (refused).
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        return Route::Bad;
    };
    let mut file = root.to_path_buf();
    for seg in decoded.split('/') {
        if seg == ".." || seg.contains('\\') || seg.contains('\0') {
            return Route::Bad;
        }
        if !seg.is_empty() && seg != "." {
            file.push(seg);
        }
    }
    if decoded.is_empty() || decoded.ends_with('/') {
        file.push("index.html");
    } else if file.is_dir() {
        return Route::Slash(format!("/{path}/"));
    }
    if file.is_file() {
        Route::File(file)
    } else {
        Route::Missing
    }
}

fn handle(root: &Path, live: Option<&Live>, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(64 * 1024));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read (and ignore) the headers up to the blank line.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = stream;
    let head = method == "HEAD";
    if method != "GET" && !head {
        return respond(
            &mut out,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"only GET and HEAD\n",
            head,
            &[("Allow", "GET, HEAD")],
        );
    }
    if let Some(live) = live
        && target.split('?').next() == Some(LIVE_PATH)
    {
        return live_events(live, out);
    }
    // A live preview changes under the browser: it must not keep old copies.
    let no_store: &[(&str, &str)] = if live.is_some() {
        &[("Cache-Control", "no-store")]
    } else {
        &[]
    };
    let live_page = |body: Vec<u8>| match live {
        Some(live) => with_live_parts(&body, live.now().error.as_deref()),
        None => body,
    };
    match route(root, target) {
        Route::File(file) => {
            let kind = content_type(&file);
            let mut body = std::fs::read(&file)?;
            if kind.starts_with("text/html") {
                body = live_page(body);
            }
            respond(&mut out, "200 OK", kind, &body, head, no_store)
        }
        Route::Slash(location) => respond(
            &mut out,
            "301 Moved Permanently",
            "text/plain; charset=utf-8",
            location.as_bytes(),
            head,
            &[("Location", &location)],
        ),
        Route::Bad => respond(
            &mut out,
            "400 Bad Request",
            "text/plain; charset=utf-8",
            b"bad request path\n",
            head,
            &[],
        ),
        Route::Missing => {
            let page = root.join("404.html");
            let (body, kind) = match std::fs::read(&page) {
                Ok(b) => (live_page(b), "text/html; charset=utf-8"),
                // A live server whose first build failed has no 404 page yet, and the error
                // must still reach the browser.
                Err(_) if live.is_some() => (
                    live_page(b"<!doctype html><title>Not found</title><p>Not found.".to_vec()),
                    "text/html; charset=utf-8",
                ),
                Err(_) => (b"not found\n".to_vec(), "text/plain; charset=utf-8"),
            };
            respond(&mut out, "404 Not Found", kind, &body, head, no_store)
        }
    }
}

/// The reload event stream: the rebuild count now, then again after every rebuild, with a
/// comment line every 15 s so a closed tab ends its thread.
fn live_events(live: &Live, mut out: TcpStream) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nretry: 1000\n\n",
    )?;
    let mut seen = live.now().rebuilds;
    out.write_all(format!("data: {seen}\n\n").as_bytes())?;
    out.flush()?;
    loop {
        let now = live.wait_past(seen, Duration::from_secs(15));
        if now == seen {
            out.write_all(b": waiting\n\n")?;
        } else {
            seen = now;
            out.write_all(format!("data: {seen}\n\n").as_bytes())?;
        }
        out.flush()?;
    }
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    head: bool,
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        header.push_str(&format!("{k}: {v}\r\n"));
    }
    header.push_str("\r\n");
    out.write_all(header.as_bytes())?;
    if !head {
        out.write_all(body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real server on a free loopback port over a small site.
    fn server() -> (tempfile::TempDir, SocketAddr) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("ward/3")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html><p>home").unwrap();
        std::fs::write(root.join("ward/3/index.html"), "<p>ward 3").unwrap();
        std::fs::write(root.join("404.html"), "<p>lost").unwrap();
        std::fs::write(root.join("style.css"), "p{}").unwrap();
        std::fs::write(root.join("a b.svg"), "<svg/>").unwrap();
        let server = Server::bind(root, 0).unwrap();
        let addr = server.local_addr();
        std::thread::spawn(move || server.run());
        (dir, addr)
    }

    /// Sends a raw request; returns the status line, headers and body.
    fn raw(addr: SocketAddr, request: &str) -> (String, String, Vec<u8>) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(all[..split].to_vec()).unwrap();
        let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
        (
            status.to_string(),
            headers.to_string(),
            all[split + 4..].to_vec(),
        )
    }

    fn get(addr: SocketAddr, path: &str) -> (String, String, Vec<u8>) {
        raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    #[test]
    fn serves_files_with_types_and_folder_indexes() {
        let (_dir, addr) = server();
        let (status, headers, body) = get(addr, "/");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains("Content-Type: text/html; charset=utf-8"));
        assert_eq!(body, b"<!doctype html><p>home");
        let (status, _, body) = get(addr, "/ward/3/?x=1");
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"<p>ward 3"[..])
        );
        let (status, headers, _) = get(addr, "/ward/3");
        assert_eq!(status, "HTTP/1.1 301 Moved Permanently");
        assert!(headers.contains("Location: /ward/3/"), "{headers}");
        let (_, headers, _) = get(addr, "/style.css");
        assert!(headers.contains("Content-Type: text/css"));
        let (status, headers, _) = get(addr, "/a%20b.svg");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains("Content-Type: image/svg+xml"));
    }

    #[test]
    fn missing_pages_get_the_404_page_and_head_has_no_body() {
        let (_dir, addr) = server();
        let (status, _, body) = get(addr, "/ward/99/");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert_eq!(body, b"<p>lost");
        let (status, headers, body) = raw(addr, "HEAD /index.html HTTP/1.1\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains("Content-Length: 22"), "{headers}");
        assert!(body.is_empty());
        let (status, _, _) = raw(addr, "POST / HTTP/1.1\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    }

    #[test]
    fn a_live_server_adds_the_hook_and_the_escaped_error_to_pages_only() {
        let (dir, _) = server();
        let live = Live::new();
        let server = Server::bind(dir.path(), 0).unwrap().with_live(live.clone());
        let addr = server.local_addr();
        std::thread::spawn(move || server.run());
        let (_, headers, body) = get(addr, "/ward/3/");
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with("<p>ward 3<script>"), "{body}");
        assert!(body.contains(LIVE_PATH));
        assert!(headers.contains("Cache-Control: no-store"), "{headers}");
        assert!(headers.contains(&format!("Content-Length: {}", body.len())));
        let (_, _, css) = get(addr, "/style.css");
        assert_eq!(css, b"p{}", "only pages get the hook");
        live.rebuilt(Some("templates/page.html: <b>unexpected</b> tag".into()));
        let (_, _, body) = get(addr, "/");
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("role=\"alert\""), "{body}");
        assert!(
            body.contains("templates&#x2F;page.html: &lt;b&gt;unexpected&lt;&#x2F;b&gt; tag"),
            "the error is escaped: {body}"
        );
        live.rebuilt(None);
        let (_, _, body) = get(addr, "/ward/99/");
        assert!(!String::from_utf8(body).unwrap().contains("alert"));
        // The files themselves are untouched.
        assert_eq!(
            std::fs::read(dir.path().join("ward/3/index.html")).unwrap(),
            b"<p>ward 3"
        );
    }

    #[test]
    fn paths_cannot_leave_the_site() {
        let (_dir, addr) = server();
        for path in [
            "/../cwfy-secret.txt",
            "/ward/%2e%2e/%2e%2e/../cwfy-secret.txt",
            "/..%2fcwfy-secret.txt",
            "x",
        ] {
            let (status, _, body) = get(addr, path);
            assert_eq!(status, "HTTP/1.1 400 Bad Request", "{path}");
            assert!(body.starts_with(b"bad request"), "{path}");
        }
    }
}

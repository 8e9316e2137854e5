//! A real HTTP/1.1 server on 127.0.0.1 for the tests, written on `std::net` so that every fault
//! is under the test's control: status codes, headers, delays, bodies cut short under a larger
//! `Content-Length`, connections dropped in the middle of a chunked body, HTML error pages.
//!
//! Each connection gets its own thread and one response, then `Connection: close`. Every request
//! is logged (path, decoded query, headers, arrival time) for the tests to inspect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The raw query string, as sent.
    pub raw_query: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (a POST's), as text.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Whole, with its `Content-Length`.
    Whole,
    /// The first half only, under the full body's `Content-Length`, then the connection closes.
    Truncated,
    /// Chunked; the first half goes out as a chunk, then the connection drops without the end.
    DroppedMidBody,
    /// No response at all: the connection is closed as soon as the request is read.
    Hangup,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Waits this long before answering.
    pub delay: Duration,
    /// How the body is sent.
    pub delivery: Delivery,
}

impl Reply {
    /// A response with a status, a content type and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
            delivery: Delivery::Whole,
        }
    }

    /// 200 with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, "application/json; charset=utf-8", body)
    }

    /// An HTML error page with the given status (proxies send these with 200, too).
    pub fn html(status: u16) -> Reply {
        Reply::new(
            status,
            "text/html",
            "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request. Please try again later.</p></body></html>\n",
        )
    }

    /// A status with a short JSON body.
    pub fn status(status: u16) -> Reply {
        Reply::new(
            status,
            "application/json",
            format!("[{{\"code\":{status},\"description\":\"test error {status}\"}}]"),
        )
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Waits before answering.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Sends the body this way.
    pub fn delivered(mut self, delivery: Delivery) -> Reply {
        self.delivery = delivery;
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A server on 127.0.0.1 on a free port; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server answering every request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let log = log.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let log = log.clone();
                    let handler = handler.clone();
                    std::thread::spawn(move || serve(stream, &*handler, &log));
                }
            })
        };
        Server {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// Requests for one path.
    pub fn requests_for(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    log.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    if !reply.delay.is_zero() {
        std::thread::sleep(reply.delay);
    }
    let _ = write_reply(stream, &reply);
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request {
        method,
        path: path.to_string(),
        query,
        raw_query: raw_query.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    })
}

/// Percent-decoding of a query component (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_reply(mut stream: TcpStream, reply: &Reply) -> std::io::Result<()> {
    if reply.delivery == Delivery::Hangup {
        return stream.shutdown(Shutdown::Both);
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n");
    let half = &reply.body[..reply.body.len() / 2];
    match reply.delivery {
        Delivery::Whole => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
            stream.write_all(head.as_bytes())?;
            stream.write_all(&reply.body)?;
        }
        Delivery::Truncated => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
            stream.write_all(head.as_bytes())?;
            stream.write_all(half)?;
        }
        Delivery::DroppedMidBody => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            stream.write_all(head.as_bytes())?;
            stream.write_all(format!("{:x}\r\n", half.len()).as_bytes())?;
            stream.write_all(half)?;
            stream.write_all(b"\r\n")?;
        }
        Delivery::Hangup => {}
    }
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}

//! `FaultProxy`: a plain HTTP/1.1 proxy in front of a real Prometheus that
//! passes requests through, or answers them the way a broken backend, a
//! broken proxy or a hostile endpoint would. The fault can be changed at
//! any time; it applies to the requests that arrive after the change.
//!
//! Most faults start from the real upstream answer (cut it, rewrite its
//! values, duplicate its series), so what the dashboard reads stays what a
//! real Prometheus says, only broken in one way.
//!
//! Needs a Tokio runtime with real time; every connection is its own task
//! and closes after one answer (`connection: close`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest request head (and form body) read.
const MAX_REQUEST: usize = 1024 * 1024;
/// How often [`Fault::SlowDrip`] sends its next byte.
pub const DRIP_EVERY: Duration = Duration::from_millis(100);

/// A request as the proxy read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `/api/v1/query`, `/api/v1/alerts`…
    pub path: String,
    /// The `query` parameter (PromQL), from the URL or the form body.
    pub query: Option<String>,
}

impl Request {
    /// An instant query (the grid's five are).
    pub fn is_instant_query(&self) -> bool {
        self.path.ends_with("/api/v1/query")
    }
}

/// Rewrites the real answer: the request, the upstream status and body in;
/// the status and body to send out.
pub type Rewrite = Arc<dyn Fn(&Request, u16, Vec<u8>) -> (u16, Vec<u8>) + Send + Sync>;
/// Which requests a fault applies to; the others pass through.
pub type Only = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

#[derive(Clone)]
pub enum Fault {
    /// Every request to Prometheus and its answer back, unchanged.
    Pass,
    /// 200 with a body that is no JSON, an escape sequence in it.
    Garbage,
    /// 422 with Prometheus' error envelope (a query that timed out).
    ErrorEnvelope,
    /// Reads the request and never answers.
    Hang,
    /// A reverse proxy's error page: 502, `text/html`, with an escape
    /// sequence and control characters in it.
    HtmlBadGateway,
    /// The real answer cut in the middle, sent as a whole answer: its
    /// `content-length` is the cut length.
    Truncated,
    /// The real answer's `content-length`, then half of its bytes, then
    /// the connection closes.
    CutOff,
    /// The headers, then one byte every [`DRIP_EVERY`], forever: the start
    /// of an API answer, then spaces (valid JSON whitespace).
    SlowDrip,
    /// A chunked body of `bytes` bytes (a vector of filler samples) for
    /// the requests `only` picks; the others pass through.
    Oversize { bytes: usize, only: Only },
    /// The real answer, rewritten.
    Rewrite(Rewrite),
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Fault::Pass => "Pass",
            Fault::Garbage => "Garbage",
            Fault::ErrorEnvelope => "ErrorEnvelope",
            Fault::Hang => "Hang",
            Fault::HtmlBadGateway => "HtmlBadGateway",
            Fault::Truncated => "Truncated",
            Fault::CutOff => "CutOff",
            Fault::SlowDrip => "SlowDrip",
            Fault::Oversize { .. } => "Oversize",
            Fault::Rewrite(_) => "Rewrite",
        };
        f.write_str(name)
    }
}

/// The page nginx sends when its upstream is gone, with an escape
/// sequence (clear screen), a bell and a carriage return slipped in.
pub const BAD_GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\x1b[2J\x07\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";

pub struct FaultProxy {
    url: String,
    fault: Arc<Mutex<Fault>>,
    faulted: Arc<AtomicU64>,
}

impl FaultProxy {
    /// Listens on a free loopback port, passing everything to `upstream`
    /// (`http://127.0.0.1:PORT`) until told otherwise.
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let faulted = Arc::new(AtomicU64::new(0));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the proxy's HTTP client");
        let (shared, counter) = (fault.clone(), faulted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let fault = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let served = Served {
                    client: client.clone(),
                    upstream: upstream.clone(),
                    faulted: counter.clone(),
                };
                tokio::spawn(served.serve(stream, fault));
            }
        });
        FaultProxy {
            url,
            fault,
            faulted,
        }
    }

    /// `http://127.0.0.1:PORT`: where to point an environment.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// How many requests were answered with a fault (not passed through).
    pub fn faulted(&self) -> u64 {
        self.faulted.load(Ordering::SeqCst)
    }
}

struct Served {
    client: reqwest::Client,
    upstream: String,
    faulted: Arc<AtomicU64>,
}

impl Served {
    async fn serve(self, mut stream: TcpStream, fault: Fault) {
        let _ = stream.set_nodelay(true);
        let Some((method, target, body)) = read_request(&mut stream).await else {
            return;
        };
        let request = parse_request(&target, &body);
        let applies = match &fault {
            Fault::Pass => false,
            Fault::Oversize { only, .. } => only(&request),
            _ => true,
        };
        if !applies {
            let (status, body) = self.upstream(&method, &target, body).await;
            let _ = respond(&mut stream, status, "application/json", &body).await;
            return;
        }
        self.faulted.fetch_add(1, Ordering::SeqCst);
        let _ = match fault {
            Fault::Pass => unreachable!(),
            Fault::Garbage => {
                respond(
                    &mut stream,
                    200,
                    "application/json",
                    "<<<\u{1b}[2J garbage >>>".as_bytes(),
                )
                .await
            }
            Fault::ErrorEnvelope => {
                respond(
                    &mut stream,
                    422,
                    "application/json",
                    br#"{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}"#,
                )
                .await
            }
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            Fault::HtmlBadGateway => {
                respond(
                    &mut stream,
                    502,
                    "text/html",
                    BAD_GATEWAY_PAGE.as_bytes(),
                )
                .await
            }
            Fault::Truncated => {
                let (status, body) = self.upstream(&method, &target, body).await;
                respond(
                    &mut stream,
                    status,
                    "application/json",
                    &body[..body.len() / 2],
                )
                .await
            }
            Fault::CutOff => {
                let (status, body) = self.upstream(&method, &target, body).await;
                let head = head(status, "application/json", Some(body.len()));
                async {
                    stream.write_all(head.as_bytes()).await?;
                    stream.write_all(&body[..body.len() / 2]).await?;
                    stream.shutdown().await
                }
                .await
            }
            Fault::SlowDrip => drip(&mut stream).await,
            Fault::Oversize { bytes, .. } => oversize(&mut stream, bytes).await,
            Fault::Rewrite(rewrite) => {
                let (status, body) = self.upstream(&method, &target, body).await;
                let (status, body) = rewrite(&request, status, body);
                respond(&mut stream, status, "application/json", &body).await
            }
        };
    }

    async fn upstream(&self, method: &str, target: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let url = format!("{}{target}", self.upstream);
        let request = if method == "POST" {
            self.client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
        } else {
            self.client.get(url)
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.bytes().await.unwrap_or_default().to_vec())
            }
            Err(_) => (502, b"bad gateway".to_vec()),
        }
    }
}

/// The method, the target and the body (of a POST form).
async fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if request.len() > MAX_REQUEST {
            return None;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_string();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_string();
    let target = words.next()?.to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = request[head_end..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    Some((method, target, body))
}

fn parse_request(target: &str, body: &[u8]) -> Request {
    let url = url::Url::parse(&format!("http://proxy{target}")).ok();
    let path = url
        .as_ref()
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let from_url = url.as_ref().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
    });
    let query = from_url.or_else(|| {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
    });
    Request { path, query }
}

fn head(status: u16, content_type: &str, length: Option<usize>) -> String {
    let reason = match status {
        200 => "OK",
        422 => "Unprocessable Entity",
        502 => "Bad Gateway",
        _ => "Proxied",
    };
    let length = match length {
        Some(n) => format!("content-length: {n}\r\n"),
        None => "transfer-encoding: chunked\r\n".to_string(),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n{length}connection: close\r\n\r\n"
    )
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    stream
        .write_all(head(status, content_type, Some(body.len())).as_bytes())
        .await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// One byte per chunk, one chunk every [`DRIP_EVERY`], until the client
/// goes away.
async fn drip(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(head(200, "application/json", None).as_bytes())
        .await?;
    let start = br#"{"status":"success","data":{"resultType":"vector","result":["#;
    for byte in start.iter().copied().chain(std::iter::repeat(b' ')) {
        let mut chunk = b"1\r\n".to_vec();
        chunk.push(byte);
        chunk.extend_from_slice(b"\r\n");
        stream.write_all(&chunk).await?;
        tokio::time::sleep(DRIP_EVERY).await;
    }
    Ok(())
}

/// A well-formed vector answer of about `bytes` bytes, streamed in 64 KiB
/// chunks, until done or the client goes away.
async fn oversize(stream: &mut TcpStream, bytes: usize) -> std::io::Result<()> {
    stream
        .write_all(head(200, "application/json", None).as_bytes())
        .await?;
    let chunk_of = |data: &[u8]| {
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        chunk
    };
    let start = br#"{"status":"success","data":{"resultType":"vector","result":["#;
    stream.write_all(&chunk_of(start)).await?;
    let sample = br#"{"metric":{"site":"filler","env":"test"},"value":[1,"0"]},"#;
    let filler: Vec<u8> = sample
        .iter()
        .copied()
        .cycle()
        .take(sample.len() * (64 * 1024 / sample.len()))
        .collect();
    let filler = chunk_of(&filler);
    let mut sent = start.len();
    while sent < bytes {
        stream.write_all(&filler).await?;
        sent += filler.len();
    }
    stream
        .write_all(&chunk_of(br#"{"metric":{},"value":[1,"0"]}]}}"#))
        .await?;
    stream.write_all(b"0\r\n\r\n").await?;
    stream.shutdown().await
}

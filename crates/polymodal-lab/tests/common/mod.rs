//! Shared fixtures for the project, serve and browser tests: a tiny imported dataset that is
//! mostly unlabelled and has awkward ids, and a raw-TcpStream HTTP client (so bad requests,
//! including garbage bytes, can be sent exactly as written).
#![allow(dead_code)]

use polymodal_data::import::{example, import, ImportOptions};
use polymodal_lab::data::Locations;
use polymodal_lab::project::{DatasetSource, InitOptions, Project};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Ids with a comma, quotes, spaces and non-ASCII, so CSV and URLs are exercised.
pub fn sample_ids() -> Vec<String> {
    (0..18)
        .map(|i| match i {
            1 => "s,001".to_string(),
            4 => "s \"004\" quoted".to_string(),
            6 => "s/006?#%".to_string(),
            7 => "ünïcødé-007".to_string(),
            _ => format!("s{i:03}"),
        })
        .collect()
}

pub const TRAIN: usize = 12;
/// Train rows 0..3 keep their label (source `dataset`); rows 3..12 are the pool.
pub const DATASET_LABELLED: usize = 3;

/// Writes the example folder and a manifest with explicit splits: rows 0..12 train (only the
/// first 3 labelled), 12..15 val, 15..18 test (all labelled). Returns the imported store.
pub fn make_dataset(root: &Path) -> PathBuf {
    let src = root.join("files");
    example::write(&src, 6, 7).expect("example folder");
    // Reuse the example's files under our ids; classes cycle low, mid, high.
    let classes = example::CLASSES;
    let mut w = csv::Writer::from_path(src.join("manifest2.csv")).unwrap();
    w.write_record(["id", "label", "split", "image", "audio", "caption"])
        .unwrap();
    for (i, id) in sample_ids().iter().enumerate() {
        let split = if i < TRAIN {
            "train"
        } else if i < 15 {
            "val"
        } else {
            "test"
        };
        let label = if !(DATASET_LABELLED..TRAIN).contains(&i) {
            classes[i % 3]
        } else {
            ""
        };
        let image = format!("images/s{i:03}.png");
        let audio = format!("audio/s{i:03}.wav");
        let caption = format!("caption of sample {i}, class {}", classes[i % 3]);
        w.write_record([id.as_str(), label, split, &image, &audio, &caption])
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = root.join("store");
    import(ImportOptions {
        manifest: &src.join("manifest2.csv"),
        schema: None,
        out: &out,
        skip_bad: false,
        progress: &|_, _| {},
    })
    .expect("import");
    out
}

/// The true class of fixture row `i` (the labels hidden from the pool).
pub fn true_label(i: usize) -> &'static str {
    example::CLASSES[i % 3]
}

pub fn make_project(root: &Path) -> (PathBuf, Project) {
    let store = make_dataset(root);
    let dir = root.join("proj");
    let p = Project::init(
        &dir,
        &InitOptions {
            dataset: DatasetSource::Store(store),
            config_toml: "[train]\nepochs = 1\n".into(),
            dataset_labels: Default::default(),
        },
    )
    .expect("init");
    (dir, p)
}

/// The pool ids (train rows without a dataset label), in row order.
pub fn pool_ids() -> Vec<String> {
    sample_ids()[DATASET_LABELLED..TRAIN].to_vec()
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// A response header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends raw bytes as one HTTP/1.1 request and reads one reply: by `Content-Length`, chunked
/// encoding, or to the end of the stream (some servers keep the connection open).
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).expect("write");
    read_reply(&mut s)
}

fn read_reply(s: &mut TcpStream) -> Reply {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(i) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..i]).to_ascii_lowercase();
            let body_start = i + 4;
            let len = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            let chunked = head.contains("transfer-encoding: chunked");
            let complete = match len {
                Some(n) => out.len() >= body_start + n,
                None if chunked => out[body_start..].windows(5).any(|w| w == b"0\r\n\r\n"),
                None => false,
            };
            if complete {
                break;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    parse_reply(&out)
}

/// Like [`raw`], then closes the sending side, so a request that promises more bytes than it
/// sends ends at once instead of waiting for a timeout.
pub fn raw_then_eof(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    read_reply(&mut s)
}

fn parse_reply(out: &[u8]) -> Reply {
    let split = out.windows(4).position(|w| w == b"\r\n\r\n");
    let bytes = split.map(|i| out[i + 4..].to_vec()).unwrap_or_default();
    let text = String::from_utf8_lossy(out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        head: head.to_string(),
        body,
        bytes,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A request with an optional JSON body; `path` must already be percent-encoded.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("x-polymodal-token: {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    raw(addr, req.as_bytes())
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A server running in this process on an ephemeral port, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), polymodal_lab::LabError>>>,
}

impl TestServer {
    pub fn start(project: &Path, lease_seconds: u64, batch: usize) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let dir = project.to_path_buf();
        let thread = std::thread::spawn(move || {
            polymodal_lab::serve::run(
                &dir,
                polymodal_lab::serve::ServeOptions {
                    addr: "127.0.0.1:0".parse().unwrap(),
                    lease_seconds,
                    batch,
                    ready: Some(Box::new(move |info| {
                        let _ = tx.send((info.addr, info.token.clone()));
                    })),
                    shutdown: Some(Box::pin(async move {
                        while !flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    })),
                    ..Default::default()
                },
            )
        });
        let (addr, token) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        Self {
            addr,
            token,
            stop,
            thread: Some(thread),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, Some(&self.token), None)
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        request(self.addr, "POST", path, Some(&self.token), Some(body))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let r = t.join().expect("server thread panicked");
            if !std::thread::panicking() {
                r.expect("server returned an error");
            }
        }
    }
}

/// The repository root, where the lab tests find configs and the built-in data.
pub fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Data and model paths resolve against the repository root.
pub fn at() -> Locations {
    Locations {
        roots: vec![repo()],
        hint: String::new(),
    }
}

/// The example folder (3 classes, image + audio + caption, `per_class` samples each, all
/// labelled) imported into `dir/ds`.
pub fn example_store(dir: &Path, per_class: usize) -> PathBuf {
    let src = dir.join("src");
    example::write(&src, per_class, 1).unwrap();
    let out = dir.join("ds");
    import(ImportOptions {
        manifest: &src.join("manifest.csv"),
        schema: None,
        out: &out,
        skip_bad: false,
        progress: &|_, _| {},
    })
    .unwrap();
    out
}

//! End-to-end test of the labelling page in real headless Chromium, driven over the W3C
//! WebDriver protocol (chromedriver) with a raw HTTP client. The server runs as a child
//! process (this test binary re-executed) so it can be killed with SIGKILL mid-batch.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test prints
//! "skipped: chromium not installed", unless POLYMODAL_REQUIRE_BROWSER=1, where it fails.
//! With POLYMODAL_SCREENSHOT=FILE it saves a screenshot of the page there.

mod common;

use common::{make_project, pool_ids, request, sample_ids, true_label};
use polymodal_lab::project::Project;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "browser-test-token-0123456789abcdef";
const BATCH: usize = 4;

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Child half: serves the project named by the environment until killed.
#[test]
#[ignore = "run as a child process by labelling_page_end_to_end"]
fn serve_child() {
    let Ok(dir) = std::env::var("POLYMODAL_SERVE_PROJECT") else {
        return;
    };
    let port: u16 = std::env::var("POLYMODAL_SERVE_PORT")
        .unwrap()
        .parse()
        .unwrap();
    polymodal_lab::serve::run(
        Path::new(&dir),
        polymodal_lab::serve::ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            token: Some(TOKEN.into()),
            lease_seconds: 600,
            batch: BATCH,
            ready: Some(Box::new(|info| {
                use std::io::Write;
                println!("SERVING {}", info.url);
                let _ = std::io::stdout().flush();
            })),
            ..Default::default()
        },
    )
    .unwrap();
}

struct Server {
    child: Child,
    url: String,
}

fn start_server(project: &Path, port: u16) -> Server {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serve_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("POLYMODAL_SERVE_PROJECT", project)
        .env("POLYMODAL_SERVE_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        // The test harness prints "test serve_child ... " without a newline first.
        if let Some((_, u)) = line.split_once("SERVING ") {
            break u.trim().to_string();
        }
    };
    // Keep draining the child's stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal W3C WebDriver client.
struct Driver {
    addr: SocketAddr,
    session: String,
}

fn wd(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let r = request(addr, method, path, None, body.as_deref());
    let v = r.json();
    assert!(
        r.status == 200,
        "webdriver {method} {path}: {} {}",
        r.status,
        r.body
    );
    v["value"].clone()
}

impl Driver {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        wd(
            self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    fn text(&self, id: &str) -> String {
        self.js(&format!(
            "const e = document.getElementById('{id}'); return e ? e.textContent : '';"
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    fn wait_for(&self, what: &str, mut ok: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !ok(self) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until no request of the page is in flight.
    fn idle(&self) {
        self.wait_for("the page to settle", |d| {
            d.js("return document.readyState === 'complete' && document.body.dataset.busy === '';")
                == json!(true)
        });
    }

    fn current(&self) -> String {
        self.idle();
        self.wait_for("a sample", |d| !d.text("sample-id").is_empty());
        self.text("sample-id")
    }

    fn key(&self, key: &str) {
        self.cmd(
            "POST",
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key } ] }] }),
            ),
        );
        self.cmd("DELETE", "/actions", None);
    }

    /// Ids this tab holds (the batch list minus the finished ones).
    fn held(&self) -> Vec<String> {
        self.idle();
        let v = self.js(
            "return Array.from(document.querySelectorAll('#batch li:not(.done)')).map(e => e.textContent);",
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    /// Presses the key of `id`'s true class and waits until the page says it is saved.
    fn label_current(&self) -> String {
        let id = self.current();
        let row = sample_ids().iter().position(|x| *x == id).unwrap();
        // Classes are ordered by name (high, low, mid): keys 1, 2, 3.
        let key = match true_label(row) {
            "high" => "1",
            "low" => "2",
            _ => "3",
        };
        self.key(key);
        let want = format!("saved: {id} → {}", true_label(row));
        self.wait_for(&want, |d| d.text("status") == want);
        self.idle();
        id
    }
}

fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= (val(c) as u32) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn labelling_page_end_to_end() {
    let required = std::env::var("POLYMODAL_REQUIRE_BROWSER").as_deref() == Ok("1");
    let (Some(chromium), Some(chromedriver)) = (
        find(&["chromium", "chromium-browser"]),
        find(&["chromedriver"]),
    ) else {
        assert!(
            !required,
            "POLYMODAL_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
        );
        println!("skipped: chromium not installed");
        return;
    };

    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut p) = make_project(tmp.path());
    let pool = pool_ids();
    p.queue_round("random", pool.len(), &pool).unwrap();
    drop(p);
    let port = free_port();
    let mut server = start_server(&dir, port);

    let wd_port = free_port();
    let mut driver_proc = Command::new(&chromedriver)
        .arg(format!("--port={wd_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wd_addr = SocketAddr::from(([127, 0, 0, 1], wd_port));
    let start = Instant::now();
    loop {
        if std::net::TcpStream::connect(wd_addr).is_ok() {
            let r = request(wd_addr, "GET", "/status", None, None);
            if r.status == 200 && r.json()["value"]["ready"] == json!(true) {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let session = wd(
        wd_addr,
        "POST",
        "/session",
        Some(json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,800", "--no-first-run"]
            }
        }}})),
    );
    let d = Driver {
        addr: wd_addr,
        session: session["sessionId"].as_str().unwrap().to_string(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&d, &dir, &mut server, port)
    }));
    let _ = wd(wd_addr, "DELETE", &format!("/session/{}", d.session), None);
    let _ = driver_proc.kill();
    let _ = driver_proc.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

fn scenario(d: &Driver, dir: &Path, server: &mut Server, port: u16) {
    let pool = pool_ids();
    d.goto(&server.url);
    let first = d.held();
    assert_eq!(
        first,
        pool[..BATCH],
        "the first tab leases the first batch in rank order"
    );
    assert_eq!(
        d.text("batch-progress"),
        format!("0/{} (round 1)", pool.len())
    );

    // Label three items with the keyboard.
    let mut labelled: Vec<String> = (0..3).map(|_| d.label_current()).collect();
    assert_eq!(labelled, pool[..3]);
    assert_eq!(
        d.text("batch-progress"),
        format!("3/{} (round 1)", pool.len())
    );

    // Reload: the same tab keeps its lease (the fourth item) and tops up its batch.
    d.cmd("POST", "/refresh", Some(json!({})));
    assert_eq!(d.current(), pool[3]);
    let held = d.held();
    assert_eq!(held, pool[3..3 + BATCH]);

    // Undo the last label with Backspace: that item comes back to the front.
    d.key("\u{E003}");
    let want = format!("undone: label of {}", pool[2]);
    d.wait_for(&want, |d| d.text("status").starts_with(&want));
    assert_eq!(d.current(), pool[2]);
    labelled.pop();

    // The audio player loads the original WAV through the token URL (the page's CSP allows
    // same-origin media) and "." starts it: a key press is the user gesture autoplay needs.
    d.wait_for("the audio player to load", |d| {
        d.js("const a = document.querySelector('#modalities audio'); return !!a && a.readyState >= 1 && a.duration > 0;")
            == json!(true)
    });
    d.key(".");
    d.wait_for("the audio to play", |d| {
        d.js("const a = document.querySelector('#modalities audio'); return !a.paused || a.ended;")
            == json!(true)
    });
    d.key(".");
    d.wait_for("the audio to pause", |d| {
        d.js("return document.querySelector('#modalities audio').paused;") == json!(true)
    });

    if let Ok(path) = std::env::var("POLYMODAL_SCREENSHOT") {
        d.wait_for("images", |d| {
            d.js(
                "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0) \
                  && Array.from(document.querySelectorAll('audio')).every(a => a.readyState >= 1);",
            ) == json!(true)
        });
        let png = b64decode(d.cmd("GET", "/screenshot", None).as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(path, png).unwrap();
    }
    labelled.push(d.label_current()); // pool[2] again, with its true label

    // A second tab gets items nobody else holds.
    let tab1 = d.cmd("GET", "/window", None).as_str().unwrap().to_string();
    let tab2 = d.cmd("POST", "/window/new", Some(json!({ "type": "tab" })))["handle"]
        .as_str()
        .unwrap()
        .to_string();
    d.cmd("POST", "/window", Some(json!({ "handle": tab2 })));
    d.goto(&server.url);
    let tab1_held: Vec<String> = pool[3..3 + BATCH].to_vec();
    let tab2_held = d.held();
    assert!(!tab2_held.is_empty());
    assert!(
        tab2_held.iter().all(|id| !tab1_held.contains(id)),
        "tab 2 got {tab2_held:?}, tab 1 holds {tab1_held:?}"
    );
    // Label one in tab 2, then kill the server with SIGKILL mid-batch.
    labelled.push(d.label_current());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    d.key("1");
    d.wait_for("an error on the page", |d| !d.text("error").is_empty());

    // Restart on the same port: both tabs continue where they stopped.
    *server = start_server(dir, port);
    d.cmd("POST", "/refresh", Some(json!({})));
    while !d.held().is_empty() {
        labelled.push(d.label_current());
    }
    d.cmd("POST", "/window", Some(json!({ "handle": tab1 })));
    d.cmd("POST", "/refresh", Some(json!({})));
    while !d.held().is_empty() {
        labelled.push(d.label_current());
    }
    assert!(d
        .text("overall-progress")
        .starts_with(&format!("{}/12", 3 + pool.len())));

    // The database: every pool item labelled exactly once, with the key pressed for it.
    let p = Project::open(dir).unwrap();
    let mut sorted = labelled.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        labelled.len(),
        "no item was served twice: {labelled:?}"
    );
    let mut expected = pool.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    let ids = sample_ids();
    for (id, class) in p.labels().unwrap() {
        let row = ids.iter().position(|x| *x == id).unwrap();
        assert_eq!(p.classes()[class], true_label(row), "{id}");
    }
    let c = p.counts().unwrap();
    assert_eq!(
        (c.labelled_page, c.queued_pending, c.pool),
        (pool.len(), 0, 0)
    );
    let h = p.history(&pool[2]).unwrap();
    let kinds: Vec<&str> = h.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(kinds, ["label", "undo", "label"]);
}

//! The labelling server: axum on a current-thread tokio runtime, serving one page (plain
//! HTML/JS/CSS compiled into the binary from `assets/label/`) and a small JSON API over a
//! [`Project`](crate::project::Project).
//!
//! Security model: it binds 127.0.0.1 unless the caller explicitly allows another address,
//! and every request must carry a random access token (>= 128 bits from the OS-seeded CSPRNG)
//! in the `token` query parameter or the `x-polymodal-token` header. Every label is committed
//! to SQLite before the response that lets the page show it as saved is sent.

mod api;
mod media;

use crate::project::LoadedData;
use crate::project::Project;
use crate::LabError;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

pub const DEFAULT_PORT: u16 = 8765;
/// Leases shorter than this would expire while a person is still looking at the item.
pub const MIN_LEASE_SECONDS: u64 = 1;
pub const MAX_LEASE_SECONDS: u64 = 24 * 3600;
/// Every API body is a small JSON object; anything larger is refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the caller learns once the server listens.
#[derive(Debug, Clone)]
pub struct ServeInfo {
    /// The page's URL including the access token.
    pub url: String,
    pub addr: SocketAddr,
    pub token: String,
    /// Set when the server listens on a non-loopback address; the caller should show it.
    pub warning: Option<String>,
}

pub type ReadyFn = Box<dyn FnOnce(&ServeInfo) + Send>;
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Unchecked server options; [`ServeOptions::check`] validates them before anything starts.
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Required to listen on anything but a loopback address.
    pub allow_remote: bool,
    pub lease_seconds: u64,
    /// Items leased to one page at a time.
    pub batch: usize,
    /// `None`: a fresh random token.
    pub token: Option<String>,
    /// Called once with the URL when the server listens.
    pub ready: Option<ReadyFn>,
    /// Resolves when the server should stop; `None`: Ctrl-C.
    pub shutdown: Option<Shutdown>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            allow_remote: false,
            lease_seconds: 600,
            batch: 10,
            token: None,
            ready: None,
            shutdown: None,
        }
    }
}

/// Validated options: the server only ever sees these.
pub struct ValidServeOptions {
    addr: SocketAddr,
    lease_ms: i64,
    batch: usize,
    token: String,
    warning: Option<String>,
    ready: Option<ReadyFn>,
    shutdown: Option<Shutdown>,
}

/// 32 random bytes as hex (256 bits; `rand::rng()` is a CSPRNG seeded from the OS).
pub fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ServeOptions {
    pub fn check(self) -> Result<ValidServeOptions, LabError> {
        let warning = if self.addr.ip().is_loopback() {
            None
        } else if self.allow_remote {
            Some(format!(
                "the labelling server listens on {}: anyone who can reach this address and has the URL (with its token) can read the data and label it",
                self.addr
            ))
        } else {
            return Err(LabError::Invalid(format!(
                "refusing to listen on {} without the explicit allow-remote option: the page serves your data to whoever connects",
                self.addr
            )));
        };
        if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&self.lease_seconds) {
            return Err(LabError::Invalid(format!(
                "lease_seconds = {} must be between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS}",
                self.lease_seconds
            )));
        }
        if !(1..=100).contains(&self.batch) {
            return Err(LabError::Invalid(format!(
                "batch = {} must be between 1 and 100",
                self.batch
            )));
        }
        let token = match self.token {
            Some(t) => {
                // 22 characters of [A-Za-z0-9_-] is >= 128 bits when random.
                if t.len() < 22
                    || !t
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(LabError::Invalid(
                        "an access token needs at least 22 characters of A-Z a-z 0-9 - _".into(),
                    ));
                }
                t
            }
            None => random_token(),
        };
        Ok(ValidServeOptions {
            addr: self.addr,
            lease_ms: self.lease_seconds as i64 * 1000,
            batch: self.batch,
            token,
            warning,
            ready: self.ready,
            shutdown: self.shutdown,
        })
    }
}

impl ValidServeOptions {
    /// Set when listening on a non-loopback address: the caller shows it to the user.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }
}

/// Serves the labelling page for the project in `project_dir` until the shutdown future
/// resolves (or Ctrl-C). Blocks the calling thread.
pub fn run(project_dir: &Path, opts: ServeOptions) -> Result<(), LabError> {
    let opts = opts.check()?;
    let project = Project::open(project_dir)?;
    let data: LoadedData = project.dataset().load()?;
    if data.data.fingerprint.is_empty() {
        return Err(LabError::Server("dataset has no fingerprint".into()));
    }
    let originals = project.dataset().originals()?;
    let state = Arc::new(api::AppState::new(project, data, originals, &opts));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::Server(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|e| LabError::Server(format!("cannot listen on {}: {e}", opts.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LabError::Server(e.to_string()))?;
        let info = ServeInfo {
            url: format!("http://{addr}/?token={}", opts.token),
            addr,
            token: opts.token.clone(),
            warning: opts.warning.clone(),
        };
        if let Some(w) = &info.warning {
            tracing::warn!("{w}");
        }
        tracing::info!(%addr, "labelling server listening");
        if let Some(ready) = opts.ready {
            ready(&info);
        }
        let shutdown: Shutdown = match opts.shutdown {
            Some(s) => s,
            None => Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            }),
        };
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| LabError::Server(e.to_string()))
    })
}

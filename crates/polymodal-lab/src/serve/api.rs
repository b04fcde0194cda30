//! Routes, the token check, and the mapping of every failure to a status and a JSON error.

use super::media;
use super::{ValidServeOptions, MAX_BODY_BYTES};
use crate::project::{LoadedData, Originals, Project};
use crate::LabError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const PAGE_HTML: &str = include_str!("../../assets/label/index.html");
const PAGE_CSS: &str = include_str!("../../assets/label/page.css");
const PAGE_JS: &str = include_str!("../../assets/label/page.js");

pub struct AppState {
    project: Mutex<Project>,
    data: LoadedData,
    originals: Originals,
    rows: HashMap<String, usize>,
    token: String,
    lease_ms: i64,
    batch: usize,
    page: String,
    keys: Vec<String>,
}

/// Keyboard shortcuts for the classes: 1–9, then letters. When every class name is one
/// distinct digit or letter (e.g. the digits of AV-Digits) the name itself is the key, so "3"
/// labels the digit 3 rather than the third class.
pub fn class_keys(classes: &[String]) -> Vec<String> {
    let single: Vec<char> = classes
        .iter()
        .filter_map(|c| {
            let mut it = c.chars();
            match (it.next(), it.next()) {
                (Some(ch), None) if ch.is_ascii_alphanumeric() => Some(ch.to_ascii_lowercase()),
                _ => None,
            }
        })
        .collect();
    let distinct: std::collections::HashSet<char> = single.iter().copied().collect();
    if single.len() == classes.len() && distinct.len() == classes.len() {
        return single.iter().map(|c| c.to_string()).collect();
    }
    let pool: Vec<char> = ('1'..='9').chain('a'..='z').collect();
    (0..classes.len())
        .map(|i| pool.get(i).map(|c| c.to_string()).unwrap_or_default())
        .collect()
}

impl AppState {
    pub fn new(
        project: Project,
        data: LoadedData,
        originals: Originals,
        opts: &ValidServeOptions,
    ) -> Self {
        let rows = data
            .data
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.0.clone(), i))
            .collect();
        let page = PAGE_HTML
            .replace("/*__CSS__*/", PAGE_CSS)
            .replace("/*__JS__*/", PAGE_JS);
        let keys = class_keys(project.classes());
        Self {
            project: Mutex::new(project),
            data,
            originals,
            rows,
            token: opts.token.clone(),
            lease_ms: opts.lease_ms,
            batch: opts.batch,
            page,
            keys,
        }
    }

    fn project(&self) -> Result<std::sync::MutexGuard<'_, Project>, ApiError> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is still safe to use.
        Ok(self.project.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A refused request: status plus `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<LabError> for ApiError {
    fn from(e: LabError) -> Self {
        let status = match &e {
            LabError::UnknownId(_) => StatusCode::NOT_FOUND,
            LabError::UnknownLabel { .. } | LabError::Invalid(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            LabError::LeasedToOther { .. }
            | LabError::NotQueued { .. }
            | LabError::NothingToUndo { .. } => StatusCode::CONFLICT,
            _ => {
                tracing::error!("labelling server: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError(status, e.to_string())
    }
}

fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| ApiError(r.status(), r.body_text()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

/// A page instance's identity: random, from the page's own CSPRNG.
fn check_holder(h: &str) -> Result<(), ApiError> {
    if (8..=64).contains(&h.len())
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "holder must be 8-64 characters of A-Z a-z 0-9 - _".into(),
        ))
    }
}

/// Rejects ids and modality names that try to leave the dataset (a `..` component, a
/// leading separator, NUL). Ids are looked up in a table and never used as file paths, but
/// such a request is an attack or a bug and is answered as one; a plain `/` inside an id is
/// legitimate (ids are free text) and allowed.
fn check_segment(s: &str) -> Result<(), ApiError> {
    let traversal = s.contains('\0')
        || s.starts_with('/')
        || s.starts_with('\\')
        || s.split(['/', '\\']).any(|c| c == "..");
    if traversal {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            "path traversal refused: media URLs name a sample id and a modality only".into(),
        ))
    } else {
        Ok(())
    }
}

fn token_ok(expected: &str, given: &str) -> bool {
    // Constant-time compare so the token cannot be guessed byte by byte from timings.
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token="))
}

async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-polymodal-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_token(req.uri().query()));
    let mut resp = match given {
        Some(t) if token_ok(&st.token, t) => next.run(req).await,
        Some(_) => ApiError(StatusCode::FORBIDDEN, "wrong access token".into()).into_response(),
        None => ApiError(
            StatusCode::UNAUTHORIZED,
            "missing access token: open the URL printed by `polymodal label serve`".into(),
        )
        .into_response(),
    };
    let h = resp.headers_mut();
    // The token is in the URL: never leak it through a Referer.
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; media-src 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/state", get(api_state))
        .route("/api/lease", post(api_lease))
        .route("/api/sample/{id}", get(api_sample))
        .route("/api/label", post(api_label))
        .route("/api/skip", post(api_skip))
        .route("/api/undo", post(api_undo))
        .route("/api/release", post(api_release))
        .route("/media/{id}/{modality}", get(media_png))
        .route("/original/{id}/{modality}", get(media_original))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

async fn page(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        st.page.clone(),
    )
        .into_response()
}

async fn fallback(uri: axum::http::Uri) -> ApiError {
    let raw = uri.path();
    let decoded = percent_decode(raw);
    if raw.contains("..") || decoded.contains("..") || decoded.contains('\\') {
        return ApiError(
            StatusCode::BAD_REQUEST,
            "path traversal refused: media URLs name a sample id and a modality only".into(),
        );
    }
    ApiError(StatusCode::NOT_FOUND, format!("no such endpoint: {raw}"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn api_state(State(st): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let p = st.project()?;
    let classes: Vec<_> = p
        .classes()
        .iter()
        .zip(&st.keys)
        .map(|(c, k)| json!({ "name": c, "key": k }))
        .collect();
    let modalities: Vec<_> = st
        .data
        .data
        .modalities
        .iter()
        .map(|m| json!({ "name": m.spec.name, "shape": m.spec.shape }))
        .collect();
    Ok(Json(json!({
        "dataset": st.data.data.name,
        "classes": classes,
        "modalities": modalities,
        "batch": st.batch,
        "lease_seconds": st.lease_ms / 1000,
        "progress": p.progress()?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseReq {
    holder: String,
    #[serde(default)]
    n: Option<usize>,
}

fn sample_json(st: &AppState, id: &str) -> Result<serde_json::Value, ApiError> {
    check_segment(id)?;
    let row = *st
        .rows
        .get(id)
        .ok_or_else(|| ApiError::from(LabError::UnknownId(id.to_string())))?;
    Ok(json!({ "id": id, "modalities": media::views(&st.data, &st.originals, row) }))
}

async fn api_lease(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: LeaseReq = parse(body)?;
    check_holder(&req.holder)?;
    let n = req.n.unwrap_or(st.batch).clamp(1, st.batch);
    let mut p = st.project()?;
    let items = p.lease(&req.holder, n, st.lease_ms)?;
    let progress = p.progress()?;
    drop(p);
    let items: Vec<_> = items
        .into_iter()
        .map(|it| {
            let sample = sample_json(&st, &it.id)?;
            Ok(json!({ "id": it.id, "round": it.round, "rank": it.rank,
                       "expires_ms": it.expires_ms, "sample": sample }))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(json!({ "items": items, "progress": progress })))
}

async fn api_sample(
    State(st): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(sample_json(&st, &id)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelReq {
    holder: String,
    id: String,
    label: String,
}

async fn api_label(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: LabelReq = parse(body)?;
    check_holder(&req.holder)?;
    let mut p = st.project()?;
    // Returns only after the transaction committed: "saved" on the page means on disk.
    p.label(&req.holder, &req.id, &req.label)?;
    Ok(Json(
        json!({ "saved": true, "id": req.id, "label": req.label,
                     "progress": p.progress()? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipReq {
    holder: String,
    id: String,
}

async fn api_skip(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: SkipReq = parse(body)?;
    check_holder(&req.holder)?;
    let mut p = st.project()?;
    p.skip(&req.holder, &req.id)?;
    Ok(Json(
        json!({ "skipped": true, "id": req.id, "progress": p.progress()? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderReq {
    holder: String,
}

async fn api_undo(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: HolderReq = parse(body)?;
    check_holder(&req.holder)?;
    let mut p = st.project()?;
    let out = p.undo(&req.holder, st.lease_ms)?;
    Ok(Json(json!({ "undone": out, "progress": p.progress()? })))
}

async fn api_release(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: HolderReq = parse(body)?;
    check_holder(&req.holder)?;
    let n = st.project()?.release(&req.holder)?;
    Ok(Json(json!({ "released": n })))
}

/// The row and modality index a media URL names, after the traversal checks.
fn media_target(st: &AppState, id: &str, modality: &str) -> Result<(usize, usize), ApiError> {
    check_segment(id)?;
    check_segment(modality)?;
    let row = *st
        .rows
        .get(id)
        .ok_or_else(|| ApiError::from(LabError::UnknownId(id.to_string())))?;
    let m = st.data.data.modality_index(modality).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown modality `{modality}`"),
        )
    })?;
    Ok((row, m))
}

async fn media_png(
    State(st): State<Arc<AppState>>,
    UrlPath((id, modality)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (row, m) = media_target(&st, &id, &modality)?;
    let png = media::png(&st.data, row, m).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("sample `{id}` has no picture for `{modality}`"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn media_original(
    State(st): State<Arc<AppState>>,
    UrlPath((id, modality)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (row, m) = media_target(&st, &id, &modality)?;
    let found = media::original(&st.data, &st.originals, row, m).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("sample `{id}` has no original file for `{modality}`"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, found.content_type)], found.bytes).into_response())
}

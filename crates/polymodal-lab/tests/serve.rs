//! The labelling server against bad and hostile requests, on 127.0.0.1 with an ephemeral port.

mod common;

use common::{enc, make_project, pool_ids, raw, request, true_label, TestServer};
use polymodal_lab::serve::ServeOptions;
use serde_json::json;

fn setup(batch: usize) -> (tempfile::TempDir, TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut p) = make_project(tmp.path());
    p.queue_round("random", 9, &pool_ids()).unwrap();
    drop(p);
    let server = TestServer::start(&dir, 600, batch);
    (tmp, server)
}

fn assert_error(r: &common::Reply, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
}

#[test]
fn every_request_needs_the_token() {
    let (_tmp, s) = setup(3);
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/state"),
        ("POST", "/api/lease"),
        ("GET", "/media/s003/image"),
        ("GET", "/nope"),
    ] {
        let r = request(s.addr, method, path, None, Some("{}"));
        assert_error(&r, 401, "missing access token");
        let r = request(
            s.addr,
            method,
            path,
            Some("wrong-token-wrong-token-wrong"),
            Some("{}"),
        );
        assert_error(&r, 403, "wrong access token");
    }
    // The token in the query string (how the printed URL carries it) is accepted too.
    let r = request(s.addr, "GET", &format!("/?token={}", s.token), None, None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<title>polymodal — label</title>"));
    assert!(r.body.contains("api/lease"), "the script is inlined");
    assert!(s.token.len() >= 32, "at least 128 bits as hex");
}

#[test]
fn lease_label_skip_undo_through_the_api() {
    let (_tmp, s) = setup(3);
    let st = s.get("/api/state").json();
    assert_eq!(
        st["classes"],
        json!([{"name":"high","key":"1"},{"name":"low","key":"2"},{"name":"mid","key":"3"}])
    );
    let a = s.post("/api/lease", r#"{"holder":"tab-aaaaaaaa"}"#).json();
    let b = s.post("/api/lease", r#"{"holder":"tab-bbbbbbbb"}"#).json();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let pool = pool_ids();
    assert_eq!(ids(&a), pool[..3]);
    assert_eq!(
        ids(&b),
        pool[3..6],
        "a second tab never gets the first tab's items"
    );
    let sample = &a["items"][0]["sample"]["modalities"];
    let names: Vec<&str> = sample
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["image", "audio", "caption"]);
    assert!(sample[1]["note"].as_str().unwrap().contains("log-mel"));
    assert!(sample[2]["text"]
        .as_str()
        .unwrap()
        .starts_with("caption of sample 3"));

    let label = |holder: &str, id: &str, l: &str| {
        s.post(
            "/api/label",
            &json!({"holder": holder, "id": id, "label": l}).to_string(),
        )
    };
    let r = label("tab-aaaaaaaa", &pool[0], true_label(3));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["saved"], json!(true));
    assert_eq!(r.json()["progress"]["batch_done"], json!(1));
    // Someone else's leased item.
    assert_error(
        &label("tab-bbbbbbbb", &pool[1], "low"),
        409,
        "leased to another labeller",
    );
    // Already labelled: no duplicate.
    assert_error(
        &label("tab-aaaaaaaa", &pool[0], "low"),
        409,
        "already labelled",
    );
    assert_error(
        &label("tab-aaaaaaaa", "ghost", "low"),
        404,
        "unknown sample id `ghost`",
    );
    assert_error(
        &label("tab-aaaaaaaa", &pool[1], "purple"),
        422,
        "label `purple` is not a class",
    );
    let r = s.post(
        "/api/skip",
        &json!({"holder": "tab-aaaaaaaa", "id": pool[1]}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.post("/api/undo", r#"{"holder":"tab-aaaaaaaa"}"#).json();
    assert_eq!(r["undone"]["id"], json!(pool[1]));
    let r = s.post("/api/undo", r#"{"holder":"tab-aaaaaaaa"}"#).json();
    assert_eq!(r["undone"]["id"], json!(pool[0]));
    assert_error(
        &s.post("/api/undo", r#"{"holder":"tab-aaaaaaaa"}"#),
        409,
        "nothing to undo",
    );
    let r = s
        .post("/api/release", r#"{"holder":"tab-bbbbbbbb"}"#)
        .json();
    assert_eq!(r["released"], json!(3));
}

#[test]
fn malformed_oversized_and_invalid_bodies_are_refused_with_json_errors() {
    let (_tmp, s) = setup(3);
    assert_error(&s.post("/api/lease", "{not json"), 400, "malformed JSON");
    assert_error(&s.post("/api/lease", ""), 400, "malformed JSON");
    assert_error(
        &s.post("/api/lease", r#"{"holder":"tab-aaaaaaaa","extra":1}"#),
        400,
        "unknown field `extra`",
    );
    assert_error(
        &s.post("/api/lease", r#"{"holder":"x"}"#),
        422,
        "holder must be",
    );
    assert_error(
        &s.post(
            "/api/label",
            r#"{"holder":"tab-aaaaaaaa","id":7,"label":"low"}"#,
        ),
        400,
        "malformed JSON",
    );
    let big = format!(
        r#"{{"holder":"tab-aaaaaaaa","pad":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let r = s.post("/api/lease", &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("length limit"),
        "{}",
        r.body
    );
    assert_error(&s.get("/api/nothing"), 404, "no such endpoint");
    let r = s.get("/api/lease");
    assert_eq!(r.status, 405);
}

#[test]
fn media_urls_cannot_leave_the_dataset() {
    let (_tmp, s) = setup(3);
    let ids = common::sample_ids();
    // Awkward ids work when encoded, including one with a slash.
    for id in [&ids[3], &ids[6], &ids[7], &ids[4]] {
        for m in ["image", "audio"] {
            let r = s.get(&format!("/media/{}/{m}", enc(id)));
            assert_eq!(r.status, 200, "{id} {m}: {}", r.body);
            assert!(r.bytes.starts_with(b"\x89PNG"), "{id} {m}");
        }
    }
    for path in [
        "/media/../../etc/passwd",
        "/media/%2E%2E/image",
        "/media/..%2F..%2Fetc%2Fpasswd/image",
        "/media/s003/..%2F..%2Fvalues.safetensors",
        "/media/%2Fetc%2Fpasswd/image",
        "/media/s003/..%5C..%5Cdataset.json",
        "/..%2F..%2Fetc/passwd",
    ] {
        assert_error(&s.get(path), 400, "path traversal refused");
    }
    assert_error(&s.get("/media/ghost/image"), 404, "unknown sample id");
    assert_error(&s.get("/media/s003/smell"), 404, "unknown modality `smell`");
    assert_error(&s.get("/media/s003/caption"), 404, "has no picture");
    assert_error(&s.get("/api/sample/ghost"), 404, "unknown sample id");
}

#[test]
fn garbage_never_brings_the_server_down() {
    let (_tmp, s) = setup(3);
    let garbage: [&[u8]; 6] = [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/label HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        b"POST /api/label HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"",
    ];
    for g in garbage {
        let _ = common::raw_then_eof(s.addr, g);
    }
    let token = s.token.clone();
    let mut bin = format!("POST /api/label HTTP/1.1\r\nHost: x\r\nx-polymodal-token: {token}\r\ncontent-length: 40\r\n\r\n").into_bytes();
    bin.extend((0..40u8).map(|i| i.wrapping_mul(97)));
    let r = raw(s.addr, &bin);
    assert_eq!(r.status, 400, "{}", r.body);
    for id in ["%00", "%FF%FE", "a%00b"] {
        let r = s.get(&format!("/media/{id}/image"));
        assert!(
            r.status == 400 || r.status == 404,
            "{id}: {} {}",
            r.status,
            r.body
        );
    }
    // Still serving.
    let r = s.get("/api/state");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn options_are_validated_before_anything_starts() {
    let remote = |allow| ServeOptions {
        addr: "0.0.0.0:0".parse().unwrap(),
        allow_remote: allow,
        ..Default::default()
    };
    let err = remote(false).check().err().unwrap();
    assert!(
        err.to_string()
            .contains("without the explicit allow-remote option"),
        "{err}"
    );
    let ok = remote(true).check().unwrap();
    assert!(ok
        .warning()
        .unwrap()
        .contains("anyone who can reach this address"));
    assert!(ServeOptions::default().check().unwrap().warning().is_none());
    let err = ServeOptions {
        lease_seconds: 0,
        ..Default::default()
    }
    .check()
    .err()
    .unwrap();
    assert!(err.to_string().contains("lease_seconds = 0"), "{err}");
    let err = ServeOptions {
        token: Some("short".into()),
        ..Default::default()
    }
    .check()
    .err()
    .unwrap();
    assert!(err.to_string().contains("at least 22 characters"), "{err}");
    let err = ServeOptions {
        batch: 0,
        ..Default::default()
    }
    .check()
    .err()
    .unwrap();
    assert!(err.to_string().contains("batch = 0"), "{err}");
    let a = polymodal_lab::serve::random_token();
    let b = polymodal_lab::serve::random_token();
    assert_eq!(a.len(), 64);
    assert_ne!(a, b);
}

/// The page plays and shows the manifest's original files; when one disappears it falls back
/// to the stored copy and says why, and the originals route refuses what the media route does.
#[test]
fn original_files_are_served_and_a_missing_one_falls_back() {
    let (tmp, s) = setup(3);
    let ids = common::sample_ids();
    let files = tmp.path().join("files");
    for (i, id) in ids.iter().enumerate().take(8) {
        let sample = s.get(&format!("/api/sample/{}", enc(id))).json();
        let views = sample["modalities"].as_array().unwrap();
        let by_name = |n: &str| views.iter().find(|v| v["name"] == n).unwrap().clone();
        let audio = by_name("audio");
        assert_eq!(audio["audio"], json!(format!("original/{}/audio", enc(id))));
        assert!(
            audio["image"].as_str().unwrap().starts_with("media/"),
            "log-mel stays"
        );
        let image = by_name("image");
        assert!(image["image"].as_str().unwrap().starts_with("original/"));
        for (m, file, ctype) in [
            ("audio", format!("audio/s{i:03}.wav"), "audio/wav"),
            ("image", format!("images/s{i:03}.png"), "image/png"),
        ] {
            let r = s.get(&format!("/original/{}/{m}", enc(id)));
            assert_eq!(r.status, 200, "{id} {m}: {}", r.body);
            assert_eq!(r.header("content-type").as_deref(), Some(ctype));
            assert_eq!(
                r.bytes,
                std::fs::read(files.join(file)).unwrap(),
                "{id} {m}"
            );
        }
    }
    assert_error(&s.get("/original/s003/caption"), 404, "no original file");
    assert_error(&s.get("/original/ghost/audio"), 404, "unknown sample id");
    for path in [
        "/original/..%2F..%2Fetc%2Fpasswd/audio",
        "/original/s003/..%2F..%2Fsources.json",
    ] {
        assert_error(&s.get(path), 400, "path traversal refused");
    }
    // The file moves away: no player, the stored picture, and a note naming the old path.
    std::fs::remove_file(files.join("audio/s005.wav")).unwrap();
    let sample = s.get(&format!("/api/sample/{}", enc(&ids[5]))).json();
    let audio = sample["modalities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "audio")
        .unwrap()
        .clone();
    assert!(audio.get("audio").is_none(), "{audio}");
    let note = audio["note"].as_str().unwrap();
    assert!(
        note.contains("s005.wav") && note.contains("not readable any more"),
        "{note}"
    );
    assert_error(
        &s.get(&format!("/original/{}/audio", enc(&ids[5]))),
        404,
        "no original file",
    );
}

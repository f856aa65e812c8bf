//! `-f html` (SPEC §10.7): the 障害報告 golden, observed text escaped
//! (a log line with `<script>` is text), `--output html=PATH`, and every
//! document rendered by a real browser — Debian's headless `chromium` —
//! into a PNG of the expected size that is not blank. The report goldens
//! and renders live beside their text goldens (`history::reports`), which
//! build the seeded histories once.
//!
//! Each document is also printed to PDF by the same browser and read
//! back with poppler (`pdfinfo`, `pdftotext`, `pdftoppm`): A4 pages, the
//! title in the text, a first page that is not blank.
//!
//! `OPSRUN_HTML_SHOTS=DIR` keeps each screenshot and PDF in DIR (to look at them,
//! and for docs/html-report.png).

use std::path::Path;

use crate::common::http_server::Server;
use crate::common::{Env, hostname, redact};

/// A document's HTML for a golden: the host and the style sheet (one
/// golden of its own, `html_css` in the unit tests) replaced.
pub fn golden_html(html: &str) -> String {
    let re = regex::Regex::new(r"(?s)<style>\n.*?</style>").unwrap();
    re.replace(&redact(html, &hostname()), "<style>CSS</style>")
        .into_owned()
}

/// Renders `html` in headless Chromium at `w`×`h` CSS pixels (desktop)
/// and at a phone's 390×844, and insists on a PNG of exactly that size
/// whose pixels vary (text, tables and charts drawn, not a blank page).
pub fn assert_renders(name: &str, html: &str) {
    for (suffix, w, h) in [("", 1024, 1400), ("-phone", 390, 844)] {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, html).unwrap();
        let png = dir.path().join(format!("{name}{suffix}.png"));
        let pixels = screenshot(&page, &png, w, h);
        assert_eq!(
            (pixels.width, pixels.height),
            (w, h),
            "{name}: screenshot size"
        );
        let (var, ink) = pixels.variance_and_ink();
        assert!(
            var > 100.0 && ink > 0.01,
            "{name}{suffix}: the page looks blank (variance {var:.1}, ink {ink:.4})"
        );
        if let Ok(keep) = std::env::var("OPSRUN_HTML_SHOTS") {
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::copy(&png, Path::new(&keep).join(png.file_name().unwrap())).unwrap();
            std::fs::copy(&page, Path::new(&keep).join(page.file_name().unwrap())).unwrap();
        }
    }
    assert_prints_on_a4(name, html);
}

/// Prints `html` as Chromium prints it (`--print-to-pdf`, the page's own
/// `@page` rules) and reads the PDF back with poppler: A4 pages, the
/// document's title present as text (not clipped away or drawn as
/// boxes), and a first page that is not blank when rasterised.
fn assert_prints_on_a4(name: &str, html: &str) {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let pdf = dir.path().join(format!("{name}.pdf"));
    chromium(
        &page,
        &[
            "--no-pdf-header-footer".into(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
        &pdf,
    );
    let poppler = |tool: &str, args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("run {tool} (Debian package poppler-utils; .ci/deps installs it): {e}")
            });
        assert!(out.status.success(), "{tool}: {out:?}");
        out.stdout
    };
    let info = String::from_utf8(poppler("pdfinfo", &[pdf.as_os_str()])).unwrap();
    // A4 is 595.28 × 841.89 pt; Chromium rounds it to whole device pixels.
    let size = regex::Regex::new(r"Page size:\s+([\d.]+) x ([\d.]+) pts")
        .unwrap()
        .captures(&info)
        .unwrap_or_else(|| panic!("{name}.pdf: no page size in\n{info}"));
    let (w, h): (f64, f64) = (size[1].parse().unwrap(), size[2].parse().unwrap());
    assert!(
        (w - 595.3).abs() < 1.5 && (h - 841.9).abs() < 1.5,
        "{name}.pdf is not A4: {w} x {h} pt"
    );
    let text = String::from_utf8(poppler(
        "pdftotext",
        &[pdf.as_os_str(), std::ffi::OsStr::new("-")],
    ))
    .unwrap();
    let title = regex::Regex::new(r"<h1>(.*?)</h1>")
        .unwrap()
        .captures(html)
        .unwrap()[1]
        .replace("&amp;", "&");
    assert!(
        text.replace(char::is_whitespace, "")
            .contains(&title.replace(char::is_whitespace, "")),
        "{name}.pdf: the title {title:?} is not in the printed text:\n{text}"
    );
    let first = dir.path().join("first");
    poppler(
        "pdftoppm",
        &[
            "-r".as_ref(),
            "50".as_ref(),
            "-f".as_ref(),
            "1".as_ref(),
            "-l".as_ref(),
            "1".as_ref(),
            "-singlefile".as_ref(),
            "-png".as_ref(),
            pdf.as_os_str(),
            first.as_os_str(),
        ],
    );
    let (var, ink) =
        decode_png(&std::fs::read(first.with_extension("png")).unwrap()).variance_and_ink();
    assert!(
        var > 100.0 && ink > 0.01,
        "{name}.pdf: the first page looks blank (variance {var:.1}, ink {ink:.4})"
    );
    if let Ok(keep) = std::env::var("OPSRUN_HTML_SHOTS") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&pdf, Path::new(&keep).join(pdf.file_name().unwrap())).unwrap();
    }
}

/// `chromium --headless --screenshot` of `page` at `w`×`h`.
fn screenshot(page: &Path, png: &Path, w: u32, h: u32) -> Image {
    chromium(
        page,
        &[
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--screenshot={}", png.display()),
            format!("--window-size={w},{h}"),
        ],
        png,
    );
    decode_png(&std::fs::read(png).unwrap())
}

/// Headless Chromium on `page` with `args`, bounded by `timeout` (killed
/// 5 s after its 90 s), with a profile of its own; it must succeed and
/// write `made`.
fn chromium(page: &Path, args: &[String], made: &Path) {
    // One browser at a time: a headless Chromium takes both of a CI
    // machine's cores for a moment, and several at once starve the tests
    // that run beside them (ten opsrun processes sharing one history file
    // must each get the write lock within its 5 s busy timeout).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .args(["-k", "5", "90", "chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(args)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", profile.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run chromium (Debian package chromium; .ci/deps installs it)");
    assert!(
        out.status.success() && made.exists(),
        "chromium {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A decoded image: 8-bit RGB(A) rows.
struct Image {
    width: u32,
    height: u32,
    /// Luminance of each pixel, 0–255.
    luma: Vec<f64>,
}

impl Image {
    /// The luminance's variance, and the share of pixels that are not
    /// (near) white.
    fn variance_and_ink(&self) -> (f64, f64) {
        let n = self.luma.len() as f64;
        let mean = self.luma.iter().sum::<f64>() / n;
        let var = self.luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n;
        let ink = self.luma.iter().filter(|l| **l < 200.0).count() as f64 / n;
        (var, ink)
    }
}

/// Just enough of PNG for Chromium's screenshots: 8-bit truecolour with
/// or without alpha, not interlaced; the IDAT stream inflated with flate2
/// (already a dependency) and the five scanline filters undone.
fn decode_png(data: &[u8]) -> Image {
    assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut pos, mut idat) = (8, Vec::new());
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    while pos + 8 <= data.len() {
        let len = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &data[pos + 4..pos + 8];
        let body = &data[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap());
                height = u32::from_be_bytes(body[4..8].try_into().unwrap());
                assert_eq!(body[8], 8, "bit depth");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("PNG colour type {t}"),
                };
                assert_eq!(body[12], 0, "interlaced PNG");
            }
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .expect("inflate IDAT");
    let stride = width as usize * channels;
    assert_eq!(raw.len(), (stride + 1) * height as usize, "PNG data size");
    let mut prev = vec![0u8; stride];
    let mut luma = Vec::with_capacity((width * height) as usize);
    for y in 0..height as usize {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let (filter, src) = (line[0], &line[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 } as i16;
            let b = prev[i] as i16;
            let c = if i >= channels { prev[i - channels] } else { 0 } as i16;
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("PNG filter {f}"),
            };
            cur[i] = src[i].wrapping_add(predicted as u8);
        }
        for px in cur.chunks(channels) {
            luma.push(0.299 * px[0] as f64 + 0.587 * px[1] as f64 + 0.114 * px[2] as f64);
        }
        prev = cur;
    }
    Image {
        width,
        height,
        luma,
    }
}

const INCIDENT: &str = r#"version: 1
title: P1 サービス全停止
system: AI見積りシステム
incident:
  level: p1
  name: 緊急
  scope: サービス全停止
  escalation: 即座に上位者
  deadlines: {initial: 5m, investigation: 15m, recovery: 1h}
checks:
  - id: health
    label: ヘルスチェック
    timeout: 2s
    http: {url: "BASE/status/503"}
  - id: app-log
    label: アプリログ
    command: {shell: 'printf "<script>alert(1)</script> \033[31mERROR\033[0m db timeout\n"; exit 1'}
actions:
  - id: restart-app
    title: estimatorサービス再起動
    systemctl: {action: restart, unit: estimator}
"#;

/// The 障害報告 as HTML: a golden, the log line's `<script>` and escape
/// sequence shown as text, `--output html=PATH` the same page, and the
/// page drawn by Chromium.
#[test]
fn incident_report_html() {
    let server = Server::start();
    let env = Env::new();
    env.runbook(
        "incident-p1.yaml",
        &INCIDENT.replace("BASE", &server.url("")),
    );
    let file = env.path().join("incident.html");
    let output = format!("html={}", file.display());
    let r = env.run(&[
        "incident",
        "p1",
        "-f",
        "html",
        "--output",
        &output,
        "--now",
        "2025-10-21T10:26:00+09:00",
        "--since",
        "10:23",
        "--reporter",
        "運用担当者A",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    let html = &r.stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(&std::fs::read_to_string(&file).unwrap(), html);
    assert!(
        html.contains("<h1>【障害報告】AI見積りシステム</h1>"),
        "{html}"
    );
    // Observed text is text: no element from the log, no raw escape byte.
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains('\x1b') && html.contains("\\u{1b}[31m"),
        "{html}"
    );
    // Self-contained: nothing fetched from anywhere.
    for outside in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(
            !html.replace(&server.url(""), "").contains(outside),
            "{outside}"
        );
    }
    crate::history::golden("incident_report_html", &golden_html(html));
    assert_renders("incident", html);
}

/// A report of a runbook whose check prints markup: escaped in the
/// sections, the 特記事項 and the check table alike.
#[test]
fn daily_html_escapes_observed_text() {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        r#"version: 1
title: "<i>日次</i> & 点検"
checks:
  - id: log
    label: "エラー<ログ>"
    section: 本日の実績
    hint: "grep '<script>' app.log を確認"
    command: {shell: "echo '<script>alert(\"x\")</script>'; exit 1"}
"#,
    );
    let r = env.run(&["daily", "-f", "html", "--now", crate::common::NOW]);
    assert_eq!(r.code, 2, "{r:?}");
    let html = &r.stdout;
    assert!(
        !html.contains("<script") && !html.contains("<ログ>"),
        "{html}"
    );
    assert!(html.contains("エラー&lt;ログ&gt;"), "{html}");
    assert!(
        html.contains("grep &#39;&lt;script&gt;&#39; app.log を確認"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        "{html}"
    );
}

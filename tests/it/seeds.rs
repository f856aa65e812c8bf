//! Seed 000's 日次運用レポート from the bundled example
//! (examples/ai-estimator/daily.yaml), run against real things started
//! here — an HTTP health endpoint, a process, an Apache access log, a
//! real journal made by systemd-journal-remote — and compared with the
//! seed's template (tests/fixtures/seeds/000_daily_report.txt) section by
//! section: every section of the seed, in its order, with every line of
//! the seed in its order. systemd is not PID 1 here: `systemctl` is a
//! stub on PATH printing what `systemctl show` prints for a running unit.

use std::path::Path;

use crate::common::{Env, NOW};
use crate::logs::{entry, make_journal};

/// `(section, [line labels])` of a 日次運用レポート, in order.
fn sections(report: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in report.lines() {
        if let Some(h) = line.strip_prefix("■ ") {
            out.push((h.trim().to_owned(), Vec::new()));
        } else if let (Some(l), Some(last)) = (line.strip_prefix("- "), out.last_mut()) {
            let label = l.split(": ").next().unwrap_or(l).to_owned();
            last.1.push(label);
        }
    }
    out
}

/// Whether `want` appears in `have` in order (other items may come between).
fn in_order(want: &[String], have: &[String]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

#[test]
fn the_ai_estimator_daily_report_keeps_seed_000s_template_section_by_section() {
    let server = crate::common::http_server::Server::start();
    let env = Env::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // systemctl: both units running.
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    env.write(
        "bin/systemctl",
        "#!/bin/sh\nprintf 'Id=x.service\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\nUnitFileState=enabled\\nResult=success\\nNRestarts=0\\nMainPID=4242\\n'\n",
    );
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // The application server's process.
    let mut app = std::process::Command::new("bash")
        .args(["-c", "exec -a uvicorn-seed000-test sleep 300"])
        .spawn()
        .unwrap();

    // Today's access log (Apache with %D): 120 requests before 09:00 JST,
    // 2 of them 500.
    let mut log = String::new();
    for i in 0..120 {
        let status = if i % 60 == 7 { 500 } else { 200 };
        let t = 8 * 3600 + i * 20; // from 08:00:00
        log.push_str(&format!(
            "127.0.0.1 - - [21/Oct/2025:{:02}:{:02}:{:02} +0900] \"POST /api/v1/estimate HTTP/1.1\" {status} 512 \"-\" \"curl/8.0\" 250000\n",
            t / 3600,
            t / 60 % 60,
            t % 60
        ));
    }
    env.write("httpd/access_log", &log);
    env.write(
        "httpd/error_log",
        "[Tue Oct 21 08:00:00 2025] [notice] started\n",
    );

    // The estimator's journal: 45 estimates created today, 2 errors.
    let mut es: Vec<_> = (0..45)
        .map(|i| {
            entry(
                3600 + i * 60,
                6,
                "estimator",
                "タスク作成: 見積り".as_bytes(),
            )
        })
        .collect();
    es.push(entry(
        1800,
        3,
        "estimator",
        b"OpenAI API Error: rate limited",
    ));
    es.push(entry(900, 3, "estimator", b"Timeout: upstream"));
    std::fs::create_dir_all(env.path().join("journal")).unwrap();
    let journal = make_journal(&env, "journal/system", &es);
    let journal_dir = journal.parent().unwrap();

    let var = |k: &str, v: String| format!("{k}={v}");
    let vars = [
        var("health_url", server.url("/ok")),
        var("prod_health_url", server.url("/ok")),
        var("app_process", "uvicorn-seed000-test".into()),
        var(
            "access_log",
            env.path().join("httpd/access_log").display().to_string(),
        ),
        var(
            "error_log",
            env.path().join("httpd/error_log").display().to_string(),
        ),
        var("journal_dir", journal_dir.display().to_string()),
    ];
    let mut args = vec![
        "daily".to_owned(),
        "-C".into(),
        root.join("examples/ai-estimator").display().to_string(),
        "-f".into(),
        "report".into(),
        "--no-history".into(),
        "--now".into(),
        NOW.into(),
    ];
    for v in &vars {
        args.push("--var".into());
        args.push(v.clone());
    }
    let out = env
        .cmd()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("ESTIMATOR_BASIC_PASSWORD", "secret")
        .args(&args)
        .output()
        .unwrap();
    let _ = app.kill();
    let _ = app.wait();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        (0..=2).contains(&out.status.code().unwrap_or(-1)),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let seed =
        std::fs::read_to_string(root.join("tests/fixtures/seeds/000_daily_report.txt")).unwrap();
    assert_eq!(
        report.lines().next(),
        seed.lines().next(),
        "the title line:\n{report}"
    );
    let (ours, theirs) = (sections(&report), sections(&seed));
    let names = |s: &[(String, Vec<String>)]| s.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert!(
        in_order(&names(&theirs), &names(&ours)),
        "sections {:?} are not the seed's {:?} in order:\n{report}",
        names(&ours),
        names(&theirs)
    );
    for (name, lines) in &theirs {
        // These two hold the day's findings (特になし when there are none):
        // their lines are this host's, not the template's.
        if name == "特記事項" || name == "対応事項" {
            continue;
        }
        let have = &ours.iter().find(|s| &s.0 == name).unwrap().1;
        assert!(
            in_order(lines, have),
            "■ {name}: the seed's lines {lines:?} are not all in ours {have:?}:\n{report}"
        );
    }
    // Numbers the seed's operators count by hand, counted here from the
    // log and the journal.
    for line in [
        "- アクセス数: 120件",
        "- 見積り作成数: 45件",
        "- エラー数: 2件",
    ] {
        assert!(report.contains(line), "{line} missing:\n{report}");
    }
}

//! History and the Japanese reports (SPEC §6, §7): golden reports and
//! checklists built from histories written by real runs with fixed clocks
//! (`--now`), and the store under concurrency, locks and corruption.
//!
//! The numbers come from `command` checks whose `value:` reads a `--var`
//! (so each run measures what the test chooses), and the health probe is
//! a real `http` check against the test server (`/ok` or `/status/503`).

mod migrate;
mod month;
mod reports;
mod store;

use crate::common::{Env, Run};

/// Compares `actual` with the insta snapshot `tests/it/snapshots/
/// it__history__NAME.snap` (NAME without `.txt`); `cargo insta review`
/// (or `INSTA_UPDATE=always`) accepts a change. The README and
/// docs/reports.md quote some of these snapshots verbatim.
pub fn golden(name: &str, actual: &str) {
    let name = name.trim_end_matches(".txt");
    insta::with_settings!({ snapshot_path => "../snapshots", omit_expression => true }, {
        insta::assert_snapshot!(name, actual);
    });
}

/// The seed's daily runbook (seed 000: 朝の点検), every value a variable.
pub const DAILY: &str = r#"version: 1
title: 日次点検
system: AI見積りシステム
vars:
  base: BASE
  health: /ok
  httpd: active
  systemctl: "true"
  disk: "65"
  mem: "70"
  cpu: "30"
  req: "120"
  err: "2"
  rate: "0.44"
  db: "48.2"
checks:
  - id: httpd
    title: httpd 稼働確認
    label: httpd
    section: サービス稼働状況
    hint: sudo systemctl restart httpd
    command: {shell: "test ${httpd} = active"}
  - id: estimator
    title: estimator 稼働確認
    label: estimator
    section: サービス稼働状況
    hint: sudo systemctl restart estimator
    command: {run: ["${systemctl}", is-active, estimator]}
  - id: health
    title: ヘルスチェック
    label: ヘルスチェック
    section: サービス稼働状況
    hint: journalctl -u estimator -n 100 を確認し sudo systemctl restart estimator
    http: {url: "${base}${health}"}
  - id: disk
    title: ディスク使用率 (/)
    label: ディスク使用率
    section: リソース使用状況
    hint: "ログのクリーンアップ: sudo journalctl --vacuum-time=7d"
    command: {shell: "echo ${disk}", value: {warn: 80, fail: 90, unit: "%"}}
  - id: memory
    label: メモリ使用率
    section: リソース使用状況
    hint: "メモリリーク疑い: sudo systemctl restart estimator"
    command: {shell: "echo ${mem}", value: {warn: 80, fail: 90, unit: "%"}}
  - id: cpu
    label: CPU使用率
    section: リソース使用状況
    command: {shell: "echo ${cpu}", value: {warn: 80, fail: 90, unit: "%"}}
  - id: requests
    label: アクセス数
    section: 本日の実績
    command: {shell: "echo ${req}", value: {unit: 件}}
  - id: errors
    label: エラー数
    section: 本日の実績
    command: {shell: "echo ${err}", value: {unit: 件}}
  - id: error-rate
    label: エラー率
    section: 本日の実績
    hint: エラーログを分類する (journalctl -u estimator --since today -p err)
    command: {shell: "echo ${rate}", value: {warn: 1, fail: 5, unit: "%"}}
  - id: backup
    label: 定期バックアップ
    section: データ・バックアップ
    hint: 手動バックアップを実施し cron ジョブを確認
    file: {path: ../backups/latest/app.db}
  - id: db-size
    label: DBサイズ
    section: データ・バックアップ
    command: {shell: "echo ${db}", value: {fail: 1000, unit: MB}}
report:
  checklist:
    - {item: サービス稼働確認（httpd/estimator）, checks: [httpd, estimator]}
    - {item: ヘルスチェック実行（ローカル/本番）, checks: [health]}
    - {item: ディスク使用量確認（< 80%）, checks: [disk]}
    - {item: リソース使用状況確認（CPU/メモリ）, checks: [cpu, memory]}
    - {item: 本日のリクエスト数確認, checks: [requests]}
    - {item: エラー率確認（< 1%）, checks: [errors, error-rate]}
    - {item: 日次レポート作成・送信}
"#;

/// The frequent health probe whose samples give 稼働率.
pub const PROBE: &str = r#"version: 1
title: ヘルスチェック監視
system: AI見積りシステム
vars: {base: BASE, health: /ok}
checks:
  - id: health
    label: ヘルスチェック
    section: サービス稼働状況
    http: {url: "${base}${health}"}
"#;

/// Seed 000 週次運用, with the history lines of its 週次レポート.
pub const WEEKLY: &str = r#"version: 1
title: 週次点検
system: AI見積りシステム
vars: {cert: "45", updates: "true"}
checks:
  - id: backup
    label: バックアップ確認
    section: バックアップ
    file: {path: ../backups/latest/app.db}
  - id: cert
    label: SSL証明書 残り日数
    section: セキュリティ
    command: {shell: "echo ${cert}", value: {warn: "<= 30", fail: "<= 7", unit: 日}}
  - id: security-updates
    label: セキュリティアップデート
    section: セキュリティ
    hint: sudo yum update --security -y (メンテナンスウィンドウで)
    command: {run: ["${updates}"]}
report:
  uptime: {check: probe/health}
  sections:
    - name: パフォーマンス
      lines:
        - {check: daily/error-rate, label: エラー率}
    - name: 利用状況
      lines:
        - {check: daily/requests, stat: sum, label: 総アクセス数}
    - name: リソース使用状況
      lines:
        - {check: daily/cpu, label: 平均CPU使用率}
        - {check: daily/memory, stat: max, label: 最大メモリ使用率}
        - {check: daily/disk, stat: last, label: ディスク使用率}
    - name: バックアップ
      lines:
        - {check: daily/backup, stat: success, label: 定期バックアップ}
  checklist:
    - {item: バックアップ確認（存在・サイズ）, checks: [backup]}
    - {item: SSL証明書有効期限確認（> 30日）, checks: [cert]}
    - {item: ログローテーション確認}
    - {item: セキュリティアップデート確認・適用, checks: [security-updates]}
    - {item: 週次レポート作成・送信}
"#;

/// Seed 000 月次運用: automatic trend lines and capacity forecasts.
pub const MONTHLY: &str = r#"version: 1
title: 月次点検
system: AI見積りシステム
checks:
  - id: restore-test
    label: バックアップ復旧テスト
    section: バックアップ
    command: {shell: "true"}
report:
  uptime: {check: probe/health}
  forecast:
    - {check: daily/disk, label: ディスク使用率}
    - {check: daily/db-size, label: DBサイズ, horizon: 90d}
"#;

/// Another system on the same host and history (SPEC §10.2): its checks
/// share ids and labels with the seed's (`health`, `disk` ディスク使用率)
/// and must never reach the seed system's reports, nor theirs the seed's.
pub const OTHER: &str = r#"version: 1
title: 会員フォーム点検
system: 会員フォーム
vars: {base: BASE, health: /ok, disk: "20", users: "12"}
checks:
  - id: health
    label: フォーム応答
    section: サービス稼働状況
    http: {url: "${base}${health}"}
  - id: disk
    label: ディスク使用率
    section: リソース使用状況
    command: {shell: "echo ${disk}", value: {unit: "%", warn: ">= 80", fail: ">= 90"}}
  - id: db-query
    label: 登録件数
    section: 利用状況
    command: {shell: "echo ${users}", value: {unit: "件"}}
"#;

/// The other system's weekly report runbook: only its own rows.
pub const OTHER_WEEKLY: &str = r#"version: 1
title: 会員フォーム週次点検
system: 会員フォーム
report: {period: weekly}
checks:
  - {id: ok, label: 週次確認, section: その他, command: {run: ["true"]}}
"#;

/// An Env with the seed runbooks, the test server as `base`, and a backup file.
pub fn seed_env(server: &crate::common::http_server::Server) -> Env {
    let env = Env::new();
    let base = server.url("");
    for (name, text) in [
        ("daily.yaml", DAILY),
        ("probe.yaml", PROBE),
        ("weekly.yaml", WEEKLY),
        ("monthly.yaml", MONTHLY),
        ("other.yaml", OTHER),
        ("other-weekly.yaml", OTHER_WEEKLY),
    ] {
        env.runbook(name, &text.replace("BASE", &base));
    }
    env.write("backups/latest/app.db", "backup");
    env
}

/// Runs opsrun and insists it ran (exit 0–2: checks ran, whatever they found).
pub fn ok_run(env: &Env, args: &[&str]) -> Run {
    let r = env.run(args);
    assert!(
        (0..=2).contains(&r.code) && !r.stderr.contains("warning"),
        "{args:?}: {r:?}"
    );
    r
}

//! Japanese words for reasons: the report, checklist, 障害報告 and mail
//! speak these (SPEC §10.1), and the table, markdown, nagios and JSON
//! `message` do with `--lang ja`. One template per catalog entry key (the
//! English catalog is the msgid); a parameter is filled in Japanese units
//! (`5秒`, `91.2%`), `level` reads 警告/異常, lists join with 、/または.
//! Observed data (an error text from the OS or a server, a path, a log
//! line) is quoted as it is, in 「」 where it is free text. A detail entry
//! with no template here falls back to English; every reason entry has
//! one (a unit test in `tests/it` checks that, and that no English word
//! is left outside quoted data).

use super::fill_with;
use crate::values::reason::{Param, Reason};
use crate::values::units::{Unit, format_bytes, percent_text, trim_float};

/// The reason in Japanese.
pub fn say(r: &Reason) -> String {
    match template(r.code.key) {
        Some(t) => fill_with(t, r, &param),
        None => super::fill(r.code.en, r),
    }
}

/// Whether a Japanese message's first (worst) reason is a `change:`
/// reason (`前月比 +25.3%（警告 20%）`, `12時間前比 …`): the report then
/// says it as it is, not as the headline metric against its own limit
/// (a change of `+80%` would otherwise read as the `80%` limit).
pub fn starts_with_change(message_ja: &str) -> bool {
    let first = message_ja.split('、').next().unwrap_or("");
    ["前日比 ", "前週比 ", "前月比 ", "前回比 "]
        .iter()
        .any(|p| first.starts_with(p))
        || first
            .split_once("前比 ")
            .is_some_and(|(ago, _)| !ago.is_empty() && !ago.contains(' '))
}

/// The Japanese template of the catalog entry `key`, if there is one.
pub fn template(key: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}

/// A parameter in Japanese: `level` as 警告/異常, quantities in Japanese
/// units, lists joined by `join`.
fn param(name: &str, p: &Param, join: &str) -> String {
    match p {
        Param::Text(t) if name == "level" || name == "status" => match t.as_str() {
            "warn" => "警告".into(),
            "fail" => "異常".into(),
            "unknown" => "不明".into(),
            "pass" => "正常".into(),
            other => other.into(),
        },
        Param::Text(t) => t.clone(),
        Param::Int(i) => i.to_string(),
        Param::Quantity(v, unit) => quantity(*v, *unit),
        Param::List(l) => l
            .iter()
            .map(|p| param(name, p, join))
            .collect::<Vec<_>>()
            .join(join),
        Param::Bool(true) => "はい".into(),
        Param::Bool(false) => "いいえ".into(),
        Param::Reason(r) => say(r),
    }
}

/// `91.2%`, `5秒`, `350ms`, `2分`, `48.2MB`, `45日`, `3`.
pub fn quantity(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{}%", percent_text(v)),
        Unit::Millis => millis(v),
        Unit::Bytes => format_bytes(v),
        Unit::Days => format!("{}日", trim_float(v, 0)),
        Unit::Count | Unit::Number => trim_float(v, 2),
    }
}

/// `350ms`, `1.2秒`, `2.5分`, `3時間`, `2日`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", trim_float(ms, 0))
    } else if ms < 60_000.0 {
        format!("{}秒", trim_float(ms / 1000.0, 1))
    } else if ms < 3_600_000.0 {
        format!("{}分", trim_float(ms / 60_000.0, 1))
    } else if ms < 86_400_000.0 {
        format!("{}時間", trim_float(ms / 3_600_000.0, 1))
    } else {
        format!("{}日", trim_float(ms / 86_400_000.0, 1))
    }
}

/// Catalog key → Japanese template (syntax of `fill`; `{x:or}` joins with
/// または, `{x:semi}` and plain lists with 、, `{x:q}` quotes in 「」).
static TEMPLATES: &[(&str, &str)] = &[
    // detail lines (`-v`, JSON detail)
    (
        "access_log.detail.malformed",
        "解析できない行 {count}件を除外（最初: {first}）",
    ),
    (
        "access_log.detail.not_evaluated",
        "{metric}: 期間内に応答時間つきのリクエストがないため評価せず",
    ),
    (
        "access_log.detail.read",
        "{files}: {read} 読み込み、{lines}行、形式 {format}",
    ),
    (
        "access_log.detail.statuses",
        "5xx {e5}件、4xx {e4}件、401 {s401}件、クライアント {clients}",
    ),
    (
        "access_log.detail.times",
        "応答時間: 平均 {avg}、p50 {p50}、p95 {p95}、p99 {p99}、最大 {max}（{timed}件）",
    ),
    (
        "access_log.detail.window",
        "期間 {window}: {from} 〜 {to}（各行のオフセットで判定、期間外 {outside}行）",
    ),
    ("backup.detail.generations", "{count}世代"),
    ("backup.detail.generations_one", "1世代"),
    ("backup.detail.newest", "最新: {name}（{at}、{size}）"),
    ("backup.detail.present", "保存中: {names}"),
    ("backup.detail.previous", "前回: {name}（{size}）"),
    (
        "backup.detail.previous_smaller",
        "前回: {name}（{size}）、今回は {shrink} 小さい",
    ),
    ("cert_file.detail.file_many", "{path}: 証明書 {count}件"),
    ("cert_file.detail.file_one", "{path}: 証明書 1件"),
    (
        "command.detail.held_open",
        "コマンド終了後もバックグラウンドのプロセスが出力を開いたまま: {grace} 後まで読み取り、そのプロセスは動作中のまま",
    ),
    ("command.detail.ran", "{command} → {result}（{took}）"),
    ("command.detail.stderr", "標準エラー: {line}"),
    ("command.detail.stdout", "標準出力: {line}"),
    (
        "cpu.detail.load",
        "load1 {load1}、{cores}コア = 1コアあたり {per_core}[; {sampled}ms 計測]",
    ),
    ("disk.detail.free", "{path}: 空き {free} / 全体 {total}"),
    (
        "diskio.detail.device",
        "デバイス {device}[（パーティション {partition} のあるディスク全体）][（{mapper}）][、{path} は {fstype}、マウント位置 {mount}]",
    ),
    (
        "diskio.detail.rates",
        "{sample}間: 読み込み {reads}回/秒、書き込み {writes}回/秒、読み込み {read_kb} kB/秒、書き込み {write_kb} kB/秒、平均キュー長 {queue}",
    ),
    ("dns.detail.answers", "{record} {name} → {answers}"),
    ("http.detail.body", "本文: {body}"),
    ("http.detail.body_empty", "本文: （空）"),
    ("http.detail.response", "{target} → {status}（本文 {size}）"),
    (
        "http.detail.response_cut",
        "{target} → {status}（本文 {size}、max_body で打ち切り）",
    ),
    ("journal.detail.by_priority", "優先度別: {counts}"),
    ("journal.detail.last", "最後: {line}"),
    (
        "journal.detail.unparsed",
        "JSON として読めない journalctl の出力 {count}行",
    ),
    ("journal.detail.window", "期間 {window}: {from} 〜 {to}"),
    ("log.detail.last", "最後の一致（[{at} ]{file}）: {line}"),
    ("log.detail.read", "{files}: {read} 読み込み、{lines}行"),
    (
        "log.detail.values",
        "値 {values}件: 平均 {avg}、P50 {p50}、P95 {p95}、P99 {p99}、最大 {max}、合計 {sum}",
    ),
    (
        "log.detail.unparsed",
        "一致したが数値を読めなかった行 {count}件、最初: {first}",
    ),
    (
        "log.detail.malformed",
        "JSON オブジェクトでない行 {count}件を読み飛ばし、最初: {first}",
    ),
    ("log.detail.not_evaluated", "{metric}: 値がないため評価せず"),
    (
        "log.detail.undated_json",
        "`{field}` に時刻のない JSON 行 {count}件は数えず",
    ),
    (
        "log.detail.undated",
        "ファイル先頭の時刻より前の {count}行は数えず",
    ),
    (
        "log.detail.window",
        "期間 {window}: {from} 〜 {to}（時刻の形式: {format}）",
    ),
    (
        "logfile.detail.category",
        "{name}: {count}件 — 最後: {line}",
    ),
    ("logfile.detail.category_none", "{name}: 0件"),
    (
        "logfile.detail.old_skipped",
        "期間より前に書き終えたローテーション済みファイル {count}件を除外",
    ),
    ("logfile.detail.other", "その他: {count}件 — 最後: {line}"),
    (
        "logfile.detail.overlong",
        "{max} を超える {count}行を切り詰め",
    ),
    (
        "logfile.detail.vanished",
        "読む前に消えたファイル {count}件（ローテーション済み）を除外",
    ),
    (
        "memory.detail.used",
        "使用 {used} / 全体 {total}（{scope}）",
    ),
    (
        "postgres.detail.connection",
        "{user}@{address} データベース {dbname}（[パスワード: {source}、]sslmode {sslmode}）",
    ),
    (
        "postgres.detail.connections",
        "状態別の接続数: {states}（max_connections {max}）",
    ),
    (
        "postgres.detail.deadlocks_created",
        "デッドロック: 統計作成以来 {total}件",
    ),
    (
        "postgres.detail.deadlocks_reset",
        "デッドロック: {reset} の統計リセット以来 {total}件",
    ),
    (
        "postgres.detail.encrypted",
        "{version}、暗号化あり（{tls}）",
    ),
    (
        "postgres.detail.hidden_sessions",
        "他のユーザーのセッション {hidden}件はこのユーザーから見えません（見るには pg_read_all_stats を付与）",
    ),
    (
        "postgres.detail.more_long",
        "ほかに {older_than} を超えて実行中のクエリ {more}件",
    ),
    (
        "postgres.detail.more_rows",
        "クエリが複数行を返しました。最初の行を使用",
    ),
    (
        "postgres.detail.no_long_query",
        "{older_than} を超えて実行中のクエリなし",
    ),
    ("postgres.detail.not_encrypted", "{version}、暗号化なし"),
    (
        "postgres.detail.not_replayed",
        "再生済みのトランザクションがまだないため遅延は不明",
    ),
    (
        "postgres.detail.oldest",
        "最古: pid {pid} {user}@{dbname} {state}、{running} 実行中: {query}",
    ),
    (
        "postgres.detail.primary_hidden",
        "プライマリ、スタンバイ {standbys}台（遅延は非表示: pg_monitor を付与）",
    ),
    (
        "postgres.detail.primary_many",
        "プライマリ、スタンバイ {standbys}台（遅延 {lag}）",
    ),
    (
        "postgres.detail.primary_none",
        "プライマリ、接続中のスタンバイなし",
    ),
    (
        "postgres.detail.primary_one",
        "プライマリ、スタンバイ 1台（遅延 {lag}）",
    ),
    ("postgres.detail.query", "クエリ → {value}（{query}）"),
    (
        "postgres.detail.standby",
        "スタンバイ {name}（{address}）: {state}、再生遅延 {lag}",
    ),
    (
        "postgres.detail.standby_hidden",
        "スタンバイ {name}（{address}）: 状態と遅延はこのユーザーから見えません（pg_monitor を付与）",
    ),
    (
        "postgres.detail.wal_hidden",
        "スタンバイ、WAL 受信プロセス動作中（状態は非表示: pg_monitor を付与）",
    ),
    (
        "postgres.detail.wal_not_running",
        "スタンバイ、WAL 受信プロセス停止",
    ),
    (
        "postgres.detail.wal_status",
        "スタンバイ、WAL 受信プロセス {status}",
    ),
    ("process.detail.more", "… ほか {more}件"),
    ("process.detail.process", "pid {pid}（{user}）: {command}"),
    ("redis.detail.clients", "connected_clients {clients}"),
    ("redis.detail.keys", "キー数 {keys}"),
    (
        "redis.detail.memory_max",
        "used_memory {used} / maxmemory {limit}（{pct}）",
    ),
    (
        "redis.detail.memory_system",
        "used_memory {used} / システムメモリ {limit}（{pct}、maxmemory 未設定）",
    ),
    (
        "redis.detail.no_password_needed",
        "パスワードが指定されましたがサーバーは不要（AUTH は無視）",
    ),
    ("redis.detail.replica", "{master} のレプリカ、リンク {link}"),
    (
        "redis.detail.server",
        "Redis {version}（{address}[ db {db}]）、ロール {role}",
    ),
    ("sqlite.detail.check_line", "{step}: {line}"),
    ("sqlite.detail.check_ok", "PRAGMA {step}: ok"),
    ("sqlite.detail.file", "{path}: {size}、journal_mode {mode}"),
    (
        "sqlite.detail.file_wal",
        "{path}: {size}、journal_mode {mode}（WAL ヘッダー）",
    ),
    ("sqlite.detail.first_messages", "（最初の {count}件）"),
    ("sqlite.detail.query", "クエリ: {query} → {value}"),
    ("systemd.detail.facts", "{facts}"),
    ("systemd.detail.load_error", "LoadError: {error}"),
    ("systemd.detail.main_pid", "メイン pid {pid}"),
    (
        "systemd.detail.not_found",
        "ユニット {unit} が見つかりません",
    ),
    ("systemd.detail.restarts", "NRestarts={restarts}"),
    ("systemd.detail.result", "Result={result}"),
    ("systemd.detail.since", "{since} から[（{ago}前）]"),
    ("systemd.detail.unit", "{unit}: {state}"),
    (
        "container.detail.container",
        "{container}（{id}）: {state}[（{health}）]、イメージ {image}[、{started} 起動]",
    ),
    (
        "container.detail.restarts",
        "前回の実行から再起動 {restarts}回（累計 {total}回）",
    ),
    (
        "container.detail.restarts_created",
        "作成以来の再起動 {total}回（前回の実行の記録なし）",
    ),
    (
        "container.detail.health_log",
        "{container} の直近のヘルスチェック: 終了コード {exit_code}",
    ),
    (
        "systemd.detail.unit_described",
        "{unit}（{description}）: {state}",
    ),
    ("tls.detail.chain", "証明書チェーン: {count}件提示"),
    (
        "tls.detail.chain_cert",
        "  {role} {name}、notAfter {not_after}",
    ),
    ("tls.detail.chain_one", "証明書チェーン: 1件提示"),
    (
        "tls.detail.no_verify",
        "`verify: false`（チェーンとホスト名は検証せず）",
    ),
    ("tls.detail.peer", "{target}[（{peer}）][、{session}]"),
    (
        "tls.detail.trust_bundle",
        "信頼: {path}（ルート {roots}件）",
    ),
    (
        "tls.detail.trust_ca_file",
        "信頼: ca_file {path}（{roots}）",
    ),
    (
        "tls.detail.trust_webpki",
        "信頼: webpki-roots（システムの CA バンドルなし）",
    ),
    (
        "x509.detail.earliest",
        "最も早い期限: {role} {name}、notAfter {not_after}（{left}）、最初の証明書より前",
    ),
    (
        "x509.detail.first_earliest",
        "証明書 {count}件、最初の証明書の期限が最も早い",
    ),
    ("x509.detail.issuer", "発行者 {issuer}"),
    ("x509.detail.not_after", "notAfter {not_after}（{left}）"),
    ("x509.detail.sans", "SAN {sans}"),
    ("x509.detail.subject", "サブジェクト {subject}"),
    // display values (`Code::value`): the table's VALUE column
    ("value.timeout", "タイムアウト"),
    ("value.missing", "なし"),
    ("value.none", "なし"),
    ("value.incomplete", "読み取り途中"),
    ("value.dns.no_record", "レコードなし"),
    ("value.command.exit", "終了コード {code}"),
    ("value.command.signal", "シグナル {signal} で終了"),
    ("value.journal.entry", "1件"),
    ("value.journal.entries", "{count}件"),
    ("value.sqlite.ok", "正常"),
    ("value.sqlite.readable", "読み取り可"),
    ("value.sqlite.corrupt", "破損"),
    ("value.file.absent", "存在しない"),
    ("value.file.present", "存在する"),
    ("value.file.file", "{size}、{age}前に更新"),
    ("value.file.dir", "ディレクトリ、{size}、{age}前に更新"),
    ("value.process.one", "1プロセス"),
    ("value.process.many", "{count}プロセス"),
    ("value.tcp.open", "接続可 {latency}"),
    ("value.tcp.open_bare", "接続可"),
    ("value.tcp.closed", "接続不可"),
    ("value.diskio", "使用率 {util}、平均待ち時間 {await}"),
    ("value.log.match", "1件"),
    ("value.log.matches", "{count}件"),
    ("value.access_log.request", "リクエスト 1件"),
    ("value.access_log.requests", "リクエスト {count}件"),
    ("value.backup.newest", "{when}（{ago}、{size}）"),
    ("value.backup.just_now", "たった今"),
    ("value.backup.minutes_ago", "{n}分前"),
    ("value.backup.hours_ago", "{n}時間前"),
    ("value.backup.days_ago", "{n}日前"),
    ("value.x509.left", "残り{days}日"),
    ("value.x509.left_one", "残り1日"),
    ("value.x509.expired_days", "期限切れ（{n}日前）"),
    ("value.x509.expired_day", "期限切れ（1日前）"),
    ("value.x509.expired_hours", "期限切れ（{n}時間前）"),
    ("value.x509.expired_hour", "期限切れ（1時間前）"),
    ("value.redis.pong", "PONG {latency}（{role}）"),
    ("value.redis.clients", "接続 {count}件"),
    ("value.redis.keys", "キー {count}件"),
    ("value.redis.of_max", "maxmemory の {pct}"),
    (
        "value.redis.of_system",
        "システムメモリの {pct}（maxmemory 未設定）",
    ),
    ("value.container.state", "{state}[ ({health})][, {uptime}]"),
    ("value.container.exited", "{state} ({exit_code})"),
    ("value.container.replicas", "稼働 {running}/{total}コンテナ"),
    ("maintenance", "計画停止中（{until}まで）[: 「{reason}」]"),
    // common
    ("timeout", "タイムアウト（{after}）"),
    ("threshold", "{value} {op} {level}閾値 {limit}"),
    ("interrupted", "中断"),
    ("skip.only", "対象外（`--only` で未選択）"),
    ("skip.skip", "スキップ（`--skip` 指定）"),
    ("skip.tag", "対象外（`--tag` で未選択）"),
    ("unfinished", "チェックが完了しませんでした"),
    (
        "pending",
        "{status} {seen}/{of}回連続（まだ判定に数えません）",
    ),
    (
        "cpu.loadavg",
        "`/proc/loadavg` に1分間の負荷平均がありません",
    ),
    ("change.day", "前日比 {change}（{level}[ {op}] {limit}）"),
    ("change.week", "前週比 {change}（{level}[ {op}] {limit}）"),
    ("change.month", "前月比 {change}（{level}[ {op}] {limit}）"),
    (
        "change.previous",
        "前回比 {change}（{level}[ {op}] {limit}）",
    ),
    ("change.ago", "{ago}前比 {change}（{level}[ {op}] {limit}）"),
    (
        "change.detail.compared",
        "変化率: {at} の {then} → 今回 {now}（{change}）",
    ),
    (
        "change.detail.no_sample",
        "変化率: {ago}前ごろの比較データがないため判定せず",
    ),
    (
        "change.detail.no_previous",
        "変化率: 比較できる前回の値がないため判定せず",
    ),
    (
        "change.detail.from_zero",
        "変化率: {at} の値が0のため計算できず判定せず（今回 {now}）",
    ),
    (
        "change.detail.no_metric",
        "変化率: 数値が得られなかったため判定せず",
    ),
    ("retry.passed", "{attempts}回目で成功"),
    ("retry.still", "{attempts}回試行後も{status}"),
    (
        "severity.warn",
        "異常を警告として扱いました（`severity: warn`）",
    ),
    // JSON expectations
    (
        "json.invalid",
        "応答が JSON ではありません（「{error}」）、期待値 {want}",
    ),
    ("json.missing", "JSON の {path} がありません、期待値 {want}"),
    ("json.mismatch", "JSON の {path} = {got}、期待値 {want}"),
    // http
    ("http.status", "ステータス {got}（期待値 {want:or}）"),
    (
        "http.body_contains",
        "応答本文に {want:q} が含まれていません",
    ),
    (
        "http.body_contains.max_body",
        "応答本文（max_body まで）に {want:q} が含まれていません",
    ),
    ("http.body_regex", "応答本文が /{regex}/ に一致しません"),
    (
        "http.body_failed",
        "ステータス {got} ですが本文の受信に失敗（{read}受信後、「{error}」）",
    ),
    ("http.timeout", "タイムアウト（{after}）"),
    ("http.refused", "接続拒否"),
    ("http.resolve", "ホスト名を解決できません"),
    ("http.tls", "TLS 証明書が拒否されました（「{error}」）"),
    ("http.reset", "接続がリセットされました"),
    ("http.connect", "接続できません（「{error}」）"),
    ("http.error", "「{error}」"),
    ("http.ca_file", "ca_file {path} を読めません（「{error}」）"),
    (
        "http.ca_file.not_pem",
        "ca_file {path} は PEM 証明書ではありません（「{error}」）",
    ),
    ("http.ca_file.empty", "ca_file {path} に証明書がありません"),
    (
        "http.client",
        "HTTP クライアントを作成できません（「{error}」）",
    ),
    ("http.method", "HTTP メソッド `{method}` は無効です"),
    ("http.secret", "{field}: {error}"),
    // tcp
    ("tcp.refused", "{address}: 接続拒否（開いているはず）"),
    ("tcp.connect", "{address}: 「{error}」（開いているはず）"),
    (
        "tcp.timeout",
        "{address}: 接続タイムアウト（{after}、開いているはず）",
    ),
    ("tcp.in_use", "{address} は使用中です（空いているはず）"),
    ("tcp.error", "{address}: 「{error}」"),
    (
        "tcp.filtered",
        "{address}: タイムアウトまで応答なし（フィルタ？）",
    ),
    // dns
    (
        "dns.nxdomain",
        "{name}: 名前が存在しません（NXDOMAIN）[、サーバー {server}]",
    ),
    (
        "dns.no_records",
        "{name} に {type} レコードがありません[（サーバー {server}）]",
    ),
    (
        "dns.expect",
        "{type} {name}: 応答に {missing} がありません（応答 {got}）",
    ),
    (
        "dns.timeout",
        "{name} の名前解決がタイムアウト（{after}）[、サーバー {server}]",
    ),
    (
        "dns.rcode",
        "{name}: サーバーの応答 {rcode}[（サーバー {server}）]",
    ),
    ("dns.error", "{name}: 「{error}」[（サーバー {server}）]"),
    (
        "dns.no_resolver",
        "システムのリゾルバ設定を読めません（「{error}」）",
    ),
    // file
    ("file.missing", "{path} が存在しません"),
    ("file.present", "{path} が存在します（存在しないはず）"),
    ("file.stat", "{path} の情報を取得できません（「{error}」）"),
    ("file.stale", "最終更新が{age}前（{max_age}以内のはず）"),
    // command
    (
        "command.exit",
        "終了コード {got}（期待値 {want:or}）[ — 「{last_line}」]",
    ),
    (
        "command.exit.signal",
        "シグナル {signal} で終了（期待値 終了コード {want:or}）[ — 「{last_line}」]",
    ),
    (
        "command.timeout",
        "タイムアウト（{after}）、プロセスグループごと停止",
    ),
    (
        "command.stdout_contains",
        "標準出力に {want:q} が含まれていません",
    ),
    (
        "command.stdout_regex",
        "標準出力が /{regex}/ に一致しません",
    ),
    ("command.no_value", "標準出力に値がありません"),
    ("command.not_a_number", "値 {raw:q} は数値ではありません"),
    ("command.spawn", "{program} を実行できません（「{error}」）"),
    ("command.wait", "終了待ちに失敗（「{error}」）"),
    (
        "command.config",
        "コマンド: `run`（引数リスト）か `shell`（文字列）のどちらか一つを指定してください",
    ),
    // cpu, memory, disk, process
    ("cpu.stat", "`/proc/stat` に CPU 全体の行がありません"),
    (
        "memory.meminfo",
        "`/proc/meminfo` に `MemTotal`/`MemAvailable` がありません",
    ),
    (
        "disk.statvfs",
        "{path} の容量を取得できません（「{error}」）",
    ),
    ("proc.unreadable", "{path} を読めません（「{error}」）"),
    (
        "diskio.no_device",
        "ブロックデバイス `{device}` はこのホストにありません",
    ),
    (
        "diskio.no_block_device",
        "{path} は {fstype}（{source}）上にあり、計測できるブロックデバイスがありません",
    ),
    ("diskio.path", "{path} を解決できません（「{error}」）"),
    (
        "diskio.sysfs",
        "{path}: デバイス {dev} が `/sys/dev/block` にありません",
    ),
    (
        "process.no_user",
        "ユーザー `{user}` はこのホストに存在しません（`/etc/passwd`）",
    ),
    ("process.scan", "プロセスの走査に失敗（「{error}」）"),
    // systemd
    (
        "systemd.not_found",
        "ユニット {unit} が見つかりません（期待値 {want}）",
    ),
    (
        "systemd.state",
        "{unit} の状態は {state}（期待値 {want}）[、結果 {result}][、終了ステータス {exit_status}][、再起動 {restarts}回]",
    ),
    (
        "systemd.enabled",
        "{unit} の有効化状態は {unit_file_state}（期待値 {want}）",
    ),
    (
        "systemd.no_systemd",
        "このホストでは systemd が動作していません（「{error}」）",
    ),
    (
        "systemd.no_systemctl",
        "`systemctl` がありません（このホストに systemd なし）",
    ),
    ("systemd.show", "`systemctl show` に失敗（「{error}」）"),
    (
        "systemd.show.exit",
        "`systemctl show` が終了コード {exit} で失敗",
    ),
    (
        "systemd.spawn",
        "`systemctl` を実行できません（「{error}」）",
    ),
    ("systemd.io", "`systemctl`: 「{error}」"),
    (
        "systemd.timeout",
        "`systemctl show` が{after}以内に応答しません",
    ),
    // container
    ("container.not_found", "コンテナ {name} が見つかりません"),
    (
        "container.not_found.compose",
        "`docker compose` のプロジェクト {project}、サービス {service} のコンテナが見つかりません",
    ),
    (
        "container.state",
        "{container} の状態は {state}（期待値 {want}）[、終了コード {exit_code}][、再起動 {restarts}回]",
    ),
    (
        "container.unhealthy",
        "{container} のヘルスチェックが失敗しています[（{streak}回連続）]",
    ),
    (
        "container.health.starting",
        "{container} のヘルスチェックがまだ成功していません（開始中）",
    ),
    (
        "container.health.none",
        "{container} にヘルスチェックが定義されていません（`health: healthy` 指定）",
    ),
    (
        "container.image",
        "{container} のイメージは {image}（期待値 {want}）",
    ),
    (
        "container.restarts",
        "{container} 前回の実行から再起動 {value}回 {op} {level}閾値 {limit}",
    ),
    (
        "container.restarts.created",
        "{container} 作成以来の再起動 {value}回 {op} {level}閾値 {limit}",
    ),
    (
        "container.no_daemon",
        "Docker デーモンがありません: {address} が存在しません（Docker か Podman の API サービスが起動しているか、`DOCKER_HOST` を確認）",
    ),
    (
        "container.no_daemon.refused",
        "Docker デーモンがありません: {address} が接続を拒否",
    ),
    (
        "container.permission",
        "{address}: 権限がありません（`root` か `docker` グループのユーザーで実行）",
    ),
    ("container.host", "{setting} {value}: 「{error}」"),
    (
        "container.host.tls",
        "`DOCKER_TLS_VERIFY` が設定されています: Docker デーモンへの TLS 接続には未対応です（`unix://` のソケットを使用）",
    ),
    ("container.io", "{address}: 「{error}」"),
    (
        "container.io.too_big",
        "{address}: Docker API の応答が上限 {limit} を超えました",
    ),
    (
        "container.api",
        "{address}: Docker API の応答がステータス {status}[: 「{message}」]",
    ),
    (
        "container.not_api",
        "{address}: Docker API の応答ではありません（「{error}」）",
    ),
    (
        "container.timeout",
        "{address}: Docker API が{after}以内に応答しません",
    ),
    // journal
    (
        "journal.no_directory",
        "ジャーナルのディレクトリ {path} がありません",
    ),
    (
        "journal.no_files",
        "{path} にジャーナルファイルがありません",
    ),
    (
        "journal.no_journal",
        "{dirs:or} にジャーナルファイルがありません（journald が動作していないか、ジャーナルを保存しない設定）",
    ),
    (
        "journal.spawn",
        "`journalctl` を実行できません（「{error}」）",
    ),
    ("journal.read", "`journalctl`: 「{error}」"),
    (
        "journal.timeout",
        "ジャーナルの読み取りがタイムアウト（{after}、それまでに{count}件）",
    ),
    (
        "journal.exit",
        "`journalctl` が終了コード {code} で終了（「{error}」）",
    ),
    (
        "journal.permission",
        "このユーザーでは `journalctl` でジャーナル全体を読めません（`root` か `systemd-journal`/`adm` グループで実行）",
    ),
    (
        "journal.silent_unit",
        "ユニット {units} のジャーナルが1件もありません（ユニット名は正しいですか）",
    ),
    // log files
    (
        "log.timeout",
        "{path} の読み取りがタイムアウト（{after}、それまでに一致{count}件）",
    ),
    (
        "log.no_timestamp",
        "{path} に時刻（{format}）がありません: `since: {since}` を適用できません",
    ),
    ("log.scan_failed", "ログの走査に失敗"),
    (
        "log.no_value",
        "{path} に一致する行が {count}件ありますが、/{regex}/ で数値を読めた行がありません（最初: {first}）",
    ),
    (
        "log.not_json",
        "{path} に JSON オブジェクトの行がありません（不正な行 {malformed}件、最初: {first}）",
    ),
    (
        "logfile.glob",
        "[{kind}: ]パターン `{path}` が無効です（「{error}」）",
    ),
    (
        "logfile.directory",
        "[{kind}: ]{path} はディレクトリです（ログファイルのはず）",
    ),
    (
        "logfile.not_file",
        "[{kind}: ]{path} は通常のファイルではありません",
    ),
    (
        "logfile.no_match",
        "[{kind}: ]{path} に一致するファイルがありません",
    ),
    (
        "logfile.read",
        "[{kind}: ]{path} を読めません（「{error}」）",
    ),
    (
        "logfile.gzip",
        "[{kind}: ]{path} を読めません: gzip データが壊れているか途中で切れています（「{error}」）",
    ),
    (
        "access_log.timeout",
        "{path} の読み取りがタイムアウト（{after}、それまでの件数 {counts}）",
    ),
    (
        "access_log.format",
        "{path} に形式 {format} の行がありません（不正な行 {malformed}件、先頭 「{first}」）",
    ),
    ("access_log.scan_failed", "ログの走査に失敗"),
    // backup check
    (
        "backup.no_dir",
        "バックアップディレクトリ {dir} がありません",
    ),
    ("backup.unreadable", "{dir} を読めません（「{error}」）"),
    ("backup.scan", "バックアップの走査に失敗（「{error}」）"),
    (
        "backup.none",
        "{dir} に `{pattern}` に一致するバックアップがありません",
    ),
    (
        "backup.stale",
        "最新のバックアップ {name} は{age}前（{max_age_written}以内のはず）",
    ),
    (
        "backup.missing",
        "最新のバックアップ {name} に {missing} がありません",
    ),
    (
        "backup.missing.file",
        "最新のバックアップ {name} はファイルですが、`require` に {missing} があります",
    ),
    (
        "backup.too_small",
        "最新のバックアップ {name} は {size}（{min_size}以上のはず）",
    ),
    // certificates
    ("cert_file.missing", "{path} が存在しません"),
    ("cert_file.unreadable", "{path} を読めません（「{error}」）"),
    ("cert_file.invalid", "{path}: 「{error}」"),
    (
        "cert_file.invalid.cert",
        "{path}: 証明書 #{index} が不正です（「{error}」）",
    ),
    ("cert.none", "証明書がありません"),
    (
        "cert.not_yet_valid",
        "証明書はまだ有効ではありません（有効期間の開始 {not_before}）",
    ),
    (
        "cert.expired",
        "証明書の有効期限切れ（{ago}前、期限 {not_after}）[、{first_days}日前の期限]",
    ),
    (
        "cert.expires",
        "証明書の有効期限まで残り{days}日 {op} {level}閾値 {limit}（期限 {not_after}）[、最短 {first_days}日]",
    ),
    (
        "cert.expires.1",
        "証明書の有効期限まで残り{days}日 {op} {level}閾値 {limit}（期限 {not_after}）[、最短 {first_days}日]",
    ),
    // tls
    (
        "tls.server_name",
        "サーバー名 `{name}` が無効です（DNS 名か IP アドレス）",
    ),
    ("tls.trust", "「{error}」"),
    ("tls.verifier", "TLS 検証器を作成できません（「{error}」）"),
    ("tls.config", "TLS を設定できません（「{error}」）"),
    ("tls.resolve", "ホスト {host} を解決できません"),
    (
        "tls.resolve.timeout",
        "{host} の名前解決がタイムアウト（{after}）",
    ),
    ("tls.refused", "{target}: 接続拒否"),
    ("tls.connect", "{target}: 接続できません（「{error}」）"),
    (
        "tls.connect.timeout",
        "{target}: 接続タイムアウト（{after}）",
    ),
    (
        "tls.handshake",
        "{target}: TLS ハンドシェイク失敗（「{error}」）",
    ),
    (
        "tls.handshake.after_certificate",
        "証明書受信後に TLS ハンドシェイク失敗（「{error}」）",
    ),
    (
        "tls.handshake.after_certificate.timeout",
        "証明書受信後に TLS ハンドシェイクがタイムアウト（{after}）",
    ),
    (
        "tls.handshake.timeout",
        "{target}: TLS ハンドシェイクがタイムアウト（{after}）",
    ),
    (
        "tls.bad_certificate",
        "{target}: 提示された証明書 #{index} が不正です（「{error}」）",
    ),
    (
        "tls.name",
        "証明書の名前は {names} で、{name} ではありません",
    ),
    ("tls.name.unknown", "証明書は {name} に有効ではありません"),
    (
        "tls.untrusted.self_signed",
        "自己署名証明書 {certificate} は信頼されていません",
    ),
    (
        "tls.untrusted",
        "証明書が信頼されていません: 発行者 {issuer} は既知の認証局ではありません",
    ),
    (
        "tls.untrusted.unknown",
        "証明書が信頼されていません: 発行者不明",
    ),
    ("tls.bad_signature", "証明書チェーンの署名が不正です"),
    ("tls.purpose", "証明書が TLS サーバー認証用ではありません"),
    ("tls.revoked", "証明書が失効しています"),
    ("tls.malformed", "証明書の形式が不正です"),
    ("tls.rejected", "証明書が拒否されました（「{error}」）"),
    // sqlite
    ("sqlite.missing", "{path} が存在しません"),
    (
        "sqlite.stat",
        "{path} の情報を取得できません（「{error}」）",
    ),
    (
        "sqlite.directory",
        "{path} はディレクトリです（データベースではありません）",
    ),
    ("sqlite.unreadable", "{path} を読めません（「{error}」）"),
    (
        "sqlite.hot_journal",
        "{path} に中断された書き込みのジャーナル（`{name}-journal`）があります。読み取り専用のためロールバックしません（次にアプリケーションが開くときに戻されます）",
    ),
    (
        "sqlite.wal_shm",
        "{path} は WAL モードで、このユーザーは {dir} に `{name}-shm` を作成できません（読み取りにも必要）: そのディレクトリに書き込めるユーザーで実行してください",
    ),
    (
        "sqlite.open",
        "{path} を読み取り専用で開けません（「{error}」）",
    ),
    ("sqlite.interrupted", "{step} が中断されました"),
    (
        "sqlite.locked",
        "{step}: 「{error}」（タイムアウトの間ずっと書き込み中でした）",
    ),
    ("sqlite.error", "{step}: 「{error}」"),
    (
        "sqlite.query_writes",
        "クエリがデータベースに書き込みます: 読み取り専用のクエリ（SELECT …）だけを実行します",
    ),
    (
        "sqlite.query_parameter",
        "クエリのパラメーター {parameters} は使えません（`:today`、`:now`、`:now_unix` のみ）",
    ),
    (
        "sqlite.query_result",
        "クエリの結果が0行です（数値1つのはず）",
    ),
    (
        "sqlite.query_result.text",
        "クエリの結果は {got:q}（数値のはず）",
    ),
    (
        "sqlite.query_result.null",
        "クエリの結果が NULL です（数値のはず）",
    ),
    (
        "sqlite.query_result.blob",
        "クエリの結果がバイナリです（数値のはず）",
    ),
    ("sqlite.failed", "SQLite のチェックに失敗（「{error}」）"),
    (
        "sqlite.timeout",
        "{path} の {step} がタイムアウト（{after}）",
    ),
    (
        "sqlite.empty",
        "{path} は空です（0バイト: テーブルもデータもありません）",
    ),
    ("sqlite.corrupt", "{step}: {errors:semi}"),
    // postgres
    ("postgres.url", "`url` が無効です（「{error}」）"),
    (
        "postgres.pgport",
        "PGPORT `{value}` はポート番号ではありません",
    ),
    (
        "postgres.no_user",
        "ユーザーがありません: `user`、PGUSER を指定するか名前のあるユーザーで実行してください",
    ),
    ("postgres.password", "{error}"),
    (
        "postgres.sslmode",
        "[{source}: ]sslmode `{value}` は無効です（`disable`、`prefer`、`require`、`verify-ca`、`verify-full` のいずれか）",
    ),
    (
        "postgres.needs_root",
        "sslmode {sslmode} にはルート証明書が必要です: `sslrootcert` に PEM ファイル（公開認証局なら `system`）を指定するか sslmode `require` を使ってください",
    ),
    (
        "postgres.sslrootcert.read",
        "sslrootcert {path} を読めません（「{error}」）",
    ),
    (
        "postgres.sslrootcert.pem",
        "sslrootcert {path} は PEM 証明書ではありません（「{error}」）",
    ),
    (
        "postgres.sslrootcert.unusable",
        "sslrootcert {path} の証明書を使えません（「{error}」）",
    ),
    (
        "postgres.sslrootcert.empty",
        "sslrootcert {path} に証明書がありません",
    ),
    ("postgres.tls_setup", "TLS を設定できません（「{error}」）"),
    (
        "postgres.tls_setup.roots",
        "ルート証明書を使えません（「{error}」）",
    ),
    (
        "postgres.tls_setup.no_roots",
        "証明書の検証にはルート証明書が必要です",
    ),
    (
        "postgres.passfile.no_match",
        "{passfile} に一致する行がありません",
    ),
    (
        "postgres.passfile.not_file",
        "{passfile} は通常のファイルではないため無視しました",
    ),
    (
        "postgres.passfile.readable",
        "{passfile} はグループか他者が読めるため無視しました（`chmod 600 {passfile}`）",
    ),
    (
        "postgres.passfile.unreadable",
        "{passfile} を読めません（「{error}」）",
    ),
    (
        "postgres.timeout.connect",
        "{address} への接続がタイムアウト（{after}）",
    ),
    ("postgres.timeout", "タイムアウト（{after}、{step}中）"),
    (
        "postgres.timeout.statement",
        "タイムアウト（{after}、{step}中、statement_timeout）",
    ),
    ("postgres.timeout.io", "{address}: {step}中にタイムアウト"),
    (
        "postgres.auth",
        "{address}: 「{error}」[（パスワードの出所 {source}）][、{note}]",
    ),
    (
        "postgres.no_password",
        "{address}: サーバーがパスワードを要求しましたが指定がありません（password_env、password_file、PGPASSWORD、~/.pgpass のいずれかで指定）[、{note}]",
    ),
    ("postgres.server", "{address}: 「{error}」"),
    ("postgres.query_invalid", "{step}: 「{error}」"),
    ("postgres.error", "{step}: 「{error}」"),
    ("postgres.refused", "{address}: 接続拒否"),
    (
        "postgres.no_socket",
        "{address}: サーバーのソケットがありません（PostgreSQL は起動していますか）",
    ),
    (
        "postgres.no_tls",
        "{address}: サーバーが TLS に対応していません（sslmode {sslmode}）",
    ),
    (
        "postgres.tls_untrusted",
        "{address}: TLS: サーバー証明書が信頼されたルート（sslrootcert）で署名されていません",
    ),
    ("postgres.tls_name", "{address}: TLS: 「{error}」"),
    (
        "postgres.tls_expired",
        "{address}: TLS: サーバー証明書の有効期限切れ",
    ),
    (
        "postgres.tls",
        "{address}: TLS ハンドシェイク失敗（「{error}」）",
    ),
    ("postgres.resolve", "{address}: ホスト名を解決できません"),
    (
        "postgres.closed",
        "{address}: {step}中にサーバーが接続を切断しました",
    ),
    ("postgres.io", "{address}: {step}: 「{error}」"),
    (
        "postgres.query_no_rows",
        "クエリの結果が0行です（数値1つのはず）",
    ),
    (
        "postgres.query_columns",
        "クエリの結果が{columns}列です（数値1つのはず）",
    ),
    (
        "postgres.query_null",
        "クエリの結果が NULL です（数値のはず）",
    ),
    (
        "postgres.query_type",
        "クエリの結果の型が {type} です（数値のはず）",
    ),
    (
        "postgres.role.standby",
        "サーバーは {role}（リカバリ中）です（期待値 {want}）",
    ),
    (
        "postgres.role.primary",
        "サーバーは {role}（リカバリ中でない）です（期待値 {want}）",
    ),
    (
        "postgres.lag_unknown",
        "レプリケーション遅延不明: まだ再生されたトランザクションがありません",
    ),
    (
        "postgres.lag_hidden",
        "スタンバイ {hidden}台のレプリケーション遅延がこのユーザーには見えません（pg_monitor を付与）",
    ),
    // aws_* (shared)
    (
        "aws.detail.endpoint",
        "{service}（{region}）[ 接続先 {endpoint}]",
    ),
    (
        "aws.not_built",
        "この `opsrun` は `aws` 機能なしでビルドされています（`cargo build --features aws`）",
    ),
    (
        "aws.no_region",
        "AWS のリージョンが未設定です（`region:`、AWS_REGION またはプロファイルで設定）",
    ),
    (
        "aws.credentials",
        "使用できる AWS 認証情報がありません（「{error}」）",
    ),
    (
        "aws.auth",
        "{service} が認証情報を拒否しました（HTTP {status}[ {code}]、「{error}」）",
    ),
    (
        "aws.throttled",
        "{service} {operation}: すべての試行でスロットリングされました[（{code}）]",
    ),
    (
        "aws.unreachable",
        "{service} に接続できません（「{error}」）",
    ),
    (
        "aws.timeout",
        "{service} {operation}: タイムアウト（{after}）",
    ),
    (
        "aws.timeout.config",
        "AWS 設定（プロファイル、リージョン）の読み込み: タイムアウト（{after}）",
    ),
    (
        "aws.api",
        "{service} {operation} が失敗しました[（{code}）]: 「{error}」",
    ),
    // aws_cloudwatch
    ("value.aws_cloudwatch", "{value}[ {unit}]（{stat}）"),
    (
        "aws_cloudwatch.detail.datapoint",
        "{namespace} {metric} {stat} = {value}[ {unit}]（{time}、直近 {window} に {period} 単位のデータポイント {count} 件）",
    ),
    (
        "aws_cloudwatch.no_datapoints",
        "{namespace} {metric}[ {dimensions}] のデータポイントが直近 {window} にありません",
    ),
    // aws_ecs
    ("value.aws_ecs", "稼働 {running}/{desired}"),
    (
        "aws_ecs.detail.deployment",
        "デプロイ {id}（{status}）: 稼働 {running}/{desired}、保留 {pending}[、ロールアウト {rollout}][、タスク定義 {task}]",
    ),
    (
        "aws_ecs.not_found",
        "クラスター {cluster} にサービス {service} がありません[（「{error}」）]",
    ),
    (
        "aws_ecs.inactive",
        "サービス {service} の状態が {status} です",
    ),
    (
        "aws_ecs.below_desired",
        "タスク稼働 {running}/{desired}[（保留 {pending}）]",
    ),
    ("aws_ecs.rollout", "ロールアウト中[: 「{reason}」]"),
    ("aws_ecs.rollout_failed", "ロールアウト失敗[: 「{reason}」]"),
    // aws_rds
    ("value.aws_rds.free", "{status}、空き {free}"),
    (
        "aws_rds.detail.instance",
        "{instance}: {status}[、{engine}][ {class}][、割り当て {allocated}]",
    ),
    (
        "aws_rds.not_found",
        "DB インスタンス {instance} がありません",
    ),
    (
        "aws_rds.status",
        "{instance} の状態が {status} です（期待値 `available`）",
    ),
    (
        "aws_rds.no_free_storage",
        "{instance} の FreeStorageSpace（CloudWatch）が直近15分にありません",
    ),
    // aws_alb
    ("value.aws_alb", "正常 {healthy}/{total}"),
    (
        "aws_alb.detail.target",
        "ターゲット {target}: {state}[（{reason}）][: 「{description}」]",
    ),
    (
        "aws_alb.not_found",
        "ターゲットグループ {target_group} がありません",
    ),
    (
        "aws_alb.unhealthy",
        "ターゲット {total} 件中 {count} 件が正常ではありません: {targets}",
    ),
    // redis
    ("redis.url", "「{error}」"),
    ("redis.password", "{error}"),
    // Secrets (`*_env`/`*_file`), said inside the reason of the check
    // that needed them.
    ("secret.env_unset", "環境変数 {name} が設定されていません"),
    ("secret.env_empty", "環境変数 {name} が空です"),
    ("secret.file_empty", "シークレットファイル {path} が空です"),
    (
        "secret.file_missing",
        "シークレットファイル {path} が存在しません",
    ),
    (
        "secret.file_denied",
        "シークレットファイル {path} を読む権限がありません",
    ),
    (
        "secret.file_unreadable",
        "シークレットファイル {path} を読めません: {error}",
    ),
    (
        "secret.not_one",
        "`{field}_env` か `{field}_file` のどちらか一方を指定してください",
    ),
    ("redis.ca_file", "「{error}」"),
    (
        "redis.timeout.tls",
        "{address}: タイムアウト（{after}、TLS ネゴシエーション中。TLS の応答がありません: TLS でないポートでは？）",
    ),
    (
        "redis.tls",
        "{address}: TLS ハンドシェイク失敗（「{error}」）",
    ),
    (
        "redis.tls.plain",
        "{address}: サーバーが TLS で応答しません（TLS でないポートでは？）",
    ),
    (
        "redis.tls.name",
        "{address}: サーバー証明書が {name} に対して有効ではありません[（証明書の名前: {names}）]",
    ),
    (
        "redis.tls.untrusted",
        "{address}: サーバー証明書が ca_file {path} の CA で署名されていません",
    ),
    (
        "redis.tls.untrusted.system",
        "{address}: サーバー証明書がシステムの信頼する CA で署名されていません（プライベート CA なら ca_file を指定）",
    ),
    ("redis.refused", "{address}: 接続拒否"),
    (
        "redis.no_socket",
        "{address}: サーバーのソケットがありません（Redis は起動していますか）",
    ),
    (
        "redis.closed",
        "{address}: {step}中にサーバーが接続を切断しました",
    ),
    (
        "redis.closed.first",
        "{address}: {step}中にサーバーが接続を切断しました（TLS のポートなら「rediss://」を使用）",
    ),
    ("redis.io", "{address}: {step}: 「{error}」"),
    (
        "redis.timeout",
        "{address}: タイムアウト（{after}、{step}中）",
    ),
    (
        "redis.auth",
        "{address}: 認証失敗（「{error}」、パスワードの出所 {source}）",
    ),
    (
        "redis.noauth",
        "{address}: サーバーがパスワードを要求しましたが指定がありません（password_env か password_file で指定）",
    ),
    (
        "redis.loading",
        "{address}: サーバーがデータセットをメモリに読み込み中です",
    ),
    ("redis.error", "{address}: {step}: 「{error}」"),
    (
        "redis.unexpected",
        "{address}: {step}中に想定外の応答（「{reply}」）",
    ),
    (
        "redis.memory_limit",
        "used_memory: maxmemory もシステムのメモリ量も不明です",
    ),
    ("redis.no_used_memory", "INFO に used_memory がありません"),
    (
        "redis.replica_link",
        "レプリカからマスター {master} へのリンクが {link} です（up のはず）",
    ),
    ("redis.role", "ロール {role}（期待値 {want}）"),
    // incident actions
    ("action.exit", "終了コード {code}[: 「{line}」]"),
    ("action.killed", "シグナルで停止しました"),
    ("action.spawn", "{program} を実行できません（「{error}」）"),
    (
        "action.backup_step",
        "バックアップの手順は `opsrun backup run` で実行します",
    ),
    ("action.check", "{message}"),
    // backup workflow
    (
        "backup.source.missing",
        "バックアップ元 {path} が存在しません",
    ),
    (
        "backup.source.unreadable",
        "バックアップ元 {path} を読めません（「{error}」）",
    ),
    (
        "backup.source.not_database",
        "バックアップ元 {path} はデータベースファイルではありません",
    ),
    (
        "backup.source.backup_dir",
        "{path} はバックアップディレクトリそのものです",
    ),
    (
        "backup.source.not_file",
        "{path} は通常のファイルでもディレクトリでもありません",
    ),
    (
        "backup.name_taken",
        "新しい世代に {name} が既にあります: 二つの手順が同じ名前に書き込みます",
    ),
    ("backup.create", "{path} を作成できません（「{error}」）"),
    (
        "backup.sqlite.open",
        "{path} を読み取り専用で開けません（「{error}」）",
    ),
    ("backup.sqlite.read", "{path}: 「{error}」"),
    (
        "backup.sqlite.create",
        "{path} を作成できません（「{error}」）",
    ),
    (
        "backup.sqlite.start",
        "バックアップを開始できません（「{error}」）",
    ),
    (
        "backup.sqlite.copy",
        "{path} のバックアップに失敗（「{error}」）",
    ),
    ("backup.sqlite.finish", "{name}: 「{error}」"),
    ("backup.integrity", "{pragma}: {problems:semi}"),
    (
        "backup.integrity.copy",
        "複製 {name} が {pragma} に失敗: {problems:semi}",
    ),
    ("backup.copy", "{path} の複製に失敗（「{error}」）"),
    ("backup.archive", "{path} のアーカイブに失敗（「{error}」）"),
    ("backup.archive.read", "「{error}」"),
    ("backup.db_open", "「{error}」"),
    ("backup.io", "「{error}」"),
    ("backup.cancelled", "取り消されました"),
    ("backup.exists", "{path} が既にあります"),
    (
        "backup.rename",
        "{path} へ名前を変更できません（「{error}」）",
    ),
    (
        "backup.latest.not_symlink",
        "{path} はシンボリックリンクではないためそのままにしました",
    ),
    (
        "backup.latest.update",
        "{path} を更新できません（「{error}」）",
    ),
    (
        "backup.cleanup.failed",
        "{path} を削除できませんでした（「{error}」）",
    ),
    ("backup.cleanup.removed", "一時ディレクトリは削除しました"),
    (
        "backup.restore_test.copy",
        "{name} の復旧テスト: {path} の複製に失敗（「{error}」）",
    ),
    (
        "backup.restore_test.failed",
        "{name} の復旧テスト: 「{error}」",
    ),
    (
        "backup.restore_test.integrity",
        "{file}: {pragma}: {problems:semi}",
    ),
    ("backup.restore_test.file", "{file}: 「{error}」"),
    (
        "backup.restore_test.none",
        "{dir} に `{pattern}` に一致するバックアップがありません: 復旧するものがありません",
    ),
    (
        "backup.restore_test.no_dir",
        "バックアップディレクトリ {dir} がありません",
    ),
    (
        "backup.restore_test.unreadable",
        "{dir} を読めません（「{error}」）",
    ),
    (
        "backup.restore_test.temp_dir",
        "{path} に一時ディレクトリを作成できません（「{error}」）",
    ),
    (
        "backup.restore_test.timeout",
        "{name} の復旧テストがタイムアウト（{after}）",
    ),
    (
        "backup.restore_test.interrupted",
        "{name} の復旧テストが中断されました",
    ),
    (
        "backup.restore_test.no_database",
        "{name} に SQLite データベースがありません: 整合性を確認するものがありません",
    ),
    (
        "backup.bad_name",
        "名前 `{name}` が無効です（%Y%m%d_%H%M%S のような strftime 形式）",
    ),
    (
        "backup.create.dir",
        "バックアップディレクトリ {path} を作成できません（「{error}」）",
    ),
    (
        "backup.exists.generation",
        "世代 {name} が {dir} に既にあります: 置き換えません（同じ秒に二回実行？）",
    ),
    (
        "backup.not_run.no_generation",
        "未実行: 書き込む世代がありません",
    ),
    (
        "backup.not_run.action",
        "未実行: 手順 `{action}` が失敗しました",
    ),
    (
        "backup.not_published.action",
        "{name} は公開されません: 手順 `{action}` が失敗しました",
    ),
    (
        "backup.not_published.interrupted",
        "{name} は公開されません: 中断",
    ),
    (
        "backup.not_published.exists",
        "{name} は公開されません: {path} が既にあります",
    ),
    (
        "backup.not_published.rename",
        "{name} は公開されません: {path} へ名前を変更できません（「{error}」）",
    ),
    (
        "backup.no_new_generation",
        "この実行で新しい世代はできていません（世代の行を参照）",
    ),
    (
        "backup.systemctl",
        "`systemctl` の手順は `opsrun backup` では実行しません",
    ),
    ("backup.step_failed", "手順が失敗しました（「{error}」）"),
    (
        "postgres.message_too_large",
        "{address}: {step}中にサーバーが {size} のプロトコルメッセージを送ってきました（上限 {limit}）",
    ),
    // backup notes: the value column and detail lines of `opsrun backup`
    ("backup.note.file", "ファイル{n}個"),
    ("backup.note.files", "ファイル{n}個"),
    ("backup.note.dir", "ディレクトリ{n}個"),
    ("backup.note.dirs", "ディレクトリ{n}個"),
    ("backup.note.symlink", "シンボリックリンク{n}個"),
    ("backup.note.symlinks", "シンボリックリンク{n}個"),
    ("backup.note.tree", "{parts}、{size}"),
    (
        "backup.note.sqlite",
        "{from} → {name}: {pages}ページ、複製元のジャーナルモード {mode}[、同時書き込みで{restarts}回やり直し]",
    ),
    ("backup.note.size_checked", "{size}[、{pragma} 正常]"),
    (
        "backup.note.file_size_checked",
        "{name}: {size}[、{pragma} 正常]",
    ),
    ("backup.note.copied", "{from} → {name}: {what}"),
    ("backup.note.archive_value", "{what}（圧縮後 {size}）"),
    (
        "backup.note.archived",
        "{from} → {name}: {what}（圧縮後 {size}）",
    ),
    (
        "backup.note.changed",
        "{path} はアーカイブ中に変更されました",
    ),
    (
        "backup.note.skipped.backup_dir",
        "{path}（バックアップディレクトリのため除外）",
    ),
    ("backup.note.skipped.fifo", "{path}（FIFO のため除外）"),
    ("backup.note.skipped.socket", "{path}（ソケットのため除外）"),
    ("backup.note.skipped.device", "{path}（デバイスのため除外）"),
    (
        "backup.note.skipped.special",
        "{path}（特殊ファイルのため除外）",
    ),
    ("backup.note.waited", "待機しました"),
    ("backup.note.generation", "{name}（{size}）"),
    ("backup.note.published", "{path} として公開"),
    ("backup.note.latest", "{link} → {name}"),
    (
        "backup.note.stale_removed",
        "終了済みの実行が残した {name} を削除",
    ),
    (
        "backup.note.copied_out",
        "{name}（{files}、{size}）を {path} に複製",
    ),
    ("backup.note.integrity_ok", "{file}: {pragma} 正常"),
    ("backup.note.entries", "{file}: {n}件のエントリを読み取り"),
    ("backup.note.file_failed", "{file}: 「{error}」"),
    ("backup.note.sqlite_ok", "SQLite {ok}/{n} 正常"),
    ("backup.note.archives_ok", "アーカイブ {ok}/{n} 正常"),
    ("backup.note.restored", "{name}: {parts}"),
    ("backup.note.temp_removed", "一時コピー {path} を削除"),
    // PostgreSQL in `opsrun backup` (backup/pg.rs)
    (
        "backup.note.pg_dumped",
        "{name}: {size}、PostgreSQL {server}",
    ),
    ("backup.note.pg_tool", "{tool} {version}（{path}）"),
    (
        "backup.note.pg_restored",
        "{file}: {address} の {db} に復元し、テーブル{tables}個・{rows}行を読み取り[、`verify_query` {verify}]",
    ),
    ("backup.note.pg_dropped", "一時データベース {db} を削除"),
    (
        "backup.note.pg_leftover_dropped",
        "以前の復旧テストが残した {db} を削除",
    ),
    (
        "backup.note.pg_leftover_kept",
        "以前の復旧テストが残した {db} を削除できません（「{error}」）",
    ),
    ("backup.note.pg_ok", "PostgreSQL {ok}/{n} 正常"),
    (
        "backup.pg.no_tool",
        "{tool} が見つかりません（{where} を探しました）: PostgreSQL のクライアントをインストールしてください",
    ),
    (
        "backup.pg.tool_unusable",
        "{path} を実行できません（「{error}」）",
    ),
    (
        "backup.pg.too_old",
        "{tool} {have} は PostgreSQL {server} のサーバーをダンプできません（{tool} {server} 以上が必要）",
    ),
    (
        "backup.pg.restore_too_old",
        "{tool} {have} は {file} を読めません: より新しい `pg_dump` で作られています（「{error}」）",
    ),
    (
        "backup.pg.failed",
        "{tool} が失敗しました[（終了コード {code}）]: 「{error}」",
    ),
    (
        "backup.pg.restore_failed",
        "{file}: `pg_restore` が失敗しました: 「{error}」",
    ),
    (
        "backup.pg.not_a_dump",
        "{name} はカスタム形式のダンプではありません（PGDMP ヘッダーがありません）",
    ),
    (
        "backup.pg.passfile",
        "{tool} 用のパスワードファイルを {dir} に書けません（「{error}」）",
    ),
    (
        "backup.pg.create_db",
        "一時データベース {db} を作成できません（「{error}」）",
    ),
    (
        "backup.pg.table",
        "{file}: テーブル {table} を読めません（「{error}」）",
    ),
    (
        "backup.pg.verify_false",
        "{file}: `verify_query` の結果が {value} です（`true` または 0 より大きい数が必要）",
    ),
    (
        "backup.pg.verify_error",
        "{file}: `verify_query`: 「{error}」",
    ),
    (
        "backup.pg.not_dropped",
        "一時データベース {db} を削除できませんでした（「{error}」）: DROP DATABASE {db} で削除してください（このサーバーでの復旧テストが24時間後に削除します）",
    ),
    (
        "backup.pg.no_dump",
        "{name} に `*.dump` がありません: PostgreSQL に復元するものがありません",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::reason::{Code, common};

    /// Every catalog entry: the common ones, the kinds', the backup
    /// workflow's and the incident actions'.
    fn catalog() -> Vec<&'static Code> {
        common::CODES
            .iter()
            .copied()
            .chain(
                crate::check::SHARED_CODES
                    .iter()
                    .flat_map(|c| c.iter().copied()),
            )
            .chain(
                crate::check::KINDS
                    .iter()
                    .flat_map(|k| k.codes.iter().copied()),
            )
            .chain(crate::backup::codes())
            .chain(crate::incident::reasons::CODES.iter().copied())
            .collect()
    }

    /// The holes of a template: `{name}`, `{name:or}` → `name`.
    fn holes(t: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let hole = &rest[open + 1..open + close];
            let name = hole.split_once(':').map_or(hole, |(n, _)| n);
            out.push(&*Box::leak(name.to_owned().into_boxed_str()));
            rest = &rest[open + close + 1..];
        }
        out
    }

    /// Quoted data (「…」, `…`, "…", /regex/) and the names of products and
    /// programs, which Japanese text writes in Latin letters, taken out.
    fn unquoted(s: &str) -> String {
        let mut out = String::new();
        let mut close: Option<char> = None;
        for c in s.chars() {
            match close {
                Some(x) if c == x => close = None,
                Some(_) => {}
                None => match c {
                    '「' => close = Some('」'),
                    '`' | '"' | '/' => close = Some(c),
                    _ => out.push(c),
                },
            }
        }
        for name in [
            "PostgreSQL",
            "SQLite",
            "Redis",
            "systemd",
            "Docker",
            "Podman",
            "journald",
            "gzip",
            "sslmode",
            "sslrootcert",
            "ca_file",
            "max_body",
            "statement_timeout",
            "password_env",
            "password_file",
            "pg_monitor",
            "used_memory",
            "maxmemory",
            "strftime",
            // field and program names shown in `-v` detail lines
            "notAfter",
            "load1",
            "LoadError",
            "NRestarts",
            "Result",
            "pid",
            "journal_mode",
            "webpki-roots",
            "max_connections",
            "pg_read_all_stats",
            "connected_clients",
            "journalctl",
            "CloudWatch",
            "FreeStorageSpace",
        ] {
            out = out.replace(name, "");
        }
        out
    }

    fn english_words(s: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        for c in s.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_lowercase() {
                cur.push(c);
            } else {
                if cur.len() >= 3 {
                    words.push(cur.clone());
                }
                cur.clear();
            }
        }
        words
    }

    /// SPEC §10.1: the Japanese documents carry no English fragment. Every
    /// reason, detail and value entry has a Japanese template, and rendered through it (each
    /// parameter a neutral `X`, `level` a real level) no lowercase ASCII
    /// word of three letters or more is left outside quoted data.
    #[test]
    fn every_reason_reads_in_japanese_without_english() {
        let mut missing = Vec::new();
        let mut leaks = Vec::new();
        for c in catalog() {
            if c.key == "t" {
                continue;
            }
            let Some(t) = template(c.key) else {
                missing.push(c.key);
                continue;
            };
            let mut r = Reason::new(c);
            for name in holes(c.en).into_iter().chain(holes(t)) {
                if r.param(name).is_none() {
                    r = if name == "level" || name == "status" {
                        r.with(name, "warn")
                    } else {
                        r.with(name, "X")
                    };
                }
            }
            let said = say(&r);
            let words = english_words(&unquoted(&said));
            if !words.is_empty() {
                leaks.push(format!("{}: {said} ({words:?})", c.key));
            }
        }
        assert!(missing.is_empty(), "no Japanese template for {missing:?}");
        assert!(leaks.is_empty(), "English left in:\n{}", leaks.join("\n"));
    }

    #[test]
    fn parameters_read_in_japanese() {
        static C: Code = Code::new("t.x", "{a} {b:or} {c:q}");
        let r = Reason::new(&common::TIMEOUT).with_quantity("after", 5000.0, Unit::Millis);
        assert_eq!(say(&r), "タイムアウト（5秒）");
        let r = Reason::new(&common::THRESHOLD)
            .with_quantity("value", 91.24, Unit::Percent)
            .with("op", "≥")
            .with("level", "fail")
            .with_quantity("limit", 90.0, Unit::Percent);
        assert_eq!(say(&r), "91.2% ≥ 異常閾値 90%");
        let r = Reason::new(&C)
            .with("a", 1u16)
            .with("b", vec![200u16, 204])
            .with("c", "x y");
        assert_eq!(
            super::super::fill_with("{a}、{b:or}、{c:q}", &r, &param),
            "1、200 または 204、「x y」"
        );
        // `systemd.no_systemd`, the example, quotes systemctl's words.
        let r = Reason::new(
            crate::check::KINDS
                .iter()
                .flat_map(|k| k.codes.iter())
                .find(|c| c.key == "systemd.no_systemd")
                .unwrap(),
        )
        .with("error", "System has not been booted with systemd");
        assert_eq!(
            say(&r),
            "このホストでは systemd が動作していません（「System has not been booted with systemd」）"
        );
    }
}

//! One language per document (SPEC §10.1): `--lang ja|en` (default from
//! the locale) words the table, markdown, nagios and JSON `message`; the
//! reason codes in JSON never change; the Japanese documents are Japanese
//! whatever the language, with no English fragment outside quoted data.

use crate::common::{Env, NOW, hostname, redact};

const RB: &str = r#"version: 1
title: 言語
checks:
  - {id: exit, label: 終了確認, command: {run: ["false"]}}
  - {id: usage, label: 使用率, command: {shell: "echo 91", value: {unit: "%", warn: ">= 80", fail: ">= 90"}}}
  - {id: ok, label: 正常確認, command: {run: ["true"]}}
"#;

fn env() -> Env {
    let env = Env::new();
    env.runbook("lang.yaml", RB);
    env
}

fn run(env: &Env, args: &[&str]) -> String {
    let r = env.run(&[&["run", "lang", "--now", NOW, "--no-history"], args].concat());
    assert_eq!(r.code, 2, "{r:?}");
    redact(&r.stdout, &hostname())
}

#[test]
fn table_and_json_messages_follow_lang() {
    let env = env();
    insta::assert_snapshot!("lang_table_en", run(&env, &["--lang", "en"]));
    insta::assert_snapshot!("lang_table_ja", run(&env, &["--lang", "ja"]));
    let json = |lang: &str| -> serde_json::Value {
        serde_json::from_str(&run(&env, &["--lang", lang, "-f", "json"])).unwrap()
    };
    let (en, ja) = (json("en"), json("ja"));
    let messages = |v: &serde_json::Value| -> Vec<(String, String, String)> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["message"].as_str().unwrap_or_default().to_owned(),
                    c["reason"]["code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    insta::assert_debug_snapshot!("lang_json_messages_en", messages(&en));
    insta::assert_debug_snapshot!("lang_json_messages_ja", messages(&ja));
    // The codes are the contract: the same in both languages.
    let codes =
        |v: &Vec<(String, String, String)>| v.iter().map(|m| m.2.clone()).collect::<Vec<_>>();
    assert_eq!(codes(&messages(&en)), codes(&messages(&ja)));
}

#[test]
fn the_locale_chooses_the_default_language() {
    let env = env();
    let out = env
        .cmd()
        .env("LANG", "ja_JP.UTF-8")
        .args(["run", "lang", "--now", NOW, "--no-history", "-f", "nagios"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("終了コード 1（期待値 0）"), "{text}");
    let out = env
        .cmd()
        .env("LC_ALL", "C")
        .env("LANG", "ja_JP.UTF-8")
        .args([
            "run",
            "lang",
            "--now",
            NOW,
            "--no-history",
            "-f",
            "markdown",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("exit 1, expected exit 0"), "{text}");
}

/// Lowercase ASCII words of three letters or more outside 「quoted data」.
fn english(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut cur, mut quoted) = (String::new(), false);
    for c in s.chars().chain(std::iter::once(' ')) {
        match c {
            '「' => quoted = true,
            '」' => quoted = false,
            _ => {}
        }
        if c.is_ascii_lowercase() && !quoted {
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

/// The report and checklist say why in Japanese even when the table is
/// English (`--lang en`): no English reason in 特記事項.
#[test]
fn japanese_documents_have_no_english_reason() {
    let env = env();
    for format in ["report", "checklist"] {
        let text = run(&env, &["--lang", "en", "-f", format]);
        let notes = text.split("特記事項").nth(1).unwrap_or_default();
        let notes = notes.split("■ 対応事項").next().unwrap_or_default();
        assert!(notes.contains("終了コード 1（期待値 0）"), "{text}");
        assert!(
            english(notes).is_empty(),
            "{format}: {:?}\n{text}",
            english(notes)
        );
    }
}

/// A secret that cannot be read is said in the run's language: the reason
/// nests a `secret.*` reason instead of quoting the English error (a
/// `--lang ja` report once read 「environment variable X is not set」).
#[test]
fn unreadable_secrets_are_said_in_japanese() {
    let env = Env::new();
    env.write("empty.pw", "\n");
    env.runbook(
        "secrets.yaml",
        r#"version: 1
checks:
  - {id: unset, http: {url: "http://127.0.0.1:9/", basic_auth: {username: u, password_env: OPSRUN_NEVER_SET_PW}}}
  - {id: missing, http: {url: "http://127.0.0.1:9/", bearer: {token_file: ../nothing.pw}}}
  - {id: empty, postgres: {url: "postgres://app@127.0.0.1:9/app", password_file: ../empty.pw}}
"#,
    );
    let r = env.run(&[
        "run",
        "secrets",
        "--no-history",
        "--lang",
        "ja",
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let said = |id: &str| -> (String, String) {
        let c = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        assert_eq!(c["status"], "unknown", "{c}");
        (
            c["message"].as_str().unwrap().to_owned(),
            c["reason"]["params"]["error"]["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    // Paths as the run shows them: relative to the working directory.
    assert_eq!(
        said("unset"),
        (
            "basic_auth: 環境変数 OPSRUN_NEVER_SET_PW が設定されていません".into(),
            "secret.env_unset".into()
        )
    );
    assert_eq!(
        said("missing"),
        (
            "bearer: シークレットファイル nothing.pw が存在しません".into(),
            "secret.file_missing".into()
        )
    );
    assert_eq!(
        said("empty"),
        (
            "シークレットファイル empty.pw が空です".into(),
            "secret.file_empty".into()
        )
    );
}

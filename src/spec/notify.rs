//! The `notify:` block (in a runbook, or in the shared `config.yaml`) as
//! serde types, and the loading of `config.yaml`. See docs/notify.md.
//!
//! Secrets never live in YAML: a password or webhook URL is named by
//! `*_env`/`*_file` and read when a run with `--notify` starts. A literal
//! `password:` or `webhook:` key is refused, and its value is registered as
//! a secret first so the error's source line does not print it.

use std::fmt;
use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::spec::LoadError;
use crate::values::{Dur, at};

/// When a channel sends: the run's status, or its recovery.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// Every check passed (a daily "all is well" message).
    Pass,
    Warn,
    Fail,
    Unknown,
    /// This run passed and the previous run of the same runbook did not.
    Recovered,
    /// Every completed run, whatever its status (a daily report every day).
    Always,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Pass => "pass",
            Trigger::Warn => "warn",
            Trigger::Fail => "fail",
            Trigger::Unknown => "unknown",
            Trigger::Recovered => "recovered",
            Trigger::Always => "always",
        }
    }
}

/// `on:` when neither the channel nor the block sets one: everything that
/// needs a look, and the all-clear after it (Nagios' default w,u,c,r).
pub const DEFAULT_ON: &[Trigger] = &[
    Trigger::Warn,
    Trigger::Fail,
    Trigger::Unknown,
    Trigger::Recovered,
];

/// `notify: {on, email, slack, routes}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    pub on: Option<Vec<Trigger>>,
    /// How long all notifications of a run may take together [30s].
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub timeout: Option<Dur>,
    pub email: Option<EmailSpec>,
    pub slack: Option<SlackSpec>,
    /// `routes: [{on: [...], email|slack: {...}}, …]` (SPEC §10.6): more
    /// channels, each with its own `on:`. `email:`/`slack:` above are a
    /// route each, as they always were.
    pub routes: Option<Vec<Route>>,
}

/// One route: a channel and the statuses it is sent on.
#[derive(Clone, Debug)]
pub struct Route {
    /// [the channel's own `on:`, else the block's, else [`DEFAULT_ON`]].
    pub on: Option<Vec<Trigger>>,
    pub channel: RouteChannel,
}

/// The one channel of a route.
#[derive(Clone, Debug)]
pub enum RouteChannel {
    Email(EmailSpec),
    Slack(SlackSpec),
}

impl RouteChannel {
    /// `email` or `slack`.
    pub fn kind(&self) -> &'static str {
        match self {
            RouteChannel::Email(_) => "email",
            RouteChannel::Slack(_) => "slack",
        }
    }

    /// The channel's own `on:` (inside `email:`/`slack:`).
    pub fn on(&self) -> Option<&Vec<Trigger>> {
        match self {
            RouteChannel::Email(e) => e.on.as_ref(),
            RouteChannel::Slack(s) => s.on.as_ref(),
        }
    }
}

impl NotifySpec {
    /// This block with the shared one underneath: each of `on`, `email`
    /// and `slack` is taken from `self` when set, else from `shared`.
    pub fn over(&self, shared: Option<&NotifySpec>) -> NotifySpec {
        let Some(s) = shared else {
            return self.clone();
        };
        NotifySpec {
            on: self.on.clone().or_else(|| s.on.clone()),
            timeout: self.timeout.or(s.timeout),
            email: self.email.clone().or_else(|| s.email.clone()),
            slack: self.slack.clone().or_else(|| s.slack.clone()),
            routes: self.routes.clone().or_else(|| s.routes.clone()),
        }
    }

    /// Every channel of the block in order — `email:`, `slack:`, then each
    /// of `routes:` — with its name for messages (`email`,
    /// `routes[1].slack`) and the `on:` it is sent on.
    pub fn channels(&self) -> Vec<(String, Vec<Trigger>, RouteChannel)> {
        let block = self.on.clone().unwrap_or_else(|| DEFAULT_ON.to_vec());
        let mut out = Vec::new();
        if let Some(e) = &self.email {
            let on = e.on.clone().unwrap_or_else(|| block.clone());
            out.push(("email".to_owned(), on, RouteChannel::Email(e.clone())));
        }
        if let Some(sl) = &self.slack {
            let on = sl.on.clone().unwrap_or_else(|| block.clone());
            out.push(("slack".to_owned(), on, RouteChannel::Slack(sl.clone())));
        }
        for (i, r) in self.routes.iter().flatten().enumerate() {
            let on =
                r.on.clone()
                    .or_else(|| r.channel.on().cloned())
                    .unwrap_or_else(|| block.clone());
            out.push((
                format!("routes[{i}].{}", r.channel.kind()),
                on,
                r.channel.clone(),
            ));
        }
        out
    }

    /// Makes relative file names (secrets, CA file, sendmail) relative to
    /// `base`, the directory of the file the block was written in.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let email = |e: &mut EmailSpec| match &mut e.transport {
            Transport::Smtp(s) => {
                if let Some(Secret::File(p)) = &mut s.password {
                    fix(p);
                }
                if let Some(p) = &mut s.ca_file {
                    fix(p);
                }
            }
            Transport::Sendmail(p) => {
                // A bare name (`sendmail`) is looked up on PATH.
                if p.components().count() > 1 {
                    fix(p);
                }
            }
        };
        let slack = |s: &mut SlackSpec| {
            if let Secret::File(p) = &mut s.webhook {
                fix(p);
            }
        };
        if let Some(e) = &mut self.email {
            email(e);
        }
        if let Some(s) = &mut self.slack {
            slack(s);
        }
        for r in self.routes.iter_mut().flatten() {
            match &mut r.channel {
                RouteChannel::Email(e) => email(e),
                RouteChannel::Slack(s) => slack(s),
            }
        }
    }
}

/// Where a secret is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// Reads it (and registers it for redaction).
    pub fn read(&self) -> Result<String, crate::secret::SecretError> {
        match self {
            Secret::Env(n) => crate::secret::from_env(n),
            Secret::File(p) => crate::secret::from_file(p),
        }
    }
}

/// `email: {to, from, smtp: {...}}` or `email: {to, from, sendmail: PATH}`.
#[derive(Clone, Debug)]
pub struct EmailSpec {
    pub to: Vec<Mailbox>,
    /// [`opsrun@<host>`].
    pub from: Option<Mailbox>,
    /// `html: true`: the mail is `multipart/alternative`, the text report
    /// and the same report as the page of `-f html` [false].
    pub html: bool,
    pub transport: Transport,
    pub on: Option<Vec<Trigger>>,
}

#[derive(Clone, Debug)]
pub enum Transport {
    Smtp(SmtpSpec),
    /// The sendmail-compatible program (`/usr/sbin/sendmail`).
    Sendmail(PathBuf),
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS (a local relay on port 25).
    None,
}

#[derive(Clone, Debug)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Extra CA certificate (PEM) for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// `slack: {webhook_env | webhook_file}`.
#[derive(Clone, Debug)]
pub struct SlackSpec {
    pub webhook: Secret,
    pub on: Option<Vec<Trigger>>,
}

// ---- deserialization ------------------------------------------------------

fn err_at<E: de::Error>(span: &serde_saphyr::Location, msg: &str) -> E {
    E::custom(at(span.line(), span.column(), msg))
}

/// A key whose value is a secret written in YAML: the value is registered
/// (so the error's source line masks it) and the key is refused.
#[derive(Debug)]
struct Refused;

impl<'de> Deserialize<'de> for Refused {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Refused, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Refused;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("nothing: secrets are not written in YAML")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Refused, E> {
                crate::secret::register(v);
                Ok(Refused)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Refused, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Refused, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Refused, E> {
                Ok(Refused)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Refused, E> {
                Ok(Refused)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Refused, E> {
                Ok(Refused)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Refused, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Refused)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Refused, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Refused)
            }
        }
        d.deserialize_any(V)
    }
}

/// `to: a@example.com` or `to: [a@example.com, 運用 <b@example.com>]`.
#[derive(Debug)]
struct Addresses(Vec<String>);

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Addresses, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Addresses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address like ops@example.com, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Addresses, E> {
                Ok(Addresses(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Addresses, A::Error> {
                let mut v = Vec::new();
                while let Some(a) = s.next_element::<String>()? {
                    v.push(a);
                }
                Ok(Addresses(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim().parse::<Mailbox>().map_err(|e| {
        format!("invalid address `{s}` ({e}): expected ops@example.com or `名前 <ops@example.com>`")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    to: Option<Spanned<Addresses>>,
    from: Option<Spanned<String>>,
    smtp: Option<Spanned<SmtpSpec>>,
    sendmail: Option<Spanned<String>>,
    html: Option<bool>,
    on: Option<Vec<Trigger>>,
}

impl<'de> Deserialize<'de> for EmailSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EmailSpec, D::Error> {
        let raw = Spanned::<RawEmail>::deserialize(d)?;
        let here = raw.referenced;
        let r = raw.value;
        let Some(to) = r.to else {
            return Err(err_at(
                &here,
                "email: missing `to:` (who receives the mail, e.g. `to: [ops@example.com]`)",
            ));
        };
        if to.value.0.is_empty() {
            return Err(err_at(&to.referenced, "email.to: empty list"));
        }
        let to_boxes = to
            .value
            .0
            .iter()
            .map(|a| mailbox(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| err_at(&to.referenced, &format!("email.to: {m}")))?;
        let from = match r.from {
            Some(f) => Some(
                mailbox(&f.value)
                    .map_err(|m| err_at(&f.referenced, &format!("email.from: {m}")))?,
            ),
            None => None,
        };
        let transport = match (r.smtp, r.sendmail) {
            (Some(s), None) => Transport::Smtp(s.value),
            (None, Some(p)) if !p.value.trim().is_empty() => {
                Transport::Sendmail(PathBuf::from(p.value.trim()))
            }
            (None, Some(p)) => {
                return Err(err_at(
                    &p.referenced,
                    "email.sendmail: expected the program's path, like /usr/sbin/sendmail",
                ));
            }
            (Some(s), Some(_)) => {
                return Err(err_at(
                    &s.referenced,
                    "email: set either `smtp:` or `sendmail:`, not both",
                ));
            }
            (None, None) => {
                return Err(err_at(
                    &here,
                    "email: how is mail sent? add `smtp: {host: …}` or `sendmail: /usr/sbin/sendmail`",
                ));
            }
        };
        Ok(EmailSpec {
            to: to_boxes,
            from,
            html: r.html.unwrap_or(false),
            transport,
            on: r.on,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    tls: TlsMode,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<String>,
    password: Option<Spanned<Refused>>,
    ca_file: Option<String>,
}

impl<'de> Deserialize<'de> for SmtpSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SmtpSpec, D::Error> {
        let raw = Spanned::<RawSmtp>::deserialize(d)?;
        let here = raw.referenced;
        let r = raw.value;
        if let Some(p) = r.password {
            return Err(err_at(
                &p.referenced,
                "email.smtp.password: the password is a secret and never goes in YAML; use `password_env: VAR` or `password_file: PATH`",
            ));
        }
        let host = match r.host.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => h.to_owned(),
            _ => {
                return Err(err_at(
                    &here,
                    "email.smtp: missing `host:` (the mail server, e.g. smtp.example.com)",
                ));
            }
        };
        let password = match (r.password_env, r.password_file) {
            (Some(_), Some(_)) => {
                return Err(err_at(
                    &here,
                    "email.smtp: set only one of `password_env` or `password_file`",
                ));
            }
            (Some(e), None) => Some(Secret::Env(env_name(&e, "email.smtp.password_env")?)),
            (None, Some(f)) => Some(Secret::File(PathBuf::from(f))),
            (None, None) => None,
        };
        if password.is_some() && r.username.is_none() {
            return Err(err_at(
                &here,
                "email.smtp: a password needs a `username:` to log in with",
            ));
        }
        // Credentials in clear text over the network are refused; a relay
        // on this host (tls: none on localhost) is the one exception.
        if r.tls == TlsMode::None && r.username.is_some() && !is_loopback(&host) {
            return Err(err_at(
                &here,
                &format!(
                    "email.smtp: `tls: none` would send the password to {host} unencrypted; use `tls: starttls` or `implicit` (only a relay on localhost may log in without TLS)"
                ),
            ));
        }
        let port = r.port.unwrap_or(match r.tls {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        });
        Ok(SmtpSpec {
            host,
            port,
            tls: r.tls,
            username: r.username,
            password,
            ca_file: r.ca_file.map(PathBuf::from),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The NAME of an environment variable; a URL or password written there by
/// mistake is registered as a secret and refused without being echoed.
fn env_name<E: de::Error>(s: &Spanned<String>, field: &str) -> Result<String, E> {
    let v = s.value.trim();
    let ok = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(v.to_owned())
    } else {
        crate::secret::register(&s.value);
        Err(err_at(
            &s.referenced,
            &format!(
                "{field}: expected the NAME of an environment variable (like OPSRUN_SECRET), not the secret itself"
            ),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    webhook_env: Option<Spanned<String>>,
    webhook_file: Option<String>,
    webhook: Option<Spanned<Refused>>,
    on: Option<Vec<Trigger>>,
}

impl<'de> Deserialize<'de> for SlackSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SlackSpec, D::Error> {
        let raw = Spanned::<RawSlack>::deserialize(d)?;
        let here = raw.referenced;
        let r = raw.value;
        if let Some(w) = r.webhook {
            return Err(err_at(
                &w.referenced,
                "slack.webhook: the webhook URL is a secret and never goes in YAML; use `webhook_env: VAR` or `webhook_file: PATH`",
            ));
        }
        let webhook = match (r.webhook_env, r.webhook_file) {
            (Some(e), None) => Secret::Env(env_name(&e, "slack.webhook_env")?),
            (None, Some(f)) => Secret::File(PathBuf::from(f)),
            (Some(_), Some(_)) => {
                return Err(err_at(
                    &here,
                    "slack: set only one of `webhook_env` or `webhook_file`",
                ));
            }
            (None, None) => {
                return Err(err_at(
                    &here,
                    "slack: missing `webhook_env: VAR` or `webhook_file: PATH` (the incoming-webhook URL)",
                ));
            }
        };
        Ok(SlackSpec { webhook, on: r.on })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    on: Option<Vec<Trigger>>,
    email: Option<Spanned<EmailSpec>>,
    slack: Option<Spanned<SlackSpec>>,
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Route, D::Error> {
        let raw = Spanned::<RawRoute>::deserialize(d)?;
        let here = raw.referenced;
        let r = raw.value;
        let channel = match (r.email, r.slack) {
            (Some(e), None) => RouteChannel::Email(e.value),
            (None, Some(s)) => RouteChannel::Slack(s.value),
            (Some(_), Some(s)) => {
                return Err(err_at(
                    &s.referenced,
                    "routes: a route has one channel, `email:` or `slack:`: write two routes",
                ));
            }
            (None, None) => {
                return Err(err_at(
                    &here,
                    "routes: a route needs a channel: `email: {…}` or `slack: {…}`",
                ));
            }
        };
        Ok(Route { on: r.on, channel })
    }
}

// ---- config.yaml -------------------------------------------------------

/// The shared configuration file: `notify:` for every runbook, and the
/// time zone of every human-read time (a runbook's `report.timezone` wins).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub version: Option<Spanned<u64>>,
    pub notify: Option<NotifySpec>,
    pub timezone: Option<crate::spec::report::Tz>,
    /// Maintenance windows for every runbook of the directory (SPEC §10.4).
    #[serde(default)]
    pub maintenance: Vec<crate::spec::maintenance::WindowSpec>,
}

/// Names that are configuration, not runbooks, in a runbook directory.
pub const CONFIG_NAMES: &[&str] = &["config.yaml", "config.yml"];

/// Whether `path` is a shared configuration file rather than a runbook.
pub fn is_config_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| CONFIG_NAMES.contains(&n))
}

/// The system-wide configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/opsrun/config.yaml";

/// Which configuration file applies: `OPSRUN_CONFIG` if set, else
/// `config.yaml` in the runbook directory, else `/etc/opsrun/config.yaml`;
/// `None` when there is none (only `OPSRUN_CONFIG` must exist).
pub fn find(runbook_dir: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPSRUN_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    CONFIG_NAMES
        .iter()
        .map(|n| runbook_dir.join(n))
        .chain(std::iter::once(PathBuf::from(SYSTEM_CONFIG)))
        .find(|p| p.is_file())
}

/// Loads and checks a configuration file; errors name file, line and column.
pub fn load(path: &Path) -> Result<ConfigFile, LoadError> {
    // The size cap of a runbook: a config file is YAML written by hand.
    let text = crate::read_limit::read_to_string(path, 8 * 1024 * 1024).map_err(|e| {
        LoadError::file(
            path,
            format!(
                "cannot read configuration: {}",
                crate::values::io_reason(&e)
            ),
        )
    })?;
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(ConfigFile::default());
    }
    let mut cfg: ConfigFile =
        serde_saphyr::from_str(&text).map_err(|e| LoadError::from_yaml(path, &text, &e))?;
    if let Some(v) = &cfg.version
        && v.value != 1
    {
        return Err(LoadError::new(
            path,
            v.referenced.line() as usize,
            v.referenced.column() as usize,
            format!(
                "unsupported version {}: this opsrun reads `version: 1`",
                v.value
            ),
            &text,
        ));
    }
    let base = crate::values::io::dir_of(path);
    if let Some(n) = &mut cfg.notify {
        n.resolve_paths(base);
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<NotifySpec, String> {
        let path = Path::new("config.yaml");
        let full = format!("notify:\n{yaml}");
        serde_saphyr::from_str::<ConfigFile>(&full)
            .map(|c| c.notify.unwrap_or_default())
            .map_err(|e| LoadError::from_yaml(path, &full, &e).to_string())
    }

    #[test]
    fn smtp_defaults_and_ports() {
        let n = parse(
            "  email:\n    to: ops@example.com\n    smtp: {host: smtp.example.com, username: u, password_env: PW}\n",
        )
        .unwrap();
        let e = n.email.unwrap();
        assert_eq!(e.to.len(), 1);
        let Transport::Smtp(s) = e.transport else {
            panic!()
        };
        assert_eq!((s.port, s.tls), (587, TlsMode::Starttls));
        assert_eq!(s.password, Some(Secret::Env("PW".into())));
        let n = parse("  email:\n    to: [a@example.com]\n    smtp: {host: h, tls: implicit}\n")
            .unwrap();
        let Transport::Smtp(s) = n.email.unwrap().transport else {
            panic!()
        };
        assert_eq!(s.port, 465);
    }

    #[test]
    fn bad_blocks_say_why_and_where() {
        let e = parse("  email:\n    to: [ops@example.com]\n").unwrap_err();
        assert!(
            e.contains("config.yaml:3:5: email: how is mail sent?"),
            "{e}"
        );
        let e = parse("  email:\n    to: [not an address]\n    sendmail: x\n").unwrap_err();
        assert!(
            e.contains(":3:9: email.to: invalid address `not an address`"),
            "{e}"
        );
        let e = parse("  slack: {}\n").unwrap_err();
        assert!(e.contains("missing `webhook_env: VAR`"), "{e}");
        let e = parse("  on: [warn, failed]\n  slack: {webhook_env: W}\n").unwrap_err();
        assert!(e.contains("failed"), "{e}");
        let e = parse(
            "  email:\n    to: a@example.com\n    smtp: {host: mail.example.com, tls: none, username: u, password_env: P}\n",
        )
        .unwrap_err();
        assert!(e.contains("unencrypted"), "{e}");
        // A relay on this host may log in without TLS.
        parse(
            "  email:\n    to: a@example.com\n    smtp: {host: 127.0.0.1, tls: none, username: u, password_env: P}\n",
        )
        .unwrap();
    }

    #[test]
    fn secrets_written_in_yaml_are_refused_and_masked() {
        let e = parse("  slack:\n    webhook: https://hooks.slack.com/services/T0/B0/zzsecretzz\n")
            .unwrap_err();
        assert!(e.contains("never goes in YAML"), "{e}");
        assert!(!e.contains("zzsecretzz"), "{e}");
        let e =
            parse("  slack:\n    webhook_env: https://hooks.slack.com/services/T0/B0/yysecretyy\n")
                .unwrap_err();
        assert!(e.contains("NAME of an environment variable"), "{e}");
        assert!(!e.contains("yysecretyy"), "{e}");
        let e = parse("  email:\n    to: a@example.com\n    smtp: {host: h, username: u, password: xxhunter2xx}\n")
            .unwrap_err();
        assert!(e.contains("never goes in YAML"), "{e}");
        assert!(!e.contains("xxhunter2xx"), "{e}");
    }

    #[test]
    fn runbook_block_wins_key_by_key() {
        let shared = parse("  on: [fail]\n  slack: {webhook_env: W}\n").unwrap();
        let own = parse("  email: {to: a@example.com, sendmail: /usr/sbin/sendmail}\n").unwrap();
        let m = own.over(Some(&shared));
        assert_eq!(m.on, Some(vec![Trigger::Fail]));
        assert!(m.email.is_some() && m.slack.is_some());
        let off = parse("  on: []\n").unwrap().over(Some(&shared));
        assert_eq!(off.on, Some(vec![]));
    }
}

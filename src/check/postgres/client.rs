//! The `postgres` kind's connection, lent to the backup workflow
//! (`pg_dump:` and `restore_test: {postgres: …}`, `backup/pg.rs`): the
//! same resolution of `url`/`host…`/`PG*`/password as the check (`conn.rs`),
//! the same socket and TLS code, and the same wording of what went wrong,
//! so a restore test's "connection refused" reads like the check's.
//!
//! It also says how a child program (`pg_dump`, `pg_restore`) reaches the
//! same server: `PG*` environment variables and, for the password, a
//! password file only this user can read — never an argument, which any
//! user can read in `ps`.

use std::ffi::OsString;
use std::path::Path;

use tokio_postgres::{Client, SimpleQueryMessage};

use super::conn::{self, Resolved};
use super::{AbortOnDrop, Postgres, SslMode, describe_error};
use crate::check::Ctx;
use crate::values::reason::Reason;

/// Where and as whom to connect, as written under `pg_dump:` or
/// `restore_test: {postgres: …}` (the `postgres` check's connection fields).
#[derive(Clone, Debug, Default)]
pub struct PgConn {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// disable, prefer, require, verify-ca or verify-full.
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

impl PgConn {
    fn as_check(&self) -> Result<Postgres, String> {
        let sslmode = self.sslmode.as_deref().map(SslMode::parse).transpose()?;
        Ok(Postgres {
            url: self.url.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            dbname: self.dbname.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            sslmode,
            sslrootcert: self.sslrootcert.clone(),
            connect: None,
            connections: None,
            connections_pct: None,
            long_queries: None,
            deadlocks: None,
            replication: None,
            database_size: None,
            query: None,
            value: None,
        })
    }

    /// The rules the check applies at load (one of `url` or `host…`, one
    /// password source, a known sslmode).
    pub fn validate(&self) -> Result<(), String> {
        crate::check::Kind::validate(&self.as_check()?)
    }

    /// Resolves the connection (environment, password file, TLS roots);
    /// `Err` is why it cannot be tried.
    pub(crate) fn resolve(&self, ctx: &Ctx) -> Result<Target, Reason> {
        let pg = self
            .as_check()
            .map_err(|e| Reason::new(&super::SSLMODE).with("value", e))?;
        let r = conn::resolve(&pg, ctx, &conn::real_env)?;
        Ok(Target { r })
    }
}

/// A resolved server: connect to it, or hand it to a child program.
pub(crate) struct Target {
    r: Resolved,
}

/// An open session, and what the server said about itself.
pub(crate) struct Session {
    client: Client,
    driver: AbortOnDrop,
    /// `15.18`.
    pub version: String,
    /// `server_version_num`: 150018.
    pub version_num: u32,
}

impl Target {
    /// `127.0.0.1:5432` or `/var/run/postgresql/.s.PGSQL.5432`.
    pub(crate) fn address(&self) -> &str {
        &self.r.address
    }

    /// The database named by the connection settings.
    pub(crate) fn dbname(&self) -> &str {
        &self.r.dbname
    }

    /// Connects to `dbname` (else the configured database) and reads the
    /// server's version.
    pub(crate) async fn connect(&self, dbname: Option<&str>) -> Result<Session, Reason> {
        let r;
        let target = match dbname {
            Some(d) => {
                r = self.with_dbname(d);
                &r
            }
            None => &self.r,
        };
        let (client, driver) = match conn::connect(target).await {
            Ok(c) => c,
            Err(e) => return Err(describe_error(e.cause(), target, "connecting").1),
        };
        let mut s = Session {
            client,
            driver,
            version: String::new(),
            version_num: 0,
        };
        let rows = s
            .simple(
                self,
                "SHOW server_version_num",
                "reading the server version",
            )
            .await?;
        s.version_num = rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_deref())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        s.version = version_text(s.version_num);
        Ok(s)
    }

    fn with_dbname(&self, d: &str) -> Resolved {
        let mut config = self.r.config.clone();
        config.dbname(d);
        Resolved {
            config,
            address: self.r.address.clone(),
            user: self.r.user.clone(),
            dbname: d.to_owned(),
            password_from: self.r.password_from.clone(),
            note: self.r.note.clone(),
            sslmode: self.r.sslmode,
            tls: self.r.tls.clone(),
            rootcert: self.r.rootcert.clone(),
            oversize: Default::default(),
        }
    }

    /// The password the connection uses, if any (for a child's password file).
    pub(crate) fn password(&self) -> Option<&[u8]> {
        self.r.config.get_password()
    }

    /// The environment that points libpq (in `pg_dump`, `pg_restore`) at
    /// this server as this user, database `dbname`. `passfile` is the
    /// password file to use; `PGPASSWORD` is removed either way so what
    /// the child uses is what opsrun resolved.
    pub(crate) fn child_env(
        &self,
        dbname: &str,
        passfile: Option<&Path>,
    ) -> Vec<(&'static str, Option<OsString>)> {
        use tokio_postgres::config::Host;
        let c = &self.r.config;
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(s) => s.clone(),
                Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let addrs: Vec<String> = c.get_hostaddrs().iter().map(|a| a.to_string()).collect();
        let ports: Vec<String> = c.get_ports().iter().map(|p| p.to_string()).collect();
        let set = |v: String| Some(OsString::from(v));
        let mut env = vec![
            ("PGHOST", set(hosts.join(","))),
            ("PGPORT", set(ports.join(","))),
            ("PGUSER", set(self.r.user.clone())),
            ("PGDATABASE", set(dbname.to_owned())),
            ("PGSSLMODE", set(self.r.sslmode.as_str().to_owned())),
            ("PGAPPNAME", set("opsrun".into())),
            ("PGPASSWORD", None),
            ("PGSERVICE", None),
            ("PGPASSFILE", passfile.map(|p| p.as_os_str().to_owned())),
            ("PGSSLROOTCERT", self.r.rootcert.clone().map(OsString::from)),
            // English messages: their last line is what the row quotes.
            ("LC_ALL", set("C".into())),
        ];
        env.push((
            "PGHOSTADDR",
            (!addrs.is_empty()).then(|| OsString::from(addrs.join(","))),
        ));
        env
    }
}

/// `150018` → `15.18`; `90624` → `9.6.24`.
fn version_text(num: u32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10_000, num % 10_000)
    } else {
        format!("{}.{}.{}", num / 10_000, num / 100 % 100, num % 100)
    }
}

impl Session {
    /// Runs `sql` (simple protocol, one or more statements); each row as
    /// its text values.
    pub(crate) async fn simple(
        &self,
        target: &Target,
        sql: &str,
        step: &'static str,
    ) -> Result<Vec<Vec<Option<String>>>, Reason> {
        match self.client.simple_query(sql).await {
            Ok(msgs) => Ok(msgs
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) => Err(describe_error(&e, &target.r, step).1),
        }
    }

    /// Ends the session politely (Terminate), waiting a moment at most.
    pub(crate) async fn close(self) {
        let Session {
            client, mut driver, ..
        } = self;
        drop(client);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), &mut driver.0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_like_the_server_says_them() {
        assert_eq!(version_text(150018), "15.18");
        assert_eq!(version_text(170000), "17.0");
        assert_eq!(version_text(90624), "9.6.24");
    }
}

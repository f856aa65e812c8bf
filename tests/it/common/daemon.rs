//! Long-running servers (PostgreSQL, Redis) started by tests. Each runs
//! under a small `sh` watchdog in its own process group: dropping the
//! [`Daemon`] signals the group, and if the test process dies without
//! dropping it (killed by a harness timeout), the watchdog notices within
//! a fraction of a second and stops the server, so no server outlives the
//! test binary.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WATCHDOG: &str = r#"
"$@" & child=$!
while kill -0 "$child" 2>/dev/null; do
  if [ ! -d "/proc/$WATCH_PID" ]; then kill -"$WATCH_SIG" "$child"; break; fi
  sleep 0.2
done
wait "$child"
"#;

pub struct Daemon {
    child: Child,
    signal: rustix::process::Signal,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `argv` (after `prefix`, e.g. a `setpriv` to drop privileges),
    /// logging to `log`; `signal` (QUIT or TERM) stops it.
    pub fn spawn(prefix: &[&str], argv: &[String], log: &Path, signal: &str, cwd: &Path) -> Daemon {
        let out = File::create(log).expect("create log");
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(prefix.first().copied().unwrap_or("sh"));
        if !prefix.is_empty() {
            cmd.args(&prefix[1..]).arg("sh");
        }
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .args(argv)
            .env("WATCH_PID", std::process::id().to_string())
            .env("WATCH_SIG", signal)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}"));
        let signal = match signal {
            "QUIT" => rustix::process::Signal::QUIT,
            "INT" => rustix::process::Signal::INT,
            _ => rustix::process::Signal::TERM,
        };
        Daemon {
            child,
            signal,
            log: log.to_owned(),
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the watchdog (and so the server) is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pgid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pgid, self.signal);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(pgid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

//! The one writer for what opsrun prints: stdout, stderr, and the
//! `--output` files' failures.
//!
//! - A closed pipe on stdout (`opsrun validate … | head -1`) is not an
//!   error: the rest of the output is dropped quietly and the command's
//!   exit code stands (Rust ignores SIGPIPE, so without this every
//!   `println!` after the reader left was a panic, exit 101).
//! - Any other failure to write stdout (a full disk, `> /dev/full`) or an
//!   `--output` file is one `error:` line on stderr, and the exit code is
//!   at least "unknown" (3): a cron report that was never written must not
//!   end in 0 with nothing said.
//! - stderr is written best-effort: when it fails there is nowhere left to
//!   say so, and it never panics.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::values::io_reason;

/// stdout's reader is gone (EPIPE) or stdout failed: nothing more is tried.
static STDOUT_DONE: AtomicBool = AtomicBool::new(false);
/// A write that should have happened did not (stdout or an output file).
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `s` to stdout and flushes.
pub fn out(s: &str) {
    if STDOUT_DONE.load(Ordering::SeqCst) {
        return;
    }
    let mut o = io::stdout().lock();
    if let Err(e) = o.write_all(s.as_bytes()).and_then(|_| o.flush()) {
        STDOUT_DONE.store(true, Ordering::SeqCst);
        if e.kind() != io::ErrorKind::BrokenPipe {
            failed(&format!("cannot write to stdout: {}", io_reason(&e)));
        }
    }
}

/// Writes `s` to stderr, ignoring failure.
pub fn err(s: &str) {
    let mut e = io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

/// Says `error: what` on stderr (once per failure) and marks the
/// invocation as failed to write.
pub fn failed(what: &str) {
    FAILED.store(true, Ordering::SeqCst);
    err(&format!("error: {what}\n"));
}

/// The exit code once everything is written: `code`, or "unknown" (3)
/// when a write failed and the code said all was well.
pub fn exit_code(code: i32) -> i32 {
    if FAILED.load(Ordering::SeqCst) && code == crate::exit::OK {
        crate::exit::UNKNOWN
    } else {
        code
    }
}

/// `eprintln!` that never panics (stderr closed or full).
macro_rules! say_err {
    ($($arg:tt)*) => {
        $crate::stdio::err(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `println!` through [`out`]: a closed pipe ends output quietly.
macro_rules! say_out {
    ($($arg:tt)*) => {
        $crate::stdio::out(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use {say_err, say_out};

/// Replaces the regular file at `path` (or creates it) with `text`,
/// through a temporary file in the same directory and a rename, so a
/// reader (node_exporter) never sees half a file.
///
/// A symlink is followed: the file it points to is replaced and the link
/// stays. Anything that is not a regular file — a device such as
/// `/dev/null`, a FIFO, a socket, a directory — is refused: a rename
/// would replace the node itself (as root, the system's `/dev/null`), and
/// writing into a FIFO can block for ever.
pub fn replace_file(path: &Path, text: &str) -> io::Result<()> {
    let path = regular_target(path)?;
    let dir = crate::values::io::dir_of(&path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), io_reason(&e)))
}

/// The regular file `path` names (through symlinks), or why it is not one.
fn regular_target(path: &Path) -> io::Result<PathBuf> {
    let refuse = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "is {what}, not a regular file; --output replaces files and never writes into devices, FIFOs or directories"
            ),
        )
    };
    let link = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(path.to_owned()),
        Err(e) => return Err(io::Error::new(e.kind(), io_reason(&e))),
    };
    let meta = if link.file_type().is_symlink() {
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(refuse("a symlink to a missing file"));
            }
            Err(e) => return Err(io::Error::new(e.kind(), io_reason(&e))),
        }
    } else {
        link.clone()
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return if link.file_type().is_symlink() {
            fs::canonicalize(path).map_err(|e| io::Error::new(e.kind(), io_reason(&e)))
        } else {
            Ok(path.to_owned())
        };
    }
    use std::os::unix::fs::FileTypeExt;
    Err(refuse(if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a file"
    }))
}

/// The current text of the regular file an `--output` names (what the
/// Prometheus textfile said last run), or `None`: never opens a FIFO or
/// a device, which could block or never end.
pub fn read_previous(path: &Path) -> Option<String> {
    let p = regular_target(path).ok()?;
    fs::read_to_string(p).ok()
}

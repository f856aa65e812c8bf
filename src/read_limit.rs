//! Reading a file whose path a runbook names, with a size cap.
//!
//! A runbook may point anywhere: `cert_file: {path: /dev/zero}` or
//! `password_file: /dev/urandom` would otherwise be read until memory runs
//! out, and a named pipe would keep a check waiting for a writer. Every
//! such read goes through [`read`], which stops one byte past the cap and
//! says the file is too large instead of growing without bound, and which
//! opens without waiting (`O_NONBLOCK`): a pipe or `/proc/kmsg` that has
//! nothing to give is an error at once, not a reader blocked for ever.

use std::io::{self, Read};
use std::path::Path;

/// Certificates, CA bundles: a system bundle is ~200 kB; 16 MiB leaves room
/// for any real one.
pub const CERTS: u64 = 16 * 1024 * 1024;
/// A password or token file.
pub const SECRET: u64 = 64 * 1024;

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one
/// such as `/dev/zero`) is an error of kind `FileTooLarge`. Regular files
/// read as usual; a pipe or device yields only what it holds right now.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => io::Error::new(
                e.kind(),
                "nothing to read (a pipe or device that has no data now)",
            ),
            _ => e,
        })?;
    if buf.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(buf)
}

/// Like [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `larger than 64KiB: refused` — the words shown after the file name.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than {}: refused", binary_size(limit)),
    )
}

/// `16MiB`, `64KiB`, `1000B`: limits are written the way they are set.
fn binary_size(b: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if b >= MIB && b.is_multiple_of(MIB) {
        format!("{}MiB", b / MIB)
    } else if b >= 1024 && b.is_multiple_of(1024) {
        format!("{}KiB", b / 1024)
    } else {
        format!("{b}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_files_are_cut_off() {
        let e = read(Path::new("/dev/zero"), 1000).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than 1000B: refused");
    }

    #[test]
    fn a_pipe_without_writer_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert_eq!(read(&fifo, 100).unwrap(), b"");
    }

    #[test]
    fn files_up_to_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read(&p, 3).unwrap(), b"abc");
        assert!(read(&p, 2).is_err());
        assert_eq!(read_to_string(&p, 3).unwrap(), "abc");
    }
}

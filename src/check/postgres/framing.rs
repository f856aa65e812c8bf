//! A cap on the size of the server's protocol messages, enforced on the
//! byte stream under tokio-postgres.
//!
//! tokio-postgres reads a backend message whole before it looks at it: a
//! server announcing a 1 GiB message (`R` + length `0x40000000`) and sending
//! it would make opsrun reserve and fill 1 GiB. [`Framed`] sits between
//! tokio-postgres and the connection (on the decrypted side when TLS is on),
//! follows the backend framing — one type byte, then a 4-byte big-endian
//! length that counts itself — and fails the read, before tokio-postgres
//! sees the header, when a message is longer than [`MAX_MESSAGE`].
//!
//! The one unframed byte of the protocol is the server's answer to an
//! SSLRequest (`S` or `N`): the wrapper sees the client send the request
//! and lets exactly one byte through before framing starts.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsStream};

/// The longest backend message opsrun accepts: 64 MiB.
///
/// Why this number: opsrun reads one number per query and short catalog
/// rows. The largest message a healthy server sends it is a
/// `pg_stat_activity` row, whose query text is at most
/// `track_activity_query_size` (1 MiB at the most), or an error or notice
/// text. 64 MiB is far above any of them, and what a hostile or broken
/// server can make opsrun hold stays well under the 128 MiB peak the
/// hostile-server tests allow. (libpq itself refuses messages over 30000
/// bytes of the types that are never long; PostgreSQL's own limit is 1 GiB.)
pub(super) const MAX_MESSAGE: u32 = 64 * 1024 * 1024;

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Records the length of a message the cap refused, shared between the
/// stream and the check: once connected, tokio-postgres reports only
/// "connection closed" to the query that was waiting, and the check reads
/// the cause here.
#[derive(Clone, Default, Debug)]
pub(crate) struct Tripwire(Arc<OnceLock<u64>>);

impl Tripwire {
    /// The length of the refused message, if one was.
    pub(super) fn tripped(&self) -> Option<u64> {
        self.0.get().copied()
    }
}

/// Where the reader is in the backend's framing.
#[derive(Debug)]
enum State {
    /// Reading the 5-byte header (type and length); `have` bytes so far.
    Header { head: [u8; 5], have: usize },
    /// Inside a message body: this many bytes still to come.
    Body(u64),
}

/// A stream that refuses backend messages longer than [`MAX_MESSAGE`].
pub(crate) struct Framed<S> {
    inner: S,
    state: State,
    /// The first bytes the client wrote, to recognise an SSLRequest.
    sent: [u8; 8],
    sent_len: usize,
    /// The server's one-byte answer to an SSLRequest is still to come.
    ssl_answer: bool,
    trip: Tripwire,
}

impl<S> Framed<S> {
    pub(super) fn new(inner: S, trip: Tripwire) -> Framed<S> {
        Framed {
            inner,
            state: State::Header {
                head: [0; 5],
                have: 0,
            },
            sent: [0; 8],
            sent_len: 0,
            ssl_answer: false,
            trip,
        }
    }

    /// The stream underneath (for the TLS handshake, after the server said
    /// `S`) and the tripwire, to frame the decrypted stream anew.
    pub(super) fn into_parts(self) -> (S, Tripwire) {
        (self.inner, self.trip)
    }

    /// Follows the framing over bytes just read; an error when a header
    /// announces a message over the cap (or a length below its own 4 bytes).
    fn scan(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut i = 0;
        while i < bytes.len() {
            if self.ssl_answer {
                // `S` or `N`; tokio-postgres judges which.
                self.ssl_answer = false;
                i += 1;
                continue;
            }
            match &mut self.state {
                State::Header { head, have } => {
                    head[*have] = bytes[i];
                    *have += 1;
                    i += 1;
                    if *have == head.len() {
                        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
                        if len < 4 {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("invalid message length {len}"),
                            ));
                        }
                        if len > MAX_MESSAGE {
                            let _ = self.trip.0.set(u64::from(len));
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!(
                                    "the server sent a message of {len} bytes, \
                                     more than the {MAX_MESSAGE} bytes accepted"
                                ),
                            ));
                        }
                        self.state = match len - 4 {
                            0 => State::Header {
                                head: [0; 5],
                                have: 0,
                            },
                            n => State::Body(u64::from(n)),
                        };
                    }
                }
                State::Body(left) => {
                    let take = (*left).min((bytes.len() - i) as u64);
                    i += take as usize;
                    *left -= take;
                    if *left == 0 {
                        self.state = State::Header {
                            head: [0; 5],
                            have: 0,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Notes what the client wrote, to expect the SSLRequest's answer.
    fn wrote(&mut self, bytes: &[u8]) {
        if self.sent_len >= self.sent.len() {
            return;
        }
        let n = bytes.len().min(self.sent.len() - self.sent_len);
        self.sent[self.sent_len..self.sent_len + n].copy_from_slice(&bytes[..n]);
        self.sent_len += n;
        if self.sent_len == self.sent.len() && self.sent == SSL_REQUEST {
            self.ssl_answer = true;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Framed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        Poll::Ready(this.scan(&buf.filled()[before..]))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Framed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.wrote(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for Framed<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed() -> Framed<()> {
        Framed::new((), Tripwire::default())
    }

    fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![ty];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn messages_under_the_cap_pass_in_any_split() {
        let mut stream = msg(b'R', &[0, 0, 0, 0]);
        stream.extend(msg(b'S', b"server_version\x0016.1\x00"));
        stream.extend(msg(b'Z', b"I"));
        for split in 1..stream.len() {
            let mut f = framed();
            for piece in stream.chunks(split) {
                f.scan(piece).unwrap();
            }
            assert!(matches!(f.state, State::Header { have: 0, .. }), "{split}");
        }
    }

    #[test]
    fn an_oversized_header_is_refused_before_its_body() {
        let mut f = framed();
        f.scan(&msg(b'Z', b"I")).unwrap();
        let e = f.scan(&[b'R', 0x40, 0, 0]).map(|_| ());
        assert!(e.is_ok(), "the length is not complete yet");
        let e = f.scan(&[0]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("1073741824 bytes"), "{e}");
        assert_eq!(f.trip.tripped(), Some(1 << 30));
        // Exactly the cap is accepted.
        let mut f = framed();
        f.scan(b"D").unwrap();
        f.scan(&MAX_MESSAGE.to_be_bytes()).unwrap();
        assert!(matches!(f.state, State::Body(n) if n == u64::from(MAX_MESSAGE) - 4));
        assert_eq!(f.trip.tripped(), None);
    }

    #[test]
    fn a_length_below_four_is_invalid() {
        let mut f = framed();
        let e = f.scan(&[b'Z', 0, 0, 0, 3]).unwrap_err();
        assert!(e.to_string().contains("invalid message length 3"), "{e}");
    }

    #[test]
    fn the_answer_to_an_ssl_request_is_one_unframed_byte() {
        let mut f = framed();
        f.wrote(&SSL_REQUEST[..3]);
        assert!(!f.ssl_answer);
        f.wrote(&SSL_REQUEST[3..]);
        assert!(f.ssl_answer);
        // `N`, then the framed answer to the startup message.
        let mut bytes = vec![b'N'];
        bytes.extend(msg(b'R', &[0, 0, 0, 0]));
        f.scan(&bytes).unwrap();
        assert!(matches!(f.state, State::Header { have: 0, .. }));
        // A startup message is not an SSLRequest.
        let mut f = framed();
        f.wrote(&[0, 0, 0, 40, 0, 3, 0, 0]);
        assert!(!f.ssl_answer);
    }
}

//! Maildir storage: each accepted message becomes one file in `new/`, written before the 250.
//!
//! The Maildir protocol: write the file under `tmp/`, flush and fsync it, then rename it
//! into `new/` (atomic) and fsync `new/` so the name survives a crash. A reader never sees a
//! partial message.
//!
//! Memory: content is gathered until [`FLUSH_AT`] octets and then written; the buffer is
//! given back after every write, so a session that stalls mid-message holds less than
//! `FLUSH_AT` here, however much it sent before (issue 15).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::fs::{self, File};

/// Content is gathered up to this many octets before it is written (bulk content comes
/// in reads of up to 64 KiB, each written at once; small pieces are batched).
const FLUSH_AT: usize = 8 * 1024;

/// Deliveries started by this process: the `Q<n>` part of unique names.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A Maildir: a root with `tmp/`, `new/` and `cur/`.
#[derive(Debug)]
pub(crate) struct Maildir {
    /// `root/tmp`.
    tmp: PathBuf,
    /// `root/new`.
    new: PathBuf,
    /// The host part of file names, with `/` and `:` escaped.
    host: String,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `root/{tmp,new,cur}` as needed.
    pub(crate) fn create(root: &Path, hostname: &str) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            tmp: root.join("tmp"),
            new: root.join("new"),
            host: escape_host(hostname),
        })
    }

    /// Starts a message: creates a new, uniquely named file in `tmp/`.
    pub(crate) async fn begin(&self) -> io::Result<Delivery> {
        let name = unique_name(&self.host);
        let tmp = self.tmp.join(&name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await?
            .into_std()
            .await;
        Ok(Delivery {
            file: Arc::new(file),
            buffer: Vec::new(),
            tmp,
            pending: true,
            new: self.new.join(&name),
            new_dir: self.new.clone(),
        })
    }
}

/// One message being written to `tmp/`. Dropped without [`Delivery::commit`], its file
/// never reaches `new/` (and is removed from `tmp/`).
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The file in `tmp/`; written on a blocking thread (the `Arc` goes along).
    file: Arc<std::fs::File>,
    /// Content not yet written: at most [`FLUSH_AT`] octets allocated between calls.
    buffer: Vec<u8>,
    /// The file's path in `tmp/`.
    tmp: PathBuf,
    /// Neither committed nor discarded yet: dropping it removes the tmp file.
    pending: bool,
    /// Where the file goes on commit.
    new: PathBuf,
    /// `new/`, to fsync after the rename.
    new_dir: PathBuf,
}

impl Delivery {
    /// Appends message content, exactly as given.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.buffer.capacity() == 0 && chunk.len() < FLUSH_AT {
            // Room for small pieces up to the flush, and never more.
            self.buffer.reserve_exact(FLUSH_AT);
        }
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is buffered and gives the buffer back.
    async fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.buffer);
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || (&*file).write_all(&bytes))
            .await
            .map_err(io::Error::other)?
    }

    /// Octets held in memory (buffered, not yet written), for tests.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.buffer.capacity()
    }

    /// Makes the message durable and visible: flush, fsync the file, rename it into
    /// `new/`, fsync `new/`. Returns the final path. On error the tmp file is removed.
    pub(crate) async fn commit(mut self) -> io::Result<PathBuf> {
        self.pending = false;
        let result = self.finish().await;
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp).await;
        }
        result.map(|()| self.new.clone())
    }

    /// The steps of [`Delivery::commit`].
    async fn finish(&mut self) -> io::Result<()> {
        self.flush().await?;
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(io::Error::other)??;
        fs::rename(&self.tmp, &self.new).await?;
        File::open(&self.new_dir).await?.sync_all().await
    }

    /// Drops the message: removes its tmp file, ignoring errors.
    pub(crate) async fn discard(mut self) {
        self.pending = false;
        let _ = fs::remove_file(&self.tmp).await;
    }
}

impl Drop for Delivery {
    /// A delivery abandoned mid-message (the client went away) removes its tmp file.
    fn drop(&mut self) {
        if !self.pending {
            return;
        }
        let tmp = std::mem::take(&mut self.tmp);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = fs::remove_file(tmp).await;
                });
            }
            Err(_) => {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// The trace header fields an MDA adds (RFC 5321 §4.4, RFC 5322 §3.6.7): who sent the
/// message and to whom (BCC recipients are not lost), and a `Received` line for the hop.
pub(crate) struct Trace<'a> {
    /// The envelope sender, `<...>` or `<>`.
    pub(crate) from: &'a str,
    /// The envelope recipients, each `<...>`.
    pub(crate) rcpts: &'a [String],
    /// The name the client gave in HELO/EHLO/LHLO.
    pub(crate) helo: &'a str,
    /// The client's address.
    pub(crate) peer: Option<std::net::SocketAddr>,
    /// Our host name.
    pub(crate) host: &'a str,
    /// `ESMTP`, `ESMTPS`, `ESMTPSA`, `LMTP`... (RFC 3848).
    pub(crate) protocol: &'a str,
    /// TLS protocol version and cipher suite, when TLS is on.
    pub(crate) tls: Option<(&'a str, &'a str)>,
    /// Seconds since the Unix epoch, for the date.
    pub(crate) unix_secs: u64,
}

impl Trace<'_> {
    /// `Return-Path`, one `Delivered-To` per recipient, and `Received`, each CR LF-ended.
    pub(crate) fn header(&self) -> String {
        let mut out = format!("Return-Path: {}\r\n", self.from);
        for rcpt in self.rcpts {
            let bare = rcpt.trim_start_matches('<').trim_end_matches('>');
            out.push_str(&format!("Delivered-To: {bare}\r\n"));
        }
        let ip = self
            .peer
            .map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string());
        let tls = self.tls.map_or_else(String::new, |(version, cipher)| {
            format!("\r\n\t(using {version} with cipher {cipher})")
        });
        let helo = if self.helo.is_empty() {
            "unknown"
        } else {
            self.helo
        };
        out.push_str(&format!(
            "Received: from {helo} ([{ip}])\r\n\tby {} (blackhole) with {}{tls};\r\n\t{}\r\n",
            self.host,
            self.protocol,
            rfc5322_date(self.unix_secs)
        ));
        out
    }
}

// The date format lives once, in the core's trace module (the relay writes dates too).
use smtp_proto::trace::rfc5322_date;

/// Seconds since the Unix epoch, for trace header dates.
pub(crate) fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// `/` and `:` cannot appear in a Maildir host part; they become `\057` and `\072` (the
/// usual Maildir convention).
fn escape_host(hostname: &str) -> String {
    hostname.replace('/', "\\057").replace(':', "\\072")
}

/// A Maildir unique name: `<secs>.M<usec>P<pid>Q<n>.<host>`.
fn unique_name(host: &str) -> String {
    let now = since_epoch();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{n}.{host}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

/// The wall clock, for file names only.
#[allow(clippy::disallowed_methods)]
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::testing::TempDir;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn commit_lands_in_new_with_exact_bytes() {
        let dir = TempDir::new("commit");
        let maildir = Maildir::create(&dir.0, "mx.example").unwrap();
        assert!(dir.0.join("cur").is_dir());
        let mut delivery = maildir.begin().await.unwrap();
        let mut sent = Vec::new();
        for i in 0..5_000u32 {
            let chunk = format!("Line {i}: \u{e9}t\u{e9} \r\n.dot\rbare\n");
            delivery.write(chunk.as_bytes()).await.unwrap();
            sent.extend_from_slice(chunk.as_bytes());
        }
        delivery.write(b"").await.unwrap();
        let path = delivery.commit().await.unwrap();
        assert_eq!(path.parent().unwrap(), dir.0.join("new"));
        assert_eq!(std::fs::read(&path).unwrap(), sent);
        assert_eq!(names(&dir.0.join("tmp")), Vec::<String>::new());
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(names(&dir.0.join("new")), vec![name.clone()]);
        // <secs>.M<usec>P<pid>Q<n>.<host>
        let (secs, rest) = name.split_once(".M").unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
        let pid = format!("P{}Q", std::process::id());
        assert!(rest.contains(&pid), "{name}");
        assert!(name.ends_with(".mx.example"), "{name}");
    }

    /// Issue 15: a burst then a stall keeps less than `FLUSH_AT` octets in memory, and
    /// the file still gets every octet.
    #[tokio::test]
    async fn a_stalled_delivery_holds_little() {
        let dir = TempDir::new("stall");
        let maildir = Maildir::create(&dir.0, "h").unwrap();
        let mut delivery = maildir.begin().await.unwrap();
        let mut sent = Vec::new();
        for size in [65_536, 65_536, 40_000, 1_000, 7_000, 65_535] {
            let chunk = vec![b'a' + (size % 26) as u8; size];
            delivery.write(&chunk).await.unwrap();
            sent.extend_from_slice(&chunk);
            assert!(
                delivery.held() <= FLUSH_AT,
                "{} after {size}",
                delivery.held()
            );
        }
        delivery.write(b"tail").await.unwrap();
        assert!(delivery.held() <= FLUSH_AT);
        let path = delivery.commit().await.unwrap();
        assert_eq!(
            std::fs::read(path).unwrap(),
            sent.iter().chain(b"tail").copied().collect::<Vec<u8>>()
        );
    }

    #[tokio::test]
    async fn discard_leaves_nothing() {
        let dir = TempDir::new("discard");
        let maildir = Maildir::create(&dir.0, "h").unwrap();
        let mut delivery = maildir.begin().await.unwrap();
        delivery.write(b"Subject: x\r\n\r\nbody\r\n").await.unwrap();
        assert_eq!(names(&dir.0.join("tmp")).len(), 1);
        delivery.discard().await;
        assert!(names(&dir.0.join("tmp")).is_empty());
        assert!(names(&dir.0.join("new")).is_empty());
    }

    #[tokio::test]
    async fn a_dropped_delivery_never_reaches_new() {
        let dir = TempDir::new("drop");
        let maildir = Maildir::create(&dir.0, "h").unwrap();
        let mut delivery = maildir.begin().await.unwrap();
        delivery.write(b"half a message").await.unwrap();
        drop(delivery);
        for _ in 0..200 {
            if names(&dir.0.join("tmp")).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(names(&dir.0.join("tmp")).is_empty());
        assert!(names(&dir.0.join("new")).is_empty());
    }

    #[tokio::test]
    async fn deliveries_get_different_names() {
        let dir = TempDir::new("names");
        let maildir = Maildir::create(&dir.0, "h").unwrap();
        let mut paths = Vec::new();
        for i in 0..20u8 {
            let mut delivery = maildir.begin().await.unwrap();
            delivery.write(&[i]).await.unwrap();
            paths.push(delivery.commit().await.unwrap());
        }
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 20);
        assert_eq!(names(&dir.0.join("new")).len(), 20);
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(std::fs::read(path).unwrap(), vec![i as u8]);
        }
    }

    #[test]
    fn trace_header_fields() {
        let rcpts = ["<b@y.example>".to_owned(), "<c@z.example>".to_owned()];
        let trace = Trace {
            from: "<a@x.example>",
            rcpts: &rcpts,
            helo: "client.example",
            peer: Some("127.0.0.1:4000".parse().unwrap()),
            host: "mx.example",
            protocol: "ESMTPS",
            tls: Some(("TLSv1_3", "TLS13_AES_256_GCM_SHA384")),
            unix_secs: 0,
        };
        assert_eq!(
            trace.header(),
            "Return-Path: <a@x.example>\r\nDelivered-To: b@y.example\r\nDelivered-To: c@z.example\r\n\
             Received: from client.example ([127.0.0.1])\r\n\tby mx.example (blackhole) with ESMTPS\r\n\
             \t(using TLSv1_3 with cipher TLS13_AES_256_GCM_SHA384);\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    #[test]
    fn host_is_escaped() {
        assert_eq!(escape_host("a/b:c.example"), "a\\057b\\072c.example");
        assert!(unique_name("x\\057y").ends_with(".x\\057y"));
        let dir = TempDir::new("escape");
        let maildir = Maildir::create(&dir.0, "weird/host:25").unwrap();
        assert_eq!(maildir.host, "weird\\057host\\07225");
    }

    #[tokio::test]
    async fn an_unwritable_root_is_an_error() {
        let dir = TempDir::new("unwritable");
        std::fs::create_dir_all(&dir.0).unwrap();
        // A regular file where a directory should be: fails even for root.
        let file = dir.0.join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        assert!(Maildir::create(&file.join("maildir"), "h").is_err());
        // A Maildir whose tmp/ disappeared: begin fails.
        let root = dir.0.join("md");
        let maildir = Maildir::create(&root, "h").unwrap();
        std::fs::remove_dir(root.join("tmp")).unwrap();
        assert!(maildir.begin().await.is_err());
        // A Maildir whose new/ disappeared: commit fails and cleans tmp/.
        let maildir = Maildir::create(&root, "h").unwrap();
        let mut delivery = maildir.begin().await.unwrap();
        delivery.write(b"x").await.unwrap();
        std::fs::remove_dir(root.join("new")).unwrap();
        assert!(delivery.commit().await.is_err());
        assert!(names(&root.join("tmp")).is_empty());
    }
}

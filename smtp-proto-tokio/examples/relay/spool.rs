//! The durable spool (`manual::relay` SPL): one queue file per message, written to `tmp/`,
//! fsynced, renamed into `queue/`, and the directory fsynced — only then is the message
//! acknowledged (SPL-01). Recipients settled by a delivery are appended to `<id>.done` and
//! fsynced before the next transaction (SPL-05). At start, `tmp/` is swept (SPL-02), every
//! queue file is read back, and a file that cannot be read is moved to `corrupt/`, never
//! deleted (SPL-07).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use smtp_proto::relay::QueueId;
use smtp_proto::relay::spool::{self, Envelope};

/// The spool directory.
#[derive(Debug)]
pub(crate) struct Spool {
    root: PathBuf,
    sequence: AtomicU64,
    /// Test hook: stop (as a crash would) after this many steps of [`Spool::store`].
    #[cfg(test)]
    pub(crate) crash_after: Option<usize>,
}

/// A message read back at start.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) id: QueueId,
    pub(crate) envelope: Envelope,
    pub(crate) settled: Vec<usize>,
}

impl Spool {
    /// Opens (creating) the spool at `root` and sweeps half-written files.
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        for dir in ["tmp", "queue", "corrupt"] {
            fs::create_dir_all(root.join(dir))?;
        }
        for entry in fs::read_dir(root.join("tmp"))? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(Self {
            root: root.to_owned(),
            sequence: AtomicU64::new(0),
            #[cfg(test)]
            crash_after: None,
        })
    }

    /// A fresh queue identifier: the wall clock in nanoseconds and a sequence number, so
    /// identifiers are never reused, even across restarts (SPL-09).
    pub(crate) fn new_id(&self) -> QueueId {
        let nanos = crate::since_epoch().as_nanos();
        QueueId::from_parts(nanos, self.sequence.fetch_add(1, Ordering::Relaxed))
    }

    fn queue_file(&self, id: &QueueId) -> PathBuf {
        self.root.join("queue").join(id.as_str())
    }

    fn progress_file(&self, id: &QueueId) -> PathBuf {
        self.root.join("queue").join(format!("{id}.done"))
    }

    /// Writes the message durably: tmp file, fsync, rename, directory fsync (SPL-01).
    pub(crate) fn store(
        &self,
        id: &QueueId,
        envelope: &Envelope,
        content: &[&[u8]],
    ) -> io::Result<()> {
        let tmp = self.root.join("tmp").join(id.as_str());
        let mut step = 0;
        let mut crash = || -> io::Result<()> {
            step += 1;
            #[cfg(test)]
            if self.crash_after.is_some_and(|limit| step > limit) {
                return Err(io::Error::other("simulated crash"));
            }
            Ok(())
        };
        crash()?;
        let mut file = File::create(&tmp)?;
        file.write_all(&spool::encode(envelope))?;
        for piece in content {
            file.write_all(piece)?;
        }
        crash()?;
        file.sync_all()?;
        crash()?;
        fs::rename(&tmp, self.queue_file(id))?;
        crash()?;
        File::open(self.root.join("queue"))?.sync_all()
    }

    /// The message content (after the envelope) of a queued message.
    pub(crate) fn content(&self, id: &QueueId) -> io::Result<Vec<u8>> {
        let file = fs::read(self.queue_file(id))?;
        let (_, offset) = spool::decode(&file).map_err(io::Error::other)?;
        Ok(file.get(offset..).unwrap_or_default().to_vec())
    }

    /// Records recipients as settled, durably (SPL-05).
    pub(crate) fn settle(&self, id: &QueueId, indices: &[usize]) -> io::Result<()> {
        if indices.is_empty() {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.progress_file(id))?;
        let mut records = Vec::new();
        for &index in indices {
            records.extend(spool::progress_record(index));
        }
        file.write_all(&records)?;
        file.sync_data()
    }

    /// Deletes a message whose recipients are all settled.
    pub(crate) fn remove(&self, id: &QueueId) {
        let _ = fs::remove_file(self.queue_file(id));
        let _ = fs::remove_file(self.progress_file(id));
    }

    /// Reads every queued message back; unreadable ones go to `corrupt/` with a warning.
    pub(crate) fn recover(&self) -> io::Result<Vec<Recovered>> {
        let mut found = Vec::new();
        let mut names: Vec<String> = fs::read_dir(self.root.join("queue"))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| !name.ends_with(".done"))
            .collect();
        names.sort();
        for name in names {
            let path = self.root.join("queue").join(&name);
            let parsed = QueueId::new(name.clone())
                .ok_or_else(|| "not a queue identifier".to_owned())
                .and_then(|id| {
                    let file = fs::read(&path).map_err(|e| e.to_string())?;
                    let (envelope, _) = spool::decode(&file).map_err(|e| e.to_string())?;
                    Ok((id, envelope))
                });
            match parsed {
                Ok((id, envelope)) => {
                    let settled = fs::read(self.progress_file(&id))
                        .map(|p| spool::settled(&p))
                        .unwrap_or_default();
                    found.push(Recovered {
                        id,
                        envelope,
                        settled,
                    });
                }
                Err(why) => {
                    tracing::warn!(file = %path.display(), %why, "queue file unreadable; moved to corrupt/");
                    let _ = fs::rename(&path, self.root.join("corrupt").join(&name));
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::ReversePath;
    use smtp_proto::codec::params::MailParams;

    fn envelope() -> Envelope {
        Envelope {
            arrival_unix: 1_764_700_000,
            from: ReversePath::Mailbox("a@x.example".parse().unwrap()),
            params: MailParams::default(),
            recipients: vec![
                (
                    smtp_proto::ForwardPath::Mailbox("b@y.example".parse().unwrap()),
                    Default::default(),
                ),
                (
                    smtp_proto::ForwardPath::Mailbox("c@y.example".parse().unwrap()),
                    Default::default(),
                ),
            ],
        }
    }

    fn temp_root(name: &str) -> crate::testing::TempDir {
        crate::testing::TempDir::new(&format!("relay-spool-{name}"))
    }

    #[test]
    fn a_stored_message_is_recovered_with_its_progress() {
        let dir = temp_root("recover");
        let root = dir.0.clone();
        let spool = Spool::open(&root).unwrap();
        let id = spool.new_id();
        spool
            .store(&id, &envelope(), &[b"Subject: x\r\n\r\nhi\r\n"])
            .unwrap();
        spool.settle(&id, &[1]).unwrap();
        let again = Spool::open(&root).unwrap();
        let found = again.recover().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].envelope, envelope());
        assert_eq!(found[0].settled, [1]);
        assert_eq!(again.content(&id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        again.remove(&id);
        assert!(again.recover().unwrap().is_empty());
    }

    /// SPL-02, SPL-04: a crash at every step of `store` leaves either nothing (the client
    /// got no 250 and retries) or the whole message; never a half-written one.
    #[test]
    fn a_crash_at_any_step_leaves_all_or_nothing() {
        for crash_after in 0..5 {
            let dir = temp_root(&format!("crash{crash_after}"));
            let root = dir.0.clone();
            let mut spool = Spool::open(&root).unwrap();
            spool.crash_after = Some(crash_after);
            let id = spool.new_id();
            let stored = spool.store(&id, &envelope(), &[b"Subject: x\r\n\r\nhi\r\n"]);
            let restarted = Spool::open(&root).unwrap();
            let found = restarted.recover().unwrap();
            match found.as_slice() {
                [] => assert!(stored.is_err(), "step {crash_after}: acknowledged and lost"),
                [one] => {
                    assert_eq!(one.envelope, envelope());
                    assert_eq!(restarted.content(&id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
                }
                more => panic!("step {crash_after}: {more:?}"),
            }
            assert_eq!(
                fs::read_dir(root.join("tmp")).unwrap().count(),
                0,
                "tmp swept"
            );
        }
    }

    /// SPL-09: identifiers are never reused, and are safe as file names.
    #[test]
    fn queue_identifiers_are_unique() {
        let dir = temp_root("ids");
        let spool = Spool::open(&dir.0).unwrap();
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| spool.new_id().to_string()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
    }

    /// SPL-07: an unreadable queue file is moved aside, not deleted, and does not stop the others.
    #[test]
    fn unreadable_queue_files_are_quarantined() {
        let dir = temp_root("corrupt");
        let root = dir.0.clone();
        let spool = Spool::open(&root).unwrap();
        fs::write(root.join("queue").join("BAD1"), b"SMTP-PROTO-QUEUE 9\r\n").unwrap();
        let id = spool.new_id();
        spool.store(&id, &envelope(), &[b"\r\n"]).unwrap();
        let found = spool.recover().unwrap();
        assert_eq!(found.len(), 1);
        assert!(root.join("corrupt").join("BAD1").exists());
    }
}

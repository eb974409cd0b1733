//! A private Postfix instance: its own configuration, queue, data and mail directories
//! under a temporary directory, smtpd on a free port of 127.0.0.1, and virtual(8)
//! delivery of mail for [`PEER_DOMAIN`] into one Maildir.
//!
//! It runs the `master` daemon directly (`master -c DIR`, which stays in the foreground as
//! the leader of its own process group) rather than `postfix -c DIR start`: no
//! `postfix-script` checks, no `alternate_config_directories` entry in the system's
//! `/etc/postfix/main.cf` (only set-gid commands such as postdrop need that), and the
//! process is ours to stop. The system's instance and `/etc/postfix` are never written:
//! Postfix only reads `dynamicmaps.cf` and `postfix-files` there. Postfix needs root.
//!
//! Configuration (see [`Postfix::config`] for the exact files): `inet_interfaces =
//! loopback-only`, `mynetworks = 127.0.0.0/8`, `mydestination` empty, relaying refused
//! (`smtpd_relay_restrictions = reject_unauth_destination`, outbound transports are
//! `error:`), recipients whose local part starts with `fail` refused at RCPT with `550`
//! (a `regexp:` access table), no header rewriting for loopback clients (what the client
//! sent is what is delivered, after the trace headers), logging to a file under the
//! temporary directory (`maillog_file`, Postfix ≥ 3.4) instead of syslog.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{PEER_DOMAIN, START_TIMEOUT, StoredMessage};
use crate::TempDir;

/// How many times [`Postfix::start`] tries a new port when master exits at start (another
/// process took the free port first).
const START_ATTEMPTS: usize = 5;

/// What the instance offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostfixOptions {
    /// Offer STARTTLS with a fresh self-signed certificate ([`Postfix::cert_path`]).
    /// Default: off.
    pub starttls: bool,
    /// Advertise CHUNKING (Postfix's default). Off: `smtpd_discard_ehlo_keywords`.
    pub chunking: bool,
    /// Advertise PIPELINING (Postfix's default). Off: `smtpd_discard_ehlo_keywords`
    /// (Postfix still reads pipelined commands).
    pub pipelining: bool,
    /// `smtputf8_enable` (Postfix's default: yes).
    pub smtputf8: bool,
    /// `message_size_limit` in bytes, advertised as SIZE (Postfix's default: 10240000).
    pub message_size_limit: u64,
    /// More `main.cf` parameters, written last (they override the ones above).
    pub main_cf: Vec<(String, String)>,
    /// Relay everything from `mynetworks` to this smart host (`relayhost = [ip]:port`, the
    /// `smtp` client as transport, STARTTLS when offered), instead of refusing to relay.
    pub relayhost: Option<SocketAddr>,
}

impl Default for PostfixOptions {
    fn default() -> Self {
        Self {
            starttls: false,
            chunking: true,
            pipelining: true,
            smtputf8: true,
            message_size_limit: 10_240_000,
            main_cf: Vec::new(),
            relayhost: None,
        }
    }
}

impl PostfixOptions {
    /// The defaults, with STARTTLS on.
    pub fn with_starttls() -> Self {
        Self {
            starttls: true,
            ..Self::default()
        }
    }
}

/// A running private Postfix instance. Dropping it stops master and its children (SIGTERM
/// to master, which stops its process group; then SIGKILL to whatever is left in the group)
/// and removes the directory; when the thread is panicking it prints the log first.
pub struct Postfix {
    master: Child,
    addr: SocketAddr,
    greeting: String,
    cert: Option<PathBuf>,
    // Dropped after `master` has been stopped (fields drop after `Drop::drop`).
    dir: TempDir,
}

/// Where Postfix's daemons are: the compiled-in `daemon_directory` (`postconf -d`, which
/// needs no `main.cf`: Debian's "No configuration" install has none), else the usual
/// places.
fn daemon_directory() -> Result<PathBuf, String> {
    let from_postconf = Command::new("postconf")
        .args(["-d", "-h", "daemon_directory"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_postconf
        .into_iter()
        .chain(
            [
                "/usr/lib/postfix/sbin",
                "/usr/libexec/postfix",
                "/usr/lib/postfix",
            ]
            .map(PathBuf::from),
        )
        .find(|dir| dir.join("master").is_file())
        .ok_or_else(|| "no Postfix master (postconf -d -h daemon_directory)".to_owned())
}

/// The uid and gid of the user `name`, from `/etc/passwd`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == name {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// The gid of the group `name`, from `/etc/group`.
fn group_id(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 2 && fields[0] == name {
            fields[2].parse().ok()
        } else {
            None
        }
    })
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("cannot chown {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// Writes a configuration file dated long ago: Postfix waits (in steps of 0.3 s, for
/// about 2 s) until a configuration file it reads is older than a second, in case an editor
/// is still writing it.
fn write_config(path: &Path, content: &str) {
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(path)?;
        std::io::Write::write_all(&mut &file, content.as_bytes())?;
        // 2001-09-09: long past, without reading the clock.
        file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
    };
    write().unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
}

/// The services of `master.cf`: smtpd on `port`, and what delivery to the Maildir needs.
/// Nothing is chrooted; postlogd writes `maillog_file`.
fn master_cf(port: u16) -> String {
    format!(
        "\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{port} inet n     -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
    )
}

impl Postfix {
    /// Why Postfix cannot run here, if it cannot: it needs Postfix ≥ 3.4 (`maillog_file`),
    /// `master` in `postconf -d -h daemon_directory`, the `postfix` user, and root.
    pub fn availability() -> Result<(), String> {
        if !crate::tools::tool_installed("postconf") {
            return Err("postfix not installed (no postconf on PATH)".to_owned());
        }
        daemon_directory()?;
        let version = Command::new("postconf")
            .args(["-d", "-h", "mail_version"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        if (major, minor) < (3, 4) {
            return Err(format!(
                "Postfix {version:?} is older than 3.4 (no maillog_file)"
            ));
        }
        if user_ids("postfix").is_none() {
            return Err("no postfix user in /etc/passwd".to_owned());
        }
        if !super::running_as_root() {
            return Err("a private Postfix instance needs root".to_owned());
        }
        Ok(())
    }

    /// Whether Postfix can run here ([`availability`](Self::availability)).
    pub fn is_available() -> bool {
        Self::availability().is_ok()
    }

    /// [`super::require_peer`] for Postfix: `false` (test skipped) when it cannot run,
    /// a panic instead when `SMTP_PROTO_REQUIRE_TOOLS=1`.
    ///
    /// # Panics
    /// When Postfix cannot run and `SMTP_PROTO_REQUIRE_TOOLS=1`.
    pub fn require() -> bool {
        super::require_peer("postfix", Self::availability())
    }

    /// Writes a fresh instance's directories and configuration, starts master on a free
    /// port of 127.0.0.1 (another free port when master fails at start, up to 5 times),
    /// and waits up to [`START_TIMEOUT`] for smtpd's `220` greeting.
    ///
    /// # Panics
    /// If Postfix is unavailable, a directory cannot be prepared, or the instance does not
    /// greet in time (the message shows the log and the configuration).
    pub fn start(options: PostfixOptions) -> Self {
        if let Err(why) = Self::availability() {
            panic!("Postfix::start: {why}");
        }
        let master_path = daemon_directory()
            .unwrap_or_else(|e| panic!("{e}"))
            .join("master");
        let (uid, gid) = user_ids("postfix").unwrap_or_else(|| panic!("no postfix user"));
        let postdrop = group_id("postdrop").unwrap_or(gid);

        let dir = TempDir::new("postfix");
        let root = dir.path();
        let etc = root.join("etc");
        let queue = root.join("queue");
        let data = root.join("data");
        let mail = root.join("mail");
        for d in [&etc, &queue, &data, &mail] {
            mkdir(d);
        }
        // The postfix user must reach them whatever the umask.
        for d in [root, etc.as_path(), queue.as_path()] {
            chmod(d, 0o755);
        }
        for sub in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            let path = queue.join(sub);
            mkdir(&path);
            chown(&path, uid, 0);
            chmod(&path, 0o700);
        }
        let public = queue.join("public");
        mkdir(&public);
        chown(&public, uid, postdrop);
        chmod(&public, 0o710);
        let maildrop = queue.join("maildrop");
        mkdir(&maildrop);
        chown(&maildrop, uid, postdrop);
        chmod(&maildrop, 0o730);
        let pid = queue.join("pid");
        mkdir(&pid);
        chmod(&pid, 0o755);
        chown(&data, uid, 0);
        chmod(&data, 0o700);
        // virtual(8) delivers as the postfix user.
        chown(&mail, uid, gid);

        let cert = options
            .starttls
            .then(|| super::write_self_signed_cert(&etc));
        write_config(
            &etc.join("recipient_access"),
            "/^fail/ 550 5.1.1 Recipient rejected by the test rule\n",
        );
        write_config(
            &etc.join("main.cf"),
            &main_cf(root, &options, cert.as_ref(), uid, gid),
        );

        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = super::free_port();
            let mut services = master_cf(port);
            if options.relayhost.is_some() {
                services.push_str("smtp      unix  -       -       n       -       -       smtp\nrelay     unix  -       -       n       -       -       smtp\n");
            }
            write_config(&etc.join("master.cf"), &services);
            let mut master = Command::new(&master_path)
                .arg("-c")
                .arg(&etc)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", master_path.display()));
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            // Poll the greeting and master's exit together: a master that exits at start
            // (port taken) is retried at once.
            let outcome = super::poll(START_TIMEOUT, Duration::from_millis(50), || {
                if let Ok(Some(status)) = master.try_wait() {
                    return Some(Err(format!("master exited: {status}")));
                }
                match super::wait_for_greeting(addr, Duration::ZERO) {
                    Ok(greeting) => Some(Ok(greeting)),
                    Err(_) => None,
                }
            });
            match outcome {
                Some(Ok(greeting)) => {
                    return Self {
                        master,
                        addr,
                        greeting,
                        cert: cert.map(|(c, _)| c),
                        dir,
                    };
                }
                Some(Err(e)) => {
                    failures.push_str(&format!("attempt {attempt} (port {port}): {e}\n"));
                    kill_group(&mut master, &etc);
                }
                None => {
                    kill_group(&mut master, &etc);
                    panic!(
                        "Postfix did not greet on {addr} within {START_TIMEOUT:?}\n{failures}--- log\n{}",
                        read_log(root)
                    );
                }
            }
        }
        panic!(
            "Postfix master did not start in {START_ATTEMPTS} attempts (it exits at once when \
             its port is taken or its configuration is wrong; early fatal errors go to syslog, \
             not to the log file):\n{failures}--- log\n{}--- main.cf\n{}--- master.cf\n{}",
            read_log(root),
            std::fs::read_to_string(etc.join("main.cf")).unwrap_or_default(),
            std::fs::read_to_string(etc.join("master.cf")).unwrap_or_default()
        );
    }

    /// Where smtpd listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `220` greeting read at start.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// The instance's certificate (PEM) when STARTTLS is on, for clients that verify it.
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert.as_deref()
    }

    /// The instance's temporary directory (`etc/`, `queue/`, `data/`, `mail/`, `maillog`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration directory (`main.cf`, `master.cf`), for `postconf -c`.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// The Maildir that every recipient at [`PEER_DOMAIN`] is delivered to.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join("Maildir")
    }

    /// The log so far (`maillog_file`; written by postlogd a moment after the event).
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// The messages delivered so far, one per recipient, oldest first.
    pub fn messages(&self) -> Vec<StoredMessage> {
        super::files_by_mtime(&self.maildir().join("new"))
            .iter()
            .map(|path| parse_delivered(path, super::read(path)))
            .collect()
    }

    /// Waits up to `timeout` until at least `n` messages have been delivered (one per
    /// recipient), and returns all of them, oldest first.
    ///
    /// # Panics
    /// If fewer than `n` arrive in time (the message shows the log).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<StoredMessage> {
        let found = super::poll(timeout, Duration::from_millis(50), || {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        });
        found.unwrap_or_else(|| {
            panic!(
                "Postfix delivered {} message(s) within {timeout:?}, expected {n}\n--- log\n{}",
                self.messages().len(),
                self.log()
            )
        })
    }

    /// Waits up to `timeout` until the log contains `needle` (postlogd writes
    /// asynchronously); returns the log.
    ///
    /// # Panics
    /// If it does not appear in time.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        super::poll(timeout, Duration::from_millis(50), || {
            let log = self.log();
            log.contains(needle).then_some(log)
        })
        .unwrap_or_else(|| {
            panic!(
                "Postfix log has no {needle:?} after {timeout:?}\n--- log\n{}",
                self.log()
            )
        })
    }
}

fn read_log(root: &Path) -> String {
    std::fs::read(root.join("maillog"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(no maillog: {e})\n"))
}

fn main_cf(
    root: &Path,
    options: &PostfixOptions,
    cert: Option<&(PathBuf, PathBuf)>,
    uid: u32,
    gid: u32,
) -> String {
    let root = root.display();
    let mut discard = Vec::new();
    if !options.chunking {
        discard.push("chunking");
    }
    if !options.pipelining {
        discard.push("pipelining");
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut cf = format!(
        "\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = mx.{PEER_DOMAIN}
mydomain = {PEER_DOMAIN}
myorigin = {PEER_DOMAIN}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
virtual_mailbox_domains = {PEER_DOMAIN}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
default_transport = error:outbound mail is disabled in this test instance
relay_transport = error:outbound mail is disabled in this test instance
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:{root}/etc/recipient_access
local_header_rewrite_clients =
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
in_flow_delay = 0s
smtpd_banner = $myhostname ESMTP Postfix (smtp-proto peer)
smtputf8_enable = {smtputf8}
message_size_limit = {size}
smtpd_discard_ehlo_keywords = {discard}
",
        smtputf8 = yes_no(options.smtputf8),
        size = options.message_size_limit,
        discard = discard.join(", "),
    );
    match cert {
        Some((cert, key)) => cf.push_str(&format!(
            "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_loglevel = 1\n",
            cert.display(),
            key.display()
        )),
        None => cf.push_str("smtpd_tls_security_level = none\n"),
    }
    if let Some(relayhost) = options.relayhost {
        cf.push_str(&format!(
            "relayhost = [{}]:{}\ndefault_transport = smtp\nrelay_transport = smtp\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             smtpd_recipient_restrictions =\nsmtp_tls_security_level = may\n",
            relayhost.ip(),
            relayhost.port()
        ));
    }
    for (name, value) in &options.main_cf {
        cf.push_str(&format!("{name} = {value}\n"));
    }
    cf
}

/// A delivered Maildir file: Postfix prepends `Return-Path:`, `X-Original-To:`,
/// `Delivered-To:` and one `Received:` header to what the client sent.
fn parse_delivered(path: &Path, raw: Vec<u8>) -> StoredMessage {
    let mail_from = super::header_value(&raw, "Return-Path").map(|a| super::strip_brackets(&a));
    let rcpt = super::header_value(&raw, "X-Original-To")
        .or_else(|| super::header_value(&raw, "Delivered-To"));
    let content = super::lf_to_crlf(strip_trace_headers(&raw));
    StoredMessage {
        mail_from,
        rcpt_to: rcpt.into_iter().collect(),
        mail_params: Vec::new(),
        rcpt_params: Vec::new(),
        login: None,
        raw,
        content,
        path: path.to_path_buf(),
    }
}

/// `raw` after the headers Postfix prepends: `Return-Path:`, `X-Original-To:`,
/// `Delivered-To:`, then the first `Received:` (with its continuation lines).
fn strip_trace_headers(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    let mut received_seen = false;
    loop {
        let line_end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_end];
        let name = |n: &str| {
            line.len() > n.len()
                && line[..n.len()].eq_ignore_ascii_case(n.as_bytes())
                && line[n.len()] == b':'
        };
        let is_continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        let drop_line = if received_seen {
            is_continuation
        } else if name("Received") {
            received_seen = true;
            true
        } else {
            name("Return-Path") || name("X-Original-To") || name("Delivered-To")
        };
        if !drop_line || line.is_empty() {
            return rest;
        }
        rest = &rest[line_end..];
    }
}

/// Stops master (SIGTERM: it stops its children), then SIGKILLs what is left of this
/// instance: the processes of master's process group whose environment names this
/// instance's configuration directory (`MAIL_CONFIG`, which master passes on).
fn kill_group(master: &mut Child, config: &Path) {
    let pgid = master.id();
    super::stop_child(master, true);
    let marker = format!("MAIL_CONFIG={}", config.display()).into_bytes();
    for pid in group_members(pgid) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ
            .split(|&b| b == 0)
            .any(|var| var == marker.as_slice())
        {
            super::signal(pid, "KILL");
        }
    }
}

/// The processes whose process group is `pgid` (from `/proc/<pid>/stat`).
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // pid (comm) state ppid pgrp ...: comm may contain spaces.
                    let after = &stat[stat.rfind(')')? + 1..];
                    after.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .collect()
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- Postfix log ({}, smtpd on {})\n{}",
                self.dir.path().display(),
                self.addr,
                self.log()
            );
        }
        let config = self.config();
        kill_group(&mut self.master, &config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_headers_are_stripped() {
        let raw = b"Return-Path: <s@x>\nX-Original-To: a@peer.example\nDelivered-To: a@peer.example\nReceived: from c (localhost [127.0.0.1])\n\tby mx (Postfix) with ESMTP id 1\n\tfor <a@peer.example>; date\nSubject: s\nReceived: kept\n\nbody\n";
        assert_eq!(
            strip_trace_headers(raw),
            b"Subject: s\nReceived: kept\n\nbody\n"
        );
        let message = parse_delivered(Path::new("x"), raw.to_vec());
        assert_eq!(message.mail_from.as_deref(), Some("s@x"));
        assert_eq!(message.rcpt_to, ["a@peer.example"]);
        assert_eq!(
            message.content,
            b"Subject: s\r\nReceived: kept\r\n\r\nbody\r\n"
        );
    }
}

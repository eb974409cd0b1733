//! # The relay: routing, retries, dispatch, spool, notices
//!
//! The rules [`relay`](crate::relay) follows, by ID; the tests carry the IDs in their names
//! (`tests/tests/relay_queue.rs`, `relay_routing.rs`, `relay_dsn.rs` in virtual time,
//! `relay.rs` end to end, and the relay program's unit tests). *(choice)* marks a decision
//! no RFC fixes.
//!
//! ## Routing (RT) and MX selection (MX, NMX, DNS)
//!
//! | ID | rule |
//! |---|---|
//! | RT-01, RT-02 | a smart host is connected to directly, no MX lookup, unless asked (`Route::SmartHost { mx_lookup }`, explicit instead of Postfix's brackets) |
//! | RT-03 | a smart host on 587 needs STARTTLS; on 465 TLS starts at once |
//! | RT-04 | connection refused, timeouts, 4xx greetings defer; transport trouble never bounces |
//! | RT-05 | a 5xx to one RCPT bounces that recipient only |
//! | RT-06 | an AUTH failure at the smart host defers and is logged as an operator error (Postfix `smtp_sasl_auth_soft_bounce`) |
//! | RT-07 | routing is per recipient domain, compared without ASCII case |
//! | RT-08 | *(choice)* an IPv4/IPv6 address literal is delivered to that address without DNS; a general literal bounces 5.1.2 |
//! | RT-09 | *(choice)* the relay has no local mailboxes: every accepted recipient is relayed; `<Postmaster>` is refused `550 5.1.1` (a deviation from RFC 5321 §4.5.1, which a relay with no mailbox cannot honour) |
//! | MX-01, MX-02 | candidates by preference; equal preferences in random order (an injected seed) |
//! | MX-03, MX-04, MX-05 | no MX records: the domain itself (A and AAAA), preference 0; no address either: bounce 5.1.2 |
//! | MX-06, MX-07 | NXDOMAIN bounces 5.1.2; SERVFAIL, timeouts and the like defer 4.4.3, never bounce |
//! | MX-08 | with MX records the domain's own addresses are never a fallback |
//! | MX-09, MX-10 | an attempt with any temporary failure on the way defers; only when every MX host is definitely unusable does it bounce 5.4.4 |
//! | MX-11 | our own record and every record at its preference or worse are dropped; nothing left is a loop, 5.4.6 |
//! | MX-12 | *(choice)* an IP address as exchange is skipped (the field must be a name) |
//! | MX-13 | at most 5 addresses and 2 sessions that reached a greeting per attempt (Postfix's limits) |
//! | MX-14 | a next hop greeting with our name: at the best preference a loop (5.4.6), else 4.4.6 and the next host |
//! | MX-15, MX-16 | a failed greeting or EHLO moves to the next address; a 5xx to RCPT is final |
//! | MX-17 | *(choice)* an address that refused a connection is skipped for 10 minutes (bounded memory) |
//! | NMX-01…NMX-03, NMX-05 | a null MX (only root exchanges, any preference) fails at once, 556 5.1.10; beside real records it is ignored; a bounce to such a sender is not bounced again |
//! | DNS-01, DNS-03 | a temporary DNS failure defers and every retry asks DNS again; the resolver caches by TTL |
//!
//! ## The queue (Q) and dispatch (DSP)
//!
//! | ID | rule |
//! |---|---|
//! | Q-01 | a deferred recipient waits the message's age clamped to [300 s, 4000 s] (Postfix's back-off) |
//! | Q-02, Q-03, Q-04 | after 5 days (bounces too) give up: 5.4.7 with the last reply as diagnostic; lifetime 0 is one attempt |
//! | Q-05 | a destination where no connection could be opened waits `min_backoff`; its retry probes with one connection, and each success widens the window again |
//! | Q-06 | a success at a destination that was backing off makes its deferred mail due at once |
//! | Q-07 | mixed results: 2xx settled, 5xx bounced, only the 4xx recipients stay |
//! | Q-09 | the queue never reads a clock; `poll_timeout` names the next moment |
//! | DSP-01, DSP-02 | every due message is grouped by destination before connections are assigned (Twisted's `_checkStateMX` starvation) |
//! | DSP-03 | 5 connections per destination to start, at most 20, 100 in all |
//! | DSP-04 | at most 50 recipients per transaction |
//! | DSP-05 | *(choice)* at most 100 transactions per connection (Twisted stored its limit and never read it) |
//! | DSP-06 | idle connections are reused, closed after 2 s idle, never reused after 300 s |
//! | DSP-07 | a reused connection found dead is replaced without counting an attempt |
//! | DSP-08 | new connections round-robin over destinations, one per destination per round |
//! | DSP-09 | the submitting client's 250 comes when the message is spooled, never after the remote delivery |
//!
//! ## Relay authorisation (AZ), spool (SPL), trace (RCV)
//!
//! | ID | rule |
//! |---|---|
//! | AZ-01…AZ-03 | relaying only for authenticated clients or trusted networks (default 127.0.0.0/8 and ::1); everyone else `554 5.7.1 <rcpt>: Relay access denied` at RCPT |
//! | AZ-04 | behind a balancer the real client (PROXY header, XCLIENT) is checked, never the balancer |
//! | AZ-05…AZ-09 | the sender authorises nothing; `%`, `!`, quoted and source-routed recipients and address literals get the same check |
//! | SPL-01…SPL-04 | a message is written to `tmp/`, fsynced, renamed into `queue/`, the directory fsynced, then 250; half-written files are swept at start; a crash at any step leaves all or nothing |
//! | SPL-05 | settled recipients are appended, fsynced, before they are reported; a torn record is ignored |
//! | SPL-06 | no reply to the end of data: deferred, retried (a possible duplicate, RFC 1047) |
//! | SPL-07 | an unreadable or unknown-version queue file is moved aside, never deleted |
//! | SPL-08 | a full queue or a failed spool write answers `452 4.3.1` |
//! | SPL-09 | queue identifiers are never reused |
//! | RCV-01…RCV-05, RCV-07 | one Received header prepended, `for` only with one recipient, `with` per RFC 3848/6531, client names sanitised; no Return-Path |
//! | RCV-08…RCV-10 | *(choice)* 50 Received fields in the header section (not the body) are refused at the end of data, `554 5.4.6` |
//!
//! ## Delivery status notifications (DSN) and pass-through (PT)
//!
//! | ID | rule |
//! |---|---|
//! | DSN-01, DSN-02, DSN-12 | `Reporting-MTA`, `Arrival-Date`, `Original-Envelope-Id`; per recipient `Final-Recipient`, `Action`, `Status`, `Original-Recipient`, `Remote-MTA`, `Diagnostic-Code`, `Last-Attempt-Date`, `Will-Retry-Until` |
//! | DSN-03 | the status class agrees with the action |
//! | DSN-04 | diagnostics lose controls and 8-bit octets and are folded: no header injection |
//! | DSN-05, DSN-06 | never for a message from `<>`; sent from `<>`, `From: MAILER-DAEMON@…`, `Auto-Submitted: auto-replied` |
//! | DSN-07 | one notice per message and event, every affected recipient in it |
//! | DSN-08 | *(choice)* RET=FULL returns the message up to 1 MiB, else (and by default) the header section |
//! | DSN-09, DSN-10 | NOTIFY decides: NEVER none, absent failures only, DELAY a single delay notice when `delay_warning` is set (off by default) |
//! | DSN-11 | UTF-8 addresses make a `message/global-delivery-status` notice, sent with SMTPUTF8 |
//! | PT-01, PT-03 | DSN parameters go on when the next hop offers DSN; else a `relayed` notice for NOTIFY=SUCCESS |
//! | PT-02 | *(choice)* no ORCPT is added |
//! | PT-08 | a notice about a REQUIRETLS message quotes its header section only |

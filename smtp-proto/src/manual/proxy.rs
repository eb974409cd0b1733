//! # Behind a load balancer: PROXY protocol and XCLIENT
//!
//! The rows are `manual::proxy`'s (PX-1…PX-12 for the PROXY stage, PXV1-*, PXV2-*, PXV-X* for
//! its vectors, XC-01…XC-15 for XCLIENT); the tests carry the row IDs in their names
//! (`tests/tests/proxy.rs`, `xclient.rs`, `proxy_adapters.rs`, `haproxy.rs`, and the
//! parser's unit tests in `smtp-proto/src/proxy/tests.rs`). The choices this crate made:
//!
//! | row | choice |
//! |---|---|
//! | PX-2 | a socket peer outside `ProxyConfig::trusted` is closed at once, without a byte (not served as a direct client) |
//! | PX-4 | header timeout 5 s (Postfix's default), served through the connection's read deadline |
//! | PX-5 | a malformed, over-long or wrong-version header closes without a reply (no `421`) |
//! | PX-8 | v2 lengths above 1024 octets (`ProxyConfig::max_length`, at least 216) close at once, without reading them |
//! | PXV1-14 | bytes after the header in the same read are input that came before the greeting: the pre-greeting rule (SMG-P5) answers them |
//! | PXV2-08 | UDP and UNIX families are accepted with the socket's addresses |
//! | PXV2-11 | `UNIQUE_ID` (at most 128 octets, longer closes) and `AUTHORITY` (printable UTF-8) are exposed; `SSL`'s client bit as `client_tls` (never our TLS); others skipped |
//! | PXV2-13 | the CRC32C TLV is verified; a mismatch closes |
//! | PXV-X4 | the effective client (`ConnectionInfo::peer`) is the header's; the balancer is `ConnectionInfo::proxy`, so loopback trust can be given to the balancer and never to the client it names |
//! | XC-02 | unauthorised: `550 5.7.0 Error: insufficient authorization`, session unchanged, also when no network is configured |
//! | XC-06, XC-08, XC-09 | bad syntax, an unknown or repeated attribute, an empty value, a value that decodes to a control octet or invalid UTF-8: `501 5.5.4` |
//! | XC-07 | `[UNAVAILABLE]` and `[TEMPUNAVAIL]` (any case) are accepted for every attribute and leave the connection's facts unchanged |
//! | XC-10 | `LOGIN` authenticates only with `ServerConfig::xclient_trusts_login` (off by default) |
//! | XC-11, XC-15 | authorisation is decided on the socket peer, once per connection: a second XCLIENT is allowed; an address from a PROXY header or an earlier XCLIENT never authorises XCLIENT |
//! | XC-13 | XCLIENT does not end a pipelined group: `XCLIENT …` and `EHLO` in one write get `220` then `250` |
//!
//! Why an in-crate parser rather than `ppp` or `proxy-header`: see [`crate::proxy`].

//! SASL for AUTH (RFC 4954): strict base64, and the PLAIN (RFC 4616) and LOGIN
//! (draft-murchison-sasl-login-00) mechanisms.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::secret::Secret;

/// RFC 4648 §4 base64 as RFC 4954 §4 requires it: standard alphabet, canonical padding,
/// no trailing bits, nothing else (Exim CVE-2018-6789 came from a lax decoder).
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes one client response line. `=` alone is the empty response (RFC 4954 §4).
pub fn decode_response(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"=" {
        return Some(Vec::new());
    }
    STRICT.decode(line).ok()
}

/// Encodes a server challenge for a `334` reply.
pub fn encode_challenge(data: &[u8]) -> String {
    STRICT.encode(data)
}

/// The identity and password of a PLAIN or LOGIN exchange. `Debug` never shows the
/// password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, if the client asked for one (PLAIN `authzid`).
    pub authzid: Option<String>,
    /// The identity whose password this is (PLAIN `authcid`, LOGIN user name).
    pub username: String,
    /// The password.
    pub password: Secret<String>,
}

/// Parses a decoded PLAIN message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2): exactly
/// two NULs, non-empty authcid and passwd, UTF-8, and no controls in any field (a decoded
/// CR or LF must never reach a log line or a lookup; OpenSMTPD checks the same).
pub fn parse_plain(message: &[u8]) -> Option<Credentials> {
    let mut fields = message.split(|&b| b == 0);
    let (authzid, authcid, passwd) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || authcid.is_empty() || passwd.is_empty() {
        return None;
    }
    Some(Credentials {
        authzid: if authzid.is_empty() {
            None
        } else {
            Some(field(authzid)?)
        },
        username: field(authcid)?,
        password: Secret::new(field(passwd)?),
    })
}

/// One LOGIN field (user name or password): UTF-8 without controls, 1 to 255 octets
/// (the RFC 4616 §2 bound, which LOGIN implementations share).
pub fn login_field(decoded: Vec<u8>) -> Option<String> {
    if decoded.is_empty() {
        return None;
    }
    field(&decoded)
}

fn field(bytes: &[u8]) -> Option<String> {
    if bytes.len() > 255 || bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return None;
    }
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

/// The LOGIN challenges: base64 of `Username:` and `Password:` ([MS-XLOGIN] §2.2).
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// See [`LOGIN_USERNAME_CHALLENGE`].
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_base64() {
        assert_eq!(decode_response(b"dXNlcg=="), Some(b"user".to_vec()));
        assert_eq!(decode_response(b"="), Some(Vec::new()));
        assert_eq!(decode_response(b"AAA"), None, "length 3");
        assert_eq!(decode_response(b"\xff\xff\xff\xff"), None, "8-bit octets");
        assert_eq!(decode_response(b"QQ=A"), None, "padding inside");
        assert_eq!(decode_response(b"dXNlcg"), None, "padding missing");
        assert_eq!(decode_response(b"dXNlch=="), None, "trailing bits");
        assert_eq!(decode_response(b"!!!!"), None);
        assert_eq!(encode_challenge(b"Username:"), LOGIN_USERNAME_CHALLENGE);
        assert_eq!(encode_challenge(b"Password:"), LOGIN_PASSWORD_CHALLENGE);
    }

    #[test]
    fn plain_messages() {
        let c = parse_plain(b"\0user\0pass").expect("valid");
        assert_eq!(
            (c.authzid, c.username.as_str(), c.password.expose().as_str()),
            (None, "user", "pass")
        );
        let c = parse_plain(b"admin\0user\0pass").expect("valid");
        assert_eq!(c.authzid.as_deref(), Some("admin"));
        assert_eq!(parse_plain(b"user\0pass"), None, "one NUL");
        assert_eq!(parse_plain(b"\0user\0pass\0"), None, "three NULs");
        assert_eq!(parse_plain(b"\0\0pass"), None, "empty authcid");
        assert_eq!(parse_plain(b"\0user\0"), None, "empty password");
        assert_eq!(parse_plain(b"\0us\r\ner\0pass"), None, "CR LF");
        assert_eq!(parse_plain(b"\0user\0\xc3\x28"), None, "bad UTF-8");
        assert_eq!(parse_plain(b""), None);
        let long = [b"\0user\0".as_slice(), &[b'p'; 255]].concat();
        assert!(parse_plain(&long).is_some(), "255-octet password");
        let longer = [b"\0user\0".as_slice(), &[b'p'; 256]].concat();
        assert!(parse_plain(&longer).is_none());
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse_plain(b"\0user\0hunter2").expect("valid");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("user") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}

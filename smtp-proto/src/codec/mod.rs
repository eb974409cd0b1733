//! Pure functions and types of the SMTP grammar: no state beyond what a resumable decoder
//! needs, no I/O. The server session (`crate::server`) orchestrates them.

pub mod address;
pub mod command;
pub mod data;
mod datetime;
pub mod ehlo;
pub mod params;
#[cfg(test)]
mod reference;
pub mod reply;
pub mod sasl;
pub mod stuffing;
mod xtext;

pub use ehlo::{AuthMechanism, Capabilities, EhloError, Extension, FutureRelease, ServerLimits};
pub use reply::{FromWireError, ParsedReply, ReplyLimits, ReplyLine, ReplyParseError, ReplyParser};

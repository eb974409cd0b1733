//! `smtp_proto::fuzzing::server_bytes` under libFuzzer.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| smtp_proto::fuzzing::server_bytes(data));

//! `smtp_proto_tests::fuzzing::client_replies` under libFuzzer.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| smtp_proto_tests::fuzzing::client_replies(data));

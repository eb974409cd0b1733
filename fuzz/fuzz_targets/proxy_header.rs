//! `smtp_proto_tests::fuzzing::proxy_header` under libFuzzer.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| smtp_proto_tests::fuzzing::proxy_header(data));

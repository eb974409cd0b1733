//! `smtp_proto_tests::fuzzing::content_kernels` under libFuzzer.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| smtp_proto_tests::fuzzing::content_kernels(data));

//! A POST body as the HTTP front classifies it (method in one pass, then the full parse),
//! and the same bytes as the stdio loop reads a line.
#![no_main]

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    platform_runtime::__fuzz::classify_body(body);
});

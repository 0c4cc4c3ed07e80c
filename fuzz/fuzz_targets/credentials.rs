//! The credentials a client sends, as authentication reads them before any signature check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    platform_runtime::__fuzz::credentials(data);
});

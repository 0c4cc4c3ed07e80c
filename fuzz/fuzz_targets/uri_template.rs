//! A template and a URI, split at the first newline: match, compare with exhaustive search
//! on short inputs, check the values are safe path components.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &str| {
    let (template, uri) = input.split_once('\n').unwrap_or(("notes://{id}", input));
    platform_runtime::__fuzz::match_template(template, uri);
});

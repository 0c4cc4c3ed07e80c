//! A schema and string arguments (two JSON objects, split at the first newline), coerced
//! and taken as typed arguments.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let split = input.iter().position(|b| *b == b'\n').unwrap_or(input.len());
    let (schema, values) = input.split_at(split);
    platform_runtime::__fuzz::coerce(schema, values.get(1..).unwrap_or_default());
});

//! The YAML server config: `kes::config::parse` (environment substitution, YAML, validation).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `${NAME}` resolves to a fixed value, so substitution is exercised without
    // reading the real environment.
    let _ = kes::config::parse(text, Path::new("/nonexistent-fuzz-base"), |name| {
        (name.len() < 8).then(|| format!("v-{name}"))
    });
});

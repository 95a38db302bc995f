//! API keys (`kes:v1:…`) as the CLI and config accept them: `client::apikey::ApiKey::parse`.
#![no_main]

use client::apikey::ApiKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        // An accepted key prints as a key that parses to the same identity.
        let again = ApiKey::parse(&key.to_string());
        assert_eq!(again.map(|k| k.identity()).ok(), Some(key.identity()));
    }
});

//! Request paths against policy patterns: `routes::canonical_path` → `routes::find` →
//! `routes::routed_path` (through the `fuzzing` hook) and `policy::matches` /
//! `Policy::permits`. Input: `pattern\npath` (no newline: the whole input is the path,
//! checked against a fixed set of patterns).
#![no_main]

use kes::policy::{Policy, matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, raw) = text
        .split_once('\n')
        .unwrap_or(("/v1/key/generate/app-*", text));
    let _ = matches(pattern, raw);
    let policy = Policy {
        allow: vec![pattern.to_owned(), "/v1/key/generate/app-*".to_owned()],
        deny: vec!["/v1/key/generate/app-deny*".to_owned()],
    };
    if let Some(routed) = kes::fuzzing::route(raw) {
        // The routed path is what policies see; without `%` (which a second
        // decoding would change: the server decodes once) it must itself be
        // canonical and route to the same path.
        if !routed.contains('%') {
            assert_eq!(
                kes::fuzzing::route(&routed).as_deref(),
                Some(routed.as_str())
            );
        }
        let _ = policy.permits(&routed);
    }
});

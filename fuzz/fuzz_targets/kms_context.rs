//! The SSE-KMS context header (`x-amz-server-side-encryption-context`, base64 JSON object of
//! strings): `sse::context::parse_header`, and the encoding it feeds to KES.
#![no_main]

use libfuzzer_sys::fuzz_target;
use object_server::sse::context;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ctx) = context::parse_header(text) {
        // The encoded context is JSON that parses back to the same map.
        let encoded = context::encode(&ctx);
        let back: Result<context::Context, _> = serde_json::from_slice(&encoded);
        assert_eq!(back.ok(), Some(ctx.clone()));
        let _ = context::object_context(Some(&ctx), "bucket", "object");
    }
});

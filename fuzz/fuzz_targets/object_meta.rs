//! The object metadata formats: the record-file trailer and JSON (`storage::file::read_meta`
//! for `ObjectMeta` and `UploadMeta`) and the internal encryption metadata
//! (`sse::meta::ObjectEncryption::from_metadata`). The file is one temp file per process,
//! rewritten for each input.
#![no_main]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use object_server::sse::meta::ObjectEncryption;
use object_server::storage::file::{ObjectMeta, UploadMeta, read_meta};

static FILE: LazyLock<Mutex<std::path::PathBuf>> = LazyLock::new(|| {
    Mutex::new(std::env::temp_dir().join(format!("kes-fuzz-object-meta-{}", std::process::id())))
});

fuzz_target!(|data: &[u8]| {
    if let Ok(guard) = FILE.lock() {
        let path: &std::path::Path = &guard;
        let written = std::fs::File::create(path).and_then(|mut f| f.write_all(data));
        if written.is_ok()
            && let Ok(f) = std::fs::File::open(path)
        {
            let _ = read_meta::<ObjectMeta>(&f);
            let _ = read_meta::<UploadMeta>(&f);
        }
    }
    // Internal metadata: one `key=value` entry per line.
    if let Ok(text) = std::str::from_utf8(data) {
        let internal: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if let Ok(enc) = ObjectEncryption::from_metadata(&internal) {
            // What parses writes back to entries that parse to the same state.
            let mut out = BTreeMap::new();
            enc.write_metadata(&mut out, false);
            let again = ObjectEncryption::from_metadata(&out).ok();
            assert_eq!(again.map(|a| a.is_encrypted()), Some(enc.is_encrypted()));
        }
    }
});

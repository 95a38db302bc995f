//! How the object operations use [`super::checksum`]: what a write computes and checks, the
//! checksum configuration of a multipart upload, the object checksum at completion, and what
//! GET/HEAD (`ChecksumMode=ENABLED`), ListParts and GetObjectAttributes return.
//!
//! Stored state: the object checksum in `internal[META_CHECKSUM]`, part checksums in the part
//! records, an upload's algorithm and type in its template's `internal[META_UPLOAD_CHECKSUM]`
//! (`<ALGO>:<TYPE>[:default]`; `default` when the client named none: CRC64NVME, full object).

use http::HeaderMap;
use s3s::TrailingHeaders;
use s3s::dto::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedPart};

use super::checksum::{self, Algo, Checksum, Digests, Kind, Requested};
use crate::error::{Error, Result};
use crate::sse::Keyed;
use crate::storage::ObjectMeta;

/// Internal metadata entry holding the object checksum.
pub(crate) const META_CHECKSUM: &str = "X-Objsrv-Internal-Checksum";
/// Internal metadata entry of an upload template: its checksum algorithm and type.
pub(crate) const META_UPLOAD_CHECKSUM: &str = "X-Objsrv-Internal-Checksum-Config";

/// The checksum S3 computes when the client names none.
pub(crate) const DEFAULT_ALGO: Algo = Algo::Crc64Nvme;

/// What one body write computes and verifies.
#[derive(Debug)]
pub(super) struct WritePlan {
    /// The checksum the request carries, if any.
    requested: Option<Requested>,
    /// The algorithm stored.
    store: Algo,
}

impl WritePlan {
    /// A PutObject: the requested algorithm, else `fallback` (CRC64NVME, or a copy source's).
    pub(super) fn new(headers: &HeaderMap, fallback: Algo) -> Result<Self> {
        let requested = checksum::requested(headers)?;
        let store = requested.as_ref().map_or(fallback, |r| r.algo);
        Ok(WritePlan { requested, store })
    }

    /// An UploadPart / UploadPartCopy of an upload configured with `config`.
    pub(super) fn part(headers: &HeaderMap, config: &UploadConfig) -> Result<Self> {
        let requested = checksum::requested(headers)?;
        if config.explicit
            && let Some(r) = &requested
            && r.algo != config.algo
        {
            return Err(Error::InvalidRequest(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                config.algo.name().to_ascii_lowercase(),
                r.algo.name().to_ascii_lowercase()
            )));
        }
        Ok(WritePlan {
            requested,
            store: config.algo,
        })
    }

    /// The algorithms to compute.
    pub(super) fn algos(&self) -> Vec<Algo> {
        let mut v = vec![self.store];
        if let Some(r) = &self.requested
            && r.algo != self.store
        {
            v.push(r.algo);
        }
        v
    }

    /// Verifies the sent value and returns the checksum to store (full-object form).
    pub(super) fn finish(
        &self,
        digests: &Digests,
        trailers: Option<&TrailingHeaders>,
    ) -> Result<Checksum> {
        if let Some(r) = &self.requested {
            r.verify(digests, trailers)?;
        }
        let raw = digests
            .get(self.store)
            .ok_or_else(|| Error::internal("checksum not computed"))?;
        Ok(Checksum::full(self.store, raw))
    }
}

/// A multipart upload's checksum configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UploadConfig {
    /// Algorithm of the parts and the object.
    pub algo: Algo,
    /// Type of the object checksum.
    pub kind: Kind,
    /// Whether the client named it (else the CRC64NVME default, not echoed).
    pub explicit: bool,
}

impl UploadConfig {
    /// From CreateMultipartUpload's `x-amz-checksum-algorithm` / `x-amz-checksum-type`.
    pub(super) fn new(
        algo: Option<&ChecksumAlgorithm>,
        kind: Option<&ChecksumType>,
    ) -> Result<Self> {
        let Some(algo) = algo else {
            if kind.is_some() {
                return Err(Error::InvalidRequest(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                        .to_owned(),
                ));
            }
            return Ok(UploadConfig {
                algo: DEFAULT_ALGO,
                kind: Kind::FullObject,
                explicit: false,
            });
        };
        let algo = Algo::of(algo)?;
        let kind = match kind.map(ChecksumType::as_str) {
            None if algo == Algo::Crc64Nvme => Kind::FullObject,
            None | Some(ChecksumType::COMPOSITE) => Kind::Composite,
            Some(ChecksumType::FULL_OBJECT) => Kind::FullObject,
            Some(_) => {
                return Err(Error::InvalidRequest(
                    "Value for x-amz-checksum-type header is invalid.".to_owned(),
                ));
            }
        };
        let refused = match kind {
            Kind::FullObject => !algo.is_crc(),
            Kind::Composite => algo == Algo::Crc64Nvme,
        };
        if refused {
            return Err(Error::InvalidRequest(format!(
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                kind.name(),
                algo.name().to_ascii_lowercase()
            )));
        }
        Ok(UploadConfig {
            algo,
            kind,
            explicit: true,
        })
    }

    /// The stored form.
    pub(super) fn encode(&self) -> String {
        let mut s = format!("{}:{}", self.algo.name(), self.kind.name());
        if !self.explicit {
            s.push_str(":default");
        }
        s
    }

    /// The configuration of an upload template (uploads from before checksums: the default).
    pub(super) fn of(template: &ObjectMeta) -> Self {
        let parsed = template.internal.get(META_UPLOAD_CHECKSUM).and_then(|s| {
            let mut it = s.split(':');
            let algo = Algo::parse(it.next()?)?;
            let kind = match it.next()? {
                ChecksumType::COMPOSITE => Kind::Composite,
                _ => Kind::FullObject,
            };
            Some(UploadConfig {
                algo,
                kind,
                explicit: it.next() != Some("default"),
            })
        });
        parsed.unwrap_or(UploadConfig {
            algo: DEFAULT_ALGO,
            kind: Kind::FullObject,
            explicit: false,
        })
    }

    /// `(algorithm, type)` for responses that echo an explicit configuration.
    pub(super) fn echoed(&self) -> (Option<ChecksumAlgorithm>, Option<ChecksumType>) {
        if self.explicit {
            (
                Some(ChecksumAlgorithm::from(self.algo.name().to_owned())),
                Some(self.kind.dto()),
            )
        } else {
            (None, None)
        }
    }
}

/// The value a CompleteMultipartUpload part entry gives for `algo`, if any.
fn sent_part_checksum(p: &CompletedPart, algo: Algo) -> Option<&String> {
    match algo {
        Algo::Crc32 => p.checksum_crc32.as_ref(),
        Algo::Crc32c => p.checksum_crc32c.as_ref(),
        Algo::Crc64Nvme => p.checksum_crc64nvme.as_ref(),
        Algo::Sha1 => p.checksum_sha1.as_ref(),
        Algo::Sha256 => p.checksum_sha256.as_ref(),
    }
}

/// One completed part as the checksum sees it.
#[derive(Debug)]
pub(super) struct CompletingPart<'a> {
    /// The client's entry.
    pub sent: &'a CompletedPart,
    /// The stored part checksum (stored form), if the part has one.
    pub stored: Option<&'a str>,
    /// Plaintext length.
    pub size: u64,
}

/// The object checksum of a completed upload: every part's stored checksum must match what
/// the client lists (`InvalidPart` otherwise); a full-object value sent in the request headers
/// must match the result (`BadDigest`). `None` when a part has no checksum.
pub(super) fn complete(
    config: &UploadConfig,
    parts: &[CompletingPart<'_>],
    keyed: Option<&Keyed>,
    headers: &HeaderMap,
) -> Result<Option<Checksum>> {
    let mut raws: Vec<(Vec<u8>, u64)> = Vec::with_capacity(parts.len());
    for p in parts {
        let Some(stored) = p.stored.and_then(|s| Checksum::decode(s, keyed)) else {
            return Ok(None);
        };
        if stored.algo != config.algo {
            return Ok(None);
        }
        if let Some(sent) = sent_part_checksum(p.sent, config.algo)
            && sent.trim() != stored.value
        {
            return Err(Error::InvalidPart);
        }
        let raw = stored
            .raw()
            .ok_or_else(|| Error::internal("stored part checksum"))?;
        raws.push((raw, p.size));
    }
    let result = match config.kind {
        Kind::Composite => checksum::composite(
            config.algo,
            &raws.into_iter().map(|(r, _)| r).collect::<Vec<_>>(),
        ),
        Kind::FullObject => checksum::combined(config.algo, &raws)
            .ok_or_else(|| Error::internal("full-object checksum of a non-CRC algorithm"))?,
    };
    if config.kind == Kind::FullObject
        && let Some(v) = headers.get(config.algo.header())
        && v.to_str().map(str::trim).ok() != Some(result.value.as_str())
    {
        return Err(Error::ChecksumMismatch(config.algo.name()));
    }
    Ok(Some(result))
}

/// Stores `c` in an object's internal metadata (sealed when the object is encrypted).
pub(super) fn store(meta: &mut ObjectMeta, c: &Checksum, keyed: Option<&Keyed>) -> Result<()> {
    meta.internal
        .insert(META_CHECKSUM.to_owned(), c.encode(keyed)?);
    Ok(())
}

/// The stored checksum of an object, readable with `keyed` (encrypted objects).
pub(super) fn of_object(meta: &ObjectMeta, keyed: Option<&Keyed>) -> Option<Checksum> {
    Checksum::decode(meta.internal.get(META_CHECKSUM)?, keyed)
}

/// The algorithm of an object's stored checksum (readable without the key).
pub(super) fn algo_of(meta: &ObjectMeta) -> Option<Algo> {
    checksum::header_of(meta.internal.get(META_CHECKSUM)?).map(|(a, _, _)| a)
}

/// Whether `ChecksumMode=ENABLED`.
pub(super) fn enabled(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_configurations() {
        let a = |s: &'static str| ChecksumAlgorithm::from_static(s);
        let t = |s: &'static str| ChecksumType::from_static(s);
        let c = UploadConfig::new(Some(&a("CRC32")), None).unwrap();
        assert_eq!(
            (c.algo, c.kind, c.explicit),
            (Algo::Crc32, Kind::Composite, true)
        );
        let c = UploadConfig::new(Some(&a("CRC64NVME")), None).unwrap();
        assert_eq!(c.kind, Kind::FullObject);
        let c = UploadConfig::new(Some(&a("CRC32C")), Some(&t("FULL_OBJECT"))).unwrap();
        assert_eq!(c.kind, Kind::FullObject);
        let d = UploadConfig::new(None, None).unwrap();
        assert_eq!(
            (d.algo, d.kind, d.explicit),
            (Algo::Crc64Nvme, Kind::FullObject, false)
        );
        for (algo, kind) in [
            (Some("SHA256"), Some("FULL_OBJECT")),
            (Some("CRC64NVME"), Some("COMPOSITE")),
            (None, Some("COMPOSITE")),
            (Some("MD5"), None),
            (Some("CRC32"), Some("PARTIAL")),
        ] {
            let r = UploadConfig::new(algo.map(a).as_ref(), kind.map(t).as_ref());
            assert!(
                matches!(r, Err(Error::InvalidRequest(_))),
                "{algo:?} {kind:?}"
            );
        }
        for c in [c, d] {
            let mut meta = crate::s3::object::tests_meta();
            meta.internal
                .insert(META_UPLOAD_CHECKSUM.to_owned(), c.encode());
            assert_eq!(UploadConfig::of(&meta), c);
        }
    }

    #[test]
    fn part_algorithms_must_match_an_explicit_upload() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-checksum-crc32c",
            http::HeaderValue::from_static("AAAAAA=="),
        );
        let explicit = UploadConfig {
            algo: Algo::Crc32,
            kind: Kind::Composite,
            explicit: true,
        };
        assert!(matches!(
            WritePlan::part(&h, &explicit),
            Err(Error::InvalidRequest(_))
        ));
        let default = UploadConfig {
            explicit: false,
            ..UploadConfig::of(&crate::s3::object::tests_meta())
        };
        let plan = WritePlan::part(&h, &default).unwrap();
        assert_eq!(plan.algos(), vec![Algo::Crc64Nvme, Algo::Crc32c]);
    }
}

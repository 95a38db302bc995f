//! Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256) as S3 defines them.
//!
//! * A request names at most one algorithm: an `x-amz-checksum-<algo>` header with the value,
//!   or `x-amz-trailer: x-amz-checksum-<algo>` with the value in the aws-chunked trailer
//!   (s3s verifies the trailer's signature and hands it over once the body is read);
//!   `x-amz-sdk-checksum-algorithm` must agree. The value is checked against the checksum of
//!   the received plaintext: a mismatch is `BadDigest`, a malformed request `InvalidRequest`.
//! * Every object gets a checksum: the one the client named, else CRC64NVME (as S3 does since
//!   2024). Single-part objects and full-object multipart checksums are `FULL_OBJECT`
//!   (multipart CRCs are combined from the part CRCs); a composite multipart checksum is the
//!   checksum of the concatenated binary part checksums, suffixed `-<parts>`.
//! * Stored as `<ALGO>:<TYPE>:<value>` ([`Checksum::encode`]). For encrypted objects the value
//!   is sealed (DARE, key `HMAC-SHA256(OEK, "SSE-checksum")`, `~<hex>`), so a checksum of the
//!   plaintext never rests in the clear next to ciphertext; an SSE-C object's checksum can only
//!   be read with the customer key.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crc_fast::{CrcAlgorithm, Digest as CrcDigest};
use http::HeaderMap;
use s3s::TrailingHeaders;
use s3s::dto::{ChecksumAlgorithm, ChecksumType};

use crate::error::{Error, Result};
use crate::sse::Keyed;

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    /// CRC-32 (ISO-HDLC, as zlib).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// Every algorithm, in S3's header order.
pub const ALL: [Algo; 5] = [
    Algo::Crc32,
    Algo::Crc32c,
    Algo::Crc64Nvme,
    Algo::Sha1,
    Algo::Sha256,
];

impl Algo {
    /// S3's name (`CRC32`, …, `SHA256`).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Crc32 => "CRC32",
            Algo::Crc32c => "CRC32C",
            Algo::Crc64Nvme => "CRC64NVME",
            Algo::Sha1 => "SHA1",
            Algo::Sha256 => "SHA256",
        }
    }

    /// The header carrying a value (`x-amz-checksum-crc32`, …).
    pub fn header(self) -> &'static str {
        match self {
            Algo::Crc32 => "x-amz-checksum-crc32",
            Algo::Crc32c => "x-amz-checksum-crc32c",
            Algo::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algo::Sha1 => "x-amz-checksum-sha1",
            Algo::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Parses a name, any case.
    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The algorithm of an s3s value.
    pub fn of(a: &ChecksumAlgorithm) -> Result<Self> {
        Self::parse(a.as_str()).ok_or_else(|| {
            Error::InvalidRequest("Checksum algorithm provided is unsupported.".to_owned())
        })
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algo::Crc32 | Algo::Crc32c => 4,
            Algo::Crc64Nvme => 8,
            Algo::Sha1 => 20,
            Algo::Sha256 => 32,
        }
    }

    fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            Algo::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            Algo::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            Algo::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            Algo::Sha1 | Algo::Sha256 => None,
        }
    }

    /// Whether a full-object checksum can be combined from part checksums (the CRCs).
    pub fn is_crc(self) -> bool {
        self.crc().is_some()
    }
}

/// The big-endian bytes of a CRC value (4 or 8 bytes, as S3 encodes them).
fn crc_bytes(algo: Algo, v: u64) -> Vec<u8> {
    if algo == Algo::Crc64Nvme {
        v.to_be_bytes().to_vec()
    } else {
        u32::try_from(v & 0xffff_ffff)
            .unwrap_or_default()
            .to_be_bytes()
            .to_vec()
    }
}

fn crc_value(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

enum State {
    Crc(Box<CrcDigest>),
    Digest(digest::Context),
}

/// A running checksum of one algorithm.
pub struct Hasher {
    algo: Algo,
    state: State,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("algo", &self.algo).finish()
    }
}

impl Hasher {
    /// A fresh checksum.
    pub fn new(algo: Algo) -> Self {
        let state = match algo.crc() {
            Some(c) => State::Crc(Box::new(CrcDigest::new(c))),
            None if algo == Algo::Sha1 => {
                State::Digest(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            None => State::Digest(digest::Context::new(&digest::SHA256)),
        };
        Hasher { algo, state }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(d) => d.update(data),
            State::Digest(c) => c.update(data),
        }
    }

    /// The binary checksum.
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            State::Crc(d) => crc_bytes(self.algo, d.finalize()),
            State::Digest(c) => c.finish().as_ref().to_vec(),
        }
    }
}

/// The binary checksum of `data`.
pub fn of_bytes(algo: Algo, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(algo);
    h.update(data);
    h.finish()
}

/// Several running checksums (one per distinct algorithm).
#[derive(Debug, Default)]
pub struct Hashers(Vec<Hasher>);

impl Hashers {
    /// Checksums for `algos` (duplicates ignored).
    pub fn new(algos: &[Algo]) -> Self {
        let mut v: Vec<Hasher> = Vec::new();
        for a in algos {
            if !v.iter().any(|h| h.algo == *a) {
                v.push(Hasher::new(*a));
            }
        }
        Hashers(v)
    }

    /// Feeds bytes to every checksum.
    pub fn update(&mut self, data: &[u8]) {
        for h in &mut self.0 {
            h.update(data);
        }
    }

    /// The binary checksums.
    pub fn finish(self) -> Digests {
        Digests(self.0.into_iter().map(|h| (h.algo, h.finish())).collect())
    }
}

/// Finished binary checksums by algorithm.
#[derive(Debug, Clone, Default)]
pub struct Digests(Vec<(Algo, Vec<u8>)>);

impl Digests {
    /// The checksum computed with `algo`, if any.
    pub fn get(&self, algo: Algo) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, v)| v.as_slice())
    }
}

/// S3's checksum types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The checksum of the whole object's bytes.
    FullObject,
    /// The checksum of the part checksums (multipart), `-N` suffixed.
    Composite,
}

impl Kind {
    /// `FULL_OBJECT` / `COMPOSITE`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FullObject => ChecksumType::FULL_OBJECT,
            Kind::Composite => ChecksumType::COMPOSITE,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            ChecksumType::FULL_OBJECT => Some(Kind::FullObject),
            ChecksumType::COMPOSITE => Some(Kind::Composite),
            _ => None,
        }
    }

    /// As an s3s value.
    pub fn dto(self) -> ChecksumType {
        ChecksumType::from_static(self.name())
    }
}

/// A checksum as clients see it: base64, with `-N` for composite multipart checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// Algorithm.
    pub algo: Algo,
    /// Type.
    pub kind: Kind,
    /// Client form of the value.
    pub value: String,
}

/// Prefix of a sealed stored value.
const SEALED: char = '~';

impl Checksum {
    /// A full-object checksum from its binary value.
    pub fn full(algo: Algo, raw: &[u8]) -> Self {
        Checksum {
            algo,
            kind: Kind::FullObject,
            value: STANDARD.encode(raw),
        }
    }

    /// The stored form: `<ALGO>:<TYPE>:<value>`, the value sealed when `keyed` is given.
    pub fn encode(&self, keyed: Option<&Keyed>) -> Result<String> {
        let value = match keyed {
            Some(k) => format!("{SEALED}{}", k.seal_checksum(&self.value)?),
            None => self.value.clone(),
        };
        Ok(format!("{}:{}:{value}", self.algo.name(), self.kind.name()))
    }

    /// Reads a stored checksum; a sealed value needs `keyed` (else, or if it does not open,
    /// `None`).
    pub fn decode(stored: &str, keyed: Option<&Keyed>) -> Option<Self> {
        let (algo, kind, value) = header_of(stored)?;
        let value = match value.strip_prefix(SEALED) {
            Some(sealed) => keyed?.open_checksum(sealed)?,
            None => value.to_owned(),
        };
        Some(Checksum { algo, kind, value })
    }

    /// The binary value (the part before any `-N`).
    pub fn raw(&self) -> Option<Vec<u8>> {
        let b64 = self.value.split('-').next().unwrap_or_default();
        STANDARD.decode(b64).ok()
    }
}

/// `(algorithm, type, stored value)` of a stored checksum, without opening it.
pub fn header_of(stored: &str) -> Option<(Algo, Kind, &str)> {
    let mut it = stored.splitn(3, ':');
    let algo = Algo::parse(it.next()?)?;
    let kind = Kind::parse(it.next()?)?;
    Some((algo, kind, it.next()?))
}

/// The composite checksum of binary part checksums.
pub fn composite(algo: Algo, parts: &[Vec<u8>]) -> Checksum {
    let mut h = Hasher::new(algo);
    for p in parts {
        h.update(p);
    }
    Checksum {
        algo,
        kind: Kind::Composite,
        value: format!("{}-{}", STANDARD.encode(h.finish()), parts.len()),
    }
}

/// The full-object CRC of consecutive parts, from `(binary part CRC, part length)`; `None`
/// for a non-CRC algorithm.
pub fn combined(algo: Algo, parts: &[(Vec<u8>, u64)]) -> Option<Checksum> {
    let crc = algo.crc()?;
    let mut acc: Option<u64> = None;
    for (raw, len) in parts {
        let v = crc_value(raw);
        acc = Some(match acc {
            None => v,
            Some(a) => crc_fast::checksum_combine(crc, a, v, *len),
        });
    }
    let value = acc.unwrap_or_else(|| crc_value(&of_bytes(algo, &[])));
    Some(Checksum::full(algo, &crc_bytes(algo, value)))
}

/// Where a request's checksum value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// In its `x-amz-checksum-*` header (binary value).
    Header(Vec<u8>),
    /// In the aws-chunked trailer.
    Trailer,
}

/// The checksum a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// Algorithm.
    pub algo: Algo,
    /// Where its value is.
    pub source: Source,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidRequest(msg.into())
}

/// Reads the checksum headers of a PUT / UploadPart (see the module docs); `None` when the
/// request names no checksum.
pub fn requested(headers: &HeaderMap) -> Result<Option<Requested>> {
    let mut found: Option<Requested> = None;
    for algo in ALL {
        let Some(v) = headers.get(algo.header()) else {
            continue;
        };
        if found.is_some() {
            return Err(invalid(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        let raw = v
            .to_str()
            .ok()
            .and_then(|s| STANDARD.decode(s.trim()).ok())
            .filter(|r| r.len() == algo.digest_len())
            .ok_or_else(|| invalid(format!("Value for {} header is invalid.", algo.header())))?;
        found = Some(Requested {
            algo,
            source: Source::Header(raw),
        });
    }
    if let Some(t) = headers.get("x-amz-trailer") {
        let name = t.to_str().unwrap_or_default().trim().to_ascii_lowercase();
        if let Some(algo) = ALL.into_iter().find(|a| a.header() == name) {
            if found.is_some() {
                return Err(invalid(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            found = Some(Requested {
                algo,
                source: Source::Trailer,
            });
        } else if !name.is_empty() {
            return Err(invalid(format!(
                "The value {name:?} of x-amz-trailer is not supported."
            )));
        }
    }
    if let Some(sdk) = headers.get("x-amz-sdk-checksum-algorithm") {
        let algo =
            sdk.to_str().ok().and_then(Algo::parse).ok_or_else(|| {
                invalid("Value for x-amz-sdk-checksum-algorithm header is invalid.")
            })?;
        match &found {
            Some(r) if r.algo == algo => {}
            Some(_) => {
                return Err(invalid(
                    "Value for x-amz-sdk-checksum-algorithm header is invalid.",
                ));
            }
            None => {
                return Err(invalid(
                    "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
                ));
            }
        }
    }
    Ok(found)
}

impl Requested {
    /// Checks the computed checksums (which include this algorithm) against the value sent;
    /// `trailers` are the request's aws-chunked trailers, read after the body ended.
    pub fn verify(&self, digests: &Digests, trailers: Option<&TrailingHeaders>) -> Result<()> {
        let computed = digests
            .get(self.algo)
            .ok_or_else(|| Error::internal("checksum not computed"))?;
        let sent = match &self.source {
            Source::Header(v) => v.clone(),
            Source::Trailer => trailers
                .and_then(|t| {
                    t.read(|h| {
                        h.get(self.algo.header())
                            .and_then(|v| v.to_str().ok())
                            .and_then(|s| STANDARD.decode(s.trim()).ok())
                    })
                })
                .flatten()
                .filter(|r| r.len() == self.algo.digest_len())
                .ok_or_else(|| {
                    invalid(format!(
                        "Value for {} trailing header is invalid.",
                        self.algo.header()
                    ))
                })?,
        };
        if sent == computed {
            Ok(())
        } else {
            Err(Error::ChecksumMismatch(self.algo.name()))
        }
    }
}

/// Sets the `checksum_*` fields of an s3s output (or part) from `c` (nothing when `None`).
macro_rules! set_checksum {
    ($out:expr, $c:expr) => {
        if let Some(c) = $c {
            let v = Some(c.value.clone());
            match c.algo {
                $crate::s3::checksum::Algo::Crc32 => $out.checksum_crc32 = v,
                $crate::s3::checksum::Algo::Crc32c => $out.checksum_crc32c = v,
                $crate::s3::checksum::Algo::Crc64Nvme => $out.checksum_crc64nvme = v,
                $crate::s3::checksum::Algo::Sha1 => $out.checksum_sha1 = v,
                $crate::s3::checksum::Algo::Sha256 => $out.checksum_sha256 = v,
            }
        }
    };
}
pub(crate) use set_checksum;

#[cfg(test)]
mod tests;

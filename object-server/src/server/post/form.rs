//! A streaming `multipart/form-data` reader for POST object uploads.
//!
//! The fields before the `file` part are read into memory within fixed bounds
//! ([`MAX_FIELDS_BYTES`] in all, [`MAX_FIELDS`] parts, [`MAX_PART_HEAD`] per part head); the
//! file part is then handed out as a stream of chunks read from the connection as the consumer
//! asks for them — never collected. Whatever follows the file part is ignored (as S3 does).

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use memchr::memmem;

use super::PostError;
use crate::s3::post::FormFields;

/// Most bytes of form fields (names and values) before the file part.
pub(crate) const MAX_FIELDS_BYTES: usize = 64 * 1024;
/// Most form fields before the file part.
pub(crate) const MAX_FIELDS: usize = 100;
/// Longest part head (its `Content-Disposition` and `Content-Type` lines).
const MAX_PART_HEAD: usize = 8 * 1024;

/// The fields of a form up to its file part.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    /// `(name lower-cased, value)` in form order.
    pub(crate) fields: FormFields,
    /// The file part's `filename` (for `${filename}`).
    pub(crate) filename: String,
    /// The file part's own `Content-Type`, if any.
    pub(crate) file_content_type: Option<String>,
}

impl Fields {
    /// Fields with these `(name, value)` pairs (tests).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Fields {
            fields: crate::s3::post::FormFields(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Fields::default()
        }
    }

    /// The value of field `name` (lower case); a form never repeats a field.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }
}

/// The reader: the request body and what is buffered of it.
pub(crate) struct Form {
    body: s3s::Body,
    buf: BytesMut,
    /// `\r\n--<boundary>`.
    delim: Vec<u8>,
    eof: bool,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 70).then(|| v.to_owned())
    })
}

fn malformed() -> PostError {
    PostError::Malformed
}

impl Form {
    /// A reader of `body` whose parts are separated by `boundary`.
    pub(crate) fn new(body: s3s::Body, boundary: &str) -> Self {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        // The first delimiter has no CRLF before it: pretend it has.
        buf.extend_from_slice(b"\r\n");
        Form {
            body,
            buf,
            delim: format!("\r\n--{boundary}").into_bytes(),
            eof: false,
        }
    }

    /// Reads one more chunk into the buffer; `false` at the end of the body.
    async fn fill(&mut self) -> Result<bool, PostError> {
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.body.frame().await {
                None => {
                    self.eof = true;
                    return Ok(false);
                }
                Some(Err(_)) => return Err(PostError::Incomplete),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.buf.extend_from_slice(&data);
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Buffers until `needle` is found within the first `limit` bytes; its offset.
    async fn find(
        &mut self,
        needle: &[u8],
        limit: usize,
        over: PostError,
    ) -> Result<usize, PostError> {
        let mut from = 0;
        loop {
            if let Some(i) = memmem::find(self.buf.get(from..).unwrap_or_default(), needle) {
                let at = from + i;
                return if at > limit { Err(over) } else { Ok(at) };
            }
            if self.buf.len() > limit.saturating_add(needle.len()) {
                return Err(over);
            }
            from = self.buf.len().saturating_sub(needle.len());
            if !self.fill().await? {
                return Err(malformed());
            }
        }
    }

    /// After a delimiter: `true` when a part follows, `false` at the closing `--`.
    async fn after_delimiter(&mut self) -> Result<bool, PostError> {
        while self.buf.len() < 2 {
            if !self.fill().await? {
                return Err(malformed());
            }
        }
        if self.buf.starts_with(b"--") {
            return Ok(false);
        }
        let end = self.find(b"\r\n", 256, malformed()).await?;
        // Transport padding (blanks) may precede the CRLF.
        let padding = self.buf.get(..end).unwrap_or_default();
        if !padding.iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err(malformed());
        }
        let _ = self.buf.split_to(end + 2);
        Ok(true)
    }

    /// Reads the fields up to the file part (the body then stands at the file's first byte).
    /// A form without a file part is [`PostError::NoFile`].
    pub(crate) async fn read_fields(&mut self) -> Result<Fields, PostError> {
        let delim = self.delim.clone();
        let first = self.find(&delim, MAX_PART_HEAD, malformed()).await?;
        let _ = self.buf.split_to(first + delim.len());
        let mut out = Fields::default();
        let mut used = 0usize;
        loop {
            if !self.after_delimiter().await? {
                return Err(PostError::NoFile);
            }
            let end = self.find(b"\r\n\r\n", MAX_PART_HEAD, malformed()).await?;
            let head = self.buf.split_to(end + 4);
            let head = std::str::from_utf8(head.get(..end).unwrap_or_default())
                .map_err(|_| malformed())?;
            let part = PartHead::parse(head)?;
            if part.name.eq_ignore_ascii_case("file") {
                out.filename = part.filename.unwrap_or_default();
                out.file_content_type = part.content_type;
                return Ok(out);
            }
            if out.fields.0.len() >= MAX_FIELDS {
                return Err(PostError::FieldsTooLarge);
            }
            let room = MAX_FIELDS_BYTES.saturating_sub(used + part.name.len());
            let at = self.find(&delim, room, PostError::FieldsTooLarge).await?;
            let value = self.buf.split_to(at);
            let _ = self.buf.split_to(delim.len());
            let value = String::from_utf8(value.to_vec()).map_err(|_| malformed())?;
            used += part.name.len() + value.len();
            let name = part.name.to_ascii_lowercase();
            // A repeated field is refused: the policy would be checked against one value
            // while another is stored.
            if out.fields.get(&name).is_some() {
                return Err(malformed());
            }
            out.fields.0.push((name, value));
        }
    }

    /// The next chunk of the file part; `None` once its closing delimiter is reached. A body
    /// that ends inside the file part is [`PostError::Incomplete`].
    pub(crate) async fn next_file_chunk(&mut self) -> Result<Option<Bytes>, PostError> {
        let n = self.delim.len();
        loop {
            if let Some(at) = memmem::find(&self.buf, &self.delim) {
                if at == 0 {
                    self.buf.clear();
                    self.eof = true;
                    return Ok(None);
                }
                // Leave the delimiter at the front for the next call.
                return Ok(Some(self.buf.split_to(at).freeze()));
            }
            // Everything but a possible partial delimiter at the end is file data.
            let safe = self.buf.len().saturating_sub(n - 1);
            if safe > 0 {
                return Ok(Some(self.buf.split_to(safe).freeze()));
            }
            if !self.fill().await? {
                return Err(PostError::Incomplete);
            }
        }
    }
}

/// A part's head: its field name, file name and content type.
#[derive(Debug)]
struct PartHead {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

impl PartHead {
    fn parse(head: &str) -> Result<Self, PostError> {
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((h, v)) = line.split_once(':') else {
                return Err(malformed());
            };
            let h = h.trim();
            if h.eq_ignore_ascii_case("content-disposition") {
                let mut params = v.split(';');
                let kind = params.next().unwrap_or_default().trim();
                if !kind.eq_ignore_ascii_case("form-data") {
                    return Err(malformed());
                }
                for p in params {
                    let Some((k, v)) = p.trim().split_once('=') else {
                        continue;
                    };
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v)
                        .to_owned();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            } else if h.eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let name = name.filter(|n| !n.is_empty()).ok_or_else(malformed)?;
        Ok(PartHead {
            name,
            filename,
            content_type,
        })
    }
}

#[cfg(test)]
mod tests;

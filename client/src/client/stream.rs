//! The log streams `GET /v1/log/audit` and `GET /v1/log/error`: NDJSON bodies decoded line by line as they arrive.

use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::transport::Req;
use super::{Client, error_chain};
use crate::error::{Error, Result};
use crate::wire::{AuditEvent, ErrorEvent};

/// Largest single NDJSON line of a log stream (bytes).
const MAX_LOG_LINE: usize = 1 << 20;

/// A stream of parsed NDJSON events (audit or error log). It ends when the server closes the connection. A
/// transport failure or a line over 1 MiB yields one `Err` and ends the stream; an undecodable line yields an `Err`
/// and the stream goes on with the next line.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

impl Client {
    /// `GET /v1/log/audit`: the audit event stream (open until dropped or the server closes it).
    pub async fn audit_log(&self) -> Result<EventStream<AuditEvent>> {
        self.event_stream(&["v1", "log", "audit"]).await
    }

    /// `GET /v1/log/error`: the error log stream.
    pub async fn error_log(&self) -> Result<EventStream<ErrorEvent>> {
        self.event_stream(&["v1", "log", "error"]).await
    }

    /// Opens the log stream at `segments` (with failover, as any request) and decodes its body as NDJSON.
    async fn event_stream<T>(&self, segments: &[&str]) -> Result<EventStream<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let resp = self.send(&Req::new(Method::GET, segments)).await?;
        Ok(ndjson(resp))
    }
}

/// Decodes one NDJSON line.
fn decode_line<T: DeserializeOwned>(line: &[u8]) -> Result<T> {
    serde_json::from_slice::<T>(line).map_err(|e| Error::Decode(e.to_string()))
}

/// Splits a response body into lines and decodes each non-blank one; a last line without `\n` counts too.
fn ndjson<T: DeserializeOwned + Send + 'static>(resp: reqwest::Response) -> EventStream<T> {
    let body = Box::pin(resp.bytes_stream());
    let state = (body, Vec::<u8>::new(), false);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut body, mut buf, mut done)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some((decode_line(&line), (body, buf, done)));
                }
                if done {
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    let line = std::mem::take(&mut buf);
                    return Some((decode_line(&line), (body, buf, done)));
                }
                if buf.len() > MAX_LOG_LINE {
                    buf.clear();
                    return Some((
                        Err(Error::Decode("log line too long".into())),
                        (body, buf, true),
                    ));
                }
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        buf.clear();
                        done = true;
                        return Some((Err(Error::Connection(error_chain(&e))), (body, buf, done)));
                    }
                    None => done = true,
                }
            }
        },
    ))
}

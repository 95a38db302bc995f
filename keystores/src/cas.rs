//! [`read_cas`]: the `tls.ca` setting of the HTTP-based backends (a PEM file,
//! or a directory of them), read into certificates for their reqwest client.

use std::path::Path;

use crate::Error;

/// The certificates of the PEM file `path`, or of every PEM file in the
/// directory `path` (in name order; files that hold no PEM certificate are
/// skipped). `backend` (`vault`, `azure`) starts every error message.
///
/// # Errors
/// [`Error::Backend`] if `path` or a file in it cannot be read, or if no
/// certificate is found at all.
pub(crate) async fn read_cas(
    path: &Path,
    backend: &str,
) -> Result<Vec<reqwest::Certificate>, Error> {
    let cannot = |file: &Path, e: std::io::Error| {
        Error::backend(format!(
            "{backend}: cannot read tls.ca '{}': {e}",
            file.display()
        ))
    };
    let mut files = Vec::new();
    if tokio::fs::metadata(path)
        .await
        .map_err(|e| cannot(path, e))?
        .is_dir()
    {
        let mut dir = tokio::fs::read_dir(path)
            .await
            .map_err(|e| cannot(path, e))?;
        while let Some(entry) = dir.next_entry().await.map_err(|e| cannot(path, e))? {
            if tokio::fs::metadata(entry.path())
                .await
                .is_ok_and(|m| m.is_file())
            {
                files.push(entry.path());
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut certs = Vec::new();
    for file in &files {
        let pem = tokio::fs::read(file).await.map_err(|e| cannot(file, e))?;
        if let Ok(found) = reqwest::Certificate::from_pem_bundle(&pem) {
            certs.extend(found);
        }
    }
    if certs.is_empty() {
        return Err(Error::backend(format!(
            "{backend}: no CA certificate found in tls.ca '{}'",
            path.display()
        )));
    }
    Ok(certs)
}

use super::*;

fn form(body: &str) -> Form {
    Form::new(s3s::Body::from(body.to_owned()), "XyZ")
}

async fn file(form: &mut Form) -> Result<Vec<u8>, PostError> {
    let mut out = Vec::new();
    while let Some(c) = form.next_file_chunk().await? {
        out.extend_from_slice(&c);
    }
    Ok(out)
}

#[test]
fn boundaries_are_read_from_the_content_type() {
    assert_eq!(
        boundary("multipart/form-data; boundary=abc").as_deref(),
        Some("abc")
    );
    assert_eq!(
        boundary("multipart/form-data;BOUNDARY=\"a b\"").as_deref(),
        Some("a b")
    );
    assert_eq!(boundary("multipart/form-data"), None);
    assert_eq!(boundary("multipart/form-data; boundary="), None);
}

#[tokio::test]
async fn fields_then_the_file_stream() {
    let body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"Key\"\r\n\r\nup/${filename}\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"x-amz-meta-a\"\r\n\r\nline1\r\nline2\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nhello\r\n--Xy not yet\r\n--XyZ\r\n\
                Content-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--XyZ--\r\n";
    let mut f = form(body);
    let fields = f.read_fields().await.unwrap();
    assert_eq!(fields.get("key"), Some("up/${filename}"));
    assert_eq!(fields.get("x-amz-meta-a"), Some("line1\r\nline2"));
    assert_eq!(fields.filename, "f.txt");
    assert_eq!(fields.file_content_type.as_deref(), Some("text/plain"));
    assert_eq!(file(&mut f).await.unwrap(), b"hello\r\n--Xy not yet");
}

#[tokio::test]
async fn bad_forms_are_refused() {
    let no_file = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--\r\n";
    assert_eq!(
        form(no_file).read_fields().await.err(),
        Some(PostError::NoFile)
    );
    let no_name = "--XyZ\r\nContent-Disposition: form-data\r\n\r\nk\r\n--XyZ--\r\n";
    assert_eq!(
        form(no_name).read_fields().await.err(),
        Some(PostError::Malformed)
    );
    let cut = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk";
    assert_eq!(
        form(cut).read_fields().await.err(),
        Some(PostError::Malformed)
    );
    let unterminated =
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\ndata";
    let mut f = form(unterminated);
    f.read_fields().await.unwrap();
    assert_eq!(file(&mut f).await.err(), Some(PostError::Incomplete));
    let big = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{}\r\n--XyZ--\r\n",
        "a".repeat(MAX_FIELDS_BYTES + 1)
    );
    assert_eq!(
        form(&big).read_fields().await.err(),
        Some(PostError::FieldsTooLarge)
    );
    let many: String = (0..=MAX_FIELDS)
        .map(|i| format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
        .collect();
    assert_eq!(
        form(&many).read_fields().await.err(),
        Some(PostError::FieldsTooLarge)
    );
}

/// The body as one frame per byte (the worst split for every delimiter search).
fn trickled(body: &str) -> Form {
    let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = body
        .as_bytes()
        .iter()
        .map(|b| Ok(http_body::Frame::data(Bytes::copy_from_slice(&[*b]))))
        .collect();
    let stream = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    Form::new(s3s::Body::http_body(stream), "XyZ")
}

#[tokio::test]
async fn one_byte_frames_read_the_same_form() {
    // The file holds near-misses of the delimiter, also across frame boundaries.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n\
                a\r\n--Xy\r\n--XyY\r\n-XyZ\r\n--XyZ--\r\n";
    let mut f = trickled(body);
    let fields = f.read_fields().await.unwrap();
    assert_eq!(fields.get("key"), Some("k"));
    assert_eq!(
        file(&mut f).await.unwrap(),
        b"a\r\n--Xy\r\n--XyY\r\n-XyZ".to_vec()
    );
}

#[tokio::test]
async fn repeated_fields_are_refused() {
    // Names compare without case: the policy would see one value and the object store another.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"x-amz-meta-a\"\r\n\r\none\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"X-Amz-Meta-A\"\r\n\r\ntwo\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nx\r\n--XyZ--\r\n";
    assert_eq!(
        form(body).read_fields().await.err(),
        Some(PostError::Malformed)
    );
    assert_eq!(
        trickled(body).read_fields().await.err(),
        Some(PostError::Malformed)
    );
}

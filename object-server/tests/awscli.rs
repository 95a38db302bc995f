//! The seed commands with the real aws-cli (v1, pinned) over HTTPS on an ephemeral port,
//! SSE-C error cases, ranged GETs across DARE package boundaries, and SSE-C refused over HTTP.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data, fails_with, ok};

const KEY: &str = "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ=";
const KEY_MD5: &str = "7PpPLAK26ONlVUGOWlusfg==";
const OTHER_KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
const OTHER_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

fn ssec<'a>(key: &'a str, md5: &'a str) -> [&'a str; 6] {
    [
        "--sse-customer-algorithm",
        "AES256",
        "--sse-customer-key",
        key,
        "--sse-customer-key-md5",
        md5,
    ]
}

fn args<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra.iter()).copied().collect()
}

#[test]
fn seed_commands_and_ssec_errors() {
    let env = Env::new(true);
    let url = env.url();
    let diary = data(3 * 65536 + 1234, 1);
    let diary_path = env.path("home/my-diary.txt");
    std::fs::write(&diary_path, &diary).unwrap();
    let diary_arg = diary_path.to_str().unwrap();

    // aws --no-verify-ssl --endpoint-url https://localhost:$PORT s3api create-bucket --bucket my-bucket
    let out = ok(&env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3api",
        "create-bucket",
        "--bucket",
        "my-bucket",
    ]));
    assert!(out.contains("/my-bucket"), "{out}");

    let put = [
        "s3api",
        "put-object",
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "--bucket",
        "my-bucket",
        "--key",
        "my-secret-diary",
    ];
    let out = ok(&env.aws(&args(
        &args(&put, &ssec(KEY, KEY_MD5)),
        &["--body", diary_arg],
    )));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["SSECustomerAlgorithm"], "AES256");
    assert_eq!(v["SSECustomerKeyMD5"], KEY_MD5);
    let etag = v["ETag"].as_str().unwrap().trim_matches('"').to_owned();
    assert_eq!(etag.len(), 32);
    assert_ne!(
        etag,
        format!("{:x}", md5::Md5::digest(&diary)),
        "SSE-C ETag must not be the MD5"
    );

    let head = [
        "s3api",
        "head-object",
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "--bucket",
        "my-bucket",
        "--key",
        "my-secret-diary",
    ];
    let out = ok(&env.aws(&args(&head, &ssec(KEY, KEY_MD5))));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ContentLength"], diary.len());
    assert_eq!(v["SSECustomerAlgorithm"], "AES256");
    assert_eq!(v["SSECustomerKeyMD5"], KEY_MD5);
    assert_eq!(v["ETag"].as_str().unwrap().trim_matches('"'), etag);
    assert!(
        v.get("ContentEncoding").is_none(),
        "aws-chunked must not be stored: {out}"
    );

    let get = [
        "s3api",
        "get-object",
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "--bucket",
        "my-bucket",
        "--key",
        "my-secret-diary",
    ];
    let got_path = env.path("home/got.txt");
    let got_arg = got_path.to_str().unwrap();
    let out = ok(&env.aws(&args(&args(&get, &ssec(KEY, KEY_MD5)), &[got_arg])));
    assert!(out.contains("\"SSECustomerKeyMD5\""), "{out}");
    assert_eq!(
        std::fs::read(&got_path).unwrap(),
        diary,
        "round trip differs"
    );

    // Data at rest is encrypted: the plaintext does not appear in the data directory.
    let obj_dir = env.path("data/my-bucket/obj");
    for f in std::fs::read_dir(&obj_dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(64).any(|w| w == &diary[1000..1064]),
            "plaintext stored"
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(KEY) && !text.contains(KEY_MD5),
            "client key or MD5 stored"
        );
    }

    // Wrong key: HEAD 403 (no body), GET 403 AccessDenied.
    fails_with(&env.aws(&args(&head, &ssec(OTHER_KEY, OTHER_MD5))), "(403)");
    fails_with(
        &env.aws(&args(&args(&get, &ssec(OTHER_KEY, OTHER_MD5)), &[got_arg])),
        "(AccessDenied) when calling the GetObject operation: Access Denied.",
    );
    // No key: 400 InvalidRequest.
    fails_with(
        &env.aws(&args(&get, &[got_arg])),
        "(InvalidRequest) when calling the GetObject operation: The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    );
    fails_with(&env.aws(&head), "(400)");
    // Bad key MD5: GET → InvalidArgument; PUT → wrapped InvalidArgument.
    fails_with(
        &env.aws(&args(&args(&get, &ssec(KEY, OTHER_MD5)), &[got_arg])),
        "(InvalidArgument) when calling the GetObject operation: The calculated MD5 hash of the key did not match the hash that was provided.",
    );
    let put_bad = [
        "s3api",
        "put-object",
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "--bucket",
        "my-bucket",
        "--key",
        "bad-md5",
    ];
    fails_with(
        &env.aws(&args(
            &args(&put_bad, &ssec(KEY, OTHER_MD5)),
            &["--body", diary_arg],
        )),
        "(InvalidArgument) when calling the PutObject operation: Invalid arguments provided for my-bucket/bad-md5: (The provided SSE-C key MD5 does not match the computed MD5 of the SSE-C key)",
    );
    // Bad algorithm on GET.
    fails_with(
        &env.aws(&args(
            &get,
            &[
                "--sse-customer-algorithm",
                "AES128",
                "--sse-customer-key",
                KEY,
                "--sse-customer-key-md5",
                KEY_MD5,
                got_arg,
            ],
        )),
        "must provide a valid encryption algorithm.",
    );

    // Ranged GETs across package boundaries read the right plaintext.
    for (range, from, to) in [
        ("bytes=0-0", 0usize, 1usize),
        ("bytes=65530-65545", 65530, 65546),
        ("bytes=65536-131071", 65536, 131072),
        ("bytes=1000-140000", 1000, 140001),
        ("bytes=196000-", 196000, diary.len()),
        ("bytes=-100", diary.len() - 100, diary.len()),
    ] {
        let out = ok(&env.aws(&args(
            &args(&get, &ssec(KEY, KEY_MD5)),
            &["--range", range, got_arg],
        )));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ContentLength"], to - from, "{range}");
        assert_eq!(
            v["ContentRange"],
            format!("bytes {}-{}/{}", from, to - 1, diary.len()),
            "{range}"
        );
        assert_eq!(
            std::fs::read(&got_path).unwrap(),
            &diary[from..to],
            "{range}"
        );
    }
    fails_with(
        &env.aws(&args(
            &args(&get, &ssec(KEY, KEY_MD5)),
            &["--range", "bytes=999999-", got_arg],
        )),
        "(InvalidRange)",
    );

    // Listing shows the plaintext size.
    let out = ok(&env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3api",
        "list-objects-v2",
        "--bucket",
        "my-bucket",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Contents"][0]["Size"], diary.len());
    assert_eq!(v["Contents"][0]["Key"], "my-secret-diary");

    // The high-level `aws s3` commands work too (plain object, multipart for 9 MiB).
    let big = data(9 * 1024 * 1024 + 7, 2);
    let big_path = env.path("home/big.bin");
    std::fs::write(&big_path, &big).unwrap();
    ok(&env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3",
        "cp",
        big_path.to_str().unwrap(),
        "s3://my-bucket/dir/big.bin",
    ]));
    let back = env.path("home/big.back");
    ok(&env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3",
        "cp",
        "s3://my-bucket/dir/big.bin",
        back.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&back).unwrap(), big);
    let out = ok(&env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3",
        "ls",
        "s3://my-bucket/",
    ]));
    assert!(
        out.contains("PRE dir/") && out.contains("my-secret-diary"),
        "{out}"
    );
}

#[test]
fn ssec_refused_over_http() {
    let env = Env::new(false);
    let url = env.url();
    ok(&env.aws(&[
        "--endpoint-url",
        &url,
        "s3api",
        "create-bucket",
        "--bucket",
        "plain",
    ]));
    let body = env.path("home/b.txt");
    std::fs::write(&body, b"hello over http").unwrap();
    let put = [
        "--endpoint-url",
        &url,
        "s3api",
        "put-object",
        "--bucket",
        "plain",
        "--key",
        "k",
        "--body",
        body.to_str().unwrap(),
    ];
    fails_with(
        &env.aws(&args(&put, &ssec(KEY, KEY_MD5))),
        "(InvalidRequest) when calling the PutObject operation: Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
    );
    // Plain requests work over HTTP; SSE-C reads of them are refused too.
    ok(&env.aws(&put));
    let got = env.path("home/got");
    let get = [
        "--endpoint-url",
        &url,
        "s3api",
        "get-object",
        "--bucket",
        "plain",
        "--key",
        "k",
    ];
    ok(&env.aws(&args(&get, &[got.to_str().unwrap()])));
    assert_eq!(std::fs::read(&got).unwrap(), b"hello over http");
    fails_with(
        &env.aws(&args(
            &args(&get, &ssec(KEY, KEY_MD5)),
            &[got.to_str().unwrap()],
        )),
        "(InvalidRequest)",
    );
    let head = [
        "--endpoint-url",
        &url,
        "s3api",
        "head-object",
        "--bucket",
        "plain",
        "--key",
        "k",
    ];
    fails_with(&env.aws(&args(&head, &ssec(KEY, KEY_MD5))), "(400)");
}

use md5::Digest as _;

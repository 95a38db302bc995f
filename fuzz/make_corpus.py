#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the shared test vectors
(shared/spec/kes-vectors.json, sse-vectors.json) and inputs of the unit tests.

Usage: python3 fuzz/make_corpus.py [path/to/shared/spec]   (default: ../shared/spec of the repo,
falling back to src/crypto/testdata for the KES vectors). Seeds are named by content hash, so
re-running adds nothing that exists."""
import base64, hashlib, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "spec")


def load(name, fallback=None):
    for p in (os.path.join(SPEC, name), fallback):
        if p and os.path.exists(p):
            with open(p) as f:
                return json.load(f)
    return None


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(tag, wire, payload):
    key = varint(tag << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def pb_key(key, typ, hmac=None, created=None, by=b""):
    msg = field(1, 2, field(1, 2, key) + (field(2, 0, typ) if typ else b""))
    if hmac is not None:
        msg += field(2, 2, field(1, 2, hmac) + field(2, 0, 1))
    if created is not None:
        msg += field(3, 2, field(1, 0, created[0]) + field(2, 0, created[1]))
    if by:
        msg += field(4, 2, by)
    return msg


kes = load("kes-vectors.json", os.path.join(ROOT, "src", "crypto", "testdata", "kes-vectors.json"))
sse = load("sse-vectors.json")

# --- kes_ciphertext: <ctx_len byte><ctx><ciphertext> ---
for v in kes["decrypt"]:
    ct = v["ciphertext_text"].encode() if "ciphertext_text" in v else base64.b64decode(v["ciphertext_b64"])
    ctx = base64.b64decode(v["context_b64"])
    put("kes_ciphertext", bytes([len(ctx)]) + ctx + ct)
    # The same ciphertext framed as ring version 1 (magic 00 'K' 'V' 01, u32 BE version).
    put("kes_ciphertext", bytes([len(ctx)]) + ctx + b"\x00KV\x01" + struct.pack(">I", 1) + ct)

# --- stored_key: protobuf (base64), legacy JSON, kes:ring:v1: envelope ---
k32, h32 = bytes(range(32)), bytes([7] * 32)
pbs = [
    pb_key(k32, 1, h32, (1700000000, 5), b"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"),
    pb_key(k32, 2, h32),
    pb_key(k32, 0),
]
for p in pbs:
    put("stored_key", base64.b64encode(p))
put("stored_key", json.dumps({"bytes": base64.b64encode(bytes([1] * 32)).decode(), "algorithm": "AES256"}))
put("stored_key", json.dumps({"bytes": base64.b64encode(bytes([1] * 32)).decode(), "algorithm": "ChaCha20",
                              "created_at": "2020-02-02T02:02:02Z", "created_by": "owner"}))
put("stored_key", json.dumps({"bytes": base64.b64encode(bytes([1] * 32)).decode()}))
ring = field(1, 2, base64.b64encode(pbs[0])) + field(1, 2, base64.b64encode(pbs[1])) + field(2, 0, 1)
put("stored_key", b"kes:ring:v1:" + base64.b64encode(ring))

# --- apikey ---
for v in kes["api_key_identity"]:
    put("apikey", v["api_key"])
put("apikey", "kes:v1:" + base64.b64encode(b"\x00" + bytes(32)).decode())

# --- policy_path: pattern \n raw path ---
for pat, path in [
    ("/v1/key/generate/app-*", "/v1/key/generate/app-1"),
    ("/v1/key/generate/app-*", "/v1/key/generate/app%2D1"),
    ("/v1/key/*", "/v1/key/list/"),
    ("/v1/key/list/*", "/v1/key/list"),
    ("/v1/key/decrypt/*", "/v1/key/decrypt/../create/x"),
    ("/v1/identity/self/describe", "/v1/identity/self/describe"),
    ("/v1/policy/describe/*", "/v1/policy/describe/my-policy"),
    ("/v1/key/create/*", "/v1/key/create/a%2Fb"),
    ("/v1/status", "/v1/status"),
    ("/version", "/version"),
]:
    put("policy_path", f"{pat}\n{path}")

# --- config_yaml: the example config and small variants ---
with open(os.path.join(ROOT, "server-config.yaml"), "rb") as f:
    put("config_yaml", f.read())
put("config_yaml", "address: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: ./private.key\n  cert: ./public.crt\n"
    "policy:\n  my-app:\n    allow:\n    - /v1/key/generate/app-*\n    identities:\n    - ${APP_IDENTITY}\n"
    "keystore:\n  fs:\n    path: ./keys\ncache:\n  expiry:\n    any: 5m\n    unused: 30s\n")
put("config_yaml", "version: v1\naddress: :7373\nkeystore:\n  memory: {}\nlog:\n  error: on\n  audit: off\n")

# --- dare + object sealed keys ---
for v in sse["dare"]["vectors"]:
    if v.get("ciphertext_hex"):
        put("dare", bytes.fromhex(v["ciphertext_hex"]))
for v in sse["sealing"]["vectors"]:
    put("dare", base64.b64decode(v["sealed_oek_b64"]))

# --- object_meta: record trailers and internal metadata lines ---
META = "X-Minio-Internal-Server-Side-Encryption-"
for v in sse["sealing"]["vectors"]:
    iv = base64.b64encode(bytes.fromhex(v["iv_hex"])).decode()
    sealed = v["sealed_oek_b64"]
    if v["domain"] == "SSE-C":
        lines = [f"{META}Iv={iv}", f"{META}Seal-Algorithm=DAREv2-HMAC-SHA256", f"{META}Sealed-Key={sealed}"]
    else:
        lines = [f"{META}Iv={iv}", f"{META}Seal-Algorithm=DAREv2-HMAC-SHA256",
                 f"{META}{'Kms' if v['domain'] == 'SSE-KMS' else 'S3'}-Sealed-Key={sealed}",
                 f"{META}S3-Kms-Key-Id=my-key", f"{META}S3-Kms-Sealed-Key=" + base64.b64encode(b"dek-ciphertext").decode(),
                 f"{META}Context=" + base64.b64encode(b'{"mybucket":"mybucket/obj"}').decode()]
    put("object_meta", "\n".join(lines))
    meta = json.dumps({"format": 1, "size": 5, "etag": "abc", "modified_ns": 1, "content_type": "text/plain",
                       "user": {"x-amz-meta-a": "b"}, "internal": dict(l.split("=", 1) for l in lines)}).encode()
    put("object_meta", b"hello" + meta + struct.pack("<Q", len(meta)) + b"OBJSRV01")

# --- sse_headers: <flags byte> + name: value lines ---
ck, ckmd5 = sse["sealing"]["client_key_b64"], sse["sealing"]["client_key_md5_b64"]
ssec = (f"x-amz-server-side-encryption-customer-algorithm: AES256\n"
        f"x-amz-server-side-encryption-customer-key: {ck}\n"
        f"x-amz-server-side-encryption-customer-key-md5: {ckmd5}\n")
copy = ssec.replace("x-amz-server-side-encryption-customer", "x-amz-copy-source-server-side-encryption-customer")
for flags, text in [
    (1 | 32, ssec), (1 | 4, ssec + copy), (0, ssec),
    (1 | 2, "x-amz-server-side-encryption: AES256\n"),
    (1 | 2 | 32, "x-amz-server-side-encryption: aws:kms\nx-amz-server-side-encryption-aws-kms-key-id: arn:aws:kms:my-key\n"
     "x-amz-server-side-encryption-context: eyJhIjoiYiJ9\n"),
    (1 | 2 | 8, ""), (1 | 2 | 24, "x-amz-server-side-encryption: aws:kms\n"),
]:
    put("sse_headers", bytes([flags]) + text.encode())

# --- kms_context ---
for v in sse["context"]["vectors"]:
    put("kms_context", v["encoded_b64"])
for s in ["bm90IGpzb24=", "!!", "eyJhIjoxfQ=="]:
    put("kms_context", s)

//! The declarative route table (kes-api.md §1.2) and path matching.
//!
//! Matching follows Go's `http.ServeMux` as KES uses it: paths ending in `/`
//! match their whole subtree and the remainder is the *resource* (key name,
//! pattern, policy or identity); other paths match exactly. The three list
//! routes also match without their trailing slash (empty pattern).

use std::borrow::Cow;
use std::time::Duration;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No identity at all (`/version`).
    None,
    /// A client certificate is needed to compute the identity; no policy.
    IdentifyOnly,
    /// Identity plus policy (admin bypasses).
    Policy,
}

/// The HTTP method a route declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// GET only.
    Get,
    /// PUT, and POST (project decision a).
    Put,
    /// POST only (legacy bulk decrypt).
    Post,
    /// DELETE only.
    Delete,
}

impl Method {
    /// The name KES reports in `/v1/api` and in 405 messages.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    /// Whether a request method is accepted.
    pub(crate) fn accepts(self, m: &http::Method) -> bool {
        match self {
            Method::Get => m == http::Method::GET,
            Method::Put => m == http::Method::PUT || m == http::Method::POST,
            Method::Post => m == http::Method::POST,
            Method::Delete => m == http::Method::DELETE,
        }
    }
}

/// Which handler serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum Handler {
    Version,
    Ready,
    Status,
    Api,
    Metrics,
    LogError,
    LogAudit,
    KeyCreate,
    KeyImport,
    KeyDescribe,
    KeyList,
    KeyDelete,
    KeyEncrypt,
    KeyGenerate,
    KeyDecrypt,
    KeyBulkDecrypt,
    KeyHmac,
    KeyDisable,
    KeyEnable,
    KeyRotate,
    KeyRewrap,
    KeyDescribeExt,
    PolicyDescribe,
    PolicyRead,
    PolicyList,
    IdentityDescribe,
    IdentityList,
    IdentitySelf,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// Declared method.
    pub method: Method,
    /// Path; a trailing `/` means "subtree with a resource".
    pub path: &'static str,
    /// Largest accepted body in bytes (0 = no body is read).
    pub max_body: usize,
    /// Default timeout; zero = none (the log streams).
    pub timeout: Duration,
    /// Authentication.
    pub auth: Auth,
    /// The handler.
    pub handler: Handler,
}

/// 1 MiB, KES's body limit.
pub(crate) const MIB: usize = 1 << 20;

const fn route(
    method: Method,
    path: &'static str,
    max_body: usize,
    secs: u64,
    auth: Auth,
    handler: Handler,
) -> Route {
    Route {
        method,
        path,
        max_body,
        timeout: Duration::from_secs(secs),
        auth,
        handler,
    }
}

/// Every route, in the order `/v1/api` lists them.
pub(crate) const ROUTES: &[Route] = &[
    route(Method::Get, "/version", 0, 10, Auth::None, Handler::Version),
    route(
        Method::Get,
        "/v1/ready",
        0,
        15,
        Auth::Policy,
        Handler::Ready,
    ),
    route(
        Method::Get,
        "/v1/status",
        0,
        15,
        Auth::Policy,
        Handler::Status,
    ),
    route(
        Method::Get,
        "/v1/metrics",
        0,
        15,
        Auth::Policy,
        Handler::Metrics,
    ),
    route(Method::Get, "/v1/api", 0, 10, Auth::Policy, Handler::Api),
    route(
        Method::Put,
        "/v1/key/create/",
        0,
        15,
        Auth::Policy,
        Handler::KeyCreate,
    ),
    route(
        Method::Put,
        "/v1/key/import/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyImport,
    ),
    route(
        Method::Get,
        "/v1/key/describe/",
        0,
        15,
        Auth::Policy,
        Handler::KeyDescribe,
    ),
    route(
        Method::Get,
        "/v1/key/list/",
        0,
        15,
        Auth::Policy,
        Handler::KeyList,
    ),
    route(
        Method::Delete,
        "/v1/key/delete/",
        0,
        15,
        Auth::Policy,
        Handler::KeyDelete,
    ),
    route(
        Method::Put,
        "/v1/key/encrypt/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyEncrypt,
    ),
    route(
        Method::Put,
        "/v1/key/generate/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyGenerate,
    ),
    route(
        Method::Put,
        "/v1/key/decrypt/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyDecrypt,
    ),
    route(
        Method::Post,
        "/v1/key/bulk/decrypt/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyBulkDecrypt,
    ),
    route(
        Method::Put,
        "/v1/key/hmac/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyHmac,
    ),
    // Extension: key lifecycle (kes-api.md "Extension: key disable/enable",
    // "Extension: key versions, rotation, rewrap").
    route(
        Method::Put,
        "/v1/ext/key/disable/",
        0,
        15,
        Auth::Policy,
        Handler::KeyDisable,
    ),
    route(
        Method::Put,
        "/v1/ext/key/enable/",
        0,
        15,
        Auth::Policy,
        Handler::KeyEnable,
    ),
    route(
        Method::Put,
        "/v1/ext/key/rotate/",
        0,
        15,
        Auth::Policy,
        Handler::KeyRotate,
    ),
    route(
        Method::Put,
        "/v1/ext/key/rewrap/",
        MIB,
        15,
        Auth::Policy,
        Handler::KeyRewrap,
    ),
    route(
        Method::Get,
        "/v1/ext/key/describe/",
        0,
        15,
        Auth::Policy,
        Handler::KeyDescribeExt,
    ),
    route(
        Method::Get,
        "/v1/policy/describe/",
        0,
        15,
        Auth::Policy,
        Handler::PolicyDescribe,
    ),
    route(
        Method::Get,
        "/v1/policy/read/",
        0,
        15,
        Auth::Policy,
        Handler::PolicyRead,
    ),
    route(
        Method::Get,
        "/v1/policy/list/",
        0,
        15,
        Auth::Policy,
        Handler::PolicyList,
    ),
    route(
        Method::Get,
        "/v1/identity/describe/",
        0,
        15,
        Auth::Policy,
        Handler::IdentityDescribe,
    ),
    route(
        Method::Get,
        "/v1/identity/list/",
        0,
        15,
        Auth::Policy,
        Handler::IdentityList,
    ),
    route(
        Method::Get,
        "/v1/identity/self/describe",
        0,
        15,
        Auth::IdentifyOnly,
        Handler::IdentitySelf,
    ),
    route(
        Method::Get,
        "/v1/log/error",
        0,
        0,
        Auth::Policy,
        Handler::LogError,
    ),
    route(
        Method::Get,
        "/v1/log/audit",
        0,
        0,
        Auth::Policy,
        Handler::LogAudit,
    ),
];

/// Whether `path` names a route (for validating `api.<path>` config keys).
pub(crate) fn is_route_path(path: &str) -> bool {
    ROUTES.iter().any(|r| r.path == path)
}

/// Finds the route for a decoded path, returning it and the resource.
///
/// The path a policy must be checked on is always `route.path + resource`
/// ([`routed_path`]): for the list routes reached without their trailing
/// slash that is the canonical `/v1/key/list/` form.
pub(crate) fn find(path: &str) -> Option<(&'static Route, &str)> {
    let mut best: Option<(&'static Route, &str)> = None;
    for r in ROUTES {
        if r.path.ends_with('/') {
            if let Some(resource) = path.strip_prefix(r.path) {
                // Longest prefix wins (Go ServeMux), e.g. /v1/identity/self/describe
                // is exact and never reaches the /v1/identity/describe/ subtree.
                if best.is_none_or(|(b, _)| r.path.len() > b.path.len()) {
                    best = Some((r, resource));
                }
            } else if matches!(
                r.handler,
                Handler::KeyList | Handler::PolicyList | Handler::IdentityList
            ) && path == &r.path[..r.path.len() - 1]
            {
                return Some((r, ""));
            }
        } else if r.path == path {
            return Some((r, ""));
        }
    }
    best
}

/// The canonical path of a routed request: what policies are checked on.
///
/// `path` is the decoded path `route` and `resource` were found in; when it
/// already is `route.path + resource` (every route but the list routes
/// reached without their trailing slash) it is returned as is, without a copy.
pub(crate) fn routed_path<'a>(route: &Route, resource: &str, path: &'a str) -> Cow<'a, str> {
    if !route.path.ends_with('/') {
        return Cow::Borrowed(route.path);
    }
    if path.len() == route.path.len() + resource.len() && path.starts_with(route.path) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(format!("{}{resource}", route.path))
}

/// Decodes a request path and checks it is canonical.
///
/// Returns `None` for bad percent-encoding, non-UTF-8, control characters,
/// backslashes, empty segments (`//`) and `.`/`..` segments: such a path is
/// refused before routing, so the path the policy sees is the path routed.
/// A path without percent-escapes is returned borrowed (no copy).
pub(crate) fn canonical_path(raw: &str) -> Option<Cow<'_, str>> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    if decoded.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let inner = decoded.strip_prefix('/')?;
    if !inner.is_empty() {
        let mut segments = inner.split('/').peekable();
        while let Some(s) = segments.next() {
            // An empty last segment is a trailing slash (subtree routes).
            let last = segments.peek().is_none();
            if (s.is_empty() && !last) || s == "." || s == ".." {
                return None;
            }
        }
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        let (r, res) = find("/v1/key/create/my-key").unwrap();
        assert_eq!((r.handler, res), (Handler::KeyCreate, "my-key"));
        assert_eq!(find("/v1/key/list").unwrap().0.handler, Handler::KeyList);
        assert_eq!(find("/v1/key/list/").unwrap().1, "");
        assert_eq!(
            find("/v1/identity/self/describe").unwrap().0.handler,
            Handler::IdentitySelf
        );
        assert_eq!(
            find("/v1/key/bulk/decrypt/k").unwrap().0.handler,
            Handler::KeyBulkDecrypt
        );
        assert_eq!(find("/v1/metrics").unwrap().0.handler, Handler::Metrics);
        for (path, handler) in [
            ("/v1/ext/key/disable/k", Handler::KeyDisable),
            ("/v1/ext/key/enable/k", Handler::KeyEnable),
            ("/v1/ext/key/rotate/k", Handler::KeyRotate),
            ("/v1/ext/key/rewrap/k", Handler::KeyRewrap),
            ("/v1/ext/key/describe/k", Handler::KeyDescribeExt),
        ] {
            let (r, res) = find(path).unwrap();
            assert_eq!((r.handler, res), (handler, "k"), "{path}");
        }
        assert!(find("/v1/ext/key/disable").is_none());
        assert_eq!(find("/v1/log/audit").unwrap().0.handler, Handler::LogAudit);
        assert_eq!(find("/v1/log/error").unwrap().0.timeout, Duration::ZERO);
        assert!(find("/v1/log/error/x").is_none());
        assert!(find("/v1/status/").is_none());
        assert!(find("/V1/status").is_none());
        assert!(find("/v1/key/create").is_none());
        assert!(find("/").is_none());
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for bad in [
            "/v1/key/create/../delete/x",
            "/v1/key//delete/x",
            "/v1/key/create/%2E%2E/x",
            "/v1/key/./create/x",
            "/v1/key/create/x/..",
            "/v1/key/create/%00",
            "/v1/key/create/a%5Cb",
            "/v1/key/create/%ff",
            "v1/status",
        ] {
            assert_eq!(canonical_path(bad), None, "{bad}");
        }
        assert_eq!(
            canonical_path("/v1/key/create/a%2Fb").as_deref(),
            Some("/v1/key/create/a/b")
        );
        assert_eq!(
            canonical_path("/v1/key/list/").as_deref(),
            Some("/v1/key/list/")
        );
    }
}

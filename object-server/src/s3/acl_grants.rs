//! `x-amz-grant-*` request headers: explicit grants on CreateBucket, PutBucketAcl, PutObject,
//! CopyObject, CreateMultipartUpload and PutObjectAcl.
//!
//! Each header (`x-amz-grant-full-control`, `-read`, `-read-acp`, `-write`, `-write-acp`) is a
//! comma-separated list of `type="value"` grantees, `type` one of `id` (a canonical user id),
//! `uri` (a group: `AllUsers`, `AuthenticatedUsers`, `LogDelivery`) or `emailAddress`. As in
//! S3, the grants given replace the whole ACL (the owner keeps no implicit full control).
//!
//! Errors, as S3 answers them:
//! * a header together with `x-amz-acl` (or an `AccessControlPolicy` body) → 400
//!   `InvalidRequest`;
//! * a canonical id other than the owner's (the server has one account) → 400
//!   `InvalidArgument` `Invalid id`, an unknown group → `Invalid group uri`, a list that does
//!   not parse → `Argument format not recognized`;
//! * `emailAddress=` → 400 `UnresolvableGrantByEmailAddress` (S3 outside the few regions that
//!   resolve e-mail grantees).
//!
//! Ownership controls and the Public Access Block apply exactly as for canned ACLs (the
//! caller runs `acl::admit` on the result).

use s3s::dto::Permission;

use super::acl::{ALL_USERS, AUTHENTICATED_USERS, GrantList, Grantee, LOG_DELIVERY, canned, grant};
use super::bucket::owner;
use crate::error::{Error, Result};

/// The `x-amz-grant-*` header values of one request (`None`: header absent).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HeaderGrants<'a> {
    pub full_control: Option<&'a str>,
    pub read: Option<&'a str>,
    pub read_acp: Option<&'a str>,
    pub write: Option<&'a str>,
    pub write_acp: Option<&'a str>,
}

/// The [`HeaderGrants`] of an s3s input with the four object grant fields (`write` absent).
macro_rules! object_header_grants {
    ($input:expr) => {
        $crate::s3::acl_grants::HeaderGrants {
            full_control: $input.grant_full_control.as_deref(),
            read: $input.grant_read.as_deref(),
            read_acp: $input.grant_read_acp.as_deref(),
            write: None,
            write_acp: $input.grant_write_acp.as_deref(),
        }
    };
}
pub(crate) use object_header_grants;

/// The [`HeaderGrants`] of an s3s input with all five grant fields.
macro_rules! all_header_grants {
    ($input:expr) => {
        $crate::s3::acl_grants::HeaderGrants {
            full_control: $input.grant_full_control.as_deref(),
            read: $input.grant_read.as_deref(),
            read_acp: $input.grant_read_acp.as_deref(),
            write: $input.grant_write.as_deref(),
            write_acp: $input.grant_write_acp.as_deref(),
        }
    };
}
pub(crate) use all_header_grants;

fn unrecognised() -> Error {
    Error::InvalidArgument("Argument format not recognized".to_owned())
}

impl HeaderGrants<'_> {
    /// Whether any grant header is present.
    pub(crate) fn any(&self) -> bool {
        self.full_control.is_some()
            || self.read.is_some()
            || self.read_acp.is_some()
            || self.write.is_some()
            || self.write_acp.is_some()
    }

    /// The grants the headers name, in header order (full control, read, read-acp, write,
    /// write-acp); `None` when no header is present.
    pub(crate) fn parse(&self) -> Result<Option<GrantList>> {
        if !self.any() {
            return Ok(None);
        }
        let mut out = GrantList::new();
        for (value, permission) in [
            (self.full_control, Permission::FULL_CONTROL),
            (self.read, Permission::READ),
            (self.read_acp, Permission::READ_ACP),
            (self.write, Permission::WRITE),
            (self.write_acp, Permission::WRITE_ACP),
        ] {
            if let Some(v) = value {
                parse_list(v, permission, &mut out)?;
            }
        }
        Ok(Some(out))
    }

    /// The grants of a request that may carry a canned ACL (`x-amz-acl`) or these headers:
    /// both → 400 `InvalidRequest`; neither → `None`.
    pub(crate) fn resolve(&self, acl: Option<&str>) -> Result<Option<GrantList>> {
        match (acl, self.any()) {
            (Some(_), true) => Err(both()),
            (Some(a), false) => canned(a).map(Some),
            (None, _) => self.parse(),
        }
    }
}

/// `Specifying both Canned ACLs and Header Grants is not allowed` (400 `InvalidRequest`).
pub(crate) fn both() -> Error {
    Error::InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed".to_owned())
}

/// Appends the grantees of one header value with `permission` to `out`.
fn parse_list(value: &str, permission: &str, out: &mut GrantList) -> Result<()> {
    let owner_id = owner().id.unwrap_or_default();
    let mut seen = false;
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        seen = true;
        let (kind, raw) = item.split_once('=').ok_or_else(unrecognised)?;
        let raw = raw.trim();
        let v = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let grantee = match kind.trim().to_ascii_lowercase().as_str() {
            "id" if v == owner_id => Grantee::Owner,
            "id" => return Err(Error::InvalidArgument("Invalid id".to_owned())),
            "uri" => match v {
                ALL_USERS => Grantee::AllUsers,
                AUTHENTICATED_USERS => Grantee::AuthenticatedUsers,
                LOG_DELIVERY => Grantee::LogDelivery,
                _ => return Err(Error::InvalidArgument("Invalid group uri".to_owned())),
            },
            "emailaddress" => return Err(Error::UnresolvableGrantByEmail),
            _ => return Err(unrecognised()),
        };
        let g = grant(grantee, permission);
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if seen { Ok(()) } else { Err(unrecognised()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::acl::private;

    fn headers(read: &str) -> HeaderGrants<'_> {
        HeaderGrants {
            read: Some(read),
            ..Default::default()
        }
    }

    #[test]
    fn parses_grantees() {
        let id = owner().id.unwrap();
        let full = format!("id=\"{id}\"");
        let h = HeaderGrants {
            full_control: Some(&full),
            read: Some(
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
            ),
            ..Default::default()
        };
        let g = h.parse().unwrap().unwrap();
        assert_eq!(g[0], private()[0]);
        assert_eq!(g[1], grant(Grantee::AllUsers, Permission::READ));
        assert_eq!(g[2], grant(Grantee::LogDelivery, Permission::READ));
        assert_eq!(g.len(), 3);
        assert!(HeaderGrants::default().parse().unwrap().is_none());
    }

    #[test]
    fn refuses_what_s3_refuses() {
        let code = |r: Result<Option<GrantList>>| s3s::S3Error::from(r.unwrap_err()).code().clone();
        assert_eq!(
            code(headers("emailAddress=\"a@example.com\"").parse()).as_str(),
            "UnresolvableGrantByEmailAddress"
        );
        assert_eq!(
            code(headers("id=\"someone-else\"").parse()).as_str(),
            "InvalidArgument"
        );
        assert_eq!(
            code(headers("uri=\"http://x/y\"").parse()).as_str(),
            "InvalidArgument"
        );
        assert_eq!(
            code(headers("nonsense").parse()).as_str(),
            "InvalidArgument"
        );
        assert_eq!(code(headers(" , ").parse()).as_str(), "InvalidArgument");
        assert_eq!(
            code(headers(&format!("id={}", owner().id.unwrap())).resolve(Some("private"))).as_str(),
            "InvalidRequest"
        );
        assert_eq!(
            HeaderGrants::default()
                .resolve(Some("public-read"))
                .unwrap()
                .unwrap(),
            canned("public-read").unwrap()
        );
    }
}

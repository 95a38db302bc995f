//! `kes server --dev`: an in-memory keystore, a fresh self-signed server
//! certificate and a fresh admin API key — for trying things out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use client::ApiKey;
use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, SanType};
use time::{Duration, OffsetDateTime};

use crate::config::{
    CacheSettings, ClientAuth, ConfigError, KeystoreSettings, LogLevel, LogSettings, Settings,
    TlsSettings, tls,
};
use crate::policy::{Identity, PolicySet};

/// Default `--dev` address.
pub const DEV_ADDRESS: &str = "127.0.0.1:7373";

/// Everything `--dev` makes up.
pub struct Dev {
    /// Settings (memory keystore, admin = the API key's identity).
    pub settings: Settings,
    /// TLS config with the self-signed certificate.
    pub tls: rustls::ServerConfig,
    /// The admin API key, printed once.
    pub api_key: ApiKey,
    /// The certificate PEM, so clients can trust it.
    pub cert_pem: String,
}

/// Builds a dev setup listening on `addr`.
pub fn setup(addr: SocketAddr) -> Result<Dev, ConfigError> {
    let api_key = ApiKey::generate()
        .map_err(|e| ConfigError::Tls(format!("cannot generate API key: {e}")))?;
    let admin = Identity::parse(&api_key.identity())
        .ok_or_else(|| ConfigError::Invalid("admin identity".into()))?;
    let (cert_pem, key_pem) = self_signed(addr.ip())?;
    let identity = tls::identity_from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    let tls = tls::server_config(identity, ClientAuth::RequireAny, None, false)?;
    let settings = Settings {
        address: addr,
        admin: Some(admin),
        tls: TlsSettings {
            key: Default::default(),
            cert: Default::default(),
            password: None,
            auth: ClientAuth::RequireAny,
            ca: None,
        },
        cache: CacheSettings::default(),
        log: LogSettings {
            error: LogLevel::INFO,
            audit: None,
        },
        api: Default::default(),
        policies: PolicySet::default(),
        keys: Vec::new(),
        keystore: KeystoreSettings::Memory,
        limits: Default::default(),
    };
    Ok(Dev {
        settings,
        tls,
        api_key,
        cert_pem,
    })
}

/// A 90-day self-signed ECDSA P-256 certificate for localhost, the loopback
/// addresses and `ip`.
fn self_signed(ip: IpAddr) -> Result<(String, String), ConfigError> {
    let err = |e: rcgen::Error| ConfigError::Tls(format!("cannot create certificate: {e}"));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !ip.is_unspecified() && !ips.contains(&ip) {
        ips.push(ip);
    }
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + Duration::days(90);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

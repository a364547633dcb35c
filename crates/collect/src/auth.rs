//! Credentials and tokens: the OAuth 2.0 client credentials grant with a client secret or a
//! certificate's signed assertion
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>,
//! <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>), or a
//! person signing in on another device with a code (the device authorization grant, delegated,
//! renewed with its refresh token:
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>),
//! against the public or a national cloud's endpoints
//! (<https://learn.microsoft.com/en-us/graph/deployments>).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A secret: never shown, never written. `Debug` says only that it is there.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The clouds whose endpoint pairs `--cloud` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
    China,
}

impl Cloud {
    pub fn parse(name: &str) -> Option<Cloud> {
        match name {
            "global" => Some(Cloud::Global),
            "usgov" => Some(Cloud::UsGov),
            "usgov-dod" => Some(Cloud::UsGovDod),
            "china" => Some(Cloud::China),
            _ => None,
        }
    }

    /// The sign-in endpoint and the Graph endpoint.
    pub fn endpoints(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Global => ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
            Cloud::UsGov => ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
            Cloud::UsGovDod => ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
            Cloud::China => ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
        }
    }
}

/// Who signs in, with what, and where.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub tenant: String,
    pub client_id: String,
    pub key: Key,
    pub login_url: String,
    pub graph_url: String,
}

/// What proves the application's identity.
#[derive(Debug, Clone)]
pub enum Key {
    Secret(Secret),
    Certificate(Certificate),
    /// No application secret: a person signs in in a browser with the code shown through
    /// this function (a public client app; the permissions are delegated: the person's roles
    /// bound what Graph returns).
    DeviceCode(fn(&str)),
}

/// A certificate registered on the application and its private key: each token request
/// carries an assertion signed with the key (RS256), naming the certificate by its SHA-256
/// thumbprint (`x5t#S256`).
#[derive(Clone)]
pub struct Certificate {
    key: Arc<ring::signature::RsaKeyPair>,
    thumbprint: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate(x5t#S256 {}, key [redacted])", self.thumbprint)
    }
}

impl Certificate {
    /// From PEM text: the certificate, and its RSA private key (PKCS#8 `PRIVATE KEY` or
    /// PKCS#1 `RSA PRIVATE KEY`, unencrypted).
    pub fn from_pem(certificate: &str, private_key: &str) -> Result<Certificate, String> {
        let cert = pem_block(certificate, "CERTIFICATE").ok_or("no CERTIFICATE block in the certificate file")?;
        let key = match (pem_block(private_key, "PRIVATE KEY"), pem_block(private_key, "RSA PRIVATE KEY")) {
            (Some(pkcs8), _) => ring::signature::RsaKeyPair::from_pkcs8(&pkcs8),
            (None, Some(pkcs1)) => ring::signature::RsaKeyPair::from_der(&pkcs1),
            (None, None) => {
                return Err("no PRIVATE KEY or RSA PRIVATE KEY block in the key file (an encrypted key must be decrypted first)".into());
            }
        }
        .map_err(|e| format!("the private key is not an RSA key ring can use: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &cert);
        Ok(Certificate { key: Arc::new(key), thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()) })
    }

    /// The signed client assertion for `audience` (the token endpoint), valid ten minutes.
    pub(crate) fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint});
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id, "jti": crate::client::request_id_new(),
            "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER bytes of the first PEM block labelled `label`.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

/// An access token and when to stop using it.
pub(crate) struct Token {
    pub value: String,
    pub renew_at: Instant,
}

impl Token {
    /// A token lives `expires_in` seconds; it is renewed a quarter of its life early (at most
    /// five minutes), so a request never leaves with a token about to expire.
    pub fn new(value: String, expires_in: u64) -> Token {
        let margin = (expires_in / 4).min(300);
        Token { value, renew_at: Instant::now() + Duration::from_secs(expires_in.saturating_sub(margin)) }
    }

    pub fn fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }
}

/// The form of the grant to `token_url`, percent-encoded: client credentials, or for a
/// device-code sign-in the refresh token's grant (`refresh`) or the device code's (`device`).
pub(crate) fn token_form(
    c: &Credentials,
    token_url: &str,
    refresh: Option<&Secret>,
    device: Option<&Secret>,
) -> Result<String, String> {
    let graph = c.graph_url.trim_end_matches('/');
    let scope = match c.key {
        Key::DeviceCode(_) => format!("{graph}/.default offline_access"),
        _ => format!("{graph}/.default"),
    };
    let assertion;
    let mut fields = vec![("client_id", c.client_id.as_str()), ("scope", scope.as_str())];
    match (&c.key, refresh, device) {
        (Key::Secret(secret), _, _) => fields.push(("client_secret", secret.expose())),
        (Key::Certificate(certificate), _, _) => {
            assertion = certificate.assertion(&c.client_id, token_url)?;
            fields.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
            fields.push(("client_assertion", assertion.as_str()));
        }
        (Key::DeviceCode(_), Some(refresh), _) => {
            fields.push(("refresh_token", refresh.expose()));
            fields.push(("grant_type", "refresh_token"));
        }
        (Key::DeviceCode(_), None, Some(device)) => {
            fields.push(("device_code", device.expose()));
            fields.push(("grant_type", "urn:ietf:params:oauth:grant-type:device_code"));
        }
        (Key::DeviceCode(_), None, None) => return Err("a device-code sign-in has no code yet".into()),
    }
    if !matches!(c.key, Key::DeviceCode(_)) {
        fields.push(("grant_type", "client_credentials"));
    }
    Ok(form(&fields))
}

/// Form fields, percent-encoded.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", crate::source::encode(v))).collect::<Vec<_>>().join("&")
}

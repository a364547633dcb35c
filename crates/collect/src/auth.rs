//! Credentials and tokens: the OAuth 2.0 client credentials grant with a client secret
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>),
//! against the public or a national cloud's endpoints
//! (<https://learn.microsoft.com/en-us/graph/deployments>).

use std::time::{Duration, Instant};

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

/// Who signs in, and where.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub tenant: String,
    pub client_id: String,
    pub secret: Secret,
    pub login_url: String,
    pub graph_url: String,
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

/// The form of the client credentials grant, percent-encoded.
pub(crate) fn token_form(c: &Credentials) -> String {
    let scope = format!("{}/.default", c.graph_url.trim_end_matches('/'));
    [
        ("client_id", c.client_id.as_str()),
        ("scope", scope.as_str()),
        ("client_secret", c.secret.expose()),
        ("grant_type", "client_credentials"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", crate::source::encode(v)))
    .collect::<Vec<_>>()
    .join("&")
}

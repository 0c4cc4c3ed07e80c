//! Fetching an issuer's documents (discovery metadata, key sets) and calling its
//! introspection endpoint: HTTPS only (plain HTTP on loopback, for local issuers and tests),
//! no redirects, bounded in time and size.

use std::time::Duration;

use url::Url;

/// The largest document accepted from an issuer.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 << 10;

/// How long one request to an issuer may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a document could not be fetched (the URL is named; no credential ever is).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FetchError(pub(crate) String);

/// An HTTP client for an issuer's endpoints.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new() -> Result<Self, String> {
        // reqwest is built without a bundled crypto provider; ring is ours. Installing twice
        // is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("platform-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for the issuer: {e}"))?;
        Ok(Self { client })
    }

    /// GET a JSON document.
    pub(crate) async fn get_json(&self, url: &Url) -> Result<serde_json::Value, FetchError> {
        let request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        self.json(url, request).await
    }

    /// POST a form (RFC 7662 introspection), with basic client authentication when given.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<serde_json::Value, FetchError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(form_encode(id), Some(form_encode(secret)));
        }
        self.json(url, request).await
    }

    /// GET a JSON document with a bearer token (a provider's user API, such as GitHub's).
    pub(crate) async fn get_json_with_token(
        &self,
        url: &Url,
        token: &str,
    ) -> Result<(u16, serde_json::Value), FetchError> {
        let request = self
            .client
            .get(url.clone())
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = request
            .send()
            .await
            .map_err(|e| FetchError(format!("{url}: {}", without_url(&e))))?;
        let status = response.status().as_u16();
        let body = read_bounded(url, response).await?;
        let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Ok((status, value))
    }

    async fn json(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, FetchError> {
        let response = request
            .send()
            .await
            .map_err(|e| FetchError(format!("{url}: {}", without_url(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError(format!("{url} answered {status}")));
        }
        let body = read_bounded(url, response).await?;
        serde_json::from_slice(&body)
            .map_err(|e| FetchError(format!("{url} did not answer JSON: {e}")))
    }
}

/// The body, refused past [`MAX_DOCUMENT_BYTES`] (and early, when `Content-Length` says so).
async fn read_bounded(url: &Url, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let too_large = || {
        FetchError(format!(
            "{url} answered a document larger than {MAX_DOCUMENT_BYTES} bytes"
        ))
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError(format!("{url}: {}", without_url(&e))))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error's text without the URL it repeats.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// `application/x-www-form-urlencoded` for one key or value (as RFC 6749 §2.3.1 also
/// encodes client credentials before HTTP basic authentication).
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Parse an issuer-side URL and check it may be fetched: `https`, or `http` to a loopback
/// host (a local issuer or a test's); no credentials or fragment in it.
pub(crate) fn checked_url(text: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{what} `{text}` is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{what} must not carry credentials in the URL; configure them separately"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("{what} `{text}` must not have a fragment (`#…`)"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{what} `{text}` must use https (plain http is accepted only on loopback)"
        )),
        other => Err(format!("{what} `{text}` must use https, not `{other}`")),
    }
}

/// Whether the URL's host is loopback (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_encoded_as_forms_encode_them() {
        assert_eq!(form_encode("mcp-server_1.a*b"), "mcp-server_1.a*b");
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn issuers_are_https_except_on_loopback() {
        assert!(checked_url("https://idp.example.com", "issuer").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/realms/a", "issuer").is_ok());
        assert!(checked_url("http://localhost:9000", "issuer").is_ok());
        assert!(checked_url("http://[::1]:9000", "issuer").is_ok());
        let plain = checked_url("http://idp.example.com", "issuer").unwrap_err();
        assert!(plain.contains("must use https"), "{plain}");
        assert!(checked_url("ftp://idp.example.com", "issuer").is_err());
        assert!(checked_url("https://user:pw@idp.example.com", "issuer").is_err());
        assert!(checked_url("https://idp.example.com/#x", "issuer").is_err());
        assert!(checked_url("not a url", "issuer").is_err());
    }
}

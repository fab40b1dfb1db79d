//! What the developer portal records about an App besides its credentials: X's App type, its
//! website and description.

use std::fmt;

use crate::ClientType;

/// X's App types as the developer portal names them. "Native App" and "Single page App" are
/// public clients (no Client Secret); "Web App, Automated App or Bot" is confidential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    Native,
    SinglePage,
    Web,
}

impl AppKind {
    pub const ALL: [AppKind; 3] = [AppKind::Native, AppKind::SinglePage, AppKind::Web];

    /// The stored and wire name: `native`, `single_page`, `web`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Native => "native",
            AppKind::SinglePage => "single_page",
            AppKind::Web => "web",
        }
    }

    /// X's name for it, as the portal shows it.
    pub fn label(self) -> &'static str {
        match self {
            AppKind::Native => "Native App",
            AppKind::SinglePage => "Single page App",
            AppKind::Web => "Web App, Automated App or Bot",
        }
    }

    pub fn client_type(self) -> ClientType {
        match self {
            AppKind::Native | AppKind::SinglePage => ClientType::Public,
            AppKind::Web => ClientType::Confidential,
        }
    }

    /// The kind an App created with only a client type has: a public client is taken for a
    /// native App, a confidential one for a web App.
    pub fn of_client_type(t: ClientType) -> Self {
        match t {
            ClientType::Public => AppKind::Native,
            ClientType::Confidential => AppKind::Web,
        }
    }

    /// Accepts the stored names and, for the command line and the admin API, the client types
    /// (`public` is a native App, `confidential` a web App) and `spa`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "native" | "public" => Some(AppKind::Native),
            "single_page" | "spa" => Some(AppKind::SinglePage),
            "web" | "confidential" => Some(AppKind::Web),
            _ => None,
        }
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest website URL accepted, as for callbacks (checklist H3).
pub const MAX_WEBSITE_URL_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebsiteUrlError {
    #[error("the website URL must be an absolute https:// or http:// URL")]
    NotHttp,
    #[error("the website URL is longer than 2048 characters")]
    TooLong,
    #[error("the website URL must not hold credentials (user:password@)")]
    UserInfo,
}

/// An App's website: an absolute http(s) URL, shown to people on the consent and connected-apps
/// pages, so nothing that could run (`javascript:`) or fool them (credentials) gets in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebsiteUrl(String);

impl WebsiteUrl {
    pub fn parse(s: &str) -> Result<Self, WebsiteUrlError> {
        let s = s.trim();
        if s.len() > MAX_WEBSITE_URL_LEN {
            return Err(WebsiteUrlError::TooLong);
        }
        if !s.is_ascii() || s.chars().any(|c| c.is_control() || c == ' ') {
            return Err(WebsiteUrlError::NotHttp);
        }
        let url = url::Url::parse(s).map_err(|_| WebsiteUrlError::NotHttp)?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(WebsiteUrlError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebsiteUrlError::UserInfo);
        }
        Ok(Self(s.to_owned()))
    }

    /// Wraps a URL read back from the store (validated when it was set).
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebsiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest Project or App name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest App description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not hold control characters")]
    Control,
}

/// A Project or App name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label(String);

impl Label {
    pub fn parse(s: &str) -> Result<Self, LabelError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(LabelError::Empty);
        }
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(LabelError::TooLong(MAX_NAME_CHARS));
        }
        if s.chars().any(char::is_control) {
            return Err(LabelError::Control);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An App description: trimmed, at most 1000 characters; line breaks are kept, other control
/// characters refused.
pub fn parse_description(s: &str) -> Result<String, LabelError> {
    let s = s.trim();
    if s.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(LabelError::TooLong(MAX_DESCRIPTION_CHARS));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(LabelError::Control);
    }
    Ok(s.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_x_client_types() {
        assert_eq!(AppKind::Native.client_type(), ClientType::Public);
        assert_eq!(AppKind::SinglePage.client_type(), ClientType::Public);
        assert_eq!(AppKind::Web.client_type(), ClientType::Confidential);
        for k in AppKind::ALL {
            assert_eq!(AppKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AppKind::parse("public"), Some(AppKind::Native));
        assert_eq!(AppKind::parse("confidential"), Some(AppKind::Web));
        assert_eq!(AppKind::parse("Web"), None);
    }

    #[test]
    fn website_urls_are_absolute_http() {
        assert!(WebsiteUrl::parse("https://example.com/app").is_ok());
        assert!(WebsiteUrl::parse("http://example.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "example.com",
            "ftp://example.com",
            "https://u:p@example.com",
            "https://exa mple.com",
            "data:text/html,hi",
        ] {
            assert!(WebsiteUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            WebsiteUrl::parse(&format!("https://e.com/{}", "a".repeat(2100))),
            Err(WebsiteUrlError::TooLong)
        );
    }

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(Label::parse("  My App ").unwrap().as_str(), "My App");
        assert_eq!(Label::parse("   "), Err(LabelError::Empty));
        assert_eq!(
            Label::parse(&"é".repeat(100))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            100
        );
        assert_eq!(
            Label::parse(&"é".repeat(101)),
            Err(LabelError::TooLong(100))
        );
        assert_eq!(Label::parse("a\u{0}b"), Err(LabelError::Control));
        assert_eq!(parse_description(" one\r\ntwo ").unwrap(), "one\ntwo");
        assert!(parse_description("bell\u{7}").is_err());
    }
}

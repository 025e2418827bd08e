//! Typed settings, read once per request from the Worker's vars and secrets.
//!
//! Parsing takes a lookup function instead of `worker::Env`, so the rules
//! (defaults, ranges, error messages) are tested natively. An invalid value
//! is a [`ConfigError`] naming the setting, never a panic.

use crate::envelope::{human_bytes, Lang, UserFacing};
use crate::imaging::{OutputFormat, ResizeSpace};

/// Default edge length of the square avatar, px.
pub const DEFAULT_AVATAR_SIZE: u32 = 256;
/// Largest avatar edge we accept as a setting: the imaging pipeline's own
/// cap (its resize buffers must fit the isolate's memory).
pub const MAX_AVATAR_SIZE: u32 = crate::imaging::limits::MAX_OUTPUT_SIZE;
/// Default largest accepted file: 20 MiB, a 48 MP phone JPEG fits.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;
/// Cloudflare refuses request bodies above 100 MB on most plans anyway.
pub const CEILING_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Default largest source area: 100 MP, as Cloudflare Images.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Above this the decoders' working memory no longer fits an isolate.
pub const CEILING_MAX_PIXELS: u64 = 1_000_000_000;
/// Default lossy quality.
pub const DEFAULT_OUTPUT_QUALITY: u8 = 85;

/// Which cross-origin callers may use the API.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// No CORS headers at all (same-origin use only). The default.
    #[default]
    None,
    /// `*`: any origin (without credentials).
    Any,
    /// An exact list of origins such as `https://www.example.com`.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// The value for `Access-Control-Allow-Origin` for a request from
    /// `origin`, or `None` when that origin is not allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        match (self, origin) {
            (AllowedOrigins::None, _) => None,
            (AllowedOrigins::Any, _) => Some("*".to_string()),
            (AllowedOrigins::List(list), Some(o)) => {
                list.iter().find(|a| a.eq_ignore_ascii_case(o)).map(|_| o.to_string())
            }
            (AllowedOrigins::List(_), None) => None,
        }
    }
}

/// Whether the member upload page is served at `GET /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPage {
    On,
    Off,
}

/// Every setting of the service, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `TOKEN_SECRET`; `None` means uploads are refused with a clear error.
    pub token_secret: Option<String>,
    /// `PUBLIC_BASE_URL` without a trailing slash; `None`: the request origin.
    pub public_base_url: Option<String>,
    pub avatar_size: u32,
    pub max_upload_bytes: u64,
    pub max_pixels: u64,
    pub output_format: OutputFormat,
    pub output_quality: u8,
    /// `RESIZE_SPACE`: `srgb` (default) or `linear`; see [`ResizeSpace`].
    pub resize_space: ResizeSpace,
    pub allowed_origins: AllowedOrigins,
    /// `UPLOAD_PAGE` (`on`/`off`), default off; `wrangler.toml`'s dev
    /// environment turns it on.
    pub upload_page: UploadPage,
    /// `RATE_LIMIT_PERIOD`: the rate-limit binding's period in seconds (10
    /// or 60), used to tell a limited member when to retry.
    pub rate_limit_period: u32,
}

/// A setting with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: &'static str,
    pub value: String,
    /// What is accepted, in English (settings are operator-facing).
    pub expected: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?} is invalid: expected {}", self.setting, self.value, self.expected)
    }
}

impl UserFacing for ConfigError {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "服务配置错误: {} 的值 {:?} 无效，应为 {}",
                self.setting, self.value, self.expected
            ),
            Lang::En => format!("The service is misconfigured: {self}"),
        }
    }
}

fn invalid(setting: &'static str, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError { setting, value: value.to_string(), expected: expected.into() }
}

/// Parses an integer setting within `min..=max`, or the default when unset
/// or blank.
fn int_setting(
    lookup: &dyn Fn(&str) -> Option<String>,
    setting: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = lookup(setting) else { return Ok(default) };
    let v = raw.trim();
    if v.is_empty() {
        return Ok(default);
    }
    match v.replace('_', "").parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(setting, &raw, format!("a whole number from {min} to {max}"))),
    }
}

/// Parses a setting that names one of a few choices with `parse`, or the
/// default when unset or blank; `expected` lists the choices.
fn choice_setting<T>(
    lookup: &dyn Fn(&str) -> Option<String>,
    setting: &'static str,
    default: T,
    parse: fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match lookup(setting) {
        Some(raw) if !raw.trim().is_empty() => parse(raw.trim()).ok_or_else(|| invalid(setting, &raw, expected)),
        _ => Ok(default),
    }
}

impl Config {
    /// Reads every setting through `lookup` (vars and secrets by name).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let token_secret = lookup("TOKEN_SECRET").filter(|s| !s.is_empty());

        let public_base_url = match lookup("PUBLIC_BASE_URL") {
            Some(raw) if !raw.trim().is_empty() => {
                let v = raw.trim().trim_end_matches('/');
                let rest = v
                    .strip_prefix("https://")
                    .or_else(|| v.strip_prefix("http://"))
                    .unwrap_or("");
                if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains('?') {
                    return Err(invalid(
                        "PUBLIC_BASE_URL",
                        &raw,
                        "an absolute http(s) URL such as https://www.example.com",
                    ));
                }
                Some(v.to_string())
            }
            _ => None,
        };

        let avatar_size =
            int_setting(lookup, "AVATAR_SIZE", DEFAULT_AVATAR_SIZE.into(), 16, MAX_AVATAR_SIZE.into())?
                as u32;
        let max_upload_bytes = int_setting(
            lookup,
            "MAX_UPLOAD_BYTES",
            DEFAULT_MAX_UPLOAD_BYTES,
            1024,
            CEILING_MAX_UPLOAD_BYTES,
        )?;
        let max_pixels =
            int_setting(lookup, "MAX_PIXELS", DEFAULT_MAX_PIXELS, 1, CEILING_MAX_PIXELS)?;

        let output_format =
            choice_setting(lookup, "OUTPUT_FORMAT", OutputFormat::Webp, OutputFormat::parse, "webp, jpeg or png")?;
        let output_quality =
            int_setting(lookup, "OUTPUT_QUALITY", DEFAULT_OUTPUT_QUALITY.into(), 1, 100)? as u8;
        let resize_space =
            choice_setting(lookup, "RESIZE_SPACE", ResizeSpace::default(), ResizeSpace::parse, "srgb or linear")?;

        let allowed_origins = match lookup("ALLOWED_ORIGINS") {
            Some(raw) if !raw.trim().is_empty() => {
                let items: Vec<String> = raw
                    .split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if items.iter().any(|s| s == "*") {
                    AllowedOrigins::Any
                } else {
                    for item in &items {
                        let ok = (item.starts_with("https://") || item.starts_with("http://"))
                            && !item.contains(char::is_whitespace);
                        if !ok {
                            return Err(invalid(
                                "ALLOWED_ORIGINS",
                                &raw,
                                "* or a comma list of origins such as https://www.example.com",
                            ));
                        }
                    }
                    AllowedOrigins::List(items)
                }
            }
            _ => AllowedOrigins::None,
        };

        let upload_page = match lookup("UPLOAD_PAGE").map(|s| s.trim().to_ascii_lowercase()) {
            None => UploadPage::Off,
            Some(v) => match v.as_str() {
                "" | "off" | "false" | "0" | "no" => UploadPage::Off,
                "on" | "true" | "1" | "yes" => UploadPage::On,
                _ => return Err(invalid("UPLOAD_PAGE", &v, "on or off")),
            },
        };

        let rate_limit_period = match lookup("RATE_LIMIT_PERIOD").map(|s| s.trim().to_string()) {
            None => 60,
            Some(v) if v.is_empty() => 60,
            Some(v) => match v.as_str() {
                "10" => 10,
                "60" => 60,
                _ => return Err(invalid("RATE_LIMIT_PERIOD", &v, "10 or 60 (seconds, as the rate-limit binding)")),
            },
        };

        Ok(Config {
            token_secret,
            public_base_url,
            avatar_size,
            max_upload_bytes,
            max_pixels,
            output_format,
            output_quality,
            resize_space,
            allowed_origins,
            upload_page,
            rate_limit_period,
        })
    }

    /// The largest request body read: the file limit plus room for the
    /// multipart framing and the small crop fields.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_upload_bytes + MULTIPART_OVERHEAD
    }

    /// The message for an over-size file, naming the limit.
    pub fn limit_text(&self) -> String {
        human_bytes(self.max_upload_bytes)
    }
}

/// Room allowed for multipart headers, boundaries and crop fields.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.token_secret, None);
        assert_eq!(c.public_base_url, None);
        assert_eq!(c.avatar_size, 256);
        assert_eq!(c.max_upload_bytes, 20_971_520);
        assert_eq!(c.max_pixels, 100_000_000);
        assert_eq!(c.output_format, OutputFormat::Webp);
        assert_eq!(c.output_quality, 85);
        assert_eq!(c.resize_space, ResizeSpace::Srgb);
        assert_eq!(c.allowed_origins, AllowedOrigins::None);
        assert_eq!(c.upload_page, UploadPage::Off);
        assert_eq!(c.rate_limit_period, 60);
    }

    #[test]
    fn values_are_read() {
        let c = parse(&[
            ("TOKEN_SECRET", "s3cret"),
            ("PUBLIC_BASE_URL", "https://cdn.example.com/"),
            ("AVATAR_SIZE", "128"),
            ("MAX_UPLOAD_BYTES", "1048576"),
            ("MAX_PIXELS", "50000000"),
            ("OUTPUT_FORMAT", "PNG"),
            ("OUTPUT_QUALITY", "70"),
            ("RESIZE_SPACE", " Linear "),
            ("ALLOWED_ORIGINS", "https://a.example, https://b.example/"),
            ("UPLOAD_PAGE", "on"),
        ])
        .unwrap();
        assert_eq!(c.token_secret.as_deref(), Some("s3cret"));
        assert_eq!(c.public_base_url.as_deref(), Some("https://cdn.example.com"));
        assert_eq!(c.avatar_size, 128);
        assert_eq!(c.max_upload_bytes, 1_048_576);
        assert_eq!(c.max_pixels, 50_000_000);
        assert_eq!(c.output_format, OutputFormat::Png);
        assert_eq!(c.output_quality, 70);
        assert_eq!(c.resize_space, ResizeSpace::Linear);
        assert_eq!(
            c.allowed_origins,
            AllowedOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
        assert_eq!(c.upload_page, UploadPage::On);
    }

    #[test]
    fn invalid_values_name_the_setting() {
        for (k, v) in [
            ("AVATAR_SIZE", "0"),
            ("AVATAR_SIZE", "big"),
            ("AVATAR_SIZE", "99999"),
            ("OUTPUT_FORMAT", "tiff"),
            ("OUTPUT_QUALITY", "0"),
            ("OUTPUT_QUALITY", "101"),
            ("MAX_UPLOAD_BYTES", "-5"),
            ("MAX_PIXELS", "0"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("ALLOWED_ORIGINS", "example.com"),
            ("UPLOAD_PAGE", "maybe"),
            ("RATE_LIMIT_PERIOD", "30"),
            ("RESIZE_SPACE", "gamma"),
        ] {
            let err = parse(&[(k, v)]).unwrap_err();
            assert_eq!(err.setting, k);
            assert!(err.message(Lang::En).contains(k), "{}", err.message(Lang::En));
            assert!(err.message(Lang::Zh).contains(k));
        }
    }

    #[test]
    fn empty_values_mean_default() {
        let c = parse(&[("AVATAR_SIZE", " "), ("TOKEN_SECRET", ""), ("OUTPUT_FORMAT", "")]).unwrap();
        assert_eq!(c.avatar_size, 256);
        assert_eq!(c.token_secret, None);
        assert_eq!(c.output_format, OutputFormat::Webp);
    }

    #[test]
    fn cors_decisions() {
        let any = AllowedOrigins::Any;
        assert_eq!(any.allow(Some("https://x")), Some("*".into()));
        let list = AllowedOrigins::List(vec!["https://a.example".into()]);
        assert_eq!(list.allow(Some("https://a.example")), Some("https://a.example".into()));
        assert_eq!(list.allow(Some("https://evil.example")), None);
        assert_eq!(list.allow(None), None);
        assert_eq!(AllowedOrigins::None.allow(Some("https://a.example")), None);
    }
}

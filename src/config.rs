//! Typed settings, read once per request from the Worker's vars and secrets.
//!
//! Every setting is one row of [`SETTINGS`]: its name, what it accepts, its
//! default and its documentation. The same row drives the parsing and
//! validation here and the README's configuration table (generated from it,
//! see the test `readme_configuration_table_is_generated`), so the three
//! cannot disagree. Parsing takes a lookup function instead of
//! `worker::Env`, so the rules are tested natively; an invalid value is a
//! [`ConfigError`] naming the setting, never a panic.

use crate::i18n::{human_bytes, Lang, UserFacing};
use crate::imaging::{Animation, OutputFormat, ResizeSpace, MAX_OUTPUT_SIZE};

/// Default largest accepted file: 20 MiB, a 48 MP phone JPEG fits.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;
/// Room allowed for multipart headers, boundaries and crop fields.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// What a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Any non-empty text (a secret).
    Text,
    /// A whole number in `min..=max`.
    Whole { min: u64, max: u64 },
    /// One of these words (any letter case).
    Choice(&'static [&'static str]),
    /// `on` or `off` (also true/false, yes/no, 1/0).
    Switch,
    /// An absolute http(s) URL without query, such as `https://cdn.example.com`.
    BaseUrl,
    /// An origin: `http(s)://host[:port]`, nothing after it.
    Origin,
    /// `*` or a comma list of origins.
    Origins,
    /// A binding in wrangler.toml, not a value: this kind of binding.
    Binding(&'static str),
}

impl Accepts {
    /// What is accepted, in words (for error messages and the README).
    pub fn describe(self) -> String {
        self.describe_in(Lang::En)
    }

    /// What is accepted, in the member's language (setting values such as
    /// `webp` and `https://` are values, not words, in both).
    pub fn describe_in(self, lang: Lang) -> String {
        if lang == Lang::Zh {
            return match self {
                Accepts::Text => "任意文本".into(),
                Accepts::Whole { min, max } => format!("{min} 到 {max} 之间的整数"),
                Accepts::Choice(words) => words.join("、"),
                Accepts::Switch => "on 或 off".into(),
                Accepts::BaseUrl => "完整的网址（以 http:// 或 https:// 开头），例如 https://www.example.com".into(),
                Accepts::Origin => "网站的源地址（协议、主机名和可选的端口），例如 https://www.example.com".into(),
                Accepts::Origins => "* 或以逗号分隔的源地址，例如 https://www.example.com".into(),
                Accepts::Binding(_) => "在 wrangler.toml 中配置的绑定".into(),
            };
        }
        match self {
            Accepts::Text => "any text".into(),
            Accepts::Whole { min, max } => format!("a whole number from {min} to {max}"),
            Accepts::Choice(words) => or_list(words),
            Accepts::Switch => "on or off".into(),
            Accepts::BaseUrl => "an absolute http(s) URL such as https://www.example.com".into(),
            Accepts::Origin => "an origin such as https://www.example.com (scheme, host, optional port)".into(),
            Accepts::Origins => "* or a comma list of origins such as https://www.example.com".into(),
            Accepts::Binding(kind) => format!("a {kind} binding"),
        }
    }
}

fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// One setting: a row of the configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub accepts: Accepts,
    /// The value used when the setting is unset or blank, as it would be
    /// written; `None`: no value (see `when_unset`).
    pub default: Option<&'static str>,
    /// What happens without a value (README column when `default` is `None`).
    pub when_unset: &'static str,
    pub doc: &'static str,
}

const fn setting(name: &'static str, accepts: Accepts, default: &'static str, doc: &'static str) -> Setting {
    Setting { name, accepts, default: Some(default), when_unset: "", doc }
}

const fn optional(name: &'static str, accepts: Accepts, when_unset: &'static str, doc: &'static str) -> Setting {
    Setting { name, accepts, default: None, when_unset, doc }
}

/// Largest `MAX_UPLOAD_BYTES`: the body is held in wasm memory while the
/// image is decoded, inside the 100 MB an upload may use; a larger body
/// would leave the decoders too little for ordinary photos.
pub const CEILING_MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// Every setting and binding, in README order.
pub const SETTINGS: &[Setting] = &[
    optional(
        "TOKEN_SECRET",
        Accepts::Text,
        "KV-only mode: uploads are refused with a message naming it; origin mode: the site alone judges tokens",
        "secret: AnqiCMS's token secret; the key is `TOKEN_SECRET + \"-user-token\"`",
    ),
    optional(
        "ANQICMS_ORIGIN",
        Accepts::Origin,
        "KV-only mode",
        "the AnqiCMS site's origin: switches on origin mode (sessions from the site, avatars written back)",
    ),
    optional("PUBLIC_BASE_URL", Accepts::BaseUrl, "the request's origin", "origin put in front of returned avatar URLs"),
    setting(
        "AVATAR_SIZE",
        Accepts::Whole { min: 16, max: MAX_OUTPUT_SIZE as u64 },
        "256",
        "edge of the square avatar, px",
    ),
    setting(
        "MAX_UPLOAD_BYTES",
        Accepts::Whole { min: 1024, max: CEILING_MAX_UPLOAD_BYTES },
        "20971520",
        "largest accepted file, bytes",
    ),
    setting("MAX_PIXELS", Accepts::Whole { min: 1, max: 1_000_000_000 }, "100000000", "largest source width × height"),
    setting("OUTPUT_FORMAT", Accepts::Choice(&["webp", "jpeg", "png"]), "webp", "format of the stored avatar"),
    setting("OUTPUT_QUALITY", Accepts::Whole { min: 1, max: 100 }, "85", "quality of lossy output"),
    setting(
        "RESIZE_SPACE",
        Accepts::Choice(&["srgb", "linear"]),
        "srgb",
        "what the downscale averages: `srgb` code values (as sharp/libvips, browsers and AnqiCMS itself) or `linear` light (fine bright detail on a dark ground keeps its brightness; docs/benchmark.md has the measured trade-off)",
    ),
    setting(
        "ANIMATION",
        Accepts::Choice(&["keep", "first"]),
        "keep",
        "an animated GIF or WebP: `keep` makes an animated WebP avatar (with `OUTPUT_FORMAT=webp`; at most 100 pictures, 100 MP decoded in all, 2 MiB written), `first` keeps its first picture",
    ),
    setting(
        "HEIC",
        Accepts::Switch,
        "on",
        "decoding of HEIC/HEIF photos (HEVC, what iPhones write) with libde265, which is LGPL-3.0, and HEVC is covered by patent pools: whether to offer it is the operator's decision (README, \"Licences\"); `off` refuses them with a message suggesting JPEG",
    ),
    optional(
        "ALLOWED_ORIGINS",
        Accepts::Origins,
        "no CORS headers",
        "origins allowed by CORS (and to send the `token` cookie); `*` allows any origin, without cookies",
    ),
    setting("UPLOAD_PAGE", Accepts::Switch, "off", "serves the upload page at `/` (`on` under `npm run dev`)"),
    setting(
        "RATE_LIMIT_PERIOD",
        Accepts::Choice(&["10", "60"]),
        "60",
        "the rate-limit binding's period in seconds, used in the \"retry in\" message",
    ),
    setting(
        "PROFILE_TTL",
        Accepts::Whole { min: 60, max: 86_400 },
        "300",
        "origin mode: seconds a profile (or a refusal) from the site is cached in KV",
    ),
    setting(
        "ORIGIN_TIMEOUT_MS",
        Accepts::Whole { min: 100, max: 30_000 },
        "5000",
        "origin mode: how long to wait for the site, ms",
    ),
    setting(
        "WRITEBACK_RETRY_SECONDS",
        Accepts::Whole { min: 1, max: 3_600 },
        "30",
        "origin mode: delay before the first retry of a failed write-back; doubled for each further attempt, at most an hour",
    ),
    optional(
        "DEV_DEMO_TOKEN",
        Accepts::Text,
        "none",
        "set by `npm run dev` only: the demo member's token, handed to the upload page; refused on any host but localhost",
    ),
    optional("USERS", Accepts::Binding("KV namespace"), "required", "profiles `user:{id}`, revocations, origin-mode cache"),
    optional("AVATARS", Accepts::Binding("R2 bucket"), "required", "avatar images at `uploads/user/{id}.{ext}`"),
    optional(
        "UPLOAD_LIMITER",
        Accepts::Binding("Rate Limiting"),
        "uploads are not rate limited",
        "per-member upload limit (`[[ratelimits]]`, 10 per 60 s in wrangler.toml)",
    ),
    optional(
        "WRITEBACK",
        Accepts::Binding("Queue producer and consumer"),
        "origin mode: a failed write-back is logged, not retried",
        "origin mode: retries of the write-back to the site",
    ),
];

/// The row of `name` (a programming error if absent: the table is fixed).
fn row(name: &str) -> &'static Setting {
    SETTINGS.iter().find(|s| s.name == name).unwrap_or_else(|| unreachable!("no setting {name}"))
}

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

    /// Whether `origin` is listed by name (`*` names no one: it never
    /// covers credentials such as the `token` cookie).
    pub fn lists(&self, origin: &str) -> bool {
        matches!(self, AllowedOrigins::List(list) if list.iter().any(|a| a.eq_ignore_ascii_case(origin)))
    }

    /// Whether answers depend on the request's `Origin` (so caches must
    /// keep them apart: `Vary: Origin`).
    pub fn varies(&self) -> bool {
        matches!(self, AllowedOrigins::List(_))
    }
}

/// Whether the member upload page is served at `GET /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPage {
    On,
    Off,
}

/// Origin mode: the AnqiCMS site is the source of members and avatars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSettings {
    /// `ANQICMS_ORIGIN`, e.g. `https://www.example.com` (no trailing slash).
    pub url: String,
    /// `PROFILE_TTL`, seconds.
    pub profile_ttl: u32,
    /// `ORIGIN_TIMEOUT_MS`.
    pub timeout_ms: u32,
    /// `WRITEBACK_RETRY_SECONDS`.
    pub retry_seconds: u32,
}

/// Every setting of the service, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `TOKEN_SECRET`; `None`: KV-only mode refuses uploads with a clear
    /// error, origin mode lets the site judge every token.
    pub token_secret: Option<String>,
    /// `ANQICMS_ORIGIN` and its settings; `None`: KV-only mode.
    pub origin: Option<OriginSettings>,
    /// `PUBLIC_BASE_URL` without a trailing slash; `None`: the request origin.
    pub public_base_url: Option<String>,
    pub avatar_size: u32,
    pub max_upload_bytes: u64,
    pub max_pixels: u64,
    pub output_format: OutputFormat,
    pub output_quality: u8,
    /// `RESIZE_SPACE`: `srgb` (default) or `linear`; see [`ResizeSpace`].
    pub resize_space: ResizeSpace,
    /// `ANIMATION`: `keep` (default) or `first`.
    pub animation: Animation,
    /// `HEIC`: decode HEIC/HEIF photos (`on`, the default) or refuse them.
    pub heic: bool,
    pub allowed_origins: AllowedOrigins,
    pub upload_page: UploadPage,
    /// `RATE_LIMIT_PERIOD`: the rate-limit binding's period in seconds.
    pub rate_limit_period: u32,
    /// `DEV_DEMO_TOKEN`, only ever set by `npm run dev`.
    pub dev_demo_token: Option<String>,
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

impl std::error::Error for ConfigError {}

impl UserFacing for ConfigError {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "服务配置错误：设置项 {} 的值 {:?} 无效，应为{}",
                self.setting,
                self.value,
                row(self.setting).accepts.describe_in(Lang::Zh)
            ),
            Lang::En => format!("The service is misconfigured: {self}"),
        }
    }
}

impl ConfigError {
    /// An invalid value of every setting that has values, for the tests
    /// that read every message.
    #[cfg(test)]
    pub(crate) fn samples() -> Vec<ConfigError> {
        SETTINGS
            .iter()
            .filter(|s| !matches!(s.accepts, Accepts::Binding(_) | Accepts::Text))
            .map(|s| s.invalid("x y"))
            .collect()
    }
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Setting {
    fn invalid(&self, value: &str) -> ConfigError {
        ConfigError { setting: self.name, value: value.to_string(), expected: self.accepts.describe() }
    }

    /// The trimmed value, or the default; `None` when neither exists.
    fn raw(&self, lookup: Lookup) -> Option<String> {
        lookup(self.name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .or_else(|| self.default.map(str::to_string))
    }

    fn whole(&self, lookup: Lookup) -> Result<u64, ConfigError> {
        let Accepts::Whole { min, max } = self.accepts else { unreachable!("{} is not a number", self.name) };
        let raw = self.raw(lookup).unwrap_or_default();
        match raw.replace('_', "").parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.invalid(&raw)),
        }
    }

    /// The chosen word, lower-case.
    fn choice(&self, lookup: Lookup) -> Result<String, ConfigError> {
        let Accepts::Choice(words) = self.accepts else { unreachable!("{} is not a choice", self.name) };
        let raw = self.raw(lookup).unwrap_or_default();
        let word = raw.to_ascii_lowercase();
        if words.contains(&word.as_str()) {
            Ok(word)
        } else {
            Err(self.invalid(&raw))
        }
    }

    fn switch(&self, lookup: Lookup) -> Result<bool, ConfigError> {
        let raw = self.raw(lookup).unwrap_or_default();
        match raw.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok(true),
            "off" | "false" | "0" | "no" => Ok(false),
            _ => Err(self.invalid(&raw)),
        }
    }

    fn text(&self, lookup: Lookup) -> Option<String> {
        lookup(self.name).filter(|s| !s.trim().is_empty())
    }

    fn base_url(&self, lookup: Lookup) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.raw(lookup) else { return Ok(None) };
        let v = raw.trim_end_matches('/');
        let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://")).unwrap_or("");
        if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
            return Err(self.invalid(&raw));
        }
        Ok(Some(v.to_string()))
    }

    fn origin(&self, lookup: Lookup) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.raw(lookup) else { return Ok(None) };
        match parse_origin(&raw) {
            Some(o) => Ok(Some(o)),
            None => Err(self.invalid(&raw)),
        }
    }

    fn origins(&self, lookup: Lookup) -> Result<AllowedOrigins, ConfigError> {
        let Some(raw) = self.raw(lookup) else { return Ok(AllowedOrigins::None) };
        let items: Vec<&str> = raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.contains(&"*") {
            return Ok(AllowedOrigins::Any);
        }
        items
            .iter()
            .map(|item| parse_origin(item).ok_or_else(|| self.invalid(&raw)))
            .collect::<Result<Vec<_>, _>>()
            .map(AllowedOrigins::List)
    }
}

/// `http(s)://host[:port]` with any trailing slash removed; `None` for
/// anything else (a path, a query, spaces, no host).
pub fn parse_origin(raw: &str) -> Option<String> {
    let v = raw.trim().trim_end_matches('/');
    let (scheme, host) = v.split_once("://")?;
    let scheme_ok = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'));
    (scheme_ok && host_ok).then(|| v.to_string())
}

impl Config {
    /// Reads every setting through `lookup` (vars and secrets by name).
    pub fn from_lookup(lookup: Lookup) -> Result<Config, ConfigError> {
        let origin = match row("ANQICMS_ORIGIN").origin(lookup)? {
            None => None,
            Some(url) => Some(OriginSettings {
                url,
                profile_ttl: row("PROFILE_TTL").whole(lookup)? as u32,
                timeout_ms: row("ORIGIN_TIMEOUT_MS").whole(lookup)? as u32,
                retry_seconds: row("WRITEBACK_RETRY_SECONDS").whole(lookup)? as u32,
            }),
        };
        let output_format = row("OUTPUT_FORMAT").choice(lookup)?;
        let resize_space = row("RESIZE_SPACE").choice(lookup)?;
        let animation = row("ANIMATION").choice(lookup)?;
        Ok(Config {
            token_secret: row("TOKEN_SECRET").text(lookup),
            origin,
            public_base_url: row("PUBLIC_BASE_URL").base_url(lookup)?,
            avatar_size: row("AVATAR_SIZE").whole(lookup)? as u32,
            max_upload_bytes: row("MAX_UPLOAD_BYTES").whole(lookup)?,
            max_pixels: row("MAX_PIXELS").whole(lookup)?,
            output_format: OutputFormat::parse(&output_format)
                .ok_or_else(|| row("OUTPUT_FORMAT").invalid(&output_format))?,
            output_quality: row("OUTPUT_QUALITY").whole(lookup)? as u8,
            resize_space: ResizeSpace::parse(&resize_space)
                .ok_or_else(|| row("RESIZE_SPACE").invalid(&resize_space))?,
            animation: Animation::parse(&animation).ok_or_else(|| row("ANIMATION").invalid(&animation))?,
            heic: row("HEIC").switch(lookup)?,
            allowed_origins: row("ALLOWED_ORIGINS").origins(lookup)?,
            upload_page: if row("UPLOAD_PAGE").switch(lookup)? { UploadPage::On } else { UploadPage::Off },
            rate_limit_period: row("RATE_LIMIT_PERIOD").choice(lookup)?.parse().unwrap_or(60),
            dev_demo_token: row("DEV_DEMO_TOKEN").text(lookup),
        })
    }

    /// The largest request body read: the file limit plus room for the
    /// multipart framing and the small crop fields.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_upload_bytes + MULTIPART_OVERHEAD
    }

    /// Whether a `token` cookie may be honoured on a request that changes
    /// something, sent from `origin` (the request's `Origin`) to a Worker
    /// answering at `own_origin`: the Worker's own pages, the
    /// `PUBLIC_BASE_URL` origin, the AnqiCMS site's, or one listed in
    /// `ALLOWED_ORIGINS`. Anything else may be another site's page
    /// submitting a form with the member's cookie.
    pub fn trusts_cookie_origin(&self, origin: &str, own_origin: &str) -> bool {
        let same = |o: &str| o.eq_ignore_ascii_case(origin);
        same(own_origin)
            || self.public_base_url.as_deref().and_then(parse_origin_of_url).is_some_and(|o| same(&o))
            || self.origin.as_ref().is_some_and(|s| same(&s.url))
            || self.allowed_origins.lists(origin)
    }
}

/// The origin part of an absolute URL (`https://cdn.example.com/x` →
/// `https://cdn.example.com`).
fn parse_origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    parse_origin(&format!("{scheme}://{host}"))
}

/// The README's configuration table, generated from [`SETTINGS`].
pub fn markdown_table() -> String {
    let mut out = String::from("| name | kind | accepts | default | meaning |\n| --- | --- | --- | --- | --- |\n");
    for s in SETTINGS {
        let (kind, accepts) = match s.accepts {
            Accepts::Binding(kind) => (format!("{kind} binding"), "—".to_string()),
            Accepts::Text if s.name == "TOKEN_SECRET" => ("secret".to_string(), s.accepts.describe()),
            a => ("var".to_string(), a.describe()),
        };
        let default = match (s.default, s.accepts) {
            (Some(d), Accepts::Whole { .. }) if d.len() > 6 => match d.parse::<u64>() {
                Ok(n) if s.name.ends_with("BYTES") => format!("`{d}` ({})", human_bytes(n)),
                _ => format!("`{d}`"),
            },
            (Some(d), _) => format!("`{d}`"),
            (None, _) => s.when_unset.to_string(),
        };
        out.push_str(&format!("| `{}` | {kind} | {accepts} | {default} | {} |\n", s.name, s.doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.token_secret, None);
        assert_eq!(c.origin, None);
        assert_eq!(c.public_base_url, None);
        assert_eq!(c.avatar_size, 256);
        assert_eq!(c.max_upload_bytes, 20_971_520);
        assert_eq!(c.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert_eq!(c.max_pixels, 100_000_000);
        assert_eq!(c.output_format, OutputFormat::Webp);
        assert_eq!(c.output_quality, 85);
        assert_eq!(c.resize_space, ResizeSpace::Srgb);
        assert_eq!(c.animation, Animation::Keep);
        assert_eq!(c.allowed_origins, AllowedOrigins::None);
        assert_eq!(c.upload_page, UploadPage::Off);
        assert!(c.heic, "HEIC is decoded unless the operator turns it off");
        assert_eq!(c.rate_limit_period, 60);
        assert_eq!(c.dev_demo_token, None);
    }

    #[test]
    fn the_default_body_is_the_one_the_image_memory_budget_plans_for() {
        // imaging plans its memory bound for a body of the default size
        // without reading the settings: the two must agree.
        assert_eq!(DEFAULT_MAX_UPLOAD_BYTES, crate::imaging::PLANNED_UPLOAD_BYTES);
        assert_eq!(MULTIPART_OVERHEAD, crate::imaging::PLANNED_FORM_ROOM);
        let default = parse(&[]).unwrap();
        assert_eq!(default.max_upload_bytes, crate::imaging::PLANNED_UPLOAD_BYTES);
        assert_eq!(default.max_body_bytes(), crate::imaging::PLANNED_UPLOAD_BYTES + crate::imaging::PLANNED_FORM_ROOM);
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
            ("ANIMATION", "First"),
            ("ALLOWED_ORIGINS", "https://a.example, https://b.example/"),
            ("UPLOAD_PAGE", "on"),
            ("RATE_LIMIT_PERIOD", "10"),
            ("HEIC", "off"),
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
        assert_eq!(c.animation, Animation::First);
        assert_eq!(
            c.allowed_origins,
            AllowedOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
        assert_eq!(c.upload_page, UploadPage::On);
        assert_eq!(c.rate_limit_period, 10);
        assert!(!c.heic);
    }

    #[test]
    fn origin_mode_settings() {
        let c = parse(&[("ANQICMS_ORIGIN", "https://www.example.com/")]).unwrap();
        assert_eq!(
            c.origin,
            Some(OriginSettings {
                url: "https://www.example.com".into(),
                profile_ttl: 300,
                timeout_ms: 5000,
                retry_seconds: 30,
            })
        );
        let c = parse(&[
            ("ANQICMS_ORIGIN", "http://127.0.0.1:8080"),
            ("PROFILE_TTL", "60"),
            ("ORIGIN_TIMEOUT_MS", "250"),
            ("WRITEBACK_RETRY_SECONDS", "1"),
        ])
        .unwrap();
        let o = c.origin.unwrap();
        assert_eq!(
            (o.url.as_str(), o.profile_ttl, o.timeout_ms, o.retry_seconds),
            ("http://127.0.0.1:8080", 60, 250, 1)
        );
        // KV's shortest expiry is 60 s.
        assert_eq!(
            parse(&[("ANQICMS_ORIGIN", "https://a.example"), ("PROFILE_TTL", "59")]).unwrap_err().setting,
            "PROFILE_TTL"
        );
        // Origin-mode settings are not even read without the origin.
        assert!(parse(&[("PROFILE_TTL", "59")]).is_ok());
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
            ("MAX_UPLOAD_BYTES", "104857600"),
            ("MAX_PIXELS", "0"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("PUBLIC_BASE_URL", "https://example.com/?x"),
            ("ALLOWED_ORIGINS", "example.com"),
            ("ALLOWED_ORIGINS", "https://a.example/path"),
            ("ANQICMS_ORIGIN", "www.example.com"),
            ("ANQICMS_ORIGIN", "https://www.example.com/cms"),
            ("ANQICMS_ORIGIN", "ftp://www.example.com"),
            ("UPLOAD_PAGE", "maybe"),
            ("RATE_LIMIT_PERIOD", "30"),
            ("RESIZE_SPACE", "gamma"),
            ("ANIMATION", "loop"),
        ] {
            let err = parse(&[(k, v)]).unwrap_err();
            assert_eq!(err.setting, k);
            let (en, zh) = (err.message(Lang::En), err.message(Lang::Zh));
            assert!(en.contains(k) && en.contains(&row(k).accepts.describe()), "{en}");
            assert!(zh.contains(k), "{zh}");
        }
    }

    #[test]
    fn chinese_messages_have_no_english_words() {
        for (k, v) in
            [("OUTPUT_FORMAT", "tiff"), ("AVATAR_SIZE", "big"), ("UPLOAD_PAGE", "maybe"), ("ANQICMS_ORIGIN", "x")]
        {
            let zh = parse(&[(k, v)]).unwrap_err().message(Lang::Zh);
            // Left after the values it accepts, the setting's name and its value.
            let mut rest = zh.clone();
            for value in [
                "https://www.example.com",
                "https://",
                "http://",
                "webp",
                "jpeg",
                "png",
                "on",
                "off",
                k,
                &format!("{v:?}"),
            ] {
                rest = rest.replace(value, "");
            }
            assert!(!rest.bytes().any(|b| b.is_ascii_alphabetic()), "{zh}");
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
    fn every_default_parses_as_its_own_setting() {
        for s in SETTINGS {
            let Some(d) = s.default else { continue };
            let only = |name: &str| (name == s.name).then(|| d.to_string());
            assert!(Config::from_lookup(&only).is_ok(), "{}={d}", s.name);
        }
    }

    #[test]
    fn cors_decisions() {
        let any = AllowedOrigins::Any;
        assert_eq!(any.allow(Some("https://x")), Some("*".into()));
        assert!(!any.lists("https://x") && !any.varies());
        let list = AllowedOrigins::List(vec!["https://a.example".into()]);
        assert_eq!(list.allow(Some("https://a.example")), Some("https://a.example".into()));
        assert_eq!(list.allow(Some("https://evil.example")), None);
        assert_eq!(list.allow(None), None);
        assert!(list.lists("https://A.example") && list.varies());
        assert_eq!(AllowedOrigins::None.allow(Some("https://a.example")), None);
    }

    #[test]
    fn cookie_origins() {
        let c = parse(&[
            ("PUBLIC_BASE_URL", "https://cdn.example.com/avatars"),
            ("ANQICMS_ORIGIN", "https://www.example.com"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        let own = "https://avatars.example.workers.dev";
        for ok in [own, "https://cdn.example.com", "https://www.example.com", "https://APP.example.com"] {
            assert!(c.trusts_cookie_origin(ok, own), "{ok}");
        }
        for bad in ["https://evil.example", "null", "https://www.example.com.evil.example", "http://www.example.com"] {
            assert!(!c.trusts_cookie_origin(bad, own), "{bad}");
        }
        // `*` lets anyone read answers, but not use the member's cookie.
        let star = parse(&[("ALLOWED_ORIGINS", "*")]).unwrap();
        assert!(!star.trusts_cookie_origin("https://evil.example", own));
    }

    /// The README's configuration table is this module's table: regenerate
    /// it with `UPDATE_README=1 cargo test --lib config`.
    #[test]
    fn readme_configuration_table_is_generated() {
        const BEGIN: &str = "<!-- settings:begin (generated from src/config.rs) -->\n";
        const END: &str = "<!-- settings:end -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme.find(BEGIN).expect("README has the settings markers") + BEGIN.len();
        let end = start + readme[start..].find(END).expect("README has the end marker");
        let table = markdown_table();
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        } else {
            assert_eq!(
                &readme[start..end],
                table,
                "README configuration table is stale: UPDATE_README=1 cargo test --lib config"
            );
        }
    }
}

//! Tests of configuration loading: files, profiles, environment, refusals, secrets.

use std::time::Duration;

use super::*;

pub(crate) fn dir(files: &[(&str, &str)]) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("platform-config-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// A prefix no real environment uses, so tests do not see the machine's variables.
pub(crate) fn source(dir: &Path, prefix: &str) -> ConfigSource {
    ConfigSource::default()
        .dir(dir)
        .env_prefix(prefix)
        .environment(Vec::<(String, String)>::new())
}

#[test]
fn defaults_apply_without_files() {
    let config = source(&dir(&[]), "PTEST_NONE_").load().unwrap();
    assert_eq!(config.transport.kind, "stdio");
    assert_eq!(config.transport.bind.to_string(), "127.0.0.1:8000");
    assert_eq!(config.telemetry.log, "info,rmcp=warn");
}

#[test]
fn layers_override_in_order() {
    let d = dir(&[
        (
            "platform.toml",
            "[transport]\nkind = \"http\"\npath = \"/base\"\n[limits]\ntimeout = \"5s\"\n",
        ),
        (
            "platform.prod.toml",
            "[transport]\npath = \"/prod\"\nbind = \"0.0.0.0:9000\"\n",
        ),
    ]);
    let config = source(&d, "PTEST_LAYERS_")
        .environment([("PTEST_LAYERS_TRANSPORT__BIND", "127.0.0.1:7000")])
        .profile(Some("prod".into()))
        .set("transport.path", "/flag")
        .load()
        .unwrap();
    assert_eq!(config.transport.kind, "http", "from platform.toml");
    assert_eq!(
        config.transport.bind.to_string(),
        "127.0.0.1:7000",
        "the environment beats the profile file"
    );
    assert_eq!(config.transport.path, "/flag", "flags beat everything");
    assert_eq!(
        config.limits.timeout,
        Some(ConfigDuration(Duration::from_secs(5)))
    );
    assert_eq!(config.profile(), Some("prod"));
}

#[test]
fn unknown_keys_name_the_path_and_suggest() {
    let d = dir(&[("platform.toml", "[transport]\nbnid = \"127.0.0.1:1\"\n")]);
    let error = source(&d, "PTEST_UNKNOWN_").load().unwrap_err().to_string();
    assert!(error.contains("transport"), "{error}");
    assert!(error.contains("bnid"), "{error}");
    assert!(error.contains("did you mean `bind`?"), "{error}");
}

#[test]
fn errors_name_the_file_variable_or_flag_a_value_came_from() {
    let d = dir(&[("platform.toml", "[transport]\nbnid = \"127.0.0.1:1\"\n")]);
    let file = source(&d, "PTEST_ORIGIN_").load().unwrap_err().to_string();
    let path = d.join("platform.toml");
    assert_eq!(
        file,
        format!(
            "invalid configuration: `transport.bnid` (in {}): `bnid` is not a setting of `[transport]`; did you mean `bind`?",
            path.display()
        )
    );

    let variable = source(&dir(&[]), "PTEST_ORIGIN2_")
        .environment([("PTEST_ORIGIN2_TRANSPORT__BNID", "1")])
        .load()
        .unwrap_err()
        .to_string();
    assert_eq!(
        variable,
        "invalid configuration: `transport.bnid` (set by environment variable PTEST_ORIGIN2_TRANSPORT__BNID): `bnid` is not a setting of `[transport]`; did you mean `bind` (`PTEST_ORIGIN2_TRANSPORT__BIND`)?"
    );

    let lower = source(&dir(&[]), "PTEST_ORIGIN6_")
        .environment([("PTEST_ORIGIN6_TRANSPORT__BNID__BNID", "1")])
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        lower.ends_with("did you mean `bind` (`PTEST_ORIGIN6_TRANSPORT__BIND`)?"),
        "the suggestion names the variable for the suggested key: {lower}"
    );

    let value = source(&dir(&[]), "PTEST_ORIGIN3_")
        .environment([("PTEST_ORIGIN3_LIMITS__TIMEOUT", "soon")])
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        value.starts_with("invalid configuration: `limits.timeout` (set by environment variable PTEST_ORIGIN3_LIMITS__TIMEOUT): "),
        "{value}"
    );

    let flag = source(&dir(&[]), "PTEST_ORIGIN4_")
        .set("transport.bind", "not an address")
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        flag.starts_with("invalid configuration: `transport.bind` (set by a command-line flag (`transport.bind`)): "),
        "{flag}"
    );

    let far = source(&dir(&[]), "PTEST_ORIGIN5_")
        .environment([("PTEST_ORIGIN5_LIMITS__ZZZZZZZZZZ", "1")])
        .load()
        .unwrap_err()
        .to_string();
    assert!(far.contains("its settings are `"), "{far}");
}

#[test]
fn bad_values_name_the_key() {
    let d = dir(&[("platform.toml", "[limits]\ntimeout = \"5 sec\"\n")]);
    let error = source(&d, "PTEST_BAD_").load().unwrap_err().to_string();
    assert!(error.contains("limits.timeout"), "{error}");
    assert!(
        error.contains("is not a unit (ms, s, m, h or d)"),
        "{error}"
    );
}

#[test]
fn a_misspelt_section_is_an_error_and_application_sections_are_read_typed() {
    let d = dir(&[("platform.toml", "[transprt]\nkind = \"http\"\n")]);
    let error = source(&d, "PTEST_SECTION_").load().unwrap_err().to_string();
    assert!(error.contains("did you mean `transport`?"), "{error}");

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Weather {
        api_url: String,
        retries: u32,
    }
    let d = dir(&[(
        "platform.toml",
        "[weather]\napi_url = \"https://api\"\nretries = 3\n",
    )]);
    let config = source(&d, "PTEST_APP_").load().unwrap();
    assert_eq!(
        config.section::<Weather>("weather").unwrap(),
        Weather {
            api_url: "https://api".into(),
            retries: 3
        }
    );
    assert_eq!(
        config.section::<Weather>("absent").unwrap(),
        Weather::default()
    );
    let d = dir(&[("platform.toml", "[weather]\nretries = \"many\"\n")]);
    let error = source(&d, "PTEST_APP2_")
        .load()
        .unwrap()
        .section::<Weather>("weather")
        .unwrap_err()
        .to_string();
    assert!(error.contains("weather.retries"), "{error}");
}

#[test]
fn secrets_come_from_the_environment_or_a_file_and_are_never_shown() {
    let d = dir(&[("sealing-key", "0123456789abcdef0123456789abcdef-hunter2\n")]);
    let file = d.join("sealing-key").to_str().unwrap().to_owned();
    let config = source(&d, "PTEST_SECRET_")
        .environment([
            ("PTEST_SECRET_SEALING__KEY_FILE".to_owned(), file),
            ("PTEST_SECRET_PROFILE".to_owned(), String::new()),
        ])
        .load()
        .unwrap();
    assert_eq!(
        config.sealing_key().unwrap().unwrap().expose(),
        "0123456789abcdef0123456789abcdef-hunter2"
    );
    let config = source(&d, "PTEST_SECRET2_")
        .environment([("PTEST_SECRET2_SEALING__KEY", "k-live-123")])
        .load()
        .unwrap();
    assert_eq!(
        config.sealing_key().unwrap().unwrap().expose(),
        "k-live-123"
    );
    let printed = config.to_redacted_toml();
    let debugged = format!("{config:?}");
    for shown in [&printed, &debugged] {
        assert!(
            !shown.contains("k-live-123") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
    assert!(printed.contains("key = \"[redacted]\""), "{printed}");
}

#[test]
fn a_secret_that_looks_like_a_number_is_a_string_and_never_echoed() {
    // From the environment: kept as given, not parsed as TOML.
    let config = source(&dir(&[]), "PTEST_NUMERIC_")
        .environment([("PTEST_NUMERIC_SEALING__KEY", "12345678")])
        .load()
        .unwrap();
    assert_eq!(config.sealing_key().unwrap().unwrap().expose(), "12345678");
    // From a file with the wrong type: the error names the key, never the value.
    let d = dir(&[("platform.toml", "[sealing]\nkey = 987654321\n")]);
    let error = source(&d, "PTEST_NUMERIC2_")
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("sealing.key"), "{error}");
    assert!(!error.contains("987654321"), "{error}");
    // Application sections get the same care for secret-looking keys.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    #[allow(dead_code)]
    struct Billing {
        api_token: String,
    }
    let d = dir(&[("platform.toml", "[billing]\napi_token = 55501234\n")]);
    let error = source(&d, "PTEST_NUMERIC3_")
        .load()
        .unwrap()
        .section::<Billing>("billing")
        .unwrap_err()
        .to_string();
    assert!(error.contains("billing.api_token"), "{error}");
    assert!(!error.contains("55501234"), "{error}");
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_is_refused_without_the_feature() {
    let d = dir(&[("platform.toml", "[redis]\nurl = \"redis://127.0.0.1\"\n")]);
    let error = source(&d, "PTEST_RESERVED_")
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("redis.url"), "{error}");
    assert!(error.contains("`redis` feature"), "{error}");
    assert!(!error.contains("redis://"), "{error}");
}

#[cfg(feature = "redis")]
#[test]
fn redis_settings_load_with_the_url_kept_secret() {
    let d = dir(&[(
        "platform.toml",
        "[redis]\nnamespace = \"weather\"\nrate_limit_fail = \"closed\"\n",
    )]);
    let config = source(&d, "PTEST_REDIS_")
        .environment([(
            "PTEST_REDIS_REDIS__URL",
            "redis://:hunter2@127.0.0.1:6379/0",
        )])
        .load()
        .unwrap();
    assert_eq!(
        config.redis_url().unwrap().unwrap().expose(),
        "redis://:hunter2@127.0.0.1:6379/0"
    );
    assert_eq!(config.redis.namespace.as_deref(), Some("weather"));
    assert_eq!(config.redis.rate_limit_fail.as_deref(), Some("closed"));
    let shown = format!("{}\n{config:?}", config.to_redacted_toml());
    assert!(shown.contains("[redis]"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[cfg(feature = "redis")]
#[test]
fn redis_settings_without_a_url_or_with_a_bad_mode_are_refused() {
    let d = dir(&[("platform.toml", "[redis]\nnamespace = \"weather\"\n")]);
    let error = source(&d, "PTEST_REDISNOURL_")
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("no `url`"), "{error}");
    assert!(error.contains("PLATFORM_REDIS__URL"), "{error}");
    let d = dir(&[(
        "platform.toml",
        "[redis]\nurl = \"redis://127.0.0.1\"\ncache_fail = \"ajar\"\n",
    )]);
    let error = source(&d, "PTEST_REDISMODE_")
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("redis.cache_fail"), "{error}");
    assert!(error.contains("`open`"), "{error}");
    let error = source(&dir(&[]), "PTEST_REDISTYPO_")
        .environment([("PTEST_REDISTYPO_REDIS__NAMESPACES", "x")])
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("did you mean `namespace`"), "{error}");
}

#[test]
fn a_misspelt_auth_key_is_refused_without_its_value() {
    let error = source(&dir(&[]), "PTEST_AUTHKEY_")
        .environment([("PTEST_AUTHKEY_AUTH__API_KEY", "12345678")])
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("auth.api_key"), "{error}");
    assert!(error.contains("did you mean `api_keys`"), "{error}");
    assert!(!error.contains("12345678"), "{error}");
}

#[test]
fn http_keys_are_refused_for_stdio() {
    let d = dir(&[("platform.toml", "[transport]\nbind = \"127.0.0.1:9\"\n")]);
    let error = source(&d, "PTEST_STDIO_").load().unwrap_err().to_string();
    assert!(error.contains("transport.bind"), "{error}");
    assert!(error.contains("HTTP transport"), "{error}");
    // The same file serves HTTP.
    let config = source(&d, "PTEST_STDIO2_")
        .set("transport.kind", "http")
        .load()
        .unwrap();
    assert_eq!(config.transport.bind.to_string(), "127.0.0.1:9");
    // The message size and direct dispatch apply to both.
    let d = dir(&[(
        "platform.toml",
        "[transport]\nmax_body_bytes = 1024\ndirect_dispatch = false\n",
    )]);
    let stdio = source(&d, "PTEST_STDIO3_").load().unwrap().transport;
    assert_eq!((stdio.max_body_bytes, stdio.direct_dispatch), (1024, false));
    // Sleeping sessions are HTTP's.
    let d = dir(&[(
        "platform.toml",
        "[transport]\nsession_sleep_after = \"1m\"\n",
    )]);
    let error = source(&d, "PTEST_STDIO5_").load().unwrap_err().to_string();
    assert!(error.contains("transport.session_sleep_after"), "{error}");
    let http = source(&d, "PTEST_STDIO6_")
        .set("transport.kind", "http")
        .load()
        .unwrap()
        .transport;
    assert_eq!(http.session_sleep_after.0, Duration::from_secs(60));
    let error = source(&dir(&[]), "PTEST_STDIO4_")
        .set("transport.kind", "grpc")
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains("use `stdio` or `http`"), "{error}");
}

#[test]
fn limits_read_from_file_and_environment() {
    let d = dir(&[(
        "platform.toml",
        "[limits]\nmax_in_flight = 64\nmax_uri_bytes = 2048\ncache_max_bytes = 1048576\n",
    )]);
    let config = source(&d, "PTEST_LIMITS_")
        .environment([
            ("PTEST_LIMITS_LIMITS__MAX_IN_FLIGHT", "8"),
            ("PTEST_LIMITS_LIMITS__RATE_LIMIT_MAX_KEYS", "500"),
        ])
        .load()
        .unwrap();
    assert_eq!(config.limits.max_in_flight, Some(8), "the environment wins");
    assert_eq!(config.limits.max_uri_bytes, Some(2048));
    assert_eq!(config.limits.cache_max_bytes, Some(1 << 20));
    assert_eq!(config.limits.rate_limit_max_keys, Some(500));
}

#[test]
fn a_missing_profile_file_is_an_error() {
    let error = source(&dir(&[]), "PTEST_PROFILE_")
        .profile(Some("stagin".into()))
        .load()
        .unwrap_err();
    assert!(
        error.to_string().contains("profile `stagin` has no file"),
        "{error}"
    );
}

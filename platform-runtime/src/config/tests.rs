use std::time::Duration;

use super::*;

fn dir(files: &[(&str, &str)]) -> PathBuf {
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
fn source(dir: &Path, prefix: &str) -> ConfigSource {
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
fn bad_values_name_the_key() {
    let d = dir(&[("platform.toml", "[limits]\ntimeout = \"5 sec\"\n")]);
    let error = source(&d, "PTEST_BAD_").load().unwrap_err().to_string();
    assert!(error.contains("limits.timeout"), "{error}");
    assert!(error.contains("unknown unit"), "{error}");
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
    let d = dir(&[("redis-url", "redis://:hunter2@127.0.0.1:6379\n")]);
    let file = d.join("redis-url").to_str().unwrap().to_owned();
    let config = source(&d, "PTEST_SECRET_")
        .environment([
            ("PTEST_SECRET_REDIS__URL_FILE".to_owned(), file),
            (
                "PTEST_SECRET_AUTH__API_KEY".to_owned(),
                "k-live-123".to_owned(),
            ),
            ("PTEST_SECRET_PROFILE".to_owned(), String::new()),
        ])
        .load()
        .unwrap();
    assert_eq!(
        config.redis_url().unwrap().unwrap().expose(),
        "redis://:hunter2@127.0.0.1:6379"
    );
    assert_eq!(config.api_key().unwrap().unwrap().expose(), "k-live-123");
    let printed = config.to_redacted_toml();
    let debugged = format!("{config:?}");
    for shown in [&printed, &debugged] {
        assert!(
            !shown.contains("k-live-123") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
    assert!(printed.contains("api_key = \"[redacted]\""), "{printed}");
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

//! The deployment files (`Dockerfile`, `deploy/k8s/`, `deploy/compose/`) checked against
//! the binary they deploy, so they cannot drift from it: every command line they run is one
//! the binary accepts, every `PLATFORM_*` variable and the ConfigMap's `platform.toml` load
//! (the `config` command refuses unknown keys), ports and probe paths match what the server
//! binds and serves, and the Kubernetes objects name each other consistently. Any platform
//! server has the same command line; the `replica` test binary stands in for the image's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    let mut value: serde_norway::Value = serde_norway::from_str(&read(path)).unwrap();
    value.apply_merge().unwrap();
    serde_json::to_value(value).unwrap()
}

/// Run the server binary with `args` and `env` (nothing else from this environment); its
/// stdout, or a panic with what it said.
fn server(args: &[&str], env: &BTreeMap<String, String>, what: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_replica"))
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: `server {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The arguments are accepted: `server <args> --help` succeeds (flags are parsed first).
fn accepted(args: &[String], what: &str) {
    let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
    with_help.push("--help");
    server(&with_help, &BTreeMap::new(), what);
}

/// The effective configuration with `env` (and `config_dir`), over HTTP, as TOML.
fn effective(env: &BTreeMap<String, String>, config_dir: Option<&Path>, what: &str) -> toml::Table {
    let dir = config_dir.map(|d| d.to_str().unwrap().to_owned());
    let mut args = Vec::new();
    if let Some(dir) = &dir {
        args.extend(["--config-dir", dir.as_str()]);
    }
    args.extend(["config", "--transport", "http"]);
    server(&args, env, what).parse().unwrap()
}

/// The port of the address at `key` (`["transport", "bind"]`) in a configuration.
fn port(config: &toml::Table, key: &[&str]) -> u16 {
    let (last, sections) = key.split_last().unwrap();
    let section = sections.iter().fold(config, |table, k| {
        table[*k]
            .as_table()
            .unwrap_or_else(|| panic!("no {key:?} in {config}"))
    });
    let bind = section[*last].as_str().unwrap();
    bind.parse::<std::net::SocketAddr>().unwrap().port()
}

/// A stand-in value for a variable the deployment fills from a secret or the shell.
fn stand_in(name: &str) -> String {
    match name {
        "PLATFORM_REDIS__URL" => "redis://redis.internal:6379/0".into(),
        "PLATFORM_SEALING__KEY" => "a-sealing-key-of-at-least-thirty-two-bytes".into(),
        other => panic!("no stand-in for the secret {other}"),
    }
}

/// `KEY=value` pairs of the Dockerfile's `ENV` instructions (continued lines joined).
fn dockerfile_env(dockerfile: &str) -> BTreeMap<String, String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut env = BTreeMap::new();
    for line in joined.lines().filter_map(|l| l.trim().strip_prefix("ENV ")) {
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap();
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    env
}

/// The JSON array of the Dockerfile instruction `name` (`CMD ["a", "b"]`).
fn exec_form(dockerfile: &str, name: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .filter_map(|l| l.trim().strip_prefix(name))
        .next_back()
        .unwrap_or_else(|| panic!("no {name}"));
    let array = line.trim().strip_prefix("CMD").unwrap_or(line).trim();
    let array = &array[array.find('[').unwrap()..];
    serde_json::from_str(array).unwrap()
}

#[test]
fn the_dockerfile_runs_what_the_binary_accepts() {
    let dockerfile = read("Dockerfile");
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT ");
    assert_eq!(entrypoint, ["/usr/local/bin/server"]);
    assert!(dockerfile.contains("install -D \"target/release/${PACKAGE}\" /out/server"));
    assert!(dockerfile.contains("COPY --from=build /out/server /usr/local/bin/server"));
    let command = exec_form(&dockerfile, "CMD ");
    assert_eq!(command, ["serve", "--transport", "http"]);
    accepted(&command, "CMD");
    // The health check runs the binary's own `health` command.
    let check = exec_form(&dockerfile, "HEALTHCHECK ");
    assert_eq!(check[0], entrypoint[0], "{check:?}");
    accepted(&check[1..], "HEALTHCHECK");
    // A non-root user.
    let user = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    // The environment loads, and the ports it binds are the ones exposed.
    let env = dockerfile_env(&dockerfile);
    assert!(env.keys().all(|k| k.starts_with("PLATFORM_")), "{env:?}");
    let config = effective(&env, None, "Dockerfile ENV");
    let exposed: Vec<u16> = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        exposed,
        [
            port(&config, &["transport", "bind"]),
            port(&config, &["telemetry", "metrics", "bind"])
        ]
    );
}

#[test]
fn the_kubernetes_manifests_match_the_binary_and_each_other() {
    let base = "deploy/k8s/base";
    let kustomization = yaml(&format!("{base}/kustomization.yaml"));
    for resource in kustomization["resources"].as_array().unwrap() {
        assert!(
            root().join(base).join(resource.as_str().unwrap()).exists(),
            "{resource}"
        );
    }
    let generated = &kustomization["configMapGenerator"][0];
    let config_map = generated["name"].as_str().unwrap();
    assert_eq!(generated["files"][0], "platform.toml");

    let deployment = yaml(&format!("{base}/deployment.yaml"));
    let name = deployment["metadata"]["name"].as_str().unwrap();
    let pod = &deployment["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    assert!(
        selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "{selector:?}"
    );
    let container = &pod["spec"]["containers"][0];
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    accepted(&args, "the container's args");

    // The ConfigMap is mounted where --config-dir points, and it loads with the env.
    let at = args.iter().position(|a| a == "--config-dir").unwrap();
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["mountPath"], args[at + 1].as_str());
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], config_map);
    let mut env = BTreeMap::new();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = match var["value"].as_str() {
            Some(value) => value.to_owned(),
            None => {
                assert_eq!(
                    var["valueFrom"]["secretKeyRef"]["name"], "platform-mcp",
                    "{var}"
                );
                stand_in(&name)
            }
        };
        env.insert(name, value);
    }
    let config = effective(
        &env,
        Some(&root().join(base)),
        "the Deployment's env and ConfigMap",
    );
    assert_eq!(config["redis"]["namespace"].as_str(), Some("platform-mcp"));

    // Ports and probes.
    let ports: BTreeMap<&str, u64> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports["http"],
        u64::from(port(&config, &["transport", "bind"]))
    );
    assert_eq!(
        ports["metrics"],
        u64::from(port(&config, &["telemetry", "metrics", "bind"]))
    );
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(ports.contains_key(get["port"].as_str().unwrap()), "{probe}");
    }
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
        ports["metrics"].to_string()
    );
    // Room for the drain and the grace period before the kubelet kills the process.
    let seconds = |key: &str| {
        let text = config["transport"][key].as_str().unwrap();
        text.strip_suffix('s').unwrap().parse::<u64>().unwrap()
    };
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace > seconds("drain_delay") + seconds("shutdown_grace"),
        "{grace}"
    );
    let user = pod["spec"]["securityContext"]["runAsUser"]
        .as_u64()
        .unwrap();
    assert_ne!(user, 0);
    assert!(read("Dockerfile").contains(&format!("USER {user}:")));

    // The Service, autoscaler and disruption budget point at this Deployment's pods.
    let service = yaml(&format!("{base}/service.yaml"));
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(labels.get(k), Some(v), "Service selector {k}");
    }
    for p in service["spec"]["ports"].as_array().unwrap() {
        assert!(ports.contains_key(p["targetPort"].as_str().unwrap()), "{p}");
    }
    let hpa = yaml(&format!("{base}/hpa.yaml"));
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], name);
    let pdb = yaml(&format!("{base}/pdb.yaml"));
    for (k, v) in pdb["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(labels.get(k), Some(v), "PodDisruptionBudget selector {k}");
    }
    let min_replicas = hpa["spec"]["minReplicas"].as_u64().unwrap();
    assert!(pdb["spec"]["minAvailable"].as_u64().unwrap() < min_replicas);

    // The overlay builds on the base and patches this Deployment's container.
    let overlay = "deploy/k8s/overlays/production";
    let production = yaml(&format!("{overlay}/kustomization.yaml"));
    assert_eq!(production["resources"][0], "../../base");
    assert_eq!(
        production["images"][0]["name"],
        container["image"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
    );
    let patch = yaml(&format!(
        "{overlay}/{}",
        production["patches"][0]["path"].as_str().unwrap()
    ));
    assert_eq!(patch["metadata"]["name"], name);
    assert_eq!(
        patch["spec"]["template"]["spec"]["containers"][0]["name"],
        container["name"]
    );
}

#[test]
fn the_compose_file_runs_replicas_the_binary_accepts_behind_nginx() {
    let compose = yaml("deploy/compose/docker-compose.yml");
    let services = compose["services"].as_object().unwrap();
    let replicas: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, s)| s.get("build").is_some())
        .collect();
    assert_eq!(replicas.len(), 3, "three replicas");
    let nginx = read("deploy/compose/nginx.conf");
    for (name, replica) in &replicas {
        assert_eq!(replica["build"]["dockerfile"], "Dockerfile");
        assert!(
            root()
                .join("deploy/compose")
                .join(replica["build"]["context"].as_str().unwrap())
                .join("Dockerfile")
                .exists()
        );
        let command: Vec<String> = serde_json::from_value(replica["command"].clone()).unwrap();
        accepted(&command, "command");
        let check: Vec<String> =
            serde_json::from_value(replica["healthcheck"]["test"].clone()).unwrap();
        assert_eq!(check[..2], ["CMD", "/usr/local/bin/server"]);
        accepted(&check[2..], "healthcheck");
        let env: BTreeMap<String, String> = replica["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().unwrap();
                let v = if v.starts_with("${") {
                    stand_in(k)
                } else {
                    v.to_owned()
                };
                (k.clone(), v)
            })
            .collect();
        let config = effective(&env, None, "the compose environment");
        let bind = port(&config, &["transport", "bind"]);
        assert!(
            nginx.contains(&format!("server {name}:{bind} ")),
            "nginx forwards to {name}:{bind}"
        );
        // nginx sends a Host the replicas allow.
        let host = nginx
            .lines()
            .find_map(|l| l.trim().strip_prefix("proxy_set_header Host "))
            .unwrap()
            .trim_end_matches(';');
        let allowed: Vec<String> = config["transport"]["allowed_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        assert!(
            allowed.iter().any(|h| h == host),
            "{host} not in {allowed:?}"
        );
        // Redis is the compose service's.
        let url = &env["PLATFORM_REDIS__URL"];
        let redis_host = url
            .trim_start_matches("redis://")
            .split(':')
            .next()
            .unwrap();
        assert!(services.contains_key(redis_host), "{url}");
    }
    let published = compose["services"]["lb"]["ports"][0].as_str().unwrap();
    let listen = published.split(':').next_back().unwrap();
    assert!(nginx.contains(&format!("listen {listen};")), "{published}");
}

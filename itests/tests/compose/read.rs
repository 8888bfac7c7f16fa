//! Reading `docker-compose.yml`, the Dockerfile and the clap definitions into the plain
//! facts the checks in `compose.rs` compare: ports, variables, URLs, health checks.
//!
//! Compose accepts several spellings of most keys (a list or a mapping for `environment`
//! and `depends_on`, short or long syntax for `ports`); each reader accepts them all, so
//! the checks hold whichever spelling the file uses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Arg, Command};
use reqwest::Url;
use serde_json::{Map, Value};

/// The repository's top folder (the workspace root).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, as text.
#[track_caller]
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `docker-compose.yml` as JSON values, with YAML merge keys (`<<: *anchor`) applied as
/// Compose applies them: the keys written beside `<<` win over the merged ones.
#[track_caller]
pub fn compose_file() -> Value {
    let text = read(&repo_root().join("docker-compose.yml"));
    let mut yaml: serde_norway::Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("docker-compose.yml is not YAML: {e}"));
    yaml.apply_merge()
        .unwrap_or_else(|e| panic!("docker-compose.yml: a merge key (<<) does not merge: {e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("docker-compose.yml: {e}"))
}

/// Every profile some service belongs to.
pub fn profiles(compose: &Value) -> BTreeSet<String> {
    services(compose)
        .values()
        .flat_map(service_profiles)
        .collect()
}

/// A service's `profiles`; empty means it starts whatever profile is active.
pub fn service_profiles(service: &Value) -> Vec<String> {
    service["profiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// The application Compose runs with `profile` active: `compose` with only the services
/// that have no `profiles` or list `profile`.
pub fn with_profile(compose: &Value, profile: &str) -> Value {
    let mut model = compose.clone();
    if let Some(services) = model["services"].as_object_mut() {
        services.retain(|_, service| {
            let listed = service_profiles(service);
            listed.is_empty() || listed.iter().any(|p| p == profile)
        });
    }
    model
}

/// The `COMPOSE_PROFILES` that `.env` beside the compose file sets: the profiles
/// `docker compose up` activates when no `--profile` is given.
#[track_caller]
pub fn default_profiles() -> Vec<String> {
    let text = read(&repo_root().join(".env"));
    let value = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("COMPOSE_PROFILES="))
        .next_back()
        .unwrap_or_else(|| panic!(".env sets no COMPOSE_PROFILES"));
    value.split(',').map(|p| p.trim().to_owned()).collect()
}

/// Every way `compose` breaks the Compose specification's schema, one line each. A real
/// draft-07 validator rather than a walk over `properties`: it also honours `$ref`,
/// `oneOf`, `patternProperties` (`^x-` extensions) and value types, as Compose does.
pub fn schema_violations(compose: &Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compose-spec.json");
    let schema: Value = serde_json::from_str(&read(&path)).expect("compose-spec.json is JSON");
    let validator =
        jsonschema::draft7::new(&schema).expect("compose-spec.json is a draft-07 schema");
    validator
        .iter_errors(compose)
        .map(|error| format!("  at {}: {error}", error.instance_path()))
        .collect()
}

/// The `services` mapping.
#[track_caller]
pub fn services(compose: &Value) -> &Map<String, Value> {
    compose
        .get("services")
        .and_then(Value::as_object)
        .expect("docker-compose.yml has a services mapping")
}

/// The one service whose image starts with `image`, and its name.
#[track_caller]
pub fn service_running<'a>(compose: &'a Value, image: &str) -> (&'a str, &'a Value) {
    // The name before the tag: openzipkin/zipkin-mysql is another image.
    let found: Vec<_> = services(compose)
        .iter()
        .filter(|(_, s)| s["image"].as_str().and_then(|i| i.split(':').next()) == Some(image))
        .collect();
    match found.as_slice() {
        [(name, service)] => (name.as_str(), service),
        _ => panic!(
            "docker-compose.yml must run one {image} service, not {}",
            found.len()
        ),
    }
}

/// A service's `environment`, from either form (a mapping, or `KEY=VALUE` items). `None`
/// is a variable passed through from the host.
#[track_caller]
pub fn environment(name: &str, service: &Value) -> BTreeMap<String, Option<String>> {
    let scalar = |value: &Value| match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    };
    let item = |item: &Value| {
        let text = item
            .as_str()
            .unwrap_or_else(|| panic!("{name}: environment item {item}"));
        match text.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (text.to_owned(), None),
        }
    };
    match &service["environment"] {
        Value::Null => BTreeMap::new(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        Value::Array(items) => items.iter().map(item).collect(),
        other => panic!("{name}: environment is neither a mapping nor a list: {other}"),
    }
}

/// `(published, container)` pairs from `ports`, in short (`"[IP:]HOST:CONTAINER[/PROTO]"`)
/// or long (`{published, target}`) syntax. A port that is not published is left out.
#[track_caller]
pub fn published_ports(name: &str, service: &Value) -> Vec<(u16, u16)> {
    let number = |text: &str| -> u16 {
        let text = text.trim_matches('"');
        text.parse()
            .unwrap_or_else(|_| panic!("{name}: {text:?} is not one port (no ranges)"))
    };
    let Some(ports) = service["ports"].as_array() else {
        return Vec::new();
    };
    ports
        .iter()
        .filter_map(|port| match port {
            Value::String(text) => {
                let text = text.split('/').next().unwrap_or_default();
                let mut parts = text.rsplitn(3, ':');
                let container = number(parts.next().unwrap_or_default());
                parts.next().map(|published| (number(published), container))
            }
            Value::Object(long) => {
                let field = |key: &str| long.get(key).map(|v| number(&v.to_string()));
                Some((field("published")?, field("target")?))
            }
            _ => None,
        })
        .collect()
}

/// The ports a service listens on in its container: a binary's from its clap definition,
/// another image's from the container side of `ports` and from `expose`.
#[track_caller]
pub fn container_ports(name: &str, service: &Value, binary: Option<&Command>) -> BTreeSet<u16> {
    if let Some(command) = binary {
        return BTreeSet::from([listening_port(name, service, command)]);
    }
    let exposed = service["expose"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|port| {
            let text = port
                .as_str()
                .map_or_else(|| port.to_string(), str::to_owned);
            text.split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{name}: expose {port} is not one port"))
        });
    published_ports(name, service)
        .into_iter()
        .map(|(_, c)| c)
        .chain(exposed)
        .collect()
}

/// `healthcheck.test` as one line without `CMD`/`CMD-SHELL`; `None` if absent or disabled.
pub fn health_check(service: &Value) -> Option<String> {
    let check = &service["healthcheck"];
    if check["disable"].as_bool() == Some(true) {
        return None;
    }
    let words: Vec<&str> = match &check["test"] {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    match words.as_slice() {
        [] | ["NONE", ..] => None,
        ["CMD" | "CMD-SHELL", rest @ ..] => Some(rest.join(" ")),
        all => Some(all.join(" ")),
    }
}

/// `depends_on` as dependency → condition. The list form, like a mapping entry without a
/// condition, means `service_started`.
#[track_caller]
pub fn dependency_conditions(name: &str, service: &Value) -> BTreeMap<String, String> {
    let started = || "service_started".to_owned();
    match &service["depends_on"] {
        Value::Null => BTreeMap::new(),
        Value::Array(names) => names
            .iter()
            .map(|n| (n.as_str().unwrap_or_default().to_owned(), started()))
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(dependency, how)| {
                let condition = how["condition"]
                    .as_str()
                    .map_or_else(started, str::to_owned);
                (dependency.clone(), condition)
            })
            .collect(),
        other => panic!("{name}: depends_on is neither a list nor a mapping: {other}"),
    }
}

/// The text of Dockerfile stage `name`: from `FROM ... AS name` up to the next `FROM`.
pub fn dockerfile_stage(dockerfile: &str, name: &str) -> Option<String> {
    let mut stage: Option<String> = None;
    for line in dockerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            if stage.is_some() {
                break;
            }
            if let [.., as_, stage_name] = words.as_slice()
                && as_.eq_ignore_ascii_case("AS")
                && *stage_name == name
            {
                stage = Some(String::new());
            }
        }
        if let Some(text) = stage.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    stage
}

/// The environment variable clap reads `arg` from, if any.
pub fn variable(arg: &Arg) -> Option<String> {
    arg.get_env().map(|env| env.to_string_lossy().into_owned())
}

/// `arg`'s default value, if it has one.
pub fn default_value(arg: &Arg) -> Option<String> {
    arg.get_default_values()
        .first()
        .map(|v| v.to_string_lossy().into_owned())
}

/// The default of the argument read from environment variable `name`.
#[track_caller]
pub fn default_of_variable(command: &Command, name: &str) -> String {
    command
        .get_arguments()
        .find(|arg| variable(arg).as_deref() == Some(name))
        .and_then(default_value)
        .unwrap_or_else(|| panic!("{} has no {name} with a default", command.get_name()))
}

/// The `port` argument.
#[track_caller]
fn port_arg(command: &Command) -> &Arg {
    command
        .get_arguments()
        .find(|arg| arg.get_id() == "port")
        .unwrap_or_else(|| panic!("{} has no port argument", command.get_name()))
}

/// The default of the `port` argument: where the binary listens unless told otherwise.
#[track_caller]
pub fn default_port(command: &Command) -> u16 {
    let default = default_value(port_arg(command));
    let parsed = default.as_deref().and_then(|d| d.parse().ok());
    parsed.unwrap_or_else(|| panic!("{}: --port default {default:?}", command.get_name()))
}

/// Where the binary listens in its container: the port variable if compose sets it, else
/// the `port` argument's default.
#[track_caller]
pub fn listening_port(name: &str, service: &Value, command: &Command) -> u16 {
    let set = variable(port_arg(command)).and_then(|v| environment(name, service).remove(&v));
    match set.flatten() {
        Some(port) => port
            .parse()
            .unwrap_or_else(|e| panic!("{name}: port {port:?}: {e}")),
        None => default_port(command),
    }
}

/// `text` as a URL.
#[track_caller]
pub fn url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|e| panic!("{text:?} is not a URL: {e}"))
}

/// The host of `text` if it is a URL with one (`http://host:port/...`).
pub fn url_host(text: &str) -> Option<(Url, String)> {
    let url = Url::parse(text).ok().filter(Url::has_authority)?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some((url, host))
}

/// The hosts (and ports, where given) that `variable=value` points at: a URL's host, or
/// for a variable named for hosts (`*_HOST`, `*_HOSTS`, `*_SERVERS`, `*_ADDRESSES`) each
/// comma-separated `host[:port]` or URL. Other values name no host.
pub fn hosts(variable: &str, value: &str) -> Vec<(String, Option<u16>)> {
    if let Some((url, host)) = url_host(value) {
        return vec![(host, url.port_or_known_default())];
    }
    let lists_hosts = ["_HOST", "_HOSTS", "_SERVERS", "_ADDRESSES"]
        .iter()
        .any(|suffix| variable.ends_with(suffix));
    if !lists_hosts {
        return Vec::new();
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match url_host(item) {
            Some((url, host)) => (host, url.port_or_known_default()),
            None => match item.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() => {
                    (host.to_owned(), port.parse().ok())
                }
                _ => (item.to_owned(), None),
            },
        })
        .collect()
}

/// Whether `value` is, or is a URL whose host is, a loopback address or `localhost`; or is
/// a list of `host:port` pairs (as `KAFKA_BOOTSTRAP_SERVERS`) one of whose hosts is.
pub fn is_loopback(value: &str) -> bool {
    if let Some((_, host)) = url_host(value) {
        return is_loopback_host(&host);
    }
    is_loopback_host(value)
        || value.split(',').any(|server| {
            server
                .trim()
                .rsplit_once(':')
                .is_some_and(|(host, port)| port.parse::<u16>().is_ok() && is_loopback_host(host))
        })
}

/// Whether `host` is a loopback address or `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

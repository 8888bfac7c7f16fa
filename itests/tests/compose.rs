//! `docker-compose.yml` held to the code, without a Docker daemon.
//!
//! The compose file repeats facts that live in Rust and in the Zipkin jar: the ports the
//! services listen on, the environment variables they and Zipkin read, the path Zipkin
//! takes spans on. Nothing else would notice the two drifting apart until someone ran
//! `docker compose up`, so these tests read the file (with `compose/read.rs`) and check it
//! against
//!
//! - the Compose specification's JSON schema (a copy in `tests/data/`, see the README
//!   there): every key is one Compose defines, with a value of the right shape;
//! - the binaries' clap definitions (`service1::Config`, `service2::Config`): the published
//!   ports are the ports the binaries listen on, every variable set is one they read, and
//!   every default that points at loopback is overridden where it is used;
//! - the Zipkin jar's own configuration (`zipkin-server-shared.yml`): every variable set on
//!   Zipkin is one it reads;
//! - the demo's wiring: spans go to the Zipkin service's `/api/v2/spans`, containers address
//!   each other by service name, and each starts only once what it calls is healthy;
//! - the Dockerfile: each service's image runs that service's binary, built as CI builds it.
//!
//! Every profile is checked as the application Compose runs with it active (`--profile
//! mysql`, ...), `default` being what `.env` activates for a plain `docker compose up`.
//! Each failure names the profile, the service and the key that drifted.

// A test crate's root looks for its modules beside it; this one keeps its own in compose/.
#[path = "compose/read.rs"]
mod read;

use std::collections::{BTreeMap, BTreeSet};

use clap::{Command, CommandFactory};
use serde_json::Value;

use read::{
    compose_file, container_ports, default_of_variable, default_port, default_profiles,
    default_value, dependency_conditions, dockerfile_stage, environment, health_check, hosts,
    is_loopback, is_loopback_host, listening_port, profiles, published_ports, repo_root,
    schema_violations, service_running, services, url, variable, with_profile,
};

/// The binaries built from this repository. A compose service runs one when its Dockerfile
/// stage (`build.target`) bears the binary's name.
fn binaries() -> BTreeMap<&'static str, Command> {
    BTreeMap::from([
        ("service1", service1::Config::command()),
        ("service2", service2::Config::command()),
    ])
}

/// The path a Zipkin server takes v2 spans on (`POST /api/v2/spans`, zipkin2-api.yaml).
const ZIPKIN_SPANS_PATH: &str = "/api/v2/spans";

/// The image of the real Zipkin server, which the demo exists to show.
const ZIPKIN_IMAGE: &str = "openzipkin/zipkin";

/// Variables the binaries read outside clap: only `RUST_LOG`, the log filter, read by
/// `plumbing::init_logging` (plumbing/src/logging.rs).
const NON_CLAP_VARIABLES: &[&str] = &["RUST_LOG"];

/// The Zipkin variables this file sets, for a machine without the jar, which is where the
/// full list is read from. With the jar, every one of them must be among those it reads.
const ZIPKIN_VARIABLES_WITHOUT_THE_JAR: &[&str] = &[
    "STORAGE_TYPE",
    "MYSQL_HOST",
    "MYSQL_USER",
    "MYSQL_PASS",
    "ES_HOSTS",
    "RABBIT_URI",
    "KAFKA_BOOTSTRAP_SERVERS",
];

/// The profiles and what each is for; the "Scaling out" table of docs/operations.md lists them.
const PROFILES: [&str; 5] = ["default", "elasticsearch", "kafka", "mysql", "rabbitmq"];

/// What each profile's set-up must be: (profile, variable set on Zipkin, its value or
/// `None` for any, the `ZIPKIN_TRANSPORT` both binaries use).
const SET_UPS: [(&str, &str, Option<&str>, &str); 4] = [
    ("mysql", "STORAGE_TYPE", Some("mysql"), "http"),
    (
        "elasticsearch",
        "STORAGE_TYPE",
        Some("elasticsearch"),
        "http",
    ),
    ("rabbitmq", "RABBIT_URI", None, "rabbitmq"),
    ("kafka", "KAFKA_BOOTSTRAP_SERVERS", None, "kafka"),
];

/// Settings a binary uses only with one `ZIPKIN_TRANSPORT`: elsewhere their defaults,
/// loopback or not, never reach a socket.
const TRANSPORT_SETTINGS: [(&str, &str); 5] = [
    ("ZIPKIN_ENDPOINT", "http"),
    ("RABBIT_URI", "rabbitmq"),
    ("RABBIT_QUEUE", "rabbitmq"),
    ("KAFKA_BOOTSTRAP_SERVERS", "kafka"),
    ("KAFKA_TOPIC", "kafka"),
];

/// Each profile and the application Compose runs with it active.
fn models() -> Vec<(String, Value)> {
    let compose = compose_file();
    profiles(&compose)
        .into_iter()
        .map(|profile| {
            let model = with_profile(&compose, &profile);
            (profile, model)
        })
        .collect()
}

/// The services of `model` built from this repository, with the binary each runs.
fn built_services(model: &Value) -> Vec<(String, &'static str, Command)> {
    let binaries = binaries();
    services(model)
        .iter()
        .filter_map(|(name, service)| {
            let target = service["build"]["target"].as_str()?;
            let (binary, command) = binaries.get_key_value(target)?;
            Some((name.clone(), *binary, command.clone()))
        })
        .collect()
}

/// The transport a binary's service uses: its `ZIPKIN_TRANSPORT`, else the clap default.
fn transport(name: &str, service: &Value, command: &Command) -> String {
    environment(name, service)
        .remove("ZIPKIN_TRANSPORT")
        .flatten()
        .unwrap_or_else(|| default_of_variable(command, "ZIPKIN_TRANSPORT"))
}

/// Whether `variable` is in use by a binary whose transport is `transport`.
fn in_use(variable: &str, transport: &str) -> bool {
    TRANSPORT_SETTINGS
        .iter()
        .all(|&(setting, used_with)| setting != variable || used_with == transport)
}

/// The variables Zipkin reads: from the jar's own configuration where the jar is, under
/// the engine policy (with `CI=true` the jar must be there); else the hand-kept list.
fn zipkin_variables() -> BTreeSet<String> {
    let jar = itests::engines::zipkin::jar_or_skip(
        "compose (Zipkin's variables from the jar; the hand-kept list is used instead)",
    );
    match jar {
        Some(jar) => itests::engines::zipkin::server_variables(&jar)
            .unwrap_or_else(|e| panic!("cannot read Zipkin's variables from its jar: {e:#}")),
        None => ZIPKIN_VARIABLES_WITHOUT_THE_JAR
            .iter()
            .map(|&v| v.to_owned())
            .collect(),
    }
}

#[test]
fn compose_file_follows_the_compose_specification() {
    let problems = schema_violations(&compose_file());
    assert!(
        problems.is_empty(),
        "docker-compose.yml does not follow the Compose specification \
         (itests/tests/data/compose-spec.json):\n{}",
        problems.join("\n")
    );
}

/// The schema check is not vacuous: it rejects a misspelt key and accepts `x-` extensions.
#[test]
fn schema_check_rejects_unknown_keys_and_allows_extensions() {
    let mut compose = compose_file();
    compose["x-note"] = Value::from("extension fields are free-form");
    compose["services"]["service1"]["helthcheck"] = Value::from("a typo");
    let problems = schema_violations(&compose);
    assert_eq!(problems.len(), 1, "expected only the typo: {problems:#?}");
    assert!(problems[0].contains("helthcheck"), "{problems:#?}");
}

/// `docker compose up` with no profile is the plain demo: Zipkin in memory, spans over
/// HTTP, the three services it always had.
#[test]
fn the_default_profile_is_the_plain_demo() {
    assert_eq!(default_profiles(), ["default"], ".env: COMPOSE_PROFILES");
    let model = with_profile(&compose_file(), "default");
    let names: Vec<&String> = services(&model).keys().collect();
    assert_eq!(names, ["service1", "service2", "zipkin"], "default profile");
    let (zipkin, zipkin_service) = service_running(&model, ZIPKIN_IMAGE);
    assert!(
        environment(zipkin, zipkin_service).is_empty(),
        "the default Zipkin keeps its defaults (in-memory storage, HTTP only)"
    );
    for (name, _, command) in built_services(&model) {
        let service = &model["services"][&name];
        assert_eq!(transport(&name, service, &command), "http", "{name}");
    }
}

/// Each profile sets up what it is named for, and docs/operations.md lists every one.
#[test]
fn each_profile_sets_up_what_it_is_named_for() {
    let compose = compose_file();
    assert_eq!(
        profiles(&compose),
        PROFILES.map(String::from).into(),
        "the profiles"
    );
    let operations = read::read(&repo_root().join("docs/operations.md"));
    let scaling_out = operations
        .split("\n## ")
        .find(|section| section.starts_with("Scaling out"))
        .expect("docs/operations.md has a \"Scaling out\" section");
    let mut problems = Problems::default();
    for (profile, variable, value, expected_transport) in SET_UPS {
        let model = with_profile(&compose, profile);
        let (zipkin, zipkin_service) = service_running(&model, ZIPKIN_IMAGE);
        let zipkin_environment = environment(zipkin, zipkin_service);
        let set = zipkin_environment.get(variable).cloned().flatten();
        problems.check(
            set.is_some() && (value.is_none() || set.as_deref() == value),
            format!("[{profile}] {zipkin} must set {variable} to {value:?}, not {set:?}"),
        );
        for (name, _, command) in built_services(&model) {
            let service = &model["services"][&name];
            let used = transport(&name, service, &command);
            problems.check(
                used == expected_transport,
                format!("[{profile}] {name} sends spans by {used}, not {expected_transport}"),
            );
            // A broker transport: the binary and Zipkin meet at the same broker and queue.
            let service_environment = environment(&name, service);
            for (setting, zipkin_default) in [
                ("RABBIT_URI", None),
                ("RABBIT_QUEUE", Some("zipkin")),
                ("KAFKA_BOOTSTRAP_SERVERS", None),
                ("KAFKA_TOPIC", Some("zipkin")),
            ] {
                if expected_transport == "http" || !in_use(setting, expected_transport) {
                    continue;
                }
                let ours = service_environment
                    .get(setting)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| default_of_variable(&command, setting));
                let theirs = zipkin_environment
                    .get(setting)
                    .cloned()
                    .flatten()
                    .or(zipkin_default.map(str::to_owned));
                problems.check(
                    theirs.as_deref() == Some(ours.as_str()),
                    format!("[{profile}] {name} uses {setting}={ours}, {zipkin} {theirs:?}"),
                );
            }
        }
        problems.check(
            scaling_out.contains(&format!("docker compose --profile {profile} up")),
            format!("docs/operations.md, Scaling out: no `docker compose --profile {profile} up`"),
        );
    }
    problems.assert_none("what the profiles set up");
}

#[test]
fn each_binary_runs_in_a_service_built_from_its_dockerfile_stage() {
    let dockerfile = read::read(&repo_root().join("Dockerfile"));
    let mut problems = Problems::default();
    for (profile, model) in models() {
        for (name, service) in services(&model) {
            let Some(target) = service.pointer("/build/target") else {
                problems.check(
                    service.get("build").is_none(),
                    format!("[{profile}] {name} is built without a build.target"),
                );
                continue;
            };
            problems.check(
                target.as_str().is_some_and(|t| binaries().contains_key(t)),
                format!("[{profile}] {name} builds stage {target}, which names no binary"),
            );
        }
        for binary in binaries().keys() {
            let running: Vec<String> = built_services(&model)
                .into_iter()
                .filter(|(_, b, _)| b == binary)
                .map(|(name, _, _)| name)
                .collect();
            problems.check(
                running.len() == 1,
                format!("[{profile}] {binary} must run in one service, not {running:?}"),
            );
        }
    }
    for name in binaries().keys() {
        let runs_binary = dockerfile_stage(&dockerfile, name).is_some_and(|stage| {
            stage.contains(&format!("target/release/{name} "))
                && stage
                    .lines()
                    .any(|l| l.starts_with("ENTRYPOINT") && l.contains(name))
        });
        problems.check(
            runs_binary,
            format!("the Dockerfile needs a stage `AS {name}` that copies and runs {name}"),
        );
        // What CI builds (.ci/run), so that the image holds the binaries CI checked.
        let built_as_ci_does = dockerfile.lines().any(|l| {
            [
                "cargo build",
                "--release",
                "--locked",
                &format!("-p {name}"),
            ]
            .iter()
            .all(|part| l.contains(part))
        });
        problems.check(
            built_as_ci_does,
            format!("the Dockerfile must run `cargo build --release --locked -p {name}`"),
        );
    }
    problems.assert_none("the images");
}

#[test]
fn services_publish_the_ports_the_binaries_listen_on() {
    let mut problems = Problems::default();
    for (profile, model) in models() {
        for (name, _, command) in built_services(&model) {
            let service = &model["services"][&name];
            let default = default_port(&command);
            let listening = listening_port(&name, service, &command);
            let ports = published_ports(&name, service);
            problems.check(
                ports.contains(&(default, listening)),
                format!(
                    "[{profile}] {name} must publish host port {default} (its --port default, \
                     where users look for it) to container port {listening} (where it \
                     listens); it publishes {ports:?} as (host, container)"
                ),
            );
        }
        // Zipkin is published where the binaries' default ZIPKIN_ENDPOINT looks for it, so
        // a service started outside compose (`cargo run -p service1`) reports to it too.
        let (zipkin, zipkin_service) = service_running(&model, ZIPKIN_IMAGE);
        let ports = published_ports(zipkin, zipkin_service);
        for command in binaries().values() {
            let default = url(&default_of_variable(command, "ZIPKIN_ENDPOINT"));
            let port = default.port_or_known_default().unwrap_or(80);
            problems.check(
                ports.contains(&(port, port)),
                format!(
                    "[{profile}] {zipkin} must publish {port}:{port} ({default}); \
                     it publishes {ports:?}"
                ),
            );
        }
    }
    problems.assert_none("the published ports");
}

#[test]
fn every_variable_set_is_one_the_binary_or_zipkin_reads() {
    let zipkin_reads = zipkin_variables();
    let mut problems = Problems::default();
    for (profile, model) in models() {
        for (name, binary, command) in built_services(&model) {
            let reads: BTreeSet<String> = command
                .get_arguments()
                .filter_map(variable)
                .chain(NON_CLAP_VARIABLES.iter().map(|&v| v.to_owned()))
                .collect();
            for set in environment(&name, &model["services"][&name]).keys() {
                problems.check(
                    reads.contains(set),
                    format!(
                        "[{profile}] {name} sets {set}, which {binary} does not read; \
                         it reads {reads:?}"
                    ),
                );
            }
        }
        let (zipkin, zipkin_service) = service_running(&model, ZIPKIN_IMAGE);
        for set in environment(zipkin, zipkin_service).keys() {
            problems.check(
                zipkin_reads.contains(set),
                format!("[{profile}] {zipkin} sets {set}, which Zipkin does not read"),
            );
        }
    }
    problems.assert_none("the environment variables");
}

/// The list used where the jar is missing holds only variables the jar reads.
#[test]
fn the_hand_kept_zipkin_variables_are_ones_the_jar_reads() {
    let Some(jar) = itests::engines::zipkin::jar_or_skip("compose") else {
        return;
    };
    let reads = itests::engines::zipkin::server_variables(&jar).expect("the jar's variables");
    let unknown: Vec<&&str> = ZIPKIN_VARIABLES_WITHOUT_THE_JAR
        .iter()
        .filter(|v| !reads.contains(**v))
        .collect();
    assert!(unknown.is_empty(), "Zipkin reads no {unknown:?}");
}

/// Inside a container, 127.0.0.1 is the container itself: a listen address there is
/// unreachable through the published port, and a URL there misses the other container.
#[test]
fn no_container_relies_on_loopback() {
    let mut problems = Problems::default();
    for (profile, model) in models() {
        for (name, _, command) in built_services(&model) {
            let service = &model["services"][&name];
            let environment = environment(&name, service);
            let used = transport(&name, service, &command);
            for arg in command.get_arguments() {
                let (Some(variable), Some(default)) = (variable(arg), default_value(arg)) else {
                    continue;
                };
                let loopback = is_loopback(&default)
                    || hosts(&variable, &default)
                        .iter()
                        .any(|(host, _)| is_loopback_host(host));
                problems.check(
                    !loopback
                        || !in_use(&variable, &used)
                        || environment.get(&variable).is_some_and(Option::is_some),
                    format!(
                        "[{profile}] {name} must set {variable}: its default, {default}, \
                         is loopback"
                    ),
                );
            }
        }
        for (name, service) in services(&model) {
            for (variable, value) in environment(name, service) {
                let Some(value) = value else { continue };
                let loopback = is_loopback(&value)
                    || hosts(&variable, &value)
                        .iter()
                        .any(|(host, _)| is_loopback_host(host));
                // A broker's own settings may name itself (`localhost:9093`, its controller).
                let calls_out = service.get("build").is_some()
                    || service_running(&model, ZIPKIN_IMAGE).0 == name;
                problems.check(
                    !(loopback && calls_out),
                    format!("[{profile}] {name} sets {variable}={value}, a loopback address"),
                );
            }
        }
    }
    problems.assert_none("loopback addresses");
}

#[test]
fn spans_go_to_the_zipkin_services_v2_endpoint() {
    let mut problems = Problems::default();
    for (profile, model) in models() {
        let (zipkin, _) = service_running(&model, ZIPKIN_IMAGE);
        for (name, _, _) in built_services(&model) {
            let environment = environment(&name, &model["services"][&name]);
            let Some(Some(endpoint)) = environment.get("ZIPKIN_ENDPOINT") else {
                problems.push(format!("[{profile}] {name} does not set ZIPKIN_ENDPOINT"));
                continue;
            };
            let endpoint = url(endpoint);
            let path = endpoint.path();
            problems.check(
                path == ZIPKIN_SPANS_PATH,
                format!(
                    "[{profile}] {name}: ZIPKIN_ENDPOINT {endpoint} has path {path}, \
                     not {ZIPKIN_SPANS_PATH}"
                ),
            );
            // The port is checked with every other URL, in the next test.
            problems.check(
                endpoint.host_str() == Some(zipkin),
                format!(
                    "[{profile}] {name}: ZIPKIN_ENDPOINT {endpoint} must name {zipkin}, \
                     this profile's Zipkin service"
                ),
            );
        }
    }
    problems.assert_none("the span endpoint");
}

/// Every host a binary or Zipkin is given (URLs, `MYSQL_HOST`, `ES_HOSTS`,
/// `KAFKA_BOOTSTRAP_SERVERS`, ...) names a compose service of the same profile, on a port
/// that service listens on, and the caller starts only once that service is healthy.
#[test]
fn calls_go_to_compose_services_that_are_waited_for() {
    let mut problems = Problems::default();
    for (profile, model) in models() {
        let binary_of: BTreeMap<String, Command> = built_services(&model)
            .into_iter()
            .map(|(name, _, command)| (name, command))
            .collect();
        let (zipkin, _) = service_running(&model, ZIPKIN_IMAGE);
        let callers = binary_of.keys().map(String::as_str).chain([zipkin]);
        for name in callers {
            let service = &model["services"][name];
            let conditions = dependency_conditions(name, service);
            for (variable, value) in environment(name, service) {
                let Some(value) = value else { continue };
                for (host, port) in hosts(&variable, &value) {
                    let Some(callee) = model.pointer(&format!("/services/{host}")) else {
                        problems.push(format!(
                            "[{profile}] {name}: {variable}={value} names {host}: \
                             no service of this profile"
                        ));
                        continue;
                    };
                    let ports = container_ports(&host, callee, binary_of.get(&host));
                    problems.check(
                        port.is_none_or(|p| ports.contains(&p)),
                        format!(
                            "[{profile}] {name}: {variable}={value} uses port {port:?}; \
                             {host} listens on {ports:?}"
                        ),
                    );
                    problems.check(
                        conditions
                            .get(&host)
                            .is_some_and(|c| c == "service_healthy"),
                        format!(
                            "[{profile}] {name} calls {host} ({variable}): it must depend \
                             on it, service_healthy"
                        ),
                    );
                }
            }
        }
    }
    problems.assert_none("the calls between services");
}

#[test]
fn every_service_has_a_health_check_and_waits_on_health() {
    let mut problems = Problems::default();
    for (profile, model) in models() {
        let binary_of: BTreeMap<String, Command> = built_services(&model)
            .into_iter()
            .map(|(name, _, command)| (name, command))
            .collect();
        let (zipkin, _) = service_running(&model, ZIPKIN_IMAGE);
        for (name, service) in services(&model) {
            let ports = container_ports(name, service, binary_of.get(name));
            let calls_health = |test: &str| {
                let on_port =
                    |p: &u16| test.contains(&format!("/{p}")) || test.contains(&format!(":{p}"));
                test.contains("/health") && ports.iter().any(on_port)
            };
            match health_check(service) {
                None => problems.push(format!("[{profile}] {name} has no healthcheck.test")),
                // Zipkin and the binaries answer /health; other images bring their own probe.
                Some(test) if binary_of.contains_key(name) || name == zipkin => problems.check(
                    calls_health(&test),
                    format!(
                        "[{profile}] {name}: the health check must call /health on port \
                         {ports:?}: {test}"
                    ),
                ),
                Some(_) => {}
            }
            for (dependency, condition) in dependency_conditions(name, service) {
                problems.check(
                    condition == "service_healthy",
                    format!(
                        "[{profile}] {name} waits for {dependency} with {condition}, \
                         not service_healthy"
                    ),
                );
                problems.check(
                    model.pointer(&format!("/services/{dependency}")).is_some(),
                    format!(
                        "[{profile}] {name} depends on {dependency}, which is no service \
                         of this profile"
                    ),
                );
            }
        }
    }
    problems.assert_none("the health checks");
}

/// Failures collected across a whole check, so one run reports every drift at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    fn check(&mut self, ok: bool, problem: String) {
        if !ok {
            self.push(problem);
        }
    }

    #[track_caller]
    fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "docker-compose.yml disagrees with the code about {what}:\n  - {}",
            self.0.join("\n  - ")
        );
    }
}

#[test]
fn the_kafka_profile_runs_the_kafka_the_transport_tests_run() {
    let script = read::read(&repo_root().join("scripts/kafka-broker"));
    let version = script
        .lines()
        .find_map(|line| line.strip_prefix("KAFKA_VERSION="))
        .map(|value| value.trim_matches('"'))
        .expect("scripts/kafka-broker sets KAFKA_VERSION");
    let compose = with_profile(&compose_file(), "kafka");
    let (name, service) = service_running(&compose, "apache/kafka");
    assert_eq!(
        service["image"].as_str(),
        Some(format!("apache/kafka:{version}").as_str()),
        "profile kafka, service {name}: the services' Kafka client is tested against \
         {version} (scripts/kafka-broker); Kafka 4 dropped the protocol versions it speaks"
    );
}

//! `docker-compose.yml` held to the code, without a Docker daemon.
//!
//! The compose file repeats facts that live in Rust: the ports the services listen on, the
//! environment variables they read, the path Zipkin takes spans on. Nothing else would
//! notice the two drifting apart until someone ran `docker compose up`, so these tests read
//! the file (with `compose/read.rs`) and check it against
//!
//! - the Compose specification's JSON schema (a copy in `tests/data/`, see the README
//!   there): every key is one Compose defines, with a value of the right shape;
//! - the binaries' clap definitions (`service1::Config`, `service2::Config`): the published
//!   ports are the ports the binaries listen on, every variable set is one they read, and
//!   every default that points at loopback is overridden;
//! - the demo's wiring: spans go to the Zipkin service's `/api/v2/spans`, containers address
//!   each other by service name, and each starts only once what it calls is healthy;
//! - the Dockerfile: each service's image runs that service's binary, built as CI builds it.
//!
//! Each failure names the service and the key that drifted.

// A test crate's root looks for its modules beside it; this one keeps its own in compose/.
#[path = "compose/read.rs"]
mod read;

use std::collections::{BTreeMap, BTreeSet};

use clap::{Command, CommandFactory};
use serde_json::Value;

use read::{
    compose_file, container_ports, default_of_variable, default_port, default_value,
    dependency_conditions, dockerfile_stage, environment, health_check, is_loopback,
    listening_port, published_ports, repo_root, schema_violations, service, service_running,
    services, url, url_host, variable,
};

/// The compose services built from this repository, by the binary each runs. The compose
/// service, its Dockerfile stage (`build.target`) and the binary share the name.
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

#[test]
fn each_binary_runs_in_a_service_built_from_its_dockerfile_stage() {
    let compose = compose_file();
    let dockerfile = read::read(&repo_root().join("Dockerfile"));
    let mut problems = Problems::default();
    for (name, service) in services(&compose) {
        if service.get("build").is_none() {
            continue;
        }
        problems.check(
            binaries().contains_key(name.as_str()),
            format!("{name} is built from this repository, but no binary is called {name}"),
        );
        let target = service["build"]["target"].as_str();
        problems.check(
            target == Some(name.as_str()),
            format!("{name} must build Dockerfile stage {name:?} (build.target), not {target:?}"),
        );
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
    for name in binaries().keys() {
        problems.check(
            compose
                .pointer(&format!("/services/{name}/build"))
                .is_some(),
            format!("no service {name} is built from this repository"),
        );
    }
    problems.assert_none("the images");
}

#[test]
fn services_publish_the_ports_the_binaries_listen_on() {
    let compose = compose_file();
    let mut problems = Problems::default();
    for (name, command) in binaries() {
        let service = service(&compose, name);
        let default = default_port(&command);
        let listening = listening_port(name, service, &command);
        let ports = published_ports(name, service);
        problems.check(
            ports.contains(&(default, listening)),
            format!(
                "{name} must publish host port {default} (its --port default, where users \
                 look for it) to container port {listening} (where it listens); it \
                 publishes {ports:?} as (host, container)"
            ),
        );
    }
    // Zipkin is published where the binaries' default ZIPKIN_ENDPOINT looks for it, so a
    // service started outside compose (`cargo run -p service1`) reports to it too.
    let (zipkin, zipkin_service) = service_running(&compose, ZIPKIN_IMAGE);
    let ports = published_ports(zipkin, zipkin_service);
    for command in binaries().values() {
        let default = url(&default_of_variable(command, "ZIPKIN_ENDPOINT"));
        let port = default.port_or_known_default().unwrap_or(80);
        problems.check(
            ports.contains(&(port, port)),
            format!("{zipkin} must publish {port}:{port} ({default}); it publishes {ports:?}"),
        );
    }
    problems.assert_none("the published ports");
}

#[test]
fn every_variable_set_is_one_the_binary_reads() {
    let compose = compose_file();
    let mut problems = Problems::default();
    for (name, command) in binaries() {
        let reads: BTreeSet<String> = command
            .get_arguments()
            .filter_map(variable)
            .chain(NON_CLAP_VARIABLES.iter().map(|&v| v.to_owned()))
            .collect();
        for set in environment(name, service(&compose, name)).keys() {
            problems.check(
                reads.contains(set),
                format!("{name} sets {set}, which {name} does not read; it reads {reads:?}"),
            );
        }
    }
    problems.assert_none("the environment variables");
}

/// Inside a container, 127.0.0.1 is the container itself: a listen address there is
/// unreachable through the published port, and a URL there misses the other container.
#[test]
fn no_container_relies_on_loopback() {
    let compose = compose_file();
    let mut problems = Problems::default();
    for (name, command) in binaries() {
        let environment = environment(name, service(&compose, name));
        for arg in command.get_arguments() {
            let (Some(variable), Some(default)) = (variable(arg), default_value(arg)) else {
                continue;
            };
            problems.check(
                !is_loopback(&default) || environment.get(&variable).is_some_and(Option::is_some),
                format!("{name} must set {variable}: its default, {default}, is loopback"),
            );
        }
        for (variable, value) in &environment {
            if let Some(value) = value.as_deref().filter(|v| is_loopback(v)) {
                problems.push(format!(
                    "{name} sets {variable}={value}, a loopback address"
                ));
            }
        }
    }
    problems.assert_none("loopback addresses");
}

#[test]
fn spans_go_to_the_zipkin_services_v2_endpoint() {
    let compose = compose_file();
    let (zipkin, _) = service_running(&compose, ZIPKIN_IMAGE);
    let mut problems = Problems::default();
    for name in binaries().keys() {
        let environment = environment(name, service(&compose, name));
        let Some(Some(endpoint)) = environment.get("ZIPKIN_ENDPOINT") else {
            problems.push(format!("{name} does not set ZIPKIN_ENDPOINT"));
            continue;
        };
        let endpoint = url(endpoint);
        let path = endpoint.path();
        problems.check(
            path == ZIPKIN_SPANS_PATH,
            format!("{name}: ZIPKIN_ENDPOINT {endpoint} has path {path}, not {ZIPKIN_SPANS_PATH}"),
        );
        // The port is checked with every other URL, in the next test.
        problems.check(
            endpoint.host_str() == Some(zipkin),
            format!("{name}: ZIPKIN_ENDPOINT {endpoint} must name {zipkin}, the Zipkin service"),
        );
    }
    problems.assert_none("the span endpoint");
}

/// Every URL a service is given names a compose service, on a port that service listens
/// on, and the caller starts only once that service is healthy.
#[test]
fn calls_go_to_compose_services_that_are_waited_for() {
    let compose = compose_file();
    let mut problems = Problems::default();
    for name in binaries().keys() {
        let service = service(&compose, name);
        let conditions = dependency_conditions(name, service);
        for (variable, value) in environment(name, service) {
            let Some((target, host)) = value.as_deref().and_then(url_host) else {
                continue;
            };
            let Some(callee) = compose.pointer(&format!("/services/{host}")) else {
                problems.push(format!(
                    "{name}: {variable}={target} names {host}: no service"
                ));
                continue;
            };
            let port = target.port_or_known_default().unwrap_or(80);
            let ports = container_ports(&host, callee, binaries().get(host.as_str()));
            problems.check(
                ports.contains(&port),
                format!(
                    "{name}: {variable}={target} uses port {port}; {host} listens on {ports:?}"
                ),
            );
            problems.check(
                conditions
                    .get(&host)
                    .is_some_and(|c| c == "service_healthy"),
                format!("{name} calls {host} ({variable}): it must depend on it, service_healthy"),
            );
        }
    }
    problems.assert_none("the calls between services");
}

#[test]
fn every_service_has_a_health_check_and_waits_on_health() {
    let compose = compose_file();
    let mut problems = Problems::default();
    for (name, service) in services(&compose) {
        let ports = container_ports(name, service, binaries().get(name.as_str()));
        let calls_health = |test: &str| {
            let on_port =
                |p: &u16| test.contains(&format!("/{p}")) || test.contains(&format!(":{p}"));
            test.contains("/health") && ports.iter().any(on_port)
        };
        match health_check(service) {
            None => problems.push(format!("{name} has no healthcheck.test")),
            Some(test) => problems.check(
                calls_health(&test),
                format!("{name}: the health check must call /health on port {ports:?}: {test}"),
            ),
        }
        for (dependency, condition) in dependency_conditions(name, service) {
            problems.check(
                condition == "service_healthy",
                format!("{name} waits for {dependency} with {condition}, not service_healthy"),
            );
            problems.check(
                compose
                    .pointer(&format!("/services/{dependency}"))
                    .is_some(),
                format!("{name} depends on {dependency}, which is no service"),
            );
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

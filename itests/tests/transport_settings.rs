//! The real binaries refuse a bad transport setting at start: a `ZIPKIN_TRANSPORT` other
//! than `http`, `rabbitmq` or `kafka`, a malformed `RABBIT_URI`, an empty
//! `KAFKA_BOOTSTRAP_SERVERS` or `RABBIT_QUEUE`, or a bad `KAFKA_TOPIC` each stop the
//! service with a failure status and a message that names the variable.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use itests::build_binary;

/// How long a binary may take to refuse its settings; one still running then has
/// accepted them.
const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn a_bad_transport_setting_stops_each_service_at_start_naming_it() {
    for name in ["service1", "service2"] {
        let binary = build_binary(name).unwrap();
        for (variable, value) in [
            ("ZIPKIN_TRANSPORT", "amqp"),
            ("ZIPKIN_TRANSPORT", "HTTP"),
            ("RABBIT_URI", "rabbit:5672"),
            ("RABBIT_URI", "amqp://rabbit:port"),
            ("RABBIT_QUEUE", ""),
            ("KAFKA_BOOTSTRAP_SERVERS", ""),
            ("KAFKA_BOOTSTRAP_SERVERS", "kafka"),
            ("KAFKA_TOPIC", "zip kin"),
        ] {
            // Only PATH and the variable: nothing of the tester's shell, and port 0 so
            // that a binary accepting the value would not collide with anything.
            let mut child = Command::new(&binary)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("PORT", "0")
                .env(variable, value)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > DEADLINE {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    panic!("{name} with {variable}={value:?} was still running after {DEADLINE:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
            assert!(
                !status.success(),
                "{name} with {variable}={value:?}: {status}"
            );
            assert!(
                stderr.contains(variable),
                "{name} with {variable}={value:?} does not name it:\n{stderr}"
            );
        }
    }
}

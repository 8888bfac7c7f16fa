//! The real `demo` binary, run as a user would: `--once` prints the article's trace and
//! exits 0; a port in use exits 1 naming the port and flag, without a stack trace; a bad
//! setting exits naming it; SIGINT and SIGTERM stop a serving demo with exit code 0.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the binary may take; generous, the machines are shared and it may be the
/// first run after a build.
const DEADLINE: Duration = Duration::from_secs(60);

const SPAN_NAMES: [&str; 6] = [
    "service1: GET /",
    "service1: service_1_do_stuff",
    "service1: GET /service/",
    "service2: GET /service/",
    "service2: service_2_do_stuff",
    "service2: db_search",
];

/// Three ports that were free a moment ago: bound together (so they differ), then let go.
fn free_ports() -> [u16; 3] {
    let listeners = [(); 3].map(|()| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|l| l.local_addr().unwrap().port())
}

/// The demo with `args`, its environment cleared of settings that would change it.
fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("TIME_SCALE")
        .env_remove("SERVICE1_PORT")
        .env_remove("SERVICE2_PORT")
        .env_remove("COLLECTOR_PORT")
        .env_remove("ZIPKIN_URL")
        .env_remove("SAMPLE_RATE")
        .env_remove("B3_FORMAT")
        .env_remove("PROPAGATION")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn port_args(ports: [u16; 3]) -> Vec<String> {
    let [collector, service2, service1] = ports.map(|p| p.to_string());
    vec![
        "--collector-port".into(),
        collector,
        "--service2-port".into(),
        service2,
        "--service1-port".into(),
        service1,
    ]
}

async fn finish(child: Child) -> Output {
    tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the demo exits in time")
        .unwrap()
}

#[tokio::test]
async fn once_prints_the_six_spans_and_exits_0() {
    let ports = port_args(free_ports());
    let mut args = vec!["--once", "--time-scale", "0.01"];
    args.extend(ports.iter().map(String::as_str));
    let output = finish(demo(&args).spawn().unwrap()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
    let mut rest = stdout.as_ref();
    for name in SPAN_NAMES {
        let at = rest
            .find(&format!("{name}  "))
            .unwrap_or_else(|| panic!("{name} missing or out of order:\n{stdout}"));
        rest = &rest[at..];
    }
    assert!(stdout.contains("X-B3-Flags:"), "{stdout}");
    assert!(
        stderr.is_empty(),
        "only warnings are logged, and none:\n{stderr}"
    );
}

#[tokio::test]
async fn a_port_in_use_exits_non_zero_naming_port_and_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = finish(
        demo(&[
            "--once",
            "--service2-port",
            &port,
            "--service1-port",
            "0",
            "--collector-port",
            "0",
        ])
        .spawn()
        .unwrap(),
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("--service2-port"), "{stderr}");
    drop(taken);
}

#[tokio::test]
async fn a_start_up_error_is_its_message_without_a_stack_trace_even_with_rust_backtrace() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut command = demo(&["--once", "--collector-port", &port]);
    command.env("RUST_BACKTRACE", "1");
    let output = finish(command.spawn().unwrap()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: port {port} is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("--zipkin"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    drop(taken);
}

#[tokio::test]
async fn a_bad_service_setting_in_the_environment_stops_the_demo_naming_it() {
    for (variable, value, flag) in [
        ("SAMPLE_RATE", "5", "--sample-rate"),
        ("B3_FORMAT", "both", "--b3-format"),
        ("PROPAGATION", "tracecontext", "--propagation"),
    ] {
        let mut command = demo(&["--once"]);
        command.env(variable, value);
        let output = finish(command.spawn().unwrap()).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value}: {stderr}");
        assert!(stderr.contains(flag), "{variable}={value}: {stderr}");
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing ran");
    }
}

/// Runs the serving demo until it prints `Serving:`, sends `signal`, and returns how it
/// ended and everything it printed.
async fn stop_with(signal: &str) -> (Output, String) {
    let ports = port_args(free_ports());
    let mut args = vec!["--time-scale", "0.01"];
    args.extend(ports.iter().map(String::as_str));
    let mut child = demo(&args).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let serving = async {
        while !printed.contains("Serving:") {
            let read = stdout.read_line(&mut printed).await.unwrap();
            assert!(read > 0, "the demo ended early:\n{printed}");
        }
    };
    tokio::time::timeout(DEADLINE, serving)
        .await
        .expect("the demo serves in time");
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::timeout(DEADLINE, stdout.read_to_string(&mut printed))
        .await
        .expect("the demo closes its output in time")
        .unwrap();
    (finish(child).await, printed)
}

#[cfg(unix)]
#[tokio::test]
async fn sigint_and_sigterm_stop_the_demo_with_exit_code_0() {
    for signal in ["-INT", "-TERM"] {
        let (output, stdout) = stop_with(signal).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{signal}: {}\n{stdout}\n{stderr}",
            output.status
        );
        assert!(stdout.ends_with("flushing spans.\n"), "{signal}:\n{stdout}");
    }
}

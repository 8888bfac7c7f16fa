//! The binary's `--scenario`: `list` lists every lesson in order, an unknown name is
//! refused with the list (exit code 2), a lesson runs once and exits, and the healthy
//! lesson prints what `cargo run` prints.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use demo::scenario::SCENARIOS;

/// The binary with `args`, on free ports, without settings from the environment.
async fn demo(args: &[&str]) -> std::process::Output {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TIME_SCALE")
        .env_remove("SAMPLE_RATE")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), command)
        .await
        .expect("the demo exits in time")
        .unwrap()
}

#[tokio::test]
async fn the_binary_lists_every_scenario_and_refuses_an_unknown_one_with_the_list() {
    let listed = demo(&["--scenario", "list"]).await;
    assert_eq!(listed.status.code(), Some(0));
    let stdout = String::from_utf8(listed.stdout).unwrap();
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  ")?.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    assert_eq!(names, expected, "{stdout}");

    let refused = demo(&["--scenario", "no-such-lesson"]).await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("no-such-lesson"), "{stderr}");
    for name in expected {
        assert!(stderr.contains(name), "{stderr}");
    }
}

#[tokio::test]
async fn the_binary_runs_a_lesson_once_and_exits() {
    let ports = [
        "--service1-port=0",
        "--service2-port=0",
        "--collector-port=0",
    ];
    let mut args = vec!["--scenario", "no-join", "--time-scale", "0.01"];
    args.extend(ports);
    let output = demo(&args).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("| 6 spans |"), "{stdout}");
    assert!(stdout.contains("What to notice:"), "{stdout}");
}

/// `text` with what changes from run to run masked: numbers, hex ids, units of time,
/// spacing, the drawn bars.
fn masked(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let line = line.split(" |").next().unwrap_or(line).replace('µ', "m");
            let mut out = String::new();
            for c in line.chars() {
                let c = if c.is_ascii_hexdigit() || c == '.' {
                    '#'
                } else {
                    c
                };
                if !((c == '#' || c == ' ') && out.ends_with(c)) {
                    out.push(c);
                }
            }
            out
        })
        .collect()
}

#[tokio::test]
async fn the_healthy_lesson_prints_what_the_plain_demo_prints() {
    let mut args = vec!["--once", "--time-scale", "0.01"];
    args.extend([
        "--service1-port=0",
        "--service2-port=0",
        "--collector-port=0",
    ]);
    let plain = demo(&args).await;
    args.extend(["--scenario", "healthy"]);
    let healthy = demo(&args).await;
    assert_eq!(plain.status.code(), Some(0));
    assert_eq!(healthy.status.code(), Some(0));
    let [plain, healthy] = [plain, healthy].map(|o| String::from_utf8(o.stdout).unwrap());
    assert_eq!(masked(&healthy), masked(&plain), "{healthy}\n---\n{plain}");
}

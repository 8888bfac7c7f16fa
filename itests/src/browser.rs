//! Headless Chromium, driven through WebDriver, for tests that look at a web page as a
//! user would: its rendered text, a real mouse click, a screenshot.
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free port, which starts
//! `chromium` headless with a fresh profile and the flags a closed network needs. WebDriver
//! is JSON over HTTP, so the few commands a test needs are sent with reqwest, the client
//! the tests already use, rather than through a WebDriver client crate.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::process::free_port;
use crate::trace_source::{POLL_INTERVAL, wait_until};
use crate::zipkin_server::engines_required;

/// Chromium's flags: headless, and nothing that reaches for the network on its own
/// (updates, sync, field trials), which a closed network would refuse again and again.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The window: tall, because pages such as Zipkin's trace view draw only the rows that
/// are inside the window.
const WINDOW: &str = "--window-size=1400,2000";

/// A headless Chromium session; the browser and its driver stop on drop, also when a test
/// fails.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    session: String,
    client: reqwest::Client,
    profile: PathBuf,
}

impl Browser {
    /// Starts `chromedriver` and a Chromium session with a fresh, empty profile.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromium = find_on_path("chromium").context(
            "chromium is not on PATH (Debian: apt-get install chromium chromium-driver)",
        )?;
        let driver_binary = find_on_path("chromedriver")
            .context("chromedriver is not on PATH (Debian: apt-get install chromium-driver)")?;
        let port = free_port()?;
        let driver = Command::new(driver_binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let profile = std::env::temp_dir().join(format!(
            "itests-chromium-{}-{port}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos())
        ));
        let mut browser = Browser {
            driver,
            session: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            profile,
        };
        let status = format!("{}/status", browser.session);
        wait_until(
            "chromedriver to be ready",
            Duration::from_secs(30),
            || async {
                let answer = browser.call(reqwest::Method::GET, &status, None).await;
                match answer {
                    Ok(value) if value["ready"] == json!(true) => Ok(()),
                    Ok(value) => Err(value.to_string()),
                    Err(error) => Err(format!("{error:#}")),
                }
            },
        )
        .await?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(WINDOW.to_owned());
        args.push(format!("--user-data-dir={}", browser.profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let url = format!("{}/session", browser.session);
        let created = browser.call(reqwest::Method::POST, &url, Some(capabilities));
        let created = created
            .await
            .context("chromedriver could not start chromium")?;
        let id = created["sessionId"].as_str().context("no sessionId")?;
        browser.session = format!("{url}/{id}");
        Ok(browser)
    }

    /// [`Browser::start`] under the engine policy: with `CI=true` a browser that cannot
    /// start fails the test; elsewhere one line says `test` was skipped, and how to run it.
    pub async fn start_or_skip(test: &str) -> Option<Browser> {
        match Browser::start().await {
            Ok(browser) => Some(browser),
            Err(error) if !engines_required() => {
                println!(
                    "skipped {test}: {error:#}; install chromium and chromium-driver, then cargo test -p itests --test {test}"
                );
                None
            }
            Err(error) => panic!("{test}: headless Chromium did not start: {error:?}"),
        }
    }

    /// Opens `url` and returns once the page has loaded (its scripts may still be busy).
    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        let body = json!({ "url": url });
        self.command(reqwest::Method::POST, "url", Some(body))
            .await?;
        Ok(())
    }

    /// Runs `script` (a function body: `return ...`) in the page and returns its value.
    pub async fn script(&self, script: &str) -> anyhow::Result<Value> {
        let body = json!({ "script": script, "args": [] });
        let path = "execute/sync";
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    /// Waits until the page's visible text satisfies `ready`, and returns that text.
    pub async fn wait_for_text(
        &self,
        what: &str,
        deadline: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let ready = &ready;
        wait_until(what, deadline, || async move {
            let text = self.script("return document.body.innerText").await;
            let text = text.map_err(|error| format!("{error:#}"))?;
            let text = text.as_str().unwrap_or_default().to_owned();
            if ready(&text) { Ok(text) } else { Err(text) }
        })
        .await
    }

    /// A real left click at `(x, y)`, in CSS pixels from the window's top left.
    pub async fn click_at(&self, x: i64, y: i64) -> anyhow::Result<()> {
        let steps = json!([
            {"type": "pointerMove", "duration": 0, "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]);
        let body = json!({"actions": [{
            "type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": steps,
        }]});
        self.command(reqwest::Method::POST, "actions", Some(body))
            .await?;
        Ok(())
    }

    /// Saves what the window shows as a PNG at `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let encoded = self
            .command(reqwest::Method::GET, "screenshot", None)
            .await?;
        let encoded = encoded.as_str().context("the screenshot is not a string")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .context("the screenshot is not base64")?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Closes the browser and its driver: what dropping it does, said out loud.
    pub fn quit(self) {}

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/{path}", self.session);
        self.call(method, url.trim_end_matches('/'), body).await
    }

    /// One WebDriver call: its `value`, or the driver's error and message.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.client.request(method.clone(), url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let request = request.timeout(Duration::from_secs(60)).send();
        let response = request.await.with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let answer: Value = serde_json::from_slice(&response.bytes().await?)
            .with_context(|| format!("{method} {url}: the answer is not JSON"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "{method} {url} answered {status}: {} {}",
            value["error"],
            value["message"]
        );
        Ok(value)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing the driver would leave Chromium running: end the session first, which
        // stops it. Drop cannot await, and may run while a failed test unwinds, so this is
        // one plain blocking HTTP request.
        end_session(&self.session);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium may still hold files for a moment after it is told to stop.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// `DELETE {session}` over a plain socket, waiting (a bounded time) for the answer, which
/// comes once Chromium has stopped. Does nothing for a session URL that has no session.
fn end_session(session: &str) {
    use std::io::{Read as _, Write as _};
    let Some(rest) = session.strip_prefix("http://") else {
        return;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// The first `name` on `PATH` that is a file.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

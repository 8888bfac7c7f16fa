//! Headless Chromium, driven through WebDriver by Debian's `chromedriver`, for tests that
//! look at a web page as a user would: its rendered text, a real mouse click, a screenshot.
//!
//! [`Browser::start`] runs `chromedriver` as an engine (free port, ready when `/status`
//! answers) and opens a session through the `fantoccini` WebDriver client, which starts
//! `chromium` headless with a fresh profile and the flags a closed network needs. Every
//! command is bounded by [`COMMAND_TIMEOUT`], so a stuck browser fails the test instead of
//! hanging it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use fantoccini::actions::{InputSource as _, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::process::{EngineProcess, Ready, free_port, fresh_folder, retry_port_taken};
use super::{EngineMissing, or_skip};
use crate::trace_source::wait_until;

/// How long one WebDriver command (open a page, run a script, click) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

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

/// What a skipped test's line says to run first.
const INSTALL: &str = "apt-get install chromium chromium-driver";

/// A headless Chromium session; the browser and its driver are killed on drop, also when a
/// test fails.
#[derive(Debug)]
pub struct Browser {
    client: fantoccini::Client,
    /// `chromedriver`, whose process group holds the browser it started.
    driver: EngineProcess,
}

impl Browser {
    /// Starts `chromedriver` and a Chromium session with a fresh, empty profile. Only a
    /// missing `chromium` or `chromedriver` is [`EngineMissing`].
    pub async fn start() -> anyhow::Result<Browser> {
        let chromium = find_on_path("chromium")?;
        let driver = find_on_path("chromedriver")?;
        retry_port_taken(|| Browser::start_with(&chromium, &driver)).await
    }

    async fn start_with(chromium: &Path, driver: &Path) -> anyhow::Result<Browser> {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let mut driver =
            EngineProcess::new("chromedriver", port, fresh_folder("chromium")?, driver)
                .args([format!("--port={port}")])
                .ready_when(Ready::Http(format!("{url}/status")));
        driver.start().await?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(WINDOW.to_owned());
        args.push(format!(
            "--user-data-dir={}",
            driver.folder().join("profile").display()
        ));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let mut session = fantoccini::ClientBuilder::new(HttpConnector::new());
        session.capabilities(capabilities);
        let client = bounded("chromedriver to start chromium", session.connect(&url)).await;
        let client = client.with_context(|| {
            format!("chromedriver's last 20 log lines:\n{}", driver.log_tail(20))
        })?;
        Ok(Browser { client, driver })
    }

    /// [`Browser::start`] under the engine policy ([`or_skip`]).
    pub async fn start_or_skip(test: &str) -> Option<Browser> {
        or_skip(test, "headless Chromium", INSTALL, Browser::start().await)
    }

    /// Opens `url` and returns once the page has loaded (its scripts may still be busy).
    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        bounded(&format!("opening {url}"), self.client.goto(url)).await
    }

    /// Runs `script` (a function body: `return ...`) in the page and returns its value.
    pub async fn script(&self, script: &str) -> anyhow::Result<Value> {
        bounded("a script", self.client.execute(script, Vec::new())).await
    }

    /// The page's visible text.
    pub async fn text(&self) -> anyhow::Result<String> {
        let text = self.script("return document.body.innerText").await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
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
            let text = self.text().await.map_err(|error| format!("{error:#}"))?;
            if ready(&text) { Ok(text) } else { Err(text) }
        })
        .await
    }

    /// A real left click at `(x, y)`, in CSS pixels from the window's top left: the
    /// pointer moves there, presses and releases at once.
    pub async fn click_at(&self, x: f64, y: f64) -> anyhow::Result<()> {
        let click = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveTo {
                duration: None,
                x,
                y,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        bounded("a click", self.client.perform_actions(click)).await
    }

    /// Resizes the window to `width` by `height` pixels, e.g. to read a page as a phone
    /// would show it.
    pub async fn set_window_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        let resize = self.client.set_window_size(width, height);
        bounded(&format!("resizing the window to {width}x{height}"), resize).await
    }

    /// Saves what the window shows as a PNG at `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = bounded("a screenshot", self.client.screenshot()).await?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The last `lines` lines `chromedriver` logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.driver.log_tail(lines)
    }

    /// Closes the browser and its driver: what dropping it does, said out loud.
    pub fn quit(self) {}
}

/// `command`, given [`COMMAND_TIMEOUT`] to answer; `what` names it in the error.
async fn bounded<T, E>(what: &str, command: impl Future<Output = Result<T, E>>) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(answer) => answer.with_context(|| format!("WebDriver: {what}")),
        Err(_) => anyhow::bail!("WebDriver: {what} did not answer within {COMMAND_TIMEOUT:?}"),
    }
}

/// The first `name` on `PATH` that is a file, or [`EngineMissing`].
fn find_on_path(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| EngineMissing(format!("{name} is not on PATH")).into())
}

//! A private MariaDB server for one test, holding Zipkin's MySQL schema.
//!
//! [`MariaDb::start`] creates a data folder of its own with `mariadb-install-db`, runs
//! `mariadbd` on a free loopback port with its own socket, and waits (with a deadline)
//! until its socket accepts connections. A server that Debian's package may have started
//! (port 3306, `/run/mysqld`) and the machine's `/etc/mysql` settings play no part:
//! `--no-defaults` ignores every option file. The server is killed and its folder removed
//! on drop.
//!
//! SQL goes through the `mariadb` command-line client, run as `root` over the socket. The
//! client comes with the server (Debian's `mariadb-server` depends on `mariadb-client`), so
//! this needs nothing a machine with MariaDB lacks, and no MySQL driver is compiled into
//! the tests for the few statements they send.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::process::free_port;
use crate::trace_source::POLL_INTERVAL;
use crate::zipkin_server::{EngineMissing, fresh_folder, or_skip};

/// How long `mariadbd` may take to accept connections: about a second on an idle machine.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// The database Zipkin reads (`MYSQL_DB`'s default).
pub const DATABASE: &str = "zipkin";

/// The account Zipkin logs in with, over TCP with a password (`MYSQL_USER`, `MYSQL_PASS`).
/// The server listens on loopback only and lives as long as one test.
pub const USER: &str = "zipkin";

/// [`USER`]'s password.
pub const PASSWORD: &str = "zipkin";

/// A running MariaDB server; killed, waited for and its folder removed on drop.
#[derive(Debug)]
pub struct MariaDb {
    child: Child,
    folder: PathBuf,
    port: u16,
    client: PathBuf,
}

impl MariaDb {
    /// Initialises a data folder, starts `mariadbd` on a free port and waits until it
    /// accepts connections, for at most [`START_DEADLINE`].
    pub async fn start() -> anyhow::Result<MariaDb> {
        MariaDb::start_on(free_port()?).await
    }

    /// [`MariaDb::start`] on `port`, which should be free: a port in use makes `mariadbd`
    /// exit, and the error names the port and shows the server's last log lines.
    pub async fn start_on(port: u16) -> anyhow::Result<MariaDb> {
        let server = find_program(&["mariadbd", "mysqld"])?;
        let install = find_program(&["mariadb-install-db", "mysql_install_db"])?;
        let client = find_program(&["mariadb", "mysql"])?;
        let folder = fresh_folder("mariadb")?;
        let child = match spawn(&server, &install, &folder, port).await {
            Ok(child) => child,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&folder);
                return Err(error);
            }
        };
        let mut db = MariaDb {
            child,
            folder,
            port,
            client,
        };
        db.wait_ready().await?;
        Ok(db)
    }

    /// [`MariaDb::start`] under the engine policy: with `CI=true` any failure panics;
    /// otherwise a machine without MariaDB prints one line naming `test` and returns `None`.
    pub async fn start_or_skip(test: &str) -> Option<MariaDb> {
        let started = MariaDb::start().await;
        or_skip(test, "MariaDB", "apt-get install mariadb-server", started)
    }

    /// [`MariaDb::start_or_skip`], then the database [`DATABASE`] with `schema` loaded and
    /// [`USER`] allowed everything on it, from loopback by name or address.
    pub async fn with_schema_or_skip(test: &str, schema: &str) -> Option<MariaDb> {
        let db = MariaDb::start_or_skip(test).await?;
        // `'%'` alone would not do: an anonymous `''@localhost`, where one exists, is a
        // closer match for a loopback login and would shadow it.
        let setup = format!(
            "CREATE DATABASE {DATABASE};\n\
             CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
             CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';\n\
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';\n\
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'localhost';\n\
             USE {DATABASE};\n{schema}"
        );
        if let Err(error) = db.execute(&setup).await {
            panic!(
                "{test}: MariaDB on port {} did not take Zipkin's schema: {error:#}\n\
                 --- its last 30 log lines:\n{}",
                db.port,
                db.log_tail(30)
            );
        }
        Some(db)
    }

    /// The TCP port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `sql` (one or more statements) as `root` and returns what the client printed:
    /// tab-separated rows under a header line.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<String> {
        let mut command = Command::new(&self.client);
        command
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["--user=root", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let sql = sql.to_owned();
        let port = self.port;
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().context("cannot start the mariadb client")?;
            let mut stdin = child.stdin.take().context("the client has no stdin")?;
            stdin.write_all(sql.as_bytes())?;
            drop(stdin);
            let output = child.wait_with_output()?;
            anyhow::ensure!(
                output.status.success(),
                "the mariadb client ({}) failed on port {port}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        })
        .await
        .context("the client's task panicked")?
    }

    /// The last `lines` lines of the server's error log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.folder, lines)
    }

    fn socket(&self) -> PathBuf {
        self.folder.join("mariadb.sock")
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let give_up_at = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll mariadbd")? {
                anyhow::bail!(
                    "MariaDB on port {} exited with {status} before it accepted connections; \
                     its last 30 log lines:\n{}",
                    self.port,
                    self.log_tail(30)
                );
            }
            // Its own socket, not the TCP port: anything else listening on the port would
            // answer there. The server listens on the socket only once it has the port.
            let last = match tokio::net::UnixStream::connect(self.socket()).await {
                Ok(_) => return Ok(()),
                Err(error) => error.to_string(),
            };
            if tokio::time::Instant::now() >= give_up_at {
                anyhow::bail!(
                    "MariaDB on port {} accepted no connection within {START_DEADLINE:?} \
                     (last: {last}); its last 30 log lines:\n{}",
                    self.port,
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// `mariadb-install-db` into `folder/data`, then `mariadbd` on `port` with its socket, pid
/// file and log in `folder`.
async fn spawn(server: &Path, install: &Path, folder: &Path, port: u16) -> anyhow::Result<Child> {
    let data = folder.join("data");
    // A temporary folder of its own too: servers sharing /tmp have been seen to trip over
    // each other's temporary tables while initialising.
    let tmp = folder.join("tmp");
    std::fs::create_dir(&tmp).context("cannot create MariaDB's temporary folder")?;
    // mariadbd refuses to run as root unless told to; as anyone else it runs as itself.
    let as_root = running_as_root().then_some("--user=root");
    let mut init = Command::new(install);
    init.arg("--no-defaults")
        .args(as_root)
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .arg(format!("--tmpdir={}", tmp.display()))
        .stdin(Stdio::null());
    let initialised = tokio::task::spawn_blocking(move || init.output())
        .await
        .context("the install task panicked")?
        .with_context(|| format!("cannot run {}", install.display()))?;
    anyhow::ensure!(
        initialised.status.success(),
        "{} failed ({}):\n{}{}",
        install.display(),
        initialised.status,
        String::from_utf8_lossy(&initialised.stdout),
        String::from_utf8_lossy(&initialised.stderr)
    );
    Command::new(server)
        .arg("--no-defaults")
        .args(as_root)
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!(
            "--socket={}",
            folder.join("mariadb.sock").display()
        ))
        .arg(format!(
            "--pid-file={}",
            folder.join("mariadb.pid").display()
        ))
        .arg(format!(
            "--log-error={}",
            folder.join("error.log").display()
        ))
        .arg("--skip-log-bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", server.display()))
}

fn log_tail(folder: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(folder.join("error.log")).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The first of `names` found on `PATH` or in the `sbin` folders, where Debian installs
/// `mariadbd` but which are not on every user's `PATH`.
fn find_program(names: &[&str]) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let folders: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .collect();
    names
        .iter()
        .flat_map(|name| folders.iter().map(move |folder| folder.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            EngineMissing(format!(
                "MariaDB is not installed ({} not found)",
                names.join(" or ")
            ))
            .into()
        })
}

/// Whether this process runs as root: `/proc/self` belongs to the process's user.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

//! A private MariaDB server for one test, holding Zipkin's MySQL schema.
//!
//! [`MariaDb::start`] creates a data folder of its own with `mariadb-install-db`, runs
//! `mariadbd` on a free loopback port with its own socket, and waits until that socket
//! accepts connections. A server that Debian's package may have started (port 3306,
//! `/run/mysqld`) and the machine's `/etc/mysql` settings play no part: `--no-defaults`
//! ignores every option file.
//!
//! SQL goes through the `mariadb` command-line client, run as `root` over the socket. The
//! client comes with the server (Debian's `mariadb-server` depends on `mariadb-client`), so
//! no MySQL driver is compiled into the tests for the few statements they send.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context as _;

use super::process::{EngineProcess, Ready, free_port, fresh_folder, retry_port_taken};
use super::{EngineMissing, or_skip};

/// The database Zipkin reads (`MYSQL_DB`'s default).
pub const DATABASE: &str = "zipkin";

/// The account Zipkin logs in with, over TCP with a password (`MYSQL_USER`, `MYSQL_PASS`).
/// The server listens on loopback only and lives as long as one test.
pub const USER: &str = "zipkin";

/// [`USER`]'s password.
pub const PASSWORD: &str = "zipkin";

/// What a skipped test's line says to run first.
const INSTALL: &str = "apt-get install mariadb-server";

/// A running MariaDB server; killed and its folder removed on drop.
#[derive(Debug)]
pub struct MariaDb {
    process: EngineProcess,
    client: PathBuf,
}

impl MariaDb {
    /// Initialises a data folder, starts `mariadbd` on a free port and waits until it
    /// accepts connections; a port taken in the meantime is chosen again.
    pub async fn start() -> anyhow::Result<MariaDb> {
        retry_port_taken(|| async { MariaDb::start_on(free_port()?).await }).await
    }

    /// [`MariaDb::start`] on `port`, which should be free: a port in use makes `mariadbd`
    /// exit, and the error names the port and shows the server's last log lines.
    pub async fn start_on(port: u16) -> anyhow::Result<MariaDb> {
        let server = find_program(&["mariadbd", "mysqld"])?;
        let install = find_program(&["mariadb-install-db", "mysql_install_db"])?;
        let client = find_program(&["mariadb", "mysql"])?;
        let folder = fresh_folder("mariadb")?;
        let data = folder.join("data");
        // A temporary folder of its own too: servers sharing /tmp have been seen to trip
        // over each other's temporary tables while initialising.
        let tmp = folder.join("tmp");
        // mariadbd refuses to run as root unless told to; as anyone else it runs as itself.
        let as_root = running_as_root().then_some("--user=root");
        let common = [
            OsString::from("--no-defaults"),
            format!("--datadir={}", data.display()).into(),
            format!("--tmpdir={}", tmp.display()).into(),
        ];
        let socket = folder.join("mariadb.sock");
        // With no `--log-error`, the server logs to stderr: the engine's log.
        let mut process = EngineProcess::new("MariaDB", port, folder.clone(), server)
            .args(common.clone())
            .args(as_root)
            .args([
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--socket={}", socket.display()),
                format!("--pid-file={}", folder.join("mariadb.pid").display()),
                "--skip-log-bin".to_owned(),
            ])
            .ready_when(Ready::Unix(socket));
        std::fs::create_dir(&tmp).context("cannot create MariaDB's temporary folder")?;
        let mut init = Command::new(&install);
        init.args(common)
            .args(as_root)
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
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
        process.start().await?;
        Ok(MariaDb { process, client })
    }

    /// [`MariaDb::start`] under the engine policy ([`or_skip`]).
    pub async fn start_or_skip(test: &str) -> Option<MariaDb> {
        or_skip(test, "MariaDB", INSTALL, MariaDb::start().await)
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
                db.port(),
                db.log_tail(30)
            );
        }
        Some(db)
    }

    /// The TCP port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// Runs `sql` (one or more statements) as `root` and returns what the client printed:
    /// tab-separated rows under a header line.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<String> {
        let mut command = Command::new(&self.client);
        command
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                self.process.folder().join("mariadb.sock").display()
            ))
            .args(["--user=root", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let sql = sql.to_owned();
        let port = self.port();
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

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
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

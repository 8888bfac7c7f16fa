//! What the Zipkin server's exec jar itself says, read at run time so that nothing the
//! jar owns is copied into this repository and goes stale when the jar is bumped:
//!
//! - [`mysql_schema`]: the tables Zipkin's MySQL storage expects. Zipkin never creates
//!   them; the schema is `mysql.sql` at the root of the `zipkin-storage-mysql-v1` jar,
//!   which the exec jar nests under `BOOT-INF/lib/`.
//! - [`server_variables`]: every environment variable Zipkin's configuration reads, from
//!   the `${NAME:default}` placeholders of its `zipkin-server-shared.yml`.
//!
//! A jar is a zip file; the `zip` crate reads it, so a machine needs no `unzip` or `jar`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Cursor, Read as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::zipkin_server::{EngineMissing, or_skip};

/// Zipkin's own configuration, with its environment placeholders.
const SHARED_CONFIG: &str = "BOOT-INF/classes/zipkin-server-shared.yml";

/// The nested jar of the MySQL storage (followed by its version and `.jar`).
const MYSQL_STORAGE_JAR: &str = "BOOT-INF/lib/zipkin-storage-mysql-v1-";

/// The jar: `ZIPKIN_JAR` if set, else where `scripts/zipkin-server fetch` puts it (its
/// name is pinned beside its checksum in `scripts/zipkin-server.sha256`). Never downloads;
/// a missing jar is an [`EngineMissing`] error, the one a test may skip on.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(jar) = std::env::var_os("ZIPKIN_JAR") {
        let jar = PathBuf::from(jar);
        return if jar.is_file() {
            Ok(jar)
        } else {
            Err(EngineMissing(format!("ZIPKIN_JAR={} is not a file", jar.display())).into())
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pinned = std::fs::read_to_string(root.join("scripts/zipkin-server.sha256"))
        .context("cannot read scripts/zipkin-server.sha256")?;
    let name = pinned
        .split_whitespace()
        .nth(1)
        .context("scripts/zipkin-server.sha256 has no jar name after the checksum")?;
    let jar = root.join(".cache/zipkin-server").join(name);
    if jar.is_file() {
        Ok(jar)
    } else {
        Err(EngineMissing(format!(
            "the Zipkin jar is not at .cache/zipkin-server/{name}"
        ))
        .into())
    }
}

/// [`path`] under the engine policy ([`or_skip`]): with `CI=true` a missing jar fails
/// `test`; elsewhere one line says `test` was skipped and how to run it.
pub fn path_or_skip(test: &str) -> Option<PathBuf> {
    or_skip(
        test,
        "the Zipkin jar",
        "scripts/zipkin-server fetch",
        path(),
    )
}

/// The MySQL schema (`CREATE TABLE ...` statements) that the jar at `jar` expects.
pub fn mysql_schema(jar: &Path) -> anyhow::Result<String> {
    let mut exec = open(jar)?;
    let nested = exec
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.starts_with(MYSQL_STORAGE_JAR) && name.ends_with(".jar"))
        .map(|name| name.into_owned())
        .with_context(|| format!("{} has no {MYSQL_STORAGE_JAR}*.jar", jar.display()))?;
    let mut bytes = Vec::new();
    exec.by_name(&nested)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {nested}"))?;
    let mut storage = zip::ZipArchive::new(Cursor::new(bytes))
        .with_context(|| format!("{nested} is not a jar"))?;
    let schema = read_text(&mut storage, "mysql.sql").with_context(|| format!("in {nested}"))?;
    anyhow::ensure!(
        schema.contains("CREATE TABLE"),
        "{nested}: mysql.sql creates no table:\n{schema}"
    );
    Ok(schema)
}

/// The environment variables the server's configuration reads (`STORAGE_TYPE`,
/// `MYSQL_HOST`, `RABBIT_URI`, ...), from the placeholders in its shared configuration.
pub fn server_variables(jar: &Path) -> anyhow::Result<BTreeSet<String>> {
    let config = read_text(&mut open(jar)?, SHARED_CONFIG)?;
    let variables = placeholders(&config);
    anyhow::ensure!(
        variables.contains("STORAGE_TYPE"),
        "{SHARED_CONFIG} reads no STORAGE_TYPE: is it still Zipkin's configuration?"
    );
    Ok(variables)
}

/// The upper-case names in `${NAME}` and `${NAME:default}`, also nested in a default
/// (`${A:${B:x}}`). Lower-case ones (`${server.port}`) are Spring properties, not variables.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find([':', '}'])?;
            let name = &rest[..end];
            let is_variable = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_variable.then(|| name.to_owned())
        })
        .collect()
}

fn open(jar: &Path) -> anyhow::Result<zip::ZipArchive<File>> {
    let file = File::open(jar).with_context(|| format!("cannot open {}", jar.display()))?;
    zip::ZipArchive::new(file).with_context(|| format!("{} is not a jar", jar.display()))
}

fn read_text<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
) -> anyhow::Result<String> {
    let mut text = String::new();
    archive
        .by_name(name)
        .with_context(|| format!("no {name}"))?
        .read_to_string(&mut text)
        .with_context(|| format!("{name} is not UTF-8 text"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_the_upper_case_names_also_nested_in_defaults() {
        let yml = "a: ${STORAGE_TYPE:mem}\nb: ${COLLECTOR_HTTP_ENABLED:${HTTP_COLLECTOR_ENABLED:true}}\n\
                   c: ${RABBIT_URI:}\nport: ${server.port}\nd: ${ES_HOSTS}\ne: $NOT_ONE";
        let found: Vec<String> = placeholders(yml).into_iter().collect();
        assert_eq!(
            found,
            [
                "COLLECTOR_HTTP_ENABLED",
                "ES_HOSTS",
                "HTTP_COLLECTOR_ENABLED",
                "RABBIT_URI",
                "STORAGE_TYPE"
            ]
        );
    }
}

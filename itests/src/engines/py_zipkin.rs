//! py_zipkin, the Python tracer of the article, as an encoder of span bodies.
//!
//! `scripts/py-zipkin fetch` installs a pinned py_zipkin into a virtualenv under
//! `.cache/py-zipkin/`; [`encode`] runs `itests/py/encode_spans.py` there, which opens real
//! `zipkin_span` contexts and returns the bodies py_zipkin hands its transport. So a test
//! posts exactly what the article's Flask services would send.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::Value;

use super::{EngineMissing, or_skip};

/// What a skipped test's line says to run first.
const FETCH: &str = "scripts/py-zipkin fetch";

/// The bodies py_zipkin sent for one trace, in the order it sent them (the callee's
/// service ends first), and that trace's id.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The trace id py_zipkin chose (128-bit, lower hex).
    pub trace_id: String,
    /// Each body as POSTed: a JSON list for `V1_JSON`, a `ListOfSpans` for `V2_PROTO3`.
    pub bodies: Vec<Vec<u8>>,
}

/// The `NAME="value"` setting of `scripts/py-zipkin`, which pins the versions.
fn pinned(script: &str, name: &str) -> anyhow::Result<String> {
    let prefix = format!("{name}=\"");
    script
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.strip_suffix('"'))
        .map(str::to_owned)
        .with_context(|| format!("scripts/py-zipkin sets no {name}"))
}

/// The virtualenv's python: `PY_ZIPKIN_PYTHON` if set, else where `scripts/py-zipkin fetch`
/// puts it for the versions it pins. Never installs; a missing one is [`EngineMissing`].
pub fn python_path() -> anyhow::Result<PathBuf> {
    if let Some(python) = std::env::var_os("PY_ZIPKIN_PYTHON") {
        let python = PathBuf::from(python);
        return if python.is_file() {
            Ok(python)
        } else {
            let why = format!("PY_ZIPKIN_PYTHON={} is not a file", python.display());
            Err(EngineMissing(why).into())
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = std::fs::read_to_string(root.join("scripts/py-zipkin"))
        .context("cannot read scripts/py-zipkin")?;
    let folder = format!(
        "{}-protobuf-{}",
        pinned(&script, "PY_ZIPKIN_VERSION")?,
        pinned(&script, "PROTOBUF_VERSION")?
    );
    let venv = root.join(".cache/py-zipkin").join(&folder);
    // The script marks a virtualenv complete only once both encoders load.
    if venv.join(".complete").is_file() {
        Ok(venv.join("bin/python"))
    } else {
        let why = format!("py_zipkin is not installed in .cache/py-zipkin/{folder}");
        Err(EngineMissing(why).into())
    }
}

/// [`python_path`] under the engine policy ([`or_skip`]).
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    or_skip(test, "py_zipkin", FETCH, python_path())
}

/// Runs `encode_spans.py` with `python` on `spec` (see that script for its form).
pub fn encode(python: &Path, spec: &Value) -> anyhow::Result<Encoded> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/encode_spans.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(spec.to_string().as_bytes())?;
    drop(stdin);
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "encode_spans.py failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).context("encode_spans.py")?;
    let trace_id = answer["trace_id"]
        .as_str()
        .context("no trace_id")?
        .to_owned();
    let bodies = (answer["bodies"].as_array().context("no bodies")?.iter())
        .map(|body| {
            let text = body.as_str().context("a body is not text")?;
            Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Encoded { trace_id, bodies })
}

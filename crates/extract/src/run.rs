//! One external tool run, bounded: under `prlimit` (address space, CPU time),
//! killed at the deadline, its output read up to a cap. No shell: the
//! arguments go to the program as they are.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use facteur_core::ExtractFailure;

use crate::ExtractConfig;

/// Output read from one tool at most (what follows is dropped).
const MAX_OUTPUT: u64 = 4 * 1024 * 1024;

/// Why a tool gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// OCR is switched off in the configuration.
    #[error("OCR is off")]
    Disabled,
    /// The program is not installed.
    #[error("{tool} is not installed")]
    Missing { tool: &'static str },
    /// The budget ran out; the process was killed.
    #[error("{tool} killed after the time budget")]
    Timeout { tool: &'static str },
    /// The program failed (a damaged file, a limit reached).
    #[error("{tool} failed with {status}")]
    Failed { tool: &'static str, status: String },
    /// A temporary file or pipe failed.
    #[error("extraction I/O: {0}")]
    Io(String),
}

impl ToolError {
    /// The failure recorded for the attachment.
    pub fn failure(&self) -> ExtractFailure {
        match self {
            Self::Disabled => ExtractFailure::NoText,
            Self::Missing { .. } => ExtractFailure::ToolMissing,
            Self::Timeout { .. } => ExtractFailure::Timeout,
            Self::Failed { .. } | Self::Io(_) => ExtractFailure::Unreadable,
        }
    }
}

/// Whether `prlimit` (util-linux) is there to bound the tools.
fn has_prlimit() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        Command::new("prlimit")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `tool args…` and returns its standard output.
pub(crate) fn tool(
    tool: &'static str,
    args: &[&OsStr],
    cfg: &ExtractConfig,
    deadline: Instant,
) -> Result<Vec<u8>, ToolError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ToolError::Timeout { tool });
    }
    let mut cmd = if has_prlimit() {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={}", cfg.memory_mib * 1024 * 1024))
            .arg(format!("--cpu={}", left.as_secs() + 1))
            .arg("--")
            .arg(tool);
        c
    } else {
        Command::new(tool)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Tesseract would start one thread per core for each page: the triage
        // pool already uses the cores.
        .env("OMP_THREAD_LIMIT", "1");
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::Missing { tool },
        _ => ToolError::Io(e.to_string()),
    })?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| ToolError::Io("no stdout".into()))?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut buf);
        // Drain the rest so the tool is not blocked on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        buf
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(ToolError::Timeout { tool });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(ToolError::Io(e.to_string())),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        // prlimit itself exits 127 when the tool is missing.
        if status.code() == Some(127) {
            return Err(ToolError::Missing { tool });
        }
        return Err(ToolError::Failed {
            tool,
            status: status.to_string(),
        });
    }
    Ok(out)
}

//! Handles on the product's long-running processes (`facteur serve`, `facteur
//! worker`): started, waited for, and killed when the test ends, pass or fail, so
//! that no process outlives its test and holds a port or a database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{free_port, http_request};

/// A child process, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Starts `cmd` (a `facteur … worker`, say) with its stderr in `log`.
    pub fn start(mut cmd: Command, log: &Path) -> Proc {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Proc(child)
    }
}

/// A `facteur serve --no-connectors` on a free loopback port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Its stderr (the logs), for a failing assertion to show.
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Runs `facteur` (`cmd`, its config and environment already set) as `serve`,
    /// logging to `LOG_DIR/NAME-PORT.log`, and returns once `/health` answers 200;
    /// panics with the log after 60 s.
    pub fn start(mut cmd: Command, log_dir: &Path, name: &str) -> Server {
        let port = free_port();
        let log = log_dir.join(format!("{name}-{port}.log"));
        let child = cmd
            .args(["serve", "--no-connectors", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let s = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _, _)) = http_request(port, "GET", "/health", &[], None) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "serve {name} did not start: {}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Still running, and still answering.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
            && matches!(
                http_request(self.port, "GET", "/health", &[], None),
                Ok((200, _, _))
            )
    }

    /// Resident set size now and at its peak, in MiB (from /proc).
    pub fn rss_mib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                / 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

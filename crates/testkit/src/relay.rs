//! The rig's SMTP relay (`scripts/smtp_sink.py`) on a port of its own.

use std::path::Path;

/// The rig's SMTP relay (scripts/smtp_sink.py) on a port of its own, run from
/// this checkout under `dir`: it accepts mail, and refuses the domain
/// refused.test with Postfix's "550 5.1.1 <address>: Recipient address
/// rejected", as a real relay does. Killed when dropped; `.1` is its port.
pub struct Relay(pub std::process::Child, pub u16);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Relay {
    /// Starts the relay, writing under `dir`, and waits until it accepts connections.
    pub fn start(dir: &Path) -> Relay {
        use crate::http::free_port;
        use crate::paths::repo;
        let port = free_port();
        for d in ["smtp/tmp", "smtp/new", "smtp/cur", "dovecot"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let child = std::process::Command::new("/usr/bin/python3")
            .arg(repo().join("scripts/smtp_sink.py"))
            .args(["127.0.0.1", &port.to_string()])
            .arg(dir.join("smtp"))
            .arg(dir.join("dovecot"))
            .arg("local.test")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP sink did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Relay(child, port)
    }
}

//! The real `pnode-api` binary, started as an operator would, its JSON log lines read back.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use nix::unistd::Pid;

/// The real `pnode-api serve`, its log lines read as JSON.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Server {
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[])
    }

    /// As [`Server::start`], with more environment variables.
    pub fn start_with(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::run("serve", database_url, env)
    }

    /// `pnode-api <command>` with the test's settings.
    pub fn run(command: &str, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary())
            .arg(command)
            .env("DATABASE_URL", database_url)
            .env("PNODE_BIND", "127.0.0.1:0")
            .env("PNODE_WORKERS", "1")
            .env("PNODE_LOG_FORMAT", "json")
            .env("PNODE_SHUTDOWN_TIMEOUT", "15s")
            .env("RUST_LOG", "info")
            // Loopback only (the simulated pods), and no rate limit unless a test sets one.
            .env("PNODE_STATS_TARGETS", "127.0.0.0/8")
            .env("PNODE_RATE_LIMIT", "0")
            // The test's own variables last: they override the defaults above.
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pnode-api");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let parsed = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "message": line }));
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"))
    }

    pub fn wait_for_log(&mut self, message: &str) -> serde_json::Value {
        self.wait_for_line(|line| line["message"] == message)
    }

    /// Reads log lines until one satisfies `wanted` (30 s at most).
    pub fn wait_for_line(
        &mut self,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(err) => panic!("no such log line: {err}"),
            }
        }
    }

    /// Every log line written during the next `window`.
    pub fn lines_during(&mut self, window: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + window;
        let mut lines = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        lines
    }

    /// The `ip:port` it listens on, from its "listening" line.
    pub fn wait_until_listening(&mut self) -> String {
        let line = self.wait_for_log("listening");
        line["addr"]
            .as_str()
            .expect("the listening line names the address")
            .to_owned()
    }

    pub fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pnode-api did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/<profile>/pnode-api`, built by `cargo test --workspace` because the `pnode-api`
/// package has integration tests of its own.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir.join("pnode-api");
    assert!(
        binary.exists(),
        "{} is missing: run the whole workspace's tests (cargo test --workspace) so cargo builds it",
        binary.display()
    );
    binary
}

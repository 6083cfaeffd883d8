//! The server under test, as a child process, so that its RSS is its own.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

use pnode_api::observe::memory;

/// `pnode-api serve` in a child process, so that its RSS is the server's alone.
pub struct ServerProcess {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl ServerProcess {
    /// `pnode-api serve --no-collector` (this binary) on `database_url`, with `env` set too.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_binary(&std::env::current_exe()?, database_url, env)
    }

    /// The same with another `pnode-api` binary (an older build, to compare).
    pub fn start_binary(
        binary: &std::path::Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary)
            .args(["serve", "--no-collector"])
            .env("DATABASE_URL", database_url)
            .env("PNODE_BIND", "127.0.0.1:0")
            .env("PNODE_LOG_FORMAT", "json")
            // The bench measures the service, not its limiter.
            .env("PNODE_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn,pnode_api::app::startup=info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(line) = lines.next().transpose()? else {
                bail!("the server exited before listening");
            };
            let line: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if line["message"] == "listening" {
                break line["addr"]
                    .as_str()
                    .context("listening address")?
                    .to_owned();
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { child, addr })
    }

    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        Ok(memory::proc_status_bytes(self.child.id(), "VmRSS")?)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

//! `ward reload`: how it reaches the `ward serve` of a configuration. The server keeps its
//! process id in `ward.pid` next to its store and, after each reload (`SIGHUP`), writes what
//! came of it to `ward.reload.json` there; `ward reload` checks the file itself first, signals
//! the process and waits for that answer, so an invalid configuration is refused with its
//! error, and the one in force stays.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use ward_config::Config;

/// How long `ward reload` waits for the server's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// Where a server of one configuration keeps its process id and its reloads' outcomes.
pub struct Files {
    pid: PathBuf,
    status: PathBuf,
}

/// What came of one reload.
#[derive(Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// The server's process id, and its count of reloads so far.
    pub pid: u32,
    pub generation: u64,
    pub ok: bool,
    /// What changed, or why the configuration was refused.
    pub message: String,
}

impl Files {
    /// In `$WARD_RUN_DIR` when set (a writable directory when the store's is not, as in a
    /// container whose keys come from a read-only volume), else next to the store.
    pub fn of(config: &Config) -> Self {
        let at = |name: &str| match std::env::var_os("WARD_RUN_DIR") {
            Some(dir) if !dir.is_empty() => std::path::PathBuf::from(dir).join(name),
            _ => config.store.path.with_file_name(name),
        };
        Self {
            pid: at("ward.pid"),
            status: at("ward.reload.json"),
        }
    }

    /// Records this process as the server of the configuration.
    pub fn claim(&self) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(&self.status);
        std::fs::write(&self.pid, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", self.pid.display()))
    }

    /// Removes the process id, if it is still this process's.
    pub fn release(&self) {
        if self.server() == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.pid);
        }
    }

    /// Writes what came of reload number `generation`.
    pub fn report(&self, generation: u64, result: &anyhow::Result<String>) {
        let outcome = Outcome {
            pid: std::process::id(),
            generation,
            ok: result.is_ok(),
            message: match result {
                Ok(summary) => summary.clone(),
                Err(e) => format!("{e:#}"),
            },
        };
        let written = serde_json::to_vec(&outcome)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                let tmp = self.status.with_extension("tmp");
                std::fs::write(&tmp, json)?;
                std::fs::rename(&tmp, &self.status)
            });
        if let Err(e) = written {
            tracing::warn!(path = %self.status.display(), error = %e, "cannot write the reload's outcome");
        }
    }

    fn server(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }

    fn outcome(&self) -> Option<Outcome> {
        serde_json::from_slice(&std::fs::read(&self.status).ok()?).ok()
    }
}

/// `ward reload --config FILE`: true when the server took the configuration.
pub fn reload(path: &std::path::Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let config =
        Config::load(path).with_context(|| "the configuration was not sent to the running Ward")?;
    let files = Files::of(&config);
    let pid = files.server().with_context(|| {
        format!(
            "no `ward serve` of {} is running here ({} is missing)",
            path.display(),
            files.pid.display()
        )
    })?;
    let before = files
        .outcome()
        .filter(|o| o.pid == pid)
        .map_or(0, |o| o.generation);
    if !hang_up(pid) {
        bail!(
            "cannot signal ward serve (process {pid}, from {}): {}",
            files.pid.display(),
            std::io::Error::last_os_error()
        );
    }
    let deadline = Instant::now() + ANSWER_WITHIN;
    loop {
        if let Some(o) = files
            .outcome()
            .filter(|o| o.pid == pid && o.generation > before)
        {
            if o.ok {
                writeln!(out, "reloaded {}: {}", path.display(), o.message)?;
            } else {
                writeln!(
                    out,
                    "refused, the configuration in force is unchanged: {}",
                    o.message
                )?;
            }
            return Ok(o.ok);
        }
        if Instant::now() > deadline {
            bail!("ward serve (process {pid}) did not answer within {ANSWER_WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGHUP to process `pid`; false if it could not be sent.
#[allow(unsafe_code)]
fn hang_up(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of this process.
    unsafe { libc::kill(pid, libc::SIGHUP) == 0 }
}

//! What keeps `ward demo` from leaving anything behind: one demo per directory at a time, and a
//! list of the processes it started, so the next demo stops whatever a crash left running.
//!
//! The processes end with the demo in any case ([`ward_local::child`]); the list is the second line
//! of defence, for a child that was not yet tied to the demo, or an older `ward` that did not
//! tie them.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use ward_local::mariadb::MariaDb;
use ward_local::model::ModelPeer;
use ward_local::pgcluster::PgCluster;
use ward_local::sshd::Sshd;

/// The lock a running demo holds on its directory; the kernel drops it when the process ends,
/// however it ends.
pub struct DemoLock {
    _file: File,
}

impl DemoLock {
    /// Takes the lock on `dir`, or fails saying which demo holds it.
    pub fn take(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("demo.lock");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                bail!(
                    "another `ward demo` (pid {}) is running with {}: stop it first (Ctrl-C in its terminal), or start this one with another --dir",
                    holder.trim(),
                    dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self { _file: file })
    }
}

fn children_file(dir: &Path) -> PathBuf {
    dir.join("demo.children")
}

/// Notes the processes this demo started (and their directories), for [`stop_leftovers`].
pub fn record_children(
    dir: &Path,
    cluster: &PgCluster,
    mariadb: Option<&MariaDb>,
    sshd: Option<&Sshd>,
    model: Option<&ModelPeer>,
) -> anyhow::Result<()> {
    let mut lines = String::new();
    if let Some(pid) = cluster.pid() {
        lines.push_str(&format!("postgres {pid} {}\n", cluster.root.display()));
    }
    if let Some((pid, mariadb)) = mariadb.and_then(|m| Some((m.pid()?, m))) {
        lines.push_str(&format!("mariadbd {pid} {}\n", mariadb.root.display()));
    }
    if let Some((pid, sshd)) = sshd.and_then(|s| Some((s.pid()?, s))) {
        lines.push_str(&format!("sshd {pid} {}\n", sshd.dir.display()));
    }
    if let Some((pid, model)) = model.and_then(|m| Some((m.pid()?, m))) {
        lines.push_str(&format!("node {pid} {}\n", model.dir.display()));
    }
    let path = children_file(dir);
    std::fs::write(&path, lines).with_context(|| format!("writing {}", path.display()))
}

/// Forgets the processes of a demo that stopped them itself.
pub fn forget_children(dir: &Path) {
    let _ = std::fs::remove_file(children_file(dir));
}

/// Stops the processes an earlier demo on `dir` left running, and removes their directories.
pub fn stop_leftovers(dir: &Path) {
    let Ok(list) = std::fs::read_to_string(children_file(dir)) else {
        return;
    };
    for line in list.lines() {
        let mut words = line.splitn(3, ' ');
        let (Some(name), Some(pid), Some(path)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if ward_local::child::stop_leftover(pid, name, Duration::from_secs(10)) {
            let _ = super::show(&format!(
                "Stopped {name} (pid {pid}), which an earlier demo left running.\n"
            ));
        }
        // Only the demo's own temporary directories, never whatever a edited file names.
        let path = Path::new(path);
        let ours = path.starts_with(std::env::temp_dir())
            && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                ["ward-pg-", "ward-mariadb-", "ward-sshd-", "ward-model-"]
                    .iter()
                    .any(|p| n.starts_with(p))
            });
        if ours {
            let _ = std::fs::remove_dir_all(path);
        }
    }
    forget_children(dir);
}

/// `WARD_DEMO_FAILPOINT=panic` makes a running demo panic once it has said how to connect: the
/// tests' way to check that a panic, too, leaves nothing behind.
pub fn failpoint() {
    if std::env::var("WARD_DEMO_FAILPOINT").as_deref() == Ok("panic") {
        panic!("WARD_DEMO_FAILPOINT=panic: the demo panics on purpose");
    }
}

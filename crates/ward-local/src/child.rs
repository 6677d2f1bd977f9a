//! Child processes that must not outlive Ward: the demo's throwaway PostgreSQL and sshd (and the
//! test harness's, which share them).
//!
//! A child started through [`die_with_parent`] is sent a signal by the kernel when the thread
//! that started it ends, however it ends: a clean exit, a panic, or `kill -9` of Ward. The
//! kernel ties the signal to the *thread* that forked, so start such children from a thread
//! that lives as long as they should (the main thread, or a test's own thread), never from a
//! pooled thread such as tokio's `spawn_blocking`.

use std::process::Command;

/// Signals a child gets when its parent dies.
#[derive(Debug, Clone, Copy)]
pub enum OnParentDeath {
    /// SIGINT: PostgreSQL's fast shutdown (clients disconnected, then a clean stop).
    Interrupt,
    /// SIGTERM: sshd's stop.
    Terminate,
}

impl OnParentDeath {
    fn number(self) -> libc::c_int {
        match self {
            OnParentDeath::Interrupt => libc::SIGINT,
            OnParentDeath::Terminate => libc::SIGTERM,
        }
    }
}

/// Makes the kernel send `signal` to the child `command` starts once this thread ends.
///
/// When the command also drops privileges (`CommandExt::uid`), this still holds: the standard
/// library changes the user before it runs this hook, and a change of credentials is what
/// would otherwise clear the setting.
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut Command, signal: OnParentDeath) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let signal = signal.number();
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or_default();
    // SAFETY: prctl and getppid are async-signal-safe and this hook allocates nothing, as
    // pre_exec requires of code that runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    }
}

/// True while a process with this pid runs (a zombie, which has ended, does not count).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) state …`: comm may hold spaces and parentheses, so look after the last ')'.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X') | None)
    })
}

/// Stops a process an earlier run left behind (where no [`std::process::Child`] is at hand):
/// SIGTERM, then SIGKILL if it has not ended within `grace`. Returns false when no process
/// `pid` named `name` (its `comm`) was running, so a reused pid is never signalled.
pub fn stop_leftover(pid: u32, name: &str, grace: std::time::Duration) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != name {
        return false;
    }
    signal(pid, libc::SIGTERM);
    let deadline = std::time::Instant::now() + grace;
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal(pid, libc::SIGKILL);
    true
}

#[allow(unsafe_code)]
fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal; a pid that no longer exists gives ESRCH, ignored.
    unsafe {
        libc::kill(pid, signal);
    }
}

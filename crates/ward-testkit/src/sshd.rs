//! OpenSSH's `ssh` client as a person runs it against Ward.

use std::path::Path;
use std::process::{Command, Stdio};

use ward::pgcluster::free_port;

/// OpenSSH's `ssh` as a person runs it against Ward on `port`, the password typed through
/// `SSH_ASKPASS` (a script written in `dir`), `input` typed on its standard input.
pub fn ssh_client(
    dir: &Path,
    port: u16,
    user: &str,
    password: &str,
    args: &[&str],
    input: Option<&str>,
) -> std::process::Output {
    use std::io::Write as _;
    let askpass = dir.join(format!("askpass-{}", free_port().unwrap_or(0)));
    std::fs::write(
        &askpass,
        format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n"),
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", askpass.display()));
    let chmod = Command::new("chmod").arg("+x").arg(&askpass).status();
    assert!(chmod.is_ok_and(|s| s.success()), "chmod +x askpass");
    let mut child = Command::new("ssh")
        .args(["-p", &port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("{user}@127.0.0.1"))
        .args(args)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running ssh: {e}"));
    if let (Some(mut stdin), Some(text)) = (child.stdin.take(), input) {
        let _ = stdin.write_all(text.as_bytes());
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("ssh: {e}"))
}

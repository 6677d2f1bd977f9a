//! OpenSSH's clients as a person runs them against Ward, and a Ward in front of a throwaway
//! sshd.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ward_local::pgcluster::free_port;
use ward_local::sshd::Sshd;

use crate::{Ward, WardBuilder};

/// A throwaway sshd that lets Ward's client key in, and Ward (the binary `bin`) serving SSH on
/// the port returned, with what `configure` adds (given the sshd, so a resource can name it).
pub fn ssh_gateway(
    bin: &str,
    configure: impl FnOnce(WardBuilder, &Sshd) -> WardBuilder,
) -> (Sshd, Ward, u16) {
    let mut sshd = Sshd::prepare().expect("sshd");
    let port = free_port().expect("port");
    let builder = Ward::builder(bin).ssh(port);
    let ward = configure(builder, &sshd).start().expect("ward");
    sshd.start(&ward.dir.join("ssh_client_key.pub"))
        .expect("sshd starts");
    (sshd, ward, port)
}

/// A throwaway Ed25519 key pair `dir/name` (and `name.pub`).
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "{out:?}");
    path
}

/// `program` (ssh, scp or sftp) to Ward on `port`, logging in with `key`, never asking.
pub fn openssh(program: &str, port: u16, key: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .arg(if program == "ssh" { "-p" } else { "-P" })
        .arg(port.to_string())
        .arg("-i")
        .arg(key)
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
        ])
        .args(args);
    command
}

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

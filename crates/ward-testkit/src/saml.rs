//! A real SAML 2.0 identity provider on loopback (PyPI `pysaml2`'s IdP, driven by
//! `tools/saml-idp`), and a crafter of deliberately bad responses signed with its key.

use std::path::PathBuf;
use std::process::Command;

use anyhow::bail;
use serde_json::{Value, json};

use crate::idp::{Daemon, IdpUser, tools};

/// A running SAML identity provider.
pub struct SamlIdp {
    daemon: Daemon,
    /// Its base address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its metadata, to configure Ward with.
    pub metadata: PathBuf,
}

impl SamlIdp {
    pub fn start(users: &[IdpUser<'_>]) -> anyhow::Result<Self> {
        let tools = tools("saml-idp");
        let probe = Command::new("python3")
            .args(["-c", "import saml2, lxml"])
            .output()?;
        if !probe.status.success() {
            bail!(
                "pysaml2 is not installed: pip install -r {}/requirements.txt",
                tools.display()
            );
        }
        let dir = Daemon::dir("saml-idp")?;
        let users: Vec<Value> = users
            .iter()
            .map(|u| json!({ "username": u.username, "password": u.password, "groups": u.groups, "email": format!("{}@example.test", u.username) }))
            .collect();
        let config = json!({
            "port": 0,
            "sp_metadata_file": dir.join("sp-metadata.xml"),
            "out_dir": dir,
            "users": users,
        });
        let config_path = dir.join("idp.json");
        std::fs::write(&config_path, config.to_string())?;
        let mut command = Command::new("python3");
        command.arg(tools.join("idp.py")).arg(&config_path);
        let metadata = dir.join("idp-metadata.xml");
        let (daemon, url) = Daemon::spawn(command, dir)?;
        Ok(Self {
            daemon,
            url,
            metadata,
        })
    }

    /// The provider's entity id.
    pub fn entity_id(&self) -> String {
        format!("{}/metadata", self.url)
    }

    /// Tells the provider about its service provider (Ward's metadata XML).
    pub fn set_sp_metadata(&self, xml: &str) -> anyhow::Result<()> {
        Ok(std::fs::write(
            self.daemon.dir.join("sp-metadata.xml"),
            xml,
        )?)
    }

    /// A base64 `SAMLResponse` from `craft.py --attack ATTACK` for alice (groups analysts),
    /// signed with the provider's key unless the attack says otherwise.
    pub fn craft(
        &self,
        attack: &str,
        audience: &str,
        recipient: &str,
        in_response_to: &str,
        extra: &[&str],
    ) -> String {
        let dir = &self.daemon.dir;
        let out = Command::new("python3")
            .arg(tools("saml-idp").join("craft.py"))
            .arg("--key")
            .arg(dir.join("idp-key.pem"))
            .arg("--cert")
            .arg(dir.join("idp-cert.pem"))
            .args(["--issuer", &self.entity_id(), "--audience", audience])
            .args(["--recipient", recipient, "--in-response-to", in_response_to])
            .args(["--username", "alice", "--groups", "analysts"])
            .args(["--attack", attack])
            .args(extra)
            .output()
            .unwrap_or_else(|e| panic!("running craft.py: {e}"));
        assert!(
            out.status.success(),
            "craft.py {attack} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

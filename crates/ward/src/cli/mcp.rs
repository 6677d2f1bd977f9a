//! `ward mcp`: an MCP server on standard input and output for local agents, forwarding every
//! message to Ward's MCP endpoint (`/mcp`) with the agent's key, so a desktop or IDE agent that
//! only speaks stdio reaches resources through Ward like any other.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};
use std::io::BufRead as _;

use tokio::io::AsyncWriteExt;

use super::login::Saved;

/// `ward mcp`'s options; what is not given comes from `ward login`'s saved token.
#[derive(Debug, clap::Args)]
pub struct BridgeOptions {
    /// The Ward server's web address (default: the one `ward login` saved).
    #[arg(long)]
    pub server: Option<String>,
    /// A service-account key (default: the Ward token `ward login` saved).
    #[arg(long, env = "WARD_MCP_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// The CA certificate (or Ward's self-signed certificate) to trust for the server.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// The person a service account's agent acts for (recorded as claimed).
    #[arg(long)]
    pub on_behalf_of: Option<String>,
}

pub async fn bridge(options: BridgeOptions) -> anyhow::Result<()> {
    let saved = Saved::load().ok();
    let server = options
        .server
        .or_else(|| saved.as_ref().map(|s| s.server.clone()))
        .context("give the Ward server with --server URL (or run `ward login` first)")?;
    // A service-account key given here goes as a bearer token; else the saved token, as
    // `ward login` kept it (with a proof per request when it is bound to a key).
    let key = match (options.key, saved.as_ref()) {
        (Some(key), _) => Holder::Key(key),
        (None, Some(saved)) => Holder::Saved(saved),
        (None, None) => anyhow::bail!(
            "give a service-account key with --key or WARD_MCP_KEY (or run `ward login` first)"
        ),
    };
    let ca = options
        .ca_cert
        .or_else(|| saved.as_ref().and_then(|s| s.ca_cert.clone()));
    let http = ward_auth::oidc::http_client(ca.as_deref())?;
    let url = format!("{}/mcp", server.trim_end_matches('/'));
    let mut session: Option<String> = None;
    // Standard input is read on a thread of its own: a blocking read must not hold up the
    // runtime that talks to Ward.
    let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut stdout = tokio::io::stdout();
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let error = json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32700, "message": format!("not JSON: {e}") } });
                write_line(&mut stdout, &error).await?;
                continue;
            }
        };
        let id = message.get("id").cloned();
        let mut request = key
            .authorize(http.post(&url), "POST", &url)?
            .header("accept", "application/json, text/event-stream")
            .json(&message);
        if let Some(s) = &session {
            request = request.header("mcp-session-id", s);
        }
        if let Some(who) = &options.on_behalf_of {
            request = request.header("x-ward-on-behalf-of", who);
        }
        let fail = |why: String| {
            id.as_ref().map(|id| {
                json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32603, "message": why } })
            })
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some(error) = fail(format!("Ward at {server} is unreachable: {e}")) {
                    write_line(&mut stdout, &error).await?;
                }
                continue;
            }
        };
        if let Some(s) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            session = Some(s.to_owned());
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Value>(&body) {
            Ok(answer) if id.is_some() => write_line(&mut stdout, &answer).await?,
            _ if id.is_some() && !status.is_success() => {
                if let Some(error) = fail(format!("Ward answered HTTP {status}: {body}")) {
                    write_line(&mut stdout, &error).await?;
                }
            }
            _ => {} // a notification, acknowledged
        }
    }
    if let Some(s) = session {
        let _ = key
            .authorize(http.delete(&url), "DELETE", &url)?
            .header("mcp-session-id", s)
            .send()
            .await;
    }
    Ok(())
}

/// What the bridge proves itself with.
enum Holder<'a> {
    /// A service-account key, as a bearer token.
    Key(String),
    /// The token `ward login` saved.
    Saved(&'a Saved),
}

impl Holder<'_> {
    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        match self {
            Self::Key(key) => Ok(request.bearer_auth(key)),
            Self::Saved(saved) => saved.authorize(request, method, url),
        }
    }
}

async fn write_line(out: &mut tokio::io::Stdout, value: &Value) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    out.write_all(&line).await?;
    out.flush().await?;
    Ok(())
}

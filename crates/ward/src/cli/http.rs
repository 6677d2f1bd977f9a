//! `ward connect http RESOURCE`: serves an HTTP resource on a loopback port of this machine,
//! sending each request on through Ward with the saved token, and with a DPoP proof per request
//! when the token is bound to a key (`ward login --dpop`). curl, SDKs and browsers then reach
//! the resource at `http://127.0.0.1:PORT/` without the token.

use std::io::Write;

use anyhow::Context;
use tokio::net::TcpListener;

use super::login::Saved;

pub async fn connect_http(resource: &str, port: u16, out: &mut impl Write) -> anyhow::Result<()> {
    let saved = Saved::usable()?;
    let ward_port = saved
        .http
        .as_deref()
        .and_then(|a| a.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .with_context(|| {
            format!(
                "the Ward server at {} told `ward login` of no listener for HTTP resources ([listen] http): run `ward login` again once it has one",
                saved.server
            )
        })?;
    let host = saved.server_host()?;
    let address = match host.contains(':') {
        true => format!("[{host}]:{ward_port}"),
        false => format!("{host}:{ward_port}"),
    };
    let (tls, server_name) = ward_config::tls::verify_full(&host, saved.ca_cert.as_deref())
        .map_err(|e| anyhow::anyhow!("trusting Ward's certificate: {e}"))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    let local = listener.local_addr()?;
    let key = saved.key()?;
    writeln!(
        out,
        "http://{local}/ serves {resource} through Ward at https://{address}/{resource}/ as {}{}; Ctrl-C ends.",
        saved.user,
        if key.is_some() {
            " (each request signed with your DPoP key)"
        } else {
            ""
        }
    )?;
    out.flush()?;
    let target = ward_http::local::Target {
        address,
        tls,
        server_name,
        resource: resource.to_owned(),
        token: saved.token,
        key,
    };
    ward_http::local::serve(listener, target)
        .await
        .context("serving loopback clients")
}

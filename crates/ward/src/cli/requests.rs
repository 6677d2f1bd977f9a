//! `ward request` and `ward requests`: asking for access that a grant gives only with approval,
//! and approving or denying it, through the server's API with the saved Ward token. Each call
//! signs in to the API as a web session of its own, in which Ward records the request or the
//! review, and signs out after.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::login::{Saved, api_message};
use super::shown::inline;

/// How often `ward request --wait` asks whether the request was decided.
const WAIT_POLL: Duration = Duration::from_secs(2);

/// A signed-in API session for the saved token.
struct Api {
    http: reqwest::Client,
    server: String,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn sign_in() -> anyhow::Result<Self> {
        let saved = Saved::usable()?;
        let http = ward_auth::oidc::http_client(saved.ca_cert.as_deref())?;
        let url = format!("{}/api/v1/login", saved.server);
        let mut request = http
            .post(&url)
            .json(&json!({ "username": saved.user, "password": saved.token }));
        // A token bound to a key signs in with a proof made with it.
        if let Some(key) = saved.key()? {
            let proof = key
                .proof("POST", &url, Some(&saved.token))
                .map_err(|e| anyhow::anyhow!("making a DPoP proof: {e}"))?;
            request = request.header("dpop", proof);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        let (Some(cookie), true) = (cookie, status.is_success()) else {
            bail!("the server refused your token: {}", api_message(&body));
        };
        Ok(Self {
            http,
            server: saved.server,
            cookie,
            csrf: body["csrf"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Calls the API: the answer, or its error message.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.server);
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{}", api_message(&body));
        }
        Ok(body)
    }

    /// Ends the API session (its record ends with it).
    async fn sign_out(self) {
        let _ = self.call("POST", "/api/v1/logout", None).await;
    }
}

/// Runs `f` in a signed-in API session, signing out after whatever it returns.
async fn with_api<T>(f: impl AsyncFnOnce(&Api) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let api = Api::sign_in().await?;
    let result = f(&api).await;
    api.sign_out().await;
    result
}

/// `1h`, `30m`, `45s`.
fn span(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn approved_count(request: &Value) -> usize {
    request["reviews"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r["approved"] == true).count())
}

/// One line per request.
fn line(r: &Value) -> String {
    format!(
        "{}  {:<6}  {:<8}  {:<12}  {:<12}  {:>4}  {}/{}  {}",
        text(&r["id"]),
        text(&r["kind"]),
        text(&r["state"]),
        inline(text(&r["requester"])),
        inline(text(&r["resource"])),
        span(r["seconds"].as_i64().unwrap_or(0)),
        approved_count(r),
        r["approvals"].as_i64().unwrap_or(1),
        inline(text(&r["reason"])),
    )
}

/// A request in full, with its reviews.
fn show(r: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "request   {}", text(&r["id"]))?;
    writeln!(out, "kind      {}", text(&r["kind"]))?;
    if let Some(rule) = r["rule"].as_str() {
        writeln!(out, "rule      {}", inline(rule))?;
    }
    writeln!(out, "state     {}", text(&r["state"]))?;
    writeln!(out, "requester {}", inline(text(&r["requester"])))?;
    writeln!(out, "resource  {}", inline(text(&r["resource"])))?;
    writeln!(out, "reason    {}", inline(text(&r["reason"])))?;
    writeln!(
        out,
        "for       {}",
        span(r["seconds"].as_i64().unwrap_or(0))
    )?;
    let approvers: Vec<&str> = r["approvers"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    writeln!(
        out,
        "approvers group {} ({} of {} approvals)",
        approvers.join(", group "),
        approved_count(r),
        r["approvals"].as_i64().unwrap_or(1)
    )?;
    writeln!(out, "asked     {}", text(&r["requested_at"]))?;
    if let Some(until) = r["expires_at"].as_str() {
        writeln!(out, "until     {until}")?;
    }
    for review in r["reviews"].as_array().into_iter().flatten() {
        let verdict = if review["approved"] == true {
            "approved"
        } else {
            "denied"
        };
        let comment = review["comment"].as_str().filter(|c| !c.is_empty());
        writeln!(
            out,
            "  {} {verdict} at {}{}",
            inline(text(&review["reviewer"])),
            text(&review["at"]),
            comment.map_or(String::new(), |c| format!(": {}", inline(c)))
        )?;
    }
    Ok(())
}

/// `ward request RESOURCE --reason … --for 1h [--wait]`.
pub async fn request(
    resource: &str,
    reason: &str,
    duration: &str,
    wait: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let body = json!({ "resource": resource, "reason": reason, "duration": duration });
    with_api(async |api| {
        let created = api.call("POST", "/api/v1/requests", Some(body)).await?;
        let id = text(&created["id"]).to_owned();
        let approvers: Vec<&str> = created["approvers"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        writeln!(
            out,
            "request {id} for {} ({}) is waiting for {} approval(s) from group {}",
            inline(resource),
            span(created["seconds"].as_i64().unwrap_or(0)),
            created["approvals"].as_i64().unwrap_or(1),
            approvers.join(", group ")
        )?;
        if !wait {
            writeln!(out, "see it with `ward requests show {id}`")?;
            return Ok(());
        }
        let mut seen = 0;
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            let now = api
                .call("GET", &format!("/api/v1/requests/{id}"), None)
                .await?;
            let reviews = now["reviews"].as_array().map_or(0, Vec::len);
            if reviews > seen {
                seen = reviews;
                writeln!(
                    out,
                    "{} of {} approvals",
                    approved_count(&now),
                    now["approvals"]
                )?;
            }
            match text(&now["state"]) {
                "pending" => continue,
                "approved" => {
                    writeln!(
                        out,
                        "approved: you may reach {} until {}",
                        inline(resource),
                        text(&now["expires_at"])
                    )?;
                    return Ok(());
                }
                state => {
                    show(&now, out)?;
                    bail!("request {id} is {state}");
                }
            }
        }
    })
    .await
}

/// `ward requests list [--state S]`.
pub async fn list(state: Option<&str>, out: &mut impl Write) -> anyhow::Result<()> {
    let path = match state {
        Some(s) => format!("/api/v1/requests?state={s}"),
        None => "/api/v1/requests".to_owned(),
    };
    let list = with_api(async |api| api.call("GET", &path, None).await).await?;
    let requests = list["requests"].as_array().cloned().unwrap_or_default();
    if requests.is_empty() {
        writeln!(out, "no requests")?;
        return Ok(());
    }
    writeln!(
        out,
        "ID            KIND    STATE     REQUESTER     RESOURCE      FOR   OK   REASON (A STEP: WHAT IT IS)"
    )?;
    for r in &requests {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// `ward requests show ID`.
pub async fn show_one(id: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let path = format!("/api/v1/requests/{id}");
    let r = with_api(async |api| api.call("GET", &path, None).await).await?;
    show(&r, out)
}

/// `ward requests approve ID` and `ward requests deny ID`.
pub async fn review(
    id: &str,
    approve: bool,
    comment: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let verb = if approve { "approve" } else { "deny" };
    let path = format!("/api/v1/requests/{id}/{verb}");
    let body = json!({ "comment": comment });
    let r = with_api(async |api| api.call("POST", &path, Some(body)).await).await?;
    show(&r, out)
}

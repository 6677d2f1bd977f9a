//! The `ward` command line: parses arguments and calls into the library.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ward::cli;
use ward_config::Config;
use ward_core::Timestamp;
use ward_store::Store;
use ward_store::query::SessionFilter;

mod subcommands;
use subcommands::{
    ConnectCommand, KeysCommand, MaskCommand, RequestsCommand, ServiceAccountsCommand,
    SessionsCommand, StoreCommand, TokensCommand, UsersCommand,
};

#[derive(Parser)]
#[command(name = "ward", version = ward::VERSION, about = "Identity-aware access gateway with tamper-evident session recording")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, env = "WARD_CONFIG", default_value = "ward.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ConfigArg),
    /// Make the running `ward serve` of this configuration re-read it (as SIGHUP does), and
    /// print what changed or why it was refused (exit 1: the configuration in force stays).
    Reload(ConfigArg),
    /// Run a throwaway PostgreSQL (and MariaDB, sshd and AI model, where installed) and Ward in
    /// front of them, with demo users.
    Demo {
        /// Where the config, store and TLS files go.
        #[arg(long, default_value = "ward-data")]
        dir: PathBuf,
        /// PostgreSQL listener port (default 6432, or a free one).
        #[arg(long)]
        port: Option<u16>,
        /// MySQL listener port (default 3307, or a free one).
        #[arg(long)]
        mysql_port: Option<u16>,
        /// Web UI port (default 8443, or a free one).
        #[arg(long)]
        web_port: Option<u16>,
        /// SSH listener port (default 2222, or a free one).
        #[arg(long)]
        ssh_port: Option<u16>,
        /// HTTP resources' listener port (default 8444, or a free one).
        #[arg(long)]
        http_port: Option<u16>,
    },
    /// Manage local users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Find and inspect recorded sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// One person's sessions as one timeline: AI conversations, statements and commands in time
    /// order, each statement or command linked to the assistant's proposal it matches.
    Activity {
        user: String,
        /// From this time (RFC 3339) or this long ago (`24h`, `7d`); default 24h.
        #[arg(long, default_value = "24h")]
        since: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print a session's statements, results and errors in order; play a terminal session.
    Replay {
        id: String,
        /// A terminal session plays at this speed (2 = twice as fast).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// A terminal session's pauses longer than this many seconds are cut to it.
        #[arg(long)]
        skip_idle: Option<f64>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Try the masking rules on a text.
    Mask {
        #[command(subcommand)]
        command: MaskCommand,
    },
    /// Check hash chains and signed checkpoints (of the store, or of an export bundle,
    /// offline); exits 1 on any break.
    Verify {
        /// One session (full id or a unique prefix of 8+ characters).
        #[arg(long, conflicts_with_all = ["all", "bundle"])]
        session: Option<String>,
        /// Every session (the default).
        #[arg(long)]
        all: bool,
        /// An export bundle to verify on its own: no config, no store.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// A public key to trust (`ed25519:<base64>`, or a file holding one); repeatable.
        /// Keys it endorsed through `ward keys rotate` are trusted too.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// A checkpoint recorded earlier outside the store, as `SEQ:HASH` (what `ward verify`
        /// prints as the newest checkpoint): the store must still hold it unchanged.
        #[arg(long, conflicts_with = "bundle")]
        anchor: Option<String>,
        /// Accept sessions without a signed end (live ones) instead of failing on them; they
        /// are still reported as `open`.
        #[arg(long)]
        allow_open: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write one session, its checkpoints, proofs and public keys to a self-contained file.
    Export {
        /// The session to export.
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// Instead: a person's whole timeline (`ward activity`), as a directory `--out` of
        /// one bundle per session and `timeline.json`.
        #[arg(long)]
        user: Option<String>,
        /// With --user: from this time (RFC 3339) or this long ago (`24h`).
        #[arg(long, default_value = "24h", requires = "user")]
        since: String,
        #[arg(long)]
        out: PathBuf,
        /// `bundle` (self-contained, verifiable offline) or `asciicast` (a terminal session,
        /// for asciinema's player and tools).
        #[arg(long, default_value = "bundle", value_parser = ["bundle", "asciicast"])]
        format: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove sessions past `[retention] days` (or --before), writing a signed prune record.
    Prune {
        /// Remove sessions that ended before this time (RFC 3339) instead.
        #[arg(long)]
        before: Option<String>,
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        /// On a PostgreSQL store: connect as the database owner, who alone may delete.
        #[arg(long)]
        admin_url: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Set up the PostgreSQL store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Log in through the server's identity provider and save a short-lived Ward token.
    Login(cli::login::LoginOptions),
    /// Run a client through Ward with the saved token.
    Connect {
        #[command(subcommand)]
        command: ConnectCommand,
    },
    /// Ask for access that a grant gives only with approval (with the saved token).
    Request {
        resource: String,
        /// Why you need it (a ticket, a sentence): approvers read it, and it is recorded.
        #[arg(long)]
        reason: String,
        /// How long, from approval, e.g. `30m` or `2h` (at most the grant's `max_duration`).
        #[arg(long = "for", default_value = "1h")]
        duration: String,
        /// Wait until it is approved or denied.
        #[arg(long)]
        wait: bool,
    },
    /// Access requests: list them, and approve or deny those your groups approve (with the
    /// saved token).
    Requests {
        #[command(subcommand)]
        command: RequestsCommand,
    },
    /// Ward tokens issued at login.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Service accounts: API keys for automation and AI agents.
    ServiceAccounts {
        #[command(subcommand)]
        command: ServiceAccountsCommand,
    },
    /// An MCP server on stdin/stdout for local AI agents, forwarding to Ward's MCP endpoint.
    Mcp(cli::mcp::BridgeOptions),
    /// The keys checkpoints are signed with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the OpenAPI document of the web API (as `/api/openapi.json` serves it).
    Openapi,
}

fn open_store(arg: &ConfigArg) -> anyhow::Result<Store> {
    ward::serve::open_store(&Config::load(&arg.config)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve(arg) => {
            let config = Config::load(&arg.config)?;
            runtime()?.block_on(ward::serve::run(config))?;
        }
        Command::Reload(arg) => return ward::reload::reload(&arg.config, &mut out),
        Command::Demo {
            dir,
            port,
            mysql_port,
            web_port,
            ssh_port,
            http_port,
        } => {
            let ports = ward::demo::Ports {
                postgres: port,
                mysql: mysql_port,
                web: web_port,
                ssh: ssh_port,
                http: http_port,
            };
            runtime()?.block_on(ward::demo::run(&dir, ports))?
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    name,
                    groups,
                    password_stdin: _,
                    config,
                },
        } => {
            cli::users::add(
                &mut open_store(&config)?,
                &name,
                &groups,
                &mut std::io::stdin().lock(),
                &mut out,
            )?;
        }
        Command::Users {
            command: UsersCommand::List { json, config },
        } => cli::users::list(&mut open_store(&config)?, json, &mut out)?,
        Command::Users {
            command: UsersCommand::AddKey { name, file, config },
        } => {
            let key = match file {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
                None => std::io::read_to_string(std::io::stdin())?,
            };
            cli::users::add_key(&mut open_store(&config)?, &name, &key, &mut out)?
        }
        Command::Users {
            command: UsersCommand::Keys { name, json, config },
        } => cli::users::keys(&mut open_store(&config)?, name.as_deref(), json, &mut out)?,
        Command::Users {
            command:
                UsersCommand::RemoveKey {
                    name,
                    fingerprint,
                    config,
                },
        } => cli::users::remove_key(&mut open_store(&config)?, &name, &fingerprint, &mut out)?,
        Command::Users {
            command:
                UsersCommand::Disable {
                    name,
                    reason,
                    config,
                },
        } => cli::users::disable(
            &mut open_store(&config)?,
            &name,
            reason.as_deref(),
            &mut out,
        )?,
        Command::Users {
            command: UsersCommand::Enable { name, config },
        } => cli::users::enable(&mut open_store(&config)?, &name, &mut out)?,
        Command::Sessions {
            command:
                SessionsCommand::List {
                    json,
                    user,
                    resource,
                    since,
                    live,
                    search,
                    config,
                },
        } => {
            let since = since
                .map(|s| {
                    Timestamp::parse_rfc3339(&s)
                        .with_context(|| format!("--since `{s}` is not an RFC 3339 time"))
                })
                .transpose()?;
            let filter = SessionFilter {
                user,
                resource,
                since,
                outcome: live.then(|| "live".to_owned()),
                text: search,
                ..SessionFilter::default()
            };
            cli::sessions::list(&mut open_store(&config)?, &filter, json, &mut out)?;
        }
        Command::Activity {
            user,
            since,
            json,
            config,
        } => {
            let since = cli::activity::since(&since)?;
            cli::activity::show(&mut open_store(&config)?, &user, since, json, &mut out)?;
        }
        Command::Sessions {
            command: SessionsCommand::Show { id, json, config },
        } => {
            cli::sessions::show(&mut open_store(&config)?, &id, json, &mut out)?;
        }
        Command::Sessions {
            command: SessionsCommand::Terminate { id, reason, config },
        } => cli::sessions::terminate(&mut open_store(&config)?, &id, &reason, &mut out)?,
        Command::Mask {
            command: MaskCommand::Test { profile, config },
        } => {
            let config = Config::load(&config.config)?;
            cli::mask::test(
                &config,
                profile.as_deref(),
                &mut std::io::stdin().lock(),
                &mut out,
                &mut std::io::stderr(),
            )?;
        }
        Command::Replay {
            id,
            speed,
            skip_idle,
            config,
        } => {
            let playback = cli::replay::Playback { speed, skip_idle };
            cli::replay::replay(&mut open_store(&config)?, &id, playback, &mut out)?
        }
        Command::Verify {
            session,
            all: _,
            bundle,
            keys,
            anchor,
            allow_open,
            json,
            config,
        } => {
            let keys = cli::verify::anchors(&keys)?;
            let how = cli::verify::Output { json, allow_open };
            if let Some(bundle) = bundle {
                return cli::verify::verify_bundle(&bundle, &keys, how, &mut out);
            }
            let anchor = anchor.as_deref().map(cli::verify::anchor).transpose()?;
            let mut store = open_store(&config)?;
            return cli::verify::verify_store(
                &mut store,
                session.as_deref(),
                &keys,
                anchor,
                how,
                &mut out,
            );
        }
        Command::Export {
            id,
            user,
            since,
            out: file,
            format,
            config,
        } => {
            let mut store = open_store(&config)?;
            let id = match (id, user) {
                (_, Some(user)) => {
                    anyhow::ensure!(format == "bundle", "--user exports bundles only");
                    let since = cli::activity::since(&since)?;
                    cli::export::export_timeline(&mut store, &user, since, &file, &mut out)?;
                    return Ok(true);
                }
                (Some(id), None) => id,
                (None, None) => anyhow::bail!("give a session id, or --user"),
            };
            if format == "asciicast" {
                cli::export::export_asciicast(&mut store, &id, &file, &mut out)?;
            } else {
                cli::export::export(&mut store, &id, &file, &mut out)?;
            }
        }
        Command::Prune {
            before,
            dry_run,
            json,
            admin_url,
            config,
        } => {
            let before = before
                .map(|s| {
                    Timestamp::parse_rfc3339(&s)
                        .with_context(|| format!("--before `{s}` is not an RFC 3339 time"))
                })
                .transpose()?;
            let config = Config::load(&config.config)?;
            cli::prune::prune(
                &config,
                before,
                dry_run,
                json,
                admin_url.as_deref(),
                &mut out,
            )?;
        }
        Command::Store {
            command: StoreCommand::Migrate { admin_url, config },
        } => {
            let config = Config::load(&config.config)?;
            cli::store::migrate(&config, &admin_url, &mut out)?;
        }
        Command::Openapi => {
            writeln!(out, "{}", ward_web::openapi_json())?;
        }
        Command::Login(options) => {
            runtime()?.block_on(cli::login::login(options, &mut out))?;
        }
        Command::Mcp(options) => {
            // The bridge writes standard output from the runtime's threads.
            drop(out);
            runtime()?.block_on(cli::mcp::bridge(options))?;
        }
        Command::Connect {
            command:
                ConnectCommand::Psql {
                    resource,
                    reason,
                    args,
                },
        } => cli::login::connect_psql(&resource, reason.as_deref(), &args)?,
        Command::Connect {
            command:
                ConnectCommand::Mysql {
                    resource,
                    reason,
                    args,
                },
        } => cli::login::connect_mysql(&resource, reason.as_deref(), &args)?,
        Command::Connect {
            command:
                ConnectCommand::Ssh {
                    resource,
                    print_config,
                    reason,
                    args,
                },
        } => runtime()?.block_on(cli::login::connect_ssh(
            (&resource, reason.as_deref()),
            &args,
            print_config,
            &mut out,
        ))?,
        Command::Connect {
            command: ConnectCommand::Http { resource, port },
        } => runtime()?.block_on(cli::http::connect_http(&resource, port, &mut out))?,
        Command::Request {
            resource,
            reason,
            duration,
            wait,
        } => runtime()?.block_on(cli::requests::request(
            &resource, &reason, &duration, wait, &mut out,
        ))?,
        Command::Requests { command } => runtime()?.block_on(async {
            match command {
                RequestsCommand::List { state } => {
                    cli::requests::list(state.as_deref(), &mut out).await
                }
                RequestsCommand::Show { id } => cli::requests::show_one(&id, &mut out).await,
                RequestsCommand::Approve { id, comment } => {
                    cli::requests::review(&id, true, comment.as_deref(), &mut out).await
                }
                RequestsCommand::Deny { id, comment } => {
                    cli::requests::review(&id, false, Some(&comment), &mut out).await
                }
            }
        })?,
        Command::Tokens {
            command:
                TokensCommand::List {
                    user,
                    all,
                    json,
                    config,
                },
        } => cli::credentials::list_tokens(
            &mut open_store(&config)?,
            user.as_deref(),
            all,
            json,
            &mut out,
        )?,
        Command::Tokens {
            command:
                TokensCommand::Issue {
                    user,
                    groups,
                    ttl,
                    dpop_jkt,
                    config,
                },
        } => {
            let ttl = ward_config::ConfigDuration::parse(&ttl)
                .with_context(|| format!("--ttl `{ttl}` is not a duration (e.g. 30m, 8h)"))?;
            cli::credentials::issue_token(
                &mut open_store(&config)?,
                &user,
                groups,
                (ttl.0, dpop_jkt),
                &mut out,
            )?;
        }
        Command::Tokens {
            command:
                TokensCommand::Revoke {
                    user: None,
                    id: None,
                    config: _,
                },
        } => runtime()?.block_on(cli::login::revoke_own(&mut out))?,
        Command::Tokens {
            command: TokensCommand::Revoke { user, id, config },
        } => cli::credentials::revoke_tokens(
            &mut open_store(&config)?,
            user.as_deref(),
            id.as_deref(),
            &mut out,
        )?,
        Command::ServiceAccounts {
            command:
                ServiceAccountsCommand::Create {
                    name,
                    groups,
                    dpop_jkt,
                    config,
                },
        } => cli::credentials::create_service_account(
            &mut open_store(&config)?,
            &name,
            (&groups, dpop_jkt),
            &mut out,
        )?,
        Command::ServiceAccounts {
            command: ServiceAccountsCommand::List { all, json, config },
        } => {
            cli::credentials::list_service_accounts(&mut open_store(&config)?, all, json, &mut out)?
        }
        Command::ServiceAccounts {
            command: ServiceAccountsCommand::Revoke { name, config },
        } => cli::credentials::revoke_service_account(&mut open_store(&config)?, &name, &mut out)?,
        Command::Keys {
            command: KeysCommand::Show { json, config },
        } => cli::keys::show(&Config::load(&config.config)?, json, &mut out)?,
        Command::Keys {
            command: KeysCommand::Rotate { config },
        } => cli::keys::rotate(&Config::load(&config.config)?, &mut out)?,
        Command::Keys {
            command: KeysCommand::Init { config },
        } => cli::keys::init(&Config::load(&config.config)?, &mut out)?,
    }
    Ok(true)
}

/// glibc raises its mmap threshold to the size of the largest mapped block freed (up to 32 MiB):
/// after one login (argon2id works in 19 MiB) or one large result, every allocation below that
/// size comes from the heap, whose pages the process keeps. A fixed threshold keeps large
/// buffers in mappings of their own, returned when freed: a 1,000,000-row SELECT then peaks
/// about 6 MB lower and Ward's RSS falls back afterwards (docs/benchmarks.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_large_buffers() {
    // SAFETY: mallopt only changes an allocator parameter, and runs first in main, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers() {}

/// Log lines go to stderr: coloured text on a terminal, else one JSON object per line (for log
/// collectors; `WARD_LOG_FORMAT=json|text` chooses). The demo's go to `ward.log` in its
/// directory as text, so that what it prints on screen is only how to connect.
fn init_logging(command: &Command) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let logs = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
            .unwrap_or_else(|_| "warn,ward=info".into()),
    );
    if let Command::Demo { dir, .. } = command {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("ward.log");
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        logs.with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    } else {
        let terminal = std::io::stderr().is_terminal();
        let json = match std::env::var("WARD_LOG_FORMAT").as_deref() {
            Ok("json") => true,
            Ok("text") => false,
            Ok(other) if !other.is_empty() => {
                anyhow::bail!("WARD_LOG_FORMAT is `{other}`: give `json` or `text`")
            }
            _ => !terminal,
        };
        let logs = logs.with_writer(std::io::stderr);
        if json {
            logs.json()
                .flatten_event(true)
                .with_current_span(false)
                .init();
        } else {
            logs.with_ansi(terminal).init();
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    return_large_buffers();
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli.command) {
        eprintln!("ward: {e:#}");
        return ExitCode::from(2);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ward: {e:#}");
            ExitCode::from(2)
        }
    }
}

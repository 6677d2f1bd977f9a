//! The subcommands of `ward`'s command groups (`ward tokens …`, `ward sessions …`), as clap
//! reads them.

use clap::Subcommand;

use crate::ConfigArg;

#[derive(Subcommand)]
pub(crate) enum StoreCommand {
    /// Create or upgrade the schema as the database owner, and grant Ward's runtime role
    /// (the user of `[store] url`) SELECT and INSERT only.
    Migrate {
        /// A connection string for the owner of the store's database.
        #[arg(long)]
        admin_url: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConnectCommand {
    /// psql, with the resource as its database.
    Psql {
        resource: String,
        /// Why you connect (a ticket, a sentence): recorded, and required by some grants.
        #[arg(long)]
        reason: Option<String>,
        /// Arguments for psql, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The mariadb (or mysql) client, with the resource as its database.
    Mysql {
        resource: String,
        /// Why you connect (a ticket, a sentence): recorded, and required by some grants.
        #[arg(long)]
        reason: Option<String>,
        /// Arguments for the client, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// ssh to an SSH resource with a short-lived certificate for your Ward token; also writes
    /// an OpenSSH config snippet (host `ward-RESOURCE`) for ssh, scp and sftp.
    Ssh {
        resource: String,
        /// Print the config snippet instead of running ssh.
        #[arg(long)]
        print_config: bool,
        /// Why you connect (a ticket, a sentence): recorded, and required by some grants.
        #[arg(long)]
        reason: Option<String>,
        /// Arguments for ssh (a command to run), after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Serve an HTTP resource at http://127.0.0.1:PORT/ for curl, SDKs and browsers, each
    /// request sent on through Ward with your Ward token (signed with your key after `ward
    /// login --dpop`).
    Http {
        resource: String,
        /// The loopback port (default: a free one, printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Subcommand)]
pub(crate) enum RequestsCommand {
    /// Your requests and those you may review, newest first.
    List {
        /// Only `pending`, `approved`, `denied` or `expired` ones.
        #[arg(long)]
        state: Option<String>,
    },
    /// One request and its reviews.
    Show { id: String },
    /// Approve a request (members of its approver groups, not its requester).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request, saying why.
    Deny {
        id: String,
        #[arg(long)]
        comment: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokensCommand {
    /// List active tokens (on the server's store).
    List {
        #[arg(long)]
        user: Option<String>,
        /// Include revoked and expired tokens.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Issue a token without a login (break-glass, automation); printed once.
    Issue {
        /// The user the token stands for.
        user: String,
        /// Comma-separated groups (default: the local user's groups).
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
        /// How long it is valid, e.g. `30m` or `8h`.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Bind it to the key of this JWK SHA-256 thumbprint (DPoP, RFC 9449): it is then
        /// accepted only with a proof signed by that key, never as a bearer token or password.
        #[arg(long)]
        dpop_jkt: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke tokens: a user's (--user) or one (--id) on the store, at once; without either,
    /// your own saved token, at the server you logged in to.
    Revoke {
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum ServiceAccountsCommand {
    /// Create a service account and print its API key once.
    Create {
        name: String,
        /// Comma-separated groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Bind its key to the key of this JWK SHA-256 thumbprint (DPoP, RFC 9449).
        #[arg(long)]
        dpop_jkt: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List service accounts' keys.
    List {
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke a service account's key, at once.
    Revoke {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Print the current public key, its fingerprint and every key the store knows.
    Show {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Start a new signing key, endorsed by the current one.
    Rotate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Make every key Ward makes on first start (signing, masking, TLS, SSH) that does not
    /// exist yet, and print their public halves; replicas must share them.
    Init {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum MaskCommand {
    /// Mask standard input as Ward would before recording it; print the text, then the count per rule on standard error.
    Test {
        /// A masking profile (default: the default profile).
        #[arg(long)]
        profile: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user, or replace an existing user's groups and password.
    Add {
        name: String,
        /// Comma-separated groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Register an SSH public key for a user (read from FILE, or standard input).
    AddKey {
        name: String,
        /// A public key file (`id_ed25519.pub`); standard input when absent.
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List users' SSH keys.
    Keys {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a user's SSH key, by fingerprint (`SHA256:…`).
    RemoveKey {
        name: String,
        fingerprint: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Disable a user (local, or an identity provider's): every Ward of the store refuses them,
    /// ends their open sessions within a second, and their Ward credentials are revoked.
    Disable {
        name: String,
        /// Why, for the record and for the user's client.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Enable a disabled user again (their revoked credentials stay revoked).
    Enable {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum SessionsCommand {
    /// List sessions, newest first.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        resource: Option<String>,
        /// Only sessions started at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only sessions not ended (on every Ward of the store).
        #[arg(long)]
        live: bool,
        /// Only sessions whose statements, commands, notes or reasons contain these words.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// End a live session: the Ward serving it ends it within a second, and its client is
    /// told why.
    Terminate {
        id: String,
        /// Why, for the record and for the session's client.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show one session and its events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

//! The `portitor` command: `serve` runs the runtime, `token` mints a JWT
//! with the server's key, `plugin` drives the admin API.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portitor::config::Config;
use portitor::security::auth::{Authenticator, Role};

#[derive(Debug, Parser)]
#[command(name = "portitor", version, about = "A WebAssembly-sandboxed integration runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (the embedded default: fs store under ./data, 127.0.0.1:8080).
    Serve {
        /// A TOML configuration file; PORTITOR_* variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the fs store keeps its data.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The address to listen on (port 0 picks a free one).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Provisions the `demo` tenant and prints how to try it with curl.
        #[arg(long)]
        demo: bool,
    },
    /// Prints a JWT signed with the server's HS256 key: the configured one,
    /// or the one the server generated into its data directory.
    Token {
        #[arg(long)]
        company: String,
        /// source-adapter, warehouse-adapter, tenant-admin or platform-operator.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Seconds until the token expires.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        #[arg(long, default_value = "portitor-cli")]
        subject: String,
        /// Limits a source-adapter token to these order sources (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        #[arg(long)]
        config: Option<PathBuf>,
        /// The server's data directory, where it generated its key.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Uploads, lists, activates and runs plugins through the admin API.
    Plugin(portitor::cli::PluginArgs),
    /// Rebuilds the projections (lists, summaries, hourly counts) of every
    /// tenant from the event log. Offline: stop the servers on the store first.
    Reindex {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, data_dir, listen, demo } => serve(config, data_dir, listen, demo),
        Command::Token { company, roles, ttl, subject, sources, config, data_dir } => {
            token(&TokenRequest { company, roles, ttl, subject, sources }, config, data_dir)
        }
        Command::Reindex { config, data_dir } => reindex(config, data_dir),
        Command::Plugin(args) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(portitor::cli::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portitor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(path.as_deref(), std::env::vars())?)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, not for files and collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    demo: bool,
) -> anyhow::Result<()> {
    let mut config = load_config(config)?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if let Some(addr) = listen {
        config.listen = addr;
    }
    // The demo (its tenant, plugins and partner simulators) is in builds
    // with the `demo` feature, the default; a production build leaves it
    // out with `--no-default-features`.
    #[cfg(not(feature = "demo"))]
    if demo {
        anyhow::bail!("this build has no demo: it was built without the `demo` feature");
    }
    #[cfg(feature = "demo")]
    if demo {
        // The demo's partner simulators listen on loopback: the operator
        // (this command) grants the demo tenant, and only it, loopback.
        let grants = &mut config.egress.tenants.entry(portitor::demo::COMPANY.to_string()).or_default().private_hosts;
        grants.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    }
    init_logging(&config.log_format);
    let runtime = portitor::server::tokio_runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        #[cfg(feature = "demo")]
        let data_dir = config.data_dir.clone();
        let built = portitor::server::build(config).await?;
        #[cfg(feature = "demo")]
        let demo = if demo { Some(portitor::demo::provision(&built.state, &data_dir, addr).await?) } else { None };
        // One line on stdout that scripts and tests can wait for: the server is ready.
        println!("portitor listening on http://{addr}");
        #[cfg(feature = "demo")]
        if let Some(demo) = &demo {
            println!("{}", demo.instructions);
        }
        portitor::server::run(built, listener, portitor::server::shutdown_signal()).await
    })
}

fn reindex(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = load_config(config)?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    init_logging(&config.log_format);
    portitor::server::tokio_runtime()?.block_on(async move {
        let started = std::time::Instant::now();
        let store = portitor::server::open_store(&config).await?;
        let projections = portitor::projections::Projections::new(portitor::events::EventLog::new(store));
        let done = portitor::projections::reindex::reindex(&projections).await?;
        println!(
            "reindexed {} orders of {} tenant(s) in {:.1} s ({} derived objects replaced)",
            done.orders,
            done.companies,
            started.elapsed().as_secs_f64(),
            done.deleted
        );
        Ok(())
    })
}

/// What `portitor token` is asked for.
struct TokenRequest {
    company: String,
    roles: Vec<String>,
    ttl: u64,
    subject: String,
    sources: Vec<String>,
}

fn token(request: &TokenRequest, config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = load_config(config)?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    let roles = request
        .roles
        .iter()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown role `{r}`: use source-adapter, warehouse-adapter, tenant-admin or platform-operator"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if request.company != "*" {
        portitor::events::keys::check_segment("company", &request.company)?;
    }
    for source in &request.sources {
        portitor::events::keys::check_segment("source", source)?;
    }
    portitor::security::platform_keys::complete(&mut config, portitor::security::platform_keys::Generate::Never)?;
    let auth = Authenticator::from_config(&config.auth)?;
    let token = auth.mint_with_sources(&request.subject, &request.company, &roles, &request.sources, request.ttl)?;
    println!("{token}");
    Ok(())
}

//! The local stack's S3 server: the file system store of `s3s-fs`, the same
//! S3 implementation as its own binary, served with `TCP_NODELAY` set on
//! every connection.
//!
//! Why not `s3s-fs`'s binary: it leaves Nagle's algorithm on and writes a
//! response body in 4 KiB pieces, so each piece after the first waits for the
//! client's delayed ACK. A GET of an 86 KB object took 20-40 ms over loopback
//! instead of 2-3 ms: nothing like S3, and it made reading an archive back
//! for verification the slowest step of a cleanup batch, in the tests and the
//! benchmarks alike.
//!
//! Usage, as `s3s-fs`: `s3-local --host H --port P --access-key K --secret-key S ROOT`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

const USAGE: &str =
    "usage: s3-local --host HOST --port PORT --access-key KEY --secret-key SECRET ROOT";

/// The command line: every option is required, the store's root comes last.
struct Options {
    host: String,
    port: u16,
    access_key: String,
    secret_key: String,
    root: PathBuf,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut host, mut port, mut access_key, mut secret_key, mut root) =
        (None, None, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--host" => host = Some(value("--host")?),
            "--port" => {
                let text = value("--port")?;
                port = Some(
                    text.parse::<u16>()
                        .map_err(|_| format!("bad port {text:?}"))?,
                );
            }
            "--access-key" => access_key = Some(value("--access-key")?),
            "--secret-key" => secret_key = Some(value("--secret-key")?),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => root = Some(PathBuf::from(other)),
        }
    }
    Ok(Options {
        host: host.ok_or("--host is required")?,
        port: port.ok_or("--port is required")?,
        access_key: access_key.ok_or("--access-key is required")?,
        secret_key: secret_key.ok_or("--secret-key is required")?,
        root: root.ok_or("the store's root directory is required")?,
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|arg| arg == "--version") {
        println!("s3-local {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("s3-local: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("s3-local: {err}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn serve(options: Options) -> Result<(), Box<dyn Error>> {
    // s3s-fs's error type is Debug only.
    let store = FileSystem::new(&options.root).map_err(|err| {
        format!(
            "cannot use {} as the store: {err:?}",
            options.root.display()
        )
    })?;
    let mut service = S3ServiceBuilder::new(store);
    service.set_auth(SimpleAuth::from_single(
        options.access_key,
        options.secret_key,
    ));
    let service = service.build();
    let listener = TcpListener::bind((options.host.as_str(), options.port)).await?;
    eprintln!(
        "s3-local: serving {} on http://{}",
        options.root.display(),
        listener.local_addr()?
    );
    let http = Builder::new(TokioExecutor::new());
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(err) => {
                eprintln!("s3-local: accept failed: {err}");
                continue;
            }
        };
        // The point of this binary (see the crate docs).
        if let Err(err) = socket.set_nodelay(true) {
            eprintln!("s3-local: cannot set TCP_NODELAY: {err}");
        }
        let connection = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            // A client that goes away mid-request is its own business.
            let _ = connection.await;
        });
    }
}

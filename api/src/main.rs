use std::process::ExitCode;

use clap::Parser;
use pnode_api::{
    cli::{self, Cli},
    redact,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pnode-api: {}", redact::url_passwords(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

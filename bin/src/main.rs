//! `pnode-api`: the service's one binary. It parses the command line and runs the command; the
//! service is the `pnode_api` library, the operator tools the `pnode_tools` one.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use pnode_api::observe::redact;

use crate::cli::Cli;

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

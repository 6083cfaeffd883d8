//! `pnode-api`: the service's one binary. It parses the command line and runs the command; the
//! service is the `pnode_api` library, the operator tools the `pnode_tools` one.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;
use pnode_api::observe::redact;

use crate::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap's own messages quote the values they refuse: never a URL's password.
        Err(err) => {
            let rendered = err.render().to_string();
            let text = redact::url_passwords(&rendered);
            if err.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pnode-api: {}", redact::url_passwords(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

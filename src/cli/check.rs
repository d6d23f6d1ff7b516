//! `rasad check`: reads and checks the config file and prints its summary and warnings.

use std::path::PathBuf;
use std::process::ExitCode;

use rasad::config::Config;

use crate::{Failure, input};

pub(crate) fn check(path: PathBuf) -> Result<ExitCode, Failure> {
    match Config::load(&path) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            println!("{}: ok: {}", path.display(), config.summary());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(input(e)),
    }
}

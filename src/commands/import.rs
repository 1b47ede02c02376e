//! `secretgate import`.

use crate::cli::{Cli, ImportArgs};
use crate::error::{Error, exit};

pub fn run(_cli: &Cli, _args: &ImportArgs) -> Result<u8, Error> {
    Ok(exit::OK)
}

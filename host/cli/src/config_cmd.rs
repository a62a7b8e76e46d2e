//! `robodev config check`.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate robodev-config.yaml without starting anything.
    Check {
        /// The config file.
        #[arg(long, short, default_value = "robodev-config.yaml", env = "ROBODEV_CONFIG")]
        config: PathBuf,
    },
}

pub async fn run(command: ConfigCommand) -> u8 {
    match command {
        ConfigCommand::Check { config } => {
            eprintln!("error: not built yet: {}", config.display());
            2
        }
    }
}

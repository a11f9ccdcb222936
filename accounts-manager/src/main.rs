//! Starts accounts-manager from the environment; SIGTERM drains it.

use std::process::ExitCode;

use accounts_manager::startup::NAME;
use accounts_manager::{Application, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    service_kit::service::main(
        NAME,
        Settings::from_env,
        |settings| &settings.service,
        Application::build,
    )
    .await
}

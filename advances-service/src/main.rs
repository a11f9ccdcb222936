//! Starts advances-service (the roles `ROLES` names) from the environment;
//! SIGTERM drains it.

use std::process::ExitCode;

use advances_service::startup::NAME;
use advances_service::{Application, Settings};

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

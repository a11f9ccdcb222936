//! Starts advances-service (the roles `ROLES` names) from the environment.

use std::process::ExitCode;

use advances_service::{Application, Settings};
use service_kit::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    telemetry::init_logging();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("advances-service: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("advances-service: {error}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("advances-service: the server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

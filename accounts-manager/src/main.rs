//! Starts accounts-manager from the environment.

use std::process::ExitCode;

use accounts_manager::{Application, Settings};
use service_kit::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    telemetry::init_logging();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("accounts-manager: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(settings.clone()).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("accounts-manager: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %settings.bind_addr, port = app.port(), "accounts-manager listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("accounts-manager: the server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

//! Starts accounts-manager from the environment.

use std::process::ExitCode;

use accounts_manager::{Application, Settings};
use service_kit::error::failed;
use service_kit::trace;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => return failed("accounts-manager", &error),
    };
    let traces = match trace::init("accounts-manager", settings.otlp_endpoint.as_deref()) {
        Ok(traces) => traces,
        Err(error) => return failed("accounts-manager", &error),
    };
    let app = match Application::build(settings.clone()).await {
        Ok(app) => app,
        Err(error) => return failed("accounts-manager", &error),
    };
    tracing::info!(addr = %settings.bind_addr, port = app.port(), "accounts-manager listening");
    let stopped = app.run_until_stopped().await;
    traces.shutdown().await;
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed("accounts-manager", &format!("the server stopped: {error}")),
    }
}

//! Starts advances-service (the roles `ROLES` names) from the environment.

use std::process::ExitCode;

use advances_service::{Application, Settings};
use service_kit::error::failed;
use service_kit::trace;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => return failed("advances-service", &error),
    };
    let traces = match trace::init("advances-service", settings.otlp_endpoint.as_deref()) {
        Ok(traces) => traces,
        Err(error) => return failed("advances-service", &error),
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(error) => return failed("advances-service", &error),
    };
    let stopped = app.run_until_stopped().await;
    traces.shutdown().await;
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed("advances-service", &format!("the server stopped: {error}")),
    }
}

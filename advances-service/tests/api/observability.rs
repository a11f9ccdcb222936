//! The alert rules and the dashboard in `deploy/observability` name only
//! metrics the services export: both are started, an advance is made and
//! repaid, and the names `/metrics` shows after that are compared with every
//! metric the rules' and the dashboard's PromQL names.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_system, Options};

/// Series Prometheus makes itself for every scrape target.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_metric_the_alerts_and_the_dashboard_use_is_exported() {
    let system = spawn_system(Options::default()).await;
    let account = system.open_account(3).await;
    let (status, advance) = system.create_advance(&account, "20", 1).await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    let id = advance["advance_id"].as_str().unwrap().to_owned();
    system
        .wait_for(&id, Duration::from_secs(30), |a| a["status"] == "repaid")
        .await;
    let mut exported = BTreeSet::new();
    for base in [&system.am.address, &system.advances.address] {
        let ready = system.client.get(format!("{base}/readyz")).send().await;
        assert_eq!(ready.unwrap().status(), StatusCode::OK);
        let text = system
            .client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        exported.extend(
            text.lines()
                .filter(|line| !line.starts_with('#') && !line.is_empty())
                .filter_map(|line| line.split(['{', ' ']).next())
                .map(str::to_owned),
        );
    }
    exported.extend(PROMETHEUS_OWN.map(str::to_owned));

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/observability");
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("grafana/dashboards/golden-signals.json")).unwrap(),
    )
    .unwrap();
    let mut expressions = rule_expressions(&rules);
    assert!(
        expressions.len() >= 8,
        "the rules' expressions: {expressions:?}"
    );
    let mut panels = Vec::new();
    dashboard_expressions(&dashboard, &mut panels);
    assert!(
        panels.len() >= 16,
        "the dashboard's expressions: {panels:?}"
    );
    expressions.extend(panels);

    let mut used = BTreeSet::new();
    for expr in &expressions {
        used.extend(metric_names(expr));
    }
    for expected in ["http_requests_total", "reconciliation_mismatches_total"] {
        assert!(used.contains(expected), "{expected} read from {used:?}");
    }
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "used but not exported: {missing:?}; exported: {exported:?}"
    );
}

/// The `expr:` of every rule, inline or as a `|` block.
fn rule_expressions(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, rest)) = line.split_once("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if rest != "|" {
            found.push(rest.to_owned());
            continue;
        }
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|next| next.len() - next.trim_start().len() > indent.len())
            .map(|next| next.trim())
            .collect();
        found.push(block.join(" "));
    }
    found
}

fn dashboard_expressions(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(expr) if key == "expr" => found.push(expr.clone()),
                    other => dashboard_expressions(other, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_expressions(v, found)),
        _ => {}
    }
}

/// The metric names a PromQL expression reads: identifiers that are not
/// functions, keywords, label names (in `{}` or after `by`, `without`, `on`,
/// `ignoring`, `group_left`, `group_right`) or numbers.
fn metric_names(expr: &str) -> BTreeSet<String> {
    #[derive(Debug, PartialEq)]
    enum Token {
        Ident(String),
        Open,
        Close,
    }
    let mut tokens = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Label matchers, ranges and strings say nothing of metric names.
            '{' | '[' | '"' => {
                let end = match c {
                    '{' => '}',
                    '[' => ']',
                    _ => '"',
                };
                for inner in chars.by_ref() {
                    if inner == end {
                        break;
                    }
                }
            }
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let mut ident = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' || next == ':' {
                        ident.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(ident));
            }
            // Numbers: digits and dots, with any exponent or unit letters after them.
            c if c.is_ascii_digit() || c == '.' => {
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '.')
                {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    let grouping = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Aggregations may come before their `by (...)`, so they are not always
    // followed by a parenthesis as functions are.
    let keywords = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "group_left",
        "group_right",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Token::Ident(ident) = &tokens[i] {
            let called = tokens.get(i + 1) == Some(&Token::Open);
            if grouping.contains(&ident.as_str()) && called {
                // Skip the label list.
                i += 1;
                while i < tokens.len() && tokens[i] != Token::Close {
                    i += 1;
                }
            } else if !called && !keywords.contains(&ident.as_str()) {
                names.insert(ident.clone());
            }
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_read_from_promql_without_labels_functions_or_numbers() {
    let expr = r#"sum by (job, le) (rate(http_request_duration_seconds_bucket{status=~"5.."}[5m]))
        / on (job) group_left sum without (route) (rate(http_requests_total[5m])) > 0.01
        and histogram_quantile(0.99, ledger_batch_size_bucket) > 1e3 or up == bool 0"#;
    assert_eq!(
        metric_names(expr),
        BTreeSet::from(
            [
                "http_request_duration_seconds_bucket",
                "http_requests_total",
                "ledger_batch_size_bucket",
                "up"
            ]
            .map(str::to_owned)
        )
    );
}

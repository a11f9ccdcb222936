//! Access control end to end: advances-service runs on a least-privilege key
//! of its own for accounts-manager, made through the admin route; every
//! transaction it makes says so; no secret ever reaches a log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{eventually, Environment, MACHINE, TOKEN};
use reqwest::StatusCode;
use serde_json::json;
use shared_types::accounts::OpenAccountRequest;

#[tokio::test]
async fn advances_service_works_on_a_least_privilege_key_and_no_secret_is_logged() {
    let _machine = MACHINE.read().await;
    let env = Environment::new().await;
    let am = env.accounts_manager("am-access");
    am.ready().await;

    let (status, key) = env
        .post(
            &format!("{}/api/v1/admin/api-keys", am.url()),
            json!({"name": "advances-service", "scopes": ["accounts:read", "money:write", "reports:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let key_id = key["key_id"].as_str().unwrap().to_owned();

    let api = env.advances(
        "adv-access",
        "api,scheduler,worker",
        &am.url(),
        &[("ACCOUNTS_TOKEN", secret.as_str())],
    );
    api.ready().await;

    // An advance is paid out and collected through the scoped key.
    let account = env
        .accounts(&am)
        .open_account(&OpenAccountRequest::new(1), None)
        .await
        .unwrap()
        .account_id;
    let (status, advance) = env
        .post(
            &format!("{}/api/v1/advances", api.url()),
            json!({"account_id": account, "amount": "20.00", "installments": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{advance}");
    assert_eq!(advance["created_by"], "token-1");
    let url = format!(
        "{}/api/v1/advances/{}",
        api.url(),
        advance["advance_id"].as_str().unwrap()
    );
    eventually("the advance is repaid", Duration::from_secs(60), || async {
        env.get(&url).await.1["status"] == "repaid"
    })
    .await;

    // Every movement it made names its key.
    let (_, history) = env
        .get(&format!(
            "{}/api/v1/accounts/{account}/transactions",
            am.url()
        ))
        .await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{history}");
    assert!(
        items.iter().all(|t| t["created_by"] == "advances-service"),
        "{history}"
    );

    // Reconciliation reads the history with the same key.
    let (status, report) = env
        .post(
            &format!("{}/api/v1/admin/reconciliation", api.url()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["mismatches"], json!([]));

    // What the key was not given is refused, and logged with its name.
    let client = test_support::http_client();
    let refused = client
        .post(format!("{}/api/v1/accounts", am.url()))
        .bearer_auth(&secret)
        .json(&json!({"user_id": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Revoked: refused, and logged with its name.
    let revoked = client
        .delete(format!("{}/api/v1/admin/api-keys/{key_id}", am.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    eventually(
        "the revoked key is refused",
        Duration::from_secs(5),
        || async {
            client
                .get(format!("{}/api/v1/accounts/{account}", am.url()))
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap()
                .status()
                == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    eventually(
        "the refusals are logged",
        Duration::from_secs(5),
        || async { am.logged(r#""status":403"#) >= 1 && am.logged(r#""status":401"#) >= 1 },
    )
    .await;
    let refusals: Vec<String> = am
        .log()
        .lines()
        .filter(|line| line.contains("request refused"))
        .map(str::to_owned)
        .collect();
    assert!(
        refusals
            .iter()
            .any(|l| l.contains(r#""key":"advances-service""#) && l.contains(r#""status":403"#)),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|l| l.contains(r#""key":"advances-service""#) && l.contains(r#""status":401"#)),
        "{refusals:?}"
    );

    // No secret and no token anywhere in either service's log.
    for process in [&am, &api] {
        let log = process.log();
        assert!(!log.is_empty());
        assert!(
            !log.contains(&secret),
            "{} logged the key's secret",
            process.name
        );
        assert!(
            !log.contains(&secret[36..]),
            "{} logged part of the secret",
            process.name
        );
        assert!(
            !log.contains(TOKEN),
            "{} logged the bootstrap token",
            process.name
        );
    }
}

//! Metadata on accounts and transactions, its merge, and the searches by it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, urlencode, TestApp};

async fn count_transactions(app: &TestApp) -> i64 {
    let (status, page) = app.get_json("/api/v1/transactions?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["total_count"].as_i64().unwrap()
}

#[tokio::test]
async fn every_movement_keeps_its_metadata_failed_ones_too() {
    let app = spawn_app().await;
    let labels = json!({"order": "A-17", "channel": "web"});
    let (status, account) = app
        .post_json(
            "/api/v1/accounts",
            json!({"user_id": 1, "metadata": {"tier": "gold"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["metadata"], json!({"tier": "gold"}));
    let a = account["account_id"].as_str().unwrap().to_owned();
    let b = app.funded_account(2, "100").await;
    let (_, plain) = app.get_json(&format!("/api/v1/accounts/{b}")).await;
    assert_eq!(plain["metadata"], json!({}), "{{}} when none");

    let (_, deposit) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": a, "amount": "50", "metadata": labels}),
        )
        .await;
    let requests = [
        (
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1", "metadata": labels}),
        ),
        (
            "/api/v1/transfers",
            json!({"from_account_id": a, "to_account_id": b, "amount": "1", "metadata": labels}),
        ),
        (
            "/api/v1/reservations",
            json!({"account_id": a, "order_id": 5, "service_id": 1, "amount": "1", "metadata": labels}),
        ),
        (
            &format!(
                "/api/v1/transactions/{}/reversals",
                deposit["transaction_id"].as_str().unwrap()
            ),
            json!({"amount": "1", "metadata": labels}),
        ),
        // Refused for funds: recorded failed, with its metadata.
        (
            "/api/v1/withdrawals",
            json!({"account_id": a, "amount": "1000", "metadata": labels}),
        ),
    ];
    let mut ids = vec![deposit["transaction_id"].as_str().unwrap().to_owned()];
    assert_eq!(deposit["metadata"], labels);
    for (path, body) in requests {
        let (status, answer) = app.post_json(path, body).await;
        assert!(
            status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{answer}"
        );
        if path == "/api/v1/reservations" {
            // The reservation's metadata is on its transaction.
            let (_, history) = app
                .get_json(&format!("/api/v1/accounts/{a}/transactions?limit=1"))
                .await;
            ids.push(
                history["items"][0]["transaction_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            continue;
        }
        assert_eq!(answer["metadata"], labels, "{path}: {answer}");
        ids.push(answer["transaction_id"].as_str().unwrap().to_owned());
    }
    let (status, batch) = app
        .post_json(
            "/api/v1/transfers/batch",
            json!({"transfers": [
                {"from_account_id": b, "to_account_id": a, "amount": "2", "metadata": {"leg": "1"}},
                {"from_account_id": b, "to_account_id": a, "amount": "3"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["items"][0]["metadata"], json!({"leg": "1"}));
    assert_eq!(batch["items"][1]["metadata"], json!({}));
    for id in &ids {
        let (_, stored) = app.get_json(&format!("/api/v1/transactions/{id}")).await;
        assert_eq!(stored["metadata"], labels, "{stored}");
    }
    // The event feed carries it too.
    let (_, feed) = app.get_json("/api/v1/events?limit=1000").await;
    let event = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["transaction_id"] == ids[0].as_str())
        .expect("the deposit's event");
    assert_eq!(event["data"]["metadata"], labels);
    let (_, failed) = app
        .get_json(&format!("/api/v1/transactions/{}", ids[5]))
        .await;
    assert_eq!(failed["status"], "failed");
    app.assert_audit_clean().await;
}

#[tokio::test]
async fn metadata_out_of_its_limits_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "100").await;
    let b = app.funded_account(2, "100").await;
    let before = count_transactions(&app).await;
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let bad = [
        json!({"n": 1}),
        json!({"n": {"nested": "x"}}),
        json!({"n": null}),
        json!({"": "x"}),
        json!({"a b": "x"}),
        json!({"k".repeat(65): "x"}),
        json!({"k": "v".repeat(501)}),
        json!(["x"]),
        json!("x"),
        Value::Object(many),
    ];
    for metadata in bad {
        for (path, body) in [
            (
                "/api/v1/deposits",
                json!({"account_id": a, "amount": "1", "metadata": metadata}),
            ),
            (
                "/api/v1/transfers",
                json!({"from_account_id": a, "to_account_id": b, "amount": "1", "metadata": metadata}),
            ),
            (
                "/api/v1/accounts",
                json!({"user_id": 3, "metadata": metadata}),
            ),
        ] {
            let (status, answer) = app.post_json(path, body).await;
            assert_error(
                status,
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_metadata",
            );
        }
    }
    let (status, answer) = app
        .post_json(
            "/api/v1/transfers/batch",
            json!({"transfers": [
                {"from_account_id": a, "to_account_id": b, "amount": "1"},
                {"from_account_id": a, "to_account_id": b, "amount": "1", "metadata": {"n": 1}},
            ]}),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_metadata",
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("transfers[1].metadata"),
        "{answer}"
    );
    // 20 keys of 64 characters to 500-character values fit.
    let full: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("{i:0>64}"), json!("é".repeat(500))))
        .collect();
    let (status, answer) = app
        .post_json(
            "/api/v1/deposits",
            json!({"account_id": a, "amount": "1", "metadata": full}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        count_transactions(&app).await,
        before + 1,
        "only the one that fit"
    );
    let (_, users) = app.get_json("/api/v1/users/3/accounts").await;
    assert_eq!(users["items"], json!([]));
}

#[tokio::test]
async fn a_patch_merges_labels_and_keeps_the_limits() {
    let app = spawn_app().await;
    let (_, account) = app
        .post_json(
            "/api/v1/accounts",
            json!({"user_id": 1, "metadata": {"tier": "silver", "old": "x", "keep": "y"}}),
        )
        .await;
    let a = account["account_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/accounts/{a}");
    let (status, patched) = app
        .patch_json(
            &path,
            json!({"metadata": {"tier": "gold", "old": null, "new": "z"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["metadata"],
        json!({"tier": "gold", "keep": "y", "new": "z"})
    );
    assert_eq!(patched["balance"], "0.00");
    let (_, read) = app.get_json(&path).await;
    assert_eq!(read["metadata"], patched["metadata"]);

    let fill: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("f{i}"), json!("v"))).collect();
    let (status, full) = app.patch_json(&path, json!({"metadata": fill})).await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["metadata"].as_object().unwrap().len(), 20);
    let (status, answer) = app
        .patch_json(&path, json!({"metadata": {"one": "more"}}))
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_metadata",
    );
    let (status, answer) = app
        .patch_json(&path, json!({"metadata": {"f0": null, "one": "more"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (body, expected, code) in [
        (
            json!({"metadata": {"n": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
        ),
        (
            json!({"metadata": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"metadata": {}, "balance": "9"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (status, answer) = app.patch_json(&path, body).await;
        assert_error(status, &answer, expected, code);
    }
    let (status, answer) = app
        .patch_json(
            &format!("/api/v1/accounts/{}", uuid::Uuid::new_v4()),
            json!({"metadata": {"a": "b"}}),
        )
        .await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    // Concurrent merges of different keys all land.
    let merges = (0..10).map(|i| {
        let (app, path) = (&app, path.clone());
        async move {
            app.patch_json(
                &path,
                json!({"metadata": {format!("f{}", i + 1): null, format!("c{i}"): "x"}}),
            )
            .await
        }
    });
    for (status, answer) in futures::future::join_all(merges).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, last) = app.get_json(&path).await;
    let keys = last["metadata"].as_object().unwrap();
    assert!(
        (0..10).all(|i| keys.contains_key(&format!("c{i}"))),
        "{last}"
    );
}

#[tokio::test]
async fn search_finds_by_reference_and_by_every_label_given_newest_first() {
    let app = spawn_app().await;
    let a = app.funded_account(1, "1000").await;
    let b = app.funded_account(2, "1000").await;
    let mut matching = Vec::new();
    for i in 0..7 {
        let labels = if i % 2 == 0 {
            json!({"order": "A-17", "channel": "web"})
        } else {
            json!({"order": "A-17", "channel": "app"})
        };
        let (_, t) = app
            .post_json(
                "/api/v1/transfers",
                json!({"from_account_id": a, "to_account_id": b, "amount": "1",
                       "reference": format!("ref-{}", i % 3), "metadata": labels}),
            )
            .await;
        if i % 2 == 0 {
            matching.push(t["transaction_id"].as_str().unwrap().to_owned());
        }
    }
    // A failed one, with the labels.
    app.post_json(
        "/api/v1/withdrawals",
        json!({"account_id": a, "amount": "99999", "metadata": {"order": "A-17", "channel": "web"}}),
    )
    .await;
    let search = |query: &str| format!("/api/v1/search/transactions?{query}");
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["transaction_id"].as_str().unwrap().to_owned())
            .collect()
    };

    let (status, both) = app
        .get_json(&search(
            "metadata.order=A-17&metadata.channel=web&status=success",
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{both}");
    matching.reverse();
    assert_eq!(ids(&both), matching, "newest first, every label matched");
    let (_, with_failed) = app
        .get_json(&search("metadata.order=A-17&metadata.channel=web"))
        .await;
    assert_eq!(with_failed["total_count"], 5);
    let (_, failed) = app
        .get_json(&search(
            "metadata.channel=web&status=failed&type=withdrawal",
        ))
        .await;
    assert_eq!(failed["total_count"], 1);
    let (_, by_reference) = app.get_json(&search("reference=ref-1")).await;
    assert_eq!(by_reference["total_count"], 2);
    let (_, by_both) = app
        .get_json(&search("reference=ref-0&metadata.channel=app"))
        .await;
    assert_eq!(by_both["total_count"], 1);
    let (_, other_account) = app
        .get_json(&search(&format!(
            "metadata.order=A-17&account_id={}",
            uuid::Uuid::new_v4()
        )))
        .await;
    assert_eq!(other_account["total_count"], 0);
    let (_, on_b) = app
        .get_json(&search(&format!("metadata.order=A-17&account_id={b}")))
        .await;
    assert_eq!(on_b["total_count"], 7);
    let future = urlencode("2999-01-01T00:00:00Z");
    let (_, none_after) = app
        .get_json(&search(&format!("metadata.order=A-17&from={future}")))
        .await;
    assert_eq!(none_after["total_count"], 0);

    // By cursor, two at a time: the same rows as one page.
    let (_, whole) = app.get_json(&search("metadata.order=A-17")).await;
    let (_, mut page) = app.get_json(&search("metadata.order=A-17&limit=2")).await;
    let mut paged = ids(&page);
    while let Some(next) = page["next"].as_str() {
        let (status, more) = app
            .get_json(&search(&format!(
                "metadata.order=A-17&limit=2&cursor={}",
                urlencode(next)
            )))
            .await;
        assert_eq!(status, StatusCode::OK, "{more}");
        paged.extend(ids(&more));
        page = more;
    }
    assert_eq!(paged, ids(&whole));

    for (query, expected, code) in [
        ("", StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter"),
        (
            "status=success",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
        ),
        (
            "reference=%20",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
        ),
        (
            "metadata.bad%20key=x",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
        ),
        (
            "reference=x&type=gift",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "reference=x&status=maybe",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_status",
        ),
        (
            "reference=x&page=2",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "reference=x&page=2&cursor=abc",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
        ),
        (
            "reference=x&colour=red",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "reference=x&cursor=nope",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
        ),
        (
            "reference=x&account_id=nope",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (status, answer) = app.get_json(&search(query)).await;
        assert_error(status, &answer, expected, code);
    }
}

#[tokio::test]
async fn accounts_are_listed_by_labels_and_user_oldest_first() {
    let app = spawn_app().await;
    let mut gold = Vec::new();
    for user in 1..=5 {
        let tier = if user % 2 == 1 { "gold" } else { "silver" };
        let (_, account) = app
            .post_json(
                "/api/v1/accounts",
                json!({"user_id": user, "metadata": {"tier": tier, "region": "eu"}}),
            )
            .await;
        if tier == "gold" {
            gold.push(account["account_id"].as_str().unwrap().to_owned());
        }
    }
    let plain = app.open_account(1, "EUR").await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, listed) = app
        .get_json("/api/v1/accounts?metadata.tier=gold&metadata.region=eu")
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(ids(&listed), gold);
    let (_, first) = app
        .get_json("/api/v1/accounts?metadata.tier=gold&limit=2")
        .await;
    let next = urlencode(first["next"].as_str().unwrap());
    let (_, rest) = app
        .get_json(&format!(
            "/api/v1/accounts?metadata.tier=gold&limit=2&cursor={next}"
        ))
        .await;
    assert_eq!([ids(&first), ids(&rest)].concat(), gold);
    let (_, of_user) = app.get_json("/api/v1/accounts?user_id=1").await;
    assert_eq!(ids(&of_user), vec![gold[0].clone(), plain]);
    let (_, all) = app.get_json("/api/v1/accounts").await;
    assert_eq!(all["total_count"], 6, "user accounts only");
    let (status, answer) = app
        .get_json(&format!(
            "/api/v1/accounts?metadata.tier=silver&cursor={next}"
        ))
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_cursor",
    );
    let (status, answer) = app.get_json("/api/v1/accounts?user_id=0").await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_user_id",
    );
}

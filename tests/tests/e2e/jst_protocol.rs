use j2t_config::{Config, SecretString};
use j2t_jst::{ApiCode, JstClient, OutboundQuery};

use j2t_e2e::harness::Stack;

fn client(stack: &Stack, secret: Option<&str>) -> JstClient {
    let mut cfg = Config::load_with_env(None, Some(Default::default())).expect("defaults");
    cfg.jst.base_url = stack.jst_url.parse().expect("url");
    if let Some(secret) = secret {
        cfg.jst.app_secret = SecretString::from(secret);
    }
    JstClient::new(&cfg.jst).expect("client")
}

fn query(page_index: u32, page_size: u32) -> OutboundQuery {
    OutboundQuery {
        status: Some("Confirmed".into()),
        modified_begin: Some("2026-11-20 00:00:00".into()),
        modified_end: Some("2026-11-26 23:59:59".into()),
        date_type: Some(j2t_config::DateType::IoDate),
        page_index,
        page_size,
        ..Default::default()
    }
}

/// The JST client and the simulator agree on the protocol: signature, paging, validation.
#[tokio::test(flavor = "multi_thread")]
async fn jst_client_pages_through_the_simulator_and_errors_are_typed() {
    let stack = Stack::start().await;
    stack
        .admin
        .seed(&j2t_simulator::DemoSpec {
            orders: 120,
            days: 7,
            seed: 1,
            end_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 26),
        })
        .await
        .expect("seed");
    let confirmed = stack
        .admin
        .orders()
        .await
        .expect("orders")
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .count();

    // This test is about the protocol, not pacing: lift the simulator's rate limits.
    stack
        .admin
        .set_jst_faults(&j2t_simulator::JstFaults {
            per_second: Some(10_000),
            per_minute: Some(100_000),
            ..Default::default()
        })
        .await
        .expect("faults");
    let jst = client(&stack, None);
    let mut seen = Vec::new();
    let mut page_index = 1;
    loop {
        let page = jst
            .query_outbound(&query(page_index, 25))
            .await
            .expect("page");
        assert_eq!(page.data_count as usize, confirmed);
        seen.extend(
            page.datas
                .iter()
                .map(|o| o["io_id"].as_i64().expect("io_id")),
        );
        if !page.has_next {
            break;
        }
        page_index += 1;
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        confirmed,
        "every Confirmed order exactly once over the pages"
    );

    let err = jst
        .query_outbound(&query(1, 51))
        .await
        .expect_err("page_size 51");
    assert_eq!(err.api_code(), Some(ApiCode::InvalidParameters));
    assert!(err.to_string().contains("page_size"), "{err}");

    let mut too_long = query(1, 10);
    too_long.modified_begin = Some("2026-11-01 00:00:00".into());
    let err = jst
        .query_outbound(&too_long)
        .await
        .expect_err("window over 7 days");
    assert!(err.to_string().contains("7 days"), "{err}");

    let wrong = client(&stack, Some("not-the-secret"));
    let err = wrong
        .query_outbound(&query(1, 10))
        .await
        .expect_err("bad signature");
    assert_eq!(err.api_code(), Some(ApiCode::BadSignature));
    assert!(!err.to_string().contains("not-the-secret"));
}

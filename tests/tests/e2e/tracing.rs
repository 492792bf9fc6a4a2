//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, every service exports spans over OTLP/HTTP;
//! the trace context travels in NATS headers, so the writer's spans continue the trace of the
//! voucher the transformer built, and the voucher's span links to its orders' fetch spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use axum::body::Bytes;
use axum::routing::post;
use j2t_e2e::harness::{Stack, eventually};
use j2t_simulator::DemoSpec;
use j2t_topology::names;
use jst2tplus::reconcile;

type Received = Arc<Mutex<Vec<Vec<u8>>>>;

/// A stand-in OpenTelemetry collector: keeps every body POSTed to /v1/traces.
async fn collector() -> (String, Received) {
    let received = Received::default();
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let keep = keep.clone();
            async move {
                if let Ok(mut all) = keep.lock() {
                    all.push(body.to_vec());
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The 16-byte trace id in a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`).
fn trace_id_bytes(traceparent: &str) -> Vec<u8> {
    let hex = traceparent.split('-').nth(1).expect("trace id");
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The `traceparent` of the first message in `stream`.
async fn first_traceparent(js: &jetstream::Context, stream: &str) -> String {
    let stream = js.get_stream(stream).await.expect("stream");
    let message = stream.get_raw_message(1).await.expect("message");
    message
        .headers
        .get("traceparent")
        .map(|v| v.to_string())
        .expect("a traceparent header")
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_and_the_trace_context_crosses_nats() {
    let (endpoint, received) = collector().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_string()),
    ];
    let stack = Stack::start_with(&env, None).await;
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    stack
        .admin
        .seed(&DemoSpec {
            orders: 30,
            days: 1,
            seed: 5,
            end_date: Some(end),
        })
        .await
        .expect("seed");
    let expected = reconcile::expected(&stack.admin.orders().await.expect("orders"), "Confirmed");
    let start = [("J2T__FETCHER__START_TIME", format!("{end} 00:00:00"))];
    let _services: Vec<_> = [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ]
    .into_iter()
    .map(|bin| stack.spawn(bin, &start))
    .collect();
    let admin = &stack.admin;
    eventually(Duration::from_secs(120), "T+ sums to match", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(())
    })
    .await;

    let js = jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"));
    let order_trace = trace_id_bytes(&first_traceparent(&js, names::ORDERS_STREAM).await);
    let voucher_trace = trace_id_bytes(&first_traceparent(&js, names::VOUCHERS_STREAM).await);
    assert_ne!(
        order_trace, voucher_trace,
        "a voucher merges many orders: its own trace"
    );

    let exported = |service: &'static str, trace: Vec<u8>| {
        let received = received.clone();
        move || {
            let bodies = received.lock().map(|b| b.clone()).unwrap_or_default();
            let trace = trace.clone();
            async move {
                bodies
                    .iter()
                    .any(|b| contains(b, service.as_bytes()) && contains(b, &trace))
                    .then_some(())
            }
        }
    };
    // The fetcher exported the order's span; the transformer exported a span carrying the
    // order's trace id (the voucher's link) and the voucher's; the writer continued the
    // voucher's trace.
    eventually(
        Duration::from_secs(30),
        "the fetcher's order span",
        exported("fetcher", order_trace.clone()),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the voucher's link to an order",
        exported("transformer", order_trace),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the voucher's span",
        exported("transformer", voucher_trace.clone()),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the write in the voucher's trace",
        exported("writer", voucher_trace),
    )
    .await;
}

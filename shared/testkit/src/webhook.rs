//! A webhook receiver for alert tests: an HTTP server on 127.0.0.1 (port 0) that keeps every
//! JSON body POSTed to `/hook` and answers each with the same JSON.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

/// Every body received so far, in order.
pub type WebhookBodies = Arc<Mutex<Vec<Value>>>;

/// Starts a receiver answering `answer`; returns its URL (`http://127.0.0.1:PORT/hook`) and
/// the bodies it keeps. It runs until the test's runtime ends.
pub async fn webhook_receiver(answer: Value) -> (String, WebhookBodies) {
    let bodies = WebhookBodies::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State((bodies, answer)): State<(WebhookBodies, Value)>,
                 axum::Json(body): axum::Json<Value>| async move {
                    bodies.lock().expect("lock").push(body);
                    axum::Json(answer)
                },
            ),
        )
        .with_state((bodies.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the webhook receiver");
    let addr = listener.local_addr().expect("webhook receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), bodies)
}

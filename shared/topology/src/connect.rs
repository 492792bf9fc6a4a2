/// Connects to NATS, waiting for the server if it is not up yet (compose start order), and
/// reconnecting forever afterwards.
pub async fn connect(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .name("jst2tplus")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url)
        .await
}

//! A small Chrome DevTools Protocol client: launches headless Chromium and drives its one
//! page over the DevTools websocket — navigate, evaluate JavaScript. Just what the browser
//! tests need; a real browser, a real DOM, real clicks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for one DevTools answer.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// The Chromium binary: `$CHROMIUM_BIN`, else `chromium` or `chromium-browser` on the PATH.
/// Panics with how to install it: a browser test that silently skips proves nothing.
pub fn chromium_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CHROMIUM_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file() || on_path(&bin).is_some(),
            "chromium not found: CHROMIUM_BIN={} does not exist; install Debian's `chromium` \
             package (apt-get install chromium) or point CHROMIUM_BIN at a Chromium binary",
            bin.display()
        );
        return bin;
    }
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| on_path(Path::new(name)))
        .expect(
            "chromium not found (the browser tests need headless Chromium): install Debian's \
             `chromium` package (apt-get install chromium) or set CHROMIUM_BIN to its binary",
        )
}

fn on_path(name: &Path) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A headless Chromium with its own throwaway profile, killed when dropped.
pub struct Browser {
    child: Child,
    profile: tempfile::TempDir,
    /// The page's DevTools websocket and the last command id sent on it.
    socket: Mutex<Option<(Socket, u64)>>,
}

impl Browser {
    pub async fn launch(bin: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let log = std::fs::File::create(profile.path().join("chromium.log")).expect("log file");
        let child = Command::new(bin)
            .args([
                "--headless=new",
                // Containers run tests as root, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1400,1000",
                // Chromium picks the port and writes it to `<profile>/DevToolsActivePort`.
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
        let mut browser = Browser {
            child,
            profile,
            socket: Mutex::new(None),
        };
        let port = browser.devtools_port().await;
        let url = browser.page_socket_url(port).await;
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("the DevTools websocket opens");
        *browser.socket.get_mut() = Some((socket, 0));
        browser.call("Page.enable", json!({})).await;
        browser.call("Runtime.enable", json!({})).await;
        browser
    }

    /// Waits for Chromium to report the DevTools port it bound: the first line of
    /// `DevToolsActivePort` in the profile.
    async fn devtools_port(&mut self) -> u16 {
        let file = self.profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        loop {
            // Complete once the second line (the browser's websocket path) is there.
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some((first, rest)) = text.split_once('\n')
                && !rest.trim().is_empty()
                && let Ok(port) = first.trim().parse::<u16>()
            {
                return port;
            }
            if let Some(status) = self.child.try_wait().ok().flatten() {
                panic!("Chromium exited ({status}):\n{}", self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Chromium never reported its DevTools port:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the DevTools endpoint to list the page; its websocket URL.
    async fn page_socket_url(&mut self, port: u16) -> String {
        let list = format!("http://127.0.0.1:{port}/json/list");
        let started = Instant::now();
        loop {
            if let Ok(answer) = reqwest::get(&list).await
                && let Ok(targets) = answer.json::<Vec<Value>>().await
                && let Some(url) = targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            {
                return url.to_string();
            }
            if let Some(status) = self.child.try_wait().ok().flatten() {
                panic!("Chromium exited ({status}):\n{}", self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Chromium's DevTools never answered:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What Chromium wrote to stderr, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }

    /// Sends one DevTools command and returns its `result`; events in between are ignored.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.call_until(method, params, None).await
    }

    /// `call`, then also waits for the event `until` (it may come before or after the answer).
    async fn call_until(&self, method: &str, params: Value, until: Option<&str>) -> Value {
        let mut guard = self.socket.lock().await;
        let (socket, next_id) = guard.as_mut().expect("connected at launch");
        *next_id += 1;
        let id = *next_id;
        let request = json!({"id": id, "method": method, "params": params});
        socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let answer = tokio::time::timeout(CALL_LIMIT, async {
            let (mut answer, mut waiting) = (None, until);
            while let Some(message) = socket.next().await {
                let message = message.unwrap_or_else(|e| panic!("{method}: {e}"));
                let Ok(value) = serde_json::from_str::<Value>(message.to_text().unwrap_or(""))
                else {
                    continue;
                };
                if value["id"] == id {
                    answer = Some(value);
                } else if waiting.is_some_and(|event| value["method"] == event) {
                    waiting = None;
                }
                if waiting.is_none()
                    && let Some(answer) = answer.take()
                {
                    return answer;
                }
            }
            panic!("{method}: Chromium closed the DevTools connection");
        })
        .await
        .unwrap_or_else(|_| panic!("{method}: no answer within {CALL_LIMIT:?}"));
        if let Some(error) = answer.get("error") {
            panic!("{method} failed: {error}");
        }
        answer["result"].clone()
    }

    /// Loads `url` in the page and waits for its `load` event (scripts loaded; what they
    /// fetch afterwards is for the caller to poll for).
    pub async fn navigate(&self, url: &str) {
        let params = json!({"url": url});
        let result = self
            .call_until("Page.navigate", params, Some("Page.loadEventFired"))
            .await;
        if let Some(error) = result.get("errorText") {
            panic!("navigating to {url}: {error}");
        }
    }

    /// Evaluates `expression` in the page (awaiting it if it is a promise) and returns its
    /// value as JSON. A JavaScript exception fails the test.
    pub async fn eval(&self, expression: &str) -> Value {
        let params = json!({"expression": expression, "returnByValue": true, "awaitPromise": true});
        let result = self.call("Runtime.evaluate", params).await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Chanjet's official Python SDK (`chanjet-openapi-python-sdk`, pinned in `.ci/run`) calls the
//! simulated T+ and checks the documented shapes: `tests/sdk/tplus_sdk_check.py`. Not skipped
//! when the SDK is missing: the test fails and says how to install it.

use std::path::PathBuf;

use crate::harness::Sim;

#[tokio::test]
async fn the_official_python_sdk_reads_the_simulated_t_plus() {
    let sim = Sim::start().await;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk/tplus_sdk_check.py");
    let output = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&sim.base)
        .arg(&sim.cfg.tplus.app_key)
        .arg(sim.app_secret())
        .arg(sim.open_token())
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}); install the SDK with `python3 -m pip install \
         chanjet-openapi-python-sdk==1.0.2`\nstdout: {stdout}\nstderr: {stderr}",
        script.display(),
        output.status
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert_eq!(
        sim.external_codes().await,
        ["SDK-1", "SDK-2", "SDK-3"],
        "the vouchers the SDK created"
    );
}

//! Observers on a camera topic: `rosy topic hz` and `rosy topic bw` on a 30 fps stream of
//! 1080p RGB frames (6.2 MB) report 30 Hz and 186 MB/s while the camera runs, both at once.

use crate::rosy;
use crate::support::{Proc, unique_domain};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const FRAME: f64 = 1920.0 * 1080.0 * 3.0;

/// The last JSON line of `p`'s output, parsed.
fn last_json(p: &Proc) -> serde_json::Value {
    let out = p.stdout();
    let line = out
        .last()
        .unwrap_or_else(|| panic!("no output: {:?}", p.stderr()));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn hz_and_bw_on_a_30_fps_camera_report_30_hz_and_its_bandwidth() {
    let domain = unique_domain("cli-observers");
    let mut camera = Proc::example(
        "camera_pipeline",
        &domain,
        &[
            "camera",
            "--size",
            "1920x1080",
            "--encoding",
            "rgb8",
            "--fps",
            "30",
        ],
    );
    let observe = |what: &str| {
        Proc::spawn(
            what,
            rosy(
                &domain,
                &[
                    "--json",
                    "topic",
                    what,
                    "camera/frames",
                    "--duration",
                    "6",
                    "--window",
                    "90",
                ],
            ),
        )
    };
    let mut hz = observe("hz");
    let mut bw = observe("bw");
    for p in [&mut hz, &mut bw] {
        let status = p.wait_exit(T);
        assert!(status.success(), "{:?}", p.stderr());
    }
    let rate = last_json(&hz)["hz"].as_f64().unwrap();
    assert!((29.0..=31.0).contains(&rate), "{rate} Hz");
    let bytes = last_json(&bw)["bytes_per_s"].as_f64().unwrap();
    let expected = 30.0 * FRAME;
    assert!(
        (bytes - expected).abs() < 0.05 * expected,
        "{bytes} B/s, expected about {expected}"
    );
    camera.kill();
}

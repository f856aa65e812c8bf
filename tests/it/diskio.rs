//! `diskio` against `iostat -x` (Debian `sysstat`) on this machine's real
//! disk, both sampling the same window while the test writes and fsyncs
//! a file on that disk; and how a device is found from a mount path, a
//! device node, a name — or not found.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, check};

/// A directory on the disk the build is on (not a tmpfs `/tmp`).
fn on_disk() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diskio");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The device iostat calls the disk holding `dir`, found with util-linux
/// (findmnt, lsblk) rather than opsrun's own resolution: a partition's
/// whole disk, a device-mapper volume's `dm-N`.
fn disk_of(dir: &Path) -> String {
    let out = Command::new("findmnt")
        // --nofsroot: on a bind mount SOURCE is `/dev/vda[/the/dir]` otherwise.
        .args(["--nofsroot", "-no", "SOURCE", "-T"])
        .arg(dir)
        .output()
        .expect("findmnt (util-linux)");
    let source = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        source.starts_with("/dev/"),
        "{} is not on a block device ({source:?}): the comparison needs a real disk",
        dir.display()
    );
    let out = Command::new("lsblk")
        .args(["-ndo", "KNAME,PKNAME,TYPE", &source])
        .output()
        .expect("lsblk (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    match f.as_slice() {
        [_, parent, "part"] => parent.to_string(),
        [kname, ..] => kname.to_string(),
        _ => panic!("lsblk said nothing of {source}"),
    }
}

/// The one device report of `iostat -x -s -y -o JSON DEV N 1`.
fn iostat_figures(json: &str) -> (f64, f64) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let disk = &v["sysstat"]["hosts"][0]["statistics"][0]["disk"][0];
    (
        disk["util"].as_f64().unwrap_or_else(|| panic!("{json}")),
        disk["await"].as_f64().unwrap_or_else(|| panic!("{json}")),
    )
}

/// The same window, two tools. Both start at once and sample 4 s; the
/// test writes and fsyncs only from 1.0 s to 2.5 s after starting them,
/// so every request it makes falls inside both windows (each tool takes
/// its first reading right after starting — well under the 1 s margin
/// even on a loaded machine).
///
/// The tolerance: the two windows differ only at their edges, by how much
/// later one tool took its reading than the other — a few tens of ms,
/// less than 0.4 s on any machine this runs on. Only other processes'
/// I/O in those edges can set the figures apart. `util` is busy time over
/// 4 s, so it can differ by at most 0.4 s / 4 s = 10 points, even with
/// the disk fully busy in the edges. `await` is a mean over requests: the
/// test's own (hundreds of 128 KiB writes with an fsync each) are common
/// to both, and the few requests of other processes in the edges can move
/// the mean by a fraction: within 0.5 ms, or 30% of iostat's figure on a
/// disk whose requests take longer.
#[test]
fn util_and_await_match_iostat_over_the_same_window() {
    let dir = on_disk();
    let dev = disk_of(&dir);
    let env = Env::new();
    env.runbook(
        "io.yaml",
        &format!(
            "version: 1\ntitle: io\nchecks:\n  - id: io\n    diskio: {{device: '{}', sample: 4s}}\n",
            dir.display()
        ),
    );
    let iostat = Command::new("iostat")
        .args(["-x", "-s", "-d", "-y", "-o", "JSON", &dev, "4", "1"])
        .env("LC_ALL", "C")
        .stdout(Stdio::piped())
        .spawn()
        .expect("iostat (Debian sysstat)");
    let opsrun = env
        .session_cmd()
        .args(["run", "io", "-f", "json", "--no-history"])
        .spawn()
        .unwrap();

    std::thread::sleep(Duration::from_millis(1000));
    let path = dir.join(format!("load-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x5au8; 128 << 10];
    let until = Instant::now() + Duration::from_millis(1500);
    let mut writes = 0;
    while Instant::now() < until {
        f.write_all(&block).unwrap();
        f.sync_all().unwrap();
        writes += 1;
    }
    drop(f);
    std::fs::remove_file(&path).unwrap();

    let ours = opsrun.wait_with_output().unwrap();
    let theirs = iostat.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&ours.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&ours.stderr)));
    let c = check(&v, "io");
    let util = c["metrics"]["util"]["value"].as_f64().unwrap();
    let wait = c["metrics"]["await"]["value"].as_f64().unwrap();
    let (io_util, io_await) = iostat_figures(&String::from_utf8_lossy(&theirs.stdout));
    let seen = format!(
        "opsrun util {util:.2}% await {wait:.2}ms; iostat util {io_util:.2}% await {io_await:.2}ms ({writes} fsynced writes; {c})"
    );
    eprintln!("{seen}");
    // The load is real: iostat saw the disk busy.
    assert!(writes > 10 && io_util > 0.0 && io_await > 0.0, "{seen}");
    assert!((util - io_util).abs() <= 10.0, "util: {seen}");
    assert!(
        (wait - io_await).abs() <= f64::max(0.5, 0.3 * io_await),
        "await: {seen}"
    );
    // The path was resolved to the disk iostat was given.
    assert!(
        c["detail"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("device {dev}")),
        "{c}"
    );
}

#[test]
fn devices_by_name_node_and_mount_path_or_a_clear_reason() {
    let dir = on_disk();
    let dev = disk_of(&dir);
    let env = Env::new();
    let (v, r) = env.run_checks(&format!(
        "  - id: name\n    diskio: {{device: {dev}, sample: 100ms}}\n  - id: node\n    diskio: {{device: /dev/{dev}, sample: 100ms}}\n  - id: path\n    diskio: {{device: '{}', sample: 100ms}}\n  - id: tmpfs\n    diskio: {{device: /dev/shm}}\n  - id: proc\n    diskio: {{device: /proc/self}}\n  - id: missing\n    diskio: {{device: sdzz9}}\n  - id: no-path\n    diskio: {{device: /no/such/dir}}\n",
        dir.display()
    ));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for id in ["name", "node", "path"] {
        let c = check(&v, id);
        let util = c["metrics"]["util"]["value"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&util), "{c}");
        assert!(c["metrics"]["await"]["value"].as_f64().unwrap() >= 0.0);
        assert_eq!(c["metrics"]["await"]["unit"], "ms", "{c}");
        assert_eq!(c["unit"], "%", "{c}");
        assert!(
            c["detail"][0]
                .as_str()
                .unwrap()
                .starts_with(&format!("device {dev}")),
            "{c}"
        );
    }
    // The default thresholds: warn 80%, fail 95% (the status depends on
    // this machine's load; the limits are what is checked).
    let path = check(&v, "path");
    assert!(
        path["detail"][0].as_str().unwrap().contains("mounted at"),
        "{path}"
    );
    for (id, status, code) in [
        ("tmpfs", "unknown", "diskio.no_block_device"),
        ("proc", "unknown", "diskio.no_block_device"),
        ("missing", "fail", "diskio.no_device"),
        ("no-path", "unknown", "diskio.path"),
    ] {
        let c = check(&v, id);
        assert_eq!(c["status"], status, "{c}");
        assert_eq!(c["reason"]["code"], code, "{c}");
    }
    assert_eq!(
        check(&v, "tmpfs")["message"],
        "/dev/shm is on tmpfs (tmpfs), which has no block device to measure"
    );
    assert_eq!(
        check(&v, "missing")["message"],
        "no block device `sdzz9` on this host"
    );

    // Japanese, end to end.
    let r = env.run(&["run", "t", "--lang", "ja", "--only", "missing,tmpfs"]);
    assert!(
        r.stdout
            .contains("ブロックデバイス `sdzz9` はこのホストにありません"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("計測できるブロックデバイスがありません"),
        "{}",
        r.stdout
    );
}

#[test]
fn thresholds_hold_util_and_await() {
    let dir = on_disk();
    let env = Env::new();
    // Limits no disk can stay under: util ≥ 0% and await ≥ 0 ms.
    let (v, r) = env.run_checks(&format!(
        "  - id: io\n    diskio: {{device: '{}', sample: 100ms, util: {{warn: 0%}}, await: {{fail: '>= 0ms'}}}}\n",
        dir.display()
    ));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let c = check(&v, "io");
    assert_eq!(c["status"], "fail", "{c}");
    let codes: Vec<&str> = c["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["threshold", "threshold"], "{c}");
    assert!(c["message"].as_str().unwrap().contains("await"), "{c}");
}

/// The runbook of docs/service-data.md's `diskio` section loads.
#[test]
fn the_documented_runbook_loads() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/service-data.md"))
        .unwrap();
    let section = doc.split("## `diskio`").nth(1).expect("a diskio section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a yaml block");
    let env = Env::new();
    let p = env.runbook("io.yaml", yaml);
    let r = env.run(&["validate", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{yaml}\n{r:?}");
}

//! `diskio`: how busy a block device is over a sample, from two reads of
//! `/proc/diskstats` `sample` apart, computed as `iostat -x` (sysstat)
//! computes its `%util` and `await`:
//!
//! - `util` = milliseconds the device had I/O in flight (field 13,
//!   `io_ticks`) over the milliseconds elapsed, capped at 100% — the
//!   share of the sample the device was busy;
//! - `await` = milliseconds spent by the reads, writes and discards that
//!   completed in the sample (fields 7, 11, 18) over their number (fields
//!   4, 8, 15): the mean time of one request, queue included. No request
//!   completed → 0, as iostat prints it.
//!
//! `device` is a name as `/proc/diskstats` lists it (`sda`, `nvme0n1`,
//! `dm-0`: exactly that device, a partition included), a device node
//! (`/dev/sda1`, `/dev/mapper/vg-root`: the device it is), or any other
//! path: the filesystem holding it, found in `/proc/self/mountinfo`
//! (the deepest mount point above the path), whose `major:minor` names
//! the device through `/sys/dev/block/M:m`. A filesystem on a partition
//! is measured on its whole disk — the disk is what saturates, and other
//! partitions' I/O counts toward it — while a device-mapper volume (LVM,
//! LUKS) is measured as itself (`dm-N`, as iostat lists it): it may span
//! several disks. A filesystem with no block device (tmpfs, overlay,
//! proc, NFS) cannot be measured: `unknown`, saying which it is.
//!
//! A device that is not there (`device: sdb` on a host without one) is a
//! `fail`: the disk the runbook expects is missing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::memory::UNREADABLE;
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::Dur;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, trim_float};

/// The reason catalog entries of `diskio` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &V_BUSY,
    &NO_DEVICE,
    &NO_BLOCK_DEVICE,
    &PATH,
    &NO_SYSFS,
    &D_DEVICE,
    &D_RATES,
];

/// Display value (`Code::value`).
static V_BUSY: Code = Code::value("value.diskio", "{util} util, await {await}");

// Detail lines (`-v`).
static D_DEVICE: Code = Code::detail(
    "diskio.detail.device",
    "device {device}[ (partition {partition})][ ({mapper})][, {path} on {fstype} mounted at {mount}]",
);
static D_RATES: Code = Code::detail(
    "diskio.detail.rates",
    "over {sample}: {reads} r/s, {writes} w/s, {read_kb} rkB/s, {write_kb} wkB/s, aqu-sz {queue}",
);

static NO_DEVICE: Code = Code::new(
    "diskio.no_device",
    "no block device `{device}` on this host",
);
static NO_BLOCK_DEVICE: Code = Code::new(
    "diskio.no_block_device",
    "{path} is on {fstype} ({source}), which has no block device to measure",
);
static PATH: Code = Code::new("diskio.path", "cannot resolve {path}: {error}");
static NO_SYSFS: Code = Code::new(
    "diskio.sysfs",
    "{path}: device {dev} is not listed in /sys/dev/block",
);

const DISKSTATS: &str = "/proc/diskstats";
const MOUNTINFO: &str = "/proc/self/mountinfo";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskIo {
    /// A device name, a device node, or a path on a mounted filesystem.
    device: String,
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    sample: Option<Dur>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    util: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::millis")]
    r#await: Option<Threshold>,
}

impl Kind for DiskIo {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::RESOURCES
    }
    fn target(&self) -> String {
        format!("block device {}", self.device)
    }
    fn validate(&self) -> Result<(), String> {
        if self.device.trim().is_empty() {
            return Err("`device` is empty: name a device (sda, nvme0n1) or a mount path".into());
        }
        Ok(())
    }
}

/// The counters of one device line of `/proc/diskstats` that iostat's
/// `%util` and `await` read (Documentation/admin-guide/iostats.rst).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counters {
    reads: u64,
    read_sectors: u64,
    read_ms: u64,
    writes: u64,
    write_sectors: u64,
    write_ms: u64,
    io_ms: u64,
    queue_ms: u64,
    discards: u64,
    discard_ms: u64,
}

/// The line of device `name` in diskstats text; kernels before 4.18 have
/// no discard fields (read as 0).
fn counters(text: &str, name: &str) -> Option<Counters> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(2) != Some(&name) {
            return None;
        }
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        Some(Counters {
            reads: n(3)?,
            read_sectors: n(5)?,
            read_ms: n(6)?,
            writes: n(7)?,
            write_sectors: n(9)?,
            write_ms: n(10)?,
            io_ms: n(12)?,
            queue_ms: n(13)?,
            discards: n(14).unwrap_or(0),
            discard_ms: n(17).unwrap_or(0),
        })
    })
}

/// What the sample shows, iostat's way.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Busy {
    util: f64,
    r#await: f64,
    reads_per_s: f64,
    writes_per_s: f64,
    read_kb_per_s: f64,
    write_kb_per_s: f64,
    queue: f64,
}

/// From the counters at the start and end of a sample `ms` long. A
/// counter that went backwards (a device re-created) counts as 0.
fn busy(a: &Counters, b: &Counters, ms: f64) -> Busy {
    let d = |x: u64, y: u64| y.saturating_sub(x) as f64;
    let ms = ms.max(1.0);
    let per_s = |v: f64| v * 1000.0 / ms;
    let ios = d(a.reads, b.reads) + d(a.writes, b.writes) + d(a.discards, b.discards);
    let spent = d(a.read_ms, b.read_ms) + d(a.write_ms, b.write_ms) + d(a.discard_ms, b.discard_ms);
    Busy {
        util: (d(a.io_ms, b.io_ms) / ms * 100.0).min(100.0),
        r#await: if ios > 0.0 { spent / ios } else { 0.0 },
        reads_per_s: per_s(d(a.reads, b.reads)),
        writes_per_s: per_s(d(a.writes, b.writes)),
        // Sectors are 512 bytes whatever the device's block size.
        read_kb_per_s: per_s(d(a.read_sectors, b.read_sectors) / 2.0),
        write_kb_per_s: per_s(d(a.write_sectors, b.write_sectors) / 2.0),
        queue: d(a.queue_ms, b.queue_ms) / ms,
    }
}

/// The device to read, and how it was found from `device:`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Target {
    /// Its name in `/proc/diskstats`.
    name: String,
    /// The partition the filesystem is on, when the whole disk is measured.
    partition: Option<String>,
    /// A device-mapper volume's own name (`vg-root`).
    mapper: Option<String>,
    /// The filesystem found for a path: (fstype, mount point).
    mount: Option<(String, String)>,
}

/// One line of mountinfo: the fields a path is resolved with.
#[derive(Clone, Debug, PartialEq)]
struct Mount {
    major: u32,
    minor: u32,
    point: PathBuf,
    fstype: String,
    source: String,
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = b.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(oct).unwrap_or("x"), 8)
        {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lines of mountinfo text (proc(5): `ID PARENT MAJ:MIN ROOT POINT
/// OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS`).
fn mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let (major, minor) = f.get(2)?.split_once(':')?;
            let mut r = right.split(' ');
            Some(Mount {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                point: PathBuf::from(unescape(f.get(4)?)),
                fstype: r.next()?.to_owned(),
                source: unescape(r.next().unwrap_or("none")),
            })
        })
        .collect()
}

/// The mount holding `path` (already canonical): the deepest mount point
/// above it, the last mounted when several share that point (it hides
/// the others).
fn mount_of<'m>(mounts: &'m [Mount], path: &Path) -> Option<&'m Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if path.starts_with(&m.point)
            && best.is_none_or(|b| m.point.components().count() >= b.point.components().count())
        {
            best = Some(m);
        }
    }
    best
}

/// The device `major:minor` is, through `/sys/dev/block` (under `sys`):
/// its name, and for a partition the whole disk's name.
fn sysfs_device(sys: &Path, major: u32, minor: u32) -> Option<(String, Option<String>)> {
    let link = sys.join(format!("dev/block/{major}:{minor}"));
    let target = std::fs::read_link(&link).ok()?;
    let name = target.file_name()?.to_string_lossy().into_owned();
    if link.join("partition").exists() {
        // `…/block/vda/vda1`: the disk is the directory above.
        let disk = target.iter().rev().nth(1)?.to_string_lossy().into_owned();
        return Some((disk, Some(name)));
    }
    Some((name, None))
}

/// A device-mapper volume's own name (`/sys/block/dm-0/dm/name`).
fn mapper_name(sys: &Path, name: &str) -> Option<String> {
    let n = std::fs::read_to_string(sys.join(format!("block/{name}/dm/name"))).ok()?;
    Some(n.trim().to_owned()).filter(|n| !n.is_empty())
}

/// `device:` → the device to read. `sys` and `mountinfo` are the real
/// `/sys` and mountinfo text in a run.
fn resolve(device: &str, sys: &Path, mountinfo: &str) -> Result<Target, Failure> {
    if !device.starts_with('/') {
        return Ok(Target {
            name: device.to_owned(),
            mapper: mapper_name(sys, device),
            ..Target::default()
        });
    }
    let cannot = |e: &std::io::Error| {
        Failure::unknown(
            Reason::new(&PATH)
                .with("path", device)
                .with("error", crate::values::io_reason(e)),
        )
    };
    let path = std::fs::canonicalize(device).map_err(|e| cannot(&e))?;
    let meta = std::fs::metadata(&path).map_err(|e| cannot(&e))?;
    let not_listed = |major: u32, minor: u32| {
        Failure::unknown(
            Reason::new(&NO_SYSFS)
                .with("path", device)
                .with("dev", format!("{major}:{minor}")),
        )
    };
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if meta.file_type().is_block_device() {
        // A device node names exactly that device, a partition included.
        let rdev = meta.rdev();
        let (major, minor) = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
        let (disk, part) =
            sysfs_device(sys, major, minor).ok_or_else(|| not_listed(major, minor))?;
        let name = part.unwrap_or(disk);
        return Ok(Target {
            mapper: mapper_name(sys, &name),
            name,
            ..Target::default()
        });
    }
    let all = mounts(mountinfo);
    let Some(m) = mount_of(&all, &path) else {
        return Err(cannot(&std::io::Error::other("not under any mount point")));
    };
    if m.major == 0 {
        // Anonymous devices: tmpfs, overlay, proc, NFS, (btrfs subvolumes).
        return Err(Failure::unknown(
            Reason::new(&NO_BLOCK_DEVICE)
                .with("path", device)
                .with("fstype", &m.fstype)
                .with("source", &m.source),
        ));
    }
    let (name, partition) =
        sysfs_device(sys, m.major, m.minor).ok_or_else(|| not_listed(m.major, m.minor))?;
    Ok(Target {
        mapper: mapper_name(sys, &name),
        name,
        partition,
        mount: Some((m.fstype.clone(), m.point.display().to_string())),
    })
}

fn read_diskstats() -> Result<String, Failure> {
    std::fs::read_to_string(DISKSTATS).map_err(|e| {
        Failure::unknown(
            Reason::new(&UNREADABLE)
                .with("path", DISKSTATS)
                .with("error", crate::values::io_reason(&e)),
        )
    })
}

impl DiskIo {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let mountinfo = std::fs::read_to_string(MOUNTINFO).unwrap_or_default();
        let target = resolve(self.device.trim(), Path::new("/sys"), &mountinfo)?;
        let missing = || Failure::fail(Reason::new(&NO_DEVICE).with("device", target.name.clone()));
        let first = counters(&read_diskstats()?, &target.name).ok_or_else(missing)?;
        let started = Instant::now();
        let sample = self
            .sample
            .map_or(Duration::from_secs(1), |s| s.0)
            .min(ctx.deadline.remaining());
        tokio::time::sleep(sample).await;
        let second = counters(&read_diskstats()?, &target.name).ok_or_else(missing)?;
        let elapsed = started.elapsed();
        let b = busy(&first, &second, elapsed.as_secs_f64() * 1000.0);

        let util_th = self
            .util
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Percent, Some(80.0), Some(95.0)));
        let util = format!("{}%", trim_float(b.util, 1));
        let wait = format!("{}ms", trim_float(b.r#await, 2));
        let name = &target.name;
        let m = Measurement::new(crate::values::reason::say(
            &Reason::new(&V_BUSY)
                .with("util", util.as_str())
                .with("await", wait.as_str()),
        ))
        .metric(
            Metric::new("util", b.util, Unit::Percent, Direction::HigherIsWorse)
                .held_to(util_th)
                .says(format!("{name} {util} util")),
        )
        .metric(
            Metric::new("await", b.r#await, Unit::Millis, Direction::HigherIsWorse)
                .held(&self.r#await)
                .says(format!("{name} await {wait}")),
        )
        .detail(
            Reason::new(&D_DEVICE)
                .with("device", name.as_str())
                .with_opt("partition", target.partition.clone())
                .with_opt("mapper", target.mapper.clone())
                .with_opt(
                    "path",
                    target.mount.as_ref().map(|_| self.device.trim().to_owned()),
                )
                .with_opt("fstype", target.mount.as_ref().map(|m| m.0.clone()))
                .with_opt("mount", target.mount.as_ref().map(|m| m.1.clone())),
        )
        .detail(
            Reason::new(&D_RATES)
                .with_quantity("sample", elapsed.as_millis() as f64, Unit::Millis)
                .with("reads", trim_float(b.reads_per_s, 2))
                .with("writes", trim_float(b.writes_per_s, 2))
                .with("read_kb", trim_float(b.read_kb_per_s, 2))
                .with("write_kb", trim_float(b.write_kb_per_s, 2))
                .with("queue", trim_float(b.queue, 2)),
        );
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::harness::{kind, run};
    use super::*;
    use crate::values::outcome::Status;

    const STATS: &str = "\
 254       0 vda 76589 6866 5416546 123709 25877 55720 38702832 162741 0 19964 291939 9620 52 7413808 5356 2255 130
 254       1 vda1 100 0 800 50 10 0 80 5 0 40 55 0 0 0 0 0 0
   8       0 sda 10 0 20 30 40 0 50 60 0 70 80
";

    #[test]
    fn counters_read_the_fields_iostat_reads() {
        let c = counters(STATS, "vda").unwrap();
        assert_eq!(
            c,
            Counters {
                reads: 76589,
                read_sectors: 5416546,
                read_ms: 123709,
                writes: 25877,
                write_sectors: 38702832,
                write_ms: 162741,
                io_ms: 19964,
                queue_ms: 291939,
                discards: 9620,
                discard_ms: 5356,
            }
        );
        // A kernel before 4.18: no discard fields.
        let old = counters(STATS, "sda").unwrap();
        assert_eq!((old.io_ms, old.discards, old.discard_ms), (70, 0, 0));
        assert!(counters(STATS, "vdb").is_none());
        assert!(counters(STATS, "vd").is_none());
    }

    #[test]
    fn util_and_await_as_iostat_computes_them() {
        let a = Counters::default();
        let b = Counters {
            reads: 10,
            read_ms: 30,
            writes: 30,
            write_ms: 50,
            discards: 0,
            discard_ms: 0,
            io_ms: 250,
            queue_ms: 500,
            read_sectors: 2048,
            write_sectors: 4096,
        };
        let x = busy(&a, &b, 1000.0);
        assert_eq!(x.util, 25.0);
        assert_eq!(x.r#await, 2.0);
        assert_eq!((x.reads_per_s, x.writes_per_s), (10.0, 30.0));
        assert_eq!((x.read_kb_per_s, x.write_kb_per_s), (1024.0, 2048.0));
        assert_eq!(x.queue, 0.5);
        // Busy longer than the sample (ticks rounding): capped at 100%.
        let y = busy(&a, &Counters { io_ms: 1010, ..b }, 1000.0);
        assert_eq!(y.util, 100.0);
        // No request completed: await 0, as iostat prints it.
        assert_eq!(busy(&a, &a, 1000.0).r#await, 0.0);
        // A counter going backwards (a device re-created) is not negative.
        assert_eq!(busy(&b, &a, 1000.0).util, 0.0);
    }

    #[test]
    fn mountinfo_lines_and_the_deepest_mount_point() {
        let text = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
28 27 0:25 / /srv/my\\040data ro shared:1 - tmpfs tmp\\040fs ro
29 27 254:1 / /boot rw - ext4 /dev/vda1 rw
30 29 0:40 / /boot rw - overlay overlay rw
";
        let all = mounts(text);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].point, PathBuf::from("/srv/my data"));
        assert_eq!(all[1].source, "tmp fs");
        let at = |p: &str| mount_of(&all, Path::new(p)).map(|m| (m.major, m.minor));
        assert_eq!(at("/var/log"), Some((254, 0)));
        assert_eq!(at("/srv/my data/x"), Some((0, 25)));
        // Not a prefix by characters: /srv/my is not under /srv/my data.
        assert_eq!(at("/srv/my"), Some((254, 0)));
        // Two mounts on one point: the later hides the earlier.
        assert_eq!(at("/boot/grub"), Some((0, 40)));
    }

    /// A fake /sys: a whole disk, its partition, a device-mapper volume.
    fn fake_sys() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let s = t.path();
        let dev = s.join("devices/pci/virtio/block/vda");
        std::fs::create_dir_all(dev.join("vda1")).unwrap();
        std::fs::write(dev.join("vda1/partition"), "1\n").unwrap();
        std::fs::create_dir_all(s.join("devices/virtual/block/dm-0/dm")).unwrap();
        std::fs::write(s.join("devices/virtual/block/dm-0/dm/name"), "vg-root\n").unwrap();
        std::fs::create_dir_all(s.join("dev/block")).unwrap();
        std::fs::create_dir_all(s.join("block")).unwrap();
        let link = |to: &str, at: &str| std::os::unix::fs::symlink(to, s.join(at)).unwrap();
        link("../../devices/pci/virtio/block/vda", "dev/block/254:0");
        link("../../devices/pci/virtio/block/vda/vda1", "dev/block/254:1");
        link("../../devices/virtual/block/dm-0", "dev/block/253:0");
        link("../devices/virtual/block/dm-0", "block/dm-0");
        t
    }

    #[test]
    fn paths_resolve_to_the_device_that_holds_them() {
        let sys = fake_sys();
        let sys = sys.path();
        assert_eq!(sysfs_device(sys, 254, 0), Some(("vda".to_owned(), None)));
        // A partition: the whole disk, and the partition named.
        assert_eq!(
            sysfs_device(sys, 254, 1),
            Some(("vda".to_owned(), Some("vda1".to_owned())))
        );
        assert_eq!(sysfs_device(sys, 9, 9), None);
        assert_eq!(mapper_name(sys, "dm-0").as_deref(), Some("vg-root"));

        let dir = tempfile::tempdir().unwrap();
        let here = std::fs::canonicalize(dir.path()).unwrap();
        let info = |majmin: &str, fstype: &str| {
            format!(
                "1 0 {majmin} / / rw - ext4 /dev/x rw\n2 1 {majmin} / {} rw - {fstype} src rw\n",
                here.display()
            )
        };
        let p = here.display().to_string();
        let t = resolve(&p, sys, &info("254:1", "ext4")).unwrap();
        assert_eq!(t.name, "vda");
        assert_eq!(t.partition.as_deref(), Some("vda1"));
        assert_eq!(t.mount, Some(("ext4".to_owned(), p.clone())));
        let t = resolve(&p, sys, &info("253:0", "xfs")).unwrap();
        assert_eq!(
            (t.name.as_str(), t.mapper.as_deref()),
            ("dm-0", Some("vg-root"))
        );
        // tmpfs, overlay: no block device, unknown with the reason.
        let f = resolve(&p, sys, &info("0:42", "overlay")).unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "diskio.no_block_device");
        assert_eq!(f.reason.param("fstype"), Some(&"overlay".into()));
        // A device this /sys does not list.
        let f = resolve(&p, sys, &info("8:0", "ext4")).unwrap_err();
        assert_eq!(f.reason.code.code, "diskio.sysfs");
        // A path that is not there.
        let f = resolve("/no/such/path", sys, "").unwrap_err();
        assert_eq!(f.reason.code.code, "diskio.path");
        // A name is taken as it is.
        assert_eq!(resolve("nvme0n1", sys, "").unwrap().name, "nvme0n1");
    }

    #[tokio::test]
    async fn a_missing_device_fails_and_fields_load() {
        let d: DiskIo = kind("device: no-such-disk0\nsample: 10ms").unwrap();
        let f = run(&d, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.reason.code.code, "diskio.no_device");
        assert!(kind::<DiskIo>("device: vda\nsample: 0s").is_err());
        assert!(kind::<DiskIo>("device: ''").is_err());
        assert!(kind::<DiskIo>("device: vda\nawait: {warn: 50ms, fail: 10ms}").is_err());
        assert!(kind::<DiskIo>("device: vda\nutil: {warn: 80%}\nawait: {warn: 20ms}").is_ok());
        assert!(kind::<DiskIo>("{}").is_err());
    }
}

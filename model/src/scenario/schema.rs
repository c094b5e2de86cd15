//! The scenario schema. Field names are the TOML keys; docs/scenarios.md documents each.

use crate::goruntime::{Costs, GcConfig, GcPercent};
use costream_sim::SimDuration;
use serde::Deserialize;

/// Longest run a scenario may ask for: a simulated day.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(24 * 3600);
/// Most published streams one scenario may carry (each is two goroutines and a socket).
pub const MAX_STREAMS: u64 = 4_000_000;
/// `_MaxGomaxprocs` in older Go releases; far above any machine we model.
pub const MAX_GOMAXPROCS: u32 = 1024;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name shown in reports.
    pub name: String,
    /// What the scenario shows, for report headers; left out when `--set` changed the file.
    #[serde(default)]
    pub description: String,
    /// How long to simulate, with which seed and event budget (`[run]`).
    pub run: RunSection,
    /// The media server's Go runtime: GOMAXPROCS, GOGC, GOMEMLIMIT, costs (`[server]`).
    pub server: ServerSection,
    /// The co-streaming rooms: how many, and their hosts and listeners (`[rooms]`).
    #[serde(default)]
    pub rooms: RoomsSection,
    /// Each host's audio stream: Opus frame rate, payload and DTX (`[audio]`).
    #[serde(default)]
    pub audio: crate::media::source::AudioConfig,
    /// Each host's video stream, off by default: frame rate, bitrate, GOP, simulcast (`[video]`).
    #[serde(default)]
    pub video: crate::media::source::VideoConfig,
    /// Each subscriber's jitter buffer and the latency budget its frames must meet (`[receiver]`).
    #[serde(default)]
    pub receiver: crate::media::receiver::JitterBufferConfig,
    /// The participants' links to the server (netem-style delay, jitter, loss) and faults.
    #[serde(default)]
    pub network: NetworkSection,
    /// How the server moves media between its goroutines, and what that costs (`[forwarding]`).
    #[serde(default)]
    pub forwarding: ForwardingSection,
    /// Shedding video to keep audio on time when the server saturates (`[degrade]`).
    #[serde(default)]
    pub degrade: DegradeSection,
    /// The `--set` overrides applied on top of the file (not a TOML key): reports name them,
    /// and leave out the file's `description`, which was written for the file's own values.
    #[serde(skip)]
    pub overrides: Vec<String>,
    /// The program it runs: its `workload` key, resolved in the loader's registry.
    #[serde(skip)]
    pub(super) program: Option<&'static dyn super::Workload>,
    /// The workload sections the file wrote (`[burst]`), type-checked at load; read with
    /// [`Scenario::section`].
    #[serde(skip)]
    pub(super) sections: std::collections::BTreeMap<&'static str, toml::Value>,
}

/// Degradation on the media path when the server saturates (room workload): a gobreaker around
/// video forwarding that sheds video, and keeps audio, while forwarders fall behind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DegradeSection {
    /// Whether the breaker runs; off, video is forwarded however far forwarders fall behind.
    pub enabled: bool,
    /// A video packet that waited longer than this before forwarding counts as a failure.
    #[serde(with = "crate::units::dur")]
    pub max_queue_delay: SimDuration,
    /// Open after this many consecutive failures.
    pub trip_after: u32,
    /// How long video stays shed before probing (gobreaker `Timeout`).
    #[serde(with = "crate::units::dur")]
    pub timeout: SimDuration,
    /// Video packets let through as probes while half-open (gobreaker `MaxRequests`).
    pub max_requests: u32,
    /// `pause` (shed video while open) or `layers` (drop a simulcast layer per trip).
    pub mode: DegradeMode,
    /// Layers mode: a layer comes back after the breaker stayed closed this long.
    #[serde(with = "crate::units::dur")]
    pub upgrade_after: SimDuration,
}

/// How the media path degrades (docs/architectures.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradeMode {
    /// Shed all video while the breaker is open.
    #[default]
    Pause,
    /// Each trip drops one simulcast layer, the last one pauses video; each close restores one.
    Layers,
}

impl Default for DegradeSection {
    fn default() -> Self {
        Self {
            enabled: false,
            max_queue_delay: SimDuration::from_millis(20),
            trip_after: 5,
            timeout: SimDuration::from_secs(1),
            max_requests: 20,
            mode: DegradeMode::Pause,
            upgrade_after: SimDuration::from_secs(5),
        }
    }
}

/// The run's length (`[run]`): its seed, virtual duration and event budget.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The run's seed; `--seed` overrides it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Virtual time to simulate.
    #[serde(with = "crate::units::dur")]
    pub duration: SimDuration,
    /// Event budget; the run stops when it is spent.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
}

fn default_seed() -> u64 {
    1
}
fn default_max_events() -> u64 {
    2_000_000_000
}

/// The media server's Go runtime.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// GOMAXPROCS: how many Ps run Go code at once, 1 to [`MAX_GOMAXPROCS`]. 0 or absent:
    /// Go's default on the machine `[server.os]` describes (its CPUs, and from Go 1.25 the
    /// cgroup quota `[server.stalls] cpu_quota`: `GoVersion::default_gomaxprocs`).
    #[serde(default)]
    pub gomaxprocs: u32,
    /// The Go release the server runs, "1.19" to "1.27" (default: the newest): behaviours that
    /// changed between releases follow it (docs/model.md, "Go versions").
    #[serde(default)]
    pub go_version: crate::goruntime::GoVersion,
    /// `[server.os]`: the host's CPUs and the kernel's scheduler under the runtime (absent:
    /// a CPU for every thread, as if the host had a spare one per P).
    #[serde(default)]
    pub os: Option<crate::goruntime::os::OsConfig>,
    /// GOGC: a percentage, or "off".
    #[serde(default = "default_gogc", deserialize_with = "de_gogc")]
    pub gogc: GcPercent,
    /// GOMEMLIMIT: "off" or a size ("512MiB").
    #[serde(default = "default_memlimit", deserialize_with = "de_memlimit")]
    pub gomemlimit: i64,
    /// GC model parameters (docs/gc.md).
    #[serde(default)]
    pub gc: GcConfig,
    /// Stalls that are not the GC (docs/gc.md).
    #[serde(default)]
    pub stalls: crate::goruntime::StallConfig,
    /// Costs of runtime operations (docs/model.md lists the defaults and their sources).
    #[serde(default)]
    pub costs: Costs,
    /// The host's CPU topology (§4.1); none: Ps are interchangeable.
    #[serde(default)]
    pub topology: Option<crate::goruntime::topology::Topology>,
    /// A goroutine that re-reads the topology and sets GOMAXPROCS (§4.1).
    #[serde(default)]
    pub tuner: crate::goruntime::topology::TunerConfig,
}

/// Co-streaming (连麦) rooms: `hosts_per_room` participants each publish to the server and
/// receive the others.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomsSection {
    /// Co-streaming rooms on the server, 1 to 1000000.
    #[serde(default = "default_rooms")]
    pub count: u32,
    /// Hosts per room, 2 to 64: each publishes its streams and receives the others'.
    #[serde(default = "default_hosts")]
    pub hosts_per_room: u32,
    /// Subscribe-only participants per room (a live stream's audience): they play every host's
    /// streams and publish nothing.
    #[serde(default)]
    pub listeners: u32,
}

impl Default for RoomsSection {
    fn default() -> Self {
        Self {
            count: 1,
            hosts_per_room: 2,
            listeners: 0,
        }
    }
}

fn default_rooms() -> u32 {
    1
}

fn default_gogc() -> GcPercent {
    GcPercent::Percent(100)
}
fn default_memlimit() -> i64 {
    i64::MAX
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrStr {
    I(i64),
    S(String),
}

fn de_gogc<'de, D: serde::Deserializer<'de>>(d: D) -> Result<GcPercent, D::Error> {
    match IntOrStr::deserialize(d)? {
        IntOrStr::I(n) if n < 0 => Ok(GcPercent::Off),
        IntOrStr::I(n) if n > 1_000_000 => Err(serde::de::Error::custom(format!(
            "GOGC of {n} is absurd; use 1 to 1000000 or \"off\""
        ))),
        IntOrStr::I(n) => Ok(GcPercent::Percent(n as u32)),
        IntOrStr::S(s) if s == "off" => Ok(GcPercent::Off),
        IntOrStr::S(s) => s.parse::<u32>().map(GcPercent::Percent).map_err(|_| {
            serde::de::Error::custom(format!("GOGC {s:?} is neither a percentage nor \"off\""))
        }),
    }
}

fn de_memlimit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match IntOrStr::deserialize(d)? {
        IntOrStr::I(n) if n < 0 => Err(serde::de::Error::custom(
            "GOMEMLIMIT must not be negative; use \"off\"",
        )),
        IntOrStr::I(n) => Ok(n),
        IntOrStr::S(s) if s == "off" => Ok(i64::MAX),
        IntOrStr::S(s) => crate::units::parse_bytes(&s)
            .map(|b| b as i64)
            .map_err(serde::de::Error::custom),
    }
}

fn default_hosts() -> u32 {
    2
}

/// The links between the participants and the server (netem/libwebrtc parameters,
/// docs/metrics.md), and scheduled faults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// Participant → server.
    pub uplink: crate::net::link::LinkConfig,
    /// Server → participant.
    pub downlink: crate::net::link::LinkConfig,
    /// Partitions and clogs scheduled on the links (`[[network.faults]]`), in time order.
    pub faults: Vec<Fault>,
}

impl Default for NetworkSection {
    fn default() -> Self {
        let l = crate::net::link::LinkConfig {
            delay: SimDuration::from_millis(20),
            jitter: SimDuration::from_millis(2),
            ..Default::default()
        };
        Self {
            uplink: l.clone(),
            downlink: l,
            faults: Vec::new(),
        }
    }
}

/// A scheduled fault (`[[network.faults]]`), addressed the way a co-streaming scenario thinks:
/// by rooms and direction. The room workload turns it into faults on links.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// `partition` drops every packet; `clog` holds them until the fault ends.
    pub kind: crate::net::FaultKind,
    /// When the fault starts: virtual time since the run's start, within `run.duration`.
    #[serde(with = "crate::units::dur")]
    pub from: costream_sim::SimDuration,
    /// When it ends (after `from`); a clog then delivers what it held.
    #[serde(with = "crate::units::dur")]
    pub until: costream_sim::SimDuration,
    /// `up` (to the server), `down` (from it) or `both`.
    #[serde(default)]
    pub direction: Direction,
    /// Rooms affected (all when empty).
    #[serde(default)]
    pub rooms: Vec<u32>,
}

/// Which way a fault acts, seen from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Participant → server: the uplinks.
    Up,
    /// Server → participant: the downlinks.
    Down,
    /// Both ways (the default).
    #[default]
    Both,
}

/// How the server hands a frame from its receive goroutine to its forwarding goroutine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Handoff {
    /// `ch <- f`: the receive goroutine waits while the channel is full.
    Blocking,
    /// `select { case ch <- f: default: drop }`: a full channel drops the frame.
    Nonblocking,
}

/// How the server forwards media (`[forwarding]`): its goroutine architecture, the handoff
/// between receive and forwarding goroutines, and the CPU each frame costs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingSection {
    /// Capacity of the channel between receive and forwarding goroutines (§2.1: 3).
    pub channel_capacity: u32,
    /// `blocking` (the receive goroutine waits on a full channel) or `nonblocking` (drop); the
    /// default is `nonblocking`.
    pub handoff: Handoff,
    /// CPU per received frame (parse, copy, bookkeeping).
    #[serde(with = "crate::units::dur")]
    pub frame_cpu: SimDuration,
    /// CPU per forwarded copy: LiveKit's benchmark implies ≈ 13 us per audio packet out.
    #[serde(with = "crate::units::dur")]
    pub per_destination_cpu: SimDuration,
    /// Relative spread of CPU costs: each frame's cost is scaled by U(1 - x, 1 + x).
    pub cpu_jitter: f64,
    /// Heap bytes allocated per received frame (a packet buffer; LiveKit's are 1460 B); 0: none.
    #[serde(with = "crate::units::bytes")]
    pub alloc_bytes: u64,
    /// Datagrams per socket read: 1 is `recvmsg`, more is `recvmmsg` (§4.2).
    pub batch: u32,
    /// The simulcast layer forwarded to subscribers (0 = highest).
    pub video_layer: u8,
    /// `per_stream` (a forwardLoop per stream) or `pool` (workers fed through a ring buffer).
    pub architecture: Architecture,
    /// Pool workers; 0 means GOMAXPROCS.
    pub workers: u32,
    /// Packets the pool's ring holds; a full ring drops.
    pub ring_capacity: u32,
    /// Packets a pool worker takes from the ring at a time.
    pub take_batch: u32,
    /// Split architecture: audio forwarders call `runtime.LockOSThread()`.
    pub lock_audio: bool,
    /// Split architecture: one video worker per this many frames per second (seed: 15).
    pub fps_per_worker: u32,
    /// Split architecture: most video workers per stream (seed: 8).
    pub max_video_workers: u32,
    /// Split architecture: how often each stream's scaler measures its frame rate.
    #[serde(with = "crate::units::dur")]
    pub scale_interval: SimDuration,
    /// LiveKit: fan out serially below this many downtracks, in parallel from it (media: 20).
    pub spreader_threshold: u32,
    /// LiveKit: `runtime.NumCPU()`, the parallel fan-out's goroutines (0: GOMAXPROCS). NumCPU
    /// ignores the cgroup quota, so it can exceed GOMAXPROCS.
    pub num_cpu: u32,
    /// LiveKit: downtracks a fan-out goroutine takes at a time (`step`, 2).
    pub spreader_step: u32,
    /// CPU per byte of each forwarded copy (copy, SRTP), on top of `per_destination_cpu`.
    #[serde(with = "crate::units::dur")]
    pub per_byte_cpu: SimDuration,
    /// LiveKit: subscribers NACK missing video packets and downtracks retransmit them.
    pub nack: bool,
}

/// How the server forwards what its recvLoops read (§3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// One goroutine per stream (1:1): recvLoop → channel → forwardLoop.
    #[default]
    PerStream,
    /// recvLoops push into one ring buffer; a fixed pool of workers takes batches from it.
    Pool,
    /// §3.3: audio forwarded by resident goroutines locked to their threads
    /// (`LockOSThread`), video by a per-stream pool that a scaler grows and shrinks with the
    /// frame rate it measures.
    Split,
    /// As LiveKit forwards (`receiver_base.go: forwardRTP`): a forwarder per received layer
    /// fanning out through a `DownTrackSpreader`, per-downtrack key-frame and layer workers, and
    /// a goroutine per NACK to retransmit.
    Livekit,
}

impl Default for ForwardingSection {
    fn default() -> Self {
        Self {
            channel_capacity: 3,
            handoff: Handoff::Nonblocking,
            frame_cpu: SimDuration::from_micros(10),
            per_destination_cpu: SimDuration::from_micros(13),
            cpu_jitter: 0.2,
            alloc_bytes: 0,
            batch: 1,
            video_layer: 0,
            architecture: Architecture::PerStream,
            workers: 0,
            ring_capacity: 4096,
            take_batch: 32,
            lock_audio: true,
            fps_per_worker: 15,
            max_video_workers: 8,
            scale_interval: SimDuration::from_secs(1),
            spreader_threshold: 20,
            num_cpu: 0,
            spreader_step: 2,
            per_byte_cpu: SimDuration::ZERO,
            nack: true,
        }
    }
}

/// A gibibyte, for size limits.
pub(crate) const GIB: u64 = 1 << 30;

/// A failed check: (field, problem, how to fix it).
pub type Invalid = (String, String, String);

/// Where in [`Scenario::validate`] a workload's own checks run, so that a scenario with more
/// than one mistake is told of the same one first as before the checks moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// After the run's and the server's ranges, before the rooms' and the media's.
    Ranges,
    /// After every section's ranges, before the values (NaN, sizes) are checked.
    Sections,
    /// Last of the values, before the run's length is checked against the workload.
    Values,
}

/// Checks each `(field, value, min, max)`; `note` is added to the fix.
pub fn ints_in(fields: &[(&str, u32, u32, u32)], note: &str) -> Result<(), Invalid> {
    for &(name, v, min, max) in fields {
        if v < min || v > max {
            return Err((
                name.to_string(),
                format!("{v} is out of range"),
                format!("use {min} to {max}{note}"),
            ));
        }
    }
    Ok(())
}

/// Checks that `field`'s duration lies in `[min, max]`.
pub fn dur_in(
    field: &str,
    d: SimDuration,
    min: SimDuration,
    max: SimDuration,
) -> Result<(), Invalid> {
    if d < min || d > max {
        Err((
            field.to_string(),
            format!("{d} is out of range"),
            format!("use a value between {min} and {max}"),
        ))
    } else {
        Ok(())
    }
}

/// Checks that `field`'s duration is at most `max`.
pub fn dur_le(field: &str, d: SimDuration, max: SimDuration) -> Result<(), Invalid> {
    if d > max {
        Err((
            field.to_string(),
            format!("{d} is out of range"),
            format!("use at most {max}"),
        ))
    } else {
        Ok(())
    }
}

/// Checks that `field`'s size is at most `max` bytes.
pub fn size_le(field: &str, b: u64, max: u64) -> Result<(), Invalid> {
    if b > max {
        Err((
            field.to_string(),
            format!("{b} bytes is out of range"),
            format!("use at most {max} bytes"),
        ))
    } else {
        Ok(())
    }
}

/// Checks that `field`'s number is finite and in `[min, max]`; `fix` is added to the hint.
pub(crate) fn num_in(field: &str, v: f64, min: f64, max: f64, fix: &str) -> Result<(), Invalid> {
    if v.is_finite() && v >= min && v <= max {
        Ok(())
    } else {
        Err((
            field.to_string(),
            format!("{v} is out of range"),
            format!("use a number from {min} to {max}{fix}"),
        ))
    }
}

impl Scenario {
    /// The pool's worker count: `forwarding.workers`, or GOMAXPROCS when it is 0.
    /// `runtime.NumCPU()` for the LiveKit fan-out: `forwarding.num_cpu`, or GOMAXPROCS.
    pub fn num_cpu(&self) -> u32 {
        match self.forwarding.num_cpu {
            0 => self.server.gomaxprocs,
            n => n,
        }
    }

    /// Workers of the `pool` architecture: `forwarding.workers`, or GOMAXPROCS when that is 0.
    pub fn pool_workers(&self) -> u32 {
        match self.forwarding.workers {
            0 => self.server.gomaxprocs,
            n => n,
        }
    }
}

impl ServerSection {
    /// An unset GOMAXPROCS becomes Go's default for the machine, when `[server.os]` says how
    /// many CPUs it has (else it stays 0, which validation refuses with the fix).
    pub(crate) fn resolve_gomaxprocs(&mut self) {
        if self.gomaxprocs == 0 {
            if let Some(os) = &self.os {
                let quota = self.stalls.cpu_quota;
                let limit = (quota > 0.0).then_some(quota);
                self.gomaxprocs = self.go_version.default_gomaxprocs(os.cpus, limit);
            }
        }
    }

    /// The runtime this section describes.
    pub fn runtime_config(&self) -> crate::goruntime::RuntimeConfig {
        crate::goruntime::RuntimeConfig {
            gomaxprocs: self.gomaxprocs,
            costs: self.costs.clone(),
            sysmon: true,
            gogc: self.gogc,
            memory_limit: self.gomemlimit,
            gc: self.gc.clone(),
            stalls: self.stalls.clone(),
            topology: self.topology.clone(),
            go_version: self.go_version,
            os: self.os.clone(),
        }
    }
}

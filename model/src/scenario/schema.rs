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
    #[serde(default)]
    pub description: String,
    pub run: RunSection,
    pub server: ServerSection,
    #[serde(default)]
    pub rooms: RoomsSection,
    #[serde(default)]
    pub audio: crate::media::source::AudioConfig,
    #[serde(default)]
    pub video: crate::media::source::VideoConfig,
    #[serde(default)]
    pub receiver: crate::media::receiver::JitterBufferConfig,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub forwarding: ForwardingSection,
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
    pub gomaxprocs: u32,
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
    #[serde(default = "default_rooms")]
    pub count: u32,
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
    #[serde(with = "crate::units::dur")]
    pub from: costream_sim::SimDuration,
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
    Up,
    Down,
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingSection {
    /// Capacity of the channel between receive and forwarding goroutines (§2.1: 3).
    pub channel_capacity: u32,
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
pub(crate) fn ints_in(fields: &[(&str, u32, u32, u32)], note: &str) -> Result<(), Invalid> {
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
pub(crate) fn dur_in(
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
pub(crate) fn dur_le(field: &str, d: SimDuration, max: SimDuration) -> Result<(), Invalid> {
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
pub(crate) fn size_le(field: &str, b: u64, max: u64) -> Result<(), Invalid> {
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
    /// Checks ranges serde cannot: returns (field, problem, how to fix it).
    pub fn validate(&self) -> Result<(), Invalid> {
        dur_in(
            "run.duration",
            self.run.duration,
            SimDuration::from_nanos(1),
            MAX_DURATION,
        )?;
        if self.run.max_events == 0 {
            return Err((
                "run.max_events".to_string(),
                "must be at least 1".into(),
                "omit it for the default budget".into(),
            ));
        }
        let g = self.server.gomaxprocs;
        if g == 0 || g > MAX_GOMAXPROCS {
            return Err((
                "server.gomaxprocs".to_string(),
                format!("GOMAXPROCS of {g} is out of range"),
                format!("use 1 to {MAX_GOMAXPROCS}; Go needs at least one P"),
            ));
        }
        self.workload().validate(self, Stage::Ranges)?;
        let r = &self.rooms;
        if r.count == 0 || r.count > 1_000_000 {
            return Err((
                "rooms.count".to_string(),
                format!("{} rooms is out of range", r.count),
                "use 1 to 1000000".into(),
            ));
        }
        if r.hosts_per_room < 2 || r.hosts_per_room > 64 {
            return Err((
                "rooms.hosts_per_room".to_string(),
                format!("{} hosts per room is out of range", r.hosts_per_room),
                "a co-streaming room has 2 to 64 hosts".into(),
            ));
        }
        if r.listeners > 100_000 || r.count as u64 * r.listeners as u64 > MAX_STREAMS {
            return Err((
                "rooms.listeners".to_string(),
                format!(
                    "{} listeners per room in {} rooms is too many",
                    r.listeners, r.count
                ),
                format!("use at most 100000 per room and {MAX_STREAMS} in all"),
            ));
        }
        let streams = r.count as u64 * r.hosts_per_room as u64;
        if streams > MAX_STREAMS {
            return Err(("rooms.count".to_string(),
                format!("{} rooms × {} hosts = {streams} streams (two goroutines each) is more than {MAX_STREAMS}", r.count, r.hosts_per_room),
                "lower rooms.count or rooms.hosts_per_room; docs/performance.md gives memory per goroutine".into(),
            ));
        }
        if self.audio.fps == 0 || self.audio.fps > 1000 {
            return Err((
                "audio.fps".to_string(),
                format!("{} frames per second is out of range", self.audio.fps),
                "use 1 to 1000 (Opus 20 ms frames: 50)".into(),
            ));
        }
        let rc = &self.receiver;
        dur_in(
            "receiver.max_delay",
            rc.max_delay,
            SimDuration::ZERO,
            SimDuration::from_secs(60),
        )?;
        if rc.min_delay > rc.max_delay {
            return Err((
                "receiver.min_delay".to_string(),
                format!(
                    "{} is above receiver.max_delay ({})",
                    rc.min_delay, rc.max_delay
                ),
                "the jitter buffer's target lies between min_delay and max_delay: give min_delay <= max_delay".into(),
            ));
        }
        if rc.window == 0 || rc.window > 100_000 {
            return Err((
                "receiver.window".to_string(),
                format!("{} packets is out of range", rc.window),
                "use 1 to 100000 packets (default 200: 4 s of 50 fps audio)".into(),
            ));
        }
        let sec = SimDuration::from_secs(1);
        for (name, l) in [
            ("network.uplink", &self.network.uplink),
            ("network.downlink", &self.network.downlink),
        ] {
            l.validate().map_err(|(f, p)| {
                (
                    format!("{name}.{f}"),
                    p,
                    "see docs/metrics.md for the link parameters".to_string(),
                )
            })?;
            dur_in(
                &format!("{name}.delay"),
                l.delay,
                SimDuration::ZERO,
                SimDuration::from_secs(10),
            )?;
            dur_in(&format!("{name}.jitter"), l.jitter, SimDuration::ZERO, sec)?;
        }
        if self.video.enabled
            && (self.video.fps == 0 || self.video.fps > 240 || self.video.gop == 0)
        {
            return Err((
                "video.fps".to_string(),
                format!(
                    "fps {} / gop {} is out of range",
                    self.video.fps, self.video.gop
                ),
                "use 1 to 240 fps and a GOP of at least 1".into(),
            ));
        }
        let mut last = SimDuration::ZERO;
        for (i, c) in self.video.fps_schedule.iter().enumerate() {
            let field = format!("video.fps_schedule[{i}]");
            if c.fps == 0 || c.fps > 240 {
                return Err((
                    format!("{field}.fps"),
                    format!("{} is out of range", c.fps),
                    "use 1 to 240 fps".into(),
                ));
            }
            if c.at < last || c.at > self.run.duration {
                return Err((
                    format!("{field}.at"),
                    format!("{} is out of order or past run.duration", c.at),
                    "list changes in time order, within the run".into(),
                ));
            }
            last = c.at;
        }
        if self.forwarding.batch == 0 || self.forwarding.batch > 1024 {
            return Err((
                "forwarding.batch".to_string(),
                format!("{} is out of range", self.forwarding.batch),
                "use 1 (recvmsg) to 1024".into(),
            ));
        }
        let f = &self.forwarding;
        if f.channel_capacity > 1 << 20 {
            return Err((
                "forwarding.channel_capacity".to_string(),
                format!("{} is out of range", f.channel_capacity),
                "use 0 (unbuffered) to 1048576".into(),
            ));
        }
        if f.architecture == Architecture::Pool {
            ints_in(
                &[
                    ("forwarding.workers", f.workers, 0, 1 << 16),
                    ("forwarding.ring_capacity", f.ring_capacity, 1, 1 << 24),
                    ("forwarding.take_batch", f.take_batch, 1, 1 << 16),
                ],
                " (workers: 0 means GOMAXPROCS)",
            )?;
        }
        if f.architecture == Architecture::Split {
            ints_in(
                &[
                    ("forwarding.fps_per_worker", f.fps_per_worker, 1, 240),
                    ("forwarding.max_video_workers", f.max_video_workers, 1, 1024),
                ],
                "",
            )?;
            dur_in(
                "forwarding.scale_interval",
                f.scale_interval,
                SimDuration::from_millis(10),
                SimDuration::from_secs(60),
            )?;
        }
        if f.architecture == Architecture::Livekit {
            ints_in(
                &[
                    ("forwarding.spreader_step", f.spreader_step, 1, 1024),
                    ("forwarding.num_cpu", f.num_cpu, 0, 4096),
                ],
                " (num_cpu: 0 means GOMAXPROCS)",
            )?;
        }
        dur_in(
            "forwarding.per_byte_cpu",
            f.per_byte_cpu,
            SimDuration::ZERO,
            SimDuration::from_micros(1),
        )?;
        dur_in("forwarding.frame_cpu", f.frame_cpu, SimDuration::ZERO, sec)?;
        dur_in(
            "forwarding.per_destination_cpu",
            f.per_destination_cpu,
            SimDuration::ZERO,
            sec,
        )?;
        if !(0.0..1.0).contains(&f.cpu_jitter) {
            return Err((
                "forwarding.cpu_jitter".to_string(),
                format!("{} is out of range", f.cpu_jitter),
                "use a fraction in [0, 1), e.g. 0.2".into(),
            ));
        }
        let c = &self.server.costs;
        for (name, d) in [
            ("server.costs.go_create", c.go_create),
            ("server.costs.context_switch", c.context_switch),
            ("server.costs.m_wake", c.m_wake),
            ("server.costs.epoll_wake", c.epoll_wake),
            ("server.costs.preempt_signal", c.preempt_signal),
        ] {
            dur_in(name, d, SimDuration::ZERO, sec)?;
        }
        if let Some(t) = &self.server.topology {
            t.validate(self.run.duration)?;
        }
        if self.server.tuner.policy != crate::goruntime::topology::TunerPolicy::None {
            if self.server.topology.is_none() {
                return Err((
                    "server.tuner.policy".to_string(),
                    "the tuner reads the CPU topology, and there is none".into(),
                    "add a [server.topology] section (sockets, l3_per_socket, cores_per_l3, threads_per_core)".into(),
                ));
            }
            dur_in(
                "server.tuner.period",
                self.server.tuner.period,
                SimDuration::from_millis(1),
                SimDuration::from_secs(3600),
            )?;
        }
        if self.degrade.enabled
            && self.degrade.mode == DegradeMode::Layers
            && (!self.video.enabled
                || self.video.simulcast_kbps.is_empty()
                || self.forwarding.video_layer != 0)
        {
            return Err((
                "degrade.mode".to_string(),
                "layered degradation needs simulcast video forwarded from its top layer".into(),
                "set video.enabled = true, video.simulcast_kbps = [450, 160] and forwarding.video_layer = 0, or use mode = \"pause\"".into(),
            ));
        }
        if self.degrade.enabled {
            let d = &self.degrade;
            dur_in(
                "degrade.max_queue_delay",
                d.max_queue_delay,
                SimDuration::from_micros(1),
                SimDuration::from_secs(10),
            )?;
            dur_in(
                "degrade.timeout",
                d.timeout,
                SimDuration::from_micros(1),
                SimDuration::from_secs(3600),
            )?;
            if d.trip_after == 0 || d.max_requests == 0 {
                return Err((
                    "degrade.trip_after".to_string(),
                    format!(
                        "trip_after {} / max_requests {} must be at least 1",
                        d.trip_after, d.max_requests
                    ),
                    "use at least 1 for both".into(),
                ));
            }
        }
        self.workload().validate(self, Stage::Sections)?;
        self.validate_values()?;
        self.validate_min_duration()
    }

    /// Values outside their meaning that the checks above do not reach: NaN and infinite
    /// numbers, fractions outside [0, 1], network faults that end before they start, sizes
    /// and durations no run can use.
    fn validate_values(&self) -> Result<(), Invalid> {
        let (sec, minute, hour) = (
            SimDuration::from_secs(1),
            SimDuration::from_secs(60),
            SimDuration::from_secs(3600),
        );
        let a = &self.audio;
        num_in(
            "audio.talk_share",
            a.talk_share,
            0.0,
            1.0,
            " (a fraction of the time)",
        )?;
        ints_in(
            &[("audio.payload_bytes", a.payload_bytes, 1, 1500)],
            " bytes",
        )?;
        let v = &self.video;
        if v.enabled {
            num_in("video.keyframe_factor", v.keyframe_factor, 1.0, 100.0, "")?;
            ints_in(
                &[
                    ("video.bitrate_kbps", v.bitrate_kbps, 1, 100_000),
                    ("video.mtu", v.mtu, 100, 9000),
                ],
                "",
            )?;
            if v.simulcast_kbps.len() > 8 {
                return Err((
                    "video.simulcast_kbps".into(),
                    format!("{} layers is too many", v.simulcast_kbps.len()),
                    "use at most 8 lower layers (LiveKit sends 2)".into(),
                ));
            }
            for (i, &k) in v.simulcast_kbps.iter().enumerate() {
                ints_in(
                    &[(&format!("video.simulcast_kbps[{i}]"), k, 1, v.bitrate_kbps)],
                    " kbit/s (at most the top layer's video.bitrate_kbps)",
                )?;
            }
            if usize::from(self.forwarding.video_layer) > v.simulcast_kbps.len() {
                return Err((
                    "forwarding.video_layer".into(),
                    format!("layer {} does not exist", self.forwarding.video_layer),
                    format!(
                        "use 0 (the top layer) to {} (video.simulcast_kbps adds the lower ones)",
                        v.simulcast_kbps.len()
                    ),
                ));
            }
        }
        dur_le("receiver.budget", self.receiver.budget, minute)?;

        for (i, f) in self.network.faults.iter().enumerate() {
            let field = format!("network.faults[{i}]");
            if f.from >= f.until {
                return Err((
                    field,
                    format!("the fault ends ({}) before it starts ({})", f.until, f.from),
                    "give from < until, e.g. from = \"2s\", until = \"5s\"".into(),
                ));
            }
            if f.from >= self.run.duration {
                return Err((
                    format!("{field}.from"),
                    format!(
                        "{} is not within the run (run.duration = {})",
                        f.from, self.run.duration
                    ),
                    "start the fault before the run ends, or lengthen run.duration".into(),
                ));
            }
            if let Some(r) = f.rooms.iter().find(|&&r| r >= self.rooms.count) {
                return Err((
                    format!("{field}.rooms"),
                    format!("room {r} does not exist"),
                    format!(
                        "rooms are numbered 0 to {} (rooms.count = {})",
                        self.rooms.count - 1,
                        self.rooms.count
                    ),
                ));
            }
        }

        let st = &self.server.stalls;
        num_in(
            "server.stalls.cpu_quota",
            st.cpu_quota,
            0.0,
            4096.0,
            " CPUs per period (0: no limit)",
        )?;
        if st.cpu_quota > 0.0 && st.cpu_quota < 0.01 {
            return Err((
                "server.stalls.cpu_quota".into(),
                format!("{} CPUs per period leaves the server no time to run", st.cpu_quota),
                "use at least 0.01 (the kernel's minimum cfs_quota_us is 1 ms per 100 ms), or 0 for no limit".into(),
            ));
        }
        if st.cpu_quota > 0.0
            && (st.cpu_period < SimDuration::from_millis(1) || st.cpu_period > sec)
        {
            return Err((
                "server.stalls.cpu_period".into(),
                format!("{} is out of range", st.cpu_period),
                "use 1ms to 1s, as cgroup's cpu.cfs_period_us allows (default 100ms)".into(),
            ));
        }
        num_in(
            "server.stalls.random_per_s",
            st.random_per_s,
            0.0,
            10_000.0,
            " pauses per second",
        )?;
        dur_le("server.stalls.random_mean", st.random_mean, minute)?;
        for (i, p) in st.pauses.iter().enumerate() {
            dur_le(
                &format!("server.stalls.pauses[{i}].at"),
                p.at,
                self.run.duration,
            )?;
            dur_le(
                &format!("server.stalls.pauses[{i}].duration"),
                p.duration,
                hour,
            )?;
        }

        let gc = &self.server.gc;
        num_in(
            "server.gc.mark_bytes_per_us",
            gc.mark_bytes_per_us,
            1.0,
            1e9,
            " bytes per microsecond per P",
        )?;
        size_le("server.gc.stack_bytes", gc.stack_bytes, GIB)?;
        size_le("server.gc.globals_bytes", gc.globals_bytes, 64 * GIB)?;
        size_le(
            "server.gc.runtime_overhead_bytes",
            gc.runtime_overhead_bytes,
            64 * GIB,
        )?;
        for (name, d) in [
            ("server.gc.stw_sweep_term_base", gc.stw_sweep_term_base),
            ("server.gc.stw_mark_term_base", gc.stw_mark_term_base),
            ("server.gc.stw_per_p", gc.stw_per_p),
            ("server.gc.stw_per_1k_goroutines", gc.stw_per_1k_goroutines),
            ("server.gc.malloc_base", gc.malloc_base),
            ("server.gc.malloc_per_kib", gc.malloc_per_kib),
            ("server.gc.sweep_per_page", gc.sweep_per_page),
        ] {
            dur_le(name, d, sec)?;
        }
        size_le(
            "forwarding.alloc_bytes",
            self.forwarding.alloc_bytes,
            64 << 20,
        )?;
        dur_le("degrade.upgrade_after", self.degrade.upgrade_after, hour)?;

        self.workload().validate(self, Stage::Values)
    }

    /// A run too short for its workload's first measurement reports nothing, or nonsense (a
    /// P busy for 12,500 % of a 1 ns run): refuse it, saying what the first measurement needs.
    fn validate_min_duration(&self) -> Result<(), Invalid> {
        let floor = SimDuration::from_millis(1);
        let (need, why) = self.workload().min_duration(self);
        let need = need.max(floor);
        if self.run.duration < need {
            return Err((
                "run.duration".into(),
                format!(
                    "{} is too short to measure anything: {why}",
                    self.run.duration
                ),
                format!("use at least {need}; a few seconds give stable percentiles"),
            ));
        }
        Ok(())
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

    pub fn pool_workers(&self) -> u32 {
        match self.forwarding.workers {
            0 => self.server.gomaxprocs,
            n => n,
        }
    }
}

impl ServerSection {
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
        }
    }
}

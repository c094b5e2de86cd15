//! §3.3's split scheduling: audio forwarded by resident goroutines locked to their threads
//! (`runtime.LockOSThread`), video by a per-stream pool of workers that a scaler sizes from the
//! frame rate it measures. The article's controller, as the model runs it:
//!
//! ```go
//! func (c *VidScaler) Scale(targetFPS int) {
//!     desired := int(math.Max(1, math.Min(8, float64(targetFPS)/15)))
//!     delta := desired - len(c.workers)
//!     if delta > 0 {
//!         for i := 0; i < delta; i++ { go c.workerLoop() }
//!     } else if delta < 0 {
//!         c.stopCh <- struct{}{} // one worker leaves per call
//!     }
//! }
//! ```
//!
//! Every `scale_interval` (a `time.Ticker`) the scaler takes `targetFPS` from the RTP
//! timestamps of the frames its stream's recvLoop read since the last tick (frames × 90 kHz /
//! timestamp span), as an SFU's frame-rate estimator does; counting arrivals per wall-clock
//! window instead reads 29 or 31 at a steady 30 fps and makes the article's `/15` flap.

use super::room::{forward_one, Degrade, Forwarder, RoomMetrics, Route};
use crate::goruntime::{Chan, RecvCase};
use crate::scenario::ForwardingSection;
use crate::world::Datagram;
use crate::world::Go;
use costream_sim::{SimRng, SimTime};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The audio forwarder: wired to its own thread for its whole life.
pub(super) async fn audio_loop(
    go: Go,
    ch: Chan<Datagram>,
    route: Rc<Route>,
    fw: ForwardingSection,
    mut cpu_rng: SimRng,
    m: Rc<RefCell<RoomMetrics>>,
) {
    if fw.lock_audio {
        go.lock_os_thread();
    }
    while let Some(d) = ch.recv(&go).await {
        forward_one(
            &go,
            &d,
            &route,
            Forwarder::plain(&fw, None),
            &mut cpu_rng,
            &m,
        )
        .await;
    }
}

/// Workers the article's `Scale` wants for `fps`: `max(1, min(max, fps / per_worker))`.
pub fn desired_workers(fps: u32, per_worker: u32, max: u32) -> u32 {
    (fps / per_worker.max(1)).clamp(1, max.max(1))
}

/// One video stream's elastic pool: its input channel, the stop channel and the frames read.
pub(super) struct VideoPool {
    pub input: Chan<Datagram>,
    stop: Chan<()>,
    /// Frames (marker packets) the stream's recvLoop has read, and the last one's timestamp.
    pub frames: Rc<Cell<(u64, u32)>>,
    route: Rc<Route>,
    degrade: Option<Rc<Degrade>>,
}

impl VideoPool {
    pub fn new(go: &Go, capacity: usize, route: Rc<Route>, degrade: Option<Rc<Degrade>>) -> Self {
        VideoPool {
            input: go.make_chan(capacity),
            stop: go.make_chan(0),
            frames: Rc::new(Cell::new((0, 0))),
            route,
            degrade,
        }
    }
}

/// `VidScaler`: starts with one worker, then resizes every `scale_interval`.
pub(super) async fn vid_scaler(
    go: Go,
    pool: Rc<VideoPool>,
    fw: ForwardingSection,
    stream: u32,
    m: Rc<RefCell<RoomMetrics>>,
) {
    let mut workers = 0u32;
    let mut spawned = 0u64;
    let start = |go: &Go, n: u32, spawned: &mut u64| {
        for _ in 0..n {
            let (pool, fw, m) = (pool.clone(), fw.clone(), m.clone());
            let rng = go.rng("room.video.cpu", ((stream as u64) << 20) | *spawned);
            *spawned += 1;
            go.go("main.videoWorker", move |go| {
                video_worker(go, pool, fw, rng, m)
            });
        }
    };
    start(&go, 1, &mut spawned);
    workers += 1;
    m.borrow_mut().video_workers.change(go.now(), 1);
    let ticker = go.new_ticker(fw.scale_interval);
    let mut last = pool.frames.get();
    while let Some(_tick) = ticker.c.recv(&go).await {
        let now = pool.frames.get();
        let fps = frame_rate(last, now);
        last = now;
        let desired = desired_workers(fps, fw.fps_per_worker, fw.max_video_workers);
        if desired > workers {
            start(&go, desired - workers, &mut spawned);
            m.borrow_mut()
                .video_workers
                .change(go.now(), (desired - workers) as i64);
            workers = desired;
        } else if desired < workers {
            pool.stop.send(&go, ()).await;
            workers -= 1;
            m.borrow_mut().video_workers.change(go.now(), -1);
        }
    }
}

/// `workerLoop`: forwards the stream's packets until told to stop.
async fn video_worker(
    go: Go,
    pool: Rc<VideoPool>,
    fw: ForwardingSection,
    mut cpu_rng: SimRng,
    m: Rc<RefCell<RoomMetrics>>,
) {
    loop {
        let d = {
            let mut input = RecvCase::new(&pool.input);
            let mut stop = RecvCase::new(&pool.stop);
            if go.select(&mut [&mut input, &mut stop]).await == 1 {
                return;
            }
            match input.take() {
                Some(d) => d,
                None => return, // closed
            }
        };
        let how = Forwarder::plain(&fw, pool.degrade.as_deref());
        forward_one(&go, &d, &pool.route, how, &mut cpu_rng, &m).await;
    }
}

/// Frames per second between two (frames read, last RTP timestamp) samples; 0 when fewer than
/// two frames arrived.
pub fn frame_rate((f0, ts0): (u64, u32), (f1, ts1): (u64, u32)) -> u32 {
    let span = ts1.wrapping_sub(ts0);
    if f1 <= f0 || span == 0 {
        return 0;
    }
    ((f1 - f0) as f64 * 90_000.0 / span as f64).round() as u32
}

/// The time series of the video workers alive, for the report.
#[derive(Clone, Debug, Default)]
pub struct WorkerTimeline {
    /// Workers alive now.
    pub now: u32,
    /// The most alive at once.
    pub max: u32,
    /// Workers started.
    pub started: u64,
    /// Workers that exited.
    pub stopped: u64,
    /// (time, workers alive) at each change.
    pub points: Vec<(SimTime, u32)>,
}

impl WorkerTimeline {
    /// `delta` workers started (or, negative, stopped) at `at`.
    pub fn change(&mut self, at: SimTime, delta: i64) {
        if delta > 0 {
            self.started += delta as u64;
        } else {
            self.stopped += (-delta) as u64;
        }
        self.now = (self.now as i64 + delta).max(0) as u32;
        self.max = self.max.max(self.now);
        match self.points.last_mut() {
            Some((t, n)) if *t == at => *n = self.now,
            _ => self.points.push((at, self.now)),
        }
    }

    /// Workers alive at `at`.
    pub fn at(&self, at: SimTime) -> u32 {
        match self.points.partition_point(|&(t, _)| t <= at) {
            0 => 0,
            i => self.points[i - 1].1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The article's table: 15 fps → 1 worker, 24–29 fps → 1, 30 fps → 2, 120+ fps → 8; never 0.
    #[test]
    fn desired_workers_follows_the_seed_formula() {
        assert_eq!(desired_workers(0, 15, 8), 1);
        assert_eq!(desired_workers(15, 15, 8), 1);
        assert_eq!(desired_workers(29, 15, 8), 1);
        assert_eq!(desired_workers(30, 15, 8), 2);
        assert_eq!(desired_workers(60, 15, 8), 4);
        assert_eq!(desired_workers(500, 15, 8), 8);
    }

    /// 30 fps from 90 kHz timestamps 3,000 apart, whatever the window's phase; wrap-safe.
    #[test]
    fn frame_rate_from_rtp_timestamps() {
        assert_eq!(frame_rate((10, 0), (40, 90_000)), 30);
        assert_eq!(frame_rate((10, 0), (39, 87_000)), 30);
        assert_eq!(frame_rate((0, u32::MAX - 2_999), (15, 87_000)), 15);
        assert_eq!(frame_rate((5, 100), (5, 100)), 0);
    }

    #[test]
    fn timeline_counts_and_samples() {
        let mut t = WorkerTimeline::default();
        let s = |ms| SimTime::ZERO + costream_sim::SimDuration::from_millis(ms);
        t.change(s(0), 1);
        t.change(s(0), 1);
        t.change(s(1000), 2);
        t.change(s(3000), -1);
        assert_eq!((t.now, t.max, t.started, t.stopped), (3, 4, 4, 1));
        assert_eq!(t.at(s(500)), 2);
        assert_eq!(t.at(s(2000)), 4);
        assert_eq!(t.at(s(3000)), 3);
        assert_eq!(t.points.len(), 3);
    }
}

//! The impaired endpoint delivers at the link model's times: a rate limit spaces a burst by
//! its serialisation time on top of the path delay.
#![cfg(madsim)]

use costream_madsim::link::ImpairedEndpoint;
use costream_madsim::Bridge;
use costream_net::link::LinkConfig;
use costream_sim::{SimDuration, SimTime};
use madsim::runtime::Handle;

/// Ten 1,250-byte datagrams sent at once over a 1 Mbit/s link with 10 ms of delay arrive 10 ms
/// apart (10,000 bits each), the first 20 ms after sending.
#[madsim::test]
async fn a_rate_limit_spaces_a_burst_by_its_serialisation_time() {
    let bridge = Bridge::new();
    let h = Handle::current();
    let rx = h
        .create_node()
        .name("rx")
        .ip("10.0.0.9".parse().unwrap())
        .build();
    let b = bridge.clone();
    let got = rx.spawn(async move {
        let ep = ImpairedEndpoint::bind(&b, "10.0.0.9:9000", LinkConfig::default())
            .await
            .unwrap();
        let mut at = Vec::new();
        let mut buf = [0u8; 16];
        for _ in 0..10 {
            ep.recv_from(7, &mut buf).await.unwrap();
            at.push(b.now());
        }
        at
    });
    let tx = h
        .create_node()
        .name("tx")
        .ip("10.0.0.8".parse().unwrap())
        .build();
    let b = bridge.clone();
    let sent = tx.spawn(async move {
        let link = LinkConfig {
            delay: SimDuration::from_millis(10),
            rate_kbps: 1000.0,
            ..LinkConfig::default()
        };
        let ep = ImpairedEndpoint::bind(&b, "10.0.0.8:8000", link)
            .await
            .unwrap();
        madsim::time::sleep(std::time::Duration::from_millis(5)).await;
        let sent = b.now();
        for _ in 0..10 {
            ep.send_to("10.0.0.9:9000".parse().unwrap(), 7, b"x", 1250)
                .await
                .unwrap();
        }
        sent
    });
    let at = got.await.unwrap();
    let sent: SimTime = sent.await.unwrap();
    let ms = SimDuration::from_millis;
    for (k, t) in at.iter().enumerate() {
        // The k-th leaves the queue (k + 1) × 10 ms after the burst, then 10 ms of delay.
        let want = sent + ms(10 * (k as u64 + 1) + 10);
        let off = t.max(&want).saturating_since(*t.min(&want));
        assert!(
            off < SimDuration::from_micros(1),
            "datagram {k} at {t}, want {want}; all {at:?}, sent at {sent}"
        );
    }
}

//! Fuzz targets: each feeds bytes from outside (the network, a peer's announcement, a file in
//! /dev/shm, a bag) to the code that parses them, which must answer with a value or an error,
//! never a panic, a hang or an allocation the input did not pay for. `fuzz/` runs them under
//! cargo-fuzz (nightly); `tests` below runs them on stable Rust from a fixed seed, in every
//! `cargo test`, mutating valid inputs (so the parsers get past their first checks).
//!
//! Not part of the API: compiled only with the `fuzzing` feature (which `fuzz/` turns on) and in
//! the crate's own tests.

use crate::codec::{Codec, MsgPack};
use bytes::BytesMut;

/// The TCP frame decoder, fed `data` as it arrives in two pieces, then every frame it yields;
/// and the scan a connection's reader makes of the same bytes, which must find the same frames
/// and refuse the same one.
pub fn frame_decoder(data: &[u8]) {
    use crate::transport::tcp::frame;
    let mut preamble = [0u8; frame::PREAMBLE_LEN];
    let n = data.len().min(frame::PREAMBLE_LEN);
    preamble[..n].copy_from_slice(&data[..n]);
    let _ = frame::check_preamble(&preamble);
    let split = data.len() / 2;
    let pieces = [&data[..split], &data[split..]];
    let (mut decoded, mut decode_error) = (Vec::new(), None);
    let mut buf = BytesMut::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        // Every frame the bytes hold, until they hold no more or are refused.
        loop {
            match frame::decode(&mut buf) {
                Ok(Some(frame)) => {
                    let _ = (frame.name(), frame.wire_len());
                    decoded.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    decode_error = Some(e);
                    break;
                }
            }
        }
        if decode_error.is_some() {
            break;
        }
    }
    let (mut scanned, mut scan_error) = (Vec::new(), None);
    let mut buf = BytesMut::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        let mut found = Vec::new();
        let (used, bad) = frame::scan(&buf, &mut found);
        let chunk = buf.split_to(used).freeze();
        scanned.extend(found.iter().map(|f| f.frame(&chunk)));
        if bad.is_some() {
            scan_error = bad;
            break;
        }
    }
    assert_eq!(scanned, decoded, "scan and decode found different frames");
    assert_eq!(
        scan_error, decode_error,
        "scan and decode refused differently"
    );
}

/// The handshake's hello and a peer's node info, as a connection decodes them.
pub fn handshake_and_node_info(data: &[u8]) {
    if let Ok(hello) = MsgPack.decode::<crate::transport::tcp::link::Hello>(data) {
        let _ = crate::names::check_name("node", &hello.node_name);
        let _ = crate::domain::DomainId::new(&hello.domain);
    }
    if let Ok(info) = MsgPack.decode::<crate::topology::NodeInfo>(data) {
        let mut topology = crate::topology::Topology::default();
        topology.upsert(info.clone());
        for t in &info.topics {
            let _ = crate::topology::way_between(&info, &info, &t.name);
        }
    }
}

/// A registry entry or discovery announcement, as the registry scanner parses it.
pub fn registry_entry(data: &[u8]) {
    let _ = serde_json::from_slice::<crate::discovery::Announcement>(data);
}

/// Shared-memory file validation: `data` as a segment, a chunk file and a doorbell named
/// `name` (a file this call writes into /dev/shm and removes).
pub fn shm_headers(name: &str, data: &[u8]) {
    use crate::transport::shm;
    let path = format!("/dev/shm/{name}");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(mut subscriber) = shm::ShmSubscriber::open(name) {
        // A segment that checks out is read like any other; a bounded number of takes.
        for _ in 0..64 {
            match subscriber.try_recv() {
                Ok(Some(sample)) => {
                    let _ = sample.len();
                }
                _ => break,
            }
        }
    }
    let _ = shm::pool::ChunkMap::open(name).map(|c| c.capacity());
    let _ = shm::Doorbell::open(name).map(|b| b.owner_alive());
    let _ = std::fs::remove_file(&path);
}

/// The bag reader, on a whole file's bytes.
pub fn bag_reader(data: &[u8]) {
    let path = std::path::Path::new("fuzz.mcap");
    if let Ok(bag) = crate::bag::Bag::from_vec(path, data.to_vec()) {
        for m in bag.messages() {
            let _ = m.data.len();
        }
    }
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutation of one of `seeds`: bytes flipped, set to edge values, cut, inserted, spliced.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
            }
            2 => data.truncate(rng.below(data.len() + 1)),
            3 => {
                let i = rng.below(data.len() + 1);
                let extra: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
                data.splice(i..i, extra);
            }
            4 if data.len() >= 4 => {
                // A length field at a random place set huge.
                let i = rng.below(data.len() - 3);
                data[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len() + 1);
                data.extend_from_slice(&other[cut..]);
            }
        }
    }
    data
}

/// Runs `target` on each of `seeds`, then on `runs` inputs from a fixed `seed`: mutations of
/// the seeds (bytes flipped, set to edge values, cut, inserted, spliced) and, one in eight,
/// random bytes. The same arguments give the same inputs: the stable-Rust fallback of a fuzz
/// target (other crates' suites use it too).
pub fn run(target: impl Fn(&[u8]), seeds: Vec<Vec<u8>>, runs: usize, seed: u64) {
    let mut rng = Rng(seed);
    for seed in &seeds {
        target(seed);
    }
    for i in 0..runs {
        let data = if i % 8 == 0 {
            (0..rng.below(512)).map(|_| rng.next() as u8).collect()
        } else {
            mutate(&mut rng, &seeds)
        };
        target(&data);
    }
}

#[cfg(test)]
mod tests {
    //! The stable-Rust fallback of `fuzz/`: every target, from a fixed seed, on mutations of
    //! valid inputs and on random bytes. Counts are fixed, so a run is repeatable.

    use super::*;

    fn frames() -> Vec<Vec<u8>> {
        use crate::codec::CodecId;
        use crate::transport::tcp::frame::{self, Frame, FrameKind};
        let mut seeds = Vec::new();
        for (kind, name, payload) in [
            (
                FrameKind::Topic,
                "some-topic",
                &b"\x92\xa5hello\xa5world"[..],
            ),
            (FrameKind::Hello, "", &b"\x93\xa7default\xa2id\xa4name"[..]),
            (FrameKind::ShmSwitch, "camera/frames", &b""[..]),
        ] {
            let mut out = BytesMut::new();
            out.extend_from_slice(&frame::preamble());
            Frame::new(
                kind,
                CodecId::MsgPack,
                7,
                name,
                bytes::Bytes::copy_from_slice(payload),
            )
            .encode(&mut out);
            seeds.push(out.to_vec());
        }
        seeds
    }

    fn infos() -> Vec<Vec<u8>> {
        let hello = crate::transport::tcp::link::Hello {
            domain: "default".into(),
            node_id: "00112233445566778899aabbccddeeff".into(),
            node_name: "camera".into(),
            certificate: None,
        };
        let mut a = Vec::new();
        MsgPack.encode(&hello, &mut a).unwrap();
        let info = crate::topology::NodeInfo {
            id: hello.node_id.clone(),
            name: "camera".into(),
            domain: "default".into(),
            host_id: "h".into(),
            hostname: "vm".into(),
            pid: 1,
            endpoints: vec!["127.0.0.1:1".parse().unwrap()],
            transports: vec!["tcp".into(), "shm".into()],
            topics: vec![crate::topology::TopicInfo {
                name: "camera/frames".into(),
                role: crate::topology::TopicRole::Publish,
                codec: crate::codec::CodecId::Rkyv,
                codec_name: "rkyv".into(),
                type_name: "Frame".into(),
                qos: crate::qos::Qos::latched(),
            }],
            services: vec![],
            version: 3,
            tool: false,
            shm_topics: vec!["camera/frames".into()],
            shm_reading: vec![("x".into(), "y".into())],
            shm_problems: vec![("x".into(), "y".into(), "z".into())],
            denied: vec![("a".into(), "publish".into(), "b".into())],
        };
        let mut b = Vec::new();
        MsgPack.encode(&info, &mut b).unwrap();
        vec![a, b]
    }

    #[test]
    fn fuzz_frame_decoder() {
        run(frame_decoder, frames(), 50_000, 1);
    }

    #[test]
    fn fuzz_handshake_and_node_info() {
        run(handshake_and_node_info, infos(), 50_000, 2);
    }

    #[test]
    fn fuzz_registry_entry() {
        let seed = br#"{"id":"00112233445566778899aabbccddeeff","name":"n","domain":"default","host_id":"h","pid":1,"endpoints":["127.0.0.1:1"],"version":1,"tool":false,"pid_ns":4026531836}"#;
        run(registry_entry, vec![seed.to_vec()], 50_000, 3);
    }

    #[test]
    fn fuzz_shm_headers() {
        use crate::transport::shm::{ShmConfig, ShmPublisher, segment_name};
        // Seeds: a real segment's bytes, with a message in it, and a real chunk file's.
        let name = segment_name("fuzz", &format!("{:016x}", std::process::id()), "seed");
        let publisher = ShmPublisher::create(
            &name,
            &ShmConfig {
                slots: 8,
                ..Default::default()
            },
        )
        .unwrap();
        publisher.send(1, b"hello").unwrap();
        publisher.send(2, &[7u8; 5000]).unwrap();
        let segment = std::fs::read(format!("/dev/shm/{name}")).unwrap();
        let chunk = std::fs::read(format!("/dev/shm/{name}.c0.1")).unwrap();
        // The copies name this live process as their owner, so they open and are read.
        let target = segment_name("fuzz", &format!("{:016x}", std::process::id()), "target");
        std::fs::write(format!("/dev/shm/{target}"), &segment).unwrap();
        let mut copy = crate::transport::shm::ShmSubscriber::open(&target).unwrap();
        assert!(copy.try_recv().is_ok(), "the seed is a readable segment");
        drop(copy);
        run(|d| shm_headers(&target, d), vec![segment, chunk], 2_000, 4);
        drop(publisher);
    }

    #[test]
    fn fuzz_bag_reader() {
        let dir = std::env::temp_dir().join(format!("rosy-fuzz-bag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed.mcap");
        {
            let mut writer = crate::bag::BagWriter::create(&path).unwrap();
            let channel = writer.channel("topic", "msgpack", "T").unwrap();
            for i in 0..3u8 {
                writer.write(channel, i as u64, i as u64, &[i; 10]).unwrap();
            }
            writer.finish().unwrap();
        }
        let seed = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        run(bag_reader, vec![seed], 3_000, 5);
    }
}

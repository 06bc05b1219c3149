//! Codec encode/decode of 0 B, 1 kB and 1 MB byte payloads (`serde_bytes`), plus a small struct.
//!
//! `cargo bench --bench codec`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rosy::codec::{Codec, Json, MsgPack, Raw};
use serde::{Deserialize, Serialize};
use std::hint::black_box;

#[derive(Serialize, Deserialize)]
struct Frame {
    seq: u64,
    stamp_ns: u64,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

fn bench_codec<C: Codec>(c: &mut Criterion, name: &str, codec: C) {
    let mut group = c.benchmark_group(format!("codec/{name}"));
    for size in [0usize, 1_000, 1_000_000] {
        if name == "json" && size == 1_000_000 {
            continue; // JSON writes bytes as a list of numbers: not for camera frames.
        }
        let frame = Frame {
            seq: 1,
            stamp_ns: 2,
            data: vec![0xab; size],
        };
        let mut encoded = Vec::new();
        codec.encode(&frame, &mut encoded).unwrap();
        group.throughput(Throughput::Bytes(size.max(1) as u64));
        group.bench_with_input(BenchmarkId::new("encode", size), &frame, |b, frame| {
            let mut out = Vec::with_capacity(encoded.len());
            b.iter(|| {
                out.clear();
                codec.encode(black_box(frame), &mut out).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", size), &encoded, |b, bytes| {
            b.iter(|| codec.decode::<Frame>(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

fn bench_raw(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/raw");
    for size in [0usize, 1_000, 1_000_000] {
        let data = serde_bytes::ByteBuf::from(vec![0xab; size]);
        group.throughput(Throughput::Bytes(size.max(1) as u64));
        group.bench_with_input(BenchmarkId::new("encode", size), &data, |b, data| {
            let mut out = Vec::with_capacity(size);
            b.iter(|| {
                out.clear();
                Raw.encode(black_box(data), &mut out).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", size), &data, |b, data| {
            b.iter(|| Raw.decode::<serde_bytes::ByteBuf>(black_box(data)).unwrap())
        });
    }
    group.finish();
}

fn codecs(c: &mut Criterion) {
    bench_codec(c, "msgpack", MsgPack);
    bench_codec(c, "json", Json);
    bench_raw(c);
}

criterion_group!(benches, codecs);
criterion_main!(benches);

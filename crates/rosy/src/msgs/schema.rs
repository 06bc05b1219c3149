//! JSON schemas of the types in `rosy::msgs`, with the field names and shapes of Foxglove's
//! well-known schemas (bytes as base64 strings, enums as integers, times as `{sec, nsec}`), so
//! Foxglove validates and shows JSON messages of these types. Nothing else lives here.

use serde_json::{Value, json};

fn time() -> Value {
    json!({
        "type": "object", "title": "time",
        "properties": {
            "sec": {"type": "integer", "minimum": 0},
            "nsec": {"type": "integer", "minimum": 0, "maximum": 999_999_999}
        }
    })
}

fn numbers(title: &str, names: &[&str]) -> Value {
    let properties: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!({"type": "number"})))
        .collect();
    json!({"type": "object", "title": title, "properties": properties, "required": names})
}

fn vector3() -> Value {
    numbers("foxglove.Vector3", &["x", "y", "z"])
}

fn quaternion() -> Value {
    numbers("foxglove.Quaternion", &["x", "y", "z", "w"])
}

fn base64() -> Value {
    json!({"type": "string", "contentEncoding": "base64"})
}

fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn enumeration(title: &str, names: &[&str]) -> Value {
    let cases: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"title": n, "const": i}))
        .collect();
    json!({"title": title, "oneOf": cases})
}

fn object(title: &str, properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"title": title, "type": "object", "properties": properties, "required": required})
}

pub fn raw_image() -> Value {
    object(
        "foxglove.RawImage",
        json!({
            "timestamp": time(), "frame_id": string(), "width": int(), "height": int(),
            "encoding": string(), "step": int(), "data": base64()
        }),
    )
}

pub fn compressed_image() -> Value {
    object(
        "foxglove.CompressedImage",
        json!({"timestamp": time(), "frame_id": string(), "data": base64(), "format": string()}),
    )
}

pub fn point_cloud() -> Value {
    let field = object(
        "foxglove.PackedElementField",
        json!({
            "name": string(), "offset": int(),
            "type": enumeration("foxglove.NumericType", &[
                "UNKNOWN", "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                "FLOAT64",
            ])
        }),
    );
    object(
        "foxglove.PointCloud",
        json!({
            "timestamp": time(), "frame_id": string(),
            "pose": object("foxglove.Pose", json!({
                "position": vector3(), "orientation": quaternion()
            })),
            "point_stride": int(),
            "fields": {"type": "array", "items": field},
            "data": base64()
        }),
    )
}

pub fn frame_transform() -> Value {
    object(
        "foxglove.FrameTransform",
        json!({
            "timestamp": time(), "parent_frame_id": string(), "child_frame_id": string(),
            "translation": vector3(), "rotation": quaternion()
        }),
    )
}

pub fn log() -> Value {
    object(
        "foxglove.Log",
        json!({
            "timestamp": time(),
            "level": enumeration("foxglove.LogLevel", &[
                "UNKNOWN", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL",
            ]),
            "message": string(), "name": string(), "file": string(), "line": int()
        }),
    )
}

pub fn scalar() -> Value {
    object(
        "rosy.Scalar",
        json!({"timestamp": time(), "value": {"type": "number"}}),
    )
}

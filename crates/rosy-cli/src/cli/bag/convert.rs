//! `rosy bag convert`: rewrites a bag for Foxglove: msgpack, JSON and known rkyv messages become
//! JSON with Foxglove schemas (`rosy::msgs::JsonForm`), the rest keep their bytes, chunks
//! compressed as asked. Reads one file, writes a new one; never joins the mesh, never
//! overwrites a file.

use super::files::failed;
use crate::cli::error::CliError;
use crate::cli::units::human_bytes;
use rosy::bag::{Bag, BagCompression, BagWriter};
use rosy::codec::CodecId;
use rosy::msgs::JsonForm;
use std::collections::HashMap;
use std::path::Path;

pub fn run(
    input: &Path,
    output: &Path,
    compression: BagCompression,
    json: bool,
) -> Result<(), CliError> {
    let bag = Bag::open(input).map_err(failed)?;
    let mut writer = BagWriter::create_compressed(output, compression).map_err(failed)?;
    // Each input channel: the output channel and, when converted, the form and codec.
    let mut channels: HashMap<u16, (u16, Option<(JsonForm, CodecId)>)> = HashMap::new();
    let (mut converted, mut kept, mut undecodable) = (0u64, 0u64, 0u64);
    let result = (|| {
        for m in bag.messages() {
            let c = m.channel;
            if let std::collections::hash_map::Entry::Vacant(slot) = channels.entry(c.id) {
                if let Some(qos) = c.qos {
                    writer.set_qos(&c.topic, qos);
                }
                let codec = CodecId::from_name(&c.encoding);
                let form =
                    codec.and_then(|codec| Some((JsonForm::new(codec, &c.type_name)?, codec)));
                let out = match &form {
                    Some((form, _)) => {
                        writer.json_channel(&c.topic, form.schema().as_ref(), &c.type_name)?
                    }
                    None => writer.channel(&c.topic, &c.encoding, &c.type_name)?,
                };
                slot.insert((out, form));
            }
            let (out, form) = &channels[&c.id];
            let json = form
                .as_ref()
                .map(|(form, codec)| form.convert(*codec, m.data));
            match json {
                Some(Ok(json)) => {
                    writer.write(*out, m.log_time, m.publish_time, &json)?;
                    converted += 1;
                }
                other => {
                    if other.is_some() {
                        undecodable += 1;
                    }
                    let original = writer.channel(&c.topic, &c.encoding, &c.type_name)?;
                    writer.write(original, m.log_time, m.publish_time, m.data)?;
                    kept += 1;
                }
            }
        }
        Ok::<_, rosy::bag::BagError>(())
    })();
    if let Err(e) = result {
        let _ = writer.discard();
        return Err(failed(e));
    }
    writer.finish().map_err(failed)?;
    let size = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "path": output.display().to_string(),
                "converted": converted,
                "kept": kept,
                "undecodable": undecodable,
                "size_bytes": size,
            })
        );
    } else {
        println!(
            "wrote {} ({}): {converted} messages as JSON, {kept} with their own bytes{}",
            output.display(),
            human_bytes(size as f64),
            if undecodable > 0 {
                format!(" ({undecodable} did not decode as their type)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

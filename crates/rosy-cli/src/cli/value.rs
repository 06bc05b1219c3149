//! Values typed on a command line (JSON, or YAML for convenience) and values printed back.

use super::error::CliError;
use serde_json::Value;

/// Parses a VALUE argument: JSON first (`'["hello", "world"]'`, `42`, `'{"a": 1}'`), then YAML
/// (`'[hello, world]'`, `'a: 1'`); a bare word that is neither is taken as a string.
pub fn parse(text: &str) -> Result<Value, CliError> {
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    match serde_saphyr::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        Err(e) => Err(CliError::Usage(format!(
            "VALUE {text:?} is neither JSON nor YAML: {e}"
        ))),
    }
}

/// How messages are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line of JSON per message.
    #[default]
    Json,
    /// A YAML document per message.
    Yaml,
}

/// Formats a value for the terminal.
pub fn show(value: &Value, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>")),
        Format::Yaml => serde_saphyr::to_string(value)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|e| format!("<{e}>")),
    }
}

/// A payload as people read it: decoded msgpack/JSON, else its type, size and a hex preview.
pub fn describe(
    codec: rosy::codec::CodecId,
    type_name: &str,
    payload: &[u8],
    format: Format,
) -> String {
    match rosy::codec::to_display_value(codec, payload) {
        Some(Ok(value)) => show(&value, format),
        Some(Err(e)) => format!("<undecodable {codec}: {e}>"),
        None => {
            let ty = if type_name.is_empty() { "?" } else { type_name };
            format!(
                "<{codec} {ty}, {} bytes> {}",
                payload.len(),
                rosy::codec::hex_preview(payload, 16)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_json_then_yaml() {
        assert_eq!(
            parse(r#"["hello", "world"]"#).unwrap(),
            serde_json::json!(["hello", "world"])
        );
        assert_eq!(
            parse("[hello, world]").unwrap(),
            serde_json::json!(["hello", "world"])
        );
        assert_eq!(parse("a: 1").unwrap(), serde_json::json!({"a": 1}));
        assert_eq!(parse("42").unwrap(), serde_json::json!(42));
        assert!(parse("[unclosed").is_err());
    }
}

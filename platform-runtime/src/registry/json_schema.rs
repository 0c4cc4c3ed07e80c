//! Walks over the JSON Schemas of arguments: the properties and required names of an
//! object schema, string arguments coerced to the types a schema asks for (prompt arguments
//! and URI template variables arrive as strings), enum values for completion, and whether a
//! schema binds arguments to HTTP headers. Every walk is bounded: `$ref`s are followed one
//! step, unions at most 32 levels deep.

use rmcp::model::JsonObject;
use serde_json::Value;

pub(super) fn properties(schema: &JsonObject) -> impl Iterator<Item = (&String, &JsonObject)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.iter())
        .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
}

pub(super) fn required_names(schema: &JsonObject) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve a property schema through a local `$ref` (`#/$defs/Name`).
fn resolve<'a>(root: &'a JsonObject, schema: &'a JsonObject) -> &'a JsonObject {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs")?.get(name)?.as_object())
        .unwrap_or(schema)
}

/// Whether a value valid for `schema` may be a string: a `string` type, a union or enum
/// with a string in it, or no constraint at all (`{}`, what a `serde_json::Value` parameter
/// gets). Unions are followed at most 32 levels deep, so a recursive schema ends.
fn accepts_string(root: &JsonObject, schema: &JsonObject) -> bool {
    accepts_string_within(root, schema, 32)
}

fn accepts_string_within(root: &JsonObject, schema: &JsonObject, depth: u32) -> bool {
    let schema = resolve(root, schema);
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        Some(_) => false,
        None => {
            const CONSTRAINTS: &[&str] = &[
                "anyOf",
                "oneOf",
                "allOf",
                "not",
                "enum",
                "const",
                "$ref",
                "properties",
                "additionalProperties",
                "items",
                "required",
            ];
            if !CONSTRAINTS.iter().any(|key| schema.contains_key(*key)) {
                return true;
            }
            depth > 0
                && ["anyOf", "oneOf"].iter().any(|key| {
                    schema
                        .get(*key)
                        .and_then(Value::as_array)
                        .is_some_and(|variants| {
                            variants
                                .iter()
                                .filter_map(Value::as_object)
                                .any(|v| accepts_string_within(root, v, depth - 1))
                        })
                })
                || schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|values| values.iter().all(Value::is_string))
                || schema.get("const").is_some_and(Value::is_string)
        }
    }
}

/// Turn string-valued arguments (prompt arguments, URI template variables) into the JSON
/// the schema expects: numbers and booleans are parsed, strings stay strings.
pub(crate) fn coerce_strings(schema: &JsonObject, values: JsonObject) -> JsonObject {
    let props = schema.get("properties").and_then(Value::as_object);
    values
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => {
                    let wants_string = props
                        .and_then(|p| p.get(&name))
                        .and_then(Value::as_object)
                        .is_none_or(|prop| accepts_string(schema, prop));
                    if wants_string {
                        Value::String(text)
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    }
                }
                other => other,
            };
            (name, value)
        })
        .collect()
}

/// The completion candidates of one property: its enum values, if it is an enum.
pub(crate) fn enum_values(schema: &JsonObject, property: &str) -> Vec<String> {
    let Some(prop) = schema
        .get("properties")
        .and_then(|p| p.get(property))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let prop = resolve(schema, prop);
    let mut values: Vec<String> = prop
        .get("enum")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = prop.get(key).and_then(Value::as_array) {
            for variant in variants.iter().filter_map(Value::as_object) {
                let variant = resolve(schema, variant);
                if let Some(c) = variant.get("const").and_then(Value::as_str) {
                    values.push(c.to_owned());
                }
                if let Some(e) = variant.get("enum").and_then(Value::as_array) {
                    values.extend(e.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
            }
        }
    }
    values
}

/// Whether a JSON Schema mentions `x-mcp-header` anywhere.
pub(crate) fn mentions_header_binding(schema: &serde_json::Value) -> bool {
    match schema {
        serde_json::Value::Object(object) => object
            .iter()
            .any(|(key, value)| key == "x-mcp-header" || mentions_header_binding(value)),
        serde_json::Value::Array(items) => items.iter().any(mentions_header_binding),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_coerced_to_the_schema_types() {
        let schema: JsonObject = serde_json::from_value(serde_json::json!({
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "name": { "type": "string" },
                "flag": { "type": ["boolean", "null"] },
                "code": { "type": "string", "enum": ["a", "b"] }
            }
        }))
        .unwrap();
        let input: JsonObject = serde_json::from_value(serde_json::json!({
            "id": "42", "name": "42", "flag": "true", "code": "a", "extra": "7"
        }))
        .unwrap();
        let out = coerce_strings(&schema, input);
        assert_eq!(
            Value::Object(out),
            serde_json::json!({ "id": 42, "name": "42", "flag": true, "code": "a", "extra": "7" })
        );
        // An unconstrained property (a `serde_json::Value` parameter) keeps its string,
        // even one that reads as JSON.
        let any: JsonObject =
            serde_json::from_value(serde_json::json!({ "properties": { "v": {} } })).unwrap();
        let input: JsonObject =
            serde_json::from_value(serde_json::json!({ "v": "\"quoted\"" })).unwrap();
        assert_eq!(
            Value::Object(coerce_strings(&any, input)),
            serde_json::json!({ "v": "\"quoted\"" })
        );
        // A recursive union ends.
        let recursive: JsonObject = serde_json::from_value(serde_json::json!({
            "properties": { "v": { "$ref": "#/$defs/A" } },
            "$defs": { "A": { "anyOf": [{ "$ref": "#/$defs/A" }] } }
        }))
        .unwrap();
        let input: JsonObject = serde_json::from_value(serde_json::json!({ "v": "1" })).unwrap();
        assert_eq!(
            Value::Object(coerce_strings(&recursive, input)),
            serde_json::json!({ "v": 1 })
        );
        assert_eq!(enum_values(&schema, "code"), vec!["a", "b"]);
        assert!(enum_values(&schema, "name").is_empty());
    }
}

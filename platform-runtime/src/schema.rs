//! JSON Schema generation (schemars, draft 2020-12) for inputs and outputs.

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The input schema of an argument type: the deserialize contract, with the generated
/// type's name removed (clients show the tool's own name and description).
pub fn input_schema_for<T: JsonSchema>() -> JsonObject {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = into_object(schema.to_value());
    tidy_root(&mut object);
    if object.get("type").is_none()
        && !object.contains_key("anyOf")
        && !object.contains_key("oneOf")
    {
        object.insert("type".into(), Value::String("object".into()));
    }
    object
}

/// The schema of an output type: the serialize contract.
pub(crate) fn output_schema_for<T: JsonSchema + ?Sized>() -> JsonObject {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = into_object(schema.to_value());
    tidy_root(&mut object);
    object
}

/// Wrap a non-object schema as `{"type":"object","properties":{"result":…}}`, keeping the
/// shared definitions at the root where `$ref`s expect them.
pub(crate) fn wrap_result(mut inner: JsonObject) -> JsonObject {
    let defs = inner.remove("$defs");
    let mut properties = JsonObject::new();
    properties.insert("result".into(), Value::Object(inner));
    let mut root = JsonObject::new();
    root.insert("type".into(), Value::String("object".into()));
    root.insert("properties".into(), Value::Object(properties));
    root.insert(
        "required".into(),
        Value::Array(vec![Value::String("result".into())]),
    );
    if let Some(defs) = defs {
        root.insert("$defs".into(), defs);
    }
    root
}

fn into_object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        // `true` accepts anything: say so as an empty schema.
        _ => JsonObject::new(),
    }
}

fn tidy_root(object: &mut JsonObject) {
    object.remove("$schema");
    object.remove("title");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(dead_code)]
    #[derive(JsonSchema, serde::Deserialize)]
    struct Args {
        /// the city
        city: String,
        units: Option<String>,
    }

    #[test]
    fn input_schema_lists_required_and_optional_fields() {
        let schema = input_schema_for::<Args>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["city"]));
        assert_eq!(schema["properties"]["city"]["description"], "the city");
        assert!(schema.get("title").is_none());
        assert!(schema.get("$schema").is_none());
    }

    #[test]
    fn wrapping_keeps_definitions_at_the_root() {
        let wrapped = wrap_result(output_schema_for::<Vec<i32>>());
        assert_eq!(wrapped["properties"]["result"]["type"], "array");
        assert_eq!(wrapped["required"], serde_json::json!(["result"]));
    }
}

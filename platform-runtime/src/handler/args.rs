//! Arguments: the input schema built from each parameter's type, and the typed extraction
//! of each argument from the client's JSON object.
//!
//! Generated code checks each parameter type once, at one call site spanned at the user's
//! type, and keeps the returned function pointer for the request path: one clear error per
//! mistake, and no trait dispatch per call.

use std::future::Future;
use std::pin::Pin;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::extract::{FromContext, RequestParts, parse_arguments};
use crate::ToolError;

/// A type usable as an argument: anything `Deserialize + JsonSchema`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument",
    label = "arguments need `Deserialize` and `JsonSchema`",
    note = "add `#[derive(Deserialize, JsonSchema)]` to `{Self}` (both in `platform_runtime::prelude`)",
    note = "if `{Self}` should come from the request rather than the client, implement `FromContext` for it and mark the parameter `#[extract]`"
)]
pub trait Argument {
    /// Add this type's schema to the generator.
    fn argument_schema(generator: &mut SchemaGenerator) -> schemars::Schema;
    /// Deserialize a value, naming the offending path inside it on failure.
    fn from_argument(value: Value, name: &str) -> Result<Self, ToolError>
    where
        Self: Sized;
}

impl<T: DeserializeOwned + JsonSchema> Argument for T {
    fn argument_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<T>()
    }

    fn from_argument(value: Value, name: &str) -> Result<Self, ToolError> {
        // The common case pays nothing for path tracking; a failure is deserialized again
        // with it, to name the offending field.
        if let Ok(parsed) = T::deserialize(&value) {
            return Ok(parsed);
        }
        serde_path_to_error::deserialize::<_, T>(&value).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path.is_empty() || path == "." {
                ToolError::invalid_arguments(format!("invalid argument `{name}`: {inner}"))
            } else {
                ToolError::invalid_arguments(format!("invalid argument `{name}.{path}`: {inner}"))
            }
        })
    }
}

/// Takes one argument out of the argument object.
pub type Taker<T> = fn(&mut JsonObject, &'static str) -> Result<T, ToolError>;

/// Takes the whole argument object.
pub type WholeTaker<T> = fn(JsonObject) -> Result<T, ToolError>;

/// Runs an extractor.
pub type Extractor<T> =
    for<'a> fn(&'a RequestParts) -> Pin<Box<dyn Future<Output = Result<T, ToolError>> + Send + 'a>>;

/// The object schema of a component's arguments, built property by property.
pub struct ObjectSchema {
    generator: SchemaGenerator,
    properties: JsonObject,
    required: Vec<Value>,
}

impl Default for ObjectSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectSchema {
    /// An empty object schema.
    pub fn new() -> Self {
        Self {
            generator: SchemaSettings::draft2020_12().into_generator(),
            properties: JsonObject::new(),
            required: Vec::new(),
        }
    }

    /// Add a property of type `T` and return the function that takes it from the arguments.
    pub fn property<T: Argument>(
        &mut self,
        name: &'static str,
        description: Option<&str>,
        required: bool,
    ) -> Taker<T> {
        let mut schema = T::argument_schema(&mut self.generator).to_value();
        if let (Some(description), Value::Object(object)) = (description, &mut schema) {
            object.insert("description".into(), Value::String(description.to_owned()));
        }
        self.properties.insert(name.to_owned(), schema);
        if required {
            self.required.push(Value::String(name.to_owned()));
        }
        take::<T>
    }

    /// The finished schema: `{"type":"object","properties":…,"required":…,"$defs":…}`.
    pub fn build(mut self) -> JsonObject {
        let mut root = JsonObject::new();
        root.insert("type".into(), Value::String("object".into()));
        root.insert("properties".into(), Value::Object(self.properties));
        if !self.required.is_empty() {
            root.insert("required".into(), Value::Array(self.required));
        }
        let defs = self.generator.take_definitions(true);
        if !defs.is_empty() {
            root.insert("$defs".into(), Value::Object(defs));
        }
        root
    }
}

fn take<T: Argument>(arguments: &mut JsonObject, name: &'static str) -> Result<T, ToolError> {
    match arguments.remove(name) {
        Some(value) => T::from_argument(value, name),
        // A missing argument is `null`: `Option<T>` becomes `None`, anything else is an error.
        None => T::from_argument(Value::Null, name).map_err(|_| {
            ToolError::invalid_arguments(format!("missing required argument `{name}`"))
        }),
    }
}

/// The schema of a `Params<T>` struct and the function that parses the whole object.
pub fn whole<T: Argument + DeserializeOwned + JsonSchema>() -> (JsonObject, WholeTaker<T>) {
    (crate::schema::input_schema_for::<T>(), parse_arguments::<T>)
}

/// Check an extractor type once and return the function that runs it.
pub fn extractor<T: FromContext + 'static>() -> Extractor<T> {
    |parts| Box::pin(T::from_context(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, JsonSchema, Debug, PartialEq)]
    struct Point {
        x: i32,
    }

    #[test]
    fn properties_carry_descriptions_requiredness_and_shared_definitions() {
        let mut schema = ObjectSchema::new();
        let _ = schema.property::<Point>("origin", Some("where to start"), true);
        let _ = schema.property::<Option<String>>("label", None, false);
        let schema = schema.build();
        assert_eq!(schema["required"], serde_json::json!(["origin"]));
        assert_eq!(
            schema["properties"]["origin"]["description"],
            "where to start"
        );
        assert_eq!(schema["properties"]["origin"]["$ref"], "#/$defs/Point");
        assert_eq!(
            schema["$defs"]["Point"]["properties"]["x"]["type"],
            "integer"
        );
    }

    #[test]
    fn taking_arguments_names_the_path_and_handles_missing_ones() {
        let mut args: JsonObject =
            serde_json::from_value(serde_json::json!({ "p": { "x": "one" } })).unwrap();
        let error = take::<Point>(&mut args, "p").unwrap_err();
        assert!(
            error
                .message()
                .starts_with("invalid argument `p.x`: invalid type: string"),
            "{error}"
        );
        assert_eq!(take::<Option<u8>>(&mut args, "q").unwrap(), None);
        let missing = take::<u8>(&mut args, "q").unwrap_err();
        assert_eq!(missing.message(), "missing required argument `q`");
    }
}

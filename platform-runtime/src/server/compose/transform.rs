//! Transforms a mount applies to its source's components before naming them: rename, new
//! title or description, tags, hide; for tools, arguments hidden, fixed to a value the
//! client never sees, renamed or described — the input schema rewritten to match and the
//! arguments mapped back before the handler runs; and the version of a tool offered.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value;

use crate::ToolError;
use crate::registry::{Components, PromptDef, ResourceDef, ToolDef, ToolHandler};

/// What a mount changes about one of its tools ([`crate::Mount::tool`]).
///
/// ```
/// use platform_runtime::prelude::*;
/// # struct Weather;
/// # #[server] impl Weather {
/// #     /// Current conditions.
/// #     #[tool] fn current(&self, city: String, units: Option<String>) -> String { city }
/// # }
/// let server = Server::builder("acme")
///     .mount_with("weather", Weather, |m| {
///         m.tool("current", |t| {
///             t.rename("now")
///                 .description("Conditions right now, in metric units.")
///                 .fix_argument("units", json!("metric"))
///                 .tags(["weather"])
///         })
///     })
///     .build()
///     .unwrap();
/// let tool = &server.manifest()["tools"][0];
/// assert_eq!(tool["name"], "weather_now");
/// assert!(tool["inputSchema"]["properties"].get("units").is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a transform does nothing until it is returned to `Mount::tool`"]
pub struct ToolTransform {
    name: Option<String>,
    title: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
    hidden: bool,
    arguments: Vec<(String, ArgumentChange)>,
}

#[derive(Debug, Clone)]
enum ArgumentChange {
    Hide,
    Fix(Value),
    Rename(String),
    Describe(String),
}

impl ToolTransform {
    /// Offer the tool under another name (the mount's prefix is still added).
    pub fn rename(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A new human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Add tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Leave the tool out of this mount.
    pub fn hide(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Remove an optional argument: clients no longer see it, and a call naming it is
    /// refused; the handler gets it absent.
    pub fn hide_argument(mut self, argument: impl Into<String>) -> Self {
        self.arguments.push((argument.into(), ArgumentChange::Hide));
        self
    }

    /// Remove an argument and always call the handler with `value` for it: clients never
    /// see it, and a call naming it is refused.
    pub fn fix_argument(mut self, argument: impl Into<String>, value: Value) -> Self {
        self.arguments
            .push((argument.into(), ArgumentChange::Fix(value)));
        self
    }

    /// Offer an argument under another name.
    pub fn rename_argument(mut self, argument: impl Into<String>, name: impl Into<String>) -> Self {
        self.arguments
            .push((argument.into(), ArgumentChange::Rename(name.into())));
        self
    }

    /// A new description of an argument.
    pub fn describe_argument(
        mut self,
        argument: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.arguments.push((
            argument.into(),
            ArgumentChange::Describe(description.into()),
        ));
        self
    }
}

/// What a mount changes about one of its prompts or resources ([`crate::Mount::prompt`],
/// [`crate::Mount::resource`]).
#[derive(Debug, Clone, Default)]
#[must_use = "a transform does nothing until it is returned to the mount"]
pub struct Transform {
    name: Option<String>,
    title: Option<String>,
    description: Option<String>,
    hidden: bool,
}

impl Transform {
    /// Offer the prompt under another name (the mount's prefix is still added); for a
    /// resource, its `name` field.
    pub fn rename(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A new human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Leave the component out of this mount.
    pub fn hide(mut self) -> Self {
        self.hidden = true;
        self
    }
}

/// Every transform of one mount, by the names (URIs) the source gives its components.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transforms {
    pub(crate) tools: Vec<(String, ToolTransform)>,
    pub(crate) prompts: Vec<(String, Transform)>,
    pub(crate) resources: Vec<(String, Transform)>,
    /// Tool name → the version this mount offers.
    pub(crate) versions: Vec<(String, String)>,
}

impl Transforms {
    pub(crate) fn is_empty(&self) -> bool {
        self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty()
            && self.versions.is_empty()
    }

    /// Apply to `components` (named as the source names them); problems name the mount.
    /// Unless `strict`, a transform naming a component that is not there is no problem
    /// (it may be a remote server's, listed later).
    pub(crate) fn apply(
        &self,
        prefix: &str,
        components: &mut Components,
        problems: &mut Vec<String>,
        strict: bool,
    ) {
        for (name, version) in &self.versions {
            let versions: Vec<_> = components
                .tools
                .iter()
                .filter(|t| t.name() == name)
                .filter_map(|t| t.version.clone())
                .collect();
            if !versions.iter().any(|v| v == version) {
                if !strict && versions.is_empty() {
                    continue;
                }
                problems.push(format!(
                    "mount `{prefix}` selects version `{version}` of tool `{name}`, which has {}",
                    if versions.is_empty() {
                        "no versions".to_owned()
                    } else {
                        format!("versions {}", versions.join(", "))
                    }
                ));
                continue;
            }
            components
                .tools
                .retain(|t| t.name() != name || t.version.as_deref() == Some(version));
        }
        for (name, transform) in &self.tools {
            let mut found = false;
            for tool in components.tools.iter_mut().filter(|t| t.name() == name) {
                found = true;
                if let Err(problem) = transform_tool(tool, transform) {
                    problems.push(format!("mount `{prefix}`, tool `{name}`: {problem}"));
                }
            }
            if !found && strict {
                problems.push(format!(
                    "mount `{prefix}` transforms tool `{name}`, which its server does not have"
                ));
            }
            if transform.hidden {
                components.tools.retain(|t| t.name() != name);
            }
        }
        for (name, transform) in &self.prompts {
            let Some(prompt) = components.prompts.iter_mut().find(|p| p.name() == name) else {
                if strict {
                    problems.push(format!(
                        "mount `{prefix}` transforms prompt `{name}`, which its server does not have"
                    ));
                }
                continue;
            };
            transform_prompt(prompt, transform);
            if transform.hidden {
                components.prompts.retain(|p| p.name() != name);
            }
        }
        for (uri, transform) in &self.resources {
            let Some(resource) = components.resources.iter_mut().find(|r| r.uri() == uri) else {
                if strict {
                    problems.push(format!(
                        "mount `{prefix}` transforms resource `{uri}`, which its server does not have"
                    ));
                }
                continue;
            };
            transform_resource(resource, transform);
            if transform.hidden {
                components.resources.retain(|r| r.uri() != uri);
            }
        }
    }
}

fn transform_prompt(prompt: &mut PromptDef, transform: &Transform) {
    if let Some(name) = &transform.name {
        *prompt = prompt.clone().renamed(name.clone());
    }
    if let Some(title) = &transform.title {
        prompt.title = Some(title.clone());
    }
    if let Some(description) = &transform.description {
        prompt.description = Some(description.clone());
    }
}

fn transform_resource(resource: &mut ResourceDef, transform: &Transform) {
    if let Some(name) = &transform.name {
        resource.name.clone_from(name);
    }
    if let Some(title) = &transform.title {
        resource.title = Some(title.clone());
    }
    if let Some(description) = &transform.description {
        resource.description = Some(description.clone());
    }
}

/// How a call's arguments map back to what the handler declared.
#[derive(Debug, Default)]
struct ArgumentMap {
    /// Arguments clients may not name (hidden or fixed), as the handler names them.
    refused: Vec<String>,
    /// Client name → handler name.
    renamed: Vec<(String, String)>,
    /// Handler name → the value it always gets.
    fixed: Vec<(String, Value)>,
}

impl ArgumentMap {
    fn map(
        &self,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> Result<Option<serde_json::Map<String, Value>>, ToolError> {
        let mut arguments = arguments.unwrap_or_default();
        for name in &self.refused {
            if arguments.contains_key(name) {
                return Err(ToolError::invalid_params(format!(
                    "unknown argument `{name}`"
                )));
            }
        }
        for (client, handler) in &self.renamed {
            if arguments.contains_key(handler) {
                return Err(ToolError::invalid_params(format!(
                    "unknown argument `{handler}`; it is named `{client}`"
                )));
            }
            if let Some(value) = arguments.remove(client) {
                arguments.insert(handler.clone(), value);
            }
        }
        for (name, value) in &self.fixed {
            arguments.insert(name.clone(), value.clone());
        }
        Ok(Some(arguments))
    }
}

fn transform_tool(tool: &mut ToolDef, transform: &ToolTransform) -> Result<(), String> {
    if let Some(name) = &transform.name {
        *tool = tool.clone().renamed(name.clone());
    }
    if let Some(title) = &transform.title {
        tool.descriptor.title = Some(title.clone());
    }
    if let Some(description) = &transform.description {
        tool.set_description(description.clone());
    }
    tool.tags.extend(transform.tags.iter().cloned());
    if transform.arguments.is_empty() {
        return Ok(());
    }
    let mut map = ArgumentMap::default();
    let schema = tool.input_schema_mut();
    for (argument, change) in &transform.arguments {
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|n| n == argument));
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            return Err(format!("it has no argument `{argument}`"));
        };
        if !properties.contains_key(argument) {
            return Err(format!("it has no argument `{argument}`"));
        }
        match change {
            ArgumentChange::Hide if required => {
                return Err(format!(
                    "`{argument}` is required, so it cannot be hidden; fix it to a value with `fix_argument`"
                ));
            }
            ArgumentChange::Hide | ArgumentChange::Fix(_) => {
                properties.remove(argument);
                map.refused.push(argument.clone());
                if let ArgumentChange::Fix(value) = change {
                    map.fixed.push((argument.clone(), value.clone()));
                }
                remove_required(schema, argument, None);
            }
            ArgumentChange::Rename(name) => {
                if properties.contains_key(name) || map.refused.contains(name) {
                    return Err(format!(
                        "`{argument}` cannot be renamed `{name}`: it already has an argument `{name}`"
                    ));
                }
                if let Some(property) = properties.remove(argument) {
                    properties.insert(name.clone(), property);
                }
                map.renamed.push((name.clone(), argument.clone()));
                remove_required(schema, argument, Some(name));
            }
            ArgumentChange::Describe(description) => {
                if let Some(Value::Object(property)) = properties.get_mut(argument) {
                    property.insert("description".into(), Value::String(description.clone()));
                }
            }
        }
    }
    let map = Arc::new(map);
    let handler: ToolHandler = tool.handler.clone();
    tool.handler = Arc::new(move |mut parts| match map.map(parts.arguments.take()) {
        Ok(arguments) => {
            parts.arguments = arguments;
            handler(parts)
        }
        Err(error) => Box::pin(async move { Err(error) }),
    });
    Ok(())
}

/// Drop `argument` from the schema's `required` list, or rename it there to `renamed`.
fn remove_required(
    schema: &mut serde_json::Map<String, Value>,
    argument: &str,
    renamed: Option<&String>,
) {
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        match renamed {
            Some(name) => {
                for entry in required.iter_mut().filter(|n| *n == argument) {
                    *entry = Value::String(name.clone());
                }
            }
            None => required.retain(|n| n != argument),
        }
    }
}

/// Compare two versions by their dot-separated parts: numerically where both parts are
/// numbers, as text otherwise; a version that runs out of parts first is lower.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_part_by_part() {
        assert_eq!(compare_versions("2", "10"), Ordering::Less);
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1"), Ordering::Greater);
        assert_eq!(compare_versions("1.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(compare_versions("beta", "alpha"), Ordering::Greater);
        assert_eq!(
            compare_versions("2", "2-rc"),
            Ordering::Less,
            "text order where a part is not a number"
        );
    }

    #[test]
    fn arguments_map_back_to_the_handler_s_names() {
        let map = ArgumentMap {
            refused: vec!["units".into(), "debug".into()],
            renamed: vec![("place".into(), "city".into())],
            fixed: vec![("units".into(), Value::from("metric"))],
        };
        let call = |v: Value| map.map(v.as_object().cloned());
        let mapped = call(serde_json::json!({ "place": "Faro" }))
            .unwrap()
            .unwrap();
        assert_eq!(
            Value::Object(mapped),
            serde_json::json!({ "city": "Faro", "units": "metric" })
        );
        for refused in [
            serde_json::json!({ "place": "Faro", "units": "imperial" }),
            serde_json::json!({ "debug": true }),
            serde_json::json!({ "city": "Faro" }),
        ] {
            let error = call(refused.clone()).unwrap_err();
            assert_eq!(
                error.kind(),
                crate::ToolErrorKind::InvalidParams,
                "{refused}"
            );
        }
        // No arguments at all still get the fixed ones.
        let mapped = map.map(None).unwrap().unwrap();
        assert_eq!(mapped["units"], "metric");
    }
}

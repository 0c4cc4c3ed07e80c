//! The fixture server the official MCP conformance suite drives: the `test_*` tools,
//! `test://` resources and `test_*` prompts its scenarios call, written with platform's own
//! macros and served over streamable HTTP.
//!
//! ```sh
//! PORT=3001 cargo run -p conformance-fixture
//! node …/conformance/dist/index.js server --url http://127.0.0.1:3001/mcp
//! ```

use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::{InputRequired, OutputSpec, ToolDef, ToolResponse};

/// A 1×1 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A short silent 8 kHz mono WAV.
fn wav() -> Vec<u8> {
    let samples = [0u8; 16];
    let mut out = Vec::with_capacity(44 + samples.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    out.extend_from_slice(&samples);
    out
}

/// Returns a simple text response.
#[tool]
fn test_simple_text() -> &'static str {
    "This is a simple text response for testing."
}

/// Returns an image.
#[tool]
fn test_image_content() -> Content {
    Content::image(PNG, "image/png")
}

/// Returns audio.
#[tool]
fn test_audio_content() -> Content {
    Content::audio(wav(), "audio/wav")
}

/// Returns an embedded resource.
#[tool]
fn test_embedded_resource() -> Content {
    Content::embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    )
}

/// Returns text, an image and an embedded resource.
#[tool]
fn test_multiple_content_types() -> Vec<Content> {
    vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG, "image/png"),
        Content::embedded_text(
            "test://mixed-content-resource",
            "application/json",
            r#"{"test":"data","value":123}"#,
        ),
    ]
}

/// Sends three log messages while it runs.
#[tool]
async fn test_tool_with_logging(ctx: Context) -> &'static str {
    ctx.info("Tool execution started").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.info("Tool processing data").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    ctx.info("Tool execution completed").await;
    "Tool with logging executed successfully"
}

/// Reports progress 0, 50 and 100 of 100.
#[tool]
async fn test_tool_with_progress(ctx: Context) -> &'static str {
    for step in [0.0, 50.0, 100.0] {
        ctx.progress(step, Some(100.0), Some("working")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "Progress test completed"
}

/// Always fails.
#[tool]
fn test_error_handling() -> Result<String, ToolError> {
    Err(ToolError::new(
        "This tool intentionally returns an error for testing",
    ))
}

/// Asks the client's model to answer a prompt.
///
/// # Arguments
/// * `prompt` - the prompt to send
#[tool]
async fn test_sampling(ctx: Context, prompt: String) -> Result<String, ToolError> {
    let answer = ctx.sample(&prompt, 100).await?;
    Ok(format!("LLM response: {answer}"))
}

/// Asks the user for a username and an email.
///
/// # Arguments
/// * `message` - the message to show
#[tool]
async fn test_elicitation(ctx: Context, message: String) -> Result<String, ToolError> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" }
        },
        "required": ["username", "email"]
    });
    let (action, content) = ctx.elicit(&message, schema).await?;
    Ok(format!(
        "User response: action={action}, content={}",
        content.unwrap_or_default()
    ))
}

/// Elicits with defaults for every primitive type.
#[tool]
async fn test_elicitation_sep1034_defaults(ctx: Context) -> Result<String, ToolError> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "default": "John Doe" },
            "age": { "type": "integer", "default": 30 },
            "score": { "type": "number", "default": 95.5 },
            "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
            "verified": { "type": "boolean", "default": true }
        }
    });
    let (action, content) = ctx
        .elicit(
            "Please review and update the form fields with defaults",
            schema,
        )
        .await?;
    Ok(format!(
        "Elicitation completed: action={action}, content={}",
        content.unwrap_or_default()
    ))
}

/// Elicits with every enum form.
#[tool]
async fn test_elicitation_sep1330_enums(ctx: Context) -> Result<String, ToolError> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
            "titledSingle": { "type": "string", "oneOf": [
                { "const": "value1", "title": "First Option" },
                { "const": "value2", "title": "Second Option" },
                { "const": "value3", "title": "Third Option" }
            ] },
            "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
            "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
            "titledMulti": { "type": "array", "items": { "anyOf": [
                { "const": "value1", "title": "First Choice" },
                { "const": "value2", "title": "Second Choice" },
                { "const": "value3", "title": "Third Choice" }
            ] } }
        }
    });
    let (action, content) = ctx
        .elicit("Please select options from the enum fields", schema)
        .await?;
    Ok(format!(
        "Elicitation completed: action={action}, content={}",
        content.unwrap_or_default()
    ))
}

/// A tool whose JSON Schema 2020-12 input schema is given as written.
fn json_schema_tool() -> ToolDef {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "address",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contact": { "anyOf": [{ "type": "string", "format": "email" }, { "type": "string", "pattern": "^[0-9+ ]+$" }] }
        },
        "allOf": [{ "anyOf": [{ "required": ["name"] }, { "required": ["contact"] }] }],
        "if": { "properties": { "name": { "const": "admin" } } },
        "then": { "required": ["address"] },
        "else": { "required": [] },
        "additionalProperties": false
    });
    let serde_json::Value::Object(schema) = schema else {
        unreachable!("a JSON object literal")
    };
    ToolDef::new(
        "json_schema_2020_12_tool",
        "A tool with a JSON Schema 2020-12 input schema.",
        schema,
        OutputSpec::content(),
        |_parts| async {
            Ok(ToolResponse::from(ToolResult::new().with_content(
                Content::text("JSON Schema 2020-12 tool called"),
            )))
        },
    )
}

// ---- 2026-07-28: multi-round requests (InputRequired) and diagnostic tools ----

fn text(value: impl Into<String>) -> ToolResponse {
    ToolResult::new().with_content(Content::text(value)).into()
}

fn name_schema(property: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": { property: { "type": "string" } },
        "required": [property]
    })
}

/// Where to send a message: the region also travels as the `Mcp-Param-Region` header, so a
/// gateway can route on it without reading the body.
#[derive(Deserialize, JsonSchema)]
struct Routed {
    /// The region that handles the message.
    #[schemars(extend("x-mcp-header" = "Region"))]
    region: String,
    /// The message.
    message: Option<String>,
}

/// Sends a message to a region named in a header as well as in the body (SEP-2243).
#[tool]
fn test_custom_header(Params(routed): Params<Routed>) -> String {
    format!(
        "sent to {}: {}",
        routed.region,
        routed.message.unwrap_or_default()
    )
}

/// Greets by name, at once (the tasks scenarios' tool that never runs as a task).
#[tool]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Works for `seconds`, then reports; a task for clients that support tasks.
#[tool(task)]
async fn slow_compute(seconds: f64, label: Option<String>) -> String {
    let seconds = seconds.clamp(0.0, 600.0);
    tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
    format!(
        "computed `{}` in {seconds}s",
        label.unwrap_or_else(|| "job".into())
    )
}

/// Works for a second, then fails the way a tool fails (`isError`); only as a task.
#[tool(task = "required")]
async fn failing_job() -> Result<String, ToolError> {
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    Err(ToolError::new("the job failed: its input was rejected"))
}

/// Works briefly, then breaks inside (a protocol-level failure: the task fails).
#[tool(task)]
async fn protocol_error_job() -> String {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    panic!("the job's worker crashed")
}

/// Looks the file up, then asks for confirmation before deleting it.
#[tool(task)]
async fn confirm_delete(ctx: Context, filename: String) -> ToolResponse {
    // Looking the file up takes a moment: the call goes on as a task.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    match ctx.input_response("confirm") {
        Some(answer) if answer["action"] == "accept" && answer["content"]["confirm"] == true => {
            text(format!("deleted {filename}"))
        }
        Some(_) => text(format!("kept {filename}")),
        None => InputRequired::new()
            .elicit(
                "confirm",
                &format!("Delete {filename}?"),
                serde_json::json!({
                    "type": "object",
                    "properties": { "confirm": { "type": "boolean" } },
                    "required": ["confirm"]
                }),
            )
            .into(),
    }
}

/// Asks two questions at once, then reports both answers.
#[tool(task)]
async fn multi_input(ctx: Context) -> ToolResponse {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    match (ctx.input_response("first"), ctx.input_response("second")) {
        (Some(first), Some(second)) => text(format!(
            "first: {}, second: {}",
            first["content"]["name"].as_str().unwrap_or("?"),
            second["content"]["name"].as_str().unwrap_or("?")
        )),
        _ => InputRequired::new()
            .elicit("first", "First name?", name_schema("name"))
            .elicit("second", "Second name?", name_schema("name"))
            .into(),
    }
}

/// Asks for the user's name in the request, then greets them in a task.
#[tool(task = "required")]
async fn test_tool_with_task(ctx: Context) -> ToolResponse {
    let Some(answer) = ctx.input_response("user_name") else {
        return InputRequired::new()
            .elicit("user_name", "What is your name?", name_schema("name"))
            .into();
    };
    let name = answer["content"]["name"]
        .as_str()
        .unwrap_or("stranger")
        .to_owned();
    // Preparing the greeting takes a while: this round goes on as a task.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    text(format!("Hello, {name}! (from a task)"))
}

/// Asks for the user's name, then greets them.
#[tool]
fn test_input_required_result_elicitation(ctx: Context) -> ToolResponse {
    match ctx.input_response("user_name") {
        Some(answer) => text(format!(
            "Hello, {}!",
            answer["content"]["name"].as_str().unwrap_or("stranger")
        )),
        None => InputRequired::new()
            .elicit("user_name", "What is your name?", name_schema("name"))
            .into(),
    }
}

/// Asks the client's model a question, then reports the answer.
#[tool]
fn test_input_required_result_sampling(ctx: Context) -> ToolResponse {
    match ctx.input_response("capital_question") {
        Some(answer) => text(format!(
            "LLM response: {}",
            answer["content"]["text"].as_str().unwrap_or_default()
        )),
        None => InputRequired::new()
            .sample("capital_question", "What is the capital of France?", 100)
            .into(),
    }
}

/// Asks for the client's roots, then lists them.
#[tool]
fn test_input_required_result_list_roots(ctx: Context) -> ToolResponse {
    match ctx.input_response("client_roots") {
        Some(answer) => {
            let uris: Vec<&str> = answer["roots"]
                .as_array()
                .map(|roots| roots.iter().filter_map(|r| r["uri"].as_str()).collect())
                .unwrap_or_default();
            text(format!("Client roots: {}", uris.join(", ")))
        }
        None => InputRequired::new().list_roots("client_roots").into(),
    }
}

/// Carries sealed state across a confirmation round.
#[tool]
fn test_input_required_result_request_state(ctx: Context) -> Result<ToolResponse, ToolError> {
    if let Some(state) = ctx.open_state()? {
        return Ok(text(format!(
            "state-ok: confirmed step {}",
            state["step"].as_str().unwrap_or("?")
        )));
    }
    let schema = serde_json::json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] });
    let state = ctx.seal_state(&serde_json::json!({ "step": "confirm" }), 300)?;
    Ok(InputRequired::new()
        .elicit("confirm", "Please confirm", schema)
        .state(state)
        .into())
}

/// Asks for a name, a sampled greeting and the roots at once.
#[tool]
fn test_input_required_result_multiple_inputs(ctx: Context) -> Result<ToolResponse, ToolError> {
    let complete = ["user_name", "greeting", "client_roots"]
        .iter()
        .all(|k| ctx.input_response(k).is_some());
    if complete && ctx.open_state()?.is_some() {
        return Ok(text("All inputs received"));
    }
    let state = ctx.seal_state(&serde_json::json!({ "step": "all" }), 300)?;
    Ok(InputRequired::new()
        .elicit("user_name", "What is your name?", name_schema("name"))
        .sample("greeting", "Generate a greeting", 50)
        .list_roots("client_roots")
        .state(state)
        .into())
}

/// Three rounds: a name, then a colour, then the answer.
#[tool]
fn test_input_required_result_multi_round(ctx: Context) -> Result<ToolResponse, ToolError> {
    let state = ctx.open_state()?;
    let round = state
        .as_ref()
        .and_then(|s| s["round"].as_u64())
        .unwrap_or(0);
    match (
        round,
        ctx.input_response("step1"),
        ctx.input_response("step2"),
    ) {
        (1, Some(answer), _) => {
            let name = answer["content"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let state = ctx.seal_state(&serde_json::json!({ "round": 2, "name": name }), 300)?;
            Ok(InputRequired::new()
                .elicit(
                    "step2",
                    "Step 2: What is your favorite color?",
                    name_schema("color"),
                )
                .state(state)
                .into())
        }
        (2, _, Some(answer)) => {
            let name = state
                .as_ref()
                .and_then(|s| s["name"].as_str())
                .unwrap_or_default();
            let color = answer["content"]["color"].as_str().unwrap_or_default();
            Ok(text(format!("Completed: {name} likes {color}")))
        }
        _ => {
            let state = ctx.seal_state(&serde_json::json!({ "round": 1 }), 300)?;
            Ok(InputRequired::new()
                .elicit("step1", "Step 1: What is your name?", name_schema("name"))
                .state(state)
                .into())
        }
    }
}

/// Rejects request state that was changed.
#[tool]
fn test_input_required_result_tampered_state(ctx: Context) -> Result<ToolResponse, ToolError> {
    if ctx.open_state()?.is_some() {
        return Ok(text("state-ok"));
    }
    let schema = serde_json::json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] });
    let state = ctx.seal_state(&serde_json::json!({ "step": "confirm" }), 300)?;
    Ok(InputRequired::new()
        .elicit("confirm", "Please confirm", schema)
        .state(state)
        .into())
}

/// Asks only for what the client declared it can answer.
#[tool]
fn test_input_required_result_capabilities(ctx: Context) -> ToolResponse {
    if ctx.input_response("user_name").is_some()
        || ctx.input_response("capital_question").is_some()
        || ctx.input_response("client_roots").is_some()
    {
        return text("Inputs received");
    }
    let mut input = InputRequired::new();
    let mut any = false;
    if ctx.client_supports("elicitation") {
        input = input.elicit("user_name", "What is your name?", name_schema("name"));
        any = true;
    }
    if ctx.client_supports("sampling") {
        input = input.sample("capital_question", "What is the capital of France?", 100);
        any = true;
    }
    if ctx.client_supports("roots") {
        input = input.list_roots("client_roots");
        any = true;
    }
    if any {
        input.into()
    } else {
        text("No supported input methods")
    }
}

/// Needs the sampling capability.
#[tool]
fn test_missing_capability(ctx: Context) -> Result<ToolResponse, ToolError> {
    if !ctx.client_supports("sampling") {
        return Err(ToolError::missing_client_capability("sampling"));
    }
    Ok(match ctx.input_response("answer") {
        Some(_) => text("Thanks"),
        None => InputRequired::new()
            .sample("answer", "Say something", 20)
            .into(),
    })
}

/// Needs user input; on 2026-07-28 it asks through InputRequired, never on the stream.
#[tool]
fn test_streaming_elicitation(ctx: Context) -> ToolResponse {
    match ctx.input_response("user_name") {
        Some(_) => text("Thanks"),
        None => InputRequired::new()
            .elicit("user_name", "What is your name?", name_schema("name"))
            .into(),
    }
}

/// Logs, which 2026-07-28 delivers only when the request asks for a log level.
#[tool]
async fn test_logging_tool(ctx: Context) -> &'static str {
    ctx.info("logging tool started").await;
    ctx.info("logging tool finished").await;
    "Logged"
}

/// A prompt that needs context from the user first.
#[prompt]
fn test_input_required_result_prompt(ctx: Context) -> Result<PromptResult, ToolError> {
    match ctx.input_response("user_context") {
        Some(answer) => {
            let context = answer["content"]["context"].as_str().unwrap_or_default();
            Ok(PromptResult::new(vec![PromptMessage::user(format!(
                "Use this context: {context}"
            ))]))
        }
        None => Ok(PromptResult::input_required(InputRequired::new().elicit(
            "user_context",
            "What context should the prompt use?",
            name_schema("context"),
        ))),
    }
}

/// A static text resource.
#[resource("test://static-text", mime = "text/plain")]
fn static_text() -> &'static str {
    "This is the content of the static text resource."
}

/// A static binary resource.
#[resource("test://static-binary", mime = "image/png")]
fn static_binary() -> &'static [u8] {
    PNG
}

/// The data of a templated item.
#[derive(serde::Serialize)]
#[allow(non_snake_case)]
struct TemplateData {
    id: String,
    templateTest: bool,
    data: String,
}

/// A resource template.
#[resource("test://template/{id}/data", mime = "application/json")]
fn template_data(id: String) -> TemplateData {
    TemplateData {
        data: format!("Data for ID: {id}"),
        id,
        templateTest: true,
    }
}

/// A resource clients can subscribe to.
#[resource("test://watched-resource", mime = "text/plain")]
fn watched() -> &'static str {
    "Watched resource content"
}

/// A prompt without arguments.
#[prompt]
fn test_simple_prompt() -> &'static str {
    "This is a simple prompt for testing."
}

/// A prompt with two arguments.
///
/// # Arguments
/// * `arg1` - the first argument
/// * `arg2` - the second argument
#[prompt]
fn test_prompt_with_arguments(arg1: String, arg2: String) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// A prompt embedding a resource.
///
/// # Arguments
/// * `resourceUri` - the URI to embed
#[prompt]
#[allow(non_snake_case)]
fn test_prompt_with_embedded_resource(resourceUri: String) -> Vec<PromptMessage> {
    vec![
        PromptMessage::new(
            Role::User,
            Content::embedded_text(
                resourceUri,
                "text/plain",
                "Embedded resource content for testing.",
            ),
        ),
        PromptMessage::user("Please process the embedded resource above."),
    ]
}

/// A prompt with an image.
#[prompt]
fn test_prompt_with_image() -> Vec<PromptMessage> {
    vec![
        PromptMessage::new(Role::User, Content::image(PNG, "image/png")),
        PromptMessage::user("Please analyze the image above."),
    ]
}

fn server() -> Result<Server, platform_runtime::BuildError> {
    Server::builder("platform-conformance-fixture")
        .version(env!("CARGO_PKG_VERSION"))
        .tools(tools![
            test_custom_header,
            greet,
            slow_compute,
            failing_job,
            protocol_error_job,
            confirm_delete,
            multi_input,
            test_tool_with_task,
            test_simple_text,
            test_image_content,
            test_audio_content,
            test_embedded_resource,
            test_multiple_content_types,
            test_tool_with_logging,
            test_tool_with_progress,
            test_error_handling,
            test_sampling,
            test_elicitation,
            test_elicitation_sep1034_defaults,
            test_elicitation_sep1330_enums,
            test_input_required_result_elicitation,
            test_input_required_result_sampling,
            test_input_required_result_list_roots,
            test_input_required_result_request_state,
            test_input_required_result_multiple_inputs,
            test_input_required_result_multi_round,
            test_input_required_result_tampered_state,
            test_input_required_result_capabilities,
            test_missing_capability,
            test_streaming_elicitation,
            test_logging_tool,
        ])
        .tool(json_schema_tool())
        .resources(resources![
            static_text,
            static_binary,
            template_data,
            watched
        ])
        .prompts(prompts![
            test_simple_prompt,
            test_prompt_with_arguments,
            test_prompt_with_embedded_resource,
            test_prompt_with_image,
            test_input_required_result_prompt,
        ])
        .build()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let bind = format!("127.0.0.1:{port}");
    let args = [
        "conformance-fixture",
        "serve",
        "--transport",
        "http",
        "--bind",
        bind.as_str(),
    ];
    platform_runtime::serve_from(server()?, args).await?;
    Ok(())
}

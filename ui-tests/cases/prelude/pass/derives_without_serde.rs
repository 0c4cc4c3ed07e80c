// The prelude's derives expand to paths under `platform_runtime`: nothing here names serde
// or schemars (the ui-tests crate depends on serde, but this case never uses that name).
use platform_runtime::prelude::*;

/// A page of results.
#[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    /// The items.
    items: Vec<T>,
    /// Where the next page starts.
    next_cursor: Option<String>,
}

/// What a search finds.
#[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Hit {
    Document { title: String },
    Person(Name),
}

#[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Name {
    name: String,
}

/// Search everything.
#[tool(read_only)]
fn search(query: String) -> Page<Hit> {
    Page { items: vec![Hit::Document { title: query }], next_cursor: None }
}

fn main() {
    let page = search("x".into());
    let json = platform_runtime::serde_json::to_value(&page).unwrap();
    assert_eq!(json["items"][0]["kind"], "document");
    assert_eq!(json["nextCursor"], Value::Null);
    let back: Page<Hit> = platform_runtime::serde_json::from_value(json).unwrap();
    assert_eq!(back, page);
    let server = Server::builder("s").tools(tools![search]).build().unwrap();
    assert!(server.manifest()["tools"][0]["outputSchema"]["$defs"]["Hit"].is_object());
}

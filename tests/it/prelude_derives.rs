//! The prelude's `Serialize` and `Deserialize` derives (serde's derive run on a private
//! remote copy through the runtime's serde) behave as serde's own, attributes and all.

use std::collections::BTreeMap;

use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use serde_json::json;

mod shapes {
    use platform_runtime::prelude::*;

    /// Private fields, a rename, a default, a skipped field and a `with` module.
    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct Account {
        account_id: u64,
        #[serde(default)]
        display_name: String,
        #[serde(skip)]
        cached: Option<u8>,
        #[serde(with = "as_text")]
        #[schemars(with = "String")]
        balance: i64,
    }

    impl Account {
        pub(super) fn new(account_id: u64, display_name: &str, balance: i64) -> Self {
            Self {
                account_id,
                display_name: display_name.into(),
                cached: None,
                balance,
            }
        }
    }

    mod as_text {
        use platform_runtime::__private::serde::{Deserialize, Deserializer, Serializer};

        pub(super) fn serialize<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&value.to_string())
        }

        pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
            let text = String::deserialize(d)?;
            text.parse()
                .map_err(platform_runtime::__private::serde::de::Error::custom)
        }
    }

    /// An internally tagged enum with unit, newtype-struct and struct variants.
    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub(super) enum Event {
        Opened,
        Moved { from: String, to: String },
        Tagged(Tag),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    pub(super) struct Tag {
        pub(super) label: String,
    }

    /// Generic, with an explicit bound for one direction.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(bound(deserialize = "T: Deserialize<'de> + Default"))]
    pub(super) struct Page<T> {
        pub(super) items: Vec<T>,
        pub(super) next: Option<String>,
    }

    /// Missing fields from the type's own `Default`.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct Settings {
        pub(super) retries: u32,
        pub(super) url: String,
    }

    impl Default for Settings {
        fn default() -> Self {
            Self {
                retries: 3,
                url: "https://example.org".into(),
            }
        }
    }

    /// Generic with a container default, and `Self` in a field.
    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    pub(super) struct Tree<T> {
        pub(super) value: T,
        pub(super) children: Vec<Self>,
    }

    /// Missing fields from a function's value.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(default = "Limits::generous")]
    pub(super) struct Limits {
        pub(super) calls: u32,
        pub(super) bytes: u64,
    }

    impl Limits {
        fn generous() -> Self {
            Self {
                calls: 100,
                bytes: 1 << 20,
            }
        }
    }

    /// Tuple and unit structs, and a borrowed field.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub(super) struct Pair(pub(super) u8, pub(super) u8);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub(super) struct Nothing;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub(super) struct Borrowed<'a> {
        #[serde(borrow)]
        pub(super) name: &'a str,
    }
}

use shapes::{Account, Borrowed, Event, Limits, Nothing, Page, Pair, Settings, Tag, Tree};

#[test]
fn attributes_work_as_serde_documents_them() {
    let account = Account::new(7, "Ada", -12);
    let value = serde_json::to_value(&account).unwrap();
    assert_eq!(
        value,
        json!({ "accountId": 7, "displayName": "Ada", "balance": "-12" })
    );
    let back: Account = serde_json::from_value(json!({ "accountId": 7, "balance": "5" })).unwrap();
    assert_eq!(back, Account::new(7, "", 5));
    let unknown =
        serde_json::from_value::<Account>(json!({ "accountId": 1, "balance": "1", "x": 1 }));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `x`")
    );
}

#[test]
fn enums_generics_tuples_and_borrows_round_trip() {
    let events = vec![
        Event::Opened,
        Event::Moved {
            from: "a".into(),
            to: "b".into(),
        },
        Event::Tagged(Tag {
            label: "vip".into(),
        }),
    ];
    let value = serde_json::to_value(&events).unwrap();
    assert_eq!(
        value,
        json!([
            { "kind": "opened" },
            { "kind": "moved", "from": "a", "to": "b" },
            { "kind": "tagged", "label": "vip" },
        ])
    );
    assert_eq!(serde_json::from_value::<Vec<Event>>(value).unwrap(), events);

    let page = Page {
        items: vec![Pair(1, 2)],
        next: None,
    };
    let text = serde_json::to_string(&page).unwrap();
    assert_eq!(text, r#"{"items":[[1,2]],"next":null}"#);
    let numbers: Page<u32> = serde_json::from_str(r#"{"items":[3],"next":"x"}"#).unwrap();
    assert_eq!(
        numbers,
        Page {
            items: vec![3],
            next: Some("x".into())
        }
    );

    assert_eq!(serde_json::to_string(&Nothing).unwrap(), "null");
    let source = String::from(r#"{"name":"ada"}"#);
    let borrowed: Borrowed<'_> = serde_json::from_str(&source).unwrap();
    assert_eq!(borrowed, Borrowed { name: "ada" });

    let settings: Settings = serde_json::from_value(json!({ "retries": 5 })).unwrap();
    assert_eq!(
        settings,
        Settings {
            retries: 5,
            url: "https://example.org".into()
        }
    );

    let limits: Limits = serde_json::from_value(json!({ "calls": 5 })).unwrap();
    assert_eq!(
        limits,
        Limits {
            calls: 5,
            bytes: 1 << 20
        }
    );

    let tree: Tree<u8> = serde_json::from_value(json!({ "children": [{ "value": 2 }] })).unwrap();
    assert_eq!(tree.children[0].value, 2);
    assert_eq!(
        serde_json::to_value(&tree).unwrap(),
        json!({ "value": 0, "children": [{ "value": 2, "children": [] }] })
    );

    let mut map = BTreeMap::new();
    map.insert("k", Pair(0, 9));
    assert_eq!(serde_json::to_value(&map).unwrap(), json!({ "k": [0, 9] }));
}

/// The event history of an account.
#[tool(read_only)]
fn history() -> Vec<Event> {
    vec![
        Event::Opened,
        Event::Tagged(Tag {
            label: "new".into(),
        }),
    ]
}

/// Open an account.
#[tool]
fn open(account: Account) -> Account {
    account
}

#[tokio::test]
async fn derived_types_are_tool_inputs_and_outputs() {
    let server = Server::builder("bank")
        .tools(tools![history, open])
        .build()
        .unwrap();
    let manifest = server.manifest();
    let open_schema = &manifest["tools"][1]["inputSchema"];
    assert_eq!(
        open_schema["properties"]["account"]["$ref"],
        "#/$defs/Account"
    );
    let fields = &open_schema["$defs"]["Account"]["properties"];
    assert_eq!(fields["balance"]["type"], "string", "{open_schema}");
    assert!(fields.get("accountId").is_some(), "{open_schema}");
    let client = TestClient::connect(server).await.unwrap();

    let listed = client.call_tool("history", json!({})).await.unwrap();
    assert_eq!(
        listed.structured().unwrap(),
        &json!({ "result": [{ "kind": "opened" }, { "kind": "tagged", "label": "new" }] })
    );
    let events: Vec<Event> = listed.structured_as().unwrap();
    assert_eq!(events.len(), 2);

    let opened = client
        .call_tool(
            "open",
            json!({ "account": { "accountId": 3, "balance": "10" } }),
        )
        .await
        .unwrap();
    assert_eq!(
        opened.structured_as::<Account>().unwrap(),
        Account::new(3, "", 10)
    );
    let refused = client
        .call_tool(
            "open",
            json!({ "account": { "accountId": 3, "balance": 10 } }),
        )
        .await;
    let refused = match refused {
        Ok(result) => result.text(),
        Err(error) => error.to_string(),
    };
    assert!(refused.contains("balance"), "{refused}");
}

#[test]
fn structured_as_unwraps_only_the_result_wrapper() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Wrapped {
        result: u8,
    }
    let wrapped = ToolResult::new().with_structured(json!({ "result": [1, 2] }));
    assert_eq!(wrapped.structured_as::<Vec<u8>>(), Some(vec![1, 2]));
    let object = ToolResult::new().with_structured(json!({ "result": 7 }));
    assert_eq!(
        object.structured_as::<Wrapped>(),
        Some(Wrapped { result: 7 }),
        "a type that reads the whole object gets it"
    );
    assert_eq!(object.structured_as::<u8>(), Some(7));
    let two_keys = ToolResult::new().with_structured(json!({ "result": [1], "more": 1 }));
    assert_eq!(two_keys.structured_as::<Vec<u8>>(), None, "not a wrapper");
    assert_eq!(ToolResult::new().structured_as::<u8>(), None);
}

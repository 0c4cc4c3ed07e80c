use std::sync::Mutex;

use platform_runtime::prelude::*;

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Priority {
    Low,
    Normal,
    Urgent,
}

/// A support ticket.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct Ticket {
    /// Its number, from 1.
    id: u32,
    /// What the customer asked.
    title: String,
    /// How urgent it is.
    priority: Priority,
}

/// The support desk: its tickets, kept in memory.
#[derive(Default)]
struct SupportDesk {
    tickets: Mutex<Vec<Ticket>>,
}

/// A support desk: open tickets, list them, read one, draft a reply.
#[server(
    name = "support-desk",
    instructions = "Open, list and answer support tickets."
)]
impl SupportDesk {
    /// Open a ticket and return it.
    ///
    /// # Arguments
    /// * `title` - what the customer asked, in a sentence
    /// * `priority` - how urgent it is
    #[tool]
    #[rate_limit(30, per = "1m")]
    fn open_ticket(&self, title: String, priority: Priority) -> Result<Ticket, ToolError> {
        if title.trim().is_empty() {
            return Err(ToolError::invalid_arguments("`title` must not be empty"));
        }
        let mut tickets = self
            .tickets
            .lock()
            .map_err(|_| ToolError::new("the desk is unavailable"))?;
        let ticket = Ticket {
            id: tickets.len() as u32 + 1,
            title,
            priority,
        };
        tickets.push(ticket.clone());
        Ok(ticket)
    }

    /// Every ticket, oldest first.
    #[tool(read_only)]
    fn list_tickets(&self) -> Result<Vec<Ticket>, ToolError> {
        let tickets = self
            .tickets
            .lock()
            .map_err(|_| ToolError::new("the desk is unavailable"))?;
        Ok(tickets.clone())
    }

    /// One ticket, as JSON.
    #[resource("tickets://{id}", mime = "application/json")]
    fn ticket(&self, id: u32) -> Result<Ticket, ToolError> {
        let tickets = self
            .tickets
            .lock()
            .map_err(|_| ToolError::new("the desk is unavailable"))?;
        let found = tickets.iter().find(|t| t.id == id).cloned();
        found.ok_or_else(|| ToolError::not_found(format!("there is no ticket {id}")))
    }

    /// Ask the model to draft a reply to a customer.
    ///
    /// # Arguments
    /// * `question` - what the customer asked
    #[prompt]
    fn draft_reply(&self, question: String) -> String {
        format!("Draft a short, friendly reply to this support question: {question}")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    platform_runtime::serve(SupportDesk::default()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_runtime::testing::TestClient;
    use serde_json::json;

    #[tokio::test]
    async fn opens_lists_and_reads_tickets() {
        let client = TestClient::connect(SupportDesk::default()).await.unwrap();

        let opened = client
            .call_tool(
                "open_ticket",
                json!({ "title": "Printer on fire", "priority": "urgent" }),
            )
            .await
            .unwrap();
        let ticket: Ticket = opened.structured_as().unwrap();
        assert_eq!((ticket.id, ticket.priority), (1, Priority::Urgent));

        let listed = client.call_tool("list_tickets", json!({})).await.unwrap();
        let tickets: Vec<Ticket> = listed.structured_as().unwrap();
        assert_eq!(tickets.len(), 1);

        let read = client.read_resource("tickets://1").await.unwrap();
        assert_eq!(read.json::<Ticket>().unwrap().title, "Printer on fire");

        let prompt = client
            .get_prompt("draft_reply", json!({ "question": "Where is my order?" }))
            .await
            .unwrap();
        assert!(prompt.text().contains("Where is my order?"));
    }

    #[tokio::test]
    async fn refuses_what_it_cannot_do() {
        let client = TestClient::connect(SupportDesk::default()).await.unwrap();

        let empty = client
            .call_tool("open_ticket", json!({ "title": " ", "priority": "low" }))
            .await
            .unwrap();
        assert!(empty.is_error());
        assert!(empty.text().contains("must not be empty"));

        let unknown = client
            .call_tool(
                "open_ticket",
                json!({ "title": "Hi", "priority": "someday" }),
            )
            .await
            .unwrap();
        assert!(unknown.is_error());

        let missing = client.read_resource("tickets://9").await.unwrap_err();
        assert!(missing.to_string().contains("there is no ticket 9"));
    }
}

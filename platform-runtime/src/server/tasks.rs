//! Tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663): a call of a
//! `#[tool(task)]` from a client that declared the extension, which does not answer at once,
//! goes on in the background; the client gets a task handle (`CreateTaskResult`) and polls
//! `tasks/get`, answers the tool's questions with `tasks/update`, and may `tasks/cancel`.
//!
//! **When a call becomes a task.** The call's future (the whole pipeline: middleware, then
//! the tool) is polled once in the request. If it is ready — the tool answered without
//! waiting on anything, a result or an `InputRequired` — that is the answer, in the request.
//! Otherwise the task is recorded (so a `tasks/get` right after the handle succeeds) and
//! the future runs on in a task of the runtime, under a cancellation token of its own.
//!
//! **Input in a task.** A tool asks for input as any multi-round tool does: it returns
//! `InputRequired` (with its sealed state). In a task, that parks the task (`input_required`,
//! the questions under `inputRequests`); `tasks/update` delivers answers, possibly some at a
//! time; once every question has its answer, the tool is called again with all of them and
//! its state, on whichever replica received the last answer — nothing of a parked task lives
//! in memory.
//!
//! **Records.** Each task's record (status, timestamps, the result or error, the pending
//! questions and what the next round needs, and its owner) is kept in a [`TaskRecords`]
//! store: in process by default ([`InProcessTasks`], at most 10 000 records), in Redis with
//! `[redis] url`, so any replica answers `tasks/get` and `tasks/cancel`. Every change names
//! the version it replaces. A record lives for its `ttlMs` (an hour), then the task is
//! unknown. A task belongs to the caller that started it: another caller's `tasks/*` get
//! -32602 as for an unknown id. Ids are 128 random bits.
//!
//! **Outcomes.** A result, or a tool error (`ToolError` of a tool's own kind, a timeout, a
//! rate limit), completes the task (`completed`, `result.isError` for an error); a protocol
//! error (invalid arguments, a panic or internal failure, a refusal) fails it (`failed`,
//! with the JSON-RPC error). A task cancelled while it runs settles to `cancelled`; its
//! tool's [`crate::Context`] sees the cancellation. With a shared store, a running task
//! reads its record every half second to learn of a cancellation made on another replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolResponse, CreateTaskResult, DetailedTask, ErrorData, GetTaskResult, InputRequests,
    InputResponses, JsonObject, Task, TaskPayload, TaskStatus,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::state::{SharedFuture, TaskRecords};

/// How long a task's record is kept, from its creation.
pub(crate) const TASK_TTL: Duration = Duration::from_secs(3600);

/// How often a client is asked to poll.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The most tasks running in this process at once; beyond, a call is refused as
/// unavailable rather than queued without bound.
const MAX_RUNNING: usize = 1024;

/// The largest record kept (a completed task's result included); a larger result fails the
/// task with an error saying so.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// The longest task id looked up.
const MAX_ID_BYTES: usize = 64;

/// How often a running task reads a shared record for a cancellation made elsewhere.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// How many times a change is tried again when another one got in first.
const RETRIES: usize = 8;

/// A task as kept in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskRecord {
    /// Who started it (the caller's binding; empty: anonymous).
    owner: String,
    status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_message: Option<String>,
    created_at: String,
    last_updated_at: String,
    /// Completed: the tool's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<JsonObject>,
    /// Failed: the JSON-RPC error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<JsonObject>,
    /// Input required: the questions not answered yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_requests: Option<InputRequests>,
    /// What the next round of the call needs: the tool, its arguments, the state it sealed
    /// and the answers so far.
    tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arguments: Option<JsonObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_state: Option<String>,
    #[serde(default, skip_serializing_if = "InputResponses::is_empty")]
    answered: InputResponses,
}

impl TaskRecord {
    fn new(owner: String, tool: String, arguments: Option<JsonObject>) -> Self {
        let now = crate::observability::rfc3339_now();
        Self {
            owner,
            status: TaskStatus::Working,
            status_message: None,
            created_at: now.clone(),
            last_updated_at: now,
            result: None,
            error: None,
            input_requests: None,
            tool,
            arguments,
            request_state: None,
            answered: InputResponses::new(),
        }
    }

    /// The base task, as a handle and in `tasks/get`.
    fn task(&self, id: &str) -> Task {
        let mut task = Task::new(id, self.status, &self.created_at, &self.last_updated_at)
            .with_ttl_ms(millis(TASK_TTL))
            .with_poll_interval_ms(millis(POLL_INTERVAL));
        task.status_message = self.status_message.clone();
        task
    }

    /// The task with what its status carries.
    fn detailed(&self, id: &str) -> DetailedTask {
        let payload = match self.status {
            TaskStatus::InputRequired => TaskPayload::InputRequired {
                input_requests: self.input_requests.clone().unwrap_or_default(),
            },
            TaskStatus::Completed => TaskPayload::Completed {
                result: self.result.clone().unwrap_or_default(),
            },
            TaskStatus::Failed => TaskPayload::Failed {
                error: self.error.clone().unwrap_or_default(),
            },
            TaskStatus::Cancelled => TaskPayload::Cancelled,
            _ => TaskPayload::Working,
        };
        DetailedTask::new(self.task(id), payload)
    }

    fn touch(&mut self, status: TaskStatus) {
        self.status = status;
        self.last_updated_at = crate::observability::rfc3339_now();
    }

    fn to_bytes(&self) -> Result<Vec<u8>, ErrorData> {
        serde_json::to_vec(self).map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// How a task's call ended.
pub(crate) enum Outcome {
    /// A result (a tool error included): `completed`.
    Complete(JsonObject),
    /// Questions for the client: `input_required` until answered.
    Input {
        requests: InputRequests,
        state: Option<String>,
    },
    /// A protocol error: `failed`.
    Failed(ErrorData),
}

impl Outcome {
    /// The outcome of a call's answer.
    pub(crate) fn of(answer: Result<CallToolResponse, ErrorData>) -> Self {
        match answer {
            Ok(CallToolResponse::Complete(result)) => match serde_json::to_value(result) {
                Ok(serde_json::Value::Object(result)) => Self::Complete(result),
                _ => Self::Failed(ErrorData::internal_error(
                    "the result could not be kept",
                    None,
                )),
            },
            Ok(CallToolResponse::InputRequired(asked)) => Self::Input {
                requests: asked.input_requests.unwrap_or_default(),
                state: asked.request_state,
            },
            Ok(_) => Self::Failed(ErrorData::internal_error(
                "a task's call answered with another task",
                None,
            )),
            Err(error) => Self::Failed(error),
        }
    }
}

/// The tasks of one server: their store, and the ones running in this process.
pub(crate) struct Tasks {
    store: Mutex<Arc<dyn TaskRecords>>,
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            store: Mutex::new(Arc::new(InProcessTasks::default())),
            running: Mutex::default(),
        }
    }
}

/// Why a `tasks/*` request names no task the caller may see: unknown, expired, another
/// caller's, or not an id at all — one answer for all, so ids cannot be probed.
fn unknown_task() -> ErrorData {
    ErrorData::invalid_params("no such task (unknown, expired, or another caller's)", None)
}

/// When a task store failure was last logged.
static FAILURE_WARNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn store_failed(error: String) -> ErrorData {
    crate::metrics::store_failure("tasks", "closed");
    if crate::middleware::throttled_warning(&FAILURE_WARNED) {
        tracing::warn!(%error, "the task store failed; task requests are refused while it fails");
    }
    ErrorData::internal_error("tasks are unavailable right now; retry shortly", None)
}

/// What became of a call that could go on as a task.
pub(crate) enum Created {
    /// Recorded: its id and handle.
    Task(String, CreateTaskResult),
    /// Refused (too many running, arguments too large, the store failing and failing
    /// closed).
    Refused(ErrorData),
    /// The store failed and fails open: answer the call in the request.
    InRequest,
}

impl Tasks {
    /// Keep records in `store` from now on.
    pub(crate) fn set_store(&self, store: Arc<dyn TaskRecords>) {
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = store;
    }

    fn store(&self) -> Arc<dyn TaskRecords> {
        self.store.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Record a new task of `owner`'s call of `tool`, running here under `token`; its
    /// handle. Refused when this process runs its most tasks.
    pub(crate) async fn create(
        &self,
        owner: String,
        tool: &str,
        arguments: Option<JsonObject>,
        token: CancellationToken,
    ) -> Created {
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).len() >= MAX_RUNNING {
            return Created::Refused(ErrorData::internal_error(
                "too many tasks are running; retry shortly",
                None,
            ));
        }
        let record = TaskRecord::new(owner, tool.to_owned(), arguments);
        let bytes = match record.to_bytes() {
            Ok(bytes) if bytes.len() <= MAX_RECORD_BYTES => bytes,
            Ok(_) => {
                return Created::Refused(ErrorData::invalid_params(
                    "the call's arguments are too large to run it as a task",
                    None,
                ));
            }
            Err(error) => return Created::Refused(error),
        };
        let store = self.store();
        for _ in 0..RETRIES {
            let id = match new_id() {
                Ok(id) => id,
                Err(error) => return Created::Refused(error),
            };
            match store.create(&id, bytes.clone(), TASK_TTL).await {
                Ok(true) => {
                    self.running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id.clone(), token);
                    let handle = CreateTaskResult::new(record.task(&id));
                    return Created::Task(id, handle);
                }
                Ok(false) => {}
                Err(error) if store.fail_open() => {
                    crate::metrics::store_failure("tasks", "open");
                    if crate::middleware::throttled_warning(&FAILURE_WARNED) {
                        tracing::warn!(%error, "the task store failed; calls that would become tasks are answered in the request while it fails");
                    }
                    return Created::InRequest;
                }
                Err(error) => return Created::Refused(store_failed(error)),
            }
        }
        Created::Refused(ErrorData::internal_error(
            "the task store holds its most tasks; retry later",
            None,
        ))
    }

    /// Task `id` if `owner` may see it, with its version.
    async fn find(&self, id: &str, owner: &str) -> Result<(u64, TaskRecord), ErrorData> {
        if id.is_empty() || id.len() > MAX_ID_BYTES || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown_task());
        }
        let Some((version, bytes)) = self.store().load(id).await.map_err(store_failed)? else {
            return Err(unknown_task());
        };
        let record: TaskRecord = serde_json::from_slice(&bytes)
            .map_err(|e| store_failed(format!("a task record does not read: {e}")))?;
        if record.owner != owner {
            return Err(unknown_task());
        }
        Ok((version, record))
    }

    /// `tasks/get`.
    pub(crate) async fn get(&self, id: &str, owner: &str) -> Result<GetTaskResult, ErrorData> {
        let (_, record) = self.find(id, owner).await?;
        Ok(GetTaskResult::new(record.detailed(id)))
    }

    /// Change task `id` with `change` (which says whether it changed anything), naming the
    /// version it read; again if another change got in first.
    async fn change(
        &self,
        id: &str,
        owner: &str,
        mut change: impl FnMut(&mut TaskRecord) -> Result<bool, ErrorData>,
    ) -> Result<TaskRecord, ErrorData> {
        let store = self.store();
        for _ in 0..RETRIES {
            let (version, mut record) = self.find(id, owner).await?;
            if !change(&mut record)? {
                return Ok(record);
            }
            let mut bytes = record.to_bytes()?;
            if bytes.len() > MAX_RECORD_BYTES {
                record.result = None;
                record.input_requests = None;
                record.answered.clear();
                record.touch(TaskStatus::Failed);
                record.error = error_object(&ErrorData::internal_error(
                    format!(
                        "the task's result is over {MAX_RECORD_BYTES} bytes, the most a task keeps"
                    ),
                    None,
                ));
                bytes = record.to_bytes()?;
            }
            if store
                .replace(id, version, bytes)
                .await
                .map_err(store_failed)?
            {
                return Ok(record);
            }
        }
        Err(ErrorData::internal_error(
            "the task kept changing; retry",
            None,
        ))
    }

    /// `tasks/cancel`: a task not ended yet is cancelled (its call here stopped); an ended
    /// one is left as it is. Either way an empty acknowledgement.
    pub(crate) async fn cancel(&self, id: &str, owner: &str) -> Result<(), ErrorData> {
        self.change(id, owner, |record| {
            if record.status.is_terminal() {
                return Ok(false);
            }
            record.touch(TaskStatus::Cancelled);
            record.input_requests = None;
            record.answered.clear();
            Ok(true)
        })
        .await?;
        if let Some(token) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            token.cancel();
        }
        Ok(())
    }

    /// `tasks/update`: keep the answers to pending questions (answers to anything else are
    /// ignored); once none is left, the next round's request (arguments, answers, state) to
    /// run — the task is `working` again.
    pub(crate) async fn answer(
        &self,
        id: &str,
        owner: &str,
        answers: InputResponses,
    ) -> Result<Option<NextRound>, ErrorData> {
        let record = self
            .change(id, owner, |record| {
                if record.status != TaskStatus::InputRequired {
                    // Answers that come late (the task moved on, or was cancelled) change
                    // nothing; the next `tasks/get` says where it is.
                    tracing::debug!("answers for a task not waiting for input were ignored");
                    return Ok(false);
                }
                let pending = record.input_requests.get_or_insert_with(Default::default);
                let mut changed = false;
                for (key, answer) in &answers {
                    // Only answers to pending questions count; others are ignored (the
                    // client must not send them, and they must not grow the record).
                    if pending.remove(key).is_some() {
                        record.answered.insert(key.clone(), answer.clone());
                        changed = true;
                    }
                }
                if !changed {
                    return Ok(false);
                }
                if pending.is_empty() {
                    record.input_requests = None;
                    record.touch(TaskStatus::Working);
                } else {
                    record.last_updated_at = crate::observability::rfc3339_now();
                }
                Ok(true)
            })
            .await?;
        if record.status != TaskStatus::Working {
            return Ok(None);
        }
        Ok(Some(NextRound {
            tool: record.tool,
            arguments: record.arguments,
            answers: record.answered,
            state: record.request_state,
        }))
    }

    /// Note that task `id` runs here again (its next round), under `token`.
    pub(crate) fn resume(&self, id: &str, token: CancellationToken) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), token);
    }

    /// Run task `id`'s call to its end and keep the outcome; a cancellation (here, or in
    /// the shared record) stops the call.
    pub(crate) async fn run<F>(
        self: Arc<Self>,
        id: String,
        owner: String,
        call: F,
        token: CancellationToken,
    ) where
        F: std::future::Future<Output = Result<CallToolResponse, ErrorData>> + Send,
    {
        let watch = self.store().shared().then(|| {
            let this = self.clone();
            let (id, owner, token) = (id.clone(), owner.clone(), token.clone());
            async move {
                let mut tick = tokio::time::interval(WATCH_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Ok((_, record)) = this.find(&id, &owner).await
                        && record.status == TaskStatus::Cancelled
                    {
                        token.cancel();
                    }
                }
            }
        });
        let watching = async move {
            match watch {
                Some(watch) => watch.await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            answer = call => Some(Outcome::of(answer)),
            () = token.cancelled() => None,
            () = watching => None,
        };
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let Some(outcome) = outcome else {
            tracing::debug!("a task was cancelled while it ran");
            return;
        };
        let kept = self
            .change(&id, &owner, |record| {
                if record.status != TaskStatus::Working {
                    return Ok(false); // cancelled meanwhile: it stays cancelled
                }
                match &outcome {
                    Outcome::Complete(result) => {
                        record.result = Some(result.clone());
                        record.answered.clear();
                        record.touch(TaskStatus::Completed);
                    }
                    Outcome::Input { requests, state } => {
                        record.input_requests = Some(requests.clone());
                        record.request_state = state.clone();
                        record.answered.clear();
                        record.touch(TaskStatus::InputRequired);
                    }
                    Outcome::Failed(error) => {
                        record.error = error_object(error);
                        record.answered.clear();
                        record.touch(TaskStatus::Failed);
                    }
                }
                Ok(true)
            })
            .await;
        if let Err(error) = kept {
            tracing::warn!(error = %error.message, "a task's outcome could not be kept");
        }
    }
}

/// What the next round of a parked task's call needs once every question is answered.
pub(crate) struct NextRound {
    pub(crate) tool: String,
    pub(crate) arguments: Option<JsonObject>,
    pub(crate) answers: InputResponses,
    pub(crate) state: Option<String>,
}

fn error_object(error: &ErrorData) -> Option<JsonObject> {
    match serde_json::to_value(error) {
        Ok(serde_json::Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// A new task id: 128 bits from the OS random source, as hex.
fn new_id() -> Result<String, ErrorData> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ErrorData::internal_error(format!("no random source: {e}"), None))?;
    Ok(crate::digest::hex(&bytes))
}

/// The in-process store: at most 10 000 records, each dropped when its time to live has
/// passed.
pub(crate) struct InProcessTasks {
    records: Mutex<HashMap<String, Kept>>,
    max: usize,
}

/// A kept record: its version, its bytes, and when it expires.
type Kept = (u64, Vec<u8>, tokio::time::Instant);

impl Default for InProcessTasks {
    fn default() -> Self {
        Self {
            records: Mutex::default(),
            max: 10_000,
        }
    }
}

impl TaskRecords for InProcessTasks {
    fn create<'a>(&'a self, id: &'a str, record: Vec<u8>, ttl: Duration) -> SharedFuture<'a, bool> {
        let now = tokio::time::Instant::now();
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= self.max {
            records.retain(|_, (_, _, deadline)| *deadline > now);
        }
        let created = records.len() < self.max && !records.contains_key(id);
        if created {
            records.insert(id.to_owned(), (1, record, now + ttl));
        }
        Box::pin(std::future::ready(Ok(created)))
    }

    fn load<'a>(&'a self, id: &'a str) -> SharedFuture<'a, Option<(u64, Vec<u8>)>> {
        let now = tokio::time::Instant::now();
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let found = records
            .get(id)
            .filter(|(_, _, deadline)| *deadline > now)
            .map(|(version, bytes, _)| (*version, bytes.clone()));
        Box::pin(std::future::ready(Ok(found)))
    }

    fn replace<'a>(&'a self, id: &'a str, version: u64, record: Vec<u8>) -> SharedFuture<'a, bool> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let replaced = match records.get_mut(id) {
            Some(entry) if entry.0 == version => {
                entry.0 += 1;
                entry.1 = record;
                true
            }
            _ => false,
        };
        Box::pin(std::future::ready(Ok(replaced)))
    }

    fn shared(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn records_are_versioned_bounded_and_expire() {
        let store = InProcessTasks {
            max: 2,
            ..InProcessTasks::default()
        };
        let ttl = Duration::from_secs(60);
        assert!(store.create("a", b"1".to_vec(), ttl).await.unwrap());
        assert!(
            !store.create("a", b"x".to_vec(), ttl).await.unwrap(),
            "ids are not reused"
        );
        assert!(store.create("b", b"2".to_vec(), ttl).await.unwrap());
        assert!(
            !store.create("c", b"3".to_vec(), ttl).await.unwrap(),
            "full"
        );
        // A replacement names the version it read.
        assert!(store.replace("a", 1, b"1b".to_vec()).await.unwrap());
        assert!(!store.replace("a", 1, b"1c".to_vec()).await.unwrap());
        assert_eq!(store.load("a").await.unwrap(), Some((2, b"1b".to_vec())));
        // Expired records are gone, and make room.
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(store.load("a").await.unwrap(), None);
        assert!(store.create("c", b"3".to_vec(), ttl).await.unwrap());
    }

    #[tokio::test]
    async fn a_task_belongs_to_its_owner_and_ids_are_checked() {
        let tasks = Tasks::default();
        let Created::Task(id, handle) = tasks
            .create("alice".into(), "t", None, CancellationToken::new())
            .await
        else {
            panic!("a task")
        };
        assert_eq!(handle.task.task_id, id);
        assert_eq!(id.len(), 32);
        assert!(tasks.get(&id, "alice").await.is_ok());
        for (probe, owner) in [
            (id.as_str(), "mallory"),
            ("not-hex!", "alice"),
            ("", "alice"),
        ] {
            let error = tasks.get(probe, owner).await.unwrap_err();
            assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        }
    }

    #[tokio::test]
    async fn answers_park_and_resume_a_task() {
        let tasks = Arc::new(Tasks::default());
        let token = CancellationToken::new();
        let Created::Task(id, _) = tasks
            .create(String::new(), "ask", None, token.clone())
            .await
        else {
            panic!("a task")
        };
        let requests: InputRequests = serde_json::from_value(serde_json::json!({
            "a": { "method": "elicitation/create", "params": { "message": "a?", "requestedSchema": { "type": "object", "properties": {} } } },
            "b": { "method": "elicitation/create", "params": { "message": "b?", "requestedSchema": { "type": "object", "properties": {} } } }
        }))
        .unwrap();
        let asked = rmcp::model::InputRequiredResult::new(Some(requests), Some("s1".into()));
        tasks
            .clone()
            .run(
                id.clone(),
                String::new(),
                async { Ok(CallToolResponse::InputRequired(asked)) },
                token,
            )
            .await;
        let got = tasks.get(&id, "").await.unwrap();
        assert_eq!(got.task.status(), TaskStatus::InputRequired);
        // An answer to a question not asked changes nothing; a partial answer keeps it parked.
        let stray = InputResponses::from([("z".to_owned(), serde_json::json!({}))]);
        assert!(tasks.answer(&id, "", stray).await.unwrap().is_none());
        let first =
            InputResponses::from([("a".to_owned(), serde_json::json!({ "action": "accept" }))]);
        assert!(tasks.answer(&id, "", first).await.unwrap().is_none());
        let got = serde_json::to_value(tasks.get(&id, "").await.unwrap()).unwrap();
        assert_eq!(got["status"], "input_required");
        assert!(got["inputRequests"].get("a").is_none());
        assert!(got["inputRequests"].get("b").is_some());
        let last =
            InputResponses::from([("b".to_owned(), serde_json::json!({ "action": "decline" }))]);
        let next = tasks
            .answer(&id, "", last)
            .await
            .unwrap()
            .expect("the next round");
        assert_eq!(next.state.as_deref(), Some("s1"));
        assert_eq!(next.answers.len(), 2);
        assert_eq!(
            tasks.get(&id, "").await.unwrap().task.status(),
            TaskStatus::Working
        );
        // Cancelled, it stays cancelled whatever the round then answers.
        tasks.cancel(&id, "").await.unwrap();
        let result = rmcp::model::CallToolResult::success(vec![]);
        tasks
            .clone()
            .run(
                id.clone(),
                String::new(),
                async { Ok(CallToolResponse::Complete(result)) },
                CancellationToken::new(),
            )
            .await;
        assert_eq!(
            tasks.get(&id, "").await.unwrap().task.status(),
            TaskStatus::Cancelled
        );
        // Cancelling an ended task is acknowledged and changes nothing.
        tasks.cancel(&id, "").await.unwrap();
    }
}

"""Drive the quickstart with the Python `mcp` client, in every era, over stdio or HTTP.

Usage: python_client.py path/to/quickstart        (stdio: the client starts the binary)
       python_client.py http://127.0.0.1:PORT/mcp (streamable HTTP: a running server)
Exits non-zero (with the failing check) on the first mismatch.
"""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters
from mcp import MCPError


def check(condition, what):
    if not condition:
        raise SystemExit(f"interop check failed: {what}")


async def exercise(target, mode):
    params = target if target.startswith("http") else StdioServerParameters(command=target, args=[])
    async with Client(params, mode=mode) as client:
        version = client.protocol_version
        expected = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28", "auto": "2026-07-28"}[mode]
        check(version == expected, f"{mode}: negotiated {version}, expected {expected}")

        tools = (await client.list_tools()).tools
        check([t.name for t in tools] == ["add"], f"{mode}: tools/list {[t.name for t in tools]}")
        add = tools[0]
        check(add.input_schema["required"] == ["a", "b"], f"{mode}: add input schema {add.input_schema}")
        check(add.output_schema["properties"]["result"]["type"] == "integer", f"{mode}: add output schema")
        check(add.annotations.read_only_hint is True, f"{mode}: readOnlyHint")

        result = await client.call_tool("add", {"a": 2, "b": 40})
        check(not result.is_error, f"{mode}: add failed: {result}")
        check(result.structured_content == {"result": 42}, f"{mode}: structured {result.structured_content}")
        check(result.content[0].text == "42", f"{mode}: text {result.content[0]}")

        # A bad argument is a tool error the model can read, not a protocol error.
        bad = await client.call_tool("add", {"a": 2, "b": "forty"})
        check(bad.is_error, f"{mode}: bad argument should be isError")
        check("`b`" in bad.content[0].text, f"{mode}: bad argument text {bad.content[0].text}")

        # An unknown tool is a protocol error.
        try:
            await client.call_tool("subtract", {"a": 1, "b": 2})
        except MCPError as error:
            check(error.error.code == -32602, f"{mode}: unknown tool code {error.error.code}")
        else:
            check(False, f"{mode}: unknown tool did not raise")

        templates = (await client.list_resource_templates()).resource_templates
        check([t.uri_template for t in templates] == ["notes://{id}"], f"{mode}: templates {templates}")
        read = await client.read_resource("notes://1")
        body = json.loads(read.contents[0].text)
        check(body == {"id": 1, "text": "Buy milk"}, f"{mode}: resource {body}")
        check(read.contents[0].mime_type == "application/json", f"{mode}: mime {read.contents[0].mime_type}")

        prompts = (await client.list_prompts()).prompts
        check([p.name for p in prompts] == ["summarise"], f"{mode}: prompts {prompts}")
        prompt = await client.get_prompt("summarise", {"topic": "Rust"})
        text = prompt.messages[0].content.text
        check("Rust" in text, f"{mode}: prompt text {text}")
    transport = "http" if target.startswith("http") else "stdio"
    print(f"python mcp client, {transport}, {mode}: ok ({version})")


async def main():
    binary = sys.argv[1]
    for mode in ("legacy", "auto", "2026-07-28"):
        await exercise(binary, mode)


asyncio.run(main())

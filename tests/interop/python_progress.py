"""Progress over streamable HTTP with the Python `mcp` client, in every era: the conformance
fixture's `test_tool_with_progress` reports 0, 50 and 100 of 100 while it runs.

Usage: python_progress.py http://127.0.0.1:PORT/mcp
Exits non-zero (with the failing check) on the first mismatch.
"""

import asyncio
import sys

from mcp import Client


def check(condition, what):
    if not condition:
        raise SystemExit(f"interop check failed: {what}")


async def exercise(url, mode):
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    async with Client(url, mode=mode) as client:
        result = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        check(not result.is_error, f"{mode}: progress tool failed: {result}")
        check(result.content[0].text == "Progress test completed", f"{mode}: text {result.content[0]}")
    progress = [p for p, _, _ in seen]
    check(len(progress) >= 2, f"{mode}: progress notifications {seen}")
    check(progress == sorted(progress) and progress[-1] == 100, f"{mode}: progress not increasing to 100: {seen}")
    check(all(t == 100 for _, t, _ in seen), f"{mode}: totals {seen}")
    print(f"python mcp client, http, {mode}: progress ok ({progress})")


async def main():
    for mode in ("legacy", "auto", "2026-07-28"):
        await exercise(sys.argv[1], mode)


asyncio.run(main())

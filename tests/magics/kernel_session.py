"""A real IPython kernel (jupyter_client) for tests, with every iopub message of each execution."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Execution:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])

    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    def error(self) -> str:
        content = self.reply["content"]
        return f"{content.get('ename')}: {content.get('evalue')}" if self.status == "error" else ""

    def widget_updates(self) -> list[dict[str, Any]]:
        """comm_msg 'update' messages that changed a widget's ``value`` (a redraw)."""
        return [
            m
            for m in self.messages
            if m["msg_type"] == "comm_msg"
            and m["content"]["data"].get("method") == "update"
            and "value" in m["content"]["data"].get("state", {})
        ]

    def outputs(
        self, msg_types: tuple[str, ...] = ("display_data", "update_display_data", "execute_result")
    ) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] in msg_types]


class KernelSession:
    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def submit(self, code: str) -> str:
        return str(self.client.execute(code, store_history=False))

    def collect(self, msg_id: str, timeout: float = 120.0, on_message: Any = None) -> Execution:
        """Iopub messages of ``msg_id`` until the kernel is idle again, then the shell reply."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if on_message is not None:
                on_message(msg, messages)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        else:
            raise AssertionError(f"kernel still busy after {timeout} s")
        while True:
            reply = self.client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return Execution(reply, messages)

    def run(self, code: str, timeout: float = 120.0) -> Execution:
        return self.collect(self.submit(code), timeout)

    def ok(self, code: str, timeout: float = 120.0) -> Execution:
        execution = self.run(code, timeout)
        assert execution.status == "ok", execution.error()
        return execution

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)

"""Pure, stdlib-only protocol pieces: SSE framing, SGLang's log-line formats and parsers."""

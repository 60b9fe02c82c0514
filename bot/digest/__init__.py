"""The digest: select, record and deliver exactly once to the targets it is given (pipeline), summarize with
or without an LLM (summarize, llm), render the Slack blocks and the markdown log section (render, which
the delivery targets call)."""

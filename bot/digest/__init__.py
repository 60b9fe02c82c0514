"""The digest: select and record (pipeline), summarize with or without an LLM (summarize, llm), render the
Slack blocks and the markdown log section (render)."""

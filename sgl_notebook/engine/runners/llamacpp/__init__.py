"""The llama.cpp runner: GGUF models through llama-cpp-python's low-level batch API (no torch)."""

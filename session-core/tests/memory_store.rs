//! The memory store runs the shared store contract suite.

session_core::store_test_suite!(session_core::MemoryStore::new());

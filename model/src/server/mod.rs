//! Server-side machinery of co-streaming servers: circuit breakers, contexts live in the
//! runtime model (goruntime::context); architectures arrive with later work.

pub mod breaker;

//! The costream command line with the built-in workloads.

fn main() -> std::process::ExitCode {
    costream::main_with(&costream_model::workload::BUILTIN)
}

//! The costream command line with the relay registered: `custom-sfu run relay.toml`,
//! `custom-sfu explore relay.toml --until 'relay.dropped > 0'`, and every other subcommand.

fn main() -> std::process::ExitCode {
    costream::main_with(&custom_sfu::registry())
}

fn main() {
    std::process::exit(opsrun::main_entry());
}

fn main() {
    println!("rosy {}", env!("CARGO_PKG_VERSION"));
}
